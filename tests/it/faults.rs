//! Fault injection: producers, consumers and the daemon under crashes,
//! restarts and kills, proving no event is lost, duplicated or resurrected.
//!
//! A run starts a primary with a synchronous standby, our engine, one
//! queue that rotates every few seconds, pgqd as child processes (two on
//! the primary sharing the HA lock, one watching the standby), producers
//! and consumers as tasks. It injects faults from a seeded schedule,
//! measures how soon the daemon ticks again after each, then stops the
//! producers, lets the consumers drain, and hands the recorded history to
//! the pure checker in [`history`].
//!
//! Modes, chosen by environment:
//! - default (CI): fixed seed, every fault kind once, about two minutes;
//! - `PGQD_SOAK_SECS=N`: faults at random for N seconds, fresh seed;
//! - `PGQD_FAULT_SEED=S`: use seed S (either mode) to replay a schedule;
//! - `PGQD_FAULT_KEEP_LOGS=1`: keep the daemons' logs (kept anyway when
//!   the run fails).
//!
//! `RELIABILITY.md` describes the faults, the guarantees checked and the
//! soak results.

mod history;
mod inject;
mod workload;
mod world;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use pgqd::tempcluster::quote_ident;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use history::{History, Report, TxOutcome, check};
use inject::{Daemons, FaultKind, FaultRecord, inject, next_tick_since};
use workload::{ConsumerSpec, Style, Tracker};
use world::{DB, Daemon, EXT_DB, Endpoint, QUEUE, Role, Topology};

/// The seed of the CI run.
const SHORT_SEED: u64 = 0x5EED_0009;

/// The project's `pgq_ext` (exactly-once batch tracking).
const PGQ_EXT_SQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/pgq_ext.sql");

/// The project's `pgq_coop` (cooperative sub-consumers).
const PGQ_COOP_SQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/pgq_coop.sql");

/// How long the consumers may take to drain after the last fault.
const DRAIN_DEADLINE: Duration = Duration::from_secs(180);

/// What a run injects.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Every available kind once, in seeded order.
    EachOnce,
    /// Random kinds until this much time has passed.
    Soak(Duration),
    /// No faults, load only, for this long.
    Quiet(Duration),
}

/// Everything that shapes a run.
#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    plan: Plan,
    /// Build a synchronous standby with a daemon watching it.
    standby: bool,
    /// Run two daemons on the primary (HA).
    ha: bool,
    producers: usize,
    consumers: Vec<ConsumerSpec>,
    rotation_period: &'static str,
    /// SQL run after installing the engine (to break it on purpose).
    engine_patch: Option<&'static str>,
}

/// What a run produced.
struct Outcome {
    history: History,
    report: Report,
    faults: Vec<FaultRecord>,
    elapsed: Duration,
    /// Why the drain did not complete, if it did not.
    drain_error: Option<String>,
    /// Daemons that exited without being told to, or not cleanly when told.
    daemon_trouble: Vec<String>,
    /// Log tails for a failure report.
    logs: String,
    /// The daemons' configs and logs; deleted on drop unless kept.
    dir: Option<tempfile::TempDir>,
}

impl Outcome {
    /// Keeps the daemons' configs and logs on disk and says where.
    fn keep_logs(&mut self) -> String {
        match self.dir.take() {
            Some(dir) => {
                let kept = dir.keep();
                println!("daemon configs and logs kept in {}", kept.display());
                format!("daemon configs and logs kept in {}", kept.display())
            }
            None => String::new(),
        }
    }

