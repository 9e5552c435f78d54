//! Queue and consumer health as the daemon sees it between scrapes: the
//! latest figures of every database, when they were read, which consumers
//! look stuck, and the pure rules that judge a queue's ticking.
//!
//! Workers refresh their database's figures in one statement per
//! `refresh_period`, and only while someone reads them (a scrape since the
//! last refresh), so an unobserved daemon costs the cluster nothing extra.
//! Scrapes, `/health` and `pgqd status` read the snapshots here and never
//! query PostgreSQL themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{ConsumerStats, DbStats, QueueStats};

/// One database's latest figures.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When the figures were read.
    pub taken: SystemTime,
    /// The figures.
    pub stats: DbStats,
    /// `(queue, consumer)` pairs judged stuck at that moment.
    pub stuck: BTreeSet<(String, String)>,
}

/// The latest snapshot of every database that has one, and the demand for
/// fresh ones.
#[derive(Debug, Default)]
pub struct Monitor {
    snapshots: RwLock<BTreeMap<String, Arc<Snapshot>>>,
    reads: AtomicU64,
}

impl Monitor {
    /// Stores a database's new snapshot.
    pub fn publish(&self, database: &str, snapshot: Snapshot) {
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(database.to_owned(), Arc::new(snapshot));
    }

    /// Forgets a database's figures (released, or no longer ticked here),
    /// so that its series disappear instead of going stale.
    pub fn forget(&self, database: &str) {
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(database);
    }

    /// Every database's latest snapshot; counts as a read.
    pub fn read(&self) -> BTreeMap<String, Arc<Snapshot>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.snapshots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many reads have happened; a worker refreshes only when this
    /// moved since its last refresh.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// How many seconds a queue's due tick is late, by the queue's own policy:
/// a queue with `ticker_max_count` events pending is due at once, one with
/// any pending events after `ticker_max_lag`, an idle one after
/// `ticker_idle_period`. `None` for queues this daemon does not tick
/// (paused, or ticked externally).
pub fn tick_overdue(queue: &QueueStats) -> Option<f64> {
    if queue.paused || queue.external_ticker {
        return None;
    }
    let allowed = if queue.ev_new > 0 && queue.ev_new >= queue.max_count {
        0.0
    } else if queue.ev_new > 0 {
        queue.max_lag
    } else {
        queue.idle_period
    };
    Some((queue.ticker_lag - allowed).max(0.0))
}

/// Remembers, per consumer, since when its position has not moved, to tell
/// a stuck consumer (position frozen and not seen, while its queue keeps
/// ticking) from an idle or a merely slow one.
#[derive(Debug, Default)]
pub struct StuckTracker {
    frozen: BTreeMap<(String, String), Frozen>,
}

#[derive(Debug, Clone, Copy)]
struct Frozen {
    at_tick: Option<i64>,
    since: Instant,
    queue_tick_then: Option<i64>,
}

impl StuckTracker {
    /// Updates with fresh figures taken at `now`; returns the consumers
    /// whose position has stayed put for at least `after` while their queue
    /// ticked on, and who have not finished a batch for as long.
    pub fn update(
        &mut self,
        stats: &DbStats,
        now: Instant,
        after: Duration,
    ) -> BTreeSet<(String, String)> {
        let queue_tick: BTreeMap<&str, Option<i64>> = stats
            .queues
            .iter()
            .map(|q| (q.queue.as_str(), q.last_tick_id))
            .collect();
        let mut stuck = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for c in &stats.consumers {
            let key = (c.queue.clone(), c.consumer.clone());
            let current = queue_tick.get(c.queue.as_str()).copied().flatten();
            let entry = self.frozen.entry(key.clone()).or_insert(Frozen {
                at_tick: c.last_tick,
                since: now,
                queue_tick_then: current,
            });
            if entry.at_tick != c.last_tick {
                *entry = Frozen {
                    at_tick: c.last_tick,
                    since: now,
                    queue_tick_then: current,
                };
            }
            if is_stuck(c, entry, current, now, after) {
                stuck.insert(key.clone());
            }
            seen.insert(key);
        }
        self.frozen.retain(|k, _| seen.contains(k));
        stuck
    }
}

fn is_stuck(
    c: &ConsumerStats,
    frozen: &Frozen,
    queue_tick_now: Option<i64>,
    now: Instant,
    after: Duration,
) -> bool {
    let queue_moved = match (frozen.queue_tick_then, queue_tick_now) {
        (Some(then), Some(now)) => now > then,
        _ => false,
    };
    queue_moved && now.duration_since(frozen.since) >= after && c.last_seen >= after.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str, tick: i64) -> QueueStats {
        QueueStats {
            queue: name.into(),
            ticker_lag: 0.5,
            ev_new: 0,
            ev_per_sec: None,
            last_tick_id: Some(tick),
            max_count: 500,
            max_lag: 3.0,
            idle_period: 60.0,
            paused: false,
            external_ticker: false,
            rotation_period: 7200.0,
            since_rotation: 10.0,
            step2_pending: false,
            retry_events: 0,
            table_bytes: Some(0),
        }
    }

