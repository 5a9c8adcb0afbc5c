//! Schema files: dbt `version: 2` YAML (`models:`, `sources:`, `seeds:`).
//!
//! Read with serde-saphyr, which rejects duplicate keys and gives the position
//! of every value we keep, so later stages can point at the exact line.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::ConfigLayer;
use crate::diagnostic::{offset_of, Code, Diagnostic, Span};
use crate::project::SourceFile;

use keys::Keyed;

mod data_tests;
mod entries;
mod raw;
mod sections;
mod strict;

pub use self::data_tests::{
    apply_test_setting, apply_test_tree, for_each_test_mut, parse_input, tag_list, Store,
    TEST_SETTINGS,
};
use self::entries::Cx;
use self::raw::RawFile;
use self::strict::{check_keys, Ctx};

mod keys;

#[derive(Debug, Clone)]
pub struct SchemaFile {
    pub path: Arc<str>,
    /// Shared: the resolved model keeps its entry without copying it.
    pub models: Vec<Arc<ModelEntry>>,
    pub sources: Vec<SourceEntry>,
    pub seeds: Vec<SeedEntry>,
    pub unit_tests: Vec<UnitTest>,
    /// Exposures, semantic models, metrics, saved queries and snapshots:
    /// carried into the manifest and the lineage, no SQL.
    pub others: Vec<OtherEntry>,
    /// `data_tests:` entries (singular tests by name) and `analyses:`.
    pub singular_tests: Vec<Described>,
    pub analyses: Vec<Described>,
    /// What stackc is stricter about than dbt: warnings in a dbt project,
    /// errors (with their native code) in a stackc project.
    pub strict: Vec<Strict>,
    /// The file could not be read as a schema file (already reported): what
    /// it declares is unknown, so problems that may come from that are not
    /// reported a second time.
    pub rejected: bool,
}

/// A schema-file entry that describes a file of its own: a singular test
/// (`data_tests:`) or an analysis (`analyses:`).
#[derive(Debug, Clone)]
pub struct Described {
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    pub config: ConfigLayer,
}

