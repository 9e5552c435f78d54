//! The PgQ SQL surface, and the only module that writes SQL text.
//!
//! Works against this project's PL/pgSQL engine (`sql/pgq.sql`) and against
//! the pgq 3.x C extension: both expose the same tables and functions. Above
//! this module the daemon speaks in databases, queues, ticks and operations.
//!
//! Every call here runs as its own statement in autocommit, as PgQ requires
//! (rotation step 1 and step 2 must commit separately).

use std::time::Duration;

use tokio_postgres::{Client, Statement};

use crate::policy::QueueTickState;

mod stats;

pub use stats::{ConsumerStats, DbStats, QueueStats, StatsError, db_stats};

/// Advisory-lock key (the ASCII bytes of "pgqd") that makes one daemon the
/// ticker of a database; advisory locks are per database already.
const HA_LOCK_KEY: i64 = 0x7067_7164;

/// What a database offers, as found by [`probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No `pgq` schema: nothing to do here for now.
    NoPgq,
    /// A `pgq` schema we cannot work with, and why.
    Unsupported(String),
    /// A usable PgQ engine.
    Ready(EngineInfo),
}

/// Which PgQ engine a database has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// `pgq.version()`.
    pub version: String,
    /// `"pgqd-sql"` for this project's engine, `"extension"` for the C one,
    /// `"sql"` for another plain-SQL install.
    pub kind: &'static str,
    /// Whether `pgq.maint_operations()` exists (pgq ≥ 3.1); older engines
    /// get the legacy rotation sequence.
    pub has_maint_operations: bool,
    /// Whether the server is a standby (no writes possible).
    pub in_recovery: bool,
}

/// The cluster's databases that accept connections and are not templates.
pub async fn list_databases(client: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "select datname::text from pg_catalog.pg_database \
             where not datistemplate and datallowconn order by 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Finds out whether a database has PgQ and which engine.
pub async fn probe(client: &Client) -> Result<Probe, tokio_postgres::Error> {
    let row = client
        .query_one(
            "select exists (select 1 from pg_catalog.pg_namespace where nspname = 'pgq'),
                    pg_catalog.pg_is_in_recovery(),
                    exists (select 1 from pg_catalog.pg_proc p
                              join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                             where n.nspname = 'pgq' and p.proname = 'maint_operations'),
                    exists (select 1 from pg_catalog.pg_proc p
                              join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                             where n.nspname = 'pgq' and p.proname = 'engine_version'),
                    exists (select 1 from pg_catalog.pg_extension where extname = 'pgq'),
                    exists (select 1 from pg_catalog.pg_proc p
                              join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                             where n.nspname = 'pgq' and p.proname = 'version')",
            &[],
        )
        .await?;
    let (has_pgq, in_recovery, has_maint_operations, ours, extension, has_version): (
        bool,
        bool,
        bool,
        bool,
        bool,
        bool,
    ) = (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
    );
    if !has_pgq {
        return Ok(Probe::NoPgq);
    }
    if !has_version {
        return Ok(Probe::Unsupported(
            "schema pgq exists but has no pgq.version() function".into(),
        ));
    }
    let version: Option<String> = match client.query_one("select pgq.version()::text", &[]).await {
        Ok(row) => row.get(0),
        Err(e) => {
            return Ok(Probe::Unsupported(format!(
                "pgq.version() failed: {}",
                error_text(&e)
            )));
        }
    };
    let Some(version) = version else {
        return Ok(Probe::Unsupported(
            "pgq.version() returned NULL (a plain-SQL pgq 3.4+ install; install this project's \
             sql/pgq.sql instead)"
                .into(),
        ));
    };
    if !version_supported(&version) {
        return Ok(Probe::Unsupported(format!(
            "pgq version {version} is not supported (need 3.x)"
        )));
    }
    let kind = if ours {
        "pgqd-sql"
    } else if extension {
        "extension"
    } else {
        "sql"
    };
    Ok(Probe::Ready(EngineInfo {
        version,
        kind,
        has_maint_operations,
        in_recovery,
    }))
}

/// Whether a `pgq.version()` string is one this daemon can tick: major 3.
pub fn version_supported(version: &str) -> bool {
    version
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        == Some(3)
}

/// Whether the server is (still) a standby.
pub async fn in_recovery(client: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("select pg_catalog.pg_is_in_recovery()", &[])
        .await?
        .get(0))
}

