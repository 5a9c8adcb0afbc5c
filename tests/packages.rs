//! dbt packages end to end: `tests/fixtures/ok_dbt_packages` installs a
//! small package of stackc's own under `dbt_packages/` and uses its macros
//! by namespace, its dispatched macros (with a root-project override), a
//! macro that returns a list built with `append`, and dbt's own macros.
//! The compiled model is pinned in `expected_orders.sql` beside it
//! (`STACKC_UPDATE_EXPECTED=1` rewrites it; review the diff).

mod common;

use common::{read_tree, repo, stackc};

#[test]
fn a_package_s_macros_compile_as_dbt_renders_them() {
    let out = tempfile::tempdir().unwrap();
    let dir = repo().join("tests/fixtures/ok_dbt_packages");
    let output = stackc(&[
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files = read_tree(out.path());
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
}
