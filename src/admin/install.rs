//! `pgqd install`: installs or upgrades the PL/pgSQL engine in one or more
//! databases, or in all of them.
//!
//! The engine script (`sql/pgq.sql`, embedded) brings its own `begin` and
//! `commit`, so one database gets it in one transaction: it either installs
//! completely or not at all. It is written to be re-run: an upgrade in place
//! keeps every queue, event, tick, subscription and retry row.
//!
//! A database with the pgq C extension is left alone. The extension and the
//! PL/pgSQL engine cannot share the `pgq` schema, and switching means
//! dropping the extension and with it every queue, which is no step for an
//! install command to take on its own. The script refuses as well; the
//! check here only makes the message clearer and lets `--all` skip such
//! databases instead of failing on them.

use std::path::PathBuf;

use super::sql;
use super::target::{ConnArgs, Target, Work};
use super::{Failure, Outcome, names, say, warn};
use crate::engine;

/// The engine, embedded so that an installed binary needs no source tree.
pub(crate) const ENGINE_SQL: &str = crate::tempcluster::ENGINE_SQL;

/// Optional PgQ add-ons that `--with` installs after the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Addon {
    /// pgq_ext: tracking of processed batches and events for consumers
    /// that write to another database.
    Ext,
    /// pgq_coop: cooperative consumers sharing one subscription.
    Coop,
}

impl Addon {
    fn name(self) -> &'static str {
        match self {
            Addon::Ext => "pgq_ext",
            Addon::Coop => "pgq_coop",
        }
    }

    /// The add-on's install script, embedded from `sql/`.
    fn script(self) -> Option<&'static str> {
        match self {
            Addon::Ext => Some(include_str!("../../sql/pgq_ext.sql")),
            Addon::Coop => Some(include_str!("../../sql/pgq_coop.sql")),
        }
    }
}

/// Arguments of `pgqd install`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Examples:
  pgqd install -d app                      install or upgrade in database app
  pgqd install --config /etc/pgqd/15-main.toml --all
  pgqd install --connstr 'host=db1 user=postgres' -d app -d billing

Prints one line per database: installed, upgraded (with the old and new
version) or reinstalled. Exit status 1 if any database failed.")]
pub struct InstallArgs {
    #[command(flatten)]
    conn: ConnArgs,

    /// Database to install into (repeatable); default: the dbname of
    /// --connstr or PGDATABASE.
    #[arg(short = 'd', long = "database", value_name = "DB", value_parser = names::database)]
    databases: Vec<String>,

    /// Every database the daemon would serve: the configuration's
    /// database_list, else every database that is not a template and allows
    /// connections; minus those the configuration excludes. Databases with
    /// the pgq C extension are skipped.
    #[arg(long, conflicts_with = "databases")]
    all: bool,

    /// Install this SQL file instead of the embedded engine, e.g. a newer
    /// /usr/share/pgqd/sql/pgq.sql. It runs as one batch and must bring its
    /// own transaction, as sql/pgq.sql does.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,

    /// Also install these add-ons after the engine (comma-separated). One
    /// that this build does not carry is refused before anything is
    /// installed.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "ADDONS")]
    with: Vec<Addon>,
}

/// What one database needs installed, in order.
struct Scripts {
    engine: String,
    addons: Vec<(Addon, &'static str)>,
}

/// What happened in one database.
enum Done {
    Installed(String),
    Skipped(String),
}

pub(crate) async fn run(args: &InstallArgs) -> Outcome {
    let scripts = scripts(args)?;
    let target = Target::resolve(&args.conn)?;
    let databases = if args.all {
        target.all_databases().await?
    } else if args.databases.is_empty() {
        vec![target.database(None)?]
    } else {
        args.databases.clone()
    };
    if databases.is_empty() {
        return Err(Failure::new("no databases to install into"));
    }
    let mut failed = 0;
    for db in &databases {
        let failure = match install_one(&target, db, &scripts).await {
            Ok(Done::Installed(line)) => {
                say(format_args!("{db}: {line}"));
                continue;
            }
            Ok(Done::Skipped(why)) if args.all => {
                warn("install", format_args!("{db}: skipped, {why}"));
                continue;
            }
            Ok(Done::Skipped(why)) => Failure::new(format!("database \"{db}\" {why}")),
            Err(e) => e,
        };
        // One database: its own message is the whole story.
        if databases.len() == 1 {
            return Err(failure);
        }
        warn("install", failure);
        failed += 1;
    }
    if failed > 0 {
        return Err(Failure::new(format!(
            "failed in {failed} of {} databases",
            databases.len()
        )));
    }
    Ok(())
}

/// Reads `--file` and looks up the add-ons before connecting anywhere.
fn scripts(args: &InstallArgs) -> Result<Scripts, Failure> {
    let engine = match &args.file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::new(format!("reading {}: {e}", path.display())))?,
        None => ENGINE_SQL.to_owned(),
    };
    let mut addons = Vec::new();
    for addon in &args.with {
        if addons.iter().any(|(a, _)| a == addon) {
            continue;
        }
        let script = addon.script().ok_or_else(|| {
            Failure::new(format!(
                "{} is not available in this build of pgqd (sql/{}.sql was not in the \
                 source tree it was built from)",
                addon.name(),
                addon.name()
            ))
        })?;
        addons.push((*addon, script));
    }
    Ok(Scripts { engine, addons })
}

async fn install_one(target: &Target, db: &str, scripts: &Scripts) -> Result<Done, Failure> {
    let client = target.connect(db, Work::Long).await?;
    let failed = |what: &str, e: &tokio_postgres::Error| {
        Failure::new(format!(
            "{what} in database \"{db}\": {}",
            engine::error_text(e)
        ))
    };
    if engine::in_recovery(&client)
        .await
        .map_err(|e| failed("checking for recovery", &e))?
    {
        return Err(Failure::new(format!(
            "database \"{db}\" is on a standby server (read-only); install on the primary, \
             the standby follows"
        )));
    }
    if sql::has_pgq_extension(&client)
        .await
        .map_err(|e| failed("looking for the pgq extension", &e))?
    {
        return Ok(Done::Skipped(
            "has the pgq C extension, which the PL/pgSQL engine cannot replace in place \
             (DROP EXTENSION pgq CASCADE first, which drops every queue)"
                .into(),
        ));
    }
    let before = sql::engine_label(&client)
        .await
        .map_err(|e| failed("reading the installed PgQ version", &e))?;
    sql::run_script(&client, &scripts.engine)
        .await
        .map_err(|e| failed("installing the PgQ engine", &e))?;
    for (addon, script) in &scripts.addons {
        sql::run_script(&client, script)
            .await
            .map_err(|e| failed(&format!("installing {}", addon.name()), &e))?;
    }
    let after = sql::engine_label(&client)
        .await
        .map_err(|e| failed("reading the installed PgQ version", &e))?
        .unwrap_or_else(|| "nothing (the script created no pgq schema)".into());
    let mut line = match before {
        None => format!("installed {after}"),
        Some(old) if old == after => format!("reinstalled {after}"),
        Some(old) => format!("upgraded {old} to {after}"),
    };
    for (addon, _) in &scripts.addons {
        line.push_str(&format!(", {}", addon.name()));
    }
    Ok(Done::Installed(line))
}
