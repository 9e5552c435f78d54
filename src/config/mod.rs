//! Configuration: the TOML file and the legacy C `pgqd.ini`, read into one
//! validated [`Config`].
//!
//! Loading has two stages. Serde reads the text into a [`RawConfig`] that
//! keeps every value as written together with its position; [`validate`]
//! then turns it into typed values ([`Duration`]s, socket addresses, glob
//! [`Pattern`]s) and collects *every* problem, so `pgqd --check-config`
//! shows them all at once. The legacy ini is translated to TOML first and
//! goes through the same validator (see `ini.rs`).
//!
//! Invariants of a [`Config`]: every period is greater than zero,
//! `reconnect_min <= reconnect_max`, counts are at least 1, and
//! `Config::default()` equals the result of loading an empty TOML file.
//!
//! Key metadata (defaults, descriptions, reload behaviour) lives in one table,
//! [`KEYS`], which also produces [`sample_config`] and [`sample_ini`].

mod ini;
mod keys;
mod raw;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;
use wildmatch::WildMatch;

pub use keys::{KEYS, KeyInfo, KeyKind, Reload, key_info, sample_config, sample_ini};
pub use raw::{RawBool, RawConfig, RawDatabase, RawDuration, RawList, RawQueue};

/// Syntax of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The native TOML format.
    Toml,
    /// The C pgqd's ini format with a `[pgqd]` section.
    Ini,
}

impl Format {
    /// Guesses the format: a `.ini` extension or a `[pgqd]` section header
    /// means the legacy format, anything else is TOML.
    ///
    /// A `[pgqd]` header cannot occur in a valid pgqd TOML file (there is no
    /// such table), so the content test cannot misclassify a TOML file.
    #[must_use]
    pub fn detect(path: Option<&Path>, text: &str) -> Format {
        if path
            .and_then(Path::extension)
            .is_some_and(|e| e.eq_ignore_ascii_case("ini"))
        {
            return Format::Ini;
        }
        if text.lines().any(|l| l.trim() == "[pgqd]") {
            return Format::Ini;
        }
        Format::Toml
    }
}

/// One thing wrong with a configuration, with its `file:line` when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `file:line` (or `file:line:column`) of the offending text, if known.
    pub location: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(location: Option<String>, message: impl Into<String>) -> Self {
        Problem {
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A configuration that cannot be used; lists every problem found.
///
/// `Display` prints one problem per line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", display_problems(.problems))]
pub struct ConfigError {
    /// Every problem found, in file order where possible. Never empty.
    pub problems: Vec<Problem>,
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A successfully loaded configuration and the non-fatal remarks about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Warnings to log (unknown legacy keys, renamed keys, ignored values).
    pub warnings: Vec<String>,
}

/// A glob pattern over names: `*` matches any run of characters, `?` one
/// character; everything else matches itself, case-sensitively.
///
/// Equality compares the pattern text.
#[derive(Clone)]
pub struct Pattern {
    text: String,
    matcher: WildMatch,
}

impl Pattern {
    /// Compiles a pattern. Every string is a valid pattern.
    #[must_use]
    pub fn new(text: &str) -> Self {
        Pattern {
            text: text.to_owned(),
            matcher: WildMatch::new(text),
        }
    }

    /// Whether `name` matches the pattern as a whole.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        self.matcher.matches(name)
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn any_match(patterns: &[Pattern], name: &str) -> bool {
    patterns.iter().any(|p| p.matches(name))
}

/// Syslog facilities the C pgqd accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // The variant names are the facility names.
pub enum SyslogFacility {
    Auth,
    Authpriv,
    Daemon,
    User,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl SyslogFacility {
    const ALL: [(&'static str, SyslogFacility); 12] = [
        ("auth", SyslogFacility::Auth),
        ("authpriv", SyslogFacility::Authpriv),
        ("daemon", SyslogFacility::Daemon),
        ("user", SyslogFacility::User),
        ("local0", SyslogFacility::Local0),
        ("local1", SyslogFacility::Local1),
        ("local2", SyslogFacility::Local2),
        ("local3", SyslogFacility::Local3),
        ("local4", SyslogFacility::Local4),
        ("local5", SyslogFacility::Local5),
        ("local6", SyslogFacility::Local6),
        ("local7", SyslogFacility::Local7),
    ];

    /// The facility's name as written in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("daemon", |(n, _)| n)
    }
}

/// The error of parsing an unknown syslog facility name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown syslog facility {0:?} (expected auth, authpriv, daemon, user or local0 to local7)"
)]
pub struct UnknownFacility(pub String);

impl FromStr for SyslogFacility {
    type Err = UnknownFacility;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, f)| *f)
            .ok_or_else(|| UnknownFacility(s.to_owned()))
    }
}

