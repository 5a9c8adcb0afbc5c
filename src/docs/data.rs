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
use crate::node::Resolved;
use crate::select::Graph;

/// What the manifest does not hold: each model's file and compiled SQL
/// and the columns its query returns, and each test's query, borrowed
/// from the resolved project.
#[derive(Debug, Default)]
pub struct Texts<'a> {
    /// By model name.
    pub models: BTreeMap<&'a str, ModelText<'a>>,
    /// Generic tests by unique id, singular tests by name.
    pub generic_tests: BTreeMap<&'a str, &'a str>,
    pub singular_tests: BTreeMap<&'a str, &'a str>,
}

#[derive(Debug, Default)]
pub struct ModelText<'a> {
    pub raw: &'a str,
    pub compiled: &'a str,
    pub incremental: Option<&'a str>,
    /// The query's output columns, when known.
    pub columns: Option<Vec<String>>,
}

impl<'a> Texts<'a> {
    pub fn of(resolved: &'a Resolved) -> Texts<'a> {
        Texts {
            models: resolved
                .models
                .iter()
                .map(|(name, m)| {
                    (
                        name.as_str(),
                        ModelText {
                            raw: &m.file.text,
                            compiled: &m.full.sql,
                            incremental: m.incremental.as_ref().map(|r| r.sql.as_str()),
                            columns: crate::node::model_columns(m),
                        },
                    )
                })
                .collect(),
            generic_tests: resolved
                .tests
                .iter()
                .map(|t| (t.unique_id.as_str(), t.sql.as_str()))
                .collect(),
            singular_tests: resolved
                .singular_tests
                .iter()
                .map(|t| (t.name.as_str(), t.rendered.sql.as_str()))
                .collect(),
        }
    }
}

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
    /// The generic tests' SQL with their node's relation and their column
    /// left out ([`TEST_RELATION`], [`TEST_COLUMN`]), each text once: most
    /// `not_null` tests of a project differ in nothing else, and tests are
    /// most of a large project's SQL.
    pub test_sql: Vec<String>,
}

/// Where a templated test's SQL names its node's relation and its column.
pub const TEST_RELATION: char = '\u{1}';
pub const TEST_COLUMN: char = '\u{2}';

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
    /// The sources the columns' `lineage` names, each once, in the order
    /// first named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lineage_sources: Vec<ColumnSource<String>>,
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
    /// Where the column comes from; on the page, as `lineage_refs`.
    #[serde(skip)]
    pub lineage: Vec<ColumnSource<String>>,
    /// `lineage` as indices into the page's `lineage_sources`: a model's
    /// columns mostly share their sources (every column of a filtered
    /// query lists the filter's columns), which then appear once.
    #[serde(rename = "lineage", skip_serializing_if = "Vec::is_empty")]
    pub lineage_refs: Vec<usize>,
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
    /// Instead of `sql`: its text in `Site::test_sql`, with the page's
    /// relation and this test's column put back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_template: Option<usize>,
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
    texts: &Texts,
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

    let tests = tests_by_node(manifest, texts, chosen, &index);
    let units = unit_tests_by_node(manifest, graph, chosen);
    let mut details: Vec<Details> = shown
        .iter()
        .map(|id| {
            let n = &graph.nodes[*id];
            let mut d = details_of(manifest, texts, id);
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
    let test_sql = share_test_sql(&mut details);
    for d in &mut details {
        share_lineage(d);
    }
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
        test_sql,
    }
}

/// Lists each column lineage source of a page once, in `lineage_sources`,
/// and each column's as indices into it.
fn share_lineage(d: &mut Details) {
    let mut at: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    let mut sources = Vec::new();
    for c in &mut d.columns {
        c.lineage_refs = c
            .lineage
            .iter()
            .map(|src| {
                let next = at.len();
                let k = *at
                    .entry((src.node.as_str(), src.column.as_str(), src.kind.as_str()))
                    .or_insert(next);
                if k == next {
                    sources.push(src.clone());
                }
                k
            })
            .collect();
    }
    drop(at);
    d.lineage_sources = sources;
}

/// Moves each generic test's SQL into the shared texts, as a template of
/// its page's relation and its column, where putting them back gives the
/// SQL exactly; returns the texts, in the order first used.
fn share_test_sql(details: &mut [Details]) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut known: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for d in details.iter_mut() {
        let relation = d.relation.as_deref().unwrap_or_default();
        for t in d.tests.iter_mut().filter(|t| t.test != "singular") {
            let Some(sql) = &t.sql else { continue };
            let column = t.column.as_deref().unwrap_or_default();
            let Some(template) = test_template(sql, relation, column) else {
                continue;
            };
            let next = texts.len();
            let at = *known.entry(template.clone()).or_insert(next);
            if at == next {
                texts.push(template);
            }
            t.sql = None;
            t.sql_template = Some(at);
        }
    }
    texts
}

