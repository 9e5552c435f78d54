//! `pgqd queues` and `pgqd consumers`: one database's queues and consumers,
//! as names for scripts or as JSON with PgQ's own figures. `pgqd status`
//! is the human view of the whole cluster.

use serde_json::json;

use super::sql;
use super::target::{DbArgs, Session, Work};
use super::{Failure, Outcome, names, say};

/// Arguments of `pgqd queues`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
The JSON form is {\"database\": DB, \"queues\": [...]} with the columns of
pgq.get_queue_info() (queue, ntables, cur_table, rotation_period,
switch_time, external_ticker, ticker_paused, ticker_max_count,
ticker_max_lag, ticker_idle_period, ticker_lag, ev_per_sec, ev_new,
last_tick_id); intervals in seconds.")]
pub struct QueuesArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Print JSON with every queue's figures instead of names.
    #[arg(long)]
    json: bool,
}

/// Arguments of `pgqd consumers`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
The JSON form is {\"database\": DB, \"consumers\": [...]} with the columns of
pgq.get_consumer_info() (queue, consumer, lag, last_seen, last_tick,
current_batch, next_tick, pending_events); intervals in seconds.")]
pub struct ConsumersArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Only the consumers of this queue.
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: Option<String>,

    /// Print JSON with every consumer's figures instead of names.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn queues(args: &QueuesArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, true).await?;
    let queues = sql::queue_info(&session.client)
        .await
        .map_err(|e| session.error("listing the queues", &e))?;
    if args.json {
        print_json(&json!({"database": session.database, "queues": queues}))
    } else {
        for q in &queues {
            say(&q.queue);
        }
        Ok(())
    }
}

pub(crate) async fn consumers(args: &ConsumersArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, true).await?;
    let queue = args.queue.as_deref();
    if let Some(queue) = queue {
        let exists = sql::queue_exists(&session.client, queue)
            .await
            .map_err(|e| session.error("listing the consumers", &e))?;
        if !exists {
            return Err(Failure::new(format!(
                "no queue \"{queue}\" in database \"{}\"",
                session.database
            )));
        }
    }
    let consumers = sql::consumer_info(&session.client, queue)
        .await
        .map_err(|e| session.error("listing the consumers", &e))?;
    if args.json {
        print_json(&json!({"database": session.database, "consumers": consumers}))
    } else {
        for c in &consumers {
            say(format_args!("{}\t{}", c.queue, c.consumer));
        }
        Ok(())
    }
}

fn print_json(value: &serde_json::Value) -> Outcome {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::new(e.to_string()))?;
    say(text);
    Ok(())
}
