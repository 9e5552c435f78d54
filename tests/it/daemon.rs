//! The daemon in-process against real clusters: discovery, both engines,
//! ticking, maintenance, retry, restarts, standby, HA, reload and stop.

use std::time::Duration;

use pgqd::tempcluster::{StopMode, TempCluster};

use crate::common::{PATIENCE, Running, config_for, queue_sql, read_batches, wait_value};

fn last_tick(cluster: &TempCluster, db: &str, queue: &str) -> i64 {
    cluster
        .psql(
            db,
            &format!("select coalesce(last_tick_id, 0) from pgq.get_queue_info('{queue}')"),
        )
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the queue has a tick newer than `after`.
async fn wait_tick_after(cluster: &TempCluster, db: &str, queue: &str, after: i64) -> i64 {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let tick = last_tick(cluster, db, queue);
        if tick > after {
            return tick;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}/{queue} stuck at tick {tick}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates a queue with a consumer and a quick tick policy.
fn make_queue(cluster: &TempCluster, db: &str, queue: &str) {
    cluster
        .psql(db, &queue_sql(queue, "0.1", "1", "c1"))
        .unwrap();
}

/// Reads batches for `consumer` until `want` events arrived or time runs
/// out; returns the event payloads in delivery order.
async fn consume(
    cluster: &TempCluster,
    db: &str,
    queue: &str,
    consumer: &str,
    want: usize,
) -> Vec<String> {
    let client = cluster.connect(db).await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while seen.len() < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {want} events arrived: {seen:?}",
            seen.len()
        );
        seen.extend(read_batches(&client, queue, consumer).await);
        if seen.len() < want {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    seen
}

/// A cluster with database `db` (C extension) holding queue `q` with
/// consumer `c1`.
fn cluster_with_queue() -> TempCluster {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("db").unwrap();
    cluster.install_pgq_extension("db").unwrap();
    make_queue(&cluster, "db", "q");
    cluster
}

#[tokio::test]
async fn ticks_both_engines_and_ignores_databases_without_pgq() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("cext").unwrap();
    cluster.install_pgq_extension("cext").unwrap();
    cluster.create_database("ours").unwrap();
    cluster.install_engine("ours").unwrap();
    cluster.create_database("plain").unwrap();
    for db in ["cext", "ours"] {
        make_queue(&cluster, db, "q");
    }
    let daemon = Running::start(config_for(&cluster, ""));
    daemon.wait_state("cext", "ticking").await;
    daemon.wait_state("ours", "ticking").await;
    daemon.wait_state("plain", "no_pgq").await;
    assert!(daemon.handle.status().contains_key("postgres"));
    assert!(
        !daemon.handle.status().contains_key("template1"),
        "templates are skipped"
    );
    for db in ["cext", "ours"] {
        cluster
            .psql(db, "select pgq.insert_event('q', 't', 'one'); select pgq.insert_event('q', 't', 'two')")
            .unwrap();
        let events = consume(&cluster, db, "q", "c1", 2).await;
        assert_eq!(events, ["one", "two"], "{db}: each event once, in order");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn discovery_picks_up_new_databases_and_releases_dropped_ones() {
    let cluster = TempCluster::start().unwrap();
    let daemon = Running::start(config_for(&cluster, ""));
    daemon.wait_state("postgres", "no_pgq").await;

    cluster.create_database("late").unwrap();
    daemon.wait_state("late", "no_pgq").await;

    // PgQ installed after the daemon found the database.
    cluster.install_pgq_extension("late").unwrap();
    make_queue(&cluster, "late", "q");
    daemon.wait_state("late", "ticking").await;
    let first = last_tick(&cluster, "late", "q");
    cluster
        .psql("late", "select pgq.insert_event('q', 't', 'x')")
        .unwrap();
    wait_tick_after(&cluster, "late", "q", first).await;

    cluster.drop_database("late").unwrap();
    daemon
        .wait_for("the dropped database to be released", |s| {
            !s.contains_key("late")
        })
        .await;
    daemon.stop().await;
}

#[tokio::test]
async fn database_list_limits_the_set() {
    let cluster = TempCluster::start().unwrap();
    for db in ["a", "b"] {
        cluster.create_database(db).unwrap();
        cluster.install_pgq_extension(db).unwrap();
    }
    let daemon = Running::start(config_for(&cluster, "database_list = [\"a\"]"));
    daemon.wait_state("a", "ticking").await;
    let status = daemon.handle.status();
    assert_eq!(status.keys().collect::<Vec<_>>(), ["a"]);
    daemon.stop().await;
}

#[tokio::test]
async fn maintenance_rotates_tables_without_losing_events() {
    let cluster = cluster_with_queue();
    cluster
        .psql(
            "db",
            "select pgq.set_queue_config('q', 'rotation_period', '0.2 seconds')",
        )
        .unwrap();
    let daemon = Running::start(config_for(&cluster, ""));
    daemon.wait_state("db", "ticking").await;

    // Produce across several rotations while the consumer keeps reading,
    // as a live consumer does (rotation waits for the slowest consumer).
    let client = cluster.connect("db").await.unwrap();
    let mut expected = Vec::new();
    let mut delivered = Vec::new();
    for round in 0..6 {
        let payload = format!("ev{round}");
        cluster
            .psql(
                "db",
                &format!("select pgq.insert_event('q', 't', '{payload}')"),
            )
            .unwrap();
        expected.push(payload);
        let table: i32 = cluster
            .psql("db", "select queue_cur_table from pgq.queue")
            .unwrap()
            .parse()
            .unwrap();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            delivered.extend(read_batches(&client, "q", "c1").await);
            let now: i32 = cluster
                .psql("db", "select queue_cur_table from pgq.queue")
                .unwrap()
                .parse()
                .unwrap();
            if now != table {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no rotation in round {round}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while delivered.len() < expected.len() && tokio::time::Instant::now() < deadline {
        delivered.extend(read_batches(&client, "q", "c1").await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        delivered, expected,
        "every event once, none lost to rotation"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn retry_events_come_back_to_their_consumer() {
    let cluster = cluster_with_queue();
    cluster
        .psql("db", "select pgq.register_consumer('q', 'c2')")
        .unwrap();
    let daemon = Running::start(config_for(&cluster, ""));
    daemon.wait_state("db", "ticking").await;
    cluster
        .psql(
            "db",
            "select pgq.insert_event('q', 't', 'e' || i) from generate_series(1, 25) i",
        )
        .unwrap();

    // c1 retries every event of its first batches; c2 just reads.
    let client = cluster.connect("db").await.unwrap();
    let mut retried = 0;
    while retried < 25 {
        let batch: Option<i64> = client
            .query_one("select pgq.next_batch('q', 'c1')", &[])
            .await
            .unwrap()
            .get(0);
        if let Some(batch) = batch {
            let n: i32 = client
                .query_one("select pgq.batch_retry($1, 0)", &[&batch])
                .await
                .unwrap()
                .get(0);
            retried += n;
            client
                .query_one("select pgq.finish_batch($1)", &[&batch])
                .await
                .unwrap();
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The daemon drains the retry queue (more than one call's worth).
    wait_value(&cluster, "db", "select count(*) from pgq.retry_queue", "0").await;
    let mut again = consume(&cluster, "db", "q", "c1", 25).await;
    again.sort();
    let mut want: Vec<String> = (1..=25).map(|i| format!("e{i}")).collect();
    want.sort();
    assert_eq!(again, want, "each retried event came back once to c1");
    let other = consume(&cluster, "db", "q", "c2", 25).await;
    assert_eq!(other.len(), 25, "c2 saw each event once, no retried copies");
    daemon.stop().await;
}

#[tokio::test]
async fn an_event_committed_after_its_tick_is_ticked_within_the_latency_bound() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("db").unwrap();
    cluster.install_engine("db").unwrap();
    cluster
        .psql(
            "db",
            &(queue_sql("q", "0.3", "1 hour", "c1")
                + "update pgq.tick set tick_time = tick_time - interval '1 hour';"),
        )
        .unwrap();
    let first = last_tick(&cluster, "db", "q");
    // The producer's event is counted by the sequence but still invisible
    // when the daemon ticks.
    let producer = cluster.connect("db").await.unwrap();
    producer
        .batch_execute("begin; select pgq.insert_event('q', 't', 'late')")
        .await
        .unwrap();
    let daemon = Running::start(config_for(&cluster, ""));
    let tick = wait_tick_after(&cluster, "db", "q", first).await;
    // Well past the max lag, so the look after the tick has come and gone.
    wait_value(
        &cluster,
        "db",
        &format!("select now() - tick_time > interval '1 s' from pgq.tick where tick_id = {tick}"),
        "t",
    )
    .await;
    producer.batch_execute("commit").await.unwrap();
    // By the sequence the queue is idle and its next idle tick is an hour
    // away; only the engine's probe makes it due.
    let events = consume(&cluster, "db", "q", "c1", 1).await;
    assert_eq!(events, ["late"]);
    daemon.stop().await;
}

#[tokio::test]
async fn a_retry_backlog_drains_without_waiting_for_retry_period() {
    let cluster = cluster_with_queue();
    // 45 due events: five pgq.maint_retry_events() calls of at most 10.
    cluster
        .psql(
            "db",
            "select pgq.event_retry_raw('q', 'c1', now() - interval '1 s', i, now(), 0, 't', \
             'r' || i, null, null, null, null) from generate_series(1, 45) i",
        )
        .unwrap();
    // One call per round and an hour between looks: only draining round
    // after round empties the retry queue.
    let mut config = config_for(&cluster, "retry_batch_max = 1");
    config.retry_period = Duration::from_secs(3600);
    let daemon = Running::start(config);
    wait_value(&cluster, "db", "select count(*) from pgq.retry_queue", "0").await;
    let mut back = consume(&cluster, "db", "q", "c1", 45).await;
    back.sort();
    let mut want: Vec<String> = (1..=45).map(|i| format!("r{i}")).collect();
    want.sort();
    assert_eq!(back, want, "each retry event came back once");
    daemon.stop().await;
}

#[tokio::test]
async fn resumes_after_fast_and_immediate_restarts() {
    let cluster = cluster_with_queue();
    let daemon = Running::start(config_for(&cluster, "reconnect_max = \"30s\""));
    daemon.wait_state("db", "ticking").await;
    for mode in [StopMode::Fast, StopMode::Immediate] {
        cluster.stop(mode).unwrap();
        daemon.wait_state("db", "down").await;
        cluster.start_server().unwrap();
        let before = last_tick(&cluster, "db", "q");
        cluster
            .psql("db", "select pgq.insert_event('q', 't', 'after restart')")
            .unwrap();
        // Even with a 30 s backoff cap, the server coming back wakes the
        // worker; the tight bound lives in the benchmark.
        let started = std::time::Instant::now();
        wait_tick_after(&cluster, "db", "q", before).await;
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{mode:?}: resumed"
        );
    }
    daemon.stop().await;
}

#[tokio::test]
async fn standby_is_left_alone_until_promoted() {
    let primary = cluster_with_queue();
    let standby = primary.create_standby().unwrap();
    wait_value(&standby, "db", "select count(*) from pgq.queue", "1").await;
    let daemon = Running::start(config_for(&standby, ""));
    daemon.wait_state("db", "standby").await;
    let tick = last_tick(&standby, "db", "q");
    standby.promote().unwrap();
    daemon.wait_state("db", "ticking").await;
    standby
        .psql("db", "select pgq.insert_event('q', 't', 'x')")
        .unwrap();
    wait_tick_after(&standby, "db", "q", tick).await;
    daemon.stop().await;
}

#[tokio::test]
async fn one_of_two_daemons_ticks_and_the_other_takes_over() {
    let cluster = cluster_with_queue();
    let config = config_for(&cluster, "database_list = [\"db\"]");
    let first = Running::start(config.clone());
    first.wait_state("db", "ticking").await;
    let second = Running::start(config);
    second.wait_state("db", "follower").await;
    assert_eq!(first.handle.status()["db"].label(), "ticking");

    first.stop().await;
    second.wait_state("db", "ticking").await;
    let tick = last_tick(&cluster, "db", "q");
    cluster
        .psql("db", "select pgq.insert_event('q', 't', 'x')")
        .unwrap();
    wait_tick_after(&cluster, "db", "q", tick).await;
    second.stop().await;
}

#[tokio::test]
async fn bad_reload_keeps_the_running_configuration() {
    let cluster = cluster_with_queue();
    let daemon = Running::start(config_for(&cluster, ""));
    daemon.wait_state("db", "ticking").await;
    let mut broken = config_for(&cluster, "");
    broken.base_connstr = "host=".into();
    broken.base_connstr.push_str("'unterminated");
    daemon.handle.reload(broken);
    let tick = last_tick(&cluster, "db", "q");
    cluster
        .psql("db", "select pgq.insert_event('q', 't', 'x')")
        .unwrap();
    wait_tick_after(&cluster, "db", "q", tick).await;
    assert_eq!(daemon.handle.status()["db"].label(), "ticking");
    daemon.stop().await;
}

#[tokio::test]
async fn graceful_stop_is_prompt_and_releases_connections() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("db").unwrap();
    cluster.install_pgq_extension("db").unwrap();
    let daemon = Running::start(config_for(
        &cluster,
        "application_name = \"pgqd-stop-test\"",
    ));
    daemon.wait_state("db", "ticking").await;
    let sessions =
        "select count(*) from pg_stat_activity where application_name = 'pgqd-stop-test'";
    assert_ne!(cluster.psql("postgres", sessions).unwrap(), "0");
    daemon.stop().await;
    wait_value(&cluster, "postgres", sessions, "0").await;
}

#[tokio::test]
async fn an_idle_daemon_holds_one_connection_per_pgq_database_only() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("db").unwrap();
    cluster.install_pgq_extension("db").unwrap();
    cluster.create_database("plain").unwrap();
    let mut config = config_for(&cluster, "application_name = \"pgqd-count\"");
    config.check_period = Duration::from_secs(5);
    config.maint_period = Duration::from_secs(3600);
    let daemon = Running::start(config);
    daemon.wait_state("db", "ticking").await;
    daemon.wait_state("plain", "no_pgq").await;
    daemon.wait_state("postgres", "no_pgq").await;
    // Not `postgres` (where databases are listed) nor `plain`: a listing or
    // a probe for PgQ keeps no session open.
    wait_value(
        &cluster,
        "postgres",
        "select string_agg(datname || ':' || n, ',' order by datname) from \
         (select datname, count(*) n from pg_stat_activity \
          where application_name = 'pgqd-count' group by datname) s",
        "db:1",
    )
    .await;
    daemon.stop().await;
}

/// Collects log output in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn passwords_never_reach_the_log() {
    const SECRET: &str = "TopSecret42";
    let cluster = TempCluster::start().unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    // Everything, from every crate, at the most verbose level.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // One thread, so every spawned task logs through the subscriber above.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = config_for(&cluster, "database_list = [\"postgres\", \"missing_db\"]");
        config.base_connstr = format!("{} password={SECRET}", cluster.base_connstr());
        let daemon = Running::start(config);
        daemon.wait_state("postgres", "no_pgq").await;
        daemon.wait_state("missing_db", "down").await;
        daemon.stop().await;
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("missing_db"),
        "the connection error was logged: {log}"
    );
    assert!(!log.contains(SECRET), "password leaked into the log");
}

#[tokio::test]
async fn queue_tables_set_the_policy_of_matching_queues() {
    let cluster = TempCluster::start().unwrap();
    for db in ["app", "other"] {
        cluster.create_database(db).unwrap();
        cluster.install_engine(db).unwrap();
        make_queue(&cluster, db, "fast_orders");
        make_queue(&cluster, db, "slow");
    }
    cluster.create_database("cext").unwrap();
    cluster.install_pgq_extension("cext").unwrap();
    make_queue(&cluster, "cext", "fast_c");
    let daemon = Running::start(config_for(
        &cluster,
        "[[queue]]\ndatabase = \"app\"\nname = \"fast_*\"\nticker_max_lag = \"50ms\"\n\
         ticker_max_count = 10\n\n\
         [[queue]]\nname = \"fast_*\"\nticker_idle_period = \"5s\"\n\n\
         [[queue]]\nname = \"fast_c\"\nticker_paused = true\n",
    ));
    let policy = |q: &str| {
        format!(
            "select queue_ticker_max_lag || ' ' || queue_ticker_max_count || ' ' || \
             queue_ticker_idle_period || ' ' || queue_ticker_paused \
             from pgq.queue where queue_name = '{q}'"
        )
    };
    // make_queue set max lag 0.1 s and idle period 1 s.
    wait_value(
        &cluster,
        "app",
        &policy("fast_orders"),
        "00:00:00.05 10 00:00:05 false",
    )
    .await;
    wait_value(
        &cluster,
        "other",
        &policy("fast_orders"),
        "00:00:00.1 500 00:00:05 false",
    )
    .await;
    wait_value(
        &cluster,
        "cext",
        &policy("fast_c"),
        "00:00:00.1 500 00:00:05 true",
    )
    .await;
    // Queues not matched keep their own values.
    assert_eq!(
        cluster.psql("app", &policy("slow")).unwrap(),
        "00:00:00.1 500 00:00:01 false"
    );
    // A queue created later gets its settings at the next check.
    make_queue(&cluster, "app", "fast_new");
    wait_value(
        &cluster,
        "app",
        &policy("fast_new"),
        "00:00:00.05 10 00:00:05 false",
    )
    .await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_locked_event_table_delays_retries_but_never_ticks() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    make_queue(&cluster, "app", "q");
    // Long enough that a retry mover blocking the ticking connection would
    // stop ticks for longer than the test waits.
    let daemon = Running::start(config_for(&cluster, "lock_timeout = \"120s\"\n"));
    daemon.wait_state("app", "ticking").await;

    // Someone holds every event table of the queue exclusively.
    let locker = cluster.connect("app").await.unwrap();
    locker.batch_execute("begin").await.unwrap();
    let parent: String = locker
        .query_one(
            "select queue_data_pfx from pgq.queue where queue_name = 'q'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    locker
        .batch_execute(&format!("lock table {parent} in access exclusive mode"))
        .await
        .unwrap();
    // A retry event falls due: moving it back must insert into a locked table.
    cluster
        .psql(
            "app",
            "select pgq.event_retry_raw('q', 'c1', now(), 1, now(), 0, 't', 'again', \
             null, null, null, null)",
        )
        .unwrap();
    wait_value(
        &cluster,
        "app",
        "select count(*) > 0 from pg_locks where not granted and relation is not null",
        "t",
    )
    .await;
    // Ticking goes on (idle ticks every second) while the mover waits.
    let tick = last_tick(&cluster, "app", "q");
    let tick = wait_tick_after(&cluster, "app", "q", tick).await;
    wait_tick_after(&cluster, "app", "q", tick).await;

    locker.batch_execute("commit").await.unwrap();
    let events = consume(&cluster, "app", "q", "c1", 1).await;
    assert_eq!(events, ["again"]);
    daemon.stop().await;
}
