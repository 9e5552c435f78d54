//! The check's judgement: a pure function from what was read in the
//! cluster and the thresholds to a state, one summary line, long text and
//! performance data, so that it is unit- and golden-tested without a
//! server.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::range::{Range, RangeError};
use crate::engine::DbStats;
use crate::monitor::tick_overdue;

/// A Monitoring Plugins state; the exit code is its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Exit 0.
    Ok,
    /// Exit 1.
    Warning,
    /// Exit 3: the plugin could not judge.
    Unknown,
    /// Exit 2.
    Critical,
}

impl State {
    /// The plugin exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    /// The state's name in output.
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

/// What the check measures, each with its own thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Seconds a queue's due tick is late by its own policy (is anybody
    /// ticking?).
    TickerDelay,
    /// Seconds since a queue's last tick.
    TickerLag,
    /// Age of a consumer's position.
    ConsumerLag,
    /// Seconds since a consumer last finished a batch.
    LastSeen,
    /// Events ticked but not yet processed by a consumer.
    PendingEvents,
    /// Seconds a queue's rotation is past its rotation period.
    RotationDelay,
    /// Seconds rotation step 2 has been pending after step 1.
    Step2Age,
    /// Events waiting in the retry queue for a queue.
    RetryEvents,
}

impl Metric {
    /// Every metric, in output order.
    pub const ALL: [Metric; 8] = [
        Metric::TickerDelay,
        Metric::TickerLag,
        Metric::ConsumerLag,
        Metric::LastSeen,
        Metric::PendingEvents,
        Metric::RotationDelay,
        Metric::Step2Age,
        Metric::RetryEvents,
    ];

    /// The name used in `-w`/`-c` and perfdata.
    pub fn name(self) -> &'static str {
        match self {
            Metric::TickerDelay => "ticker_delay",
            Metric::TickerLag => "ticker_lag",
            Metric::ConsumerLag => "consumer_lag",
            Metric::LastSeen => "last_seen",
            Metric::PendingEvents => "pending_events",
            Metric::RotationDelay => "rotation_delay",
            Metric::Step2Age => "step2_age",
            Metric::RetryEvents => "retry_events",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::PendingEvents | Metric::RetryEvents => "",
            _ => "s",
        }
    }

    /// Default (warning, critical) thresholds, after common practice for
    /// PgQ (mamonsu's Zabbix template, PgQue's health rules): a due tick
    /// late by 5 s / 30 s; consumer lag 10 min / 1 h; not seen for 10 / 20
    /// min; 5000 pending events; rotation an hour late; step 2 pending 10
    /// min / 1 h.
    pub fn defaults(self) -> (Option<&'static str>, Option<&'static str>) {
        match self {
            Metric::TickerDelay => (Some("5"), Some("30")),
            Metric::TickerLag => (None, None),
            Metric::ConsumerLag => (Some("600"), Some("3600")),
            Metric::LastSeen => (Some("600"), Some("1200")),
            Metric::PendingEvents => (Some("5000"), None),
            Metric::RotationDelay => (Some("3600"), None),
            Metric::Step2Age => (Some("600"), Some("3600")),
            Metric::RetryEvents => (None, None),
        }
    }

    fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Warning and critical ranges per metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    ranges: BTreeMap<Metric, (Option<Range>, Option<Range>)>,
}

/// A `-w`/`-c` argument that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Not `metric=range`.
    #[error("bad threshold {0:?}: expected metric=range, e.g. consumer_lag=600")]
    Syntax(String),
    /// An unknown metric name.
    #[error("unknown metric {0:?}; known: {1}")]
    Metric(String, String),
    /// A bad range.
    #[error(transparent)]
    Range(#[from] RangeError),
}

impl Default for Thresholds {
    fn default() -> Self {
        let parse = |r: Option<&str>| r.map(|r| r.parse().expect("built-in range"));
        Thresholds {
            ranges: Metric::ALL
                .into_iter()
                .map(|m| {
                    let (w, c) = m.defaults();
                    (m, (parse(w), parse(c)))
                })
                .collect(),
        }
    }
}

