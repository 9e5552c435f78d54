//! Observability against real clusters: `/metrics` tracking a live queue,
//! scrapes that never query PostgreSQL, `/health` following the server, and
//! `pgqd check` / `pgqd status` as a monitoring system runs them.

use std::net::SocketAddr;
use std::time::Duration;

use pgqd::tempcluster::{ClusterOptions, StopMode, TempCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{PATIENCE, Running, config_for, poll, queue_sql, read_batches};

/// Starts the HTTP endpoint for a running daemon on a free port.
async fn serve(daemon: &Running) -> SocketAddr {
    pgqd::http::start(
        "127.0.0.1:0".parse().unwrap(),
        daemon.handle.clone(),
        daemon.shutdown.clone(),
    )
    .await
    .expect("endpoint starts")
}

/// GETs `path`; returns the status code and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, body.to_owned())
}

/// The value of the sample `name{labels}` in an exposition, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes until `check` holds for the body, or fails with the last body.
async fn scrape_until(addr: SocketAddr, what: &str, check: impl Fn(&str) -> bool) -> String {
    poll(PATIENCE, Duration::from_millis(50), async || {
        let (_, body) = get(addr, "/metrics").await;
        if check(&body) {
            Ok(body)
        } else {
            Err(format!(
                "timed out waiting for {what}; last scrape:\n{body}"
            ))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_track_a_real_queue() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    cluster
        .psql(
            "app",
            "select pgq.create_queue('orders');
             select pgq.set_queue_config('orders', 'ticker_max_lag', '0.1');
             select pgq.register_consumer('orders', 'billing');
             select pgq.register_consumer('orders', '.internal');",
        )
        .unwrap();
    // The recorder must exist before the workers report their states.
    pgqd::metrics::install().unwrap();
    let daemon = Running::start(config_for(&cluster, "refresh_period = \"100ms\"\n"));
    let addr = serve(&daemon).await;
    daemon.wait_state("app", "ticking").await;

    let q = "{database=\"app\",queue=\"orders\"}";
    let c = "{database=\"app\",queue=\"orders\",consumer=\"billing\"}";
    let first = scrape_until(addr, "queue figures", |b| {
        sample(b, &format!("pgqd_queue_last_tick_id{q}")).is_some()
    })
    .await;
    let tick0 = sample(&first, &format!("pgqd_queue_last_tick_id{q}")).unwrap();
    assert!(
        !first.contains("consumer=\".internal\""),
        "internal consumers are excluded by default"
    );
    assert_eq!(
        sample(
            &first,
            "pgqd_database_state{database=\"app\",state=\"ticking\"}"
        ),
        Some(1.0)
    );

    cluster
        .psql(
            "app",
            "select pgq.insert_event('orders', 'e', g::text) from generate_series(1, 7) g",
        )
        .unwrap();
    // PgQ counts pending events by sequence difference (the first event of
    // a new queue is not counted, in the C original too): the metric must
    // show what the engine says, once the events are ticked.
    let engine_pending = || -> f64 {
        cluster
            .psql(
                "app",
                "select coalesce(pending_events, 0) from pgq.get_consumer_info('orders', 'billing')",
            )
            .unwrap()
            .parse()
            .unwrap()
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let body = loop {
        let want = engine_pending();
        let (_, body) = get(addr, "/metrics").await;
        let got = sample(&body, &format!("pgqd_consumer_pending_events{c}"));
        if want >= 6.0 && got == Some(want) {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pending events: metric {got:?}, engine {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(sample(&body, &format!("pgqd_queue_last_tick_id{q}")).unwrap() > tick0);
    assert_eq!(
        sample(&body, &format!("pgqd_consumer_batch_open{c}")),
        Some(0.0)
    );

    let client = cluster.connect("app").await.unwrap();
    assert_eq!(read_batches(&client, "orders", "billing").await.len(), 7);
    scrape_until(addr, "billing to catch up", |b| {
        sample(b, &format!("pgqd_consumer_pending_events{c}")) == Some(0.0)
    })
    .await;

    // A dropped queue's series disappear instead of going stale.
    cluster
        .psql(
            "app",
            "select pgq.unregister_consumer('orders', 'billing');
             select pgq.unregister_consumer('orders', '.internal');
             select pgq.drop_queue('orders');",
        )
        .unwrap();
    scrape_until(addr, "the dropped queue to vanish", |b| {
        !b.contains("queue=\"orders\"}") && !b.contains("consumer=\"billing\"")
    })
    .await;
    daemon.stop().await;
}

/// Reads batches of `queue` for `consumer` until `payload` comes, failing
/// after `within`.
async fn delivered_within(
    client: &tokio_postgres::Client,
    queue: &str,
    consumer: &str,
    payload: &str,
    within: Duration,
) {
    poll(within, Duration::from_millis(20), async || {
        let seen = read_batches(client, queue, consumer).await;
        if seen.iter().any(|p| p == payload) {
            Ok(())
        } else {
            Err(format!(
                "{payload} of queue {queue} was not delivered within {within:?}"
            ))
        }
    })
    .await
}

/// An idle database is mostly looked at quietly (the queue table's
/// signature and the event sequences, not the schedule); a new event, and
/// a queue created meanwhile, still get their ticks within the max lag
/// instead of waiting for the next full read of the schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_database_is_looked_at_cheaply_and_still_ticks_what_comes() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    cluster
        .psql("app", &queue_sql("q", "0.2", "3600", "c"))
        .unwrap();
    // Long idle, as after a quiet night: the previous tick gap exceeds the
    // idle period, so the next idle tick (and the full read with it) is an
    // hour away. Nothing but the quiet look can notice the events below.
    cluster
        .psql(
            "app",
            "update pgq.tick set tick_time = tick_time - interval '2 hours';
             select pgq.ticker('q');",
        )
        .unwrap();
    pgqd::metrics::install().unwrap();
    let daemon = Running::start(config_for(&cluster, ""));
    let addr = serve(&daemon).await;
    daemon.wait_state("app", "ticking").await;
    let quiet = "pgqd_schedule_looks_total{database=\"app\",kind=\"quiet\"}";
    let seen = |n: f64| move |b: &str| sample(b, quiet).is_some_and(|v| v >= n);
    let body = scrape_until(addr, "quiet looks", seen(3.0)).await;
    let looks = sample(&body, quiet).unwrap();

    // A full read comes at least once a minute anyway: a quiet look that
    // missed a change would leave its event waiting up to that long.
    let within = Duration::from_secs(10);
    let client = cluster.connect("app").await.unwrap();
    // A queue created while quiet moves no sequence the look knows of.
    client
        .batch_execute(
            "select pgq.create_queue('q2');
             select pgq.set_queue_config('q2', 'ticker_max_lag', '0.2');
             select pgq.register_consumer('q2', 'c');
             select pgq.insert_event('q2', 't', 'new queue');",
        )
        .await
        .unwrap();
    delivered_within(&client, "q2", "c", "new queue", within).await;
    client
        .batch_execute("select pgq.drop_queue('q2', true)")
        .await
        .unwrap();

    // Quiet again: `q` alone, still long idle.
    scrape_until(addr, "quiet looks again", seen(looks + 3.0)).await;
    // The queue's first event: PgQ's reading of its sequence does not move
    // when the first id is drawn.
    client
        .batch_execute("select pgq.insert_event('q', 't', 'while quiet')")
        .await
        .unwrap();
    delivered_within(&client, "q", "c", "while quiet", within).await;
    daemon.stop().await;
}

/// Counts the figures reads the server has logged (`log_statement = all`).
fn reads_logged(cluster: &TempCluster) -> usize {
    // A fragment only the figures statement contains.
    cluster.log().matches("is null as step2_pending").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_never_query_and_refreshes_follow_demand() {
    let cluster =
        TempCluster::start_with(ClusterOptions::default().setting("log_statement", "all")).unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    for i in 0..20 {
        cluster
            .psql("app", &format!("select pgq.create_queue('q{i}')"))
            .unwrap();
    }

    // Refreshes are rare: every scrape must be served from memory.
    let daemon = Running::start(config_for(&cluster, "refresh_period = \"1h\"\n"));
    let addr = serve(&daemon).await;
    let body = scrape_until(addr, "the first refresh", |b| {
        b.contains("pgqd_queue_ticker_lag_seconds{database=\"app\",queue=\"q19\"}")
    })
    .await;
    assert_eq!(body.matches("pgqd_queue_last_tick_id{").count(), 20);
    let before = reads_logged(&cluster);
    assert_eq!(before, 1, "one read per database per refresh");
    for _ in 0..30 {
        let (code, _) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        // Health may still be settling on a loaded machine; what matters
        // here is that answering it queries nothing.
        let (code, body) = get(addr, "/health").await;
        assert!(code == 200 || code == 503, "{code}: {body}");
        assert!(body.contains("\"databases\""), "{body}");
    }
    assert_eq!(
        reads_logged(&cluster),
        before,
        "a scrape queried PostgreSQL"
    );
    daemon.stop().await;

    // Frequent refreshes, but only while someone reads the figures.
    let start_reads = reads_logged(&cluster);
    let daemon = Running::start(config_for(&cluster, "refresh_period = \"50ms\"\n"));
    daemon.wait_state("app", "ticking").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while reads_logged(&cluster) == start_reads {
        assert!(tokio::time::Instant::now() < deadline, "no first refresh");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Many refresh periods pass with nobody reading: no further reads.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = reads_logged(&cluster);
    assert_eq!(idle, start_reads + 1, "refreshed with nobody reading");
    let addr = serve(&daemon).await;
    get(addr, "/metrics").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while reads_logged(&cluster) == idle {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a scrape did not lead to a refresh"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.stop().await;
}

/// Polls `/health` until its status code is `want`; returns the body.
async fn health_until(addr: SocketAddr, path: &str, want: u16) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (code, body) = get(addr, path).await;
        if code == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path}: still {code}, wanted {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_server() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    cluster.psql("app", "select pgq.create_queue('q')").unwrap();
    let daemon = Running::start(config_for(&cluster, ""));
    let addr = serve(&daemon).await;
    let body = health_until(addr, "/health", 200).await;
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["status"], "ok");
    assert_eq!(report["databases"]["app"]["state"], "ticking");
    assert_eq!(report["databases"]["postgres"]["state"], "no_pgq");

    let ok = check(&["--health", &format!("http://{addr}/health")]).await;
    assert_eq!(ok.0, 0, "{}", ok.1);

    cluster.stop(StopMode::Fast).unwrap();
    let text = health_until(addr, "/health?format=text", 503).await;
    assert!(text.starts_with("FAILING: "), "{text}");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (code, text) = get(addr, "/health?format=text").await;
        assert_eq!(code, 503, "{text}");
        if text.lines().any(|l| l.starts_with("app: down (")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failing = check(&["--health", &format!("http://{addr}/health")]).await;
    assert_eq!(failing.0, 2, "{}", failing.1);

    cluster.start_server().unwrap();
    let text = health_until(addr, "/health?format=text", 200).await;
    assert!(text.starts_with("OK\n"), "{text}");
    daemon.stop().await;
    // A daemon that does not answer is critical.
    let gone = check_until(&["--health", &format!("http://{addr}/health")], 2).await;
    assert!(gone.contains("refused"), "{gone}");
}

/// Runs `pgqd check ARGS`; returns the exit code and output.
async fn check(args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgqd"))
        .arg("--check")
        .args(args)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.stderr.is_empty(),
        "a plugin writes nothing to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().next().map(|l| l.starts_with("PGQD ")),
        Some(true),
        "{text}"
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Polls the check until it exits with `want`; returns its output.
async fn check_until(args: &[&str], want: i32) -> String {
    poll(PATIENCE, Duration::from_millis(100), async || {
        let (code, text) = check(args).await;
        if code == want {
            Ok(text)
        } else {
            Err(format!(
                "check {args:?}: still exit {code}, wanted {want}: {text}"
            ))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_sees_a_stopped_ticker_a_lagging_consumer_and_a_dead_server() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    cluster
        .psql("app", &queue_sql("orders", "0.2", "2", "billing"))
        .unwrap();
    let connstr = cluster.base_connstr();
    let base = ["--connstr", connstr.as_str()];

    // Ticking, consumer keeping up: OK.
    let daemon = Running::start(config_for(&cluster, ""));
    daemon.wait_state("app", "ticking").await;
    let client = cluster.connect("app").await.unwrap();
    read_batches(&client, "orders", "billing").await;
    let ok = check_until(&base, 0).await;
    assert!(ok.contains("'queues'=1;"), "{ok}");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgqd"))
        .args(["status", "--connstr", &connstr])
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{table}");
    assert!(
        table.contains("orders") && table.contains("billing"),
        "{table}"
    );
    // The configuration file as --config, the way the admin commands take
    // it, or as the positional argument, but not both.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pgqd.toml");
    std::fs::write(&file, format!("base_connstr = \"{connstr}\"\n")).unwrap();
    let file = file.to_str().unwrap();
    for (args, shows) in [
        (["status", "--config", file], "orders"),
        (["check", "--config", file], "'queues'=1;"),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgqd"))
            .args(args)
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {text}");
        assert!(text.contains(shows), "{args:?}: {text}");
    }
    let both = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgqd"))
        .args(["status", file, "--config", file])
        .output()
        .await
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "{both:?}");

    // A consumer that stops reading: WARNING, then CRITICAL, by its lag.
    let lag = [
        base[0],
        base[1],
        "-w",
        "consumer_lag=1",
        "-c",
        "consumer_lag=3",
    ];
    let warn = check_until(&lag, 1).await;
    assert!(warn.contains("billing consumer_lag="), "{warn}");
    let crit = check_until(&lag, 2).await;
    assert!(
        crit.starts_with("PGQD CRITICAL - app/orders/billing consumer_lag="),
        "{crit}"
    );

    // The ticker stops while events wait: CRITICAL once a due tick is late.
    daemon.stop().await;
    cluster
        .psql("app", "select pgq.insert_event('orders', 'e', 'late')")
        .unwrap();
    let stopped = [
        base[0],
        base[1],
        "-c",
        "ticker_delay=1,consumer_lag=",
        "-w",
        "consumer_lag=,last_seen=",
    ];
    let crit = check_until(&stopped, 2).await;
    assert!(crit.contains("app/orders ticker_delay="), "{crit}");

    // The server is gone: the check cannot judge, UNKNOWN.
    cluster.stop(StopMode::Fast).unwrap();
    let (code, text) = check(&base).await;
    assert_eq!(code, 3, "{text}");
    assert!(text.starts_with("PGQD UNKNOWN - cannot connect"), "{text}");

    // Bad arguments: UNKNOWN with the reason.
    let (code, text) = check(&["-w", "nonsense=1"]).await;
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("unknown metric"), "{text}");
}
