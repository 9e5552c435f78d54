//! Administration subcommands: what `pgqadm` did, in the same binary.

use std::process::ExitCode;

/// Administration subcommands, flattened into the `pgqd` command line.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Install or upgrade the PgQ engine (sql/pgq.sql, embedded) in one or
    /// all databases of the cluster.
    Install {
        /// Database to install into.
        database: String,
    },
}

/// Runs an administration subcommand; returns the process exit code.
pub fn main(command: &AdminCommand) -> ExitCode {
    eprintln!("not available yet: {command:?}");
    ExitCode::FAILURE
}
