//! Throwaway PostgreSQL clusters for tests, benchmarks and `pgqd demo`.
//!
//! A [`TempCluster`] is a private PostgreSQL server: `initdb` into a fresh
//! temporary directory, listening on a Unix socket inside that directory and
//! on a free loopback TCP port, tuned for speed (no fsync).
//!
//! # Lifetime and cleanup
//! The server is never started directly. A small shell *keeper* runs as the
//! cluster's owner, starts and stops `postgres` on request, and reads its
//! orders from a pipe whose other end this process holds. When the pipe
//! closes, because the [`TempCluster`] was dropped, the test panicked, or the
//! whole test process was killed with SIGKILL, the keeper stops the server
//! with an immediate shutdown and deletes the directory. So no server and no
//! directory outlives its owner, whatever way the owner ends.
//!
//! # Running as root
//! `initdb` and `postgres` refuse to run as root. When this process is root,
//! every server-side command runs as the `postgres` system user through
//! `runuser`, in a directory that user owns.
//!
//! The PostgreSQL binaries come from `$PGQD_PG_BINDIR` if set, else the
//! newest `/usr/lib/postgresql/*/bin` that has `initdb`.

use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The pgq engine shipped in `sql/pgq.sql`, embedded so that an installed
/// binary can install it without the source tree.
pub const ENGINE_SQL: &str = include_str!("../sql/pgq.sql");

/// How long a server may take to start or stop before we give up.
const SERVER_DEADLINE: Duration = Duration::from_secs(60);

/// Attempts at finding a free TCP port before giving up.
const PORT_ATTEMPTS: usize = 5;

/// The keeper script: starts and stops the server on orders read from stdin
/// and cleans up everything when stdin reaches end-of-file. It answers each
/// order with one line so the caller can wait for it. The server gets the
/// default signal handling back, since `postgres` installs its own.
const KEEPER_SCRIPT: &str = r#"
# A Ctrl-C or kill aimed at the whole process group must not stop the
# keeper before it has cleaned up; it ends only when its order pipe closes.
trap '' INT TERM HUP QUIT
root=$1
bin=$2
pid=""
stop_server() {
    if [ -n "$pid" ]; then
        kill "-$1" "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        pid=""
    fi
}
while IFS= read -r order; do
    case "$order" in
        start)
            "$bin/postgres" -D "$root/data" >>"$root/postgres.log" 2>&1 &
            pid=$!
            echo "started $pid" ;;
        smart) stop_server TERM; echo stopped ;;
        fast) stop_server INT; echo stopped ;;
        immediate) stop_server QUIT; echo stopped ;;
        *) echo "unknown order" ;;
    esac
done
stop_server QUIT
rm -rf "$root"
"#;

/// What went wrong while managing a throwaway cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A filesystem or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being attempted.
        action: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL tool exited unsuccessfully.
    #[error("{action} failed: {output}")]
    Command {
        /// What was being attempted.
        action: String,
        /// The tool's stderr (and stdout when stderr is empty).
        output: String,
    },
    /// The server did not reach the wanted state in time.
    #[error("{action}; server log tail:\n{log}")]
    Server {
        /// What was being attempted.
        action: String,
        /// The end of the server log, for diagnosis.
        log: String,
    },
    /// Connecting with tokio-postgres failed.
    #[error("connecting to database {database} of the throwaway cluster: {source}")]
    Connect {
        /// The database we tried to reach.
        database: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// No usable PostgreSQL installation or system user was found.
    #[error("{0}")]
    Setup(String),
}

fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let action = action.into();
    move |source| ClusterError::Io { action, source }
}

/// How to stop a server, as `pg_ctl stop -m` names the modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Wait for clients to disconnect (SIGTERM).
    Smart,
    /// Disconnect clients, checkpoint, stop (SIGINT).
    Fast,
    /// Abort everything; the next start runs crash recovery (SIGQUIT).
    Immediate,
}

