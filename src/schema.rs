//! Schema files: dbt `version: 2` YAML (`models:`, `sources:`, `seeds:`).
//!
//! Read with serde-saphyr, which rejects duplicate keys and gives the position
//! of every value we keep, so later stages can point at the exact line.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::{ConfigEntry, ConfigLayer};
use crate::diagnostic::{offset_of, Diagnostic, Span};
use crate::project::SourceFile;

#[derive(Debug, Clone)]
pub struct SchemaFile {
    pub path: Arc<str>,
    /// Shared: the resolved model keeps its entry without copying it.
    pub models: Vec<Arc<ModelEntry>>,
    pub sources: Vec<SourceEntry>,
    pub seeds: Vec<SeedEntry>,
    pub unit_tests: Vec<UnitTest>,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Spanned<serde_json::Value>,
    #[serde(default)]
    models: Vec<RawModel>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    seeds: Vec<RawSeed>,
    #[serde(default)]
    unit_tests: Vec<RawUnitTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
struct RawUnitInput {
    input: Spanned<String>,
    #[serde(default)]
    rows: Vec<BTreeMap<String, serde_json::Value>>,
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRows {
    #[serde(default)]
    rows: Vec<BTreeMap<String, serde_json::Value>>,
    format: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    #[serde(default)]
    macros: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    env_vars: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[allow(dead_code)] // accepted for dbt compatibility; stackc has no use for it
    meta: Option<serde_json::Value>,
    #[allow(dead_code)] // as above
    docs: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
struct RawSeedConfig {
    #[serde(default)]
    column_types: BTreeMap<String, String>,
}

/// Reads one schema file; `None` (with a diagnostic) when it is not valid.
pub fn parse(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Option<SchemaFile> {
    if file.text.trim().is_empty() {
        return None;
    }
    let raw: RawFile = match serde_saphyr::from_str(&file.text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.location().map_or(0, |l| {
                offset_of(&file.text, l.line() as usize, l.column() as usize)
            });
            let message = yaml_message(&e);
            let help = if message.starts_with("duplicate mapping key") {
                "a key may appear once per mapping: merge the two entries or remove one"
            } else if message.starts_with("unknown field") {
                "remove or rename the key; stackc reads dbt's `version: 2` keys"
            } else {
                "schema files follow dbt's `version: 2` format with `models:`, `sources:` and `seeds:`"
            };
            diagnostics.push(
                Diagnostic::new("E0002", format!("invalid schema file: {message}"))
                    .at_file(&file.path, offset..offset)
                    .help(help),
            );
            return None;
        }
    };
    let cx = Cx { file };
    if raw.version.value != serde_json::json!(2) {
        diagnostics.push(
            Diagnostic::new(
                "E0002",
                format!("unsupported schema file version {}", raw.version.value),
            )
            .at(cx.span(&raw.version))
            .help("write `version: 2` at the top of the file"),
        );
    }
    let models = raw
        .models
        .into_iter()
        .map(|m| {
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
    Some(SchemaFile {
        path: Arc::clone(&file.path),
        models,
        sources,
        seeds,
        unit_tests,
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
}

impl Cx<'_> {
    fn unit_test(&self, u: RawUnitTest, diagnostics: &mut Vec<Diagnostic>) -> Option<UnitTest> {
        let span = self.span(&u.name);
        let fail = |at: Span, message: String, help: &str| {
            Diagnostic::new("E0311", message)
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
                match parse_test(t.value, span.clone()) {
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
                            Diagnostic::new("E0310", format!("invalid test: {problem}"))
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

fn parse_test(value: serde_json::Value, span: Span) -> Result<TestSpec, String> {
    let (kind, body) = match value {
        serde_json::Value::String(kind) => (kind, serde_json::Map::new()),
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
    let mut spec = TestSpec {
        kind,
        args: BTreeMap::new(),
        severity: TestSeverity::Error,
        where_clause: None,
        error_if: "!= 0".into(),
        warn_if: "!= 0".into(),
        span,
        arg_spans: BTreeMap::new(),
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
                    apply_test_setting(&mut spec, k, v)?;
                }
            }
            "severity" | "where" | "error_if" | "warn_if" | "tags" | "meta" | "enabled" => {
                apply_test_setting(&mut spec, &key, &value)?
            }
            _ => {
                spec.args.insert(key, value);
            }
        }
    }
    Ok(spec)
}

fn apply_test_setting(
    spec: &mut TestSpec,
    key: &str,
    value: &serde_json::Value,
) -> Result<(), String> {
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{key}` must be a string"))
    };
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
        "tags" | "meta" | "enabled" => {}
        other => return Err(format!("unknown test setting `{other}`")),
    }
    Ok(())
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
    fn unknown_keys_and_duplicates_are_located() {
        let text = "version: 2\nmodels:\n  - name: a\n    colums: []\n";
        let (f, d) = parse_str(text);
        assert!(f.is_none());
        assert_eq!(d[0].code, "E0002");
        assert_eq!(
            d[0].primary.as_ref().unwrap().range.start,
            text.find("colums").unwrap()
        );
        assert!(
            d[0].message.contains("unknown field `colums`"),
            "{}",
            d[0].message
        );
        let (_, d) = parse_str("version: 2\nmodels:\n  - name: a\n    name: b\n");
        assert!(d[0].message.contains("duplicate"), "{}", d[0].message);
    }

    #[test]
    fn thresholds_are_validated() {
        assert_eq!(check_condition(">10").unwrap(), "> 10");
        assert!(check_condition("> x").is_err());
        assert!(check_condition("10").is_err());
    }
}
