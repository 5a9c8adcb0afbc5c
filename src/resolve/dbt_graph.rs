//! The parts of dbt's `graph` beyond models and seeds: exposures, metrics,
//! semantic models, saved queries and groups (the entries the manifest
//! carries, with what their YAML says), and the `columns` of a node.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::node::OtherNode;
use crate::schema::{Column, OtherKind};

/// dbt's column dicts for a schema file's columns, in the file's order:
/// a list here, which [`node_value`] makes the ordered dict dbt has.
pub(super) fn columns_json(columns: &[Column]) -> Value {
    let mut out = Vec::new();
    for c in columns {
        out.push(json!({
            "name": c.name,
            "description": c.description.clone().unwrap_or_default(),
            "meta": {},
            "data_type": c.data_type,
            "constraints": c.constraints,
            "quote": c.quote.then_some(true),
            "tags": [],
            "granularity": null,
            "doc_blocks": [],
        }));
    }
    Value::Array(out)
}

/// A node's JSON as Jinja sees it: its `columns` (a list from
/// [`columns_json`]) a dict by name in the schema file's order, as dbt's
/// (serde_json's maps sort their keys).
pub(super) fn node_value(node: Value) -> minijinja::Value {
    let Value::Object(map) = node else {
        return super::dbt_nodes::serde_value(node);
    };
    ordered(map.into_iter().map(|(k, v)| {
        let v = match (k.as_str(), v) {
            ("columns", Value::Array(columns)) => ordered(columns.into_iter().map(|c| {
                let name = c["name"].as_str().unwrap_or_default().to_string();
                (name, super::dbt_nodes::serde_value(c))
            })),
            (_, v) => super::dbt_nodes::serde_value(v),
        };
        (k, v)
    }))
}

/// A Jinja dict of `pairs`, in their order (minijinja keeps it).
pub(super) fn ordered(pairs: impl Iterator<Item = (String, minijinja::Value)>) -> minijinja::Value {
    minijinja::Value::from_pairs(pairs)
}

/// The graph's key for entries of `kind`.
fn graph_key(kind: OtherKind) -> Option<&'static str> {
    Some(match kind {
        OtherKind::Exposure => "exposures",
        OtherKind::Metric => "metrics",
        OtherKind::SemanticModel => "semantic_models",
        OtherKind::SavedQuery => "saved_queries",
        OtherKind::Group => "groups",
        OtherKind::Snapshot => return None,
    })
}

/// `graph.exposures`, `.metrics`, `.semantic_models`, `.saved_queries` and
/// `.groups`, each keyed by unique id. `package_of` names the project a
/// file belongs to and the file's path in its resource folder; `node_id`
/// turns stackc's id of a node into dbt's.
pub(super) fn other_resources(
    others: &[OtherNode],
    package_of: &dyn Fn(&str) -> (String, String),
    node_id: &dyn Fn(&str) -> String,
) -> BTreeMap<&'static str, Map<String, Value>> {
    let mut out: BTreeMap<&'static str, Map<String, Value>> = [
        "exposures",
        "metrics",
        "semantic_models",
        "saved_queries",
        "groups",
    ]
    .into_iter()
    .map(|k| (k, Map::new()))
    .collect();
    for o in others {
        let Some(key) = graph_key(o.entry.kind) else {
            continue;
        };
        let e = &o.entry;
        let (package, path) = package_of(&e.span.file);
        let mut fqn: Vec<String> = vec![package.clone()];
        let folders: Vec<&str> = path.split('/').collect();
        fqn.extend(folders[..folders.len() - 1].iter().map(|f| f.to_string()));
        fqn.push(e.name.clone());
        let mut node: Map<String, Value> = e.yaml.clone().into_iter().collect();
        let mut put = |k: &str, v: Value| {
            node.insert(k.to_string(), v);
        };
        put("name", json!(e.name));
        put("resource_type", json!(e.kind.as_str()));
        put("package_name", json!(package));
        put("path", json!(path));
        put("original_file_path", json!(&*e.span.file));
        put("unique_id", json!(o.unique_id));
        put("fqn", json!(fqn));
        put(
            "description",
            json!(e.description.clone().unwrap_or_default()),
        );
        if e.kind != OtherKind::Group {
            let nodes: Vec<String> = o.depends_on.iter().map(|id| node_id(id)).collect();
            put("depends_on", json!({"macros": [], "nodes": nodes}));
            put("label", json!(e.label));
            put("type", json!(e.type_));
        }
        let defaults: &[(&str, Value)] = match e.kind {
            OtherKind::Exposure => &[
                ("maturity", Value::Null),
                ("url", Value::Null),
                ("meta", json!({})),
                ("tags", json!([])),
            ],
            OtherKind::Metric => &[
                ("filter", Value::Null),
                ("type_params", json!({})),
                ("meta", json!({})),
                ("tags", json!([])),
                ("group", Value::Null),
            ],
            OtherKind::SemanticModel => &[
                ("entities", json!([])),
                ("dimensions", json!([])),
                ("measures", json!([])),
                ("defaults", Value::Null),
                ("primary_entity", Value::Null),
                ("group", Value::Null),
            ],
            OtherKind::SavedQuery => &[
                ("query_params", json!({})),
                ("exports", json!([])),
                ("group", Value::Null),
            ],
            OtherKind::Group | OtherKind::Snapshot => &[],
        };
        for (k, v) in defaults {
            node.entry(k.to_string()).or_insert_with(|| v.clone());
        }
        if matches!(e.kind, OtherKind::Exposure | OtherKind::Group) {
            // dbt's owner always has both keys.
            let owner = node.get("owner").and_then(Value::as_object);
            let owner = json!({
                "email": owner.and_then(|o| o.get("email")).cloned().unwrap_or(Value::Null),
                "name": owner.and_then(|o| o.get("name")).cloned().unwrap_or(Value::Null),
            });
            node.insert("owner".into(), owner);
        }
        if e.kind != OtherKind::Group {
            if let Some(config) = node
                .entry("config".to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                config.entry("enabled").or_insert(Value::Bool(true));
            }
        }
        if let Some(map) = out.get_mut(key) {
            map.insert(o.unique_id.clone(), Value::Object(node));
        }
    }
    out
}
