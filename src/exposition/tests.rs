//! Golden-file test of the rendered exposition text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::*;
use crate::config::{Format, Pattern, parse_str};
use crate::engine::DbStats;

fn queue(name: &str) -> QueueStats {
    QueueStats {
        queue: name.into(),
        ticker_lag: 1.5,
        ev_new: 12,
        ev_per_sec: Some(40.25),
        last_tick_id: Some(1041),
        max_count: 500,
        max_lag: 3.0,
        idle_period: 60.0,
        paused: false,
        external_ticker: false,
        rotation_period: 7200.0,
        since_rotation: 1800.0,
        step2_pending: false,
        retry_events: 3,
        table_bytes: Some(65536),
    }
}

fn consumer(queue: &str, name: &str) -> ConsumerStats {
    ConsumerStats {
        queue: queue.into(),
        consumer: name.into(),
        lag: 2.5,
        last_seen: 0.75,
        last_tick: Some(1040),
        current_batch: None,
        pending_events: Some(17),
    }
}

fn snapshots() -> BTreeMap<String, Arc<Snapshot>> {
    let mut late = queue("late");
    late.ticker_lag = 70.0;
    late.ev_new = 0;
    late.ev_per_sec = None;
    late.step2_pending = true;
    late.table_bytes = None;
    let mut paused = queue("paused");
    paused.paused = true;
    let mut busy = consumer("orders", "billing");
    busy.current_batch = Some(88);
    let stuck = consumer("orders", "we\"ird\\name\n");
    let mut stuck_set = BTreeSet::new();
    stuck_set.insert(("orders".to_string(), "we\"ird\\name\n".to_string()));
    let app = Snapshot {
        taken: SystemTime::UNIX_EPOCH,
        stats: DbStats {
            queues: vec![queue("orders"), late, paused, queue("noisy_tmp")],
            consumers: vec![
                busy,
                stuck,
                consumer("orders", ".internal"),
                consumer("orders", "node1.watermark"),
                consumer("noisy_tmp", "x"),
            ],
        },
        stuck: stuck_set,
    };
    let other = Snapshot {
        taken: SystemTime::UNIX_EPOCH,
        stats: DbStats {
            queues: vec![queue("orders")],
            consumers: vec![consumer("orders", "billing")],
        },
        stuck: BTreeSet::new(),
    };
    BTreeMap::from([
        ("app".to_string(), Arc::new(app)),
        ("other".to_string(), Arc::new(other)),
    ])
}

#[test]
fn exposition_matches_golden_file() {
    let loaded = parse_str(
        "base_connstr = \"host=/tmp\"\nmetrics_exclude_queues = [\"*_tmp\"]\n",
        Format::Toml,
    )
    .unwrap();
    let text = render(&snapshots(), &loaded.config);
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/metrics.txt");
    if std::env::var_os("PGQD_BLESS").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&golden)
        .expect("tests/golden/metrics.txt missing; run with PGQD_BLESS=1");
    assert_eq!(
        text, expected,
        "exposition drifted from tests/golden/metrics.txt; rerun with PGQD_BLESS=1 if intended"
    );
}

#[test]
fn excluded_and_internal_consumers_are_left_out() {
    let config = Config::default();
    let text = render(&snapshots(), &config);
    assert!(!text.contains("consumer=\".internal\""));
    assert!(
        !text.contains("node1.watermark"),
        "watermark consumers are internal"
    );
    assert!(text.contains("consumer=\"billing\""));
    let mut config = config;
    config.metrics_include_consumers = vec![Pattern::new("nobody")];
    assert!(!render(&snapshots(), &config).contains("pgqd_consumer_"));
}

#[test]
fn every_family_has_a_conventional_name_and_help() {
    for (name, help) in families() {
        assert!(name.starts_with("pgqd_"), "{name}");
        assert!(
            !name.ends_with("_total"),
            "{name}: gauges never end in _total"
        );
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name}"
        );
        assert!(
            help.ends_with('.') && !help.contains('\n'),
            "{name}: {help}"
        );
    }
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

#[test]
fn every_metric_is_documented() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring.md"),
    )
    .unwrap();
    let names = families()
        .into_iter()
        .map(|(name, _)| name)
        .chain(crate::metrics::ALL.iter().copied());
    for name in names {
        assert!(
            doc.contains(&format!("`{name}`")) || doc.contains(&format!("`{name}{{")),
            "docs/monitoring.md does not describe {name}"
        );
    }
}
