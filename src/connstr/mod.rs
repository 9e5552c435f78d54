//! libpq-style connection settings: the only way pgqd builds connections.
//!
//! tokio-postgres is not libpq: it reads no `PG*` variables, no `~/.pgpass`,
//! knows no URI multi-host shorthands with per-host passwords, and has no
//! `verify-ca`/`verify-full`. This module supplies those conventions so a
//! `base_connstr` that worked with the C pgqd (and psql) works here too.
//!
//! [`ConnSettings::parse`] resolves a connect string once, against an
//! [`EnvSource`] (the process environment in production, a [`FakeEnv`] in
//! tests): explicit values win over environment variables, which win over
//! libpq's defaults (host: the Debian socket directory `/var/run/postgresql`
//! if it exists, else `localhost`; port 5432; user: the OS user). The
//! password file is read at that point too, so a SIGHUP that re-parses the
//! settings also picks up a changed `.pgpass`.
//!
//! [`ConnSettings::connect`] then opens a session to one database: a dbname
//! inside the connect string is always replaced by the requested database
//! (as in the C pgqd). Hosts are tried in order, each with its own `.pgpass`
//! password and TLS decision (TLS is never attempted on Unix sockets, as in
//! libpq). Passwords never appear in `Debug`, `Display` or error messages.

mod parse;
mod pgpass;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;
use tokio_postgres::config::{
    ChannelBinding, LoadBalanceHosts, SslMode as PgSslMode, SslNegotiation, TargetSessionAttrs,
};

pub use parse::parse_connstr;
use parse::{Support, keyword};

/// Unix socket directory Debian's libpq uses by default.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
/// Default server port.
pub const DEFAULT_PORT: u16 = 5432;

/// Problems with a connection string or the environment it is resolved in.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConnstrError {
    /// A keyword libpq does not know.
    #[error("invalid connection option \"{0}\"")]
    InvalidOption(String),
    /// A keyword without `=`.
    #[error("missing \"=\" after \"{0}\" in connection info string")]
    MissingEquals(String),
    /// A single-quoted value without its closing quote.
    #[error("unterminated quoted string in connection info string")]
    UnterminatedQuote,
    /// A malformed `postgres://` URI; the message says what is wrong.
    #[error("{0}")]
    InvalidUri(String),
    /// A keyword libpq knows but pgqd cannot honour safely.
    #[error("connection option \"{0}\" is not supported by pgqd")]
    Unsupported(String),
    /// A value that does not fit its keyword.
    #[error("invalid {key} value: \"{value}\" ({expected})")]
    InvalidValue {
        /// The keyword.
        key: &'static str,
        /// The value as given (never a password).
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Host, hostaddr and port lists of different lengths.
    #[error("could not match {values} {what} to {hosts} host names")]
    CountMismatch {
        /// "port numbers" or "hostaddr values".
        what: &'static str,
        /// How many of them were given.
        values: usize,
        /// How many hosts were given.
        hosts: usize,
    },
    /// No user name given and the OS user could not be determined.
    #[error("could not determine the user name: set user in base_connstr or PGUSER")]
    NoUser,
}

/// Failure to open a session; the message names database and hosts, never the password.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The server could not be reached, refused us, or failed authentication.
    #[error(
        "connecting to database \"{database}\" on {hosts}: {}",
        crate::engine::error_text(source)
    )]
    Postgres {
        /// Database name.
        database: String,
        /// The host(s) tried, e.g. `host "db1" port 5432`.
        hosts: String,
        /// The last error from tokio-postgres.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The TLS setup (root or client certificate files) failed before connecting.
    #[error("connecting to database \"{database}\" on {hosts}: {message}")]
    Tls {
        /// Database name.
        database: String,
        /// The host tried.
        hosts: String,
        /// What failed.
        message: String,
    },
}

impl ConnectError {
    /// The underlying tokio-postgres error, for classifying SQLSTATEs.
    #[must_use]
    pub fn postgres_error(&self) -> Option<&tokio_postgres::Error> {
        match self {
            ConnectError::Postgres { source, .. } => Some(source),
            ConnectError::Tls { .. } => None,
        }
    }
}

