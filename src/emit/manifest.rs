//! `manifest.json`: every node, its lineage, and the checksum of every file,
//! built as [`crate::manifest::Manifest`] and written in parallel pieces.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::Serialize;

use super::{sha256_hex, unit_test_path, Sink};
use crate::config::Materialization;
use crate::graph::{model_id, seed_id};
use crate::manifest::{
    AnalysisNode, ColumnInfo, ColumnSource, DependsOn, IndexInfo, Manifest, Metadata,
    MigrationEntry, MigrationType, ModelConfigInfo, ModelNode, Node, OtherInfo, RunStep, SeedNode,
    SourceNode, StepKind, StoredFailuresInfo, TestNode, UnitTestEntry, MANIFEST_VERSION,
};
use crate::node::{Resolved, ResolvedSeed, ResolvedSource};
use crate::project::{MigrationKind, Project};
use crate::schema::OtherKind;

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

fn columns_info(columns: &[crate::schema::Column]) -> BTreeMap<Text<'_>, ColumnInfo<Text<'_>>> {
    columns
        .iter()
        .map(|c| {
            (
                b(&c.name),
                ColumnInfo {
                    data_type: c.data_type.as_deref().map(b),
                    description: c.description.as_deref().map(b),
                    lineage: Vec::new(),
                },
            )
        })
        .collect()
}

/// A model's columns: the schema file's, and every column its SQL makes
/// with the derived type (the schema file's `data_type` wins) and lineage.
fn model_columns<'m>(
    m: &'m crate::node::Model,
    filters: &std::collections::BTreeSet<(&str, &str)>,
) -> BTreeMap<Text<'m>, ColumnInfo<Text<'m>>> {
    let mut out = m
        .entry
        .as_ref()
        .map(|e| columns_info(&e.columns))
        .unwrap_or_default();
    for c in m.derived_columns.iter().flatten() {
        let info = out.entry(b(&c.name)).or_insert(ColumnInfo {
            data_type: None,
            description: None,
            lineage: Vec::new(),
        });
        if info.data_type.is_none() {
            info.data_type = c.data_type.as_deref().map(b);
        }
        info.lineage = c
            .lineage
            .iter()
            .filter(|u| {
                u.kind != "filter" || !filters.contains(&(u.node.as_str(), u.column.as_str()))
            })
            .map(|u| ColumnSource {
                node: b(&u.node),
                column: b(&u.column),
                kind: b(u.kind),
            })
            .collect();
    }
    out
}

/// A model's filter columns (see `ModelNode::lineage_filters`): the
/// upstream columns every column of the model has in its lineage, as
/// `filter` in at least one (a copy or a computation in the others says
/// more). A filter of one column only (in a scalar subquery, a lateral
/// join) stays with that column.
fn model_filters(m: &crate::node::Model) -> std::collections::BTreeSet<(&str, &str)> {
    use std::collections::BTreeSet;
    let cols = m.derived_columns.as_deref().unwrap_or_default();
    fn key(u: &crate::catalog::Upstream) -> (&str, &str) {
        (u.node.as_str(), u.column.as_str())
    }
    let mut common: Option<BTreeSet<(&str, &str)>> = None;
    let mut filter = BTreeSet::new();
    for c in cols {
        let mine: BTreeSet<(&str, &str)> = c.lineage.iter().map(key).collect();
        filter.extend(c.lineage.iter().filter(|u| u.kind == "filter").map(key));
        common = Some(match common {
            None => mine,
            Some(before) => before.intersection(&mine).copied().collect(),
        });
    }
    common
        .unwrap_or_default()
        .intersection(&filter)
        .copied()
        .collect()
}

fn stored_info(s: &crate::node::StoredFailures) -> Option<StoredFailuresInfo<Text<'_>>> {
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
    let mut pieces = pieces(&manifest);
    sink.put_pieces("manifest.json", &mut pieces)
}

