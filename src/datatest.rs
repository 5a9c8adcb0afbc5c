//! Data tests: generic tests from schema files compiled to SQL that returns
//! the failing rows, as dbt does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{ref_id, seed_id, source_id};
use crate::node::{DataTest, Model, ResolvedSeed, ResolvedSource};
use crate::project::SourceFile;
use crate::relation::Relation;
use crate::render::{Relations, RenderInput, Renderer};
use crate::schema::{ModelEntry, TestSpec, UnitInputKind};
use crate::sql::{literal, quote_ident};

const KINDS: &[&str] = &[
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "accepted_range",
    "expression_is_true",
];

/// What a test is attached to.
struct Target<'a> {
    id: String,
    /// Name used in the test's name, as dbt: `stg_orders`, and
    /// `<source>_<table>` for a source table.
    label: String,
    /// dbt puts `source_` in front of the test's name for source tests.
    source: bool,
    /// How dbt passes the target as the test's `model` argument.
    model_arg: String,
    relation: &'a Relation,
}

/// Generic tests the project defines with `{% test name(model, ...) %}`,
/// rendered as the macros `test_<name>` they become.
pub struct Generic<'a> {
    pub renderer: &'a Renderer,
    pub relations: &'a Arc<Relations>,
    pub vars: &'a Arc<BTreeMap<String, serde_json::Value>>,
    pub names: &'a BTreeSet<String>,
    /// Generic tests installed packages define, as (package, test name).
    pub package_tests: &'a BTreeSet<(String, String)>,
}

/// The `{% test %}` blocks of installed packages, by (package, name).
pub fn package_tests(packages: &[(String, Vec<SourceFile>)]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (package, files) in packages {
        let mut names = BTreeSet::new();
        for file in files {
            rewrite_test_blocks(&file.text, &mut names);
        }
        out.extend(names.into_iter().map(|n| (package.clone(), n)));
    }
    out
}

/// Macro files with each `{% test x(...) %}` block made the macro
/// `test_x` (as dbt does), and the names of those tests. Only the tag is
/// rewritten, so line numbers stay those of the file.
pub fn generic_tests(macros: &[SourceFile]) -> (Vec<SourceFile>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let files = macros
        .iter()
        .map(|file| match rewrite_test_blocks(&file.text, &mut names) {
            Some(text) => SourceFile {
                path: Arc::clone(&file.path),
                text: Arc::from(text),
            },
            None => file.clone(),
        })
        .collect();
    (files, names)
}

