//! Schema files: dbt `version: 2` YAML (`models:`, `sources:`, `seeds:`).
//!
//! Read with serde-saphyr, which rejects duplicate keys and gives the position
//! of every value we keep, so later stages can point at the exact line.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::{ConfigEntry, ConfigLayer};
use crate::diagnostic::{offset_of, Code, Diagnostic, Span};
use crate::project::SourceFile;

mod keys;
use keys::{Keyed, Node};

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
    /// What stackc is stricter about than dbt: warnings in a dbt project,
    /// errors (with their native code) in a stackc project.
    pub strict: Vec<Strict>,
    /// The file could not be read as a schema file (already reported): what
    /// it declares is unknown, so problems that may come from that are not
    /// reported a second time.
    pub rejected: bool,
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
    pub description: Option<String>,
    pub columns: Vec<Column>,
    pub tests: Vec<TestSpec>,
}

#[derive(Debug, Clone)]
pub struct SeedEntry {
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    /// Column -> PostgreSQL type, from `columns[].data_type` and
    /// `config.column_types` (the latter wins, as in dbt).
    pub column_types: BTreeMap<String, String>,
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
}

#[derive(Deserialize)]
struct RawFile {
    version: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    models: Vec<RawModel>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    seeds: Vec<RawSeed>,
    #[serde(default)]
    unit_tests: Vec<RawUnitTest>,
    #[serde(default)]
    snapshots: Vec<RawOther>,
    #[serde(default)]
    exposures: Vec<RawOther>,
    #[serde(default)]
    semantic_models: Vec<RawOther>,
    #[serde(default)]
    metrics: Vec<RawOther>,
    #[serde(default)]
    saved_queries: Vec<RawOther>,
}