/// One `[[database]]` override table (TOML only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseOverride {
    /// Database names this entry applies to.
    pub name: Pattern,
    /// Replaces [`Config::ticker_period`] when set.
    pub ticker_period: Option<Duration>,
    /// Replaces [`Config::maint_period`] when set.
    pub maint_period: Option<Duration>,
    /// Replaces [`Config::retry_period`] when set.
    pub retry_period: Option<Duration>,
    /// `false` makes pgqd leave matching databases alone; `true` serves them
    /// even when [`Config::exclude_databases`] matches.
    pub enabled: Option<bool>,
}

/// One `[[queue]]` override table (TOML only): PgQ ticker settings that pgqd
/// keeps applied to matching queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOverride {
    /// Database names this entry applies to (`*` when not given).
    pub database: Pattern,
    /// Queue names this entry applies to.
    pub name: Pattern,
    /// PgQ `ticker_max_count`: events that force a tick.
    pub ticker_max_count: Option<u64>,
    /// PgQ `ticker_max_lag`: longest time between ticks while events arrive.
    pub ticker_max_lag: Option<Duration>,
    /// PgQ `ticker_idle_period`: time between ticks on an idle queue.
    pub ticker_idle_period: Option<Duration>,
    /// PgQ `ticker_paused`: stop ticking the queue.
    pub ticker_paused: Option<bool>,
}

/// Effective settings of one database after applying `[[database]]`
/// overrides and `exclude_databases`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbSettings {
    /// Whether pgqd should serve the database at all.
    pub enabled: bool,
    /// Pause between ticks.
    pub ticker_period: Duration,
    /// Pause between maintenance rounds.
    pub maint_period: Duration,
    /// Pause between retry-queue drains.
    pub retry_period: Duration,
}

/// Queue settings from `[[queue]]` tables; `None` leaves PgQ's own value alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueOverrides {
    /// PgQ `ticker_max_count`.
    pub ticker_max_count: Option<u64>,
    /// PgQ `ticker_max_lag`.
    pub ticker_max_lag: Option<Duration>,
    /// PgQ `ticker_idle_period`.
    pub ticker_idle_period: Option<Duration>,
    /// PgQ `ticker_paused`.
    pub ticker_paused: Option<bool>,
}

impl QueueOverrides {
    /// Whether no table set anything for the queue.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == QueueOverrides::default()
    }
}

