//! The supervisor: finds the cluster's databases every `check_period`,
//! keeps one [`Worker`](crate::worker) per database, applies reloads, and
//! notices when the server comes back after an outage so that every worker
//! reconnects at once instead of waiting out its backoff.
//!
//! A failed database listing keeps the current set of workers (the C daemon
//! dropped every database on an error result).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::sleep;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::connstr::{ConnSettings, ConnectError, ConnectOptions};
use crate::engine;
use crate::monitor::{Monitor, Snapshot};
use crate::policy::Backoff;
use crate::worker::Worker;

/// The supervisor's loop runs at least this often.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// What a database's worker is doing, as health checks and metrics see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbState {
    /// Connecting or probing.
    Connecting,
    /// The last connection attempt or statement failed (message inside).
    Down(String),
    /// No `pgq` schema; re-probed every `check_period`.
    NoPgq,
    /// A `pgq` schema this daemon cannot tick, and why.
    Unsupported(String),
    /// The server is a standby; ticking resumes after promotion.
    Standby,
    /// Another daemon holds the database's HA lock and ticks it.
    Follower,
    /// Ticking; the instant of the last successful ticker call.
    Ticking {
        /// When the last ticker call, or the last schedule read that found
        /// nothing due (or the start of ticking), happened.
        since: Instant,
    },
}

impl DbState {
    /// The state's name, as the metrics' `state` label shows it.
    pub fn label(&self) -> &'static str {
        match self {
            DbState::Connecting => "connecting",
            DbState::Down(_) => "down",
            DbState::NoPgq => "no_pgq",
            DbState::Unsupported(_) => "unsupported",
            DbState::Standby => "standby",
            DbState::Follower => "follower",
            DbState::Ticking { .. } => "ticking",
        }
    }

    /// Whether the database has settled: being ticked, or known to need no
    /// ticking from us (no PgQ, a standby, or another daemon leads it).
    pub fn is_settled(&self) -> bool {
        !matches!(self, DbState::Connecting | DbState::Down(_))
    }
}

/// Counters for the periodic stats line, reset at each print.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) ticks: AtomicU64,
    pub(crate) maint: AtomicU64,
    pub(crate) retry: AtomicU64,
}

/// Configuration in force, swapped whole on reload.
#[derive(Debug)]
struct Settings {
    config: Arc<Config>,
    conn: ConnSettings,
}

impl Settings {
    fn new(config: Config) -> Result<Self, RunError> {
        let conn = ConnSettings::from_env_and(&config.base_connstr)
            .map_err(|e| RunError::Config(e.to_string()))?;
        Ok(Settings {
            config: Arc::new(config),
            conn,
        })
    }
}

/// What the supervisor shares with its workers.
#[derive(Debug)]
pub(crate) struct Shared {
    settings: RwLock<Arc<Settings>>,
    /// Cluster-wide cap on concurrent maintenance connections.
    pub(crate) maint_permits: Arc<Semaphore>,
    /// Bumped each time the server is reachable again after trouble.
    pub(crate) cluster_up: watch::Receiver<u64>,
    trouble: Notify,
    pub(crate) stats: Stats,
    /// Latest queue and consumer figures per database.
    pub(crate) monitor: Monitor,
    /// When the supervisor's loop last ran; the systemd watchdog is fed
    /// only while it keeps running.
    heartbeat: Mutex<Instant>,
}

impl Shared {
    /// The configuration in force.
    pub(crate) fn config(&self) -> Arc<Config> {
        self.settings().config.clone()
    }

    fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Connects to a database with the configured settings and the given
    /// statement timeout.
    pub(crate) async fn connect(
        &self,
        database: &str,
        statement_timeout: Duration,
    ) -> Result<Client, ConnectError> {
        let settings = self.settings();
        let config = &settings.config;
        let options = ConnectOptions {
            application_name: config.application_name.clone(),
            connect_timeout: config.connect_timeout,
            statement_timeout: Some(statement_timeout),
            lock_timeout: Some(config.lock_timeout),
        };
        settings.conn.connect(database, &options).await
    }

    /// Tells the supervisor a connection failed; it then watches for the
    /// server to come back.
    pub(crate) fn report_connection_trouble(&self) {
        self.trouble.notify_one();
    }
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot be used.
    #[error("configuration: {0}")]
    Config(String),
}

struct WorkerEntry {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// A handle on a running (or about to run) daemon: status, reload, stop.
#[derive(Debug, Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    states: Arc<Mutex<BTreeMap<String, watch::Receiver<DbState>>>>,
    discovered: watch::Receiver<bool>,
    reload: watch::Sender<Arc<Config>>,
}

