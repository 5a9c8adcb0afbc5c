//! `manifest.json`: every node, its lineage, and the checksum of every file.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::Serialize;

use super::{sha256_hex, unit_test_path, RunStep, Sink};
use crate::config::Materialization;
use crate::graph::{model_id, seed_id, IdList};
use crate::project::{MigrationKind, Project};
use crate::resolve::Resolved;
use crate::schema::OtherKind;

// The manifest is written from these borrowed structs rather than a
// `serde_json::Value` tree: at 10,000 models the tree alone took hundreds of
// megabytes. Fields are in alphabetical order, so the JSON reads like a
// sorted map.

struct Manifest<'a> {
    child_map: Vec<(&'a str, Lineage<'a>)>,
    /// Sorted by path.
    files: Vec<(&'a str, &'a str)>,
    metadata: Metadata<'a>,
    migrations: Vec<MigrationEntry<'a>>,
    /// Sorted by id.
    nodes: Vec<(&'a str, Node<'a>)>,
    parent_map: Vec<(&'a str, Lineage<'a>)>,
    run_order: &'a [RunStep],
    sources: BTreeMap<String, SourceNode<'a>>,
    unit_tests: Vec<UnitTestEntry<'a>>,
    /// Exposures, metrics, saved queries and semantic models, by resource
    /// type (dbt's manifest keys); a key is written only when it has entries,
    /// so projects without them keep their manifest.
    others: BTreeMap<&'static str, BTreeMap<&'a str, OtherInfo<'a>>>,
}

/// One node's parents or children: those of the graph, then exposures,
/// metrics and the like, which are not in the graph (nothing runs for them).
struct Lineage<'a> {
    graph: Option<IdList<'a>>,
    extra: Vec<&'a str>,
}

impl Serialize for Lineage<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        if let Some(graph) = &self.graph {
            for id in graph.iter() {
                seq.serialize_element(id)?;
            }
        }
        for id in &self.extra {
            seq.serialize_element(id)?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct OtherInfo<'a> {
    depends_on: DependsOn<'a>,
    description: Option<&'a str>,
    file: &'a str,
    label: Option<&'a str>,
    name: &'a str,
    resource_type: &'static str,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    unique_id: &'a str,
}

/// The graph's lineage with the other nodes added: each as a child of what
/// it depends on, and with its own parents.
fn lineage<'a>(
    graph: Vec<(&'a str, IdList<'a>)>,
    others: &'a [crate::resolve::OtherNode],
    parents: bool,
) -> Vec<(&'a str, Lineage<'a>)> {
    let mut out: Vec<(&str, Lineage<'_>)> = graph
        .into_iter()
        .map(|(id, list)| {
            (
                id,
                Lineage {
                    graph: Some(list),
                    extra: Vec::new(),
                },
            )
        })
        .collect();
    if others.is_empty() {
        return out;
    }
    let mut extra: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for o in others {
        if parents {
            extra
                .entry(&o.unique_id)
                .or_default()
                .extend(o.depends_on.iter().map(String::as_str));
        } else {
            extra.entry(&o.unique_id).or_default();
            for p in &o.depends_on {
                extra.entry(p).or_default().push(&o.unique_id);
            }
        }
    }
    for (id, list) in &mut out {
        if let Some(more) = extra.remove(id) {
            list.extra = more;
        }
    }
    out.extend(extra.into_iter().map(|(id, more)| {
        (
            id,
            Lineage {
                graph: None,
                extra: more,
            },
        )
    }));
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

#[derive(Serialize)]
struct UnitTestEntry<'a> {
    description: Option<&'a str>,
    file: String,
    model: String,
    name: &'a str,
    source: &'a str,
}

#[derive(Serialize)]
struct Metadata<'a> {
    generator: String,
    manifest_version: u32,
    project_name: &'a str,
}

#[derive(Serialize)]
struct MigrationEntry<'a> {
    description: String,
    file: String,
    script: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct DependsOn<'a> {
    nodes: Vec<&'a str>,
}

#[derive(Serialize)]
struct ColumnInfo<'a> {
    data_type: Option<&'a str>,
    description: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Node<'a> {
    // Boxed: a model node is twice the size of a test node, and tests are
    // most of the nodes.
    Model(Box<ModelNode<'a>>),
    Seed(SeedNode<'a>),
    Test(TestNode<'a>),
}

#[derive(Serialize)]
struct ModelNode<'a> {
    artifacts: &'a [String],
    checksum: String,
    columns: BTreeMap<&'a str, ColumnInfo<'a>>,
    config: ModelConfigInfo<'a>,
    depends_on: DependsOn<'a>,
    description: Option<&'a str>,
    env_vars: &'a [String],
    file: &'a str,
    materialization: &'static str,
    name: &'a str,
    relation: Option<String>,
    resource_type: &'static str,
    schema: &'a str,
    tags: &'a [String],
    unique_id: &'a str,
    vars: &'a [String],
}

#[derive(Serialize)]
struct IndexInfo<'a> {
    columns: &'a [String],
    #[serde(rename = "type")]
    method: &'a str,
    unique: bool,
}