/// Tries to become the one daemon that ticks this database. The lock lives
/// as long as the session, so a crashed or disconnected daemon releases it.
pub async fn try_ha_lock(client: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "select pg_catalog.pg_try_advisory_lock($1)",
            &[&HA_LOCK_KEY],
        )
        .await?
        .get(0))
}

/// One tickable queue's state for the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSchedule {
    /// The queue's name.
    pub name: String,
    /// The state the scheduling rules need.
    pub state: QueueTickState,
    /// `queue_id:tick_id` of the newest tick, with `:unused` appended while
    /// the queue's event sequence has never drawn an id (the first id drawn
    /// leaves PgQ's sequence value as it was, so a settled probe must be
    /// asked again then); `None` before the first tick.
    pub tick_key: Option<String>,
    /// The late-commit probe's answer; `None` when it was not asked.
    pub late_probe: Option<bool>,
    /// Whether every transaction that got its id before the newest tick's
    /// own has ended: a negative probe from now on stays negative.
    pub old_done: bool,
    /// The oid of the queue's event sequence.
    pub seq: u32,
    /// The event sequence's value (its start value before the first event).
    pub seq_value: i64,
    /// The queue table's signature (see [`QuietMark::queues`]), the same in
    /// every row of one read.
    pub queues_signature: i64,
}

/// What a quiet look compares with the last full schedule read: equal
/// marks mean no queue was created, dropped, reconfigured or rotated and no
/// event id was drawn since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietMark {
    /// Changes with every insert, update or delete in `pgq.queue`.
    pub queues: i64,
    /// The event sequences' values, in the order of their oids.
    pub sequences: Vec<i64>,
}

impl QuietMark {
    /// The mark of a full schedule read and the sequences it covers (in
    /// oid order); `None` for an empty schedule.
    pub fn of(schedule: &[QueueSchedule]) -> Option<(Self, Vec<u32>)> {
        let queues = schedule.first()?.queues_signature;
        let mut seqs: Vec<(u32, i64)> = schedule.iter().map(|q| (q.seq, q.seq_value)).collect();
        seqs.sort_unstable();
        let mark = QuietMark {
            queues,
            sequences: seqs.iter().map(|s| s.1).collect(),
        };
        Some((mark, seqs.into_iter().map(|s| s.0).collect()))
    }
}

/// The statements of the tick loop, prepared once per session: parsing
/// and planning them again on every wake cost an idle database more than
/// running them.
#[derive(Debug)]
pub struct TickStatements {
    ticker: Statement,
    schedule: Statement,
    quiet: Statement,
    retry_due: Statement,
    /// Whether the schedule tells everything `pgq.ticker()` would decide,
    /// so that a wake with nothing due can skip the call.
    complete: bool,
    /// Whether the schedule asks the engine's late-commit probe.
    probes: bool,
}

/// What the scheduler needs about every queue `pgq.ticker()` ticks.
/// Read-only, and the same for every engine, since it reads PgQ's tables.
/// `{late}` is replaced by the late-commit probe, or by a null that still
/// types the parameter (the settled ticks, see [`TickStatements::schedule`]).
/// The event sequence is read with `pg_sequence_last_value()` (its start
/// value before the first event, as PgQ's sequences are only advanced):
/// `pgq.seq_getval()` runs a dynamic statement for a sequence never used,
/// which made each look at an idle database cost about a millisecond.
const SCHEDULE_SQL: &str = "select q.queue_name,
                    q.queue_ticker_max_count::int8,
                    extract(epoch from q.queue_ticker_max_lag)::float8,
                    extract(epoch from q.queue_ticker_idle_period)::float8,
                    extract(epoch from now() - t.tick_time)::float8,
                    extract(epoch from t.tick_time - p.tick_time)::float8,
                    (sq.last_value - t.tick_event_seq)::int8,
                    (t.tick_event_seq - p.tick_event_seq)::int8,
                    {late},
                    q.queue_id::text || ':' || t.tick_id::text || sq.key_suffix,
                    coalesce(txid_snapshot_xmin(txid_current_snapshot()) > {tick_txid}, false),
                    sq.seqrelid,
                    sq.mark_value::int8,
                    ({queues_signature})
               from pgq.queue q
               cross join lateral (
                    select coalesce(v.last_value, s.seqstart) as last_value,
                           s.seqrelid,
                           {mark_value} as mark_value,
                           case when v.last_value is null then ':unused' else '' end as key_suffix
                      from pg_catalog.pg_sequence s
                     cross join lateral (
                            select pg_catalog.pg_sequence_last_value(s.seqrelid) as last_value) v
                     where s.seqrelid = pgq.quote_fqname(q.queue_event_seq)::regclass) sq
               left join lateral (
                    select tick_id, tick_time, tick_event_seq, tick_snapshot, xmin as tick_xmin from pgq.tick
                     where tick_queue = q.queue_id
                     order by tick_queue desc, tick_id desc limit 1) t on true
               left join lateral (
                    select tick_time, tick_event_seq from pgq.tick
                     where tick_queue = q.queue_id and tick_id < t.tick_id
                     order by tick_queue desc, tick_id desc limit 1) p on true
              where not q.queue_external_ticker and not q.queue_ticker_paused";

