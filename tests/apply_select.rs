//! `stackc apply` and `stackc test` with a selection (`-s`, `--exclude`),
//! and `--fail-fast`, against a real PostgreSQL: one new database per test.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo, TestDb};

impl TestDb {
    /// The run history of one run: (step, node, status, selection).
    fn run_rows(&mut self, run_id: i64) -> Vec<(String, String, String, Option<String>)> {
        self.client
            .query(
                "select step, coalesce(node, ''), status, selection from public.stackc_run_history
                 where run_id = $1 order by step_no",
                &[&run_id],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    fn last_run(&mut self) -> i64 {
        self.client
            .query_one("select max(run_id) from public.stackc_run_history", &[])
            .unwrap()
            .get(0)
    }
}

fn stackc(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackc"));
    cmd.args(args).env("NO_COLOR", "1");
    for var in ["DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"] {
        cmd.env_remove(var);
    }
    let out: Output = cmd.output().expect("the stackc binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn template() -> PathBuf {
    repo().join("project_template")
}

/// The ids `stackc ls` selects: what apply must run.
fn ls_ids(dir: &Path, select: &[&str]) -> BTreeSet<String> {
    let mut args = vec!["ls", dir.to_str().unwrap(), "--output", "json"];
    args.extend_from_slice(select);
    let (code, out, err) = stackc(&args);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["unique_id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Raw rows that pass every test of the sample project.
const ROWS: &str = "
insert into raw.products (product_id, sku, name, category, unit_price) values
    (1, 'SKU-1', 'Pen', 'BOOK', 2.50), (2, ' sku-2', 'Lamp', 'home', 30.00);
insert into raw.customers (customer_id, email, full_name, country_code, signup_date) values
    (1, 'A@x.org ', 'Ann', 'DE', '2024-01-02'), (2, 'b@y.org', '', 'FR', '2024-03-04');
insert into raw.orders (order_id, customer_id, order_date, status, channel) values
    (1, 1, '2024-02-01', 'placed', 'web'), (2, 2, '2024-03-05', 'shipped', 'store');
insert into raw.sales (sale_id, order_id, product_id, sku, quantity, unit_price, discount, sold_at) values
    (1, 1, 1, 'SKU-1', 3, 2.50, 0, '2024-02-01 10:00+00'),
    (2, 2, 2, 'sku-2', 1, 30.00, 5, '2024-03-05 12:00+00');
";

#[test]
fn apply_runs_exactly_the_selected_steps_and_their_tests_and_records_the_selection() {
    let mut db = TestDb::new("stackc_select", "steps");
    let dir = template();
    let d = dir.to_str().unwrap();

    // On an empty database: every versioned migration, and of the models
    // only stg_orders' (a view: its migration is its build). Cautious:
    // stg_orders' relationships tests read models that are not built yet.
    let cautious = ["--indirect-selection", "cautious"];
    let mut args = vec!["apply", d, "--database-url", &db.url, "-s", "stg_orders"];
    args.extend(cautious);
    let (code, _, err) = stackc(&args);
    assert_eq!(code, 0, "{err}");
    let text = "--select stg_orders --indirect-selection cautious";
    assert!(err.contains(&format!("selection {text}:")), "{err}");
    assert!(db.exists("raw.sales"), "versioned migrations always run");
    assert!(db.exists("staging.stg_orders"));
    assert!(!db.exists("staging.stg_sales"), "not selected: {err}");
    assert!(!db.exists("marts.fact_sales"), "not selected: {err}");
    let first = db.last_run();
    let rows = db.run_rows(first);
    assert!(
        rows.iter().all(|r| r.3.as_deref() == Some(text)),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r.2 != "failed" && r.2 != "skipped"),
        "{rows:?}"
    );
    // stg_orders' tests ran (indirect selection), nothing else's.
    let wanted = ls_ids(&dir, &["-s", "stg_orders", cautious[0], cautious[1]]);
    let ran: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.0 == "test")
        .map(|r| r.1.clone())
        .collect();
    let tests: BTreeSet<String> = wanted
        .iter()
        .filter(|id| id.starts_with("test."))
        .cloned()
        .collect();
    assert!(!tests.is_empty());
    assert_eq!(ran, tests);

    // The whole project, with data; then fact_sales and what is built on it.
    db.client.batch_execute(ROWS).unwrap();
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url, "-s", "fact_sales+"]);
    assert_eq!(code, 0, "{err}");
    let run = db.last_run();
    let rows = db.run_rows(run);
    let wanted = ls_ids(&dir, &["-s", "fact_sales+"]);
    let ran: BTreeSet<String> = rows.iter().map(|r| r.1.clone()).collect();
    // Every step of the run is of a selected node (a vacuum is the
    // table's), and every selected model and test has run.
    assert!(
        ran.iter().all(|id| wanted.contains(id)),
        "{ran:?}\n{wanted:?}"
    );
    for id in wanted
        .iter()
        .filter(|id| id.starts_with("model.") || id.starts_with("test."))
    {
        assert!(ran.contains(id), "{id} did not run: {err}");
    }
    assert!(ran.contains("model.analytics.daily_sales_summary"));
    assert!(!ran.contains("model.analytics.dim_customers"));
    assert!(rows
        .iter()
        .all(|r| r.3.as_deref() == Some("--select fact_sales+")));
    let count: i64 = db
        .client
        .query_one("select count(*) from marts.daily_sales_summary", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 2);

    // A whole-project apply records no selection.
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url]);
    assert_eq!(code, 0, "{err}");
    let last = db.last_run();
    assert!(db.run_rows(last).iter().all(|r| r.3.is_none()));

    // `test -s` runs the selected tests only.
    let (code, _, err) = stackc(&["test", d, "--database-url", &db.url, "-s", "fact_sales"]);
    assert_eq!(code, 0, "{err}");
    // Data tests: a unit test runs with `test --unit`.
    let tests_of: Vec<String> = ls_ids(&dir, &["-s", "fact_sales", "--resource-type", "test"])
        .into_iter()
        .filter(|id| id.starts_with("test."))
        .collect();
    let said = err.lines().filter(|l| l.contains("] test ")).count();
    assert_eq!(said, tests_of.len(), "{err}");
    assert!(
        err.contains(&format!("test: {} tests", tests_of.len())),
        "{err}"
    );
}

