//! How nodes and files are named to the user in apply's output.

use std::collections::BTreeMap;

use super::artifacts::{Bundle, MigrationEntry, RunEntry, StepKind};

use super::artifacts;

/// How nodes and files are named to the user.
pub(super) struct Labels<'a> {
    pub(super) bundle: &'a Bundle,
    /// Artifact path → node that owns it.
    pub(super) owner: BTreeMap<&'a str, &'a str>,
    /// Test file → how many tests the manifest places in it.
    pub(super) tests_in: BTreeMap<&'a str, usize>,
}

impl<'a> Labels<'a> {
    pub(super) fn new(bundle: &'a Bundle) -> Labels<'a> {
        let mut owner = BTreeMap::new();
        for (id, node) in &bundle.manifest.nodes {
            for a in node.artifacts() {
                owner.insert(a.as_str(), id.as_str());
            }
        }
        let mut tests_in = BTreeMap::new();
        for step in &bundle.manifest.run_order {
            if step.step == StepKind::Test {
                *tests_in.entry(step.file.as_str()).or_default() += 1;
            }
        }
        Labels {
            bundle,
            owner,
            tests_in,
        }
    }

    /// The project file a test comes from: its schema file (a node's tests
    /// share an artifact, but not always a schema file), else the header's.
    pub(super) fn test_source(&self, step: &RunEntry) -> Option<String> {
        match self.bundle.manifest.nodes.get(&step.node).map(|n| n.file()) {
            Some(file) => Some(self.bundle.dir.join(file).display().to_string()),
            None => self.source_of(&step.file).0,
        }
    }

    /// `marts.fact_sales` for a model or seed, the name for a test.
    pub(super) fn node_name(&self, id: &str) -> String {
        match self.bundle.manifest.nodes.get(id) {
            Some(n) if n.resource_type() == "test" => format!("test {}", n.name()),
            Some(n) => n.relation().unwrap_or(n.name()).to_string(),
            None => id.to_string(),
        }
    }

    /// `view staging.stg_orders` for a generated migration (from its
    /// header), `migration V2__create_raw_orders.sql` for the project's own.
    pub(super) fn migration(&self, entry: &MigrationEntry) -> String {
        let text = self.bundle.text(&entry.file);
        match (&entry.source, artifacts::header_object(text)) {
            (None, Some((materialization, relation))) => format!("{materialization} {relation}"),
            _ => format!("migration {}", entry.script),
        }
    }

    pub(super) fn step(&self, step: &RunEntry) -> String {
        let node = self.bundle.manifest.nodes.get(&step.node);
        let relation = node
            .and_then(|n| n.relation())
            .map_or_else(|| step.node.clone(), str::to_string);
        match step.step {
            StepKind::Seed => format!("load {relation}"),
            StepKind::Table => format!("build {relation}"),
            StepKind::Incremental => format!("incremental {relation}"),
            StepKind::Refresh => format!("refresh {relation}"),
            StepKind::Snapshot => format!("snapshot {relation}"),
            StepKind::Vacuum => format!("vacuum {relation}"),
            StepKind::Hook => format!("hook {}", step.node.rsplit('.').next().unwrap_or_default()),
            StepKind::Test => format!("test {}", node.map_or(step.node.as_str(), |n| n.name())),
        }
    }

    /// The project file an artifact comes from, and whether it is a
    /// verbatim copy of it (the project's own migrations).
    pub(super) fn source_of(&self, file: &str) -> (Option<String>, bool) {
        let in_project = |p: &str| self.bundle.dir.join(p).display().to_string();
        let own = self
            .bundle
            .manifest
            .migrations
            .iter()
            .find(|m| m.file == file)
            .and_then(|m| m.source.as_deref());
        match own {
            Some(s) => (Some(in_project(s)), true),
            None => (
                artifacts::header_source(self.bundle.text(file)).map(in_project),
                false,
            ),
        }
    }
}
