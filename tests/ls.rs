//! `stackc ls` on `tests/fixtures/ok_dbt_selection`: each expectation
//! below is what dbt-core 1.10's `dbt ls` prints for the same project and
//! arguments (compared by hand, in one run, on 2026-12-02).

mod common;

use common::{repo, stackc};

fn ls(args: &[&str]) -> (i32, Vec<String>, String) {
    let dir = repo().join("tests/fixtures/ok_dbt_selection");
    let mut all = vec!["ls", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = stackc(&all);
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `stackc ls DIR ARGS...`, which must succeed: its lines, sorted.
fn ok_in(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["ls", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = stackc(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn ok(args: &[&str]) -> Vec<String> {
    let (code, lines, err) = ls(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    lines
}

#[test]
fn the_default_selector_of_selectors_yml_applies_without_a_selection() {
    // path:models/marts minus tag:finance, whose tests go with it.
    assert_eq!(ok(&[]), ["shop.marts.customers"]);
    assert_eq!(
        ok(&["--exclude", "path:models/marts"]),
        [
            "shop.raw_orders",
            "shop.staging.stg_customers",
            "shop.staging.stg_orders"
        ]
    );
}

#[test]
fn graph_operators_and_indirect_selection_as_dbt() {
    assert_eq!(
        ok(&[
            "-s",
            "orders",
            "--indirect-selection",
            "cautious",
            "--output",
            "name"
        ]),
        ["no_negative_ids", "orders", "unique_orders_order_id"]
    );
    assert_eq!(
        ok(&["-s", "+orders", "--resource-type", "seed", "model"]),
        [
            "shop.marts.orders",
            "shop.raw_orders",
            "shop.staging.stg_customers",
            "shop.staging.stg_orders"
        ]
    );
    assert_eq!(
        ok(&["-s", "stg_customers+", "--exclude", "tag:finance"]),
        ["shop.marts.customers", "shop.staging.stg_customers"]
    );
    assert_eq!(
        ok(&["--selector", "staging"]),
        ["shop.staging.stg_customers", "shop.staging.stg_orders"]
    );
    assert_eq!(
        ok(&[
            "-s",
            "tag:daily",
            "-o",
            "json",
            "--output-keys",
            "name",
            "resource_type"
        ]),
        [
            r#"{"name":"stg_customers","resource_type":"model"}"#,
            r#"{"name":"stg_orders","resource_type":"model"}"#
        ]
    );
}

#[test]
fn a_criterion_matching_nothing_warns_and_a_malformed_one_is_a_usage_error() {
    let (code, lines, err) = ls(&["-s", "tag:nope", "stg_orders", "-o", "name"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines, ["stg_orders"]);
    assert!(err.contains("`tag:nope` does not match any node"), "{err}");

    let (code, _, err) = ls(&["-s", "stg_orders,,x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stg_orders,,x\n             ^"), "{err}");
    let (code, _, err) = ls(&["-s", "tagz:x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown selector method `tagz`"), "{err}");
}

#[test]
fn a_package_s_nodes_are_named_by_their_package_as_dbt_names_them() {
    // `dbt ls` on tests/fixtures/ok_dbt_package_models (dbt-core 1.10.13).
    let dir = repo().join("tests/fixtures/ok_dbt_package_models");
    let run = |args: &[&str]| ok_in(&dir, args);
    assert_eq!(
        run(&[]),
        [
            "pkg_models.not_null_pkg_stg_payments_id",
            "pkg_models.pkg_payments",
            "pkg_models.pkg_summary",
            "pkg_models.staging.pkg_stg_payments",
            "pkg_models.unique_pkg_stg_payments_id",
            "shop.payments",
            "shop.pkg_models_accepted_range_payments_amount__100__0",
            "shop.pkg_models_expression_is_true_payments_amount_0",
            "shop.pkg_models_unique_combination_of_columns_payments_id__method",
        ]
    );
    assert_eq!(
        run(&[
            "-s",
            "package:pkg_models",
            "--resource-type",
            "model",
            "seed",
            "--output",
            "json",
            "--output-keys",
            "unique_id"
        ]),
        [
            r#"{"unique_id":"model.pkg_models.pkg_stg_payments"}"#,
            r#"{"unique_id":"model.pkg_models.pkg_summary"}"#,
            r#"{"unique_id":"seed.pkg_models.pkg_payments"}"#,
        ]
    );
}

#[test]
fn versioned_models_are_named_and_selected_as_dbt_does() {
    // `dbt ls` on tests/fixtures/ok_dbt_model_versions (dbt-core 1.10.13).
    let dir = repo().join("tests/fixtures/ok_dbt_model_versions");
    let run = |args: &[&str]| ok_in(&dir, args);
    let models = run(&["--resource-type", "model"]);
    assert_eq!(
        models,
        [
            "shop.dim_customers.v1",
            "shop.dim_customers.v2",
            "shop.orders"
        ]
    );
    // The model's name picks every version; `.` or `_` picks one.
    let v1 = [
        "shop.dim_customers.v1",
        "shop.unique_dim_customers_v1_customer_id",
    ];
    assert_eq!(
        run(&["-s", "dim_customers", "--resource-type", "model"]),
        models[..2]
    );
    assert_eq!(run(&["-s", "dim_customers.v1"]), v1);
    assert_eq!(run(&["-s", "dim_customers_v1"]), v1);
}
