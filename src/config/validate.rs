//! Stage two: [`RawConfig`] to [`Config`], collecting every problem.
//!
//! The defaults below must agree with the `default` column of the key table;
//! the sample round-trip test in `tests.rs` enforces that.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::raw::{Field, RawBool, RawDatabase, RawDuration, RawList, RawQueue};
use super::{
    Config, ConfigError, DatabaseOverride, Loaded, Pattern, Problem, QueueOverride, RawConfig,
    SyslogFacility,
};

/// Where the parsed text came from, to turn byte spans into `file:line`.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    /// File name shown in messages.
    pub(crate) name: &'a str,
    /// The TOML text that was parsed (generated, for ini files).
    pub(crate) text: &'a str,
    /// For ini files: the `file:line` each generated TOML line came from.
    pub(crate) origins: Option<&'a [String]>,
}

impl Source<'_> {
    /// `file:line[:column]` of byte `offset`.
    pub(crate) fn locate(&self, offset: usize, with_column: bool) -> Option<String> {
        let before = self.text.get(..offset)?;
        let line = before.matches('\n').count() + 1;
        match self.origins {
            // Columns of generated text would mislead, so ini gets lines only.
            Some(origins) => origins.get(line - 1).cloned(),
            None if with_column => {
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                Some(format!("{}:{line}:{column}", self.name))
            }
            None => Some(format!("{}:{line}", self.name)),
        }
    }
}

struct Ctx<'a> {
    source: Option<&'a Source<'a>>,
    /// Problems with the offset they were found at, to report in file order.
    problems: Vec<(usize, Problem)>,
    warnings: Vec<String>,
}

/// Whether a duration may be zero.
#[derive(Clone, Copy, PartialEq)]
enum Zero {
    Allowed,
    Rejected,
}

impl Ctx<'_> {
    fn at(&self, span: &Range<usize>) -> Option<String> {
        self.source.and_then(|s| s.locate(span.start, false))
    }

    fn error(&mut self, span: &Range<usize>, message: String) {
        let location = self.at(span);
        self.problems
            .push((span.start, Problem::new(location, message)));
    }

    fn warn(&mut self, span: &Range<usize>, message: String) {
        let text = match self.at(span) {
            Some(at) => format!("{at}: {message}"),
            None => message,
        };
        self.warnings.push(text);
    }

    fn duration(
        &mut self,
        key: &str,
        field: Field<RawDuration>,
        default: Duration,
        zero: Zero,
    ) -> Duration {
        let Some(field) = field else { return default };
        let span = field.span();
        match parse_duration(field.get_ref()) {
            Ok(d) if d.is_zero() && zero == Zero::Rejected => {
                self.error(&span, format!("{key} must be greater than zero"));
                default
            }
            Ok(d) => d,
            Err(why) => {
                self.error(&span, format!("{key}: {why}"));
                default
            }
        }
    }

    fn opt_duration(
        &mut self,
        key: &str,
        field: Field<RawDuration>,
        zero: Zero,
    ) -> Option<Duration> {
        field
            .is_some()
            .then(|| self.duration(key, field, Duration::ZERO, zero))
    }

    fn text(field: Field<String>, default: &str) -> String {
        field.map_or_else(|| default.to_owned(), Spanned::into_inner)
    }

    fn nonempty_text(&mut self, key: &str, field: Field<String>, default: &str) -> String {
        match field {
            Some(f) if f.get_ref().trim().is_empty() => {
                self.error(&f.span(), format!("{key} must not be empty"));
                default.to_owned()
            }
            other => Self::text(other, default),
        }
    }

    fn count(&mut self, key: &str, field: Field<i64>, default: u32) -> u32 {
        let Some(field) = field else { return default };
        match u32::try_from(*field.get_ref()) {
            Ok(n) if n >= 1 => n,
            _ => {
                self.error(
                    &field.span(),
                    format!(
                        "{key} must be between 1 and {}, not {}",
                        u32::MAX,
                        field.get_ref()
                    ),
                );
                default
            }
        }
    }

    fn path(&mut self, key: &str, field: Field<String>) -> Option<PathBuf> {
        let field = field?;
        let text = field.get_ref().trim();
        if text.is_empty() {
            return None;
        }
        match expand_tilde(text) {
            Ok(p) => Some(p),
            Err(why) => {
                self.error(&field.span(), format!("{key}: {why}"));
                None
            }
        }
    }

    fn patterns(&mut self, key: &str, field: Field<RawList>, default: &[&str]) -> Vec<Pattern> {
        let Some(field) = field else {
            return default.iter().map(|p| Pattern::new(p)).collect();
        };
        let span = field.span();
        let mut out = Vec::new();
        for item in field.into_inner().0 {
            if item.is_empty() {
                self.error(&span, format!("{key}: empty pattern"));
            } else {
                out.push(Pattern::new(&item));
            }
        }
        out
    }

    fn flag(field: Field<RawBool>, default: bool) -> bool {
        field.map_or(default, |b| b.get_ref().0)
    }
}

