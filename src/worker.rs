//! One database's worker: probes the database, and while it has PgQ and this
//! daemon leads it, ticks its queues by their policies, drains the retry
//! queue and runs maintenance.
//!
//! The worker owns exactly one persistent connection. Ticking, reading the
//! monitoring figures, looking for due retry events and listing maintenance
//! run on it, one read-mostly statement at a time, in autocommit. Moving
//! retry events and the maintenance operations themselves (rotation, VACUUM,
//! extra functions) can wait on locks, so they run on a short-lived second
//! connection under a cluster-wide cap, and only when there is work; ticking
//! never waits for them.
//!
//! States: connecting → (no_pgq | unsupported | standby | follower |
//! ticking); any connection error goes to `down` and back to connecting
//! after a jittered backoff, or at once when the supervisor sees the server
//! come back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, watch};
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

/// How long quiet looks may build on one full schedule read. A tick made
/// by someone else moves no sequence and touches no queue row; the full
/// read this often puts such a queue back on its real schedule (until then
/// it only looks due early, and is read in full then).
const QUIET_MAX_AGE: Duration = Duration::from_secs(60);

/// The last full schedule read of a quiet database: no new events, and no
/// tick whose late-commit probe can still turn positive. Until something
/// changes, a look only compares the [`engine::QuietMark`] and advances
/// these states by the time passed.
struct QuietBase {
    /// When the read was sent (the states' ages are at least as old).
    read_at: Instant,
    states: Vec<policy::QueueTickState>,
    /// The event sequences the mark covers, in oid order.
    seqs: Vec<u32>,
    mark: engine::QuietMark,
}

/// Why the active loop ended.
enum Exit {
    Cancelled,
    Reconnect,
    Reprobe,
    /// Nothing to do here: close the connection and probe again after
    /// `check_period`.
    Idle,
}

/// Logs an error unless the same kind was logged recently, so a database
/// that fails every tick does not flood the log. Kinds are tracked apart,
/// so two errors that alternate (the ticker call, then each queue) are both
/// limited; the next message of a kind says how many were left out.
struct RateLimit {
    last: HashMap<String, (Instant, u64)>,
}

impl RateLimit {
    fn new() -> Self {
        RateLimit {
            last: HashMap::new(),
        }
    }

