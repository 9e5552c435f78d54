//! Producers and consumers: tokio tasks that talk PgQ over their own
//! connections, survive every fault by reconnecting to the current
//! primary, and record exactly what they did and saw.
//!
//! Every state change a consumer makes (`next_batch`, and `event_retry`
//! plus `finish_batch`) runs in an explicit transaction: in autocommit over
//! the extended protocol the client hears "done" before the commit (which
//! may wait for the synchronous standby), and a crash in between would
//! turn a finish the consumer believes in into a false duplicate.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::history::{
    AppliedLog, BatchRec, ConsumerLog, Delivery, EventNo, Finish, ProducedTx, TxOutcome,
};
use super::world::{DB, EXT_DB, Endpoint, QUEUE, STEP_TIMEOUT};

/// Runs one client step with a deadline; any failure is a string.
async fn step<T>(fut: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Sleeps, waking early when `stop` fires.
async fn pause(stop: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

/// Returns the connection, opening one to the current primary if needed.
async fn ensure<'a>(
    slot: &'a mut Option<Client>,
    endpoint: &watch::Receiver<Endpoint>,
    db: &str,
    app: &str,
) -> Option<&'a mut Client> {
    if slot.as_ref().is_some_and(Client::is_closed) {
        *slot = None;
    }
    if slot.is_none() {
        let target = endpoint.borrow().clone();
        *slot = target.connect(db, app).await.ok();
    }
    slot.as_mut()
}

/// What a producer transaction will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    /// Insert and commit.
    Commit,
    /// Insert everything with one `insert_event_bulk`, then commit.
    Bulk,
    /// Insert and roll back.
    Rollback,
    /// Insert half, then raise an error inside the transaction.
    FailHalfway,
    /// Stay open for seconds, across ticks and rotations, then commit.
    LongOpen,
}

fn draw_kind(rng: &mut StdRng) -> TxKind {
    match rng.random_range(0..100) {
        0..66 => TxKind::Commit,
        66..78 => TxKind::Bulk,
        78..88 => TxKind::Rollback,
        88..98 => TxKind::FailHalfway,
        _ => TxKind::LongOpen,
    }
}

/// A producer: inserts uniquely numbered events in transactions of random
/// size and fate until `stop`, and returns what it did.
pub(crate) async fn producer(
    id: usize,
    seed: u64,
    endpoint: watch::Receiver<Endpoint>,
    next_no: Arc<AtomicI64>,
    stop: CancellationToken,
) -> Vec<ProducedTx> {
    let mut rng = StdRng::seed_from_u64(seed);
    let app = format!("fault-producer-{id}");
    let ev_type = format!("p{id}");
    let mut slot: Option<Client> = None;
    let mut txs = Vec::new();
    while !stop.is_cancelled() {
        let Some(client) = ensure(&mut slot, &endpoint, DB, &app).await else {
            pause(&stop, Duration::from_millis(100)).await;
            continue;
        };
        let kind = draw_kind(&mut rng);
        let size = rng.random_range(1..=12usize);
        let numbers: Vec<EventNo> = (0..size)
            .map(|_| next_no.fetch_add(1, Ordering::Relaxed))
            .collect();
        let long_for = Duration::from_millis(rng.random_range(2000..6000));
        let (outcome, broken) = run_tx(client, kind, &ev_type, &numbers, long_for).await;
        txs.push(ProducedTx {
            events: numbers,
            outcome,
        });
        if broken {
            slot = None;
        }
        pause(&stop, Duration::from_millis(rng.random_range(10..60))).await;
    }
    txs
}

