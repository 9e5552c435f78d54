//! The throwaway-cluster harness proves its own promises: clusters start,
//! run side by side, restart in every mode, replicate, and vanish (server
//! and directory) when their owner drops them, panics or is killed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgqd::tempcluster::{StopMode, TempCluster};

/// Environment variable telling a victim test where to report its cluster.
const VICTIM_REPORT: &str = "PGQD_HARNESS_VICTIM_REPORT";

/// The processes of a running cluster: the postmaster and its children.
fn cluster_pids(cluster: &TempCluster) -> Vec<i32> {
    let postmaster = cluster.postmaster_pid().expect("server is running");
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Polls until no listed process is alive and the directory is gone.
fn wait_gone(pids: &[i32], dir: &Path, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let living: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if living.is_empty() && !dir.exists() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "still alive: {living:?}; directory {} exists: {}",
                dir.display(),
                dir.exists()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn starts_answers_and_cleans_up_on_drop() {
    let cluster = TempCluster::start().unwrap();
    assert!(
        cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()))
            .exists()
    );
    let version = cluster.psql("postgres", "show server_version_num").unwrap();
    assert!(version.parse::<u32>().unwrap() >= 150000, "{version}");
    assert_eq!(cluster.psql("postgres", "show fsync").unwrap(), "off");

    // Reachable over TCP on loopback as well as over the socket.
    let client = cluster.connect("postgres").await.unwrap();
    let row = client.query_one("select 40 + 2", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    let tcp = std::net::TcpStream::connect(("127.0.0.1", cluster.port()));
    assert!(tcp.is_ok(), "TCP port {} not listening", cluster.port());

    let pids = cluster_pids(&cluster);
    assert!(pids.len() > 1, "postmaster has children: {pids:?}");
    let root = cluster.root().to_path_buf();
    drop(client);
    drop(cluster);
    wait_gone(&pids, &root, Duration::from_secs(1)).unwrap();
}

#[test]
fn databases_and_sql_errors() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("with space \"and quote\"").unwrap();
    let out = cluster
        .psql("with space \"and quote\"", "select current_database()")
        .unwrap();
    assert_eq!(out, "with space \"and quote\"");
    let err = cluster
        .psql("postgres", "select * from no_such_table")
        .unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
    cluster.drop_database("with space \"and quote\"").unwrap();
    let count = cluster
        .psql(
            "postgres",
            "select count(*) from pg_database where datname like 'with space%'",
        )
        .unwrap();
    assert_eq!(count, "0");
}

#[test]
fn clusters_run_side_by_side() {
    let clusters: Vec<TempCluster> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| TempCluster::start().unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ports: Vec<u16> = clusters.iter().map(TempCluster::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "distinct ports");
    for (i, cluster) in clusters.iter().enumerate() {
        cluster
            .psql("postgres", &format!("create table mark{i} ()"))
            .unwrap();
    }
    for (i, cluster) in clusters.iter().enumerate() {
        let tables = cluster
            .psql(
                "postgres",
                "select string_agg(relname, ',') from pg_class where relname like 'mark%'",
            )
            .unwrap();
        assert_eq!(
            tables,
            format!("mark{i}"),
            "each cluster has only its own table"
        );
    }
}

#[tokio::test]
async fn restarts_fast_and_immediate_keep_committed_data() {
    let cluster = TempCluster::start().unwrap();
    cluster
        .psql(
            "postgres",
            "create table t (x int); insert into t values (1)",
        )
        .unwrap();
    for mode in [StopMode::Fast, StopMode::Immediate, StopMode::Smart] {
        let before = cluster.postmaster_pid().unwrap();
        cluster.restart(mode).unwrap();
        let after = cluster.postmaster_pid().unwrap();
        assert_ne!(before, after, "{mode:?} restart made a new postmaster");
        assert!(!alive(before), "{mode:?}: old postmaster is gone");
        cluster
            .psql("postgres", "insert into t values (2)")
            .unwrap();
    }
    assert_eq!(
        cluster.psql("postgres", "select count(*) from t").unwrap(),
        "4"
    );
    assert!(
        cluster.log().contains("database system was interrupted"),
        "crash recovery ran"
    );

    // A stopped server refuses connections until started again.
    cluster.stop(StopMode::Fast).unwrap();
    assert!(cluster.connect("postgres").await.is_err());
    cluster.start_server().unwrap();
    assert!(cluster.connect("postgres").await.is_ok());
}

