//! The manifest's `nodes`: models, seeds, data tests and analyses, one pass
//! a kind, each returning its nodes by id.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::columns::{model_columns, model_filters};
use super::{all, b, stored_info, Cx, Text};
use crate::config::{Materialization, ModelConfig};
use crate::emit::sha256_hex;
use crate::graph::{model_id, seed_id};
use crate::manifest::{
    AnalysisNode, ColumnSource, DependsOn, IndexInfo, ModelConfigInfo, ModelNode, Node, SeedNode,
    TestConfigInfo, TestNode,
};
use crate::node::{Model, ResolvedSeed};

/// Nodes by id, in the order they are inserted in the manifest's map.
pub(super) type Nodes<'a> = Vec<(Text<'a>, Node<Text<'a>>)>;

/// A versioned model: its version, the latest version, the model's name.
struct Version<'a> {
    v: &'a str,
    latest: &'a str,
    of: &'a str,
}

/// Every versioned model's file (the name its model goes by), and its
/// version.
fn versions<'a>(cx: &Cx<'a>) -> BTreeMap<&'a str, Version<'a>> {
    cx.project
        .schema_files
        .iter()
        .flat_map(|f| &f.models)
        .filter_map(|entry| Some((entry, entry.latest()?)))
        .flat_map(|(entry, latest)| {
            entry.versions.iter().map(move |v| {
                let own = Version {
                    v: v.v.as_str(),
                    latest: latest.v.as_str(),
                    of: entry.name.as_str(),
                };
                (v.defined_in.as_str(), own)
            })
        })
        .collect()
}

pub(super) fn models<'a>(cx: &Cx<'a>) -> Nodes<'a> {
    let versions = versions(cx);
    cx.resolved
        .models
        .values()
        .collect::<Vec<_>>()
        .par_iter()
        .map(|m| {
            let id = model_id(cx.name, &m.name);
            let node = model_node(cx, m, &id, versions.get(m.name.as_str()));
            (Cow::Owned(id), Node::Model(Box::new(node)))
        })
        .collect()
}

fn model_node<'a>(
    cx: &Cx<'a>,
    m: &'a Model,
    id: &str,
    version: Option<&Version<'a>>,
) -> ModelNode<Text<'a>> {
    let c = &m.config;
    let filters = model_filters(m);
    ModelNode {
        artifacts: cx.files_of(id),
        checksum: sha256_hex(&m.file.text).into(),
        columns: model_columns(m, &filters),
        lineage_filters: filters
            .iter()
            .map(|(node, column)| ColumnSource {
                node: b(node),
                column: b(column),
                kind: b("filter"),
            })
            .collect(),
        config: model_config(c),
        depends_on: DependsOn {
            macros: m.full.calls.macros.iter().map(|s| b(s)).collect(),
            ..cx.parents_of(id)
        },
        description: m
            .entry
            .as_ref()
            .and_then(|e| e.description.as_deref())
            .map(b),
        env_vars: all(&m.env_vars),
        file: b(&m.file.path),
        latest_version: version.map(|v| b(v.latest)),
        materialization: b(c.materialized.as_str()),
        name: b(&m.name),
        relation: (c.materialized != Materialization::Ephemeral)
            .then(|| m.relation.to_string().into()),
        // dbt's own resource type: `ls`, selection
        // (`resource_type:snapshot`) and the id (`snapshot.…`,
        // see `package_ids`) follow it.
        resource_type: b(if c.materialized == Materialization::Snapshot {
            "snapshot"
        } else {
            "model"
        }),
        schema: b(&m.relation.schema),
        tags: all(&c.tags),
        unique_id: id.to_string().into(),
        vars: all(&m.vars),
        version: version.map(|v| b(v.v)),
        version_of: version.map(|v| b(v.of)),
    }
}

/// A model's config as the manifest shows it: the incremental settings only
/// for an incremental model.
fn model_config(c: &ModelConfig) -> ModelConfigInfo<Text<'_>> {
    let incremental = c.materialized == Materialization::Incremental;
    ModelConfigInfo {
        event_time: incremental.then(|| c.event_time.as_deref().map(b)),
        incremental_strategy: incremental.then(|| b(c.effective_strategy().as_str())),
        indexes: c
            .indexes
            .iter()
            .map(|i| IndexInfo {
                columns: all(&i.columns),
                method: b(&i.method),
                unique: i.unique,
            })
            .collect(),
        lookback: incremental.then(|| c.lookback.as_deref().map(b)),
        materialized: b(c.materialized.as_str()),
        on_schema_change: incremental.then(|| b(c.on_schema_change.as_str())),
        sql_check: c.sql_check,
        unique_key: incremental.then(|| all(&c.unique_key)),
        vacuum: c.vacuum,
    }
}

pub(super) fn seeds<'a>(cx: &Cx<'a>) -> Nodes<'a> {
    let mut nodes = Vec::new();
    for (
        seed_name,
        ResolvedSeed {
            seed,
            entry,
            relation,
        },
    ) in &cx.resolved.seeds
    {
        let id = seed_id(cx.name, seed_name);
        let node = Node::Seed(SeedNode {
            artifacts: cx.files_of(&id),
            checksum: sha256_hex(&seed.file.text).into(),
            columns: all(&seed.columns),
            depends_on: DependsOn {
                macros: Vec::new(),
                nodes: Vec::new(),
            },
            description: entry.as_ref().and_then(|e| e.description.as_deref()).map(b),
            file: b(&seed.file.path),
            materialization: b("seed"),
            name: b(seed_name),
            relation: relation.to_string().into(),
            resource_type: b("seed"),
            rows: seed.rows.len(),
            schema: b(&relation.schema),
            unique_id: id.clone().into(),
        });
        nodes.push((id.into(), node));
    }
    nodes
}

