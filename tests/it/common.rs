//! Helpers shared by the integration test modules.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use pgqd::config::{self, Config, Format};
use pgqd::tempcluster::TempCluster;
use pgqd::{Daemon, DbState, Handle};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

/// SQL that creates `queue` with the given `ticker_max_lag` and
/// `ticker_idle_period` (PgQ interval texts) and registers `consumer` on it.
pub(crate) fn queue_sql(queue: &str, max_lag: &str, idle: &str, consumer: &str) -> String {
    format!(
        "select pgq.create_queue('{queue}');
         select pgq.set_queue_config('{queue}', 'ticker_max_lag', '{max_lag}');
         select pgq.set_queue_config('{queue}', 'ticker_idle_period', '{idle}');
         select pgq.register_consumer('{queue}', '{consumer}');"
    )
}

/// Reads every batch ready now for `consumer` on `queue`, finishing each;
/// returns the event payloads in delivery order.
pub(crate) async fn read_batches(client: &Client, queue: &str, consumer: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let batch: Option<i64> = client
            .query_one("select pgq.next_batch($1, $2)", &[&queue, &consumer])
            .await
            .unwrap()
            .get(0);
        let Some(batch) = batch else {
            return seen;
        };
        for row in client
            .query("select ev_data from pgq.get_batch_events($1)", &[&batch])
            .await
            .unwrap()
        {
            seen.push(row.get(0));
        }
        client
            .query_one("select pgq.finish_batch($1)", &[&batch])
            .await
            .unwrap();
    }
}

/// Upper bound for anything a test waits for; generous, since CI is noisy.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// A config for `cluster` with quick periods, plus `extra` TOML lines.
pub(crate) fn config_for(cluster: &TempCluster, extra: &str) -> Config {
    let text = format!(
        "base_connstr = \"{}\"\ncheck_period = \"200ms\"\nticker_period = \"100ms\"\n\
         retry_period = \"200ms\"\nmaint_period = \"300ms\"\nreconnect_min = \"50ms\"\n\
         metrics_listen = \"\"\n{extra}",
        cluster.base_connstr()
    );
    config::parse_str(&text, Format::Toml)
        .expect("test config is valid")
        .config
}

/// A daemon running in the background of the test.
pub(crate) struct Running {
    pub(crate) handle: Handle,
    pub(crate) shutdown: CancellationToken,
    pub(crate) task: JoinHandle<()>,
}

impl Running {
    pub(crate) fn start(config: Config) -> Self {
        let daemon = Daemon::new(config).expect("daemon starts");
        let handle = daemon.handle();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(daemon.run(shutdown.clone()));
        Running {
            handle,
            shutdown,
            task,
        }
    }

    pub(crate) async fn wait_for(
        &self,
        what: &str,
        check: impl FnMut(&BTreeMap<String, DbState>) -> bool,
    ) {
        if timeout(PATIENCE, self.handle.wait_for(check))
            .await
            .is_err()
        {
            panic!(
                "timed out waiting for {what}; status: {:?}",
                self.handle.status()
            );
        }
    }

    pub(crate) async fn wait_state(&self, db: &str, label: &str) {
        self.wait_for(&format!("{db} to be {label}"), |s| {
            s.get(db).is_some_and(|st| st.label() == label)
        })
        .await;
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        timeout(PATIENCE, self.task)
            .await
            .expect("daemon stops in time")
            .unwrap();
    }
}

/// Calls `attempt` every `every` until it answers `Ok`, and returns that;
/// fails with its last `Err` text once `within` has passed.
pub(crate) async fn poll<T>(
    within: Duration,
    every: Duration,
    mut attempt: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match attempt().await {
            Ok(v) => return v,
            Err(why) => assert!(tokio::time::Instant::now() < deadline, "{why}"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls `sql` (one value) until it returns `want`.
pub(crate) async fn wait_value(cluster: &TempCluster, db: &str, sql: &str, want: &str) {
    poll(PATIENCE, Duration::from_millis(20), async || {
        let got = cluster.psql(db, sql).unwrap();
        if got == want {
            Ok(())
        } else {
            Err(format!("{sql} on {db}: still {got:?}, wanted {want:?}"))
        }
    })
    .await
}

/// The system python, where Debian's `python3-pgq` and psycopg2 live.
pub(crate) const PYTHON: &str = "/usr/bin/python3";

/// Runs a python consumer until it has nothing to do (`loop_delay = 0`) or
/// fails; returns whether it succeeded, and its stderr and log.
pub(crate) async fn run_python_status(
    dir: &Path,
    script: &str,
    ini: &str,
    extra: &[&str],
) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(PYTHON);
    cmd.arg(dir.join(script))
        .arg(dir.join(ini))
        .args(extra)
        .current_dir(dir)
        .kill_on_drop(true);
    let out = tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} {ini} timed out"))
        .unwrap_or_else(|e| panic!("running {PYTHON} {script}: {e}"));
    let log = std::fs::read_to_string(dir.join(format!("{ini}.log"))).unwrap_or_default();
    (
        out.status.success(),
        format!(
            "{}\n{}\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs a python consumer that must succeed.
pub(crate) async fn run_python(dir: &Path, script: &str, ini: &str, extra: &[&str]) {
    let (ok, output) = run_python_status(dir, script, ini, extra).await;
    assert!(ok, "{script} {ini} {extra:?}: {output}");
}

/// Writes a Skytools ini file `name` with section `section`, the given
/// lines, and settings that make the consumer run once and log to
/// `{name}.log`.
pub(crate) fn write_ini(dir: &Path, name: &str, section: &str, lines: &[String]) {
    let mut text = format!("[{section}]\njob_name = {name}\n");
    for line in lines {
        writeln!(text, "{line}").unwrap();
    }
    writeln!(
        text,
        "loop_delay = 0\nexception_sleep = 0.1\nlogfile = {dir}/{name}.log\npidfile = {dir}/{name}.pid",
        dir = dir.display()
    )
    .unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

/// Forces a tick of queue `q` now (force_tick, then the ticker).
pub(crate) async fn tick(client: &Client) {
    client
        .batch_execute("select pgq.force_tick('q')")
        .await
        .unwrap();
    client.batch_execute("select pgq.ticker()").await.unwrap();
}
