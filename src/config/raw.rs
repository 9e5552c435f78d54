//! Stage one of the configuration: what serde reads, before any checking.
//!
//! Every key is an `Option<Spanned<_>>` so that validation knows both whether
//! the key was given and where, and can report every bad value with its line
//! instead of stopping at the first one. Only real type mismatches (a table
//! where a number belongs, say) are left to serde, which stops at the first.
//!
//! The legacy ini reader does not fill these structs itself: it translates the
//! ini file into a generated TOML document and parses that, so both formats go
//! through exactly the same code path (see `ini.rs`).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

/// A key that may be absent, and remembers where it was written.
pub(crate) type Field<T> = Option<Spanned<T>>;

/// The configuration exactly as written, before validation.
///
/// The meaning, unit, default and reload behaviour of each key are documented
/// on the matching field of [`Config`](super::Config) and in the key table
/// used for `pgqd --print-config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// See [`Config::base_connstr`](super::Config::base_connstr).
    #[serde(default)]
    pub base_connstr: Field<String>,
    /// See [`Config::initial_database`](super::Config::initial_database).
    #[serde(default)]
    pub initial_database: Field<String>,
    /// See [`Config::database_list`](super::Config::database_list).
    #[serde(default)]
    pub database_list: Field<RawList>,
    /// See [`Config::ticker_period`](super::Config::ticker_period).
    #[serde(default)]
    pub ticker_period: Field<RawDuration>,
    /// See [`Config::maint_period`](super::Config::maint_period).
    #[serde(default)]
    pub maint_period: Field<RawDuration>,
    /// See [`Config::retry_period`](super::Config::retry_period).
    #[serde(default)]
    pub retry_period: Field<RawDuration>,
    /// See [`Config::check_period`](super::Config::check_period).
    #[serde(default)]
    pub check_period: Field<RawDuration>,
    /// See [`Config::stats_period`](super::Config::stats_period).
    #[serde(default)]
    pub stats_period: Field<RawDuration>,
    /// See [`Config::connection_lifetime`](super::Config::connection_lifetime).
    #[serde(default)]
    pub connection_lifetime: Field<RawDuration>,
    /// See [`Config::logfile`](super::Config::logfile).
    #[serde(default)]
    pub logfile: Field<String>,
    /// See [`Config::pidfile`](super::Config::pidfile).
    #[serde(default)]
    pub pidfile: Field<String>,
    /// See [`Config::syslog`](super::Config::syslog).
    #[serde(default)]
    pub syslog: Field<RawBool>,
    /// See [`Config::syslog_ident`](super::Config::syslog_ident).
    #[serde(default)]
    pub syslog_ident: Field<String>,
    /// See [`Config::syslog_facility`](super::Config::syslog_facility).
    #[serde(default)]
    pub syslog_facility: Field<String>,
    /// See [`Config::metrics_listen`](super::Config::metrics_listen).
    #[serde(default)]
    pub metrics_listen: Field<String>,
    /// See [`Config::application_name`](super::Config::application_name).
    #[serde(default)]
    pub application_name: Field<String>,
    /// See [`Config::connect_timeout`](super::Config::connect_timeout).
    #[serde(default)]
    pub connect_timeout: Field<RawDuration>,
    /// See [`Config::statement_timeout`](super::Config::statement_timeout).
    #[serde(default)]
    pub statement_timeout: Field<RawDuration>,
    /// See [`Config::maint_statement_timeout`](super::Config::maint_statement_timeout).
    #[serde(default)]
    pub maint_statement_timeout: Field<RawDuration>,
    /// See [`Config::lock_timeout`](super::Config::lock_timeout).
    #[serde(default)]
    pub lock_timeout: Field<RawDuration>,
    /// See [`Config::reconnect_min`](super::Config::reconnect_min).
    #[serde(default)]
    pub reconnect_min: Field<RawDuration>,
    /// See [`Config::reconnect_max`](super::Config::reconnect_max).
    #[serde(default)]
    pub reconnect_max: Field<RawDuration>,
    /// See [`Config::max_maint_connections`](super::Config::max_maint_connections).
    #[serde(default)]
    pub max_maint_connections: Field<i64>,
    /// See [`Config::ha_lock`](super::Config::ha_lock).
    #[serde(default)]
    pub ha_lock: Field<RawBool>,
    /// See [`Config::refresh_period`](super::Config::refresh_period).
    #[serde(default)]
    pub refresh_period: Field<RawDuration>,
    /// See [`Config::exclude_databases`](super::Config::exclude_databases).
    #[serde(default)]
    pub exclude_databases: Field<RawList>,
    /// See [`Config::shutdown_timeout`](super::Config::shutdown_timeout).
    #[serde(default)]
    pub shutdown_timeout: Field<RawDuration>,
    /// See [`Config::maint_max_repeats`](super::Config::maint_max_repeats).
    #[serde(default)]
    pub maint_max_repeats: Field<i64>,
    /// See [`Config::retry_batch_max`](super::Config::retry_batch_max).
    #[serde(default)]
    pub retry_batch_max: Field<i64>,
    /// See [`Config::metrics_include_queues`](super::Config::metrics_include_queues).
    #[serde(default)]
    pub metrics_include_queues: Field<RawList>,
    /// See [`Config::metrics_exclude_queues`](super::Config::metrics_exclude_queues).
    #[serde(default)]
    pub metrics_exclude_queues: Field<RawList>,
    /// See [`Config::metrics_include_consumers`](super::Config::metrics_include_consumers).
    #[serde(default)]
    pub metrics_include_consumers: Field<RawList>,
    /// See [`Config::metrics_exclude_consumers`](super::Config::metrics_exclude_consumers).
    #[serde(default)]
    pub metrics_exclude_consumers: Field<RawList>,
    /// See [`Config::stuck_consumer_after`](super::Config::stuck_consumer_after).
    #[serde(default)]
    pub stuck_consumer_after: Field<RawDuration>,
    /// `[[database]]` override tables; see [`DatabaseOverride`](super::DatabaseOverride).
    #[serde(default)]
    pub database: Vec<Spanned<RawDatabase>>,
    /// `[[queue]]` override tables; see [`QueueOverride`](super::QueueOverride).
    #[serde(default)]
    pub queue: Vec<Spanned<RawQueue>>,
}

