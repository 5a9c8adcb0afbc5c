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
use crate::sql::quote_ident;

mod blocks;
mod builtin;
mod custom;
mod dbt_utils;
mod names;

pub use blocks::{generic_tests, package_tests};

/// The generic tests stackc implements, by the name a schema file gives.
const BUILTIN: &[(&str, &dyn GenericTest)] = &[
    ("not_null", &builtin::NotNull),
    ("unique", &builtin::Unique),
    ("accepted_values", &builtin::AcceptedValues),
    ("relationships", &builtin::Relationships),
    ("accepted_range", &dbt_utils::AcceptedRange),
    ("expression_is_true", &dbt_utils::ExpressionIsTrue),
];

fn builtin(kind: &str) -> Option<&'static dyn GenericTest> {
    BUILTIN
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, test)| *test)
}

/// One kind of generic test: the SQL that returns its failing rows.
trait GenericTest {
    /// `None` when the entry is wrong (reported in `diagnostics`) or names a
    /// model that failed to render (already reported).
    fn sql(&self, cx: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made>;
}

/// The kind a test entry names.
enum Kind {
    Builtin(&'static dyn GenericTest),
    /// A `{% test %}` block of the project or of a package.
    Macro(custom::Macro),
}

/// One test entry, as its kind sees it.
struct Call<'a> {
    spec: &'a TestSpec,
    target: &'a Target<'a>,
    /// The column's SQL: the column the test is under, or its `column_name`.
    column: Option<&'a str>,
    /// The SQL of the column the test is written under (not `column_name`).
    under: Option<&'a str>,
    /// The target's relation, or with a `where`, the filtered subquery.
    from: &'a str,
}

impl Call<'_> {
    fn fail(&self, message: String, help: &str) -> Diagnostic {
        Diagnostic::new(Code::E0310, message)
            .at(self.spec.span.clone())
            .help(help.to_string())
    }

    /// The column, or an error for a test that needs one.
    fn needs_column(&self, kind: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<&str> {
        if self.column.is_none() {
            diagnostics.push(self.fail(
                format!("`{kind}` needs a column: put it under a column, or give `column_name`"),
                "move the test under `columns: - name: <col>  data_tests: [...]`",
            ));
        }
        self.column
    }

    fn arg(&self, key: &str) -> Option<&serde_json::Value> {
        self.spec.args.get(key)
    }
}

/// A test's SQL and the nodes it reads besides its target.
struct Made {
    sql: String,
    depends_on: Vec<String>,
}

impl Made {
    fn of(sql: String) -> Option<Made> {
        Some(Made {
            sql,
            depends_on: Vec::new(),
        })
    }
}

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
        if !spec.enabled {
            return None;
        }
        let rendered;
        let spec = match self.native_args(spec, diagnostics)? {
            Some(s) => {
                rendered = s;
                &rendered
            }
            None => spec,
        };
        let kind = match self.kind_of(spec) {
            Ok(kind) => kind,
            Err(unknown) => {
                diagnostics.push(unknown);
                return None;
            }
        };
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
            None => relation,
        };
        let call = Call {
            spec,
            target,
            column: col_sql.as_deref(),
            under: column.as_ref().map(|(_, sql)| sql.as_str()),
            from: &from,
        };
        let made = match &kind {
            Kind::Builtin(test) => test.sql(self, &call, diagnostics),
            Kind::Macro(test) => test.sql(self, &call, diagnostics),
        }?;
        let mut depends_on = vec![target.id.clone()];
        depends_on.extend(made.depends_on);
        let sql = match spec.limit {
            Some(n) => format!(
                "select *\nfrom (\n{}) as dbt_limited\nlimit {n}\n",
                made.sql
            ),
            None => made.sql,
        };
        let names = names::of(target, spec, column.as_ref().map(|(written, _)| *written));
        Some(DataTest {
            unique_id: String::new(),
            name: names.name,
            hash: names.hash,
            kind: spec.kind.clone(),
            attached_to: target.id.clone(),
            column: col_label,
            sql,
            severity: spec.severity,
            error_if: spec.error_if.clone(),
            warn_if: spec.warn_if.clone(),
            depends_on,
            span: spec.span.clone(),
            fail_calc: spec.fail_calc.clone(),
            description: spec.description.clone(),
            tags: spec.node_tags(),
            config_tags: spec.config_tags(),
            store: crate::node::StoredFailures::of(&spec.store, &names.alias),
            alias: names.alias,
        })
    }

    /// The kind a test entry names, as dbt looks it up: a package's test by
    /// its name (`pkg.t`), the project's own, stackc's, then a package's
    /// alone when neither the project nor stackc has one of that name.
    fn kind_of(&self, spec: &TestSpec) -> Result<Kind, Diagnostic> {
        let package = match &spec.namespace {
            Some(ns) => self
                .generic
                .package_tests
                .contains(&(ns.clone(), spec.kind.clone()))
                .then(|| ns.clone()),
            None if !self.generic.names.contains(&spec.kind) && builtin(&spec.kind).is_none() => {
                self.generic
                    .package_tests
                    .iter()
                    .find(|(_, name)| *name == spec.kind)
                    .map(|(ns, _)| ns.clone())
            }
            None => None,
        };
        if package.is_some()
            || (spec.namespace.is_none() && self.generic.names.contains(&spec.kind))
        {
            return Ok(Kind::Macro(custom::Macro { package }));
        }
        // dbt's own tests, and the dbt_utils ones stackc implements, may be
        // written with their package's name.
        if matches!(spec.namespace.as_deref(), None | Some("dbt" | "dbt_utils")) {
            if let Some(test) = builtin(&spec.kind) {
                return Ok(Kind::Builtin(test));
            }
        }
        let kinds: Vec<&str> = BUILTIN.iter().map(|(name, _)| *name).collect();
        let help = match crate::suggest::closest(&spec.kind, kinds.iter().copied()) {
            Some(close) => format!(
                "did you mean `{close}`? generic tests: {}",
                kinds.join(", ")
            ),
            None => format!(
                "generic tests: {}; write other checks as singular tests in tests/*.sql",
                kinds.join(", ")
            ),
        };
        let written = match &spec.namespace {
            Some(ns) => format!("{ns}.{}", spec.kind),
            None => spec.kind.clone(),
        };
        Err(
            Diagnostic::new(Code::E0310, format!("unknown test `{written}`"))
                .at(spec.span.clone())
                .help(help),
        )
    }
}