fn build<'a>(
    project: &'a Project,
    resolved: &'a Resolved,
    node_files: &'a BTreeMap<String, Vec<String>>,
    run_order: &'a [RunStep<String>],
    files: &'a [(String, String)],
) -> Manifest<Text<'a>> {
    let name = resolved.project_name.as_str();
    let files_of =
        |id: &str| -> Vec<Text<'a>> { node_files.get(id).map(|f| all(f)).unwrap_or_default() };
    let graph = &resolved.graph;
    let parents_of = |id: &str| DependsOn {
        macros: Vec::new(),
        nodes: graph
            .index(id)
            .map(|i| graph.parents[i].iter().map(|&p| b(&graph.ids[p])).collect())
            .unwrap_or_default(),
    };
    let positions: BTreeMap<&str, (Option<usize>, Option<usize>)> = run_order
        .iter()
        .filter(|s| s.step == StepKind::Test)
        .map(|s| (s.node.as_str(), (s.line, s.statement)))
        .collect();
    let position = |id: &str| positions.get(id).copied().unwrap_or_default();

    // Inserted in the order a map would take them: a later node of the
    // same id wins.
    let mut nodes: BTreeMap<Text<'a>, Node<Text<'a>>> = BTreeMap::new();
    // A versioned model's file -> (its version, the latest version, the
    // model's name).
    let versions: BTreeMap<&str, (&str, &str, &str)> = project
        .schema_files
        .iter()
        .flat_map(|f| &f.models)
        .filter_map(|entry| Some((entry, entry.latest()?)))
        .flat_map(|(entry, latest)| {
            entry.versions.iter().map(move |v| {
                let own = (v.v.as_str(), latest.v.as_str(), entry.name.as_str());
                (v.defined_in.as_str(), own)
            })
        })
        .collect();
    let model_nodes: Vec<(String, Node<Text<'a>>)> = resolved
        .models
        .values()
        .collect::<Vec<_>>()
        .par_iter()
        .map(|m| {
            let id = model_id(name, &m.name);
            let c = &m.config;
            let incremental = c.materialized == Materialization::Incremental;
            let filters = model_filters(m);
            let node = ModelNode {
                artifacts: files_of(&id),
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
                config: ModelConfigInfo {
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
                },
                depends_on: DependsOn {
                    macros: m.full.calls.macros.iter().map(|s| b(s)).collect(),
                    ..parents_of(&id)
                },
                description: m
                    .entry
                    .as_ref()
                    .and_then(|e| e.description.as_deref())
                    .map(b),
                env_vars: all(&m.env_vars),
                file: b(&m.file.path),
                latest_version: versions.get(m.name.as_str()).map(|(_, l, _)| b(l)),
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
                unique_id: id.clone().into(),
                vars: all(&m.vars),
                version: versions.get(m.name.as_str()).map(|(v, _, _)| b(v)),
                version_of: versions.get(m.name.as_str()).map(|(_, _, n)| b(n)),
            };
            (id, Node::Model(Box::new(node)))
        })
        .collect();
    nodes.extend(model_nodes.into_iter().map(|(id, n)| (Cow::Owned(id), n)));
    for (
        seed_name,
        ResolvedSeed {
            seed,
            entry,
            relation,
        },
    ) in &resolved.seeds
    {
        let id = seed_id(name, seed_name);
        nodes.insert(
            id.clone().into(),
            Node::Seed(SeedNode {
                artifacts: files_of(&id),
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
                unique_id: id.into(),
            }),
        );
    }
    let test_nodes: Vec<(Text<'a>, Node<Text<'a>>)> = resolved
        .tests
        .par_iter()
        .map(|t| {
            let depends: BTreeSet<&str> = t.depends_on.iter().map(String::as_str).collect();
            let (line, statement) = position(&t.unique_id);
            let node = TestNode {
                artifacts: files_of(&t.unique_id),
                attached_node: Some(b(&t.attached_to)),
                checksum: None,
                column: Some(t.column.as_deref().map(b)),
                depends_on: DependsOn {
                    macros: Vec::new(),
                    nodes: depends.into_iter().map(b).collect(),
                },
                description: None,
                error_if: b(&t.error_if),
                fail_calc: t.fail_calc.as_deref().map(b),
                file: b(&t.span.file),
                line,
                name: b(&t.name),
                resource_type: b("test"),
                severity: b(t.severity.as_str()),
                statement,
                store_failures: t.store.as_ref().and_then(stored_info),
                test: b(&t.kind),
                unique_id: b(&t.unique_id),
                warn_if: b(&t.warn_if),
            };
            (b(&t.unique_id), Node::Test(node))
        })
        .collect();
    nodes.extend(test_nodes);
    let tests_described: BTreeMap<&str, &str> = project
        .schema_files
        .iter()
        .flat_map(|f| &f.singular_tests)
        .filter_map(|d| Some((d.name.as_str(), d.description.as_deref()?)))
        .collect();
    for t in &resolved.singular_tests {
        let id = format!("test.{name}.{}", t.name);
        let (line, statement) = position(&id);
        nodes.insert(
            id.clone().into(),
            Node::Test(TestNode {
                artifacts: files_of(&id),
                attached_node: None,
                checksum: Some(sha256_hex(&t.file.text).into()),
                column: None,
                depends_on: parents_of(&id),
                description: tests_described.get(t.name.as_str()).map(|d| b(d)),
                error_if: b(&t.settings.error_if),
                fail_calc: t.settings.fail_calc.as_deref().map(b),
                file: b(&t.file.path),
                line,
                name: b(&t.name),
                resource_type: b("test"),
                severity: b(t.settings.severity.as_str()),
                statement,
                store_failures: t.store.as_ref().and_then(stored_info),
                test: b("singular"),
                unique_id: id.into(),
                warn_if: b(&t.settings.warn_if),
            }),
        );
    }
    let described: BTreeMap<&str, &str> = project
        .schema_files
        .iter()
        .flat_map(|f| &f.analyses)
        .filter_map(|d| Some((d.name.as_str(), d.description.as_deref()?)))
        .collect();
    let mut analysis_edges: Vec<(String, Vec<String>)> = Vec::new();
    for a in &resolved.analyses {
        let id = format!("analysis.{name}.{}", a.name);
        let mut depends: BTreeSet<String> = a
            .refs
            .iter()
            .map(|r| crate::graph::ref_id(name, r, &resolved.seeds))
            .collect();
        depends.extend(
            a.sources
                .iter()
                .map(|(s, t)| crate::graph::source_id(name, s, t)),
        );
        analysis_edges.push((id.clone(), depends.iter().cloned().collect()));
        nodes.insert(
            id.clone().into(),
            Node::Analysis(AnalysisNode {
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
                unique_id: id.into(),
            }),
        );
    }
    let mut sources = BTreeMap::new();
    for (
        (source, table),
        ResolvedSource {
            entry,
            table: t,
            relation,
        },
    ) in &resolved.sources
    {
        let id = crate::graph::source_id(name, source, table);
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

    // Flyway's order: versioned by version, then repeatables by description.
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

    let id_map = |edges: &'a [Vec<usize>]| -> BTreeMap<Text<'a>, Vec<Text<'a>>> {
        graph
            .ids
            .iter()
            .zip(edges)
            .map(|(id, edges)| (b(id), edges.iter().map(|&i| b(&graph.ids[i])).collect()))
            .collect()
    };
    let mut child_map = id_map(&graph.children);
    let mut parent_map = id_map(&graph.parents);
    // Exposures, metrics and the like are not in the graph (nothing runs for
    // them): each is a child of what it depends on, with its own parents.
    for o in &resolved.others {
        parent_map
            .entry(b(&o.unique_id))
            .or_default()
            .extend(o.depends_on.iter().map(|p| b(p)));
        child_map.entry(b(&o.unique_id)).or_default();
        for p in &o.depends_on {
            child_map.entry(b(p)).or_default().push(b(&o.unique_id));
        }
    }
    // Analyses are not in the graph either (nothing runs them), but dbt's
    // maps list them: children sorted by id, as dbt writes them.
    for (id, parents) in analysis_edges {
        for p in &parents {
            let children = child_map.entry(Cow::Owned(p.clone())).or_default();
            children.push(Cow::Owned(id.clone()));
            children.sort();
        }
        child_map.entry(Cow::Owned(id.clone())).or_default();
        parent_map.insert(
            Cow::Owned(id),
            parents.into_iter().map(Cow::Owned).collect(),
        );
    }
    let mut others: BTreeMap<&str, BTreeMap<Text<'a>, OtherInfo<Text<'a>>>> = BTreeMap::new();
    for o in &resolved.others {
        let key = match o.entry.kind {
            OtherKind::Exposure => "exposures",
            OtherKind::Metric => "metrics",
            OtherKind::SavedQuery => "saved_queries",
            OtherKind::SemanticModel => "semantic_models",
            OtherKind::Snapshot => continue,
        };
        others.entry(key).or_default().insert(
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
    let mut take = |key: &str| others.remove(key).unwrap_or_default();
    Manifest {
        child_map,
        exposures: take("exposures"),
        metrics: take("metrics"),
        saved_queries: take("saved_queries"),
        semantic_models: take("semantic_models"),
        files: files
            .iter()
            .map(|(path, hash)| (b(path), b(hash)))
            .collect(),
        metadata: Metadata {
            generator: format!("stackc {}", env!("CARGO_PKG_VERSION")).into(),
            manifest_version: MANIFEST_VERSION,
            project_name: b(name),
        },
        migrations: migrations.into_iter().map(|m| m.3).collect(),
        nodes,
        parent_map,
        run_order: run_order
            .iter()
            .map(|s| RunStep {
                file: b(&s.file),
                full_file: s.full_file.as_deref().map(b),
                full_refresh: s.full_refresh,
                line: s.line,
                node: b(&s.node),
                statement: s.statement,
                step: s.step,
            })
            .collect(),
        sources,
        unit_tests: resolved
            .unit_tests
            .iter()
            .map(|u| UnitTestEntry {
                description: u.description.as_deref().map(b),
                file: unit_test_path(u).into(),
                model: model_id(name, &u.model).into(),
                name: b(&u.name),
                source: b(&u.file),
            })
            .collect(),
    }
}

/// The entries of a map, in order, for [`ObjectPieces`].
fn entries<'a, V>(map: &'a BTreeMap<Text<'_>, V>) -> Vec<(&'a str, &'a V)> {
    map.iter().map(|(k, v)| (k.as_ref(), v)).collect()
}

/// Pretty JSON, byte for byte what `serde_json::to_string_pretty` would
/// write (and a newline), as pieces that make the file in order. The pieces
/// are made as they are read, and nodes and files in parallel batches, so
/// the whole document (tens of MB at 10,000 models) is never in memory at
/// once.
fn pieces<'a>(m: &'a Manifest<Text<'a>>) -> impl Iterator<Item = Vec<u8>> + 'a {
    // The large lists are made up front, side by side.
    let (migrations, run_order) =
        rayon::join(|| pretty(&m.migrations, 1), || pretty(&m.run_order, 1));
    let (child_map, (files, (nodes, parent_map))) = rayon::join(
        || entries(&m.child_map),
        || {
            rayon::join(
                || entries(&m.files),
                || rayon::join(|| entries(&m.nodes), || entries(&m.parent_map)),
            )
        },
    );
    let mut fields: Vec<(&str, Pieces<'a>)> = vec![
        ("child_map", Box::new(ObjectPieces::new(child_map, 1))),
        ("files", Box::new(ObjectPieces::new(files, 1))),
        ("metadata", lazy(move || pretty(&m.metadata, 1))),
        ("migrations", Box::new(std::iter::once(migrations))),
        ("nodes", Box::new(ObjectPieces::new(nodes, 1))),
        ("parent_map", Box::new(ObjectPieces::new(parent_map, 1))),
        ("run_order", Box::new(std::iter::once(run_order))),
        ("sources", lazy(move || pretty(&m.sources, 1))),
        ("unit_tests", lazy(move || pretty(&m.unit_tests, 1))),
    ];
    for (key, map) in [
        ("exposures", &m.exposures),
        ("metrics", &m.metrics),
        ("saved_queries", &m.saved_queries),
        ("semantic_models", &m.semantic_models),
    ] {
        if !map.is_empty() {
            fields.push((key, lazy(move || pretty(map, 1))));
        }
    }
    // Keys in alphabetical order, as serde writes the shared type.
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields
        .into_iter()
        .enumerate()
        .flat_map(|(i, (key, value))| {
            let separator = if i == 0 { "{\n  \"" } else { ",\n  \"" };
            std::iter::once(format!("{separator}{key}\": ").into_bytes()).chain(value)
        })
        .chain(std::iter::once(b"\n}\n".to_vec()))
}

type Pieces<'a> = Box<dyn Iterator<Item = Vec<u8>> + 'a>;

/// One piece, made when it is read.
fn lazy<'a>(make: impl FnOnce() -> Vec<u8> + 'a) -> Pieces<'a> {
    Box::new(std::iter::once_with(make))
}