/// One `[[database]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// Glob pattern of database names this entry applies to.
    #[serde(default)]
    pub name: Field<String>,
    /// Overrides the global `ticker_period`.
    #[serde(default)]
    pub ticker_period: Field<RawDuration>,
    /// Overrides the global `maint_period`.
    #[serde(default)]
    pub maint_period: Field<RawDuration>,
    /// Overrides the global `retry_period`.
    #[serde(default)]
    pub retry_period: Field<RawDuration>,
    /// `false` stops pgqd from touching matching databases.
    #[serde(default)]
    pub enabled: Field<RawBool>,
}

/// One `[[queue]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    /// Glob pattern of database names; `*` when absent.
    #[serde(default)]
    pub database: Field<String>,
    /// Glob pattern of queue names.
    #[serde(default)]
    pub name: Field<String>,
    /// PgQ `ticker_max_count` for matching queues.
    #[serde(default)]
    pub ticker_max_count: Field<i64>,
    /// PgQ `ticker_max_lag` for matching queues.
    #[serde(default)]
    pub ticker_max_lag: Field<RawDuration>,
    /// PgQ `ticker_idle_period` for matching queues.
    #[serde(default)]
    pub ticker_idle_period: Field<RawDuration>,
    /// PgQ `ticker_paused` for matching queues.
    #[serde(default)]
    pub ticker_paused: Field<RawBool>,
}

/// A duration as written: a number of seconds, or text with units.
///
/// The text is kept unparsed so that a bad value becomes a collected
/// validation problem rather than an immediate serde error.
#[derive(Debug, Clone, PartialEq)]
pub enum RawDuration {
    /// A plain number: seconds, possibly fractional or negative (rejected later).
    Seconds(f64),
    /// Text such as `"500ms"`, `"2m"` or `"1h 30m"`.
    Text(String),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"500ms\" or \"2m\", or a number of seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDuration, E> {
                // Precision loss only matters beyond 2^53 seconds, far past any sane period.
                #[allow(clippy::cast_precision_loss)]
                Ok(RawDuration::Seconds(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDuration, E> {
                #[allow(clippy::cast_precision_loss)]
                Ok(RawDuration::Seconds(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration::Seconds(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean as written: `true`/`false`, or an integer as the C `syslog = 1` key uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawBool(pub bool);

impl<'de> Deserialize<'de> for RawBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or an integer (0 is false)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawBool, E> {
                Ok(RawBool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawBool, E> {
                Ok(RawBool(v != 0))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawBool, E> {
                Ok(RawBool(v != 0))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of names or patterns: a TOML array of strings, or one
/// comma-separated string as in the C `database_list`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawList(pub Vec<String>);

impl<'de> Deserialize<'de> for RawList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of strings or a comma-separated string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawList, E> {
                Ok(RawList(split_list(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    out.push(item);
                }
                Ok(RawList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Splits a C-style comma list: items are trimmed and one trailing comma is
/// ignored, but an empty middle item is kept so validation can point at it.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let text = text.strip_suffix(',').unwrap_or(text);
    text.split(',').map(|s| s.trim().to_owned()).collect()
}