/// The environment a connect string is resolved in; injectable so tests do
/// not depend on the real process.
pub trait EnvSource: fmt::Debug {
    /// An environment variable, `None` when unset or not valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory (for `~/.pgpass` and `~/.postgresql/`).
    fn home_dir(&self) -> Option<PathBuf>;
    /// The OS user name, the default database user.
    fn user_name(&self) -> Option<String>;
    /// Whether a file or directory exists (socket directory, default certificate files).
    fn exists(&self, path: &Path) -> bool;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn home_dir(&self) -> Option<PathBuf> {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::getuid())
                    .ok()
                    .flatten()
                    .map(|u| u.dir)
            })
    }
    fn user_name(&self) -> Option<String> {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// A made-up environment for tests: variables, home, user name and the set
/// of paths that exist are all given explicitly.
#[derive(Debug, Clone, Default)]
pub struct FakeEnv {
    /// Environment variables.
    pub vars: HashMap<String, String>,
    /// Home directory.
    pub home: Option<PathBuf>,
    /// OS user name.
    pub user: Option<String>,
    /// Paths reported as existing.
    pub existing: Vec<PathBuf>,
}

impl FakeEnv {
    /// An environment with user `user`, no home, no variables, no paths.
    #[must_use]
    pub fn new(user: &str) -> Self {
        FakeEnv {
            user: Some(user.to_owned()),
            ..FakeEnv::default()
        }
    }

    /// Adds a variable.
    #[must_use]
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }
}

impl EnvSource for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn home_dir(&self) -> Option<PathBuf> {
        self.home.clone()
    }
    fn user_name(&self) -> Option<String> {
        self.user.clone()
    }
    fn exists(&self, path: &Path) -> bool {
        self.existing.iter().any(|p| p == path)
    }
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// libpq tries plain first, then TLS; pgqd tries TLS first then plain,
    /// which succeeds in the same cases (tokio-postgres cannot start plain).
    Allow,
    /// TLS if the server offers it, without verification (the default).
    #[default]
    Prefer,
    /// TLS required; the certificate is verified only if a root file is present.
    Require,
    /// TLS with the certificate chain verified against the roots.
    VerifyCa,
    /// TLS with chain and host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, ConnstrError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(ConnstrError::InvalidValue {
                    key: "sslmode",
                    value: value.to_owned(),
                    expected: "disable, allow, prefer, require, verify-ca or verify-full",
                });
            }
        })
    }

    /// The libpq spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// One server to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A TCP host name or IP address.
    Tcp(String),
    /// A Unix socket directory.
    Unix(PathBuf),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Tcp(h) => f.write_str(h),
            Host::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One entry of the host list, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or socket directory.
    pub host: Host,
    /// Numeric address to connect to instead of resolving `host`.
    pub hostaddr: Option<IpAddr>,
    /// Port (also names the socket file for Unix sockets).
    pub port: u16,
}

impl Endpoint {
    fn describe(&self) -> String {
        match (&self.host, self.hostaddr) {
            (Host::Unix(dir), _) => format!("socket \"{}/.s.PGSQL.{}\"", dir.display(), self.port),
            (Host::Tcp(h), Some(a)) => format!("host \"{h}\" ({a}) port {}", self.port),
            (Host::Tcp(h), None) => format!("host \"{h}\" port {}", self.port),
        }
    }
}

/// Per-session choices pgqd adds on top of the connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Used when neither the connect string nor `PGAPPNAME` names the application.
    pub application_name: String,
    /// Used when neither the connect string nor `PGCONNECT_TIMEOUT` sets one; zero waits forever.
    pub connect_timeout: Duration,
    /// Session `statement_timeout`, sent in the startup packet; `None` leaves the server's.
    pub statement_timeout: Option<Duration>,
    /// Session `lock_timeout`, sent in the startup packet; `None` leaves the server's.
    pub lock_timeout: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            application_name: "pgqd".to_owned(),
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
            lock_timeout: None,
        }
    }
}