/// Turns a written duration into a [`Duration`], or says why it cannot.
pub(crate) fn parse_duration(raw: &RawDuration) -> Result<Duration, String> {
    let secs = match raw {
        RawDuration::Seconds(s) => *s,
        RawDuration::Text(t) => match t.trim().parse::<f64>() {
            Ok(s) => s,
            Err(_) => {
                return humantime::parse_duration(t.trim()).map_err(|e| {
                    format!("invalid duration {t:?} ({e}); write e.g. \"500ms\", \"30s\", \"2m\" or a number of seconds")
                });
            }
        },
    };
    if secs < 0.0 {
        return Err(format!("duration must not be negative, got {secs}"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration of {secs} seconds"))
}

/// Expands `~` and `~user` at the start of a path, like the C ini reader.
fn expand_tilde(text: &str) -> Result<PathBuf, String> {
    let Some(rest) = text.strip_prefix('~') else {
        return Ok(PathBuf::from(text));
    };
    let (user, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let home = if user.is_empty() {
        std::env::var_os("HOME").map(PathBuf::from).or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
    } else {
        nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .map(|u| u.dir)
    };
    let home = home.ok_or_else(|| {
        format!(
            "cannot expand {text:?}: home directory of {} unknown",
            if user.is_empty() {
                "the current user"
            } else {
                user
            }
        )
    })?;
    Ok(if tail.is_empty() {
        home
    } else {
        home.join(tail)
    })
}

const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9879";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Validates `raw`; `source` (when known) turns spans into `file:line`.
pub(crate) fn validate_at(
    raw: RawConfig,
    source: Option<&Source<'_>>,
) -> Result<Loaded, ConfigError> {
    use Zero::{Allowed, Rejected};
    let mut c = Ctx {
        source,
        problems: Vec::new(),
        warnings: Vec::new(),
    };

    let base_connstr = Ctx::text(raw.base_connstr.clone(), "");
    if let Some(field) = &raw.base_connstr {
        match crate::connstr::parse_connstr(field.get_ref()) {
            Ok(pairs) => {
                if pairs.iter().any(|(k, _)| k == "dbname") {
                    c.warn(
                        &field.span(),
                        "base_connstr: its dbname is replaced by each database's name".to_owned(),
                    );
                }
            }
            Err(e) => c.error(&field.span(), format!("base_connstr: {e}")),
        }
    }

    let database_list = match raw.database_list {
        None => Vec::new(),
        Some(field) => {
            let span = field.span();
            let names = field.into_inner().0;
            if names.iter().any(String::is_empty) {
                c.error(&span, "database_list: empty database name".to_owned());
            }
            names.into_iter().filter(|n| !n.is_empty()).collect()
        }
    };

    let syslog_facility = match raw.syslog_facility {
        None => SyslogFacility::Daemon,
        Some(f) => match f.get_ref().parse() {
            Ok(fac) => fac,
            Err(e) => {
                c.error(&f.span(), format!("syslog_facility: {e}"));
                SyslogFacility::Daemon
            }
        },
    };

    let metrics_listen = {
        let text = raw
            .metrics_listen
            .as_ref()
            .map_or(DEFAULT_METRICS_LISTEN, |f| f.get_ref().as_str())
            .trim();
        if text.is_empty() {
            None
        } else {
            match text.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    let span = raw
                        .metrics_listen
                        .as_ref()
                        .map(Spanned::span)
                        .unwrap_or_default();
                    c.error(&span, format!("metrics_listen: {text:?} is not an IP:port address such as \"127.0.0.1:9879\" or \"[::1]:9879\" (empty disables)"));
                    None
                }
            }
        }
    };

    let reconnect_min_span = raw.reconnect_min.as_ref().map(Spanned::span);
    let config = Config {
        base_connstr,
        initial_database: c.nonempty_text("initial_database", raw.initial_database, "postgres"),
        database_list,
        ticker_period: c.duration("ticker_period", raw.ticker_period, secs(1), Rejected),
        maint_period: c.duration("maint_period", raw.maint_period, secs(120), Rejected),
        retry_period: c.duration("retry_period", raw.retry_period, secs(30), Rejected),
        check_period: c.duration("check_period", raw.check_period, secs(60), Rejected),
        stats_period: c.duration("stats_period", raw.stats_period, secs(30), Rejected),
        connection_lifetime: c.duration(
            "connection_lifetime",
            raw.connection_lifetime,
            secs(3600),
            Rejected,
        ),
        logfile: c.path("logfile", raw.logfile),
        pidfile: c.path("pidfile", raw.pidfile),
        syslog: Ctx::flag(raw.syslog, true),
        syslog_ident: c.nonempty_text("syslog_ident", raw.syslog_ident, "pgqd"),
        syslog_facility,
        metrics_listen,
        application_name: Ctx::text(raw.application_name, "pgqd"),
        connect_timeout: c.duration("connect_timeout", raw.connect_timeout, secs(10), Allowed),
        statement_timeout: c.duration(
            "statement_timeout",
            raw.statement_timeout,
            secs(30),
            Allowed,
        ),
        maint_statement_timeout: c.duration(
            "maint_statement_timeout",
            raw.maint_statement_timeout,
            secs(600),
            Allowed,
        ),
        lock_timeout: c.duration("lock_timeout", raw.lock_timeout, secs(5), Allowed),
        reconnect_min: c.duration(
            "reconnect_min",
            raw.reconnect_min,
            Duration::from_millis(250),
            Rejected,
        ),
        reconnect_max: c.duration("reconnect_max", raw.reconnect_max, secs(30), Rejected),
        max_maint_connections: c.count("max_maint_connections", raw.max_maint_connections, 4),
        ha_lock: Ctx::flag(raw.ha_lock, true),
        refresh_period: c.duration("refresh_period", raw.refresh_period, secs(10), Rejected),
        exclude_databases: c.patterns("exclude_databases", raw.exclude_databases, &[]),
        shutdown_timeout: c.duration("shutdown_timeout", raw.shutdown_timeout, secs(10), Allowed),
        maint_max_repeats: c.count("maint_max_repeats", raw.maint_max_repeats, 1000),
        retry_batch_max: c.count("retry_batch_max", raw.retry_batch_max, 100),
        metrics_include_queues: c.patterns(
            "metrics_include_queues",
            raw.metrics_include_queues,
            &["*"],
        ),
        metrics_exclude_queues: c.patterns(
            "metrics_exclude_queues",
            raw.metrics_exclude_queues,
            &[],
        ),
        metrics_include_consumers: c.patterns(
            "metrics_include_consumers",
            raw.metrics_include_consumers,
            &["*"],
        ),
        metrics_exclude_consumers: c.patterns(
            "metrics_exclude_consumers",
            raw.metrics_exclude_consumers,
            &[".*", "*.watermark", "*_watermark"],
        ),
        stuck_consumer_after: c.duration(
            "stuck_consumer_after",
            raw.stuck_consumer_after,
            secs(300),
            Rejected,
        ),
        databases: raw
            .database
            .into_iter()
            .filter_map(|d| database(&mut c, d))
            .collect(),
        queues: raw
            .queue
            .into_iter()
            .filter_map(|q| queue(&mut c, q))
            .collect(),
    };

    if config.reconnect_min > config.reconnect_max {
        c.error(
            &reconnect_min_span.unwrap_or_default(),
            format!(
                "reconnect_min ({}) must not exceed reconnect_max ({})",
                humantime::format_duration(config.reconnect_min),
                humantime::format_duration(config.reconnect_max)
            ),
        );
    }

    if c.problems.is_empty() {
        Ok(Loaded {
            config,
            warnings: c.warnings,
        })
    } else {
        c.problems.sort_by_key(|(offset, _)| *offset);
        Err(ConfigError {
            problems: c.problems.into_iter().map(|(_, p)| p).collect(),
        })
    }
}

fn required_pattern(
    c: &mut Ctx<'_>,
    table: &str,
    entry: &Range<usize>,
    name: Field<String>,
) -> Option<Pattern> {
    match name {
        Some(n) if !n.get_ref().is_empty() => Some(Pattern::new(n.get_ref())),
        Some(n) => {
            c.error(&n.span(), format!("[[{table}]] name must not be empty"));
            None
        }
        None => {
            c.error(entry, format!("[[{table}]] table has no name"));
            None
        }
    }
}

fn database(c: &mut Ctx<'_>, entry: Spanned<RawDatabase>) -> Option<DatabaseOverride> {
    let span = entry.span();
    let d = entry.into_inner();
    let name = required_pattern(c, "database", &span, d.name);
    let ticker_period = c.opt_duration("ticker_period", d.ticker_period, Zero::Rejected);
    let maint_period = c.opt_duration("maint_period", d.maint_period, Zero::Rejected);
    let retry_period = c.opt_duration("retry_period", d.retry_period, Zero::Rejected);
    Some(DatabaseOverride {
        name: name?,
        ticker_period,
        maint_period,
        retry_period,
        enabled: d.enabled.map(|b| b.get_ref().0),
    })
}

fn queue(c: &mut Ctx<'_>, entry: Spanned<RawQueue>) -> Option<QueueOverride> {
    let span = entry.span();
    let q = entry.into_inner();
    let name = required_pattern(c, "queue", &span, q.name);
    let database = Pattern::new(q.database.as_ref().map_or("*", |d| d.get_ref().as_str()));
    let ticker_max_count = match q.ticker_max_count {
        None => None,
        Some(n) => match u64::try_from(*n.get_ref()) {
            Ok(v) if v >= 1 => Some(v),
            _ => {
                c.error(
                    &n.span(),
                    format!("ticker_max_count must be at least 1, not {}", n.get_ref()),
                );
                None
            }
        },
    };
    let ticker_max_lag = c.opt_duration("ticker_max_lag", q.ticker_max_lag, Zero::Rejected);
    let ticker_idle_period =
        c.opt_duration("ticker_idle_period", q.ticker_idle_period, Zero::Rejected);
    Some(QueueOverride {
        database,
        name: name?,
        ticker_max_count,
        ticker_max_lag,
        ticker_idle_period,
        ticker_paused: q.ticker_paused.map(|b| b.get_ref().0),
    })
}
