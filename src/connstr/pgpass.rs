//! The libpq password file (`~/.pgpass` or `PGPASSFILE`).
//!
//! Format: `hostname:port:database:username:password`, one entry per line;
//! `*` in the first four fields matches anything, `\:` and `\\` escape, lines
//! starting with `#` are comments, and the first matching line wins. Like
//! libpq, a file that group or others can access is ignored with a warning.

use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// One line of the password file, fields already unescaped (`None` is `*`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    fields: [Option<String>; 4],
    password: String,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("fields", &self.fields)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Splits one line into unescaped fields at unescaped colons. Returns the
/// fields and, for each, whether it was exactly an unescaped `*`.
fn split_fields(line: &str) -> Vec<(String, bool)> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut escaped_any = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                escaped_any = true;
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ':' => {
                let wildcard = current == "*" && !escaped_any;
                fields.push((std::mem::take(&mut current), wildcard));
                escaped_any = false;
            }
            c => current.push(c),
        }
    }
    let wildcard = current == "*" && !escaped_any;
    fields.push((current, wildcard));
    fields
}

/// Parses the file's text; malformed lines are skipped, as libpq does.
pub(crate) fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        // libpq stops the password at the next unescaped colon.
        fields.truncate(5);
        let (password, _) = fields.pop().unwrap_or_default();
        let mut pats: [Option<String>; 4] = Default::default();
        for (slot, (value, wildcard)) in pats.iter_mut().zip(fields) {
            *slot = (!wildcard).then_some(value);
        }
        out.push(Entry {
            fields: pats,
            password,
        });
    }
    out
}

/// The password of the first entry matching all four values.
pub(crate) fn lookup<'a>(
    entries: &'a [Entry],
    host: &str,
    port: &str,
    db: &str,
    user: &str,
) -> Option<&'a str> {
    let wanted = [host, port, db, user];
    entries
        .iter()
        .find(|e| {
            e.fields
                .iter()
                .zip(wanted)
                .all(|(f, w)| f.as_deref().is_none_or(|f| f == w))
        })
        .map(|e| e.password.as_str())
}

/// Reads the file at `path`. A missing file is silently empty; a file that
/// is not a regular file or is accessible by group/others is ignored with a
/// warning, as libpq does.
pub(crate) fn load(path: &Path) -> (Vec<Entry>, Option<String>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), None),
        Err(e) => {
            return (
                Vec::new(),
                Some(format!(
                    "password file \"{}\" cannot be read: {e}",
                    path.display()
                )),
            );
        }
    };
    if !meta.is_file() {
        return (
            Vec::new(),
            Some(format!(
                "password file \"{}\" is not a plain file",
                path.display()
            )),
        );
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return (
            Vec::new(),
            Some(format!(
                "password file \"{}\" has group or world access (mode {:o}, owner uid {}); permissions should be u=rw (0600) or less; ignoring it",
                path.display(),
                meta.permissions().mode() & 0o7777,
                meta.uid()
            )),
        );
    }
    match std::fs::read_to_string(path) {
        Ok(text) => (parse(&text), None),
        Err(e) => (
            Vec::new(),
            Some(format!(
                "password file \"{}\" cannot be read: {e}",
                path.display()
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_and_escapes() {
        let entries = parse(
            "# comment\n\
             badline:without:enough\n\
             db1.example.com:5432:app:bob:pw1\n\
             *:*:app:*:pw2\n\
             host\\:x:5432:*:bob:pa\\:ss\\\\word:ignored\n\
             \\*:*:*:*:literal-star\n\
             localhost:*:*:*:local\n",
        );
        assert_eq!(entries.len(), 5);
        assert_eq!(
            lookup(&entries, "db1.example.com", "5432", "app", "bob"),
            Some("pw1")
        );
        assert_eq!(lookup(&entries, "other", "1", "app", "eve"), Some("pw2"));
        assert_eq!(
            lookup(&entries, "host:x", "5432", "zz", "bob"),
            Some("pa:ss\\word")
        );
        assert_eq!(lookup(&entries, "*", "1", "zz", "zz"), Some("literal-star"));
        assert_eq!(
            lookup(&entries, "localhost", "5432", "zz", "zz"),
            Some("local")
        );
        assert_eq!(lookup(&entries, "nowhere", "5432", "zz", "zz"), None);
    }

    #[test]
    fn permissions_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let (entries, warning) = load(&path);
        assert!(entries.is_empty());
        assert!(warning.expect("warning").contains("group or world access"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let (entries, warning) = load(&path);
        assert_eq!(warning, None);
        assert_eq!(lookup(&entries, "h", "1", "d", "u"), Some("secret"));
        assert_eq!(load(&dir.path().join("missing")), (Vec::new(), None));
    }
}