#[derive(Serialize)]
struct ModelConfigInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_time: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incremental_strategy: Option<&'static str>,
    indexes: Vec<IndexInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lookback: Option<Option<&'a str>>,
    materialized: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_schema_change: Option<&'static str>,
    sql_check: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_key: Option<&'a [String]>,
    vacuum: bool,
}

#[derive(Serialize)]
struct SeedNode<'a> {
    artifacts: &'a [String],
    checksum: String,
    columns: &'a [String],
    depends_on: DependsOn<'a>,
    description: Option<&'a str>,
    file: &'a str,
    materialization: &'static str,
    name: &'a str,
    relation: String,
    resource_type: &'static str,
    rows: usize,
    schema: &'a str,
    unique_id: String,
}

#[derive(Serialize)]
struct TestNode<'a> {
    artifacts: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    attached_node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<Option<&'a str>>,
    depends_on: DependsOn<'a>,
    error_if: &'a str,
    file: &'a str,
    name: &'a str,
    resource_type: &'static str,
    severity: &'static str,
    test: &'a str,
    unique_id: String,
    warn_if: &'a str,
}

#[derive(Serialize)]
struct SourceNode<'a> {
    columns: BTreeMap<&'a str, ColumnInfo<'a>>,
    description: Option<&'a str>,
    file: &'a str,
    identifier: &'a str,
    name: &'a str,
    relation: String,
    resource_type: &'static str,
    schema: &'a str,
    source_name: &'a str,
    unique_id: String,
}

fn other_infos(
    others: &[crate::resolve::OtherNode],
) -> BTreeMap<&'static str, BTreeMap<&str, OtherInfo<'_>>> {
    let mut out: BTreeMap<&'static str, BTreeMap<&str, OtherInfo<'_>>> = BTreeMap::new();
    for o in others {
        let key = match o.entry.kind {
            OtherKind::Exposure => "exposures",
            OtherKind::Metric => "metrics",
            OtherKind::SavedQuery => "saved_queries",
            OtherKind::SemanticModel => "semantic_models",
            OtherKind::Snapshot => continue,
        };
        out.entry(key).or_default().insert(
            &o.unique_id,
            OtherInfo {
                depends_on: DependsOn {
                    nodes: o.depends_on.iter().map(String::as_str).collect(),
                },
                description: o.entry.description.as_deref(),
                file: &o.entry.span.file,
                label: o.entry.label.as_deref(),
                name: &o.entry.name,
                resource_type: o.entry.kind.as_str(),
                kind: o.entry.type_.as_deref(),
                unique_id: &o.unique_id,
            },
        );
    }
    out
}

fn columns_info(columns: &[crate::schema::Column]) -> BTreeMap<&str, ColumnInfo<'_>> {
    columns
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                ColumnInfo {
                    data_type: c.data_type.as_deref(),
                    description: c.description.as_deref(),
                },
            )
        })
        .collect()
}

