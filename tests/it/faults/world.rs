//! The world a fault-injection run lives in: the primary cluster and its
//! synchronous standby, the endpoint every client follows across a
//! failover, and the pgqd daemons running as child processes.
//!
//! Clients never hold a [`TempCluster`]: they hold a [`watch`] of the
//! current primary's [`Endpoint`] and reconnect to whatever it says, as an
//! application behind a service address would. That lets a failover drop
//! the old primary for good while producers and consumers carry on.
//!
//! The standby is synchronous (`synchronous_standby_names = '*'` on the
//! primary), so an acknowledged commit is on the standby before the client
//! hears of it, and promoting the standby loses nothing that was
//! acknowledged.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use pgqd::config::{self, Format};
use pgqd::tempcluster::{ClusterOptions, StopMode, TempCluster, quote_ident};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_postgres::Client;

/// The database holding the queue.
pub(crate) const DB: &str = "db";
/// The target database of the exactly-once consumer.
pub(crate) const EXT_DB: &str = "ext";
/// The queue under test.
pub(crate) const QUEUE: &str = "fq";
/// Prefix of every daemon's `application_name`, so faults can find their
/// sessions.
pub(crate) const DAEMON_APP_PREFIX: &str = "pgqd-fault-";
/// pgqd's HA advisory-lock key ("pgqd"), as `pg_locks` shows a bigint key:
/// high half in `classid`, low half in `objid`.
const HA_LOCK_OBJID: i64 = 0x7067_7164;
/// How long any single client step may take before it counts as failed; a
/// commit can wait for the synchronous standby, which may be restarting.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where clients connect: a cluster's socket directory and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The Unix socket directory.
    pub dir: PathBuf,
    /// The port (names the socket file).
    pub port: u16,
}

impl Endpoint {
    /// The endpoint of `cluster`.
    pub(crate) fn of(cluster: &TempCluster) -> Self {
        Endpoint {
            dir: cluster.socket_dir().to_owned(),
            port: cluster.port(),
        }
    }

    /// pgqd's `base_connstr` for this endpoint.
    pub(crate) fn base_connstr(&self) -> String {
        format!(
            "host={} port={} user=postgres",
            self.dir.display(),
            self.port
        )
    }

