//! The administration subcommands, run as the real `pgqd` binary against
//! throwaway clusters: installing into one and into all databases without
//! losing data, queues, consumers and settings, events through a forced
//! tick to a consumer, maintenance and the retry mover on demand, and the
//! errors a user sees for bad names, bad settings and an unreachable
//! server.

use std::time::Duration;

use pgqd::tempcluster::TempCluster;
use serde_json::Value;

use crate::common::{PATIENCE, read_batches, wait_value};

/// What one run of `pgqd` printed and how it exited.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts exit 0 and returns stdout.
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        &self.stdout
    }

    /// Asserts `code` and a one-line error message on stderr; returns it.
    fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit {code}: {self:?}");
        assert!(self.stdout.is_empty(), "nothing on stdout: {self:?}");
        if code == 1 {
            assert_eq!(self.stderr.lines().count(), 1, "one line: {self:?}");
        }
        &self.stderr
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// Runs `pgqd SUBCOMMAND ARGS...` as it is, with no connection options.
async fn pgqd_raw(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgqd"))
        .args(args)
        .env_remove("PGDATABASE")
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `pgqd SUBCOMMAND --connstr <cluster> ARGS...`.
async fn pgqd(cluster: &TempCluster, args: &[&str]) -> Run {
    let connstr = cluster.base_connstr();
    let mut all = vec![args[0], "--connstr", &connstr];
    all.extend_from_slice(&args[1..]);
    pgqd_raw(&all).await
}

/// Runs `pgqd SUBCOMMAND -d app ARGS...` on `cluster`.
async fn app(cluster: &TempCluster, args: &[&str]) -> Run {
    let mut all = vec![args[0], "-d", "app"];
    all.extend_from_slice(&args[1..]);
    pgqd(cluster, &all).await
}

/// Whether `db` has this project's engine.
fn has_engine(cluster: &TempCluster, db: &str) -> bool {
    cluster
        .psql(
            db,
            "select exists (select 1 from pg_proc where proname = 'engine_version' \
             and pronamespace = 'pgq'::regnamespace)",
        )
        .map(|v| v == "t")
        .unwrap_or(false)
}

/// The settings `queue-config` prints, as `(key, value)` pairs.
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_into_one_and_all_databases_keeping_data() {
    let cluster = TempCluster::start().unwrap();
    for db in ["app", "other", "withext"] {
        cluster.create_database(db).unwrap();
    }
    cluster.install_pgq_extension("withext").unwrap();

    // Before the install, commands say what is missing.
    let missing = pgqd(&cluster, &["queues", "-d", "app"]).await;
    assert!(
        missing
            .fails(1)
            .contains("database \"app\" has no PgQ (install it with: pgqd install -d app)"),
        "{missing:?}"
    );

    let first = pgqd(&cluster, &["install", "-d", "app"]).await;
    assert!(
        first.ok().starts_with("app: installed pgqd-sql "),
        "{first:?}"
    );
    assert!(has_engine(&cluster, "app"));
    assert!(!has_engine(&cluster, "other"), "only the database named");

    // Data to keep across a re-install: a queue, a consumer, an event
    // waiting in a tick the consumer has not read.
    pgqd(&cluster, &["create-queue", "-d", "app", "orders"])
        .await
        .ok();
    pgqd(&cluster, &["register", "-d", "app", "orders", "billing"])
        .await
        .ok();
    pgqd(
        &cluster,
        &["insert-event", "-d", "app", "orders", "t", "kept"],
    )
    .await
    .ok();
    pgqd(&cluster, &["tick", "-d", "app", "orders"]).await.ok();

    let again = pgqd(&cluster, &["install", "-d", "app"]).await;
    assert!(
        again.ok().starts_with("app: reinstalled pgqd-sql "),
        "{again:?}"
    );
    let client = cluster.connect("app").await.unwrap();
    assert_eq!(read_batches(&client, "orders", "billing").await, ["kept"]);

    // --file installs the given script; the repository's is the same one.
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/pgq.sql");
    let from_file = pgqd(&cluster, &["install", "-d", "app", "--file", file]).await;
    assert!(
        from_file.ok().starts_with("app: reinstalled"),
        "{from_file:?}"
    );
    let no_file = pgqd(
        &cluster,
        &["install", "-d", "app", "--file", "/nonexistent.sql"],
    )
    .await;
    assert!(
        no_file.fails(1).contains("reading /nonexistent.sql"),
        "{no_file:?}"
    );

    // The C extension is never replaced: an error when named...
    let ext = pgqd(&cluster, &["install", "-d", "withext"]).await;
    assert!(
        ext.fails(1)
            .contains("database \"withext\" has the pgq C extension"),
        "{ext:?}"
    );

    // ...and skipped by --all, which honours the configuration's selection.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pgqd.toml");
    std::fs::write(
        &config,
        format!(
            "base_connstr = \"{}\"\ndatabase_list = [\"other\"]\n",
            cluster.base_connstr()
        ),
    )
    .unwrap();
    let listed = pgqd_raw(&["install", "--config", config.to_str().unwrap(), "--all"]).await;
    assert_eq!(listed.ok().lines().count(), 1, "{listed:?}");
    assert!(listed.stdout.starts_with("other: installed"), "{listed:?}");

    let all = pgqd(&cluster, &["install", "--all"]).await;
    let out = all.ok();
    assert!(out.contains("app: reinstalled"), "{all:?}");
    assert!(out.contains("other: reinstalled"), "{all:?}");
    assert!(out.contains("postgres: installed"), "{all:?}");
    assert!(!out.contains("withext"), "{all:?}");
    assert!(
        all.stderr
            .contains("withext: skipped, has the pgq C extension"),
        "{all:?}"
    );
    assert!(has_engine(&cluster, "postgres"));
    assert!(
        !has_engine(&cluster, "template1"),
        "templates are left alone"
    );
    assert_eq!(
        cluster
            .psql(
                "withext",
                "select extversion from pg_extension where extname = 'pgq'"
            )
            .unwrap()
            .chars()
            .next(),
        Some('3'),
        "the extension is untouched"
    );
    // The consumer's position survived both re-installs.
    pgqd(
        &cluster,
        &["insert-event", "-d", "app", "orders", "t", "after"],
    )
    .await
    .ok();
    pgqd(&cluster, &["tick", "-d", "app", "orders"]).await.ok();
    assert_eq!(read_batches(&client, "orders", "billing").await, ["after"]);

    // Add-ons install next to the engine, idempotently.
    for _ in 0..2 {
        let with = pgqd(&cluster, &["install", "-d", "app", "--with", "ext,coop"]).await;
        with.ok();
    }
    let schemas = cluster
        .psql(
            "app",
            "select string_agg(nspname, ',' order by nspname) from pg_namespace \
             where nspname in ('pgq_ext', 'pgq_coop')",
        )
        .unwrap();
    assert_eq!(schemas, "pgq_coop,pgq_ext");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_consumers_settings_and_events() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    let client = cluster.connect("app").await.unwrap();

    let created = app(&cluster, &["create-queue", "orders", "ticker_max_lag=1s"]).await;
    assert_eq!(created.ok(), "queue orders created\n");
    let exists = app(&cluster, &["create-queue", "orders"]).await;
    assert_eq!(exists.ok(), "queue orders exists already\n");

    // Show: one KEY=VALUE line per setting, every key, values that read back.
    let shown = settings(app(&cluster, &["queue-config", "orders"]).await.ok());
    let keys: Vec<&str> = shown.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ticker_max_count",
            "ticker_max_lag",
            "ticker_idle_period",
            "ticker_paused",
            "rotation_period",
            "external_ticker",
            "disable_insert",
            "per_tx_limit"
        ]
    );
    assert!(shown.contains(&("ticker_max_lag".into(), "00:00:01".into())));
    assert!(shown.contains(&("per_tx_limit".into(), String::new())));
    let json = app(&cluster, &["queue-config", "orders", "--json"])
        .await
        .json();
    assert_eq!(json["settings"]["ticker_max_lag"], 1.0);
    assert_eq!(json["settings"]["ticker_max_count"], 500);
    assert_eq!(json["settings"]["per_tx_limit"], Value::Null);

    // Change, including the two settings pgq.set_queue_config() lacks.
    let changed = app(
        &cluster,
        &[
            "queue-config",
            "orders",
            "ticker_max_count=10",
            "queue_ticker_idle_period=30s",
            "disable_insert=on",
            "per_tx_limit=5",
        ],
    )
    .await;
    let changed = settings(changed.ok());
    assert!(changed.contains(&("ticker_max_count".into(), "10".into())));
    assert!(changed.contains(&("disable_insert".into(), "true".into())));
    assert_eq!(
        cluster
            .psql(
                "app",
                "select queue_ticker_max_count, queue_ticker_idle_period, \
                 queue_disable_insert, queue_per_tx_limit from pgq.queue"
            )
            .unwrap(),
        "10|00:00:30|t|5"
    );

    // Bad settings: unknown keys and unparsable values are usage errors;
    // what only the server can judge is an error naming the database, and
    // nothing of the batch is applied.
    let unknown = app(&cluster, &["queue-config", "orders", "ticker_speed=9"]).await;
    assert!(
        unknown
            .fails(2)
            .contains("unknown setting \"ticker_speed\""),
        "{unknown:?}"
    );
    let not_bool = app(&cluster, &["queue-config", "orders", "ticker_paused=maybe"]).await;
    assert!(
        not_bool.fails(2).contains("not true or false"),
        "{not_bool:?}"
    );
    let not_count = app(&cluster, &["queue-config", "orders", "ticker_max_count=-3"]).await;
    assert!(not_count.fails(2).contains("not a whole number"));
    let bad_interval = app(
        &cluster,
        &[
            "queue-config",
            "orders",
            "ticker_max_count=99",
            "ticker_max_lag=soon",
        ],
    )
    .await;
    let message = bad_interval.fails(1);
    assert!(
        message.contains("setting ticker_max_lag of queue \"orders\" in database \"app\"")
            && message.contains("invalid input syntax for type interval"),
        "{message}"
    );
    let negative = app(
        &cluster,
        &["queue-config", "orders", "rotation_period=-1 hour"],
    )
    .await;
    assert!(
        negative.fails(1).contains("is not a positive interval"),
        "{negative:?}"
    );
    assert_eq!(
        cluster
            .psql("app", "select queue_ticker_max_count from pgq.queue")
            .unwrap(),
        "10",
        "a failed change applies nothing"
    );
    let no_queue = app(&cluster, &["queue-config", "nosuch"]).await;
    assert!(
        no_queue
            .fails(1)
            .contains("no queue \"nosuch\" in database \"app\""),
        "{no_queue:?}"
    );

    // disable_insert is enforced; clearing it and the limit lets events in.
    let refused = app(&cluster, &["insert-event", "orders", "t", "x"]).await;
    assert!(
        refused
            .fails(1)
            .starts_with("pgqd insert-event: inserting an event into queue \"orders\" in database \"app\": ERROR:"),
        "{refused:?}"
    );
    app(
        &cluster,
        &[
            "queue-config",
            "orders",
            "disable_insert=off",
            "per_tx_limit=",
        ],
    )
    .await
    .ok();

    // Register at the newest tick; an event, a forced tick, and the
    // consumer sees it.
    let registered = app(&cluster, &["register", "orders", "billing"]).await;
    let first_tick: i64 = registered
        .ok()
        .trim()
        .strip_prefix("consumer billing registered on orders at tick ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{registered:?}"));
    let id = app(
        &cluster,
        &[
            "insert-event",
            "orders",
            "order.created",
            "first",
            "--extra1",
            "e1",
        ],
    )
    .await;
    let id: i64 = id.ok().trim().parse().expect("an event id");
    assert_eq!(
        cluster
            .psql(
                "app",
                &format!("select ev_type || '/' || ev_extra1 from pgq.event_1 where ev_id = {id}")
            )
            .unwrap(),
        "order.created/e1"
    );
    let ticked = app(&cluster, &["tick", "orders"]).await;
    let tick_line = ticked.ok().trim().to_owned();
    let second_tick: i64 = tick_line
        .strip_prefix("orders: tick ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{ticked:?}"));
    assert!(second_tick > first_tick);
    assert_eq!(read_batches(&client, "orders", "billing").await, ["first"]);

    // A second consumer registered at the first tick gets that event too;
    // one at a tick that does not exist is refused.
    let at = first_tick.to_string();
    let audit = app(&cluster, &["register", "orders", "audit", "--tick", &at]).await;
    assert_eq!(
        audit.ok(),
        format!("consumer audit registered on orders at tick {first_tick}\n")
    );
    assert_eq!(read_batches(&client, "orders", "audit").await, ["first"]);
    let again = app(&cluster, &["register", "orders", "audit"]).await;
    assert!(again.ok().contains("already registered"), "{again:?}");
    let nowhere = app(
        &cluster,
        &["register", "orders", "late", "--tick", "999999"],
    )
    .await;
    assert!(
        nowhere
            .fails(1)
            .contains("registering consumer \"late\" on queue \"orders\" in database \"app\""),
        "{nowhere:?}"
    );

    // Listings: names for scripts, JSON with figures.
    assert_eq!(app(&cluster, &["queues"]).await.ok(), "orders\n");
    let queues = app(&cluster, &["queues", "--json"]).await.json();
    assert_eq!(queues["database"], "app");
    assert_eq!(queues["queues"][0]["queue"], "orders");
    assert_eq!(queues["queues"][0]["last_tick_id"], second_tick);
    assert_eq!(
        app(&cluster, &["consumers"]).await.ok(),
        "orders\taudit\norders\tbilling\n"
    );
    let consumers = app(&cluster, &["consumers", "orders", "--json"])
        .await
        .json();
    let list = consumers["consumers"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["consumer"], "billing");
    assert_eq!(list[1]["last_tick"], second_tick);
    let none = app(&cluster, &["consumers", "nosuch"]).await;
    assert!(none.fails(1).contains("no queue \"nosuch\""), "{none:?}");

    // Unregister: once, then an error unless --if-exists.
    assert_eq!(
        app(&cluster, &["unregister", "orders", "audit"]).await.ok(),
        "consumer audit unregistered from orders\n"
    );
    let twice = app(&cluster, &["unregister", "orders", "audit"]).await;
    assert!(
        twice
            .fails(1)
            .contains("consumer \"audit\" is not registered on queue \"orders\""),
        "{twice:?}"
    );
    app(&cluster, &["unregister", "orders", "audit", "--if-exists"])
        .await
        .ok();

    // Drop: refused while consumers remain, --force unregisters them.
    let busy = app(&cluster, &["drop-queue", "orders"]).await;
    assert!(
        busy.fails(1).contains("still has consumers (billing)"),
        "{busy:?}"
    );
    assert_eq!(
        app(&cluster, &["drop-queue", "orders", "--force"])
            .await
            .ok(),
        "queue orders dropped\n"
    );
    assert_eq!(app(&cluster, &["queues"]).await.ok(), "");
    assert_eq!(
        cluster
            .psql("app", "select count(*) from pgq.subscription")
            .unwrap(),
        "0"
    );
    let gone = app(&cluster, &["drop-queue", "orders"]).await;
    assert!(gone.fails(1).contains("no queue \"orders\""), "{gone:?}");
    app(&cluster, &["drop-queue", "orders", "--if-exists"])
        .await
        .ok();

    // create-queue applies its settings in the same step.
    app(
        &cluster,
        &[
            "create-queue",
            "fast",
            "ticker_max_lag=200ms",
            "ticker_paused=yes",
        ],
    )
    .await
    .ok();
    assert_eq!(
        cluster
            .psql(
                "app",
                "select queue_ticker_max_lag, queue_ticker_paused from pgq.queue \
                 where queue_name = 'fast'"
            )
            .unwrap(),
        "00:00:00.2|t"
    );
    // tick without a queue skips paused ones, with a note.
    let skipped = app(&cluster, &["tick"]).await;
    assert_eq!(skipped.ok(), "");
    assert!(
        skipped.stderr.contains("fast: skipped, ticker paused"),
        "{skipped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_and_retry_run_on_demand() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    let client = cluster.connect("app").await.unwrap();

    pgqd(
        &cluster,
        &["create-queue", "-d", "app", "rot", "rotation_period=1s"],
    )
    .await
    .ok();
    let table = "select queue_cur_table from pgq.queue where queue_name = 'rot'";
    assert_eq!(cluster.psql("app", table).unwrap(), "0");
    // Rotation is due once the period has passed: run maint until it is.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let maint = pgqd(&cluster, &["maint", "-d", "app"]).await;
        if maint
            .ok()
            .contains("ran pgq.maint_rotate_tables_step1(rot)")
        {
            break;
        }
        assert_eq!(maint.stdout, "no maintenance due\n", "{maint:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "rotation never came due"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(cluster.psql("app", table).unwrap(), "1");

    // Retry: a consumer sends an event back; retry moves it at once and it
    // comes again after the next tick.
    pgqd(&cluster, &["create-queue", "-d", "app", "jobs"])
        .await
        .ok();
    pgqd(&cluster, &["register", "-d", "app", "jobs", "worker"])
        .await
        .ok();
    pgqd(
        &cluster,
        &["insert-event", "-d", "app", "jobs", "t", "again"],
    )
    .await
    .ok();
    pgqd(&cluster, &["tick", "-d", "app", "jobs"]).await.ok();
    let batch: i64 = client
        .query_one("select pgq.next_batch('jobs', 'worker')", &[])
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "select pgq.event_retry($1, ev_id, 0) from pgq.get_batch_events($1)",
            &[&batch],
        )
        .await
        .unwrap();
    client
        .execute("select pgq.finish_batch($1)", &[&batch])
        .await
        .unwrap();
    let retry = pgqd(&cluster, &["retry", "-d", "app"]).await;
    assert_eq!(retry.ok(), "moved 1 events\n");
    assert_eq!(
        pgqd(&cluster, &["retry", "-d", "app"]).await.ok(),
        "moved 0 events\n"
    );
    pgqd(&cluster, &["tick", "-d", "app", "jobs"]).await.ok();
    assert_eq!(read_batches(&client, "jobs", "worker").await, ["again"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_work_on_the_c_extension_too() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_pgq_extension("app").unwrap();
    let client = cluster.connect("app").await.unwrap();
    app(
        &cluster,
        &[
            "create-queue",
            "orders",
            "ticker_max_lag=2s",
            "disable_insert=false",
            "per_tx_limit=100",
        ],
    )
    .await
    .ok();
    let json = app(&cluster, &["queue-config", "orders", "--json"])
        .await
        .json();
    assert_eq!(json["settings"]["ticker_max_lag"], 2.0);
    assert_eq!(json["settings"]["per_tx_limit"], 100);
    app(&cluster, &["register", "orders", "billing"]).await.ok();
    app(&cluster, &["insert-event", "orders", "t", "via-extension"])
        .await
        .ok();
    app(&cluster, &["tick", "orders"]).await.ok();
    assert_eq!(
        read_batches(&client, "orders", "billing").await,
        ["via-extension"]
    );
    let consumers = app(&cluster, &["consumers", "--json"]).await.json();
    assert_eq!(consumers["consumers"][0]["consumer"], "billing");
    app(&cluster, &["maint"]).await.ok();
    app(&cluster, &["retry"]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_usage_and_an_unreachable_server() {
    // Names are refused before anything connects (the server does not exist).
    let nowhere = "host=/nonexistent/pgqd-test port=1 user=nobody";
    let long = "q".repeat(64);
    for args in [
        vec!["create-queue", "-d", "app", ""],
        vec!["create-queue", "-d", "app", &long],
        vec!["drop-queue", "-d", "app", "a\nb"],
        vec!["register", "-d", "app", "orders", ""],
        vec!["unregister", "-d", "app", "orders", "tab\there"],
        vec!["queues", "-d", ""],
        vec!["register", "-d", "app", "orders", "c", "--tick", "0"],
        vec!["install", "-d", "app", "--all"],
        vec!["install", "-d", "app", "--with", "nonsense"],
    ] {
        let mut all = args.clone();
        all.extend(["--connstr", nowhere]);
        let run = pgqd_raw(&all).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:?}");
    }
    let no_db = pgqd_raw(&["queues", "--connstr", nowhere]).await;
    assert!(
        no_db.fails(2).contains("no database given: use -d DB"),
        "{no_db:?}"
    );

    // An unreachable server: one line naming the database, exit 1.
    let down = pgqd_raw(&["create-queue", "-d", "app", "orders", "--connstr", nowhere]).await;
    let message = down.fails(1);
    assert!(
        message.starts_with("pgqd create-queue: connecting to database \"app\" on socket"),
        "{message}"
    );

    // Every command explains itself.
    for command in [
        "install",
        "create-queue",
        "drop-queue",
        "queue-config",
        "register",
        "unregister",
        "queues",
        "consumers",
        "insert-event",
        "tick",
        "maint",
        "retry",
    ] {
        let help = pgqd_raw(&[command, "--help"]).await;
        let text = help.ok();
        assert!(
            text.contains("--connstr") && text.contains("Usage: pgqd "),
            "{command}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_is_read_only_and_says_so() {
    let primary = TempCluster::start().unwrap();
    primary.create_database("app").unwrap();
    primary.install_engine("app").unwrap();
    app(&primary, &["create-queue", "orders"]).await.ok();
    let standby = primary.create_standby().unwrap();
    wait_value(&standby, "app", "select count(*) from pgq.queue", "1").await;

    let install = app(&standby, &["install"]).await;
    assert!(
        install
            .fails(1)
            .contains("database \"app\" is on a standby server"),
        "{install:?}"
    );
    let create = app(&standby, &["create-queue", "other"]).await;
    assert!(
        create
            .fails(1)
            .contains("database \"app\" is on a standby server"),
        "{create:?}"
    );
    // Reading works there.
    assert_eq!(app(&standby, &["queues"]).await.ok(), "orders\n");
    let shown = app(&standby, &["queue-config", "orders"]).await;
    assert!(
        shown.ok().starts_with("ticker_max_count=500\n"),
        "{shown:?}"
    );
}