    fn consumer(queue: &str, name: &str, tick: i64, last_seen: f64) -> ConsumerStats {
        ConsumerStats {
            queue: queue.into(),
            consumer: name.into(),
            lag: 1.0,
            last_seen,
            last_tick: Some(tick),
            current_batch: None,
            pending_events: Some(0),
        }
    }

    #[test]
    fn overdue_follows_the_queue_policy() {
        let mut q = queue("q", 1);
        q.ticker_lag = 50.0;
        assert_eq!(tick_overdue(&q), Some(0.0), "idle: within idle period");
        q.ticker_lag = 75.0;
        assert_eq!(tick_overdue(&q), Some(15.0), "idle: past idle period");
        q.ev_new = 10;
        q.ticker_lag = 5.0;
        assert_eq!(tick_overdue(&q), Some(2.0), "pending: past max lag");
        q.ev_new = 500;
        assert_eq!(tick_overdue(&q), Some(5.0), "full: due at once");
        q.paused = true;
        assert_eq!(tick_overdue(&q), None);
        q.paused = false;
        q.external_ticker = true;
        assert_eq!(tick_overdue(&q), None);
    }

    #[test]
    fn a_frozen_consumer_is_stuck_only_while_its_queue_ticks() {
        let after = Duration::from_secs(60);
        let t0 = Instant::now();
        let mut tracker = StuckTracker::default();
        let mut stats = DbStats {
            queues: vec![queue("q", 10)],
            consumers: vec![consumer("q", "c", 10, 0.0)],
        };
        assert!(tracker.update(&stats, t0, after).is_empty());
        // Queue idle, consumer idle: not stuck however long.
        stats.consumers[0].last_seen = 120.0;
        assert!(tracker.update(&stats, t0 + after * 2, after).is_empty());
        // The queue ticks on, the consumer's position stays: stuck.
        stats.queues[0].last_tick_id = Some(12);
        let stuck = tracker.update(&stats, t0 + after * 3, after);
        assert!(stuck.contains(&("q".into(), "c".into())));
        // It moves: not stuck, and the clock restarts.
        stats.consumers[0].last_tick = Some(12);
        stats.consumers[0].last_seen = 0.0;
        assert!(tracker.update(&stats, t0 + after * 4, after).is_empty());
        stats.queues[0].last_tick_id = Some(20);
        stats.consumers[0].last_seen = 30.0;
        assert!(
            tracker
                .update(&stats, t0 + after * 4 + after / 2, after)
                .is_empty(),
            "frozen for less than the limit"
        );
    }

    #[test]
    fn a_slow_but_seen_consumer_is_not_stuck() {
        let after = Duration::from_secs(60);
        let t0 = Instant::now();
        let mut tracker = StuckTracker::default();
        let mut stats = DbStats {
            queues: vec![queue("q", 10)],
            consumers: vec![consumer("q", "c", 10, 0.0)],
        };
        tracker.update(&stats, t0, after);
        stats.queues[0].last_tick_id = Some(30);
        stats.consumers[0].last_seen = 5.0;
        assert!(tracker.update(&stats, t0 + after * 2, after).is_empty());
    }

    #[test]
    fn gone_consumers_are_forgotten() {
        let after = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut tracker = StuckTracker::default();
        let mut stats = DbStats {
            queues: vec![queue("q", 1)],
            consumers: vec![consumer("q", "c", 1, 0.0)],
        };
        tracker.update(&stats, t0, after);
        stats.consumers.clear();
        tracker.update(&stats, t0, after);
        assert!(tracker.frozen.is_empty());
    }

    #[test]
    fn reads_are_counted_and_forget_removes() {
        let m = Monitor::default();
        m.publish(
            "db",
            Snapshot {
                taken: SystemTime::now(),
                stats: DbStats::default(),
                stuck: BTreeSet::new(),
            },
        );
        assert_eq!(m.reads(), 0);
        assert_eq!(m.read().len(), 1);
        assert_eq!(m.reads(), 1);
        m.forget("db");
        assert!(m.read().is_empty());
    }
}
