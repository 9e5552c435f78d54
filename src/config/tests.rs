//! Unit tests of loading, validation, overrides and the samples.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

fn toml_ok(text: &str) -> Loaded {
    parse_str(text, Format::Toml).unwrap_or_else(|e| panic!("{text}\n=> {e}"))
}

fn ini_ok(text: &str) -> Loaded {
    parse_str(text, Format::Ini).unwrap_or_else(|e| panic!("{text}\n=> {e}"))
}

fn toml_err(text: &str) -> ConfigError {
    parse_str(text, Format::Toml).expect_err("config should be rejected")
}

#[test]
fn defaults() {
    let c = Config::default();
    assert_eq!(c, toml_ok("").config);
    assert_eq!(c.initial_database, "postgres");
    assert_eq!(c.base_connstr, "");
    assert!(c.database_list.is_empty());
    assert_eq!(c.ticker_period, Duration::from_secs(1));
    assert_eq!(c.maint_period, Duration::from_secs(120));
    assert_eq!(c.retry_period, Duration::from_secs(30));
    assert_eq!(c.check_period, Duration::from_secs(60));
    assert_eq!(c.stats_period, Duration::from_secs(30));
    assert_eq!(c.connection_lifetime, Duration::from_secs(3600));
    assert_eq!(
        c.metrics_listen,
        Some("127.0.0.1:9879".parse().expect("addr"))
    );
    assert_eq!(c.reconnect_min, Duration::from_millis(250));
    assert_eq!(c.maint_statement_timeout, Duration::from_secs(600));
    assert_eq!(c.max_maint_connections, 4);
    assert!(c.ha_lock && c.syslog);
    assert_eq!(c.syslog_facility, SyslogFacility::Daemon);
    assert!(c.metrics_queue_wanted("anything"));
    assert!(c.metrics_consumer_wanted("londiste_x"));
    assert!(!c.metrics_consumer_wanted(".internal"));
    assert!(toml_ok("").warnings.is_empty());
}

#[test]
fn duration_forms() {
    for (text, want) in [
        ("\"500ms\"", Duration::from_millis(500)),
        ("\"2m\"", Duration::from_secs(120)),
        ("\"1h 30m\"", Duration::from_secs(5400)),
        ("\"1.5\"", Duration::from_millis(1500)),
        ("3", Duration::from_secs(3)),
        ("0.25", Duration::from_millis(250)),
    ] {
        let c = toml_ok(&format!("ticker_period = {text}")).config;
        assert_eq!(c.ticker_period, want, "{text}");
    }
    // Zero is fine where it means "disabled".
    assert_eq!(
        toml_ok("statement_timeout = 0").config.statement_timeout,
        Duration::ZERO
    );
    for bad in ["\"1 parsec\"", "-1", "0", "\"\""] {
        let e = toml_err(&format!("ticker_period = {bad}"));
        assert_eq!(e.problems.len(), 1, "{bad}: {e}");
        assert!(e.problems[0].message.starts_with("ticker_period"), "{e}");
        assert_eq!(e.problems[0].location.as_deref(), Some("<config>:1"), "{e}");
    }
}

#[test]
fn unknown_toml_key_is_an_error_with_line() {
    let e = toml_err("ticker_period = \"1s\"\n\ncheck_perod = \"5s\"\n");
    assert_eq!(e.problems.len(), 1);
    let text = e.to_string();
    assert!(text.starts_with("<config>:3:1: "), "{text}");
    assert!(text.contains("check_perod"), "{text}");
}

