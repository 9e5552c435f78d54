//! Unit tests of settings resolution; the syntax tests live in `parse.rs`.

use std::os::unix::fs::PermissionsExt;

use tokio_postgres::config::Host as PgHost;

use super::*;

fn env() -> FakeEnv {
    FakeEnv::new("osuser")
}

fn settings(base: &str, env: &FakeEnv) -> ConnSettings {
    ConnSettings::parse(base, env).unwrap_or_else(|e| panic!("{base}: {e}"))
}

#[test]
fn libpq_defaults() {
    let s = settings("", &env());
    assert_eq!(
        s.endpoints_list(),
        &[Endpoint {
            host: Host::Tcp("localhost".into()),
            hostaddr: None,
            port: 5432
        }]
    );
    assert_eq!(s.user(), "osuser");
    assert_eq!(s.sslmode(), SslMode::Prefer);

    let mut with_socket = env();
    with_socket.existing.push(PathBuf::from(DEFAULT_SOCKET_DIR));
    let s = settings("", &with_socket);
    assert_eq!(
        s.endpoints_list()[0].host,
        Host::Unix(PathBuf::from(DEFAULT_SOCKET_DIR))
    );

    let no_user = FakeEnv::default();
    assert_eq!(
        ConnSettings::parse("", &no_user).unwrap_err(),
        ConnstrError::NoUser
    );
}

#[test]
fn explicit_values_beat_environment() {
    let e = env()
        .with_var("PGHOST", "envhost")
        .with_var("PGPORT", "6000")
        .with_var("PGUSER", "envuser")
        .with_var("PGSSLMODE", "disable")
        .with_var("PGAPPNAME", "envapp")
        .with_var("PGCONNECT_TIMEOUT", "7")
        .with_var("PGDATABASE", "envdb");
    let s = settings("", &e);
    assert_eq!(
        s.endpoints_list()[0],
        Endpoint {
            host: Host::Tcp("envhost".into()),
            hostaddr: None,
            port: 6000
        }
    );
    assert_eq!(s.user(), "envuser");
    assert_eq!(s.sslmode(), SslMode::Disable);
    assert_eq!(s.dbname(), Some("envdb"));
    let cfg = s.for_database("mydb", "pgqd", Duration::from_secs(10));
    assert_eq!(cfg.get_application_name(), Some("envapp"));
    assert_eq!(cfg.get_connect_timeout(), Some(&Duration::from_secs(7)));
    assert_eq!(cfg.get_dbname(), Some("mydb"));

    let s = settings(
        "host=h port=5433 user=u sslmode=require application_name=a connect_timeout=1",
        &e,
    );
    assert_eq!(
        s.endpoints_list()[0],
        Endpoint {
            host: Host::Tcp("h".into()),
            hostaddr: None,
            port: 5433
        }
    );
    assert_eq!(s.user(), "u");
    assert_eq!(s.sslmode(), SslMode::Require);
    let cfg = s.for_database("mydb", "pgqd", Duration::from_secs(10));
    assert_eq!(cfg.get_application_name(), Some("a"));
    // libpq raises positive timeouts below 2 s to 2 s.
    assert_eq!(cfg.get_connect_timeout(), Some(&Duration::from_secs(2)));
}

#[test]
fn for_database_replaces_dbname_and_sets_options() {
    let s = settings("host=/tmp dbname=other options='-c work_mem=64MB'", &env());
    let opts = ConnectOptions {
        application_name: "pgqd-test".into(),
        connect_timeout: Duration::ZERO,
        statement_timeout: Some(Duration::from_secs(30)),
        lock_timeout: Some(Duration::from_millis(5000)),
    };
    let cfg = s.for_endpoint(&s.endpoints_list()[0], "db1", &opts);
    assert_eq!(cfg.get_dbname(), Some("db1"));
    assert_eq!(cfg.get_application_name(), Some("pgqd-test"));
    assert_eq!(cfg.get_connect_timeout(), None);
    assert_eq!(
        cfg.get_options(),
        Some("-c work_mem=64MB -c statement_timeout=30000 -c lock_timeout=5000")
    );
    assert_eq!(cfg.get_hosts(), &[PgHost::Unix(PathBuf::from("/tmp"))]);
    assert_eq!(cfg.get_ssl_mode(), PgSslMode::Disable);
    assert!(cfg.get_keepalives());
}

