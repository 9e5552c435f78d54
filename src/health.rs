//! `/health`: whether the daemon is ticking what it should, overall and per
//! database, judged from the supervisor's states and the monitor's
//! snapshots only (no query runs for a health request).
//!
//! A database is healthy when it is ticked on time, has no PgQ, is a
//! standby, or another daemon holds its HA lock. It is failing when it
//! cannot be reached, has an engine this daemon cannot tick, has gone
//! without a successful ticker call for longer than its queues allow, or
//! has a queue whose due tick is late by more than `max(10 s, 3 ×
//! ticker_period)`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::DbState;
use crate::config::Config;
use crate::monitor::{Snapshot, tick_overdue};

/// The whole daemon's health.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `"ok"`, `"failing"`, or `"starting"` before the first discovery.
    pub status: &'static str,
    /// Per database, by name.
    pub databases: BTreeMap<String, DbHealth>,
}

/// One database's health.
#[derive(Debug, Clone, Serialize)]
pub struct DbHealth {
    /// The worker's state, as the metrics' `state` label names it.
    pub state: &'static str,
    /// Whether this database counts as healthy.
    pub healthy: bool,
    /// Why not, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Seconds since the last successful ticker call, while ticking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_tick_age_seconds: Option<f64>,
    /// Age of the queue figures this judgement used, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures_age_seconds: Option<f64>,
}

impl Report {
    /// Whether the HTTP answer is 200.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into()) + "\n"
    }

    /// The plain-text form for `check_http`-style probes: a first line
    /// `OK` or `FAILING: <reasons>` (or `STARTING`), then one line per
    /// database.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let failing: Vec<String> = self
            .databases
            .iter()
            .filter(|(_, d)| !d.healthy)
            .map(|(db, d)| match &d.reason {
                Some(reason) => format!("{db}: {} ({reason})", d.state),
                None => format!("{db}: {}", d.state),
            })
            .collect();
        match self.status {
            "ok" => out.push_str("OK\n"),
            "starting" => out.push_str("STARTING\n"),
            _ => {
                let _ = writeln!(out, "FAILING: {}", failing.join("; "));
            }
        }
        for (db, d) in &self.databases {
            let _ = write!(out, "{db}: {}", d.state);
            if let Some(reason) = &d.reason {
                let _ = write!(out, " ({reason})");
            }
            out.push('\n');
        }
        out
    }
}

/// Judges the daemon's health at `now`.
pub fn assess(
    states: &BTreeMap<String, DbState>,
    snapshots: &BTreeMap<String, Arc<Snapshot>>,
    discovered: bool,
    config: &Config,
    now: Instant,
) -> Report {
    let wall_now = SystemTime::now();
    let databases: BTreeMap<String, DbHealth> = states
        .iter()
        .map(|(db, state)| {
            let snapshot = snapshots.get(db);
            let ticker_period = config.database_settings(db).ticker_period;
            (
                db.clone(),
                assess_db(state, snapshot.map(|s| &**s), ticker_period, now, wall_now),
            )
        })
        .collect();
    let status = if !discovered {
        "starting"
    } else if databases.values().all(|d| d.healthy) {
        "ok"
    } else {
        "failing"
    };
    Report { status, databases }
}

fn assess_db(
    state: &DbState,
    snapshot: Option<&Snapshot>,
    ticker_period: Duration,
    now: Instant,
    wall_now: SystemTime,
) -> DbHealth {
    let mut health = DbHealth {
        state: state.label(),
        healthy: true,
        reason: None,
        last_tick_age_seconds: None,
        figures_age_seconds: snapshot.map(|s| {
            wall_now
                .duration_since(s.taken)
                .unwrap_or_default()
                .as_secs_f64()
        }),
    };
    let fail = |h: &mut DbHealth, why: String| {
        h.healthy = false;
        h.reason = Some(why);
    };
    match state {
        DbState::Connecting => fail(&mut health, "connecting".into()),
        DbState::Down(why) => fail(&mut health, why.clone()),
        DbState::Unsupported(why) => fail(&mut health, why.clone()),
        DbState::NoPgq | DbState::Standby | DbState::Follower => {}
        DbState::Ticking { since } => {
            let age = now.saturating_duration_since(*since);
            health.last_tick_age_seconds = Some(age.as_secs_f64());
            let limit = tick_call_limit(snapshot, ticker_period);
            if age > limit {
                fail(
                    &mut health,
                    format!(
                        "no successful ticker call for {:.0}s (expected every {:.0}s at most)",
                        age.as_secs_f64(),
                        limit.as_secs_f64()
                    ),
                );
            } else if let Some(snapshot) = snapshot {
                let tolerance = (ticker_period.as_secs_f64() * 3.0).max(10.0);
                let late: Vec<String> = snapshot
                    .stats
                    .queues
                    .iter()
                    .filter_map(|q| {
                        tick_overdue(q)
                            .filter(|o| *o > tolerance)
                            .map(|o| format!("{} {o:.0}s", q.queue))
                    })
                    .collect();
                if !late.is_empty() {
                    fail(&mut health, format!("ticks overdue: {}", late.join(", ")));
                }
            }
        }
    }
    health
}