/// This project's engine's probe for events the last tick missed because
/// their transactions were still running; asked only where it can matter
/// (nothing new by the sequence, max lag reached), as `pgq.ticker()` does.
/// Ticks whose probe is settled (`$1`, `queue_id:tick_id`) are not asked
/// again: they cost an idle database most of its server time.
const LATE_COMMITS_SQL: &str = "case when sq.last_value = t.tick_event_seq
                         and now() - t.tick_time >= q.queue_ticker_max_lag
                         and not (q.queue_id::text || ':' || t.tick_id::text || sq.key_suffix = any ($1::text[]))
                    then pgq._unticked_events_nowait(q.queue_id, t.tick_snapshot) end";

/// No probe: always null, with the parameter typed all the same.
const NO_PROBE_SQL: &str = "case when cardinality($1::text[]) < 0 then true end";

/// The 64-bit id of the transaction that wrote the newest tick, from the
/// row's 32-bit `xmin` and the current epoch. A tick older than 2^32
/// transactions comes out too new, which only keeps the probe asked.
const TICK_TXID_SQL: &str = "(txid_snapshot_xmax(txid_current_snapshot())
                     - ((txid_snapshot_xmax(txid_current_snapshot()) % 4294967296
                         - t.tick_xmin::text::int8 + 4294967296) % 4294967296))";

/// A number that changes with every insert, update or delete in
/// `pgq.queue`: a new or dropped queue, a changed setting, a pause, a
/// rotation. (Row versions only get newer transaction ids, so the sum of
/// their `xmin` and the row count cannot come back to an earlier value.)
const QUEUES_SIGNATURE_SQL: &str =
    "select coalesce(sum(x.xmin::text::int8), 0)::int8 + count(*) from pgq.queue x";

/// The quiet look: the queue table's signature and the values of the given
/// event sequences, in oid order. A dropped sequence drops out.
const QUIET_SQL: &str = "select ({queues_signature}),
       array(select ({mark_value})::int8
               from pg_catalog.pg_sequence s
              cross join lateral (
                     select pg_catalog.pg_sequence_last_value(s.seqrelid) as last_value) v
              where s.seqrelid = any ($1::oid[])
              order by s.seqrelid)";

/// A sequence's value for [`QuietMark`], given `pg_sequence` row `s` and
/// `v.last_value`: one below its start value until the first event draws
/// an id. The value PgQ reads stays the same when the first id is drawn
/// (both are the start value); this one moves.
const MARK_VALUE_SQL: &str = "coalesce(v.last_value, s.seqstart - 1)";

/// Whether this role may call the engine's late-commit probe.
const CAN_PROBE_SQL: &str = "select coalesce(has_function_privilege(
        to_regprocedure('pgq._unticked_events_nowait(integer,txid_snapshot)'), 'execute'), false)";

/// Whether any retry event is due to go back into its queue (reads only;
/// takes no lock an insert could wait on).
const RETRY_DUE_SQL: &str = "select exists (select 1 from pgq.retry_queue \
     where ev_retry_after <= pg_catalog.now())";

/// The schedule statement with the given probe.
fn schedule_sql(probe: &str) -> String {
    SCHEDULE_SQL
        .replace("{late}", probe)
        .replace("{tick_txid}", TICK_TXID_SQL)
        .replace("{queues_signature}", QUEUES_SIGNATURE_SQL)
        .replace("{mark_value}", MARK_VALUE_SQL)
}

