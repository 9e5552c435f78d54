//! The two libpq connection string syntaxes, turned into keyword/value pairs.
//!
//! The rules follow libpq's `conninfo_parse` and `conninfo_uri_parse`: in the
//! key/value form a value is either a single-quoted string (backslash escapes
//! the next character) or runs to the next whitespace (backslash escapes
//! there too); in the URI form everything is percent-decoded and multiple
//! hosts are joined with commas into the `host` and `port` values.

use super::ConnstrError;

/// How pgqd treats a libpq keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    /// Honoured.
    Yes,
    /// Accepted and ignored: it does not change where or how securely pgqd
    /// connects, so a connect string shared with libpq tools still works.
    Ignored,
    /// Rejected, because silently ignoring it would weaken security or
    /// connect somewhere else than intended.
    Unsupported,
}

/// A libpq keyword: name, environment variable, support level.
#[derive(Debug)]
pub(crate) struct Keyword {
    pub(crate) name: &'static str,
    pub(crate) env: Option<&'static str>,
    pub(crate) support: Support,
}

const fn kw(name: &'static str, env: Option<&'static str>, support: Support) -> Keyword {
    Keyword { name, env, support }
}

use Support::{Ignored, Unsupported, Yes};

/// Every keyword libpq (up to PostgreSQL 17) knows.
#[rustfmt::skip]
pub(crate) const KEYWORDS: &[Keyword] = &[
    kw("host", Some("PGHOST"), Yes),
    kw("hostaddr", Some("PGHOSTADDR"), Yes),
    kw("port", Some("PGPORT"), Yes),
    kw("dbname", Some("PGDATABASE"), Yes),
    kw("user", Some("PGUSER"), Yes),
    kw("password", Some("PGPASSWORD"), Yes),
    kw("passfile", Some("PGPASSFILE"), Yes),
    kw("connect_timeout", Some("PGCONNECT_TIMEOUT"), Yes),
    kw("options", Some("PGOPTIONS"), Yes),
    kw("application_name", Some("PGAPPNAME"), Yes),
    kw("fallback_application_name", None, Yes),
    kw("keepalives", None, Yes),
    kw("keepalives_idle", None, Yes),
    kw("keepalives_interval", None, Yes),
    kw("keepalives_count", None, Yes),
    kw("tcp_user_timeout", None, Yes),
    kw("sslmode", Some("PGSSLMODE"), Yes),
    kw("sslrootcert", Some("PGSSLROOTCERT"), Yes),
    kw("sslcert", Some("PGSSLCERT"), Yes),
    kw("sslkey", Some("PGSSLKEY"), Yes),
    kw("sslnegotiation", Some("PGSSLNEGOTIATION"), Yes),
    kw("target_session_attrs", Some("PGTARGETSESSIONATTRS"), Yes),
    kw("channel_binding", Some("PGCHANNELBINDING"), Yes),
    kw("load_balance_hosts", Some("PGLOADBALANCEHOSTS"), Yes),
    kw("client_encoding", Some("PGCLIENTENCODING"), Ignored),
    kw("sslcompression", None, Ignored),
    kw("sslsni", None, Ignored),
    kw("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION"), Ignored),
    kw("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION"), Ignored),
    kw("gssencmode", Some("PGGSSENCMODE"), Ignored),
    kw("krbsrvname", Some("PGKRBSRVNAME"), Ignored),
    kw("gsslib", Some("PGGSSLIB"), Ignored),
    kw("gssdelegation", Some("PGGSSDELEGATION"), Ignored),
    kw("sslcertmode", None, Ignored),
    kw("sslpassword", None, Unsupported),
    kw("sslcrl", Some("PGSSLCRL"), Unsupported),
    kw("sslcrldir", Some("PGSSLCRLDIR"), Unsupported),
    kw("requirepeer", Some("PGREQUIREPEER"), Unsupported),
    kw("require_auth", Some("PGREQUIREAUTH"), Unsupported),
    kw("service", Some("PGSERVICE"), Unsupported),
    kw("replication", None, Unsupported),
];

pub(crate) fn keyword(name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.name == name)
}

/// Parses a connection string of either syntax into `(keyword, value)`
/// pairs in order of appearance (later pairs win). Keywords are checked
/// against libpq's list; values are not interpreted yet.
///
/// # Errors
/// Syntax errors and unknown keywords, worded like libpq's messages.
pub fn parse_connstr(text: &str) -> Result<Vec<(String, String)>, ConnstrError> {
    let trimmed = text.trim_start();
    let pairs = if let Some(rest) = trimmed
        .strip_prefix("postgresql://")
        .or_else(|| trimmed.strip_prefix("postgres://"))
    {
        parse_uri(rest)?
    } else {
        parse_keyword_value(text)?
    };
    for (key, _) in &pairs {
        if keyword(key).is_none() {
            return Err(ConnstrError::InvalidOption(key.clone()));
        }
    }
    Ok(pairs)
}

fn parse_keyword_value(text: &str) -> Result<Vec<(String, String)>, ConnstrError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            name.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(ConnstrError::MissingEquals(name));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(ConnstrError::UnterminatedQuote),
                    Some('\\') => {
                        if let Some(c) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        value.push(next);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((name, value));
    }
}