impl Handle {
    /// Every known database and its state.
    pub fn status(&self) -> BTreeMap<String, DbState> {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states
            .iter()
            .map(|(db, rx)| (db.clone(), rx.borrow().clone()))
            .collect()
    }

    /// Whether the first database discovery has run.
    pub fn discovered(&self) -> bool {
        *self.discovered.borrow()
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.shared.config()
    }

    /// The latest queue and consumer figures of every database that has
    /// them. Never queries PostgreSQL; counts as a read, which is what makes
    /// workers keep refreshing them.
    pub fn snapshots(&self) -> BTreeMap<String, Arc<Snapshot>> {
        self.shared.monitor.read()
    }

    /// How long ago the supervisor's loop last ran; it runs at least every
    /// [`HEARTBEAT`], so a much larger value means it is stuck.
    pub fn heartbeat_age(&self) -> Duration {
        self.shared
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// Whether the first discovery has run and every database has settled.
    pub fn is_ready(&self) -> bool {
        *self.discovered.borrow() && self.status().values().all(DbState::is_settled)
    }

    /// Applies a new configuration (validate it first with the config
    /// module; connection settings that fail to parse keep the old ones).
    pub fn reload(&self, config: Config) {
        self.reload.send_replace(Arc::new(config));
    }

    /// Waits until `check` holds for the status, polling every 10 ms.
    pub async fn wait_for(&self, mut check: impl FnMut(&BTreeMap<String, DbState>) -> bool) {
        while !check(&self.status()) {
            sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The daemon, before it runs.
#[derive(Debug)]
pub struct Daemon {
    shared: Arc<Shared>,
    handle: Handle,
    reload_rx: watch::Receiver<Arc<Config>>,
    discovered_tx: watch::Sender<bool>,
    cluster_up_tx: watch::Sender<u64>,
}

impl Daemon {
    /// Prepares a daemon; fails if the connection settings are unusable.
    pub fn new(config: Config) -> Result<Self, RunError> {
        let settings = Settings::new(config)?;
        let permits = settings.config.max_maint_connections.max(1) as usize;
        let (reload_tx, reload_rx) = watch::channel(settings.config.clone());
        let (discovered_tx, discovered) = watch::channel(false);
        let (cluster_up_tx, cluster_up) = watch::channel(0);
        let shared = Arc::new(Shared {
            settings: RwLock::new(Arc::new(settings)),
            maint_permits: Arc::new(Semaphore::new(permits)),
            cluster_up,
            trouble: Notify::new(),
            stats: Stats::default(),
            monitor: Monitor::default(),
            heartbeat: Mutex::new(Instant::now()),
        });
        Ok(Daemon {
            shared: shared.clone(),
            handle: Handle {
                shared,
                states: Arc::default(),
                discovered,
                reload: reload_tx,
            },
            reload_rx,
            discovered_tx,
            cluster_up_tx,
        })
    }

    /// A handle for status and reloads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs until `shutdown` is cancelled, then stops every worker within
    /// the configured shutdown timeout.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut workers: BTreeMap<String, WorkerEntry> = BTreeMap::new();
        let mut next_stats = Instant::now() + self.shared.config().stats_period;
        loop {
            let config = self.shared.config();
            if let Some(wanted) = self.wanted_databases(&config).await {
                self.reconcile(&mut workers, &wanted, &shutdown);
            }
            self.discovered_tx.send_replace(true);
            let next_check = Instant::now() + config.check_period;
            loop {
                self.beat();
                let wake = next_check.min(next_stats).min(Instant::now() + HEARTBEAT);
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        self.stop(workers).await;
                        return;
                    }
                    _ = tokio::time::sleep_until(wake.into()) => {}
                    _ = self.shared.trouble.notified() => {
                        if !self.wait_for_server(&shutdown).await {
                            continue;
                        }
                    }
                    Ok(()) = self.reload_rx.changed() => {
                        let new = (*self.reload_rx.borrow_and_update()).clone();
                        self.apply_reload(new);
                        break;
                    }
                }
                if Instant::now() >= next_stats {
                    self.log_stats();
                    next_stats = Instant::now() + self.shared.config().stats_period;
                }
                if Instant::now() >= next_check {
                    break;
                }
            }
        }
    }

    fn beat(&self) {
        *self
            .shared
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn apply_reload(&self, config: Arc<Config>) {
        match Settings::new((*config).clone()) {
            Ok(settings) => {
                *self
                    .shared
                    .settings
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
                info!("configuration reloaded");
            }
            Err(e) => warn!("reload rejected, keeping the previous configuration: {e}"),
        }
    }

    fn log_stats(&self) {
        let stats = &self.shared.stats;
        info!(
            "{{ticks: {}, maint: {}, retry: {}}}",
            stats.ticks.swap(0, Ordering::Relaxed),
            stats.maint.swap(0, Ordering::Relaxed),
            stats.retry.swap(0, Ordering::Relaxed)
        );
    }

    /// The databases to tick, or `None` when listing failed (keep the set).
    /// The listing connection lives for one query: held open, it would be
    /// one more idle backend per cluster for a query run every
    /// `check_period`.
    async fn wanted_databases(&self, config: &Config) -> Option<BTreeSet<String>> {
        let names: Vec<String> = if config.database_list.is_empty() {
            let client = match self
                .shared
                .connect(&config.initial_database, config.statement_timeout)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    warn!("listing databases: {e}");
                    return None;
                }
            };
            match engine::list_databases(&client).await {
                Ok(names) => names,
                Err(e) => {
                    warn!(database = %config.initial_database, "listing databases: {}", engine::error_text(&e));
                    return None;
                }
            }
        } else {
            config.database_list.clone()
        };
        Some(
            names
                .into_iter()
                .filter(|db| config.database_settings(db).enabled)
                .collect(),
        )
    }