/// How long a ticking database may go without a successful ticker call:
/// the daemon looks at it at least once per shortest idle period of its
/// queues (60 s when unknown), plus scheduling slack.
fn tick_call_limit(snapshot: Option<&Snapshot>, ticker_period: Duration) -> Duration {
    let shortest_idle = snapshot
        .and_then(|s| {
            s.stats
                .queues
                .iter()
                .filter(|q| !q.paused && !q.external_ticker)
                .map(|q| q.idle_period)
                .reduce(f64::min)
        })
        .unwrap_or(60.0);
    Duration::from_secs_f64(shortest_idle.clamp(0.0, 86_400.0))
        + ticker_period * 2
        + Duration::from_secs(5)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::engine::{DbStats, QueueStats};

    fn snapshot(ticker_lag: f64, ev_new: i64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            taken: SystemTime::now(),
            stats: DbStats {
                queues: vec![QueueStats {
                    queue: "q".into(),
                    ticker_lag,
                    ev_new,
                    ev_per_sec: None,
                    last_tick_id: Some(1),
                    max_count: 500,
                    max_lag: 3.0,
                    idle_period: 20.0,
                    paused: false,
                    external_ticker: false,
                    rotation_period: 7200.0,
                    since_rotation: 0.0,
                    step2_pending: false,
                    retry_events: 0,
                    table_bytes: None,
                }],
                consumers: vec![],
            },
            stuck: BTreeSet::new(),
        })
    }

    fn report(state: DbState, snap: Option<Arc<Snapshot>>, now: Instant) -> Report {
        let states = BTreeMap::from([("db".to_string(), state)]);
        let snaps = snap
            .map(|s| BTreeMap::from([("db".to_string(), s)]))
            .unwrap_or_default();
        assess(&states, &snaps, true, &Config::default(), now)
    }

    #[test]
    fn quiet_states_are_healthy() {
        let now = Instant::now();
        for state in [DbState::NoPgq, DbState::Standby, DbState::Follower] {
            assert!(report(state, None, now).is_ok());
        }
        let r = report(DbState::Ticking { since: now }, Some(snapshot(1.0, 0)), now);
        assert!(r.is_ok(), "{}", r.to_text());
        assert_eq!(r.to_text().lines().next(), Some("OK"));
    }

    #[test]
    fn down_and_unsupported_fail_with_the_reason() {
        let now = Instant::now();
        let r = report(DbState::Down("connection refused".into()), None, now);
        assert!(!r.is_ok());
        assert!(
            r.to_text()
                .starts_with("FAILING: db: down (connection refused)\n"),
            "{}",
            r.to_text()
        );
        let r = report(DbState::Unsupported("pgq 2.1".into()), None, now);
        assert!(!r.is_ok());
    }

    #[test]
    fn a_stalled_ticker_fails_after_the_shortest_idle_period() {
        let since = Instant::now();
        // idle 20 s + 2 × 1 s + 5 s = 27 s
        let ok = report(
            DbState::Ticking { since },
            Some(snapshot(1.0, 0)),
            since + Duration::from_secs(26),
        );
        assert!(ok.is_ok(), "{}", ok.to_text());
        let bad = report(
            DbState::Ticking { since },
            Some(snapshot(1.0, 0)),
            since + Duration::from_secs(28),
        );
        assert!(!bad.is_ok());
        assert!(bad.to_json().contains("no successful ticker call"));
    }

    #[test]
    fn an_overdue_queue_fails() {
        let now = Instant::now();
        // 10 events waiting, max lag 3 s, last tick 20 s ago: 17 s late.
        let r = report(
            DbState::Ticking { since: now },
            Some(snapshot(20.0, 10)),
            now,
        );
        assert!(!r.is_ok());
        assert!(
            r.to_text().contains("ticks overdue: q 17s"),
            "{}",
            r.to_text()
        );
        let r = report(
            DbState::Ticking { since: now },
            Some(snapshot(12.0, 10)),
            now,
        );
        assert!(r.is_ok(), "9 s late is within the 10 s tolerance");
    }

    #[test]
    fn before_discovery_it_is_starting() {
        let r = assess(
            &BTreeMap::new(),
            &BTreeMap::new(),
            false,
            &Config::default(),
            Instant::now(),
        );
        assert_eq!(r.status, "starting");
        assert!(!r.is_ok());
    }
}