#[test]
fn standby_streams_and_promotes() {
    let primary = TempCluster::start().unwrap();
    primary
        .psql(
            "postgres",
            "create table t (x int); insert into t values (1)",
        )
        .unwrap();
    let standby = primary.create_standby().unwrap();
    assert_eq!(
        standby
            .psql("postgres", "select pg_is_in_recovery()")
            .unwrap(),
        "t"
    );
    let err = standby
        .psql("postgres", "insert into t values (2)")
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");

    // A row written on the primary arrives on the standby.
    primary
        .psql("postgres", "insert into t values (2)")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while standby.psql("postgres", "select count(*) from t").unwrap() != "2" {
        assert!(
            Instant::now() < deadline,
            "replication did not deliver the row"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    standby.promote().unwrap();
    assert_eq!(
        standby
            .psql("postgres", "select pg_is_in_recovery()")
            .unwrap(),
        "f"
    );
    standby
        .psql("postgres", "insert into t values (3)")
        .unwrap();
}

#[test]
fn installs_both_engines() {
    let cluster = TempCluster::start().unwrap();
    cluster.create_database("c_ext").unwrap();
    cluster.install_pgq_extension("c_ext").unwrap();
    let version = cluster.psql("c_ext", "select pgq.version()").unwrap();
    assert!(version.starts_with("3."), "{version}");

    cluster.create_database("pl_engine").unwrap();
    cluster.install_engine("pl_engine").unwrap();
    cluster.install_engine("pl_engine").unwrap();
}

/// Runs one ignored victim test of this binary in a child process, with a
/// report file where the victim writes its cluster's pids and directory.
fn run_victim(
    name: &str,
    kill_after_report: bool,
) -> (Vec<i32>, PathBuf, std::process::ExitStatus) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(VICTIM_REPORT, report.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(report.path()).unwrap_or_default();
        if text.ends_with('\n') {
            break text;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("victim exited before reporting: {status}");
        }
        assert!(Instant::now() < deadline, "victim never reported");
        std::thread::sleep(Duration::from_millis(20));
    };
    if kill_after_report {
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    let mut lines = text.lines();
    let dir = PathBuf::from(lines.next().unwrap());
    let pids = lines
        .next()
        .unwrap()
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    (pids, dir, status)
}

/// Reports the cluster to the parent test, when run as a victim.
fn report(cluster: &TempCluster) {
    let path = std::env::var(VICTIM_REPORT).expect("run only by the victim tests");
    let pids: Vec<String> = cluster_pids(cluster).iter().map(i32::to_string).collect();
    let text = format!("{}\n{}\n", cluster.root().display(), pids.join(","));
    // Written whole in one call so the parent never reads half a report.
    std::fs::write(path, text).unwrap();
}

#[test]
#[ignore = "run by panicking_test_leaves_nothing_behind"]
fn victim_panics() {
    let cluster = TempCluster::start().unwrap();
    report(&cluster);
    panic!("deliberate panic with a running cluster");
}

#[test]
#[ignore = "run by killed_test_process_leaves_nothing_behind"]
fn victim_hangs() {
    let cluster = TempCluster::start().unwrap();
    report(&cluster);
    loop {
        std::thread::park();
    }
}

#[test]
fn panicking_test_leaves_nothing_behind() {
    let (pids, dir, status) = run_victim("harness::victim_panics", false);
    assert!(!status.success(), "the victim test failed by panicking");
    // Unwinding dropped the cluster before the process exited.
    wait_gone(&pids, &dir, Duration::from_millis(1)).unwrap();
}

#[test]
fn killed_test_process_leaves_nothing_behind() {
    let (pids, dir, _) = run_victim("harness::victim_hangs", true);
    // No destructor ran: the keeper sees its order pipe close and cleans up.
    wait_gone(&pids, &dir, Duration::from_secs(30)).unwrap();
}
