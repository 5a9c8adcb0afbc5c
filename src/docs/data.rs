//! What the docs page shows, as plain data: built from the manifest that
//! compile writes (nodes, columns, tests, lineage) and the resolved
//! project (each model's source and compiled SQL, each test's query),
//! for the nodes a selection picked.
//!
//! Two parts, embedded as two JSON blocks: [`GraphData`], which the page
//! reads as it opens (names and places, enough to draw and search 10,000
//! nodes), and one [`Details`] a node, read when a node is first opened
//! (descriptions, columns and SQL are most of the bytes).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::layout;
use crate::manifest::{ColumnInfo, ColumnSource, Manifest, Node};
use crate::resolve::Resolved;
use crate::select::Graph;

/// Resource types drawn as nodes of the graph; tests and unit tests are
/// listed on the pages of the nodes they test instead, as dbt's docs do.
fn drawn(resource_type: &str) -> bool {
    !matches!(resource_type, "test" | "unit_test")
}

#[derive(Debug, Serialize)]
pub struct Site {
    pub graph: GraphData,
    /// One a node, in the order of `graph.nodes`.
    pub details: Vec<Details>,
}

#[derive(Debug, Serialize)]
pub struct GraphData {
    pub project: String,
    /// The layout's cell in pixels, and its extent in cells.
    pub cell: [u32; 2],
    pub columns: u32,
    pub rows: u32,
    /// Sorted by unique id.
    pub nodes: Vec<GraphNode>,
    /// `[parent, child]` as indices into `nodes`, sorted.
    pub edges: Vec<[usize; 2]>,
}

#[derive(Debug, Serialize)]
pub struct GraphNode {
    pub id: String,
    pub name: String,
    /// The resource type: model, seed, source, snapshot, exposure...
    #[serde(rename = "type")]
    pub kind: String,
    /// A model's materialization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized: Option<String>,
    /// The folders of its fqn (`staging`, `marts.finance`), or a source's
    /// name: shown beside the name in search results.
    pub group: String,
    pub x: u32,
    pub y: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What else the page lists: materialization, schema, unique key...
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    /// Unique ids of the node's parents and children (tests left out), also
    /// those the selection left out of the graph.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unit_tests: Vec<UnitTestDoc>,
    /// The model's file as written, and as compiled (Jinja rendered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_sql: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compiled_sql: Option<String>,
    /// An incremental model's query with `is_incremental()` true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_sql: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ColumnDoc {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The names of the tests on this column (listed in `tests`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<ColumnSource<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestDoc {
    pub name: String,
    /// The generic test (`not_null`, `accepted_values`) or `singular`.
    pub test: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub severity: String,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitTestDoc {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub file: String,
}

/// The site's data for the nodes of `chosen` (a selection over `graph`,
/// the graph of `manifest`).
pub fn build(
    manifest: &Manifest<String>,
    graph: &Graph,
    resolved: &Resolved,
    chosen: &BTreeSet<String>,
) -> Site {
    let shown: Vec<&str> = chosen
        .iter()
        .filter(|id| {
            graph
                .nodes
                .get(*id)
                .is_some_and(|n| drawn(&n.resource_type))
        })
        .map(String::as_str)
        .collect();
    let index: BTreeMap<&str, usize> = shown.iter().enumerate().map(|(i, id)| (*id, i)).collect();

    // Parents and children among all drawn nodes, selected or not: a page
    // names them all.
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, n) in &graph.nodes {
        if drawn(&n.resource_type) {
            for p in &n.parents {
                children.entry(p.as_str()).or_default().push(id.as_str());
            }
        }
    }
    let mut edges: Vec<[usize; 2]> = Vec::new();
    for (i, id) in shown.iter().enumerate() {
        for p in &graph.nodes[*id].parents {
            if let Some(&j) = index.get(p.as_str()) {
                edges.push([j, i]);
            }
        }
    }
    edges.sort_unstable();
    edges.dedup();
    let pairs: Vec<(usize, usize)> = edges.iter().map(|e| (e[0], e[1])).collect();
    let placed = layout::layered(shown.len(), &pairs);

    let nodes = shown
        .iter()
        .zip(&placed.places)
        .map(|(id, place)| {
            let n = &graph.nodes[*id];
            let group = if n.fqn.len() > 2 {
                n.fqn[1..n.fqn.len() - 1].join(".")
            } else {
                String::new()
            };
            GraphNode {
                id: id.to_string(),
                name: n.name.clone(),
                kind: n.resource_type.clone(),
                materialized: match manifest.nodes.get(*id) {
                    Some(Node::Model(m)) => Some(m.materialization.clone()),
                    _ => None,
                },
                group,
                x: place.column,
                y: place.row,
            }
        })
        .collect();