/// Generic data tests, each with its place in its node's tests file.
pub(super) fn tests<'a>(cx: &Cx<'a>) -> Nodes<'a> {
    cx.resolved
        .tests
        .par_iter()
        .map(|t| {
            let depends: BTreeSet<&str> = t.depends_on.iter().map(String::as_str).collect();
            let (line, statement) = cx.position(&t.unique_id);
            let node = TestNode {
                artifacts: cx.files_of(&t.unique_id),
                attached_node: Some(b(&t.attached_to)),
                checksum: None,
                column: Some(t.column.as_deref().map(b)),
                depends_on: DependsOn {
                    macros: Vec::new(),
                    nodes: depends.into_iter().map(b).collect(),
                },
                description: t.description.as_deref().map(b),
                error_if: b(&t.error_if),
                fail_calc: t.fail_calc.as_deref().map(b),
                file: b(&t.span.file),
                line,
                name: b(&t.name),
                resource_type: b("test"),
                severity: b(t.severity.as_str()),
                statement,
                store_failures: t.store.as_ref().and_then(stored_info),
                tags: t.tags.iter().map(|x| b(x)).collect(),
                config: (!t.config_tags.is_empty()).then(|| TestConfigInfo {
                    tags: t.config_tags.iter().map(|x| b(x)).collect(),
                }),
                test: b(&t.kind),
                unique_id: b(&t.unique_id),
                warn_if: b(&t.warn_if),
            };
            (b(&t.unique_id), Node::Test(node))
        })
        .collect()
}

/// Singular tests (a `.sql` file of `tests/`), with the description a
/// schema file gives them.
pub(super) fn singular_tests<'a>(cx: &Cx<'a>) -> Nodes<'a> {
    let described: BTreeMap<&str, &str> = cx
        .project
        .schema_files
        .iter()
        .flat_map(|f| &f.singular_tests)
        .filter_map(|d| Some((d.name.as_str(), d.description.as_deref()?)))
        .collect();
    let mut nodes = Vec::new();
    for t in &cx.resolved.singular_tests {
        let id = format!("test.{}.{}", cx.name, t.name);
        let (line, statement) = cx.position(&id);
        let node = Node::Test(TestNode {
            artifacts: cx.files_of(&id),
            attached_node: None,
            checksum: Some(sha256_hex(&t.file.text).into()),
            column: None,
            depends_on: cx.parents_of(&id),
            description: described.get(t.name.as_str()).map(|d| b(d)),
            error_if: b(&t.settings.error_if),
            fail_calc: t.settings.fail_calc.as_deref().map(b),
            file: b(&t.file.path),
            line,
            name: b(&t.name),
            resource_type: b("test"),
            severity: b(t.settings.severity.as_str()),
            statement,
            store_failures: t.store.as_ref().and_then(stored_info),
            tags: t.settings.node_tags().into_iter().map(Cow::Owned).collect(),
            config: {
                let tags = t.settings.config_tags();
                (!tags.is_empty()).then(|| TestConfigInfo {
                    tags: tags.into_iter().map(Cow::Owned).collect(),
                })
            },
            test: b("singular"),
            unique_id: id.clone().into(),
            warn_if: b(&t.settings.warn_if),
        });
        nodes.push((id.into(), node));
    }
    nodes
}

/// Analyses: not in the graph (nothing runs them), so each brings the ids
/// it depends on for the lineage maps.
pub(super) struct Analyses<'a> {
    pub(super) nodes: Nodes<'a>,
    /// (an analysis's id, the ids it depends on, sorted).
    pub(super) edges: Vec<(String, Vec<String>)>,
}

pub(super) fn analyses<'a>(cx: &Cx<'a>) -> Analyses<'a> {
    let name = cx.name;
    let described: BTreeMap<&str, &str> = cx
        .project
        .schema_files
        .iter()
        .flat_map(|f| &f.analyses)
        .filter_map(|d| Some((d.name.as_str(), d.description.as_deref()?)))
        .collect();
    let mut out = Analyses {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    for a in &cx.resolved.analyses {
        let id = format!("analysis.{name}.{}", a.name);
        let mut depends: BTreeSet<String> = a
            .refs
            .iter()
            .map(|r| crate::graph::ref_id(name, r, &cx.resolved.seeds))
            .collect();
        depends.extend(
            a.sources
                .iter()
                .map(|(s, t)| crate::graph::source_id(name, s, t)),
        );
        out.edges
            .push((id.clone(), depends.iter().cloned().collect()));
        let node = Node::Analysis(AnalysisNode {
            artifacts: vec![crate::emit::fit_path(format!("analyses/{}.sql", a.name)).into()],
            checksum: sha256_hex(&a.file.text).into(),
            compiled_code: b(a.rendered.sql.trim_end()),
            depends_on: DependsOn {
                macros: a.rendered.calls.macros.iter().map(|s| b(s)).collect(),
                nodes: depends.into_iter().map(Cow::Owned).collect(),
            },
            description: described.get(a.name.as_str()).map(|d| b(d)),
            file: b(&a.file.path),
            name: b(&a.name),
            resource_type: b("analysis"),
            unique_id: id.clone().into(),
        });
        out.nodes.push((id.into(), node));
    }
    out
}
