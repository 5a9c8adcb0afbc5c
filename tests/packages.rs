//! dbt packages end to end: `tests/fixtures/ok_dbt_packages` installs a
//! small package of stackc's own under `dbt_packages/` and uses its macros
//! by namespace, its dispatched macros (with a root-project override), a
//! macro that returns a list built with `append`, and dbt's own macros.
//! The compiled model is pinned in `expected_orders.sql` beside it
//! (`STACKC_UPDATE_EXPECTED=1` rewrites it; review the diff).
//!
//! `tests/fixtures/ok_dbt_package_models` installs a package with models,
//! a seed, vars and generic tests of its own; it is applied on the real
//! PostgreSQL, as `scripts/dbt_parity_packages.sh` compares it with dbt.

mod common;

use std::path::Path;
use std::process::Command;

use common::{compile_ok, compile_quiet, copy_fixture, repo};
use postgres::NoTls;

/// `stackc <command> <dir>` with the fixture's profile pointed at `db`.
fn stackc_on(dir: &Path, command: &str, db: &str) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackc"));
    cmd.arg(command).arg(dir).env("NO_COLOR", "1");
    for var in ["DATABASE_URL", "PGHOST", "PGDATABASE", "DBT_PROFILES_DIR"] {
        cmd.env_remove(var);
    }
    let config: postgres::Config = common::admin_url().parse().unwrap();
    if let postgres::config::Host::Tcp(h) = &config.get_hosts()[0] {
        cmd.env("STACKC_DBT_HOST", h);
    }
    cmd.env("STACKC_DBT_DATABASE", db)
        .env("STACKC_DBT_PASSWORD", "");
    let out = cmd.output().expect("the stackc binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

struct Db(String);

impl Drop for Db {
    fn drop(&mut self) {
        common::drop_database(&self.0);
    }
}

#[test]
fn a_package_s_models_seeds_vars_and_generic_tests_apply_as_dbt_builds_them() {
    let (name, config) = common::create_database("stackc_pkg", "models");
    let _db = Db(name.clone());
    let project = copy_fixture("ok_dbt_package_models");
    let (code, out) = stackc_on(project.path(), "apply", &name);
    assert_eq!(code, 0, "{out}");
    // The root project's `models: {pkg_models: {unused: {+enabled: false}}}`
    // keeps the package's model out of the graph.
    assert!(!out.contains("unused"), "{out}");
    for test in [
        "pkg_models_accepted_range_payments_amount__100__0 ... ok",
        "pkg_models_expression_is_true_payments_amount_0 ... ok",
        "pkg_models_unique_combination_of_columns_payments_id__method ... ok",
    ] {
        assert!(out.contains(test), "{out}");
    }
    let mut client = config.connect(NoTls).unwrap();
    let relations: Vec<String> = client
        .query(
            "select table_schema || '.' || table_name from information_schema.tables
             where table_schema like 'analytics%' order by 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The root's `+schema: pkg` for the package: dbt's `<target>_pkg`; the
    // package's seed in the target schema.
    assert_eq!(
        relations,
        [
            "analytics.payments",
            "analytics.pkg_payments",
            "analytics_pkg.pkg_stg_payments",
            "analytics_pkg.pkg_summary",
        ]
    );
    let row = client
        .query_one(
            "select greeting, label, payments, total::text from analytics_pkg.pkg_summary",
            &[],
        )
        .unwrap();
    // `greeting` from the root's `vars: {pkg_models: ...}` over the
    // package's own; `label` from the package's vars.
    let got: (String, String, i64, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        got,
        (
            "hello from shop".to_string(),
            "package default".to_string(),
            3,
            "35.75".to_string()
        )
    );
    // `model` is the node rendered; `graph` holds the enabled nodes.
    let row = client
        .query_one(
            "select node_id, materialized, package_models from analytics.payments limit 1",
            &[],
        )
        .unwrap();
    let got: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        got,
        (
            "model.shop.payments".to_string(),
            "table".to_string(),
            "pkg_stg_payments,pkg_summary".to_string()
        )
    );
    let node: String = client
        .query_one("select node from analytics_pkg.pkg_summary", &[])
        .unwrap()
        .get(0);
    assert_eq!(node, "pkg_models.pkg_summary");
    // The root's `+column_types` for the package's seed wins per column;
    // the package's own `id: bigint` stays.
    let types: Vec<String> = client
        .query(
            "select column_name || ' ' || data_type from information_schema.columns
             where table_name = 'pkg_payments' order by ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(types, ["id bigint", "amount numeric", "method text"]);

    // The same package tests fail where the rows break them.
    let schema = project.path().join("models/schema.yml");
    let text = std::fs::read_to_string(&schema).unwrap();
    let text = text
        .replace("amount > 0", "amount > 6")
        .replace("max_value: 100", "max_value: 15");
    std::fs::write(&schema, text).unwrap();
    let (code, out) = stackc_on(project.path(), "apply", &name);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("test pkg_models_accepted_range_payments_amount__15__0: 1 failing row"),
        "{out}"
    );
    assert!(
        out.contains("test pkg_models_expression_is_true_payments_amount_6: 1 failing row"),
        "{out}"
    );
    assert!(
        out.contains("pkg_models_unique_combination_of_columns_payments_id__method ... ok"),
        "{out}"
    );
}

#[test]
fn a_package_s_macros_compile_as_dbt_renders_them() {
    let dir = repo().join("tests/fixtures/ok_dbt_packages");
    let files = compile_ok(&dir);
    let (_, sql) = files
        .iter()
        .find(|(path, _)| path.starts_with("migrations/") && path.contains("orders"))
        .expect("the orders model is compiled");
    // Pinned in the fixture (tests/snapshots/ holds diagnostics only).
    let expected = repo().join("tests/fixtures/ok_dbt_packages/expected_orders.sql");
    if std::env::var_os("STACKC_UPDATE_EXPECTED").is_some() {
        std::fs::write(&expected, sql).unwrap();
    }
    assert_eq!(sql, &std::fs::read_to_string(&expected).unwrap());
    // dbt's depends_on.macros: what the model itself calls, by package.
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let macros = &manifest["nodes"]["model.shop.orders"]["depends_on"]["macros"];
    for m in [
        "macro.dbt.dateadd",
        "macro.dbt.hash",
        "macro.pkg_util.money",
    ] {
        assert!(
            macros.as_array().unwrap().iter().any(|v| v == m),
            "{m} in {macros}"
        );
    }
}

/// Jinja in YAML config values renders as dbt renders it: a model's
/// `schema:` in a schema file, a source's `schema:`/`identifier:`, a
/// package's schema file with the package's vars, `as_bool` and a list
/// under dbt_project.yml; `var('x', none)` is none in a model.
#[test]
fn jinja_in_yaml_config_values_renders_as_dbt_does() {
    let dir = repo().join("tests/fixtures/ok_dbt_jinja_in_yaml_configs");
    let files = compile_ok(&dir);
    let sql = |name: &str| {
        files
            .iter()
            .find(|(path, _)| path.starts_with("migrations/") && path.ends_with(name))
            .map(|(_, sql)| sql.clone())
            .unwrap_or_else(|| panic!("{name} is compiled: {files:?}"))
    };
    let orders = sql("_orders.sql");
    assert!(
        orders
            .contains("create view analytics_marts.orders as\nselect id from landing.raw_orders\n"),
        "{orders}"
    );
    assert!(sql("_counts.sql").contains("create view analytics_pkg_out.counts"));
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    assert_eq!(
        manifest["nodes"]["model.shop.orders"]["tags"],
        serde_json::json!(["daily"])
    );
}

#[test]
fn the_root_project_s_configs_for_every_project_reach_a_package_s_nodes() {
    // dbt-core 1.10.13's `dbt ls --output json` on this fixture puts both
    // models in analytics_shared and the package's seed in analytics_loads.
    let files = compile_ok(&repo().join("tests/fixtures/ok_dbt_root_configs_every_package"));
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let schema = |id: &str| manifest["nodes"][id]["schema"].clone();
    assert_eq!(schema("model.pkg_every.pkg_thing"), "analytics_shared");
    assert_eq!(schema("model.store.orders"), "analytics_shared");
    assert_eq!(schema("seed.pkg_every.pkg_rows"), "analytics_loads");
}

/// A package seed the root disables leaves its name to the root's seed of
/// the same name, which a `ref` then reads (as dbt: only enabled nodes
/// clash).
#[test]
fn a_disabled_package_seed_leaves_its_name_to_the_root_s() {
    let dir = repo().join("tests/fixtures/ok_dbt_root_seed_replaces_disabled_package_seed");
    let files = compile_ok(&dir);
    let seed = &files["run/000_allowed.sql"];
    assert!(seed.contains("root_value"), "{seed}");
    assert!(!seed.contains("package_default"), "{seed}");
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    assert_eq!(
        manifest["nodes"]["model.shop.codes"]["depends_on"]["nodes"],
        serde_json::json!(["seed.shop.allowed"])
    );
}

/// dbt renders a model's hook in the model's context: `graph`, `model`
/// and `execute` are those of the model's own render.
#[test]
fn a_hook_renders_with_the_model_s_graph_and_model() {
    let dir = repo().join("tests/fixtures/ok_dbt_hook_reads_graph");
    let files = compile_ok(&dir);
    let run = &files["run/000_audit.sql"];
    assert!(
        run.contains("insert into analytics.audit (note) values ('audit: audit,orders');"),
        "{run}"
    );
}

/// The root's config trees for a package (and its snapshot tree) are
/// rendered as Jinja like every dbt_project.yml config value, and the
/// root's `+schema` for the package beats the package's deeper one, as
/// `dbt parse` 1.10 names them.
#[test]
fn the_root_s_jinja_configs_for_a_package_render() {
    let out = tempfile::tempdir().unwrap();
    let dir = repo().join("tests/fixtures/ok_dbt_root_config_jinja_for_a_package");
    let (code, stderr) = compile_quiet(&dir, out.path(), |_| {});
    assert_eq!(code, Some(0), "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("manifest.json")).unwrap())
            .unwrap();
    let schema = |id: &str| manifest["nodes"][id]["schema"].clone();
    for id in ["stg_tickets_tmp", "stg_tickets", "tickets_enriched"] {
        assert_eq!(schema(&format!("model.tickets.{id}")), "analytics_tickets");
    }
    assert_eq!(schema("snapshot.helpdesk.tickets_snapshot"), "snapshots");
}

/// A package model the root disables leaves its name to the root's model
/// of the same name, which every `ref` then reads, the package's own
/// models' too (as dbt: only enabled nodes clash).
#[test]
fn a_disabled_package_model_leaves_its_name_to_the_root_s() {
    let dir = repo().join("tests/fixtures/ok_dbt_root_model_replaces_disabled_package_model");
    let (code, stderr) = compile_quiet(&dir, tempfile::tempdir().unwrap().path(), |_| {});
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let files = compile_ok(&dir);
    let customers = &files["migrations/R__000_customers.sql"];
    assert!(customers.contains("root_value"), "{customers}");
    assert!(!files.values().any(|f| f.contains("package_default")));
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let nodes: Vec<&str> = manifest["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(!nodes.contains(&"model.pkg.customers"), "{nodes:?}");
    for reader in ["model.shop.orders", "model.pkg.pkg_customer_count"] {
        assert_eq!(
            manifest["nodes"][reader]["depends_on"]["nodes"],
            serde_json::json!(["model.shop.customers"]),
            "{reader}"
        );
    }
}

/// Python's values as dbt's Jinja has them (`tests/fixtures/ok_dbt_python_values`,
/// output checked against `dbt compile`): sets compare without order, a
/// filter's `| list` is a new list `pop()` changes, a pattern's `{{` is a
/// literal and verbose mode keeps its comments, Python's string methods.
#[test]
fn python_values_behave_as_in_dbt_s_jinja() {
    let files = compile_ok(&repo().join("tests/fixtures/ok_dbt_python_values"));
    let (_, sql) = files
        .iter()
        .find(|(path, _)| path.starts_with("migrations/") && path.contains("report"))
        .expect("the report model is compiled");
    let want = "select
    true as same,
    false as fewer,
    'orders_b'::text as last_orders,
    'orders_a,orders_b'::text as refs,
    2 as seen,
    '007-ab..-amount-a.b'::text as strings
from analytics.orders_b";
    assert!(sql.contains(want), "{sql}");
}

/// dbt's `graph` beyond models (`tests/fixtures/ok_dbt_graph_resources`,
/// output checked against `dbt compile`): exposures and groups with what
/// their YAML says, a node's `columns` in the schema file's order, a
/// source's loader and freshness; the on-run-end hook reads the graph too.
#[test]
fn the_graph_has_exposures_groups_and_columns_as_dbt_s() {
    let files = compile_ok(&repo().join("tests/fixtures/ok_dbt_graph_resources"));
    let (_, sql) = files
        .iter()
        .find(|(path, _)| path.starts_with("migrations/") && path.contains("report"))
        .expect("the report model is compiled");
    let want = "select
    'One row per order'::text as orders_description,
    'id,amount'::text as orders_columns,
    'integer None'::text as types,
    'fivetran 12 hour integer shop.raw.payments'::text as payments,
    'finance Ada'::text as groups,
    'exposure.shop.weekly'::text as exposures,
    0 as metrics
from analytics.orders";
    assert!(sql.contains(want), "{sql}");
    let end = &files["run/on_run_end.sql"];
    assert!(
        end.contains("('weekly dashboard high https://example.com/weekly ada@example.com None model.shop.orders shop models/schema.yml')"),
        "{end}"
    );
    // The group is in the manifest with the other entries.
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["groups"]["group.shop.finance"]["name"], "finance");
}
