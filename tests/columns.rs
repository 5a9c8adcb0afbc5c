//! Column-level comprehension end to end (issue 14): every model column of
//! a project of hard PostgreSQL SQL with its derived type and lineage in
//! `manifest.json`, against a hand-checked expected file; and `stackc
//! lineage` on the sample project.

mod common;

use common::{repo, stackc};

/// One line a model column: `model.column type <- node.column kind, ...`,
/// with the model's `lineage_filters` (listed once for the model) as each
/// column's `filter` sources, where the column does not already copy or
/// compute from them.
fn columns_of(manifest: &serde_json::Value) -> String {
    let mut out = String::new();
    let nodes = manifest["nodes"].as_object().expect("nodes");
    let sources = |v: &serde_json::Value| -> Vec<(String, String, String)> {
        v.as_array()
            .map(|l| {
                l.iter()
                    .map(|s| {
                        let node = s["node"].as_str().unwrap_or_default();
                        let node = node.split('.').skip(2).collect::<Vec<_>>().join(".");
                        let column = s["column"].as_str().unwrap_or_default().to_string();
                        (node, column, s["kind"].as_str().unwrap_or_default().into())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for (id, node) in nodes {
        let Some(model) = id.strip_prefix("model.hard.") else {
            continue;
        };
        let filters = sources(&node["lineage_filters"]);
        for (name, c) in node["columns"].as_object().expect("columns") {
            let mut own = sources(&c["lineage"]);
            for f in &filters {
                if !own.iter().any(|s| s.0 == f.0 && s.1 == f.1) {
                    own.push(f.clone());
                }
            }
            own.sort();
            let lineage: Vec<String> = own
                .iter()
                .map(|(node, column, kind)| format!("{node}.{column} {kind}"))
                .collect();
            out.push_str(&format!(
                "{model}.{name} {} <- {}\n",
                c["data_type"].as_str().unwrap_or("unknown"),
                lineage.join(", ")
            ));
        }
    }
    out
}

#[test]
fn hard_sql_compiles_clean_with_the_expected_types_and_lineage() {
    let out = tempfile::tempdir().unwrap();
    let result = stackc(&[
        "compile",
        repo()
            .join("tests/fixtures/ok_columns_hard_sql")
            .to_str()
            .unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let text = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected =
        std::fs::read_to_string(repo().join("tests/columns/hard_sql_columns.txt")).unwrap();
    assert_eq!(columns_of(&manifest), expected);
}

#[test]
fn lineage_prints_the_path_down_to_the_raw_columns() {
    let result = stackc(&[
        "lineage",
        "fact_sales.net_amount",
        repo().join("project_template").to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&result.stdout),
        "fact_sales.net_amount (numeric(14,2))\n\
         upstream:\n\
         \x20 <- stg_sales.line_amount (copy)\n\
         \x20   <- source raw.sales.discount (transform)\n\
         \x20   <- source raw.sales.quantity (transform)\n\
         \x20   <- source raw.sales.unit_price (transform)\n\
         downstream:\n\
         \x20 -> daily_sales_summary.net_revenue (transform)\n"
    );
    let json = stackc(&[
        "lineage",
        "stg_orders.status",
        repo().join("project_template").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["node"], "model.analytics.stg_orders");
    assert_eq!(doc["upstream"][0]["node"], "source.analytics.raw.orders");
    assert_eq!(doc["upstream"][0]["kind"], "copy");
    let down: Vec<&str> = doc["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["node"].as_str().unwrap())
        .collect();
    assert!(down.contains(&"model.analytics.fact_sales"), "{down:?}");
    // A misspelt column is a usage error with the closest name.
    let bad = stackc(&[
        "lineage",
        "fact_sales.net_amout",
        repo().join("project_template").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `net_amount`?"));
}

/// Each model's `columns` and `lineage_filters` in `manifest.json`.
fn lineage_of(out: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let nodes = manifest["nodes"].as_object().expect("nodes");
    let models: serde_json::Map<String, serde_json::Value> = nodes
        .iter()
        .filter(|(id, _)| id.starts_with("model."))
        .map(|(id, node)| {
            let pinned = serde_json::json!({
                "columns": node["columns"],
                "lineage_filters": node["lineage_filters"],
            });
            (id.clone(), pinned)
        })
        .collect();
    serde_json::Value::Object(models)
}

/// A model grouped by columns that a CTE copies, with `where` filters in
/// the CTE and the query: the lineage `main` made before the SQL check and
/// the column pass shared one parse of each model (a grouped-by copy stays
/// a copy; the filter columns are the model's `lineage_filters`), cold,
/// and warm after an upstream model changed (caches hit and missed).
#[test]
fn a_grouped_model_over_copied_columns_keeps_its_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p");
    common::copy_tree(
        &repo().join("tests/fixtures/ok_columns_grouped_filter"),
        &project,
    );
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/columns/grouped_filter_lineage.json")).unwrap(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let compile = || {
        let result = stackc(&[
            "compile",
            project.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success(), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    };
    compile();
    assert_eq!(lineage_of(&out), expected, "cold");
    common::edit(
        &project.join("models/staging/stg_orders.sql"),
        "where status",
        "-- edited\nwhere status",
    );
    compile();
    assert_eq!(lineage_of(&out), expected, "one upstream model changed");
}