/// Runs one producer transaction; returns its outcome and whether the
/// connection is unusable afterwards.
async fn run_tx(
    client: &mut Client,
    kind: TxKind,
    ev_type: &str,
    numbers: &[EventNo],
    long_for: Duration,
) -> (TxOutcome, bool) {
    let Ok(tx) = step(client.transaction()).await else {
        return (TxOutcome::Failed, true);
    };
    let datas: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    if kind == TxKind::Bulk {
        let inserted = step(tx.query_one(
            "select pgq.insert_event_bulk($1, array[$2::text], $3::text[])",
            &[&QUEUE, &ev_type, &datas],
        ))
        .await;
        if inserted.is_err() {
            return (TxOutcome::Failed, true);
        }
    } else {
        let half = numbers.len() / 2;
        for (i, data) in datas.iter().enumerate() {
            if kind == TxKind::FailHalfway && i == half {
                let raised = tx
                    .batch_execute("do $$ begin raise exception 'deliberate failure'; end $$")
                    .await;
                assert!(raised.is_err(), "the deliberate failure did not fail");
                let _ = tx.rollback().await;
                return (TxOutcome::Failed, false);
            }
            if kind == TxKind::LongOpen {
                tokio::time::sleep(long_for / numbers.len() as u32).await;
            }
            let inserted = step(tx.query_one(
                "select pgq.insert_event($1, $2, $3)",
                &[&QUEUE, &ev_type, data],
            ))
            .await;
            if inserted.is_err() {
                return (TxOutcome::Failed, true);
            }
        }
    }
    if kind == TxKind::Rollback {
        // Whatever the reply, a transaction without COMMIT did not commit.
        let broken = step(tx.rollback()).await.is_err();
        return (TxOutcome::RolledBack, broken);
    }
    match step(tx.commit()).await {
        Ok(()) => (TxOutcome::Committed, false),
        Err(_) => (TxOutcome::Unknown, true),
    }
}

/// How the exactly-once consumer remembers finished batches on its target
/// database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tracker {
    /// `pgq_ext.is_batch_done` / `set_batch_done` (from `sql/pgq_ext.sql`).
    PgqExt,
    /// A one-table stand-in with the same semantics, used while the
    /// project has no `pgq_ext` yet.
    Local,
}

impl Tracker {
    fn is_done_sql(self) -> &'static str {
        match self {
            Tracker::PgqExt => "select pgq_ext.is_batch_done($1, $2)",
            Tracker::Local => {
                "select coalesce((select last_batch_id = $2 from fault_completed_batch
                                   where consumer_id = $1), false)"
            }
        }
    }

    fn set_done_sql(self) -> &'static str {
        match self {
            Tracker::PgqExt => "select pgq_ext.set_batch_done($1, $2)",
            Tracker::Local => {
                "insert into fault_completed_batch (consumer_id, last_batch_id) values ($1, $2)
                 on conflict (consumer_id) do update set last_batch_id = excluded.last_batch_id
                 returning true"
            }
        }
    }

    /// Schema the target database needs (besides `pgq_ext` itself).
    pub(crate) fn setup_sql(self) -> &'static str {
        match self {
            Tracker::PgqExt => {
                "create table fault_applied (no bigint not null, batch_id bigint not null)"
            }
            Tracker::Local => {
                "create table fault_applied (no bigint not null, batch_id bigint not null);
                 create table fault_completed_batch (consumer_id text primary key,
                                                     last_batch_id bigint not null)"
            }
        }
    }
}

/// How a consumer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Reads and finishes every batch promptly.
    Steady,
    /// Like steady, but now and then "crashes" after reading a batch:
    /// drops its connection without finishing, so the batch comes again.
    Crashy,
    /// Stays seconds behind (min lag, big batches, pauses), so rotation
    /// has to wait for it.
    Lagging,
    /// Retries a share of its events with `pgq.event_retry(batch, id, 0)`.
    Retrying,
    /// Applies events on a second database exactly once, tracking batches
    /// there; crashes now and then between applying and finishing.
    ExactlyOnce(Tracker),
    /// Reads nothing until the run drains (for the broken-engine test).
    Behind,
    /// One sub-consumer of a cooperative consumer (`pgq_coop`); now and
    /// then it "dies" with a batch for longer than the dead interval, so
    /// another sub-consumer takes the batch over.
    Coop {
        /// The sub-consumer's name.
        sub: &'static str,
    },
}

/// How long a silent coop sub-consumer keeps its batch before another
/// may take it over.
const COOP_DEAD_INTERVAL: &str = "3 seconds";

/// A consumer to run.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerSpec {
    /// Its registered name.
    pub name: String,
    /// Its behaviour.
    pub style: Style,
}

/// One event as read, with the id `event_retry` needs.
struct ReadEvent {
    ev_id: i64,
    delivery: Delivery,
}

