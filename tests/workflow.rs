//! The daily commands without a database: `compile --check` with a
//! selection, `--vars`, `stackc graph` and `stackc init`.

mod common;

use std::path::Path;

use common::{copy_tree, repo, stackc};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = stackc(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn compile_check_with_a_selection_compares_only_the_selected_nodes_files() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    let out = tmp.path().join("out");
    copy_tree(&repo().join("project_template"), &project);
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    let model = project.join("models/marts/fact_sales.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text.replacen("select", "select ", 1)).unwrap();

    let check = |select: &str| {
        run(&[
            "compile",
            s(&project),
            "--out",
            s(&out),
            "--check",
            "-s",
            select,
        ])
    };
    // Another node's files are what the project compiles to.
    let (code, _, err) = check("stg_orders");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("files of the selection compared"), "{err}");
    // The edited model's files are stale; with `+`, its dependents' too.
    let (code, _, err) = check("fact_sales");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("R__002_fact_sales.sql"), "{err}");
    assert!(!err.contains("R__003_daily_sales_summary.sql"), "{err}");
    assert!(!err.contains("manifest.json"), "{err}");
    let (code, _, err) = check("fact_sales+");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("R__003_daily_sales_summary.sql"), "{err}");
    // Without a selection, the manifest is stale too.
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out), "--check"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("manifest.json"), "{err}");
    // A selection that matches nothing warns; a malformed one is exit 2.
    let (code, _, err) = check("no_such_model");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("`no_such_model` does not match any node"),
        "{err}"
    );
    let (code, _, err) = check("tag:");
    assert_eq!(code, 2, "{err}");

    // compile without --check writes the whole project, selection or not.
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out), "-s", "stg_orders"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("compile writes the whole project"), "{err}");
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out), "--check"]);
    assert_eq!(code, 0, "{err}");
}

/// Every artifact under `out` that contains `needle`.
fn files_with(out: &Path, needle: &str) -> Vec<String> {
    common::read_tree(out)
        .into_iter()
        .filter(|(_, text)| text.contains(needle))
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn vars_on_the_command_line_win_over_the_project_and_its_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let template = repo().join("project_template");
    let (code, _, err) = run(&["compile", s(&template), "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(!files_with(&out, "'3 days'").is_empty());
    let (code, _, err) = run(&[
        "compile",
        s(&template),
        "--out",
        s(&out),
        "--vars",
        "{lookback_days: 7}",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(files_with(&out, "'3 days'").is_empty());
    assert!(!files_with(&out, "'7 days'").is_empty());
    // dbt's precedence: the command line, then the root project's scope
    // for the package (`pkg_models: {greeting: ...}`), then the package.
    let dbt = repo().join("tests/fixtures/ok_dbt_package_models");
    let out = tmp.path().join("dbt");
    let (code, _, err) = run(&["compile", s(&dbt), "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(!files_with(&out, "hello from shop").is_empty());
    let (code, _, err) = run(&[
        "compile",
        s(&dbt),
        "--out",
        s(&out),
        "--vars",
        "greeting: from the command line\nmin_amount: 5",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(files_with(&out, "hello from shop").is_empty());
    assert!(!files_with(&out, "from the command line").is_empty());
    assert!(!files_with(&out, "amount > 5").is_empty());
    // `ls` takes them too; a text that is not a mapping is exit 2.
    let (code, _, err) = run(&["ls", s(&dbt), "--vars", "{min_amount: 1}"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["compile", s(&dbt), "--out", s(&out), "--vars", "[1, 2]"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a YAML mapping"), "{err}");
    // Committed artifacts run as compiled: --vars with --artifacts is refused.
    let (code, _, err) = run(&[
        "apply",
        s(&template),
        "--artifacts",
        s(&out),
        "--vars",
        "{a: 1}",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--vars"), "{err}");
}

#[test]
fn version_selects_versioned_models_as_dbt_ls_does() {
    // dbt ls prints the same nodes (as `shop.dim_customers.v2`: dbt names a
    // version's node after its model, stackc after its file).
    let dir = repo().join("tests/fixtures/ok_dbt_model_versions");
    let ls = |sel: &str| {
        let (code, out, err) = run(&["ls", s(&dir), "-s", sel, "--resource-type", "model"]);
        assert_eq!(code, 0, "{err}");
        out.lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(ls("version:latest"), ["shop.dim_customers_v2"]);
    assert_eq!(ls("version:old"), ["shop.dim_customers_v1"]);
    assert_eq!(ls("version:none"), ["shop.orders"]);
    assert_eq!(ls("version:1"), ["shop.dim_customers_v1"]);
    assert!(ls("version:prerelease").is_empty());
    let (code, _, err) = run(&["ls", s(&dir), "-s", "version:next"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown version `next`"), "{err}");
}
