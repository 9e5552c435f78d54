//! Pure decisions: when a database next needs a ticker call, and how long to
//! wait before reconnecting. No I/O here, so every rule is unit-tested.
//!
//! # Tick scheduling
//! PgQ's `pgq.ticker()` decides per queue whether to tick: when at least
//! `ticker_max_count` new events exist, or new events exist and the last
//! tick is `ticker_max_lag` old, or (idle) when the last tick is older than
//! both half the max lag and twice the previous gap (capped by
//! `ticker_idle_period`). The daemon does not poll every database every
//! second; it wakes a database at the earliest moment one of its queues can
//! be due:
//! - a queue with pending events is due when its max lag is reached, or
//!   sooner when the event rate will fill `ticker_max_count` first: the rate
//!   seen since the last tick or, if faster, the rate of the interval before
//!   it (right after a tick nothing is pending yet to go by);
//! - a queue whose last tick interval carried events is expected to carry
//!   more, so it is looked at again when its max lag comes round or when the
//!   last interval's rate will have filled `ticker_max_count`; this is what
//!   gives a steady stream one tick per `ticker_max_lag` or per
//!   `ticker_max_count` events, whichever comes first;
//! - an idle queue is due at its next idle tick;
//! - an idle queue can become due at any moment by a producer's commit, so it
//!   is looked at again within `ticker_max_lag + ticker_period`: an event
//!   committed at any time is then ticked at most that long after its commit.
//!   This is the latency bound the daemon guarantees;
//! - with this project's engine, a queue whose last tick missed events of
//!   transactions still running at the time (the sequence counted them, the
//!   tick's snapshot did not see them) is due once the max lag has passed;
//!   the schedule statement asks the engine's probe for that.
//!
//! A wake on a database whose queues all look idle first reads the schedule
//! alone and calls `pgq.ticker()` only when some queue is due by these
//! rules, which for the C engine are its own and for this project's engine
//! are its own plus the probe: an idle database costs one cheap statement
//! per look.

use std::time::Duration;

/// The shortest sleep between two ticker calls on one database, so that a
/// queue configured with extreme settings cannot make the daemon spin.
pub const MIN_TICK_INTERVAL: Duration = Duration::from_millis(10);

/// What the daemon knows about one tickable queue at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueTickState {
    /// `queue_ticker_max_count`.
    pub max_count: i64,
    /// `queue_ticker_max_lag`.
    pub max_lag: Duration,
    /// `queue_ticker_idle_period`.
    pub idle_period: Duration,
    /// Time since the newest tick; `None` when the queue has no tick yet.
    pub since_last_tick: Option<Duration>,
    /// Gap between the newest tick and the one before; `None` if only one.
    pub prev_gap: Option<Duration>,
    /// Events inserted since the newest tick (sequence difference).
    pub new_events: i64,
    /// Events in the interval that ended with the newest tick.
    pub prev_events: i64,
    /// Events that the sequence counted before the newest tick but whose
    /// transactions committed after it: this project's engine ticks them
    /// at the max lag like new events.
    pub late_commits: bool,
}

/// How long until `queue` can next be due for a tick, given that the
/// database is looked at least every `ticker_period` beyond the max lag.
pub fn queue_next_due(queue: &QueueTickState, ticker_period: Duration) -> Duration {
    let Some(since) = queue.since_last_tick else {
        return Duration::ZERO;
    };
    // Even when nothing is pending, a commit may make the queue due at any
    // moment; look again soon enough to honour the latency bound.
    let watch = queue.max_lag + ticker_period;
    if queue.new_events > 0 {
        if queue.new_events >= queue.max_count {
            return Duration::ZERO;
        }
        let by_lag = queue.max_lag.saturating_sub(since);
        let by_count = time_to_fill(queue, since).unwrap_or(by_lag);
        let by_prev_rate = time_to_fill_at_prev_rate(queue).unwrap_or(by_lag);
        return by_lag.min(by_count).min(by_prev_rate);
    }
    if queue.late_commits && since >= queue.max_lag {
        return Duration::ZERO;
    }
    let idle_due = match queue.prev_gap {
        None => Duration::ZERO,
        Some(gap) => {
            let idle_spacing = (gap * 2).min(queue.idle_period);
            (queue.max_lag / 2).max(idle_spacing).saturating_sub(since)
        }
    };
    if queue.prev_events > 0 && since < queue.max_lag {
        // A stream in flight: its next events are due at the max lag, or
        // when they fill max_count if they keep coming as fast as before.
        // Past the max lag with nothing new, the stream has stopped: the
        // idle rules take over (looking at every wake would spin until the
        // idle tick).
        let by_lag = queue.max_lag.saturating_sub(since);
        let by_count = time_to_fill_at_prev_rate(queue).unwrap_or(by_lag);
        return idle_due.min(by_lag).min(by_count);
    }
    idle_due.min(watch)
}

