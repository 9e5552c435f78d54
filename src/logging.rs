//! Log output: journald when running under systemd (`$JOURNAL_STREAM`),
//! else the configured log file, else stderr. Every per-database line
//! carries a `database` field. Passwords never reach the log: connection
//! settings are only ever logged in their redacted form.
//!
//! The log file is opened in append mode and can be reopened (after
//! logrotate moved it) with [`LogFile::reopen`], which SIGHUP triggers.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// A log file shared by every writer, reopenable in place.
#[derive(Debug, Clone)]
pub struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl LogFile {
    /// Opens `path` for appending.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(LogFile {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(open_append(path)?)),
        })
    }

    /// Reopens the file at its path, so that a rotated log starts anew.
    pub fn reopen(&self) -> io::Result<()> {
        let file = open_append(&self.path)?;
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = file;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// One write to the shared log file.
#[derive(Debug)]
pub struct LogFileWriter {
    file: Arc<Mutex<File>>,
}

impl Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogFileWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter {
            file: self.file.clone(),
        }
    }
}

/// Where log lines go.
#[derive(Debug)]
pub enum Output {
    /// Standard error (the default in a terminal).
    Stderr,
    /// The systemd journal, with structured fields.
    Journald,
    /// An append-mode file.
    File(LogFile),
    /// Nowhere (`-q` without a log file).
    Quiet,
}

/// Picks the output: journald under systemd, else a log file when
/// configured, else stderr (or nothing when quiet).
pub fn choose_output(logfile: Option<&Path>, quiet: bool) -> io::Result<Output> {
    if std::env::var_os("JOURNAL_STREAM").is_some() && logfile.is_none() {
        return Ok(Output::Journald);
    }
    match logfile {
        Some(path) => Ok(Output::File(LogFile::open(path)?)),
        None if quiet => Ok(Output::Quiet),
        None => Ok(Output::Stderr),
    }
}

/// Installs the global subscriber. `verbosity` 0 logs info and up, 1 debug,
/// 2 and more trace; `RUST_LOG` overrides it.
pub fn init(output: &Output, verbosity: u8) {
    let level = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Dependencies stay at warn so that -v shows pgqd's own decisions.
    let default = format!("warn,pgqd={level}");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let result = match output {
        Output::Journald => match tracing_journald::layer() {
            Ok(layer) => registry
                .with(layer.with_syslog_identifier("pgqd".into()))
                .try_init(),
            Err(_) => registry.with(fmt.with_writer(io::stderr)).try_init(),
        },
        Output::File(file) => registry
            .with(fmt.with_ansi(false).with_writer(file.clone()))
            .try_init(),
        Output::Stderr => registry.with(fmt.with_writer(io::stderr)).try_init(),
        Output::Quiet => registry.with(fmt.with_writer(io::sink)).try_init(),
    };
    // A subscriber already installed (tests) keeps its place.
    drop(result);
}
