//! Every SQL statement of the administration commands, next to the daemon's
//! own in [`crate::engine`]: PgQ's API functions where it has one, its
//! tables where it has none (`disable_insert`, `per_tx_limit`). Every value
//! is a bind parameter; no name is ever spliced into SQL text.
//!
//! All of it works against this project's engine and the pgq 3.5 C
//! extension alike.

use serde::Serialize;
use tokio_postgres::{Client, Error, GenericClient};

use super::settings::{Assignment, Setting, SettingValue};

/// Whether the database has the pgq C extension.
pub(crate) async fn has_pgq_extension(client: &Client) -> Result<bool, Error> {
    Ok(client
        .query_one(
            "select exists (select 1 from pg_catalog.pg_extension where extname = 'pgq')",
            &[],
        )
        .await?
        .get(0))
}

/// A name for the installed engine: `pgq.engine_version()` where it exists
/// (this project's engine), else `pgq <version()>`; `None` without a `pgq`
/// schema.
pub(crate) async fn engine_label(client: &Client) -> Result<Option<String>, Error> {
    let row = client
        .query_one(
            "select exists (select 1 from pg_catalog.pg_namespace where nspname = 'pgq'),
                    exists (select 1 from pg_catalog.pg_proc p
                              join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                             where n.nspname = 'pgq' and p.proname = 'engine_version'),
                    exists (select 1 from pg_catalog.pg_proc p
                              join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                             where n.nspname = 'pgq' and p.proname = 'version')",
            &[],
        )
        .await?;
    let (schema, ours, version): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if !schema {
        return Ok(None);
    }
    if ours {
        let v: Option<String> = client
            .query_one("select pgq.engine_version()::text", &[])
            .await?
            .get(0);
        return Ok(Some(v.unwrap_or_else(|| "pgqd-sql".into())));
    }
    if !version {
        return Ok(Some("a pgq schema without pgq.version()".into()));
    }
    let v: Option<String> = client
        .query_one("select pgq.version()::text", &[])
        .await?
        .get(0);
    Ok(Some(format!(
        "pgq {}",
        v.as_deref().unwrap_or("(unknown version)")
    )))
}

/// Runs an install script; the script has its own `begin` and `commit`.
pub(crate) async fn run_script(client: &Client, script: &str) -> Result<(), Error> {
    client.batch_execute(script).await
}

/// `pgq.create_queue()`: true if it was created, false if it existed.
pub(crate) async fn create_queue(client: &impl GenericClient, queue: &str) -> Result<bool, Error> {
    let created: Option<i32> = client
        .query_one("select pgq.create_queue($1)", &[&queue])
        .await?
        .get(0);
    Ok(created == Some(1))
}

/// Whether a queue exists.
pub(crate) async fn queue_exists(client: &impl GenericClient, queue: &str) -> Result<bool, Error> {
    Ok(client
        .query_one(
            "select exists (select 1 from pgq.queue where queue_name = $1)",
            &[&queue],
        )
        .await?
        .get(0))
}

/// `pgq.drop_queue(queue, force)`.
pub(crate) async fn drop_queue(client: &Client, queue: &str, force: bool) -> Result<(), Error> {
    client
        .query_one("select pgq.drop_queue($1, $2)", &[&queue, &force])
        .await
        .map(drop)
}

/// Whether `text` is a positive interval; a syntax error comes back as the
/// server's error.
pub(crate) async fn interval_is_positive(
    client: &impl GenericClient,
    text: &str,
) -> Result<bool, Error> {
    Ok(client
        .query_one("select $1::text::interval > interval '0'", &[&text])
        .await?
        .get(0))
}

/// Applies one setting; false when the queue does not exist.
pub(crate) async fn apply_setting(
    client: &impl GenericClient,
    queue: &str,
    assignment: &Assignment,
) -> Result<bool, Error> {
    let updated = match (assignment.setting, &assignment.value) {
        (Setting::DisableInsert, SettingValue::Bool(flag)) => {
            client
                .execute(
                    "update pgq.queue set queue_disable_insert = $2 where queue_name = $1",
                    &[&queue, flag],
                )
                .await?
        }
        (Setting::PerTxLimit, value) => {
            let limit = match value {
                SettingValue::Int(n) => Some(*n),
                _ => None,
            };
            client
                .execute(
                    "update pgq.queue set queue_per_tx_limit = $2 where queue_name = $1",
                    &[&queue, &limit],
                )
                .await?
        }
        (setting, value) => {
            if !queue_exists(client, queue).await? {
                return Ok(false);
            }
            client
                .query_one(
                    "select pgq.set_queue_config($1, $2, $3)",
                    &[&queue, &setting.name(), &value.as_text()],
                )
                .await?;
            1
        }
    };
    Ok(updated > 0)
}