/// Predicts when `max_count` events will exist at the rate seen since the
/// last tick; `None` when there is no rate to go by.
fn time_to_fill(queue: &QueueTickState, since: Duration) -> Option<Duration> {
    if since.is_zero() || queue.new_events <= 0 {
        return None;
    }
    let rate = queue.new_events as f64 / since.as_secs_f64();
    let missing = (queue.max_count - queue.new_events) as f64;
    Duration::try_from_secs_f64(missing / rate).ok()
}

/// Predicts when `max_count` events will exist if they come from now on as
/// fast as in the interval before the last tick; `None` without such an
/// interval.
fn time_to_fill_at_prev_rate(queue: &QueueTickState) -> Option<Duration> {
    let gap = queue.prev_gap?;
    if gap.is_zero() || queue.prev_events <= 0 {
        return None;
    }
    let rate = queue.prev_events as f64 / gap.as_secs_f64();
    let missing = (queue.max_count - queue.new_events.max(0)) as f64;
    Duration::try_from_secs_f64(missing / rate).ok()
}

/// How long the database's ticker may sleep: until the earliest queue is
/// due, never shorter than [`MIN_TICK_INTERVAL`]. Without queues it looks
/// again after `ticker_period`, to notice queues created meanwhile.
pub fn next_tick_delay(queues: &[QueueTickState], ticker_period: Duration) -> Duration {
    queues
        .iter()
        .map(|q| queue_next_due(q, ticker_period))
        .min()
        .unwrap_or(ticker_period)
        .max(MIN_TICK_INTERVAL)
}

