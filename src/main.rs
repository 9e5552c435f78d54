//! The `pgqd` command line: parses arguments, loads the configuration,
//! sets up logging, metrics and signals, runs the daemon and maps the
//! outcome to an exit code.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use pgqd::config;
use pgqd::logging::{self, Output};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Exit status for an unusable configuration (sysexits EX_CONFIG), so that
/// systemd's RestartPreventExitStatus can stop a restart loop.
const EXIT_CONFIG: u8 = 78;

/// PgQ ticker and maintenance daemon for a whole PostgreSQL cluster.
#[derive(Debug, Parser)]
#[command(
    name = "pgqd",
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Configuration file: TOML, or a legacy pgqd.ini.
    config: Option<PathBuf>,

    /// Validate FILE and exit 0 if it is usable, 1 with every problem listed.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,

    /// Print an annotated sample TOML configuration with every key.
    #[arg(long)]
    print_config: bool,

    /// Print a sample legacy pgqd.ini.
    #[arg(long)]
    ini: bool,

    /// More log output (-v debug, -vv trace).
    #[arg(short, action = clap::ArgAction::Count)]
    verbose: u8,

    /// No log output on stderr.
    #[arg(short)]
    quiet: bool,

    /// Run in the background (legacy; needs pidfile, and logfile or
    /// syslog, in the configuration). Under systemd, use the unit instead.
    #[arg(short = 'd')]
    daemonize: bool,

    /// Stop the running instance gracefully: SIGINT to the pid in the
    /// configuration's pidfile.
    #[arg(short = 's', overrides_with_all = ["kill", "reload"])]
    stop: bool,

    /// Stop the running instance: SIGTERM to the pid in the pidfile (also
    /// graceful in this pgqd; the C one exited at once with status 1).
    #[arg(short = 'k', overrides_with_all = ["stop", "reload"])]
    kill: bool,

    /// Reload the running instance's configuration: SIGHUP to the pid in
    /// the pidfile.
    #[arg(short = 'r', overrides_with_all = ["stop", "kill"])]
    reload: bool,

    /// Print the version and exit.
    #[arg(short = 'V', long)]
    version: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// One-shot Nagios / Monitoring Plugins check of every queue and
    /// consumer (also `pgqd --check`); needs no running daemon.
    Check(pgqd::check::CheckArgs),
    /// Show every queue and consumer of the cluster, like pgqadm status.
    Status(pgqd::status::StatusArgs),
    #[command(flatten)]
    Admin(pgqd::admin::AdminCommand),
    /// Run the daemon on a throwaway cluster with a live producer and
    /// consumer, printing batches and latency until Ctrl-C.
    Demo {
        /// Serve metrics on this address while the demo runs.
        #[arg(long, default_value = "127.0.0.1:9879")]
        metrics_listen: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(legacy_args(std::env::args_os()));
    match &cli.command {
        Some(Command::Demo { metrics_listen }) => return demo(metrics_listen, cli.verbose),
        Some(Command::Check(args)) => return check(args),
        Some(Command::Status(args)) => return status(args),
        Some(Command::Admin(command)) => return pgqd::admin::main(command),
        None => {}
    }
    if cli.version {
        println!("pgqd version {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if cli.print_config {
        print!("{}", config::sample_config());
        return ExitCode::SUCCESS;
    }
    if cli.ini {
        print!("{}", config::sample_ini());
        return ExitCode::SUCCESS;
    }
    if let Some(path) = &cli.check_config {
        return check_config(path);
    }
    let Some(path) = cli.config.clone() else {
        eprintln!("pgqd requires a config file (see --help)");
        return ExitCode::from(EXIT_CONFIG);
    };
    let loaded = match config::load_file(&path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(signal) = legacy_signal(&cli) {
        return send_signal(&loaded.config, signal);
    }
    if cli.daemonize {
        if let Err(e) = daemonize(&loaded.config) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    // A detached daemon without a log file logs to the journal (syslog).
    let chosen = if cli.daemonize && loaded.config.logfile.is_none() {
        Ok(Output::Journald)
    } else {
        logging::choose_output(loaded.config.logfile.as_deref(), cli.quiet)
    };
    let output = match chosen {
        Ok(output) => output,
        Err(e) => {
            eprintln!("opening the log file: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    logging::init(&output, cli.verbose);
    // Warnings already carry their file and line.
    for warning in &loaded.warnings {
        warn!("{warning}");
    }
    // One thread is plenty: the daemon waits on sockets and timers, and its
    // work per wake is microseconds even at a thousand databases. A single
    // thread also keeps the allocator to one arena, which is most of the
    // difference in resident memory.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(path, loaded.config, output))
}

/// The signal a legacy `-s` / `-k` / `-r` asks for.
fn legacy_signal(cli: &Cli) -> Option<Signal> {
    if cli.stop {
        Some(Signal::SIGINT)
    } else if cli.kill {
        Some(Signal::SIGTERM)
    } else if cli.reload {
        Some(Signal::SIGHUP)
    } else {
        None
    }
}

/// `-s` / `-k` / `-r`: signals the instance named by the pidfile, as the C
/// pgqd did (exit 0 also when it is not running).
fn send_signal(config: &config::Config, signal: Signal) -> ExitCode {
    let Some(path) = config.pidfile.as_deref() else {
        eprintln!("No pidfile configured");
        return ExitCode::FAILURE;
    };
    match pgqd::pidfile::read(path) {
        Some((pid, true)) => match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
            Ok(()) => {
                eprintln!("{signal} sent");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sending {signal} to pid {pid} from {}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("Old process is not running");
            ExitCode::SUCCESS
        }
    }
}

/// `-d`: detaches from the terminal before any thread exists. The pidfile
/// is written afterwards, with the final pid.
fn daemonize(config: &config::Config) -> Result<(), String> {
    let Some(pidfile) = config.pidfile.as_deref() else {
        return Err("daemon needs pidfile configured".into());
    };
    if config.logfile.is_none() && !config.syslog {
        return Err("daemon needs logfile or syslog configured".into());
    }
    if let Some((pid, true)) = pgqd::pidfile::read(pidfile) {
        return Err(format!(
            "pidfile {} exists, another instance running? (pid {pid})",
            pidfile.display()
        ));
    }
    // Keep the working directory, as the C pgqd did: relative paths in the
    // configuration stay relative to where it was started.
    nix::unistd::daemon(true, false).map_err(|e| format!("daemonizing: {e}"))
}

/// Accepts `pgqd --check ...` as `pgqd check ...`, the form monitoring
/// configurations use.
fn legacy_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.collect();
    if args.get(1).is_some_and(|a| a == "--check") {
        args[1] = "check".into();
    }
    args
}

/// A small runtime for the one-shot commands.
fn one_shot_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn check(args: &pgqd::check::CheckArgs) -> ExitCode {
    let outcome = match one_shot_runtime() {
        Ok(rt) => rt.block_on(pgqd::check::run(args)),
        Err(e) => pgqd::check::Outcome::unknown(format!("starting the async runtime: {e}")),
    };
    print!("{}", outcome.render());
    ExitCode::from(outcome.state.exit_code())
}

fn status(args: &pgqd::status::StatusArgs) -> ExitCode {
    let result = match one_shot_runtime() {
        Ok(rt) => rt.block_on(pgqd::status::run(args)),
        Err(e) => Err(format!("starting the async runtime: {e}")),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pgqd status: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo(metrics_listen: &str, verbose: u8) -> ExitCode {
    logging::init(&Output::Stderr, verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let stop = CancellationToken::new();
        let on_ctrl_c = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            on_ctrl_c.cancel();
        });
        let listen = (!metrics_listen.is_empty()).then_some(metrics_listen);
        match pgqd::demo::run(stop, listen).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn check_config(path: &Path) -> ExitCode {
    match config::load_file(path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                println!("warning: {warning}");
            }
            println!("{}: configuration ok", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

async fn serve(path: PathBuf, config: config::Config, output: Output) -> ExitCode {
    info!("Starting pgqd {}", env!("CARGO_PKG_VERSION"));
    let metrics_listen = config.metrics_listen;
    let _pidfile = match config
        .pidfile
        .as_deref()
        .map(pgqd::pidfile::Pidfile::create)
    {
        Some(Err(e)) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
        Some(Ok(p)) => Some(p),
        None => None,
    };
    let daemon = match pgqd::Daemon::new(config) {
        Ok(d) => d,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let handle = daemon.handle();
    let shutdown = CancellationToken::new();
    if let Some(addr) = metrics_listen {
        match pgqd::http::start(addr, handle.clone(), shutdown.clone()).await {
            Ok(bound) => info!("serving /metrics and /health on http://{bound}"),
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let signals = match signal_hook_tokio::Signals::new([SIGHUP, SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            error!("installing signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stall_limit = handle.config().connect_timeout
        + handle.config().statement_timeout
        + Duration::from_secs(5);
    tokio::spawn(pgqd::notify::run(
        handle.clone(),
        stall_limit,
        shutdown.clone(),
    ));
    let signal_task = tokio::spawn(handle_signals(
        signals,
        path,
        handle,
        shutdown.clone(),
        output,
    ));
    daemon.run(shutdown).await;
    signal_task.abort();
    ExitCode::SUCCESS
}

/// Turns signals into intents: SIGHUP reloads (a bad file keeps the old
/// configuration), SIGINT and SIGTERM stop gracefully.
async fn handle_signals(
    mut signals: signal_hook_tokio::Signals,
    path: PathBuf,
    handle: pgqd::Handle,
    shutdown: CancellationToken,
    output: Output,
) {
    while let Some(signal) = signals.next().await {
        match signal {
            SIGHUP => {
                info!("Got SIGHUP, re-reading config");
                pgqd::notify::reloading();
                if let Output::File(file) = &output {
                    if let Err(e) = file.reopen() {
                        warn!("reopening the log file: {e}");
                    }
                }
                match config::load_file(&path) {
                    Ok(loaded) => {
                        for warning in &loaded.warnings {
                            warn!("{warning}");
                        }
                        handle.reload(loaded.config);
                        pgqd::notify::reloaded("configuration reloaded");
                    }
                    Err(e) => {
                        error!(
                            "{}: reload rejected, keeping the running configuration: {e}",
                            path.display()
                        );
                        pgqd::notify::reloaded(
                            "reload rejected, running the previous configuration",
                        );
                    }
                }
            }
            other => {
                info!(signal = other, "shutting down");
                pgqd::notify::stopping();
                shutdown.cancel();
            }
        }
    }
}