/// One setting as read back: its text (a form `KEY=VALUE` accepts again)
/// and its JSON value (intervals in seconds).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SettingShown {
    pub(crate) setting: Setting,
    pub(crate) text: String,
    pub(crate) json: serde_json::Value,
}

/// A queue's settings, in [`Setting::ALL`] order; `None` if there is no
/// such queue.
pub(crate) async fn queue_settings(
    client: &impl GenericClient,
    queue: &str,
) -> Result<Option<Vec<SettingShown>>, Error> {
    let Some(row) = client
        .query_opt(
            "select queue_ticker_max_count::int8,
                    queue_ticker_max_lag::text,
                    extract(epoch from queue_ticker_max_lag)::float8,
                    queue_ticker_idle_period::text,
                    extract(epoch from queue_ticker_idle_period)::float8,
                    queue_ticker_paused,
                    queue_rotation_period::text,
                    extract(epoch from queue_rotation_period)::float8,
                    queue_external_ticker,
                    queue_disable_insert,
                    queue_per_tx_limit::int8
               from pgq.queue where queue_name = $1",
            &[&queue],
        )
        .await?
    else {
        return Ok(None);
    };
    let int = |i: usize| {
        let n: i64 = row.get(i);
        (n.to_string(), n.into())
    };
    let interval = |i: usize| {
        let text: String = row.get(i);
        let secs: f64 = row.get(i + 1);
        (text, secs.into())
    };
    let flag = |i: usize| {
        let b: bool = row.get(i);
        (b.to_string(), b.into())
    };
    let limit: Option<i64> = row.get(10);
    let values = [
        int(0),
        interval(1),
        interval(3),
        flag(5),
        interval(6),
        flag(8),
        flag(9),
        (
            limit.map(|n| n.to_string()).unwrap_or_default(),
            limit.map_or(serde_json::Value::Null, Into::into),
        ),
    ];
    Ok(Some(
        Setting::ALL
            .into_iter()
            .zip(values)
            .map(|(setting, (text, json))| SettingShown {
                setting,
                text,
                json,
            })
            .collect(),
    ))
}

/// `pgq.register_consumer_at()`: 1 when newly registered, 0 when it was
/// registered already (and moved to `tick` if one was given).
pub(crate) async fn register(
    client: &Client,
    queue: &str,
    consumer: &str,
    tick: Option<i64>,
) -> Result<i32, Error> {
    let n: Option<i32> = client
        .query_one(
            "select pgq.register_consumer_at($1, $2, $3)",
            &[&queue, &consumer, &tick],
        )
        .await?
        .get(0);
    Ok(n.unwrap_or(0))
}

/// `pgq.unregister_consumer()`: how many subscriptions were removed.
pub(crate) async fn unregister(client: &Client, queue: &str, consumer: &str) -> Result<i32, Error> {
    let n: Option<i32> = client
        .query_one(
            "select pgq.unregister_consumer($1, $2)",
            &[&queue, &consumer],
        )
        .await?
        .get(0);
    Ok(n.unwrap_or(0))
}

/// Whether `consumer` is registered on `queue`.
pub(crate) async fn is_registered(
    client: &Client,
    queue: &str,
    consumer: &str,
) -> Result<bool, Error> {
    Ok(client
        .query_one(
            "select exists (select 1 from pgq.get_consumer_info($1, $2))",
            &[&queue, &consumer],
        )
        .await?
        .get(0))
}

/// An event to insert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewEvent<'a> {
    pub(crate) ev_type: &'a str,
    pub(crate) data: Option<&'a str>,
    pub(crate) extra: [Option<&'a str>; 4],
}

/// `pgq.insert_event()` with all four extras; returns the event id.
pub(crate) async fn insert_event(
    client: &Client,
    queue: &str,
    event: &NewEvent<'_>,
) -> Result<i64, Error> {
    let [e1, e2, e3, e4] = &event.extra;
    let id: Option<i64> = client
        .query_one(
            "select pgq.insert_event($1, $2, $3, $4, $5, $6, $7)",
            &[&queue, &event.ev_type, &event.data, e1, e2, e3, e4],
        )
        .await?
        .get(0);
    Ok(id.unwrap_or(0))
}

