//! `manifest.json`, the one description of the artifacts: written by
//! [`crate::emit`], read by [`crate::apply`], with the same types.
//!
//! Every type is generic over its text `S`: emit writes `Manifest<Cow<str>>`
//! (borrowing from the project, since at 10,000 models copying every name
//! into owned strings cost measurable time), apply reads `Manifest<String>`.
//! Fields are in alphabetical order, so the JSON reads like a sorted map;
//! emit's parallel writer is pinned to these types by a round-trip test
//! (`emit::manifest::tests`).
//!
//! Also here: the markers emit writes into artifacts and apply looks for.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// The version of the layout below that this stackc writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The comment a seed load leaves on its table (`comment on table`):
/// `stackc apply` skips the load when the table already carries the marker
/// of this CSV's content. `file` is the CSV's project path, `sha256` the
/// hex digest of its text (the seed node's `checksum`).
pub fn seed_marker(file: &str, sha256: &str) -> String {
    format!("stackc seed {file} sha256:{sha256}")
}

/// The line of a unit test script after which comes its check query.
pub const CHECK_MARKER: &str = "-- stackc: check";

/// Header lines of a generated artifact: `-- stackc: <kind> <relation>
/// (<materialization>)` and `-- source: <project file>`.
pub const HEADER_OBJECT: &str = "-- stackc: ";
pub const HEADER_SOURCE: &str = "-- source: ";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct Manifest<S> {
    #[serde(default)]
    pub child_map: BTreeMap<S, Vec<S>>,
    /// Exposures, metrics, saved queries and semantic models, under dbt's
    /// manifest keys: written only when a project has them, so other
    /// projects keep their manifest. Nothing runs for them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposures: BTreeMap<S, OtherInfo<S>>,
    /// Every artifact (but the manifest) and the SHA-256 of its text.
    pub files: BTreeMap<S, S>,
    /// dbt's groups (`groups:` in a schema file), as the other entries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<S, OtherInfo<S>>,
    pub metadata: Metadata<S>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<S, OtherInfo<S>>,
    pub migrations: Vec<MigrationEntry<S>>,
    #[serde(default)]
    pub nodes: BTreeMap<S, Node<S>>,
    #[serde(default)]
    pub parent_map: BTreeMap<S, Vec<S>>,
    pub run_order: Vec<RunStep<S>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub saved_queries: BTreeMap<S, OtherInfo<S>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub semantic_models: BTreeMap<S, OtherInfo<S>>,
    #[serde(default)]
    pub sources: BTreeMap<S, SourceNode<S>>,
    /// dbt-style unit tests (`stackc test --unit`), never run by an apply.
    #[serde(default)]
    pub unit_tests: Vec<UnitTestEntry<S>>,
}

/// An exposure, metric, saved query or semantic model: in the lineage, with
/// no SQL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherInfo<S> {
    pub depends_on: DependsOn<S>,
    pub description: Option<S>,
    pub file: S,
    pub label: Option<S>,
    pub name: S,
    pub resource_type: S,
    #[serde(rename = "type")]
    pub kind: Option<S>,
    pub unique_id: S,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata<S> {
    pub generator: S,
    pub manifest_version: u32,
    pub project_name: S,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationType {
    Versioned,
    Repeatable,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationEntry<S> {
    pub description: S,
    /// Path of the artifact, relative to the artifacts folder.
    pub file: S,
    /// Path relative to `migrations/`: Flyway's `script` column.
    pub script: S,
    /// The project file, for the project's own migrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<S>,
    #[serde(rename = "type")]
    pub kind: MigrationType,
    pub version: Option<S>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Seed,
    Table,
    Incremental,
    Refresh,
    /// A dbt snapshot: new versions of changed rows, old ones closed.
    Snapshot,
    Test,
    Vacuum,
    /// A dbt project's `on-run-start` / `on-run-end`.
    Hook,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Seed => "seed",
            StepKind::Table => "table",
            StepKind::Incremental => "incremental",
            StepKind::Refresh => "refresh",
            StepKind::Snapshot => "snapshot",
            StepKind::Test => "test",
            StepKind::Vacuum => "vacuum",
            StepKind::Hook => "hook",
        }
    }
}