impl TickStatements {
    /// Prepares the statements on `client` for the engine `kind` (see
    /// [`EngineInfo::kind`]); they live as long as its session.
    pub async fn prepare(client: &Client, kind: &str) -> Result<Self, tokio_postgres::Error> {
        let quiet_sql = QUIET_SQL
            .replace("{queues_signature}", QUEUES_SIGNATURE_SQL)
            .replace("{mark_value}", MARK_VALUE_SQL);
        let (ticker, retry_due, quiet) = tokio::try_join!(
            client.prepare("select pgq.ticker()"),
            client.prepare(RETRY_DUE_SQL),
            client.prepare(&quiet_sql),
        )?;
        // The C engine decides by the sequence alone, as the schedule does.
        // Ours also probes for late commits; a role that may not call the
        // probe (privileges are checked at run time, not when preparing)
        // gets a ticker call on every wake instead.
        let probe = kind == "pgqd-sql"
            && client
                .query_one(CAN_PROBE_SQL, &[])
                .await?
                .get::<_, bool>(0);
        let schedule = client
            .prepare(&schedule_sql(if probe {
                LATE_COMMITS_SQL
            } else {
                NO_PROBE_SQL
            }))
            .await?;
        let complete = probe || kind == "extension";
        Ok(TickStatements {
            ticker,
            schedule,
            quiet,
            retry_due,
            complete,
            probes: probe,
        })
    }

    /// Whether the schedule asks the late-commit probe: then a tick can
    /// still gain events without its queue's sequence moving until the
    /// probe has settled it.
    pub fn probes_late_commits(&self) -> bool {
        self.probes
    }

    /// The quiet look (see [`QuietMark`]) for the event sequences `seqs`.
    pub async fn quiet_mark(
        &self,
        client: &Client,
        seqs: &[u32],
    ) -> Result<QuietMark, tokio_postgres::Error> {
        let row = client.query_one(&self.quiet, &[&seqs]).await?;
        Ok(QuietMark {
            queues: row.get(0),
            sequences: row.get(1),
        })
    }

    /// Whether a wake with no queue due by the schedule may skip the
    /// ticker call.
    pub fn schedule_is_complete(&self) -> bool {
        self.complete
    }

    /// `pgq.ticker()`: ticks every due queue; returns how many were ticked.
    pub async fn tick_all(&self, client: &Client) -> Result<i64, tokio_postgres::Error> {
        let row = client.query_one(&self.ticker, &[]).await?;
        Ok(row.get::<_, Option<i64>>(0).unwrap_or(0))
    }

    /// Reads what the scheduler needs about every queue `pgq.ticker()` ticks.
    /// `settled` lists ticks (`queue_id:tick_id`) whose late-commit probe
    /// answered no after every older transaction had ended; they are not
    /// probed again.
    pub async fn schedule(
        &self,
        client: &Client,
        settled: &[String],
    ) -> Result<Vec<QueueSchedule>, tokio_postgres::Error> {
        let rows = client.query(&self.schedule, &[&settled]).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let secs = |i: usize| -> Option<Duration> {
                    row.get::<_, Option<f64>>(i)
                        .map(|s| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX))
                };
                QueueSchedule {
                    name: row.get(0),
                    state: QueueTickState {
                        max_count: row.get(1),
                        max_lag: secs(2).unwrap_or_default(),
                        idle_period: secs(3).unwrap_or_default(),
                        since_last_tick: secs(4),
                        prev_gap: secs(5),
                        new_events: row.get::<_, Option<i64>>(6).unwrap_or(0),
                        prev_events: row.get::<_, Option<i64>>(7).unwrap_or(0),
                        late_commits: row.get::<_, Option<bool>>(8).unwrap_or(false),
                    },
                    tick_key: row.get(9),
                    late_probe: row.get(8),
                    old_done: row.get(10),
                    seq: row.get(11),
                    seq_value: row.get(12),
                    queues_signature: row.get(13),
                }
            })
            .collect())
    }

    /// Whether any retry event is due to go back into its queue.
    pub async fn retry_due(&self, client: &Client) -> Result<bool, tokio_postgres::Error> {
        Ok(client.query_one(&self.retry_due, &[]).await?.get(0))
    }
}

/// One queue's ticker settings as stored in `pgq.queue`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    /// Queue name.
    pub name: String,
    /// `queue_ticker_max_count`.
    pub max_count: i64,
    /// `queue_ticker_max_lag`, in seconds.
    pub max_lag: f64,
    /// `queue_ticker_idle_period`, in seconds.
    pub idle_period: f64,
    /// `queue_ticker_paused`.
    pub paused: bool,
}