    /// Connects to `db` as `app`; the connection is driven by a spawned task.
    pub(crate) async fn connect(&self, db: &str, app: &str) -> Result<Client, String> {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname(db)
            .application_name(app)
            .connect_timeout(Duration::from_secs(5));
        let (client, connection) =
            tokio::time::timeout(STEP_TIMEOUT, config.connect(tokio_postgres::NoTls))
                .await
                .map_err(|_| format!("connecting to {db} timed out"))?
                .map_err(|e| format!("connecting to {db}: {e}"))?;
        tokio::spawn(async move {
            // The error, if any, surfaces on the client's next call.
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// Runs a blocking harness call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking harness call panicked")
}

/// The clusters of a run.
pub(crate) struct Topology {
    /// The current primary.
    pub primary: Arc<TempCluster>,
    /// Its synchronous standby, when the run has one.
    pub standby: Option<Arc<TempCluster>>,
    endpoint: watch::Sender<Endpoint>,
    /// The queue's id (kept across failovers, since it is replicated).
    pub queue_id: i32,
}

/// Server settings for every cluster of a run (standbys copy them).
fn cluster_options() -> ClusterOptions {
    // A standby retries its primary quickly after a restart, so that
    // synchronous commits do not stall for the default 5 s.
    ClusterOptions::default().setting("wal_retrieve_retry_interval", "'200ms'")
}

impl Topology {
    /// Starts a primary with the engine, then the SQL files of `extras`
    /// (e.g. `pgq_coop`), then `engine_patch`; creates the queue with the
    /// given `rotation_period` and runs `register` (consumer registrations).
    pub(crate) async fn start(
        rotation_period: &str,
        extras: &[PathBuf],
        engine_patch: Option<&'static str>,
        register: &str,
    ) -> Topology {
        let primary = blocking(|| TempCluster::start_with(cluster_options()))
            .await
            .expect("starting the primary cluster");
        let primary = Arc::new(primary);
        let setup = format!(
            "select pgq.create_queue('{QUEUE}');
             select pgq.set_queue_config('{QUEUE}', 'ticker_max_lag', '0.2');
             select pgq.set_queue_config('{QUEUE}', 'ticker_idle_period', '1');
             select pgq.set_queue_config('{QUEUE}', 'rotation_period', '{rotation_period}');
             {register}"
        );
        let cluster = Arc::clone(&primary);
        let extras = extras.to_vec();
        let queue_id = blocking(move || {
            cluster.create_database(DB)?;
            cluster.install_engine(DB)?;
            for file in &extras {
                cluster.psql_file(DB, file)?;
            }
            if let Some(patch) = engine_patch {
                cluster.psql_stdin(DB, patch)?;
            }
            cluster.psql(DB, &setup)?;
            cluster.create_database(EXT_DB)?;
            cluster.psql(
                DB,
                &format!("select queue_id from pgq.queue where queue_name = '{QUEUE}'"),
            )
        })
        .await
        .expect("setting up the queue database")
        .parse()
        .expect("queue id is a number");
        let (endpoint, _) = watch::channel(Endpoint::of(&primary));
        Topology {
            primary,
            standby: None,
            endpoint,
            queue_id,
        }
    }

    /// A handle that always names the current primary.
    pub(crate) fn endpoint(&self) -> watch::Receiver<Endpoint> {
        self.endpoint.subscribe()
    }

    /// The current primary's endpoint.
    pub(crate) fn primary_endpoint(&self) -> Endpoint {
        self.endpoint.borrow().clone()
    }

    /// Builds a standby of the primary and makes it synchronous.
    pub(crate) async fn add_standby(&mut self) {
        let primary = Arc::clone(&self.primary);
        let standby = blocking(move || primary.create_standby())
            .await
            .expect("building a standby");
        self.standby = Some(Arc::new(standby));
        // Set after the base backup, so the standby's copy of the settings
        // does not ask for a synchronous standby of its own once promoted.
        let admin = self.admin(DB).await;
        // Two statements: ALTER SYSTEM refuses to run in a multi-statement batch.
        for sql in [
            "alter system set synchronous_standby_names = '*'",
            "select pg_reload_conf()",
        ] {
            admin
                .batch_execute(sql)
                .await
                .expect("making the standby synchronous");
        }
        self.wait_sync().await;
    }

    /// Waits until the standby streams synchronously.
    pub(crate) async fn wait_sync(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(admin) = self
                .primary_endpoint()
                .connect("postgres", "fault-admin")
                .await
            {
                let row = admin
                    .query_opt(
                        "select 1 from pg_stat_replication where sync_state = 'sync' and state = 'streaming'",
                        &[],
                    )
                    .await;
                if matches!(row, Ok(Some(_))) {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the standby did not become a synchronous standby"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A fresh admin connection to `db` on the primary (retrying while the
    /// server comes up).
    pub(crate) async fn admin(&self, db: &str) -> Client {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.primary_endpoint().connect(db, "fault-admin").await {
                Ok(c) => return c,
                Err(e) => assert!(
                    tokio::time::Instant::now() < deadline,
                    "no admin connection to {db}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the primary for good and promotes the standby in its place.
    /// Returns the old primary, for the caller to drop once nothing points
    /// at it any more.
    /// With `frozen`, commits that waited for the standby die with the old
    /// primary (and are lost, as their clients were never told otherwise).
    pub(crate) async fn fail_over(&mut self, frozen: Option<Frozen>) -> Arc<TempCluster> {
        let standby = self.standby.take().expect("a standby to promote");
        let old = std::mem::replace(&mut self.primary, Arc::clone(&standby));
        Self::stop_cluster(&old, StopMode::Immediate, frozen).await;
        blocking(move || standby.promote())
            .await
            .expect("promoting the standby");
        self.endpoint.send_replace(Endpoint::of(&self.primary));
        old
    }

    /// Stops the primary in `mode` and starts it again; see
    /// [`stop_primary`](Self::stop_primary) for `frozen`.
    pub(crate) async fn restart_primary(&self, mode: StopMode, frozen: Option<Frozen>) {
        Self::stop_cluster(&self.primary, mode, frozen).await;
        let primary = Arc::clone(&self.primary);
        blocking(move || primary.start_server())
            .await
            .expect("starting the primary again");
    }

    /// Stops `cluster`. With `frozen` (its WAL sender, stopped), the sender
    /// is let go only once the shutdown has begun, so the server dies
    /// without shipping the WAL of the commits that were waiting for it.
    async fn stop_cluster(cluster: &Arc<TempCluster>, mode: StopMode, frozen: Option<Frozen>) {
        let stopping = Arc::clone(cluster);
        let stopped = tokio::task::spawn_blocking(move || stopping.stop(mode));
        if frozen.is_some() {
            // The postmaster forwards its stop signal at once; a sender
            // continued after that exits before sending anything more.
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(frozen);
        }
        stopped
            .await
            .expect("the stop call ran")
            .expect("stopping the server");
    }

    /// Stops the primary's WAL sender (SIGSTOP), so that from now on every
    /// commit waits for the synchronous standby and stays in flight.
    /// `None` without a standby.
    pub(crate) async fn freeze_replication(&self) -> Option<Frozen> {
        self.standby.as_ref()?;
        let client = self
            .primary_endpoint()
            .connect("postgres", "fault-admin")
            .await
            .ok()?;
        let row = client
            .query_opt("select pid from pg_catalog.pg_stat_replication", &[])
            .await
            .ok()??;
        let pid = nix::unistd::Pid::from_raw(row.get(0));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).ok()?;
        Some(Frozen(pid))
    }

    /// Server log tails of the clusters, for a failure report.
    pub(crate) fn log_tails(&self) -> String {
        let mut out = format!("--- primary log tail:\n{}\n", self.primary.log_tail());
        if let Some(s) = &self.standby {
            out.push_str(&format!("--- standby log tail:\n{}\n", s.log_tail()));
        }
        out
    }
}

/// A stopped WAL sender; dropping this lets it continue (SIGCONT).
#[derive(Debug)]
pub(crate) struct Frozen(nix::unistd::Pid);

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGCONT);
    }
}

/// Which server a daemon watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The primary (two daemons share it through the HA lock).
    Primary,
    /// The standby (waiting for promotion).
    Standby,
}

/// One pgqd child process and its files.
pub(crate) struct Daemon {
    /// Short name (`d1`); its sessions are `pgqd-fault-<name>`.
    pub name: String,
    /// What it watches.
    pub role: Role,
    dir: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    /// A daemon that keeps its config and logs in `dir`.
    pub(crate) fn new(name: &str, role: Role, dir: &Path) -> Daemon {
        Daemon {
            name: name.to_owned(),
            role,
            dir: dir.to_owned(),
            child: None,
        }
    }

    /// The `application_name` of its sessions.
    pub(crate) fn app_name(&self) -> String {
        format!("{DAEMON_APP_PREFIX}{}", self.name)
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join(format!("{}.toml", self.name))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    /// Writes its configuration for `target` and starts the process.
    pub(crate) fn start(&mut self, target: &Endpoint) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let text = format!(
            "base_connstr = \"{}\"\n\
             database_list = [\"{DB}\"]\n\
             ticker_period = \"100ms\"\n\
             retry_period = \"300ms\"\n\
             maint_period = \"500ms\"\n\
             check_period = \"1s\"\n\
             metrics_listen = \"\"\n\
             syslog = false\n\
             application_name = \"{}\"\n\
             logfile = \"{}\"\n",
            target.base_connstr(),
            self.app_name(),
            self.log_path().display()
        );
        config::parse_str(&text, Format::Toml).expect("the daemon configuration is valid");
        fs::write(self.config_path(), text).expect("writing the daemon configuration");
        let stderr = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{}.stderr", self.name)))
            .expect("opening the daemon's stderr file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pgqd"));
        command
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        // SAFETY: the closure only makes one async-signal-safe system call.
        // It makes the kernel kill the daemon when the test process dies
        // without unwinding (e.g. SIGKILL from a test runner's timeout).
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        self.child = Some(command.spawn().expect("starting pgqd"));
    }

    /// SIGKILL, then reap.
    pub(crate) async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, wait for a graceful exit (SIGKILL after 15 s). Returns
    /// what went wrong: a non-zero exit, or no exit in time.
    pub(crate) async fn stop(&mut self) -> Option<String> {
        let mut child = self.child.take()?;
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
            Ok(Ok(status)) if status.success() => None,
            Ok(Ok(status)) => Some(format!("{} ended with {status} on SIGTERM", self.name)),
            Ok(Err(e)) => Some(format!("waiting for {}: {e}", self.name)),
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                Some(format!("{} did not stop within 15 s of SIGTERM", self.name))
            }
        }
    }

    /// Whether it ever wrote a panic to stderr.
    pub(crate) fn panicked(&self) -> bool {
        fs::read_to_string(self.dir.join(format!("{}.stderr", self.name)))
            .is_ok_and(|text| text.contains("panicked"))
    }

    /// Whether the process has exited on its own.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last `lines` lines of its log and stderr.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for path in [
            self.log_path(),
            self.dir.join(format!("{}.stderr", self.name)),
        ] {
            let text = fs::read_to_string(&path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {}:\n", path.display()));
            out.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
            out.push('\n');
        }
        out
    }
}

