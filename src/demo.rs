//! `pgqd demo`: the whole product in one command. Starts a throwaway
//! cluster from the local PostgreSQL binaries, installs the PL/pgSQL engine,
//! creates a queue with a producer and a consumer, runs the daemon, and
//! prints ticks, batches and latency until Ctrl-C, then removes everything.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::{self, Format};
use crate::tempcluster::{ClusterError, TempCluster};

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The throwaway cluster failed.
    #[error("demo cluster: {0}")]
    Cluster(#[from] ClusterError),
    /// A demo query failed.
    #[error("demo query: {0}")]
    Sql(#[from] tokio_postgres::Error),
    /// The generated configuration was rejected.
    #[error("demo configuration: {0}")]
    Config(String),
}

const DB: &str = "demo";
const QUEUE: &str = "demo_queue";

/// Runs the demo until `stop` is cancelled (Ctrl-C in the CLI).
pub async fn run(stop: CancellationToken, metrics_listen: Option<&str>) -> Result<(), DemoError> {
    println!("starting a throwaway PostgreSQL cluster ...");
    let cluster = TempCluster::start()?;
    cluster.create_database(DB)?;
    cluster.install_engine(DB)?;
    cluster.psql(
        DB,
        &format!(
            "select pgq.create_queue('{QUEUE}');
             select pgq.set_queue_config('{QUEUE}', 'ticker_max_lag', '0.5');
             select pgq.set_queue_config('{QUEUE}', 'rotation_period', '30 seconds');
             select pgq.register_consumer('{QUEUE}', 'demo_consumer');"
        ),
    )?;
    println!("cluster: {}", cluster.conninfo(DB));
    println!("engine: sql/pgq.sql installed in database '{DB}', queue '{QUEUE}'");

    let listen = metrics_listen.unwrap_or("");
    let text = format!(
        "base_connstr = \"{}\"\nticker_period = \"200ms\"\ncheck_period = \"5s\"\n\
         maint_period = \"10s\"\nretry_period = \"2s\"\nmetrics_listen = \"{listen}\"\n",
        cluster.base_connstr()
    );
    let config = config::parse_str(&text, Format::Toml)
        .map_err(|e| DemoError::Config(e.to_string()))?
        .config;
    let daemon = crate::Daemon::new(config).map_err(|e| DemoError::Config(e.to_string()))?;
    let daemon_stop = stop.child_token();
    if let Some(addr) = daemon.handle().config().metrics_listen {
        let bound = crate::http::start(addr, daemon.handle(), daemon_stop.clone())
            .await
            .map_err(|e| DemoError::Config(e.to_string()))?;
        println!("metrics: http://{bound}/metrics  health: http://{bound}/health");
    }
    let daemon_task = tokio::spawn(daemon.run(daemon_stop.clone()));

    let producer = tokio::spawn(produce(cluster.connect(DB).await?, stop.clone()));
    let consumer = consume(cluster.connect(DB).await?, stop.clone()).await;
    let _ = producer.await;
    daemon_stop.cancel();
    let _ = daemon_task.await;
    println!("stopping and removing the cluster ...");
    drop(cluster);
    consumer
}

/// Inserts an event carrying its insert time every 100 ms.
async fn produce(client: tokio_postgres::Client, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let sent = client
            .query_one(
                "select pgq.insert_event($1, 'demo', extract(epoch from clock_timestamp())::text)",
                &[&QUEUE],
            )
            .await;
        if sent.is_err() {
            return;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Reads batches and prints one line per batch with its latency.
async fn consume(client: tokio_postgres::Client, stop: CancellationToken) -> Result<(), DemoError> {
    println!("consuming; Ctrl-C to stop\n");
    println!(
        "{:>8} {:>8} {:>7} {:>12} {:>12}",
        "batch", "tick", "events", "max latency", "consumer lag"
    );
    while !stop.is_cancelled() {
        let row = client
            .query_one(
                "select batch_id, cur_tick_id from pgq.next_batch_info($1, 'demo_consumer')",
                &[&QUEUE],
            )
            .await?;
        let (batch, tick): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
        let Some(batch) = batch else {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            continue;
        };
        let stats = client
            .query_one(
                "select count(*), max(extract(epoch from clock_timestamp()) - ev_data::float8)
                   from pgq.get_batch_events($1)",
                &[&batch],
            )
            .await?;
        let (events, latency): (i64, Option<f64>) = (stats.get(0), stats.get(1));
        let lag: Option<String> = client
            .query_one(
                "select lag::text from pgq.get_consumer_info($1, 'demo_consumer')",
                &[&QUEUE],
            )
            .await?
            .get(0);
        client
            .query_one("select pgq.finish_batch($1)", &[&batch])
            .await?;
        let latency = latency.map_or("-".into(), |l| format!("{:.0} ms", l * 1000.0));
        println!(
            "{batch:>8} {:>8} {events:>7} {latency:>12} {:>12}",
            tick.unwrap_or(0),
            lag.unwrap_or_default()
        );
    }
    Ok(())
}