/// A JSON object of `entries` (sorted by key, each key once) as pretty
/// JSON nested `depth` levels deep, in pieces: each batch of entries is
/// serialized in parallel when the pieces before it have been read.
struct ObjectPieces<'a, V> {
    entries: Vec<(&'a str, V)>,
    depth: usize,
    next: usize,
    done: bool,
    ready: std::collections::VecDeque<Vec<u8>>,
}

impl<'a, V> ObjectPieces<'a, V> {
    fn new(entries: Vec<(&'a str, V)>, depth: usize) -> Self {
        ObjectPieces {
            entries,
            depth,
            next: 0,
            done: false,
            ready: Default::default(),
        }
    }
}

/// Entries serialized by one thread at a time, and entries per batch.
const CHUNK: usize = 256;
const BATCH: usize = CHUNK * 16;

impl<V: Serialize + Sync> Iterator for ObjectPieces<'_, V> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if let Some(piece) = self.ready.pop_front() {
            return Some(piece);
        }
        if self.done {
            return None;
        }
        if self.entries.is_empty() {
            self.done = true;
            return Some(b"{}".to_vec());
        }
        if self.next == self.entries.len() {
            self.done = true;
            let mut end = b"\n".to_vec();
            end.extend_from_slice("  ".repeat(self.depth).as_bytes());
            end.push(b'}');
            return Some(end);
        }
        let start = self.next;
        let batch = &self.entries[start..(start + BATCH).min(self.entries.len())];
        self.next = start + batch.len();
        let indent = "  ".repeat(self.depth + 1);
        let depth = self.depth;
        let pieces: Vec<Vec<u8>> = batch
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(n, chunk)| {
                let mut s = Vec::new();
                for (i, (key, value)) in chunk.iter().enumerate() {
                    let first = start + n * CHUNK + i == 0;
                    s.extend_from_slice(if first { b"{\n" } else { b",\n" });
                    s.extend_from_slice(indent.as_bytes());
                    write_pretty(&mut s, key, 0);
                    s.extend_from_slice(b": ");
                    write_pretty(&mut s, value, depth + 1);
                }
                s
            })
            .collect();
        self.ready.extend(pieces);
        self.ready.pop_front()
    }
}

