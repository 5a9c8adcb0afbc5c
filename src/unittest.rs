//! Unit tests: a model rendered against fixed input rows, compiled to a
//! script that a runner executes in a transaction it rolls back.
//!
//! Each input (`ref`, `source` or `this`) becomes a temporary table shaped
//! like the real relation (`create temporary table ... (like ...)`), so the
//! rows take the real column types; the model is rendered with its inputs
//! pointing at those tables. The script ends with a check query, after the
//! line [`CHECK_MARKER`], that returns one row per difference.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Severity, Span};
use crate::node::{model_columns, CompiledUnitTest, Model, ResolvedSeed, ResolvedSource};
use crate::relation::Relation;
use crate::render::{Relations, RenderInput, Renderer};
use crate::schema::{UnitInput, UnitInputKind, UnitTest};
use crate::sql::{literal, quote_ident};

/// The line before a unit test script's check query.
pub use crate::manifest::CHECK_MARKER;

pub struct Inputs<'a> {
    pub models: &'a BTreeMap<String, Model>,
    pub seeds: &'a BTreeMap<String, ResolvedSeed>,
    pub sources: &'a BTreeMap<(String, String), ResolvedSource>,
    pub relations: &'a Arc<Relations>,
    pub vars: &'a BTreeMap<String, serde_json::Value>,
    /// Models whose file exists but failed to render (already reported):
    /// their unit tests are skipped without a second error.
    pub failed: &'a BTreeSet<String>,
    /// A dbt project: columns known only from a schema file (which need not
    /// list them all) are checked with a warning, not an error.
    pub dbt: bool,
    /// In a dbt project: dbt's `model` of each unit-tested model, and
    /// `graph`, for the model's render.
    pub model_values: &'a BTreeMap<String, minijinja::Value>,
    pub graph: Option<&'a minijinja::Value>,
}

pub fn compile(
    tests: &[(Arc<str>, &UnitTest)],
    renderer: &Renderer,
    inputs: &Inputs<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<CompiledUnitTest> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<(&str, &str), &Span> = BTreeMap::new();
    for (file, test) in tests {
        if let Some(first) = seen.get(&(test.model.as_str(), test.name.as_str())) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0311,
                    format!(
                        "unit test `{}` of `{}` is defined twice",
                        test.name, test.model
                    ),
                )
                .at(test.span.clone())
                .related((*first).clone(), "first defined here")
                .help("give each unit test of a model its own name"),
            );
            continue;
        }
        seen.insert((&test.model, &test.name), &test.span);
        if let Some(compiled) = compile_one(file, test, renderer, inputs, diagnostics) {
            out.push(compiled);
        }
    }
    out
}

fn error(at: &Span, message: String, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0311, message)
        .at(at.clone())
        .help(help)
}

fn input_label(kind: &UnitInputKind) -> String {
    match kind {
        UnitInputKind::Ref(name) => format!("ref('{name}')"),
        UnitInputKind::Source(s, t) => format!("source('{s}', '{t}')"),
        UnitInputKind::This => "this".to_string(),
    }
}

/// Kept within PostgreSQL's 63 bytes: a long model name would otherwise
/// be cut, and two inputs whose names start alike would be one table.
fn temp_name(kind: &UnitInputKind) -> String {
    let name = match kind {
        UnitInputKind::Ref(name) => format!("stackc_unit_ref_{name}"),
        UnitInputKind::Source(s, t) => format!("stackc_unit_source_{s}_{t}"),
        UnitInputKind::This => "stackc_unit_this".to_string(),
    };
    crate::sql::fit_identifier(&name).into_owned()
}

