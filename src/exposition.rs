//! The per-queue and per-consumer part of `/metrics`, rendered from the
//! monitor's snapshots in the Prometheus text format.
//!
//! These series are written here rather than through the `metrics` crate
//! because their label sets come and go with queues and consumers: the
//! recorder has no way to delete a series, so a dropped queue would be
//! exported forever with its last value. Rendering from the current
//! snapshots makes every scrape show exactly the queues and consumers that
//! exist now, without a database query.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::config::Config;
use crate::engine::{ConsumerStats, QueueStats};
use crate::monitor::{Snapshot, tick_overdue};

/// A metric family rendered here: name, help text, and how to read one
/// sample's value (`None` leaves the sample out).
struct Family<T> {
    name: &'static str,
    help: &'static str,
    value: fn(&Sample<'_, T>) -> Option<f64>,
}

/// One queue or consumer with the snapshot it came from.
struct Sample<'a, T> {
    item: &'a T,
    snapshot: &'a Snapshot,
}

/// Every per-queue family, labelled `database`, `queue`.
const QUEUE_FAMILIES: &[Family<QueueStats>] = &[
    Family {
        name: "pgqd_queue_ticker_lag_seconds",
        help: "Seconds since the queue's last tick.",
        value: |s| Some(s.item.ticker_lag),
    },
    Family {
        name: "pgqd_queue_tick_overdue_seconds",
        help: "Seconds a due tick is late by the queue's own policy (max count, max lag, idle period); absent for paused and externally ticked queues.",
        value: |s| tick_overdue(s.item),
    },
    Family {
        name: "pgqd_queue_unticked_events",
        help: "Events inserted since the queue's last tick, not yet in any batch.",
        value: |s| Some(s.item.ev_new as f64),
    },
    Family {
        name: "pgqd_queue_events_per_second",
        help: "Event rate between the queue's last two ticks, as PgQ computes it.",
        value: |s| s.item.ev_per_sec,
    },
    Family {
        name: "pgqd_queue_last_tick_id",
        help: "The queue's last tick id.",
        value: |s| s.item.last_tick_id.map(|t| t as f64),
    },
    Family {
        name: "pgqd_queue_rotation_age_seconds",
        help: "Seconds since the queue's event tables last rotated.",
        value: |s| Some(s.item.since_rotation),
    },
    Family {
        name: "pgqd_queue_rotation_period_seconds",
        help: "The queue's configured rotation period.",
        value: |s| Some(s.item.rotation_period),
    },
    Family {
        name: "pgqd_queue_rotation_step2_pending",
        help: "1 while rotation step 2 has not run after the last step 1.",
        value: |s| Some(flag(s.item.step2_pending)),
    },
    Family {
        name: "pgqd_queue_retry_events",
        help: "Events waiting in the retry queue to go back into this queue.",
        value: |s| Some(s.item.retry_events as f64),
    },
    Family {
        name: "pgqd_queue_event_table_bytes",
        help: "Size of the queue's event tables with indexes; absent when a table was locked exclusively.",
        value: |s| s.item.table_bytes.map(|b| b as f64),
    },
    Family {
        name: "pgqd_queue_ticker_paused",
        help: "1 while the queue's ticker is paused.",
        value: |s| Some(flag(s.item.paused)),
    },
];

/// Every per-consumer family, labelled `database`, `queue`, `consumer`.
const CONSUMER_FAMILIES: &[Family<ConsumerStats>] = &[
    Family {
        name: "pgqd_consumer_lag_seconds",
        help: "Age of the last tick the consumer has finished.",
        value: |s| Some(s.item.lag),
    },
    Family {
        name: "pgqd_consumer_last_seen_seconds",
        help: "Seconds since the consumer last finished a batch.",
        value: |s| Some(s.item.last_seen),
    },
    Family {
        name: "pgqd_consumer_pending_events",
        help: "Events ticked but not yet finished by the consumer.",
        value: |s| s.item.pending_events.map(|n| n as f64),
    },
    Family {
        name: "pgqd_consumer_batch_open",
        help: "1 while the consumer holds an unfinished batch.",
        value: |s| Some(flag(s.item.current_batch.is_some())),
    },
    Family {
        name: "pgqd_consumer_stuck",
        help: "1 when the consumer's position has not moved for stuck_consumer_after while its queue kept ticking and it finished no batch.",
        value: |s| {
            Some(flag(
                s.snapshot
                    .stuck
                    .contains(&(s.item.queue.clone(), s.item.consumer.clone())),
            ))
        },
    },
];

/// Names and help texts of every family rendered here, for documentation.
pub fn families() -> Vec<(&'static str, &'static str)> {
    QUEUE_FAMILIES
        .iter()
        .map(|f| (f.name, f.help))
        .chain(CONSUMER_FAMILIES.iter().map(|f| (f.name, f.help)))
        .collect()
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Renders the per-queue and per-consumer families for the queues and
/// consumers `config` wants exported.
pub fn render(snapshots: &BTreeMap<String, Arc<Snapshot>>, config: &Config) -> String {
    let mut out = String::new();
    for family in QUEUE_FAMILIES {
        let mut header = false;
        for (db, snapshot) in snapshots {
            for q in &snapshot.stats.queues {
                if !config.metrics_queue_wanted(&q.queue) {
                    continue;
                }
                let sample = Sample { item: q, snapshot };
                if let Some(v) = (family.value)(&sample) {
                    write_header(&mut out, &mut header, family.name, family.help);
                    write_sample(
                        &mut out,
                        family.name,
                        &[("database", db), ("queue", &q.queue)],
                        v,
                    );
                }
            }
        }
    }
    for family in CONSUMER_FAMILIES {
        let mut header = false;
        for (db, snapshot) in snapshots {
            for c in &snapshot.stats.consumers {
                if !config.metrics_queue_wanted(&c.queue)
                    || !config.metrics_consumer_wanted(&c.consumer)
                {
                    continue;
                }
                let sample = Sample { item: c, snapshot };
                if let Some(v) = (family.value)(&sample) {
                    write_header(&mut out, &mut header, family.name, family.help);
                    write_sample(
                        &mut out,
                        family.name,
                        &[
                            ("database", db),
                            ("queue", &c.queue),
                            ("consumer", &c.consumer),
                        ],
                        v,
                    );
                }
            }
        }
    }
    out
}

fn write_header(out: &mut String, written: &mut bool, name: &str, help: &str) {
    if !*written {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        *written = true;
    }
}

fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape_label(v));
    }
    out.push_str("} ");
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
    out.push('\n');
}

/// Escapes a label value as the text format requires: backslash, double
/// quote and newline.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests;