impl Thresholds {
    /// Applies a `-w` (`critical = false`) or `-c` list such as
    /// `ticker_delay=10,consumer_lag=300:` on top of the current ranges; an
    /// empty range (`pending_events=`) removes that threshold.
    pub fn apply(&mut self, list: &str, critical: bool) -> Result<(), ThresholdError> {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, range) = item
                .split_once('=')
                .ok_or_else(|| ThresholdError::Syntax(item.to_owned()))?;
            let metric = Metric::from_name(name.trim()).ok_or_else(|| {
                ThresholdError::Metric(
                    name.trim().to_owned(),
                    Metric::ALL.map(Metric::name).join(", "),
                )
            })?;
            let range = match range.trim() {
                "" => None,
                r => Some(r.parse::<Range>()?),
            };
            let slot = self.ranges.entry(metric).or_insert((None, None));
            if critical {
                slot.1 = range;
            } else {
                slot.0 = range;
            }
        }
        Ok(())
    }

    fn get(&self, metric: Metric) -> (Option<&Range>, Option<&Range>) {
        self.ranges
            .get(&metric)
            .map_or((None, None), |(w, c)| (w.as_ref(), c.as_ref()))
    }

    fn judge(&self, metric: Metric, value: f64) -> State {
        let (w, c) = self.get(metric);
        if c.is_some_and(|c| c.alerts(value)) {
            State::Critical
        } else if w.is_some_and(|w| w.alerts(value)) {
            State::Warning
        } else {
            State::Ok
        }
    }
}

/// What was found in one database.
#[derive(Debug, Clone, PartialEq)]
pub enum DbFinding {
    /// No PgQ here.
    NoPgq,
    /// Figures were read.
    Stats(DbStats),
    /// The database could not be read, and why.
    Error(String),
}

/// What was read in the cluster, or why nothing could be.
pub type Findings = Result<BTreeMap<String, DbFinding>, String>;

/// The check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The overall state.
    pub state: State,
    /// The text after `PGQD <STATE> - ` on the first line.
    pub summary: String,
    /// Long text lines: problems, then (verbose) everything else.
    pub details: Vec<String>,
    /// Performance data, already formatted.
    pub perfdata: Vec<String>,
}

