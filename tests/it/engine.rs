//! The PL/pgSQL engine (`sql/pgq.sql`): its SQL regression scripts, and the
//! scenarios that need more than one session.

use std::path::PathBuf;
use std::time::Duration;

use pgqd::tempcluster::TempCluster;
use tokio_postgres::Client;

use crate::common::read_batches;

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
        .batch_execute(
            "select pgq.create_queue('q');
             select pgq.set_queue_config('q', 'ticker_max_lag', '0.2');
             select pgq.set_queue_config('q', 'ticker_idle_period', '1 hour');
             select pgq.register_consumer('q', 'c');",
        )
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

#[tokio::test]
async fn rotation_waits_for_a_lagging_consumer_and_skips_a_locked_table() {
    let (cluster, admin) = engine_db().await;
    admin
        .batch_execute(
            "select pgq.create_queue('q');
             select pgq.set_queue_config('q', 'rotation_period', '0');
             select pgq.register_consumer('q', 'c');",
        )
        .await
        .unwrap();
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