/// A consumer: reads batches until `stop` and returns what it read. While
/// `draining` is set it reads as fast as it can and no longer crashes,
/// lags or retries, so the run can finish.
pub(crate) async fn consumer(
    spec: ConsumerSpec,
    seed: u64,
    endpoint: watch::Receiver<Endpoint>,
    draining: Arc<AtomicBool>,
    stop: CancellationToken,
) -> ConsumerLog {
    let mut rng = StdRng::seed_from_u64(seed);
    let app = format!("fault-consumer-{}", spec.name);
    let mut slot: Option<Client> = None;
    let mut ext_slot: Option<Client> = None;
    let mut log = ConsumerLog {
        name: match spec.style {
            Style::Coop { sub } => format!("{}.{sub}", spec.name),
            _ => spec.name.clone(),
        },
        batches: Vec::new(),
    };
    while !stop.is_cancelled() {
        let drain = draining.load(Ordering::Relaxed);
        if spec.style == Style::Behind && !drain {
            pause(&stop, Duration::from_millis(100)).await;
            continue;
        }
        let Some(client) = ensure(&mut slot, &endpoint, DB, &app).await else {
            pause(&stop, Duration::from_millis(100)).await;
            continue;
        };
        let lagging = spec.style == Style::Lagging && !drain;
        let opened = match spec.style {
            Style::Coop { sub } => open_coop_batch(client, &spec.name, sub).await,
            _ => open_batch(client, &spec.name, lagging).await,
        };
        let (batch_id, prev_tick, cur_tick) = match opened {
            Ok(Some(b)) => b,
            Ok(None) => {
                let idle = if drain { 30 } else { rng.random_range(50..150) };
                pause(&stop, Duration::from_millis(idle)).await;
                continue;
            }
            Err(_) => {
                slot = None;
                pause(&stop, Duration::from_millis(100)).await;
                continue;
            }
        };
        let events = match read_events(client, batch_id).await {
            Ok(events) => events,
            Err(_) => {
                slot = None;
                continue;
            }
        };
        let mut rec = BatchRec {
            batch_id,
            prev_tick,
            cur_tick,
            events: events.iter().map(|e| e.delivery).collect(),
            retried: Vec::new(),
            finish: Finish::NotDone,
        };
        let mut retry_ids = Vec::new();
        match spec.style {
            Style::Crashy if !drain && rng.random_bool(0.15) => {
                log.batches.push(rec);
                slot = None;
                continue;
            }
            Style::Coop { .. } if !drain && rng.random_bool(0.1) => {
                log.batches.push(rec);
                slot = None;
                pause(&stop, Duration::from_secs(4)).await;
                continue;
            }
            Style::Retrying if !drain => {
                for e in &events {
                    let p = match e.delivery.retry {
                        0 => 0.1,
                        1 => 0.25,
                        _ => 0.0,
                    };
                    if rng.random_bool(p) {
                        rec.retried.push(e.delivery.no);
                        retry_ids.push(e.ev_id);
                    }
                }
            }
            Style::ExactlyOnce(tracker) => {
                let applied = match ensure(&mut ext_slot, &endpoint, EXT_DB, &app).await {
                    Some(ext) => apply(ext, tracker, &spec.name, batch_id, &events).await,
                    None => Err("no connection to the target database".into()),
                };
                if applied.is_err() {
                    ext_slot = None;
                    slot = None;
                    log.batches.push(rec);
                    continue;
                }
                if !drain && rng.random_bool(0.1) {
                    log.batches.push(rec);
                    slot = None;
                    continue;
                }
            }
            _ => {}
        }
        rec.finish = match spec.style {
            Style::Coop { .. } => finish_coop(client, batch_id).await,
            _ => finish(client, batch_id, &retry_ids).await,
        };
        if rec.finish != Finish::Acked {
            slot = None;
        }
        log.batches.push(rec);
        if lagging {
            pause(&stop, Duration::from_millis(rng.random_range(1000..3000))).await;
        }
    }
    log
}

/// Opens (or re-opens) the consumer's batch; `None` when there is none.
async fn open_batch(
    client: &mut Client,
    consumer: &str,
    lagging: bool,
) -> Result<Option<(i64, i64, i64)>, String> {
    let sql = if lagging {
        "select batch_id, prev_tick_id, cur_tick_id
           from pgq.next_batch_custom($1, $2, interval '5 seconds', null, interval '4 seconds')"
    } else {
        "select batch_id, prev_tick_id, cur_tick_id from pgq.next_batch_info($1, $2)"
    };
    let tx = step(client.transaction()).await?;
    let row = step(tx.query_one(sql, &[&QUEUE, &consumer])).await?;
    step(tx.commit()).await?;
    let batch: Option<i64> = row.get(0);
    Ok(batch.map(|b| (b, row.get(1), row.get(2))))
}

