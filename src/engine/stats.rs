//! Queue and consumer figures for monitoring, read in one statement per
//! database from PgQ's own info functions (`pgq.get_queue_info()`,
//! `pgq.get_consumer_info()`), which both engines provide.
//!
//! The statement must never hold up the ticker that shares its connection:
//! event-table sizes are skipped for a table someone holds or awaits an
//! exclusive lock on (sizing it would queue behind that), and the statement
//! gives up after a short lock wait should such a lock appear meanwhile.
//! Ages computed from `now()` are clamped at zero: a consumer finishing a
//! batch while the figures are read would otherwise show a few negative
//! milliseconds.

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, SimpleQueryMessage};

/// One queue's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Queue name.
    pub queue: String,
    /// Seconds since the queue's last tick.
    pub ticker_lag: f64,
    /// Events inserted since the last tick (sequence-based, so rolled-back
    /// inserts count too, as PgQ's ticker counts them).
    pub ev_new: i64,
    /// Events per second between the last two ticks, as PgQ computes it.
    pub ev_per_sec: Option<f64>,
    /// The queue's last tick id.
    pub last_tick_id: Option<i64>,
    /// `ticker_max_count` setting.
    pub max_count: i64,
    /// `ticker_max_lag` setting, in seconds.
    pub max_lag: f64,
    /// `ticker_idle_period` setting, in seconds.
    pub idle_period: f64,
    /// Whether the ticker is paused for this queue.
    pub paused: bool,
    /// Whether an external ticker ticks this queue.
    pub external_ticker: bool,
    /// `queue_rotation_period`, in seconds.
    pub rotation_period: f64,
    /// Seconds since the last table rotation (step 1).
    pub since_rotation: f64,
    /// Whether rotation step 2 has not run yet after the last step 1.
    pub step2_pending: bool,
    /// Events waiting in `pgq.retry_queue` for this queue.
    pub retry_events: i64,
    /// Bytes in the event tables (with indexes and TOAST); `None` when a
    /// table could not be sized without waiting on a lock.
    pub table_bytes: Option<i64>,
}

/// One consumer's figures on one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerStats {
    /// Queue name.
    pub queue: String,
    /// Consumer name.
    pub consumer: String,
    /// Seconds between now and the consumer's last finished tick.
    pub lag: f64,
    /// Seconds since the consumer last finished a batch.
    pub last_seen: f64,
    /// The tick id the consumer's position is at.
    pub last_tick: Option<i64>,
    /// The open batch, if any.
    pub current_batch: Option<i64>,
    /// Events between the consumer's position and the queue's last tick.
    pub pending_events: Option<i64>,
}

/// Everything one database reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DbStats {
    /// Queues, by name.
    pub queues: Vec<QueueStats>,
    /// Consumers, by queue then name.
    pub consumers: Vec<ConsumerStats>,
}

const STATS_SQL: &str = "
with info as materialized (
    select i.*, q.queue_id, q.queue_data_pfx, q.queue_switch_step2 is null as step2_pending
      from pgq.get_queue_info() i
      join pgq.queue q on q.queue_name = i.queue_name
), locked as materialized (
    select l.relation from pg_catalog.pg_locks l
     where l.locktype = 'relation' and l.mode = 'AccessExclusiveLock'
       and l.database = (select oid from pg_catalog.pg_database
                          where datname = pg_catalog.current_database())
), retry as materialized (
    select r.ev_queue, count(*) as n from pgq.retry_queue r group by r.ev_queue
), tables as materialized (
    select i.queue_id, pg_catalog.to_regclass(i.queue_data_pfx || '_' || n::text) as rel
      from info i, pg_catalog.generate_series(0, i.queue_ntables - 1) n
), sizes as (
    -- Sized row by row, so that a locked table is never opened (an
    -- aggregate over the sizes would open every table first).
    select t.queue_id,
           case when bool_or(t.rel is null or t.rel in (select relation from locked)) then null
                else sum(case when t.rel is null or t.rel in (select relation from locked)
                              then null
                              else pg_catalog.pg_total_relation_size(t.rel) end)::int8
           end as bytes
      from tables t group by t.queue_id
)
select
  (select coalesce(json_agg(json_build_object(
      'queue', i.queue_name,
      'ticker_lag', greatest(coalesce(extract(epoch from i.ticker_lag), 0), 0),
      'ev_new', coalesce(i.ev_new, 0),
      'ev_per_sec', i.ev_per_sec,
      'last_tick_id', i.last_tick_id,
      'max_count', i.queue_ticker_max_count,
      'max_lag', extract(epoch from i.queue_ticker_max_lag),
      'idle_period', extract(epoch from i.queue_ticker_idle_period),
      'paused', i.queue_ticker_paused,
      'external_ticker', i.queue_external_ticker,
      'rotation_period', extract(epoch from i.queue_rotation_period),
      'since_rotation', greatest(coalesce(extract(epoch from pg_catalog.now() - i.queue_switch_time), 0), 0),
      'step2_pending', i.step2_pending,
      'retry_events', coalesce((select r.n from retry r where r.ev_queue = i.queue_id), 0),
      'table_bytes', (select s.bytes from sizes s where s.queue_id = i.queue_id)
    ) order by i.queue_name), '[]') from info i)::text,
  (select coalesce(json_agg(json_build_object(
      'queue', c.queue_name,
      'consumer', c.consumer_name,
      'lag', greatest(coalesce(extract(epoch from c.lag), 0), 0),
      'last_seen', greatest(coalesce(extract(epoch from c.last_seen), 0), 0),
      'last_tick', c.last_tick,
      'current_batch', c.current_batch,
      'pending_events', c.pending_events
    ) order by c.queue_name, c.consumer_name), '[]') from pgq.get_consumer_info() c)::text";

/// Error reading a database's figures.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The statement failed.
    #[error("reading queue and consumer figures: {}", super::error_text(.0))]
    Query(#[from] tokio_postgres::Error),
    /// The statement returned no row.
    #[error("reading queue and consumer figures: no result row")]
    NoRow,
    /// The result did not have the expected shape.
    #[error("reading queue and consumer figures: unexpected result: {0}")]
    Decode(#[from] serde_json::Error),
}

/// The lock wait the figures statement allows itself: a lock taken between
/// its look at `pg_locks` and its sizing of a table makes it give up this
/// round rather than hold up the ticker sharing its connection.
const STATS_LOCK_TIMEOUT: &str = "100ms";

/// Reads every queue's and consumer's figures in one statement.
pub async fn db_stats(client: &Client) -> Result<DbStats, StatsError> {
    // One simple-protocol round trip: the SET LOCAL lasts for the implicit
    // transaction of this query string only.
    let text = format!("set local lock_timeout = '{STATS_LOCK_TIMEOUT}'; {STATS_SQL}");
    let messages = client.simple_query(&text).await?;
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .ok_or(StatsError::NoRow)?;
    let queues = row.get(0).unwrap_or("[]");
    let consumers = row.get(1).unwrap_or("[]");
    Ok(DbStats {
        queues: serde_json::from_str(queues)?,
        consumers: serde_json::from_str(consumers)?,
    })
}
