//! `pgqd register` and `pgqd unregister`.

use super::sql;
use super::target::{DbArgs, Session, Work};
use super::{Failure, Outcome, names, say};

/// Arguments of `pgqd register`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Prints \"consumer CONSUMER registered on QUEUE at tick N\", or \"... already
registered\" (and \"moved to tick N\" with --tick).")]
pub struct RegisterArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Name of the queue.
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: String,

    /// Name of the consumer (at most 63 bytes, no control characters).
    #[arg(value_name = "CONSUMER", value_parser = names::consumer)]
    consumer: String,

    /// Start after this tick (an existing tick id of the queue) instead of
    /// the newest: the consumer then receives every event since that tick.
    /// For a registered consumer, moves it there.
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
    tick: Option<i64>,
}

/// Arguments of `pgqd unregister`.
#[derive(Debug, Clone, clap::Args)]
pub struct UnregisterArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Name of the queue.
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: String,

    /// Name of the consumer; its retry events are dropped too.
    #[arg(value_name = "CONSUMER", value_parser = names::consumer)]
    consumer: String,

    /// Succeed without change when the consumer is not registered.
    #[arg(long)]
    if_exists: bool,
}

pub(crate) async fn register(args: &RegisterArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, false).await?;
    let (queue, consumer) = (&args.queue, &args.consumer);
    let attempt = format!("registering consumer \"{consumer}\" on queue \"{queue}\"");
    let fresh = sql::register(&session.client, queue, consumer, args.tick)
        .await
        .map_err(|e| session.error(&attempt, &e))?
        == 1;
    let position = sql::consumer_info(&session.client, Some(queue))
        .await
        .map_err(|e| session.error(&attempt, &e))?
        .into_iter()
        .find(|c| &c.consumer == consumer)
        .and_then(|c| c.last_tick);
    let at = position.map_or_else(String::new, |t| format!(" at tick {t}"));
    match (fresh, args.tick) {
        (true, _) => say(format_args!(
            "consumer {consumer} registered on {queue}{at}"
        )),
        (false, None) => say(format_args!(
            "consumer {consumer} already registered on {queue}{at}"
        )),
        (false, Some(tick)) => say(format_args!(
            "consumer {consumer} already registered on {queue}, moved to tick {tick}"
        )),
    }
    Ok(())
}

pub(crate) async fn unregister(args: &UnregisterArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, false).await?;
    let (queue, consumer) = (&args.queue, &args.consumer);
    let attempt = format!("unregistering consumer \"{consumer}\" from queue \"{queue}\"");
    let registered = sql::is_registered(&session.client, queue, consumer)
        .await
        .map_err(|e| session.error(&attempt, &e))?;
    if registered {
        sql::unregister(&session.client, queue, consumer)
            .await
            .map_err(|e| session.error(&attempt, &e))?;
        say(format_args!(
            "consumer {consumer} unregistered from {queue}"
        ));
        return Ok(());
    }
    if args.if_exists {
        say(format_args!(
            "consumer {consumer} is not registered on {queue}"
        ));
        return Ok(());
    }
    Err(Failure::new(format!(
        "consumer \"{consumer}\" is not registered on queue \"{queue}\" in database \"{}\"",
        session.database
    )))
}
