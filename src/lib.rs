//! pgqd: the PgQ ticker and maintenance daemon for whole PostgreSQL clusters.
//!
//! The library holds everything the `pgqd` binary does, so that integration
//! tests and the benchmark drive the real code in-process:
//!
//! - [`admin`]: the administration subcommands (install, queues, consumers);
//! - [`check`]: `pgqd check`, the one-shot Nagios / Monitoring Plugins check;
//! - [`config`]: the TOML configuration and the legacy `pgqd.ini`, parsed once
//!   into validated types;
//! - [`connstr`]: libpq-style connection settings (key/value and URI strings,
//!   `PG*` variables, `.pgpass`, `sslmode`) turned into `tokio_postgres` configs;
//! - [`supervisor`]: discovers databases and runs one worker per database
//!   (ticker, retry, maintenance), see [`run`] and [`Daemon`];
//! - [`engine`]: the PgQ SQL surface, the only place, with [`admin`]'s SQL module, that writes SQL;
//! - [`policy`]: pure scheduling and backoff decisions;
//! - [`status`]: `pgqd status`, queues and consumers of a cluster as tables;
//! - [`metrics`]: every exported metric, declared once;
//! - [`http`]: the `/metrics` and `/health` endpoint, judged by [`health`];
//! - [`exposition`]: the per-queue and per-consumer part of `/metrics`;
//! - [`notify`]: systemd readiness, status and watchdog;
//! - [`monitor`]: queue and consumer figures between scrapes, and the rules
//!   that judge them;
//! - [`logging`]: stderr, log file or journald output;
//! - [`demo`]: `pgqd demo`, the product end to end on a throwaway cluster;
//! - [`tempcluster`]: throwaway PostgreSQL clusters for tests, benchmarks and
//!   `pgqd demo`.

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    unused_qualifications,
    rust_2018_idioms
)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod admin;
pub mod check;
pub mod config;
pub mod connstr;
pub mod demo;
pub mod engine;
pub mod exposition;
pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod notify;
pub mod pidfile;
pub mod policy;
pub mod status;
pub mod supervisor;
pub mod tempcluster;
mod worker;

pub use supervisor::{Daemon, DbState, Handle, RunError};

/// Runs the daemon with `config` until `shutdown` is cancelled.
pub async fn run(
    config: config::Config,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(), RunError> {
    Daemon::new(config)?.run(shutdown).await;
    Ok(())
}
