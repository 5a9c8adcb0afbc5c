//! Diagnostics end to end: every folder in `tests/fixtures/` is a small
//! project compiled by the real binary, in human and in JSON format, and the
//! output is pinned with insta snapshots beside this file
//! (`tests/snapshots/diagnostics__human@<fixture>.snap`, `..json@..`).
//! Adding a case is adding a folder; `glob!` finds it.
//!
//! The folder name says what the fixture must produce:
//! - `err_e0301_...`: exit 1 and an error E0301 (among possibly others);
//! - `warn_w0203_...`: exit 0, a warning W0203 and no error;
//! - `ok_...`: exit 0 and no diagnostic at all;
//! - `err_<words>` without a code: exit 1 and at least one error.
//!
//! Review new snapshots with `cargo insta review`. A snapshot whose fixture
//! is gone fails `snapshots_belong_to_fixtures` (what `cargo insta test
//! --unreferenced reject` checks, without needing cargo-insta).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What the folder name promises.
#[derive(Debug, PartialEq)]
enum Expect {
    Ok,
    Warning(String),
    Error(Option<String>),
}

fn expectation(name: &str) -> Expect {
    let mut parts = name.split('_');
    let kind = parts.next().unwrap_or_default();
    let code = parts.next().filter(|c| {
        c.len() == 5
            && (c.starts_with('e') || c.starts_with('w'))
            && c[1..].bytes().all(|b| b.is_ascii_digit())
    });
    let code = code.map(str::to_ascii_uppercase);
    match (kind, code) {
        ("ok", None) => Expect::Ok,
        ("warn", Some(code)) if code.starts_with('W') => Expect::Warning(code),
        ("err", code) if code.as_deref().is_none_or(|c| c.starts_with('E')) => Expect::Error(code),
        _ => panic!(
            "fixture `{name}` must be named ok_<what>, warn_w<code>_<what>, err_e<code>_<what> or err_<what>"
        ),
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Fixture folder names, sorted so that runs are reproducible.
fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .map(|entry| entry.expect("readable fixture entry"))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
    /// Whether the compile wrote a manifest into its output folder.
    wrote_artifacts: bool,
}

/// `stackc compile tests/fixtures/<name> --out <tmp> --format <format>`, run
/// from the crate root, with the temporary folder replaced by `[TMP]`.
fn compile(name: &str, format: &str) -> Run {
    let out = tempfile::tempdir().expect("temporary folder");
    let output = Command::new(env!("CARGO_BIN_EXE_stackc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("compile")
        .arg(format!("tests/fixtures/{name}"))
        .arg("--out")
        .arg(out.path())
        .args(["--format", format])
        .env("NO_COLOR", "1")
        // err_e0104 needs this variable unset, whatever the caller's shell has.
        .env_remove("STACKC_FIXTURE_UNSET_REGION")
        .output()
        .expect("run the stackc binary");
    let tmp = out.path().to_string_lossy().into_owned();
    let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&tmp, "[TMP]");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: clean(&output.stdout),
        stderr: clean(&output.stderr),
        wrote_artifacts: out.path().join("manifest.json").exists(),
    }
}

/// The diagnostics of a `--format json` run: one JSON object a line.
fn json_diagnostics(name: &str, stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: stdout line is not JSON ({e}): {line}"))
        })
        .collect()
}

fn check_fixture(name: &str) {
    let human = compile(name, "human");
    let json = compile(name, "json");
    let again = compile(name, "json");
    assert_eq!(
        json.stdout, again.stdout,
        "{name}: output differs between two runs"
    );

    insta::with_settings!({
        omit_expression => true,
        description => format!("stackc compile tests/fixtures/{name}"),
    }, {
        // Inside `glob!` a mismatch is counted, not raised, so both
        // snapshots are compared (and new ones stored) before the test fails.
        insta::assert_snapshot!(
            "human",
            format!("exit status: {}\n{}", human.status, human.stderr)
        );
        insta::assert_snapshot!("json", json.stdout);
    });

    assert_eq!(
        human.status, json.status,
        "{name}: exit status depends on --format"
    );
    assert!(
        human.stdout.is_empty(),
        "{name}: human format printed to stdout:\n{}",
        human.stdout
    );
    let diagnostics = json_diagnostics(name, &json.stdout);
    let has = |code: &str, severity: &str| {
        diagnostics
            .iter()
            .any(|d| d["code"] == code && d["severity"] == severity)
    };
    let errors = diagnostics
        .iter()
        .filter(|d| d["severity"] == "error")
        .count();
    for d in &diagnostics {
        assert!(
            d["help"].is_string(),
            "{name}: every diagnostic should say how to fix it: {d}"
        );
    }
    match expectation(name) {
        Expect::Ok => {
            assert_eq!(human.status, 0, "{name}: exit status\n{}", human.stderr);
            assert!(
                diagnostics.is_empty(),
                "{name}: expected no diagnostics, got\n{}",
                json.stdout
            );
            assert!(
                human.stderr.starts_with("compiled ") && human.stderr.lines().count() == 1,
                "{name}: expected only the summary line, got\n{}",
                human.stderr
            );
            assert!(human.wrote_artifacts, "{name}: no manifest.json written");
        }
        Expect::Warning(code) => {
            assert_eq!(
                human.status, 0,
                "{name}: warnings must not fail the compile\n{}",
                human.stderr
            );
            assert!(
                has(&code, "warning"),
                "{name}: expected warning {code}, got\n{}",
                json.stdout
            );
            assert_eq!(
                errors, 0,
                "{name}: expected no errors, got\n{}",
                json.stdout
            );
            assert!(human.wrote_artifacts, "{name}: no manifest.json written");
        }
        Expect::Error(code) => {
            assert_eq!(human.status, 1, "{name}: exit status\n{}", human.stderr);
            match code {
                Some(code) => assert!(
                    has(&code, "error"),
                    "{name}: expected error {code}, got\n{}",
                    json.stdout
                ),
                None => assert!(errors > 0, "{name}: expected errors, got\n{}", json.stdout),
            }
            assert!(
                !human.wrote_artifacts,
                "{name}: artifacts written despite errors"
            );
        }
    }
}

