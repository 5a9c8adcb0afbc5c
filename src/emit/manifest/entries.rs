//! The manifest's entries that are not nodes: sources, exposures and the
//! like, migrations and unit tests.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::columns::columns_info;
use super::{b, Cx, Text};
use crate::emit::unit_test_path;
use crate::graph::model_id;
use crate::manifest::{
    DependsOn, MigrationEntry, MigrationType, OtherInfo, SourceNode, UnitTestEntry,
};
use crate::node::ResolvedSource;
use crate::project::{MigrationKind, Project};
use crate::schema::OtherKind;

pub(super) fn sources<'a>(cx: &Cx<'a>) -> BTreeMap<Text<'a>, SourceNode<Text<'a>>> {
    let mut sources = BTreeMap::new();
    for (
        (source, table),
        ResolvedSource {
            entry,
            table: t,
            relation,
        },
    ) in &cx.resolved.sources
    {
        let id = crate::graph::source_id(cx.name, source, table);
        sources.insert(
            Cow::Owned(id.clone()),
            SourceNode {
                columns: columns_info(&t.columns),
                description: t.description.as_deref().map(b),
                file: b(&t.span.file),
                identifier: b(&t.identifier),
                name: b(table),
                relation: relation.to_string().into(),
                resource_type: b("source"),
                schema: b(&entry.schema),
                source_name: b(source),
                unique_id: id.into(),
            },
        );
    }
    sources
}

type Others<'a> = BTreeMap<Text<'a>, OtherInfo<Text<'a>>>;

/// Exposures, groups, metrics, saved queries and semantic models, each by id.
#[derive(Default)]
pub(super) struct OtherNodes<'a> {
    pub(super) exposures: Others<'a>,
    pub(super) groups: Others<'a>,
    pub(super) metrics: Others<'a>,
    pub(super) saved_queries: Others<'a>,
    pub(super) semantic_models: Others<'a>,
}

pub(super) fn others<'a>(cx: &Cx<'a>) -> OtherNodes<'a> {
    let mut out = OtherNodes::default();
    for o in &cx.resolved.others {
        let map = match o.entry.kind {
            OtherKind::Exposure => &mut out.exposures,
            OtherKind::Metric => &mut out.metrics,
            OtherKind::SavedQuery => &mut out.saved_queries,
            OtherKind::SemanticModel => &mut out.semantic_models,
            OtherKind::Group => &mut out.groups,
            OtherKind::Snapshot => continue,
        };
        map.insert(
            b(&o.unique_id),
            OtherInfo {
                depends_on: DependsOn {
                    macros: Vec::new(),
                    nodes: o.depends_on.iter().map(|p| b(p)).collect(),
                },
                description: o.entry.description.as_deref().map(b),
                file: b(&o.entry.span.file),
                label: o.entry.label.as_deref().map(b),
                name: b(&o.entry.name),
                resource_type: b(o.entry.kind.as_str()),
                kind: o.entry.type_.as_deref().map(b),
                unique_id: b(&o.unique_id),
            },
        );
    }
    out
}

/// Every migration in Flyway's order: versioned by version, then
/// repeatables by description. `files` adds the repeatable scripts stackc
/// writes itself (a view's, a function's), which have no source file.
pub(super) fn migrations<'a>(
    project: &'a Project,
    files: &'a [(String, String)],
) -> Vec<MigrationEntry<Text<'a>>> {
    let mut migrations: Vec<(u8, &[u64], String, MigrationEntry<Text<'a>>)> = Vec::new();
    let project_scripts: BTreeSet<String> = project
        .migrations
        .iter()
        .map(|m| format!("migrations/{}", m.script))
        .collect();
    for m in &project.migrations {
        let (rank, version): (u8, &[u64]) = match &m.kind {
            MigrationKind::Versioned(v) => (0, v),
            MigrationKind::Repeatable => (1, &[]),
        };
        migrations.push((
            rank,
            version,
            m.description.clone(),
            MigrationEntry {
                description: m.description.clone().into(),
                file: format!("migrations/{}", m.script).into(),
                script: b(&m.script),
                source: Some(b(&m.file.path)),
                kind: if rank == 0 {
                    MigrationType::Versioned
                } else {
                    MigrationType::Repeatable
                },
                version: (rank == 0).then(|| b(&m.version_text)),
            },
        ));
    }
    for (path, _) in files {
        let Some(script) = path.strip_prefix("migrations/") else {
            continue;
        };
        if !script.starts_with("R__") || project_scripts.contains(path) {
            continue;
        }
        let description = script["R__".len()..]
            .trim_end_matches(".sql")
            .replace('_', " ");
        migrations.push((
            1,
            &[],
            description.clone(),
            MigrationEntry {
                description: description.into(),
                file: b(path),
                script: b(script),
                source: None,
                kind: MigrationType::Repeatable,
                version: None,
            },
        ));
    }
    migrations.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    migrations.into_iter().map(|m| m.3).collect()
}

pub(super) fn unit_tests<'a>(cx: &Cx<'a>) -> Vec<UnitTestEntry<Text<'a>>> {
    cx.resolved
        .unit_tests
        .iter()
        .map(|u| UnitTestEntry {
            description: u.description.as_deref().map(b),
            file: unit_test_path(u).into(),
            model: model_id(cx.name, &u.model).into(),
            name: b(&u.name),
            source: b(&u.file),
        })
        .collect()
}
