//! What a fault-injection run recorded, and the checker that judges it.
//!
//! Producers record every transaction with its event numbers and outcome;
//! consumers record every batch they read (tick pair, events, whether and
//! how they finished it); the exactly-once consumer's applied rows are read
//! back at the end. [`check`] is a pure function over that record, so it is
//! unit-tested below with hand-made histories, including the failures it
//! must catch.
//!
//! What PgQ promises, and so what the checker demands:
//! - a committed event reaches every consumer; an event whose commit
//!   outcome is unknown reaches each consumer at most once; an event of a
//!   rolled-back or failed transaction reaches nobody;
//! - a consumer's batches form a chain: each starts at the tick where the
//!   last finished batch ended, so tick ids never go backwards;
//! - a batch that was not (or not surely) finished may be served again, and
//!   then it is the same batch with the same events; that redelivery is the
//!   only duplicate allowed;
//! - a retried event comes back to the consumer that retried it, once per
//!   retry, with `ev_retry` one higher, and to nobody else;
//! - the exactly-once consumer applied every committed event exactly once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A producer-assigned event number, carried in `ev_data`.
pub(crate) type EventNo = i64;

/// How a producer transaction ended, as far as the producer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum TxOutcome {
    /// COMMIT returned success: the events must be delivered.
    Committed,
    /// The producer rolled back on purpose.
    RolledBack,
    /// The transaction failed before COMMIT was sent (a deliberate error
    /// half-way, or a lost connection); nothing can have committed.
    Failed,
    /// The connection failed while COMMIT was in flight: the events may or
    /// may not exist, but never twice.
    Unknown,
}

/// One producer transaction.
#[derive(Debug, Clone)]
pub(crate) struct ProducedTx {
    /// Every event number the transaction inserted or meant to insert.
    pub events: Vec<EventNo>,
    /// How it ended.
    pub outcome: TxOutcome,
}

/// How a consumer's attempt to finish a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The transaction with `finish_batch` committed.
    Acked,
    /// The connection failed while that COMMIT was in flight.
    Unknown,
    /// The batch was surely not finished: the consumer crashed (on purpose
    /// or not) before its finishing transaction committed.
    NotDone,
}

/// One event as a consumer received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Delivery {
    /// The event number.
    pub no: EventNo,
    /// `ev_retry`, with NULL as 0.
    pub retry: i32,
}

/// One batch as a consumer read it.
#[derive(Debug, Clone)]
pub(crate) struct BatchRec {
    /// `batch_id` from `next_batch_info`.
    pub batch_id: i64,
    /// The tick the batch starts after.
    pub prev_tick: i64,
    /// The tick the batch ends at.
    pub cur_tick: i64,
    /// The events of `get_batch_events`, in order.
    pub events: Vec<Delivery>,
    /// Events the consumer handed to `pgq.event_retry` in its finishing
    /// transaction (so they took effect exactly when the finish did).
    pub retried: Vec<EventNo>,
    /// How finishing went.
    pub finish: Finish,
}

/// Everything one consumer read, in the order it read it.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerLog {
    /// The consumer's name.
    pub name: String,
    /// Batches in reading order.
    pub batches: Vec<BatchRec>,
}

/// Everything the sub-consumers of one cooperative consumer read.
#[derive(Debug, Clone)]
pub(crate) struct CoopLog {
    /// The main consumer's name.
    pub name: String,
    /// One log per sub-consumer.
    pub subs: Vec<ConsumerLog>,
}

/// What an exactly-once consumer applied on its target database.
#[derive(Debug, Clone)]
pub(crate) struct AppliedLog {
    /// The consumer's name.
    pub name: String,
    /// How often each event number was applied.
    pub counts: HashMap<EventNo, u32>,
}

/// The complete record of a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    /// Every producer transaction.
    pub txs: Vec<ProducedTx>,
    /// Every consumer's batches.
    pub consumers: Vec<ConsumerLog>,
    /// Every cooperative consumer's batches.
    pub coops: Vec<CoopLog>,
    /// Applied rows of the exactly-once consumers.
    pub applied: Vec<AppliedLog>,
}

