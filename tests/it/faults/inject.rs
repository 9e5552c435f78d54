//! The faults, and how long the daemon took to tick again after each.
//!
//! Recovery is measured on the server's own record: the first tick whose
//! `tick_time` is at or after the reference moment (when PostgreSQL accepts
//! connections again, or when the fault struck). A tick transaction that
//! started before the reference does not count, so the figure can only be
//! too high, never too low.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pgqd::tempcluster::StopMode;
use rand::Rng;
use rand::rngs::StdRng;

use super::world::{
    DAEMON_APP_PREFIX, DB, Daemon, Endpoint, Frozen, Role, Topology, blocking, event_tables, leader,
};

/// How long the daemon may take to tick again before the run fails.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(60);

/// Every kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum FaultKind {
    /// SIGKILL every daemon on the primary, then start them again.
    DaemonKill,
    /// SIGKILL the daemon holding the HA lock; the other must take over.
    HaTakeover,
    /// PostgreSQL immediate stop and start (crash recovery).
    ImmediateRestart,
    /// PostgreSQL fast stop and start.
    FastRestart,
    /// `pg_terminate_backend` on every session of the daemons.
    TerminateBackends,
    /// ACCESS EXCLUSIVE on the queue's next event table for seconds, so
    /// rotation cannot proceed while ticking must.
    TableLock,
    /// The primary dies for good; the standby a daemon watches is promoted.
    Failover,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub(crate) const ALL: [FaultKind; 7] = [
        FaultKind::DaemonKill,
        FaultKind::HaTakeover,
        FaultKind::ImmediateRestart,
        FaultKind::FastRestart,
        FaultKind::TerminateBackends,
        FaultKind::TableLock,
        FaultKind::Failover,
    ];

    /// Relative frequency in soak mode; a failover rebuilds a standby, so
    /// it comes less often.
    pub(crate) fn weight(self) -> u32 {
        match self {
            FaultKind::Failover => 1,
            _ => 3,
        }
    }

    /// Whether the run needs a standby for it.
    pub(crate) fn needs_standby(self) -> bool {
        self == FaultKind::Failover
    }

    /// Whether the run needs two daemons on the primary for it.
    pub(crate) fn needs_ha(self) -> bool {
        self == FaultKind::HaTakeover
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultKind::DaemonKill => "daemon SIGKILL + restart",
            FaultKind::HaTakeover => "HA: active daemon killed",
            FaultKind::ImmediateRestart => "PostgreSQL immediate restart",
            FaultKind::FastRestart => "PostgreSQL fast restart",
            FaultKind::TerminateBackends => "pg_terminate_backend(daemon)",
            FaultKind::TableLock => "lock on next event table",
            FaultKind::Failover => "standby promoted (failover)",
        })
    }
}

/// One injected fault and its effect.
#[derive(Debug, Clone)]
pub(crate) struct FaultRecord {
    /// What was done.
    pub kind: FaultKind,
    /// When, since the run started.
    pub at: Duration,
    /// Time from the reference moment to the next tick; `None` if the
    /// daemon did not tick within [`RECOVERY_DEADLINE`].
    pub recovery: Option<Duration>,
    /// What else was observed.
    pub note: String,
}

/// The daemons of a run.
pub(crate) struct Daemons {
    /// All of them, whatever they watch.
    pub all: Vec<Daemon>,
}

impl Daemons {
    fn on(&mut self, role: Role) -> impl Iterator<Item = &mut Daemon> {
        self.all.iter_mut().filter(move |d| d.role == role)
    }

    /// Stops every daemon gracefully; returns what went wrong.
    pub(crate) async fn stop_all(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for d in &mut self.all {
            problems.extend(d.stop().await);
            if d.panicked() {
                problems.push(format!("{} panicked (see its stderr)", d.name));
            }
        }
        problems
    }

    /// Log tails of every daemon.
    pub(crate) fn log_tails(&self, lines: usize) -> String {
        self.all.iter().map(|d| d.log_tail(lines)).collect()
    }

    /// Names of daemons that exited on their own, with their status.
    pub(crate) fn exited(&mut self) -> Vec<String> {
        self.all
            .iter_mut()
            .filter_map(|d| d.exited().map(|s| format!("{} ({s})", d.name)))
            .collect()
    }
}

/// Seconds since the epoch, as PostgreSQL's `to_timestamp` takes them.
fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs_f64()
}

