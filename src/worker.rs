//! One database's worker: probes the database, and while it has PgQ and this
//! daemon leads it, ticks its queues by their policies, drains the retry
//! queue and runs maintenance.
//!
//! The worker owns exactly one persistent connection. Ticking, retry
//! draining and listing maintenance run on it, one statement at a time, in
//! autocommit. Maintenance operations themselves (rotation, VACUUM, extra
//! functions) can wait on locks for long, so they run on a short-lived
//! second connection under a cluster-wide cap; ticking never waits for them.
//!
//! States: connecting → (no_pgq | unsupported | standby | follower |
//! ticking); any connection error goes to `down` and back to connecting
//! after a jittered backoff, or at once when the supervisor sees the server
//! come back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::sleep;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::engine::{self, EngineInfo, MaintOp, OpOutcome, Probe};
use crate::metrics;
use crate::monitor::{Snapshot, StuckTracker};
use crate::policy::{self, Backoff};
use crate::supervisor::{DbState, Shared};

/// How often a follower retries the HA lock; takeover happens within this.
const HA_RETRY: Duration = Duration::from_secs(1);

/// How often a standby is asked whether it has been promoted.
const RECOVERY_POLL: Duration = Duration::from_secs(1);

/// Repeated identical errors are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Why the active loop ended.
enum Exit {
    Cancelled,
    Reconnect,
    Reprobe,
}

/// Logs an error unless the same kind was logged recently, so a database
/// that fails every tick does not flood the log.
struct RateLimit {
    last: Option<(String, Instant)>,
    suppressed: u64,
}

impl RateLimit {
    fn new() -> Self {
        RateLimit {
            last: None,
            suppressed: 0,
        }
    }

    fn warn(&mut self, database: &str, what: &str, message: &str) {
        let now = Instant::now();
        if let Some((key, at)) = &self.last {
            if key == what && now.duration_since(*at) < LOG_EVERY {
                self.suppressed += 1;
                return;
            }
        }
        if self.suppressed > 0 {
            warn!(
                database,
                "{what}: {message} ({} similar messages suppressed)", self.suppressed
            );
        } else {
            warn!(database, "{what}: {message}");
        }
        self.suppressed = 0;
        self.last = Some((what.to_owned(), now));
    }
}

/// The worker of one database.
pub(crate) struct Worker {
    database: String,
    shared: Arc<Shared>,
    state: watch::Sender<DbState>,
    cancel: CancellationToken,
    backoff: Backoff,
    errors: RateLimit,
    /// The last reason given for not ticking, so it is logged once.
    last_reason: Option<String>,
    maint: Option<JoinHandle<()>>,
    stuck: StuckTracker,
    /// The monitor's read count at the last refresh; `None` before the
    /// first one.
    refreshed_at_reads: Option<u64>,
}

impl Worker {
    pub(crate) fn new(
        database: String,
        shared: Arc<Shared>,
        state: watch::Sender<DbState>,
        cancel: CancellationToken,
    ) -> Self {
        let config = shared.config();
        Worker {
            database,
            shared,
            state,
            cancel,
            backoff: Backoff::new(config.reconnect_min, config.reconnect_max),
            errors: RateLimit::new(),
            last_reason: None,
            maint: None,
            stuck: StuckTracker::default(),
            refreshed_at_reads: None,
        }
    }

    fn set_state(&self, state: DbState) {
        // Every tick refreshes the state; the gauges change only with it.
        let previous = self.state.send_replace(state);
        let label = self.state.borrow().label();
        if previous.label() != label {
            metrics::set_db_state(&self.database, label);
        }
    }

    /// Runs until cancelled.
    pub(crate) async fn run(mut self) {
        metrics::set_db_state(&self.database, self.state.borrow().label());
        let mut first = true;
        while !self.cancel.is_cancelled() {
            if !first {
                metrics::reconnect(&self.database);
            }
            first = false;
            self.set_state(DbState::Connecting);
            let client = match self.connect().await {
                Some(client) => client,
                None => continue,
            };
            match self.serve(&client).await {
                Exit::Cancelled => break,
                Exit::Reprobe => {}
                Exit::Reconnect => self.wait_backoff().await,
            }
        }
        if let Some(maint) = self.maint.take() {
            maint.abort();
        }
        metrics::forget_database(&self.database);
        self.shared.monitor.forget(&self.database);
        debug!(database = %self.database, "worker stopped");
    }

