//! The render cache (`DIR/.stackc-cache/render.bin`) changes nothing but
//! the time: after each kind of change to a project's inputs, a compile
//! with the cache and the previous artifacts in place writes exactly what
//! a cold compile of the same project writes, byte for byte, and prints the
//! same messages.

mod common;

use std::path::Path;
use std::process::Command;

use common::{compile_quiet, copy_tree, edit, read_tree, repo};

const ENV: &str = "STACKC_RENDER_CACHE_TEST";

fn compile(dir: &Path, out: &Path, env: Option<&str>) -> (Option<i32>, String) {
    compile_quiet(dir, out, |command| {
        command.env_remove(ENV);
        if let Some(value) = env {
            command.env(ENV, value);
        }
    })
}

/// A cold compile of a copy of `dir` (no cache, no artifacts).
fn cold(dir: &Path, env: Option<&str>) -> (std::collections::BTreeMap<String, String>, String) {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir, copy.path());
    let _ = std::fs::remove_dir_all(copy.path().join(".stackc-cache"));
    let out = tempfile::tempdir().unwrap();
    let (code, stderr) = compile(copy.path(), out.path(), env);
    assert_eq!(code, Some(0), "{stderr}");
    let stderr = stderr.replace(copy.path().to_str().unwrap(), "DIR");
    (read_tree(out.path()), stderr)
}

#[test]
fn a_compile_from_the_render_cache_is_a_cold_compile() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    copy_tree(&repo().join("project_template"), dir);
    let _ = std::fs::remove_dir_all(dir.join(".stackc-cache"));
    std::fs::write(
        dir.join("models/staging/stg_env.sql"),
        format!("select '{{{{ env_var('{ENV}', 'unset') }}}}'::text as v\n"),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let cache = dir.join(".stackc-cache/render.bin");
    assert_eq!(compile(dir, out.path(), None).0, Some(0));
    assert!(cache.exists(), "no render cache after a compile");

    type Edit = Box<dyn Fn(&Path)>;
    let edits: Vec<(&str, Option<&str>, Edit)> = vec![
        ("nothing", None, Box::new(|_| {})),
        (
            "a model's body",
            None,
            Box::new(|d| {
                edit(
                    &d.join("models/staging/stg_orders.sql"),
                    "select",
                    "select distinct",
                )
            }),
        ),
        (
            "a var",
            None,
            Box::new(|d| {
                edit(
                    &d.join("stackc.toml"),
                    "lookback_days = 3",
                    "lookback_days = 5",
                )
            }),
        ),
        (
            "a macro",
            None,
            Box::new(|d| {
                edit(
                    &d.join("macros/money.sql"),
                    "numeric(14, 2)",
                    "numeric(16, 2)",
                )
            }),
        ),
        (
            "the schema of upstream models (settings)",
            None,
            Box::new(|d| {
                edit(
                    &d.join("stackc.toml"),
                    "staging = \"staging\"",
                    "staging = \"stage\"",
                )
            }),
        ),
        (
            "an upstream model's own config",
            None,
            Box::new(|d| {
                let path = d.join("models/staging/stg_customers.sql");
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, format!("{{{{ config(schema='crm') }}}}\n{text}")).unwrap();
            }),
        ),
        ("an environment variable", Some("set"), Box::new(|_| {})),
        (
            "the environment variable again",
            Some("other"),
            Box::new(|_| {}),
        ),
        (
            "a damaged cache",
            Some("other"),
            Box::new(|d| {
                let path = d.join(".stackc-cache/render.bin");
                let mut bytes = std::fs::read(&path).unwrap();
                let n = bytes.len();
                bytes[n / 2..].fill(b'x');
                std::fs::write(&path, bytes).unwrap();
            }),
        ),
    ];
    let mut previous = read_tree(out.path());
    for (what, env, change) in edits {
        change(dir);
        let (code, stderr) = compile(dir, out.path(), env);
        assert_eq!(code, Some(0), "{what}: {stderr}");
        let warm = read_tree(out.path());
        let (cold_tree, cold_stderr) = cold(dir, env);
        assert_eq!(stderr, cold_stderr, "{what}: the messages differ");
        for (path, text) in &cold_tree {
            assert_eq!(
                warm.get(path),
                Some(text),
                "{what}: {path} differs from a cold compile's"
            );
        }
        assert_eq!(
            warm.keys().collect::<Vec<_>>(),
            cold_tree.keys().collect::<Vec<_>>(),
            "{what}"
        );
        // Each change reaches the artifacts, so that a stale render would
        // show above.
        if what != "nothing" && what != "a damaged cache" {
            assert_ne!(previous, warm, "{what} changed no artifact");
        }
        previous = warm;
    }
}

#[test]
fn check_writes_no_render_cache() {
    let project = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("project_template"), project.path());
    let _ = std::fs::remove_dir_all(project.path().join(".stackc-cache"));
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stackc"))
        .args([
            "compile",
            project.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--check",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(!project.path().join(".stackc-cache/render.bin").exists());
}
