//! The `pgqd` binary as init systems and old scripts drive it: systemd's
//! notification protocol, the legacy `-V`, `-d`, `-s`, `-k`, `-r`
//! switches, and exit codes.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pgqd::tempcluster::TempCluster;

use crate::common::PATIENCE;

fn pgqd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pgqd"))
}

/// Writes a config for `cluster` into `dir`, plus `extra` lines.
fn write_config(dir: &Path, cluster: &TempCluster, extra: &str) -> PathBuf {
    let path = dir.join("pgqd.toml");
    std::fs::write(
        &path,
        format!(
            "base_connstr = \"{}\"\nticker_period = \"100ms\"\ncheck_period = \"500ms\"\n\
             metrics_listen = \"\"\n{extra}",
            cluster.base_connstr()
        ),
    )
    .unwrap();
    path
}

/// Waits for `child` to exit; returns its code.
fn wait_exit(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pgqd did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Receives notification datagrams until one contains `want`; returns
/// everything received meanwhile.
fn expect_notice(socket: &UnixDatagram, want: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            Instant::now() < deadline,
            "no {want:?} notification; got {seen:?}"
        );
        match socket.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                seen.push(msg.clone());
                if msg.lines().any(|l| l == want || l.starts_with(want)) {
                    return msg;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("notify socket: {e}"),
        }
    }
}

#[test]
fn speaks_systemds_notification_protocol() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("app").unwrap();
    cluster.install_engine("app").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A database that cannot be reached must not hold up readiness.
    let config = write_config(
        dir.path(),
        &cluster,
        "database_list = [\"app\", \"postgres\", \"missing\"]\n",
    );
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut child = pgqd()
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let ready = expect_notice(&socket, "READY=1", &mut seen);
    assert!(
        ready.contains("STATUS=3 databases: 1 down, 1 no_pgq, 1 ticking"),
        "{ready:?}"
    );
    // Pings every WATCHDOG_USEC / 2 while the supervisor runs.
    expect_notice(&socket, "WATCHDOG=1", &mut seen);
    expect_notice(&socket, "WATCHDOG=1", &mut seen);

    kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP).unwrap();
    let reloading = expect_notice(&socket, "RELOADING=1", &mut seen);
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading:?}");
    expect_notice(&socket, "READY=1", &mut seen);

    // A broken file on reload: the old configuration keeps running, and
    // systemd still hears that the reload is over.
    std::fs::write(&config, "ticker_period = \"soon\"\n").unwrap();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP).unwrap();
    expect_notice(&socket, "RELOADING=1", &mut seen);
    let rejected = expect_notice(&socket, "READY=1", &mut seen);
    assert!(rejected.contains("reload rejected"), "{rejected:?}");

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    expect_notice(&socket, "STOPPING=1", &mut seen);
    assert_eq!(wait_exit(&mut child), Some(0));
}

#[test]
fn legacy_switches_signal_the_instance_in_the_pidfile() {
    let out = pgqd().arg("-V").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("pgqd version {}\n", env!("CARGO_PKG_VERSION"))
    );

    let cluster = TempCluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pgqd.pid");
    let logfile = dir.path().join("pgqd.log");
    let config = write_config(
        dir.path(),
        &cluster,
        &format!(
            "pidfile = \"{}\"\nlogfile = \"{}\"\n",
            pidfile.display(),
            logfile.display()
        ),
    );
    let log = || std::fs::read_to_string(&logfile).unwrap_or_default();

    // -d: detaches, writes the pidfile with the final pid, logs to the file.
    let out = pgqd().arg("-d").arg(&config).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    wait_until("the pidfile", || {
        pgqd::pidfile::read(&pidfile).is_some_and(|(_, alive)| alive)
    });
    let (pid, _) = pgqd::pidfile::read(&pidfile).unwrap();
    wait_until("the daemon to log", || log().contains("found database"));

    // A second instance refuses to start.
    let out = pgqd().arg("-d").arg(&config).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another instance running"));

    let out = pgqd().arg("-r").arg(&config).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGHUP sent"));
    wait_until("the reload", || log().contains("Got SIGHUP"));

    // The last of -s/-k/-r wins: this is a stop.
    let out = pgqd().args(["-r", "-s"]).arg(&config).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGINT sent"));
    wait_until("the daemon to exit", || {
        kill(Pid::from_raw(pid), None).is_err()
    });
    assert!(!pidfile.exists(), "pidfile removed on exit");

    let out = pgqd().arg("-k").arg(&config).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Old process is not running"));

    let bare = write_config(dir.path(), &cluster, "");
    let out = pgqd().arg("-s").arg(&bare).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No pidfile configured"));
    let out = pgqd().arg("-d").arg(&bare).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("daemon needs pidfile configured"));
}

/// Makes `queue`'s next tick fail: its tick sequence is at its maximum.
fn break_ticks(cluster: &TempCluster, db: &str, queue: &str) {
    let seq = cluster
        .psql(
            db,
            &format!("select queue_tick_seq from pgq.queue where queue_name = '{queue}'"),
        )
        .unwrap();
    let last = cluster
        .psql(db, &format!("select last_value from {seq}"))
        .unwrap();
    cluster
        .psql(
            db,
            &format!("alter sequence {seq} minvalue 0 maxvalue {last}"),
        )
        .unwrap();
}

fn last_tick(cluster: &TempCluster, db: &str, queue: &str) -> i64 {
    cluster
        .psql(
            db,
            &format!("select coalesce(last_tick_id, 0) from pgq.get_queue_info('{queue}')"),
        )
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn one_failing_queue_neither_stops_the_others_nor_floods_the_log() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("cext").unwrap();
    cluster.install_pgq_extension("cext").unwrap();
    cluster.create_database("ours").unwrap();
    cluster.install_engine("ours").unwrap();
    for db in ["cext", "ours"] {
        for q in ["bad", "good"] {
            cluster
                .psql(
                    db,
                    &format!(
                        "select pgq.create_queue('{q}');
                         select pgq.set_queue_config('{q}', 'ticker_max_lag', '0.1');
                         select pgq.set_queue_config('{q}', 'ticker_idle_period', '0.3');"
                    ),
                )
                .unwrap();
        }
        break_ticks(&cluster, db, "bad");
    }
    let dir = tempfile::tempdir().unwrap();
    let logfile = dir.path().join("pgqd.log");
    let config = write_config(
        dir.path(),
        &cluster,
        &format!("logfile = \"{}\"\n", logfile.display()),
    );
    let mut child = pgqd().arg(&config).spawn().unwrap();
    let log = || std::fs::read_to_string(&logfile).unwrap_or_default();

    // The C engine ticks every queue in one transaction, so the daemon falls
    // back to ticking queue by queue; ours isolates queues by itself.
    for db in ["cext", "ours"] {
        let start = last_tick(&cluster, db, "good");
        wait_until(&format!("{db}/good to tick on"), || {
            last_tick(&cluster, db, "good") >= start + 3
        });
    }
    // The bad queue fails every 0.3 s, yet its error is logged once per
    // 10 s, then with a count of what was left out.
    wait_until("a summary of suppressed messages", || {
        log().contains("similar messages suppressed")
    });
    let text = log();
    let bad_lines = text
        .lines()
        .filter(|l| l.contains("ticking queue bad"))
        .count();
    assert!(
        (1..=3).contains(&bad_lines),
        "{bad_lines} lines about the bad queue:\n{text}"
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(wait_exit(&mut child), Some(0));
}