#[test]
fn multiple_hosts_and_ports() {
    let s = settings("postgres://a:5432,b:5433,[::1]/x", &env());
    let ports: Vec<u16> = s.endpoints_list().iter().map(|e| e.port).collect();
    assert_eq!(ports, [5432, 5433, 5432]);
    assert_eq!(s.endpoints_list()[2].host, Host::Tcp("::1".into()));
    let cfg = s.for_database("db", "pgqd", Duration::from_secs(1));
    assert_eq!(cfg.get_ports(), &[5432, 5433, 5432]);
    assert_eq!(cfg.get_ssl_mode(), PgSslMode::Prefer);

    let s = settings("host=a,b port=6000", &env());
    assert!(s.endpoints_list().iter().all(|e| e.port == 6000));
    let s = settings("host=a,/sock hostaddr=10.0.0.1,", &env());
    assert_eq!(
        s.endpoints_list()[0].hostaddr,
        Some("10.0.0.1".parse().expect("ip"))
    );
    assert_eq!(s.endpoints_list()[1].host, Host::Unix("/sock".into()));

    assert!(matches!(
        ConnSettings::parse("host=a,b,c port=1,2", &env()),
        Err(ConnstrError::CountMismatch {
            values: 2,
            hosts: 3,
            ..
        })
    ));
    assert!(matches!(
        ConnSettings::parse("host=a hostaddr=1.2.3.4,5.6.7.8", &env()),
        Err(ConnstrError::CountMismatch { .. })
    ));
}

#[test]
fn invalid_values_and_unsupported_options() {
    for (base, key) in [
        ("port=x", "port"),
        ("port=0", "port"),
        ("sslmode=maybe", "sslmode"),
        ("hostaddr=not-an-ip", "hostaddr"),
        ("connect_timeout=soon", "connect_timeout"),
        ("target_session_attrs=primary", "target_session_attrs"),
    ] {
        match ConnSettings::parse(base, &env()) {
            Err(ConnstrError::InvalidValue { key: k, .. }) => assert_eq!(k, key, "{base}"),
            other => panic!("{base}: {other:?}"),
        }
    }
    assert_eq!(
        ConnSettings::parse("service=x", &env()).unwrap_err(),
        ConnstrError::Unsupported("service".into())
    );
    assert_eq!(
        ConnSettings::parse("bogus=1", &env())
            .unwrap_err()
            .to_string(),
        "invalid connection option \"bogus\""
    );
    assert_eq!(
        ConnSettings::parse("", &env().with_var("PGSERVICE", "svc")).unwrap_err(),
        ConnstrError::Unsupported("service".into())
    );
    let s = settings("client_encoding=UTF8", &env());
    assert_eq!(s.warnings().len(), 1);
}

#[test]
fn sslmodes_choose_verification() {
    let mut e = env();
    e.home = Some(PathBuf::from("/home/u"));
    let s = settings("host=h sslmode=require", &e);
    assert_eq!(s.tls_verify, tls::Verify::Nothing);
    e.existing
        .push(PathBuf::from("/home/u/.postgresql/root.crt"));
    let s = settings("host=h sslmode=require", &e);
    assert_eq!(
        s.tls_verify,
        tls::Verify::Chain(tls::Roots::File("/home/u/.postgresql/root.crt".into()))
    );
    let s = settings("host=h sslmode=verify-full sslrootcert=system", &e);
    assert_eq!(s.tls_verify, tls::Verify::Full(tls::Roots::System));
    let s = settings("host=h sslmode=verify-ca sslrootcert=/etc/ca.pem", &e);
    assert_eq!(
        s.tls_verify,
        tls::Verify::Chain(tls::Roots::File("/etc/ca.pem".into()))
    );
    // TLS is never requested on a Unix socket, whatever sslmode says.
    let s = settings("host=/run/postgresql sslmode=verify-full", &e);
    assert_eq!(
        s.for_database("d", "a", Duration::ZERO).get_ssl_mode(),
        PgSslMode::Disable
    );
}