/// A password that never shows in `Debug`.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Connection settings resolved from `base_connstr` and the environment.
///
/// `Debug` and `Display` never show the password; `Display` is the
/// [`redacted`](Self::redacted) key/value form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSettings {
    endpoints: Vec<Endpoint>,
    user: String,
    password: Option<Secret>,
    pgpass: Vec<pgpass::Entry>,
    dbname: Option<String>,
    sslmode: SslMode,
    tls_verify: tls::Verify,
    client_cert: Option<tls::ClientCert>,
    application_name: Option<String>,
    fallback_application_name: Option<String>,
    connect_timeout: Option<Duration>,
    options: Option<String>,
    keepalives: bool,
    keepalives_idle: Duration,
    keepalives_interval: Duration,
    keepalives_count: u32,
    tcp_user_timeout: Option<Duration>,
    target_session_attrs: TargetSessionAttrs,
    channel_binding: ChannelBinding,
    load_balance_hosts: LoadBalanceHosts,
    ssl_negotiation: SslNegotiation,
    warnings: Vec<String>,
}

/// Keepalive defaults: libpq leaves them to the OS (2 h idle), which is far
/// too slow to notice a server that vanished; these notice within 2 minutes.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_COUNT: u32 = 6;

fn invalid(key: &'static str, value: &str, expected: &'static str) -> ConnstrError {
    ConnstrError::InvalidValue {
        key,
        value: value.to_owned(),
        expected,
    }
}

fn parse_secs(key: &'static str, value: &str) -> Result<Duration, ConnstrError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| invalid(key, value, "whole seconds"))
}

fn parse_u32(key: &'static str, value: &str) -> Result<u32, ConnstrError> {
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| invalid(key, value, "a non-negative integer"))
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_owned()).collect()
}