#[test]
fn a_run_history_without_the_selection_column_keeps_working() {
    let mut db = TestDb::new("stackc_select", "oldhistory");
    let d = template();
    let d = d.to_str().unwrap();
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url]);
    assert_eq!(code, 0, "{err}");
    // The table as stackc created it before the column existed.
    db.client
        .batch_execute("alter table public.stackc_run_history drop column selection")
        .unwrap();
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url, "-s", "tag:bi"]);
    assert_eq!(code, 0, "{err}");
    let last = db.last_run();
    let rows = db.run_rows(last);
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r.3.as_deref() == Some("--select tag:bi")));
}

#[test]
fn fail_fast_stops_at_the_first_failure() {
    let full = TestDb::new("stackc_select", "failfast");
    let dir = repo().join("tests/fixtures_apply/downstream");
    let d = dir.to_str().unwrap();
    let (code, _, err) = stackc(&["apply", d, "--database-url", &full.url]);
    assert_eq!(code, 1, "{err}");
    let without: usize = err.lines().filter(|l| l.starts_with('[')).count();
    assert!(err.contains("build marts.mart_ok ... ok"), "{err}");

    let db = TestDb::new("stackc_select", "failfast2");
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url, "--fail-fast"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("stopped at the first failure (--fail-fast)"),
        "{err}"
    );
    let failed = err.lines().filter(|l| l.contains("... FAILED")).count();
    assert_eq!(failed, 1, "{err}");
    let with: usize = err.lines().filter(|l| l.starts_with('[')).count();
    assert!(
        with < without,
        "{with} steps with --fail-fast, {without} without:\n{err}"
    );
    assert!(err.contains("not run"), "{err}");

    // `test --fail-fast`: the first failing test ends the run.
    let (code, _, err) = stackc(&["test", d, "--database-url", &full.url, "--fail-fast"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("stopped at the first failure (--fail-fast)"),
        "{err}"
    );
}

