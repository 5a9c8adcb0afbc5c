//! No input makes the compiler panic: every file of the sample project is
//! cut short at many points and spliced with stray Jinja/SQL punctuation,
//! and each mangled project must compile to diagnostics or artifacts.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::{copy_tree, read_tree, repo};

const SPLICES: &[&str] = &[
    "{{", "}}", "{%", "%}", "{#", "'", "\"", "(", ")", "--", "/*", "$$", ";", "\n  - ", ":",
    "\u{feff}", "é",
];

/// Char-boundary cut points spread over the text, always including both ends.
fn cut_points(text: &str, count: usize) -> Vec<usize> {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let step = (boundaries.len() / count).max(1);
    boundaries.into_iter().step_by(step).collect()
}

fn compile_must_not_panic(dir: &Path, what: &str) {
    let result = catch_unwind(AssertUnwindSafe(|| stackc::compile(dir)));
    let compilation = result.unwrap_or_else(|_| panic!("compile panicked on {what}"));
    // Whatever happened is either reported or produced artifacts.
    assert!(
        compilation.artifacts.is_some() || compilation.diagnostics.iter().any(|d| d.is_error()),
        "{what}: no artifacts and no error"
    );
}

#[test]
fn mangled_projects_give_diagnostics_not_panics() {
    let template = repo().join("project_template");
    let files = read_tree(&template);
    let work = tempfile::tempdir().unwrap();
    copy_tree(&template, work.path());
    let mut cases = 0;
    for (rel, original) in &files {
        if rel.starts_with("target/") {
            continue;
        }
        let path = work.path().join(rel);
        for (n, at) in cut_points(original, 12).into_iter().enumerate() {
            std::fs::write(&path, &original[..at]).unwrap();
            compile_must_not_panic(work.path(), &format!("{rel} cut at byte {at}"));
            let splice = SPLICES[n % SPLICES.len()];
            let spliced = format!("{}{splice}{}", &original[..at], &original[at..]);
            std::fs::write(&path, &spliced).unwrap();
            compile_must_not_panic(work.path(), &format!("{rel} with {splice:?} at byte {at}"));
            cases += 2;
        }
        std::fs::write(&path, original).unwrap();
    }
    assert!(cases > 300, "only {cases} cases");
}

/// A project of one model (and optionally one migration) in a fresh folder.
fn one_model_project(model: &str, migration: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stackc.toml"),
        "[project]\nname = \"deep\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("models/staging")).unwrap();
    std::fs::write(dir.path().join("models/staging/m.sql"), model).unwrap();
    if let Some(sql) = migration {
        std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
        std::fs::write(dir.path().join("migrations/V1__deep.sql"), sql).unwrap();
    }
    dir
}