impl ConnSettings {
    /// Resolves `base` (key/value or URI) against `env`.
    ///
    /// # Errors
    /// Syntax errors, unknown or unsupported keywords, invalid values, and
    /// mismatched host/port counts.
    pub fn parse(base: &str, env: &dyn EnvSource) -> Result<Self, ConnstrError> {
        let mut given: HashMap<&'static str, String> = HashMap::new();
        let mut warnings = Vec::new();
        for (key, value) in parse_connstr(base)? {
            // parse_connstr only returns known keywords.
            let Some(kw) = keyword(&key) else {
                return Err(ConnstrError::InvalidOption(key));
            };
            given.insert(kw.name, value);
        }
        for kw in parse::KEYWORDS {
            if let (false, Some(var)) = (given.contains_key(kw.name), kw.env) {
                if let Some(value) = env.var(var) {
                    given.insert(kw.name, value);
                }
            }
        }
        for kw in parse::KEYWORDS {
            let Some(value) = given.get(kw.name) else {
                continue;
            };
            match kw.support {
                Support::Yes => {}
                Support::Ignored => warnings.push(format!(
                    "connection option \"{}\" is ignored by pgqd",
                    kw.name
                )),
                Support::Unsupported => {
                    // An explicitly empty value means "unset" in libpq, so it is harmless.
                    let harmless = value.is_empty() || (kw.name == "replication" && value == "0");
                    if !harmless {
                        return Err(ConnstrError::Unsupported(kw.name.to_owned()));
                    }
                }
            }
        }
        if given.get("gssencmode").is_some_and(|v| v == "require") {
            return Err(invalid(
                "gssencmode",
                "require",
                "disable or prefer: pgqd has no GSSAPI encryption",
            ));
        }
        let get = |k: &str| given.get(k).map(String::as_str).filter(|v| !v.is_empty());

        let endpoints = Self::endpoints(get("host"), get("hostaddr"), get("port"), env)?;
        let user = match get("user") {
            Some(u) => u.to_owned(),
            None => env.user_name().ok_or(ConnstrError::NoUser)?,
        };
        let password = given.get("password").map(|p| Secret(p.clone()));
        let pgpass = if password.is_none() {
            let path = get("passfile")
                .map(PathBuf::from)
                .or_else(|| env.home_dir().map(|h| h.join(".pgpass")));
            match path {
                Some(path) => {
                    let (entries, warning) = pgpass::load(&path);
                    warnings.extend(warning);
                    entries
                }
                None => Vec::new(),
            }
        } else {
            Vec::new()
        };

        let sslmode = get("sslmode").map_or(Ok(SslMode::Prefer), SslMode::parse)?;
        let postgresql_dir = env.home_dir().map(|h| h.join(".postgresql"));
        let root_file = match get("sslrootcert") {
            Some("system") => Some(tls::Roots::System),
            Some(path) => Some(tls::Roots::File(PathBuf::from(path))),
            None => postgresql_dir
                .as_ref()
                .map(|d| d.join("root.crt"))
                .filter(|p| env.exists(p))
                .map(tls::Roots::File),
        };
        let default_root = || {
            tls::Roots::File(
                postgresql_dir
                    .as_ref()
                    .map_or_else(|| PathBuf::from("root.crt"), |d| d.join("root.crt")),
            )
        };
        let tls_verify = match sslmode {
            SslMode::Disable | SslMode::Allow | SslMode::Prefer => tls::Verify::Nothing,
            // libpq: require with a root certificate available behaves as verify-ca.
            SslMode::Require => root_file.map_or(tls::Verify::Nothing, tls::Verify::Chain),
            SslMode::VerifyCa => tls::Verify::Chain(root_file.unwrap_or_else(default_root)),
            SslMode::VerifyFull => tls::Verify::Full(root_file.unwrap_or_else(default_root)),
        };
        let cert = get("sslcert").map(PathBuf::from).or_else(|| {
            postgresql_dir
                .as_ref()
                .map(|d| d.join("postgresql.crt"))
                .filter(|p| env.exists(p))
        });
        let client_cert = cert.map(|cert| tls::ClientCert {
            key: get("sslkey").map(PathBuf::from).unwrap_or_else(|| {
                postgresql_dir.as_ref().map_or_else(
                    || PathBuf::from("postgresql.key"),
                    |d| d.join("postgresql.key"),
                )
            }),
            cert,
        });

        let connect_timeout = get("connect_timeout")
            .map(|v| {
                // libpq rounds positive timeouts below 2 s up to 2 s.
                parse_secs("connect_timeout", v).map(|d| {
                    if d.is_zero() {
                        d
                    } else {
                        d.max(Duration::from_secs(2))
                    }
                })
            })
            .transpose()?;
        let keepalives = get("keepalives")
            .map(|v| parse_u32("keepalives", v))
            .transpose()?
            .is_none_or(|n| n != 0);
        let keepalives_idle = get("keepalives_idle")
            .map_or(Ok(KEEPALIVES_IDLE), |v| parse_secs("keepalives_idle", v))?;
        let keepalives_interval = get("keepalives_interval")
            .map_or(Ok(KEEPALIVES_INTERVAL), |v| {
                parse_secs("keepalives_interval", v)
            })?;
        let keepalives_count = get("keepalives_count")
            .map_or(Ok(KEEPALIVES_COUNT), |v| parse_u32("keepalives_count", v))?;
        let tcp_user_timeout = get("tcp_user_timeout")
            .map(|v| parse_u32("tcp_user_timeout", v).map(|ms| Duration::from_millis(ms.into())))
            .transpose()?
            .filter(|d| !d.is_zero());
        let target_session_attrs = match get("target_session_attrs").unwrap_or("any") {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            v => {
                return Err(invalid(
                    "target_session_attrs",
                    v,
                    "any, read-write or read-only",
                ));
            }
        };
        let channel_binding = match get("channel_binding").unwrap_or("prefer") {
            "disable" => ChannelBinding::Disable,
            "prefer" => ChannelBinding::Prefer,
            "require" => ChannelBinding::Require,
            v => return Err(invalid("channel_binding", v, "disable, prefer or require")),
        };
        let load_balance_hosts = match get("load_balance_hosts").unwrap_or("disable") {
            "disable" => LoadBalanceHosts::Disable,
            "random" => LoadBalanceHosts::Random,
            v => return Err(invalid("load_balance_hosts", v, "disable or random")),
        };
        let ssl_negotiation = match get("sslnegotiation").unwrap_or("postgres") {
            "postgres" => SslNegotiation::Postgres,
            "direct" => SslNegotiation::Direct,
            v => return Err(invalid("sslnegotiation", v, "postgres or direct")),
        };

        Ok(ConnSettings {
            endpoints,
            user,
            password,
            pgpass,
            dbname: get("dbname").map(str::to_owned),
            sslmode,
            tls_verify,
            client_cert,
            application_name: get("application_name").map(str::to_owned),
            fallback_application_name: get("fallback_application_name").map(str::to_owned),
            connect_timeout,
            options: get("options").map(str::to_owned),
            keepalives,
            keepalives_idle,
            keepalives_interval,
            keepalives_count,
            tcp_user_timeout,
            target_session_attrs,
            channel_binding,
            load_balance_hosts,
            ssl_negotiation,
            warnings,
        })
    }