#[test]
fn invalid_values_are_all_reported() {
    let e = toml_err(
        "ticker_period = \"fast\"\n\
         syslog_facility = \"local9\"\n\
         metrics_listen = \"localhost\"\n\
         max_maint_connections = 0\n\
         reconnect_min = \"1m\"\n\
         base_connstr = \"host=x bogus=1\"\n",
    );
    let lines: Vec<String> = e.to_string().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 6, "{e}");
    for (i, key) in [
        "ticker_period",
        "syslog_facility",
        "metrics_listen",
        "max_maint_connections",
        "reconnect_min",
        "base_connstr",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            lines.iter().any(|l| l.contains(key)),
            "{key} missing from:\n{e}"
        );
        let _ = i;
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<config>:4: max_maint_connections")),
        "{e}"
    );
    let two = toml_err("stats_period = 0\ncheck_period = \"x\"\n");
    assert_eq!(two.problems.len(), 2, "{two}");
}

const LEGACY_INI: &str = "\
; C pgqd configuration
[pgqd]
# comments
logfile = ~/log/pgqd.log
pidfile = /var/run/postgresql/pgqd.pid
base_connstr = host=/var/run/postgresql port=5433
initial_database = template1
database_list = db1, db2 ,db3,
syslog = 0
syslog_ident = pgqd-test
syslog_facility = local3
check_period = 90
maint_period = 300
retry_period = 15.5
ticker_period = 0.5
stats_period = 60
connection_lifetime = 1800
";

#[test]
fn legacy_ini_with_all_c_keys() {
    let l = ini_ok(LEGACY_INI);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(home) = home {
        assert_eq!(c.logfile, Some(home.join("log/pgqd.log")));
    }
    assert_eq!(
        c.pidfile.as_deref(),
        Some(Path::new("/var/run/postgresql/pgqd.pid"))
    );
    assert_eq!(c.base_connstr, "host=/var/run/postgresql port=5433");
    assert_eq!(c.initial_database, "template1");
    assert_eq!(c.database_list, ["db1", "db2", "db3"]);
    assert!(!c.syslog);
    assert_eq!(c.syslog_ident, "pgqd-test");
    assert_eq!(c.syslog_facility, SyslogFacility::Local3);
    assert_eq!(c.check_period, Duration::from_secs(90));
    assert_eq!(c.maint_period, Duration::from_secs(300));
    assert_eq!(c.retry_period, Duration::from_millis(15_500));
    assert_eq!(c.ticker_period, Duration::from_millis(500));
    assert_eq!(c.stats_period, Duration::from_secs(60));
    assert_eq!(c.connection_lifetime, Duration::from_secs(1800));
    assert_eq!(Format::detect(None, LEGACY_INI), Format::Ini);
    assert_eq!(Format::detect(Some(Path::new("x.ini")), ""), Format::Ini);
    assert_eq!(
        Format::detect(Some(Path::new("x.toml")), "a = 1"),
        Format::Toml
    );
}

#[test]
fn legacy_ini_unknown_and_renamed_keys_warn() {
    let l = ini_ok(
        "[pgqd]\njob_name = ticker\nmaint_delay = 600\nloop_delay = 2\nsyslog_facility = weird\n",
    );
    assert_eq!(l.config.maint_period, Duration::from_secs(600));
    assert_eq!(l.config.ticker_period, Duration::from_secs(2));
    assert_eq!(l.config.syslog_facility, SyslogFacility::Daemon);
    assert_eq!(l.warnings.len(), 4, "{:?}", l.warnings);
    assert!(
        l.warnings[0].starts_with("<config>:2: unknown parameter pgqd/job_name"),
        "{:?}",
        l.warnings
    );
    assert!(l.warnings[1].contains("maint_delay"));
}