/// One broken promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A committed event (or an acknowledged retry) never reached the consumer.
    Lost {
        consumer: String,
        no: EventNo,
        retry: i32,
    },
    /// The consumer got the same event (at the same retry level) in more
    /// than one batch.
    Duplicate {
        consumer: String,
        no: EventNo,
        retry: i32,
        times: usize,
    },
    /// A delivered event that was rolled back, failed or never produced.
    Phantom {
        consumer: String,
        no: EventNo,
        outcome: Option<TxOutcome>,
    },
    /// A batch that does not start where the previous finished one ended.
    Chain {
        consumer: String,
        index: usize,
        detail: String,
    },
    /// A batch served again with different contents or a different id.
    ChangedRedelivery {
        consumer: String,
        batch_id: i64,
        detail: String,
    },
    /// A retried event reached a consumer that did not retry it, or came
    /// back more often or at a level nobody asked for.
    Retry {
        consumer: String,
        no: EventNo,
        retry: i32,
        detail: String,
    },
    /// The exactly-once consumer applied an event a wrong number of times.
    Applied {
        consumer: String,
        no: EventNo,
        times: u32,
        outcome: Option<TxOutcome>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Lost {
                consumer,
                no,
                retry,
            } => write!(
                f,
                "{consumer}: event {no} (retry {retry}) was never delivered"
            ),
            Problem::Duplicate {
                consumer,
                no,
                retry,
                times,
            } => write!(
                f,
                "{consumer}: event {no} (retry {retry}) delivered in {times} different batches"
            ),
            Problem::Phantom {
                consumer,
                no,
                outcome,
            } => write!(
                f,
                "{consumer}: event {no} delivered, but its transaction was {}",
                outcome.map_or("never run".to_owned(), |o| format!("{o:?}"))
            ),
            Problem::Chain {
                consumer,
                index,
                detail,
            } => write!(f, "{consumer}: batch #{index}: {detail}"),
            Problem::ChangedRedelivery {
                consumer,
                batch_id,
                detail,
            } => write!(f, "{consumer}: batch {batch_id} served again but {detail}"),
            Problem::Retry {
                consumer,
                no,
                retry,
                detail,
            } => write!(f, "{consumer}: event {no} at retry {retry}: {detail}"),
            Problem::Applied {
                consumer,
                no,
                times,
                outcome,
            } => write!(
                f,
                "{consumer}: event {no} applied {times} times, its transaction was {}",
                outcome.map_or("never run".to_owned(), |o| format!("{o:?}"))
            ),
        }
    }
}

/// Counts that describe a run, for the summary.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    /// Producer events by outcome.
    pub events: BTreeMap<TxOutcome, usize>,
    /// Producer transactions by outcome.
    pub txs: BTreeMap<TxOutcome, usize>,
    /// Unknown-outcome events that were delivered (to the first consumer
    /// that has them), i.e. that did commit.
    pub unknown_delivered: usize,
    /// Batches read again because the consumer had not finished them.
    pub redelivered_batches: usize,
    /// Events in those re-read batches (allowed duplicates).
    pub redelivered_events: usize,
    /// Distinct deliveries per consumer.
    pub delivered: BTreeMap<String, usize>,
    /// Batch reads whose finishing transaction's outcome was unknown.
    pub finish_unknown: usize,
    /// Batch reads left unfinished (a consumer crash, real or simulated).
    pub finish_not_done: usize,
    /// Coop batches read by another sub-consumer than the first reader.
    pub coop_takeovers: usize,
    /// Retries whose finishing transaction was acknowledged.
    pub retries_acked: usize,
    /// Deliveries with `ev_retry` > 0.
    pub retries_returned: usize,
}

/// The checker's verdict.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// Every broken promise, most important kinds first.
    pub problems: Vec<Problem>,
    /// Figures for the summary.
    pub stats: Stats,
}

impl Report {
    /// Lost deliveries for one consumer.
    pub(crate) fn lost_for(&self, consumer: &str) -> usize {
        self.problems
            .iter()
            .filter(|p| matches!(p, Problem::Lost { consumer: c, .. } if c == consumer))
            .count()
    }

    /// Problems by kind, for a one-line verdict.
    pub(crate) fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for p in &self.problems {
            let kind = match p {
                Problem::Lost { .. } => "lost",
                Problem::Duplicate { .. } => "duplicate",
                Problem::Phantom { .. } => "phantom",
                Problem::Chain { .. } => "chain",
                Problem::ChangedRedelivery { .. } => "changed_redelivery",
                Problem::Retry { .. } => "retry",
                Problem::Applied { .. } => "applied",
            };
            *counts.entry(kind).or_insert(0) += 1;
        }
        counts
    }
}

