//! dbt projects' schema files through the real binary: warnings that
//! `--warn-error` turns into errors, dbt's test names, and no second error
//! after a first one.

mod common;

use common::{compile_ok, copy_tree, read_tree, repo, stackc};

fn fixture(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures").join(name)
}

fn compile(dir: &std::path::Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = stackc(&args);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn warn_error_makes_warnings_errors() {
    let dir = fixture("warn_w0330_dbt_entry_without_model");
    let (code, _) = compile(&dir, &[]);
    assert_eq!(code, Some(0));
    let (code, stderr) = compile(&dir, &["--warn-error"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error[W0330]"), "{stderr}");
    assert!(stderr.contains("found 1 error and 0 warnings"), "{stderr}");
}

#[test]
fn warn_error_options_include_and_exclude_codes() {
    let dir = fixture("warn_w0330_dbt_entry_without_model");
    let (code, stderr) = compile(&dir, &["--warn-error-options", r#"{"include": ["W0330"]}"#]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, stderr) = compile(
        &dir,
        &[
            "--warn-error-options",
            r#"{"include": "all", "exclude": ["W0330"]}"#,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("warning[W0330]"), "{stderr}");
    let (code, stderr) = compile(&dir, &["--warn-error-options", r#"{"include": ["W0203"]}"#]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = compile(&dir, &["--warn-error-options", "{oops"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--warn-error-options"), "{stderr}");
}

#[test]
fn the_same_checks_are_errors_in_a_stackc_project() {
    let project = tempfile::tempdir().unwrap();
    copy_tree(
        &fixture("warn_w0330_dbt_entry_without_model"),
        project.path(),
    );
    std::fs::remove_file(project.path().join("dbt_project.yml")).unwrap();
    std::fs::write(
        project.path().join("stackc.toml"),
        "[project]\nname = \"shop\"\n",
    )
    .unwrap();
    let (code, stderr) = compile(project.path(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error[E0305]"), "{stderr}");
}

#[test]
fn tests_are_named_and_filed_as_dbt_names_them() {
    let files = compile_ok(&fixture("ok_dbt_schema_vocabulary"));
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let mut tests: Vec<(String, String)> = manifest["nodes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|n| n["resource_type"] == "test")
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["unique_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    tests.sort();
    let names: Vec<&str> = tests.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "dbt_utils_accepted_range_orders_amount__0",
            "not_null_orders_order_id",
            "orders_order_id_is_unique",
            "orders_status_known",
        ]
    );
    for (name, id) in &tests {
        let hash = id.strip_prefix(&format!("test.shop.{name}.")).unwrap();
        assert_eq!(hash.len(), 10, "{id}");
    }
    // A node's tests share one file, each query headed by its name.
    let limited = &files["run/001_orders.tests.sql"];
    let not_null = limited
        .split("\n-- test ")
        .find(|t| t.starts_with("not_null_orders_order_id "))
        .unwrap_or_else(|| panic!("{limited}"));
    assert!(not_null.contains("limit 100"), "{not_null}");
}

#[test]
fn no_second_error_after_a_model_fails_to_render() {
    let project = tempfile::tempdir().unwrap();
    copy_tree(&fixture("ok_dbt_schema_vocabulary"), project.path());
    std::fs::write(
        project.path().join("models/orders.sql"),
        "select {{ undefined_macro() }} as order_id\n",
    )
    .unwrap();
    std::fs::write(
        project.path().join("models/items.sql"),
        "select 1 as order_id\n",
    )
    .unwrap();
    std::fs::write(
        project.path().join("models/items.yml"),
        "models:\n  - name: items\n    columns:\n      - name: order_id\n        data_tests:\n          - relationships:\n              arguments: {to: ref('orders'), field: order_id}\nunit_tests:\n  - name: t\n    model: orders\n    given: []\n    expect: {rows: []}\n",
    )
    .unwrap();
    let (code, stderr) = compile(project.path(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("found 1 error"), "{stderr}");
    assert!(stderr.contains("models/orders.sql"), "{stderr}");
}

#[test]
fn no_unknown_source_error_when_the_schema_file_is_broken() {
    let project = tempfile::tempdir().unwrap();
    copy_tree(&fixture("ok_dbt_schema_vocabulary"), project.path());
    std::fs::write(
        project.path().join("models/from_raw.sql"),
        "select id from {{ source('shop_raw', 'payments') }}\n",
    )
    .unwrap();
    std::fs::write(
        project.path().join("models/sources.yml"),
        "sources:\n  - name: shop_raw\n    tables:\n      - name: payments\n       - name: refunds\n",
    )
    .unwrap();
    let (code, stderr) = compile(project.path(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error[E0002]"), "{stderr}");
    assert!(!stderr.contains("E0302"), "{stderr}");
}

#[test]
fn test_blocks_define_generic_tests() {
    let files = compile_ok(&fixture("ok_dbt_generic_tests"));
    let tests = &files["run/001_orders.tests.sql"];
    let test = |name: &str| {
        tests
            .split("\n-- test ")
            .find(|t| t.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no test {name} in {tests}"))
            .to_string()
    };
    let plain = &test("not_negative_orders_amount");
    assert!(
        plain.contains("\nselect amount\nfrom analytics.orders\nwhere amount < 0\n"),
        "{plain}"
    );
    // From tests/generic/, with its own arguments, `where` and a ref.
    let ranged = &test("in_range_orders_amount__100__1__raw_orders");
    assert!(
        ranged.contains("from (select * from analytics.orders where status = 'placed') as dbt_subquery\nwhere amount < 1 or amount > 100 or amount not in (select amount from analytics.raw_orders)"),
        "{ranged}"
    );
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let node = manifest["nodes"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["name"] == "in_range_orders_amount__100__1__raw_orders")
        .unwrap();
    assert_eq!(
        node["depends_on"]["nodes"],
        serde_json::json!(["model.shop.orders", "seed.shop.raw_orders"])
    );
    // Settings written as Jinja are rendered with `target`.
    let nodes = manifest["nodes"].as_object().unwrap();
    let unique = nodes
        .values()
        .find(|n| n["name"] == "unique_orders_order_id")
        .unwrap();
    assert_eq!(unique["severity"], "warn");
    assert!(!nodes
        .values()
        .any(|n| n["name"] == "not_null_orders_order_id"));
}

#[test]
fn exposures_semantic_models_and_metrics_are_in_the_lineage() {
    let files = compile_ok(&fixture("ok_dbt_schema_vocabulary"));
    let m: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    assert_eq!(
        m["exposures"]["exposure.shop.weekly_orders"]["depends_on"]["nodes"],
        serde_json::json!(["model.shop.orders"])
    );
    assert_eq!(
        m["parent_map"]["metric.shop.revenue"],
        serde_json::json!(["semantic_model.shop.orders_sm"])
    );
    assert_eq!(
        m["parent_map"]["saved_query.shop.revenue_by_day"],
        serde_json::json!(["metric.shop.revenue"])
    );
    let children = m["child_map"]["model.shop.orders"].as_array().unwrap();
    assert!(children.contains(&"exposure.shop.weekly_orders".into()));
    assert!(children.contains(&"semantic_model.shop.orders_sm".into()));
    // No SQL for them.
    assert!(!files
        .keys()
        .any(|f| f.contains("weekly_orders") || f.contains("revenue")));
}

#[test]
fn model_versions_resolve_as_dbt_resolves_them() {
    let files = compile_ok(&fixture("ok_dbt_model_versions"));
    let orders = &files["migrations/R__001_orders.sql"];
    for (alias, version) in [("latest", 2), ("old", 1), ("same", 2)] {
        assert!(
            orders.contains(&format!("analytics.dim_customers_v{version} as {alias}")),
            "{orders}"
        );
    }
    let m: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let mut tests: Vec<&str> = m["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with("test."))
        .collect();
    tests.sort();
    // The unique ids `dbt ls` gives for the same project (dbt 1.10).
    assert_eq!(
        tests,
        [
            "test.shop.not_null_dim_customers_v2_full_name.d24c3310ec",
            "test.shop.unique_dim_customers_v1_customer_id.cea60a0517",
            "test.shop.unique_dim_customers_v2_customer_id.f52bb79f08",
        ]
    );
}

#[test]
fn an_enforced_contract_creates_the_table_with_its_constraints() {
    let files = compile_ok(&fixture("ok_dbt_contract"));
    let migration = &files["migrations/R__001_orders.sql"];
    assert!(
        migration.contains("create table analytics.orders (\n    order_id integer not null primary key,\n    status text check (status in ('placed', 'shipped')),\n    amount numeric(12, 2),\n    constraint amount_not_negative check (amount >= 0)\n);\n"),
        "{migration}"
    );
    let load = &files["run/001_orders.sql"];
    // By name: the model selects the columns in another order.
    assert!(
        load.contains("insert into analytics.orders (order_id, status, amount)\nselect order_id, status, amount\nfrom (\n"),
        "{load}"
    );
}

#[test]
fn sources_of_a_dbt_project_without_migrations_are_not_warned_about() {
    let project = tempfile::tempdir().unwrap();
    copy_tree(&fixture("ok_dbt_schema_vocabulary"), project.path());
    std::fs::write(
        project.path().join("models/from_raw.sql"),
        "select id from {{ source('shop_raw', 'payments') }}\n",
    )
    .unwrap();
    std::fs::write(
        project.path().join("models/sources.yml"),
        "sources:\n  - name: shop_raw\n    tables:\n      - name: payments\n",
    )
    .unwrap();
    let (code, stderr) = compile(project.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("W0309"), "{stderr}");
    // With migrations of its own, they are compared as in a stackc project.
    std::fs::create_dir(project.path().join("migrations")).unwrap();
    std::fs::write(
        project.path().join("migrations/V1__raw.sql"),
        "create schema if not exists other;\n",
    )
    .unwrap();
    let (code, stderr) = compile(project.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("W0309"), "{stderr}");
}

/// Source and source-table `quoting:` as dbt 1.10 applies them: the
/// table's over the source's, and the project's `quoting:` not at all
/// (sources stay quoted, dbt-postgres's default); a part not quoted is
/// what PostgreSQL makes of it, folded to lower case.
#[test]
fn source_quoting_is_the_sources_own() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "dbt_project.yml",
        "name: q\nprofile: q\nquoting:\n  identifier: false\n  schema: false\n",
    );
    write(
        "models/sources.yml",
        "sources:\n  - name: raw\n    schema: RawData\n    quoting:\n      schema: false\n    tables:\n      - name: orders\n        identifier: Orders\n        quoting:\n          identifier: false\n      - name: plain\n        identifier: Plain\n  - name: other\n    schema: Other\n    tables:\n      - name: t\n        identifier: T\n        quoting:\n          schema: false\n",
    );
    write(
        "models/m.sql",
        "select * from {{ source('raw', 'orders') }}\nunion all select * from {{ source('raw', 'plain') }}\nunion all select * from {{ source('other', 't') }}\n",
    );
    let files = compile_ok(dir.path());
    let model = files
        .iter()
        .find(|(path, _)| path.ends_with("_m.sql"))
        .map(|(_, text)| text.as_str())
        .unwrap();
    assert!(
        model.contains("select * from rawdata.orders\nunion all select * from rawdata.\"Plain\"\nunion all select * from other.\"T\"\n"),
        "{model}"
    );
}

/// dbt renders generic test arguments natively: Jinja giving a list is the
/// list, one giving `False` is the boolean.
#[test]
fn jinja_test_arguments_render_to_their_values() {
    let files = compile_ok(&fixture("ok_dbt_jinja_test_arguments"));
    let tests = &files["run/000_orders.tests.sql"];
    assert!(
        tests.contains("status not in ('placed', 'shipped')"),
        "{tests}"
    );
    assert!(tests.contains("code not in (1, 2)"), "{tests}");
}

#[test]
fn a_seed_entrys_config_wins_over_the_seeds_tree() {
    let files = compile_ok(&fixture("ok_dbt_seed_properties_config"));
    let migration = &files["migrations/R__000_prov.sql"];
    // The entry's `schema:` over the tree's `+schema`; its column type
    // (Jinja with whitespace control in a block scalar, rendered as dbt
    // does) over the tree's, and the tree's other column type kept.
    assert!(
        migration.contains(
            "create table analytics_pdata.prov (\n    npi varchar(35),\n    name varchar(20)\n"
        ),
        "{migration}"
    );
}

#[test]
fn a_packages_seed_properties_beside_its_csv_apply() {
    let files = compile_ok(&fixture("ok_dbt_package_seed_properties"));
    let migration = &files["migrations/R__000_code_list.sql"];
    // The schema file sits under the package's seed path, not its model
    // path: dbt reads it there, so its schema and column type hold (the
    // codes' leading zeros survive as text instead of an inferred integer).
    assert!(
        migration.contains(
            "create table analytics_reference.code_list (\n    code varchar(4),\n    label text\n"
        ),
        "{migration}"
    );
}

/// A seed entry's `config:` says how the CSV is read, as the `seeds:` tree
/// does (and wins over it): `delimiter`, and `quote_columns: false`, which
/// folds the names to lower case. A package's seed properties beside its
/// CSVs count too.
#[test]
fn a_seed_entrys_delimiter_and_quote_columns_read_the_csv() {
    let out = tempfile::tempdir().unwrap();
    let output = stackc(&[
        "compile",
        fixture("ok_dbt_seed_entry_reads_the_csv").to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let files = read_tree(out.path());
    let load = |name: &str| {
        files
            .iter()
            .find(|(k, _)| k.starts_with("run/") && k.ends_with(&format!("_{name}.sql")))
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let piped = load("piped");
    assert!(
        piped.contains("insert into app.piped (code, label) values\n    (' a '::text, ' first, with comma '::text),"),
        "{piped}"
    );
    let semi = load("semi");
    assert!(
        semi.contains(
            "insert into app.semi (\"ID\", \"Name\") values\n    ('1'::integer, 'x'::text);"
        ),
        "{semi}"
    );
    let tabbed = load("tabbed");
    assert!(
        tabbed.contains("(kind, note) values\n    ('x'::text, 'a,b'::text);"),
        "{tabbed}"
    );
}

/// Test tags and descriptions in manifest.json as `dbt parse` writes them
/// (dbt 1.10.13 on `ok_dbt_test_tags`): node `tags` are the column's and
/// the test's own, sorted, then the `data_tests:` tree's; `config.tags`
/// the tree's, then the test's own, twice for a test whose `config()` dbt
/// renders (all but its built-in `unique` and `not_null`). `tag:` selects
/// tests by them.
#[test]
fn test_tags_and_descriptions_are_dbts() {
    let out = tempfile::tempdir().unwrap();
    let dir = fixture("ok_dbt_test_tags");
    let output = stackc(&[
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("manifest.json")).unwrap())
            .unwrap();
    let expected = [
        (
            "accepted_values_orders_status__placed__shipped.7de09bf3cd",
            "",
            &["cfg_only", "test_tree"][..],
            &["test_tree", "cfg_only", "cfg_only"][..],
        ),
        (
            "custom_named.e2ae967dd3",
            "A model-level test, described",
            &["cfg_tag", "test_tree"],
            &["test_tree", "cfg_tag", "cfg_tag"],
        ),
        (
            "not_null_orders_id.84ef11d8fe",
            "",
            &["col_tag", "test_tree"],
            &["test_tree"],
        ),
        (
            "relationships_orders_customer_id__id__ref_customers_.4282b0c525",
            "",
            &["single_string", "test_tree"],
            &["test_tree", "single_string", "single_string"],
        ),
        (
            "singular_check",
            "",
            &["test_tree", "singular"],
            &["test_tree", "singular"],
        ),
        (
            "unique_orders_id.1360ecc70e",
            "Ids are unique",
            &["col_tag", "own_tag", "test_tree"],
            &["test_tree", "own_tag"],
        ),
    ];
    for (id, description, tags, config_tags) in expected {
        let node = &manifest["nodes"][format!("test.tt.{id}")];
        assert_eq!(
            node["description"].as_str().unwrap_or(""),
            description,
            "{id}"
        );
        assert_eq!(node["tags"], serde_json::json!(tags), "{id}");
        assert_eq!(
            node["config"]["tags"],
            serde_json::json!(config_tags),
            "{id}"
        );
    }
    let listed = stackc(&["ls", dir.to_str().unwrap(), "-s", "tag:col_tag"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "tt.not_null_orders_id\ntt.unique_orders_id\n"
    );
}

/// `should_store_failures()` is the test's own `store_failures`, as in dbt,
/// also in a generic test whose `model` argument hides dbt's `model`.
#[test]
fn should_store_failures_is_the_tests_setting() {
    let out = tempfile::tempdir().unwrap();
    let output = stackc(&[
        "compile",
        fixture("ok_dbt_should_store_failures").to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let files = read_tree(out.path());
    let tests = &files["run/000_orders.tests.sql"];
    assert!(
        tests.contains("select * from app.orders where amount <= 0"),
        "{tests}"
    );
    assert!(
        tests.contains("select id from app.orders where id <= 0"),
        "{tests}"
    );
}

/// `config.get` and `config.require` read the configs this file's
/// `config()` set, then the node's from the project's trees, then the
/// default; in macros too. The SQL is what `dbt compile` 1.10 makes.
#[test]
fn config_get_reads_the_node_s_configs() {
    let out = tempfile::tempdir().unwrap();
    let dir = fixture("ok_dbt_config_get");
    let output = stackc(&[
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let files = read_tree(out.path());
    let migration = &files["migrations/R__000_m.sql"];
    let expected = "select 'table' as m,\n       'dflt' as d,\n       'm_alias' as a,\n       'kw' as k,\n       'data' as t,\n       'True' as p,\n       'table' as r\n";
    assert!(migration.contains(expected), "{migration}");
}