/// A problem dbt would accept: `diagnostic` is the warning of a dbt project;
/// a stackc project reports it as an error with code `native`.
#[derive(Debug, Clone)]
pub struct Strict {
    pub native: Code,
    pub diagnostic: Diagnostic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OtherKind {
    Exposure,
    SemanticModel,
    Metric,
    SavedQuery,
    Snapshot,
    Group,
}

impl OtherKind {
    /// The resource type, as dbt's manifest names it.
    pub fn as_str(self) -> &'static str {
        match self {
            OtherKind::Exposure => "exposure",
            OtherKind::SemanticModel => "semantic_model",
            OtherKind::Metric => "metric",
            OtherKind::SavedQuery => "saved_query",
            OtherKind::Snapshot => "snapshot",
            OtherKind::Group => "group",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OtherEntry {
    pub kind: OtherKind,
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    pub label: Option<String>,
    /// `type:` as written (an exposure's `dashboard`, a metric's `simple`).
    pub type_: Option<String>,
    /// `ref(...)`/`source(...)` it depends on, as written.
    pub depends_on: Vec<UnitInputKind>,
    /// A semantic model's measures.
    pub measures: Vec<String>,
    /// The measures and metrics a metric or saved query is made of.
    pub uses_measures: Vec<String>,
    pub uses_metrics: Vec<String>,
    /// A snapshot's `relation:` as written, and where its value is.
    pub relation: Option<(String, Span)>,
    /// A snapshot's `config:`.
    pub config: ConfigLayer,
    /// The entry's other keys as written (`owner:`, `url:`, `entities:`,
    /// `measures:`, `type_params:`...), for dbt's `graph`.
    pub yaml: BTreeMap<String, serde_json::Value>,
}

/// `x`, `{name: x}` or a list of them.
fn names_of(value: Option<&serde_json::Value>, out: &mut Vec<String>) {
    match value {
        Some(serde_json::Value::String(s)) => out.push(s.clone()),
        Some(serde_json::Value::Object(map)) => names_of(map.get("name"), out),
        Some(serde_json::Value::Array(items)) => {
            for item in items {
                names_of(Some(item), out);
            }
        }
        _ => {}
    }
}

/// A dbt unit test: a model run on fixed input rows, compared with the rows
/// it should return.
#[derive(Debug, Clone)]
pub struct UnitTest {
    pub name: String,
    pub span: Span,
    pub model: String,
    pub model_span: Span,
    pub description: Option<String>,
    pub given: Vec<UnitInput>,
    pub expect: Vec<BTreeMap<String, serde_json::Value>>,
    pub expect_span: Span,
    /// `overrides: {macros: {is_incremental: true}}`.
    pub is_incremental: Option<bool>,
    pub vars: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnitInputKind {
    Ref(String),
    Source(String, String),
    /// `input: this`, the existing rows of an incremental model.
    This,
}

#[derive(Debug, Clone)]
pub struct UnitInput {
    pub kind: UnitInputKind,
    pub span: Span,
    pub rows: Vec<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    pub config: ConfigLayer,
    pub columns: Vec<Column>,
    /// Tests on the model as a whole (no column).
    pub tests: Vec<TestSpec>,
    /// dbt's model versions: each is the model file `defined_in`.
    pub versions: Vec<ModelVersion>,
    /// `latest_version:`, else the highest version.
    pub latest_version: Option<String>,
    /// Model-level `constraints:` (primary keys, checks over several
    /// columns), emitted in the table's DDL when its contract is enforced.
    pub constraints: Vec<serde_json::Value>,
    /// An entry of `snapshots:`: its columns and tests describe a
    /// snapshot (its configs are the `others` entry's).
    pub snapshot: bool,
}

impl ModelEntry {
    /// dbt's latest version: `latest_version:`, else the highest.
    pub fn latest(&self) -> Option<&ModelVersion> {
        match &self.latest_version {
            Some(l) => self.versions.iter().find(|v| &v.v == l),
            None => self
                .versions
                .iter()
                .max_by(|a, b| version_order(&a.v, &b.v)),
        }
    }
}

/// How dbt orders model versions: as numbers when both are numbers, else
/// as text.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    }
}

#[derive(Debug, Clone)]
pub struct ModelVersion {
    pub v: String,
    pub span: Span,
    /// The model file's name: `defined_in`, else `<model>_v<v>`.
    pub defined_in: String,
    /// Columns the version adds or describes anew.
    pub columns: Vec<Column>,
    pub tests: Vec<TestSpec>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    pub data_type: Option<String>,
    pub quote: bool,
    pub constraints: Vec<serde_json::Value>,
    pub tests: Vec<TestSpec>,
}

impl Column {
    /// The name as PostgreSQL sees it: folded to lower case unless the
    /// schema file says `quote: true`.
    pub fn folded_name(&self) -> String {
        if self.quote {
            self.name.clone()
        } else {
            self.name.to_lowercase()
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceEntry {
    pub name: String,
    pub span: Span,
    pub schema: String,
    /// `database:` as written (Jinja unrendered) and where: a dbt project
    /// checks it against the target's database once the profile is known.
    pub database: Option<(String, Span)>,
    pub description: Option<String>,
    pub tables: Vec<SourceTable>,
}

#[derive(Debug, Clone)]
pub struct SourceTable {
    pub name: String,
    pub span: Span,
    /// The table's name in the database (`identifier:`, else `name`).
    pub identifier: String,
    /// `quoting: {identifier: true}`: use the identifier exactly as written.
    pub quote_identifier: bool,
    /// The source's `quoting:` with the table's over it (dbt's rule; the
    /// project's `quoting:` is not applied to sources). A part whose
    /// quoting is `false` is folded to lower case, as PostgreSQL folds it.
    pub quoting: BTreeMap<String, bool>,
    pub description: Option<String>,
    pub columns: Vec<Column>,
    pub tests: Vec<TestSpec>,
    /// `loader`, `meta`, `tags`, `freshness` and `loaded_at_field` as
    /// written, the table's over its source's (dbt's rule), for `graph`.
    pub yaml: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct SeedEntry {
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    /// Column -> PostgreSQL type, from `columns[].data_type` and
    /// `config.column_types` (the latter wins, as in dbt).
    pub column_types: BTreeMap<String, String>,
    /// The entry's `config:` (in a dbt project over the `seeds:` tree).
    pub config: ConfigLayer,
    pub columns: Vec<Column>,
    pub tests: Vec<TestSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestSeverity {
    Error,
    Warn,
}

impl TestSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            TestSeverity::Error => "error",
            TestSeverity::Warn => "warn",
        }
    }
}

/// A generic test as written: `not_null`, or `{accepted_values: {values: [...]}}`.
#[derive(Debug, Clone)]
pub struct TestSpec {
    pub kind: String,
    pub args: BTreeMap<String, serde_json::Value>,
    pub severity: TestSeverity,
    pub where_clause: Option<String>,
    /// Conditions on the failure count, as dbt writes them (`!= 0`, `>10`).
    pub error_if: String,
    pub warn_if: String,
    pub span: Span,
    /// Where each argument's value is written (`to: ref('x')` underlines
    /// `ref('x')`), for the arguments found in the test's text; a problem
    /// with one argument points there, else at `span`.
    pub arg_spans: BTreeMap<String, Span>,
    /// `name:` given in the entry: the test's name instead of dbt's
    /// generated one.
    pub name: Option<String>,
    /// `dbt_utils` in `dbt_utils.accepted_range`.
    pub namespace: Option<String>,
    /// `limit:`: at most this many failing rows are counted.
    pub limit: Option<u64>,
    /// `enabled: false` drops the test.
    pub enabled: bool,
    /// The settings the entry itself writes: they win over the `tests:`
    /// tree of dbt_project.yml.
    pub explicit: std::collections::BTreeSet<String>,
    /// Settings whose value is Jinja (`severity: "{{ 'warn' if ... }}"`):
    /// dbt renders them with `target` and `var`; applied once rendered.
    pub jinja: BTreeMap<String, serde_json::Value>,
    /// `fail_calc:` other than `count(*)`: one SQL expression over the
    /// failing rows (checked by `data_tests::check_fail_calc`).
    pub fail_calc: Option<String>,
    /// `store_failures`, `store_failures_as`, and the `schema`/`alias` of
    /// the table the failing rows are stored in.
    pub store: data_tests::Store,
    /// The entry's `description:`.
    pub description: Option<String>,
    /// The entry's own `tags` (top level or under `config:`), as written.
    pub tags: Vec<String>,
    /// `+tags` of the `tests:`/`data_tests:` tree, least specific level
    /// first (dbt appends each level's).
    pub tree_tags: Vec<String>,
    /// The `tags` of the column the test is under.
    pub column_tags: Vec<String>,
}

/// `column_types` of a seed's `config:`, as text (a block scalar's
/// trailing newline and the whitespace around it dropped, as dbt's
/// rendered value has none).
pub fn declared_types(config: &ConfigLayer) -> BTreeMap<String, String> {
    config
        .get("column_types")
        .and_then(|e| e.value.as_object())
        .into_iter()
        .flatten()
        .filter_map(|(c, t)| Some((c.clone(), t.as_str()?.trim().to_string())))
        .collect()
}

/// Reads one schema file; `None` when it is empty. A file that is not valid
/// YAML (reported) comes back empty and `rejected`.
pub fn parse(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Option<SchemaFile> {
    if file.text.trim().is_empty() {
        return None;
    }
    let (raw, tree) = match serde_saphyr::from_str::<Keyed<RawFile>>(&file.text) {
        Ok(Keyed(raw, tree)) => (raw, tree),
        Err(e) => {
            diagnostics.push(invalid_yaml(file, &e));
            return Some(SchemaFile::empty(file, true));
        }
    };
    let cx = Cx {
        file,
        strict: Default::default(),
    };
    let mut strict = Vec::new();
    check_keys(&tree, Ctx::Top, &cx, &mut strict);
    // dbt reads a file without `version:` as version 2.
    if let Some(version) = raw
        .version
        .as_ref()
        .filter(|v| v.value != serde_json::json!(2))
    {
        diagnostics.push(
            Diagnostic::new(
                Code::E0002,
                format!("unsupported schema file version {}", version.value),
            )
            .at(cx.span(version))
            .help("write `version: 2` at the top of the file, or leave `version:` out"),
        );
    }
    let mut models = sections::models(&cx, raw.models, diagnostics);
    let (snapshot_models, snapshots) = sections::snapshots(&cx, raw.snapshots, diagnostics);
    models.extend(snapshot_models);
    let sources = sections::sources(&cx, raw.sources, diagnostics);
    let seeds = sections::seeds(&cx, raw.seeds, diagnostics);
    let unit_tests = raw
        .unit_tests
        .into_iter()
        .filter_map(|u| cx.unit_test(u, diagnostics))
        .collect();
    let others = sections::others(
        &cx,
        [
            (OtherKind::Snapshot, snapshots),
            (OtherKind::Exposure, raw.exposures),
            (OtherKind::SemanticModel, raw.semantic_models),
            (OtherKind::Metric, raw.metrics),
            (OtherKind::SavedQuery, raw.saved_queries),
            (OtherKind::Group, raw.groups),
        ],
    );
    let singular_tests = sections::described(&cx, raw.data_tests);
    let analyses = sections::described(&cx, raw.analyses);
    strict.extend(cx.strict.into_inner());
    Some(SchemaFile {
        models,
        sources,
        seeds,
        unit_tests,
        others,
        singular_tests,
        analyses,
        strict,
        ..SchemaFile::empty(file, false)
    })
}

impl SchemaFile {
    fn empty(file: &SourceFile, rejected: bool) -> SchemaFile {
        SchemaFile {
            path: Arc::clone(&file.path),
            models: Vec::new(),
            sources: Vec::new(),
            seeds: Vec::new(),
            unit_tests: Vec::new(),
            others: Vec::new(),
            singular_tests: Vec::new(),
            analyses: Vec::new(),
            strict: Vec::new(),
            rejected,
        }
    }
}

/// E0002 for a file that is not valid YAML, at the place saphyr names.
fn invalid_yaml(file: &SourceFile, e: &serde_saphyr::Error) -> Diagnostic {
    let offset = e.location().map_or(0, |l| {
        offset_of(&file.text, l.line() as usize, l.column() as usize)
    });
    let message = yaml_message(e);
    let help = if message.starts_with("duplicate mapping key") {
        "a key may appear once per mapping: merge the two entries or remove one"
    } else {
        "schema files follow dbt's `version: 2` format with `models:`, `sources:` and `seeds:`"
    };
    Diagnostic::new(Code::E0002, format!("invalid schema file: {message}"))
        .at_file(&file.path, offset..offset)
        .help(help)
}

/// The error text without saphyr's own position prefix and snippet (we
/// render both ourselves).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let text = match text.find(": ") {
        Some(i) if text.starts_with("line ") => &text[i + 2..],
        _ => text,
    };
    let text = text.lines().next().unwrap_or("");
    // saphyr repeats the position at the end; we show it in front already.
    let text = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

#[cfg(test)]
mod tests;
