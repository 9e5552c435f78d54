//! Producer triggers, `pgq_ext` and `pgq_coop` against a real cluster: their
//! SQL regression scripts, the triggers compared with Debian's C triggers,
//! the flows that need several sessions, and the Skytools python consumers
//! running against our schemas.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pgqd::tempcluster::TempCluster;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::{run_python, run_python_status, tick, write_ini};

/// Upper bound for anything a test waits for; generous, since CI is noisy.
const PATIENCE: Duration = Duration::from_secs(60);

fn sql_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sql")
        .join(name)
}

/// Which PgQ a database gets.
#[derive(Clone, Copy, Debug)]
enum Engine {
    /// `sql/pgq.sql`, installed the documented way.
    Ours,
    /// Debian's C extension (`postgresql-15-pgq3`).
    C,
}

fn install(cluster: &TempCluster, db: &str, engine: Engine) {
    cluster.create_database(db).unwrap();
    match engine {
        Engine::Ours => {
            cluster.psql_file(db, &sql_file("pgq.sql")).unwrap();
        }
        Engine::C => cluster.install_pgq_extension(db).unwrap(),
    }
}

/// Runs a regression script in a fresh database; it must end with its
/// success line.
fn run_script(cluster: &TempCluster, db: &str, engine: Engine, name: &str) {
    install(cluster, db, engine);
    let out = cluster
        .psql_file(db, &sql_file(&format!("tests/{name}")))
        .unwrap_or_else(|e| panic!("{name} on {engine:?}: {e}"));
    assert!(
        out.contains(&format!("{name}: all checks passed")),
        "{name} on {engine:?}: {out}"
    );
}

#[test]
fn sql_triggers() {
    let cluster = TempCluster::start().unwrap();
    run_script(&cluster, "t", Engine::Ours, "triggers.sql");
}

#[test]
fn sql_triggers_types() {
    let cluster = TempCluster::start().unwrap();
    run_script(&cluster, "t", Engine::Ours, "triggers_types.sql");
}

/// The trigger scripts' expected events are the C triggers' output: the
/// same scripts pass against the C extension.
#[test]
fn sql_trigger_scripts_hold_for_the_c_extension() {
    let cluster = TempCluster::start().unwrap();
    run_script(&cluster, "opts", Engine::C, "triggers.sql");
    run_script(&cluster, "types", Engine::C, "triggers_types.sql");
}

#[test]
fn sql_ext() {
    let cluster = TempCluster::start().unwrap();
    run_script(&cluster, "t", Engine::Ours, "ext.sql");
}

#[test]
fn sql_coop() {
    let cluster = TempCluster::start().unwrap();
    run_script(&cluster, "t", Engine::Ours, "coop.sql");
}

// ---------------------------------------------------------------------
// The triggers against the C triggers
// ---------------------------------------------------------------------

/// What a statement did: its rows as text, or its error message.
type Outcome = Result<Vec<Vec<Option<String>>>, String>;

/// Runs `sql`; with `counts`, each statement's row count (what an INSERT,
/// UPDATE or DELETE reports) follows its rows as a row of its own.
async fn outcome(client: &Client, sql: &str, counts: bool) -> Outcome {
    match client.simple_query(sql).await {
        Ok(messages) => Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) if counts => {
                    Some(vec![Some(format!("{n} rows"))])
                }
                _ => None,
            })
            .collect()),
        Err(e) => Err(e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned())),
    }
}

/// Every event of queue `q`, in order: type, data and the four extras.
async fn queue_events(client: &Client) -> Vec<Vec<Option<String>>> {
    let pfx: String = client
        .query_one(
            "select queue_data_pfx from pgq.queue where queue_name = 'q'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let sql = format!(
        "select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4 from {pfx} order by ev_id"
    );
    outcome(client, &sql, false).await.unwrap()
}

/// Runs each statement in both databases, requires the same outcome (rows,
/// row counts or error), then the same queued events.
async fn same_in_both(c_ext: &Client, ours: &Client, statements: &[String]) {
    for sql in statements {
        let want = outcome(c_ext, sql, true).await;
        let got = outcome(ours, sql, true).await;
        assert_eq!(got, want, "statement: {sql}");
    }
    let want = queue_events(c_ext).await;
    let got = queue_events(ours).await;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "event #{i} (ours, then the C triggers')");
    }
    assert_eq!(got.len(), want.len(), "number of events");
    assert!(!want.is_empty(), "the statements queued events");
}

/// A C-extension database and one with our engine, each with queue `q`.
async fn c_and_ours(cluster: &TempCluster) -> (Client, Client) {
    install(cluster, "cext", Engine::C);
    install(cluster, "ours", Engine::Ours);
    let c_ext = cluster.connect("cext").await.unwrap();
    let ours = cluster.connect("ours").await.unwrap();
    for client in [&c_ext, &ours] {
        client
            .batch_execute("select pgq.create_queue('q')")
            .await
            .unwrap();
    }
    (c_ext, ours)
}

