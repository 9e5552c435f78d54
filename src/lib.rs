//! pgqd: the PgQ ticker and maintenance daemon for whole PostgreSQL clusters.
//!
//! The library holds everything the `pgqd` binary does, so that integration
//! tests and the benchmark drive the real code in-process:
//!
//! - [`config`]: the TOML configuration and the legacy `pgqd.ini`, parsed once
//!   into validated types;
//! - [`connstr`]: libpq-style connection settings (key/value and URI strings,
//!   `PG*` variables, `.pgpass`, `sslmode`) turned into `tokio_postgres` configs;
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

pub mod config;
pub mod connstr;
pub mod tempcluster;
