//! The check's judgement and output, golden-tested without a server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::engine::{ConsumerStats, DbStats, QueueStats};

fn queue(name: &str, ticker_lag: f64, ev_new: i64) -> QueueStats {
    QueueStats {
        queue: name.into(),
        ticker_lag,
        ev_new,
        ev_per_sec: Some(3.0),
        last_tick_id: Some(77),
        max_count: 500,
        max_lag: 3.0,
        idle_period: 60.0,
        paused: false,
        external_ticker: false,
        rotation_period: 7200.0,
        since_rotation: 600.0,
        step2_pending: false,
        retry_events: 2,
        table_bytes: Some(8192),
    }
}

fn consumer(queue: &str, name: &str, lag: f64, last_seen: f64, pending: i64) -> ConsumerStats {
    ConsumerStats {
        queue: queue.into(),
        consumer: name.into(),
        lag,
        last_seen,
        last_tick: Some(70),
        current_batch: None,
        pending_events: Some(pending),
    }
}

fn findings(queues: Vec<QueueStats>, consumers: Vec<ConsumerStats>) -> Findings {
    Ok(BTreeMap::from([
        (
            "app".to_string(),
            DbFinding::Stats(DbStats { queues, consumers }),
        ),
        ("postgres".to_string(), DbFinding::NoPgq),
    ]))
}

/// Renders every scenario into one text compared with a golden file.
#[test]
fn outputs_match_golden_file() {
    let d = Thresholds::default();
    let mut custom = Thresholds::default();
    custom
        .apply("consumer_lag=60,pending_events=", false)
        .unwrap();
    custom.apply("consumer_lag=@0:1", true).unwrap();
    let scenarios: Vec<(&str, Findings, &Thresholds, bool)> = vec![
        (
            "healthy",
            findings(
                vec![queue("orders", 1.2, 4)],
                vec![consumer("orders", "billing", 2.0, 1.0, 10)],
            ),
            &d,
            false,
        ),
        (
            "healthy verbose",
            findings(
                vec![queue("orders", 1.2, 4)],
                vec![consumer("orders", "billing", 2.0, 1.0, 10)],
            ),
            &d,
            true,
        ),
        (
            "ticker stopped with events waiting",
            findings(
                vec![queue("orders", 45.0, 4), queue("idle", 30.0, 0)],
                vec![consumer("orders", "billing", 46.0, 1.0, 0)],
            ),
            &d,
            false,
        ),
        (
            "lagging consumers",
            findings(
                vec![queue("orders", 1.0, 0)],
                vec![
                    consumer("orders", "slow", 900.0, 30.0, 7000),
                    consumer("orders", "gone", 4000.0, 1300.0, 9000),
                ],
            ),
            &d,
            false,
        ),
        (
            "custom thresholds",
            findings(
                vec![queue("orders", 1.0, 0)],
                vec![consumer("orders", "c", 90.0, 1.0, 9000)],
            ),
            &custom,
            false,
        ),
        (
            "one database unreadable",
            Ok(BTreeMap::from([
                (
                    "app".to_string(),
                    DbFinding::Stats(DbStats {
                        queues: vec![queue("orders", 1.0, 0)],
                        consumers: vec![],
                    }),
                ),
                (
                    "gone".to_string(),
                    DbFinding::Error("connecting: database \"gone\" does not exist".into()),
                ),
            ])),
            &d,
            false,
        ),
        (
            "no queues",
            Ok(BTreeMap::from([("postgres".to_string(), DbFinding::NoPgq)])),
            &d,
            false,
        ),
        (
            "cluster unreachable",
            Err("cannot connect to the cluster: connection refused".into()),
            &d,
            false,
        ),
    ];
    let mut text = String::new();
    for (name, f, t, verbose) in scenarios {
        let outcome = evaluate(&f, t, verbose);
        text.push_str(&format!("## {name} (exit {})\n", outcome.state.exit_code()));
        text.push_str(&outcome.render());
        text.push('\n');
    }
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/check.txt");
    if std::env::var_os("PGQD_BLESS").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&golden)
        .expect("tests/golden/check.txt missing; run with PGQD_BLESS=1");
    assert_eq!(
        text, expected,
        "check output drifted from tests/golden/check.txt; rerun with PGQD_BLESS=1 if intended"
    );
}

#[test]
fn states_and_exit_codes() {
    let d = Thresholds::default();
    let f = findings(
        vec![queue("orders", 45.0, 4)],
        vec![consumer("orders", "c", 1.0, 1.0, 0)],
    );
    assert_eq!(evaluate(&f, &d, false).state, State::Critical);
    let f = findings(vec![queue("orders", 9.0, 4)], vec![]);
    assert_eq!(evaluate(&f, &d, false).state, State::Warning, "6 s late");
    let f = findings(vec![queue("orders", 59.0, 0)], vec![]);
    assert_eq!(
        evaluate(&f, &d, false).state,
        State::Ok,
        "idle, within idle period"
    );
    assert_eq!(State::Unknown.exit_code(), 3);
    assert!(State::Critical > State::Unknown && State::Unknown > State::Warning);
}

#[test]
fn paused_and_external_queues_are_not_judged_for_ticking() {
    let mut q = queue("orders", 1e6, 10);
    q.paused = true;
    let f = findings(vec![q.clone()], vec![]);
    assert_eq!(evaluate(&f, &Thresholds::default(), false).state, State::Ok);
    q.paused = false;
    q.external_ticker = true;
    let f = findings(vec![q], vec![]);
    assert_eq!(evaluate(&f, &Thresholds::default(), false).state, State::Ok);
}

#[test]
fn bad_thresholds_are_reported() {
    let mut t = Thresholds::default();
    assert!(matches!(
        t.apply("lag=5", false),
        Err(ThresholdError::Metric(..))
    ));
    assert!(matches!(
        t.apply("consumer_lag", false),
        Err(ThresholdError::Syntax(_))
    ));
    assert!(matches!(
        t.apply("consumer_lag=5:1", true),
        Err(ThresholdError::Range(_))
    ));
    assert!(t.apply(" consumer_lag = 5 , last_seen=10: ", true).is_ok());
}

#[test]
fn the_summary_line_stays_short() {
    let f = findings(
        vec![queue("a_rather_long_queue_name_for_orders", 4000.0, 9)],
        vec![consumer(
            "a_rather_long_queue_name_for_orders",
            "consumer",
            1.0,
            1.0,
            0,
        )],
    );
    let out = evaluate(&f, &Thresholds::default(), false).render();
    let first = out.lines().next().unwrap();
    let summary = first.split(" | ").next().unwrap();
    assert!(summary.len() <= 120, "{summary}");
}