pub(super) fn manifest(
    project: &Project,
    resolved: &Resolved,
    node_files: &BTreeMap<String, Vec<String>>,
    run_order: &[RunStep],
    files: &[(String, String)],
    sink: &dyn Sink,
) -> std::io::Result<()> {
    let name = resolved.project_name.as_str();
    let no_files: Vec<String> = Vec::new();
    let files_of = |id: &str| -> &[String] { node_files.get(id).unwrap_or(&no_files) };
    let graph = &resolved.graph;
    let parents_of = |id: &str| DependsOn {
        nodes: graph
            .index(id)
            .map(|i| {
                graph.parents[i]
                    .iter()
                    .map(|&p| graph.ids[p].as_str())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let model_ids: Vec<String> = resolved.models.keys().map(|m| model_id(name, m)).collect();
    let singular_ids: Vec<String> = resolved
        .singular_tests
        .iter()
        .map(|t| format!("test.{name}.{}", t.name))
        .collect();

    // In the order a map would take them (a later node of the same id
    // wins), then sorted by id.
    let mut nodes: Vec<(&str, Node<'_>)> = Vec::new();
    let model_nodes: Vec<(&str, Node<'_>)> = resolved
        .models
        .values()
        .zip(&model_ids)
        .collect::<Vec<_>>()
        .par_iter()
        .map(|(m, id)| {
            let c = &m.config;
            let incremental = c.materialized == Materialization::Incremental;
            let node = ModelNode {
                artifacts: files_of(id),
                checksum: sha256_hex(&m.file.text),
                columns: m
                    .entry
                    .as_ref()
                    .map(|e| columns_info(&e.columns))
                    .unwrap_or_default(),
                config: ModelConfigInfo {
                    event_time: incremental.then_some(c.event_time.as_deref()),
                    incremental_strategy: incremental.then(|| c.effective_strategy().as_str()),
                    indexes: c
                        .indexes
                        .iter()
                        .map(|i| IndexInfo {
                            columns: &i.columns,
                            method: &i.method,
                            unique: i.unique,
                        })
                        .collect(),
                    lookback: incremental.then_some(c.lookback.as_deref()),
                    materialized: c.materialized.as_str(),
                    on_schema_change: incremental.then(|| c.on_schema_change.as_str()),
                    sql_check: c.sql_check,
                    unique_key: incremental.then_some(c.unique_key.as_slice()),
                    vacuum: c.vacuum,
                },
                depends_on: parents_of(id),
                description: m.entry.as_ref().and_then(|e| e.description.as_deref()),
                env_vars: &m.env_vars,
                file: &m.file.path,
                materialization: c.materialized.as_str(),
                name: &m.name,
                relation: (c.materialized != Materialization::Ephemeral)
                    .then(|| m.relation.to_string()),
                resource_type: "model",
                schema: &m.relation.schema,
                tags: &c.tags,
                unique_id: id.as_str(),
                vars: &m.vars,
            };
            (id.as_str(), Node::Model(Box::new(node)))
        })
        .collect();
    nodes.extend(model_nodes);
    let seed_ids: Vec<String> = resolved.seeds.keys().map(|s| seed_id(name, s)).collect();
    for ((seed_name, (seed, entry, relation)), id) in resolved.seeds.iter().zip(&seed_ids) {
        nodes.push((
            id,
            Node::Seed(SeedNode {
                artifacts: files_of(id),
                checksum: sha256_hex(&seed.file.text),
                columns: &seed.columns,
                depends_on: DependsOn { nodes: Vec::new() },
                description: entry.as_ref().and_then(|e| e.description.as_deref()),
                file: &seed.file.path,
                materialization: "seed",
                name: seed_name,
                relation: relation.to_string(),
                resource_type: "seed",
                rows: seed.rows.len(),
                schema: &relation.schema,
                unique_id: id.clone(),
            }),
        ));
    }
    let test_nodes: Vec<(&str, Node<'_>)> = resolved
        .tests
        .par_iter()
        .map(|t| {
            let depends: BTreeSet<&str> = t.depends_on.iter().map(String::as_str).collect();
            let node = TestNode {
                artifacts: files_of(&t.unique_id),
                attached_node: Some(&t.attached_to),
                checksum: None,
                column: Some(t.column.as_deref()),
                depends_on: DependsOn {
                    nodes: depends.into_iter().collect(),
                },
                error_if: &t.error_if,
                file: &t.span.file,
                name: &t.name,
                resource_type: "test",
                severity: t.severity.as_str(),
                test: &t.kind,
                unique_id: t.unique_id.clone(),
                warn_if: &t.warn_if,
            };
            (t.unique_id.as_str(), Node::Test(node))
        })
        .collect();
    nodes.extend(test_nodes);
    for (t, id) in resolved.singular_tests.iter().zip(&singular_ids) {
        nodes.push((
            id,
            Node::Test(TestNode {
                artifacts: files_of(id),
                attached_node: None,
                checksum: Some(sha256_hex(&t.file.text)),
                column: None,
                depends_on: parents_of(id),
                error_if: "!= 0",
                file: &t.file.path,
                name: &t.name,
                resource_type: "test",
                severity: "error",
                test: "singular",
                unique_id: id.clone(),
                warn_if: "!= 0",
            }),
        ));
    }
    let mut sources = BTreeMap::new();
    for ((source, table), (entry, t, relation)) in &resolved.sources {
        let id = crate::graph::source_id(name, source, table);
        sources.insert(
            id.clone(),
            SourceNode {
                columns: columns_info(&t.columns),
                description: t.description.as_deref(),
                file: &t.span.file,
                identifier: &t.identifier,
                name: table,
                relation: relation.to_string(),
                resource_type: "source",
                schema: &entry.schema,
                source_name: source,
                unique_id: id,
            },
        );
    }

    // Flyway's order: versioned by version, then repeatables by description.
    let mut migrations: Vec<(u8, &[u64], String, MigrationEntry<'_>)> = Vec::new();
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
                description: m.description.clone(),
                file: format!("migrations/{}", m.script),
                script: &m.script,
                source: Some(&m.file.path),
                kind: if rank == 0 { "versioned" } else { "repeatable" },
                version: (rank == 0).then_some(m.version_text.as_str()),
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
                description,
                file: path.clone(),
                script,
                source: None,
                kind: "repeatable",
                version: None,
            },
        ));
    }
    migrations.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));

    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, hash)| (path.as_str(), hash.as_str()))
        .collect();
    let manifest = Manifest {
        child_map: lineage(graph.id_entries(&graph.children), &resolved.others, false),
        files,
        metadata: Metadata {
            generator: format!("stackc {}", env!("CARGO_PKG_VERSION")),
            manifest_version: 1,
            project_name: name,
        },
        migrations: migrations.into_iter().map(|m| m.3).collect(),
        nodes: sorted_by_id(nodes),
        parent_map: lineage(graph.id_entries(&graph.parents), &resolved.others, true),
        run_order,
        sources,
        unit_tests: resolved
            .unit_tests
            .iter()
            .map(|u| UnitTestEntry {
                description: u.description.as_deref(),
                file: unit_test_path(u),
                model: model_id(name, &u.model),
                name: &u.name,
                source: &u.file,
            })
            .collect(),
        others: other_infos(&resolved.others),
    };
    let mut pieces = manifest.pieces();
    sink.put_pieces("manifest.json", &mut pieces)
}