#[test]
fn a_malformed_selection_is_a_usage_error_and_runs_nothing() {
    let mut db = TestDb::new("stackc_select", "usage");
    let d = template();
    let (code, _, err) = stackc(&[
        "apply",
        d.to_str().unwrap(),
        "--database-url",
        &db.url,
        "-s",
        "a,,b",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("empty term"), "{err}");
    assert!(!db.exists("public.stackc_schema_history"));
}

#[test]
fn views_dropped_with_a_rebuilt_selected_relation_are_rebuilt_along() {
    let mut db = TestDb::new("stackc_select", "cascade");
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(&repo().join("tests/fixtures_graph/layers"), tmp.path());
    let d = tmp.path().to_str().unwrap();
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url]);
    assert_eq!(code, 0, "{err}");
    // A new column: fct_orders' migration recreates its table, and `drop
    // ... cascade` takes the materialized view and the view on it along.
    let model = tmp.path().join("models/marts/fct_orders.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text.replace("o.amount,", "o.amount, 1 as one,")).unwrap();
    let (code, _, err) = stackc(&[
        "apply",
        d,
        "--database-url",
        &db.url,
        "-s",
        "fct_orders",
        "--full-refresh",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("rebuilt along, as a rebuilt relation's views and the foreign keys on it are dropped with it: marts.daily, public.top"),
        "{err}"
    );
    assert!(err.contains("refresh marts.daily ... ok"), "{err}");
    assert!(!err.contains("stg.stg_orders"), "not selected: {err}");
    assert!(db.exists("marts.daily") && db.exists("public.top"));
    let run = db.last_run();
    let steps: BTreeSet<String> = db.run_rows(run).into_iter().map(|r| r.1).collect();
    assert!(steps.contains("model.shop.daily"), "{steps:?}");
    assert!(!steps.contains("model.shop.stg_orders"), "{steps:?}");
}

#[test]
fn a_rebuilt_table_keeps_the_foreign_keys_the_project_declares_and_names_the_others() {
    let mut db = TestDb::new("stackc_select", "fk");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    common::copy_tree(&repo().join("tests/fixtures_apply/foreign_keys"), &dir);
    let d = dir.to_str().unwrap();
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url]);
    assert_eq!(code, 0, "{err}");
    let foreign_keys = |db: &mut TestDb, table: &str| -> i64 {
        db.client
            .query_one(
                "select count(*) from pg_constraint where contype = 'f' and conrelid = to_regclass($1)",
                &[&table],
            )
            .unwrap()
            .get(0)
    };
    // The contract's two: model level (named) and column level.
    assert_eq!(foreign_keys(&mut db, "shop.orders"), 2);
    // What the project does not declare: a table and a view of another schema.
    db.client
        .batch_execute(
            "create schema audit;
             create table audit.refunds (customer_id integer constraint refunds_customer_fk references shop.customers (customer_id));
             create view audit.named_customers as select name from shop.customers;",
        )
        .unwrap();

    // customers' migration changes (a column's type): it drops the table
    // with `cascade`, which takes orders' foreign keys along.
    let schema = dir.join("models/schema.yml");
    let text = std::fs::read_to_string(&schema).unwrap();
    std::fs::write(
        &schema,
        text.replacen("data_type: text", "data_type: varchar(50)", 1),
    )
    .unwrap();
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url, "-s", "customers"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("rebuilt along, as a rebuilt relation's views and the foreign keys on it are dropped with it: shop.orders"),
        "{err}"
    );
    // orders was rebuilt along: its keys are back, and so are its rows.
    assert_eq!(foreign_keys(&mut db, "shop.orders"), 2, "{err}");
    let orders: i64 = db
        .client
        .query_one("select count(*) from shop.orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(orders, 3);
    // The others are named before they go.
    assert!(
        err.contains("warning: foreign key refunds_customer_fk of table audit.refunds references shop.customers, which this apply rebuilds"),
        "{err}"
    );
    assert!(
        err.contains(
            "warning: view audit.named_customers reads shop.customers, which this apply rebuilds"
        ),
        "{err}"
    );
    assert_eq!(foreign_keys(&mut db, "audit.refunds"), 0);
    assert!(!db.exists("audit.named_customers"));

    // Nothing pending, nothing dropped: no warning.
    let (code, _, err) = stackc(&["apply", d, "--database-url", &db.url]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning:"), "{err}");
}