/// An entry stackc carries into the manifest but makes no SQL for
/// (exposures, semantic models, metrics, saved queries) or does not build
/// (snapshots described in a schema file).
#[derive(Deserialize)]
struct RawOther {
    name: Spanned<String>,
    description: Option<String>,
    label: Option<String>,
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
    /// Exposures: `depends_on: [ref('m'), source('s', 't')]`.
    #[serde(default)]
    depends_on: Vec<String>,
    /// Semantic models: `model: ref('m')`.
    model: Option<String>,
    /// Semantic models: their measures, which metrics name.
    #[serde(default)]
    measures: Vec<serde_json::Value>,
    /// Metrics: the measures and metrics they are computed from.
    type_params: Option<serde_json::Value>,
    /// Saved queries: the metrics they query.
    query_params: Option<serde_json::Value>,
    #[serde(default)]
    tests: Vec<serde_json::Value>,
    #[serde(default)]
    data_tests: Vec<serde_json::Value>,
    #[serde(default)]
    columns: Vec<serde_json::Value>,
    /// Snapshots (dbt 1.9): `relation: ref('m')` or `source('s', 't')`.
    relation: Option<Spanned<String>>,
    /// Snapshots: their configs (`strategy`, `unique_key`, ...).
    #[serde(default)]
    config: BTreeMap<String, Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawUnitTest {
    name: Spanned<String>,
    model: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    given: Vec<RawUnitInput>,
    expect: Spanned<RawRows>,
    #[serde(default)]
    overrides: RawOverrides,
    #[allow(dead_code)] // accepted for dbt compatibility (tags, meta)
    config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawUnitInput {
    input: Spanned<String>,
    #[serde(default)]
    rows: Vec<BTreeMap<String, serde_json::Value>>,
    format: Option<String>,
}

#[derive(Deserialize)]
struct RawRows {
    #[serde(default)]
    rows: Vec<BTreeMap<String, serde_json::Value>>,
    format: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawOverrides {
    #[serde(default)]
    macros: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    env_vars: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawModel {
    name: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    columns: Vec<RawColumn>,
    #[serde(default)]
    tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    data_tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    versions: Vec<RawVersion>,
    latest_version: Option<serde_json::Value>,
    #[serde(default)]
    constraints: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawVersion {
    v: Spanned<serde_json::Value>,
    defined_in: Option<String>,
    /// Entries with `name` only: `- include: all` entries say which of the
    /// model's columns the version has, which stackc does not narrow.
    #[serde(default)]
    columns: Vec<serde_json::Value>,
    #[serde(default)]
    tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    data_tests: Vec<Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawColumn {
    name: Spanned<String>,
    description: Option<String>,
    data_type: Option<String>,
    #[serde(default)]
    quote: bool,
    #[serde(default)]
    constraints: Vec<serde_json::Value>,
    #[serde(default)]
    tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    data_tests: Vec<Spanned<serde_json::Value>>,
    #[allow(dead_code)] // accepted for dbt compatibility
    meta: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    tags: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSource {
    name: Spanned<String>,
    schema: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tables: Vec<RawSourceTable>,
    #[allow(dead_code)] // accepted for dbt compatibility
    database: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    loader: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    meta: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    tags: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    freshness: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    loaded_at_field: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSourceTable {
    name: Spanned<String>,
    identifier: Option<String>,
    #[serde(default)]
    quoting: BTreeMap<String, bool>,
    description: Option<String>,
    #[serde(default)]
    columns: Vec<RawColumn>,
    #[serde(default)]
    tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    data_tests: Vec<Spanned<serde_json::Value>>,
    #[allow(dead_code)] // accepted for dbt compatibility
    meta: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    tags: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    freshness: Option<serde_json::Value>,
    #[allow(dead_code)] // accepted for dbt compatibility
    loaded_at_field: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeed {
    name: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    config: RawSeedConfig,
    #[serde(default)]
    columns: Vec<RawColumn>,
    #[serde(default)]
    tests: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    data_tests: Vec<Spanned<serde_json::Value>>,
}

#[derive(Deserialize, Default)]
struct RawSeedConfig {
    #[serde(default)]
    column_types: BTreeMap<String, String>,
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
            let offset = e.location().map_or(0, |l| {
                offset_of(&file.text, l.line() as usize, l.column() as usize)
            });
            let message = yaml_message(&e);
            let help = if message.starts_with("duplicate mapping key") {
                "a key may appear once per mapping: merge the two entries or remove one"
            } else {
                "schema files follow dbt's `version: 2` format with `models:`, `sources:` and `seeds:`"
            };
            diagnostics.push(
                Diagnostic::new(Code::E0002, format!("invalid schema file: {message}"))
                    .at_file(&file.path, offset..offset)
                    .help(help),
            );
            return Some(SchemaFile {
                path: Arc::clone(&file.path),
                models: Vec::new(),
                sources: Vec::new(),
                seeds: Vec::new(),
                unit_tests: Vec::new(),
                others: Vec::new(),
                strict: Vec::new(),
                rejected: true,
            });
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
    let models = raw
        .models
        .into_iter()
        .map(|m| {
            let versions = m
                .versions
                .into_iter()
                .map(|v| cx.version(&m.name.value, v, diagnostics))
                .collect();
            Arc::new(ModelEntry {
                span: cx.span(&m.name),
                name: m.name.value,
                description: m.description,
                config: m
                    .config
                    .into_iter()
                    .map(|(k, v)| {
                        let span = cx.span(&v);
                        (
                            k,
                            ConfigEntry {
                                value: v.value,
                                span,
                            },
                        )
                    })
                    .collect(),
                columns: m
                    .columns
                    .into_iter()
                    .map(|c| cx.column(c, diagnostics))
                    .collect(),
                tests: cx.tests(m.tests, m.data_tests, diagnostics),
                latest_version: m.latest_version.map(|v| version_text(&v)),
                constraints: m.constraints,
                versions,
            })
        })
        .collect();
    let sources = raw
        .sources
        .into_iter()
        .map(|s| SourceEntry {
            span: cx.span(&s.name),
            schema: s.schema.unwrap_or_else(|| s.name.value.clone()),
            name: s.name.value,
            description: s.description,
            tables: s
                .tables
                .into_iter()
                .map(|t| SourceTable {
                    span: cx.span(&t.name),
                    identifier: t.identifier.unwrap_or_else(|| t.name.value.clone()),
                    quote_identifier: t.quoting.get("identifier").copied().unwrap_or(false),
                    name: t.name.value,
                    description: t.description,
                    columns: t
                        .columns
                        .into_iter()
                        .map(|c| cx.column(c, diagnostics))
                        .collect(),
                    tests: cx.tests(t.tests, t.data_tests, diagnostics),
                })
                .collect(),
        })
        .collect();
    let seeds = raw
        .seeds
        .into_iter()
        .map(|s| {
            let columns: Vec<Column> = s
                .columns
                .into_iter()
                .map(|c| cx.column(c, diagnostics))
                .collect();
            let mut column_types: BTreeMap<String, String> = columns
                .iter()
                .filter_map(|c| Some((c.name.clone(), c.data_type.clone()?)))
                .collect();
            column_types.extend(s.config.column_types);
            SeedEntry {
                span: cx.span(&s.name),
                name: s.name.value,
                description: s.description,
                column_types,
                columns,
                tests: cx.tests(s.tests, s.data_tests, diagnostics),
            }
        })
        .collect();
    let unit_tests = raw
        .unit_tests
        .into_iter()
        .filter_map(|u| cx.unit_test(u, diagnostics))
        .collect();
    let mut others = Vec::new();
    for (kind, list) in [
        (OtherKind::Snapshot, raw.snapshots),
        (OtherKind::Exposure, raw.exposures),
        (OtherKind::SemanticModel, raw.semantic_models),
        (OtherKind::Metric, raw.metrics),
        (OtherKind::SavedQuery, raw.saved_queries),
    ] {
        for o in list {
            let span = cx.span(&o.name);
            let has_tests = !o.tests.is_empty()
                || !o.data_tests.is_empty()
                || o.columns.iter().any(|c| {
                    ["tests", "data_tests"].iter().any(|k| {
                        c.get(k)
                            .and_then(|t| t.as_array())
                            .is_some_and(|t| !t.is_empty())
                    })
                });
            if kind == OtherKind::Snapshot && has_tests {
                diagnostics.push(
                    Diagnostic::new(
                        Code::W0053,
                        format!("snapshot `{}` has tests, but stackc does not run tests on snapshots yet: they are skipped", o.name.value),
                    )
                    .at(span.clone())
                    .help("run these tests with dbt until stackc runs tests on snapshots"),
                );
            }
            let mut depends_on: Vec<UnitInputKind> = o
                .depends_on
                .iter()
                .chain(&o.model)
                .filter_map(|d| parse_input(d))
                .filter(|d| *d != UnitInputKind::This)
                .collect();
            depends_on.sort();
            depends_on.dedup();
            let mut measures = Vec::new();
            names_of(Some(&serde_json::Value::Array(o.measures)), &mut measures);
            let (mut uses_measures, mut uses_metrics) = (Vec::new(), Vec::new());
            if let Some(params) = &o.type_params {
                let conversion = params.get("conversion_type_params");
                for key in ["measure", "numerator_measure"] {
                    names_of(params.get(key), &mut uses_measures);
                }
                for key in ["base_measure", "conversion_measure"] {
                    names_of(conversion.and_then(|c| c.get(key)), &mut uses_measures);
                }
                for key in ["metrics", "numerator", "denominator", "metric"] {
                    names_of(params.get(key), &mut uses_metrics);
                }
            }
            if let Some(params) = &o.query_params {
                names_of(params.get("metrics"), &mut uses_metrics);
            }
            for list in [&mut measures, &mut uses_measures, &mut uses_metrics] {
                list.sort();
                list.dedup();
            }
            let relation = o.relation.as_ref().map(|r| (r.value.clone(), cx.span(r)));
            let config = o
                .config
                .into_iter()
                .map(|(k, v)| {
                    let span = cx.span(&v);
                    (
                        k,
                        ConfigEntry {
                            value: v.value,
                            span,
                        },
                    )
                })
                .collect();
            others.push(OtherEntry {
                relation,
                config,
                kind,
                name: o.name.value,
                span,
                description: o.description,
                label: o.label,
                type_: o.kind.map(|k| match k {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }),
                depends_on,
                measures,
                uses_measures,
                uses_metrics,
            });
        }
    }
    strict.extend(cx.strict.into_inner());
    Some(SchemaFile {
        path: Arc::clone(&file.path),
        models,
        sources,
        seeds,
        unit_tests,
        others,
        strict,
        rejected: false,
    })
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

struct Cx<'a> {
    file: &'a SourceFile,
    /// Findings of the test entries, which dbt accepts (see [`Strict`]).
    strict: std::cell::RefCell<Vec<Strict>>,
}

impl Cx<'_> {
    fn unit_test(&self, u: RawUnitTest, diagnostics: &mut Vec<Diagnostic>) -> Option<UnitTest> {
        let span = self.span(&u.name);
        let fail = |at: Span, message: String, help: &str| {
            Diagnostic::new(Code::E0311, message)
                .at(at)
                .help(help.to_string())
        };
        let mut ok = true;
        for (format, at) in u
            .given
            .iter()
            .map(|g| (&g.format, self.span(&g.input)))
            .chain(std::iter::once((
                &u.expect.value.format,
                self.span(&u.expect),
            )))
        {
            if format.as_deref().is_some_and(|f| f != "dict") {
                diagnostics.push(fail(
                    at,
                    format!(
                        "unit test rows in format `{}` are not supported",
                        format.as_deref().unwrap_or("")
                    ),
                    "write rows as mappings (format: dict), e.g. rows: [{id: 1, status: 'paid'}]",
                ));
                ok = false;
            }
        }
        let mut given = Vec::new();
        for g in u.given {
            let at = self.span(&g.input);
            match parse_input(&g.input.value) {
                Some(kind) => given.push(UnitInput {
                    kind,
                    span: at,
                    rows: g.rows,
                }),
                None => {
                    diagnostics.push(fail(
                        at,
                        format!(
                            "`input: {}` is not ref('model'), source('source', 'table') or this",
                            g.input.value
                        ),
                        "name each input as in the model: input: ref('stg_orders')",
                    ));
                    ok = false;
                }
            }
        }
        let is_incremental = match u.overrides.macros.get("is_incremental") {
            None => None,
            Some(serde_json::Value::Bool(b)) => Some(*b),
            Some(_) => {
                diagnostics.push(fail(
                    span.clone(),
                    "`overrides.macros.is_incremental` must be true or false".into(),
                    "write overrides: {macros: {is_incremental: true}}",
                ));
                ok = false;
                None
            }
        };
        if let Some(other) = u.overrides.macros.keys().find(|k| *k != "is_incremental") {
            diagnostics.push(fail(
                span.clone(),
                format!("overriding macro `{other}` is not supported"),
                "only is_incremental can be overridden; vars go under overrides.vars",
            ));
            ok = false;
        }
        if !u.overrides.env_vars.is_empty() {
            diagnostics.push(fail(
                span.clone(),
                "overriding env_vars in a unit test is not supported".into(),
                "use overrides.vars, or set the variable in the environment of `stackc test --unit`",
            ));
            ok = false;
        }
        ok.then(|| UnitTest {
            name: u.name.value,
            span,
            model_span: self.span(&u.model),
            model: u.model.value,
            description: u.description,
            given,
            expect_span: self.span(&u.expect),
            expect: u.expect.value.rows,
            is_incremental,
            vars: u.overrides.vars,
        })
    }

    fn span<T>(&self, spanned: &Spanned<T>) -> Span {
        let loc = spanned.referenced;
        let start = loc
            .span()
            .byte_offset()
            .map(|o| o as usize)
            .filter(|o| *o <= self.file.text.len())
            .unwrap_or_else(|| {
                offset_of(&self.file.text, loc.line() as usize, loc.column() as usize)
            });
        let len = loc.span().byte_len().map_or(0, |l| l as usize);
        let end = (start + len).min(self.file.text.len());
        Span::new(&self.file.path, start..end)
    }

    fn version(
        &self,
        model: &str,
        v: RawVersion,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> ModelVersion {
        let text = version_text(&v.v.value);
        let columns = v
            .columns
            .into_iter()
            .filter(|c| c.get("name").is_some())
            .filter_map(|c| serde_json::from_value::<VersionColumn>(c).ok())
            .map(|c| Column {
                span: self.span(&v.v),
                name: c.name,
                description: c.description,
                data_type: c.data_type,
                quote: c.quote,
                constraints: c.constraints,
                tests: self.tests(
                    c.tests
                        .into_iter()
                        .chain(c.data_tests)
                        .map(|t| Spanned::new(t, v.v.referenced, v.v.defined))
                        .collect(),
                    Vec::new(),
                    diagnostics,
                ),
            })
            .collect();
        ModelVersion {
            span: self.span(&v.v),
            defined_in: v.defined_in.unwrap_or_else(|| format!("{model}_v{text}")),
            v: text,
            columns,
            tests: self.tests(v.tests, v.data_tests, diagnostics),
        }
    }

    fn column(&self, c: RawColumn, diagnostics: &mut Vec<Diagnostic>) -> Column {
        Column {
            span: self.span(&c.name),
            name: c.name.value,
            description: c.description,
            data_type: c.data_type,
            quote: c.quote,
            constraints: c.constraints,
            tests: self.tests(c.tests, c.data_tests, diagnostics),
        }
    }

    fn tests(
        &self,
        tests: Vec<Spanned<serde_json::Value>>,
        data_tests: Vec<Spanned<serde_json::Value>>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Vec<TestSpec> {
        tests
            .into_iter()
            .chain(data_tests)
            .filter_map(|t| {
                let mut span = self.span(&t);
                if span.range.is_empty() {
                    // A mapping-style test is located at its first key: underline the name.
                    let rest = &self.file.text[span.range.start..];
                    let len = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    span.range.end = span.range.start + len;
                }
                let mut unknown = Vec::new();
                let parsed = parse_test(t.value, span.clone(), diagnostics, &mut unknown);
                for key in unknown {
                    self.strict.borrow_mut().push(Strict {
                        native: Code::E0310,
                        diagnostic: Diagnostic::new(
                            Code::W0050,
                            format!("unknown key `{key}` in a test's `config`"),
                        )
                        .at(span.clone())
                        .help(format!("test settings: {}", TEST_SETTINGS.join(", "))),
                    });
                }
                match parsed {
                    Ok(mut spec) => {
                        spec.arg_spans = spec
                            .args
                            .keys()
                            .filter_map(|key| {
                                let at = value_range(&self.file.text, span.range.start, key)?;
                                Some((key.clone(), Span::new(&self.file.path, at)))
                            })
                            .collect();
                        Some(spec)
                    }
                    Err(problem) => {
                        diagnostics.push(
                            Diagnostic::new(Code::E0310, format!("invalid test: {problem}"))
                                .at(span)
                                .help("write a test as `- not_null` or `- accepted_values: {values: ['a', 'b'], severity: warn}`"),
                        );
                        None
                    }
                }
            })
            .collect()
    }
}

/// The byte range of the value of `key:` in the test entry that starts at
/// `start` (its name), block or flow style: from the value's first
/// character to the end of the scalar (a closing quote, or the `,` or `}`
/// or line end outside brackets). `None` when the key is not written there
/// (an argument under `arguments:` further down is still found).
fn value_range(text: &str, start: usize, key: &str) -> Option<std::ops::Range<usize>> {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    // The entry's `- ` dash: the entry ends at the next line indented no deeper.
    let dash = text[line_start..start]
        .find('-')
        .map_or(start - line_start, |i| i);
    let mut end = text.len();
    let mut at = text[start..]
        .find('\n')
        .map_or(text.len(), |i| start + i + 1);
    while at < text.len() {
        let line = &text[at..text[at..].find('\n').map_or(text.len(), |i| at + i)];
        let indent = line.len() - line.trim_start_matches(' ').len();
        if !line.trim().is_empty() && !line.trim_start().starts_with('#') && indent <= dash {
            end = at;
            break;
        }
        at += line.len() + 1;
    }
    let entry = &text[start..end];
    let pattern = format!("{key}:");
    let mut from = 0;
    let key_at = loop {
        let i = from + entry[from..].find(&pattern)?;
        let before = entry[..i].chars().next_back();
        if before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',') {
            break i;
        }
        from = i + pattern.len();
    };
    let after = key_at + pattern.len();
    let value_start = after + (entry[after..].len() - entry[after..].trim_start_matches(' ').len());
    let rest = &entry[value_start..];
    let len = match rest.chars().next()? {
        q @ ('\'' | '"') => rest[1..].find(q).map_or(rest.len(), |i| i + 2),
        '\n' | '\r' => return None,
        _ => {
            let mut depth = 0i32;
            rest.char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' | '[' => depth += 1,
                        ')' | ']' => depth -= 1,
                        _ => {}
                    }
                    c == '\n' || (depth <= 0 && (c == ',' || c == '}')) || c == '#'
                })
                .map_or(rest.len(), |(i, _)| i)
        }
    };
    let value = rest[..len].trim_end();
    (!value.is_empty()).then(|| start + value_start..start + value_start + value.len())
}

/// A column of a model version (read from a plain value: version columns
/// may also be `include`/`exclude` entries).
#[derive(Deserialize)]
struct VersionColumn {
    name: String,
    description: Option<String>,
    data_type: Option<String>,
    #[serde(default)]
    quote: bool,
    #[serde(default)]
    constraints: Vec<serde_json::Value>,
    #[serde(default)]
    tests: Vec<serde_json::Value>,
    #[serde(default)]
    data_tests: Vec<serde_json::Value>,
}

/// A version as text: `2`, `1.5`, or a string.
fn version_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `ref('m')`, `source('s', 't')` or `this`, as written in a unit test's
/// `input:` or a relationships test's `to:`.
pub fn parse_input(text: &str) -> Option<UnitInputKind> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact == "this" {
        return Some(UnitInputKind::This);
    }
    let args = |prefix: &str| -> Option<Vec<String>> {
        let inner = compact.strip_prefix(prefix)?.strip_suffix(')')?;
        Some(
            inner
                .split(',')
                .map(|a| a.trim_matches(['\'', '"']).to_string())
                .collect(),
        )
    };
    if let Some(a) = args("ref(") {
        return match a.as_slice() {
            [name] if !name.is_empty() => Some(UnitInputKind::Ref(name.clone())),
            _ => None,
        };
    }
    match args("source(")?.as_slice() {
        [s, t] if !s.is_empty() && !t.is_empty() => {
            Some(UnitInputKind::Source(s.clone(), t.clone()))
        }
        _ => None,
    }
}

/// A test entry as dbt reads it: `- not_null`, `- unique: {config: ...}`,
/// or `- name: x  test_name: unique  ...`. Keys that configure the test are
/// taken out; the rest are the test's arguments (its name is built from
/// them). `warnings` gets what stackc accepts but does not do.
fn parse_test(
    value: serde_json::Value,
    span: Span,
    warnings: &mut Vec<Diagnostic>,
    unknown: &mut Vec<String>,
) -> Result<TestSpec, String> {
    let (kind, body) = match value {
        serde_json::Value::String(kind) => (kind, serde_json::Map::new()),
        serde_json::Value::Object(mut map) if map.contains_key("test_name") => {
            let kind = match map.remove("test_name") {
                Some(serde_json::Value::String(k)) => k,
                _ => return Err("`test_name` must be the name of a test".into()),
            };
            (kind, map)
        }
        serde_json::Value::Object(map) if map.len() == 1 => {
            let (kind, body) = map.into_iter().next().ok_or("empty test")?;
            match body {
                serde_json::Value::Object(body) => (kind, body),
                serde_json::Value::Null => (kind, serde_json::Map::new()),
                other => {
                    return Err(format!(
                        "the arguments of `{kind}` must be a mapping, found {other}"
                    ))
                }
            }
        }
        serde_json::Value::Object(_) => {
            return Err("a test entry must have exactly one key, the test's name".into())
        }
        other => return Err(format!("expected a test name or mapping, found {other}")),
    };
    let (namespace, kind) = match kind.split_once('.') {
        Some((ns, k)) => (Some(ns.to_string()), k.to_string()),
        None => (None, kind),
    };
    let valid = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !valid(&kind) || namespace.as_deref().is_some_and(|n| !valid(n)) {
        return Err(format!("`{kind}` is not a test name"));
    }
    let mut spec = TestSpec {
        kind,
        args: BTreeMap::new(),
        severity: TestSeverity::Error,
        where_clause: None,
        error_if: "!= 0".into(),
        warn_if: "!= 0".into(),
        span,
        arg_spans: BTreeMap::new(),
        name: None,
        namespace,
        limit: None,
        enabled: true,
        explicit: std::collections::BTreeSet::new(),
        jinja: BTreeMap::new(),
    };
    for (key, value) in body {
        match key.as_str() {
            // dbt 1.10 moved test arguments under `arguments:` and settings
            // under `config:`; both spellings are accepted.
            "arguments" => {
                let args = value.as_object().ok_or("`arguments` must be a mapping")?;
                for (k, v) in args {
                    spec.args.insert(k.clone(), v.clone());
                }
            }
            "config" => {
                let config = value.as_object().ok_or("`config` must be a mapping")?;
                for (k, v) in config {
                    // dbt takes any key as a config of the test.
                    if TEST_SETTINGS.contains(&k.as_str()) {
                        apply_test_setting(&mut spec, k, v, warnings)?;
                    } else {
                        unknown.push(k.clone());
                    }
                }
            }
            "name" => {
                let name = value.as_str().ok_or("`name` must be a string")?;
                spec.name = Some(name.to_string());
            }
            "description" => {}
            k if TEST_SETTINGS.contains(&k) => apply_test_setting(&mut spec, k, &value, warnings)?,
            _ => {
                spec.args.insert(key, value);
            }
        }
    }
    Ok(spec)
}

/// The keys of a test entry that configure it rather than being arguments
/// (dbt's list).
const TEST_SETTINGS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
];

pub fn apply_test_setting(
    spec: &mut TestSpec,
    key: &str,
    value: &serde_json::Value,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), String> {
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{key}` must be a string"))
    };
    spec.explicit.insert(key.to_string());
    if let serde_json::Value::String(text) = value {
        // `where` is SQL that the test's own render takes as it is.
        if key != "where" && (text.contains("{{") || text.contains("{%")) {
            spec.jinja.insert(key.to_string(), value.clone());
            return Ok(());
        }
    }
    spec.jinja.remove(key);
    match key {
        "severity" => {
            spec.severity = match text()?.to_ascii_lowercase().as_str() {
                "error" => TestSeverity::Error,
                "warn" => TestSeverity::Warn,
                other => {
                    return Err(format!(
                        "severity must be `error` or `warn`, found `{other}`"
                    ))
                }
            }
        }
        "where" => spec.where_clause = Some(text()?),
        "error_if" => spec.error_if = check_condition(&text()?)?,
        "warn_if" => spec.warn_if = check_condition(&text()?)?,
        "enabled" => spec.enabled = value.as_bool().ok_or("`enabled` must be true or false")?,
        "limit" => match value {
            serde_json::Value::Null => spec.limit = None,
            v => spec.limit = Some(v.as_u64().ok_or("`limit` must be a whole number")?),
        },
        "fail_calc" => {
            let calc = text()?;
            let compact: String = calc.chars().filter(|c| !c.is_whitespace()).collect();
            if !compact.eq_ignore_ascii_case("count(*)") {
                warnings.push(
                    Diagnostic::new(
                        Code::W0052,
                        format!("`fail_calc: {calc}` is not supported: failures are counted as count(*)"),
                    )
                    .at(spec.span.clone())
                    .help("remove `fail_calc`, or write the count into the query of a singular test in tests/"),
                );
            }
        }
        "store_failures" | "store_failures_as" => {
            let on = match value {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Null => false,
                _ => true,
            };
            if on {
                warnings.push(
                    Diagnostic::new(
                        Code::W0051,
                        format!("`{key}` is not supported: stackc does not store failing rows in a table"),
                    )
                    .at(spec.span.clone())
                    .help("`stackc test` prints a sample of the failing rows instead; remove the key to silence this"),
                );
            }
        }
        // Only used by dbt to name the table of stored failures.
        "database" | "schema" | "alias" => {}
        "tags" | "meta" => {}
        other => return Err(format!("unknown test setting `{other}`")),
    }
    Ok(())
}

/// dbt_project.yml's `tests:`/`data_tests:` tree on the generic tests of
/// one schema file: each setting the test's own entry does not write is
/// taken from the most specific level of the tree for the schema file's
/// folders (under a model path), as dbt does. A bad value is E0045.
pub fn apply_test_tree(
    file: &mut SchemaFile,
    folders: &[String],
    tree: &BTreeMap<Vec<String>, ConfigLayer>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if tree.is_empty() {
        return;
    }
    // Most specific first: a key is taken from the first level that has it.
    let levels: Vec<&ConfigLayer> = (0..=folders.len())
        .rev()
        .filter_map(|depth| tree.get(&folders[..depth]))
        .collect();
    if levels.is_empty() {
        return;
    }
    let mut apply = |spec: &mut TestSpec| {
        let mut seen = std::collections::BTreeSet::new();
        for layer in &levels {
            for (key, entry) in layer.iter() {
                if !TEST_SETTINGS.contains(&key.as_str())
                    || spec.explicit.contains(key)
                    || !seen.insert(key.clone())
                {
                    continue;
                }
                let mut warnings = Vec::new();
                if let Err(problem) = apply_test_setting(spec, key, &entry.value, &mut warnings) {
                    diagnostics.push(
                        Diagnostic::new(Code::E0045, format!("invalid `{key}` for tests in dbt_project.yml: {problem}"))
                            .at(entry.span.clone())
                            .help("write it as in a test's config: `+severity: warn`, `+warn_if: \">10\"`, `+limit: 100`, `+enabled: false`"),
                    );
                }
                // The tree's own warnings (store_failures) point at the tree.
                diagnostics.extend(warnings.into_iter().map(|mut w| {
                    w.primary = Some(entry.span.clone());
                    w
                }));
                // The tree does not make a setting the entry's own.
                spec.explicit.remove(key);
            }
        }
    };
    for_each_test_mut(file, &mut apply);
}