/// The validated configuration.
///
/// Plain data: cloning copies a few short vectors, which is cheap enough for
/// a value that changes only at SIGHUP. Each field's documentation gives its
/// meaning, unit, default and what a SIGHUP reload does with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// libpq connection string (key/value or URI) shared by all connections,
    /// without a dbname; a dbname given here is replaced by each database's
    /// name. Default `""` (libpq defaults, `PG*` variables, `~/.pgpass`).
    /// Reload: new connections only.
    pub base_connstr: String,
    /// Database used to list the cluster's databases. Default `postgres`.
    /// The C default was `template1`; we avoid it because any session on
    /// template1 makes `CREATE DATABASE` fail with "source database is being
    /// accessed by other users". Reload: next discovery.
    pub initial_database: String,
    /// Databases to serve; empty means auto-detect all databases that allow
    /// connections. Default empty. Reload: immediate.
    pub database_list: Vec<String>,
    /// Latency slack of the tick schedule: an idle queue is looked at again
    /// within its `ticker_max_lag` plus this, a busy one when its max lag
    /// comes round (the C daemon called `pgq.ticker()` at this fixed pause).
    /// Default 1 s. Reload: next cycle.
    pub ticker_period: Duration,
    /// Pause between maintenance rounds. Default 2 min. Reload: next cycle.
    pub maint_period: Duration,
    /// Pause between retry-queue drains. Default 30 s. Reload: next cycle.
    pub retry_period: Duration,
    /// Interval of database re-discovery and of re-probing databases without
    /// pgq. Default 60 s. Reload: next cycle.
    pub check_period: Duration,
    /// Interval of the statistics log line; greater than zero. Default 30 s.
    /// Reload: next cycle.
    pub stats_period: Duration,
    /// Age at which the ticker connection is recycled. Default 1 h.
    /// Reload: next cycle.
    pub connection_lifetime: Duration,
    /// Log file (appended; reopened at SIGHUP so logrotate works), `~`
    /// expanded. Default none (stderr or journald). Reload: immediate.
    pub logfile: Option<PathBuf>,
    /// Pid file, `~` expanded. Default none. Reload: needs a restart.
    pub pidfile: Option<PathBuf>,
    /// Also log to syslog. Default true (as the C pgqd). Reload: restart.
    pub syslog: bool,
    /// Syslog identity. Default `pgqd`. Reload: restart.
    pub syslog_ident: String,
    /// Syslog facility. Default `daemon`. Reload: restart.
    pub syslog_facility: SyslogFacility,
    /// Address of the Prometheus `/metrics` endpoint; `None` (written as an
    /// empty string) disables it. Default `127.0.0.1:9879`. Reload: restart.
    pub metrics_listen: Option<SocketAddr>,
    /// `application_name` of pgqd's sessions when neither base_connstr nor
    /// `PGAPPNAME` sets one. Default `pgqd`. Reload: new connections.
    pub application_name: String,
    /// Connection attempt timeout; zero waits forever. Default 10 s.
    /// Reload: new connections.
    pub connect_timeout: Duration,
    /// `statement_timeout` of ticker and retry sessions; zero disables.
    /// Default 30 s. Reload: new connections.
    pub statement_timeout: Duration,
    /// `statement_timeout` of maintenance sessions, including VACUUM; zero
    /// disables. Default 10 min. Reload: new connections.
    pub maint_statement_timeout: Duration,
    /// `lock_timeout` of all sessions; zero disables. Default 5 s.
    /// Reload: new connections.
    pub lock_timeout: Duration,
    /// First reconnect delay after a failure; doubles on each further failure.
    /// Default 250 ms. Reload: next cycle.
    pub reconnect_min: Duration,
    /// Upper bound of the reconnect delay. Default 30 s. Reload: next cycle.
    pub reconnect_max: Duration,
    /// Cluster-wide cap on concurrently open maintenance connections; at
    /// least 1. Default 4. Reload: restart.
    pub max_maint_connections: u32,
    /// Hold a per-database session advisory lock so that only one daemon
    /// ticks a database. Default true. Reload: new connections.
    pub ha_lock: bool,
    /// How often queue and consumer figures for metrics are refreshed.
    /// Default 10 s. Reload: next cycle.
    pub refresh_period: Duration,
    /// Databases never served, even when auto-detected or listed (a
    /// `[[database]]` table with `enabled = true` wins). Default none.
    /// Reload: immediate.
    pub exclude_databases: Vec<Pattern>,
    /// How long shutdown waits for running statements. Default 10 s.
    /// Reload: immediate.
    pub shutdown_timeout: Duration,
    /// Bound on "call again" repeats of one maintenance operation; at least 1.
    /// Default 1000. Reload: next cycle.
    pub maint_max_repeats: u32,
    /// Most `pgq.maint_retry_events()` calls per round; at least 1. Rounds
    /// follow each other until no retry event is due, and other maintenance
    /// may take the connection slot between them. Default 100. Reload: next
    /// cycle.
    pub retry_batch_max: u32,
    /// Queues that get per-queue metrics. Default `["*"]`. Reload: next cycle.
    pub metrics_include_queues: Vec<Pattern>,
    /// Queues that never get per-queue metrics. Default none. Reload: next cycle.
    pub metrics_exclude_queues: Vec<Pattern>,
    /// Consumers that get per-consumer metrics. Default `["*"]`.
    /// Reload: next cycle.
    pub metrics_include_consumers: Vec<Pattern>,
    /// Consumers that never get per-consumer metrics. Default
    /// `[".*", "*.watermark", "*_watermark"]` (internal consumers, whose
    /// names start with a dot, and Londiste's watermark consumers). Reload: next cycle.
    pub metrics_exclude_consumers: Vec<Pattern>,
    /// A consumer whose position has not moved for this long while its
    /// queue kept ticking, and that finished no batch for as long, is
    /// reported as stuck. Default 5 min.
    /// Reload: next cycle.
    pub stuck_consumer_after: Duration,
    /// `[[database]]` tables in file order. Reload: next cycle.
    pub databases: Vec<DatabaseOverride>,
    /// `[[queue]]` tables in file order. Reload: next cycle.
    pub queues: Vec<QueueOverride>,
}