    let tests = tests_by_node(manifest, resolved, chosen, &index);
    let units = unit_tests_by_node(manifest, graph, chosen);
    let details = shown
        .iter()
        .map(|id| {
            let n = &graph.nodes[*id];
            let mut d = details_of(manifest, resolved, id);
            d.depends_on = n
                .parents
                .iter()
                .filter(|p| graph.nodes.get(*p).is_some_and(|p| drawn(&p.resource_type)))
                .cloned()
                .collect();
            d.depends_on.sort();
            d.depends_on.dedup();
            let mut below: Vec<String> = children
                .get(id)
                .map(|c| c.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default();
            below.sort();
            below.dedup();
            d.referenced_by = below;
            d.tests = tests.get(id).map(|t| t.to_vec()).unwrap_or_default();
            for c in &mut d.columns {
                c.tests = d
                    .tests
                    .iter()
                    .filter(|t| {
                        t.column
                            .as_deref()
                            .is_some_and(|col| col.eq_ignore_ascii_case(&c.name))
                    })
                    .map(|t| t.name.clone())
                    .collect();
            }
            d.unit_tests = units.get(id).map(|u| u.to_vec()).unwrap_or_default();
            d
        })
        .collect();
    Site {
        graph: GraphData {
            project: manifest.metadata.project_name.clone(),
            cell: [layout::COLUMN_WIDTH, layout::ROW_HEIGHT],
            columns: placed.columns,
            rows: placed.rows,
            nodes,
            edges,
        },
        details,
    }
}

/// The selected tests of each drawn node, sorted by name: a generic test
/// under the node it is attached to, a singular test under every node it
/// reads.
fn tests_by_node<'a>(
    manifest: &'a Manifest<String>,
    resolved: &Resolved,
    chosen: &BTreeSet<String>,
    index: &BTreeMap<&str, usize>,
) -> BTreeMap<&'a str, Vec<TestDoc>> {
    let generic_sql: BTreeMap<&str, &str> = resolved
        .tests
        .iter()
        .map(|t| (t.unique_id.as_str(), t.sql.as_str()))
        .collect();
    let singular_sql: BTreeMap<&str, &str> = resolved
        .singular_tests
        .iter()
        .map(|t| (t.name.as_str(), t.rendered.sql.as_str()))
        .collect();
    let mut out: BTreeMap<&str, Vec<TestDoc>> = BTreeMap::new();
    for (id, node) in &manifest.nodes {
        let Node::Test(t) = node else { continue };
        if !chosen.contains(id) {
            continue;
        }
        let doc = TestDoc {
            name: t.name.clone(),
            test: t.test.clone(),
            column: t.column.clone().flatten(),
            severity: t.severity.clone(),
            file: t.file.clone(),
            sql: match &t.attached_node {
                Some(_) => generic_sql.get(id.as_str()).map(|s| s.to_string()),
                None => singular_sql.get(t.name.as_str()).map(|s| s.to_string()),
            },
        };
        let homes: Vec<&'a str> = match &t.attached_node {
            Some(node) => vec![node.as_str()],
            None => t.depends_on.nodes.iter().map(String::as_str).collect(),
        };
        for home in homes {
            if index.contains_key(home) {
                out.entry(home).or_default().push(doc.clone());
            }
        }
    }
    for tests in out.values_mut() {
        tests.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

/// The selected unit tests of each model.
fn unit_tests_by_node<'a>(
    manifest: &'a Manifest<String>,
    graph: &Graph,
    chosen: &BTreeSet<String>,
) -> BTreeMap<&'a str, Vec<UnitTestDoc>> {
    let mut out: BTreeMap<&str, Vec<UnitTestDoc>> = BTreeMap::new();
    for u in &manifest.unit_tests {
        let model_name = graph.nodes.get(&u.model).map_or("", |n| n.name.as_str());
        let id = format!(
            "unit_test.{}.{model_name}.{}",
            manifest.metadata.project_name, u.name
        );
        if chosen.contains(&id) {
            out.entry(u.model.as_str()).or_default().push(UnitTestDoc {
                name: u.name.clone(),
                description: u.description.clone(),
                file: u.source.clone(),
            });
        }
    }
    for tests in out.values_mut() {
        tests.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

fn column_docs(columns: &BTreeMap<String, ColumnInfo<String>>) -> Vec<ColumnDoc> {
    columns
        .iter()
        .map(|(name, c)| column_doc(name, Some(c)))
        .collect()
}

fn column_doc(name: &str, info: Option<&ColumnInfo<String>>) -> ColumnDoc {
    ColumnDoc {
        name: name.to_string(),
        data_type: info.and_then(|c| c.data_type.clone()),
        description: info.and_then(|c| c.description.clone()),
        tests: Vec::new(),
        lineage: info.map(|c| c.lineage.clone()).unwrap_or_default(),
    }
}

/// A model's columns in the order its query returns them (when its select
/// list names them all), each with what the schema file says of it; then
/// the documented columns the query does not name.
fn model_column_docs(
    documented: &BTreeMap<String, ColumnInfo<String>>,
    returned: Option<Vec<String>>,
) -> Vec<ColumnDoc> {
    let Some(returned) = returned else {
        return column_docs(documented);
    };
    let find = |name: &str| {
        documented.get(name).or_else(|| {
            documented
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    };
    let mut out = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for name in &returned {
        if !seen.insert(name.to_lowercase()) {
            continue;
        }
        out.push(column_doc(name, find(name)));
    }
    for (name, info) in documented {
        if seen.insert(name.to_lowercase()) {
            out.push(column_doc(name, Some(info)));
        }
    }
    out
}

fn some_text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A node's own part of its page.
fn details_of(manifest: &Manifest<String>, resolved: &Resolved, id: &str) -> Details {
    let mut d = Details::default();
    if let Some(node) = manifest.nodes.get(id) {
        match node {
            Node::Model(m) => {
                d.description = m.description.clone().filter(|s| !s.is_empty());
                d.file = m.file.clone();
                d.relation = m.relation.clone();
                d.tags = m.tags.clone();
                d.facts
                    .insert("materialized".into(), m.materialization.clone());
                d.facts.insert("schema".into(), m.schema.clone());
                let c = &m.config;
                if let Some(strategy) = &c.incremental_strategy {
                    d.facts
                        .insert("incremental_strategy".into(), strategy.clone());
                }
                if let Some(Some(key)) = c.unique_key.as_ref().map(|k| some_text(&k.join(", "))) {
                    d.facts.insert("unique_key".into(), key);
                }
                if let Some(Some(t)) = &c.event_time {
                    d.facts.insert("event_time".into(), t.clone());
                }
                if let Some(Some(l)) = &c.lookback {
                    d.facts.insert("lookback".into(), l.clone());
                }
                if !c.indexes.is_empty() {
                    let indexes: Vec<String> = c
                        .indexes
                        .iter()
                        .map(|i| {
                            format!(
                                "{}{} ({})",
                                if i.unique { "unique " } else { "" },
                                i.method,
                                i.columns.join(", ")
                            )
                        })
                        .collect();
                    d.facts.insert("indexes".into(), indexes.join("; "));
                }
                let model = resolved.models.get(&m.name);
                d.columns =
                    model_column_docs(&m.columns, model.and_then(crate::resolve::model_columns));
                if let Some(model) = model {
                    d.raw_sql = Some(model.file.text.to_string());
                    d.compiled_sql = Some(model.full.sql.clone());
                    d.incremental_sql = model.incremental.as_ref().map(|r| r.sql.clone());
                }
            }
            Node::Seed(s) => {
                d.description = s.description.clone().filter(|s| !s.is_empty());
                d.file = s.file.clone();
                d.relation = Some(s.relation.clone());
                d.facts.insert("rows".into(), s.rows.to_string());
                d.facts.insert("schema".into(), s.schema.clone());
                d.columns = s.columns.iter().map(|c| column_doc(c, None)).collect();
            }
            Node::Test(t) => {
                d.file = t.file.clone();
            }
        }
    } else if let Some(s) = manifest.sources.get(id) {
        d.description = s.description.clone().filter(|s| !s.is_empty());
        d.file = s.file.clone();
        d.relation = Some(s.relation.clone());
        d.facts.insert("source".into(), s.source_name.clone());
        d.facts.insert("identifier".into(), s.identifier.clone());
        d.columns = column_docs(&s.columns);
    } else if let Some(o) = [
        &manifest.exposures,
        &manifest.metrics,
        &manifest.saved_queries,
        &manifest.semantic_models,
    ]
    .into_iter()
    .find_map(|m| m.get(id))
    {
        d.description = o.description.clone().filter(|s| !s.is_empty());
        d.file = o.file.clone();
        if let Some(label) = &o.label {
            d.facts.insert("label".into(), label.clone());
        }
        if let Some(kind) = &o.kind {
            d.facts.insert("type".into(), kind.clone());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(data_type: Option<&str>) -> ColumnInfo<String> {
        ColumnInfo {
            data_type: data_type.map(str::to_string),
            description: None,
            lineage: Vec::new(),
        }
    }

    #[test]
    fn columns_follow_the_query_then_the_undocumented_rest() {
        let documented: BTreeMap<String, ColumnInfo<String>> = [
            ("Amount".to_string(), info(Some("numeric"))),
            ("zz_gone".to_string(), info(None)),
        ]
        .into_iter()
        .collect();
        let docs = model_column_docs(
            &documented,
            Some(vec!["id".into(), "amount".into(), "id".into()]),
        );
        let names: Vec<&str> = docs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "amount", "zz_gone"]);
        assert_eq!(docs[1].data_type.as_deref(), Some("numeric"));
        let sorted = model_column_docs(&documented, None);
        assert_eq!(sorted[0].name, "Amount");
    }
}
