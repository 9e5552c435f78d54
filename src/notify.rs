//! systemd's readiness protocol (`Type=notify`): `READY=1` once every
//! database has been tried (ticked, found without PgQ, or failed and
//! retrying: one unreachable database must not fail the whole service's
//! start), a one-line `STATUS=`,
//! `WATCHDOG=1` pings while the supervisor's loop keeps running,
//! `RELOADING=1`/`READY=1` around a reload and `STOPPING=1` on shutdown.
//!
//! Every call is a no-op outside systemd (no `NOTIFY_SOCKET`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::{DbState, Handle};

/// A one-line summary: `5 databases: 2 ticking, 2 no_pgq, 1 down`.
pub fn summary(status: &BTreeMap<String, DbState>) -> String {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for state in status.values() {
        *counts.entry(state.label()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let n = status.len();
    if parts.is_empty() {
        format!("{n} databases")
    } else {
        format!(
            "{n} database{}: {}",
            if n == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        debug!("notifying systemd: {e}");
    }
}

/// Tells systemd a reload has started.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Tells systemd a reload is over (applied or rejected, as `status` says).
pub fn reloaded(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Sends readiness, status and watchdog pings until `shutdown`.
///
/// The watchdog is fed only while the supervisor's loop has run within
/// `stall_limit` (it runs every second unless a connection attempt or the
/// database listing is taking its time), so a stuck daemon is restarted.
pub async fn run(handle: Handle, stall_limit: Duration, shutdown: CancellationToken) {
    let watchdog = sd_notify::watchdog_enabled();
    let step = watchdog.map_or(Duration::from_secs(1), |w| {
        (w / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    });
    let mut ready = false;
    let mut last_status = String::new();
    let mut last_ping = Instant::now();
    loop {
        let status = handle.status();
        let text = summary(&status);
        // A database that failed its first attempt does not hold up
        // readiness (systemd would kill the service over one bad database);
        // it shows in the status line instead.
        let attempted =
            handle.discovered() && status.values().all(|s| !matches!(s, DbState::Connecting));
        if !ready && attempted {
            send(&[NotifyState::Ready, NotifyState::Status(&text)]);
            ready = true;
            last_status = text;
        } else if text != last_status {
            send(&[NotifyState::Status(&text)]);
            last_status = text;
        }
        if let Some(w) = watchdog {
            if last_ping.elapsed() >= w / 2 && handle.heartbeat_age() < stall_limit {
                send(&[NotifyState::Watchdog]);
                last_ping = Instant::now();
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(step) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_states() {
        let status = BTreeMap::from([
            (
                "a".to_string(),
                DbState::Ticking {
                    since: Instant::now(),
                },
            ),
            ("b".to_string(), DbState::NoPgq),
            ("c".to_string(), DbState::Down("x".into())),
            ("d".to_string(), DbState::NoPgq),
        ]);
        assert_eq!(summary(&status), "4 databases: 1 down, 2 no_pgq, 1 ticking");
        assert_eq!(summary(&BTreeMap::new()), "0 databases");
    }
}