/// `value` as pretty JSON, indented as if nested `depth` levels deep.
fn pretty<T: Serialize + ?Sized>(value: &T, depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    write_pretty(&mut out, value, depth);
    out
}

fn write_pretty<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T, depth: usize) {
    let mut serializer = serde_json::Serializer::with_formatter(
        out,
        Nested {
            depth,
            has_value: false,
        },
    );
    // Serializing plain structs with string keys into memory cannot fail.
    let _ = value.serialize(&mut serializer);
}

/// serde_json's pretty formatter (two spaces, `": "`), starting `depth`
/// levels deep, so that pieces of one document can be written separately.
struct Nested {
    depth: usize,
    has_value: bool,
}

impl Nested {
    /// A comma if asked, a newline and the indentation, in one write: the
    /// manifest has millions of them.
    fn newline<W: ?Sized + std::io::Write>(&self, w: &mut W, comma: bool) -> std::io::Result<()> {
        const LINE: &[u8; 66] =
            b",\n                                                                ";
        let start = usize::from(!comma);
        let end = 2 + 2 * self.depth;
        match LINE.get(start..end) {
            Some(line) => w.write_all(line),
            None => {
                w.write_all(&LINE[start..2])?;
                (0..self.depth).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w, false)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(w, !first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w, false)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(w, !first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