/// `None` when the text has no `{% test %}` block.
fn rewrite_test_blocks(text: &str, names: &mut BTreeSet<String>) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = 0;
    let mut changed = false;
    while let Some(i) = text[rest..].find("{%") {
        let tag = rest + i + 2;
        out.push_str(&text[rest..tag]);
        let body = &text[tag..];
        let lead = body.len() - body.trim_start_matches(['-', '+', '~']).len();
        let after_lead = &body[lead..];
        let ws = after_lead.len() - after_lead.trim_start().len();
        let word_at = tag + lead + ws;
        let word: String = text[word_at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let next = text[word_at + word.len()..].chars().next();
        out.push_str(&text[tag..word_at]);
        rest = word_at;
        if word == "test" && next.is_some_and(char::is_whitespace) {
            let name_at = text[word_at + 4..]
                .find(|c: char| !c.is_whitespace())
                .map_or(text.len(), |j| word_at + 4 + j);
            let name: String = text[name_at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push_str("macro test_");
                out.push_str(&name);
                names.insert(name.clone());
                rest = name_at + name.len();
                changed = true;
            }
        } else if word == "endtest" {
            out.push_str("endmacro");
            rest = word_at + word.len();
            changed = true;
        } else if word == "macro" && next.is_some_and(char::is_whitespace) {
            // dbt's older spelling of a generic test: a macro named
            // `test_<name>` (dbt_utils' `not_null_proportion` still is one).
            let name: String = text[word_at + 5..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if let Some(test) = name.strip_prefix("test_").filter(|t| !t.is_empty()) {
                names.insert(test.to_string());
            }
        }
    }
    out.push_str(&text[rest..]);
    changed.then_some(out)
}

/// A YAML value as a Jinja literal, to pass it to a test macro.
fn jinja_literal(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "none".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        // `compare_model: ref('m')` is the relation, as dbt renders it.
        serde_json::Value::String(text) => match crate::schema::parse_input(text) {
            Some(crate::schema::UnitInputKind::Ref(name)) => {
                format!("ref({})", serde_json::Value::String(name))
            }
            Some(crate::schema::UnitInputKind::Source(source, table)) => format!(
                "source({}, {})",
                serde_json::Value::String(source),
                serde_json::Value::String(table)
            ),
            // A JSON string is a valid Jinja string literal.
            _ => value.to_string(),
        },
        serde_json::Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(jinja_literal).collect();
            format!("[{}]", inner.join(", "))
        }
        serde_json::Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        serde_json::Value::String(k.clone()),
                        jinja_literal(v)
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

#[allow(clippy::too_many_arguments)] // the inputs are the project's parts, each used once
pub fn build(
    project: &str,
    entries: &BTreeMap<String, Arc<ModelEntry>>,
    seeds: &BTreeMap<String, ResolvedSeed>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    models: &BTreeMap<String, Model>,
    failed: &BTreeSet<String>,
    relations: &Relations,
    generic: &Generic<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<DataTest> {
    let mut out = Vec::new();
    let cx = Cx {
        project,
        seeds,
        sources,
        models,
        failed,
        relations,
        generic,
    };
    // Tests of models, most of a project's, are made in parallel, in
    // order.
    let entries: Vec<(&String, &Arc<ModelEntry>)> = entries.iter().collect();
    // dbt passes a model version as ref('m', version='2'): it is in the
    // unique id's hash.
    let version_of: BTreeMap<&str, (&str, &str)> = relations
        .versions
        .iter()
        .filter_map(|(key, file)| {
            let (model, v) = key.rsplit_once(".v")?;
            Some((file.as_str(), (model, v)))
        })
        .collect();
    let made: Vec<(Vec<DataTest>, Vec<Diagnostic>)> = entries
        .par_iter()
        .map(|(name, entry)| {
            let mut tests = Vec::new();
            let mut local = Vec::new();
            let Some(model) = models.get(*name) else {
                return (tests, local); // disabled, or failed to render (already reported)
            };
            let target = Target {
                id: crate::graph::model_id(project, name),
                label: (*name).clone(),
                source: false,
                model_arg: match version_of.get(name.as_str()) {
                    Some((m, v)) => {
                        format!("{{{{ get_where_subquery(ref('{m}', version='{v}')) }}}}")
                    }
                    None => format!("{{{{ get_where_subquery(ref('{name}')) }}}}"),
                },
                relation: &model.relation,
            };
            cx.tests_of(
                &target,
                &entry.tests,
                &entry.columns,
                &mut tests,
                &mut local,
            );
            (tests, local)
        })
        .collect();
    for (tests, local) in made {
        out.extend(tests);
        diagnostics.extend(local);
    }
    for (
        name,
        ResolvedSeed {
            entry, relation, ..
        },
    ) in seeds
    {
        if let Some(entry) = entry {
            let target = Target {
                id: seed_id(project, name),
                label: name.clone(),
                source: false,
                model_arg: format!("{{{{ get_where_subquery(ref('{name}')) }}}}"),
                relation,
            };
            cx.tests_of(&target, &entry.tests, &entry.columns, &mut out, diagnostics);
        }
    }
    for (
        (source, table),
        ResolvedSource {
            table: t, relation, ..
        },
    ) in sources
    {
        let target = Target {
            id: source_id(project, source, table),
            label: format!("{source}_{table}"),
            source: true,
            model_arg: format!("{{{{ get_where_subquery(source('{source}', '{table}')) }}}}"),
            relation,
        };
        cx.tests_of(&target, &t.tests, &t.columns, &mut out, diagnostics);
    }
    // Two tests of the same kind on the same column get numbered names.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let numbers: Vec<usize> = out
        .iter()
        .map(|t| {
            let n = counts.entry(t.name.as_str()).or_insert(0);
            *n += 1;
            *n
        })
        .collect();
    drop(counts);
    out.par_iter_mut().zip(numbers).for_each(|(t, n)| {
        if n > 1 {
            t.name = format!("{}_{}", t.name, n);
            t.alias = format!("{}_{}", t.alias, n);
        }
        t.unique_id = format!("test.{project}.{}.{}", t.name, t.hash);
    });
    out
}

struct Cx<'a> {
    project: &'a str,
    seeds: &'a BTreeMap<String, ResolvedSeed>,
    sources: &'a BTreeMap<(String, String), ResolvedSource>,
    models: &'a BTreeMap<String, Model>,
    /// Models that failed to render (already reported).
    failed: &'a BTreeSet<String>,
    relations: &'a Relations,
    generic: &'a Generic<'a>,
}

impl Cx<'_> {
    fn tests_of(
        &self,
        target: &Target<'_>,
        model_tests: &[TestSpec],
        columns: &[crate::schema::Column],
        out: &mut Vec<DataTest>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        for spec in model_tests {
            if let Some(t) = self.test(target, None, spec, diagnostics) {
                out.push(t);
            }
        }
        for column in columns {
            for spec in &column.tests {
                let col = if column.quote {
                    format!("\"{}\"", column.name.replace('"', "\"\""))
                } else {
                    quote_ident(&column.name).into_owned()
                };
                if let Some(t) = self.test(target, Some((&column.name, col)), spec, diagnostics) {
                    out.push(t);
                }
            }
        }
    }

    fn test(
        &self,
        target: &Target<'_>,
        column: Option<(&String, String)>,
        spec: &TestSpec,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<DataTest> {
        let fail = |message: String, help: &str| {
            Diagnostic::new(Code::E0310, message)
                .at(spec.span.clone())
                .help(help.to_string())
        };
        if !spec.enabled {
            return None;
        }
        // dbt's own tests, and the dbt_utils ones stackc implements, may be
        // written with their package's name.
        let builtin = matches!(spec.namespace.as_deref(), None | Some("dbt" | "dbt_utils"));
        // A package's test, by its name (`pkg.t`) or alone when neither the
        // project nor stackc has one of that name, as dbt looks it up.
        let package = match &spec.namespace {
            Some(ns) => self
                .generic
                .package_tests
                .contains(&(ns.clone(), spec.kind.clone()))
                .then(|| ns.clone()),
            None if !self.generic.names.contains(&spec.kind)
                && !KINDS.contains(&spec.kind.as_str()) =>
            {
                self.generic
                    .package_tests
                    .iter()
                    .find(|(_, name)| *name == spec.kind)
                    .map(|(ns, _)| ns.clone())
            }
            None => None,
        };
        let custom = package.is_some()
            || (spec.namespace.is_none() && self.generic.names.contains(&spec.kind));
        if !custom && (!builtin || !KINDS.contains(&spec.kind.as_str())) {
            let help = match crate::suggest::closest(&spec.kind, KINDS.iter().copied()) {
                Some(close) => format!(
                    "did you mean `{close}`? generic tests: {}",
                    KINDS.join(", ")
                ),
                None => format!(
                    "generic tests: {}; write other checks as singular tests in tests/*.sql",
                    KINDS.join(", ")
                ),
            };
            let written = match &spec.namespace {
                Some(ns) => format!("{ns}.{}", spec.kind),
                None => spec.kind.clone(),
            };
            diagnostics.push(fail(format!("unknown test `{written}`"), &help));
            return None;
        }
        // A model-level test may name its column with `column_name`.
        let column_name = spec
            .args
            .get("column_name")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let (col_label, col_sql) = match (&column, &column_name) {
            (Some((name, sql)), _) => (Some((*name).clone()), Some(sql.clone())),
            (None, Some(expr)) => (Some(expr.clone()), Some(expr.clone())),
            (None, None) => (None, None),
        };
        let relation = target.relation.to_string();
        let from = match &spec.where_clause {
            Some(w) => format!("(select * from {relation} where {w}) as dbt_subquery"),
            None => relation.clone(),
        };
        let needs_column = |kind: &str| {
            fail(
                format!("`{kind}` needs a column: put it under a column, or give `column_name`"),
                "move the test under `columns: - name: <col>  data_tests: [...]`",
            )
        };
        let mut depends_on = vec![target.id.clone()];
        let sql = match spec.kind.as_str() {
            _ if custom => {
                // dbt passes `model` as get_where_subquery(ref(...)): the
                // relation itself (packages check it is one), or with a
                // `where`, the filtered subquery as text.
                let model = match &spec.where_clause {
                    None => target
                        .model_arg
                        .trim_start_matches("{{")
                        .trim_end_matches("}}")
                        .trim()
                        .to_string(),
                    Some(_) => serde_json::Value::String(from.clone()).to_string(),
                };
                let (sql, refs) =
                    self.render_generic(&model, &col_sql, spec, package.as_deref(), diagnostics)?;
                for r in refs {
                    if !depends_on.contains(&r) {
                        depends_on.push(r);
                    }
                }
                sql
            }
            "not_null" => {
                let Some(c) = &col_sql else {
                    diagnostics.push(needs_column("not_null"));
                    return None;
                };
                format!("select *\nfrom {from}\nwhere {c} is null\n")
            }
            "unique" => {
                let combined = spec
                    .args
                    .get("columns")
                    .and_then(|v| v.as_array())
                    .map(|cols| {
                        cols.iter()
                            .filter_map(|c| c.as_str())
                            .map(|c| quote_ident(c).into_owned())
                            .collect::<Vec<_>>()
                    });
                match (&col_sql, combined) {
                    (_, Some(cols)) if !cols.is_empty() => {
                        let list = cols.join(", ");
                        format!("select {list}, count(*) as n_records\nfrom {from}\ngroup by {list}\nhaving count(*) > 1\n")
                    }
                    (Some(c), _) => format!(
                        "select {c} as unique_field, count(*) as n_records\nfrom {from}\nwhere {c} is not null\ngroup by {c}\nhaving count(*) > 1\n"
                    ),
                    (None, _) => {
                        diagnostics.push(needs_column("unique"));
                        return None;
                    }
                }
            }
            "accepted_values" => {
                let Some(c) = &col_sql else {
                    diagnostics.push(needs_column("accepted_values"));
                    return None;
                };
                let Some(values) = spec
                    .args
                    .get("values")
                    .and_then(|v| v.as_array())
                    .filter(|v| !v.is_empty())
                else {
                    diagnostics.push(fail(
                        "`accepted_values` needs `values`, a non-empty list".into(),
                        "write accepted_values: {values: ['a', 'b']}",
                    ));
                    return None;
                };
                let quote = spec
                    .args
                    .get("quote")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true);
                let list: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) if quote => literal(s),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                format!(
                    "select {c} as value_field, count(*) as n_records\nfrom {from}\nwhere {c} is not null\n  and {c} not in ({})\ngroup by {c}\n",
                    list.join(", ")
                )
            }
            "relationships" => {
                let Some(c) = &col_sql else {
                    diagnostics.push(needs_column("relationships"));
                    return None;
                };
                let Some(to) = spec.args.get("to").and_then(|v| v.as_str()) else {
                    diagnostics.push(fail(
                        "`relationships` needs `to`, e.g. to: ref('dim_customers')".into(),
                        "write relationships: {to: ref('parent'), field: id}",
                    ));
                    return None;
                };
                let Some(field) = spec.args.get("field").and_then(|v| v.as_str()) else {
                    diagnostics.push(fail(
                        "`relationships` needs `field`, the parent's column".into(),
                        "write relationships: {to: ref('parent'), field: id}",
                    ));
                    return None;
                };
                let (parent_id, parent_rel) = match self.resolve_to(to) {
                    Ok(Some(found)) => found,
                    Ok(None) => return None,
                    Err(problem) => {
                        let at = spec.arg_spans.get("to").unwrap_or(&spec.span);
                        diagnostics.push(
                            Diagnostic::new(Code::E0306, problem.0)
                                .at(at.clone())
                                .help(problem.1),
                        );
                        return None;
                    }
                };
                depends_on.push(parent_id);
                let field = quote_ident(field);
                format!(
                    "select child.{c} as from_field\nfrom {from} as child\nleft join {parent_rel} as parent\n  on child.{c} = parent.{field}\nwhere child.{c} is not null\n  and parent.{field} is null\n"
                )
            }
            "accepted_range" => {
                let Some(c) = &col_sql else {
                    diagnostics.push(needs_column("accepted_range"));
                    return None;
                };
                let bound = |key: &str| {
                    spec.args.get(key).map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                };
                let (min, max) = (bound("min_value"), bound("max_value"));
                if min.is_none() && max.is_none() {
                    diagnostics.push(fail(
                        "`accepted_range` needs `min_value`, `max_value` or both".into(),
                        "write accepted_range: {min_value: 0, inclusive: true}",
                    ));
                    return None;
                }
                let inclusive = spec
                    .args
                    .get("inclusive")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true);
                let (lo, hi) = if inclusive { (">=", "<=") } else { (">", "<") };
                let mut conditions = Vec::new();
                if let Some(min) = min {
                    conditions.push(format!("{c} {lo} {min}"));
                }
                if let Some(max) = max {
                    conditions.push(format!("{c} {hi} {max}"));
                }
                format!(
                    "select *\nfrom {from}\nwhere not ({})\n",
                    conditions.join(" and ")
                )
            }
            "expression_is_true" => {
                let Some(expr) = spec.args.get("expression").and_then(|v| v.as_str()) else {
                    diagnostics.push(fail(
                        "`expression_is_true` needs `expression`".into(),
                        "write expression_is_true: {expression: \"amount >= 0\"}",
                    ));
                    return None;
                };
                match &column {
                    Some((_, c)) => format!("select *\nfrom {from}\nwhere not ({c} {expr})\n"),
                    None => format!("select *\nfrom {from}\nwhere not ({expr})\n"),
                }
            }
            _ => return None,
        };
        let sql = match spec.limit {
            Some(n) => format!("select *\nfrom (\n{sql}) as dbt_limited\nlimit {n}\n"),
            None => sql,
        };
        let mut args = spec.args.clone();
        if let Some((written, _)) = &column {
            args.insert(
                "column_name".into(),
                serde_json::Value::String((*written).clone()),
            );
        }
        let (alias, name) = match &spec.name {
            Some(name) => (name.clone(), name.clone()),
            None => {
                let mut test_type = spec.kind.clone();
                if target.source {
                    test_type.insert_str(0, "source_");
                }
                if let Some(ns) = &spec.namespace {
                    test_type = format!("{ns}_{test_type}");
                }
                dbt_test_name(&test_type, &target.label, &args)
            }
        };
        args.insert(
            "model".into(),
            serde_json::Value::String(target.model_arg.clone()),
        );
        let hash = dbt_test_hash(&name, spec.namespace.as_deref(), &spec.kind, &args);
        Some(DataTest {
            unique_id: String::new(),
            name,
            alias,
            hash,
            kind: spec.kind.clone(),
            attached_to: target.id.clone(),
            column: col_label,
            sql,
            severity: spec.severity,
            error_if: spec.error_if.clone(),
            warn_if: spec.warn_if.clone(),
            depends_on,
            span: spec.span.clone(),
        })
    }

    /// A project's own generic test: its macro called with dbt's arguments
    /// (`model`, `column_name` when under a column, and the entry's own).
    /// Returns the SQL and the nodes it refers to.
    /// A generic test of a `{% test %}` block; `model` is the Jinja
    /// expression passed as its `model` argument.
    fn render_generic(
        &self,
        model: &str,
        column: &Option<String>,
        spec: &TestSpec,
        package: Option<&str>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<(String, Vec<String>)> {
        let namespace = package.map(|p| format!("{p}.")).unwrap_or_default();
        let mut call = format!("{{{{ {namespace}test_{}(model={model}", spec.kind);
        let mut args = spec.args.clone();
        if let Some(c) = column {
            args.insert("column_name".into(), serde_json::Value::String(c.clone()));
        }
        for (k, v) in &args {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                diagnostics.push(
                    Diagnostic::new(Code::E0310, format!("`{k}` is not a valid argument name"))
                        .at(spec.span.clone())
                        .help("name test arguments with letters, digits and `_`"),
                );
                return None;
            }
            call.push_str(&format!(", {k}={}", jinja_literal(v)));
        }
        call.push_str(") }}\n");
        let file = SourceFile {
            path: Arc::clone(&spec.span.file),
            text: Arc::from(call),
        };
        let rendered = self.generic.renderer.render(RenderInput {
            file: &file,
            relations: self.generic.relations,
            vars: self.generic.vars,
            this: None,
            is_incremental: false,
            model: None,
            graph: None,
        });
        match rendered {
            Ok(r) => {
                let refs = r
                    .calls
                    .refs
                    .iter()
                    .filter(|n| self.models.contains_key(*n) || self.seeds.contains_key(*n))
                    .map(|n| ref_id(self.project, n, self.seeds))
                    .chain(
                        r.calls
                            .sources
                            .iter()
                            .filter(|k| self.sources.contains_key(*k))
                            .map(|(s, t)| source_id(self.project, s, t)),
                    )
                    .collect();
                Some((r.sql, refs))
            }
            Err(mut d) => {
                // An error in the call itself is the test entry's; one in
                // the macro keeps the macro's line.
                if d.primary.as_ref().is_none_or(|p| p.file == spec.span.file) {
                    d.primary = Some(spec.span.clone());
                    d.message = format!("generic test `{}`: {}", spec.kind, d.message);
                }
                diagnostics.push(d);
                None
            }
        }
    }

    /// `ref('m')` or `source('s', 't')` as written in a `to:` argument.
    fn resolve_to(&self, to: &str) -> Result<Option<(String, String)>, (String, String)> {
        match crate::schema::parse_input(to) {
            Some(UnitInputKind::Ref(name)) if self.failed.contains(&name) => return Ok(None),
            Some(UnitInputKind::Ref(name)) => {
                if let Some(rel) = self.relations.models.get(&name) {
                    if self.models.contains_key(&name) || self.seeds.contains_key(&name) {
                        return Ok(Some((
                            ref_id(self.project, &name, self.seeds),
                            rel.to_string(),
                        )));
                    }
                }
                let names = self
                    .models
                    .keys()
                    .chain(self.seeds.keys())
                    .map(String::as_str);
                let help = match crate::suggest::closest(&name, names) {
                    Some(close) => format!("did you mean ref('{close}')?"),
                    None => "name an existing model or seed".to_string(),
                };
                return Err((
                    format!("relationships test refers to unknown model `{name}`"),
                    help,
                ));
            }
            Some(UnitInputKind::Source(s, t)) => {
                if let Some(ResolvedSource { relation: rel, .. }) =
                    self.sources.get(&(s.clone(), t.clone()))
                {
                    return Ok(Some((source_id(self.project, &s, &t), rel.to_string())));
                }
                return Err((
                    format!("relationships test refers to unknown source `{s}.{t}`"),
                    "declare the source table under `sources:`".into(),
                ));
            }
            Some(UnitInputKind::This) | None => {}
        }
        Err((
            format!("`to: {to}` is not ref('model') or source('source', 'table')"),
            "write to: ref('dim_customers')".into(),
        ))
    }
}