    /// Every reason the run failed, one per line.
    fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .report
            .problems
            .iter()
            .take(30)
            .map(ToString::to_string)
            .collect();
        if self.report.problems.len() > 30 {
            out.push(format!(
                "... {} problems in all",
                self.report.problems.len()
            ));
        }
        let mut traced: Vec<history::EventNo> = Vec::new();
        for no in self
            .report
            .problems
            .iter()
            .filter_map(history::Problem::event)
        {
            if traced.len() < 5 && !traced.contains(&no) {
                traced.push(no);
                out.push(history::trace(&self.history, no));
            }
        }
        out.extend(self.drain_error.clone());
        for f in &self.faults {
            if f.recovery.is_none() {
                out.push(format!(
                    "no tick within the deadline after {} at {:.1} s",
                    f.kind,
                    f.at.as_secs_f64()
                ));
            }
        }
        out.extend(self.daemon_trouble.iter().cloned());
        out
    }
}

/// A per-task seed derived from the run's seed.
fn sub_seed(seed: u64, n: u64) -> u64 {
    seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(n + 1)
}

fn pick_weighted(rng: &mut StdRng, kinds: &[FaultKind]) -> FaultKind {
    let total: u32 = kinds.iter().map(|k| k.weight()).sum();
    let mut x = rng.random_range(0..total);
    for k in kinds {
        if x < k.weight() {
            return *k;
        }
        x -= k.weight();
    }
    unreachable!("the weights add up")
}

/// Waits until nothing is left to deliver: no retry rows, every committed
/// event covered by the newest tick, every consumer at that tick with no
/// open batch; all judged in one snapshot.
async fn wait_drained(topology: &Topology) -> Result<(), String> {
    let deadline = Instant::now() + DRAIN_DEADLINE;
    let mut last = String::from("never checked");
    while Instant::now() < deadline {
        let admin = topology.admin(DB).await;
        let pfx: Result<String, _> = admin
            .query_one(
                "select queue_data_pfx from pgq.queue where queue_name = $1",
                &[&QUEUE],
            )
            .await
            .map(|r| r.get(0));
        if let Ok(pfx) = pfx {
            let (schema, table) = pfx.split_once('.').expect("a qualified prefix");
            let parent = format!("{}.{}", quote_ident(schema), quote_ident(table));
            let sql = format!(
                "with q as (select queue_id from pgq.queue where queue_name = $1),
                      last as (select t.tick_id, t.tick_snapshot from pgq.tick t, q
                                where t.tick_queue = q.queue_id order by t.tick_id desc limit 1)
                 select (select count(*) from pgq.retry_queue),
                        (select count(*) from pgq.subscription s, q, last
                          where s.sub_queue = q.queue_id
                            and (s.sub_batch is not null or s.sub_last_tick <> last.tick_id)),
                        (select count(*) from {parent} e, last
                          where e.ev_txid >= txid_snapshot_xmin(last.tick_snapshot)
                            and not txid_visible_in_snapshot(e.ev_txid, last.tick_snapshot))"
            );
            match admin.query_one(&sql, &[&QUEUE]).await {
                Ok(row) => {
                    let (retry, behind, unticked): (i64, i64, i64) =
                        (row.get(0), row.get(1), row.get(2));
                    if retry == 0 && behind == 0 && unticked == 0 {
                        return Ok(());
                    }
                    last = format!(
                        "{retry} retry rows, {behind} consumers behind, {unticked} unticked events"
                    );
                }
                Err(e) => last = format!("checking the drain on {DB}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "the consumers did not drain within {} s: {last}",
        DRAIN_DEADLINE.as_secs()
    ))
}

/// Injects the scenario's faults one at a time, with load in between;
/// returns what each did, and any daemon that died on its own meanwhile.
async fn inject_faults(
    s: &Scenario,
    topology: &mut Topology,
    daemons: &mut Daemons,
    started: Instant,
) -> (Vec<FaultRecord>, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let available: Vec<FaultKind> = FaultKind::ALL
        .into_iter()
        .filter(|k| (!k.needs_standby() || s.standby) && (!k.needs_ha() || s.ha))
        .collect();
    let mut faults = Vec::new();
    let mut daemon_trouble: Vec<String> = Vec::new();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut schedule: Vec<FaultKind> = Vec::new();
    match s.plan {
        Plan::EachOnce => {
            schedule = available.clone();
            schedule.shuffle(&mut rng);
        }
        Plan::Quiet(d) => tokio::time::sleep(d).await,
        Plan::Soak(_) => {}
    }
    loop {
        let kind = match s.plan {
            Plan::Soak(d) if started.elapsed() < d => pick_weighted(&mut rng, &available),
            Plan::Soak(_) | Plan::Quiet(_) => break,
            Plan::EachOnce => match schedule.pop() {
                Some(k) => k,
                None => break,
            },
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(2000..6000))).await;
        let record = inject(kind, topology, daemons, &mut rng, started).await;
        println!(
            "[{:>7.1}s] {}: {}{}",
            record.at.as_secs_f64(),
            record.kind,
            record.recovery.map_or("NO TICK".to_owned(), |r| format!(
                "ticking again after {:.2} s",
                r.as_secs_f64()
            )),
            if record.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", record.note)
            }
        );
        faults.push(record);
        // A daemon that died on its own would be restarted by the next
        // fault and go unnoticed at the end; look after every fault.
        daemon_trouble.extend(daemons.exited().into_iter().map(|e| {
            format!(
                "daemon {e} exited on its own (noticed {:.1} s into the run)",
                started.elapsed().as_secs_f64()
            )
        }));
    }
    (faults, daemon_trouble)
}

