//! Keeps the hand-maintained documentation in step with the code.
//!
//! - `docs/configuration.md`: the key reference between the `BEGIN KEYS` and
//!   `END KEYS` markers is rendered from [`pgqd::config::KEYS`], so a key
//!   added, removed or changed in the code fails this test until the doc is
//!   refreshed with `PGQD_BLESS=1 cargo test --test docs`. Every TOML and
//!   ini example in the doc must load without problems or warnings, so the
//!   hand-written parts cannot name a key the code does not know.
//! - `etc/pgqd.toml`, the example the package installs, must load cleanly.
//! - `packaging/pgqd.1` must mention every option and subcommand that
//!   `pgqd --help` lists.
//!
//! These tests need no PostgreSQL.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgqd::config::{self, Format, KEYS, KeyInfo, KeyKind};

const BEGIN: &str = "<!-- BEGIN KEYS: generated from src/config/keys.rs by tests/docs.rs; \
                     refresh with PGQD_BLESS=1 cargo test --test docs -->";
const END: &str = "<!-- END KEYS -->";

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    let path = repo_file(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Duration => "duration",
        KeyKind::Text => "string",
        KeyKind::Path => "path",
        KeyKind::Int => "integer",
        KeyKind::Bool => "boolean",
        KeyKind::List => "list of strings",
        KeyKind::Tables => "array of tables (TOML only)",
    }
}

/// The default as the doc shows it: the TOML literal, or "unset".
fn default_text(k: &KeyInfo) -> String {
    if k.default.is_empty() {
        "unset".to_owned()
    } else {
        format!("`{}`", k.default)
    }
}

/// The heading of a key's section, also used as its anchor text.
fn heading(k: &KeyInfo) -> String {
    if k.kind == KeyKind::Tables {
        format!("`[[{}]]`", k.name)
    } else {
        format!("`{}`", k.name)
    }
}

/// The generated key reference, markers included.
fn render_keys() -> String {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n\n");
    out.push_str("| key | type | default | reload | C pgqd |\n");
    out.push_str("|---|---|---|---|---|\n");
    for k in KEYS {
        let _ = writeln!(
            out,
            // The heading's anchor is the bare name: backticks and brackets drop out.
            "| [{}](#{}) | {} | {} | {} | {} |",
            heading(k),
            k.name,
            kind_name(k.kind),
            default_text(k),
            k.reload.describe(),
            if k.legacy { "yes" } else { "no" },
        );
    }
    for k in KEYS {
        let _ = write!(out, "\n### {}\n\n", heading(k));
        let _ = writeln!(out, "- Type: {}", kind_name(k.kind));
        let _ = writeln!(out, "- Default: {}", default_text(k));
        let _ = writeln!(out, "- Reload: {}", k.reload.describe());
        let _ = writeln!(
            out,
            "- Legacy `pgqd.ini`: {}",
            match (k.kind, k.legacy) {
                (KeyKind::Tables, _) => "not available",
                (_, true) => "yes, also known to the C pgqd",
                (_, false) => "yes, but the C pgqd rejects it",
            }
        );
        let _ = write!(out, "\n{}\n", k.description);
    }
    out.push('\n');
    out.push_str(END);
    out
}