/// Calls `apply` on every generic test of `file`.
pub fn for_each_test_mut(file: &mut SchemaFile, mut apply: &mut dyn FnMut(&mut TestSpec)) {
    let columns = |cols: &mut Vec<Column>, apply: &mut dyn FnMut(&mut TestSpec)| {
        for c in cols {
            c.tests.iter_mut().for_each(&mut *apply);
        }
    };
    for m in &mut file.models {
        let m = Arc::make_mut(m);
        m.tests.iter_mut().for_each(&mut apply);
        columns(&mut m.columns, &mut apply);
        for v in &mut m.versions {
            v.tests.iter_mut().for_each(&mut apply);
            columns(&mut v.columns, &mut apply);
        }
    }
    for s in &mut file.sources {
        for t in &mut s.tables {
            t.tests.iter_mut().for_each(&mut apply);
            columns(&mut t.columns, &mut apply);
        }
    }
    for s in &mut file.seeds {
        s.tests.iter_mut().for_each(&mut apply);
        columns(&mut s.columns, &mut apply);
    }
}

/// `error_if`/`warn_if` are compared against the failure count in SQL, so
/// they are restricted to a comparison with a number.
fn check_condition(s: &str) -> Result<String, String> {
    let t = s.trim();
    let op_len = ["!=", "<>", ">=", "<=", "=", ">", "<"]
        .iter()
        .find(|op| t.starts_with(*op))
        .map(|op| op.len())
        .ok_or_else(|| format!("`{s}` must be a comparison such as `> 10` or `!= 0`"))?;
    let number = t[op_len..].trim();
    if number.parse::<u64>().is_err() {
        return Err(format!("`{s}` must compare with a whole number"));
    }
    Ok(format!("{} {number}", &t[..op_len]))
}

