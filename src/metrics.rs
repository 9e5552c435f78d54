//! Every metric the daemon exports, declared once, and the Prometheus
//! endpoint. Emission goes through the small functions here so that names
//! and label sets cannot drift between call sites.
//!
//! Names follow Prometheus conventions: `pgqd_` prefix, base units,
//! `_total` counters, `_seconds` durations. Duration histograms get real
//! buckets (the exporter would render summaries otherwise). Labels are
//! bounded: `database`, `queue`, `operation`, and fixed `kind`/`state` sets.

use std::sync::OnceLock;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Build information pseudo-metric: always 1, labelled with the version.
pub const BUILD_INFO: &str = "pgqd_build_info";
/// Successful `pgq.ticker()` calls per database.
pub const TICKS: &str = "pgqd_ticks_total";
/// Queues ticked (new ticks made) per database.
pub const QUEUE_TICKS: &str = "pgqd_queue_ticks_total";
/// Failed ticker calls by kind of error.
pub const TICK_ERRORS: &str = "pgqd_tick_errors_total";
/// Duration of one ticker call, in seconds.
pub const TICK_DURATION: &str = "pgqd_tick_duration_seconds";
/// Unix time of the last successful ticker call.
pub const LAST_TICK: &str = "pgqd_last_tick_timestamp_seconds";
/// Looks at a database's tick schedule that found nothing due, by kind:
/// `full` (the schedule read) or `quiet` (only checked that nothing
/// changed since the last full read).
pub const SCHEDULE_LOOKS: &str = "pgqd_schedule_looks_total";
/// Maintenance operations run, by operation and result.
pub const MAINT_OPS: &str = "pgqd_maintenance_operations_total";
/// Retry events moved back into their queues.
pub const RETRY_MOVED: &str = "pgqd_retry_events_moved_total";
/// Table rotations started (rotation step 1 calls).
pub const ROTATIONS: &str = "pgqd_rotations_total";
/// Reconnects of a database's connection.
pub const RECONNECTS: &str = "pgqd_reconnects_total";
/// 1 while the daemon holds a working connection to the database.
pub const DB_UP: &str = "pgqd_database_up";
/// 1 for the database's current state, by state.
pub const DB_STATE: &str = "pgqd_database_state";
/// 1 while the database is a standby.
pub const DB_IN_RECOVERY: &str = "pgqd_database_in_recovery";
/// 1 while this daemon is the one ticking the database (HA lock held).
pub const DB_LEADER: &str = "pgqd_database_leader";
/// 1, labelled with the PgQ engine kind and version of the database.
pub const ENGINE_INFO: &str = "pgqd_engine_info";
/// Duration of one read of a database's queue and consumer figures.
pub const STATS_REFRESH_DURATION: &str = "pgqd_stats_refresh_duration_seconds";
/// Unix time of the last read of a database's queue and consumer figures.
pub const STATS_REFRESHED: &str = "pgqd_stats_refresh_timestamp_seconds";

/// Every metric declared here, for documentation checks.
pub const ALL: &[&str] = &[
    BUILD_INFO,
    TICKS,
    QUEUE_TICKS,
    TICK_ERRORS,
    TICK_DURATION,
    LAST_TICK,
    MAINT_OPS,
    RETRY_MOVED,
    ROTATIONS,
    RECONNECTS,
    DB_UP,
    DB_STATE,
    DB_IN_RECOVERY,
    DB_LEADER,
    ENGINE_INFO,
    STATS_REFRESH_DURATION,
    STATS_REFRESHED,
];