/// Column name, type and sample values (SQL literals) of the type matrix.
/// Values cover quoting, escapes, unicode, control characters, limits,
/// special float and date values, and NULL (a column without a value for a
/// row gets NULL).
const TYPE_COLUMNS: &[(&str, &str, &[&str])] = &[
    (
        "t",
        "text",
        &[
            "'plain'",
            r#"E'q''uo"te\\back,comma (paren) sp ace'"#,
            "''",
            r"E'uni \u00e9 \u00fc \U0001F600 \u00ff'",
            r"E'ctl\n\t\r\u0001\u007f end'",
            "'a&b=c+d%e/f?g#h'",
            "'NULL'",
            r#"'"'"#,
            "','",
            r#"'x,"",y'"#,
        ],
    ),
    ("vc", "varchar(20)", &["'v c'", "''"]),
    ("ch", "char(4)", &["'ab'", "''"]),
    ("nm", "name", &["'Nm x'"]),
    (
        "ba",
        "bytea",
        &["decode('00ff10', 'hex')", "''", r"E'\\x5c27'"],
    ),
    ("b", "bool", &["true", "false"]),
    (
        "ts",
        "timestamp",
        &[
            "'2020-02-03 04:05:06.789'",
            "'infinity'",
            "'0044-03-15 12:00:00 BC'",
            "'294276-12-31 23:59:59'",
        ],
    ),
    (
        "tz",
        "timestamptz",
        &[
            "'2020-02-03 04:05:06.789+02'",
            "'-infinity'",
            "'1850-06-01 00:00:00+00'",
            "'1900-01-01 00:00:00+00'",
        ],
    ),
    (
        "d",
        "date",
        &["'2020-02-03'", "'4713-01-01 BC'", "'infinity'"],
    ),
    ("tm", "time", &["'04:05:06.5'", "'24:00'"]),
    ("ttz", "timetz", &["'04:05:06+05:30'", "'00:00:00-15:59'"]),
    (
        "iv",
        "interval",
        &[
            "'1 year 2 mons 3 days 04:05:06.7'",
            "'-1 day +02:00'",
            "'0'",
        ],
    ),
    ("i2", "int2", &["-32768", "32767"]),
    ("i4", "int4", &["-2147483648", "2147483647"]),
    (
        "i8",
        "int8",
        &["-9223372036854775808", "9223372036854775807"],
    ),
    (
        "nu",
        "numeric",
        &[
            "'NaN'",
            "123456789012345678901234567890.123456789",
            "-0.000000000001",
            "1.50",
            "'Infinity'",
        ],
    ),
    ("n52", "numeric(5,2)", &["1.5", "-999.99"]),
    (
        "f4",
        "float4",
        &["'NaN'", "'Infinity'", "'-0'", "1.1", "3.4e38", "1e-45"],
    ),
    (
        "f8",
        "float8",
        &[
            "'-Infinity'",
            "1e300",
            "0.1",
            "2.2250738585072014e-308",
            "'-0'",
            "1.0000000000000002",
        ],
    ),
    ("o", "oid", &["4294967295", "0"]),
    ("x", "xid", &["'4294967295'"]),
    ("u", "uuid", &["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"]),
    (
        "js",
        "json",
        &[r#"'{"a" : [1, "x"], "b":null}'"#, r#"'"str"'"#, "'  123  '"],
    ),
    (
        "jb",
        "jsonb",
        &[r#"'{"b": 1, "a": [1.50, "x"]}'"#, r#"'"s"'"#],
    ),
    ("pt", "point", &["'(1.5,-2)'"]),
    ("ln", "line", &["'{1,-1,0}'"]),
    ("ls", "lseg", &["'[(0,0),(1,1)]'"]),
    ("bx", "box", &["'(1,1),(0,0)'"]),
    ("pa", "path", &["'[(0,0),(1,1),(2,0)]'"]),
    ("pg", "polygon", &["'((0,0),(1,1),(1,0))'"]),
    ("ci", "circle", &["'<(0,0),1.5>'"]),
    ("ip", "inet", &["'192.168.0.1/24'"]),
    ("bt", "bit(3)", &["B'101'"]),
    ("mo", "money", &["12.34"]),
    ("en", "mood", &["'ok'", "'not ok'"]),
    ("dm", "dint", &["5"]),
    ("dt", "dts", &["'2020-01-01 00:00:00+00'"]),
    (
        "cp",
        "comp",
        &[
            "row(1, 'a b')::comp",
            "row(null, '')::comp",
            r#"row(2, E'q"\\,')::comp"#,
        ],
    ),
    (
        "at",
        "text[]",
        &[r#"array['a', 'b c', NULL, '', E'q"\\']"#, "'{}'"],
    ),
    (
        "ats",
        "timestamptz[]",
        &["array['2020-01-01 00:00:00+00'::timestamptz, NULL]"],
    ),
    ("ab", "bool[]", &["array[true,false]"]),
    ("aba", "bytea[]", &["array[decode('00', 'hex')]"]),
    ("ai", "int4[]", &["array[1,NULL,-3]", "'[0:1]={7,8}'"]),
    ("ai8", "int8[][]", &["array[[1,2],[3,4]]"]),
    ("an", "numeric[]", &["array[1.5, 'NaN']::numeric[]"]),
    ("af", "float8[]", &["array['Infinity', 0.1]::float8[]"]),
    ("ad", "date[]", &["array['2020-01-01'::date]"]),
    ("aiv", "interval[]", &["array['1 day'::interval]"]),
    ("ao", "oid[]", &["array[1,2]::oid[]"]),
    ("ax", "xid[]", &["array['1'::xid]"]),
    (
        "au",
        "uuid[]",
        &["array['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]"],
    ),
    ("aj", "json[]", &[r#"array['{"a":1}'::json]"#]),
    ("ajb", "jsonb[]", &[r#"array['{"a":1}'::jsonb]"#]),
    ("apt", "point[]", &["array['(1,2)'::point]"]),
    (
        "abx",
        "box[]",
        &["array['(1,1),(0,0)'::box, '(2,2),(1,1)'::box]"],
    ),
    ("ac", "comp[]", &["array[row(1,'x')::comp]"]),
    ("atm", "time[]", &["array['01:02:03'::time]"]),
];

/// Session settings the text output of types depends on.
const SETTINGS: &[&[&str]] = &[
    &[
        "set datestyle = 'ISO, MDY'",
        "set timezone = 'UTC'",
        "set intervalstyle = 'postgres'",
        "set extra_float_digits = 1",
        "set bytea_output = 'hex'",
        "set lc_monetary = 'C'",
    ],
    &[
        "set datestyle = 'SQL, DMY'",
        "set timezone = 'America/St_Johns'",
        "set intervalstyle = 'sql_standard'",
        "set extra_float_digits = 0",
        "set bytea_output = 'escape'",
    ],
    &[
        "set datestyle = 'German'",
        "set timezone = 'Europe/Amsterdam'",
        "set intervalstyle = 'iso_8601'",
        "set extra_float_digits = -15",
    ],
    &[
        "set datestyle = 'Postgres, MDY'",
        "set timezone = 'Asia/Kolkata'",
        "set intervalstyle = 'postgres_verbose'",
        "set extra_float_digits = 3",
    ],
    &[
        "set datestyle = 'ISO, YMD'",
        "set timezone = 'Pacific/Chatham'",
        "set standard_conforming_strings = off",
    ],
];

/// The statements of the type matrix: a table with every type, all three
/// triggers (with backup and with ignore=), and for each group of settings
/// an insert per sample row, a NULL row, updates (including ones that
/// change a value's text but not its value) and a delete.
fn type_matrix_statements() -> Vec<String> {
    let mut out: Vec<String> = [
        "create type mood as enum ('ok', 'not ok')",
        "create domain dint as int",
        "create domain dts as timestamptz",
        "create type comp as (x int, y text)",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let cols: Vec<String> = TYPE_COLUMNS
        .iter()
        .map(|(name, ty, _)| format!("\"{name}\" {ty}"))
        .collect();
    out.push(format!(
        "create table ty (id int primary key, {})",
        cols.join(", ")
    ));
    out.push(
        "create table ty2 (id int primary key, v text, n numeric, f float8, iv interval, \
         jb jsonb, pt point, arr int[], ts timestamptz)"
            .to_owned(),
    );
    // Only columns that row_to_json() writes as jsontriga does, and numbers
    // that jsontriga quotes: keys that need escaping, text that looks like
    // a key.
    out.push(
        "create table jq (id int primary key, \"odd.key*\" numeric, f4 float4, f8 float8, \
         v text, ts timestamptz, \"q\"\"uote\" numeric)"
            .to_owned(),
    );
    out.push(
        "create trigger j after insert or update or delete on jq \
         for each row execute procedure pgq.jsontriga('q', 'backup')"
            .to_owned(),
    );
    for table in ["ty", "ty2"] {
        for (name, func, args) in [
            ("a", "logutriga", "'q', 'backup'"),
            ("b", "sqltriga", "'q', 'backup'"),
            ("c", "jsontriga", "'q', 'backup'"),
            ("d", "logutriga", "'q', 'ignore=v,n,f'"),
            ("e", "jsontriga", "'q', 'ignore=id'"),
        ] {
            out.push(format!(
                "create trigger {name} after insert or update or delete on {table} \
                 for each row execute procedure pgq.{func}({args})"
            ));
        }
    }
    let names: Vec<String> = TYPE_COLUMNS
        .iter()
        .map(|(name, _, _)| format!("\"{name}\""))
        .collect();
    let rows = TYPE_COLUMNS
        .iter()
        .map(|(_, _, values)| values.len())
        .max()
        .unwrap_or(0);
    let mut id = 0;
    for (group, settings) in SETTINGS.iter().enumerate() {
        out.push("reset all".to_owned());
        out.extend(settings.iter().map(|s| (*s).to_owned()));
        for row in 0..rows {
            id += 1;
            let values: Vec<&str> = TYPE_COLUMNS
                .iter()
                .map(|(_, _, values)| values.get(row).copied().unwrap_or("null"))
                .collect();
            out.push(format!(
                "insert into ty (id, {}) values ({id}, {})",
                names.join(", "),
                values.join(", ")
            ));
        }
        id += 1;
        out.push(format!("insert into ty (id) values ({id})"));
        out.push(format!("update ty set t = t || 'x' where id = {}", id - 1));
        out.push(format!("update ty set nu = 1.500 where id = {}", id - 2));
        out.push(format!("delete from ty where id = {}", id - 3));
        let base = 1000 * (group + 1);
        out.push(format!(
            "insert into ty2 values ({base}, 'v', 1.0, 0.1, '1 day', '{{\"a\": 1.0}}', \
             '(1,1)', '{{1,2}}', '2020-01-01 00:00:00+00')"
        ));
        for set in [
            "n = 1.00",
            "iv = '24 hours'",
            "jb = '{\"a\": 1.00}'",
            "f = '-0'",
            "f = '0'",
            "pt = '(1.0,1.0)'",
            "arr = '{1, 2}'",
            "ts = '2020-01-01 02:00:00+02'",
            "n = 2, v = 'w'",
            "v = null",
        ] {
            out.push(format!("update ty2 set {set} where id = {base}"));
        }
        out.push(format!("delete from ty2 where id = {base}"));
        out.push(format!(
            "insert into jq values ({base}, 1.50, 'NaN', '-Infinity', 'x \"odd.key*\":5', '2020-01-01', -2), \
             ({}, null, '-0', 1e300, null, null, 'NaN'), \
             ({}, -0.0001, 3.4e38, 0.1, '{{\"f4\":1}}', 'infinity', 1e-20)",
            base + 1,
            base + 2
        ));
        out.push(format!("update jq set f8 = 2, f4 = f4 where id = {base}"));
        out.push(format!("delete from jq where id = {}", base + 1));
    }
    out.push("reset all".to_owned());
    out
}

/// Each trigger kind with each option set on its own table, through the
/// same inserts, updates (of payload, ignored, magic and key columns, and
/// of nothing), deletes and a TRUNCATE, errors included.
fn option_matrix_statements() -> Vec<String> {
    const OPTIONS: &[&str] = &[
        "",
        ", 'backup'",
        ", 'ignore=pw'",
        ", 'ignore=pw, w', 'backup'",
        ", 'pkey=v'",
        ", 'pkey=v,w', 'backup'",
        ", 'when=w > 1'",
        ", 'when=v is null or v <> ''x'''",
        ", 'ev_type=''x:'' || id', 'ev_data=v', 'ev_extra1=w', 'ev_extra2=null', 'ev_extra4=pw'",
        ", 'ev_extra3=', 'backup', 'ignore=v'",
        ", 'deny'",
        ", 'SKIP'",
    ];
    let mut out = Vec::new();
    for kind in ["logutriga", "sqltriga", "jsontriga"] {
        for (i, opts) in OPTIONS.iter().enumerate() {
            let table = format!("oc_{kind}_{i}");
            out.push(format!(
                "create table {table} (id int primary key, v text, w int, pw text, _pgq_ev_extra3 text)"
            ));
            let when = if opts.contains("SKIP") {
                "before"
            } else {
                "after"
            };
            out.push(format!(
                "create trigger t {when} insert or update or delete on {table} \
                 for each row execute procedure pgq.{kind}('q'{opts})"
            ));
            out.push(format!(
                "create trigger r after truncate on {table} \
                 for each statement execute procedure pgq.{kind}('q'{opts})"
            ));
            for sql in [
                "insert into {t} values (1, 'x', 1, 'p1', null), (2, null, 2, '', 'e3'), (3, '', null, null, null)",
                "insert into {t} values (4, 'a,b \"c\" (d)', 4, E'\\\\', 'm')",
                "update {t} set v = 'y' where id = 1",
                "update {t} set pw = 'p2' where id = 1",
                "update {t} set w = w where id = 2",
                "update {t} set _pgq_ev_extra3 = 'm2' where id = 2",
                "update {t} set w = 3 where id = 3",
                "update {t} set id = 9 where id = 4",
                "delete from {t} where id = 2",
                "select count(*) from {t}",
                "truncate {t}",
            ] {
                out.push(sql.replace("{t}", &table));
            }
        }
    }
    out
}

/// Each trigger kind as an INSTEAD OF trigger on a view, with options that
/// change what goes back to the statement (SKIP, `when=`, `deny`) and with
/// and without `pkey=`: the same statements, RETURNING included, so the
/// outcome compares the rows the statement reports as well as the events.
fn view_matrix_statements() -> Vec<String> {
    const OPTIONS: &[&str] = &[
        "",
        ", 'pkey=id'",
        ", 'pkey=id', 'backup', 'ignore=w'",
        ", 'SKIP', 'pkey=id'",
        ", 'pkey=id', 'when=w > 1', 'ev_extra3=v'",
        ", 'deny'",
    ];
    let mut out = vec![
        "create table vbase (id int primary key, v text, w int)".to_owned(),
        "insert into vbase values (1, 'a', 1), (2, 'b', 2), (3, null, 3)".to_owned(),
    ];
    for kind in ["logutriga", "sqltriga", "jsontriga"] {
        for (i, opts) in OPTIONS.iter().enumerate() {
            let view = format!("vw_{kind}_{i}");
            out.push(format!("create view {view} as select * from vbase"));
            out.push(format!(
                "create trigger t instead of insert or update or delete on {view} \
                 for each row execute procedure pgq.{kind}('q'{opts})"
            ));
            for sql in [
                "insert into {v} values (10, 'x', 1), (11, 'y,z', 2) returning *",
                "update {v} set v = 'u' where id < 3 returning *",
                "update {v} set w = w + 1 where id = 3 returning id, w",
                "update {v} set id = 9 where id = 1",
                "delete from {v} where id >= 2 returning *",
                "set session_replication_role = local",
                "insert into {v} values (20, 'l', 20) returning *",
                "delete from {v} where id = 1 returning id",
                "reset session_replication_role",
            ] {
                out.push(sql.replace("{v}", &view));
            }
        }
    }
    out
}

/// Identical statements produce identical events from our triggers and
/// from the C triggers: every type under several output settings, every
/// trigger kind with every option, INSTEAD OF triggers on views, errors and
/// all.
#[tokio::test]
async fn triggers_match_the_c_extension() {
    let cluster = TempCluster::start().unwrap();
    let (c_ext, ours) = c_and_ours(&cluster).await;
    let mut statements = type_matrix_statements();
    statements.extend(option_matrix_statements());
    statements.extend(view_matrix_statements());
    same_in_both(&c_ext, &ours, &statements).await;
}

/// The payload of the newest event of queue `q`.
async fn last_event(client: &Client) -> (String, String) {
    let pfx: String = client
        .query_one(
            "select queue_data_pfx from pgq.queue where queue_name = 'q'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let row = client
        .query_one(
            &format!("select ev_type, ev_data from {pfx} order by ev_id desc limit 1"),
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// A session's triggers follow DDL that other sessions commit: a renamed
/// column and a new primary key at its next statement, a column's new type
/// (which changes how jsontriga writes it) within a second.
#[tokio::test]
async fn triggers_follow_ddl_committed_by_other_sessions() {
    let cluster = TempCluster::start().unwrap();
    install(&cluster, "t", Engine::Ours);
    let app = cluster.connect("t").await.unwrap();
    let admin = cluster.connect("t").await.unwrap();
    app.batch_execute(
        "select pgq.create_queue('q');
         create table t (id int primary key, v int);
         create trigger a after insert on t for each row execute procedure pgq.logutriga('q');
         create trigger b after insert on t for each row execute procedure pgq.jsontriga('q');
         insert into t values (1, 1);",
    )
    .await
    .unwrap();
    assert_eq!(
        last_event(&app).await.1,
        r#"{"id":1,"v":1}"#,
        "jsontriga writes int4 as a number"
    );

    admin
        .batch_execute("alter table t rename column v to w")
        .await
        .unwrap();
    app.batch_execute("insert into t values (2, 2)")
        .await
        .unwrap();
    assert_eq!(
        last_event(&app).await.1,
        r#"{"id":2,"w":2}"#,
        "renamed at once"
    );

    admin
        .batch_execute(
            "alter table t drop constraint t_pkey; alter table t add primary key (w, id)",
        )
        .await
        .unwrap();
    app.batch_execute("insert into t values (3, 3)")
        .await
        .unwrap();
    let (ev_type, _) = last_event(&app).await;
    assert_eq!(
        ev_type, r#"{"op":"INSERT","table":["public","t"],"pkey":["w","id"]}"#,
        "new key at once"
    );

    admin
        .batch_execute("alter table t alter column w type numeric")
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut id = 3;
    loop {
        id += 1;
        app.execute("insert into t values ($1, 5)", &[&id])
            .await
            .unwrap();
        let data = last_event(&app).await.1;
        if data == format!(r#"{{"id":{id},"w":"5"}}"#) {
            break;
        }
        assert_eq!(
            data,
            format!(r#"{{"id":{id},"w":5}}"#),
            "before the new type is seen, the old way"
        );
        assert!(Instant::now() < deadline, "the new type was never seen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------
// The documented flows
// ---------------------------------------------------------------------

/// A source with our engine and a logutriga table, a target with pgq_ext.
async fn source_and_target(cluster: &TempCluster) -> (Client, Client) {
    install(cluster, "src", Engine::Ours);
    cluster.create_database("dst").unwrap();
    cluster.psql_file("dst", &sql_file("pgq_ext.sql")).unwrap();
    let src = cluster.connect("src").await.unwrap();
    let dst = cluster.connect("dst").await.unwrap();
    src.batch_execute(
        "select pgq.create_queue('q');
         select pgq.register_consumer('q', 'remote');
         create table orders (id int primary key, item text);
         create trigger q after insert or update or delete on orders
             for each row execute procedure pgq.logutriga('q');",
    )
    .await
    .unwrap();
    dst.batch_execute("create table applied (ev_id bigint primary key, ev_data text)")
        .await
        .unwrap();
    (src, dst)
}

/// The open batch of the remote consumer and its events.
async fn remote_batch(src: &Client) -> Option<(i64, Vec<(i64, String)>)> {
    let batch: Option<i64> = src
        .query_one("select pgq.next_batch('q', 'remote')", &[])
        .await
        .unwrap()
        .get(0);
    let batch = batch?;
    let events = src
        .query(
            "select ev_id, ev_data from pgq.get_batch_events($1)",
            &[&batch],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Some((batch, events))
}

/// A remote consumer that records its batches with pgq_ext does not apply
/// a batch twice when it dies after committing on the target and before
/// finish_batch on the source; nor an event twice when it dies halfway
/// through a batch it commits event by event.
#[tokio::test]
async fn remote_consumer_with_pgq_ext_survives_a_crash_before_finish_batch() {
    let cluster = TempCluster::start().unwrap();
    let (src, dst) = source_and_target(&cluster).await;
    src.batch_execute("insert into orders select i, 'item ' || i from generate_series(1, 5) i")
        .await
        .unwrap();
    tick(&src).await;

    // First run: apply and record on the target, then die.
    let (batch, events) = remote_batch(&src).await.expect("a batch");
    assert_eq!(events.len(), 5);
    dst.batch_execute("begin").await.unwrap();
    let fresh: bool = dst
        .query_one("select not pgq_ext.is_batch_done('remote', $1)", &[&batch])
        .await
        .unwrap()
        .get(0);
    assert!(fresh);
    for (id, data) in &events {
        dst.execute("insert into applied values ($1, $2)", &[id, data])
            .await
            .unwrap();
    }
    dst.execute("select pgq_ext.set_batch_done('remote', $1)", &[&batch])
        .await
        .unwrap();
    dst.batch_execute("commit").await.unwrap();
    drop(src);

    // Second run: the source hands out the same batch, the target knows it.
    let src = cluster.connect("src").await.unwrap();
    let (again, events_again) = remote_batch(&src).await.expect("the batch again");
    assert_eq!(again, batch, "an unfinished batch comes back");
    assert_eq!(events_again, events);
    let done: bool = dst
        .query_one("select pgq_ext.is_batch_done('remote', $1)", &[&again])
        .await
        .unwrap()
        .get(0);
    assert!(done, "the target recorded the batch with its changes");
    src.query_one("select pgq.finish_batch($1)", &[&again])
        .await
        .unwrap();
    let applied: i64 = dst
        .query_one("select count(*) from applied", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, 5, "each event applied once");

    // Event by event: die after two of three events.
    src.batch_execute("insert into orders select i, 'item ' || i from generate_series(6, 8) i")
        .await
        .unwrap();
    tick(&src).await;
    let (batch, events) = remote_batch(&src).await.expect("a second batch");
    assert_eq!(events.len(), 3);
    for (id, data) in &events[..2] {
        dst.batch_execute("begin").await.unwrap();
        dst.execute("insert into applied values ($1, $2)", &[id, data])
            .await
            .unwrap();
        dst.execute(
            "select pgq_ext.set_event_done('remote', $1, $2)",
            &[&batch, id],
        )
        .await
        .unwrap();
        dst.batch_execute("commit").await.unwrap();
    }
    drop(src);
    let src = cluster.connect("src").await.unwrap();
    let (again, events_again) = remote_batch(&src).await.expect("the batch again");
    assert_eq!(again, batch);
    for (id, data) in &events_again {
        let done: bool = dst
            .query_one(
                "select pgq_ext.is_event_done('remote', $1, $2)",
                &[&again, id],
            )
            .await
            .unwrap()
            .get(0);
        if !done {
            dst.batch_execute("begin").await.unwrap();
            dst.execute("insert into applied values ($1, $2)", &[id, data])
                .await
                .unwrap();
            dst.execute(
                "select pgq_ext.set_event_done('remote', $1, $2)",
                &[&again, id],
            )
            .await
            .unwrap();
            dst.batch_execute("commit").await.unwrap();
        }
    }
    src.query_one("select pgq.finish_batch($1)", &[&again])
        .await
        .unwrap();
    let ids: Vec<i64> = dst
        .query("select ev_id from applied order by ev_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len(), 8, "every event applied once: {ids:?}");
}

/// A coop sub-consumer: takes batches until the shared list of events is
/// complete, recording which events it processed.
async fn coop_worker(
    client: Client,
    name: &'static str,
    total: usize,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(i64, &'static str)>>>,
) {
    let deadline = Instant::now() + PATIENCE;
    while seen.lock().unwrap().len() < total {
        assert!(Instant::now() < deadline, "{name}: timed out");
        client.batch_execute("begin").await.unwrap();
        let batch: Option<i64> = client
            .query_one("select pgq_coop.next_batch('q', 'c', $1)", &[&name])
            .await
            .unwrap()
            .get(0);
        let Some(batch) = batch else {
            client.batch_execute("commit").await.unwrap();
            // nothing ready: let the ticker run
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let ids: Vec<i64> = client
            .query("select ev_id from pgq.get_batch_events($1)", &[&batch])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        client
            .query_one("select pgq_coop.finish_batch($1)", &[&batch])
            .await
            .unwrap();
        client.batch_execute("commit").await.unwrap();
        seen.lock()
            .unwrap()
            .extend(ids.into_iter().map(|id| (id, name)));
    }
}

/// Three sub-consumers drain one queue concurrently and each event is
/// processed exactly once; then a sub-consumer that dies holding a batch
/// has it taken over by another once the dead interval has passed.
#[tokio::test]
async fn three_coop_subconsumers_share_a_queue_and_take_over_a_dead_one() {
    let cluster = TempCluster::start().unwrap();
    install(&cluster, "t", Engine::Ours);
    cluster.psql_file("t", &sql_file("pgq_coop.sql")).unwrap();
    let admin = cluster.connect("t").await.unwrap();
    admin
        .batch_execute(
            "select pgq.create_queue('q');
             select pgq_coop.register_subconsumer('q', 'c', n) from unnest(array['s1', 's2', 's3']) n;",
        )
        .await
        .unwrap();

    const BATCHES: usize = 12;
    const PER_BATCH: usize = 25;
    let total = BATCHES * PER_BATCH;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for name in ["s1", "s2", "s3"] {
        let client = cluster.connect("t").await.unwrap();
        workers.push(tokio::spawn(coop_worker(client, name, total, seen.clone())));
    }
    for b in 0..BATCHES {
        admin
            .execute(
                "select pgq.insert_event('q', 't', $1 || '.' || i) from generate_series(1, $2::int) i",
                &[&b.to_string(), &(PER_BATCH as i32)],
            )
            .await
            .unwrap();
        tick(&admin).await;
    }
    for worker in workers {
        tokio::time::timeout(PATIENCE, worker)
            .await
            .expect("workers finish")
            .unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let mut per_event: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (id, name) in &seen {
        per_event.entry(*id).or_default().push(name);
    }
    assert_eq!(per_event.len(), total, "every event processed");
    let twice: Vec<_> = per_event.iter().filter(|(_, who)| who.len() > 1).collect();
    assert!(twice.is_empty(), "events processed twice: {twice:?}");

    // s1 takes a batch and dies; s2 takes it over once s1 is dead long enough.
    admin
        .batch_execute("select pgq.insert_event('q', 't', 'orphan')")
        .await
        .unwrap();
    tick(&admin).await;
    let s1 = cluster.connect("t").await.unwrap();
    let orphan: i64 = s1
        .query_one("select pgq_coop.next_batch('q', 'c', 's1')", &[])
        .await
        .unwrap()
        .get(0);
    drop(s1);
    let s2 = cluster.connect("t").await.unwrap();
    let before: i64 = s2
        .query_one(
            "select coalesce(pgq_coop.next_batch('q', 'c', 's2', '1 hour'), -1)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(before, -1, "s1 is not dead yet, and nothing else is ready");
    let deadline = Instant::now() + PATIENCE;
    let taken = loop {
        let got: Option<i64> = s2
            .query_one(
                "select pgq_coop.next_batch('q', 'c', 's2', '200 milliseconds')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if let Some(got) = got {
            break got;
        }
        assert!(Instant::now() < deadline, "s2 never took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken, orphan, "s2 continues s1's batch");
    let data: Vec<String> = s2
        .query("select ev_data from pgq.get_batch_events($1)", &[&taken])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(data, ["orphan"]);
    s2.query_one("select pgq_coop.finish_batch($1)", &[&taken])
        .await
        .unwrap();
    let s1_rows: i64 = admin
        .query_one(
            "select count(*) from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
              where c.co_name = 'c.s1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(s1_rows, 0, "the dead sub-consumer is unregistered");
}

/// A queue-only table fed by a BEFORE trigger with SKIP stores nothing and
/// queues everything, while the table of another session's AFTER trigger
/// with ignore=password queues no password change; both reach a consumer.
#[tokio::test]
async fn queue_only_table_and_ignored_password_reach_a_consumer() {
    let cluster = TempCluster::start().unwrap();
    install(&cluster, "t", Engine::Ours);
    let app = cluster.connect("t").await.unwrap();
    app.batch_execute(
        "select pgq.create_queue('q');
         select pgq.register_consumer('q', 'c');
         create table q_only (id int, payload text);
         create trigger q before insert on q_only for each row execute procedure pgq.logutriga('q', 'SKIP');
         create table users (id int primary key, name text, password text);
         create trigger q after insert or update or delete on users
             for each row execute procedure pgq.logutriga('q', 'ignore=password');",
    )
    .await
    .unwrap();
    let other = cluster.connect("t").await.unwrap();
    other
        .batch_execute(
            "begin;
             insert into q_only values (1, 'a b');
             insert into users values (7, 'ann', 'secret');
             update users set password = 'changed' where id = 7;
             update users set name = 'anna' where id = 7;
             commit;",
        )
        .await
        .unwrap();
    let stored: i64 = app
        .query_one("select count(*) from q_only", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0, "the queue-only table stays empty");
    tick(&app).await;
    let got = crate::common::read_batches(&app, "q", "c").await;
    assert_eq!(
        got,
        ["id=1&payload=a+b", "id=7&name=ann", "id=7&name=anna"],
        "no password, no event for the password change"
    );
}

// ---------------------------------------------------------------------
// Skytools python consumers
// ---------------------------------------------------------------------

/// A CoopConsumer that records each event it sees with its sub-consumer.
const COOP_SCRIPT: &str = r#"
import sys, pgq

class Coop(pgq.CoopConsumer):
    def process_event(self, db, ev):
        db.cursor().execute("insert into coop_seen values (%s, %s)",
                            [self.cf.get('subconsumer_name'), ev.ev_id])
        ev.tag_done()

if __name__ == '__main__':
    Coop('coop', 'db', sys.argv[1:]).start()
"#;

/// A RemoteConsumer that applies events to the target and dies once, after
/// the target committed and before the source finished the batch, when the
/// crash file exists.
const REMOTE_SCRIPT: &str = r#"
import os, sys, pgq

class Remote(pgq.RemoteConsumer):
    def process_remote_batch(self, db, batch_id, ev_list, dst_db):
        curs = dst_db.cursor()
        for ev in ev_list:
            curs.execute("insert into applied values (%s, %s)", [ev.ev_id, ev.ev_data])

    def process_batch(self, db, batch_id, ev_list):
        pgq.RemoteConsumer.process_batch(self, db, batch_id, ev_list)
        crash = self.cf.get('crash_file')
        if os.path.exists(crash):
            os.remove(crash)
            raise Exception('dying between the target commit and finish_batch')

if __name__ == '__main__':
    Remote('remote', 'src_db', 'dst_db', sys.argv[1:]).start()
"#;

/// The Skytools python framework's CoopConsumer (three sub-consumers) and
/// RemoteConsumer (with pgq_ext batch tracking, dying once between the
/// target commit and finish_batch) work against our schemas.
#[tokio::test]
async fn skytools_coop_and_remote_consumers_work_against_our_schemas() {
    let cluster = TempCluster::start().unwrap();
    let (src, dst) = source_and_target(&cluster).await;
    cluster.psql_file("src", &sql_file("pgq_coop.sql")).unwrap();
    src.batch_execute("create table coop_seen (sub text, ev_id bigint)")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("coop.py"), COOP_SCRIPT).unwrap();
    std::fs::write(dir.join("remote.py"), REMOTE_SCRIPT).unwrap();
    for sub in ["s1", "s2", "s3"] {
        write_ini(
            dir,
            &format!("coop_{sub}.ini"),
            "coop",
            &[
                format!("db = {}", cluster.conninfo("src")),
                "queue_name = q".to_owned(),
                "consumer_name = cc".to_owned(),
                format!("subconsumer_name = {sub}"),
                "subconsumer_timeout = 1 hour".to_owned(),
            ],
        );
    }
    let crash_file = dir.join("crash");
    write_ini(
        dir,
        "remote.ini",
        "remote",
        &[
            format!("src_db = {}", cluster.conninfo("src")),
            format!("dst_db = {}", cluster.conninfo("dst")),
            "queue_name = q".to_owned(),
            "consumer_name = remote".to_owned(),
            format!("crash_file = {}", crash_file.display()),
        ],
    );
    for sub in ["s1", "s2", "s3"] {
        run_python(dir, "coop.py", &format!("coop_{sub}.ini"), &["--register"]).await;
    }

    // Three batches, from the trigger.
    for b in 0..3 {
        src.execute(
            "insert into orders select $1 * 10 + i, 'item' from generate_series(1, 4) i",
            &[&b],
        )
        .await
        .unwrap();
        tick(&src).await;
    }
    std::fs::write(&crash_file, "").unwrap();
    let ((), (), (), (remote_ok, remote_output)) = tokio::join!(
        run_python(dir, "coop.py", "coop_s1.ini", &[]),
        run_python(dir, "coop.py", "coop_s2.ini", &[]),
        run_python(dir, "coop.py", "coop_s3.ini", &[]),
        run_python_status(dir, "remote.py", "remote.ini", &[]),
    );
    assert!(
        !remote_ok && remote_output.contains("dying between the target commit and finish_batch"),
        "the remote consumer dies after its first target commit: {remote_output}"
    );
    assert!(!crash_file.exists(), "it died once");
    // Restarted, it finds the batch done on the target and moves on.
    run_python(dir, "remote.py", "remote.ini", &[]).await;

    let coop: Vec<(i64, i64)> = src
        .query("select count(*), count(distinct ev_id) from coop_seen", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(coop, [(12, 12)], "each event once over the sub-consumers");
    let applied: Vec<(i64, i64)> = dst
        .query("select count(*), count(distinct ev_id) from applied", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(applied, [(12, 12)], "each event applied once on the target");
    let pending: Vec<(String, Option<i64>)> = src
        .query(
            "select consumer_name, current_batch from pgq.get_consumer_info('q')
              where consumer_name in ('cc', 'remote') order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        pending,
        [("cc".to_owned(), None), ("remote".to_owned(), None)],
        "no batch left open"
    );
}