impl Problem {
    /// The event the problem is about, if it is about one.
    pub(crate) fn event(&self) -> Option<EventNo> {
        match self {
            Problem::Lost { no, .. }
            | Problem::Duplicate { no, .. }
            | Problem::Phantom { no, .. }
            | Problem::Retry { no, .. }
            | Problem::Applied { no, .. } => Some(*no),
            Problem::Chain { .. } | Problem::ChangedRedelivery { .. } => None,
        }
    }
}

/// Everything the history says about one event: its transaction and every
/// batch read that contained or retried it, for a failure report.
pub(crate) fn trace(history: &History, no: EventNo) -> String {
    let mut out = format!("event {no}:");
    match history.txs.iter().find(|t| t.events.contains(&no)) {
        Some(t) => out.push_str(&format!(" produced {:?} in {:?}\n", t.outcome, t.events)),
        None => out.push_str(" never produced\n"),
    }
    let coop_logs = history.coops.iter().flat_map(|c| c.subs.iter());
    for log in history.consumers.iter().chain(coop_logs) {
        for (i, b) in log.batches.iter().enumerate() {
            let levels: Vec<i32> = b
                .events
                .iter()
                .filter(|d| d.no == no)
                .map(|d| d.retry)
                .collect();
            let retried = b.retried.contains(&no);
            if !levels.is_empty() || retried {
                out.push_str(&format!(
                    "  {} read #{i}: batch {} ({}..{}], retry levels {levels:?}, retried here: {retried}, finish {:?}\n",
                    log.name, b.batch_id, b.prev_tick, b.cur_tick, b.finish
                ));
            }
        }
    }
    out
}

/// A run of consecutive reads of the same batch, judged as one batch.
/// Only the last read's finishing transaction can have taken effect (the
/// batch would not have been served again otherwise), so its retries and
/// its finish are the ones that count.
struct Logical<'a> {
    first: &'a BatchRec,
    last: &'a BatchRec,
    finish: Finish,
}

/// Judges a recorded run.
pub(crate) fn check(history: &History) -> Report {
    let mut report = Report::default();
    let mut outcome_of: HashMap<EventNo, TxOutcome> = HashMap::new();
    for tx in &history.txs {
        *report.stats.txs.entry(tx.outcome).or_insert(0) += 1;
        *report.stats.events.entry(tx.outcome).or_insert(0) += tx.events.len();
        for &no in &tx.events {
            outcome_of.insert(no, tx.outcome);
        }
    }
    let mut unknown_seen: std::collections::HashSet<EventNo> = Default::default();
    for log in &history.consumers {
        check_consumer(log, &outcome_of, &mut unknown_seen, &mut report);
    }
    for coop in &history.coops {
        check_coop(coop, &outcome_of, &mut unknown_seen, &mut report);
    }
    report.stats.unknown_delivered = unknown_seen.len();
    for applied in &history.applied {
        check_applied(applied, &outcome_of, &mut report);
    }
    // Lost events first: they matter most.
    report
        .problems
        .sort_by_key(|p| !matches!(p, Problem::Lost { .. }));
    report
}

