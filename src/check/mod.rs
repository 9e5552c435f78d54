//! `pgqd check` (also `pgqd --check`): a one-shot Nagios / Monitoring
//! Plugins check that needs no running daemon.
//!
//! It connects to the cluster with the daemon's connection settings (or
//! `--connstr`), reads every PgQ database's queue and consumer figures, and
//! judges them against `-w`/`-c` thresholds given per metric in plugin range
//! syntax. It prints one line with performance data, then long text, and
//! exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A cluster it cannot reach,
//! a database it cannot read, bad arguments and the `--timeout` give
//! UNKNOWN: the check cannot tell whether PgQ is healthy, and the server's
//! own availability is other checks' business.
//!
//! With `--health URL` it judges a running daemon's `/health` instead: 200
//! is OK, a failing report CRITICAL, and a daemon that does not answer is
//! CRITICAL too, since a stopped daemon is exactly what that mode is for.

mod eval;
mod range;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;

pub use eval::{DbFinding, Findings, Metric, Outcome, State, ThresholdError, Thresholds, evaluate};
pub use range::{Range, RangeError};

use crate::config::{self, Config, Pattern};
use crate::connstr::{ConnSettings, ConnectOptions};
use crate::engine::{self, Probe};

/// How many databases are read at once.
const PARALLEL_READS: usize = 8;

/// Arguments of `pgqd check`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = metrics_help())]
pub struct CheckArgs {
    /// Configuration file (TOML or legacy pgqd.ini) whose connection
    /// settings and database selection to use.
    pub config: Option<PathBuf>,

    /// The same file as CONFIG, given the way the other subcommands take it.
    #[arg(long = "config", value_name = "FILE", conflicts_with = "config")]
    pub config_file: Option<PathBuf>,

    /// Base connection string, instead of the configuration's base_connstr
    /// (libpq key/value or URI; PG* variables and ~/.pgpass apply).
    #[arg(long, value_name = "CONNSTR")]
    pub connstr: Option<String>,

    /// Check only this database (repeatable).
    #[arg(short = 'd', long = "database", value_name = "DB")]
    pub databases: Vec<String>,

    /// Check only queues matching this glob (repeatable).
    #[arg(long = "queue", value_name = "GLOB")]
    pub queues: Vec<String>,

    /// Check only consumers matching this glob (repeatable). Internal and
    /// watermark consumers are skipped as the configuration's
    /// metrics_exclude_consumers says.
    #[arg(long = "consumer", value_name = "GLOB")]
    pub consumers: Vec<String>,

    /// Warning thresholds: metric=range[,metric=range...] (repeatable).
    #[arg(short = 'w', long = "warning", value_name = "LIST")]
    pub warning: Vec<String>,

    /// Critical thresholds: metric=range[,metric=range...] (repeatable).
    #[arg(short = 'c', long = "critical", value_name = "LIST")]
    pub critical: Vec<String>,

    /// Give up after this many seconds (UNKNOWN).
    #[arg(short = 't', long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,

    /// Judge a running daemon's health endpoint instead, e.g.
    /// http://127.0.0.1:9879/health.
    #[arg(long, value_name = "URL")]
    pub health: Option<String>,

    /// List every figure in the long text, not only problems.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn metrics_help() -> String {
    let mut text = String::from("Metrics and default thresholds (warning / critical):\n");
    for m in Metric::ALL {
        let (w, c) = m.defaults();
        text.push_str(&format!(
            "  {:<15} {} / {}\n",
            m.name(),
            w.unwrap_or("-"),
            c.unwrap_or("-")
        ));
    }
    text.push_str(
        "\nRanges: 10 (alert above 10), 10: (below 10), ~:10, 10:20 (outside), @10:20 (inside);\n\
         metric= with no range removes a threshold. Example:\n  \
         pgqd check /etc/pgqd/15-main.toml -w consumer_lag=300 -c consumer_lag=900,pending_events=100000\n",
    );
    text
}