    /// Connects, or returns `None` after waiting out a failure.
    async fn connect(&mut self) -> Option<Client> {
        let config = self.shared.config();
        let result = tokio::select! {
            _ = self.cancel.cancelled() => return None,
            r = self.shared.connect(&self.database, config.statement_timeout) => r,
        };
        match result {
            Ok(client) => Some(client),
            Err(e) => {
                self.set_state(DbState::Down(e.to_string()));
                self.errors
                    .warn(&self.database, "connecting", &e.to_string());
                self.shared.report_connection_trouble();
                self.wait_backoff().await;
                None
            }
        }
    }

    /// Sleeps the backoff, cut short when the supervisor sees the server
    /// come back (spread by a little jitter) or on cancellation.
    async fn wait_backoff(&mut self) {
        let delay = self.backoff.next_delay(rand::random::<f64>());
        let mut up = self.shared.cluster_up.clone();
        up.mark_unchanged();
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = sleep(delay) => {}
            Ok(()) = up.changed() => {
                let spread = Duration::from_millis(rand::random_range(0..200));
                tokio::select! {
                    _ = self.cancel.cancelled() => {}
                    _ = sleep(spread) => {}
                }
            }
        }
    }

    /// Sleeps, or returns false when cancelled.
    async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = sleep(delay) => true,
        }
    }

    fn note_reason(&mut self, reason: &str) {
        if self.last_reason.as_deref() != Some(reason) {
            info!(database = %self.database, "not ticking: {reason}");
            self.last_reason = Some(reason.to_owned());
        }
    }

    /// Serves one connection: probe, wait for leadership, tick.
    async fn serve(&mut self, client: &Client) -> Exit {
        let probe = match engine::probe(client).await {
            Ok(p) => p,
            Err(e) => {
                self.errors
                    .warn(&self.database, "probing for PgQ", &engine::error_text(&e));
                return Exit::Reconnect;
            }
        };
        self.backoff.reset();
        let config = self.shared.config();
        let info = match probe {
            Probe::NoPgq => {
                // Hold no connection while there is nothing to do.
                self.set_state(DbState::NoPgq);
                self.note_reason("no pgq schema");
                return if self.pause(config.check_period).await {
                    Exit::Reprobe
                } else {
                    Exit::Cancelled
                };
            }
            Probe::Unsupported(reason) => {
                self.set_state(DbState::Unsupported(reason.clone()));
                self.note_reason(&reason);
                return if self.pause(config.check_period).await {
                    Exit::Reprobe
                } else {
                    Exit::Cancelled
                };
            }
            Probe::Ready(info) => info,
        };
        metrics::engine(&self.database, info.kind, &info.version);
        metrics::in_recovery(&self.database, info.in_recovery);
        if info.in_recovery {
            self.set_state(DbState::Standby);
            self.note_reason("server is a standby");
            return self.wait_for_promotion(client).await;
        }
        if config.ha_lock {
            match self.wait_for_leadership(client).await {
                Some(Exit::Reprobe) | None => {}
                Some(exit) => return exit,
            }
        }
        self.last_reason = None;
        info!(database = %self.database, engine = info.kind, version = %info.version, "ticking");
        self.set_state(DbState::Ticking {
            since: Instant::now(),
        });
        let exit = self.active(client, &info).await;
        // Figures of a database no longer ticked here would only go stale.
        self.shared.monitor.forget(&self.database);
        self.refreshed_at_reads = None;
        exit
    }

    async fn wait_for_promotion(&mut self, client: &Client) -> Exit {
        loop {
            if !self.pause(RECOVERY_POLL).await {
                return Exit::Cancelled;
            }
            match engine::in_recovery(client).await {
                Ok(true) => {}
                Ok(false) => {
                    info!(database = %self.database, "server was promoted");
                    return Exit::Reprobe;
                }
                Err(_) => return Exit::Reconnect,
            }
        }
    }

    /// Returns `None` once this daemon holds the database's HA lock.
    async fn wait_for_leadership(&mut self, client: &Client) -> Option<Exit> {
        loop {
            match engine::try_ha_lock(client).await {
                Ok(true) => return None,
                Ok(false) => {
                    self.set_state(DbState::Follower);
                    self.note_reason("another pgqd holds this database's lock");
                }
                Err(e) => {
                    self.errors.warn(
                        &self.database,
                        "taking the HA lock",
                        &engine::error_text(&e),
                    );
                    return Some(Exit::Reconnect);
                }
            }
            if !self.pause(HA_RETRY).await {
                return Some(Exit::Cancelled);
            }
        }
    }

    /// The ticking loop: sleeps until the next tick, retry round,
    /// maintenance round or recheck, whichever comes first.
    async fn active(&mut self, client: &Client, info: &EngineInfo) -> Exit {
        let started = Instant::now();
        let now = Instant::now();
        let config = self.shared.config();
        let mut next_tick = now;
        let mut next_retry = now;
        // Spread the first maintenance of many databases over a few seconds.
        let mut next_maint = now
            + config
                .maint_period
                .min(Duration::from_secs(5))
                .mul_f64(rand::random::<f64>());
        let mut next_recheck = now + config.check_period;
        let mut next_refresh = now;
        loop {
            let config = self.shared.config();
            let db = config.database_settings(&self.database);
            let wake = next_tick
                .min(next_retry)
                .min(next_maint)
                .min(next_recheck)
                .min(next_refresh);
            tokio::select! {
                _ = self.cancel.cancelled() => return Exit::Cancelled,
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            if client.is_closed() {
                self.shared.report_connection_trouble();
                return Exit::Reconnect;
            }
            let now = Instant::now();
            if now >= next_tick {
                match self.tick(client, info, db.ticker_period).await {
                    Ok(delay) => next_tick = Instant::now() + delay,
                    Err(exit) => return exit,
                }
            }
            if now >= next_retry {
                if let Err(exit) = self.retry(client).await {
                    return exit;
                }
                next_retry = Instant::now() + db.retry_period;
            }
            if now >= next_maint {
                if let Err(exit) = self.maintenance(client, info).await {
                    return exit;
                }
                next_maint = Instant::now() + db.maint_period;
            }
            if now >= next_refresh {
                if let Err(exit) = self.refresh(client).await {
                    return exit;
                }
                next_refresh = Instant::now() + config.refresh_period;
            }
            if now >= next_recheck {
                // Catch a dropped pgq schema, an upgrade, or a demotion.
                match engine::probe(client).await {
                    Ok(Probe::Ready(new)) if new == *info => {}
                    Ok(_) => return Exit::Reprobe,
                    Err(_) => return Exit::Reconnect,
                }
                if started.elapsed() > config.connection_lifetime {
                    debug!(database = %self.database, "recycling connection after its lifetime");
                    return Exit::Reprobe;
                }
                next_recheck = Instant::now() + config.check_period;
            }
        }
    }

    /// Classifies a statement error into what to do next.
    fn on_error(&mut self, what: &str, e: &tokio_postgres::Error) -> Option<Exit> {
        let kind = engine::error_kind(e);
        self.errors
            .warn(&self.database, what, &engine::error_text(e));
        match kind {
            "connection" => {
                self.shared.report_connection_trouble();
                Some(Exit::Reconnect)
            }
            "read_only" | "schema" => Some(Exit::Reprobe),
            _ => None,
        }
    }

    /// Calls the ticker and reads the schedule; returns the next delay.
    async fn tick(
        &mut self,
        client: &Client,
        info: &EngineInfo,
        period: Duration,
    ) -> Result<Duration, Exit> {
        let start = Instant::now();
        // Pipelined: one round trip, the schedule read after the ticks.
        let (ticked, schedule) =
            tokio::join!(engine::tick_all(client), engine::tick_schedule(client));
        let elapsed = start.elapsed().as_secs_f64();
        let schedule = match schedule {
            Ok(s) => s,
            Err(e) => {
                metrics::tick_error(&self.database, engine::error_kind(&e));
                return match self.on_error("reading the tick schedule", &e) {
                    Some(exit) => Err(exit),
                    None => Ok(period),
                };
            }
        };
        match ticked {
            Ok(n) => {
                metrics::tick_ok(&self.database, elapsed, n);
                self.shared.stats.ticks.fetch_add(1, Ordering::Relaxed);
                self.set_state(DbState::Ticking {
                    since: Instant::now(),
                });
            }
            Err(e) => {
                metrics::tick_error(&self.database, engine::error_kind(&e));
                if let Some(exit) = self.on_error("calling pgq.ticker()", &e) {
                    return Err(exit);
                }
                if info.kind != "pgqd-sql" {
                    // The C engine ticks all queues in one transaction, so one
                    // bad queue stops all; tick them one by one instead.
                    self.tick_each(client, &schedule).await?;
                }
            }
        }
        Ok(policy::next_tick_delay(
            &schedule.iter().map(|q| q.state.clone()).collect::<Vec<_>>(),
            period,
        ))
    }

    async fn tick_each(
        &mut self,
        client: &Client,
        schedule: &[engine::QueueSchedule],
    ) -> Result<(), Exit> {
        for queue in schedule {
            if let Err(e) = engine::tick_queue(client, &queue.name).await {
                metrics::tick_error(&self.database, engine::error_kind(&e));
                if let Some(exit) = self.on_error(&format!("ticking queue {}", queue.name), &e) {
                    return Err(exit);
                }
            }
        }
        Ok(())
    }

    /// Drains due retry events, a bounded number of calls per round.
    async fn retry(&mut self, client: &Client) -> Result<(), Exit> {
        let max_calls = self.shared.config().retry_batch_max.max(1);
        let mut moved = 0;
        for _ in 0..max_calls {
            match engine::retry_events(client).await {
                Ok(0) => break,
                Ok(n) => moved += n,
                Err(e) => {
                    if let Some(exit) = self.on_error("moving retry events", &e) {
                        return Err(exit);
                    }
                    break;
                }
            }
        }
        if moved > 0 {
            metrics::retry_moved(&self.database, moved);
            self.shared
                .stats
                .retry
                .fetch_add(u64::try_from(moved).unwrap_or(0), Ordering::Relaxed);
            debug!(database = %self.database, moved, "retry events moved");
        }
        Ok(())
    }

    /// Reads the database's queue and consumer figures for the monitor,
    /// unless nobody has looked at them since the last time.
    async fn refresh(&mut self, client: &Client) -> Result<(), Exit> {
        let reads = self.shared.monitor.reads();
        if self.refreshed_at_reads == Some(reads) {
            return Ok(());
        }
        let start = Instant::now();
        match engine::db_stats(client).await {
            Ok(stats) => {
                metrics::stats_refreshed(&self.database, start.elapsed().as_secs_f64());
                let after = self.shared.config().stuck_consumer_after;
                let stuck = self.stuck.update(&stats, Instant::now(), after);
                self.shared.monitor.publish(
                    &self.database,
                    Snapshot {
                        taken: std::time::SystemTime::now(),
                        stats,
                        stuck,
                    },
                );
                self.refreshed_at_reads = Some(reads);
                Ok(())
            }
            Err(engine::StatsError::Query(e)) => {
                match self.on_error("reading queue and consumer figures", &e) {
                    Some(exit) => Err(exit),
                    None => Ok(()),
                }
            }
            Err(e) => {
                self.errors.warn(
                    &self.database,
                    "reading queue and consumer figures",
                    &e.to_string(),
                );
                Ok(())
            }
        }
    }

    /// Lists due maintenance on the persistent connection and, if there is
    /// any, runs it on a maintenance connection in the background.
    async fn maintenance(&mut self, client: &Client, info: &EngineInfo) -> Result<(), Exit> {
        if self.maint.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        let ops = match engine::maint_operations(client, info).await {
            Ok(ops) => ops,
            Err(e) => {
                if let Some(exit) = self.on_error("listing maintenance operations", &e) {
                    return Err(exit);
                }
                return Ok(());
            }
        };
        if ops.is_empty() {
            self.shared.stats.maint.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let round = MaintRound {
            database: self.database.clone(),
            shared: self.shared.clone(),
            cancel: self.cancel.clone(),
            ops,
        };
        self.maint = Some(tokio::spawn(round.run()));
        Ok(())
    }
}

/// One maintenance round on its own connection.
struct MaintRound {
    database: String,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    ops: Vec<MaintOp>,
}

impl MaintRound {
    async fn run(self) {
        let _permit = tokio::select! {
            _ = self.cancel.cancelled() => return,
            p = self.shared.maint_permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let config = self.shared.config();
        let client = tokio::select! {
            _ = self.cancel.cancelled() => return,
            c = self.shared.connect(&self.database, config.maint_statement_timeout) => c,
        };
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                warn!(database = %self.database, "maintenance: {e}");
                return;
            }
        };
        let max_repeats = config.maint_max_repeats.max(1);
        for op in &self.ops {
            let label = op.label();
            let mut runs = 0;
            loop {
                if self.cancel.is_cancelled() {
                    return;
                }
                runs += 1;
                match engine::run_maint_op(&client, op).await {
                    Ok(OpOutcome::Again) if runs < max_repeats => {
                        metrics::maint_op(&self.database, &label, "ok");
                    }
                    Ok(_) => {
                        metrics::maint_op(&self.database, &label, "ok");
                        break;
                    }
                    Err(e) => {
                        metrics::maint_op(&self.database, &label, "error");
                        warn!(database = %self.database, arg = op.arg.as_deref().unwrap_or(""), "{e}");
                        if client.is_closed() {
                            return;
                        }
                        break;
                    }
                }
            }
            if runs >= max_repeats {
                warn!(database = %self.database, operation = %label,
                    "maintenance operation still asked to be called again after {runs} runs; \
                     continuing next round");
            }
        }
        self.shared.stats.maint.fetch_add(1, Ordering::Relaxed);
        debug!(database = %self.database, ops = self.ops.len(), "maintenance round done");
    }
}