impl Default for Config {
    fn default() -> Self {
        // The built-in defaults are checked by a unit test, so this cannot fail.
        validate(RawConfig::default())
            .map(|l| l.config)
            .unwrap_or_else(|e| unreachable!("built-in defaults are invalid: {e}"))
    }
}

impl Config {
    /// Effective settings of database `db`. For each key the first matching
    /// `[[database]]` table that sets it wins; otherwise the global value
    /// applies. A database is enabled unless the first matching table that
    /// sets `enabled` says false, or no table sets it and
    /// `exclude_databases` matches.
    #[must_use]
    pub fn database_settings(&self, db: &str) -> DbSettings {
        let matching = || self.databases.iter().filter(|o| o.name.matches(db));
        DbSettings {
            enabled: matching()
                .find_map(|o| o.enabled)
                .unwrap_or_else(|| !any_match(&self.exclude_databases, db)),
            ticker_period: matching()
                .find_map(|o| o.ticker_period)
                .unwrap_or(self.ticker_period),
            maint_period: matching()
                .find_map(|o| o.maint_period)
                .unwrap_or(self.maint_period),
            retry_period: matching()
                .find_map(|o| o.retry_period)
                .unwrap_or(self.retry_period),
        }
    }

    /// Queue settings for `queue` in database `db`; for each key the first
    /// matching `[[queue]]` table that sets it wins.
    #[must_use]
    pub fn queue_overrides(&self, db: &str, queue: &str) -> QueueOverrides {
        let matching = || {
            self.queues
                .iter()
                .filter(|o| o.database.matches(db) && o.name.matches(queue))
        };
        QueueOverrides {
            ticker_max_count: matching().find_map(|o| o.ticker_max_count),
            ticker_max_lag: matching().find_map(|o| o.ticker_max_lag),
            ticker_idle_period: matching().find_map(|o| o.ticker_idle_period),
            ticker_paused: matching().find_map(|o| o.ticker_paused),
        }
    }

    /// Whether `queue` gets per-queue metrics.
    #[must_use]
    pub fn metrics_queue_wanted(&self, queue: &str) -> bool {
        any_match(&self.metrics_include_queues, queue)
            && !any_match(&self.metrics_exclude_queues, queue)
    }