/// Where a mapping sits in a schema file, for the key check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Model,
    Version,
    Column,
    VersionColumn,
    Source,
    Table,
    Seed,
    Snapshot,
    Analysis,
    UnitTest,
    Given,
    Expect,
    Overrides,
    Macro,
    MacroArgument,
    /// Not checked: config mappings, test arguments, dbt-only resources.
    Any,
}

impl Ctx {
    fn what(self) -> &'static str {
        match self {
            Ctx::Top => "at the top of a schema file",
            Ctx::Model => "in a model entry",
            Ctx::Version => "in a model version",
            Ctx::Column | Ctx::VersionColumn => "in a column entry",
            Ctx::Source => "in a source",
            Ctx::Table => "in a source table",
            Ctx::Seed => "in a seed entry",
            Ctx::Snapshot => "in a snapshot entry",
            Ctx::Analysis => "in an analysis entry",
            Ctx::UnitTest => "in a unit test",
            Ctx::Given => "in a unit test input",
            Ctx::Expect => "in a unit test's `expect`",
            Ctx::Overrides => "in a unit test's `overrides`",
            Ctx::Macro => "in a macro entry",
            Ctx::MacroArgument => "in a macro argument",
            Ctx::Any => "",
        }
    }

    /// The keys dbt's schema files allow here.
    fn keys(self) -> &'static [&'static str] {
        const COLUMN: &[&str] = &[
            "name",
            "description",
            "data_type",
            "quote",
            "constraints",
            "tests",
            "data_tests",
            "meta",
            "tags",
            "config",
            "docs",
            "granularity",
            "policy_tags",
        ];
        match self {
            Ctx::Top => &[
                "version",
                "models",
                "sources",
                "seeds",
                "snapshots",
                "analyses",
                "macros",
                "exposures",
                "groups",
                "semantic_models",
                "metrics",
                "saved_queries",
                "unit_tests",
                "data_tests",
            ],
            Ctx::Model => &[
                "name",
                "description",
                "config",
                "columns",
                "tests",
                "data_tests",
                "meta",
                "docs",
                "access",
                "group",
                "contract",
                "constraints",
                "deprecation_date",
                "latest_version",
                "versions",
                "tags",
                "time_spine",
            ],
            Ctx::Version => &[
                "v",
                "defined_in",
                "description",
                "config",
                "columns",
                "tests",
                "data_tests",
                "meta",
                "docs",
                "access",
                "group",
                "contract",
                "constraints",
                "deprecation_date",
                "tags",
            ],
            Ctx::Column => COLUMN,
            Ctx::VersionColumn => &[
                "name",
                "description",
                "data_type",
                "quote",
                "constraints",
                "tests",
                "data_tests",
                "meta",
                "tags",
                "config",
                "docs",
                "granularity",
                "policy_tags",
                "include",
                "exclude",
            ],
            Ctx::Source => &[
                "name",
                "description",
                "database",
                "schema",
                "loader",
                "loaded_at_field",
                "loaded_at_query",
                "meta",
                "tags",
                "config",
                "overrides",
                "freshness",
                "quoting",
                "tables",
            ],
            Ctx::Table => &[
                "name",
                "description",
                "identifier",
                "quoting",
                "loaded_at_field",
                "loaded_at_query",
                "meta",
                "tags",
                "config",
                "freshness",
                "columns",
                "tests",
                "data_tests",
                "external",
                "docs",
            ],
            Ctx::Seed | Ctx::Snapshot => &[
                "name",
                "description",
                "config",
                "columns",
                "tests",
                "data_tests",
                "meta",
                "docs",
                "tags",
                "relation",
            ],
            Ctx::Analysis => &[
                "name",
                "description",
                "config",
                "columns",
                "docs",
                "meta",
                "tags",
            ],
            Ctx::UnitTest => &[
                "name",
                "model",
                "description",
                "given",
                "expect",
                "overrides",
                "config",
                "versions",
            ],
            Ctx::Given => &["input", "rows", "format", "fixture"],
            Ctx::Expect => &["rows", "format", "fixture"],
            Ctx::Overrides => &["macros", "vars", "env_vars"],
            Ctx::Macro => &["name", "description", "arguments", "docs", "meta", "config"],
            Ctx::MacroArgument => &["name", "type", "description"],
            Ctx::Any => &[],
        }
    }

    /// The context of the value under `key`, and whether it is a list of
    /// entries of that context.
    fn child(self, key: &str) -> (Ctx, bool) {
        match (self, key) {
            (Ctx::Top, "models") => (Ctx::Model, true),
            (Ctx::Top, "sources") => (Ctx::Source, true),
            (Ctx::Top, "seeds") => (Ctx::Seed, true),
            (Ctx::Top, "snapshots") => (Ctx::Snapshot, true),
            (Ctx::Top, "analyses") => (Ctx::Analysis, true),
            (Ctx::Top, "unit_tests") => (Ctx::UnitTest, true),
            (Ctx::Top, "macros") => (Ctx::Macro, true),
            (Ctx::Model, "versions") => (Ctx::Version, true),
            (Ctx::Version, "columns") => (Ctx::VersionColumn, true),
            (Ctx::Model | Ctx::Table | Ctx::Seed | Ctx::Snapshot | Ctx::Analysis, "columns") => {
                (Ctx::Column, true)
            }
            (Ctx::Source, "tables") => (Ctx::Table, true),
            (Ctx::UnitTest, "given") => (Ctx::Given, true),
            (Ctx::UnitTest, "expect") => (Ctx::Expect, false),
            (Ctx::UnitTest, "overrides") => (Ctx::Overrides, false),
            (Ctx::Macro, "arguments") => (Ctx::MacroArgument, true),
            _ => (Ctx::Any, false),
        }
    }
}