fn pgpass_env(contents: &str, mode: u32) -> (tempfile::TempDir, FakeEnv) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pgpass");
    std::fs::write(&path, contents).expect("write pgpass");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let e = env().with_var("PGPASSFILE", path.to_str().expect("utf8 path"));
    (dir, e)
}

#[test]
fn pgpass_lookup_per_host_and_database() {
    let (_dir, e) = pgpass_env(
        "localhost:5432:db1:osuser:sock-pw\n\
         db.example.com:5433:*:osuser:tcp-pw\n\
         *:*:*:other:other-pw\n",
        0o600,
    );
    let s = settings("host=/var/run/postgresql,db.example.com port=5432,5433", &e);
    let cfg = s.for_endpoint(&s.endpoints_list()[0], "db1", &ConnectOptions::default());
    assert_eq!(cfg.get_password(), Some(&b"sock-pw"[..]));
    let cfg = s.for_endpoint(&s.endpoints_list()[0], "db2", &ConnectOptions::default());
    assert_eq!(cfg.get_password(), None);
    let cfg = s.for_endpoint(
        &s.endpoints_list()[1],
        "anything",
        &ConnectOptions::default(),
    );
    assert_eq!(cfg.get_password(), Some(&b"tcp-pw"[..]));
    // A non-default socket directory does not count as "localhost".
    let s = settings("host=/tmp", &e);
    assert_eq!(
        s.for_database("db1", "a", Duration::ZERO).get_password(),
        None
    );
    // An explicit password wins over the file.
    let s = settings("host=/var/run/postgresql password=explicit", &e);
    assert_eq!(
        s.for_database("db1", "a", Duration::ZERO).get_password(),
        Some(&b"explicit"[..])
    );
}

#[test]
fn pgpass_with_loose_permissions_is_ignored() {
    let (_dir, e) = pgpass_env("*:*:*:*:pw\n", 0o640);
    let s = settings("host=h", &e);
    assert_eq!(
        s.for_database("d", "a", Duration::ZERO).get_password(),
        None
    );
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.contains("group or world access")),
        "{:?}",
        s.warnings()
    );
}

#[test]
fn password_never_shown() {
    const PW: &str = "Sup3r-s3cret pass";
    let (_dir, e) = pgpass_env("*:*:*:*:Sup3r-s3cret pass\n", 0o600);
    let explicit = settings(&format!("host=h user=u password='{PW}'"), &env());
    let from_uri = settings("postgres://u:Sup3r-s3cret%20pass@h/db", &env());
    let from_file = settings("host=h", &e);
    let from_env = settings("host=h", &env().with_var("PGPASSWORD", PW));
    for s in [&explicit, &from_uri, &from_file, &from_env] {
        for text in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{s:#?}"),
            s.redacted(),
        ] {
            assert!(
                !text.contains(PW) && !text.contains("Sup3r"),
                "password leaked: {text}"
            );
        }
        // tokio-postgres' own Debug redacts the password too.
        let cfg = s.for_database("db", "a", Duration::ZERO);
        assert!(!format!("{cfg:?}").contains("Sup3r"));
    }
    assert!(explicit.redacted().contains("password=********"));
}

#[tokio::test]
async fn connect_error_names_database_and_host_not_password() {
    // Port 1 on loopback: nothing listens there, so the connect is refused at once.
    let s = settings(
        "host=127.0.0.1 port=1 password=hunter2-secret sslmode=disable",
        &env(),
    );
    let err = s
        .connect("somedb", &ConnectOptions::default())
        .await
        .expect_err("nothing listens on port 1");
    let text = err.to_string();
    assert!(
        text.contains("\"somedb\"") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !format!("{err:?}").contains("hunter2"),
        "{text}"
    );
}