impl StopMode {
    fn order(self) -> &'static str {
        match self {
            StopMode::Smart => "smart",
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// Settings for a new cluster. The defaults favour test speed.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    settings: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        let defaults = [
            ("fsync", "off"),
            ("full_page_writes", "off"),
            // On, so an acknowledged commit survives an immediate restart;
            // with fsync off it costs no disk flush.
            ("synchronous_commit", "on"),
            ("shared_buffers", "32MB"),
            ("max_connections", "200"),
            ("max_wal_senders", "5"),
            ("wal_level", "replica"),
            ("hot_standby", "on"),
            ("log_min_messages", "warning"),
            ("log_line_prefix", "'%m [%p] %q%u@%d '"),
            ("datestyle", "'iso, mdy'"),
            ("timezone", "'UTC'"),
        ];
        ClusterOptions {
            settings: defaults
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}

impl ClusterOptions {
    /// Sets (or overrides) a `postgresql.conf` parameter. The value is
    /// written as is, so string values need their own single quotes.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.retain(|(k, _)| k != name);
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Where the PostgreSQL binaries live and who runs them.
#[derive(Debug, Clone)]
struct Installation {
    bin: PathBuf,
    /// `Some` when we are root and must switch to this user.
    run_as: Option<(String, nix::unistd::Uid, nix::unistd::Gid)>,
}

impl Installation {
    fn find() -> Result<Self, ClusterError> {
        let bin = match std::env::var_os("PGQD_PG_BINDIR") {
            Some(dir) => PathBuf::from(dir),
            None => newest_bindir()?,
        };
        if !bin.join("initdb").is_file() {
            return Err(ClusterError::Setup(format!(
                "no initdb in {}; set PGQD_PG_BINDIR to PostgreSQL's bin directory",
                bin.display()
            )));
        }
        let run_as = if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or_else(|| {
                    ClusterError::Setup(
                        "running as root, but there is no 'postgres' system user to run the server"
                            .into(),
                    )
                })?;
            Some((user.name, user.uid, user.gid))
        } else {
            None
        };
        Ok(Installation { bin, run_as })
    }

    /// A command for a server-side tool, run as the cluster owner.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some((user, _, _)) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }

    /// A command for a client tool (psql), run as ourselves.
    fn client(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        // Keep the caller's ~/.psqlrc and PG* variables out of the harness.
        for var in [
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
            "PGSERVICE",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn give_to_owner(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some((_, uid, gid)) = &self.run_as {
            std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw())).map_err(
                io_err(format!("giving {} to the postgres user", path.display())),
            )?;
        }
        Ok(())
    }
}

fn newest_bindir() -> Result<PathBuf, ClusterError> {
    let base = Path::new("/usr/lib/postgresql");
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir(base) {
        for entry in entries.flatten() {
            let Ok(major) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let bin = entry.path().join("bin");
            if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(m, _)| major > *m) {
                best = Some((major, bin));
            }
        }
    }
    best.map(|(_, bin)| bin).ok_or_else(|| {
        ClusterError::Setup(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; set PGQD_PG_BINDIR"
                .into(),
        )
    })
}

/// The keeper process and the ends of its pipes.
struct Keeper {
    child: Child,
    orders: Option<ChildStdin>,
    replies: BufReader<ChildStdout>,
}

impl Keeper {
    fn spawn(install: &Installation, root: &Path) -> Result<Self, ClusterError> {
        let mut cmd = match &install.run_as {
            Some((user, _, _)) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--", "sh"]);
                cmd
            }
            None => Command::new("sh"),
        };
        let mut child = cmd
            .arg("-c")
            .arg(KEEPER_SCRIPT)
            .arg("pgqd-cluster-keeper")
            .arg(root)
            .arg(&install.bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io_err("starting the cluster keeper shell"))?;
        let orders = child.stdin.take();
        let replies = BufReader::new(child.stdout.take().expect("stdout is piped"));
        Ok(Keeper {
            child,
            orders,
            replies,
        })
    }

    /// Sends one order and returns the keeper's one-line answer.
    fn ask(&mut self, order: &str) -> Result<String, ClusterError> {
        let action = format!("sending '{order}' to the cluster keeper");
        let orders = self
            .orders
            .as_mut()
            .ok_or_else(|| ClusterError::Setup(action.clone()))?;
        writeln!(orders, "{order}").map_err(io_err(action.clone()))?;
        orders.flush().map_err(io_err(action.clone()))?;
        let mut line = String::new();
        self.replies
            .read_line(&mut line)
            .map_err(io_err(action.clone()))?;
        if line.is_empty() {
            return Err(ClusterError::Setup(format!(
                "{action}: the keeper has exited"
            )));
        }
        Ok(line.trim_end().to_owned())
    }

    /// Closes the order pipe and waits until the keeper has stopped the
    /// server and deleted the directory.
    fn finish(&mut self) {
        drop(self.orders.take());
        let _ = self.child.wait();
    }
}