/// A queue and whether its ticker is paused or external.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TickerState {
    pub(crate) queue: String,
    pub(crate) paused: bool,
    pub(crate) external: bool,
}

/// Every queue with its ticker state.
pub(crate) async fn ticker_states(client: &Client) -> Result<Vec<TickerState>, Error> {
    Ok(client
        .query(
            "select queue_name, queue_ticker_paused, queue_external_ticker
               from pgq.queue order by queue_name",
            &[],
        )
        .await?
        .iter()
        .map(|r| TickerState {
            queue: r.get(0),
            paused: r.get(1),
            external: r.get(2),
        })
        .collect())
}

/// `pgq.force_tick()`: makes the queue's next `pgq.ticker()` call tick.
pub(crate) async fn force_tick(client: &Client, queue: &str) -> Result<(), Error> {
    client
        .query_one("select pgq.force_tick($1)", &[&queue])
        .await
        .map(drop)
}

/// A queue as `queues --json` lists it (`pgq.get_queue_info()`, intervals
/// in seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct QueueInfo {
    pub(crate) queue: String,
    pub(crate) ntables: i32,
    pub(crate) cur_table: i32,
    pub(crate) rotation_period: f64,
    pub(crate) switch_time: String,
    pub(crate) external_ticker: bool,
    pub(crate) ticker_paused: bool,
    pub(crate) ticker_max_count: i32,
    pub(crate) ticker_max_lag: f64,
    pub(crate) ticker_idle_period: f64,
    pub(crate) ticker_lag: Option<f64>,
    pub(crate) ev_per_sec: Option<f64>,
    pub(crate) ev_new: Option<i64>,
    pub(crate) last_tick_id: Option<i64>,
}

/// Every queue, by name.
pub(crate) async fn queue_info(client: &Client) -> Result<Vec<QueueInfo>, Error> {
    Ok(client
        .query(
            "select queue_name, queue_ntables, queue_cur_table,
                    extract(epoch from queue_rotation_period)::float8,
                    queue_switch_time::text, queue_external_ticker, queue_ticker_paused,
                    queue_ticker_max_count,
                    extract(epoch from queue_ticker_max_lag)::float8,
                    extract(epoch from queue_ticker_idle_period)::float8,
                    extract(epoch from ticker_lag)::float8, ev_per_sec::float8,
                    ev_new::int8, last_tick_id::int8
               from pgq.get_queue_info() order by queue_name",
            &[],
        )
        .await?
        .iter()
        .map(|r| QueueInfo {
            queue: r.get(0),
            ntables: r.get(1),
            cur_table: r.get(2),
            rotation_period: r.get(3),
            switch_time: r.get(4),
            external_ticker: r.get(5),
            ticker_paused: r.get(6),
            ticker_max_count: r.get(7),
            ticker_max_lag: r.get(8),
            ticker_idle_period: r.get(9),
            ticker_lag: r.get(10),
            ev_per_sec: r.get(11),
            ev_new: r.get(12),
            last_tick_id: r.get(13),
        })
        .collect())
}

/// A consumer as `consumers --json` lists it (`pgq.get_consumer_info()`,
/// intervals in seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ConsumerInfo {
    pub(crate) queue: String,
    pub(crate) consumer: String,
    pub(crate) lag: Option<f64>,
    pub(crate) last_seen: Option<f64>,
    pub(crate) last_tick: Option<i64>,
    pub(crate) current_batch: Option<i64>,
    pub(crate) next_tick: Option<i64>,
    pub(crate) pending_events: Option<i64>,
}

/// Every consumer, of every queue or of one.
pub(crate) async fn consumer_info(
    client: &Client,
    queue: Option<&str>,
) -> Result<Vec<ConsumerInfo>, Error> {
    let rows = client
        .query(
            "select queue_name, consumer_name,
                    extract(epoch from lag)::float8, extract(epoch from last_seen)::float8,
                    last_tick::int8, current_batch::int8, next_tick::int8,
                    pending_events::int8
               from pgq.get_consumer_info()
              where $1::text is null or queue_name = $1
              order by queue_name, consumer_name",
            &[&queue],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ConsumerInfo {
            queue: r.get(0),
            consumer: r.get(1),
            lag: r.get(2),
            last_seen: r.get(3),
            last_tick: r.get(4),
            current_batch: r.get(5),
            next_tick: r.get(6),
            pending_events: r.get(7),
        })
        .collect())
}