/// Exponential reconnect backoff with jitter, so that many databases that
/// lost their server together do not reconnect in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff that starts at `min` and doubles up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The delay before the next attempt; `unit` is a random number in
    /// `[0, 1)` that picks a point in the upper half of the current step.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let step = self
            .min
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let unit = unit.clamp(0.0, 1.0);
        step.mul_f64(0.5 + unit / 2.0)
    }

    /// Forgets past failures after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many attempts failed in a row.
    pub fn failures(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    fn queue(since: Option<f64>, gap: Option<f64>, new_events: i64) -> QueueTickState {
        QueueTickState {
            max_count: 500,
            max_lag: s(3.0),
            idle_period: s(60.0),
            since_last_tick: since.map(s),
            prev_gap: gap.map(s),
            new_events,
            prev_events: 0,
            late_commits: false,
        }
    }

    const PERIOD: Duration = Duration::from_secs(1);

    #[test]
    fn fresh_queue_is_due_now() {
        assert_eq!(
            queue_next_due(&queue(None, None, 0), PERIOD),
            Duration::ZERO
        );
    }

    #[test]
    fn full_queue_is_due_now() {
        assert_eq!(
            queue_next_due(&queue(Some(0.1), Some(1.0), 500), PERIOD),
            Duration::ZERO
        );
        assert_eq!(
            queue_next_due(&queue(Some(0.1), Some(1.0), 9000), PERIOD),
            Duration::ZERO
        );
    }

    #[test]
    fn pending_events_wait_for_max_lag() {
        // 1 event in 1 s: filling 500 would take far longer than the lag.
        assert_eq!(
            queue_next_due(&queue(Some(1.0), Some(3.0), 1), PERIOD),
            s(2.0)
        );
        // Past the lag: due now.
        assert_eq!(
            queue_next_due(&queue(Some(4.0), Some(3.0), 1), PERIOD),
            Duration::ZERO
        );
    }

    #[test]
    fn fast_producer_is_ticked_when_max_count_will_be_reached() {
        // 250 events in 0.5 s: 500 reached after another 0.5 s, before the lag.
        let due = queue_next_due(&queue(Some(0.5), Some(3.0), 250), PERIOD);
        assert!((due.as_secs_f64() - 0.5).abs() < 1e-9, "{due:?}");
    }

    #[test]
    fn idle_queue_follows_the_doubling_rule_until_the_idle_period() {
        // Gap 4 s: next idle tick 8 s after the last one.
        assert_eq!(
            queue_next_due(&queue(Some(1.0), Some(4.0), 0), s(10.0)),
            s(7.0)
        );
        // Gap 100 s: capped by the 60 s idle period.
        assert_eq!(
            queue_next_due(&queue(Some(1.0), Some(100.0), 0), s(100.0)),
            s(59.0)
        );
        // Tiny gap: at least half the max lag.
        assert_eq!(
            queue_next_due(&queue(Some(0.5), Some(0.1), 0), s(10.0)),
            s(1.0)
        );
        // A single tick only: due now.
        assert_eq!(
            queue_next_due(&queue(Some(0.5), None, 0), PERIOD),
            Duration::ZERO
        );
    }

    #[test]
    fn idle_queue_is_watched_within_max_lag_plus_period() {
        // Idle tick 59 s away, but a commit must be seen within 3 s + 1 s.
        assert_eq!(
            queue_next_due(&queue(Some(1.0), Some(60.0), 0), PERIOD),
            s(4.0)
        );
    }

    #[test]
    fn a_stream_in_flight_is_looked_at_when_the_max_lag_comes_round() {
        // Just ticked, nothing new yet, but the last interval had events.
        let mut q = queue(Some(0.0), Some(0.05), 0);
        q.max_lag = s(0.05);
        q.prev_events = 5;
        assert_eq!(queue_next_due(&q, PERIOD), s(0.05));
        // Without a stream the same queue waits for its idle tick.
        q.prev_events = 0;
        assert_eq!(queue_next_due(&q, PERIOD), s(0.1));
    }

    #[test]
    fn a_fast_stream_is_looked_at_when_the_last_rate_fills_max_count() {
        // 500 events in the last 0.5 s: right after the tick nothing is
        // pending, but 500 more are expected in 0.5 s, long before the lag.
        let mut q = queue(Some(0.0), Some(0.5), 0);
        q.prev_events = 500;
        let due = queue_next_due(&q, PERIOD);
        assert!((due.as_secs_f64() - 0.5).abs() < 1e-9, "{due:?}");
        // 100 already pending after 0.05 s: the faster of the two rates wins.
        let mut q = queue(Some(0.05), Some(0.5), 100);
        q.prev_events = 500;
        let due = queue_next_due(&q, PERIOD);
        assert!((due.as_secs_f64() - 0.2).abs() < 1e-9, "{due:?}");
        // A slow last interval changes nothing: the max lag comes first.
        let mut q = queue(Some(0.0), Some(3.0), 0);
        q.prev_events = 10;
        assert_eq!(queue_next_due(&q, PERIOD), s(3.0));
    }

    #[test]
    fn late_commits_make_an_idle_queue_due_at_the_max_lag() {
        let mut q = queue(Some(3.5), Some(60.0), 0);
        q.late_commits = true;
        assert_eq!(queue_next_due(&q, PERIOD), Duration::ZERO);
        q.late_commits = false;
        assert_eq!(queue_next_due(&q, PERIOD), s(4.0), "the watch");
    }

    #[test]
    fn a_stopped_stream_falls_back_to_the_idle_rules() {
        // The last interval had events, nothing came since, max lag passed:
        // not due at every look, but at the idle tick or the watch.
        let mut q = queue(Some(3.5), Some(3.0), 0);
        q.prev_events = 50;
        assert_eq!(queue_next_due(&q, PERIOD), s(2.5));
    }

    #[test]
    fn negative_new_events_count_as_idle() {
        assert_eq!(
            queue_next_due(&queue(Some(1.0), Some(60.0), -5), PERIOD),
            s(4.0)
        );
    }

    #[test]
    fn sub_second_queue_gets_sub_second_ticks() {
        let mut q = queue(Some(0.01), Some(0.05), 3);
        q.max_lag = s(0.05);
        let due = queue_next_due(&q, PERIOD);
        assert!((due.as_secs_f64() - 0.04).abs() < 1e-9, "{due:?}");
    }

    #[test]
    fn database_delay_is_the_earliest_queue_with_a_floor() {
        let slow = queue(Some(1.0), Some(60.0), 0);
        let busy = queue(Some(2.5), Some(3.0), 10);
        assert_eq!(next_tick_delay(&[slow.clone(), busy], PERIOD), s(0.5));
        assert_eq!(next_tick_delay(&[slow], PERIOD), s(4.0));
        assert_eq!(
            next_tick_delay(&[queue(None, None, 0)], PERIOD),
            MIN_TICK_INTERVAL
        );
        assert_eq!(next_tick_delay(&[], PERIOD), PERIOD);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_resets() {
        let mut b = Backoff::new(s(0.25), s(2.0));
        assert_eq!(b.next_delay(1.0), s(0.25));
        assert_eq!(b.next_delay(1.0), s(0.5));
        assert_eq!(b.next_delay(0.0), s(0.5));
        assert_eq!(b.next_delay(1.0), s(2.0));
        assert_eq!(b.next_delay(1.0), s(2.0), "capped");
        assert_eq!(b.failures(), 5);
        b.reset();
        assert_eq!(b.next_delay(0.0), s(0.125));
    }

    #[test]
    fn backoff_survives_many_failures() {
        let mut b = Backoff::new(s(0.25), s(30.0));
        for _ in 0..1000 {
            assert!(b.next_delay(0.5) <= s(30.0));
        }
    }
}