impl Manifest<'_> {
    /// Pretty JSON, byte for byte what `serde_json::to_string_pretty` would
    /// write, as pieces that make the file in order. The pieces are made as
    /// they are read, and nodes and files in parallel batches, so the whole
    /// document (46 MB at 10,000 models) is never in memory at once.
    fn pieces(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        // The two large lists are made up front, side by side.
        let (migrations, run_order) = rayon::join(
            || pretty(&self.migrations, 1),
            || pretty(&self.run_order, 1),
        );
        let mut fields: Vec<(&str, Pieces<'_>)> = vec![
            ("child_map", Box::new(ObjectPieces::new(&self.child_map, 1))),
            ("files", Box::new(ObjectPieces::new(&self.files, 1))),
            ("metadata", lazy(move || pretty(&self.metadata, 1))),
            ("migrations", Box::new(std::iter::once(migrations))),
            ("nodes", Box::new(ObjectPieces::new(&self.nodes, 1))),
            (
                "parent_map",
                Box::new(ObjectPieces::new(&self.parent_map, 1)),
            ),
            ("run_order", Box::new(std::iter::once(run_order))),
            ("sources", lazy(move || pretty(&self.sources, 1))),
            ("unit_tests", lazy(move || pretty(&self.unit_tests, 1))),
        ];
        for (key, entries) in &self.others {
            fields.push((key, lazy(move || pretty(entries, 1))));
        }
        // Keys in alphabetical order, as everywhere in the manifest.
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
    entries: &'a [(&'a str, V)],
    depth: usize,
    next: usize,
    done: bool,
    ready: std::collections::VecDeque<Vec<u8>>,
}

impl<'a, V> ObjectPieces<'a, V> {
    fn new(entries: &'a [(&'a str, V)], depth: usize) -> Self {
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

/// The nodes sorted by id; of two with one id, the later one.
fn sorted_by_id<'a>(mut nodes: Vec<(&'a str, Node<'a>)>) -> Vec<(&'a str, Node<'a>)> {
    nodes.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<(&str, Node<'_>)> = Vec::with_capacity(nodes.len());
    for node in nodes {
        match out.last_mut() {
            Some(last) if last.0 == node.0 => *last = node,
            _ => out.push(node),
        }
    }
    out
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
mod tests {
    use super::*;

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
            text(ObjectPieces::new(&entries, 0)),
            serde_json::to_string_pretty(&map).unwrap()
        );
        let nested = serde_json::json!({ "outer": map, "list": [[1], {"k": [true]}] });
        let expected = serde_json::to_string_pretty(&nested).unwrap();
        let list = String::from_utf8(pretty(&nested["list"], 1)).unwrap();
        let outer = text(ObjectPieces::new(&entries, 1));
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
        assert_eq!(text(ObjectPieces::new(&empty, 3)), "{}");
    }
}
