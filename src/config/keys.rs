//! The one table of configuration keys: name, kind, default, description and
//! reload behaviour.
//!
//! The table drives three things, so they cannot drift apart: the annotated
//! samples printed by `pgqd --print-config` ([`sample_config`]) and
//! `pgqd --ini` ([`sample_ini`]), and the translation of legacy ini values
//! into typed TOML values. Unit tests check that every [`RawConfig`] field
//! has an entry and that the samples parse back to [`Config::default()`].
//!
//! [`RawConfig`]: super::RawConfig
//! [`Config::default()`]: super::Config

use std::fmt::Write as _;

/// How a key's value is written and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A duration: `"500ms"`, `"2m"`, or a number of seconds.
    Duration,
    /// Free text.
    Text,
    /// A file path; `~` and `~user` are expanded.
    Path,
    /// An integer.
    Int,
    /// A boolean; integers are accepted (0 is false).
    Bool,
    /// A list of names or glob patterns (comma-separated in ini files).
    List,
    /// An array of tables, only available in TOML (`[[database]]`, `[[queue]]`).
    Tables,
}

/// When a change to a key takes effect after `SIGHUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// Applied when the reload is processed.
    Immediate,
    /// Applied from the next cycle of the loop that uses it.
    NextCycle,
    /// Applied to connections opened after the reload; open ones keep the old value.
    NewConnections,
    /// Only read at startup; a change needs a restart.
    Restart,
}

impl Reload {
    /// A short human description, as used in the samples.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Reload::Immediate => "SIGHUP applies it at once",
            Reload::NextCycle => "SIGHUP applies it from the next cycle",
            Reload::NewConnections => "SIGHUP applies it to new connections only",
            Reload::Restart => "needs a restart; SIGHUP ignores changes",
        }
    }
}

/// Metadata of one configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeyInfo {
    /// Key name, identical in TOML and the legacy ini.
    pub name: &'static str,
    /// Value kind.
    pub kind: KeyKind,
    /// The default as a TOML value literal (`"1s"`, `4`, `["*"]`), or `""`
    /// for keys without a value when unset (`logfile`, tables).
    pub default: &'static str,
    /// What the key means, with its unit.
    pub description: &'static str,
    /// Reload behaviour.
    pub reload: Reload,
    /// Whether the C pgqd knows this key (it dies on keys it does not know).
    pub legacy: bool,
}

const fn key(
    name: &'static str,
    kind: KeyKind,
    default: &'static str,
    reload: Reload,
    legacy: bool,
    description: &'static str,
) -> KeyInfo {
    KeyInfo {
        name,
        kind,
        default,
        description,
        reload,
        legacy,
    }
}

use KeyKind as K;
use Reload as R;

