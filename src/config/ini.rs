//! Reader for the legacy C `pgqd.ini` syntax (libusual cfparser).
//!
//! Rather than filling [`RawConfig`](super::RawConfig) by hand, the reader
//! translates the ini file into a TOML document with one `key = value` per
//! line, and remembers for each generated line which `file:line` it came
//! from. The TOML path then does the rest, so both formats share one
//! validator, and problems found later still point into the ini file.
//!
//! Differences from the C reader, on purpose: unknown keys are warnings, not
//! fatal (old keys such as `job_name` made the C daemon crash-loop), and
//! `%include` paths are relative to the including file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::keys::{KeyKind, format_seconds, key_info};
use super::raw::split_list;
use super::{Problem, SyslogFacility};

/// Deepest allowed `%include` nesting, as in libusual.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Result of translating an ini file.
#[derive(Debug, Default)]
pub(crate) struct Translation {
    /// The generated TOML document.
    pub(crate) toml: String,
    /// `file:line` of each generated line, in order.
    pub(crate) origins: Vec<String>,
    /// Non-fatal remarks (unknown keys, renamed keys).
    pub(crate) warnings: Vec<String>,
    /// Fatal problems found while reading.
    pub(crate) problems: Vec<Problem>,
}

/// Reads a file's text; injectable so tests can supply `%include` targets.
pub(crate) type ReadFn<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

struct Reader<'a> {
    read: ReadFn<'a>,
    /// Kept entries in first-seen order; a repeated key replaces the value
    /// in place, because the C reader is last-wins.
    entries: Vec<(String, String, String)>,
    index: HashMap<String, usize>,
    seen_section: bool,
    out: Translation,
}

/// Translates ini `text` named `name`; `dir` resolves relative `%include`s.
pub(crate) fn translate(
    text: &str,
    name: &str,
    dir: Option<&Path>,
    read: ReadFn<'_>,
) -> Translation {
    let mut r = Reader {
        read,
        entries: Vec::new(),
        index: HashMap::new(),
        seen_section: false,
        out: Translation::default(),
    };
    r.file(text, name, dir, 0);
    if !r.seen_section && r.out.problems.is_empty() {
        r.out.problems.push(Problem::new(
            Some(name.to_owned()),
            "no [pgqd] section found",
        ));
    }
    let mut out = r.out;
    for (key, value, origin) in r.entries {
        out.toml.push_str(&key);
        out.toml.push_str(" = ");
        out.toml.push_str(&value);
        out.toml.push('\n');
        out.origins.push(origin);
    }
    out
}

