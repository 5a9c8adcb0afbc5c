//! `stackc apply` and `stackc test` against a real PostgreSQL: the real
//! binary, one new database per test (dropped at the end).
//!
//! The server is `STACKC_TEST_DATABASE_URL` (default: the local trust-auth
//! server at 127.0.0.1:5432, user postgres).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{copy_tree, repo, TestDb};
use postgres::{Client, NoTls};
use stackc::apply::history::flyway_checksum;

impl TestDb {
    fn count(&mut self, sql: &str) -> i64 {
        self.client.query_one(sql, &[]).unwrap().get(0)
    }

    /// (script, checksum, success) of every migration row, in rank order.
    fn history(&mut self) -> Vec<(String, Option<i32>, bool)> {
        if !self.exists("public.stackc_schema_history") {
            return Vec::new();
        }
        self.client
            .query(
                "select script, checksum, success from public.stackc_schema_history order by installed_rank",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    fn run_history(&mut self) -> Vec<(i64, String, String, String)> {
        if !self.exists("public.stackc_run_history") {
            return Vec::new();
        }
        self.client
            .query(
                "select run_id, file, status, coalesce(error, '') from public.stackc_run_history order by run_id, step_no",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    /// Every table and view of the project's schemas, with a digest of its
    /// contents: equal digests, equal contents.
    fn contents(&mut self, schemas: &[&str]) -> BTreeMap<String, String> {
        let schemas: Vec<String> = schemas.iter().map(|s| s.to_string()).collect();
        let relations: Vec<String> = self
            .client
            .query(
                "select quote_ident(table_schema) || '.' || quote_ident(table_name)
                 from information_schema.tables where table_schema = any($1) order by 1",
                &[&schemas],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        relations
            .into_iter()
            .map(|rel| {
                let digest: String = self
                    .client
                    .query_one(
                        &format!(
                            "select count(*) || ':' || md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from {rel} t"
                        ),
                        &[],
                    )
                    .unwrap()
                    .get(0);
                (rel, digest)
            })
            .collect()
    }
}

/// The binary with no connection settings from the test's own environment.
fn stackc_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackc"));
    cmd.args(args).env("NO_COLOR", "1");
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
        "ANALYTICS_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn run(cmd: &mut Command) -> Run {
    let out: Output = cmd.output().expect("the stackc binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn apply(dir: &Path, url: &str, extra: &[&str]) -> Run {
    let mut args = vec!["apply", dir.to_str().unwrap(), "--database-url", url];
    args.extend_from_slice(extra);
    run(&mut stackc_cmd(&args))
}

fn assert_code(r: &Run, code: i32) {
    assert_eq!(
        r.code,
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        r.stdout,
        r.stderr
    );
}

fn template() -> PathBuf {
    repo().join("project_template")
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures_apply").join(name)
}

/// A copy of a project that a test may edit.
fn copy_of(project: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(project, dir.path());
    dir
}

fn compile_manifest(project: &Path) -> serde_json::Value {
    let out = tempfile::tempdir().unwrap();
    let r = run(&mut stackc_cmd(&[
        "compile",
        project.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]));
    assert_code(&r, 0);
    let text = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Raw rows that pass every test of the sample project.
const TEMPLATE_ROWS: &str = "
insert into raw.products (product_id, sku, name, category, unit_price) values
    (1, 'SKU-1', 'Pen', 'BOOK', 2.50), (2, ' sku-2', 'Lamp', 'home', 30.00);
insert into raw.customers (customer_id, email, full_name, country_code, signup_date) values
    (1, 'A@x.org ', 'Ann', 'DE', '2024-01-02'), (2, 'b@y.org', '', 'FR', '2024-03-04');
insert into raw.orders (order_id, customer_id, order_date, status, channel) values
    (1, 1, '2024-02-01', 'placed', 'web'), (2, 2, '2024-03-05', 'shipped', 'store'),
    (3, 2, '2024-03-06', 'cancelled', 'web');
insert into raw.sales (sale_id, order_id, product_id, sku, quantity, unit_price, discount, sold_at) values
    (1, 1, 1, 'SKU-1', 3, 2.50, 0, '2024-02-01 10:00+00'),
    (2, 2, 2, 'sku-2', 1, 30.00, 5, '2024-03-05 12:00+00'),
    (3, 3, 1, 'SKU-1', 1, 2.50, 0, '2024-03-06 09:00+00');
";

const TEMPLATE_SCHEMAS: &[&str] = &["raw", "seeds", "staging", "marts"];

#[test]
fn template_applies_and_a_second_apply_changes_nothing() {
    let mut db = TestDb::new("stackc_apply", "template");
    let manifest = compile_manifest(&template());
    let migrations = manifest["migrations"].as_array().unwrap();

    // A dry run lists everything and touches nothing, not even the history.
    let dry = apply(&template(), &db.url, &["--dry-run"]);
    assert_code(&dry, 0);
    assert!(
        dry.stdout
            .contains("migration V1__create_raw_schema.sql: pending"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("view staging.stg_orders (R__001_stg_orders.sql): new"),
        "{}",
        dry.stdout
    );
    assert!(!db.exists("public.stackc_schema_history"));
    assert!(!db.exists("raw.orders"));

    let first = apply(&template(), &db.url, &[]);
    assert_code(&first, 0);
    // Every migration, in Flyway's order, once, with Flyway's checksum.
    let expected: Vec<(String, Option<i32>, bool)> = migrations
        .iter()
        .map(|m| {
            let file = template().join(m["source"].as_str().unwrap_or("-"));
            let text = std::fs::read_to_string(&file).ok();
            let checksum = text.map(|t| flyway_checksum(&t));
            (m["script"].as_str().unwrap().to_string(), checksum, true)
        })
        .collect();
    let history = db.history();
    assert_eq!(history.len(), expected.len(), "{history:?}");
    for (got, want) in history.iter().zip(&expected) {
        assert_eq!(got.0, want.0);
        assert!(got.2, "{got:?}");
        if want.1.is_some() {
            // The project's own files: the checksum Flyway computes for them.
            assert_eq!(got.1, want.1, "{}", got.0);
        }
    }
    assert!(
        first
            .stderr
            .contains("] migration V1__create_raw_schema.sql ... ok"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("view staging.stg_orders ... ok"),
        "{}",
        first.stderr
    );

    // Rows arrive in the raw layer; the next apply loads the marts.
    db.client.batch_execute(TEMPLATE_ROWS).unwrap();
    let second = apply(&template(), &db.url, &[]);
    assert_code(&second, 0);
    assert!(
        second.stderr.contains("0 migrations to run"),
        "{}",
        second.stderr
    );
    assert_eq!(db.history(), history, "a second apply runs no migration");
    assert_eq!(db.count("select count(*) from marts.fact_sales"), 2);
    assert_eq!(db.count("select count(*) from marts.dim_customers"), 2);
    assert_eq!(
        db.count("select count(*) from marts.daily_sales_summary"),
        2
    );
    assert!(
        second.stderr.contains(
            "incremental marts.fact_sales (first load: marts.fact_sales is empty) ... ok"
        ),
        "{}",
        second.stderr
    );
    let before = db.contents(TEMPLATE_SCHEMAS);
    for rel in [
        "raw.sales",
        "seeds.product_categories",
        "staging.stg_sales",
        "marts.fact_sales",
    ] {
        assert!(before.contains_key(rel), "{before:?}");
    }

    // And once more, with a JSON report: nothing changes.
    let third = apply(&template(), &db.url, &["--format", "json"]);
    assert_code(&third, 0);
    assert_eq!(db.history(), history);
    assert_eq!(db.contents(TEMPLATE_SCHEMAS), before);
    assert!(
        third.stderr.contains(
            "incremental marts.fact_sales (incremental: marts.fact_sales has rows) ... ok"
        ),
        "{}",
        third.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&third.stdout).unwrap();
    assert_eq!(report["status"], "success");
    let items = report["items"].as_array().unwrap();
    // Every step but VACUUM runs; VACUUM only after a step that changed rows.
    let data_steps = manifest["run_order"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"] != "vacuum")
        .count();
    assert_eq!(
        items.iter().filter(|i| i["kind"] != "vacuum").count(),
        data_steps
    );
    assert!(items.iter().all(|i| i["status"] == "success"), "{report}");
    assert_eq!(report["summary"]["migrations"], 0);

    // Every step of every run is in the run history.
    let runs = db.run_history();
    let run_ids: BTreeSet<i64> = runs.iter().map(|r| r.0).collect();
    assert_eq!(run_ids.len(), 3);
    let third_id = report["run_id"].as_i64().unwrap();
    let third_steps: Vec<_> = runs.iter().filter(|r| r.0 == third_id).collect();
    assert_eq!(third_steps.len(), items.len());
    assert!(third_steps.iter().all(|r| r.2 == "success"));

    // A full refresh reloads the incremental model from scratch: same rows.
    let full = apply(&template(), &db.url, &["--full-refresh"]);
    assert_code(&full, 0);
    assert!(
        full.stderr
            .contains("incremental marts.fact_sales (full refresh: --full-refresh) ... ok"),
        "{}",
        full.stderr
    );
    assert_eq!(db.contents(TEMPLATE_SCHEMAS), before);
    let runs = db.run_history();

    // The dry run of an up-to-date database says so.
    let dry = apply(&template(), &db.url, &["--dry-run"]);
    assert_code(&dry, 0);
    assert!(dry.stdout.contains("no migration to run"), "{}", dry.stdout);
    assert_eq!(
        db.run_history().len(),
        runs.len(),
        "a dry run records nothing"
    );
}

/// The migration files of a model and of every model downstream of it.
fn migration_artifacts_of(manifest: &serde_json::Value, model: &str) -> BTreeSet<String> {
    let mut todo = vec![model.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for child in manifest["child_map"][&id].as_array().into_iter().flatten() {
            todo.push(child.as_str().unwrap().to_string());
        }
    }
    seen.iter()
        .filter(|id| id.starts_with("model."))
        .flat_map(|id| {
            manifest["nodes"][id]["artifacts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|a| {
            a.as_str()
                .and_then(|a| a.strip_prefix("migrations/"))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn changing_a_model_reruns_only_its_file_and_its_dependents() {
    let mut db = TestDb::new("stackc_apply", "change");
    let project = copy_of(&template());
    assert_code(&apply(project.path(), &db.url, &[]), 0);
    let before = db.history();

    let model = project.path().join("models/staging/stg_products.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    let edited = text.replace(
        "trim(name) as product_name",
        "initcap(trim(name)) as product_name",
    );
    assert_ne!(edited, text);
    std::fs::write(&model, edited).unwrap();

    let r = apply(project.path(), &db.url, &[]);
    assert_code(&r, 0);
    let after = db.history();
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "the history only grows"
    );
    let reran: BTreeSet<String> = after[before.len()..].iter().map(|h| h.0.clone()).collect();
    let manifest = compile_manifest(project.path());
    let expected = migration_artifacts_of(&manifest, "model.analytics.stg_products");
    assert_eq!(
        expected,
        BTreeSet::from([
            "R__001_stg_products.sql".to_string(),
            "R__002_dim_products.sql".to_string(),
            "R__003_daily_sales_summary.sql".to_string(),
        ])
    );
    assert_eq!(reran, expected, "{}", r.stderr);
    assert!(
        r.stderr.contains("view staging.stg_products ... ok"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_failing_migration_leaves_nothing_behind_and_is_located() {
    let mut db = TestDb::new("stackc_apply", "broken");
    let r = apply(&fixture("broken_migration"), &db.url, &[]);
    assert_code(&r, 1);
    // Located in the artifact (the file is copied verbatim, so in the
    // project's file too), with the server's message and SQLSTATE.
    assert!(
        r.stderr.contains(
            "migrations/V2__broken.sql:6:16: error[42P01]: relation \"raw.does_not_exist\" does not exist"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("6 | select id from raw.does_not_exist;"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("  source: migrations/V2__broken.sql:6:16"),
        "{}",
        r.stderr
    );
    // Nothing of V2 remains, V3 did not run, and only V1 is in the history.
    assert!(db.exists("raw.ok"));
    assert!(
        !db.exists("raw.first"),
        "the first statement was rolled back"
    );
    assert!(
        !db.exists("raw.second"),
        "the second statement was rolled back"
    );
    assert!(!db.exists("raw.after"), "the apply stopped at the failure");
    let history = db.history();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].0, "V1__create_raw.sql");
    // The failure is in the run history, with its location.
    let runs = db.run_history();
    assert!(
        runs.iter().any(|r| r.1 == "migrations/V2__broken.sql"
            && r.2 == "failed"
            && r.3.contains("V2__broken.sql:6:16")),
        "{runs:?}"
    );
}

#[test]
fn drift_is_refused_and_changes_nothing() {
    let mut db = TestDb::new("stackc_apply", "drift");
    let project = copy_of(&template());
    assert_code(&apply(project.path(), &db.url, &[]), 0);
    let history = db.history();
    let runs = db.run_history();
    let contents = db.contents(TEMPLATE_SCHEMAS);

    let v = project
        .path()
        .join("migrations/V1.1__create_raw_products.sql");
    let old = std::fs::read_to_string(&v).unwrap();
    let new = format!("{old}\ncreate table raw.sneaky (id int);\n");
    std::fs::write(&v, &new).unwrap();
    // A pending change elsewhere must not run either.
    let model = project.path().join("models/staging/stg_orders.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, format!("{text}\n-- edited\n")).unwrap();

    let r = apply(project.path(), &db.url, &[]);
    assert_code(&r, 1);
    assert!(
        r.stderr
            .contains("V1.1__create_raw_products.sql was changed after it was applied"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&flyway_checksum(&old).to_string()),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&flyway_checksum(&new).to_string()),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("help: "), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was run"), "{}", r.stderr);
    assert_eq!(db.history(), history);
    assert_eq!(db.run_history(), runs);
    assert_eq!(db.contents(TEMPLATE_SCHEMAS), contents);
    assert!(!db.exists("raw.sneaky"));
}

#[test]
fn two_applies_at_once_never_interleave() {
    let mut db = TestDb::new("stackc_apply", "concurrent");
    let spawn = || {
        stackc_cmd(&[
            "apply",
            template().to_str().unwrap(),
            "--database-url",
            &db.url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let a = spawn();
    let b = spawn();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let history = db.history();
    let scripts: BTreeSet<&str> = history.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(
        scripts.len(),
        history.len(),
        "each migration once: {history:?}"
    );
    let expected = compile_manifest(&template())["migrations"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(history.len(), expected);
    // The two runs did not overlap: one ended before the other began.
    let spans: Vec<(i64, f64, f64)> = db
        .client
        .query(
            "select run_id, extract(epoch from min(started_at))::float8,
                    extract(epoch from max(started_at + duration_ms * interval '1 ms'))::float8
             from public.stackc_run_history group by run_id order by run_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(
        spans[0].2 <= spans[1].1 + 0.01 || spans[1].2 <= spans[0].1 + 0.01,
        "the runs overlap: {spans:?}"
    );
}

#[test]
fn a_killed_apply_is_finished_by_the_next_one() {
    let mut db = TestDb::new("stackc_apply", "crash");
    let mut reference = TestDb::new("stackc_apply", "crash_reference");
    let project = fixture("slow");
    // The uninterrupted run, meanwhile, in its own database.
    let reference_run = stackc_cmd(&[
        "apply",
        project.to_str().unwrap(),
        "--database-url",
        &reference.url,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();

    let mut victim = stackc_cmd(&[
        "apply",
        project.to_str().unwrap(),
        "--database-url",
        &db.url,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Wait until the slow step is running on the server, then SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sleeping = db.count(&format!(
            "select count(*) from pg_stat_activity
             where datname = '{}' and pid <> pg_backend_pid() and state = 'active'
               and query like '%pg_sleep%'",
            db.name
        ));
        if sleeping > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the slow step never started");
        assert!(
            victim.try_wait().unwrap().is_none(),
            "the apply ended too soon"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.kill().unwrap(); // SIGKILL on Unix
    victim.wait().unwrap();

    let next = apply(&project, &db.url, &[]);
    assert_code(&next, 0);
    let reference_out = reference_run.wait_with_output().unwrap();
    assert_eq!(
        reference_out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&reference_out.stderr)
    );
    assert_eq!(db.count("select count(*) from marts.slow"), 10);
    assert_eq!(
        db.contents(&["raw", "marts"]),
        reference.contents(&["raw", "marts"])
    );
    assert_eq!(db.history(), reference.history());
}

#[test]
fn a_failing_model_skips_only_what_depends_on_it() {
    let mut db = TestDb::new("stackc_apply", "skip");
    let r = apply(&fixture("downstream"), &db.url, &[]);
    assert_code(&r, 1);
    let err = &r.stderr;
    // The failure, located in the run file, with the model's source.
    assert!(err.contains("build staging.stg_bad ... FAILED"), "{err}");
    assert!(err.contains("run/001_stg_bad.sql:"), "{err}");
    assert!(err.contains("error[22012]: division by zero"), "{err}");
    // Relative to the project, as every diagnostic names a file.
    assert!(
        err.contains("  source: models/staging/stg_bad.sql:"),
        "{err}"
    );
    // Downstream of it: skipped, and why. The rest: built.
    assert!(
        err.contains("build marts.mart_bad ... skipped (upstream staging.stg_bad failed)"),
        "{err}"
    );
    assert!(
        err.contains("build marts.mart_both ... skipped (upstream staging.stg_bad failed)"),
        "{err}"
    );
    assert!(err.contains("build marts.mart_ok ... ok"), "{err}");
    assert_eq!(db.count("select count(*) from marts.mart_ok"), 2);
    assert_eq!(db.count("select count(*) from marts.mart_bad"), 0);
    // An error-severity test that fails skips what is built on the model it
    // tests; a warning does not.
    assert!(
        err.contains("test accepted_range_stg_checked_qty__6 ... FAILED 1 failing row"),
        "{err}"
    );
    assert!(err.contains("build marts.mart_checked ... skipped (upstream test accepted_range_stg_checked_qty__6 failed)"), "{err}");
    assert!(
        err.contains("test accepted_range_stg_ok_qty__6 ... warn 1 failing row"),
        "{err}"
    );
    // The sample of failing rows.
    assert!(err.contains("id | qty"), "{err}");
    // The summary names each failure and each skip.
    let summary = &err[err.find("\napply: ").expect("a summary")..];
    assert!(summary.contains("2 failed, 3 skipped"), "{summary}");
    assert!(
        summary.contains("failed:\n  build staging.stg_bad: "),
        "{summary}"
    );
    assert!(
        summary.contains("  build marts.mart_bad: upstream staging.stg_bad failed"),
        "{summary}"
    );
    // The run history says the same.
    let runs = db.run_history();
    let status = |file: &str| {
        runs.iter()
            .find(|r| r.1 == file)
            .map(|r| r.2.clone())
            .unwrap_or_default()
    };
    assert_eq!(status("run/001_stg_bad.sql"), "failed");
    assert_eq!(status("run/002_mart_bad.sql"), "skipped");
    assert_eq!(status("run/002_mart_both.sql"), "skipped");
    assert_eq!(status("run/002_mart_checked.sql"), "skipped");
    assert_eq!(status("run/002_mart_ok.sql"), "success");
    assert!(
        runs.iter()
            .any(|r| r.1 == "run/002_mart_bad.sql" && r.3 == "upstream staging.stg_bad failed"),
        "{runs:?}"
    );

    // `stackc test` runs the tests alone and reports the same failure.
    let t = run(&mut stackc_cmd(&[
        "test",
        fixture("downstream").to_str().unwrap(),
        "--database-url",
        &db.url,
        "--format",
        "json",
    ]));
    assert_code(&t, 1);
    assert!(
        t.stderr
            .contains("test accepted_range_stg_checked_qty__6 ... FAILED 1 failing row"),
        "{}",
        t.stderr
    );
    assert!(t.stderr.contains("2  | 7"), "{}", t.stderr);
    let report: serde_json::Value = serde_json::from_str(&t.stdout).unwrap();
    assert_eq!(report["status"], "failed");
    let failed: Vec<&serde_json::Value> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["failures"], 1);
    assert_eq!(
        failed[0]["sample"]["columns"],
        serde_json::json!(["id", "qty"])
    );
    assert_eq!(failed[0]["sample"]["rows"], serde_json::json!([["2", "7"]]));
}

/// Only `error: ...` lines, one of them, and no password anywhere.
fn assert_one_clear_line(r: &Run, expected: &str, secret: &str) {
    assert_code(r, 1);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].contains(expected), "{}", r.stderr);
    assert!(
        !r.all().contains(secret),
        "the password leaked:\n{}",
        r.all()
    );
}

#[test]
fn connection_problems_are_one_clear_line_without_the_password() {
    let mut db = TestDb::new("stackc_apply", "connect");
    let secret = "sekret-xyz";
    db.client
        .batch_execute(&format!(
            "do $$ begin
               if not exists (select from pg_roles where rolname = 'stackc_pw') then
                 create role stackc_pw login password '{secret}';
               end if;
             end $$"
        ))
        .unwrap();
    let project = fixture("broken_migration");
    // A server that is down (nothing listens on port 1).
    let r = apply(
        &project,
        &format!("postgres://stackc_pw:{secret}@127.0.0.1:1/x"),
        &[],
    );
    assert_one_clear_line(
        &r,
        "error: cannot connect to postgres://stackc_pw@127.0.0.1:1/x: ",
        secret,
    );
    // A server that rejects the connection.
    let r = apply(
        &project,
        &format!("postgres://stackc_pw:{secret}@127.0.0.1:5432/stackc_no_such_database"),
        &[],
    );
    assert_one_clear_line(
        &r,
        "database \"stackc_no_such_database\" does not exist",
        secret,
    );
    // Settings that cannot be used.
    let r = apply(
        &project,
        &format!("postgres://stackc_pw:{secret}@127.0.0.1:notaport/x"),
        &[],
    );
    assert_one_clear_line(
        &r,
        "error: invalid connection settings: --database-url: ",
        secret,
    );
    let r = apply(
        &project,
        &format!("postgres://stackc_pw:{secret}@127.0.0.1/x?sslmode=verify-full"),
        &[],
    );
    assert_one_clear_line(&r, "sslmode=verify-full is not supported", secret);
    // No settings at all.
    let r = run(stackc_cmd(&["apply", project.to_str().unwrap()]).env("USER", "nobody"));
    assert_one_clear_line(&r, "no database given", secret);
    // The JSON report of a failed connection: the same, machine-readable.
    let r = apply(
        &project,
        &format!("postgres://stackc_pw:{secret}@127.0.0.1:1/x"),
        &["--format", "json"],
    );
    assert_code(&r, 1);
    assert!(!r.all().contains(secret));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["status"], "error");
    assert!(report["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot connect to"));

    // A password that works (this server trusts local connections, so any
    // password does) appears nowhere: not in output, not in the history.
    let url = db.url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{secret}@"),
        1,
    );
    let r = apply(&fixture("downstream"), &url, &["--format", "json"]);
    assert_code(&r, 1); // the fixture's failing model
    assert!(!r.all().contains(secret), "{}", r.all());
    let leaked = db.count(&format!(
        "select (select count(*) from public.stackc_schema_history t where t::text like '%{secret}%')
              + (select count(*) from public.stackc_run_history t where t::text like '%{secret}%')"
    ));
    assert_eq!(leaked, 0);
    // The role is the cluster's, not the database's: remove it too.
    let _ = db.client.batch_execute("drop role if exists stackc_pw");
}

#[test]
fn a_bad_dotenv_line_is_one_clear_line_with_its_position_and_no_value() {
    let project = copy_of(&fixture("broken_migration"));
    std::fs::write(
        project.path().join(".env"),
        "# local settings\nPGHOST=127.0.0.1\nPGPASSWORD=two sekret-words\n",
    )
    .unwrap();
    let r = run(&mut stackc_cmd(&[
        "apply",
        project.path().to_str().unwrap(),
    ]));
    assert_one_clear_line(
        &r,
        ".env:3:16: a value with spaces must be quoted",
        "sekret",
    );
    assert!(r.stderr.contains("quote the value"), "{}", r.stderr);
}

#[test]
fn connection_settings_come_from_dotenv_and_libpq_variables() {
    let mut db = TestDb::new("stackc_apply", "dotenv");
    let config: postgres::Config = db.url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        #[cfg(unix)]
        postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = config.get_ports()[0].to_string();
    let user = config.get_user().unwrap().to_string();
    let project = copy_of(&fixture("broken_migration"));
    std::fs::remove_file(project.path().join("migrations/V2__broken.sql")).unwrap();
    // libpq variables, from .env only.
    std::fs::write(
        project.path().join(".env"),
        format!(
            "# local settings\nPGHOST={host}\nPGPORT={port}\nPGUSER={user}\nPGDATABASE={}\nPGSSLMODE=disable\n",
            db.name
        ),
    )
    .unwrap();
    let r = run(&mut stackc_cmd(&[
        "apply",
        project.path().to_str().unwrap(),
    ]));
    assert_code(&r, 0);
    assert!(
        r.stderr
            .contains(&format!("to postgres://{user}@{host}:{port}/{}", db.name)),
        "{}",
        r.stderr
    );
    assert_eq!(db.history().len(), 2);
    // The process environment wins over .env.
    let r = run(stackc_cmd(&["apply", project.path().to_str().unwrap()])
        .env("PGDATABASE", "stackc_no_such_database"));
    assert_one_clear_line(
        &r,
        "database \"stackc_no_such_database\" does not exist",
        "\u{0}",
    );
    // A URL in the variable stackc.toml names beats the PG* variables.
    let toml = project.path().join("stackc.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{text}\n[connection]\nurl_env = \"ANALYTICS_URL\"\n"),
    )
    .unwrap();
    let r = run(
        stackc_cmd(&["apply", project.path().to_str().unwrap()]).env(
            "ANALYTICS_URL",
            format!("postgres://{user}@{host}:{port}/stackc_not_this_one"),
        ),
    );
    assert_one_clear_line(
        &r,
        "database \"stackc_not_this_one\" does not exist",
        "\u{0}",
    );
}

#[test]
fn tls_modes_work() {
    let mut db = TestDb::new("stackc_apply", "tls");
    let ssl_on: String = db.client.query_one("show ssl", &[]).unwrap().get(0);
    let project = fixture("broken_migration");
    let r = apply(
        &project,
        &format!("{}?sslmode=disable", db.url),
        &["--dry-run"],
    );
    assert_code(&r, 0);
    let r = apply(
        &project,
        &format!("{}?sslmode=prefer", db.url),
        &["--dry-run"],
    );
    assert_code(&r, 0);
    let r = apply(
        &project,
        &format!("{}?sslmode=require", db.url),
        &["--dry-run"],
    );
    if ssl_on == "on" {
        // Encrypted (the server's certificate is self-signed here, which
        // `require` accepts, as libpq does).
        assert_code(&r, 0);
    } else {
        assert_one_clear_line(&r, "error: cannot connect to", "\u{0}");
    }
}

/// Whether the session that ran the fixture `tls`'s migration was encrypted.
fn recorded_ssl(db: &mut TestDb) -> bool {
    db.client
        .query_one("select ssl from public.connection", &[])
        .unwrap()
        .get(0)
}

#[test]
fn require_encrypts_and_disable_does_not() {
    let mut db = TestDb::new("stackc_apply", "tls_on");
    let ssl_on: String = db.client.query_one("show ssl", &[]).unwrap().get(0);
    if ssl_on != "on" {
        // `tls_modes_work` covers a server without TLS.
        return;
    }
    let r = apply(&fixture("tls"), &format!("{}?sslmode=require", db.url), &[]);
    assert_code(&r, 0);
    assert!(recorded_ssl(&mut db), "require ran unencrypted");

    let mut plain = TestDb::new("stackc_apply", "tls_off");
    let r = apply(
        &fixture("tls"),
        &format!("{}?sslmode=disable", plain.url),
        &[],
    );
    assert_code(&r, 0);
    assert!(!recorded_ssl(&mut plain), "disable ran encrypted");
}

/// `prefer` and `require` verify nothing, so the CA bundle must not even be
/// read (it costs tens of milliseconds). The bundle named here is a FIFO with no writer:
/// OpenSSL opening it would block, and the apply would hang.
#[test]
fn tls_reads_no_ca_bundle() {
    let db = TestDb::new("stackc_apply", "tls_bundle");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("bundle.pem");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    for mode in ["prefer", "require"] {
        let mut child = stackc_cmd(&[
            "apply",
            fixture("broken_migration").to_str().unwrap(),
            "--database-url",
            &format!("{}?sslmode={mode}", db.url),
            "--dry-run",
        ])
        .env("SSL_CERT_FILE", &fifo)
        .env("SSL_CERT_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("sslmode={mode}: apply hung opening SSL_CERT_FILE (a FIFO)");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_held_lock_makes_apply_wait_then_give_up() {
    let mut db = TestDb::new("stackc_apply", "lock");
    // The documented key formula, in SQL; the apply must contend for it.
    let key: i64 = db
        .count(
            "select ('x' || left(encode(sha256(convert_to('stackc:broken:\"public\".\"stackc_schema_history\"', 'UTF8')), 'hex'), 16))::bit(64)::bigint",
        );
    let mut holder = Client::connect(&db.url, NoTls).unwrap();
    holder
        .query_one("select pg_advisory_lock($1)", &[&key])
        .unwrap();
    let start = Instant::now();
    let r = apply(
        &fixture("broken_migration"),
        &db.url,
        &["--lock-timeout", "1"],
    );
    let waited = start.elapsed();
    assert_one_clear_line(&r, "another apply holds the lock", "\u{0}");
    assert!(r.stderr.contains("waiting up to 1 s"), "{}", r.stderr);
    assert!(r.stderr.contains("--lock-timeout"), "{}", r.stderr);
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(!db.exists("public.stackc_schema_history"), "nothing ran");
    assert!(!db.exists("raw.ok"));
    // Released: the next apply goes ahead.
    holder
        .query_one("select pg_advisory_unlock($1)", &[&key])
        .unwrap();
    let r = apply(
        &fixture("broken_migration"),
        &db.url,
        &["--lock-timeout", "1"],
    );
    assert_code(&r, 1); // its V2 is broken on purpose
    assert!(db.exists("raw.ok"));
}

#[test]
fn committed_artifacts_are_verified_before_anything_runs() {
    let mut db = TestDb::new("stackc_apply", "artifacts");
    let out = tempfile::tempdir().unwrap();
    let compile = run(&mut stackc_cmd(&[
        "compile",
        template().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]));
    assert_code(&compile, 0);
    let with_artifacts = ["--artifacts", out.path().to_str().unwrap()];
    let r = apply(&template(), &db.url, &with_artifacts);
    assert_code(&r, 0);
    let history = db.history();
    let runs = db.run_history().len();

    let file = out.path().join("run/002_dim_customers.sql");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replace("truncate", "delete from")).unwrap();
    let r = apply(&template(), &db.url, &with_artifacts);
    assert_code(&r, 1);
    assert!(r.stderr.contains("changed  "), "{}", r.stderr);
    assert!(
        r.stderr.contains("run/002_dim_customers.sql"),
        "{}",
        r.stderr
    );
    std::fs::write(&file, &original).unwrap();

    let extra = out.path().join("migrations/R__zzz_extra.sql");
    std::fs::write(&extra, "drop schema marts cascade;\n").unwrap();
    let r = apply(&template(), &db.url, &with_artifacts);
    assert_code(&r, 1);
    assert!(r.stderr.contains("extra    "), "{}", r.stderr);
    assert!(r.stderr.contains("R__zzz_extra.sql"), "{}", r.stderr);
    std::fs::remove_file(&extra).unwrap();

    let gone = out.path().join("migrations/R__001_stg_orders.sql");
    std::fs::remove_file(&gone).unwrap();
    let r = apply(&template(), &db.url, &with_artifacts);
    assert_code(&r, 1);
    assert!(r.stderr.contains("missing  "), "{}", r.stderr);
    assert!(r.stderr.contains("R__001_stg_orders.sql"), "{}", r.stderr);

    assert_eq!(db.history(), history, "no refused apply ran anything");
    assert_eq!(db.run_history().len(), runs);
    assert!(db.exists("marts.dim_customers"));
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn statements_that_cannot_run_in_a_transaction_run_outside_one() {
    let mut db = TestDb::new("stackc_apply", "nontx");
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    write(p, "stackc.toml", "[project]\nname = \"nontx\"\n");
    write(
        p,
        "migrations/V1__table.sql",
        "create table t (a int, b int);\ninsert into t values (1, 2);\n",
    );
    write(
        p,
        "migrations/V2__index.sql",
        "-- Built without blocking writes: cannot run in a transaction.\ncreate index concurrently t_a_idx on t (a);\n",
    );
    let r = apply(p, &db.url, &[]);
    assert_code(&r, 0);
    assert!(
        r.stderr
            .contains("migration V2__index.sql (outside a transaction) ... ok"),
        "{}",
        r.stderr
    );
    assert!(db.exists("t_a_idx"));

    // Mixed with a transactional statement: refused, naming the file.
    write(
        p,
        "migrations/V3__mixed.sql",
        "insert into t values (3, 4);\nvacuum t;\n",
    );
    let r = apply(p, &db.url, &[]);
    assert_code(&r, 1);
    assert!(
        r.stderr
            .contains("migrations/V3__mixed.sql:2:1: `VACUUM` cannot run inside a transaction"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("split the file"), "{}", r.stderr);
    assert_eq!(db.count("select count(*) from t"), 1, "nothing ran");
    std::fs::remove_file(p.join("migrations/V3__mixed.sql")).unwrap();

    // A failure outside a transaction leaves a failed row that blocks the
    // next apply until it is repaired.
    write(
        p,
        "migrations/V3__more_indexes.sql",
        "create index concurrently t_b_idx on t (b);\ndrop index concurrently no_such_index;\n",
    );
    let r = apply(p, &db.url, &[]);
    assert_code(&r, 1);
    assert!(
        r.stderr.contains("migrations/V3__more_indexes.sql:2:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("recorded as failed (installed_rank 3)"),
        "{}",
        r.stderr
    );
    assert!(
        db.exists("t_b_idx"),
        "the statement before the failure stays applied"
    );
    let history = db.history();
    assert_eq!(
        history.last().map(|h| (h.0.as_str(), h.2)),
        Some(("V3__more_indexes.sql", false))
    );
    let r = apply(p, &db.url, &[]);
    assert_code(&r, 1);
    assert!(
        r.stderr.contains("failed in an earlier apply"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("delete from public.stackc_schema_history where installed_rank = 3;"),
        "{}",
        r.stderr
    );
    // Repaired as the message says: the next apply runs it.
    db.client
        .batch_execute(
            "drop index t_b_idx; delete from public.stackc_schema_history where installed_rank = 3",
        )
        .unwrap();
    write(
        p,
        "migrations/V3__more_indexes.sql",
        "create index concurrently t_b_idx on t (b);\n",
    );
    let r = apply(p, &db.url, &[]);
    assert_code(&r, 0);
    assert_eq!(db.history().last().map(|h| h.2), Some(true));
}

#[test]
fn unit_tests_run_rolled_back_and_show_their_differences() {
    let mut db = TestDb::new("stackc_apply", "unit");
    let project = copy_of(&template());
    assert_code(&apply(project.path(), &db.url, &[]), 0);
    let unit = |db: &TestDb| {
        run(&mut stackc_cmd(&[
            "test",
            project.path().to_str().unwrap(),
            "--unit",
            "--database-url",
            &db.url,
        ]))
    };
    let r = unit(&db);
    assert_code(&r, 0);
    assert!(
        r.stderr
            .contains("unit marts.dim_customers counts_orders_without_cancellations ... ok"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("] test "), "--unit runs only unit tests");

    // Expect a wrong count: the unit test fails, showing both differences.
    let yml = project.path().join("models/marts/_marts.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    let edited = text.replace(
        "lifetime_orders: 2, cancelled_orders: 1}",
        "lifetime_orders: 3, cancelled_orders: 1}",
    );
    assert_ne!(edited, text);
    std::fs::write(&yml, edited).unwrap();
    let r = unit(&db);
    assert_code(&r, 1);
    assert!(
        r.stderr.contains(
            "unit marts.dim_customers counts_orders_without_cancellations ... FAILED 2 failing rows"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
    assert!(r.stderr.contains("unexpected"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("unit marts.fact_sales incremental_run_merges_late_lines_only ... ok"),
        "{}",
        r.stderr
    );
    // Rolled back: no table of the test is left, and the model's own
    // table was not touched.
    assert_eq!(
        db.count("select count(*) from pg_class where relname like 'stackc_unit%'"),
        0
    );
    assert_eq!(db.count("select count(*) from marts.dim_customers"), 0);
}

/// Runs the sample data generator (`scripts/generate_data.sql`) with psql.
fn generate(url: &str, vars: &[&str]) {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]);
    for v in vars {
        cmd.args(["-v", v]);
    }
    cmd.arg("-f").arg(repo().join("scripts/generate_data.sql"));
    let out = cmd
        .output()
        .expect("psql runs (the PostgreSQL client is installed)");
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(sale_id, row text)` of every row of a table, for comparing contents.
/// The first two columns of a query's rows, as a map.
fn pairs<K, V>(db: &mut TestDb, sql: &str) -> BTreeMap<K, V>
where
    K: postgres::types::FromSqlOwned + Ord,
    V: postgres::types::FromSqlOwned,
{
    db.client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn rows_by_key(db: &mut TestDb, relation: &str) -> BTreeMap<i64, String> {
    pairs(db, &format!("select sale_id, t::text from {relation} as t"))
}

#[test]
fn incremental_runs_process_only_new_and_late_rows() {
    let mut db = TestDb::new("stackc_apply", "incremental");
    // The raw tables come from the project's own migrations.
    assert_code(&apply(&template(), &db.url, &[]), 0);
    let anchor = "anchor='2024-06-01 12:00:00+00'";
    generate(&db.url, &["rows=1000", anchor]);
    assert_code(&apply(&template(), &db.url, &[]), 0);
    let first = rows_by_key(&mut db, "marts.fact_sales");
    assert!(first.len() > 800, "first load: {} rows", first.len());

    // 100 new lines, 10 late ones inside the 3-day lookback, 1 loaded
    // before the window (only a full refresh can see it).
    let later = "anchor='2024-06-01 13:00:00+00'";
    generate(
        &db.url,
        &[
            "mode=increment",
            "new_rows=100",
            "late_rows=10",
            "stale_rows=1",
            later,
        ],
    );
    let second = apply(&template(), &db.url, &["--format", "json"]);
    assert_code(&second, 0);
    assert!(
        second.stderr.contains(
            "incremental marts.fact_sales (incremental: marts.fact_sales has rows) ... ok"
        ),
        "{}",
        second.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    let step = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "incremental")
        .expect("the fact_sales step");
    let affected = step["rows_affected"].as_u64().unwrap();
    // The new and late lines (less those of cancelled orders), plus the
    // lines of the last 3 days of loads that the lookback merges again:
    // far from the 1,110 a full reload would touch.
    assert!((90..=250).contains(&affected), "rows affected: {affected}");
    let incremental = rows_by_key(&mut db, "marts.fact_sales");
    let grown = incremental.len() - first.len();
    eprintln!("incremental run: {affected} rows affected, fact grew by {grown} rows");
    assert!((90..=110).contains(&grown), "fact grew by {grown}");

    // A full refresh of the same data: the same rows, plus the stale line.
    assert_code(&apply(&template(), &db.url, &["--full-refresh"]), 0);
    let full = rows_by_key(&mut db, "marts.fact_sales");
    let missing: Vec<&i64> = full
        .keys()
        .filter(|k| !incremental.contains_key(k))
        .collect();
    assert!(
        missing.len() <= 1,
        "incremental missed more than the stale line: {missing:?}"
    );
    for (key, row) in &incremental {
        assert_eq!(
            full.get(key),
            Some(row),
            "sale {key} differs from a full refresh"
        );
    }
    let n = db.count("select count(*) from marts.fact_sales");
    let distinct = db.count("select count(distinct sale_id) from marts.fact_sales");
    assert_eq!(n, distinct, "duplicated sale_id");

    // --full-refresh equals a first load of the same data in a new database.
    let mut fresh = TestDb::new("stackc_apply", "incremental_fresh");
    assert_code(&apply(&template(), &fresh.url, &[]), 0);
    for table in ["raw.products", "raw.customers", "raw.orders", "raw.sales"] {
        let rows: Vec<String> = db
            .client
            .query(&format!("select t::text from {table} as t"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut tx = fresh.client.transaction().unwrap();
        for row in rows {
            tx.execute(
                &format!("insert into {table} select (({}::text)::{table}).*", "$1"),
                &[&row],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    assert_code(&apply(&template(), &fresh.url, &[]), 0);
    assert_eq!(rows_by_key(&mut fresh, "marts.fact_sales"), full);
}

#[test]
fn readers_see_the_old_or_the_new_table_during_a_rebuild() {
    let mut db = TestDb::new("stackc_apply", "rebuild");
    let project = fixture("rebuild");
    assert_code(&apply(&project, &db.url, &[]), 0);
    db.client
        .batch_execute("insert into raw.events select i, 'a' from generate_series(1, 100) as i")
        .unwrap();
    assert_code(&apply(&project, &db.url, &[]), 0);
    assert_eq!(db.count("select count(*) from marts.events_wide"), 100);
    db.client
        .batch_execute("insert into raw.events select i, 'b' from generate_series(101, 150) as i")
        .unwrap();

    // A reader on its own connection queries the table and the view on top
    // of it, over and over, while the next apply rebuilds the table (the
    // build takes a second).
    let url = db.url.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut client = Client::connect(&url, NoTls).unwrap();
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                // One statement, so one snapshot: two statements may
                // straddle the rebuild's commit and see one table each.
                let row = client
                    .query_one(
                        "select (select count(*) from marts.events_wide),
                                (select coalesce(sum(events), 0)::bigint from marts.events_by_kind)",
                        &[],
                    )
                    .unwrap();
                let (n, by_kind): (i64, i64) = (row.get(0), row.get(1));
                seen.push((n, by_kind));
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_code(&apply(&project, &db.url, &[]), 0);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the build was not slow enough to overlap"
    );
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.join().expect("the reader never failed");
    assert!(seen.len() >= 5, "too few reads: {seen:?}");
    for (n, by_kind) in &seen {
        assert!(*n == 100 || *n == 150, "a reader saw {n} rows: {seen:?}");
        assert_eq!(n, by_kind, "the view disagreed with its table: {seen:?}");
    }
    assert!(
        seen.iter().any(|(n, _)| *n == 100) && seen.iter().any(|(n, _)| *n == 150),
        "{seen:?}"
    );
    // The view on top still works after the apply.
    assert_eq!(
        db.count("select sum(events)::bigint from marts.events_by_kind"),
        150
    );
}

#[test]
fn each_generic_test_passes_on_good_data_and_fails_on_planted_bad_data() {
    let mut db = TestDb::new("stackc_apply", "generic_tests");
    let project = fixture("generic_tests");
    assert_code(&apply(&project, &db.url, &[]), 0);
    db.client
        .batch_execute(
            "insert into raw.customers values (1, 'a@x.org'), (2, 'b@x.org');
             insert into raw.orders values (10, 1, 'placed', 100, 5), (11, 2, 'shipped', 20, 0);",
        )
        .unwrap();
    let test = |db: &TestDb| {
        let r = run(&mut stackc_cmd(&[
            "test",
            project.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--format",
            "json",
        ]));
        let report: serde_json::Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.all()));
        let statuses: BTreeMap<String, String> = report["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let node = i["node"].as_str().unwrap_or_default();
                // `test.<project>.<name>.<hash>`: keyed by the name.
                (
                    node.split('.').nth(2).unwrap_or(node).to_string(),
                    i["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        (r, statuses)
    };
    let (good, statuses) = test(&db);
    assert_code(&good, 0);
    assert_eq!(statuses.len(), 7, "{statuses:?}");
    assert!(statuses.values().all(|s| s == "success"), "{statuses:?}");

    // One planted row per test type.
    db.client
        .batch_execute(
            "insert into raw.customers values (1, 'dup@x.org');              -- unique
             insert into raw.orders values
                (null, 1, 'placed', 1, 0),                                   -- not_null
                (12, 99, 'placed', 1, 0),                                    -- relationships
                (13, 1, 'lost', 1, 0),                                       -- accepted_values
                (14, 1, 'placed', 5000, 0),                                  -- accepted_range
                (15, 1, 'placed', 1, 2),                                     -- expression_is_true
                (10, 1, 'placed', 7, 0);                                     -- unique (combined key)",
        )
        .unwrap();
    let (bad, statuses) = test(&db);
    assert_code(&bad, 1);
    for name in [
        "unique_stg_customers_customer_id",
        "not_null_stg_orders_order_id",
        "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_",
        "accepted_values_stg_orders_status__placed__shipped",
        "accepted_range_stg_orders_amount__True__1000__0",
        "expression_is_true_stg_orders_discount_amount",
        "unique_stg_orders_order_id__status",
    ] {
        assert_eq!(
            statuses.get(name).map(String::as_str),
            Some("failed"),
            "{name}: {statuses:?}"
        );
    }
    assert!(bad.stderr.contains("1 failing row"), "{}", bad.stderr);
}

/// `last_vacuum` of every table in the marts and seeds schemas.
fn last_vacuums(db: &mut TestDb) -> BTreeMap<String, Option<String>> {
    pairs(
        db,
        "select schemaname || '.' || relname, last_vacuum::text from pg_stat_user_tables
         where schemaname in ('marts', 'seeds')",
    )
}

#[test]
fn vacuum_runs_after_changed_tables_only() {
    let mut db = TestDb::new("stackc_apply", "vacuum");
    // No raw rows yet: the marts are built empty, only the seed gets rows.
    assert_code(&apply(&template(), &db.url, &[]), 0);
    let first = last_vacuums(&mut db);
    assert!(first["seeds.product_categories"].is_some(), "{first:?}");
    for mart in [
        "marts.dim_customers",
        "marts.dim_products",
        "marts.fact_sales",
        "marts.daily_sales_summary",
    ] {
        assert_eq!(
            first[mart], None,
            "{mart} was vacuumed without changed rows: {first:?}"
        );
    }
    // Nothing changed: the seed is not reloaded, so not vacuumed again.
    assert_code(&apply(&template(), &db.url, &[]), 0);
    assert_eq!(last_vacuums(&mut db), first);

    // Raw rows arrive: the marts that got rows are vacuumed, the seed is not.
    generate(&db.url, &["rows=200", "anchor='2024-06-01 12:00:00+00'"]);
    let r = apply(&template(), &db.url, &[]);
    assert_code(&r, 0);
    assert!(
        r.stderr
            .contains("vacuum marts.fact_sales (outside a transaction) ... ok"),
        "{}",
        r.stderr
    );
    let after = last_vacuums(&mut db);
    assert_eq!(
        after["seeds.product_categories"],
        first["seeds.product_categories"]
    );
    for mart in [
        "marts.dim_customers",
        "marts.dim_products",
        "marts.fact_sales",
        "marts.daily_sales_summary",
    ] {
        assert!(after[mart].is_some(), "{mart} was not vacuumed: {after:?}");
    }
}

fn relation_columns(db: &mut TestDb, relation: &str) -> Vec<String> {
    db.client
        .query(
            "select attname::text from pg_attribute
             where attrelid = $1::text::regclass and attnum > 0 and not attisdropped order by attnum",
            &[&relation],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn changed_columns_reach_downstream_and_incremental_tables_follow_their_policy() {
    let mut db = TestDb::new("stackc_apply", "columns");
    let project = copy_of(&template());
    assert_code(&apply(project.path(), &db.url, &[]), 0);
    generate(&db.url, &["rows=300", "anchor='2024-06-01 12:00:00+00'"]);
    assert_code(&apply(project.path(), &db.url, &[]), 0);
    let facts = db.count("select count(*) from marts.fact_sales");

    // A table model gains `price_band` and loses `is_active`; a view reads the new column.
    let dim = project.path().join("models/marts/dim_products.sql");
    let text = std::fs::read_to_string(&dim).unwrap();
    let text = text
        .replacen("    p.unit_price,\n    p.is_active\n", "    p.unit_price,\n    case when p.unit_price >= 100 then 'high' else 'low' end as price_band\n", 1);
    std::fs::write(&dim, text).unwrap();
    let schema = project.path().join("models/marts/_marts.yml");
    let yml = std::fs::read_to_string(&schema).unwrap();
    let start = yml.find("      - name: is_active\n").unwrap();
    let end = start + 1 + yml[start + 1..].find("\n  - name: ").unwrap();
    std::fs::write(&schema, format!("{}{}", &yml[..start], &yml[end..])).unwrap();
    write(
        project.path(),
        "models/marts/products_by_band.sql",
        "{{ config(materialized='view') }}\nselect price_band, count(*) as products\nfrom {{ ref('dim_products') }}\ngroup by price_band\n",
    );
    let r = apply(project.path(), &db.url, &[]);
    assert_code(&r, 0);
    let cols = relation_columns(&mut db, "marts.dim_products");
    assert!(
        cols.contains(&"price_band".to_string()) && !cols.contains(&"is_active".to_string()),
        "{cols:?}"
    );
    assert_eq!(
        db.count("select sum(products)::bigint from marts.products_by_band"),
        db.count("select count(*) from marts.dim_products")
    );
    assert!(db.count("select count(*) from marts.dim_products") > 0);

    // The incremental fact gains a column: refused by default, naming it.
    let fact = project.path().join("models/marts/fact_sales.sql");
    let original = std::fs::read_to_string(&fact).unwrap();
    std::fs::write(
        &fact,
        original.replacen(
            "    s.sku,\n",
            "    s.sku,\n    s.quantity * 2 as double_quantity,\n",
            1,
        ),
    )
    .unwrap();
    let refused = apply(project.path(), &db.url, &[]);
    assert_code(&refused, 1);
    assert!(
        refused
            .stderr
            .contains("changed its columns: added double_quantity integer"),
        "{}",
        refused.stderr
    );
    assert_eq!(db.count("select count(*) from marts.fact_sales"), facts);

    // append_new_columns: added, old rows kept, filled on the next loads.
    let appended = std::fs::read_to_string(&fact).unwrap().replacen(
        "incremental_strategy='merge',",
        "incremental_strategy='merge', on_schema_change='append_new_columns',",
        1,
    );
    std::fs::write(&fact, appended).unwrap();
    assert_code(&apply(project.path(), &db.url, &[]), 0);
    assert!(relation_columns(&mut db, "marts.fact_sales").contains(&"double_quantity".to_string()));
    assert_eq!(db.count("select count(*) from marts.fact_sales"), facts);
}

#[test]
fn a_merge_compares_columns_that_have_no_equality_operator() {
    let mut db = TestDb::new("stackc_apply", "mergejson");
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    write(p, "stackc.toml", "[project]\nname = \"mergejson\"\n");
    write(
        p,
        "migrations/V1__raw.sql",
        "create schema if not exists raw;\n\
         create table raw.events (id int primary key, payload json not null, at point, amount numeric(10, 2));\n\
         insert into raw.events values (1, '{\"v\": 1}', point(1, 2), 1.50), (2, '{\"v\": 2}', point(3, 4), 2.00);\n",
    );
    write(
        p,
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n",
    );
    write(
        p,
        "models/events.sql",
        "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}\n\
         select id, payload, at, amount::numeric as amount\nfrom {{ source('raw', 'events') }}\n",
    );
    write(
        p,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: events\n    columns:\n      - name: id\n      - name: payload\n        data_type: json\n      - name: at\n        data_type: point\n      - name: amount\n        data_type: numeric(10, 2)\n",
    );
    assert_code(&apply(p, &db.url, &[]), 0);
    let schema: String = db
        .client
        .query_one(
            "select table_schema::text from information_schema.tables where table_name = 'events' and table_schema <> 'raw'",
            &[],
        )
        .unwrap()
        .get(0);
    let versions = |db: &mut TestDb| -> BTreeMap<i32, (String, String)> {
        db.client
            .query(
                &format!("select id, payload::text, xmin::text from {schema}.events"),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect()
    };
    let before = versions(&mut db);
    assert_eq!(before.len(), 2);

    db.client
        .batch_execute("update raw.events set payload = '{\"v\": 10}' where id = 1")
        .unwrap();
    let second = apply(p, &db.url, &[]);
    assert_code(&second, 0);
    let after = versions(&mut db);
    assert_eq!(after[&1].0, "{\"v\": 10}", "the changed row is merged");
    assert_eq!(
        after[&2], before[&2],
        "an unchanged row is not rewritten (same xmin)"
    );
}

/// Issue 11, items 3 and 4: a schema called `m$stackc$x` (a valid
/// identifier, left unquoted) ended the `do $stackc$` blocks early, and a
/// column `"a""b"` was recorded as `a""b`. Both apply, twice, and the test
/// on the quoted column runs.
#[test]
fn dollar_quotes_and_quoted_names_survive_hostile_names() {
    let mut db = TestDb::new("stackc_apply", "hostile_names");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    write(
        p,
        "stackc.toml",
        "[project]\nname = \"fx\"\n\n[layers]\nmarts = \"m$stackc$x\"\n",
    );
    write(
        p,
        "models/marts/inc.sql",
        "{{ config(materialized='incremental', unique_key='id') }}\nselect 1 as id, 2 as \"a\"\"b\"\n",
    );
    write(
        p,
        "models/marts/mv.sql",
        "{{ config(materialized='materialized_view', indexes=[{'columns': ['id'], 'unique': True}]) }}\nselect 1 as id\n",
    );
    write(
        p,
        "models/marts/s.yml",
        "version: 2\nmodels:\n  - name: inc\n    columns:\n      - name: 'a\"b'\n        tests: [not_null]\n",
    );
    for _ in 0..2 {
        let r = apply(p, &db.url, &[]);
        assert_code(&r, 0);
        assert!(
            r.stderr.contains("test not_null_inc_a_b ... ok"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(
        db.count("select count(*) from \"m$stackc$x\".inc where \"a\"\"b\" = 2"),
        1
    );
    assert!(db.exists("\"m$stackc$x\".mv"));
}

/// dbt's built-in tests count what dbt counts: `unique` duplicated values,
/// `accepted_values` distinct unexpected values, `not_null` and
/// `relationships` rows.
#[test]
fn generic_tests_count_failures_as_dbt_does() {
    let mut db = TestDb::new("stackc_apply", "generic_counts");
    let project = fixture("generic_tests");
    assert_code(&apply(&project, &db.url, &[]), 0);
    db.client
        .batch_execute(
            "insert into raw.customers values (1, 'a@x.org'), (1, 'b@x.org'), (1, 'c@x.org'), (2, 'd@x.org');
             insert into raw.orders values
                (null, 1, 'placed', 1, 0), (null, 1, 'placed', 1, 0),
                (20, 7, 'placed', 1, 0), (21, 7, 'placed', 1, 0),
                (22, 1, 'lost', 1, 0), (23, 1, 'lost', 1, 0), (24, 1, 'gone', 1, 0);",
        )
        .unwrap();
    let r = run(&mut stackc_cmd(&[
        "test",
        project.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--format",
        "json",
    ]));
    let report: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.all()));
    let failures: BTreeMap<String, u64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| {
            let name = i["node"].as_str()?.split('.').nth(2)?.to_string();
            Some((name, i["failures"].as_u64()?))
        })
        .collect();
    let expected = [
        ("unique_stg_customers_customer_id", 1),
        ("not_null_stg_orders_order_id", 2),
        (
            "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_",
            2,
        ),
        ("accepted_values_stg_orders_status__placed__shipped", 2),
    ];
    for (name, n) in expected {
        assert_eq!(failures.get(name), Some(&n), "{name}: {failures:?}");
    }
}

/// A failure while a step runs names the model's own line, not only the
/// artifact's: where the server gives a position, mapped back through the
/// artifact; without one, the line where the model's query begins. With
/// `--format github` it is an annotation on that line.
#[test]
fn run_time_errors_point_at_the_model_line() {
    let db = TestDb::new("stackc_apply", "modelline");
    let r = apply(&fixture("downstream"), &db.url, &["--format", "github"]);
    assert_code(&r, 1);
    // Division by zero has no position: the query's first line, `select`.
    assert!(
        r.stderr.contains("models/staging/stg_bad.sql:2:1\n"),
        "{}",
        r.stderr
    );
    let annotation = r
        .stdout
        .lines()
        .find(|l| l.contains("stg_bad.sql"))
        .unwrap_or_else(|| panic!("no annotation for stg_bad:\n{}", r.stdout));
    assert!(
        annotation.starts_with("::error file=") && annotation.contains(",line=2,col=1,"),
        "{annotation}"
    );
    assert!(annotation.ends_with("::division by zero"), "{annotation}");

    // A bad literal: the server says where, after a rendered `var()`.
    let project = copy_of(&fixture("downstream"));
    std::fs::write(
        project.path().join("models/staging/stg_cast.sql"),
        "-- The literal is refused when the view is created.\nselect\n    id,\n    {{ var('n', 1) }} + 'many'::int as n\nfrom {{ source('raw', 'items') }}\n",
    )
    .unwrap();
    let fresh = TestDb::new("stackc_apply", "modelline_cast");
    let r = apply(project.path(), &fresh.url, &["--format", "github"]);
    assert_code(&r, 1);
    assert!(
        r.stderr.contains("models/staging/stg_cast.sql:4:25\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("4 |     {{ var('n', 1) }} + 'many'::int as n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("stg_cast.sql,line=4,col=25,"),
        "{}",
        r.stdout
    );
}

/// A TCP relay to PostgreSQL that cuts the connection (both ways, at once)
/// when the client sends a statement containing `cut_at` after one
/// containing `after`: a network that dies at one chosen moment.
fn relay_cutting(server: &str, after: &'static [u8], cut_at: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = server.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(upstream) = TcpStream::connect(&server) else {
                continue;
            };
            let (mut c_in, mut c_out) = (client.try_clone().unwrap(), client);
            let (mut s_in, mut s_out) = (upstream.try_clone().unwrap(), upstream);
            let c_kill = c_in.try_clone().unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let mut armed = false;
                while let Ok(n @ 1..) = c_in.read(&mut buf) {
                    armed |= contains(&buf[..n], after);
                    if armed && contains(&buf[..n], cut_at) {
                        break;
                    }
                    if s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = s_out.shutdown(Shutdown::Both);
                let _ = c_kill.shutdown(Shutdown::Both);
            });
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n @ 1..) = s_in.read(&mut buf) {
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_out.shutdown(Shutdown::Both);
            });
        }
    });
    port
}

/// The connection dies right after a VACUUM step (which runs outside a
/// transaction), as its run record is written: one clear "connection was
/// lost" message, no warning spliced into the progress line, and every
/// later step "not run", none "upstream failed" (the table has downstream
/// models that never ran).
#[test]
fn a_connection_lost_at_a_vacuum_step_is_said_once_and_stops_the_rest() {
    let db = TestDb::new("stackc_apply", "lostconn");
    let project = copy_of(&fixture("slow"));
    let marts = project.path().join("models/marts");
    std::fs::remove_file(marts.join("slow.sql")).unwrap();
    std::fs::write(
        marts.join("after_slow.sql"),
        "select id from {{ ref('big') }}\n",
    )
    .unwrap();
    for i in 1..=3 {
        std::fs::write(
            marts.join(format!("down{i}.sql")),
            "select id from {{ ref('after_slow') }}\n",
        )
        .unwrap();
    }
    std::fs::write(
        marts.join("big.sql"),
        "select g as id from generate_series(1, 10) as g\n",
    )
    .unwrap();
    let config: postgres::Config = db.url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("a TCP host is needed for the relay, not {other:?}"),
    };
    let server = format!(
        "{host}:{}",
        config.get_ports().first().copied().unwrap_or(5432)
    );
    let port = relay_cutting(&server, b"vacuum (analyze)", b"stackc_run_history");
    let user = config.get_user().unwrap_or("postgres");
    // Without TLS, so that the relay can read which statement is sent.
    let url = format!(
        "postgres://{user}@127.0.0.1:{port}/{}?sslmode=disable",
        db.name
    );
    let r = apply(project.path(), &url, &[]);
    let err = &r.stderr;
    assert_eq!(r.code, Some(1), "{err}");
    assert!(err.contains("vacuum marts.big"), "{err}");
    assert_eq!(err.matches("was lost").count(), 1, "{err}");
    assert!(!err.contains("upstream"), "{err}");
    assert!(!err.contains("warning:"), "{err}");
    for line in err.lines().filter(|l| l.starts_with('[')) {
        assert!(
            line.ends_with(" ms") || line.contains(" ms, ") || line.contains("FAILED"),
            "something spliced into a progress line: {line}"
        );
    }
    assert!(err.contains("not run"), "{err}");
}

/// Ctrl-C while a step runs: the step finishes, nothing after it starts,
/// and the apply says what ran, then exits 130.
#[test]
fn ctrl_c_stops_after_the_running_step_and_says_what_ran() {
    let mut db = TestDb::new("stackc_apply", "sigint");
    let project = fixture("slow");
    let child = stackc_cmd(&[
        "apply",
        project.to_str().unwrap(),
        "--database-url",
        &db.url,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sleeping = db.count(&format!(
            "select count(*) from pg_stat_activity
             where datname = '{}' and pid <> pg_backend_pid() and state = 'active'
               and query like '%pg_sleep%' and query like '%insert%'",
            db.name
        ));
        if sleeping > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the slow step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupt: stopping after the step"), "{err}");
    assert!(
        err.contains("interrupted: stopped after the step that was running"),
        "{err}"
    );
    assert!(err.contains("not run"), "{err}");
    // The step that was running finished and is committed.
    assert_eq!(db.count("select count(*) from marts.slow"), 10);
}

/// dbt tests an ephemeral model by reading it as a CTE; so do stackc's
/// generic and singular tests, passing on good rows and failing on bad.
#[test]
fn tests_of_ephemeral_models_read_them_as_ctes() {
    let mut db = TestDb::new("stackc_apply", "ephemeral_tests");
    let project = fixture("ephemeral_tests");
    assert_code(&apply(&project, &db.url, &[]), 0);
    let test = |db: &TestDb| {
        let r = run(&mut stackc_cmd(&[
            "test",
            project.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--format",
            "json",
        ]));
        let report: serde_json::Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.all()));
        let failing: Vec<String> = report["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["status"] != "success")
            .filter_map(|i| Some(i["node"].as_str()?.split('.').nth(2)?.to_string()))
            .collect();
        (report["items"].as_array().unwrap().len(), failing)
    };
    db.client
        .batch_execute(
            "insert into raw.customers values (1, 'a@x.org'), (2, 'b@x.org');
             insert into raw.orders values (10, 1, 'placed'), (11, 2, 'shipped');",
        )
        .unwrap();
    assert_eq!(test(&db), (6, vec![]));
    // A view whose own `with` follows comments reads both ephemerals.
    assert_eq!(db.count("select count(*) from staging.customer_orders"), 2);
    db.client
        .batch_execute(
            "insert into raw.customers values (2, 'c@x.org');
             insert into raw.orders values (10, 9, 'lost');",
        )
        .unwrap();
    let (count, mut failing) = test(&db);
    failing.sort();
    assert_eq!(count, 6);
    assert_eq!(
        failing,
        [
            "no_unknown_status",
            "relationships_orders_customer_id__customer_id__ref_stg_customers_",
            "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_",
            "unique_stg_customers_customer_id",
            "unique_stg_orders_order_id",
        ]
    );
}
