//! The PL/pgSQL engine (`sql/pgq.sql`): its SQL regression scripts, and the
//! scenarios that need more than one session.

use std::path::PathBuf;
use std::time::Duration;

use pgqd::tempcluster::TempCluster;
use tokio_postgres::Client;

use crate::common::{queue_sql, read_batches, tick};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sql/tests")
        .join(name)
}

/// Runs one regression script in a fresh database with the engine
/// installed the documented way (`psql -f sql/pgq.sql`).
fn run_script(name: &str) {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("t").unwrap();
    let engine = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql/pgq.sql");
    cluster.psql_file("t", &engine).unwrap();
    let out = cluster
        .psql_file("t", &script(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        out.contains(&format!("{name}: all checks passed")),
        "{name}: {out}"
    );
}

#[test]
fn sql_api() {
    run_script("api.sql");
}

#[test]
fn sql_batches() {
    run_script("batches.sql");
}

#[test]
fn sql_reinstall() {
    run_script("reinstall.sql");
}

#[test]
fn sql_grants() {
    run_script("grants.sql");
}

async fn engine_db() -> (TempCluster, Client) {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("t").unwrap();
    cluster.install_engine("t").unwrap();
    let client = cluster.connect("t").await.unwrap();
    (cluster, client)
}

async fn one_i64(client: &Client, sql: &str) -> Option<i64> {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Reads every ready batch of queue `q` for `consumer`.
async fn read_all(client: &Client, consumer: &str) -> Vec<String> {
    read_batches(client, "q", consumer).await
}

#[tokio::test]
async fn event_of_a_transaction_open_across_a_tick_is_not_left_behind() {
    let (cluster, admin) = engine_db().await;
    admin
        .batch_execute(&queue_sql("q", "0.2", "1 hour", "c"))
        .await
        .unwrap();
    // Two idle ticks far apart make the original's idle rule back off.
    admin
        .batch_execute("select pgq.force_tick('q'); select pgq.ticker();")
        .await
        .unwrap();

    let producer = cluster.connect("t").await.unwrap();
    producer
        .batch_execute("begin; select pgq.insert_event('q', 't', 'late');")
        .await
        .unwrap();
    // A tick while the producer is open: its event counts in this tick's
    // sequence but belongs to a later batch.
    admin
        .batch_execute("select pgq.force_tick('q'); select pgq.ticker();")
        .await
        .unwrap();
    producer.batch_execute("commit").await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;

    // No new events by the sequence, but the committed event is pending.
    let ticked = one_i64(&admin, "select pgq.ticker('q')").await;
    assert!(
        ticked.is_some(),
        "the ticker ticks once the max lag has passed"
    );
    assert_eq!(read_all(&admin, "c").await, ["late"]);
}

#[tokio::test]
async fn concurrent_producers_and_rollbacks_deliver_each_committed_event_once() {
    let (cluster, admin) = engine_db().await;
    admin
        .batch_execute("select pgq.create_queue('q'); select pgq.register_consumer('q', 'c');")
        .await
        .unwrap();
    let long = cluster.connect("t").await.unwrap();
    let short = cluster.connect("t").await.unwrap();
    let doomed = cluster.connect("t").await.unwrap();
    long.batch_execute("begin; select pgq.insert_event('q', 't', 'long-1');")
        .await
        .unwrap();
    doomed
        .batch_execute("begin; select pgq.insert_event('q', 't', 'rolled-back');")
        .await
        .unwrap();
    let mut expected = vec!["long-1".to_owned(), "long-2".to_owned()];
    // Several ticks pass while `long` stays open; many short transactions
    // commit meanwhile, pushing the txid range far past the open one.
    for round in 0..5 {
        for i in 0..30 {
            let payload = format!("short-{round}-{i}");
            short
                .query_one("select pgq.insert_event('q', 't', $1)", &[&payload])
                .await
                .unwrap();
            expected.push(payload);
        }
        admin
            .batch_execute("select pgq.force_tick('q'); select pgq.ticker();")
            .await
            .unwrap();
    }
    long.batch_execute("select pgq.insert_event('q', 't', 'long-2'); commit;")
        .await
        .unwrap();
    doomed.batch_execute("rollback").await.unwrap();
    admin
        .batch_execute("select pgq.force_tick('q'); select pgq.ticker();")
        .await
        .unwrap();

    let mut got = read_all(&admin, "c").await;
    got.sort();
    expected.sort();
    assert_eq!(
        got, expected,
        "every committed event exactly once, no rolled-back one"
    );
}

/// Inserts one event and ticks, in separate transactions (an event
/// belongs to the first tick taken after its transaction committed).
async fn insert_and_tick(client: &Client, payload: &str) {
    client
        .query_one("select pgq.insert_event('q', 't', $1)", &[&payload])
        .await
        .unwrap();
    client
        .batch_execute("select pgq.force_tick('q')")
        .await
        .unwrap();
    client.batch_execute("select pgq.ticker()").await.unwrap();
}

async fn rotate(client: &Client) -> Option<i64> {
    client
        .batch_execute("select pgq.maint_rotate_tables_step1('q')")
        .await
        .unwrap();
    client
        .batch_execute("select pgq.maint_rotate_tables_step2()")
        .await
        .unwrap();
    one_i64(client, "select queue_cur_table::int8 from pgq.queue").await
}

/// Creates queue q, which rotation may rotate at any time, with
/// `consumers` registered.
async fn rotating_queue(admin: &Client, consumers: &[&str]) {
    admin
        .batch_execute(
            "select pgq.create_queue('q');
             select pgq.set_queue_config('q', 'rotation_period', '0');",
        )
        .await
        .unwrap();
    for c in consumers {
        admin
            .execute("select pgq.register_consumer('q', $1)", &[c])
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn rotation_waits_for_a_lagging_consumer_and_skips_a_locked_table() {
    let (cluster, admin) = engine_db().await;
    rotating_queue(&admin, &["c"]).await;
    insert_and_tick(&admin, "unread").await;
    // The consumer has read nothing: rotation must keep its events.
    for i in 0..4 {
        assert_eq!(
            rotate(&admin).await,
            Some(0),
            "no rotation past a lagging consumer"
        );
        insert_and_tick(&admin, &format!("more{i}")).await;
    }
    let got = read_all(&admin, "c").await;
    assert_eq!(got, ["unread", "more0", "more1", "more2", "more3"]);

    // Caught up: rotation may proceed, unless someone (pg_dump, say) holds
    // a lock on the table it would truncate.
    let holder = cluster.connect("t").await.unwrap();
    holder
        .batch_execute("begin; lock table pgq.event_1_1 in access share mode;")
        .await
        .unwrap();
    assert_eq!(
        rotate(&admin).await,
        Some(0),
        "locked table: rotation skipped without error"
    );
    holder.batch_execute("rollback").await.unwrap();
    assert_eq!(
        rotate(&admin).await,
        Some(1),
        "rotates once the lock is gone"
    );

    // Events written after the rotation still reach the consumer, once.
    insert_and_tick(&admin, "after").await;
    assert_eq!(read_all(&admin, "c").await, ["after"]);
}

async fn cur_table(client: &Client) -> i64 {
    one_i64(
        client,
        "select queue_cur_table::int8 from pgq.queue where queue_name = 'q'",
    )
    .await
    .expect("queue q exists")
}

async fn insert(client: &Client, payload: &str) {
    client
        .query_one("select pgq.insert_event('q', 't', $1)", &[&payload])
        .await
        .unwrap_or_else(|e| panic!("inserting {payload} into q on t: {e}"));
}

/// The event tables (of the first two) holding the events whose payload
/// is like `pattern`, in event order, as `client` sees them. Reading the
/// parent table would lock the third one, which rotation truncates next.
async fn tables_of(client: &Client, pattern: &str) -> Vec<String> {
    client
        .query(
            "select tableoid::regclass::text
               from (select tableoid, ev_id, ev_data from pgq.event_1_0
                     union all
                     select tableoid, ev_id, ev_data from pgq.event_1_1) e
              where ev_data like $1 order by ev_id",
            &[&pattern],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Scenario 4: step 1 rotates while writers are open, one of which
/// (repeatable read) keeps writing to the old table; step 2 runs in its own
/// transaction later, and waits until that writer's snapshot is gone. Every event reaches both consumers exactly once, and
/// no later rotation truncates the old table before the writers are done.
#[tokio::test]
async fn writers_open_across_rotation_step1_lose_no_event() {
    let (cluster, admin) = engine_db().await;
    rotating_queue(&admin, &["eager", "lazy"]).await;
    let mut expected = vec!["before".to_owned()];
    insert_and_tick(&admin, "before").await;
    // Both consumers move past the queue's creation, so step 1 may rotate.
    let mut eager = read_all(&admin, "eager").await;
    let mut lazy = read_all(&admin, "lazy").await;

    // A repeatable-read writer reads the queue row from its snapshot for
    // its whole transaction; a read-committed one re-reads it per statement.
    let rr = cluster.connect("t").await.unwrap();
    let rc = cluster.connect("t").await.unwrap();
    rr.batch_execute("begin isolation level repeatable read")
        .await
        .unwrap();
    rc.batch_execute("begin").await.unwrap();
    insert(&rr, "rr-1").await;
    insert(&rc, "rc-1").await;
    insert_and_tick(&admin, "a-1").await;
    eager.extend(read_all(&admin, "eager").await);
    assert_eq!(cur_table(&admin).await, 0);

    admin
        .batch_execute("select pgq.maint_rotate_tables_step1('q')")
        .await
        .unwrap();
    assert_eq!(
        cur_table(&admin).await,
        1,
        "step 1 rotates while the writers are open"
    );
    insert(&rr, "rr-2").await;
    insert(&rc, "rc-2").await;
    // Uncommitted rows are visible to their own session only.
    assert_eq!(
        tables_of(&rr, "rr-%").await,
        ["pgq.event_1_0", "pgq.event_1_0"],
        "the repeatable-read writer still writes to the old table"
    );
    assert_eq!(
        tables_of(&rc, "rc-%").await,
        ["pgq.event_1_0", "pgq.event_1_1"],
        "the read-committed writer moves to the new table"
    );
    insert_and_tick(&admin, "a-2").await;
    eager.extend(read_all(&admin, "eager").await);

    admin
        .batch_execute("select pgq.maint_rotate_tables_step2()")
        .await
        .unwrap();
    assert!(
        step2_pending(&admin).await,
        "step 2 waits for the repeatable-read snapshot older than step 1"
    );
    insert_and_tick(&admin, "a-3").await;
    eager.extend(read_all(&admin, "eager").await);
    insert(&rr, "rr-3").await;
    insert(&rc, "rc-3").await;
    tick(&admin).await;
    eager.extend(read_all(&admin, "eager").await);
    assert_eq!(
        rotate(&admin).await,
        Some(1),
        "no further rotation while writers from before step 2 are open"
    );

    rr.batch_execute("commit").await.unwrap();
    rc.batch_execute("commit").await.unwrap();
    admin
        .batch_execute("select pgq.maint_rotate_tables_step2()")
        .await
        .unwrap();
    assert!(
        !step2_pending(&admin).await,
        "step 2 is done once the old snapshot is gone"
    );
    insert_and_tick(&admin, "a-4").await;
    eager.extend(read_all(&admin, "eager").await);
    lazy.extend(read_all(&admin, "lazy").await);
    for p in ["rr-1", "rr-2", "rr-3", "rc-1", "rc-2", "rc-3"] {
        expected.push(p.to_owned());
    }
    for p in ["a-1", "a-2", "a-3", "a-4"] {
        expected.push(p.to_owned());
    }

    // Further rotations (the second one truncates the old table again).
    for round in 0..4 {
        let want = (cur_table(&admin).await + 1) % 3;
        assert_eq!(rotate(&admin).await, Some(want), "rotation {round}");
        let payload = format!("after-{round}");
        insert_and_tick(&admin, &payload).await;
        expected.push(payload);
        eager.extend(read_all(&admin, "eager").await);
        lazy.extend(read_all(&admin, "lazy").await);
    }
    let expected = sorted(expected);
    assert_eq!(sorted(eager), expected, "eager consumer: each event once");
    assert_eq!(sorted(lazy), expected, "lazy consumer: each event once");
}

/// A queue whose consumer has read past its creation, so that rotation
/// step 1 may rotate; returns the consumer's events so far.
async fn rotatable_queue(admin: &Client) -> Vec<String> {
    rotating_queue(admin, &["c"]).await;
    insert_and_tick(admin, "before").await;
    read_all(admin, "c").await
}

/// Whether queue q waits for rotation step 2.
async fn step2_pending(client: &Client) -> bool {
    one_i64(
        client,
        "select count(*) from pgq.queue where queue_name = 'q' and queue_switch_step2 is null",
    )
    .await
        == Some(1)
}

/// Finishes a pending step 2, then rotates and checks that it did, for a
/// few rounds of events, so that a table still holding an unread event
/// would be truncated.
async fn rotate_through(admin: &Client, got: &mut Vec<String>, expected: &mut Vec<String>) {
    admin
        .batch_execute("select pgq.maint_rotate_tables_step2()")
        .await
        .unwrap();
    assert!(!step2_pending(admin).await, "step 2 done");
    // The consumer moves past step 2, so step 1 may rotate again.
    tick(admin).await;
    got.extend(read_all(admin, "c").await);
    for round in 0..4 {
        let want = (cur_table(admin).await + 1) % 3;
        assert_eq!(rotate(admin).await, Some(want), "rotation {round}");
        let payload = format!("after-{round}");
        insert_and_tick(admin, &payload).await;
        expected.push(payload);
        got.extend(read_all(admin, "c").await);
    }
}

/// Scenario 10: a repeatable-read writer takes its snapshot, rotation steps
/// 1 and 2 commit, then it writes its first event: from its snapshot the
/// old table is still current. The insert must either reach the consumer
/// or be refused with a serialization failure; never be written where no
/// reader looks.
#[tokio::test]
async fn a_repeatable_read_writer_with_a_snapshot_older_than_rotation_loses_no_event() {
    let (cluster, admin) = engine_db().await;
    let mut got = rotatable_queue(&admin).await;
    let rr = cluster.connect("t").await.unwrap();
    rr.batch_execute("begin isolation level repeatable read; select 1")
        .await
        .unwrap();
    rotate(&admin).await;
    assert_eq!(cur_table(&admin).await, 1, "rotated after the snapshot");
    let mut expected = vec!["before".to_owned()];
    match rr
        .query_one("select pgq.insert_event('q', 't', 'stale')", &[])
        .await
    {
        Ok(_) => {
            tick(&admin).await;
            got.extend(read_all(&admin, "c").await);
            rr.batch_execute("commit").await.unwrap();
            expected.push("stale".to_owned());
        }
        Err(e) => {
            assert_eq!(
                e.code(),
                Some(&tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE),
                "refused as a serialization failure: {e:?}"
            );
            rr.batch_execute("rollback").await.unwrap();
        }
    }
    tick(&admin).await;
    got.extend(read_all(&admin, "c").await);
    rotate_through(&admin, &mut got, &mut expected).await;
    assert_eq!(sorted(got), sorted(expected), "each committed event once");
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(detail) => format!("{} ({detail})", d.message()),
            None => d.message().to_owned(),
        },
        None => e.to_string(),
    }
}

/// Scenario 5: `queue_per_tx_limit` counts the events of each transaction
/// on its own, however many other transactions insert at the same time.
#[tokio::test]
async fn per_tx_limit_counts_each_transaction_on_its_own() {
    let (cluster, admin) = engine_db().await;
    admin
        .batch_execute(
            "select pgq.create_queue('q');
             select pgq.register_consumer('q', 'c');
             update pgq.queue set queue_per_tx_limit = 2 where queue_name = 'q';",
        )
        .await
        .unwrap();
    let a = cluster.connect("t").await.unwrap();
    let b = cluster.connect("t").await.unwrap();
    a.batch_execute("begin").await.unwrap();
    b.batch_execute("begin").await.unwrap();
    // Interleaved, each up to the limit; b's second goes through the bulk call.
    insert(&a, "a-1").await;
    insert(&b, "b-1").await;
    insert(&a, "a-2").await;
    b.query_one(
        "select pgq.insert_event_bulk('q', array['t'], array['b-2'])",
        &[],
    )
    .await
    .expect("b's second event, in bulk, is within the limit");

    const LIMIT_ERROR: &str = "Queue 'q' allows max 2 events from one TX";
    b.batch_execute("savepoint s").await.unwrap();
    let err = b
        .query_one("select pgq.insert_event('q', 't', 'b-3')", &[])
        .await
        .expect_err("b's third event exceeds the limit");
    assert_eq!(db_message(&err), LIMIT_ERROR);
    b.batch_execute("rollback to savepoint s; commit;")
        .await
        .unwrap();
    let err = a
        .query_one("select pgq.insert_event('q', 't', 'a-3')", &[])
        .await
        .expect_err("a's third event exceeds the limit");
    assert_eq!(db_message(&err), LIMIT_ERROR);
    a.batch_execute("rollback").await.unwrap();

    // A new transaction of the same session starts from zero.
    a.batch_execute("begin").await.unwrap();
    insert(&a, "a2-1").await;
    insert(&a, "a2-2").await;
    a.batch_execute("commit").await.unwrap();

    tick(&admin).await;
    assert_eq!(
        sorted(read_all(&admin, "c").await),
        ["a2-1", "a2-2", "b-1", "b-2"],
        "the events of the committed transactions"
    );
}

/// Scenario 6: two sessions create the same queue at the same time; the
/// second waits for the first to commit, then finds the queue.
#[tokio::test]
async fn concurrent_create_queue_of_one_name_creates_it_once() {
    let (cluster, admin) = engine_db().await;
    let first = cluster.connect("t").await.unwrap();
    let second = cluster.connect("t").await.unwrap();
    let second_pid: i32 = second
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    first.batch_execute("begin").await.unwrap();
    let created: i32 = first
        .query_one("select pgq.create_queue('q')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(created, 1, "the first session creates the queue");

    let racer = tokio::spawn(async move {
        let got = second
            .query_one("select pgq.create_queue('q')", &[])
            .await
            .map(|row| row.get::<_, i32>(0));
        (second, got)
    });
    // The second call must really overlap the first's open transaction.
    let deadline = tokio::time::Instant::now() + crate::common::PATIENCE;
    loop {
        let waiting: Option<String> = admin
            .query_one(
                "select wait_event_type from pg_stat_activity where pid = $1",
                &[&second_pid],
            )
            .await
            .unwrap()
            .get(0);
        if waiting.as_deref() == Some("Lock") {
            break;
        }
        assert!(
            !racer.is_finished(),
            "the second create_queue returned before the first committed"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second create_queue never waited for a lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.batch_execute("commit").await.unwrap();
    let (_second, got) = racer.await.unwrap();
    assert_eq!(
        got.map_err(|e| db_message(&e)),
        Ok(0),
        "the second finds the queue"
    );
    assert_eq!(
        one_i64(&admin, "select count(*) from pgq.queue").await,
        Some(1)
    );
}

/// One producer for scenario 7: inserts into queue `q` until `stop`,
/// alternating single-event transactions and three-event transactions;
/// returns the payloads of the committed ones, or the first error.
async fn produce_until(
    client: Client,
    name: &'static str,
    stop: tokio_util::sync::CancellationToken,
) -> Result<Vec<String>, String> {
    let mut committed = Vec::new();
    let mut n = 0;
    while !stop.is_cancelled() {
        n += 1;
        if n % 2 == 0 {
            let payload = format!("{name}-{n}");
            client
                .query_one("select pgq.insert_event('q', 't', $1)", &[&payload])
                .await
                .map_err(|e| format!("{name}: inserting {payload}: {}", db_message(&e)))?;
            committed.push(payload);
        } else {
            let payloads: Vec<String> = (0..3).map(|i| format!("{name}-{n}.{i}")).collect();
            client
                .batch_execute("begin")
                .await
                .map_err(|e| format!("{name}: begin: {e}"))?;
            for payload in &payloads {
                client
                    .query_one("select pgq.insert_event('q', 't', $1)", &[payload])
                    .await
                    .map_err(|e| format!("{name}: inserting {payload}: {}", db_message(&e)))?;
            }
            client
                .batch_execute("commit")
                .await
                .map_err(|e| format!("{name}: commit: {e}"))?;
            committed.extend(payloads);
        }
    }
    Ok(committed)
}

/// Creates queue `other` with a consumer and an event, then drops it,
/// `rounds` times; each round regenerates the dispatch functions twice.
/// `each_round` runs after every round.
async fn churn_other_queue(ddl: &Client, rounds: usize, mut each_round: impl AsyncFnMut()) {
    for round in 0..rounds {
        ddl.batch_execute(
            "select pgq.create_queue('other');
             select pgq.register_consumer('other', 'x');
             select pgq.insert_event('other', 't', 'o');",
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating queue other on t, round {round}: {}",
                db_message(&e)
            )
        });
        ddl.batch_execute("select pgq.drop_queue('other', true)")
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "dropping queue other on t, round {round}: {}",
                    db_message(&e)
                )
            });
        each_round().await;
    }
}

/// Scenario 7: creating and dropping another queue regenerates the
/// per-queue dispatch functions; producers in other sessions keep working
/// meanwhile, and every committed event is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_keep_working_while_other_queues_come_and_go() {
    let (cluster, admin) = engine_db().await;
    admin
        .batch_execute("select pgq.create_queue('q'); select pgq.register_consumer('q', 'c');")
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut producers = Vec::new();
    for name in ["p1", "p2"] {
        let client = cluster.connect("t").await.unwrap();
        producers.push(tokio::spawn(produce_until(client, name, stop.clone())));
    }

    let events = "select count(*) from pgq.event_1";
    let ddl = cluster.connect("t").await.unwrap();
    let mut last = one_i64(&admin, events).await.unwrap();
    let mut rounds_with_inserts = 0;
    churn_other_queue(&ddl, 20, async || {
        let now = one_i64(&admin, events).await.unwrap();
        if now > last {
            rounds_with_inserts += 1;
        }
        last = now;
    })
    .await;
    stop.cancel();
    let mut expected = Vec::new();
    for producer in producers {
        expected.extend(producer.await.unwrap().unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(
        rounds_with_inserts > 0,
        "the producers inserted while the other queue came and went"
    );

    tick(&admin).await;
    assert_eq!(
        sorted(read_all(&admin, "c").await),
        sorted(expected),
        "every committed event once"
    );
}

/// Dropping a queue while a ticker (a daemon) ticks it neither fails nor
/// makes the ticker fail: the two must not wait on each other's locks.
/// (pgq 3.5 deadlocks here: its `drop_queue` locks the queue row before
/// the queue's sequences and tables, the ticker takes them the other way.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_queue_does_not_deadlock_with_a_running_ticker() {
    let (cluster, _admin) = engine_db().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let ticker_client = cluster.connect("t").await.unwrap();
    let ticker_stop = stop.clone();
    let ticker = tokio::spawn(async move {
        let mut calls = 0;
        while !ticker_stop.is_cancelled() {
            ticker_client
                .batch_execute("select pgq.ticker()")
                .await
                .map_err(|e| format!("ticker on t: {}", db_message(&e)))?;
            calls += 1;
        }
        Ok::<_, String>(calls)
    });
    let ddl = cluster.connect("t").await.unwrap();
    churn_other_queue(&ddl, 30, async || {}).await;
    stop.cancel();
    let calls = ticker.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    assert!(calls > 0);
    let log = cluster.log();
    assert!(
        !log.contains("deadlock detected"),
        "no deadlock between drop_queue and the ticker: {log}"
    );
}

/// Scenario 9: a user without CREATEROLE cannot install the engine while
/// its roles are missing; the install stops at once and leaves nothing
/// behind. Once a superuser has created the roles, the same user can.
#[tokio::test]
async fn install_without_createrole_and_missing_roles_fails_cleanly() {
    let cluster = TempCluster::start().unwrap();
    cluster
        .psql("postgres", "create role installer login")
        .unwrap();
    cluster
        .psql("postgres", "create database t owner installer")
        .unwrap();
    let engine = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql/pgq.sql");
    // libpq takes the last `user=` of a connection string.
    let as_installer = format!("{} user=installer", cluster.conninfo("t"));
    let err = cluster
        .psql_file(&as_installer, &engine)
        .expect_err("installing without the roles and without CREATEROLE fails")
        .to_string();
    assert!(
        err.contains(
            "roles pgq_reader, pgq_writer, pgq_admin do not exist and user \"installer\" cannot create them"
        ),
        "a clear error: {err}"
    );
    // psql stops at the first error: nothing but the check ran.
    assert_eq!(
        err.matches("ERROR").count(),
        1,
        "one error, at the start: {err}"
    );
    let left = cluster
        .psql(
            "t",
            "select count(*) from pg_namespace where nspname = 'pgq'
             union all
             select count(*) from pg_roles where rolname like 'pgq\\_%'",
        )
        .unwrap();
    assert_eq!(left, "0\n0", "no pgq schema and no role left behind");

    cluster
        .psql(
            "postgres",
            "create role pgq_reader; create role pgq_writer;
             create role pgq_admin in role pgq_reader, pgq_writer;",
        )
        .unwrap();
    cluster
        .psql_file(&as_installer, &engine)
        .expect("with the roles in place, the installer can install");
    let version = cluster.psql("t", "select pgq.version()").unwrap();
    assert!(version.starts_with("3.5"), "installed: {version}");
}