/// Reports every key dbt's schema files do not have, as a warning naming
/// it (an error in a stackc project).
fn check_keys(node: &Node, ctx: Ctx, cx: &Cx<'_>, out: &mut Vec<Strict>) {
    if ctx == Ctx::Any {
        return;
    }
    let Node::Map(entries) = node else {
        return;
    };
    let known = ctx.keys();
    for (key, value) in entries {
        if !known.contains(&key.value.as_str()) {
            let help = match crate::suggest::closest(&key.value, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? or remove the key"),
                None => format!("keys here: {}", known.join(", ")),
            };
            let mut span = cx.span(key);
            if span.range.is_empty() {
                span.range.end = (span.range.start + key.value.len()).min(cx.file.text.len());
            }
            out.push(Strict {
                native: Code::E0002,
                diagnostic: Diagnostic::new(
                    Code::W0050,
                    format!("unknown key `{}` {}", key.value, ctx.what()),
                )
                .at(span)
                .help(help),
            });
            continue;
        }
        let (child, list) = ctx.child(&key.value);
        match (value, list) {
            (Node::Seq(items), true) => {
                for item in items {
                    check_keys(item, child, cx, out);
                }
            }
            (value, false) => check_keys(value, child, cx, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn argument_values_are_found_in_block_and_flow_style() {
        fn found<'t>(text: &'t str, key: &str) -> Option<&'t str> {
            let start = text.find("relationships").unwrap();
            value_range(text, start, key).map(|r| &text[r])
        }
        let block = "      - relationships:\n          to: ref('a')  # parent\n          field: id\n      - not_null\n";
        assert_eq!(found(block, "to"), Some("ref('a')"));
        assert_eq!(found(block, "field"), Some("id"));
        let flow = "  - relationships: {to: source('s', 't'), field: \"id\"}\n";
        assert_eq!(found(flow, "to"), Some("source('s', 't')"));
        assert_eq!(found(flow, "field"), Some("\"id\""));
        let nested = "- relationships:\n    arguments:\n      to: \"ref('b')\"\n- relationships:\n    to: ref('c')\n";
        assert_eq!(
            found(nested, "to"),
            Some("\"ref('b')\""),
            "not the next entry's"
        );
        assert_eq!(found("- relationships:\n    into: x\n", "to"), None);
    }

    use super::*;

    fn parse_str(text: &str) -> (Option<SchemaFile>, Vec<Diagnostic>) {
        let file = SourceFile {
            path: Arc::from("models/s.yml"),
            text: Arc::from(text),
        };
        let mut d = Vec::new();
        (parse(&file, &mut d), d)
    }

    #[test]
    fn reads_models_sources_and_tests() {
        let text = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: Orders\n        quoting: {identifier: true}\nmodels:\n  - name: stg\n    config:\n      materialized: table\n    columns:\n      - name: id\n        data_type: bigint\n        tests:\n          - not_null\n          - accepted_values:\n              values: [a, b]\n              config: {severity: warn, where: \"x > 1\"}\n";
        let (f, d) = parse_str(text);
        assert!(d.is_empty(), "{d:?}");
        let f = f.unwrap();
        assert_eq!(f.sources[0].schema, "raw");
        assert!(f.sources[0].tables[0].quote_identifier);
        let m = &f.models[0];
        assert_eq!(&text[m.span.range.clone()], "stg");
        assert_eq!(m.config["materialized"].value, "table");
        let tests = &m.columns[0].tests;
        assert_eq!(tests.len(), 2);
        assert_eq!(tests[1].kind, "accepted_values");
        assert_eq!(tests[1].severity, TestSeverity::Warn);
        assert_eq!(tests[1].where_clause.as_deref(), Some("x > 1"));
        assert_eq!(tests[1].args["values"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn unknown_keys_are_found_at_every_depth_in_one_parse() {
        // Under a `Spanned` value (`expect`), in entries read as plain JSON
        // (a snapshot's columns) and in typed entries.
        let text = "version: 2\nunit_tests:\n  - name: t\n    model: a\n    given: []\n    expect:\n      rowz: []\nsnapshots:\n  - name: s\n    columns:\n      - name: c\n        descripton: x\nmodels:\n  - name: a\n    columns:\n      - name: id\n        tets: [x]\n";
        let (f, d) = parse_str(text);
        assert!(d.is_empty(), "{d:?}");
        let found: Vec<&str> = f
            .as_ref()
            .unwrap()
            .strict
            .iter()
            .map(|s| {
                let at = s.diagnostic.primary.as_ref().unwrap().range.clone();
                &text[at]
            })
            .collect();
        assert_eq!(found, ["rowz", "descripton", "tets"]);
    }

    #[test]
    fn unknown_keys_and_duplicates_are_located() {
        let text = "version: 2\nmodels:\n  - name: a\n    colums: []\n";
        let (f, d) = parse_str(text);
        assert!(d.is_empty(), "{d:?}");
        let f = f.unwrap();
        assert_eq!(f.models[0].name, "a");
        let w = &f.strict[0];
        assert_eq!((w.native, w.diagnostic.code), (Code::E0002, Code::W0050));
        let at = w.diagnostic.primary.as_ref().unwrap().range.clone();
        assert_eq!(&text[at], "colums");
        assert!(
            w.diagnostic
                .message
                .contains("unknown key `colums` in a model entry"),
            "{}",
            w.diagnostic.message
        );
        assert!(w.diagnostic.help.as_ref().unwrap().contains("`columns`"));
        let (f, d) = parse_str("version: 2\nmodels:\n  - name: a\n    name: b\n");
        assert!(d[0].message.contains("duplicate"), "{}", d[0].message);
        assert!(f.unwrap().rejected);
    }

    #[test]
    fn reads_dbt_vocabulary_without_complaint() {
        let text = r#"
models:
  - name: m
    description: d
    access: public
    group: finance
    latest_version: 2
    deprecation_date: 2030-01-01
    meta: {owner: a}
    docs: {show: true}
    constraints:
      - type: primary_key
        columns: [id]
    versions:
      - v: 1
        columns:
          - include: all
            exclude: [x]
      - v: 2
    columns:
      - name: id
        granularity: day
        data_tests:
          - unique:
              name: m_id_is_unique
              description: every id once
              config: {severity: warn, limit: 10, tags: [a], meta: {b: 1}}
          - dbt_utils.accepted_range:
              arguments: {min_value: 0}
          - name: custom
            test_name: not_null
            enabled: false
exposures:
  - name: weekly
    type: dashboard
    owner: {name: a}
    depends_on:
      - ref('m')
      - source('raw', 'orders')
groups:
  - name: finance
    owner: {email: a@b.c}
semantic_models:
  - name: orders
    model: ref('m')
    entities: [{name: id, type: primary}]
metrics:
  - name: revenue
    type: simple
    type_params: {measure: amount}
saved_queries:
  - name: q
    query_params: {metrics: [revenue]}
analyses:
  - name: a
    description: x
macros:
  - name: cents
    arguments: [{name: col, type: string}]
snapshots:
  - name: s
    config: {strategy: timestamp}
"#;
        let (f, d) = parse_str(text);
        assert!(d.is_empty(), "{d:?}");
        let f = f.unwrap();
        assert!(f.strict.is_empty(), "{:?}", f.strict);
        let tests = &f.models[0].columns[0].tests;
        assert_eq!(tests[0].name.as_deref(), Some("m_id_is_unique"));
        assert_eq!(tests[0].limit, Some(10));
        assert_eq!(tests[0].severity, TestSeverity::Warn);
        assert!(tests[0].args.is_empty(), "{:?}", tests[0].args);
        assert_eq!(tests[1].namespace.as_deref(), Some("dbt_utils"));
        assert_eq!(tests[1].kind, "accepted_range");
        assert_eq!(tests[1].args["min_value"], serde_json::json!(0));
        assert_eq!(
            (tests[2].kind.as_str(), tests[2].enabled),
            ("not_null", false)
        );
        let kinds: Vec<(OtherKind, &str)> =
            f.others.iter().map(|o| (o.kind, o.name.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (OtherKind::Snapshot, "s"),
                (OtherKind::Exposure, "weekly"),
                (OtherKind::SemanticModel, "orders"),
                (OtherKind::Metric, "revenue"),
                (OtherKind::SavedQuery, "q"),
            ]
        );
        assert_eq!(
            f.others[1].depends_on,
            [
                UnitInputKind::Ref("m".into()),
                UnitInputKind::Source("raw".into(), "orders".into())
            ]
        );
    }

    #[test]
    fn unknown_test_configs_are_strict_findings() {
        let text = "models:\n  - name: m\n    columns:\n      - name: id\n        tests:\n          - unique:\n              config: {owner_team: data}\n";
        let (f, d) = parse_str(text);
        assert!(d.is_empty(), "{d:?}");
        let f = f.unwrap();
        assert_eq!(f.models[0].columns[0].tests.len(), 1);
        let s = &f.strict[0];
        assert_eq!((s.native, s.diagnostic.code), (Code::E0310, Code::W0050));
        assert!(
            s.diagnostic.message.contains("`owner_team`"),
            "{}",
            s.diagnostic.message
        );
    }

    #[test]
    fn unsupported_test_settings_warn() {
        let text = "models:\n  - name: m\n    columns:\n      - name: id\n        tests:\n          - unique:\n              store_failures: true\n              fail_calc: sum(n)\n          - not_null:\n              config: {fail_calc: count(*)}\n";
        let (f, d) = parse_str(text);
        let mut codes: Vec<&str> = d.iter().map(|d| d.code.as_str()).collect();
        codes.sort();
        assert_eq!(codes, ["W0051", "W0052"]);
        assert_eq!(f.unwrap().models[0].columns[0].tests.len(), 2);
    }

    #[test]
    fn thresholds_are_validated() {
        assert_eq!(check_condition(">10").unwrap(), "> 10");
        assert!(check_condition("> x").is_err());
        assert!(check_condition("10").is_err());
    }
}