/// `stackc compile` of `dir` in JSON: the exit status and the diagnostics.
fn compile_json(dir: &Path) -> (Option<i32>, Vec<serde_json::Value>) {
    let out = tempfile::tempdir().unwrap();
    let output = common::stackc(&[
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let diagnostics = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (output.status.code(), diagnostics)
}

/// The inputs of issue 11 that overflowed the stack and aborted (exit 134):
/// each is now one diagnostic on the user's line.
#[test]
fn deep_expressions_are_diagnostics_on_their_line() {
    let signs = format!("select\n  {{{{ {}1 }}}}\n", "-".repeat(5000));
    let sum = format!("select\n  {{{{ {} }}}}\n", vec!["1"; 6500].join(" + "));
    let sql = format!("select\n  1{}\n", " + a".repeat(33_000));
    let cases = [
        (
            "5,000 signs",
            one_model_project(&signs, None),
            "E0120",
            "error",
        ),
        (
            "6,500 Jinja terms",
            one_model_project(&sum, None),
            "E0120",
            "error",
        ),
        (
            "33,000 SQL terms",
            one_model_project(&sql, None),
            "E0220",
            "error",
        ),
        (
            "33,000 terms in a migration",
            one_model_project("select 1\n", Some(&sql)),
            "W0202",
            "warning",
        ),
    ];
    for (what, dir, code, severity) in cases {
        let (status, diagnostics) = compile_json(dir.path());
        let expected = if severity == "error" { 1 } else { 0 };
        assert_eq!(status, Some(expected), "{what}: {diagnostics:?}");
        assert_eq!(diagnostics.len(), 1, "{what}: {diagnostics:?}");
        let d = &diagnostics[0];
        assert_eq!(d["code"], code, "{what}: {d}");
        assert_eq!(d["severity"], severity, "{what}: {d}");
        assert_eq!(d["location"]["line"], 2, "{what}: {d}");
        assert!(
            d["message"].as_str().unwrap().contains("nested too deeply"),
            "{what}: {d}"
        );
    }
}

/// Three nested loops of 10,000 would render for hours; the render stops
/// when its budget is spent, at the loop's line.
#[test]
fn a_render_that_never_ends_is_stopped_at_its_line() {
    let model = "select\n{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}{% endfor %}{% endfor %}{% endfor %}\n1\n";
    let dir = one_model_project(model, None);
    let started = std::time::Instant::now();
    let (status, diagnostics) = compile_json(dir.path());
    assert_eq!(status, Some(1), "{diagnostics:?}");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "E0121");
    assert_eq!(diagnostics[0]["location"]["line"], 2);
    // A debug build on a shared machine: far below hours, with room.
    assert!(started.elapsed().as_secs() < 120);
}

/// A server that accepts TCP connections and never says a word: `apply`
/// and `apply --dry-run` give up after the connect timeout (from the URL or
/// PGCONNECT_TIMEOUT) with one line, instead of waiting forever.
#[test]
fn apply_gives_up_on_a_server_that_never_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Holds every connection open, unanswered, until the test ends.
        let mut held = Vec::new();
        for stream in listener.incoming().take(16) {
            held.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(120));
    });
    let template = repo().join("project_template");
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: [Case; 3] = [
        (
            "--dry-run, PGCONNECT_TIMEOUT=1, sslmode=prefer",
            vec![
                ("DATABASE_URL", format!("postgres://u@127.0.0.1:{port}/db")),
                ("PGCONNECT_TIMEOUT", "1".into()),
            ],
            "--dry-run",
        ),
        (
            "connect_timeout=2 in the URL",
            vec![(
                "DATABASE_URL",
                format!("postgres://u@127.0.0.1:{port}/db?connect_timeout=2&sslmode=disable"),
            )],
            "--full-refresh",
        ),
        (
            "PGHOST and PGPORT",
            vec![
                ("PGHOST", "127.0.0.1".into()),
                ("PGPORT", port.to_string()),
                ("PGUSER", "u".into()),
                ("PGCONNECT_TIMEOUT", "1".into()),
            ],
            "--dry-run",
        ),
    ];
    for (what, env, flag) in cases {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_stackc"));
        command
            .args(["apply", template.to_str().unwrap(), flag])
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in &env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(90) {
                let _ = child.kill();
                panic!("{what}: apply still waiting after 90 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
        let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error.len(), 1, "{what}: {stderr}");
        assert!(error[0].contains("no answer within"), "{what}: {stderr}");
    }
}

/// Control characters, each as `\uXXXX` (TOML, YAML and Jinja strings all
/// read that escape): line breaks, a tab, NUL, ESC, DEL and NEL.
const HOSTILE: &[&str] = &[
    "\\u000a", "\\u000d", "\\u0009", "\\u0000", "\\u001b", "\\u007f", "\\u0085",
];

/// Every place a user writes a name that reaches SQL, an artifact's name or
/// its comments: (what, file to write, its text with `H` for the hostile
/// escape, the line E0010 must be reported at).
const ENTRY_POINTS: &[(&str, &str, &str, usize)] = &[
    (
        "layer schema",
        "stackc.toml",
        "[layers]\nstaging = \"stgH\"\n",
        4,
    ),
    (
        "layer name",
        "stackc.toml",
        "[layers]\n\"stgH\" = \"stg\"\n",
        4,
    ),
    (
        "seeds schema",
        "stackc.toml",
        "[seeds]\nschema = \"sH\"\n",
        4,
    ),
    (
        "history schema",
        "stackc.toml",
        "[history]\nschema = \"hH\"\n",
        4,
    ),
    (
        "history table",
        "stackc.toml",
        "[history]\ntable = \"hH\"\n",
        4,
    ),
    (
        "folder schema",
        "stackc.toml",
        "[models.staging]\nschema = \"mH\"\n",
        4,
    ),
    (
        "folder name",
        "stackc.toml",
        "[models.\"stH\"]\nmaterialized = \"table\"\n",
        3,
    ),
    (
        "config schema",
        "models/staging/a.sql",
        "{{ config(schema='mH') }}\nselect 1 as id\n",
        1,
    ),
    (
        "config alias",
        "models/staging/a.sql",
        "\n{{ config(alias='aH') }}\nselect 1 as id\n",
        2,
    ),
    (
        "config tags",
        "models/staging/a.sql",
        "{{ config(tags=['tH']) }}\nselect 1 as id\n",
        1,
    ),
    (
        "config unique_key",
        "models/staging/a.sql",
        "{{ config(materialized='incremental', unique_key='idH') }}\nselect 1 as id\n",
        1,
    ),
    (
        "schema-file column",
        "models/staging/_a.yml",
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: \"idH\"\n",
        5,
    ),
    (
        "source schema",
        "models/staging/_s.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: \"rH\"\n    tables:\n      - name: t\n",
        3,
    ),
];