/// Reads every queue's ticker settings.
pub async fn queue_settings(client: &Client) -> Result<Vec<QueueSettings>, tokio_postgres::Error> {
    let rows = client
        .query(
            "select queue_name, queue_ticker_max_count::int8,
                    extract(epoch from queue_ticker_max_lag)::float8,
                    extract(epoch from queue_ticker_idle_period)::float8,
                    queue_ticker_paused
               from pgq.queue order by queue_name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| QueueSettings {
            name: r.get(0),
            max_count: r.get(1),
            max_lag: r.get(2),
            idle_period: r.get(3),
            paused: r.get(4),
        })
        .collect())
}

/// `pgq.set_queue_config(queue, param, value)`.
pub async fn set_queue_config(
    client: &Client,
    queue: &str,
    param: &str,
    value: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .query_one(
            "select pgq.set_queue_config($1, $2, $3)",
            &[&queue, &param, &value],
        )
        .await
        .map(drop)
}

/// `pgq.ticker(queue)`: ticks one queue if due; returns the new tick id.
pub async fn tick_queue(
    client: &Client,
    queue: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = client.query_one("select pgq.ticker($1)", &[&queue]).await?;
    Ok(row.get(0))
}

/// `pgq.maint_retry_events()`: moves due retry events back into their
/// queues, at most a few per call; returns how many moved.
pub async fn retry_events(client: &Client) -> Result<i64, tokio_postgres::Error> {
    let row = client
        .query_one("select pgq.maint_retry_events()::int8", &[])
        .await?;
    Ok(row.get::<_, Option<i64>>(0).unwrap_or(0))
}

/// One maintenance operation, as `pgq.maint_operations()` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintOp {
    /// A function name (optionally schema-qualified), or `vacuum` /
    /// `vacuum analyze`.
    pub func: String,
    /// The single argument (a queue or table name), if any.
    pub arg: Option<String>,
}

impl MaintOp {
    /// A short label for logs and metrics: the function name, lowercased.
    pub fn label(&self) -> String {
        self.func.to_ascii_lowercase()
    }

    fn vacuum_kind(&self) -> Option<&'static str> {
        match self.func.trim().to_ascii_lowercase().as_str() {
            "vacuum" => Some("vacuum"),
            "vacuum analyze" => Some("vacuum analyze"),
            _ => None,
        }
    }
}

/// Lists the maintenance due now (rotation, vacuum, extra functions).
/// Engines without `maint_operations` get the legacy sequence.
pub async fn maint_operations(
    client: &Client,
    engine: &EngineInfo,
) -> Result<Vec<MaintOp>, tokio_postgres::Error> {
    if engine.has_maint_operations {
        let rows = client
            .query(
                "select func_name::text, func_arg::text from pgq.maint_operations()",
                &[],
            )
            .await?;
        return Ok(rows
            .iter()
            .map(|r| MaintOp {
                func: r.get(0),
                arg: r.get(1),
            })
            .collect());
    }
    let mut ops: Vec<MaintOp> = client
        .query("select queue_name::text from pgq.get_queue_info()", &[])
        .await?
        .iter()
        .map(|r| MaintOp {
            func: "pgq.maint_rotate_tables_step1".into(),
            arg: Some(r.get(0)),
        })
        .collect();
    ops.push(MaintOp {
        func: "pgq.maint_rotate_tables_step2".into(),
        arg: None,
    });
    for row in client
        .query("select * from pgq.maint_tables_to_vacuum()", &[])
        .await?
    {
        ops.push(MaintOp {
            func: "vacuum".into(),
            arg: Some(row.get::<_, String>(0)),
        });
    }
    Ok(ops)
}

/// What one run of a maintenance operation asked for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpOutcome {
    /// Done for this round.
    Done,
    /// The function returned non-zero: "call me again immediately".
    Again,
}

