//! `pgqd status`: what `pgqadm status` showed, for a whole cluster: every
//! queue with its ticker policy, lag and rotation, every consumer with its
//! lag, last seen and pending events; as aligned tables or `--json`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::check::{self, CheckArgs, DbFinding, Findings};
use crate::monitor::tick_overdue;

/// Arguments of `pgqd status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Configuration file (TOML or legacy pgqd.ini) whose connection
    /// settings and database selection to use.
    pub config: Option<PathBuf>,

    /// The same file as CONFIG, given the way the other subcommands take it.
    #[arg(long = "config", value_name = "FILE", conflicts_with = "config")]
    pub config_file: Option<PathBuf>,

    /// Base connection string, instead of the configuration's base_connstr.
    #[arg(long, value_name = "CONNSTR")]
    pub connstr: Option<String>,

    /// Only this database (repeatable).
    #[arg(short = 'd', long = "database", value_name = "DB")]
    pub databases: Vec<String>,

    /// Only queues matching this glob (repeatable).
    #[arg(long = "queue", value_name = "GLOB")]
    pub queues: Vec<String>,

    /// Include internal and watermark consumers.
    #[arg(long)]
    pub all_consumers: bool,

    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Give up after this many seconds.
    #[arg(short = 't', long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
}

/// Reads the cluster and renders the status; `Err` carries a message for
/// stderr when nothing could be read.
pub async fn run(args: &StatusArgs) -> Result<String, String> {
    let check_args = CheckArgs {
        config: args.config.clone().or_else(|| args.config_file.clone()),
        connstr: args.connstr.clone(),
        databases: args.databases.clone(),
        queues: args.queues.clone(),
        timeout: args.timeout,
        ..CheckArgs::default()
    };
    let mut config = check::load_config(&check_args)?;
    if args.all_consumers {
        config.metrics_exclude_consumers.clear();
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(format!("bad --timeout {}", args.timeout));
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let findings = tokio::time::timeout(timeout, check::gather(&config, &check_args, timeout))
        .await
        .unwrap_or_else(|_| Err(format!("timed out after {}s", args.timeout)));
    if args.json {
        render_json(&findings)
    } else {
        render_tables(&findings)
    }
}

/// The JSON form: per database, its queues and consumers or its error.
pub fn render_json(findings: &Findings) -> Result<String, String> {
    let dbs = findings.as_ref().map_err(Clone::clone)?;
    let mut out = serde_json::Map::new();
    for (db, finding) in dbs {
        let value = match finding {
            DbFinding::NoPgq => json!({"pgq": false}),
            DbFinding::Error(e) => json!({"error": e}),
            DbFinding::Stats(stats) => json!({
                "pgq": true,
                "queues": stats.queues,
                "consumers": stats.consumers,
            }),
        };
        out.insert(db.clone(), value);
    }
    serde_json::to_string_pretty(&json!({ "databases": out }))
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// The table form.
pub fn render_tables(findings: &Findings) -> Result<String, String> {
    let dbs = findings.as_ref().map_err(Clone::clone)?;
    let mut queues = vec![row(&[
        "DATABASE",
        "QUEUE",
        "TICKER LAG",
        "LATE",
        "NEW EV",
        "EV/S",
        "LAST TICK",
        "ROTATED",
        "PERIOD",
        "POLICY count/lag/idle",
        "RETRY",
        "STATE",
    ])];
    let mut consumers = vec![row(&[
        "DATABASE",
        "QUEUE",
        "CONSUMER",
        "LAG",
        "LAST SEEN",
        "PENDING",
        "BATCH",
    ])];
    let mut notes = Vec::new();
    for (db, finding) in dbs {
        let stats = match finding {
            DbFinding::NoPgq => continue,
            DbFinding::Error(e) => {
                notes.push(format!("{db}: {e}"));
                continue;
            }
            DbFinding::Stats(stats) => stats,
        };
        for q in &stats.queues {
            let mut state = Vec::new();
            if q.paused {
                state.push("paused");
            }
            if q.external_ticker {
                state.push("external ticker");
            }
            if q.step2_pending {
                state.push("step2 pending");
            }
            queues.push(vec![
                db.clone(),
                q.queue.clone(),
                human(q.ticker_lag),
                tick_overdue(q).map_or("-".into(), human),
                q.ev_new.to_string(),
                q.ev_per_sec.map_or("-".into(), |r| format!("{r:.1}")),
                q.last_tick_id.map_or("-".into(), |t| t.to_string()),
                human(q.since_rotation),
                human(q.rotation_period),
                format!(
                    "{}/{}/{}",
                    q.max_count,
                    human(q.max_lag),
                    human(q.idle_period)
                ),
                q.retry_events.to_string(),
                state.join(", "),
            ]);
        }
        for c in &stats.consumers {
            consumers.push(vec![
                db.clone(),
                c.queue.clone(),
                c.consumer.clone(),
                human(c.lag),
                human(c.last_seen),
                c.pending_events.map_or("-".into(), |n| n.to_string()),
                c.current_batch.map_or("-".into(), |b| b.to_string()),
            ]);
        }
    }
    let mut out = String::new();
    if queues.len() == 1 {
        out.push_str("No PgQ queues found.\n");
    } else {
        out.push_str(&table(&queues, &[0, 1, 11]));
        if consumers.len() > 1 {
            out.push('\n');
            out.push_str(&table(&consumers, &[0, 1, 2]));
        } else {
            out.push_str("\nNo consumers.\n");
        }
    }
    for note in notes {
        let _ = writeln!(out, "error: {note}");
    }
    Ok(out)
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// Left-aligns the `text` columns and right-aligns the rest, two spaces
/// apart.
fn table(rows: &[Vec<String>], text: &[usize]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let text_column = |i: usize| text.contains(&i);
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if text_column(i) {
                let _ = write!(line, "{cell:<w$}", w = widths[i]);
            } else {
                let _ = write!(line, "{cell:>w$}", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Seconds as a short human duration: `1.2s`, `4m05s`, `2h00m`, `3d04h`.
fn human(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".into();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let s = seconds.round() as u64;
    if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::{ConsumerStats, DbStats, QueueStats};

    #[test]
    fn durations_read_well() {
        assert_eq!(human(1.234), "1.2s");
        assert_eq!(human(245.0), "4m05s");
        assert_eq!(human(7200.0), "2h00m");
        assert_eq!(human(3.0 * 86_400.0 + 4.0 * 3600.0), "3d04h");
        assert_eq!(human(-1.0), "-");
    }

    #[test]
    fn tables_align_and_show_every_object() {
        let findings: Findings = Ok(BTreeMap::from([
            (
                "app".to_string(),
                DbFinding::Stats(DbStats {
                    queues: vec![QueueStats {
                        queue: "orders".into(),
                        ticker_lag: 1.5,
                        ev_new: 3,
                        ev_per_sec: Some(12.0),
                        last_tick_id: Some(99),
                        max_count: 500,
                        max_lag: 3.0,
                        idle_period: 60.0,
                        paused: false,
                        external_ticker: false,
                        rotation_period: 7200.0,
                        since_rotation: 61.0,
                        step2_pending: true,
                        retry_events: 0,
                        table_bytes: None,
                    }],
                    consumers: vec![ConsumerStats {
                        queue: "orders".into(),
                        consumer: "billing".into(),
                        lag: 2.0,
                        last_seen: 4000.0,
                        last_tick: Some(98),
                        current_batch: Some(7),
                        pending_events: Some(42),
                    }],
                }),
            ),
            (
                "broken".to_string(),
                DbFinding::Error("connecting: refused".into()),
            ),
        ]));
        let text = render_tables(&findings).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("DATABASE  QUEUE"));
        assert!(lines[1].contains("orders") && lines[1].contains("step2 pending"));
        assert!(lines[1].contains("500/3.0s/1m00s"), "{}", lines[1]);
        assert!(text.contains("billing") && text.contains("1h06m"));
        assert!(text.ends_with("error: broken: connecting: refused\n"));
        let json = render_json(&findings).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["databases"]["app"]["consumers"][0]["pending_events"], 42);
        assert_eq!(v["databases"]["broken"]["error"], "connecting: refused");
    }
}