/// Runs a scenario to the end and judges it.
async fn run(s: &Scenario) -> Outcome {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("pgqd-faults-")
        .tempdir()
        .expect("creating a directory for daemon files");
    let register: String = s
        .consumers
        .iter()
        .map(|c| match c.style {
            Style::Coop { sub } => format!(
                "select pgq_coop.register_subconsumer('{QUEUE}', '{}', '{sub}');",
                c.name
            ),
            _ => format!("select pgq.register_consumer('{QUEUE}', '{}');", c.name),
        })
        .collect();
    let extras: Vec<PathBuf> = if s
        .consumers
        .iter()
        .any(|c| matches!(c.style, Style::Coop { .. }))
    {
        vec![PathBuf::from(PGQ_COOP_SQL)]
    } else {
        Vec::new()
    };
    let mut topology = Topology::start(s.rotation_period, &extras, s.engine_patch, &register).await;
    let tracker = s.consumers.iter().find_map(|c| match c.style {
        Style::ExactlyOnce(t) => Some(t),
        _ => None,
    });
    if let Some(tracker) = tracker {
        if tracker == Tracker::PgqExt {
            let primary = Arc::clone(&topology.primary);
            world::blocking(move || primary.psql_file(EXT_DB, Path::new(PGQ_EXT_SQL)))
                .await
                .expect("installing pgq_ext on the target database");
        }
        topology
            .admin(EXT_DB)
            .await
            .batch_execute(tracker.setup_sql())
            .await
            .expect("creating the exactly-once tables");
    }
    if s.standby {
        topology.add_standby().await;
    }

    let mut daemons = Daemons { all: Vec::new() };
    let mut roles = vec![Role::Primary];
    if s.ha {
        roles.push(Role::Primary);
    }
    if s.standby {
        roles.push(Role::Standby);
    }
    for (i, role) in roles.into_iter().enumerate() {
        let mut d = Daemon::new(&format!("d{}", i + 1), role, dir.path());
        let target = match role {
            Role::Primary => topology.primary_endpoint(),
            Role::Standby => Endpoint::of(topology.standby.as_ref().expect("a standby")),
        };
        d.start(&target);
        daemons.all.push(d);
    }
    let first = next_tick_since(
        &topology.primary_endpoint(),
        topology.queue_id,
        SystemTime::now(),
    )
    .await;
    assert!(
        first.is_some(),
        "the daemon never ticked:\n{}",
        daemons.log_tails(20)
    );

    let stop_producers = CancellationToken::new();
    let stop_consumers = CancellationToken::new();
    let draining = Arc::new(AtomicBool::new(false));
    let next_no = Arc::new(AtomicI64::new(1));
    let consumers: Vec<_> = s
        .consumers
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            tokio::spawn(workload::consumer(
                spec.clone(),
                sub_seed(s.seed, 100 + i as u64),
                topology.endpoint(),
                Arc::clone(&draining),
                stop_consumers.clone(),
            ))
        })
        .collect();
    let producers: Vec<_> = (0..s.producers)
        .map(|i| {
            tokio::spawn(workload::producer(
                i,
                sub_seed(s.seed, i as u64),
                topology.endpoint(),
                Arc::clone(&next_no),
                stop_producers.clone(),
            ))
        })
        .collect();

    let (faults, mut daemon_trouble) = inject_faults(s, &mut topology, &mut daemons, started).await;
    // Some calm load after the last fault, then the end of production.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_producers.cancel();
    let mut history = History::default();
    for p in producers {
        history
            .txs
            .extend(p.await.expect("a producer task panicked"));
    }
    draining.store(true, Ordering::Relaxed);
    let drain_error = wait_drained(&topology).await.err();
    stop_consumers.cancel();
    for (c, spec) in consumers.into_iter().zip(&s.consumers) {
        let log = c.await.expect("a consumer task panicked");
        if !matches!(spec.style, Style::Coop { .. }) {
            history.consumers.push(log);
            continue;
        }
        match history.coops.iter_mut().find(|g| g.name == spec.name) {
            Some(group) => group.subs.push(log),
            None => history.coops.push(history::CoopLog {
                name: spec.name.clone(),
                subs: vec![log],
            }),
        }
    }
    if drain_error.is_none() {
        for spec in &s.consumers {
            if matches!(spec.style, Style::ExactlyOnce(_)) {
                let ext = topology.admin(EXT_DB).await;
                history
                    .applied
                    .push(workload::read_applied(&ext, &spec.name).await);
            }
        }
    }
    daemon_trouble.extend(
        daemons
            .exited()
            .into_iter()
            .map(|e| format!("daemon {e} exited on its own")),
    );
    daemon_trouble.extend(daemons.stop_all().await);
    let report = check(&history);
    let logs = format!("{}{}", daemons.log_tails(40), topology.log_tails());
    Outcome {
        history,
        report,
        faults,
        elapsed: started.elapsed(),
        drain_error,
        daemon_trouble,
        logs,
        dir: Some(dir),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The human summary of a run, as RELIABILITY.md quotes it.
fn summary(s: &Scenario, mode: &str, o: &Outcome) -> String {
    let st = &o.report.stats;
    let get = |m: &std::collections::BTreeMap<TxOutcome, usize>, k| m.get(&k).copied().unwrap_or(0);
    let mut out = format!(
        "fault-injection summary: mode {mode}, seed {}, {:.0} s\n",
        s.seed,
        o.elapsed.as_secs_f64()
    );
    out.push_str(&format!(
        "  transactions: {} committed, {} rolled back, {} failed, {} unknown outcome\n",
        get(&st.txs, TxOutcome::Committed),
        get(&st.txs, TxOutcome::RolledBack),
        get(&st.txs, TxOutcome::Failed),
        get(&st.txs, TxOutcome::Unknown),
    ));
    out.push_str(&format!(
        "  events: {} committed, {} rolled back, {} failed, {} unknown ({} of them delivered)\n",
        get(&st.events, TxOutcome::Committed),
        get(&st.events, TxOutcome::RolledBack),
        get(&st.events, TxOutcome::Failed),
        get(&st.events, TxOutcome::Unknown),
        st.unknown_delivered,
    ));
    out.push_str("  deliveries:");
    for (name, n) in &st.delivered {
        out.push_str(&format!(" {name} {n};"));
    }
    out.push('\n');
    out.push_str(&format!(
        "  batches left unfinished: {} (crashes), with unknown finish: {}\n",
        st.finish_not_done, st.finish_unknown
    ));
    out.push_str(&format!(
        "  re-read unfinished batches: {} ({} events, allowed)\n  retries: {} acknowledged, {} came back\n",
        st.redelivered_batches, st.redelivered_events, st.retries_acked, st.retries_returned
    ));
    let subs: Vec<String> = s
        .consumers
        .iter()
        .filter_map(|c| match c.style {
            Style::Coop { sub } => Some(format!("{}.{sub}", c.name)),
            _ => None,
        })
        .collect();
    if !subs.is_empty() {
        out.push_str(&format!(
            "  cooperative sub-consumers (pgq_coop, judged as one consumer): {}; {} batches taken over\n",
            subs.join(", "),
            st.coop_takeovers
        ));
    }
    for spec in &s.consumers {
        if let Style::ExactlyOnce(tracker) = spec.style {
            out.push_str(&format!(
                "  exactly-once consumer {}: batch tracking by {}\n",
                spec.name,
                match tracker {
                    Tracker::PgqExt => "pgq_ext (sql/pgq_ext.sql)",
                    Tracker::Local => "a local table (no sql/pgq_ext.sql yet)",
                }
            ));
        }
    }
    let counts = o.report.counts();
    out.push_str(&format!(
        "  problems: {} (lost {}, duplicates {}, phantoms {}, other {})\n",
        o.report.problems.len(),
        counts.get("lost").unwrap_or(&0),
        counts.get("duplicate").unwrap_or(&0),
        counts.get("phantom").unwrap_or(&0),
        o.report.problems.len()
            - counts.get("lost").unwrap_or(&0)
            - counts.get("duplicate").unwrap_or(&0)
            - counts.get("phantom").unwrap_or(&0),
    ));
    out.push_str("  faults (recovery = first new tick after the fault or after PostgreSQL accepts connections):\n");
    let mut all: Vec<Duration> = Vec::new();
    for kind in FaultKind::ALL {
        let mut times: Vec<Duration> = o
            .faults
            .iter()
            .filter(|f| f.kind == kind)
            .filter_map(|f| f.recovery)
            .collect();
        let n = o.faults.iter().filter(|f| f.kind == kind).count();
        if n == 0 {
            continue;
        }
        times.sort();
        all.extend(&times);
        out.push_str(&format!(
            "    {:<32} {:>4}x  p50 {:>6.2} s  max {:>6.2} s\n",
            kind.to_string(),
            n,
            percentile(&times, 0.5).as_secs_f64(),
            times.last().copied().unwrap_or_default().as_secs_f64()
        ));
    }
    all.sort();
    out.push_str(&format!(
        "    {:<32} {:>4}x  p50 {:>6.2} s  max {:>6.2} s\n",
        "all faults",
        o.faults.len(),
        percentile(&all, 0.5).as_secs_f64(),
        all.last().copied().unwrap_or_default().as_secs_f64()
    ));
    out
}

/// The consumers of the main run.
fn main_consumers() -> Vec<ConsumerSpec> {
    let tracker = if Path::new(PGQ_EXT_SQL).exists() {
        Tracker::PgqExt
    } else {
        Tracker::Local
    };
    [
        ("c_steady", Style::Steady),
        ("c_crashy", Style::Crashy),
        ("c_lagging", Style::Lagging),
        ("c_retry", Style::Retrying),
        ("c_exactly", Style::ExactlyOnce(tracker)),
    ]
    .into_iter()
    .chain(
        Path::new(PGQ_COOP_SQL)
            .exists()
            .then_some(["s1", "s2", "s3"].map(|sub| ("c_coop", Style::Coop { sub })))
            .into_iter()
            .flatten(),
    )
    .map(|(name, style)| ConsumerSpec {
        name: name.into(),
        style,
    })
    .collect()
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text} is not a number")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_event_is_lost_duplicated_or_resurrected() {
    let soak = env_u64("PGQD_SOAK_SECS").map(Duration::from_secs);
    let seed = env_u64("PGQD_FAULT_SEED").unwrap_or_else(|| match soak {
        Some(_) => rand::random::<u32>().into(),
        None => SHORT_SEED,
    });
    let (plan, mode) = match soak {
        Some(d) => (Plan::Soak(d), format!("soak {} s", d.as_secs())),
        None => (Plan::EachOnce, "short".to_owned()),
    };
    println!("fault-injection seed {seed} (PGQD_FAULT_SEED={seed} replays this schedule)");
    let scenario = Scenario {
        seed,
        plan,
        standby: true,
        ha: true,
        producers: 4,
        consumers: main_consumers(),
        rotation_period: "3 seconds",
        engine_patch: None,
    };
    let mut outcome = run(&scenario).await;
    println!("{}", summary(&scenario, &mode, &outcome));
    let failures = outcome.failures();
    if !failures.is_empty() || std::env::var_os("PGQD_FAULT_KEEP_LOGS").is_some() {
        let kept = outcome.keep_logs();
        outcome.logs.push_str(&kept);
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: the run broke PgQ's promises:\n{}\n{}",
        failures.join("\n"),
        outcome.logs
    );
    for kind in FaultKind::ALL {
        assert!(
            outcome.faults.iter().any(|f| f.kind == kind),
            "{kind} was never injected"
        );
    }
}