/// Runs the check and returns its outcome; never panics on bad input.
pub async fn run(args: &CheckArgs) -> Outcome {
    let mut thresholds = Thresholds::default();
    for (lists, critical) in [(&args.warning, false), (&args.critical, true)] {
        for list in lists {
            if let Err(e) = thresholds.apply(list, critical) {
                return Outcome::unknown(e.to_string());
            }
        }
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Outcome::unknown(format!("bad --timeout {}", args.timeout));
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    if let Some(url) = &args.health {
        return match tokio::time::timeout(timeout, health_outcome(url)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome {
                state: State::Critical,
                summary: format!("{url} did not answer within {}s", args.timeout),
                details: vec![],
                perfdata: vec![],
            },
        };
    }
    let config = match load_config(args) {
        Ok(c) => c,
        Err(e) => return Outcome::unknown(e),
    };
    let findings = match tokio::time::timeout(timeout, gather(&config, args, timeout)).await {
        Ok(findings) => findings,
        Err(_) => Err(format!("timed out after {}s", args.timeout)),
    };
    evaluate(&findings, &thresholds, args.verbose > 0)
}

/// The configuration to connect with: the given file, or defaults, with
/// `--connstr` on top.
pub fn load_config(args: &CheckArgs) -> Result<Config, String> {
    let mut config = match args.config.as_ref().or(args.config_file.as_ref()) {
        Some(path) => {
            config::load_file(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .config
        }
        None => Config::default(),
    };
    if let Some(connstr) = &args.connstr {
        config.base_connstr = connstr.clone();
    }
    Ok(config)
}

/// Reads every selected database's figures, at most a few at a time.
pub async fn gather(config: &Config, args: &CheckArgs, timeout: Duration) -> Findings {
    let conn = ConnSettings::from_env_and(&config.base_connstr)
        .map_err(|e| format!("connection settings: {e}"))?;
    let options = ConnectOptions {
        application_name: "pgqd-check".into(),
        connect_timeout: config.connect_timeout.min(timeout),
        statement_timeout: Some(config.statement_timeout.min(timeout)),
        lock_timeout: Some(config.lock_timeout),
    };
    let databases = if !args.databases.is_empty() {
        args.databases.clone()
    } else if !config.database_list.is_empty() {
        config.database_list.clone()
    } else {
        let client = conn
            .connect(&config.initial_database, &options)
            .await
            .map_err(|e| format!("cannot connect to the cluster: {e}"))?;
        engine::list_databases(&client).await.map_err(|e| {
            format!(
                "listing databases in {}: {}",
                config.initial_database,
                engine::error_text(&e)
            )
        })?
    };
    let databases: Vec<String> = databases
        .into_iter()
        .filter(|db| !args.databases.is_empty() || config.database_settings(db).enabled)
        .collect();
    let queue_globs: Vec<Pattern> = args.queues.iter().map(|g| Pattern::new(g)).collect();
    let consumer_globs: Vec<Pattern> = args.consumers.iter().map(|g| Pattern::new(g)).collect();
    let reads = databases.into_iter().map(|db| {
        let conn = &conn;
        let options = &options;
        async move {
            let finding = read_database(conn, options, &db).await;
            (db, finding)
        }
    });
    let mut found: BTreeMap<String, DbFinding> = futures_util::stream::iter(reads)
        .buffer_unordered(PARALLEL_READS)
        .collect()
        .await;
    for finding in found.values_mut() {
        if let DbFinding::Stats(stats) = finding {
            let wanted_queue = |q: &str| {
                config.metrics_queue_wanted(q)
                    && (queue_globs.is_empty() || queue_globs.iter().any(|g| g.matches(q)))
            };
            stats.queues.retain(|q| wanted_queue(&q.queue));
            stats.consumers.retain(|c| {
                wanted_queue(&c.queue)
                    && config.metrics_consumer_wanted(&c.consumer)
                    && (consumer_globs.is_empty()
                        || consumer_globs.iter().any(|g| g.matches(&c.consumer)))
            });
        }
    }
    if found.is_empty() {
        return Err("no databases to check".into());
    }
    Ok(found)
}

async fn read_database(conn: &ConnSettings, options: &ConnectOptions, db: &str) -> DbFinding {
    let client = match conn.connect(db, options).await {
        Ok(c) => c,
        Err(e) => return DbFinding::Error(format!("connecting: {e}")),
    };
    match engine::probe(&client).await {
        Ok(Probe::NoPgq) => return DbFinding::NoPgq,
        Ok(_) => {}
        Err(e) => return DbFinding::Error(format!("probing: {}", engine::error_text(&e))),
    }
    match engine::db_stats(&client).await {
        Ok(stats) => DbFinding::Stats(stats),
        Err(e) => DbFinding::Error(e.to_string()),
    }
}

/// Judges a daemon's `/health` answer.
async fn health_outcome(url: &str) -> Outcome {
    let critical = |summary: String| Outcome {
        state: State::Critical,
        summary,
        details: vec![],
        perfdata: vec![],
    };
    let (status, body) = match http_get(url).await {
        Ok(r) => r,
        Err(HttpGetError::Url(e)) => return Outcome::unknown(e),
        Err(HttpGetError::Fetch(e)) => return critical(format!("{url}: {e}")),
    };
    let report: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return Outcome::unknown(format!("{url}: not a pgqd health report: {e}")),
    };
    let databases = report
        .get("databases")
        .and_then(|d| d.as_object())
        .cloned()
        .unwrap_or_default();
    let mut details = Vec::new();
    let mut failing = 0;
    for (db, d) in &databases {
        let healthy = d.get("healthy").and_then(|h| h.as_bool()).unwrap_or(false);
        let state = d.get("state").and_then(|s| s.as_str()).unwrap_or("?");
        match d.get("reason").and_then(|r| r.as_str()) {
            Some(reason) => details.push(format!("{db}: {state} ({reason})")),
            None => details.push(format!("{db}: {state}")),
        }
        if !healthy {
            failing += 1;
        }
    }
    let overall = report.get("status").and_then(|s| s.as_str()).unwrap_or("");
    let perfdata = vec![
        format!("'databases'={};;;0;", databases.len()),
        format!("'failing'={failing};;0;0;"),
    ];
    let (state, summary) = match (status, overall) {
        (200, "ok") => (
            State::Ok,
            format!("daemon healthy, {} databases", databases.len()),
        ),
        (_, "starting") => (State::Warning, "daemon is starting".to_owned()),
        (503, _) => {
            let first = details
                .iter()
                .find(|l| l.contains('('))
                .cloned()
                .unwrap_or_else(|| "failing".into());
            (
                State::Critical,
                format!(
                    "{first}; {failing} of {} databases failing",
                    databases.len()
                ),
            )
        }
        (code, _) => (
            State::Unknown,
            format!("{url}: unexpected answer {code} {overall:?}"),
        ),
    };
    Outcome {
        state,
        summary,
        details,
        perfdata,
    }
}

enum HttpGetError {
    Url(String),
    Fetch(String),
}

/// A plain HTTP/1.1 GET (the daemon serves http only); returns status and
/// body.
async fn http_get(url: &str) -> Result<(u16, String), HttpGetError> {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;

    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| HttpGetError::Url(format!("bad URL {url:?}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(HttpGetError::Url(format!("{url}: only http:// URLs")));
    }
    let host = uri
        .host()
        .ok_or_else(|| HttpGetError::Url(format!("{url}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| HttpGetError::Fetch(e.to_string()))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| HttpGetError::Fetch(e.to_string()))?;
    tokio::spawn(connection);
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| HttpGetError::Url(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| HttpGetError::Fetch(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| HttpGetError::Fetch(e.to_string()))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests;
