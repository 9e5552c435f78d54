//! `pgqd insert-event`, `tick`, `maint` and `retry`: what the daemon does
//! on its own schedule (and producers do), on demand.

use super::sql::{self, NewEvent};
use super::target::{DbArgs, Session, Work};
use super::{Failure, Outcome, names, say, warn};
use crate::engine::{self, OpOutcome};

/// Calls of `pgq.maint_retry_events()` after which `retry` stops even if
/// events keep coming due; each call moves a batch of events.
const RETRY_MAX_CALLS: u32 = 100_000;

/// Arguments of `pgqd insert-event`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Example:
  pgqd insert-event -d app orders order.created '{\"id\": 1}' --extra1 orders_table

Prints the new event's id. The event is visible to consumers after the
next tick (pgqd tick forces one).")]
pub struct InsertArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Name of the queue.
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: String,

    /// The event's type (ev_type).
    #[arg(value_name = "TYPE")]
    ev_type: String,

    /// The event's payload (ev_data); NULL when left out.
    #[arg(value_name = "DATA")]
    data: Option<String>,

    /// ev_extra1.
    #[arg(long, value_name = "TEXT")]
    extra1: Option<String>,

    /// ev_extra2.
    #[arg(long, value_name = "TEXT")]
    extra2: Option<String>,

    /// ev_extra3.
    #[arg(long, value_name = "TEXT")]
    extra3: Option<String>,

    /// ev_extra4.
    #[arg(long, value_name = "TEXT")]
    extra4: Option<String>,
}

/// Arguments of `pgqd tick`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Prints one \"QUEUE: tick ID\" line per queue ticked. Without QUEUE, queues
whose ticker is paused or external are skipped with a note on stderr.")]
pub struct TickArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Only this queue; default: every queue with a ticker.
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: Option<String>,
}

/// Arguments of `pgqd maint`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Lists what pgq.maint_operations() says is due now and runs each operation
in autocommit, repeating one as long as it asks to be called again (at most
maint_max_repeats times). Prints one line per operation run, or \"no
maintenance due\". Rotation only happens once a queue's rotation_period has
passed and its consumers have moved on; the retry queue is `pgqd retry`.")]
pub struct MaintArgs {
    #[command(flatten)]
    db: DbArgs,
}

/// Arguments of `pgqd retry`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Calls pgq.maint_retry_events() until it moves nothing more and prints
\"moved N events\". The events reach their consumers after the next tick.")]
pub struct RetryArgs {
    #[command(flatten)]
    db: DbArgs,
}

pub(crate) async fn insert(args: &InsertArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, false).await?;
    let event = NewEvent {
        ev_type: &args.ev_type,
        data: args.data.as_deref(),
        extra: [
            args.extra1.as_deref(),
            args.extra2.as_deref(),
            args.extra3.as_deref(),
            args.extra4.as_deref(),
        ],
    };
    let id = sql::insert_event(&session.client, &args.queue, &event)
        .await
        .map_err(|e| {
            session.error(
                &format!("inserting an event into queue \"{}\"", args.queue),
                &e,
            )
        })?;
    say(id);
    Ok(())
}

pub(crate) async fn tick(args: &TickArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, false).await?;
    let queues = match &args.queue {
        Some(queue) => vec![queue.clone()],
        None => {
            let states = sql::ticker_states(&session.client)
                .await
                .map_err(|e| session.error("listing the queues", &e))?;
            let mut tickable = Vec::new();
            for s in states {
                if s.paused {
                    warn("tick", format_args!("{}: skipped, ticker paused", s.queue));
                } else if s.external {
                    warn(
                        "tick",
                        format_args!("{}: skipped, external ticker", s.queue),
                    );
                } else {
                    tickable.push(s.queue);
                }
            }
            tickable
        }
    };
    if queues.is_empty() {
        warn("tick", "no queue to tick");
    }
    let mut failures = Vec::new();
    for queue in &queues {
        match tick_one(&session, queue).await {
            Ok(id) => say(format_args!("{queue}: tick {id}")),
            Err(e) => failures.push(e),
        }
    }
    finish("tick", failures, queues.len(), "queues")
}

/// Forces one tick: `pgq.force_tick()` makes the queue look due, then
/// `pgq.ticker()` ticks it whatever its policy says.
async fn tick_one(session: &Session, queue: &str) -> Result<i64, Failure> {
    let attempt = format!("ticking queue \"{queue}\"");
    sql::force_tick(&session.client, queue)
        .await
        .map_err(|e| session.error(&attempt, &e))?;
    engine::tick_queue(&session.client, queue)
        .await
        .map_err(|e| session.error(&attempt, &e))?
        .ok_or_else(|| {
            Failure::new(format!(
                "{attempt} in database \"{}\": pgq.ticker() made no tick",
                session.database
            ))
        })
}

pub(crate) async fn maint(args: &MaintArgs) -> Outcome {
    let (session, info) = Session::with_engine(&args.db, Work::Long, false).await?;
    let ops = engine::maint_operations(&session.client, &info)
        .await
        .map_err(|e| session.error("listing maintenance operations", &e))?;
    if ops.is_empty() {
        say("no maintenance due");
        return Ok(());
    }
    let max_repeats = session.maint_max_repeats();
    let mut failures = Vec::new();
    for op in &ops {
        let call = match &op.arg {
            Some(arg) => format!("{}({arg})", op.func),
            None => format!("{}()", op.func),
        };
        let mut runs = 0;
        let outcome = loop {
            runs += 1;
            match engine::run_maint_op(&session.client, op).await {
                Ok(OpOutcome::Again) if runs < max_repeats => {}
                Ok(outcome) => break Ok(outcome),
                Err(e) => break Err(e),
            }
        };
        match outcome {
            Ok(OpOutcome::Done) if runs == 1 => say(format_args!("ran {call}")),
            Ok(OpOutcome::Done) => say(format_args!("ran {call} {runs} times")),
            Ok(OpOutcome::Again) => say(format_args!(
                "ran {call} {runs} times; it still asks for more, the next round continues"
            )),
            Err(e) => failures.push(Failure::new(format!(
                "running maintenance in database \"{}\": {e}",
                session.database
            ))),
        }
    }
    finish("maint", failures, ops.len(), "operations")
}

pub(crate) async fn retry(args: &RetryArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, false).await?;
    let mut moved = 0;
    for _ in 0..RETRY_MAX_CALLS {
        let n = engine::retry_events(&session.client)
            .await
            .map_err(|e| session.error("moving retry events", &e))?;
        if n == 0 {
            say(format_args!("moved {moved} events"));
            return Ok(());
        }
        moved += n;
    }
    say(format_args!(
        "moved {moved} events; more keep coming due, stopped after {RETRY_MAX_CALLS} calls"
    ));
    Ok(())
}

/// Turns the failures of a multi-step command into its outcome: the one
/// failure as is, or each on stderr and a count.
fn finish(command: &str, mut failures: Vec<Failure>, total: usize, what: &str) -> Outcome {
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        n => {
            for f in &failures {
                warn(command, f);
            }
            Err(Failure::new(format!("{n} of {total} {what} failed")))
        }
    }
}