/// A throwaway PostgreSQL cluster; dropped means stopped and deleted.
pub struct TempCluster {
    root: PathBuf,
    port: u16,
    install: Installation,
    keeper: Mutex<Keeper>,
}

impl fmt::Debug for TempCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempCluster")
            .field("root", &self.root)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl TempCluster {
    /// Creates and starts a cluster with the default test settings.
    pub fn start() -> Result<Self, ClusterError> {
        Self::start_with(ClusterOptions::default())
    }

    /// Creates and starts a cluster with the given settings.
    pub fn start_with(options: ClusterOptions) -> Result<Self, ClusterError> {
        let install = Installation::find()?;
        let (root, keeper) = Self::prepare_root(&install)?;
        let data = root.join("data");
        let output = install
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(io_err("running initdb"))?;
        let cluster = TempCluster {
            root,
            port: 0,
            install,
            keeper: Mutex::new(keeper),
        };
        if !output.status.success() {
            return Err(ClusterError::Command {
                action: "initdb".into(),
                output: command_output(&output),
            });
        }
        let mut conf =
            String::from("\n# throwaway test cluster\ninclude_if_exists = 'pgqd_port.conf'\n");
        for (name, value) in &options.settings {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        conf.push_str(&format!(
            "unix_socket_directories = '{}'\nlisten_addresses = '127.0.0.1'\n",
            cluster.root.display()
        ));
        append_file(&data.join("postgresql.conf"), &conf)?;
        cluster.start_on_free_port()
    }

    /// Makes the cluster's directory and starts its keeper. The keeper owns
    /// cleanup from this point on.
    fn prepare_root(install: &Installation) -> Result<(PathBuf, Keeper), ClusterError> {
        let root = tempfile::Builder::new()
            .prefix("pgqd-cluster-")
            .tempdir()
            .map_err(io_err("creating a directory for a throwaway cluster"))?
            .keep();
        install.give_to_owner(&root)?;
        match Keeper::spawn(install, &root) {
            Ok(keeper) => Ok((root, keeper)),
            Err(e) => {
                let _ = fs::remove_dir_all(&root);
                Err(e)
            }
        }
    }

    /// Picks a free port, starts the server, and retries with another port
    /// if a parallel test took it in between.
    fn start_on_free_port(mut self) -> Result<Self, ClusterError> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port()?;
            let port_conf = self.root.join("data/pgqd_port.conf");
            fs::write(&port_conf, format!("port = {}\n", self.port))
                .map_err(io_err("writing the port setting"))?;
            self.install.give_to_owner(&port_conf)?;
            match self.start_server() {
                Ok(()) => return Ok(self),
                Err(e @ ClusterError::Server { .. })
                    if e.to_string().contains("could not bind") =>
                {
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("at least one attempt was made"))
    }

    fn ask(&self, order: &str) -> Result<String, ClusterError> {
        self.keeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ask(order)
    }

    /// Starts the server (after [`stop`](Self::stop)) and waits until it
    /// accepts connections (or, for a standby, read-only connections).
    pub fn start_server(&self) -> Result<(), ClusterError> {
        let log_start = self.log_len();
        let reply = self.ask("start")?;
        let pid = reply
            .strip_prefix("started ")
            .and_then(|pid| pid.parse::<u32>().ok())
            .ok_or_else(|| ClusterError::Setup(format!("keeper refused to start: {reply}")))?;
        self.wait_ready(pid, log_start)
    }

    /// Stops the server in the given mode; the cluster stays on disk.
    pub fn stop(&self, mode: StopMode) -> Result<(), ClusterError> {
        self.ask(mode.order()).map(drop)
    }

    /// Stops the server in the given mode and starts it again.
    pub fn restart(&self, mode: StopMode) -> Result<(), ClusterError> {
        self.stop(mode)?;
        self.start_server()
    }

    /// Waits for the postmaster `pid` to report itself ready in
    /// `postmaster.pid`, or fails as soon as it has exited.
    fn wait_ready(&self, pid: u32, log_start: u64) -> Result<(), ClusterError> {
        let deadline = Instant::now() + SERVER_DEADLINE;
        let pidfile = self.data_dir().join("postmaster.pid");
        loop {
            if let Ok(text) = fs::read_to_string(&pidfile) {
                // Line 8 of postmaster.pid is the postmaster's status.
                let status = text.lines().nth(7).unwrap_or("").trim();
                let owner = text.lines().next().unwrap_or("").trim();
                if owner == pid.to_string() && (status == "ready" || status == "standby") {
                    return Ok(());
                }
            }
            if !process_alive(pid) {
                // Reap it so that a retry or shutdown starts from a clean state.
                let _ = self.ask("immediate");
                return Err(ClusterError::Server {
                    action: "starting the server (the postmaster exited)".into(),
                    log: self.log_since(log_start),
                });
            }
            if Instant::now() > deadline {
                return Err(ClusterError::Server {
                    action: "waiting for the server to accept connections".into(),
                    log: self.log_since(log_start),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_len(&self) -> u64 {
        fs::metadata(self.root.join("postgres.log")).map_or(0, |m| m.len())
    }

    fn log_since(&self, offset: u64) -> String {
        let text = fs::read(self.root.join("postgres.log")).unwrap_or_default();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(text.len());
        String::from_utf8_lossy(&text[start..]).into_owned()
    }

    /// The last lines of the server log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The whole server log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default()
    }

    /// The cluster's top directory (socket, log, `data/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The TCP port on 127.0.0.1 (the Unix socket uses the same number).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id, if the server is running.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// A libpq key/value connection string for `database` over the socket.
    pub fn conninfo(&self, database: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={}",
            self.root.display(),
            self.port,
            database
        )
    }

    /// The base connection string (no dbname), as pgqd's `base_connstr`.
    pub fn base_connstr(&self) -> String {
        format!(
            "host={} port={} user=postgres",
            self.root.display(),
            self.port
        )
    }

    /// Connects with tokio-postgres; the connection is driven by a spawned
    /// task, so this needs a tokio runtime.
    pub async fn connect(&self, database: &str) -> Result<tokio_postgres::Client, ClusterError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.root)
            .port(self.port)
            .user("postgres")
            .dbname(database)
            .application_name("pgqd-test");
        let (client, connection) =
            config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|source| ClusterError::Connect {
                    database: database.into(),
                    source,
                })?;
        tokio::spawn(async move {
            // The error (if any) surfaces on the client's next query.
            let _ = connection.await;
        });
        Ok(client)
    }

    fn psql_command(&self, database: &str) -> Command {
        let mut cmd = self.install.client("psql");
        cmd.arg("-h")
            .arg(&self.root)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", database])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
        cmd
    }

    /// Runs SQL through psql and returns its unaligned, tuples-only output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        let mut cmd = self.psql_command(database);
        cmd.arg("-c").arg(sql);
        run(cmd, &format!("psql on {database}: {sql}"))
    }

    /// Runs a SQL file through psql, as a user would install it.
    pub fn psql_file(&self, database: &str, file: &Path) -> Result<String, ClusterError> {
        let mut cmd = self.psql_command(database);
        cmd.arg("-f").arg(file);
        run(cmd, &format!("psql -f {} on {database}", file.display()))
    }

    /// Runs SQL text fed to psql on stdin (for scripts with psql meta-commands).
    pub fn psql_stdin(&self, database: &str, script: &str) -> Result<String, ClusterError> {
        let mut cmd = self.psql_command(database);
        cmd.args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let action = format!("psql script on {database}");
        let mut child = cmd.spawn().map_err(io_err(action.clone()))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let text = script.to_owned();
        // Write from a thread so a chatty script cannot deadlock on full pipes.
        let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
        let output = child.wait_with_output().map_err(io_err(action.clone()))?;
        let _ = writer.join();
        check_output(output, &action)
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        self.psql(
            "postgres",
            &format!("create database {}", quote_ident(name)),
        )
        .map(drop)
    }

    /// Drops a database, disconnecting its sessions.
    pub fn drop_database(&self, name: &str) -> Result<(), ClusterError> {
        self.psql(
            "postgres",
            &format!("drop database if exists {} with (force)", quote_ident(name)),
        )
        .map(drop)
    }

    /// Installs this project's PL/pgSQL engine (`sql/pgq.sql`) into a database.
    pub fn install_engine(&self, database: &str) -> Result<(), ClusterError> {
        self.psql_stdin(database, ENGINE_SQL).map(drop)
    }

    /// Installs Debian's C `pgq` 3.5 extension into a database.
    pub fn install_pgq_extension(&self, database: &str) -> Result<(), ClusterError> {
        self.psql(database, "create extension if not exists pgq")
            .map(drop)
    }

    /// Builds a streaming standby of this cluster with `pg_basebackup` and
    /// starts it. It is a cluster of its own, cleaned up the same way.
    pub fn create_standby(&self) -> Result<TempCluster, ClusterError> {
        let (root, keeper) = Self::prepare_root(&self.install)?;
        let standby = TempCluster {
            root,
            port: 0,
            install: self.install.clone(),
            keeper: Mutex::new(keeper),
        };
        let output = self
            .install
            .command("pg_basebackup")
            .arg("-D")
            .arg(standby.data_dir())
            .arg("-h")
            .arg(&self.root)
            .arg("-p")
            .arg(self.port.to_string())
            .args([
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "--no-sync",
                "-c",
                "fast",
            ])
            .output()
            .map_err(io_err("running pg_basebackup"))?;
        if !output.status.success() {
            return Err(ClusterError::Command {
                action: "pg_basebackup".into(),
                output: command_output(&output),
            });
        }
        // The copied postgresql.conf points the socket at the primary's
        // directory; the last setting in the file wins.
        append_file(
            &standby.data_dir().join("postgresql.conf"),
            &format!("unix_socket_directories = '{}'\n", standby.root.display()),
        )?;
        standby.start_on_free_port()
    }

    /// Promotes a standby to primary and waits for the promotion to finish.
    pub fn promote(&self) -> Result<(), ClusterError> {
        let output = self
            .install
            .command("pg_ctl")
            .arg("promote")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60"])
            .output()
            .map_err(io_err("running pg_ctl promote"))?;
        if !output.status.success() {
            return Err(ClusterError::Command {
                action: "pg_ctl promote".into(),
                output: command_output(&output),
            });
        }
        Ok(())
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        self.keeper
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .finish();
    }
}

/// Quotes an SQL identifier the way `quote_ident` does for any input.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// True while `pid` exists and is not a zombie waiting to be reaped.
fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

fn free_port() -> Result<u16, ClusterError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(io_err("finding a free loopback port"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("reading the free port"))?
        .port();
    Ok(port)
}

fn append_file(path: &Path, text: &str) -> Result<(), ClusterError> {
    let action = format!("appending to {}", path.display());
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(action.clone()))?;
    file.write_all(text.as_bytes()).map_err(io_err(action))
}

fn run(mut cmd: Command, action: &str) -> Result<String, ClusterError> {
    let output = cmd.output().map_err(io_err(action))?;
    check_output(output, action)
}

fn check_output(output: std::process::Output, action: &str) -> Result<String, ClusterError> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_owned())
    } else {
        Err(ClusterError::Command {
            action: action.into(),
            output: command_output(&output),
        })
    }
}

fn command_output(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.trim().is_empty() {
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    } else {
        stderr.trim().to_owned()
    }
}