/// One step of a run, in `run_order`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStep<S> {
    pub file: S,
    /// Incremental models: the first-load / full-refresh file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_file: Option<S>,
    /// `Some(false)`: `--full-refresh` does not apply to this step (a dbt
    /// model's `full_refresh: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_refresh: Option<bool>,
    /// Tests: the line of `file` the test's text starts on (1-based; its
    /// query, or the comments its author put before it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub node: S,
    /// Tests: which statement of `file` is the test's query (0-based; a
    /// node's tests share one file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    pub step: StepKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitTestEntry<S> {
    pub description: Option<S>,
    /// The script: inputs as temporary tables, the model, a check query
    /// after [`CHECK_MARKER`] that returns one row per difference.
    pub file: S,
    /// The model's node id.
    pub model: S,
    pub name: S,
    pub source: S,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DependsOn<S> {
    /// dbt's macros the node calls (a dbt project's models; empty, and not
    /// written, elsewhere).
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<S>,
    #[serde(default = "Vec::new")]
    pub nodes: Vec<S>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnInfo<S> {
    pub data_type: Option<S>,
    pub description: Option<S>,
    /// The upstream columns this column is computed from (issue 14).
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<ColumnSource<S>>,
}

/// One upstream column of a model column: `node` is a unique id, `kind`
/// one of `copy` (the value itself), `transform` (computed from it),
/// `filter` (it decides which rows there are: `where`, `join ... on`,
/// `group by`, `having`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnSource<S> {
    pub node: S,
    pub column: S,
    pub kind: S,
}

/// A node: which one is told by its fields (`resource_type` says it too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged, bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub enum Node<S> {
    // Boxed: a model node is twice the size of a test node, and tests are
    // most of the nodes.
    Model(Box<ModelNode<S>>),
    Seed(SeedNode<S>),
    Test(TestNode<S>),
    /// Last: its fields are a subset of the others', so untagged reading
    /// tries it only when no other kind fits.
    Analysis(AnalysisNode<S>),
}

/// A dbt analysis (`analysis-paths`): compiled into `analyses/`, in the
/// lineage, never run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalysisNode<S> {
    pub artifacts: Vec<S>,
    /// sha256 of the analysis's file.
    pub checksum: S,
    pub compiled_code: S,
    pub depends_on: DependsOn<S>,
    pub description: Option<S>,
    pub file: S,
    pub name: S,
    pub resource_type: S,
    pub unique_id: S,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct ModelNode<S> {
    pub artifacts: Vec<S>,
    /// sha256 of the model's file.
    pub checksum: S,
    pub columns: BTreeMap<S, ColumnInfo<S>>,
    /// The upstream columns that decide which rows the model has (`where`,
    /// `join ... on`, `group by`, `having`), once for all its columns
    /// instead of in each column's `lineage` (where a column that copies or
    /// computes from one lists it so). A column's own `lineage` keeps the
    /// filters of its value alone (a scalar subquery's `where`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lineage_filters: Vec<ColumnSource<S>>,
    pub config: ModelConfigInfo<S>,
    pub depends_on: DependsOn<S>,
    pub description: Option<S>,
    pub env_vars: Vec<S>,
    pub file: S,
    /// A versioned model (dbt's `versions:`): the latest version of its
    /// model, and (`version`) this node's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<S>,
    pub materialization: S,
    pub name: S,
    /// None for an ephemeral model.
    pub relation: Option<S>,
    pub resource_type: S,
    pub schema: S,
    pub tags: Vec<S>,
    pub unique_id: S,
    pub vars: Vec<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<S>,
    /// A versioned model's own name in the schema file (`dim_customers`
    /// for the node of `dim_customers_v2.sql`): dbt's fqn and `ls` use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_of: Option<S>,
}

/// A test's configs that dbt's manifest lists and stackc's does not
/// already have in its own fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestConfigInfo<S> {
    pub tags: Vec<S>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexInfo<S> {
    pub columns: Vec<S>,
    #[serde(rename = "type")]
    pub method: S,
    pub unique: bool,
}

