//! A failing node does not stop `stackc apply`, as it does not stop `dbt
//! build`: the nodes that do not depend on it still run, what is built on
//! it is skipped and reported, and the exit status is 1. `--fail-fast`
//! stops at the first failure. Run on the real PostgreSQL, one new
//! database per test, with `tests/fixtures_apply/dbt_partial` (a dbt
//! project where a view fails when it is created and a table when it is
//! loaded).

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_tree, edit, repo, TestDb};

impl TestDb {
    fn count(&mut self, relation: &str) -> i64 {
        self.client
            .query_one(&format!("select count(*) from {relation}"), &[])
            .unwrap()
            .get(0)
    }

    /// The run history of the last run: (step, node, status, error).
    fn last_run(&mut self) -> Vec<(String, String, String, String)> {
        self.client
            .query(
                "select step, coalesce(node, ''), status, coalesce(error, '')
                 from public.stackc_run_history
                 where run_id = (select max(run_id) from public.stackc_run_history)
                 order by step_no",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }
}

/// `stackc apply DIR --database-url URL ARGS`: exit code, stdout, stderr.
fn apply(dir: &Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackc"));
    cmd.arg("apply")
        .arg(dir)
        .args(["--database-url", url])
        .args(args)
        .env("NO_COLOR", "1");
    for var in ["DATABASE_URL", "PGHOST", "PGDATABASE", "DBT_PROFILES_DIR"] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("the stackc binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/fixtures_apply/dbt_partial"), dir.path());
    dir
}

#[test]
fn a_failed_model_skips_what_is_built_on_it_and_the_rest_still_builds() {
    let mut db = TestDb::new("stackc_partial", "goes_on");
    let project = project();
    let (code, out, err) = apply(project.path(), &db.url, &["--format", "json"]);
    assert_eq!(code, 1, "{err}");

    // The view fails when it is created (its migration), the table when it
    // is loaded (its run step); both are reported, and the apply goes on.
    assert!(
        err.contains("[ 3/18] view app.bad_view ... FAILED"),
        "{err}"
    );
    assert!(
        err.contains("what is built on it is skipped, the rest of the apply goes on"),
        "{err}"
    );
    assert!(err.contains("build app.bad_table ... FAILED"), "{err}");
    for skipped in [
        "view app.after_bad_view ... skipped (upstream app.bad_view failed)",
        "test not_null_bad_view_id ... skipped (upstream app.bad_view failed)",
        "build app.after_bad_table ... skipped (upstream app.bad_table failed)",
        "test unique_bad_table_id ... skipped (upstream app.bad_table failed)",
    ] {
        assert!(err.contains(skipped), "{skipped}:\n{err}");
    }
    assert!(
        err.contains("10 ok, 0 warnings, 2 failed, 4 skipped"),
        "{err}"
    );
    assert!(
        err.contains("failed:\n  view app.bad_view: migrations/R__001_bad_view.sql:"),
        "{err}"
    );
    assert!(
        err.contains("skipped:\n  view app.after_bad_view: upstream app.bad_view failed"),
        "{err}"
    );

    // The independent models are built.
    assert_eq!(db.count("app.good_table"), 2);
    assert!(db.exists("app.good_view"));
    assert!(!db.exists("app.bad_view"));
    assert!(!db.exists("app.after_bad_view"));
    // The failed load was rolled back: the table is there, empty.
    assert_eq!(db.count("app.bad_table"), 0);

    // JSON: the same counts, and why each step was skipped.
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["summary"]["failed"], 2);
    assert_eq!(doc["summary"]["skipped"], 4);
    assert_eq!(doc["summary"]["not_run"], 0);
    let skipped_migration = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "view app.after_bad_view")
        .unwrap();
    assert_eq!(skipped_migration["kind"], "migration");
    assert_eq!(skipped_migration["status"], "skipped");
    assert_eq!(
        skipped_migration["skipped_because"],
        "upstream app.bad_view failed"
    );

    // The run history has every step; the failed and the skipped view have
    // no schema-history row, so the next apply runs them.
    let run = db.last_run();
    let status = |node: &str, step: &str| {
        run.iter()
            .find(|r| r.1 == node && r.0 == step)
            .map(|r| r.2.as_str())
            .unwrap_or("absent")
            .to_string()
    };
    assert_eq!(status("model.partial.bad_view", "migration"), "failed");
    assert_eq!(
        status("model.partial.after_bad_view", "migration"),
        "skipped"
    );
    assert_eq!(status("model.partial.after_bad_table", "table"), "skipped");
    assert_eq!(status("model.partial.good_table", "table"), "success");
    let recorded: Vec<String> = db
        .client
        .query(
            "select script from public.stackc_schema_history where success order by installed_rank",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        !recorded.iter().any(|s| s.contains("bad_view")),
        "{recorded:?}"
    );

    // Fixed, the next apply builds what failed and what was skipped.
    let models = project.path().join("models");
    edit(
        &models.join("bad_view.sql"),
        "no_such_function(n)",
        "abs(n)",
    );
    edit(&models.join("bad_table.sql"), "10 / n", "10 / nullif(n, 0)");
    let (code, _, err) = apply(project.path(), &db.url, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 failed, 0 skipped"), "{err}");
    assert!(err.contains("view app.after_bad_view ... ok"), "{err}");
    assert_eq!(db.count("app.after_bad_view"), 2);
    assert_eq!(db.count("app.after_bad_table"), 2);

    // And a third apply has no migration left to run.
    let (code, _, err) = apply(project.path(), &db.url, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(": 0 migrations to run"), "{err}");
}

#[test]
fn fail_fast_stops_at_a_failed_model_migration() {
    let mut db = TestDb::new("stackc_partial", "fail_fast");
    let project = project();
    let (code, _, err) = apply(project.path(), &db.url, &["-x"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("view app.bad_view ... FAILED"), "{err}");
    assert!(err.contains("the apply stops here"), "{err}");
    assert!(
        err.contains("stopped at the first failure (--fail-fast)"),
        "{err}"
    );
    assert!(err.contains("15 not run"), "{err}");
    // Nothing after the failure ran.
    assert!(!db.exists("app.good_view"));
    assert!(!db.exists("app.good_table"));
}
