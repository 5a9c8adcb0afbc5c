//! `stackc graph`: each folder of `tests/fixtures_graph/` drawn in the three
//! formats, pinned by snapshots in `tests/snapshots_graph/`.

mod common;

use std::path::Path;

use common::{copy_tree, repo, stackc};

fn graph(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["graph", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = stackc(&all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_fixture_is_drawn_as_its_snapshots() {
    insta::with_settings!({snapshot_path => "snapshots_graph", prepend_module_to_snapshot => false}, {
        insta::glob!("fixtures_graph/*", |path| {
            if !path.is_dir() {
                return;
            }
            for format in ["mermaid", "dot", "json"] {
                let text = graph(path, &["--format", format]);
                // Deterministic: a second run prints the same bytes.
                assert_eq!(text, graph(path, &["--format", format]));
                insta::assert_snapshot!(format, text);
            }
        });
    });
}

#[test]
fn a_selection_draws_only_its_nodes_and_the_edges_between_them() {
    let dir = repo().join("project_template");
    let text = graph(&dir, &["-s", "+fact_sales"]);
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    assert!(text.contains("\"fact_sales (incremental)\""), "{text}");
    assert!(text.contains("\"stg_sales (view)\""), "{text}");
    assert!(text.contains("(\"sales (source)\")"), "{text}");
    assert!(!text.contains("daily_sales_summary"), "{text}");
    assert!(!text.contains("not_null"), "tests are not drawn: {text}");
    let json: serde_json::Value =
        serde_json::from_str(&graph(&dir, &["-s", "+fact_sales", "--format", "json"])).unwrap();
    let ids: Vec<&str> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["unique_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"model.analytics.fact_sales"), "{ids:?}");
    for edge in json["edges"].as_array().unwrap() {
        assert!(ids.contains(&edge["from"].as_str().unwrap()));
        assert!(ids.contains(&edge["to"].as_str().unwrap()));
    }
}

#[test]
fn names_with_quotes_brackets_and_markup_stay_inside_their_labels() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/fixtures_graph/dbt_folders"), tmp.path());
    let odd = tmp.path().join("models/end\"] --> x[\"#quot; <b>`x`\\");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(
        odd.join("hostile.sql"),
        "select * from {{ ref('stg_payments') }}\n",
    )
    .unwrap();
    let mermaid = graph(tmp.path(), &[]);
    assert!(
        mermaid
            .contains("subgraph c0[\"end#quot;] --#gt; x[#quot;#35;quot; #lt;b#gt;#96;x#96;\\\"]"),
        "{mermaid}"
    );
    for line in mermaid.lines() {
        assert!(matches!(line.matches('"').count(), 0 | 2), "{line}");
    }
    let dot = graph(tmp.path(), &["--format", "dot"]);
    assert!(
        dot.contains("label=\"end\\\"] --> x[\\\"#quot; <b>`x`\\\\\";"),
        "{dot}"
    );
}