/// Every configuration key, in the order the samples list them.
#[rustfmt::skip]
pub const KEYS: &[KeyInfo] = &[
    key("base_connstr", K::Text, r#""""#, R::NewConnections, true,
        "libpq connection string (key=value or postgres:// URI) without dbname; PG* \
         environment variables and ~/.pgpass apply. A dbname given here is replaced by \
         each database's name."),
    key("initial_database", K::Text, r#""postgres""#, R::NextCycle, true,
        "Database used only to list the cluster's databases. Not template1 (the C \
         default): a session held on template1 makes CREATE DATABASE fail."),
    key("database_list", K::List, "[]", R::Immediate, true,
        "Databases to serve. Empty means auto-detect every database that allows \
         connections. In ini files: comma-separated."),
    key("ticker_period", K::Duration, r#""1s""#, R::NextCycle, true,
        "How much later than a queue's ticker_max_lag an event may be ticked: idle queues \
         are looked at again within ticker_max_lag + ticker_period, busy ones when their \
         max lag comes round."),
    key("maint_period", K::Duration, r#""2m""#, R::NextCycle, true,
        "Pause between maintenance rounds on one database (legacy alias: maint_delay)."),
    key("retry_period", K::Duration, r#""30s""#, R::NextCycle, true,
        "Pause between drains of the retry queue (pgq.maint_retry_events())."),
    key("check_period", K::Duration, r#""1m""#, R::NextCycle, true,
        "How often the database list is refreshed, and how often a database without \
         pgq is probed again."),
    key("stats_period", K::Duration, r#""30s""#, R::NextCycle, true,
        "Interval of the statistics log line. Must be greater than zero."),
    key("connection_lifetime", K::Duration, r#""1h""#, R::NextCycle, true,
        "The ticker connection is closed and reopened once it is this old."),
    key("logfile", K::Path, "", R::Immediate, true,
        "Append log lines to this file (reopened at SIGHUP, for logrotate). Unset: \
         stderr or the journal."),
    key("pidfile", K::Path, "", R::Restart, true,
        "Write the daemon's pid here. Not needed under systemd."),
    key("syslog", K::Bool, "true", R::Restart, true,
        "Also log to syslog (the C default is on; 0/1 accepted)."),
    key("syslog_ident", K::Text, r#""pgqd""#, R::Restart, true,
        "Syslog identity."),
    key("syslog_facility", K::Text, r#""daemon""#, R::Restart, true,
        "Syslog facility: auth, authpriv, daemon, user or local0 to local7."),
    key("metrics_listen", K::Text, r#""127.0.0.1:9879""#, R::Restart, false,
        "Address (IP:port) of the Prometheus /metrics endpoint. Empty disables it."),
    key("application_name", K::Text, r#""pgqd""#, R::NewConnections, false,
        "application_name of pgqd's sessions, unless base_connstr or PGAPPNAME sets one."),
    key("connect_timeout", K::Duration, r#""10s""#, R::NewConnections, false,
        "Give up on a connection attempt after this long; 0 waits forever. \
         connect_timeout in base_connstr or PGCONNECT_TIMEOUT wins."),
    key("statement_timeout", K::Duration, r#""30s""#, R::NewConnections, false,
        "statement_timeout of the ticker and retry sessions; 0 disables it."),
    key("maint_statement_timeout", K::Duration, r#""10m""#, R::NewConnections, false,
        "statement_timeout of maintenance sessions (rotation, VACUUM); 0 disables it."),
    key("lock_timeout", K::Duration, r#""5s""#, R::NewConnections, false,
        "lock_timeout of all pgqd sessions; 0 disables it."),
    key("reconnect_min", K::Duration, r#""250ms""#, R::NextCycle, false,
        "First delay before reconnecting after a failure; doubles up to reconnect_max."),
    key("reconnect_max", K::Duration, r#""30s""#, R::NextCycle, false,
        "Longest delay between reconnect attempts."),
    key("max_maint_connections", K::Int, "4", R::Restart, false,
        "Most maintenance connections open at once across the whole cluster (at least 1)."),
    key("ha_lock", K::Bool, "true", R::NewConnections, false,
        "Hold a session advisory lock per database so only one pgqd ticks it."),
    key("refresh_period", K::Duration, r#""10s""#, R::NextCycle, false,
        "How often queue and consumer figures for metrics are refreshed."),
    key("exclude_databases", K::List, "[]", R::Immediate, false,
        "Glob patterns (* and ?) of databases never to serve, even when auto-detected."),
    key("shutdown_timeout", K::Duration, r#""10s""#, R::Immediate, false,
        "How long shutdown waits for running statements before abandoning them."),
    key("maint_max_repeats", K::Int, "1000", R::NextCycle, false,
        "Most times one maintenance operation is repeated when it asks to be called again."),
    key("retry_batch_max", K::Int, "100", R::NextCycle, false,
        "Most pgq.maint_retry_events() calls in one round; rounds follow each other until no retry event is due."),
    key("metrics_include_queues", K::List, r#"["*"]"#, R::NextCycle, false,
        "Glob patterns of queues that get per-queue metrics."),
    key("metrics_exclude_queues", K::List, "[]", R::NextCycle, false,
        "Glob patterns of queues that never get per-queue metrics."),
    key("metrics_include_consumers", K::List, r#"["*"]"#, R::NextCycle, false,
        "Glob patterns of consumers that get per-consumer metrics."),
    key("metrics_exclude_consumers", K::List, r#"[".*", "*.watermark", "*_watermark"]"#, R::NextCycle, false,
        "Glob patterns of consumers that never get per-consumer metrics (by default \
         the internal ones, whose names start with a dot, and Londiste watermarks)."),
    key("stuck_consumer_after", K::Duration, r#""5m""#, R::NextCycle, false,
        "A consumer whose position has not moved for this long while its queue kept \
         ticking, and that finished no batch for as long, is reported as stuck."),
    key("database", K::Tables, "", R::NextCycle, false,
        "[[database]] tables (TOML only): name (glob), and optional ticker_period, \
         maint_period, retry_period and enabled. For each key the first matching \
         table wins."),
    key("queue", K::Tables, "", R::NextCycle, false,
        "[[queue]] tables (TOML only): database (glob, default \"*\"), name (glob), and \
         optional ticker_max_count, ticker_max_lag, ticker_idle_period and ticker_paused. \
         For each key the first matching table wins."),
];