impl Outcome {
    /// The plugin output: one line with perfdata, then the long text.
    pub fn render(&self) -> String {
        let mut out = format!("PGQD {} - {}", self.state.name(), self.summary);
        if !self.perfdata.is_empty() {
            let _ = write!(out, " | {}", self.perfdata.join(" "));
        }
        out.push('\n');
        for line in &self.details {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// An outcome without figures: UNKNOWN with a reason, for bad
    /// arguments, timeouts and unreachable clusters.
    pub fn unknown(reason: impl Into<String>) -> Outcome {
        Outcome {
            state: State::Unknown,
            summary: reason.into(),
            details: vec![],
            perfdata: vec![],
        }
    }
}

/// One judged figure.
struct Item {
    state: State,
    metric: Metric,
    value: f64,
    what: String,
}

impl Item {
    fn describe(&self) -> String {
        format!(
            "{} {}={}",
            self.what,
            self.metric.name(),
            show(self.value, self.metric.unit())
        )
    }
}

fn show(value: f64, unit: &str) -> String {
    if unit.is_empty() {
        format!("{value:.0}")
    } else {
        format!("{value:.1}{unit}")
    }
}

/// Judges the findings. `verbose` lists every figure in the long text,
/// not only the problems.
pub fn evaluate(findings: &Findings, thresholds: &Thresholds, verbose: bool) -> Outcome {
    let dbs = match findings {
        Ok(dbs) => dbs,
        Err(reason) => return Outcome::unknown(reason.clone()),
    };
    let mut items: Vec<Item> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let (mut pgq_dbs, mut queues, mut consumers) = (0, 0, 0);
    for (db, finding) in dbs {
        let stats = match finding {
            DbFinding::NoPgq => continue,
            DbFinding::Error(e) => {
                errors.push(format!("{db}: {e}"));
                continue;
            }
            DbFinding::Stats(stats) => stats,
        };
        pgq_dbs += 1;
        for q in &stats.queues {
            queues += 1;
            let what = format!("{db}/{}", q.queue);
            let mut add = |metric: Metric, value: f64| {
                items.push(Item {
                    state: thresholds.judge(metric, value),
                    metric,
                    value,
                    what: what.clone(),
                });
            };
            if let Some(delay) = tick_overdue(q) {
                add(Metric::TickerDelay, delay);
                add(Metric::TickerLag, q.ticker_lag);
            }
            add(
                Metric::RotationDelay,
                (q.since_rotation - q.rotation_period).max(0.0),
            );
            add(
                Metric::Step2Age,
                if q.step2_pending {
                    q.since_rotation
                } else {
                    0.0
                },
            );
            add(Metric::RetryEvents, q.retry_events as f64);
        }
        for c in &stats.consumers {
            consumers += 1;
            let what = format!("{db}/{}/{}", c.queue, c.consumer);
            for (metric, value) in [
                (Metric::ConsumerLag, Some(c.lag)),
                (Metric::LastSeen, Some(c.last_seen)),
                (Metric::PendingEvents, c.pending_events.map(|n| n as f64)),
            ] {
                if let Some(value) = value {
                    items.push(Item {
                        state: thresholds.judge(metric, value),
                        metric,
                        value,
                        what: what.clone(),
                    });
                }
            }
        }
    }
    // Worst first, then by object and metric, so output is stable.
    items.sort_by(|a, b| {
        b.state
            .cmp(&a.state)
            .then(a.what.cmp(&b.what))
            .then(a.metric.cmp(&b.metric))
    });
    let mut state = items.first().map_or(State::Ok, |i| i.state);
    if !errors.is_empty() {
        state = state.max(State::Unknown);
    }
    let problems: Vec<&Item> = items.iter().filter(|i| i.state != State::Ok).collect();
    let counts = format!(
        "{pgq_dbs} db{}, {queues} queue{}, {consumers} consumer{}",
        plural(pgq_dbs),
        plural(queues),
        plural(consumers)
    );
    let summary = if let Some(worst) = problems.first() {
        let more = problems.len() - 1 + errors.len();
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        format!("{}{more}; {counts}", worst.describe())
    } else if let Some(first) = errors.first() {
        let more = if errors.len() > 1 {
            format!(" (+{} more)", errors.len() - 1)
        } else {
            String::new()
        };
        format!("{first}{more}; {counts}")
    } else if queues == 0 {
        format!("no PgQ queues found; {counts}")
    } else {
        counts.clone()
    };
    let mut details: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {e}", State::Unknown.name()))
        .collect();
    for item in &items {
        if item.state != State::Ok || verbose {
            details.push(format!("{}: {}", item.state.name(), item.describe()));
        }
    }
    let mut perfdata = Vec::new();
    for metric in Metric::ALL {
        let max = items
            .iter()
            .filter(|i| i.metric == metric)
            .map(|i| i.value)
            .reduce(f64::max);
        let Some(max) = max else { continue };
        let (w, c) = thresholds.get(metric);
        let range = |r: Option<&Range>| r.map(ToString::to_string).unwrap_or_default();
        let value = if metric.unit().is_empty() {
            format!("{max:.0}")
        } else {
            format!("{max:.3}{}", metric.unit())
        };
        perfdata.push(format!(
            "'{}'={value};{};{};0;",
            metric.name(),
            range(w),
            range(c)
        ));
    }
    for (name, n) in [
        ("databases", pgq_dbs),
        ("queues", queues),
        ("consumers", consumers),
    ] {
        perfdata.push(format!("'{name}'={n};;;0;"));
    }
    Outcome {
        state,
        summary,
        details,
        perfdata,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
