//! Where an administration command connects: the configuration file and
//! `--connstr` give the connection settings, `-d` (or the connect string's
//! dbname, or `PGDATABASE`) the database.

use std::path::PathBuf;

use tokio_postgres::Client;

use super::Failure;
use super::names;
use crate::check::{self, CheckArgs};
use crate::config::Config;
use crate::connstr::{ConnSettings, ConnectOptions};
use crate::engine::{self, EngineInfo, Probe};

/// Connection options shared by every administration command.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ConnArgs {
    /// Configuration file (TOML or legacy pgqd.ini) to take the connection
    /// settings from (base_connstr, timeouts; for install --all also the
    /// database selection).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Base connection string, instead of the configuration's base_connstr
    /// (libpq key/value or URI; PG* variables and ~/.pgpass apply).
    #[arg(long, value_name = "CONNSTR")]
    pub(crate) connstr: Option<String>,
}

/// Connection options plus the one database a command works in.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct DbArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,

    /// Database to work in; default: the dbname of --connstr or PGDATABASE.
    #[arg(short = 'd', long = "database", value_name = "DB", value_parser = names::database)]
    pub(crate) database: Option<String>,
}

/// How long the statements of a command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// Single quick calls: the daemon's `statement_timeout`.
    Quick,
    /// Installing and maintenance: the daemon's `maint_statement_timeout`.
    Long,
}

/// Resolved connection settings, ready to open sessions.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) config: Config,
    settings: ConnSettings,
}

impl Target {
    /// Loads the configuration (or defaults) with `--connstr` on top and
    /// resolves the connection settings against the environment.
    pub(crate) fn resolve(args: &ConnArgs) -> Result<Self, Failure> {
        let config = check::load_config(&CheckArgs {
            config: args.config.clone(),
            connstr: args.connstr.clone(),
            ..CheckArgs::default()
        })
        .map_err(Failure::new)?;
        let settings = ConnSettings::from_env_and(&config.base_connstr)
            .map_err(|e| Failure::new(format!("connection settings: {e}")))?;
        Ok(Target { config, settings })
    }

    /// The database of a single-database command: `-d`, else the connect
    /// string's dbname or `PGDATABASE`.
    pub(crate) fn database(&self, given: Option<&str>) -> Result<String, Failure> {
        let name = given.or_else(|| self.settings.dbname()).ok_or_else(|| {
            Failure::usage("no database given: use -d DB (or dbname in --connstr, or PGDATABASE)")
        })?;
        names::database(name).map_err(Failure::usage)
    }

    /// Opens a session to `database` as `pgqd-admin`.
    pub(crate) async fn connect(&self, database: &str, work: Work) -> Result<Client, Failure> {
        let statement_timeout = match work {
            Work::Quick => self.config.statement_timeout,
            Work::Long => self.config.maint_statement_timeout,
        };
        let options = ConnectOptions {
            application_name: "pgqd-admin".into(),
            connect_timeout: self.config.connect_timeout,
            statement_timeout: Some(statement_timeout),
            // A lock wait would queue every ticker and producer behind it.
            lock_timeout: Some(self.config.lock_timeout),
        };
        self.settings
            .connect(database, &options)
            .await
            .map_err(|e| Failure::new(e.to_string()))
    }

    /// The databases the daemon would serve: `database_list`, else every
    /// database that is not a template and allows connections, without the
    /// ones the configuration disables.
    pub(crate) async fn all_databases(&self) -> Result<Vec<String>, Failure> {
        let config = &self.config;
        let listed = if config.database_list.is_empty() {
            let initial = &config.initial_database;
            let client = self.connect(initial, Work::Quick).await?;
            engine::list_databases(&client).await.map_err(|e| {
                Failure::new(format!(
                    "listing the databases in \"{initial}\": {}",
                    engine::error_text(&e)
                ))
            })?
        } else {
            config.database_list.clone()
        };
        Ok(listed
            .into_iter()
            .filter(|db| config.database_settings(db).enabled)
            .collect())
    }
}

/// A failure naming the database and what was attempted, with the
/// server's message.
pub(crate) fn failed(database: &str, attempted: &str, e: &tokio_postgres::Error) -> Failure {
    Failure::new(format!(
        "{attempted} in database \"{database}\": {}",
        engine::error_text(e)
    ))
}

/// A session to the one database of a single-database command.
pub(crate) struct Session {
    pub(crate) client: Client,
    pub(crate) database: String,
    pub(crate) target: Target,
}

impl Session {
    /// Resolves the target and connects to its database.
    pub(crate) async fn open(args: &DbArgs, work: Work) -> Result<Self, Failure> {
        let target = Target::resolve(&args.conn)?;
        let database = target.database(args.database.as_deref())?;
        let client = target.connect(&database, work).await?;
        Ok(Session {
            client,
            database,
            target,
        })
    }

    /// Opens a session and makes sure the database has a usable PgQ engine,
    /// writable unless `read_only`.
    pub(crate) async fn with_engine(
        args: &DbArgs,
        work: Work,
        read_only: bool,
    ) -> Result<(Self, EngineInfo), Failure> {
        let session = Self::open(args, work).await?;
        let db = &session.database;
        let probe = engine::probe(&session.client)
            .await
            .map_err(|e| session.error("looking for PgQ", &e))?;
        let info = match probe {
            Probe::Ready(info) => info,
            Probe::NoPgq => {
                return Err(Failure::new(format!(
                    "database \"{db}\" has no PgQ (install it with: pgqd install -d {db})"
                )));
            }
            Probe::Unsupported(why) => {
                return Err(Failure::new(format!("database \"{db}\": {why}")));
            }
        };
        if info.in_recovery && !read_only {
            return Err(Failure::new(format!(
                "database \"{db}\" is on a standby server (read-only); run this on the primary"
            )));
        }
        Ok((session, info))
    }

    /// A failure naming this database and what was attempted.
    pub(crate) fn error(&self, attempted: &str, e: &tokio_postgres::Error) -> Failure {
        failed(&self.database, attempted, e)
    }

    /// The configured cap on "call again" repeats of one maintenance
    /// operation.
    pub(crate) fn maint_max_repeats(&self) -> u32 {
        self.target.config.maint_max_repeats.max(1)
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}