#[test]
fn legacy_ini_errors() {
    let e = parse_str("ticker_period = 1\n", Format::Ini).expect_err("no section");
    assert!(e.to_string().contains("before the [pgqd] section"), "{e}");
    let e = parse_str("[other]\n", Format::Ini).expect_err("bad section");
    assert!(e.to_string().contains("invalid section [other]"), "{e}");
    let e = parse_str(
        "[pgqd]\nticker_period = -1\ncheck_period = soon\nmax_maint_connections = 0\n",
        Format::Ini,
    )
    .expect_err("bad values");
    assert_eq!(e.problems.len(), 3, "{e}");
    let locs: Vec<_> = e
        .problems
        .iter()
        .map(|p| p.location.clone().unwrap_or_default())
        .collect();
    assert_eq!(locs, ["<config>:2", "<config>:3", "<config>:4"], "{e}");
    // New keys work in ini too, with units or plain seconds; last value wins.
    let l = ini_ok(
        "[pgqd]\nlock_timeout = 500ms\nmetrics_listen =\nexclude_databases = test_*, tmp?\nlock_timeout = 2\n",
    );
    assert_eq!(l.config.lock_timeout, Duration::from_secs(2));
    assert_eq!(l.config.metrics_listen, None);
    assert_eq!(
        l.config.exclude_databases,
        [Pattern::new("test_*"), Pattern::new("tmp?")]
    );
}

#[test]
fn ini_include() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("common.ini"),
        "ticker_period = 3\n%include deeper.ini\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("deeper.ini"),
        "retry_period = 7\nbogus_key = 1\n",
    )
    .expect("write");
    let main = dir.path().join("pgqd.ini");
    std::fs::write(&main, "[pgqd]\n%include common.ini\ncheck_period = 11\n").expect("write");
    let l = load_file(&main).expect("load");
    assert_eq!(l.config.ticker_period, Duration::from_secs(3));
    assert_eq!(l.config.retry_period, Duration::from_secs(7));
    assert_eq!(l.config.check_period, Duration::from_secs(11));
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0].contains("deeper.ini:2"), "{:?}", l.warnings);

    // A file including itself hits the nesting limit instead of looping.
    let selfish = dir.path().join("self.ini");
    std::fs::write(&selfish, "[pgqd]\n%include self.ini\n").expect("write");
    let e = load_file(&selfish).expect_err("recursion");
    assert!(e.to_string().contains("nested deeper than 10"), "{e}");
    let e = load_file(&dir.path().join("missing.toml")).expect_err("missing");
    assert!(e.to_string().contains("reading config file"), "{e}");
}

#[test]
fn overrides_first_match_wins_per_key() {
    let c = toml_ok(
        r#"
ticker_period = "1s"
exclude_databases = ["test_*", "scratch"]

[[database]]
name = "batch_special"
maint_period = "1h"

[[database]]
name = "batch_*"
ticker_period = "5s"
maint_period = "10m"

[[database]]
name = "test_keep"
enabled = true

[[database]]
name = "*"
retry_period = "45s"

[[queue]]
name = "audit_*"
ticker_max_lag = "10s"

[[queue]]
database = "db2"
name = "*"
ticker_max_count = 50
ticker_max_lag = "1s"
ticker_paused = true
"#,
    )
    .config;
    let s = c.database_settings("batch_special");
    assert_eq!(s.maint_period, Duration::from_secs(3600));
    assert_eq!(s.ticker_period, Duration::from_secs(5));
    assert_eq!(s.retry_period, Duration::from_secs(45));
    assert!(s.enabled);
    let s = c.database_settings("other");
    assert_eq!(
        (s.ticker_period, s.maint_period),
        (Duration::from_secs(1), Duration::from_secs(120))
    );
    assert!(!c.database_settings("test_x").enabled);
    assert!(c.database_settings("test_keep").enabled);
    assert!(!c.database_settings("scratch").enabled);

    let q = c.queue_overrides("db2", "audit_log");
    assert_eq!(q.ticker_max_lag, Some(Duration::from_secs(10)));
    assert_eq!(q.ticker_max_count, Some(50));
    assert_eq!(q.ticker_paused, Some(true));
    assert!(c.queue_overrides("db1", "events").is_empty());
    assert_eq!(c.queue_overrides("db1", "audit_x").ticker_max_count, None);
}