    /// [`parse`](Self::parse) against the real process environment.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_env_and(base: &str) -> Result<Self, ConnstrError> {
        Self::parse(base, &ProcessEnv)
    }

    fn endpoints(
        host: Option<&str>,
        hostaddr: Option<&str>,
        port: Option<&str>,
        env: &dyn EnvSource,
    ) -> Result<Vec<Endpoint>, ConnstrError> {
        let hosts = host.map(split_list).unwrap_or_default();
        let addrs = hostaddr.map(split_list).unwrap_or_default();
        let ports = port.map(split_list).unwrap_or_default();
        let count = hosts.len().max(addrs.len()).max(1);
        if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
            return Err(ConnstrError::CountMismatch {
                what: "hostaddr values",
                values: addrs.len(),
                hosts: hosts.len(),
            });
        }
        if ports.len() > 1 && ports.len() != count {
            return Err(ConnstrError::CountMismatch {
                what: "port numbers",
                values: ports.len(),
                hosts: count,
            });
        }
        let default_host = || {
            if env.exists(Path::new(DEFAULT_SOCKET_DIR)) {
                Host::Unix(PathBuf::from(DEFAULT_SOCKET_DIR))
            } else {
                Host::Tcp("localhost".to_owned())
            }
        };
        (0..count)
            .map(|i| {
                let addr = match addrs.get(i).map(String::as_str).filter(|a| !a.is_empty()) {
                    Some(a) => Some(
                        a.parse::<IpAddr>()
                            .map_err(|_| invalid("hostaddr", a, "a numeric IP address"))?,
                    ),
                    None => None,
                };
                let host = match hosts.get(i).map(String::as_str).filter(|h| !h.is_empty()) {
                    Some(h) if h.starts_with('/') => Host::Unix(PathBuf::from(h)),
                    Some(h) => Host::Tcp(h.to_owned()),
                    None => match addr {
                        Some(a) => Host::Tcp(a.to_string()),
                        None => default_host(),
                    },
                };
                let port_text = ports.get(i).or_else(|| {
                    if ports.len() == 1 {
                        ports.first()
                    } else {
                        None
                    }
                });
                let port = match port_text.map(String::as_str).filter(|p| !p.is_empty()) {
                    None => DEFAULT_PORT,
                    Some(p) => p
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| invalid("port", p, "a port number 1-65535"))?,
                };
                Ok(Endpoint {
                    host,
                    hostaddr: addr,
                    port,
                })
            })
            .collect()
    }

    /// Remarks to log once: ignored options, an unusable password file.
    #[must_use]
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The hosts to try, in order.
    #[must_use]
    pub fn endpoints_list(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The database user.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The effective `sslmode`.
    #[must_use]
    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    /// The dbname given in the connect string or `PGDATABASE`; pgqd replaces
    /// it with each database's name, so it is informational only.
    #[must_use]
    pub fn dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// The password for `endpoint` and `dbname`: the explicit one, else the
    /// first matching password file line.
    fn password_for(&self, endpoint: &Endpoint, dbname: &str) -> Option<&str> {
        if let Some(p) = &self.password {
            return Some(&p.0);
        }
        let host = match (&endpoint.host, endpoint.hostaddr) {
            // libpq matches "localhost" for the default socket directory only.
            (Host::Unix(dir), _)
                if dir == Path::new(DEFAULT_SOCKET_DIR) || dir == Path::new("/run/postgresql") =>
            {
                "localhost".to_owned()
            }
            (h, _) => h.to_string(),
        };
        pgpass::lookup(
            &self.pgpass,
            &host,
            &endpoint.port.to_string(),
            dbname,
            &self.user,
        )
    }

    fn options_with(&self, opts: &ConnectOptions) -> Option<String> {
        let mut parts: Vec<String> = self.options.iter().cloned().collect();
        // Sent as startup options rather than SET, so they are in force from
        // the first statement and survive DISCARD ALL.
        if let Some(t) = opts.statement_timeout {
            parts.push(format!("-c statement_timeout={}", t.as_millis()));
        }
        if let Some(t) = opts.lock_timeout {
            parts.push(format!("-c lock_timeout={}", t.as_millis()));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    fn base_config(&self, dbname: &str, opts: &ConnectOptions) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.user(&self.user).dbname(dbname);
        let app = self
            .application_name
            .clone()
            .or_else(|| Some(opts.application_name.clone()).filter(|a| !a.is_empty()))
            .or_else(|| self.fallback_application_name.clone());
        if let Some(app) = app {
            cfg.application_name(app);
        }
        let timeout = self.connect_timeout.unwrap_or(opts.connect_timeout);
        if !timeout.is_zero() {
            cfg.connect_timeout(timeout);
        }
        if let Some(o) = self.options_with(opts) {
            cfg.options(o);
        }
        cfg.keepalives(self.keepalives)
            .keepalives_idle(self.keepalives_idle)
            .keepalives_interval(self.keepalives_interval)
            .keepalives_retries(self.keepalives_count)
            .target_session_attrs(self.target_session_attrs)
            .channel_binding(self.channel_binding)
            .load_balance_hosts(self.load_balance_hosts)
            .ssl_negotiation(self.ssl_negotiation);
        if let Some(t) = self.tcp_user_timeout {
            cfg.tcp_user_timeout(t);
        }
        cfg
    }

    fn pg_ssl_mode(&self, endpoint: &Endpoint) -> PgSslMode {
        match (&endpoint.host, self.sslmode) {
            // The server refuses TLS on Unix sockets and libpq never asks.
            (Host::Unix(_), _) | (_, SslMode::Disable) => PgSslMode::Disable,
            (_, SslMode::Allow | SslMode::Prefer) => PgSslMode::Prefer,
            (_, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) => PgSslMode::Require,
        }
    }

    fn add_endpoint(cfg: &mut tokio_postgres::Config, e: &Endpoint) {
        match &e.host {
            Host::Tcp(h) => cfg.host(h),
            Host::Unix(p) => cfg.host_path(p),
        };
        cfg.port(e.port);
    }

    /// A tokio-postgres config for `dbname` with all hosts, as tokio-postgres
    /// would try them. The password is the explicit one or the password file
    /// line matching the *first* host; [`connect`](Self::connect) is more
    /// precise (per host) and is what the daemon uses.
    #[must_use]
    pub fn for_database(
        &self,
        dbname: &str,
        application_name: &str,
        connect_timeout: Duration,
    ) -> tokio_postgres::Config {
        let opts = ConnectOptions {
            application_name: application_name.to_owned(),
            connect_timeout,
            ..ConnectOptions::default()
        };
        let mut cfg = self.base_config(dbname, &opts);
        for e in &self.endpoints {
            Self::add_endpoint(&mut cfg, e);
        }
        if self.endpoints.iter().all(|e| e.hostaddr.is_some()) {
            for a in self.endpoints.iter().filter_map(|e| e.hostaddr) {
                cfg.hostaddr(a);
            }
        }
        let ssl = self
            .endpoints
            .iter()
            .map(|e| self.pg_ssl_mode(e))
            .max_by_key(|m| match m {
                PgSslMode::Disable => 0,
                PgSslMode::Prefer => 1,
                _ => 2,
            });
        // All-socket host lists get Disable; otherwise the TCP hosts' mode.
        let ssl = if self
            .endpoints
            .iter()
            .all(|e| matches!(e.host, Host::Unix(_)))
        {
            PgSslMode::Disable
        } else {
            ssl.unwrap_or(PgSslMode::Prefer)
        };
        cfg.ssl_mode(ssl);
        if let Some(p) = self
            .endpoints
            .first()
            .and_then(|e| self.password_for(e, dbname))
        {
            cfg.password(p);
        }
        cfg
    }

    /// The config for one host, with that host's password and TLS mode.
    fn for_endpoint(
        &self,
        endpoint: &Endpoint,
        dbname: &str,
        opts: &ConnectOptions,
    ) -> tokio_postgres::Config {
        let mut cfg = self.base_config(dbname, opts);
        Self::add_endpoint(&mut cfg, endpoint);
        if let Some(a) = endpoint.hostaddr {
            cfg.hostaddr(a);
        }
        cfg.ssl_mode(self.pg_ssl_mode(endpoint));
        if let Some(p) = self.password_for(endpoint, dbname) {
            cfg.password(p);
        }
        cfg
    }

    /// Opens a session to `dbname`, trying the hosts in order (shuffled with
    /// `load_balance_hosts=random`), and spawns the connection driver on the
    /// current tokio runtime. The driver ends when the client is dropped.
    ///
    /// # Errors
    /// The last host's failure, naming the database and the hosts tried.
    pub async fn connect(
        &self,
        dbname: &str,
        opts: &ConnectOptions,
    ) -> Result<tokio_postgres::Client, ConnectError> {
        let mut order: Vec<&Endpoint> = self.endpoints.iter().collect();
        if self.load_balance_hosts == LoadBalanceHosts::Random {
            use rand::seq::SliceRandom;
            order.shuffle(&mut rand::rng());
        }
        let mut tls_connector: Option<tokio_postgres_rustls::MakeRustlsConnect> = None;
        let mut last = None;
        for endpoint in &order {
            let cfg = self.for_endpoint(endpoint, dbname, opts);
            let outcome: Result<tokio_postgres::Client, tokio_postgres::Error> =
                if cfg.get_ssl_mode() == PgSslMode::Disable {
                    cfg.connect(tokio_postgres::NoTls)
                        .await
                        .map(|(client, conn)| {
                            tokio::spawn(drive(conn, dbname.to_owned()));
                            client
                        })
                } else {
                    let connector = match &tls_connector {
                        Some(c) => c.clone(),
                        None => {
                            let rustls_cfg =
                                tls::client_config(&self.tls_verify, self.client_cert.as_ref())
                                    .map_err(|message| ConnectError::Tls {
                                        database: dbname.to_owned(),
                                        hosts: endpoint.describe(),
                                        message,
                                    })?;
                            let c = tokio_postgres_rustls::MakeRustlsConnect::new(rustls_cfg);
                            tls_connector = Some(c.clone());
                            c
                        }
                    };
                    cfg.connect(connector).await.map(|(client, conn)| {
                        tokio::spawn(drive(conn, dbname.to_owned()));
                        client
                    })
                };
            match outcome {
                Ok(client) => return Ok(client),
                Err(e) => last = Some(e),
            }
        }
        let hosts = order
            .iter()
            .map(|e| e.describe())
            .collect::<Vec<_>>()
            .join(", ");
        match last {
            Some(source) => Err(ConnectError::Postgres {
                database: dbname.to_owned(),
                hosts,
                source,
            }),
            // Parsing guarantees at least one endpoint.
            None => unreachable!("ConnSettings without endpoints"),
        }
    }

    /// The settings as a libpq key/value string with the password replaced
    /// by `********`, for logs.
    #[must_use]
    pub fn redacted(&self) -> String {
        let join = |f: &dyn Fn(&Endpoint) -> String| {
            self.endpoints.iter().map(f).collect::<Vec<_>>().join(",")
        };
        let mut parts = vec![
            format!("host={}", quote(&join(&|e| e.host.to_string()))),
            format!("port={}", join(&|e| e.port.to_string())),
        ];
        if self.endpoints.iter().any(|e| e.hostaddr.is_some()) {
            parts.push(format!(
                "hostaddr={}",
                join(&|e| e.hostaddr.map(|a| a.to_string()).unwrap_or_default())
            ));
        }
        parts.push(format!("user={}", quote(&self.user)));
        if self.password.is_some() {
            parts.push("password=********".to_owned());
        } else if !self.pgpass.is_empty() {
            parts.push("passfile=(loaded)".to_owned());
        }
        parts.push(format!("sslmode={}", self.sslmode.as_str()));
        if let Some(a) = &self.application_name {
            parts.push(format!("application_name={}", quote(a)));
        }
        if let Some(o) = &self.options {
            parts.push(format!("options={}", quote(o)));
        }
        parts.join(" ")
    }
}

impl fmt::Display for ConnSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Quotes a value for a libpq key/value string when it needs it.
fn quote(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return value.to_owned();
    }
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

async fn drive<S, T>(conn: tokio_postgres::Connection<S, T>, dbname: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(e) = conn.await {
        tracing::debug!(database = %dbname, error = %e, "connection closed with an error");
    }
}

#[cfg(test)]
mod tests;