fn check_consumer(
    log: &ConsumerLog,
    outcome_of: &HashMap<EventNo, TxOutcome>,
    unknown_seen: &mut std::collections::HashSet<EventNo>,
    report: &mut Report,
) {
    let consumer = &log.name;
    for b in &log.batches {
        match b.finish {
            Finish::Acked => {}
            Finish::Unknown => report.stats.finish_unknown += 1,
            Finish::NotDone => report.stats.finish_not_done += 1,
        }
    }
    let logical = logical_batches(log, report);

    // The chain: each batch starts where the previous one ended.
    for (i, pair) in logical.windows(2).enumerate() {
        let (a, b) = (pair[0].first, pair[1].first);
        if pair[0].finish == Finish::NotDone {
            report.problems.push(Problem::Chain {
                consumer: consumer.clone(),
                index: i + 1,
                detail: format!(
                    "batch {} ({}..{}] was never finished, yet the next one is ({}..{}]",
                    a.batch_id, a.prev_tick, a.cur_tick, b.prev_tick, b.cur_tick
                ),
            });
        } else if b.prev_tick != a.cur_tick {
            let direction = if b.cur_tick <= a.cur_tick {
                "goes backwards"
            } else {
                "skips ticks"
            };
            report.problems.push(Problem::Chain {
                consumer: consumer.clone(),
                index: i + 1,
                detail: format!(
                    "({}..{}] follows ({}..{}]: {direction}",
                    b.prev_tick, b.cur_tick, a.prev_tick, a.cur_tick
                ),
            });
        }
    }
    for (i, l) in logical.iter().enumerate() {
        if l.first.cur_tick <= l.first.prev_tick {
            report.problems.push(Problem::Chain {
                consumer: consumer.clone(),
                index: i,
                detail: format!(
                    "batch {} ends at tick {} but starts after {}",
                    l.first.batch_id, l.first.cur_tick, l.first.prev_tick
                ),
            });
        }
    }

    // Deliveries, each logical batch counted once.
    let mut seen: HashMap<Delivery, usize> = HashMap::new();
    // Retries asked for, by (event, level it was delivered at), and whether
    // the asking batch's finish was acknowledged.
    let mut asked: HashMap<(EventNo, i32), Vec<Finish>> = HashMap::new();
    for l in &logical {
        let mut in_batch: HashMap<EventNo, i32> = HashMap::new();
        for d in &l.first.events {
            *seen.entry(*d).or_insert(0) += 1;
            in_batch.insert(d.no, d.retry);
        }
        for no in &l.last.retried {
            match in_batch.get(no) {
                Some(&level) if l.finish != Finish::NotDone => {
                    asked.entry((*no, level)).or_default().push(l.finish);
                    if l.finish == Finish::Acked {
                        report.stats.retries_acked += 1;
                    }
                }
                Some(_) => {}
                None => report.problems.push(Problem::Retry {
                    consumer: consumer.clone(),
                    no: *no,
                    retry: -1,
                    detail: format!("retried from batch {} that lacks it", l.first.batch_id),
                }),
            }
        }
    }
    judge_deliveries(consumer, &seen, &asked, outcome_of, unknown_seen, report);
}

/// Judges what one consumer received, each batch counted once: nothing
/// lost, nothing phantom, no duplicate, retries only as asked for.
fn judge_deliveries(
    consumer: &str,
    seen: &HashMap<Delivery, usize>,
    asked: &HashMap<(EventNo, i32), Vec<Finish>>,
    outcome_of: &HashMap<EventNo, TxOutcome>,
    unknown_seen: &mut std::collections::HashSet<EventNo>,
    report: &mut Report,
) {
    report
        .stats
        .delivered
        .insert(consumer.to_owned(), seen.values().sum());

    let mut sorted: Vec<(&Delivery, &usize)> = seen.iter().collect();
    sorted.sort();
    for (d, &times) in sorted {
        let outcome = outcome_of.get(&d.no).copied();
        match outcome {
            Some(TxOutcome::Committed) => {}
            Some(TxOutcome::Unknown) => {
                unknown_seen.insert(d.no);
            }
            other => report.problems.push(Problem::Phantom {
                consumer: consumer.to_owned(),
                no: d.no,
                outcome: other,
            }),
        }
        if d.retry > 0 {
            report.stats.retries_returned += times;
            let requests = asked.get(&(d.no, d.retry - 1)).map_or(0, Vec::len);
            if requests == 0 {
                report.problems.push(Problem::Retry {
                    consumer: consumer.to_owned(),
                    no: d.no,
                    retry: d.retry,
                    detail: "delivered as a retry nobody here asked for".into(),
                });
                continue;
            }
            if times > requests {
                report.problems.push(Problem::Retry {
                    consumer: consumer.to_owned(),
                    no: d.no,
                    retry: d.retry,
                    detail: format!("came back {times} times for {requests} retries"),
                });
            }
        } else if times > 1 {
            report.problems.push(Problem::Duplicate {
                consumer: consumer.to_owned(),
                no: d.no,
                retry: d.retry,
                times,
            });
        }
    }

    // Completeness: committed events, and acknowledged retries.
    let mut missing: Vec<(EventNo, i32)> = outcome_of
        .iter()
        .filter(|(no, o)| {
            **o == TxOutcome::Committed && !seen.contains_key(&Delivery { no: **no, retry: 0 })
        })
        .map(|(no, _)| (*no, 0))
        .collect();
    for (&(no, level), finishes) in asked {
        let acked = finishes.iter().filter(|f| **f == Finish::Acked).count();
        let back = seen
            .get(&Delivery {
                no,
                retry: level + 1,
            })
            .copied()
            .unwrap_or(0);
        if back < acked {
            missing.push((no, level + 1));
        }
    }
    missing.sort_unstable();
    for (no, retry) in missing {
        report.problems.push(Problem::Lost {
            consumer: consumer.to_owned(),
            no,
            retry,
        });
    }
}