/// dbt's name for a generic test (`synthesize_generic_test_names`): the
/// test type, the target, then each argument's values (sorted by argument
/// name, `model` left out) with runs of other characters than `[0-9a-zA-Z_]`
/// made `_`, joined by `__`. A name of 64 characters or more is cut to the
/// first 30 of `<type>_<target>` plus the MD5 of the full name. Returns
/// (name, full name).
pub fn dbt_test_name(
    test_type: &str,
    target: &str,
    args: &BTreeMap<String, serde_json::Value>,
) -> (String, String) {
    let mut parts: Vec<String> = Vec::new();
    for (name, value) in args {
        if name == "model" {
            continue;
        }
        match value {
            serde_json::Value::Object(map) => parts.extend(map.values().map(python_str)),
            serde_json::Value::Array(items) => parts.extend(items.iter().map(python_str)),
            other => parts.push(python_str(other)),
        }
    }
    let unique: Vec<String> = parts.iter().map(|p| clean_arg(p)).collect();
    let identifier = format!("{test_type}_{target}");
    let full = format!("{identifier}_{}", unique.join("__"));
    if full.len() < 64 {
        return (full.clone(), full);
    }
    use md5::Digest as _;
    let digest = md5::Md5::digest(full.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    // dbt cuts characters; names are ASCII except where a user wrote
    // otherwise, so cut at a character boundary.
    let cut: String = identifier.chars().take(30).collect();
    (format!("{cut}_{hex}"), full)
}

/// The end of dbt's unique id of a generic test: the last 10 hex digits of
/// the MD5 of its name followed by the Python `repr` of its metadata
/// (`namespace`, `name`, `kwargs` with `model`), every key sorted and every
/// value that is neither a list nor a mapping made a string.
fn dbt_test_hash(
    name: &str,
    namespace: Option<&str>,
    kind: &str,
    kwargs: &BTreeMap<String, serde_json::Value>,
) -> String {
    // The repr of {'kwargs': ..., 'name': ..., 'namespace': ...}, keys in
    // the sorted order get_hashable_md gives them, written straight into
    // one string (building the dict as a value first cost more than the
    // MD5, once per test).
    let mut text = String::with_capacity(name.len() + 128);
    text.push_str(name);
    text.push_str("{'kwargs': {");
    for (i, (key, value)) in kwargs.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        repr_str_into(&mut text, key);
        text.push_str(": ");
        repr_into(&mut text, value, true);
    }
    text.push_str("}, 'name': ");
    repr_str_into(&mut text, kind);
    text.push_str(", 'namespace': ");
    repr_str_into(&mut text, namespace.unwrap_or("None"));
    text.push('}');
    use md5::Digest as _;
    let digest = md5::Md5::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[hex.len() - 10..].to_string()
}