#[test]
fn fixture_names_follow_the_convention() {
    assert_eq!(expectation("ok_postgres_syntax"), Expect::Ok);
    assert_eq!(
        expectation("warn_w0203_hard_coded"),
        Expect::Warning("W0203".into())
    );
    assert_eq!(
        expectation("err_e0301_unknown_ref"),
        Expect::Error(Some("E0301".into()))
    );
    assert_eq!(expectation("err_many_errors"), Expect::Error(None));
    for name in fixture_names() {
        expectation(&name);
    }
}

#[test]
fn every_fixture_matches_its_snapshots() {
    insta::glob!("fixtures/*", |path| {
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy();
            check_fixture(&name);
        }
    });
}

/// Every snapshot in `tests/snapshots/` is one of a fixture's two.
#[test]
fn snapshots_belong_to_fixtures() {
    let names = fixture_names();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots");
    let mut unreferenced = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/snapshots exists") {
        let file = entry.expect("readable entry").file_name();
        let file = file.to_string_lossy();
        let fixture = ["diagnostics__human@", "diagnostics__json@"]
            .iter()
            .find_map(|prefix| file.strip_prefix(prefix)?.strip_suffix(".snap"));
        if !fixture.is_some_and(|f| names.iter().any(|n| n == f)) {
            unreferenced.push(file.into_owned());
        }
    }
    assert!(
        unreferenced.is_empty(),
        "snapshots no test makes; delete them: {}",
        unreferenced.join(", ")
    );
}

/// `docs/diagnostics.md` has a section for every code a fixture is named
/// after, and every human-format example in it is still what the compiler
/// prints (it appears verbatim in one of the snapshots).
#[test]
fn the_diagnostics_page_matches_the_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs").join("diagnostics.md"))
        .expect("docs/diagnostics.md exists");
    for name in fixture_names() {
        let code = match expectation(&name) {
            Expect::Warning(code) | Expect::Error(Some(code)) => code,
            Expect::Ok | Expect::Error(None) => continue,
        };
        assert!(
            page.contains(&format!("\n### {code}\n")),
            "docs/diagnostics.md has no `### {code}` section (fixture {name})"
        );
    }
    let snapshots: String = fixture_names()
        .iter()
        .filter_map(|name| {
            let file = format!("diagnostics__human@{name}.snap");
            std::fs::read_to_string(root.join("tests").join("snapshots").join(file)).ok()
        })
        .collect();
    let mut stale = Vec::new();
    for block in page.split("```text\n").skip(1) {
        let example = block.split("```").next().unwrap_or_default();
        // GitHub-format examples are not snapshotted.
        if !example.starts_with("::") && !snapshots.contains(example) {
            stale.push(example.lines().next().unwrap_or_default().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "examples in docs/diagnostics.md no longer match tests/snapshots/diagnostics__human@*.snap; copy the new output from the snapshots:\n{}",
        stale.join("\n")
    );
}

/// `--color` wins; without it (auto) `NO_COLOR` turns colour off and
/// `CLICOLOR_FORCE` turns it on where stderr is no terminal (as here).
#[test]
fn colour_follows_the_flag_and_the_environment() {
    let coloured = |args: &[&str], env: &[(&str, &str)]| {
        let out = tempfile::tempdir().expect("temporary folder");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackc"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["compile", "tests/fixtures/err_e0301_unknown_ref", "--out"])
            .arg(out.path())
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run the stackc binary");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(stderr.contains("error[E0301]"), "{stderr}");
        stderr.contains("\x1b[")
    };
    assert!(!coloured(&[], &[]), "not a terminal: no colour");
    assert!(coloured(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(
        &[],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(coloured(&["--color", "always"], &[("NO_COLOR", "1")]));
    assert!(!coloured(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    assert!(coloured(&["--color=always"], &[]));
}