/// Which daemon holds the HA lock on the queue database, by name.
pub(crate) async fn leader(admin: &Client) -> Option<String> {
    let row = admin
        .query_opt(
            "select a.application_name
               from pg_catalog.pg_locks l
               join pg_catalog.pg_stat_activity a on a.pid = l.pid
              where l.locktype = 'advisory' and l.granted
                and l.classid = 0 and l.objid = $1::int8::oid and l.objsubid = 1
                and l.database = (select oid from pg_catalog.pg_database where datname = $2)",
            &[&HA_LOCK_OBJID, &DB],
        )
        .await
        .ok()??;
    let app: String = row.get(0);
    app.strip_prefix(DAEMON_APP_PREFIX).map(str::to_owned)
}

/// The queue's event-table names: `(cur, next)` as quoted identifiers.
pub(crate) async fn event_tables(
    admin: &impl tokio_postgres::GenericClient,
) -> Result<(String, String, i32), String> {
    let row = admin
        .query_one(
            "select queue_data_pfx, queue_cur_table, queue_ntables from pgq.queue where queue_name = $1",
            &[&QUEUE],
        )
        .await
        .map_err(|e| format!("reading the queue's tables on {DB}: {e}"))?;
    let pfx: String = row.get(0);
    let cur: i32 = row.get(1);
    let n: i32 = row.get(2);
    let quoted = |nr: i32| {
        let (schema, table) = pfx.split_once('.').expect("the prefix is schema-qualified");
        format!(
            "{}.{}",
            quote_ident(schema),
            quote_ident(&format!("{table}_{nr}"))
        )
    };
    Ok((quoted(cur), quoted((cur + 1) % n), cur))
}