/// Judges a cooperative consumer: its sub-consumers' reads together. A
/// batch may be read by several sub-consumers (a crashed one's batch is
/// taken over), but it stays one batch (same id, ticks and events); the
/// batches together form the main consumer's chain of ticks; and no event
/// is in two different batches. A sub-consumer may go back in ticks when it
/// takes over an older batch, so only the chain is ordered.
fn check_coop(
    coop: &CoopLog,
    outcome_of: &HashMap<EventNo, TxOutcome>,
    unknown_seen: &mut std::collections::HashSet<EventNo>,
    report: &mut Report,
) {
    let consumer = &coop.name;
    let mut by_id: BTreeMap<i64, &BatchRec> = BTreeMap::new();
    let mut first_reader: HashMap<i64, &str> = HashMap::new();
    for sub in &coop.subs {
        for b in &sub.batches {
            match b.finish {
                Finish::Acked => {}
                Finish::Unknown => report.stats.finish_unknown += 1,
                Finish::NotDone => report.stats.finish_not_done += 1,
            }
            let Some(first) = by_id.get(&b.batch_id) else {
                by_id.insert(b.batch_id, b);
                first_reader.insert(b.batch_id, &sub.name);
                continue;
            };
            if first_reader.get(&b.batch_id) != Some(&sub.name.as_str()) {
                report.stats.coop_takeovers += 1;
            }
            report.stats.redelivered_batches += 1;
            report.stats.redelivered_events += b.events.len();
            if (first.prev_tick, first.cur_tick) != (b.prev_tick, b.cur_tick)
                || first.events != b.events
            {
                report.problems.push(Problem::ChangedRedelivery {
                    consumer: format!("{consumer} ({})", sub.name),
                    batch_id: b.batch_id,
                    detail: format!(
                        "as ({}..{}] with {} events instead of ({}..{}] with {}",
                        b.prev_tick,
                        b.cur_tick,
                        b.events.len(),
                        first.prev_tick,
                        first.cur_tick,
                        first.events.len()
                    ),
                });
            }
        }
    }
    let mut chain: Vec<&BatchRec> = by_id.values().copied().collect();
    chain.sort_by_key(|b| (b.prev_tick, b.cur_tick));
    for (i, pair) in chain.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        if b.prev_tick != a.cur_tick {
            report.problems.push(Problem::Chain {
                consumer: consumer.clone(),
                index: i + 1,
                detail: format!(
                    "batch {} ({}..{}] follows batch {} ({}..{}]: {}",
                    b.batch_id,
                    b.prev_tick,
                    b.cur_tick,
                    a.batch_id,
                    a.prev_tick,
                    a.cur_tick,
                    if b.prev_tick < a.cur_tick {
                        "overlaps"
                    } else {
                        "ticks in between were never read"
                    }
                ),
            });
        }
    }
    let mut seen: HashMap<Delivery, usize> = HashMap::new();
    for b in &chain {
        for d in &b.events {
            *seen.entry(*d).or_insert(0) += 1;
        }
    }
    judge_deliveries(
        consumer,
        &seen,
        &HashMap::new(),
        outcome_of,
        unknown_seen,
        report,
    );
}

/// Folds repeated reads of one batch into one, checking that a batch
/// served again is really the same batch and was not finished before.
fn logical_batches<'a>(log: &'a ConsumerLog, report: &mut Report) -> Vec<Logical<'a>> {
    let mut out: Vec<Logical<'a>> = Vec::new();
    for b in &log.batches {
        if let Some(last) = out.last_mut() {
            let same = last.first.prev_tick == b.prev_tick && last.first.cur_tick == b.cur_tick;
            if same && last.finish != Finish::Acked {
                report.stats.redelivered_batches += 1;
                report.stats.redelivered_events += b.events.len();
                if b.batch_id != last.first.batch_id {
                    report.problems.push(Problem::ChangedRedelivery {
                        consumer: log.name.clone(),
                        batch_id: last.first.batch_id,
                        detail: format!("under a new id {}", b.batch_id),
                    });
                }
                if b.events != last.first.events {
                    report.problems.push(Problem::ChangedRedelivery {
                        consumer: log.name.clone(),
                        batch_id: b.batch_id,
                        detail: format!(
                            "with {} events instead of {}",
                            b.events.len(),
                            last.first.events.len()
                        ),
                    });
                }
                last.finish = b.finish;
                last.last = b;
                continue;
            }
        }
        out.push(Logical {
            first: b,
            last: b,
            finish: b.finish,
        });
    }
    out
}