/// The dbt entry points: dbt_project.yml's `+schema`/`+alias`, and a name a
/// project's `generate_schema_name` makes up (reported at the model).
const DBT_ENTRY_POINTS: &[(&str, &str, &str, usize)] = &[
    (
        "+schema",
        "dbt_project.yml",
        "models:\n  fx:\n    +schema: \"sH\"\n",
        5,
    ),
    (
        "+alias",
        "dbt_project.yml",
        "models:\n  fx:\n    staging:\n      +alias: \"aH\"\n",
        6,
    ),
    (
        "generate_schema_name",
        "macros/s.sql",
        "{% macro generate_schema_name(custom, node) %}{{ 'xHy' }}{% endmacro %}\n",
        1,
    ),
];

#[test]
fn control_characters_in_names_are_refused_at_their_line() {
    let mut cases = 0;
    for (dbt, points) in [(false, ENTRY_POINTS), (true, DBT_ENTRY_POINTS)] {
        for &(what, file, text, line) in points {
            for hostile in HOSTILE {
                let dir = tempfile::tempdir().unwrap();
                let root = dir.path();
                std::fs::create_dir_all(root.join("models/staging")).unwrap();
                std::fs::create_dir_all(root.join("seeds")).unwrap();
                std::fs::create_dir_all(root.join("macros")).unwrap();
                std::fs::write(root.join("models/staging/a.sql"), "select 1 as id\n").unwrap();
                std::fs::write(root.join("seeds/s.csv"), "id\n1\n").unwrap();
                let config = if dbt {
                    "dbt_project.yml"
                } else {
                    "stackc.toml"
                };
                let head = if dbt {
                    "name: fx\nprofile: fx\n"
                } else {
                    "[project]\nname = \"fx\"\n"
                };
                std::fs::write(root.join(config), head).unwrap();
                if dbt {
                    std::fs::write(
                        root.join("profiles.yml"),
                        "fx:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: localhost\n      user: u\n      dbname: d\n      schema: analytics\n",
                    )
                    .unwrap();
                }
                let path = root.join(file);
                let mut body = text.replace('H', hostile);
                if file == config {
                    body = format!("{head}{body}");
                }
                std::fs::write(&path, body).unwrap();
                let compilation = stackc::compile(root);
                let case = format!("{what} with {hostile}");
                let found = compilation
                    .diagnostics
                    .iter()
                    .find(|d| d.code == stackc::diagnostic::Code::E0010);
                let Some(d) = found else {
                    panic!(
                        "{case}: no E0010; got {:?}",
                        compilation
                            .diagnostics
                            .iter()
                            .map(|d| format!("{} {}", d.code, d.message))
                            .collect::<Vec<_>>()
                    );
                };
                assert!(
                    compilation.artifacts.is_none(),
                    "{case}: artifacts were made"
                );
                let span = d.primary.as_ref().expect("E0010 has a place");
                // A made-up name has no line of its own: it is the model's.
                let file = if file.starts_with("macros/") {
                    "models/staging/a.sql"
                } else {
                    file
                };
                assert_eq!(&*span.file, file, "{case}: {}", d.message);
                let source = std::fs::read_to_string(root.join(file)).unwrap();
                let at = source[..span.range.start].matches('\n').count() + 1;
                assert_eq!(at, line, "{case}: {}", d.message);
                cases += 1;
            }
        }
    }
    assert_eq!(
        cases,
        (ENTRY_POINTS.len() + DBT_ENTRY_POINTS.len()) * HOSTILE.len()
    );
}
