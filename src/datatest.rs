//! Data tests: generic tests from schema files compiled to SQL that returns
//! the failing rows, as dbt does.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::Materialization;
use crate::diagnostic::{Diagnostic, Span};
use crate::graph::{ref_id, seed_id, source_id};
use crate::render::{Relation, Relations};
use crate::resolve::Model;
use crate::schema::{
    ModelEntry, SeedEntry, SourceEntry, SourceTable, TestSeverity, TestSpec, UnitInputKind,
};
use crate::seed::Seed;
use crate::sql::{literal, quote_ident};

const KINDS: &[&str] = &[
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "accepted_range",
    "expression_is_true",
];

#[derive(Debug, Clone)]
pub struct DataTest {
    pub unique_id: String,
    pub name: String,
    pub kind: String,
    /// The node under test.
    pub attached_to: String,
    pub column: Option<String>,
    /// A query whose rows are the failures.
    pub sql: String,
    pub severity: TestSeverity,
    pub error_if: String,
    pub warn_if: String,
    pub depends_on: Vec<String>,
    pub span: Span,
}

/// What a test is attached to.
struct Target<'a> {
    id: String,
    /// Name used in the test's name: `stg_orders`, `raw_orders`.
    label: String,
    relation: &'a Relation,
}

#[allow(clippy::too_many_arguments)] // the inputs are the project's parts, each used once
pub fn build(
    project: &str,
    entries: &BTreeMap<String, Arc<ModelEntry>>,
    seeds: &BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
    sources: &BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
    models: &BTreeMap<String, Model>,
    relations: &Relations,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<DataTest> {
    let mut out = Vec::new();
    let cx = Cx {
        project,
        seeds,
        sources,
        models,
        relations,
    };
    // Tests of models, most of a project's, are made in parallel, in
    // order.
    let entries: Vec<(&String, &Arc<ModelEntry>)> = entries.iter().collect();
    let made: Vec<(Vec<DataTest>, Vec<Diagnostic>)> = entries
        .par_iter()
        .map(|(name, entry)| {
            let mut tests = Vec::new();
            let mut local = Vec::new();
            let Some(model) = models.get(*name) else {
                return (tests, local); // disabled, or failed to render (already reported)
            };
            let has_tests =
                !entry.tests.is_empty() || entry.columns.iter().any(|c| !c.tests.is_empty());
            if has_tests && model.config.materialized == Materialization::Ephemeral {
                local.push(
                    Diagnostic::new(
                        "E0310",
                        format!("ephemeral model `{name}` cannot be tested: it is not a relation"),
                    )
                    .at(entry.span.clone())
                    .help("materialize it as a view to test it"),
                );
                return (tests, local);
            }
            let target = Target {
                id: crate::graph::model_id(project, name),
                label: (*name).clone(),
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
    for (name, (_, entry, relation)) in seeds {
        if let Some(entry) = entry {
            let target = Target {
                id: seed_id(project, name),
                label: name.clone(),
                relation,
            };
            cx.tests_of(&target, &entry.tests, &entry.columns, &mut out, diagnostics);
        }
    }
    for ((source, table), (_, t, relation)) in sources {
        let target = Target {
            id: source_id(project, source, table),
            label: format!("source_{source}_{table}"),
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
        }
        t.unique_id = format!("test.{project}.{}", t.name);
    });
    out
}

struct Cx<'a> {
    project: &'a str,
    seeds: &'a BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
    sources: &'a BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
    models: &'a BTreeMap<String, Model>,
    relations: &'a Relations,
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
            Diagnostic::new("E0310", message)
                .at(spec.span.clone())
                .help(help.to_string())
        };
        if !KINDS.contains(&spec.kind.as_str()) {
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
            diagnostics.push(fail(format!("unknown test `{}`", spec.kind), &help));
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
                    Ok(found) => found,
                    Err(problem) => {
                        let at = spec.arg_spans.get("to").unwrap_or(&spec.span);
                        diagnostics.push(
                            Diagnostic::new("E0306", problem.0)
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
        let name = match &col_label {
            Some(c) => format!("{}_{}_{}", spec.kind, target.label, sanitize(c)),
            None => format!("{}_{}", spec.kind, target.label),
        };
        Some(DataTest {
            unique_id: String::new(),
            name,
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

    /// `ref('m')` or `source('s', 't')` as written in a `to:` argument.
    fn resolve_to(&self, to: &str) -> Result<(String, String), (String, String)> {
        match crate::schema::parse_input(to) {
            Some(UnitInputKind::Ref(name)) => {
                if let Some(rel) = self.relations.models.get(&name) {
                    if self.models.contains_key(&name) || self.seeds.contains_key(&name) {
                        return Ok((ref_id(self.project, &name, self.seeds), rel.to_string()));
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
                if let Some((_, _, rel)) = self.sources.get(&(s.clone(), t.clone())) {
                    return Ok((source_id(self.project, &s, &t), rel.to_string()));
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

fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    out.trim_matches('_').to_string()
}