    fn reconcile(
        &self,
        workers: &mut BTreeMap<String, WorkerEntry>,
        wanted: &BTreeSet<String>,
        shutdown: &CancellationToken,
    ) {
        let gone: Vec<String> = workers
            .keys()
            .filter(|db| !wanted.contains(*db))
            .cloned()
            .collect();
        let mut states = self.handle.states.lock().unwrap_or_else(|e| e.into_inner());
        for db in gone {
            info!(database = %db, "releasing database");
            if let Some(entry) = workers.remove(&db) {
                entry.cancel.cancel();
            }
            states.remove(&db);
        }
        for db in wanted {
            if workers.contains_key(db) {
                continue;
            }
            info!(database = %db, "found database");
            let cancel = shutdown.child_token();
            let (state_tx, state_rx) = watch::channel(DbState::Connecting);
            let worker = Worker::new(db.clone(), self.shared.clone(), state_tx, cancel.clone());
            let task = tokio::spawn(worker.run());
            states.insert(db.clone(), state_rx);
            workers.insert(db.clone(), WorkerEntry { cancel, task });
        }
    }

    /// After a connection failure somewhere, checks whether the server is
    /// reachable; if it is not, polls it briskly until it is, then wakes
    /// every worker. Returns false when shutting down.
    async fn wait_for_server(&self, shutdown: &CancellationToken) -> bool {
        let config = self.shared.config();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let mut was_down = false;
        loop {
            self.beat();
            let attempt = tokio::select! {
                _ = shutdown.cancelled() => return false,
                r = self.shared.connect(&config.initial_database, config.statement_timeout) => r,
            };
            match attempt {
                Ok(_) => break,
                // Only a failure to reach the server counts; a refusal
                // from a reachable server is a per-database matter.
                Err(e) if !unreachable(&e) => break,
                Err(_) => was_down = true,
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = sleep(backoff.next_delay(rand::random::<f64>())) => {}
            }
        }
        if was_down {
            info!("server is reachable again; reconnecting every database");
        }
        self.cluster_up_tx.send_modify(|g| *g += 1);
        true
    }

    async fn stop(self, workers: BTreeMap<String, WorkerEntry>) {
        let timeout = self.shared.config().shutdown_timeout;
        for entry in workers.values() {
            entry.cancel.cancel();
        }
        let deadline = Instant::now() + timeout;
        for (db, entry) in workers {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut task = entry.task;
            if tokio::time::timeout(left, &mut task).await.is_err() {
                warn!(database = %db, "worker did not stop within the shutdown timeout; aborting it");
                task.abort();
            }
        }
        info!("stopped");
    }
}

/// Whether a connection failure means the server itself is not there (or
/// not accepting connections yet), as opposed to refusing this database.
fn unreachable(e: &ConnectError) -> bool {
    match e.postgres_error() {
        Some(pe) => pe
            .as_db_error()
            .is_none_or(|db| db.code().code().starts_with("57P")),
        None => false,
    }
}