/// Splits the doc into the text before, inside and after the markers.
fn split_doc(doc: &str) -> (&str, &str, &str) {
    let start = doc
        .find("<!-- BEGIN KEYS")
        .expect("docs/configuration.md has no BEGIN KEYS marker");
    let end = doc[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .expect("docs/configuration.md has no END KEYS marker after BEGIN KEYS");
    (&doc[..start], &doc[start..end], &doc[end..])
}

#[test]
fn configuration_reference_matches_the_key_table() {
    let path = repo_file("docs/configuration.md");
    let doc = read("docs/configuration.md");
    let (before, generated, after) = split_doc(&doc);
    let expected = render_keys();
    if generated == expected {
        return;
    }
    if std::env::var_os("PGQD_BLESS").is_some() {
        let fresh = format!("{before}{expected}{after}");
        std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let first_diff = generated
        .lines()
        .zip(expected.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| generated.lines().count().min(expected.lines().count()));
    panic!(
        "{} is out of date with src/config/keys.rs (first difference in generated line {}:\n  doc:  {:?}\n  code: {:?}).\n\
         Refresh it with: PGQD_BLESS=1 cargo test --test docs",
        path.display(),
        first_diff + 1,
        generated.lines().nth(first_diff).unwrap_or("<end>"),
        expected.lines().nth(first_diff).unwrap_or("<end>"),
    );
}

#[test]
fn every_key_is_documented_with_its_default() {
    let doc = read("docs/configuration.md");
    let (_, generated, _) = split_doc(&doc);
    for k in KEYS {
        let section = format!("\n### {}\n", heading(k));
        let at = generated
            .find(&section)
            .unwrap_or_else(|| panic!("docs/configuration.md lacks a section for key {}", k.name));
        let body = &generated[at + section.len()..];
        let body = &body[..body.find("\n### ").unwrap_or(body.len())];
        let default = format!("- Default: {}\n", default_text(k));
        assert!(
            body.contains(&default),
            "docs/configuration.md: key {} should show {default:?}",
            k.name
        );
    }
}

#[test]
fn no_unknown_key_is_documented() {
    let doc = read("docs/configuration.md");
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("### `") else {
            continue;
        };
        let name = rest
            .trim_end_matches('`')
            .trim_start_matches("[[")
            .trim_end_matches("]]");
        assert!(
            config::key_info(name).is_some(),
            "docs/configuration.md documents {name:?}, which src/config/keys.rs does not know"
        );
    }
}

/// Fenced code blocks of the given info string, with their starting line.
fn fenced_blocks(doc: &str, lang: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let opener = format!("```{lang}");
    for (n, line) in doc.lines().enumerate() {
        match &mut current {
            None if line.trim_end() == opener => current = Some((n + 2, String::new())),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unterminated ```{lang} block");
    blocks
}

fn assert_examples_load(rel: &str, lang: &str, format: Format) -> usize {
    let doc = read(rel);
    let blocks = fenced_blocks(&doc, lang);
    for (line, text) in &blocks {
        match config::parse_str(text, format) {
            Ok(loaded) => assert!(
                loaded.warnings.is_empty(),
                "{rel}:{line}: the {lang} example loads with warnings: {:?}",
                loaded.warnings
            ),
            Err(e) => panic!("{rel}:{line}: the {lang} example does not load:\n{e}"),
        }
    }
    blocks.len()
}

#[test]
fn configuration_examples_load_cleanly() {
    let toml = assert_examples_load("docs/configuration.md", "toml", Format::Toml);
    let ini = assert_examples_load("docs/configuration.md", "ini", Format::Ini);
    // The check above must not pass vacuously because the fences changed.
    assert!(
        toml >= 3 && ini >= 1,
        "expected TOML and ini examples, found {toml} and {ini}"
    );
}

#[test]
fn operations_examples_load_cleanly() {
    let toml = assert_examples_load("docs/operations.md", "toml", Format::Toml);
    let ini = assert_examples_load("docs/operations.md", "ini", Format::Ini);
    assert!(
        toml >= 1 && ini >= 1,
        "expected TOML and ini examples, found {toml} and {ini}"
    );
}

#[test]
fn packaged_example_config_loads_cleanly() {
    let path = repo_file("etc/pgqd.toml");
    let loaded = config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded.warnings.is_empty(),
        "{}: {:?}",
        path.display(),
        loaded.warnings
    );
}

/// Options (`--name` and `-x`, without dashes) and subcommands listed by
/// `pgqd --help`.
fn help_items() -> (Vec<String>, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_pgqd"))
        .arg("--help")
        .output()
        .expect("running pgqd --help");
    assert!(out.status.success(), "pgqd --help failed: {out:?}");
    let help = String::from_utf8(out.stdout).expect("pgqd --help printed non-UTF-8");
    let mut options = Vec::new();
    let mut commands = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            in_commands = line == "Commands:";
            continue;
        }
        let trimmed = line.trim_start();
        // Command names are indented by two; wrapped descriptions by more.
        if in_commands && line.starts_with("  ") && !line.starts_with("   ") {
            if let Some(name) = trimmed.split_whitespace().next() {
                if name != "help" {
                    commands.push(name.to_owned());
                }
            }
        }
        // Only the option column: the description may quote other options.
        if !trimmed.starts_with('-') {
            continue;
        }
        let column = trimmed.split("  ").next().unwrap_or("");
        for word in column.split(|c: char| c.is_whitespace() || c == ',') {
            let name: String = word
                .trim_start_matches('-')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if word.starts_with('-') && !name.is_empty() && !options.contains(&name) {
                options.push(name);
            }
        }
    }
    (options, commands)
}

/// The tag lines of the man page: the line after each `.TP`, which names
/// the option or command the following paragraph describes.
fn man_tags(man: &str) -> Vec<&str> {
    man.lines()
        .zip(man.lines().skip(1))
        .filter(|(tp, _)| tp.trim_end() == ".TP")
        .map(|(_, tag)| tag)
        .collect()
}

#[test]
fn man_page_covers_every_cli_option_and_command() {
    let man = read("packaging/pgqd.1");
    let tags = man_tags(&man);
    let (options, commands) = help_items();
    assert!(
        options.iter().any(|o| o == "check-config"),
        "pgqd --help parsing found no --check-config: {options:?}"
    );
    for option in &options {
        let dashes = if option.len() == 1 { "\\-" } else { "\\-\\-" };
        let troff = format!("{dashes}{}", option.replace('-', "\\-"));
        // A tag naming the option, not a mention inside another's text.
        let named = |tag: &&str| {
            tag.split(|c: char| c.is_whitespace() || c == '"' || c == ',')
                .any(|word| word == troff)
        };
        assert!(
            tags.iter().any(named),
            "packaging/pgqd.1 has no .TP entry for the option {option} (write it as {troff})"
        );
    }
    for command in &commands {
        let entry = format!(".B {}", command.replace('-', "\\-"));
        assert!(
            tags.iter()
                .any(|t| t.split_whitespace().take(2).eq(entry.split_whitespace())),
            "packaging/pgqd.1 has no .TP entry for the subcommand {command} (a line {entry:?} after .TP)"
        );
    }
}