/// Looks a key up by name.
#[must_use]
pub fn key_info(name: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|k| k.name == name)
}

fn push_comment(out: &mut String, text: &str) {
    // Wrapped by hand at word boundaries so the sample stays readable in a terminal.
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 78 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// An annotated TOML configuration listing every key, commented out, with
/// its default and reload behaviour (the output of `pgqd --print-config`).
#[must_use]
pub fn sample_config() -> String {
    let mut out = String::new();
    out.push_str(
        "# pgqd configuration (TOML).\n\
         # Every key is optional; the values shown are the defaults.\n\
         # Durations take units (\"500ms\", \"30s\", \"2m\", \"1h\") or a plain number of seconds.\n\
         # Check a file with: pgqd --check-config FILE\n\n",
    );
    for k in KEYS {
        push_comment(&mut out, k.description);
        push_comment(&mut out, &format!("Reload: {}.", k.reload.describe()));
        match k.kind {
            K::Tables if k.name == "database" => out.push_str(
                "# [[database]]\n# name = \"batch_*\"\n# ticker_period = \"5s\"\n\
                 # maint_period = \"10m\"\n# enabled = true\n",
            ),
            K::Tables => out.push_str(
                "# [[queue]]\n# database = \"*\"\n# name = \"audit_*\"\n\
                 # ticker_max_count = 500\n# ticker_max_lag = \"3s\"\n\
                 # ticker_idle_period = \"1m\"\n# ticker_paused = false\n",
            ),
            K::Path if k.name == "pidfile" => {
                let _ = writeln!(out, "#{} = \"/var/run/postgresql/pgqd.pid\"", k.name);
            }
            K::Path => {
                let _ = writeln!(out, "#{} = \"/var/log/postgresql/pgqd.log\"", k.name);
            }
            _ => {
                let _ = writeln!(out, "#{} = {}", k.name, k.default);
            }
        }
        out.push('\n');
    }
    out
}

/// Renders a TOML default literal the way the C ini syntax writes it:
/// seconds as plain numbers, lists comma-separated, booleans as 0/1.
fn ini_value(k: &KeyInfo) -> String {
    let doc = format!("v = {}", k.default);
    let value = match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v"),
        Err(_) => None,
    };
    match (k.kind, value) {
        (K::Duration, Some(toml::Value::String(s))) => match humantime::parse_duration(&s) {
            Ok(d) => format_seconds(d.as_secs_f64()),
            Err(_) => s,
        },
        (K::Bool, Some(toml::Value::Boolean(b))) => u8::from(b).to_string(),
        (K::List, Some(toml::Value::Array(items))) => items
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(","),
        (_, Some(toml::Value::String(s))) => s,
        (_, Some(v)) => v.to_string(),
        (_, None) => String::new(),
    }
}

/// Formats seconds without a trailing `.0`, as the C sample writes them.
pub(crate) fn format_seconds(secs: f64) -> String {
    let text = format!("{secs}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// A sample legacy `pgqd.ini` (the output of `pgqd --ini`).
///
/// Keys the C pgqd does not know are commented out and marked, because the
/// C daemon refuses to start on an unknown key.
#[must_use]
pub fn sample_ini() -> String {
    let mut out = String::new();
    out.push_str(
        "; pgqd configuration, legacy ini syntax (also read by the C pgqd).\n\
         ; Times are seconds. No inline comments, no quoting.\n\
         ; The TOML format (pgqd --print-config) adds [[database]] and [[queue]] overrides.\n\n\
         [pgqd]\n\n",
    );
    for k in KEYS.iter().filter(|k| k.kind != K::Tables) {
        let mut text = k.description.to_owned();
        if !k.legacy {
            text.push_str(" (pgqd-rs only: the C pgqd rejects this key.)");
        }
        push_comment(&mut out, &text);
        let value = match k.kind {
            K::Path if k.name == "pidfile" => "/var/run/postgresql/pgqd.pid".to_owned(),
            K::Path => "/var/log/postgresql/pgqd.log".to_owned(),
            _ => ini_value(k),
        };
        let _ = writeln!(out, "#{} = {}", k.name, value);
        out.push('\n');
    }
    out
}