/// `Option<Option<_>>` fields are absent for models that are not
/// incremental, and `null` for an incremental model without the setting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfigInfo<S> {
    #[serde(
        default = "absent",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub event_time: Option<Option<S>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_strategy: Option<S>,
    pub indexes: Vec<IndexInfo<S>>,
    #[serde(
        default = "absent",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub lookback: Option<Option<S>>,
    pub materialized: S,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_schema_change: Option<S>,
    pub sql_check: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<Vec<S>>,
    pub vacuum: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedNode<S> {
    pub artifacts: Vec<S>,
    /// sha256 of the CSV: see [`seed_marker`].
    pub checksum: S,
    pub columns: Vec<S>,
    pub depends_on: DependsOn<S>,
    pub description: Option<S>,
    pub file: S,
    pub materialization: S,
    pub name: S,
    pub relation: S,
    pub resource_type: S,
    pub rows: usize,
    pub schema: S,
    pub unique_id: S,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
pub struct TestNode<S> {
    pub artifacts: Vec<S>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_node: Option<S>,
    /// Singular tests: sha256 of the test's file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<S>,
    /// Generic tests: the column tested, `null` for a test of the node.
    #[serde(
        default = "absent",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub column: Option<Option<S>>,
    pub depends_on: DependsOn<S>,
    /// The test entry's `description:` (generic tests), or the
    /// `description` of the schema file's `data_tests:` entry naming the
    /// test (singular tests), as dbt's manifest has it.
    #[serde(default = "absent", skip_serializing_if = "Option::is_none")]
    pub description: Option<S>,
    pub error_if: S,
    /// dbt's `fail_calc` when it is not `count(*)`: the expression the
    /// failing rows are judged by.
    #[serde(default = "absent", skip_serializing_if = "Option::is_none")]
    pub fail_calc: Option<S>,
    /// The project file the test is declared in.
    pub file: S,
    /// The first line of the test's text in its artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub name: S,
    pub resource_type: S,
    pub severity: S,
    /// Which statement of its artifact the test's query is (0-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// dbt's `store_failures`: the failing rows are written to this
    /// relation in the test's step, then judged from there.
    #[serde(default = "absent", skip_serializing_if = "Option::is_none")]
    pub store_failures: Option<StoredFailuresInfo<S>>,
    /// dbt's node `tags` (the column's and the test's own, sorted, then
    /// the tree's): written when there are any, as most tests have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<S>,
    /// dbt's `config.tags`, in its order (the tree's, then the test's
    /// own; twice for a test whose `config()` dbt renders, as dbt writes
    /// them): written when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<TestConfigInfo<S>>,
    pub test: S,
    pub unique_id: S,
    pub warn_if: S,
}

/// Where a test stores its failing rows: the relation's SQL name, its
/// schema and name as PostgreSQL has them, and `table` or `view`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredFailuresInfo<S> {
    #[serde(rename = "as")]
    pub kind: S,
    pub identifier: S,
    pub relation: S,
    pub schema: S,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct SourceNode<S> {
    pub columns: BTreeMap<S, ColumnInfo<S>>,
    pub description: Option<S>,
    pub file: S,
    pub identifier: S,
    pub name: S,
    pub relation: S,
    pub resource_type: S,
    pub schema: S,
    pub source_name: S,
    pub unique_id: S,
}

fn absent<T>() -> Option<T> {
    None
}

/// A field that is there, `null` or not, as `Some`: serde would read a
/// `null` as the outer `None`, which means "absent".
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl<S: AsRef<str>> Node<S> {
    pub fn resource_type(&self) -> &str {
        match self {
            Node::Model(n) => n.resource_type.as_ref(),
            Node::Seed(n) => n.resource_type.as_ref(),
            Node::Test(n) => n.resource_type.as_ref(),
            Node::Analysis(n) => n.resource_type.as_ref(),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Node::Model(n) => n.name.as_ref(),
            Node::Seed(n) => n.name.as_ref(),
            Node::Test(n) => n.name.as_ref(),
            Node::Analysis(n) => n.name.as_ref(),
        }
    }

    /// The project file the node comes from.
    pub fn file(&self) -> &str {
        match self {
            Node::Model(n) => n.file.as_ref(),
            Node::Seed(n) => n.file.as_ref(),
            Node::Test(n) => n.file.as_ref(),
            Node::Analysis(n) => n.file.as_ref(),
        }
    }

    /// The relation a model or seed builds.
    pub fn relation(&self) -> Option<&str> {
        match self {
            Node::Model(n) => n.relation.as_ref().map(AsRef::as_ref),
            Node::Seed(n) => Some(n.relation.as_ref()),
            Node::Test(_) | Node::Analysis(_) => None,
        }
    }

    pub fn artifacts(&self) -> &[S] {
        match self {
            Node::Model(n) => &n.artifacts,
            Node::Seed(n) => &n.artifacts,
            Node::Test(n) => &n.artifacts,
            Node::Analysis(n) => &n.artifacts,
        }
    }

    pub fn test(&self) -> Option<&TestNode<S>> {
        match self {
            Node::Test(t) => Some(t),
            _ => None,
        }
    }

    pub fn seed(&self) -> Option<&SeedNode<S>> {
        match self {
            Node::Seed(s) => Some(s),
            _ => None,
        }
    }

    pub fn model(&self) -> Option<&ModelNode<S>> {
        match self {
            Node::Model(m) => Some(m),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_null_settings_stay_apart() {
        let json = r#"{"indexes": [], "lookback": null, "materialized": "incremental", "sql_check": true, "vacuum": false}"#;
        let c: ModelConfigInfo<String> = serde_json::from_str(json).unwrap();
        assert_eq!(c.lookback, Some(None));
        assert_eq!(c.event_time, None);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
    }

    #[test]
    fn the_seed_marker_names_the_file_and_its_digest() {
        assert_eq!(
            seed_marker("seeds/a.csv", "00ff"),
            "stackc seed seeds/a.csv sha256:00ff"
        );
    }
}