/// Opens (or re-opens, or takes over) a coop sub-consumer's batch.
async fn open_coop_batch(
    client: &mut Client,
    consumer: &str,
    sub: &str,
) -> Result<Option<(i64, i64, i64)>, String> {
    let tx = step(client.transaction()).await?;
    let row = step(tx.query_one(
        &format!(
            "select pgq_coop.next_batch_custom($1, $2, $3, null, null, null,
                                               interval '{COOP_DEAD_INTERVAL}')"
        ),
        &[&QUEUE, &consumer, &sub],
    ))
    .await?;
    let batch: Option<i64> = row.get(0);
    let opened = match batch {
        Some(b) => {
            let ticks = step(tx.query_one(
                "select prev_tick_id, tick_id from pgq.get_batch_info($1)",
                &[&b],
            ))
            .await?;
            Some((b, ticks.get(0), ticks.get(1)))
        }
        None => None,
    };
    step(tx.commit()).await?;
    Ok(opened)
}

async fn read_events(client: &Client, batch_id: i64) -> Result<Vec<ReadEvent>, String> {
    let rows = step(client.query(
        "select ev_id, ev_retry, ev_data from pgq.get_batch_events($1)",
        &[&batch_id],
    ))
    .await?;
    rows.iter()
        .map(|row| {
            let data: Option<String> = row.get(2);
            let no = data
                .as_deref()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| format!("event with unexpected data {data:?}"))?;
            Ok(ReadEvent {
                ev_id: row.get(0),
                delivery: Delivery {
                    no,
                    retry: row.get::<_, Option<i32>>(1).unwrap_or(0),
                },
            })
        })
        .collect()
}

/// Retries `retry_ids` and finishes the batch in one transaction.
async fn finish(client: &mut Client, batch_id: i64, retry_ids: &[i64]) -> Finish {
    let Ok(tx) = step(client.transaction()).await else {
        return Finish::NotDone;
    };
    for id in retry_ids {
        if step(tx.query_one(
            "select pgq.event_retry($1::int8, $2::int8, 0)",
            &[&batch_id, id],
        ))
        .await
        .is_err()
        {
            return Finish::NotDone;
        }
    }
    match step(tx.query_one("select pgq.finish_batch($1)", &[&batch_id])).await {
        Ok(row) => {
            let found: i32 = row.get(0);
            assert_eq!(
                found, 1,
                "finish_batch({batch_id}) did not find the open batch"
            );
        }
        Err(_) => return Finish::NotDone,
    }
    match step(tx.commit()).await {
        Ok(()) => Finish::Acked,
        Err(_) => Finish::Unknown,
    }
}

/// Finishes a coop sub-consumer's batch. Finding it already finished is
/// fine: after a takeover, the slow original may finish it first.
async fn finish_coop(client: &mut Client, batch_id: i64) -> Finish {
    let Ok(tx) = step(client.transaction()).await else {
        return Finish::NotDone;
    };
    if step(tx.query_one("select pgq_coop.finish_batch($1)", &[&batch_id]))
        .await
        .is_err()
    {
        return Finish::NotDone;
    }
    match step(tx.commit()).await {
        Ok(()) => Finish::Acked,
        Err(_) => Finish::Unknown,
    }
}

/// Applies a batch on the target database unless it is already done there.
async fn apply(
    ext: &mut Client,
    tracker: Tracker,
    consumer: &str,
    batch_id: i64,
    events: &[ReadEvent],
) -> Result<(), String> {
    let tx = step(ext.transaction()).await?;
    let done: bool = step(tx.query_one(tracker.is_done_sql(), &[&consumer, &batch_id]))
        .await?
        .get(0);
    if !done {
        let numbers: Vec<i64> = events.iter().map(|e| e.delivery.no).collect();
        step(tx.execute(
            "insert into fault_applied (no, batch_id) select unnest($1::int8[]), $2",
            &[&numbers, &batch_id],
        ))
        .await?;
        step(tx.query_one(tracker.set_done_sql(), &[&consumer, &batch_id])).await?;
    }
    step(tx.commit()).await
}

/// Reads back what the exactly-once consumer applied.
pub(crate) async fn read_applied(ext: &Client, consumer: &str) -> AppliedLog {
    let rows = ext
        .query(
            "select no, count(*)::int8 from fault_applied group by no",
            &[],
        )
        .await
        .expect("reading the applied events");
    let counts: HashMap<EventNo, u32> = rows
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1) as u32))
        .collect();
    AppliedLog {
        name: consumer.to_owned(),
        counts,
    }
}
