//! Threshold ranges in the Monitoring Plugins syntax: `[@]start:end`.
//!
//! `10` alerts outside 0..10, `10:` below 10, `~:10` above 10, `10:20`
//! outside 10..20, and a leading `@` inverts: alert inside the range,
//! inclusive.

use std::fmt;
use std::str::FromStr;

/// A threshold range.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    start: f64,
    end: f64,
    inside: bool,
    text: String,
}

/// A range that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad threshold range {0:?}: expected [@]start:end, e.g. 10, 10:, ~:10, 10:20, @10:20")]
pub struct RangeError(String);

impl Range {
    /// Whether `value` is outside the range (inside, for an `@` range),
    /// i.e. whether it should alert.
    pub fn alerts(&self, value: f64) -> bool {
        let within = value >= self.start && value <= self.end;
        if self.inside { within } else { !within }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Range {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RangeError(s.to_owned());
        let text = s.trim();
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if body.is_empty() {
            return Err(bad());
        }
        let number = |t: &str| -> Result<f64, RangeError> {
            let v: f64 = t.parse().map_err(|_| bad())?;
            if v.is_finite() { Ok(v) } else { Err(bad()) }
        };
        let (start, end) = match body.split_once(':') {
            None => (0.0, number(body)?),
            Some((start, end)) => {
                let start = match start {
                    "~" => f64::NEG_INFINITY,
                    "" => 0.0,
                    s => number(s)?,
                };
                let end = if end.is_empty() {
                    f64::INFINITY
                } else {
                    number(end)?
                };
                (start, end)
            }
        };
        if start > end {
            return Err(bad());
        }
        Ok(Range {
            start,
            end,
            inside,
            text: text.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Range {
        s.parse().unwrap()
    }

    #[test]
    fn plugin_examples() {
        assert!(!r("10").alerts(0.0) && !r("10").alerts(10.0));
        assert!(r("10").alerts(10.5) && r("10").alerts(-1.0));
        assert!(r("10:").alerts(9.9) && !r("10:").alerts(1e9));
        assert!(r("~:10").alerts(11.0) && !r("~:10").alerts(-1e9));
        assert!(r("10:20").alerts(9.0) && r("10:20").alerts(21.0) && !r("10:20").alerts(15.0));
        assert!(r("@10:20").alerts(10.0) && r("@10:20").alerts(20.0) && !r("@10:20").alerts(21.0));
        assert!(!r("1.5").alerts(1.5) && r("1.5").alerts(1.6));
    }

    #[test]
    fn bad_ranges_are_rejected() {
        for s in ["", "@", "x", "20:10", "1:2:3", "nan", "inf", "~"] {
            assert!(s.parse::<Range>().is_err(), "{s:?}");
        }
        assert_eq!(r(" 5 ").to_string(), "5");
    }
}
