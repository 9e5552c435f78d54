//! The PL/pgSQL engine with the original PgQ clients: the C `pgqd` 3.5
//! (Debian package) or our daemon ticks it, and a Skytools python
//! `pgq.Consumer` (Debian `python3-pgq`) reads it, retrying some events.
//! Nothing in these tests ticks, rotates or drains retries but the daemon.

use std::path::Path;
use std::time::Duration;

use pgqd::tempcluster::TempCluster;
use tokio_postgres::Client;

use crate::common::{PATIENCE, Running, config_for, run_python, write_ini};

const C_PGQD: &str = "/usr/bin/pgqd";

/// A consumer that records every event it sees with its retry count, and
/// sends each `retry-*` event back once (one second) on its first sight.
const CONSUMER_SCRIPT: &str = r#"
import sys, pgq

class Retrier(pgq.Consumer):
    def process_batch(self, db, batch_id, ev_list):
        curs = db.cursor()
        for ev in ev_list:
            curs.execute("insert into seen (ev_id, ev_data, ev_retry) values (%s, %s, %s)",
                         [ev.ev_id, ev.ev_data, ev.retry])
            if ev.retry is None and ev.ev_data.startswith('retry-'):
                ev.tag_retry(1)
            else:
                ev.tag_done()

if __name__ == '__main__':
    Retrier('retrier', 'db', sys.argv[1:]).start()
"#;

/// Writes the consumer's script and its ini file, `retrier.ini`.
fn write_consumer(dir: &Path, cluster: &TempCluster) {
    std::fs::write(dir.join("retrier.py"), CONSUMER_SCRIPT).unwrap();
    write_ini(
        dir,
        "retrier.ini",
        "retrier",
        &[
            format!("db = {}", cluster.conninfo("t")),
            "queue_name = q".to_owned(),
            "consumer_name = retrier".to_owned(),
        ],
    );
}

/// Runs the consumer once: it processes the batches ready now
/// (`loop_delay = 0`) and exits. Panics with its output when it fails.
async fn run_consumer(dir: &Path, extra: &[&str]) {
    run_python(dir, "retrier.py", "retrier.ini", extra).await;
}

/// A database `t` with our engine and queue `q`, whose policy lets a daemon
/// tick within 100 ms, tick an idle queue every second and rotate its
/// tables every second.
async fn engine_with_queue(cluster: &TempCluster) -> Client {
    cluster.create_database("t").unwrap();
    cluster.install_engine("t").unwrap();
    let client = cluster.connect("t").await.unwrap();
    client
        .batch_execute(
            "select pgq.create_queue('q');
             select pgq.set_queue_config('q', 'ticker_max_lag', '100ms');
             select pgq.set_queue_config('q', 'ticker_idle_period', '1 second');
             select pgq.set_queue_config('q', 'rotation_period', '1 second');
             create table seen (ev_id bigint, ev_data text, ev_retry int4);",
        )
        .await
        .unwrap();
    client
}

/// What the consumer has seen: (payload, retry count) in order.
async fn seen(client: &Client) -> Vec<(String, Option<i32>)> {
    client
        .query(
            "select ev_data, ev_retry from seen order by ev_data, ev_retry nulls first",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Runs the consumer until `done` holds, or panics at the deadline.
async fn consume_until(
    dir: &Path,
    client: &Client,
    what: &str,
    mut done: impl AsyncFnMut(&Client) -> bool,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        run_consumer(dir, &[]).await;
        if done(client).await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; the consumer saw {:?}",
            seen(client).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Inserts `plain-{wave}-{i}` and `retry-{wave}-{i}` events in a few
/// transactions; returns what the consumer must end up having seen: each
/// plain event once, each retried one twice (retry count NULL, then 1).
async fn produce(client: &Client, wave: u32) -> Vec<(String, Option<i32>)> {
    let mut want = Vec::new();
    for tx in 0..3 {
        client.batch_execute("begin").await.unwrap();
        for i in 0..4 {
            let n = tx * 4 + i;
            let data = if n % 3 == 0 {
                format!("retry-{wave}-{n:02}")
            } else {
                format!("plain-{wave}-{n:02}")
            };
            client
                .query_one("select pgq.insert_event('q', 't', $1)", &[&data])
                .await
                .unwrap();
            if data.starts_with("retry-") {
                want.push((data.clone(), Some(1)));
            }
            want.push((data, None));
        }
        client.batch_execute("commit").await.unwrap();
    }
    want
}

async fn one_i64(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// The scenario both daemons must pass: two waves of events, a table
/// rotation by the daemon's maintenance in between; every event reaches
/// the consumer, each retried one comes back exactly once with its retry
/// count raised, and nothing is left pending.
async fn skytools_consumer_gets_every_event_and_each_retry_once(
    cluster: &TempCluster,
    client: &Client,
) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_consumer(dir, cluster);
    run_consumer(dir, &["--register"]).await;

    let mut want = produce(client, 1).await;
    want.sort();
    consume_until(dir, client, "the first wave and its retries", async |c| {
        seen(c).await == want
    })
    .await;

    // The daemon's maintenance rotates once the consumer has moved past
    // the previous rotation; the consumer keeps reading meanwhile.
    let table = one_i64(client, "select queue_cur_table::int8 from pgq.queue").await;
    consume_until(dir, client, "a rotation by the daemon", async |c| {
        one_i64(c, "select queue_cur_table::int8 from pgq.queue").await != table
    })
    .await;

    want.extend(produce(client, 2).await);
    want.sort();
    consume_until(dir, client, "the second wave and its retries", async |c| {
        seen(c).await == want
    })
    .await;

    let left = one_i64(
        client,
        "select (select count(*) from pgq.retry_queue)
              + (select count(*) from pgq.get_consumer_info('q', 'retrier') where current_batch is not null)",
    )
    .await;
    assert_eq!(left, 0, "no retry row and no open batch left");
}

/// Debian's C pgqd 3.5 ticks our engine (it accepts `pgq.version()` 3.5.x),
/// runs its maintenance and drains its retry queue.
#[tokio::test]
async fn c_pgqd_and_a_skytools_consumer_work_with_our_engine() {
    let cluster = TempCluster::start().unwrap();
    let client = engine_with_queue(&cluster).await;
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("pgqd.ini");
    let log = dir.path().join("pgqd.log");
    std::fs::write(
        &ini,
        format!(
            "[pgqd]\nbase_connstr = {}\ninitial_database = t\nlogfile = {}\n\
             ticker_period = 0.1\nmaint_period = 0.5\nretry_period = 0.3\ncheck_period = 1\n",
            cluster.base_connstr(),
            log.display()
        ),
    )
    .unwrap();
    let mut daemon = tokio::process::Command::new(C_PGQD)
        .arg(&ini)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {C_PGQD}: {e}"));

    skytools_consumer_gets_every_event_and_each_retry_once(&cluster, &client).await;

    let pid = daemon.id().expect("the C pgqd is still running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    tokio::time::timeout(PATIENCE, daemon.wait())
        .await
        .expect("the C pgqd stops on SIGINT")
        .unwrap();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains("ERROR"), "the C pgqd logged an error: {log}");
}

/// The same with our daemon.
#[tokio::test]
async fn our_daemon_and_a_skytools_consumer_work_with_our_engine() {
    let cluster = TempCluster::start().unwrap();
    let client = engine_with_queue(&cluster).await;
    let daemon = Running::start(config_for(&cluster, ""));
    skytools_consumer_gets_every_event_and_each_retry_once(&cluster, &client).await;
    daemon.stop().await;
}