#[test]
fn override_tables_are_checked() {
    let e = toml_err(
        "[[database]]\nticker_period = \"1s\"\n\n[[queue]]\nname = \"q\"\nticker_max_count = 0\nbogus = 1\n",
    );
    // The unknown key stops serde before validation sees the rest.
    assert_eq!(e.problems.len(), 1, "{e}");
    assert!(e.to_string().contains("bogus"), "{e}");
    let e = toml_err(
        "[[database]]\nticker_period = \"1s\"\n\n[[queue]]\nname = \"q\"\nticker_max_count = 0\n",
    );
    assert_eq!(e.problems.len(), 2, "{e}");
    assert!(e.problems[0].message.contains("no name"), "{e}");
    assert_eq!(e.problems[1].location.as_deref(), Some("<config>:6"), "{e}");
}

#[test]
fn restart_keys_are_detected() {
    let a = Config::default();
    let b = toml_ok("metrics_listen = \"\"\nticker_period = 2").config;
    assert_eq!(a.restart_needed_for(&b), ["metrics_listen"]);
}

/// A deserializer that records the field names serde's derive passes to
/// `deserialize_struct`, so the test sees every `RawConfig` field.
struct FieldNames(std::cell::RefCell<Vec<&'static str>>);

impl<'de> serde::Deserializer<'de> for &FieldNames {
    type Error = serde::de::value::Error;
    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only structs"))
    }
    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.borrow_mut().extend_from_slice(fields);
        Err(serde::de::Error::custom("names collected"))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[test]
fn key_table_covers_every_field() {
    let names = FieldNames(std::cell::RefCell::new(Vec::new()));
    let _ = <RawConfig as serde::Deserialize>::deserialize(&names);
    let fields = names.0.into_inner();
    assert!(fields.len() > 30);
    for f in &fields {
        assert!(
            key_info(f).is_some(),
            "RawConfig field {f} missing from KEYS"
        );
    }
    for k in KEYS {
        assert!(
            fields.contains(&k.name),
            "KEYS entry {} is not a RawConfig field",
            k.name
        );
    }
    let mut seen = HashMap::new();
    for k in KEYS {
        assert!(
            seen.insert(k.name, ()).is_none(),
            "duplicate key {}",
            k.name
        );
    }
}

/// Uncomments the `#key = default` lines of a sample.
fn uncomment(sample: &str, comment: char) -> String {
    sample
        .lines()
        .map(|l| match l.strip_prefix(comment) {
            Some(rest)
                if KEYS.iter().any(|k| {
                    !k.default.is_empty() && rest.starts_with(&format!("{} = ", k.name))
                }) =>
            {
                rest.to_owned()
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn samples_round_trip_to_defaults() {
    let toml_sample = sample_config();
    assert_eq!(toml_ok(&toml_sample).config, Config::default());
    let active = uncomment(&toml_sample, '#');
    let n_set = active
        .lines()
        .filter(|l| l.contains(" = ") && !l.starts_with('#'))
        .count();
    assert!(n_set >= 30, "only {n_set} keys uncommented:\n{active}");
    let l = toml_ok(&active);
    assert_eq!(l.config, Config::default(), "{active}");
    assert!(l.warnings.is_empty());

    let ini_sample = sample_ini();
    assert_eq!(Format::detect(None, &ini_sample), Format::Ini);
    let active = uncomment(&ini_sample, '#');
    let l = ini_ok(&active);
    assert_eq!(l.config, Config::default(), "{active}");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    for k in KEYS {
        assert!(
            toml_sample.contains(k.name),
            "{} missing from sample_config",
            k.name
        );
    }
}

#[test]
fn example_file_parses() {
    let text = include_str!("../../etc/pgqd.toml");
    let l = parse_str(text, Format::Toml).unwrap_or_else(|e| panic!("etc/pgqd.toml: {e}"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert!(l.config.base_connstr.contains("/var/run/postgresql"));
}
