//! The compiled migrations of the sample project on a real PostgreSQL.
//!
//! Each test runs in its own new database, dropped afterwards. The server is
//! `STACKC_TEST_DATABASE_URL` (default: the local trust-auth server).

mod common;

use common::{repo, stackc};
use postgres::{Client, NoTls};

/// A database created for one test and dropped when the test ends.
struct TestDb {
    name: String,
    client: Client,
    /// Every notice the server sent this client, as psql would print it.
    notices: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TestDb {
    fn new(tag: &str) -> TestDb {
        let (name, mut config) = common::create_database("stackc_test", tag);
        let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&notices);
        config.notice_callback(move |notice| {
            sink.lock().unwrap().push(notice.message().to_string());
        });
        let client = config.connect(NoTls).unwrap();
        TestDb {
            name,
            client,
            notices,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        common::drop_database(&self.name);
    }
}

/// One product, customer, order and sale line in the raw tables.
fn insert_one_sale(db: &mut TestDb) {
    db.client
        .batch_execute(
            "insert into raw.products (product_id, sku, name, category, unit_price) values (1, 'SKU-1', 'Pen', 'BOOK', 2.50);
             insert into raw.customers (customer_id, email, full_name, country_code, signup_date) values (1, 'a@x.org', 'Ann', 'DE', '2024-01-02');
             insert into raw.orders (order_id, customer_id, order_date, status, channel) values (1, 1, '2024-02-01', 'placed', 'web');
             insert into raw.sales (sale_id, order_id, product_id, sku, quantity, unit_price, sold_at) values (1, 1, 1, 'SKU-1', 3, 2.50, '2024-02-01 10:00+00');",
        )
        .unwrap();
}

fn compiled_template() -> (tempfile::TempDir, serde_json::Value) {
    let out = tempfile::tempdir().unwrap();
    let status = stackc(&[
        "compile",
        repo().join("project_template").to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let manifest = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
    (out, serde_json::from_str(&manifest).unwrap())
}

/// Runs every migration in Flyway's order (the manifest's), each in its own
/// transaction, as Flyway would.
fn run_migrations(db: &mut TestDb, out: &std::path::Path, manifest: &serde_json::Value) {
    for m in manifest["migrations"].as_array().unwrap() {
        let file = m["file"].as_str().unwrap();
        let sql = std::fs::read_to_string(out.join(file)).unwrap();
        let mut tx = db.client.transaction().unwrap();
        tx.batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        tx.commit().unwrap();
    }
}

/// Every relation and column in the project's schemas, with types, and every
/// index and constraint: the state migrations leave behind.
fn shape(db: &mut TestDb) -> Vec<String> {
    let mut out = Vec::new();
    for row in db
        .client
        .query(
            "select table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
             from information_schema.columns
             where table_schema not in ('pg_catalog', 'information_schema')
             order by 1",
            &[],
        )
        .unwrap()
    {
        out.push(row.get::<_, String>(0));
    }
    for row in db
        .client
        .query(
            "select schemaname || '.' || indexname || ' ' || indexdef from pg_indexes
             where schemaname not in ('pg_catalog') order by 1",
            &[],
        )
        .unwrap()
    {
        out.push(row.get::<_, String>(0));
    }
    for row in db
        .client
        .query(
            "select conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
             from pg_constraint where connamespace::regnamespace::text not in ('pg_catalog') order by 1",
            &[],
        )
        .unwrap()
    {
        out.push(row.get::<_, String>(0));
    }
    out
}

#[test]
fn migrations_run_twice_in_flyway_order_and_change_nothing_the_second_time() {
    let (out, manifest) = compiled_template();
    let mut db = TestDb::new("twice");
    run_migrations(&mut db, out.path(), &manifest);
    // psql and Flyway print notices: none may suggest that something is
    // missing (a `drop table if exists pg_temp...` said pg_temp was).
    let notices = db.notices.lock().unwrap().clone();
    assert!(
        notices.iter().all(|n| !n.contains("does not exist")),
        "{notices:?}"
    );
    let first = shape(&mut db);
    assert!(
        first
            .iter()
            .any(|c| c.starts_with("marts.fact_sales.sale_id")),
        "{first:?}"
    );
    assert!(
        first
            .iter()
            .any(|c| c.contains("fact_sales__sale_id__uidx")),
        "{first:?}"
    );
    run_migrations(&mut db, out.path(), &manifest);
    assert_eq!(first, shape(&mut db));
}

#[test]
fn run_scripts_load_the_marts_and_the_tests_query() {
    let (out, manifest) = compiled_template();
    let mut db = TestDb::new("run");
    run_migrations(&mut db, out.path(), &manifest);
    insert_one_sale(&mut db);
    for step in manifest["run_order"].as_array().unwrap() {
        let file = step
            .get("full_file")
            .unwrap_or(&step["file"])
            .as_str()
            .unwrap();
        let sql = std::fs::read_to_string(out.path().join(file)).unwrap();
        if step["step"] == "vacuum" {
            // VACUUM cannot run inside a transaction block.
            db.client
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            continue;
        }
        let mut tx = db.client.transaction().unwrap();
        if step["step"] == "test" {
            // A node's tests share a file: the step says which statement.
            let statements = stackc::apply::statements::split(&sql);
            let n = step["statement"].as_u64().unwrap() as usize;
            let query = &sql[statements[n].range.clone()];
            // `line` is where the test's own text starts: its query, or
            // the comments the test's author put before it.
            let line = step["line"].as_u64().unwrap() as usize;
            let starts = stackc::diagnostic::line_col(&sql, statements[n].range.start).0;
            assert!(
                sql.lines()
                    .take(starts - 1)
                    .skip(line - 1)
                    .all(|l| l.trim().is_empty() || l.starts_with("--")),
                "{file}: statement {n} starts on line {starts}, the test on {line}"
            );
            assert!(line <= starts, "{file}: statement {n}");
            let rows = tx
                .query(query, &[])
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let node = step["node"].as_str().unwrap();
            assert!(
                rows.is_empty() || node.ends_with("relationships_stg_products_category_code"),
                "{node} in {file} failed: {} rows",
                rows.len()
            );
        } else {
            tx.batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        tx.commit().unwrap();
    }
    let n: i64 = db
        .client
        .query_one("select count(*) from marts.fact_sales", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // The incremental path runs on top of the first load without duplicates.
    let inc = manifest["run_order"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "incremental")
        .unwrap();
    let sql = std::fs::read_to_string(out.path().join(inc["file"].as_str().unwrap())).unwrap();
    db.client.batch_execute(&sql).unwrap();
    let n: i64 = db
        .client
        .query_one("select count(*) from marts.fact_sales", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[test]
fn raw_constraints_reject_bad_data() {
    let (out, manifest) = compiled_template();
    let mut db = TestDb::new("constraints");
    run_migrations(&mut db, out.path(), &manifest);
    db.client
        .batch_execute(
            "insert into raw.products (product_id, sku, name, category, unit_price) values (1, 'SKU-1', 'Pen', 'BOOK', 2.50);
             insert into raw.customers (customer_id, email, full_name, country_code, signup_date) values (1, 'a@x.org', 'Ann', 'DE', '2024-01-02');
             insert into raw.orders (order_id, customer_id, order_date, status, channel) values (1, 1, '2024-02-01', 'placed', 'web');",
        )
        .unwrap();
    let rejected = [
        ("negative price", "insert into raw.products (product_id, sku, name, category, unit_price) values (2, 'SKU-2', 'x', 'BOOK', -1)"),
        ("null sku", "insert into raw.products (product_id, sku, name, category, unit_price) values (3, null, 'x', 'BOOK', 1)"),
        ("out-of-range date", "insert into raw.orders (order_id, customer_id, order_date, status, channel) values (2, 1, '1899-12-31', 'placed', 'web')"),
        ("invalid status", "insert into raw.orders (order_id, customer_id, order_date, status, channel) values (3, 1, '2024-02-01', 'lost', 'web')"),
    ];
    for (what, sql) in rejected {
        let err = db.client.batch_execute(sql).expect_err(what);
        let code = err.code().map(|c| c.code().to_string()).unwrap_or_default();
        // 23514 check_violation, 23502 not_null_violation
        assert!(code == "23514" || code == "23502", "{what}: {err}");
    }
}

fn compile_dir(dir: &std::path::Path) -> (tempfile::TempDir, serde_json::Value) {
    let out = tempfile::tempdir().unwrap();
    let status = stackc(&[
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let manifest = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
    (out, serde_json::from_str(&manifest).unwrap())
}

fn run_file(db: &mut TestDb, out: &std::path::Path, file: &str) -> Result<(), postgres::Error> {
    let sql = std::fs::read_to_string(out.join(file)).unwrap();
    let mut tx = db.client.transaction()?;
    tx.batch_execute(&sql)?;
    tx.commit()
}

fn columns(db: &mut TestDb, relation: &str) -> Vec<String> {
    db.client
        .query(
            "select attname::text from pg_attribute where attrelid = $1::text::regclass and attnum > 0 and not attisdropped order by attnum",
            &[&relation],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Adds `double_quantity` to fact_sales and drops `channel` (model and
/// schema file), with the given extra config.
fn change_fact_sales_columns(project: &std::path::Path, extra_config: &str) {
    let model = project.join("models/marts/fact_sales.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    let text = text
        .replacen(
            "    s.sku,\n",
            "    s.sku,\n    s.quantity * 2 as double_quantity,\n",
            1,
        )
        .replacen("    o.channel,\n", "", 1)
        .replacen(
            "incremental_strategy='merge',",
            &format!("incremental_strategy='merge',{extra_config}"),
            1,
        );
    std::fs::write(&model, text).unwrap();
    let schema = project.join("models/marts/_marts.yml");
    let yml = std::fs::read_to_string(&schema).unwrap();
    let fact = yml.find("- name: fact_sales").unwrap();
    let start = fact + yml[fact..].find("      - name: channel\n").unwrap();
    let end = start + 1 + yml[start + 1..].find("      - name: ").unwrap();
    std::fs::write(&schema, format!("{}{}", &yml[..start], &yml[end..])).unwrap();
}

#[test]
fn incremental_schema_change_follows_on_schema_change() {
    let (out, manifest) = compiled_template();
    let mut db = TestDb::new("schema_change");
    run_migrations(&mut db, out.path(), &manifest);
    insert_one_sale(&mut db);
    run_file(&mut db, out.path(), "run/002_fact_sales.full.sql").unwrap();

    // Default policy (fail): the migration refuses and names the columns.
    let project = tempfile::tempdir().unwrap();
    common::copy_tree(&repo().join("project_template"), project.path());
    change_fact_sales_columns(project.path(), "");
    let (changed, _) = compile_dir(project.path());
    let err = run_file(&mut db, changed.path(), "migrations/R__002_fact_sales.sql").unwrap_err();
    let message = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        message.contains("added double_quantity integer"),
        "{message}"
    );
    assert!(message.contains("removed channel"), "{message}");
    assert!(columns(&mut db, "marts.fact_sales").contains(&"channel".to_string()));

    // append_new_columns: the new column is added and the rows are kept.
    let project = tempfile::tempdir().unwrap();
    common::copy_tree(&repo().join("project_template"), project.path());
    change_fact_sales_columns(project.path(), " on_schema_change='append_new_columns',");
    let (appended, _) = compile_dir(project.path());
    run_file(&mut db, appended.path(), "migrations/R__002_fact_sales.sql").unwrap();
    let cols = columns(&mut db, "marts.fact_sales");
    assert!(cols.contains(&"double_quantity".to_string()), "{cols:?}");
    let n: i64 = db
        .client
        .query_one("select count(*) from marts.fact_sales", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "append_new_columns lost rows");
    run_file(
        &mut db,
        appended.path(),
        "run/002_fact_sales.incremental.sql",
    )
    .unwrap();
    let doubled: Option<i32> = db
        .client
        .query_one(
            "select double_quantity from marts.fact_sales where sale_id = 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(doubled, Some(6));

    // A full refresh (what `stackc apply --full-refresh` sets) rebuilds it in the new shape.
    let sql =
        std::fs::read_to_string(changed.path().join("migrations/R__002_fact_sales.sql")).unwrap();
    let mut tx = db.client.transaction().unwrap();
    tx.batch_execute("set local stackc.full_refresh = 'on'")
        .unwrap();
    tx.batch_execute(&sql).unwrap();
    tx.commit().unwrap();
    let cols = columns(&mut db, "marts.fact_sales");
    assert!(!cols.contains(&"channel".to_string()), "{cols:?}");
    assert!(cols.contains(&"double_quantity".to_string()), "{cols:?}");
}