impl Reader<'_> {
    fn file(&mut self, text: &str, name: &str, dir: Option<&Path>, depth: usize) {
        for (i, line) in text.lines().enumerate() {
            let at = format!("{name}:{}", i + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("%include") {
                self.include(rest.trim(), &at, dir, depth);
            } else if let Some(rest) = line.strip_prefix('[') {
                match rest.strip_suffix(']').map(str::trim) {
                    Some("pgqd") => self.seen_section = true,
                    Some(other) => self.problem(
                        &at,
                        format!("invalid section [{other}]; only [pgqd] is allowed"),
                    ),
                    None => self.problem(&at, format!("malformed section header {line:?}")),
                }
            } else if let Some((key, value)) = line.split_once('=') {
                self.pair(key.trim(), value.trim(), &at);
            } else {
                self.problem(&at, format!("expected \"key = value\", found {line:?}"));
            }
        }
    }

    fn problem(&mut self, at: &str, message: String) {
        self.out
            .problems
            .push(Problem::new(Some(at.to_owned()), message));
    }

    fn include(&mut self, target: &str, at: &str, dir: Option<&Path>, depth: usize) {
        if target.is_empty() {
            return self.problem(at, "%include needs a file name".to_owned());
        }
        if depth >= MAX_INCLUDE_DEPTH {
            return self.problem(
                at,
                format!("%include {target}: nested deeper than {MAX_INCLUDE_DEPTH} levels"),
            );
        }
        let mut path = PathBuf::from(target);
        if path.is_relative() {
            if let Some(dir) = dir {
                path = dir.join(path);
            }
        }
        match (self.read)(&path) {
            Ok(text) => {
                let name = path.display().to_string();
                let sub_dir = path.parent().map(Path::to_path_buf);
                self.file(&text, &name, sub_dir.as_deref(), depth + 1);
            }
            Err(e) => self.problem(at, format!("reading %include file {}: {e}", path.display())),
        }
    }

    fn pair(&mut self, key: &str, value: &str, at: &str) {
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.*-".contains(c))
        {
            return self.problem(at, format!("invalid key name {key:?}"));
        }
        if !self.seen_section {
            return self.problem(at, format!("key {key} appears before the [pgqd] section"));
        }
        let key = match key {
            "maint_delay" | "loop_delay" => {
                let new = if key == "maint_delay" {
                    "maint_period"
                } else {
                    "ticker_period"
                };
                self.out
                    .warnings
                    .push(format!("{at}: obsolete key {key} read as {new}"));
                new
            }
            other => other,
        };
        let Some(info) = key_info(key).filter(|k| k.kind != KeyKind::Tables) else {
            self.out
                .warnings
                .push(format!("{at}: unknown parameter pgqd/{key} ignored"));
            return;
        };
        let literal = match info.kind {
            KeyKind::Text
                if key == "syslog_facility" && value.parse::<SyslogFacility>().is_err() =>
            {
                // The C daemon silently used "daemon" here; keep accepting such
                // files, but say so.
                self.out.warnings.push(format!(
                    "{at}: unknown syslog_facility {value:?}, using \"daemon\""
                ));
                Ok(quote("daemon"))
            }
            KeyKind::Text | KeyKind::Path => Ok(quote(value)),
            KeyKind::Int => parse_c_int(value)
                .map(|n| n.to_string())
                .ok_or_else(|| format!("{key}: invalid integer {value:?}")),
            KeyKind::Bool => parse_bool(value)
                .map(|b| b.to_string())
                .ok_or_else(|| format!("{key}: invalid boolean {value:?} (use 0/1 or true/false)")),
            KeyKind::Duration => ini_duration(value).ok_or_else(|| {
                format!("{key}: invalid time {value:?} (expected seconds, e.g. 1.5)")
            }),
            KeyKind::List => {
                let mut items = split_list(value);
                let before = items.len();
                items.retain(|s| !s.is_empty());
                if items.len() != before {
                    self.out
                        .warnings
                        .push(format!("{at}: empty item in {key} ignored"));
                }
                Ok(
                    toml::Value::Array(items.into_iter().map(toml::Value::String).collect())
                        .to_string(),
                )
            }
            KeyKind::Tables => unreachable!("filtered out above"),
        };
        match literal {
            Ok(lit) => {
                let entry = (key.to_owned(), lit, at.to_owned());
                match self.index.get(key) {
                    Some(&i) => self.entries[i] = entry,
                    None => {
                        self.index.insert(key.to_owned(), self.entries.len());
                        self.entries.push(entry);
                    }
                }
            }
            Err(message) => self.problem(at, message),
        }
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A C time value: non-negative float seconds. Unit strings such as `500ms`
/// are accepted too, so new keys can be written the TOML way.
fn ini_duration(value: &str) -> Option<String> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| format_seconds(secs));
    }
    humantime::parse_duration(value).ok().map(|_| quote(value))
}

/// `strtol(value, NULL, 0)` with the whole string required to be a number.
fn parse_c_int(value: &str) -> Option<i64> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let n = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<i64>().ok()?
    };
    Some(if negative { -n } else { n })
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        other => parse_c_int(other).map(|n| n != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_integers() {
        assert_eq!(parse_c_int("10"), Some(10));
        assert_eq!(parse_c_int("0x10"), Some(16));
        assert_eq!(parse_c_int("010"), Some(8));
        assert_eq!(parse_c_int("-3"), Some(-3));
        assert_eq!(parse_c_int("0"), Some(0));
        assert_eq!(parse_c_int("1x"), None);
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(ini_duration("1").as_deref(), Some("1"));
        assert_eq!(ini_duration("0.25").as_deref(), Some("0.25"));
        assert_eq!(ini_duration("500ms").as_deref(), Some("\"500ms\""));
        assert_eq!(ini_duration("-1"), None);
        assert_eq!(ini_duration("nan"), None);
        assert_eq!(ini_duration("soon"), None);
    }
}
