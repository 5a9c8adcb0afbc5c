use std::collections::BTreeSet;

use super::pieces::{pretty, ObjectPieces, BATCH, CHUNK};
use super::*;

/// The parallel writer and the types apply reads are one format: the
/// sample project's manifest reads into `Manifest<String>` and writes
/// back, through plain serde_json, byte for byte.
#[test]
fn the_manifest_round_trips_through_the_shared_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("project_template");
    let compilation = crate::compile(&dir);
    let artifacts = compilation.artifacts.expect("the sample project compiles");
    let text = &artifacts["manifest.json"];
    let read: Manifest<String> = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&read).unwrap() + "\n", *text);
    // Every kind of node, and a test with its place in its file.
    let kinds: BTreeSet<&str> = read.nodes.values().map(|n| n.resource_type()).collect();
    assert_eq!(kinds, BTreeSet::from(["model", "seed", "test"]));
    assert!(read.nodes.values().all(|n| match n {
        Node::Model(m) => m.resource_type == "model",
        Node::Seed(s) => s.resource_type == "seed",
        Node::Test(t) => t.resource_type == "test" && t.statement.is_some(),
        Node::Analysis(a) => a.resource_type == "analysis",
    }));
    assert!(read
        .run_order
        .iter()
        .any(|s| s.step == StepKind::Test && s.statement > Some(0)));
}

#[test]
fn parallel_pretty_json_is_what_serde_json_writes() {
    let mut map: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for i in 0..(BATCH + CHUNK + 7) {
        map.insert(
            format!("node.{i:04}"),
            serde_json::json!({"a": [i, {"b": null, "c": []}], "d": {}, "e": "x\ny"}),
        );
    }
    let entries: Vec<(&str, &serde_json::Value)> =
        map.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let text = |pieces: ObjectPieces<'_, _>| {
        String::from_utf8(pieces.collect::<Vec<_>>().concat()).unwrap()
    };
    assert_eq!(
        text(ObjectPieces::new(entries.clone(), 0)),
        serde_json::to_string_pretty(&map).unwrap()
    );
    let nested = serde_json::json!({ "outer": map, "list": [[1], {"k": [true]}] });
    let expected = serde_json::to_string_pretty(&nested).unwrap();
    let list = String::from_utf8(pretty(&nested["list"], 1)).unwrap();
    let outer = text(ObjectPieces::new(entries.clone(), 1));
    let got = format!("{{\n  \"list\": {list},\n  \"outer\": {outer}\n}}");
    assert_eq!(got, expected);
    // Deeper than the formatter's one-write indentation reaches.
    let mut deep = serde_json::json!([1, {"k": "v"}]);
    for _ in 0..40 {
        deep = serde_json::json!({ "d": deep });
    }
    let expected = serde_json::to_string_pretty(&serde_json::json!([deep])).unwrap();
    let got = format!("[\n  {}\n]", String::from_utf8(pretty(&deep, 1)).unwrap());
    assert_eq!(got, expected);
    let empty: Vec<(&str, &serde_json::Value)> = Vec::new();
    assert_eq!(text(ObjectPieces::new(empty, 3)), "{}");
}
