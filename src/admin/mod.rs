//! Administration subcommands: what `pgqadm` did, in the same binary.
//!
//! Each subcommand opens one short session per database with the daemon's
//! connection settings (a configuration file, `--connstr`, the `PG*`
//! variables), does one thing, and prints a short, scriptable answer on
//! stdout. Failures print one line on stderr that names the database and
//! what was attempted, and exit 1; bad usage exits 2. Names are checked
//! before any SQL is sent and every value travels as a bind parameter.
//!
//! The modules: `target` resolves where to connect, `names` and `settings`
//! validate the command line, `sql` holds every statement, and one module
//! per group of subcommands does the work.

mod consumer;
mod install;
mod list;
mod names;
mod ops;
mod queue;
mod settings;
mod sql;
mod target;

use std::fmt;
use std::io::Write as _;
use std::process::ExitCode;

pub use consumer::{RegisterArgs, UnregisterArgs};
pub use install::{Addon, InstallArgs};
pub use list::{ConsumersArgs, QueuesArgs};
pub use ops::{InsertArgs, MaintArgs, RetryArgs, TickArgs};
pub use queue::{CreateQueueArgs, DropQueueArgs, QueueConfigArgs};

/// Administration subcommands, flattened into the `pgqd` command line.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Install or upgrade the PgQ engine in one or more databases, or all.
    ///
    /// Runs the PL/pgSQL engine (sql/pgq.sql, embedded in this binary) in one
    /// transaction per database. Safe to repeat: re-running upgrades the
    /// engine in place and keeps every queue, event, tick, subscription and
    /// retry row. A database that has the pgq C extension is never touched:
    /// named with -d it is an error, with --all it is skipped with a note
    /// (drop the extension first to switch engines).
    Install(InstallArgs),
    /// Create a queue, optionally with settings (KEY=VALUE as queue-config).
    ///
    /// Succeeds without change when the queue exists already (settings given
    /// are still applied), so it can run from deployment scripts.
    CreateQueue(CreateQueueArgs),
    /// Drop a queue with its events and ticks.
    ///
    /// Refuses while consumers are registered unless --force, which
    /// unregisters them first.
    DropQueue(DropQueueArgs),
    /// Show a queue's settings, or change them with KEY=VALUE arguments.
    ///
    /// Without KEY=VALUE prints one KEY=VALUE line per setting (a form
    /// accepted back). Changes are applied in one transaction, then the new
    /// settings are printed.
    QueueConfig(QueueConfigArgs),
    /// Register a consumer on a queue, at the newest tick or at --tick ID.
    ///
    /// Registering again is not an error; with --tick it moves the consumer
    /// to that tick.
    Register(RegisterArgs),
    /// Unregister a consumer from a queue and drop its retry events.
    Unregister(UnregisterArgs),
    /// List a database's queues, one name per line (details with --json).
    Queues(QueuesArgs),
    /// List a database's consumers as tab-separated QUEUE CONSUMER lines
    /// (details with --json).
    Consumers(ConsumersArgs),
    /// Insert one event into a queue and print its id, for testing.
    InsertEvent(InsertArgs),
    /// Force a tick now on one queue, or on every queue that has a ticker.
    ///
    /// Uses pgq.force_tick() and then pgq.ticker(), so the tick is made even
    /// when the queue's ticker policy would wait; prints the new tick ids.
    Tick(TickArgs),
    /// Run the maintenance that is due now (rotation, VACUUM, extra
    /// maintenance functions), as the daemon does every maint_period.
    Maint(MaintArgs),
    /// Move every due event from the retry queue back into its queue now.
    Retry(RetryArgs),
}

impl AdminCommand {
    /// The subcommand's name, for messages.
    fn name(&self) -> &'static str {
        match self {
            AdminCommand::Install(_) => "install",
            AdminCommand::CreateQueue(_) => "create-queue",
            AdminCommand::DropQueue(_) => "drop-queue",
            AdminCommand::QueueConfig(_) => "queue-config",
            AdminCommand::Register(_) => "register",
            AdminCommand::Unregister(_) => "unregister",
            AdminCommand::Queues(_) => "queues",
            AdminCommand::Consumers(_) => "consumers",
            AdminCommand::InsertEvent(_) => "insert-event",
            AdminCommand::Tick(_) => "tick",
            AdminCommand::Maint(_) => "maint",
            AdminCommand::Retry(_) => "retry",
        }
    }
}

/// Why a subcommand failed, and with which exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    /// A failure of the work itself: exit status 1.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            usage: false,
        }
    }

    /// A command line that cannot be acted on: exit status 2, like clap's.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            usage: true,
        }
    }

    fn exit_code(&self) -> ExitCode {
        ExitCode::from(if self.usage { 2 } else { 1 })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a subcommand returns.
pub(crate) type Outcome = Result<(), Failure>;

/// Prints one line on stdout. A closed pipe (`pgqd queues | head -1`) is
/// not an error worth a panic.
pub(crate) fn say(line: impl fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Prints a note on stderr for something skipped or failed while the
/// command goes on.
pub(crate) fn warn(command: &str, line: impl fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "pgqd {command}: {line}");
}

/// Runs an administration subcommand; returns the process exit code.
pub fn main(command: &AdminCommand) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(rt) => rt.block_on(run(command)),
        Err(e) => Err(Failure::new(format!("starting the async runtime: {e}"))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            warn(command.name(), &failure);
            failure.exit_code()
        }
    }
}

async fn run(command: &AdminCommand) -> Outcome {
    match command {
        AdminCommand::Install(args) => install::run(args).await,
        AdminCommand::CreateQueue(args) => queue::create(args).await,
        AdminCommand::DropQueue(args) => queue::drop(args).await,
        AdminCommand::QueueConfig(args) => queue::config(args).await,
        AdminCommand::Register(args) => consumer::register(args).await,
        AdminCommand::Unregister(args) => consumer::unregister(args).await,
        AdminCommand::Queues(args) => list::queues(args).await,
        AdminCommand::Consumers(args) => list::consumers(args).await,
        AdminCommand::InsertEvent(args) => ops::insert(args).await,
        AdminCommand::Tick(args) => ops::tick(args).await,
        AdminCommand::Maint(args) => ops::maint(args).await,
        AdminCommand::Retry(args) => ops::retry(args).await,
    }
}