    /// Whether `consumer` gets per-consumer metrics.
    #[must_use]
    pub fn metrics_consumer_wanted(&self, consumer: &str) -> bool {
        any_match(&self.metrics_include_consumers, consumer)
            && !any_match(&self.metrics_exclude_consumers, consumer)
    }

    /// Keys whose value differs between `self` and `new` but which only take
    /// effect after a restart, so a reload can warn about them.
    #[must_use]
    pub fn restart_needed_for(&self, new: &Config) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut check = |name: &'static str, changed: bool| {
            if changed {
                keys.push(name);
            }
        };
        check("pidfile", self.pidfile != new.pidfile);
        check("syslog", self.syslog != new.syslog);
        check("syslog_ident", self.syslog_ident != new.syslog_ident);
        check(
            "syslog_facility",
            self.syslog_facility != new.syslog_facility,
        );
        check("metrics_listen", self.metrics_listen != new.metrics_listen);
        check(
            "max_maint_connections",
            self.max_maint_connections != new.max_maint_connections,
        );
        keys
    }
}

/// Validates a [`RawConfig`] read by other means (positions are then unknown).
///
/// # Errors
/// Every invalid value, each as its own [`Problem`].
pub fn validate(raw: RawConfig) -> Result<Loaded, ConfigError> {
    validate::validate_at(raw, None)
}

/// Reads and validates the configuration file at `path`, guessing its format
/// with [`Format::detect`].
///
/// # Errors
/// Every problem found: an unreadable file, a syntax error, unknown TOML
/// keys, and each invalid value, with `file:line` where known.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![Problem::new(
            None,
            format!("reading config file {}: {e}", path.display()),
        )],
    })?;
    let format = Format::detect(Some(path), &text);
    let name = path.display().to_string();
    parse_named(&text, format, &name, path.parent(), &|p| {
        std::fs::read_to_string(p)
    })
}

/// Parses configuration text in the given format. Legacy `%include` paths
/// are resolved against the current directory.
///
/// # Errors
/// As [`load_file`], with locations named `<config>`.
pub fn parse_str(text: &str, format: Format) -> Result<Loaded, ConfigError> {
    parse_named(text, format, "<config>", None, &|p| {
        std::fs::read_to_string(p)
    })
}

fn parse_named(
    text: &str,
    format: Format,
    name: &str,
    dir: Option<&Path>,
    read: ini::ReadFn<'_>,
) -> Result<Loaded, ConfigError> {
    match format {
        Format::Toml => {
            let source = validate::Source {
                name,
                text,
                origins: None,
            };
            let raw = parse_toml(&source)?;
            validate::validate_at(raw, Some(&source))
        }
        Format::Ini => {
            let tr = ini::translate(text, name, dir, read);
            let source = validate::Source {
                name,
                text: &tr.toml,
                origins: Some(&tr.origins),
            };
            let mut problems = tr.problems;
            let raw = match parse_toml(&source) {
                Ok(raw) => Some(raw),
                Err(e) => {
                    problems.extend(e.problems);
                    None
                }
            };
            let validated = raw.map(|raw| validate::validate_at(raw, Some(&source)));
            match validated {
                Some(Ok(mut loaded)) if problems.is_empty() => {
                    let mut warnings = tr.warnings;
                    warnings.append(&mut loaded.warnings);
                    loaded.warnings = warnings;
                    Ok(loaded)
                }
                Some(Err(e)) => {
                    problems.extend(e.problems);
                    Err(ConfigError { problems })
                }
                _ => Err(ConfigError { problems }),
            }
        }
    }
}

fn parse_toml(source: &validate::Source<'_>) -> Result<RawConfig, ConfigError> {
    toml::from_str::<RawConfig>(source.text).map_err(|e| ConfigError {
        problems: vec![Problem::new(
            e.span()
                .and_then(|s| source.locate(s.start, true))
                .or_else(|| Some(source.name.to_owned())),
            e.message().trim_end(),
        )],
    })
}

#[cfg(test)]
mod tests;
