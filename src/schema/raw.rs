//! Schema files as serde reads them, before their entries are checked and
//! turned into the types of `super`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Deserialize)]
pub(super) struct RawFile {
    pub(super) version: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) models: Vec<RawModel>,
    #[serde(default)]
    pub(super) sources: Vec<RawSource>,
    #[serde(default)]
    pub(super) seeds: Vec<RawSeed>,
    #[serde(default)]
    pub(super) unit_tests: Vec<RawUnitTest>,
    #[serde(default)]
    pub(super) snapshots: Vec<RawSnapshot>,
    #[serde(default)]
    pub(super) exposures: Vec<RawOther>,
    #[serde(default)]
    pub(super) semantic_models: Vec<RawOther>,
    #[serde(default)]
    pub(super) metrics: Vec<RawOther>,
    #[serde(default)]
    pub(super) saved_queries: Vec<RawOther>,
    #[serde(default)]
    pub(super) groups: Vec<RawOther>,
    /// Singular tests described by name (dbt 1.8).
    #[serde(default)]
    pub(super) data_tests: Vec<RawDescribed>,
    #[serde(default)]
    pub(super) analyses: Vec<RawDescribed>,
}

/// A `data_tests:` or `analyses:` entry: a name, its description and
/// configs.
#[derive(Deserialize)]
pub(super) struct RawDescribed {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) config: BTreeMap<String, Spanned<serde_json::Value>>,
}

/// An entry stackc carries into the manifest but makes no SQL for
/// (exposures, semantic models, metrics, saved queries) or does not build
/// (snapshots described in a schema file).
#[derive(Deserialize)]
pub(super) struct RawOther {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    pub(super) label: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<serde_json::Value>,
    /// Exposures: `depends_on: [ref('m'), source('s', 't')]`.
    #[serde(default)]
    pub(super) depends_on: Vec<String>,
    /// Semantic models: `model: ref('m')`.
    pub(super) model: Option<String>,
    /// Semantic models: their measures, which metrics name.
    #[serde(default)]
    pub(super) measures: Vec<serde_json::Value>,
    /// Metrics: the measures and metrics they are computed from.
    pub(super) type_params: Option<serde_json::Value>,
    /// Saved queries: the metrics they query.
    pub(super) query_params: Option<serde_json::Value>,
    /// Snapshots (dbt 1.9): `relation: ref('m')` or `source('s', 't')`.
    pub(super) relation: Option<Spanned<String>>,
    /// Snapshots: their configs (`strategy`, `unique_key`, ...).
    #[serde(default)]
    pub(super) config: BTreeMap<String, Spanned<serde_json::Value>>,
    /// What else dbt keeps of the entry and a package may read from
    /// `graph` (an exposure's owner and url, a semantic model's entities,
    /// a metric's filter), as written.
    #[serde(flatten)]
    pub(super) yaml: BTreeMap<String, serde_json::Value>,
}

/// A `snapshots:` entry: a YAML snapshot (`relation:`), or the description,
/// configs and tests of a `{% snapshot %}` block.
#[derive(Deserialize)]
pub(super) struct RawSnapshot {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    /// dbt 1.9: `relation: ref('m')` or `source('s', 't')`.
    pub(super) relation: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) config: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) columns: Vec<RawColumn>,
    #[serde(default)]
    pub(super) tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) data_tests: Vec<Spanned<serde_json::Value>>,
}

impl RawSnapshot {
    /// The part that `others` keeps (its name, relation and configs).
    pub(super) fn other(&self) -> RawOther {
        RawOther {
            name: self.name.clone(),
            description: self.description.clone(),
            label: None,
            kind: None,
            depends_on: Vec::new(),
            model: None,
            measures: Vec::new(),
            type_params: None,
            query_params: None,
            relation: self.relation.clone(),
            config: self.config.clone(),
            yaml: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawUnitTest {
    pub(super) name: Spanned<String>,
    pub(super) model: Spanned<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) given: Vec<RawUnitInput>,
    pub(super) expect: Spanned<RawRows>,
    #[serde(default)]
    pub(super) overrides: RawOverrides,
    #[allow(dead_code)] // accepted for dbt compatibility (tags, meta)
    pub(super) config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawUnitInput {
    pub(super) input: Spanned<String>,
    #[serde(default)]
    pub(super) rows: Vec<BTreeMap<String, serde_json::Value>>,
    pub(super) format: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawRows {
    #[serde(default)]
    pub(super) rows: Vec<BTreeMap<String, serde_json::Value>>,
    pub(super) format: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct RawOverrides {
    #[serde(default)]
    pub(super) macros: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub(super) vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub(super) env_vars: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawModel {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) config: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) columns: Vec<RawColumn>,
    #[serde(default)]
    pub(super) tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) data_tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) versions: Vec<RawVersion>,
    pub(super) latest_version: Option<serde_json::Value>,
    #[serde(default)]
    pub(super) constraints: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawVersion {
    pub(super) v: Spanned<serde_json::Value>,
    pub(super) defined_in: Option<String>,
    /// Entries with `name` only: `- include: all` entries say which of the
    /// model's columns the version has, which stackc does not narrow.
    #[serde(default)]
    pub(super) columns: Vec<serde_json::Value>,
    #[serde(default)]
    pub(super) tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) data_tests: Vec<Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
pub(super) struct RawColumn {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    pub(super) data_type: Option<String>,
    #[serde(default)]
    pub(super) quote: bool,
    #[serde(default)]
    pub(super) constraints: Vec<serde_json::Value>,
    #[serde(default)]
    pub(super) tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) data_tests: Vec<Spanned<serde_json::Value>>,
    #[allow(dead_code)] // accepted for dbt compatibility
    pub(super) meta: Option<serde_json::Value>,
    /// Given to the column's tests.
    pub(super) tags: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawSource {
    pub(super) name: Spanned<String>,
    pub(super) schema: Option<String>,
    #[serde(default)]
    pub(super) quoting: BTreeMap<String, bool>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) tables: Vec<RawSourceTable>,
    pub(super) database: Option<Spanned<serde_json::Value>>,
    pub(super) loader: Option<serde_json::Value>,
    pub(super) meta: Option<serde_json::Value>,
    pub(super) tags: Option<serde_json::Value>,
    pub(super) freshness: Option<serde_json::Value>,
    pub(super) loaded_at_field: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawSourceTable {
    pub(super) name: Spanned<String>,
    pub(super) identifier: Option<String>,
    #[serde(default)]
    pub(super) quoting: BTreeMap<String, bool>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) columns: Vec<RawColumn>,
    #[serde(default)]
    pub(super) tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) data_tests: Vec<Spanned<serde_json::Value>>,
    pub(super) meta: Option<serde_json::Value>,
    pub(super) tags: Option<serde_json::Value>,
    pub(super) freshness: Option<serde_json::Value>,
    pub(super) loaded_at_field: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawSeed {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) config: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) columns: Vec<RawColumn>,
    #[serde(default)]
    pub(super) tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub(super) data_tests: Vec<Spanned<serde_json::Value>>,
}