    fn warn(&mut self, database: &str, what: &str, message: &str) {
        let now = Instant::now();
        if let Some((at, suppressed)) = self.last.get_mut(what) {
            if now.duration_since(*at) < LOG_EVERY {
                *suppressed += 1;
                return;
            }
        }
        let suppressed = self.last.get(what).map_or(0, |(_, n)| *n);
        if suppressed > 0 {
            warn!(
                database,
                "{what}: {message} ({suppressed} similar messages suppressed)"
            );
        } else {
            warn!(database, "{what}: {message}");
        }
        // Forget kinds that have been quiet for long; bounds the map.
        self.last
            .retain(|_, (at, _)| now.duration_since(*at) < LOG_EVERY * 6);
        self.last.insert(what.to_owned(), (now, 0));
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
    /// The running retry round; it answers whether due events remain.
    retry_task: Option<JoinHandle<bool>>,
    stuck: StuckTracker,
    /// The monitor's read count at the last refresh; `None` before the
    /// first one.
    refreshed_at_reads: Option<u64>,
    /// Whether no queue had new events at the last look.
    looked_idle: bool,
    /// Ticks (`queue_id:tick_id`) whose late-commit probe has answered for
    /// good; the schedule no longer asks it for them.
    settled: Vec<String>,
    /// Set while the database is quiet; see [`QuietBase`].
    quiet: Option<QuietBase>,
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
            retry_task: None,
            stuck: StuckTracker::default(),
            refreshed_at_reads: None,
            looked_idle: false,
            settled: Vec::new(),
            quiet: None,
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
        // Only a connection lost or refused counts as a reconnect; a
        // planned probe keeps the state it had until the probe answers.
        let mut lost = false;
        while !self.cancel.is_cancelled() {
            if lost {
                metrics::reconnect(&self.database);
                self.set_state(DbState::Connecting);
            }
            lost = true;
            let client = match self.connect().await {
                Some(client) => client,
                None => continue,
            };
            match self.serve(&client).await {
                Exit::Cancelled => break,
                Exit::Reprobe => lost = false,
                Exit::Idle => {
                    // Hold no connection while there is nothing to do.
                    drop(client);
                    if !self.pause(self.shared.config().check_period).await {
                        break;
                    }
                    lost = false;
                }
                Exit::Reconnect => self.wait_backoff().await,
            }
        }
        if let Some(task) = self.maint.take() {
            task.abort();
        }
        if let Some(task) = self.retry_task.take() {
            task.abort();
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
                self.set_state(DbState::NoPgq);
                self.note_reason("no pgq schema");
                return Exit::Idle;
            }
            Probe::Unsupported(reason) => {
                self.set_state(DbState::Unsupported(reason.clone()));
                self.note_reason(&reason);
                return Exit::Idle;
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
        if let Err(exit) = self.apply_overrides(client).await {
            return exit;
        }
        let statements = match engine::TickStatements::prepare(client, info.kind).await {
            Ok(s) => s,
            Err(e) => {
                return self
                    .on_error("preparing the tick statements", &e)
                    .unwrap_or(Exit::Reconnect);
            }
        };
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
                match self.tick(client, &statements, info, db.ticker_period).await {
                    Ok(delay) => next_tick = Instant::now() + delay,
                    Err(exit) => return exit,
                }
            }
            if now >= next_retry {
                match self.retry(client, &statements).await {
                    Ok(Retry::Idle) => next_retry = Instant::now() + db.retry_period,
                    // A backlog drains round after round, not one round per
                    // retry_period.
                    Ok(Retry::Draining) => {
                        next_retry = Instant::now() + RETRY_POLL.min(db.retry_period)
                    }
                    Err(exit) => return exit,
                }
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
                // Also catches queues created since, and reloads.
                if let Err(exit) = self.apply_overrides(client).await {
                    return exit;
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
        statements: &engine::TickStatements,
        info: &EngineInfo,
        period: Duration,
    ) -> Result<Duration, Exit> {
        // A database that looked idle at the last wake is mostly looked at
        // for nothing: read the schedule alone (or, while it stays quiet,
        // only what would show a change), and tick only if it says so.
        if statements.schedule_is_complete() && self.looked_idle {
            if let Some(delay) = self.quiet_look(client, statements, period).await? {
                return Ok(delay);
            }
            let read_at = Instant::now();
            let schedule = match statements.schedule(client, &self.settled).await {
                Ok(s) => s,
                Err(e) => return self.schedule_failed(&e, period),
            };
            let due = schedule
                .iter()
                .any(|q| policy::queue_next_due(&q.state, period).is_zero());
            if !due {
                metrics::schedule_look(&self.database, "full");
                self.set_state(DbState::Ticking {
                    since: Instant::now(),
                });
                return Ok(self.plan_next(&schedule, period, statements, read_at));
            }
        }
        let start = Instant::now();
        // Pipelined: one round trip, the schedule read after the ticks.
        let (ticked, schedule) = tokio::join!(
            statements.tick_all(client),
            statements.schedule(client, &self.settled)
        );
        let elapsed = start.elapsed().as_secs_f64();
        let schedule = match schedule {
            Ok(s) => s,
            Err(e) => return self.schedule_failed(&e, period),
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
        Ok(self.plan_next(&schedule, period, statements, start))
    }

    /// A look that reads only the [`engine::QuietMark`]: `Some(delay)` when
    /// nothing changed since the last full read and no queue is due by the
    /// clock; `None` when the full schedule must be read.
    async fn quiet_look(
        &mut self,
        client: &Client,
        statements: &engine::TickStatements,
        period: Duration,
    ) -> Result<Option<Duration>, Exit> {
        let Some(base) = &self.quiet else {
            return Ok(None);
        };
        let elapsed = base.read_at.elapsed();
        if elapsed >= QUIET_MAX_AGE {
            return Ok(None);
        }
        let states: Vec<policy::QueueTickState> = base
            .states
            .iter()
            .map(|q| policy::QueueTickState {
                since_last_tick: q.since_last_tick.map(|s| s + elapsed),
                ..q.clone()
            })
            .collect();
        if states
            .iter()
            .any(|q| policy::queue_next_due(q, period).is_zero())
        {
            return Ok(None);
        }
        let seen = base.mark.clone();
        match statements.quiet_mark(client, &base.seqs).await {
            Ok(mark) if mark == seen => {
                metrics::schedule_look(&self.database, "quiet");
                self.set_state(DbState::Ticking {
                    since: Instant::now(),
                });
                Ok(Some(policy::next_tick_delay(&states, period)))
            }
            Ok(_) => Ok(None),
            Err(e) => self.schedule_failed(&e, period).map(Some),
        }
    }

    /// A failed schedule read: counted, logged, and retried after `period`
    /// unless the connection or the schema is gone.
    fn schedule_failed(
        &mut self,
        e: &tokio_postgres::Error,
        period: Duration,
    ) -> Result<Duration, Exit> {
        metrics::tick_error(&self.database, engine::error_kind(e));
        match self.on_error("reading the tick schedule", e) {
            Some(exit) => Err(exit),
            None => Ok(period),
        }
    }

    /// Takes in a fresh schedule, read from `read_at` on: remembers settled
    /// ticks, whether the database looked idle, and whether it is quiet;
    /// returns how long to sleep.
    fn plan_next(
        &mut self,
        schedule: &[engine::QueueSchedule],
        period: Duration,
        statements: &engine::TickStatements,
        read_at: Instant,
    ) -> Duration {
        self.note_settled(schedule);
        self.looked_idle = schedule.iter().all(|q| q.state.new_events <= 0);
        let states: Vec<_> = schedule.iter().map(|q| q.state.clone()).collect();
        // Quiet: nothing new, and no tick can still gain events without its
        // sequence moving (a late commit the probe would find).
        let quiet = self.looked_idle
            && schedule.iter().all(|q| {
                !q.state.late_commits
                    && q.state.since_last_tick.is_some()
                    && (!statements.probes_late_commits()
                        || q.tick_key
                            .as_ref()
                            .is_some_and(|k| self.settled.contains(k)))
            });
        self.quiet = match engine::QuietMark::of(schedule) {
            Some((mark, seqs)) if quiet => Some(QuietBase {
                read_at,
                states: states.clone(),
                seqs,
                mark,
            }),
            _ => None,
        };
        policy::next_tick_delay(&states, period)
    }

    /// Remembers the ticks whose late-commit probe said no after every
    /// transaction older than the tick had ended: no event of a transaction
    /// running at the tick can appear any more. (A producer that drew its
    /// event id before the tick but got its transaction id after the tick's
    /// own is the exception; its event waits for the next tick, as with the
    /// C engine.) Forgets ticks that are no longer the newest.
    fn note_settled(&mut self, schedule: &[engine::QueueSchedule]) {
        let current: HashSet<&str> = schedule
            .iter()
            .filter_map(|q| q.tick_key.as_deref())
            .collect();
        self.settled.retain(|k| current.contains(k.as_str()));
        for q in schedule {
            if q.late_probe == Some(false) && q.old_done {
                if let Some(key) = &q.tick_key {
                    if !self.settled.contains(key) {
                        self.settled.push(key.clone());
                    }
                }
            }
        }
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

    /// Looks for due retry events on the persistent connection and, when
    /// there are any, moves them on a maintenance connection in the
    /// background: moving inserts into the event tables, which rotation or a
    /// long transaction can hold locked, and ticking must not wait for that.
    async fn retry(
        &mut self,
        client: &Client,
        statements: &engine::TickStatements,
    ) -> Result<Retry, Exit> {
        let more = match self.retry_task.take() {
            Some(h) if !h.is_finished() => {
                self.retry_task = Some(h);
                return Ok(Retry::Draining);
            }
            // Finished: awaiting it returns at once.
            Some(h) => h.await.unwrap_or(false),
            None => false,
        };
        let due = more
            || match statements.retry_due(client).await {
                Ok(due) => due,
                Err(e) => {
                    return match self.on_error("looking for due retry events", &e) {
                        Some(exit) => Err(exit),
                        None => Ok(Retry::Idle),
                    };
                }
            };
        if !due {
            return Ok(Retry::Idle);
        }
        let round = RetryRound {
            database: self.database.clone(),
            shared: self.shared.clone(),
            cancel: self.cancel.clone(),
        };
        self.retry_task = Some(tokio::spawn(round.run()));
        Ok(Retry::Draining)
    }

    /// Writes the `[[queue]]` settings of the configuration into the
    /// matching queues' PgQ configuration where they differ, so that
    /// `pgq.ticker()` (ours or any other ticker) and every monitoring query
    /// see the same policy.
    async fn apply_overrides(&mut self, client: &Client) -> Result<(), Exit> {
        let config = self.shared.config();
        if config.queues.is_empty() {
            return Ok(());
        }
        let queues = match engine::queue_settings(client).await {
            Ok(q) => q,
            Err(e) => {
                return match self.on_error("reading queue settings", &e) {
                    Some(exit) => Err(exit),
                    None => Ok(()),
                };
            }
        };
        for queue in queues {
            let wanted = config.queue_overrides(&self.database, &queue.name);
            for (param, value) in override_changes(&queue, &wanted) {
                match engine::set_queue_config(client, &queue.name, param, &value).await {
                    Ok(()) => info!(database = %self.database, queue = %queue.name,
                        "applied [[queue]] setting {param} = {value}"),
                    Err(e) => {
                        let what = format!("setting {param} of queue {}", queue.name);
                        if let Some(exit) = self.on_error(&what, &e) {
                            return Err(exit);
                        }
                    }
                }
            }
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

/// The `pgq.set_queue_config` calls that bring `queue` to `wanted`:
/// parameter names and values as PgQ accepts them.
fn override_changes(
    queue: &engine::QueueSettings,
    wanted: &crate::config::QueueOverrides,
) -> Vec<(&'static str, String)> {
    let interval = |d: Duration| format!("{:.6} seconds", d.as_secs_f64());
    let differs = |current: f64, d: Duration| (current - d.as_secs_f64()).abs() > 1e-6;
    let mut changes = Vec::new();
    if let Some(n) = wanted.ticker_max_count {
        if u64::try_from(queue.max_count).ok() != Some(n) {
            changes.push(("ticker_max_count", n.to_string()));
        }
    }
    if let Some(d) = wanted.ticker_max_lag {
        if differs(queue.max_lag, d) {
            changes.push(("ticker_max_lag", interval(d)));
        }
    }
    if let Some(d) = wanted.ticker_idle_period {
        if differs(queue.idle_period, d) {
            changes.push(("ticker_idle_period", interval(d)));
        }
    }
    if let Some(p) = wanted.ticker_paused {
        if queue.paused != p {
            changes.push(("ticker_paused", p.to_string()));
        }
    }
    changes
}

/// Waits for a maintenance permit and opens a maintenance connection;
/// `None` when cancelled or the connection failed (logged as `what`).
async fn maint_connection(
    shared: &Shared,
    database: &str,
    cancel: &CancellationToken,
    statement_timeout: Duration,
    what: &str,
) -> Option<(OwnedSemaphorePermit, Client)> {
    let permit = tokio::select! {
        _ = cancel.cancelled() => return None,
        p = shared.maint_permits.clone().acquire_owned() => p.ok()?,
    };
    let client = tokio::select! {
        _ = cancel.cancelled() => return None,
        c = shared.connect(database, statement_timeout) => c,
    };
    match client {
        Ok(c) => Some((permit, c)),
        Err(e) => {
            warn!(database, "{what}: {e}");
            None
        }
    }
}

/// How often a worker looks at a running retry round, and starts the next
/// one while a backlog remains.
const RETRY_POLL: Duration = Duration::from_millis(100);

/// What the retry mover is doing, which decides when the worker looks again.
enum Retry {
    /// Nothing was due: look again after `retry_period`.
    Idle,
    /// A round runs or due events remain: look again soon.
    Draining,
}

/// Moves due retry events back into their queues on its own connection,
/// a bounded number of `pgq.maint_retry_events()` calls per round; the
/// worker starts rounds back to back until none are due, so maintenance
/// waiting for a connection slot gets its turn between them.
struct RetryRound {
    database: String,
    shared: Arc<Shared>,
    cancel: CancellationToken,
}

impl RetryRound {
    /// Runs one round; answers whether it stopped with events still due.
    async fn run(self) -> bool {
        let config = self.shared.config();
        let Some((_permit, client)) = maint_connection(
            &self.shared,
            &self.database,
            &self.cancel,
            config.statement_timeout,
            "moving retry events",
        )
        .await
        else {
            return false;
        };
        let mut moved = 0;
        let mut more = false;
        for _ in 0..config.retry_batch_max.max(1) {
            if self.cancel.is_cancelled() {
                break;
            }
            match engine::retry_events(&client).await {
                Ok(0) => {
                    more = false;
                    break;
                }
                Ok(n) => {
                    moved += n;
                    more = true;
                }
                Err(e) => {
                    warn!(database = %self.database, "moving retry events: {}", engine::error_text(&e));
                    more = false;
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
        more
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
        let config = self.shared.config();
        let Some((_permit, client)) = maint_connection(
            &self.shared,
            &self.database,
            &self.cancel,
            config.maint_statement_timeout,
            "maintenance",
        )
        .await
        else {
            return;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::QueueOverrides;

    fn queue() -> engine::QueueSettings {
        engine::QueueSettings {
            name: "q".into(),
            max_count: 500,
            max_lag: 3.0,
            idle_period: 60.0,
            paused: false,
        }
    }

    #[test]
    fn only_differing_settings_are_written() {
        let none = QueueOverrides::default();
        assert!(override_changes(&queue(), &none).is_empty());
        let same = QueueOverrides {
            ticker_max_count: Some(500),
            ticker_max_lag: Some(Duration::from_secs(3)),
            ticker_idle_period: Some(Duration::from_secs(60)),
            ticker_paused: Some(false),
        };
        assert!(override_changes(&queue(), &same).is_empty());
        let new = QueueOverrides {
            ticker_max_count: Some(10),
            ticker_max_lag: Some(Duration::from_millis(50)),
            ticker_idle_period: None,
            ticker_paused: Some(true),
        };
        assert_eq!(
            override_changes(&queue(), &new),
            vec![
                ("ticker_max_count", "10".to_string()),
                ("ticker_max_lag", "0.050000 seconds".to_string()),
                ("ticker_paused", "true".to_string()),
            ]
        );
    }
}
