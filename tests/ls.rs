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

/// The lines of a run that must have succeeded, sorted.
fn sorted_lines(out: &std::process::Output) -> Vec<String> {
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

/// `stackc ls DIR ARGS...`, which must succeed: its lines, sorted.
fn ok_in(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["ls", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = stackc(&all);
    sorted_lines(&out)
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
            r#"{"name": "stg_customers", "resource_type": "model"}"#,
            r#"{"name": "stg_orders", "resource_type": "model"}"#
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
            r#"{"unique_id": "model.pkg_models.pkg_stg_payments"}"#,
            r#"{"unique_id": "model.pkg_models.pkg_summary"}"#,
            r#"{"unique_id": "seed.pkg_models.pkg_payments"}"#,
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

/// `stackc ls` in `dir` with one environment variable set (or removed):
/// exit code, sorted lines, stderr.
fn ls_with_env(dir: &std::path::Path, args: &[&str], tag: Option<&str>) -> Vec<String> {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_stackc"));
    command.arg("ls").arg(dir).args(args).env("NO_COLOR", "1");
    match tag {
        Some(value) => command.env("STACKC_LS_TEST_TAG", value),
        None => command.env_remove("STACKC_LS_TEST_TAG"),
    };
    let out = command.output().expect("the stackc binary runs");
    sorted_lines(&out)
}

/// Gives every file under `dir` a modification time an hour ago, as if
/// the project had been written long before the compile (a file changed
/// just before a compile is compared by text instead).
fn age_tree(dir: &std::path::Path) {
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            set_modified(entry.path(), hour_ago);
        }
    }
}

fn set_modified(path: &std::path::Path, time: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

#[test]
fn ls_answers_from_the_compiled_manifest_while_it_is_up_to_date() {
    let fixture = repo().join("tests/fixtures/ok_ls_from_manifest");
    let tmp = tempfile::tempdir().unwrap();
    let (dir, fresh) = (tmp.path().join("p"), tmp.path().join("fresh"));
    common::copy_tree(&fixture, &dir);
    common::copy_tree(&fixture, &fresh);
    age_tree(&dir);
    let out = stackc(&["compile", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join(".stackc-cache/fingerprint.json").is_file());

    // From the manifest, as a compile in memory (of a copy that was never compiled) lists.
    let json = ["--output", "json"];
    let listed = ls_with_env(&dir, &json, None);
    assert_eq!(listed, ls_with_env(&fresh, &json, None));
    // The first answer from the manifest kept its selection graph: the same again.
    assert!(dir.join(".stackc-cache/graph.json").is_file());
    assert_eq!(listed, ls_with_env(&dir, &json, None));
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!(
        ls_with_env(&dir, &["-s", "+tagged"], None),
        ["shop.base", "shop.tagged", "shop.unique_base_id"]
    );

    // The manifest answers: an edit that keeps a file's size and time is
    // not seen (as `make` and `git` do not see it)...
    let tagged = dir.join("models/tagged.sql");
    let time = std::fs::metadata(&tagged).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&tagged).unwrap();
    std::fs::write(&tagged, text.replace("'old'", "'new'")).unwrap();
    set_modified(&tagged, time);
    assert_eq!(ls_with_env(&dir, &["-s", "tag:old"], None), ["shop.tagged"]);
    // ...and once its time changes, it is.
    set_modified(&tagged, std::time::SystemTime::now());
    assert_eq!(ls_with_env(&dir, &["-s", "tag:new"], None), ["shop.tagged"]);
    assert!(ls_with_env(&dir, &["-s", "tag:old"], None).is_empty());

    // A schema file, a var, --vars and an environment variable.
    let compile = || {
        let out = stackc(&["compile", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    compile();
    let tests = ["--resource-type", "test"];
    assert_eq!(ls_with_env(&dir, &tests, None), ["shop.unique_base_id"]);
    std::fs::write(
        dir.join("models/_models.yml"),
        "models:\n  - name: base\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n",
    )
    .unwrap();
    assert_eq!(
        ls_with_env(&dir, &tests, None),
        ["shop.not_null_base_id", "shop.unique_base_id"]
    );
    compile();
    let models = ["--resource-type", "model", "--output", "name"];
    let all = ["base", "extra", "from_env", "tagged"];
    assert_eq!(ls_with_env(&dir, &models, None), all);
    let without_extra = ["base", "from_env", "tagged"];
    let vars = [
        "--vars",
        "{with_extra: false}",
        "--resource-type",
        "model",
        "--output",
        "name",
    ];
    assert_eq!(ls_with_env(&dir, &vars, None), without_extra);
    let project = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        project.replace("with_extra: true", "with_extra: false"),
    )
    .unwrap();
    assert_eq!(ls_with_env(&dir, &models, None), without_extra);
    compile();
    let by_tag = ["-s", "tag:special", "--output", "name"];
    assert!(ls_with_env(&dir, &by_tag, None).is_empty());
    assert_eq!(ls_with_env(&dir, &by_tag, Some("special")), ["from_env"]);
}