/// Buckets for call durations: 1 ms to 1 minute.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Error installing the Prometheus recorder.
#[derive(Debug, thiserror::Error)]
#[error("installing the metrics recorder: {0}")]
pub struct MetricsError(#[from] metrics_exporter_prometheus::BuildError);

/// The process's Prometheus recorder, installed once.
static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return
/// the same handle) and declares every metric. Only call it when metrics
/// are served: the recorder keeps histogram samples until a scrape renders
/// them, so a recorder nobody scrapes would grow without bound.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    if let Some(handle) = RECORDER.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)?
        .install_recorder()?;
    let handle = RECORDER.get_or_init(|| handle).clone();
    describe_all();
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// Declares help text and units for every metric.
pub fn describe_all() {
    describe_gauge!(BUILD_INFO, "pgqd build information; always 1.");
    describe_counter!(TICKS, "Successful pgq.ticker() calls.");
    describe_counter!(
        QUEUE_TICKS,
        "New ticks made, summed over the database's queues."
    );
    describe_counter!(TICK_ERRORS, "Failed ticker calls, by kind of error.");
    describe_histogram!(TICK_DURATION, Unit::Seconds, "Duration of one ticker call.");
    describe_gauge!(
        LAST_TICK,
        Unit::Seconds,
        "Unix time of the last successful ticker call."
    );
    describe_counter!(
        SCHEDULE_LOOKS,
        "Looks at the tick schedule that found nothing due: full reads, and quiet looks that only checked that nothing changed."
    );
    describe_counter!(
        MAINT_OPS,
        "Maintenance operations run, by operation and result."
    );
    describe_counter!(RETRY_MOVED, "Retry events moved back into their queues.");
    describe_counter!(ROTATIONS, "Event-table rotation step 1 calls.");
    describe_counter!(RECONNECTS, "Reconnects of the database connection.");
    describe_gauge!(
        DB_UP,
        "1 while the daemon holds a working connection to the database."
    );
    describe_gauge!(
        DB_STATE,
        "1 for the database's current state (label state)."
    );
    describe_gauge!(
        DB_IN_RECOVERY,
        "1 while the database's server is a standby."
    );
    describe_gauge!(
        DB_LEADER,
        "1 while this daemon holds the database's HA lock and ticks it."
    );
    describe_gauge!(
        ENGINE_INFO,
        "1, labelled with the database's PgQ engine kind and version."
    );
    describe_histogram!(
        STATS_REFRESH_DURATION,
        Unit::Seconds,
        "Duration of one read of a database's queue and consumer figures."
    );
    describe_gauge!(
        STATS_REFRESHED,
        Unit::Seconds,
        "Unix time the database's queue and consumer figures were read."
    );
}

/// The states a database can be in, as the `state` label shows them.
pub const DB_STATES: &[&str] = &[
    "connecting",
    "down",
    "no_pgq",
    "unsupported",
    "standby",
    "follower",
    "ticking",
];

/// Sets the database's state gauge: 1 for `state`, 0 for the others.
pub fn set_db_state(database: &str, state: &str) {
    for s in DB_STATES {
        gauge!(DB_STATE, "database" => database.to_owned(), "state" => *s).set(if *s == state {
            1.0
        } else {
            0.0
        });
    }
    gauge!(DB_UP, "database" => database.to_owned()).set(
        if matches!(state, "connecting" | "down") {
            0.0
        } else {
            1.0
        },
    );
    gauge!(DB_LEADER, "database" => database.to_owned()).set(if state == "ticking" {
        1.0
    } else {
        0.0
    });
}

/// Records a successful ticker call.
pub fn tick_ok(database: &str, seconds: f64, queues_ticked: i64) {
    counter!(TICKS, "database" => database.to_owned()).increment(1);
    counter!(QUEUE_TICKS, "database" => database.to_owned())
        .increment(u64::try_from(queues_ticked).unwrap_or(0));
    histogram!(TICK_DURATION, "database" => database.to_owned()).record(seconds);
    gauge!(LAST_TICK, "database" => database.to_owned()).set(unix_now());
}

/// Records a look at the tick schedule that found nothing due; `kind` is
/// `full` or `quiet`.
pub fn schedule_look(database: &str, kind: &'static str) {
    counter!(SCHEDULE_LOOKS, "database" => database.to_owned(), "kind" => kind).increment(1);
}

/// Records a read of a database's queue and consumer figures.
pub fn stats_refreshed(database: &str, seconds: f64) {
    histogram!(STATS_REFRESH_DURATION, "database" => database.to_owned()).record(seconds);
    gauge!(STATS_REFRESHED, "database" => database.to_owned()).set(unix_now());
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Records a failed ticker call.
pub fn tick_error(database: &str, kind: &'static str) {
    counter!(TICK_ERRORS, "database" => database.to_owned(), "kind" => kind).increment(1);
}

/// Records one run of a maintenance operation.
pub fn maint_op(database: &str, operation: &str, result: &'static str) {
    counter!(MAINT_OPS, "database" => database.to_owned(), "operation" => operation.to_owned(),
        "result" => result)
    .increment(1);
    if result == "ok" && operation.ends_with("maint_rotate_tables_step1") {
        counter!(ROTATIONS, "database" => database.to_owned()).increment(1);
    }
}

/// Records retry events moved.
pub fn retry_moved(database: &str, events: i64) {
    counter!(RETRY_MOVED, "database" => database.to_owned())
        .increment(u64::try_from(events).unwrap_or(0));
}

/// Records a reconnect.
pub fn reconnect(database: &str) {
    counter!(RECONNECTS, "database" => database.to_owned()).increment(1);
}

/// Records whether the database's server is a standby.
pub fn in_recovery(database: &str, yes: bool) {
    gauge!(DB_IN_RECOVERY, "database" => database.to_owned()).set(if yes { 1.0 } else { 0.0 });
}

/// Records the database's engine.
pub fn engine(database: &str, kind: &str, version: &str) {
    gauge!(ENGINE_INFO, "database" => database.to_owned(), "kind" => kind.to_owned(),
        "version" => version.to_owned())
    .set(1.0);
}

/// Drops a database's series when it is released, so that label sets stay
/// bounded by the databases that exist.
pub fn forget_database(database: &str) {
    for s in DB_STATES {
        gauge!(DB_STATE, "database" => database.to_owned(), "state" => *s).set(0.0);
    }
    gauge!(DB_UP, "database" => database.to_owned()).set(0.0);
    gauge!(DB_LEADER, "database" => database.to_owned()).set(0.0);
}