fn check_applied(
    applied: &AppliedLog,
    outcome_of: &HashMap<EventNo, TxOutcome>,
    report: &mut Report,
) {
    let mut bad: Vec<(EventNo, u32, Option<TxOutcome>)> = Vec::new();
    for (&no, &outcome) in outcome_of {
        let times = applied.counts.get(&no).copied().unwrap_or(0);
        let ok = match outcome {
            TxOutcome::Committed => times == 1,
            TxOutcome::Unknown => times <= 1,
            TxOutcome::RolledBack | TxOutcome::Failed => times == 0,
        };
        if !ok {
            bad.push((no, times, Some(outcome)));
        }
    }
    for (&no, &times) in &applied.counts {
        if !outcome_of.contains_key(&no) {
            bad.push((no, times, None));
        }
    }
    bad.sort_unstable();
    for (no, times, outcome) in bad {
        report.problems.push(Problem::Applied {
            consumer: applied.name.clone(),
            no,
            times,
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(events: &[EventNo], outcome: TxOutcome) -> ProducedTx {
        ProducedTx {
            events: events.to_vec(),
            outcome,
        }
    }

    fn batch(id: i64, prev: i64, cur: i64, events: &[EventNo], finish: Finish) -> BatchRec {
        BatchRec {
            batch_id: id,
            prev_tick: prev,
            cur_tick: cur,
            events: events.iter().map(|&no| Delivery { no, retry: 0 }).collect(),
            retried: Vec::new(),
            finish,
        }
    }

    fn history(txs: Vec<ProducedTx>, batches: Vec<BatchRec>) -> History {
        History {
            txs,
            consumers: vec![ConsumerLog {
                name: "c".into(),
                batches,
            }],
            ..History::default()
        }
    }

    fn kinds(report: &Report) -> Vec<&'static str> {
        report.counts().into_keys().collect()
    }

    #[test]
    fn a_clean_history_passes() {
        let h = history(
            vec![
                tx(&[1, 2], TxOutcome::Committed),
                tx(&[3], TxOutcome::RolledBack),
                tx(&[4], TxOutcome::Failed),
                tx(&[5], TxOutcome::Unknown),
                tx(&[6], TxOutcome::Unknown),
            ],
            vec![
                batch(10, 1, 2, &[1], Finish::Acked),
                batch(11, 2, 3, &[2, 5], Finish::Acked),
                batch(12, 3, 4, &[], Finish::Acked),
            ],
        );
        let report = check(&h);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.stats.unknown_delivered, 1);
        assert_eq!(report.stats.delivered["c"], 3);
    }

    #[test]
    fn a_missing_committed_event_is_lost() {
        let h = history(
            vec![tx(&[1, 2], TxOutcome::Committed)],
            vec![batch(10, 1, 2, &[1], Finish::Acked)],
        );
        let report = check(&h);
        assert_eq!(report.lost_for("c"), 1);
        assert_eq!(
            report.problems[0],
            Problem::Lost {
                consumer: "c".into(),
                no: 2,
                retry: 0
            }
        );
    }

    #[test]
    fn rolled_back_failed_and_unproduced_events_are_phantoms() {
        let h = history(
            vec![tx(&[1], TxOutcome::RolledBack), tx(&[2], TxOutcome::Failed)],
            vec![batch(10, 1, 2, &[1, 2, 3], Finish::Acked)],
        );
        let report = check(&h);
        assert_eq!(report.problems.len(), 3, "{:?}", report.problems);
        assert_eq!(kinds(&report), ["phantom"]);
    }

    #[test]
    fn rereading_an_unfinished_batch_is_allowed() {
        let h = history(
            vec![tx(&[1, 2], TxOutcome::Committed)],
            vec![
                batch(10, 1, 2, &[1, 2], Finish::NotDone),
                batch(10, 1, 2, &[1, 2], Finish::Unknown),
                batch(10, 1, 2, &[1, 2], Finish::Acked),
                batch(11, 2, 3, &[], Finish::Acked),
            ],
        );
        let report = check(&h);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.stats.redelivered_batches, 2);
    }

    #[test]
    fn an_unknown_finish_may_have_taken_effect() {
        let h = history(
            vec![tx(&[1, 2], TxOutcome::Committed)],
            vec![
                batch(10, 1, 2, &[1], Finish::Unknown),
                batch(11, 2, 3, &[2], Finish::Acked),
            ],
        );
        assert!(check(&h).problems.is_empty());
    }

    #[test]
    fn a_finished_batch_served_again_is_a_duplicate() {
        let h = history(
            vec![tx(&[1], TxOutcome::Committed)],
            vec![
                batch(10, 1, 2, &[1], Finish::Acked),
                batch(11, 1, 2, &[1], Finish::Acked),
            ],
        );
        let report = check(&h);
        assert_eq!(kinds(&report), ["chain", "duplicate"]);
    }

    #[test]
    fn an_event_in_two_batches_is_a_duplicate() {
        let h = history(
            vec![tx(&[1], TxOutcome::Unknown)],
            vec![
                batch(10, 1, 2, &[1], Finish::Acked),
                batch(11, 2, 3, &[1], Finish::Acked),
            ],
        );
        assert_eq!(kinds(&check(&h)), ["duplicate"]);
    }

    #[test]
    fn a_redelivered_batch_must_not_change() {
        let h = history(
            vec![tx(&[1, 2], TxOutcome::Committed)],
            vec![
                batch(10, 1, 2, &[1, 2], Finish::NotDone),
                batch(12, 1, 2, &[1], Finish::Acked),
            ],
        );
        let report = check(&h);
        assert_eq!(report.counts()["changed_redelivery"], 2);
    }

    #[test]
    fn ticks_going_backwards_or_skipping_break_the_chain() {
        let h = history(
            vec![tx(&[1], TxOutcome::Committed)],
            vec![
                batch(10, 1, 3, &[1], Finish::Acked),
                batch(11, 2, 3, &[], Finish::Acked),
                batch(12, 5, 6, &[], Finish::Acked),
            ],
        );
        let report = check(&h);
        assert_eq!(report.counts()["chain"], 2, "{:?}", report.problems);
    }

    #[test]
    fn moving_on_from_an_unfinished_batch_breaks_the_chain() {
        let h = history(
            vec![tx(&[1], TxOutcome::Committed)],
            vec![
                batch(10, 1, 2, &[1], Finish::NotDone),
                batch(11, 2, 3, &[], Finish::Acked),
            ],
        );
        assert_eq!(kinds(&check(&h)), ["chain"]);
    }

    fn retry_history(returned: &[(i64, i64, i32)], finish: Finish) -> History {
        let mut first = batch(10, 1, 2, &[1, 2], finish);
        first.retried = vec![1];
        let mut batches = vec![first];
        for &(id, no, retry) in returned {
            let mut b = batch(id, id - 9, id - 8, &[], Finish::Acked);
            b.events = vec![Delivery { no, retry }];
            batches.push(b);
        }
        history(vec![tx(&[1, 2], TxOutcome::Committed)], batches)
    }

    #[test]
    fn an_acknowledged_retry_comes_back_once_one_level_up() {
        let report = check(&retry_history(&[(11, 1, 1)], Finish::Acked));
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.stats.retries_returned, 1);

        let report = check(&retry_history(&[], Finish::Acked));
        assert_eq!(
            report.problems,
            [Problem::Lost {
                consumer: "c".into(),
                no: 1,
                retry: 1
            }]
        );

        let report = check(&retry_history(&[(11, 1, 1), (12, 1, 1)], Finish::Acked));
        assert_eq!(kinds(&report), ["retry"]);

        let report = check(&retry_history(&[(11, 1, 2)], Finish::Acked));
        assert_eq!(kinds(&report), ["lost", "retry"]);
    }

    #[test]
    fn only_the_retries_of_the_finish_that_took_effect_count() {
        // The first read retried event 1 but was not finished; the batch
        // came again and the second read retried event 2 instead.
        let mut first = batch(10, 1, 2, &[1, 2], Finish::NotDone);
        first.retried = vec![1];
        let mut again = batch(10, 1, 2, &[1, 2], Finish::Acked);
        again.retried = vec![2];
        let mut back = batch(11, 2, 3, &[], Finish::Acked);
        back.events = vec![Delivery { no: 2, retry: 1 }];
        let h = history(
            vec![tx(&[1, 2], TxOutcome::Committed)],
            vec![first, again, back],
        );
        let report = check(&h);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn an_unknown_retry_may_come_back_at_most_once() {
        assert!(
            check(&retry_history(&[], Finish::Unknown))
                .problems
                .is_empty()
        );
        assert!(
            check(&retry_history(&[(11, 1, 1)], Finish::Unknown))
                .problems
                .is_empty()
        );
    }

    #[test]
    fn a_retried_event_at_a_stranger_is_caught() {
        let mut h = history(
            vec![tx(&[1], TxOutcome::Committed)],
            vec![batch(10, 1, 2, &[1], Finish::Acked)],
        );
        h.consumers[0].batches[0]
            .events
            .push(Delivery { no: 1, retry: 1 });
        assert_eq!(kinds(&check(&h)), ["retry"]);
    }

    fn coop(subs: Vec<Vec<BatchRec>>) -> History {
        History {
            txs: vec![tx(&[1, 2, 3], TxOutcome::Committed)],
            coops: vec![CoopLog {
                name: "cc".into(),
                subs: subs
                    .into_iter()
                    .enumerate()
                    .map(|(i, batches)| ConsumerLog {
                        name: format!("cc.s{i}"),
                        batches,
                    })
                    .collect(),
            }],
            ..History::default()
        }
    }

    #[test]
    fn coop_batches_may_be_taken_over() {
        // s0 read batch 10 and died; s1 read 11, then took 10 over.
        let h = coop(vec![
            vec![batch(10, 1, 2, &[1], Finish::NotDone)],
            vec![
                batch(11, 2, 3, &[2, 3], Finish::Acked),
                batch(10, 1, 2, &[1], Finish::Acked),
            ],
        ]);
        let report = check(&h);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.stats.redelivered_batches, 1);
        assert_eq!(report.stats.coop_takeovers, 1);
        assert_eq!(report.stats.delivered["cc"], 3);
    }

    #[test]
    fn coop_gaps_overlaps_and_duplicates_are_caught() {
        let gap = coop(vec![
            vec![batch(10, 1, 2, &[1, 2], Finish::Acked)],
            vec![batch(12, 3, 4, &[3], Finish::Acked)],
        ]);
        assert_eq!(kinds(&check(&gap)), ["chain"]);

        let twice = coop(vec![
            vec![batch(10, 1, 2, &[1, 2], Finish::Acked)],
            vec![batch(11, 2, 3, &[2, 3], Finish::Acked)],
        ]);
        assert_eq!(kinds(&check(&twice)), ["duplicate"]);

        let lost = coop(vec![vec![batch(10, 1, 2, &[1, 2], Finish::Acked)]]);
        assert_eq!(check(&lost).lost_for("cc"), 1);

        let changed = coop(vec![
            vec![batch(10, 1, 2, &[1, 2, 3], Finish::NotDone)],
            vec![batch(10, 1, 2, &[1, 2], Finish::Acked)],
        ]);
        assert_eq!(kinds(&check(&changed)), ["changed_redelivery"]);
    }

    #[test]
    fn exactly_once_means_once() {
        let mut h = history(
            vec![
                tx(&[1], TxOutcome::Committed),
                tx(&[2], TxOutcome::Committed),
                tx(&[3], TxOutcome::Unknown),
                tx(&[4], TxOutcome::RolledBack),
            ],
            vec![batch(10, 1, 2, &[1, 2], Finish::Acked)],
        );
        h.applied.push(AppliedLog {
            name: "x".into(),
            counts: HashMap::from([(1, 1), (2, 1)]),
        });
        assert!(check(&h).problems.is_empty());
        h.applied[0].counts = HashMap::from([(1, 2), (3, 1), (4, 1)]);
        let report = check(&h);
        let applied: Vec<(EventNo, u32)> = report
            .problems
            .iter()
            .filter_map(|p| match p {
                Problem::Applied { no, times, .. } => Some((*no, *times)),
                _ => None,
            })
            .collect();
        assert_eq!(applied, [(1, 2), (2, 0), (4, 1)]);
    }
}