/// Waits for the first tick of the queue stamped at or after `reference`;
/// returns how long after `reference` it was stamped.
pub(crate) async fn next_tick_since(
    endpoint: &Endpoint,
    queue_id: i32,
    reference: SystemTime,
) -> Option<Duration> {
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    let mut client = None;
    while Instant::now() < deadline {
        if client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            client = endpoint.connect(DB, "fault-monitor").await.ok();
        }
        if let Some(c) = &client {
            let row = c
                .query_one(
                    "select extract(epoch from min(tick_time))::float8
                       from (select tick_time from pgq.tick where tick_queue = $1
                              order by tick_id desc limit 50) t
                      where tick_time >= to_timestamp($2)",
                    &[&queue_id, &epoch(reference)],
                )
                .await;
            match row {
                Ok(row) => {
                    if let Some(at) = row.get::<_, Option<f64>>(0) {
                        return Some(Duration::from_secs_f64((at - epoch(reference)).max(0.0)));
                    }
                }
                Err(_) => client = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

/// Freezes replication for a moment before a crash, so that commits are
/// in flight when it strikes and their clients learn nothing of their fate.
async fn freeze(topology: &Topology, rng: &mut StdRng, note: &mut String) -> Option<Frozen> {
    let frozen = topology.freeze_replication().await?;
    let pause = Duration::from_millis(rng.random_range(300..800));
    tokio::time::sleep(pause).await;
    note.push_str(&format!(
        "replication frozen {:.1} s before the crash",
        pause.as_secs_f64()
    ));
    Some(frozen)
}

/// Injects one fault and measures the recovery.
pub(crate) async fn inject(
    kind: FaultKind,
    topology: &mut Topology,
    daemons: &mut Daemons,
    rng: &mut StdRng,
    started: Instant,
) -> FaultRecord {
    let at = started.elapsed();
    let queue_id = topology.queue_id;
    let mut note = String::new();
    let reference = match kind {
        FaultKind::DaemonKill => {
            for d in daemons.on(Role::Primary) {
                d.kill().await;
            }
            let target = topology.primary_endpoint();
            for d in daemons.on(Role::Primary) {
                d.start(&target);
            }
            SystemTime::now()
        }
        FaultKind::HaTakeover => {
            let admin = topology.admin(DB).await;
            let deadline = Instant::now() + Duration::from_secs(30);
            let name = loop {
                if let Some(name) = leader(&admin).await {
                    break name;
                }
                assert!(Instant::now() < deadline, "no daemon holds the HA lock");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let victim = daemons
                .all
                .iter_mut()
                .find(|d| d.name == name)
                .expect("the leader is one of ours");
            victim.kill().await;
            let reference = SystemTime::now();
            let recovery = next_tick_since(&topology.primary_endpoint(), queue_id, reference).await;
            let successor = leader(&admin).await.unwrap_or_else(|| "nobody".into());
            note = format!("{name} killed, {successor} took over");
            let target = topology.primary_endpoint();
            daemons
                .all
                .iter_mut()
                .find(|d| d.name == name)
                .expect("the victim is still listed")
                .start(&target);
            return FaultRecord {
                kind,
                at,
                recovery,
                note,
            };
        }
        FaultKind::ImmediateRestart => {
            let frozen = freeze(topology, rng, &mut note).await;
            topology.restart_primary(StopMode::Immediate, frozen).await;
            SystemTime::now()
        }
        FaultKind::FastRestart => {
            topology.restart_primary(StopMode::Fast, None).await;
            SystemTime::now()
        }
        FaultKind::TerminateBackends => {
            let admin = topology.admin("postgres").await;
            let row = admin
                .query_one(
                    "select count(*) filter (where pg_terminate_backend(pid))
                       from pg_stat_activity where application_name like $1",
                    &[&format!("{DAEMON_APP_PREFIX}%")],
                )
                .await
                .expect("terminating the daemons' sessions");
            let n: i64 = row.get(0);
            note = format!("{n} sessions terminated");
            SystemTime::now()
        }
        FaultKind::TableLock => {
            let mut admin = topology.admin(DB).await;
            let hold = Duration::from_millis(rng.random_range(3000..6000));
            let tx = admin.transaction().await.expect("starting the lock holder");
            let (_, next, cur) = event_tables(&tx).await.expect("finding the next table");
            tx.batch_execute(&format!("lock table {next} in access exclusive mode"))
                .await
                .expect("locking the next event table");
            let reference = SystemTime::now();
            let endpoint = topology.primary_endpoint();
            let measuring =
                tokio::spawn(async move { next_tick_since(&endpoint, queue_id, reference).await });
            tokio::time::sleep(hold).await;
            let (_, _, cur_now) = event_tables(&tx).await.expect("rereading the queue");
            let _ = tx.rollback().await;
            let recovery = measuring.await.expect("the tick monitor ran");
            note = format!(
                "{next} locked for {:.1} s, current table {cur} -> {cur_now} meanwhile{}",
                hold.as_secs_f64(),
                if recovery.is_some_and(|r| r > hold) {
                    "; no tick until the lock was released"
                } else {
                    ""
                }
            );
            return FaultRecord {
                kind,
                at,
                recovery,
                note,
            };
        }
        FaultKind::Failover => {
            topology.wait_sync().await;
            let frozen = freeze(topology, rng, &mut note).await;
            let old = topology.fail_over(frozen).await;
            let reference = SystemTime::now();
            let recovery = next_tick_since(&topology.primary_endpoint(), queue_id, reference).await;
            // Re-point the daemons as an operator would: the one that
            // watched the standby now serves the primary; of those stranded
            // on the dead primary, one joins it, one watches a new standby.
            for d in daemons.on(Role::Primary) {
                d.kill().await;
            }
            let mut stranded: Vec<usize> = Vec::new();
            for (i, d) in daemons.all.iter_mut().enumerate() {
                match d.role {
                    Role::Standby => d.role = Role::Primary,
                    Role::Primary => stranded.push(i),
                }
            }
            blocking(move || drop(old)).await;
            let target = topology.primary_endpoint();
            if let Some(&i) = stranded.first() {
                daemons.all[i].start(&target);
            }
            let rebuilt = Instant::now();
            topology.add_standby().await;
            note.push_str(&format!(
                "; new standby streaming after {:.1} s",
                rebuilt.elapsed().as_secs_f64()
            ));
            if let Some(&i) = stranded.get(1) {
                let d = &mut daemons.all[i];
                d.role = Role::Standby;
                let standby = Endpoint::of(topology.standby.as_ref().expect("the new standby"));
                d.start(&standby);
            }
            return FaultRecord {
                kind,
                at,
                recovery,
                note,
            };
        }
    };
    let recovery = next_tick_since(&topology.primary_endpoint(), queue_id, reference).await;
    FaultRecord {
        kind,
        at,
        recovery,
        note,
    }
}
