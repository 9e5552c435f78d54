//! `pgqd create-queue`, `drop-queue` and `queue-config`.

use serde_json::json;
use tokio_postgres::GenericClient;

use super::settings::{self, Assignment, SettingValue};
use super::sql;
use super::target::{DbArgs, Session, Work, failed};
use super::{Failure, Outcome, names, say};

/// Arguments of `pgqd create-queue`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Example:
  pgqd create-queue -d app orders ticker_max_lag=1s rotation_period='1 hour'

Prints \"queue QUEUE created\" or \"queue QUEUE exists already\".")]
pub struct CreateQueueArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Name of the queue (at most 63 bytes, no control characters).
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: String,

    /// Settings to apply in the same transaction; the keys of queue-config.
    #[arg(value_name = "KEY=VALUE", value_parser = settings::assignment)]
    settings: Vec<Assignment>,
}

/// Arguments of `pgqd drop-queue`.
#[derive(Debug, Clone, clap::Args)]
pub struct DropQueueArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Name of the queue.
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: String,

    /// Unregister the queue's consumers first (their unread events are lost).
    #[arg(long)]
    force: bool,

    /// Succeed without change when there is no such queue.
    #[arg(long)]
    if_exists: bool,
}

/// Arguments of `pgqd queue-config`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Keys:
  ticker_max_count    tick once this many events wait (whole number)
  ticker_max_lag      tick at least this often while events wait (interval)
  ticker_idle_period  tick at least this often when idle (interval)
  ticker_paused       no ticks at all while true
  rotation_period     rotate the event tables this often (interval)
  external_ticker     ticks come from elsewhere (e.g. londiste); pgqd skips it
  disable_insert      refuse new events while true
  per_tx_limit        most events one transaction may insert; empty for none
A queue_ prefix is accepted. Intervals as PostgreSQL reads them: 3s, 500ms,
'2 hours', 00:00:03. Booleans: true/false, on/off, yes/no, 1/0.

Examples:
  pgqd queue-config -d app orders
  pgqd queue-config -d app orders ticker_max_lag=500ms per_tx_limit=")]
pub struct QueueConfigArgs {
    #[command(flatten)]
    db: DbArgs,

    /// Name of the queue.
    #[arg(value_name = "QUEUE", value_parser = names::queue)]
    queue: String,

    /// Settings to change, all in one transaction; none shows the settings.
    #[arg(value_name = "KEY=VALUE", value_parser = settings::assignment)]
    settings: Vec<Assignment>,

    /// Print the settings as JSON (intervals in seconds).
    #[arg(long)]
    json: bool,
}

pub(crate) async fn create(args: &CreateQueueArgs) -> Outcome {
    let (mut session, _) = Session::with_engine(&args.db, Work::Quick, false).await?;
    let Session {
        client, database, ..
    } = &mut session;
    let (db, queue) = (database.as_str(), &args.queue);
    let attempt = format!("creating queue \"{queue}\"");
    let tx = client
        .transaction()
        .await
        .map_err(|e| failed(db, &attempt, &e))?;
    let created = sql::create_queue(&tx, queue)
        .await
        .map_err(|e| failed(db, &attempt, &e))?;
    apply(db, &tx, queue, &args.settings).await?;
    tx.commit().await.map_err(|e| failed(db, &attempt, &e))?;
    if created {
        say(format_args!("queue {queue} created"));
    } else {
        say(format_args!("queue {queue} exists already"));
    }
    Ok(())
}

pub(crate) async fn drop(args: &DropQueueArgs) -> Outcome {
    let (session, _) = Session::with_engine(&args.db, Work::Quick, false).await?;
    let queue = &args.queue;
    let db = &session.database;
    let attempt = format!("dropping queue \"{queue}\"");
    if !sql::queue_exists(&session.client, queue)
        .await
        .map_err(|e| session.error(&attempt, &e))?
    {
        if args.if_exists {
            say(format_args!("queue {queue} does not exist"));
            return Ok(());
        }
        return Err(no_queue(db, queue));
    }
    if !args.force {
        let consumers = sql::consumer_info(&session.client, Some(queue))
            .await
            .map_err(|e| session.error(&attempt, &e))?;
        if !consumers.is_empty() {
            let names: Vec<&str> = consumers.iter().map(|c| c.consumer.as_str()).collect();
            return Err(Failure::new(format!(
                "queue \"{queue}\" in database \"{db}\" still has consumers ({}); \
                 --force unregisters them first",
                names.join(", ")
            )));
        }
    }
    sql::drop_queue(&session.client, queue, args.force)
        .await
        .map_err(|e| session.error(&attempt, &e))?;
    say(format_args!("queue {queue} dropped"));
    Ok(())
}

pub(crate) async fn config(args: &QueueConfigArgs) -> Outcome {
    let (mut session, _) =
        Session::with_engine(&args.db, Work::Quick, args.settings.is_empty()).await?;
    let queue = &args.queue;
    if !args.settings.is_empty() {
        let Session {
            client, database, ..
        } = &mut session;
        let db = database.as_str();
        let attempt = format!("changing the settings of queue \"{queue}\"");
        let tx = client
            .transaction()
            .await
            .map_err(|e| failed(db, &attempt, &e))?;
        apply(db, &tx, queue, &args.settings).await?;
        tx.commit().await.map_err(|e| failed(db, &attempt, &e))?;
    }
    let shown = sql::queue_settings(&session.client, queue)
        .await
        .map_err(|e| session.error(&format!("reading queue \"{queue}\""), &e))?
        .ok_or_else(|| no_queue(&session.database, queue))?;
    if args.json {
        let settings: serde_json::Map<String, serde_json::Value> = shown
            .iter()
            .map(|s| (s.setting.name().to_owned(), s.json.clone()))
            .collect();
        let value = json!({
            "database": session.database,
            "queue": queue,
            "settings": settings,
        });
        say(serde_json::to_string_pretty(&value).map_err(|e| Failure::new(e.to_string()))?);
    } else {
        for s in &shown {
            say(format_args!("{}={}", s.setting, s.text));
        }
    }
    Ok(())
}

/// Applies settings inside the caller's transaction; intervals are checked
/// to be positive first, so that no queue is left never ticking.
async fn apply(
    db: &str,
    client: &impl GenericClient,
    queue: &str,
    assignments: &[Assignment],
) -> Outcome {
    for a in assignments {
        let attempt = format!("setting {} of queue \"{queue}\"", a.setting);
        if let SettingValue::Interval(text) = &a.value {
            let positive = sql::interval_is_positive(client, text)
                .await
                .map_err(|e| failed(db, &attempt, &e))?;
            if !positive {
                return Err(Failure::new(format!(
                    "{}: \"{text}\" is not a positive interval",
                    a.setting
                )));
            }
        }
        if !sql::apply_setting(client, queue, a)
            .await
            .map_err(|e| failed(db, &attempt, &e))?
        {
            return Err(no_queue(db, queue));
        }
    }
    Ok(())
}

fn no_queue(db: &str, queue: &str) -> Failure {
    Failure::new(format!("no queue \"{queue}\" in database \"{db}\""))
}
