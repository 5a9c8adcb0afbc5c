//! Data tests: generic tests from schema files compiled to SQL that returns
//! the failing rows, as dbt does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{seed_id, source_id};
use crate::node::{DataTest, Model, ResolvedSeed, ResolvedSource};
use crate::relation::Relation;
use crate::render::{Relations, Renderer};
use crate::schema::{ModelEntry, TestSpec};
use crate::sql::{literal, quote_ident};

mod blocks;
mod builtin;
mod custom;
mod names;

pub use blocks::{generic_tests, package_tests};
use names::{dbt_test_hash, dbt_test_name};

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
                if let Some(columns) = self.parent_columns(to) {
                    if !columns.iter().any(|c| c == field) {
                        let at = spec.arg_spans.get("field").unwrap_or(&spec.span);
                        let help = match crate::suggest::closest(
                            field,
                            columns.iter().map(String::as_str),
                        ) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => format!("its columns: {}", columns.join(", ")),
                        };
                        diagnostics.push(
                            Diagnostic::new(
                                Code::E0306,
                                format!("relationships test: `{to}` has no column `{field}`"),
                            )
                            .at(at.clone())
                            .help(help),
                        );
                        return None;
                    }
                }
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
}