/// Rotation step 1 that rotates whenever the period is up, ignoring the
/// slowest consumer: the classic way to lose events.
const BROKEN_ROTATION: &str = r#"
create or replace function pgq.maint_rotate_tables_step1(i_queue_name text)
returns integer language plpgsql as $$
declare
    q record;
    v_nr int4;
    v_tbl text;
begin
    select queue_id, queue_ntables, queue_cur_table, queue_data_pfx, queue_switch_step2,
           queue_switch_time, queue_rotation_period
      into q from pgq.queue where queue_name = i_queue_name for update;
    if not found or q.queue_switch_step2 is null
       or not (q.queue_switch_time + q.queue_rotation_period < current_timestamp) then
        return 0;
    end if;
    -- deliberately broken: no look at where the slowest consumer is
    v_nr := (q.queue_cur_table + 1) % q.queue_ntables;
    v_tbl := pgq.quote_fqname(q.queue_data_pfx || '_' || v_nr::text);
    begin
        execute 'lock table ' || v_tbl || ' nowait';
        execute 'truncate ' || v_tbl;
    exception when lock_not_available then
        return 0;
    end;
    update pgq.queue
       set queue_cur_table = v_nr, queue_switch_time = current_timestamp,
           queue_switch_step1 = txid_current(), queue_switch_step2 = null
     where queue_id = q.queue_id;
    return 0;
end;
$$;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_that_ignores_the_slowest_consumer_is_caught() {
    let scenario = Scenario {
        seed: SHORT_SEED,
        plan: Plan::Quiet(Duration::from_secs(10)),
        standby: false,
        ha: false,
        producers: 2,
        consumers: vec![
            ConsumerSpec {
                name: "c_steady".into(),
                style: Style::Steady,
            },
            ConsumerSpec {
                name: "c_behind".into(),
                style: Style::Behind,
            },
        ],
        rotation_period: "1 second",
        engine_patch: Some(BROKEN_ROTATION),
    };
    let outcome = run(&scenario).await;
    println!("{}", summary(&scenario, "broken rotation", &outcome));
    assert!(outcome.drain_error.is_none(), "{:?}", outcome.drain_error);
    let lost = outcome.report.lost_for("c_behind");
    let committed = outcome
        .report
        .stats
        .events
        .get(&TxOutcome::Committed)
        .copied()
        .unwrap_or(0);
    assert!(
        lost > 0,
        "the checker did not notice that rotation threw away events the lagging consumer \
         still needed ({committed} committed events)"
    );
}