fn compile_one(
    file: &Arc<str>,
    test: &UnitTest,
    renderer: &Renderer,
    inputs: &Inputs<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CompiledUnitTest> {
    let model = tested_model(test, inputs, diagnostics)?;
    let is_incremental = test.is_incremental.unwrap_or(false);
    let before = diagnostics.len();
    let reads = model_reads(model, is_incremental);
    let given = given_inputs(test, model, &reads, diagnostics);
    let stand_ins = stand_ins(&given, model, inputs, diagnostics);
    check_expected(test, model, inputs, diagnostics);
    if diagnostics[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    let sql = render_model(
        test,
        model,
        stand_ins.relations,
        given.contains_key(&UnitInputKind::This),
        renderer,
        inputs,
        diagnostics,
    )?;
    Some(CompiledUnitTest {
        name: test.name.clone(),
        model: model.name.clone(),
        file: Arc::clone(file),
        description: test.description.clone(),
        script: script(file, test, model, &stand_ins.setup, &sql),
    })
}

/// The model a unit test names; `None` (reported, unless the model failed
/// to render) when there is none.
fn tested_model<'m>(
    test: &UnitTest,
    inputs: &Inputs<'m>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<&'m Model> {
    if let Some(model) = inputs.models.get(&test.model) {
        return Some(model);
    }
    if inputs.failed.contains(&test.model) {
        return None;
    }
    let help = match crate::suggest::closest(&test.model, inputs.models.keys().map(String::as_str))
    {
        Some(close) => format!("did you mean `{close}`?"),
        None => "name a model of this project in `model:`".to_string(),
    };
    diagnostics.push(error(
        &test.model_span,
        format!(
            "unit test `{}` tests `{}`, which is not a model",
            test.name, test.model
        ),
        help,
    ));
    None
}

/// What the model reads, as written in the rendering that the test uses.
fn model_reads(model: &Model, is_incremental: bool) -> BTreeSet<UnitInputKind> {
    let rendered = if is_incremental {
        model.incremental.as_ref().unwrap_or(&model.full)
    } else {
        &model.full
    };
    let mut reads: BTreeSet<UnitInputKind> = rendered
        .calls
        .refs
        .iter()
        .cloned()
        .map(UnitInputKind::Ref)
        .collect();
    reads.extend(
        rendered
            .calls
            .sources
            .iter()
            .map(|(s, t)| UnitInputKind::Source(s.clone(), t.clone())),
    );
    if is_incremental {
        reads.insert(UnitInputKind::This);
    }
    reads
}

/// The test's inputs by what they stand for, each checked against what the
/// model reads: given once, read by the model, and none missing.
fn given_inputs<'t>(
    test: &'t UnitTest,
    model: &Model,
    reads: &BTreeSet<UnitInputKind>,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<&'t UnitInputKind, &'t UnitInput> {
    let mut given: BTreeMap<&UnitInputKind, &UnitInput> = BTreeMap::new();
    for input in &test.given {
        if given.insert(&input.kind, input).is_some() {
            diagnostics.push(error(
                &input.span,
                format!("{} is given twice", input_label(&input.kind)),
                "merge the rows into one entry",
            ));
        }
        if !reads.contains(&input.kind) {
            let help = if input.kind == UnitInputKind::This {
                "`this` is an input only when the test sets overrides: {macros: {is_incremental: true}}".to_string()
            } else {
                format!(
                    "`{}` reads: {}",
                    model.name,
                    reads.iter().map(input_label).collect::<Vec<_>>().join(", ")
                )
            };
            diagnostics.push(error(
                &input.span,
                format!(
                    "`{}` does not read {}",
                    model.name,
                    input_label(&input.kind)
                ),
                help,
            ));
        }
    }
    for kind in reads {
        if !given.contains_key(kind) {
            diagnostics.push(error(
                &test.span,
                format!(
                    "unit test `{}` gives no rows for {}, which `{}` reads",
                    test.name,
                    input_label(kind),
                    model.name
                ),
                format!(
                    "add `- input: {}` with `rows: []` for an empty input",
                    input_label(kind)
                ),
            ));
        }
    }
    given
}

/// The real relation an input stands for, and its columns where the
/// project knows them.
struct Shape {
    real: Relation,
    columns: Option<Vec<String>>,
    /// The columns come from the query or the CSV header, not from a schema
    /// file that may list only some of them.
    complete: bool,
}

fn shape_of(kind: &UnitInputKind, model: &Model, inputs: &Inputs<'_>) -> Option<Shape> {
    match kind {
        UnitInputKind::Ref(name) => match (inputs.models.get(name), inputs.seeds.get(name)) {
            (Some(m), _) => Some(Shape {
                real: m.relation.clone(),
                columns: model_columns(m),
                complete: m.columns.is_some(),
            }),
            (
                None,
                Some(ResolvedSeed {
                    seed,
                    relation: rel,
                    ..
                }),
            ) => Some(Shape {
                real: rel.clone(),
                columns: Some(seed.columns.clone()),
                complete: true,
            }),
            (None, None) => None,
        },
        UnitInputKind::Source(s, t) => {
            let ResolvedSource {
                table,
                relation: rel,
                ..
            } = inputs.sources.get(&(s.clone(), t.clone()))?;
            let cols: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
            Some(Shape {
                real: rel.clone(),
                columns: (!cols.is_empty()).then_some(cols),
                complete: false,
            })
        }
        UnitInputKind::This => Some(Shape {
            real: Relation {
                cte: None,
                ..model.relation.clone()
            },
            columns: model_columns(model),
            complete: model.columns.is_some(),
        }),
    }
}

/// The temporary tables that stand in for the inputs, and the relations
/// the model is rendered with, pointing at them.
struct StandIns {
    relations: Relations,
    /// Creates and fills the temporary tables.
    setup: String,
}

fn stand_ins(
    given: &BTreeMap<&UnitInputKind, &UnitInput>,
    model: &Model,
    inputs: &Inputs<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> StandIns {
    let mut relations = (**inputs.relations).clone();
    let mut setup = String::new();
    for (kind, input) in given {
        let Some(shape) = shape_of(kind, model, inputs) else {
            continue; // not read by the model: reported already
        };
        // In a dbt project a schema file need not list every column: a
        // column it does not list may well exist, so only a complete list
        // (the query's own, a seed's header) is checked.
        if let Some(cols) = shape
            .columns
            .as_ref()
            .filter(|_| shape.complete || !inputs.dbt)
        {
            let what = format!("the rows for {}", input_label(kind));
            let code = Code::E0311;
            check_row_columns(&input.rows, cols, &input.span, &what, code, diagnostics);
        }
        let temp = temp_name(kind);
        let _ = writeln!(
            setup,
            "create temporary table {} (like {});",
            quote_ident(&temp),
            shape.real
        );
        setup.push_str(&insert_rows(&temp, &input.rows));
        let replacement = Relation {
            schema: "pg_temp".into(),
            name: temp,
            quote: false,
            cte: None,
        };
        match kind {
            UnitInputKind::Ref(name) => {
                relations.models.insert(name.clone(), replacement);
            }
            UnitInputKind::Source(s, t) => {
                relations
                    .sources
                    .insert((s.clone(), t.clone()), replacement);
            }
            UnitInputKind::This => {}
        }
    }
    StandIns { relations, setup }
}

/// The expected rows name only the model's columns, where they are known.
fn check_expected(
    test: &UnitTest,
    model: &Model,
    inputs: &Inputs<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if let Some(cols) = model_columns(model).filter(|_| model.columns.is_some() || !inputs.dbt) {
        let what = format!("the expected rows of `{}`", model.name);
        let code = Code::E0311;
        check_row_columns(
            &test.expect,
            &cols,
            &test.expect_span,
            &what,
            code,
            diagnostics,
        );
    }
}

/// The model's query rendered against the stand-ins, with the test's vars.
fn render_model(
    test: &UnitTest,
    model: &Model,
    relations: Relations,
    this_given: bool,
    renderer: &Renderer,
    inputs: &Inputs<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    let is_incremental = test.is_incremental.unwrap_or(false);
    let this = this_given.then(|| Relation {
        schema: "pg_temp".into(),
        name: temp_name(&UnitInputKind::This),
        quote: false,
        cte: None,
    });
    let mut vars = inputs.vars.clone();
    vars.extend(test.vars.clone());
    let rendered = match renderer.render(RenderInput {
        file: &model.file,
        relations: &Arc::new(relations),
        vars: &Arc::new(vars),
        this: this.or_else(|| {
            Some(Relation {
                cte: None,
                ..model.relation.clone()
            })
        }),
        is_incremental,
        model: inputs.model_values.get(&model.name).cloned(),
        graph: inputs.graph.cloned(),
    }) {
        Ok(r) => r,
        Err(d) => {
            diagnostics.push(d);
            return None;
        }
    };
    let sql = rendered.sql.trim_end().trim_end_matches(';').trim_end();
    // An incremental run also applies the lookback filter stackc writes from
    // config(event_time, lookback); the test sees the rows that run would.
    Some(
        match (
            is_incremental,
            &model.config.event_time,
            &model.config.lookback,
        ) {
            (true, Some(event_time), Some(lookback)) => {
                let col = quote_ident(event_time);
                format!(
                    "select *\nfrom (\n{sql}\n) as stackc_source\nwhere {col} > (select coalesce(max({col}) - interval {}, '-infinity') from pg_temp.{})",
                    literal(lookback),
                    temp_name(&UnitInputKind::This)
                )
            }
            _ => sql.to_string(),
        },
    )
}

/// The test's script: the stand-ins, the model's rows and the expected
/// ones as temporary tables, then the check query after [`CHECK_MARKER`].
fn script(file: &str, test: &UnitTest, model: &Model, setup: &str, sql: &str) -> String {
    let mut script = format!(
        "-- stackc: unit test {} of model {}\n-- source: {}\n-- Run in a transaction that is rolled back: the inputs are temporary tables\n-- shaped like the real relations, and the model reads them instead.\n\n",
        crate::sql::comment(&test.name),
        crate::sql::comment(&model.relation.to_string()),
        crate::sql::comment(file)
    );
    script.push_str(setup);
    let _ = write!(script, "\ncreate temporary table stackc_unit_actual as\n{sql}\n;\n\ncreate temporary table stackc_unit_expected (like stackc_unit_actual);\n");
    script.push_str(&insert_rows("stackc_unit_expected", &test.expect));
    let columns: BTreeSet<&String> = test.expect.iter().flat_map(|r| r.keys()).collect();
    let _ = writeln!(script, "\n{CHECK_MARKER}");
    if columns.is_empty() {
        script.push_str("select 'unexpected' as stackc_diff, *\nfrom stackc_unit_actual\n");
    } else {
        let list: Vec<String> = columns
            .iter()
            .map(|c| quote_ident(c).into_owned())
            .collect();
        let list = list.join(", ");
        let _ = write!(
            script,
            "select 'missing' as stackc_diff, {list}\nfrom (select {list} from stackc_unit_expected except all select {list} from stackc_unit_actual) as missing\nunion all\nselect 'unexpected' as stackc_diff, {list}\nfrom (select {list} from stackc_unit_actual except all select {list} from stackc_unit_expected) as unexpected\n"
        );
    }
    script
}

fn check_row_columns(
    rows: &[BTreeMap<String, serde_json::Value>],
    columns: &[String],
    at: &Span,
    what: &str,
    code: Code,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let unknown: BTreeSet<&String> = rows
        .iter()
        .flat_map(|r| r.keys())
        .filter(|k| !columns.contains(k))
        .collect();
    for column in unknown {
        let help = match crate::suggest::closest(column, columns.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None if code.severity() == Severity::Warning => format!(
                "the schema file lists: {}; if the column is not there, the unit test fails when it runs",
                columns.join(", ")
            ),
            None => format!("its columns are: {}", columns.join(", ")),
        };
        let message = if code.severity() == Severity::Warning {
            format!("{what} name column `{column}`, which the schema file does not list")
        } else {
            format!("{what} name column `{column}`, which is not there")
        };
        diagnostics.push(Diagnostic::new(code, message).at(at.clone()).help(help));
    }
}

fn insert_rows(table: &str, rows: &[BTreeMap<String, serde_json::Value>]) -> String {
    let mut s = String::new();
    for row in rows {
        if row.is_empty() {
            let _ = writeln!(s, "insert into {} default values;", quote_ident(table));
            continue;
        }
        let cols: Vec<String> = row.keys().map(|c| quote_ident(c).into_owned()).collect();
        let values: Vec<String> = row.values().map(value_sql).collect();
        let _ = writeln!(
            s,
            "insert into {} ({}) values ({});",
            quote_ident(table),
            cols.join(", "),
            values.join(", ")
        );
    }
    s
}

/// A YAML value as a SQL literal; the column type of the temporary table
/// decides how PostgreSQL reads it.
fn value_sql(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => literal(s),
        other => literal(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_keep_types_to_the_table() {
        assert_eq!(value_sql(&serde_json::json!("it's")), "'it''s'");
        assert_eq!(value_sql(&serde_json::json!(1.5)), "1.5");
        assert_eq!(value_sql(&serde_json::json!(null)), "null");
        assert_eq!(value_sql(&serde_json::json!({"a": 1})), "'{\"a\":1}'");
    }

    #[test]
    fn rows_become_inserts() {
        let rows = vec![BTreeMap::from([
            ("id".to_string(), serde_json::json!(1)),
            ("name".to_string(), serde_json::json!("x")),
        ])];
        assert_eq!(
            insert_rows("t", &rows),
            "insert into t (id, name) values (1, 'x');\n"
        );
    }
}
