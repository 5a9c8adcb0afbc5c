//! The nodes resolve makes and later stages read: models, seeds, sources,
//! tests and the graph between them. Plain data in a leaf module, so that
//! the resolve stage's modules (resolve, graph, datatest, unittest) and
//! emit share it without naming each other.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::ModelConfig;
use crate::dbt::snapshot::Strategy;
use crate::project::SourceFile;
use crate::relation::Relation;
use crate::render::Rendered;
use crate::schema::{ModelEntry, OtherEntry, SeedEntry, SourceEntry, SourceTable};
use crate::seed::Seed;

mod data_test;
mod graph;
mod unit_test;

pub use data_test::{DataTest, StoredFailures};
pub use graph::{Graph, IdList};
pub use unit_test::CompiledUnitTest;

/// A model after resolution: its configuration, relation and rendered SQL.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub file: SourceFile,
    pub config: ModelConfig,
    pub relation: Relation,
    /// The model rendered with `is_incremental()` false: the full build.
    pub full: Rendered,
    /// For incremental models, rendered with `is_incremental()` true.
    pub incremental: Option<Rendered>,
    pub entry: Option<Arc<ModelEntry>>,
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
    pub vars: Vec<String>,
    pub env_vars: Vec<String>,
    /// The full query's output columns, when they are known: derived from
    /// its SQL, else when its select list names them all.
    pub columns: Option<Vec<String>>,
    /// The output columns with types and lineage, derived from its SQL
    /// (issue 14), when all are known.
    pub derived_columns: Option<Vec<crate::catalog::ModelColumn>>,
    /// dbt's `pre_hook` / `post_hook`, rendered, in run order.
    pub pre_hooks: Vec<String>,
    pub post_hooks: Vec<String>,
    /// A dbt snapshot's strategy (its materialization is `snapshot`).
    pub snapshot: Option<Strategy>,
}

#[derive(Debug, Clone)]
pub struct SingularTest {
    pub name: String,
    pub file: SourceFile,
    pub rendered: Rendered,
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
    /// A test's settings (severity, error_if, fail_calc, store...); dbt's
    /// defaults for an analysis.
    pub settings: crate::schema::TestSpec,
    /// Where its failing rows are stored, when they are.
    pub store: Option<StoredFailures>,
}

/// A seed after resolution: its CSV, its schema-file entry and where it is
/// loaded.
#[derive(Debug, Clone)]
pub struct ResolvedSeed {
    pub seed: Seed,
    pub entry: Option<SeedEntry>,
    pub relation: Relation,
}

/// A source table after resolution: its source, the table's entry and the
/// relation it names.
#[derive(Debug, Clone)]
pub struct ResolvedSource {
    pub entry: SourceEntry,
    pub table: SourceTable,
    pub relation: Relation,
}

/// Everything later stages need, checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub project_name: String,
    pub models: BTreeMap<String, Model>,
    pub seeds: BTreeMap<String, ResolvedSeed>,
    pub sources: BTreeMap<(String, String), ResolvedSource>,
    pub tests: Vec<DataTest>,
    pub singular_tests: Vec<SingularTest>,
    /// dbt's analyses (`analysis-paths`): rendered and checked, written to
    /// `OUT/analyses/`, never run. Their `refs` are not graph edges.
    pub analyses: Vec<SingularTest>,
    pub unit_tests: Vec<CompiledUnitTest>,
    /// Exposures, semantic models, metrics and saved queries: in the
    /// manifest and its lineage, no SQL. Sorted by unique id.
    pub others: Vec<OtherNode>,
    pub graph: Graph,
    /// In a dbt project: each seed's configs from dbt_project.yml's
    /// `seeds:` tree (`column_types`, `quote_columns`...), by seed name.
    pub dbt_seeds: Option<BTreeMap<String, BTreeMap<String, serde_json::Value>>>,
    /// A dbt project's `on-run-start` / `on-run-end`, rendered.
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct OtherNode {
    pub unique_id: String,
    pub entry: OtherEntry,
    /// Unique ids of the models, seeds and sources it depends on.
    pub depends_on: Vec<String>,
}

/// The model's output columns: from the select list when it names every
/// column (that is what the query really returns), else from the schema file.
pub fn model_columns(m: &Model) -> Option<Vec<String>> {
    m.columns.clone().or_else(|| {
        let entry = m.entry.as_ref()?;
        (!entry.columns.is_empty()).then(|| entry.columns.iter().map(|c| c.name.clone()).collect())
    })
}

/// Whether the model's contract is enforced (`config: {contract: {enforced:
/// true}}`): its table is then created from the schema file's columns, with
/// their types and constraints.
pub fn contract_enforced(m: &Model) -> bool {
    m.config
        .dbt
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .and_then(|e| e.as_bool())
        .unwrap_or(false)
}
