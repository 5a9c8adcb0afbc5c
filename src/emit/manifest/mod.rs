//! `manifest.json`: every node, its lineage, and the checksum of every file,
//! built as [`crate::manifest::Manifest`] and written in parallel pieces.
//!
//! [`build`] is a list of passes over the resolved project, one for each
//! part of the manifest: the nodes of each kind ([`nodes`]), sources and the
//! other entries ([`entries`]), the lineage maps ([`maps`]); [`pieces`]
//! writes the result.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::Sink;
use crate::manifest::{
    DependsOn, Manifest, Metadata, Node, RunStep, StepKind, StoredFailuresInfo, MANIFEST_VERSION,
};
use crate::node::{Resolved, StoredFailures};
use crate::project::Project;

mod columns;
mod entries;
mod maps;
mod nodes;
mod pieces;

// The manifest borrows what it can from the project rather than copying
// it (or building a `serde_json::Value` tree: at 10,000 models the tree
// alone took hundreds of megabytes).

type Text<'a> = Cow<'a, str>;

fn b(s: &str) -> Text<'_> {
    Cow::Borrowed(s)
}

fn all(items: &[String]) -> Vec<Text<'_>> {
    items.iter().map(|s| b(s)).collect()
}

fn stored_info(s: &StoredFailures) -> Option<StoredFailuresInfo<Text<'_>>> {
    let r = s.relation.as_ref()?;
    Some(StoredFailuresInfo {
        kind: b(&s.kind),
        identifier: b(&r.name),
        relation: r.to_string().into(),
        schema: b(&r.schema),
    })
}

pub(super) fn manifest(
    project: &Project,
    resolved: &Resolved,
    node_files: &BTreeMap<String, Vec<String>>,
    run_order: &[RunStep<String>],
    files: &[(String, String)],
    sink: &dyn Sink,
) -> std::io::Result<()> {
    let manifest = build(project, resolved, node_files, run_order, files);
    let manifest = match &project.settings.dbt {
        Some(d) => super::package_ids::rewrite(manifest, &|file| {
            d.package_of(file).map(|(name, _)| name.to_string())
        }),
        None => manifest,
    };
    let mut pieces = pieces::pieces(&manifest);
    sink.put_pieces("manifest.json", &mut pieces)
}

/// What every pass reads.
struct Cx<'a> {
    project: &'a Project,
    resolved: &'a Resolved,
    /// The root project's name, in every id.
    name: &'a str,
    /// The artifact files of each node, by id.
    node_files: &'a BTreeMap<String, Vec<String>>,
    /// A test's place in its tests file, by id: (line, statement).
    positions: BTreeMap<&'a str, (Option<usize>, Option<usize>)>,
}

impl<'a> Cx<'a> {
    fn files_of(&self, id: &str) -> Vec<Text<'a>> {
        self.node_files.get(id).map(|f| all(f)).unwrap_or_default()
    }

    fn parents_of(&self, id: &str) -> DependsOn<Text<'a>> {
        let graph = &self.resolved.graph;
        DependsOn {
            macros: Vec::new(),
            nodes: graph
                .index(id)
                .map(|i| graph.parents[i].iter().map(|&p| b(&graph.ids[p])).collect())
                .unwrap_or_default(),
        }
    }

    fn position(&self, id: &str) -> (Option<usize>, Option<usize>) {
        self.positions.get(id).copied().unwrap_or_default()
    }
}

fn build<'a>(
    project: &'a Project,
    resolved: &'a Resolved,
    node_files: &'a BTreeMap<String, Vec<String>>,
    run_order: &'a [RunStep<String>],
    files: &'a [(String, String)],
) -> Manifest<Text<'a>> {
    let cx = Cx {
        project,
        resolved,
        name: resolved.project_name.as_str(),
        node_files,
        positions: run_order
            .iter()
            .filter(|s| s.step == StepKind::Test)
            .map(|s| (s.node.as_str(), (s.line, s.statement)))
            .collect(),
    };
    let analyses = nodes::analyses(&cx);
    // Inserted in the order a map would take them: a later node of the
    // same id wins.
    let mut nodes: BTreeMap<Text<'a>, Node<Text<'a>>> = BTreeMap::new();
    nodes.extend(nodes::models(&cx));
    nodes.extend(nodes::seeds(&cx));
    nodes.extend(nodes::tests(&cx));
    nodes.extend(nodes::singular_tests(&cx));
    nodes.extend(analyses.nodes);
    let maps = maps::lineage(&cx, analyses.edges);
    let others = entries::others(&cx);
    Manifest {
        child_map: maps.child_map,
        exposures: others.exposures,
        groups: others.groups,
        metrics: others.metrics,
        saved_queries: others.saved_queries,
        semantic_models: others.semantic_models,
        files: files
            .iter()
            .map(|(path, hash)| (b(path), b(hash)))
            .collect(),
        metadata: Metadata {
            generator: format!("stackc {}", env!("CARGO_PKG_VERSION")).into(),
            manifest_version: MANIFEST_VERSION,
            project_name: b(cx.name),
        },
        migrations: entries::migrations(project, files),
        nodes,
        parent_map: maps.parent_map,
        run_order: run_order.iter().map(run_step).collect(),
        sources: entries::sources(&cx),
        unit_tests: entries::unit_tests(&cx),
    }
}

fn run_step(s: &RunStep<String>) -> RunStep<Text<'_>> {
    RunStep {
        file: b(&s.file),
        full_file: s.full_file.as_deref().map(b),
        full_refresh: s.full_refresh,
        line: s.line,
        node: b(&s.node),
        statement: s.statement,
        step: s.step,
    }
}

#[cfg(test)]
mod tests;