/// Why a maintenance operation could not be run.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The operation names something we refuse to turn into SQL.
    #[error("maintenance operation {func}: {reason}")]
    Invalid {
        /// The operation's function name.
        func: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The server reported an error.
    #[error("maintenance operation {func}: {}", error_text(.source))]
    Sql {
        /// The operation's function name.
        func: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Runs one maintenance operation in autocommit. VACUUM succeeds with no
/// rows (the C daemon mistook that for an error and looped); a function's
/// non-zero first result column means "call again".
pub async fn run_maint_op(client: &Client, op: &MaintOp) -> Result<OpOutcome, OpError> {
    let sql_err = |source| OpError::Sql {
        func: op.func.clone(),
        source,
    };
    if let Some(kind) = op.vacuum_kind() {
        let Some(table) = &op.arg else {
            return Err(OpError::Invalid {
                func: op.func.clone(),
                reason: "vacuum without a table name",
            });
        };
        client
            .batch_execute(&format!("{kind} {}", quote_fqname(table)))
            .await
            .map_err(sql_err)?;
        return Ok(OpOutcome::Done);
    }
    if op.func.trim().is_empty() {
        return Err(OpError::Invalid {
            func: op.func.clone(),
            reason: "empty function name",
        });
    }
    let func = quote_fqname(&op.func);
    let rows = match &op.arg {
        Some(arg) => {
            client
                .query(&format!("select ({func}($1::text))::text"), &[arg])
                .await
        }
        None => client.query(&format!("select ({func}())::text"), &[]).await,
    }
    .map_err(sql_err)?;
    let first: Option<String> = rows.first().and_then(|r| r.get(0));
    Ok(if first.as_deref().is_some_and(result_means_again) {
        OpOutcome::Again
    } else {
        OpOutcome::Done
    })
}

/// The "call again" contract: a first column that reads as a non-zero
/// integer (leading digits, as C `atoi` reads them).
fn result_means_again(text: &str) -> bool {
    let t = text.trim_start();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<i64>().map(|v| v * sign).unwrap_or(0) != 0
}

/// Quotes `schema.name` (schema `public` when absent) for use in SQL, the
/// way `pgq.quote_fqname` does: split at the first dot, quote each part.
pub fn quote_fqname(name: &str) -> String {
    let (schema, object) = name.split_once('.').unwrap_or(("public", name));
    format!("{}.{}", quote_ident(schema), quote_ident(object))
}

/// Quotes an identifier unconditionally; equivalent to `quote_ident` for
/// lowercase names and exact for all others.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The server's message for an error, with its detail and hint, or the
/// driver's own text when the error did not come from the server.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            text
        }
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// A stable, bounded label for an error, for metrics: the SQLSTATE class
/// name for server errors, else what happened to the connection.
pub fn error_kind(e: &tokio_postgres::Error) -> &'static str {
    use tokio_postgres::error::SqlState;
    if e.is_closed() {
        return "connection";
    }
    match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => "timeout",
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => "lock",
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => "read_only",
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57") => "connection",
        Some(c) if c.code().starts_with("42") => "schema",
        Some(c) if c.code().starts_with("40") => "conflict",
        Some(_) => "sql",
        None => "connection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(version_supported("3.5.2"));
        assert!(version_supported("3.5"));
        assert!(version_supported(" 3.2.6"));
        assert!(!version_supported("2.1.8"));
        assert!(!version_supported("10.0"));
        assert!(!version_supported(""));
    }

    #[test]
    fn fqname_quoting() {
        assert_eq!(
            quote_fqname("pgq.maint_rotate_tables_step1"),
            "\"pgq\".\"maint_rotate_tables_step1\""
        );
        assert_eq!(quote_fqname("my_func"), "\"public\".\"my_func\"");
        assert_eq!(quote_fqname("a.b.c"), "\"a\".\"b.c\"");
        assert_eq!(
            quote_fqname("x\"; drop table t; --"),
            "\"public\".\"x\"\"; drop table t; --\""
        );
    }

    #[test]
    fn call_again_reads_like_atoi() {
        assert!(result_means_again("1"));
        assert!(result_means_again("12abc"));
        assert!(result_means_again("-3"));
        assert!(!result_means_again("0"));
        assert!(!result_means_again(""));
        assert!(
            !result_means_again("(1,note)"),
            "a composite reads as 0, as in C"
        );
        assert!(!result_means_again("t"));
    }

    #[test]
    fn vacuum_ops_are_recognised() {
        let op = |f: &str| MaintOp {
            func: f.into(),
            arg: Some("pgq.tick".into()),
        };
        assert_eq!(op("VACUUM").vacuum_kind(), Some("vacuum"));
        assert_eq!(op("vacuum analyze").vacuum_kind(), Some("vacuum analyze"));
        assert_eq!(op("pgq.maint_rotate_tables_step2").vacuum_kind(), None);
    }
}