fn percent_decode(text: &str) -> Result<String, ConnstrError> {
    let bad = || ConnstrError::InvalidUri(format!("invalid percent-encoded token: \"{text}\""));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or_else(bad)?;
            let byte = u8::from_str_radix(hex, 16).map_err(|_| bad())?;
            if byte == 0 {
                return Err(ConnstrError::InvalidUri(format!(
                    "forbidden value %00 in percent-encoded value: \"{text}\""
                )));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn parse_uri(rest: &str) -> Result<Vec<(String, String)>, ConnstrError> {
    let mut out = Vec::new();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);

    let hostlist = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                out.push(("user".to_owned(), percent_decode(user)?));
            }
            if let Some(p) = password {
                out.push(("password".to_owned(), percent_decode(p)?));
            }
            &authority[at + 1..]
        }
        None => authority,
    };

    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for item in hostlist.split(',') {
            let (host, port) = if let Some(v6) = item.strip_prefix('[') {
                let (addr, after) = v6.split_once(']').ok_or_else(|| {
                    ConnstrError::InvalidUri(format!(
                        "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"{item}\""
                    ))
                })?;
                if addr.is_empty() {
                    return Err(ConnstrError::InvalidUri(format!(
                        "IPv6 host address may not be empty in URI: \"{item}\""
                    )));
                }
                let port = match after {
                    "" => "",
                    p => p.strip_prefix(':').ok_or_else(|| {
                        ConnstrError::InvalidUri(format!(
                            "unexpected character after IPv6 host address in URI: \"{item}\""
                        ))
                    })?,
                };
                (addr.to_owned(), port)
            } else {
                let (h, p) = item.split_once(':').unwrap_or((item, ""));
                (percent_decode(h)?, p)
            };
            hosts.push(host);
            ports.push(percent_decode(port)?);
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            out.push(("host".to_owned(), hosts.join(",")));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            out.push(("port".to_owned(), ports.join(",")));
        }
    }

    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    if let Some(db) = path.strip_prefix('/') {
        if !db.is_empty() {
            out.push(("dbname".to_owned(), percent_decode(db)?));
        }
    }
    if let Some(query) = query {
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').ok_or_else(|| {
                ConnstrError::InvalidUri(format!(
                    "missing key/value separator \"=\" in URI query parameter: \"{param}\""
                ))
            })?;
            let key = percent_decode(key)?;
            let value = percent_decode(value)?;
            // JDBC-style "ssl=true" is accepted by libpq as sslmode=require.
            if key == "ssl" && value == "true" {
                out.push(("sslmode".to_owned(), "require".to_owned()));
                continue;
            }
            if keyword(&key).is_none() {
                return Err(ConnstrError::InvalidUri(format!(
                    "invalid URI query parameter: \"{key}\""
                )));
            }
            out.push((key, value));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String)> {
        parse_connstr(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn keyword_value_forms() {
        assert_eq!(p(""), vec![]);
        assert_eq!(p("   "), vec![]);
        assert_eq!(
            p("host=/tmp  port = 5433\tuser=bob"),
            pairs(&[("host", "/tmp"), ("port", "5433"), ("user", "bob")])
        );
        assert_eq!(p(r"password='a b\'c'"), pairs(&[("password", "a b'c")]));
        assert_eq!(p(r"password=a\ b\\c"), pairs(&[("password", r"a b\c")]));
        assert_eq!(p("password=''"), pairs(&[("password", "")]));
        assert_eq!(
            p("application_name='x=y' dbname=d"),
            pairs(&[("application_name", "x=y"), ("dbname", "d")])
        );
    }

    #[test]
    fn keyword_value_errors() {
        assert_eq!(
            parse_connstr("host").unwrap_err().to_string(),
            r#"missing "=" after "host" in connection info string"#
        );
        assert_eq!(
            parse_connstr("password='abc").unwrap_err().to_string(),
            "unterminated quoted string in connection info string"
        );
        assert_eq!(
            parse_connstr("hots=x").unwrap_err().to_string(),
            r#"invalid connection option "hots""#
        );
    }

    #[test]
    fn uri_forms() {
        assert_eq!(p("postgres://"), vec![]);
        assert_eq!(
            p(
                "postgresql://bob:s%40cret@db.example.com:5433/mydb?sslmode=require&application_name=x%20y"
            ),
            pairs(&[
                ("user", "bob"),
                ("password", "s@cret"),
                ("host", "db.example.com"),
                ("port", "5433"),
                ("dbname", "mydb"),
                ("sslmode", "require"),
                ("application_name", "x y"),
            ])
        );
        assert_eq!(
            p("postgres://h1:5432,h2:5433"),
            pairs(&[("host", "h1,h2"), ("port", "5432,5433")])
        );
        assert_eq!(
            p("postgres://h1,h2:5433"),
            pairs(&[("host", "h1,h2"), ("port", ",5433")])
        );
        assert_eq!(
            p("postgres://[::1]:6543/x"),
            pairs(&[("host", "::1"), ("port", "6543"), ("dbname", "x")])
        );
        assert_eq!(
            p("postgres://%2Fvar%2Frun%2Fpostgresql"),
            pairs(&[("host", "/var/run/postgresql")])
        );
        assert_eq!(
            p("postgresql:///db?host=%2Fvar%2Frun%2Fpostgresql&port=5433"),
            pairs(&[
                ("dbname", "db"),
                ("host", "/var/run/postgresql"),
                ("port", "5433")
            ])
        );
        assert_eq!(
            p("postgres://u@?ssl=true"),
            pairs(&[("user", "u"), ("sslmode", "require")])
        );
    }

    #[test]
    fn uri_errors() {
        for bad in [
            "postgres://h?nosuch=1",
            "postgres://h?sslmode",
            "postgres://[::1",
            "postgres://%zz",
            "postgres://h/%00",
        ] {
            assert!(
                matches!(parse_connstr(bad), Err(ConnstrError::InvalidUri(_))),
                "{bad}"
            );
        }
    }
}