/// `sql` with `relation` and `column` replaced by their markers; `None`
/// when that could not be undone exactly (the SQL holds a marker already).
pub fn test_template(sql: &str, relation: &str, column: &str) -> Option<String> {
    let marker = |c: char| c == TEST_RELATION || c == TEST_COLUMN;
    if sql.contains(marker) || relation.contains(marker) || column.contains(marker) {
        return None;
    }
    let mut out = sql.to_string();
    if !relation.is_empty() {
        out = out.replace(relation, &TEST_RELATION.to_string());
    }
    if !column.is_empty() {
        out = out.replace(column, &TEST_COLUMN.to_string());
    }
    (fill_test_template(&out, relation, column) == sql).then_some(out)
}

/// A template's SQL, as the page's script makes it: the column first,
/// then the relation (whose markers hold no column).
pub fn fill_test_template(template: &str, relation: &str, column: &str) -> String {
    template
        .replace(TEST_COLUMN, column)
        .replace(TEST_RELATION, relation)
}

/// The selected tests of each drawn node, sorted by name: a generic test
/// under the node it is attached to, a singular test under every node it
/// reads.
fn tests_by_node<'a>(
    manifest: &'a Manifest<String>,
    texts: &Texts,
    chosen: &BTreeSet<String>,
    index: &BTreeMap<&str, usize>,
) -> BTreeMap<&'a str, Vec<TestDoc>> {
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
                Some(_) => texts.generic_tests.get(id.as_str()).map(|s| s.to_string()),
                None => texts
                    .singular_tests
                    .get(t.name.as_str())
                    .map(|s| s.to_string()),
            },
            sql_template: None,
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
        lineage_refs: Vec::new(),
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
fn details_of(manifest: &Manifest<String>, texts: &Texts, id: &str) -> Details {
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
                let model = texts.models.get(m.name.as_str());
                d.columns = model_column_docs(&m.columns, model.and_then(|t| t.columns.clone()));
                // The page shows each column's filters with it, as listed
                // once for the model in the manifest.
                for c in &mut d.columns {
                    let own = |f: &&crate::manifest::ColumnSource<String>| {
                        c.lineage
                            .iter()
                            .any(|s| s.node == f.node && s.column == f.column)
                    };
                    let filters: Vec<_> = m
                        .lineage_filters
                        .iter()
                        .filter(|f| !own(f))
                        .cloned()
                        .collect();
                    c.lineage.extend(filters);
                    c.lineage.sort_by(|a, b| {
                        (&a.node, &a.column, &a.kind).cmp(&(&b.node, &b.column, &b.kind))
                    });
                }
                if let Some(model) = model {
                    d.raw_sql = Some(model.raw.to_string());
                    d.compiled_sql = Some(model.compiled.to_string());
                    d.incremental_sql = model.incremental.map(str::to_string);
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
            Node::Analysis(a) => {
                d.description = a.description.clone().filter(|s| !s.is_empty());
                d.file = a.file.clone();
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

    /// A manifest as compile writes it: a source, two models (one with
    /// column lineage), a test on a column, a singular test, and a model
    /// the selection leaves out.
    fn manifest() -> Manifest<String> {
        let model = |name: &str, parents: &[&str], columns: serde_json::Value| {
            serde_json::json!({
                "artifacts": [], "checksum": "0", "columns": columns,
                "config": {"indexes": [], "materialized": "view", "sql_check": true, "vacuum": true},
                "depends_on": {"nodes": parents}, "description": format!("About {name}."),
                "env_vars": [], "file": format!("models/staging/{name}.sql"),
                "materialization": "view", "name": name,
                "relation": format!("staging.{name}"), "resource_type": "model",
                "schema": "staging", "tags": ["t"], "unique_id": format!("model.p.{name}"),
                "vars": []
            })
        };
        let test = |name: &str, attached: Option<&str>, column: Option<&str>, on: &[&str]| {
            serde_json::json!({
                "artifacts": [], "attached_node": attached, "column": column,
                "depends_on": {"nodes": on}, "error_if": "!= 0", "file": "models/schema.yml",
                "name": name, "resource_type": "test", "severity": "warn",
                "test": if attached.is_some() { "not_null" } else { "singular" },
                "unique_id": format!("test.p.{name}"), "warn_if": "!= 0"
            })
        };
        serde_json::from_value(serde_json::json!({
            "files": {},
            "metadata": {"generator": "stackc", "manifest_version": 1, "project_name": "p"},
            "migrations": [],
            "run_order": [],
            "nodes": {
                "model.p.a": model("a", &["source.p.raw.t"], serde_json::json!({
                    "id": {"data_type": "bigint", "description": "Key."}
                })),
                "model.p.b": model("b", &["model.p.a"], serde_json::json!({
                    "id": {"data_type": null, "description": null, "lineage": [
                        {"node": "model.p.a", "column": "id", "kind": "copy"}
                    ]}
                })),
                "model.p.c": model("c", &["model.p.b"], serde_json::json!({})),
                "test.p.not_null_a_id": test("not_null_a_id", Some("model.p.a"), Some("id"), &["model.p.a"]),
                "test.p.both": test("both", None, None, &["model.p.a", "model.p.b"])
            },
            "sources": {
                "source.p.raw.t": {
                    "columns": {}, "description": "Raw.", "file": "models/sources.yml",
                    "identifier": "t", "name": "t", "relation": "raw.t",
                    "resource_type": "source", "schema": "raw", "source_name": "raw",
                    "unique_id": "source.p.raw.t"
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_site_holds_the_selected_nodes_their_columns_tests_and_lineage() {
        let m = manifest();
        let graph = Graph::from_manifest(&m);
        let chosen: BTreeSet<String> = [
            "source.p.raw.t",
            "model.p.a",
            "model.p.b",
            "test.p.not_null_a_id",
            "test.p.both",
        ]
        .into_iter()
        .map(str::to_string)
        .collect();
        let site = build(&m, &graph, &Texts::default(), &chosen);
        let ids: Vec<&str> = site.graph.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["model.p.a", "model.p.b", "source.p.raw.t"]);
        // source -> a -> b; c is not selected, so no edge to it.
        assert_eq!(site.graph.edges, [[0, 1], [2, 0]]);
        let columns: Vec<u32> = site.graph.nodes.iter().map(|n| n.x).collect();
        assert_eq!(columns, [1, 2, 0], "left to right in lineage order");
        assert_eq!(site.graph.nodes[0].group, "staging");
        let a = &site.details[0];
        assert_eq!(a.depends_on, ["source.p.raw.t"]);
        assert_eq!(a.referenced_by, ["model.p.b"], "c is a child, not selected");
        let b = &site.details[1];
        assert_eq!(b.referenced_by, ["model.p.c"], "named even when not drawn");
        assert_eq!(a.columns[0].tests, ["not_null_a_id"]);
        let tests: Vec<&str> = a.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tests, ["both", "not_null_a_id"]);
        assert_eq!(
            b.tests.len(),
            1,
            "a singular test shows under each node it reads"
        );
        assert_eq!(b.columns[0].lineage[0].node, "model.p.a");
        let json = serde_json::to_value(&site).unwrap();
        assert_eq!(
            json["details"][1]["columns"][0]["lineage"],
            serde_json::json!([0])
        );
        assert_eq!(
            json["details"][1]["lineage_sources"],
            serde_json::json!([{"node": "model.p.a", "column": "id", "kind": "copy"}])
        );
        assert!(
            json["details"][0]["columns"][0].get("lineage").is_none(),
            "empty lineage is left out"
        );
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

    #[test]
    fn a_test_template_gives_back_the_sql_exactly_or_is_not_made() {
        let sql = "select order_id\nfrom marts.orders\nwhere order_id is null\n";
        let template = test_template(sql, "marts.orders", "order_id").unwrap();
        assert_eq!(template, "select \u{2}\nfrom \u{1}\nwhere \u{2} is null\n");
        assert_eq!(
            fill_test_template(&template, "marts.orders", "order_id"),
            sql
        );
        // The same test of another model shares the text.
        let other = "select id\nfrom s.t\nwhere id is null\n";
        assert_eq!(test_template(other, "s.t", "id").as_ref(), Some(&template));
        // A column inside the relation's name, and none at all.
        let sql = "select * from s.t_id where id > 0";
        let template = test_template(sql, "s.t_id", "id").unwrap();
        assert_eq!(fill_test_template(&template, "s.t_id", "id"), sql);
        assert_eq!(
            test_template("select 1", "", "").as_deref(),
            Some("select 1")
        );
        // SQL that holds a marker stays as it is.
        assert_eq!(test_template("select '\u{1}' from s.t", "s.t", "x"), None);
    }
}
