//! The pidfile: written at start when configured, refused when another
//! live instance owns it, replaced when stale, removed at exit.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Why the pidfile could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    /// A live process already owns it.
    #[error("pidfile {path} exists and process {pid} is running; another instance?")]
    Running {
        /// The pidfile.
        path: PathBuf,
        /// Its owner.
        pid: i32,
    },
    /// Reading or writing it failed.
    #[error("writing pidfile {path}: {source}")]
    Io {
        /// The pidfile.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A pidfile owned by this process; removed on drop.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
}

/// The pid recorded in `path`, if any, and whether that process is alive.
pub fn read(path: &Path) -> Option<(i32, bool)> {
    let pid: i32 = fs::read_to_string(path).ok()?.trim().parse().ok()?;
    let alive = pid > 0 && kill(Pid::from_raw(pid), None).is_ok();
    Some((pid, alive))
}

impl Pidfile {
    /// Writes our pid to `path`, replacing a stale file.
    pub fn create(path: &Path) -> Result<Self, PidfileError> {
        let io_err = |source| PidfileError::Io {
            path: path.to_owned(),
            source,
        };
        match read(path) {
            Some((pid, true)) if pid != std::process::id() as i32 => {
                return Err(PidfileError::Running {
                    path: path.to_owned(),
                    pid,
                });
            }
            Some(_) => {
                tracing::info!(path = %path.display(), "stale pidfile, removing");
                fs::remove_file(path).map_err(io_err)?;
            }
            None => {}
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err)?;
        writeln!(file, "{}", std::process::id()).map_err(io_err)?;
        Ok(Pidfile {
            path: path.to_owned(),
        })
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
