//! Queue settings as `queue-config` and `create-queue` take them:
//! `KEY=VALUE`, checked by the argument parser.
//!
//! The keys are those `pgq.set_queue_config()` accepts plus
//! `disable_insert` and `per_tx_limit`, which it does not (neither in pgq
//! 3.5 nor in this project's engine) and which are therefore written to
//! `pgq.queue` directly. A `queue_` prefix, as in the column names, is
//! accepted and dropped.

use std::fmt;

/// One queue setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setting {
    TickerMaxCount,
    TickerMaxLag,
    TickerIdlePeriod,
    TickerPaused,
    RotationPeriod,
    ExternalTicker,
    DisableInsert,
    PerTxLimit,
}

/// What values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A whole number ≥ 0.
    Count,
    /// A PostgreSQL interval, checked by the server.
    Interval,
    /// true / false.
    Bool,
    /// A whole number ≥ 0, or nothing for "no limit".
    Limit,
}

impl Setting {
    /// Every setting, in the order `queue-config` shows them.
    pub(crate) const ALL: [Setting; 8] = [
        Setting::TickerMaxCount,
        Setting::TickerMaxLag,
        Setting::TickerIdlePeriod,
        Setting::TickerPaused,
        Setting::RotationPeriod,
        Setting::ExternalTicker,
        Setting::DisableInsert,
        Setting::PerTxLimit,
    ];

    /// The name on the command line and in `pgq.set_queue_config()`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Setting::TickerMaxCount => "ticker_max_count",
            Setting::TickerMaxLag => "ticker_max_lag",
            Setting::TickerIdlePeriod => "ticker_idle_period",
            Setting::TickerPaused => "ticker_paused",
            Setting::RotationPeriod => "rotation_period",
            Setting::ExternalTicker => "external_ticker",
            Setting::DisableInsert => "disable_insert",
            Setting::PerTxLimit => "per_tx_limit",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Setting::TickerMaxCount => Kind::Count,
            Setting::TickerMaxLag | Setting::TickerIdlePeriod | Setting::RotationPeriod => {
                Kind::Interval
            }
            Setting::TickerPaused | Setting::ExternalTicker | Setting::DisableInsert => Kind::Bool,
            Setting::PerTxLimit => Kind::Limit,
        }
    }

    /// Finds a setting by name, with or without the `queue_` prefix.
    pub(crate) fn find(name: &str) -> Option<Setting> {
        let bare = name.strip_prefix("queue_").unwrap_or(name);
        Setting::ALL.into_iter().find(|s| s.name() == bare)
    }

    /// Parses a value for this setting.
    fn parse_value(self, text: &str) -> Result<SettingValue, String> {
        let name = self.name();
        let whole = |t: &str| {
            t.trim()
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    format!(
                        "{name}: \"{t}\" is not a whole number from 0 to {}",
                        i32::MAX
                    )
                })
        };
        match self.kind() {
            Kind::Count => whole(text).map(SettingValue::Int),
            Kind::Limit => match text.trim().to_ascii_lowercase().as_str() {
                "" | "none" | "null" | "unlimited" => Ok(SettingValue::NoLimit),
                _ => whole(text).map(SettingValue::Int),
            },
            Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "on" | "yes" | "y" | "1" => Ok(SettingValue::Bool(true)),
                "false" | "f" | "off" | "no" | "n" | "0" => Ok(SettingValue::Bool(false)),
                _ => Err(format!("{name}: \"{text}\" is not true or false")),
            },
            Kind::Interval if text.trim().is_empty() => Err(format!(
                "{name}: needs an interval, e.g. 3s, 500ms, 2 hours or 00:00:03"
            )),
            Kind::Interval => Ok(SettingValue::Interval(text.trim().to_owned())),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed setting value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SettingValue {
    /// A count or limit.
    Int(i32),
    /// An interval as given; the server parses it.
    Interval(String),
    /// A flag.
    Bool(bool),
    /// `per_tx_limit` cleared: no limit.
    NoLimit,
}

impl SettingValue {
    /// The value as `pgq.set_queue_config()` takes it: text that the
    /// column's type accepts.
    pub(crate) fn as_text(&self) -> Option<String> {
        match self {
            SettingValue::Int(n) => Some(n.to_string()),
            SettingValue::Interval(text) => Some(text.clone()),
            SettingValue::Bool(b) => Some(b.to_string()),
            SettingValue::NoLimit => None,
        }
    }
}

/// One `KEY=VALUE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) setting: Setting,
    pub(crate) value: SettingValue,
}

/// Argument parser for `KEY=VALUE`.
pub(crate) fn assignment(text: &str) -> Result<Assignment, String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!(
            "expected KEY=VALUE, got \"{text}\"; keys: {}",
            key_list()
        ));
    };
    let key = key.trim();
    let setting = Setting::find(key)
        .ok_or_else(|| format!("unknown setting \"{key}\"; keys: {}", key_list()))?;
    Ok(Assignment {
        setting,
        value: setting.parse_value(value)?,
    })
}

fn key_list() -> String {
    Setting::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_parses_with_and_without_prefix() {
        for s in Setting::ALL {
            assert_eq!(Setting::find(s.name()), Some(s));
            assert_eq!(Setting::find(&format!("queue_{}", s.name())), Some(s));
        }
        assert_eq!(Setting::find("bogus"), None);
    }

    #[test]
    fn values_are_checked_by_kind() {
        let a = |t: &str| assignment(t);
        assert_eq!(
            a("ticker_max_count=100").unwrap().value,
            SettingValue::Int(100)
        );
        assert_eq!(
            a("queue_ticker_max_lag= 3s").unwrap(),
            Assignment {
                setting: Setting::TickerMaxLag,
                value: SettingValue::Interval("3s".into())
            }
        );
        assert_eq!(
            a("disable_insert=on").unwrap().value,
            SettingValue::Bool(true)
        );
        assert_eq!(
            a("ticker_paused=False").unwrap().value,
            SettingValue::Bool(false)
        );
        assert_eq!(a("per_tx_limit=").unwrap().value, SettingValue::NoLimit);
        assert_eq!(a("per_tx_limit=7").unwrap().value, SettingValue::Int(7));
        assert!(
            a("ticker_max_count=-1")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            a("per_tx_limit=lots")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            a("ticker_paused=maybe")
                .unwrap_err()
                .contains("not true or false")
        );
        assert!(
            a("rotation_period=")
                .unwrap_err()
                .contains("needs an interval")
        );
        assert!(
            a("bogus=1")
                .unwrap_err()
                .starts_with("unknown setting \"bogus\"; keys: ticker_max_count,")
        );
        assert!(
            a("ticker_max_count")
                .unwrap_err()
                .starts_with("expected KEY=VALUE")
        );
    }

    #[test]
    fn values_render_as_set_queue_config_takes_them() {
        assert_eq!(SettingValue::Int(5).as_text().as_deref(), Some("5"));
        assert_eq!(SettingValue::Bool(true).as_text().as_deref(), Some("true"));
        assert_eq!(SettingValue::NoLimit.as_text(), None);
    }
}