/// `re.sub("[^0-9a-zA-Z_]+", "_", arg)`.
fn clean_arg(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut in_run = false;
    for c in arg.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// What Python's `str()` makes of a YAML value, which dbt puts in names.
fn python_str(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(value: &serde_json::Value) -> String {
    let mut out = String::new();
    repr_into(&mut out, value, false);
    out
}

/// Python's `repr` of `value` onto `out`; with `hashable`, every value that
/// is neither a list nor a mapping is first made a string, as dbt's
/// get_hashable_md does.
fn repr_into(out: &mut String, value: &serde_json::Value, hashable: bool) {
    match value {
        serde_json::Value::String(s) => repr_str_into(out, s),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(out, item, hashable);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str_into(out, k);
                out.push_str(": ");
                repr_into(out, v, hashable);
            }
            out.push('}');
        }
        scalar if hashable => {
            let mut text = String::new();
            repr_into(&mut text, scalar, false);
            repr_str_into(out, &text);
        }
        serde_json::Value::Null => out.push_str("None"),
        serde_json::Value::Bool(true) => out.push_str("True"),
        serde_json::Value::Bool(false) => out.push_str("False"),
        serde_json::Value::Number(n) => out.push_str(&n.to_string()),
    }
}

fn repr_str_into(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_macro_named_test_x_is_the_generic_test_x() {
        let mut names = std::collections::BTreeSet::new();
        let text = "{% macro test_at_least(model, n) %}select 1{% endmacro %}\n{% macro helper() %}{% endmacro %}";
        assert_eq!(rewrite_test_blocks(text, &mut names), None);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["at_least"]);
    }

    /// dbt renders `compare_model: ref('m')` as the relation.
    #[test]
    fn ref_and_source_arguments_are_relations() {
        let lit = |v: serde_json::Value| jinja_literal(&v);
        assert_eq!(lit(serde_json::json!("ref('m')")), "ref(\"m\")");
        assert_eq!(
            lit(serde_json::json!("source('raw', 't')")),
            "source(\"raw\", \"t\")"
        );
        assert_eq!(lit(serde_json::json!("refs are fine")), "\"refs are fine\"");
        assert_eq!(lit(serde_json::json!(["ref('a')", 1])), "[ref(\"a\"), 1]");
    }

    fn args(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn names_are_dbts() {
        let name = |t: &str, target: &str, a: &[(&str, serde_json::Value)]| {
            dbt_test_name(t, target, &args(a)).0
        };
        assert_eq!(
            name("not_null", "orders", &[("column_name", "order_id".into())]),
            "not_null_orders_order_id"
        );
        assert_eq!(
            name(
                "relationships",
                "orders",
                &[
                    ("column_name", "customer_id".into()),
                    ("to", "ref('customers')".into()),
                    ("field", "customer_id".into()),
                ]
            ),
            "relationships_orders_customer_id__customer_id__ref_customers_"
        );
        assert_eq!(
            name(
                "accepted_values",
                "orders",
                &[
                    ("column_name", "status".into()),
                    ("values", serde_json::json!(["placed", "shipped"])),
                ]
            ),
            "accepted_values_orders_status__placed__shipped"
        );
        assert_eq!(
            name(
                "source_unique",
                "jaffle_shop_orders",
                &[("column_name", "id".into())]
            ),
            "source_unique_jaffle_shop_orders_id"
        );
        assert_eq!(
            name(
                "dbt_utils_accepted_range",
                "orders",
                &[
                    ("column_name", "amount".into()),
                    ("min_value", 0.into()),
                    ("inclusive", true.into()),
                ]
            ),
            "dbt_utils_accepted_range_orders_amount__True__0"
        );
    }

    #[test]
    fn long_names_are_hashed_as_dbt_does() {
        // dbt 1.10 names this test of jaffle_shop
        // `accepted_values_orders_1ce6ab157c285f7cd2ac656013faf758`.
        let (short, full) = dbt_test_name(
            "accepted_values",
            "orders",
            &args(&[
                ("column_name", "status".into()),
                (
                    "values",
                    serde_json::json!([
                        "placed",
                        "shipped",
                        "completed",
                        "return_pending",
                        "returned"
                    ]),
                ),
            ]),
        );
        assert_eq!(
            full,
            "accepted_values_orders_status__placed__shipped__completed__return_pending__returned"
        );
        assert_eq!(
            short,
            "accepted_values_orders_1ce6ab157c285f7cd2ac656013faf758"
        );
    }

    #[test]
    fn unique_ids_end_in_dbts_hash() {
        // From `dbt ls` of jaffle_shop (dbt 1.10).
        let hash = dbt_test_hash(
            "not_null_customers_customer_id",
            None,
            "not_null",
            &args(&[
                ("column_name", "customer_id".into()),
                ("model", "{{ get_where_subquery(ref('customers')) }}".into()),
            ]),
        );
        assert_eq!(hash, "5c9bf9911d");
        let hash = dbt_test_hash(
            "accepted_values_orders_status__placed__shipped__completed__return_pending__returned",
            None,
            "accepted_values",
            &args(&[
                ("column_name", "status".into()),
                ("model", "{{ get_where_subquery(ref('orders')) }}".into()),
                (
                    "values",
                    serde_json::json!([
                        "placed",
                        "shipped",
                        "completed",
                        "return_pending",
                        "returned"
                    ]),
                ),
            ]),
        );
        assert_eq!(hash, "be6b5b5ec3");
    }

    #[test]
    fn test_blocks_become_macros_on_the_same_lines() {
        let mut names = BTreeSet::new();
        let text = "{%- test even(model, column_name) -%}\nselect 1\n{%- endtest %}\n{% macro other() %}x{% endmacro %}\n";
        let out = rewrite_test_blocks(text, &mut names).unwrap();
        assert_eq!(
            out,
            "{%- macro test_even(model, column_name) -%}\nselect 1\n{%- endmacro %}\n{% macro other() %}x{% endmacro %}\n"
        );
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["even"]);
        assert!(
            rewrite_test_blocks("{% macro testing() %}{% endmacro %}", &mut BTreeSet::new())
                .is_none()
        );
        assert_eq!(
            jinja_literal(&serde_json::json!({"a": [1, null, true, "x\"y"]})),
            r#"{"a": [1, none, true, "x\"y"]}"#
        );
    }

    #[test]
    fn python_values_print_as_python_does() {
        assert_eq!(python_str(&serde_json::json!(null)), "None");
        assert_eq!(python_str(&serde_json::json!(1.5)), "1.5");
        assert_eq!(
            python_str(&serde_json::json!(["a", "it's", 1])),
            "['a', \"it's\", 1]"
        );
        assert_eq!(clean_arg("a  b--c_d"), "a_b_c_d");
    }
}
