//! Checks of each rendered query: its refs and sources, its SQL, its columns
//! and contract.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::config::{self, Materialization};
use crate::diagnostic::{offset_of, Code, Diagnostic, Span};
use crate::node::{contract_enforced, model_columns, Model, ResolvedSource, SingularTest};
use crate::parse_cache::ParseCache;
use crate::project::{ModelFile, SourceFile};
use crate::render::{call_span, Calls, Relations, RenderInput, Rendered, Renderer};
use crate::schema::{Column, UnitInputKind};
use crate::sql::{ParsedQuery, QueryProblem};

use super::entries::strict_code;

/// Where the model's file spells column `c` (its last mention, where an
/// alias usually is), else the file's start.
pub(super) fn column_span(m: &Model, c: &str) -> Span {
    let at = m.file.text.rfind(c).map_or(0..0, |i| i..i + c.len());
    Span::new(&m.file.path, at)
}

/// Relation names (lower-cased, as PostgreSQL folds them) that a query
/// should reach through `ref` or `source`, with the call to use instead.
pub(super) fn hard_coded_names(relations: &Relations) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (name, rel) in &relations.models {
        if rel.cte.is_none() {
            out.insert(
                (rel.schema.clone(), rel.name.clone()),
                format!("{{{{ ref('{name}') }}}}"),
            );
        }
    }
    for ((source, table), rel) in &relations.sources {
        let name = if rel.quote {
            rel.name.clone()
        } else {
            rel.name.to_lowercase()
        };
        out.insert(
            (rel.schema.clone(), name),
            format!("{{{{ source('{source}', '{table}') }}}}"),
        );
    }
    out
}

pub(super) fn check_refs(
    m: &ModelFile,
    calls: &Calls,
    known: &BTreeSet<&str>,
    relations: &Relations,
    rejected: &[&str],
    diagnostics: &mut Vec<Diagnostic>,
) {
    for name in &calls.refs {
        let span = call_span(&m.file, "ref", name);
        if name == &m.name {
            diagnostics.push(
                Diagnostic::new(Code::E0304, format!("model `{name}` refers to itself with ref()"))
                    .at(span)
                    .help("use {{ this }} to refer to the model's own relation (e.g. in an incremental filter)"),
            );
        } else if !known.contains(name.as_str()) {
            let mut d =
                Diagnostic::new(Code::E0301, format!("ref('{name}') names no model or seed"))
                    .at(span);
            d = match crate::suggest::closest(name, known.iter().copied()) {
                Some(close) => d.help(format!("did you mean ref('{close}')?")),
                None => d.help("models are models/**/<name>.sql and seeds seeds/<name>.csv"),
            };
            diagnostics.push(d);
        }
    }
    for (source, table) in &calls.sources {
        if relations
            .sources
            .contains_key(&(source.clone(), table.clone()))
        {
            continue;
        }
        // A schema file that could not be read (already reported) may be
        // where it is declared.
        if rejected
            .iter()
            .any(|text| text.contains(source.as_str()) && text.contains(table.as_str()))
        {
            continue;
        }
        let span = call_span(&m.file, "source", table);
        diagnostics.push(unknown_source(source, table, span, relations));
    }
}

pub(super) fn unknown_source(
    source: &str,
    table: &str,
    span: Span,
    relations: &Relations,
) -> Diagnostic {
    let candidates: Vec<String> = relations
        .sources
        .keys()
        .map(|(s, t)| format!("{s}.{t}"))
        .collect();
    let wanted = format!("{source}.{table}");
    let mut d = Diagnostic::new(
        Code::E0302,
        format!("source('{source}', '{table}') is not declared"),
    )
    .at(span);
    d = match crate::suggest::closest(&wanted, candidates.iter().map(String::as_str)) {
        Some(close) => {
            let (s, t) = close.split_once('.').unwrap_or((close, ""));
            d.help(format!("did you mean source('{s}', '{t}')?"))
        }
        None => d.help(format!(
            "declare it in a schema file: sources: [{{name: {source}, tables: [{{name: {table}}}]}}]"
        )),
    };
    d
}

/// Checks a rendered query; returns its output columns when it parses and
/// its select list names them all.
pub(super) fn check_query(
    r: &Rendered,
    parse_cache: &ParseCache,
    hard_coded: &BTreeMap<(String, String), String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    check_parsed(r, parse_cache.parse_query(&r.sql), hard_coded, diagnostics)
}

/// [`check_query`] of what parsing `r` made.
pub(super) fn check_parsed(
    r: &Rendered,
    parsed: Result<ParsedQuery, QueryProblem>,
    hard_coded: &BTreeMap<(String, String), String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    match parsed {
        Ok(parsed) => {
            let columns = parsed.columns;
            for rel in parsed.relations {
                if rel.parts.len() < 2 {
                    continue;
                }
                let n = rel.parts.len();
                let key = (rel.parts[n - 2].clone(), rel.parts[n - 1].clone());
                let Some(instead) = hard_coded.get(&key) else {
                    continue;
                };
                let start = offset_of(&r.sql, rel.start.0, rel.start.1);
                let end = offset_of(&r.sql, rel.end.0, rel.end.1);
                if !r.is_raw(start) {
                    continue;
                }
                diagnostics.push(
                    Diagnostic::new(
                        Code::W0203,
                        format!("`{}.{}` is hard-coded; use {instead}", key.0, key.1),
                    )
                    .at(r.source_range(start..end))
                    .help(format!(
                        "write {instead} so the dependency is in the graph and runs in order"
                    )),
                );
            }
            columns
        }
        Err(QueryProblem::Syntax(e)) => {
            let offset = offset_of(&r.sql, e.line, e.column);
            diagnostics.push(
                Diagnostic::new(Code::E0201, format!("SQL syntax error: {}", e.message))
                    .at(r.source_span(offset))
                    .help("fix the SQL here; if PostgreSQL accepts it but the checker does not, set {{ config(sql_check=false) }}"),
            );
            None
        }
        Err(QueryProblem::TooDeep(e)) => {
            let offset = offset_of(&r.sql, e.line, e.column);
            diagnostics.push(
                Diagnostic::new(Code::E0220, e.message)
                    .at(r.source_span(offset))
                    .help("split the expression (a CTE per part, or `in (...)` instead of a chain of `or`); or set {{ config(sql_check=false) }} to skip the check"),
            );
            None
        }
        Err(QueryProblem::NotAQuery { what }) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0204,
                    format!("a model must be one query, but this is {what}"),
                )
                .at(Span::new(&r.file, 0..0))
                .help("write a single SELECT (CTEs welcome); DDL belongs in migrations/"),
            );
            None
        }
        Err(QueryProblem::Empty) => {
            diagnostics.push(
                Diagnostic::new(Code::E0204, "the file renders to no SQL at all")
                    .at(Span::new(&r.file, 0..0))
                    .help("write a SELECT, or delete the file"),
            );
            None
        }
    }
}

/// `merge` needs the model's columns by name; they come from the schema
/// file or from the query's select list.
pub(super) fn check_columns_for_merge(
    models: &BTreeMap<String, Model>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for m in models.values() {
        if m.config.materialized != Materialization::Incremental
            || m.config.effective_strategy() != config::Strategy::Merge
        {
            continue;
        }
        if model_columns(m).is_none() {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0308,
                    format!("incremental_strategy `merge` needs the columns of `{}`, but its select list uses `*`", m.name),
                )
                .at(m
                    .config
                    .spans
                    .get("incremental_strategy")
                    .cloned()
                    .unwrap_or_else(|| Span::new(&m.file.path, 0..0)))
                .help("list the columns in the select, or under `columns:` in the model's schema file"),
            );
        }
    }
}

/// An enforced contract needs every column's `data_type`, and the model
/// must select exactly the contract's columns (dbt refuses both too).
pub(super) fn check_contracts(
    models: &BTreeMap<String, Model>,
    known: &BTreeSet<&str>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for m in models.values().filter(|m| contract_enforced(m)) {
        let at = m
            .config
            .spans
            .get("contract")
            .cloned()
            .or_else(|| m.entry.as_ref().map(|e| e.span.clone()))
            .unwrap_or_else(|| Span::new(&m.file.path, 0..0));
        let Some(entry) = m.entry.as_ref().filter(|e| !e.columns.is_empty()) else {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0330,
                    format!(
                        "`{}` enforces a contract but its schema file lists no columns",
                        m.name
                    ),
                )
                .at(at)
                .help("list every column with its data_type under the model's `columns:`"),
            );
            continue;
        };
        for c in entry.columns.iter().filter(|c| c.data_type.is_none()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0330,
                    format!(
                        "column `{}` of `{}` has no data_type, which its enforced contract needs",
                        c.name, m.name
                    ),
                )
                .at(c.span.clone())
                .help("add `data_type:` (a PostgreSQL type, e.g. integer, text, numeric(12, 2))"),
            );
        }
        let constraints = entry
            .columns
            .iter()
            .flat_map(|c| {
                c.constraints
                    .iter()
                    .map(move |k| (k, c.span.clone(), false))
            })
            .chain(
                entry
                    .constraints
                    .iter()
                    .map(|k| (k, entry.span.clone(), true)),
            );
        for (constraint, span, model_level) in constraints {
            let kind = constraint
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let supported = match kind {
                "not_null" => !model_level,
                "unique" | "primary_key" => true,
                "check" | "custom" => constraint.get("expression").is_some_and(|e| e.is_string()),
                "foreign_key" => match constraint.get("to").and_then(|t| t.as_str()) {
                    // dbt 1.9: `to: ref('m')` / `source('s', 't')` with `to_columns`.
                    Some(to) => {
                        // The relation it references must be in the project.
                        let target = match crate::schema::parse_input(to) {
                            Some(UnitInputKind::Ref(name)) => known.contains(name.as_str()),
                            Some(UnitInputKind::Source(s, t)) => sources.contains_key(&(s, t)),
                            _ => false,
                        };
                        target
                            && constraint
                                .get("to_columns")
                                .and_then(|c| c.as_array())
                                .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c.is_string()))
                    }
                    None => constraint.get("expression").is_some_and(|e| e.is_string()),
                },
                _ => false,
            };
            if !supported {
                diagnostics.push(
                    Diagnostic::new(
                        Code::W0333,
                        format!("constraint `{kind}` of `{}` is not emitted", m.name),
                    )
                    .at(span)
                    .help("stackc emits not_null, unique, primary_key, check and custom (with `expression`), and foreign_key with `to:` (a ref or source of this project) and `to_columns: [id]`, or `expression: other_schema.table (column)`"),
                );
            }
        }
        if m.config.materialized != Materialization::Table && !entry.constraints.is_empty() {
            diagnostics.push(
                Diagnostic::new(
                    Code::W0333,
                    format!(
                        "the constraints of `{}` are emitted for tables only",
                        m.name
                    ),
                )
                .at(at.clone())
                .help("materialize the model as a table to have its constraints in the database"),
            );
        }
        if let Some(selected) = &m.columns {
            let listed: BTreeSet<String> = entry.columns.iter().map(Column::folded_name).collect();
            let chosen: BTreeSet<String> = selected.iter().cloned().collect();
            if listed != chosen {
                let missing: Vec<&String> = listed.difference(&chosen).collect();
                let extra: Vec<&String> = chosen.difference(&listed).collect();
                let list =
                    |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0331,
                        format!(
                            "`{}` does not select the columns of its contract (not selected: {}; not in the contract: {})",
                            m.name,
                            if missing.is_empty() { "none".into() } else { list(&missing) },
                            if extra.is_empty() { "none".into() } else { list(&extra) }
                        ),
                    )
                    .at(at)
                    .help("select exactly the columns the schema file lists, or change the list"),
                );
            }
        }
    }
}

/// A column the schema file describes must be one the model selects (when
/// its select list names them all): a renamed or dropped column otherwise
/// leaves tests and documentation about a column that is not there.
pub(super) fn check_described_columns(
    models: &BTreeMap<String, Model>,
    dbt: bool,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for m in models.values() {
        let (Some(entry), Some(selected)) = (&m.entry, m.columns.clone()) else {
            continue;
        };
        for c in &entry.columns {
            let name = c.folded_name();
            if !selected.contains(&name) {
                // dbt does not look at the columns a model selects.
                let mut d = Diagnostic::new(
                    strict_code(dbt, Code::E0305, Code::W0331),
                    format!(
                        "the schema file describes column `{}`, but `{}` does not select it",
                        c.name, m.name
                    ),
                )
                .at(c.span.clone());
                d = match crate::suggest::closest(&name, selected.iter().map(String::as_str)) {
                    Some(close) => d.help(format!("did you mean `{close}`? or remove the entry")),
                    None => d.help(format!("`{}` selects: {}", m.name, selected.join(", "))),
                };
                diagnostics.push(d);
            }
        }
    }
}

/// Singular tests, and analyses: each file one query, rendered and checked
/// (with dbt's `graph` in a dbt project, as dbt-codegen's tests read it).
#[allow(clippy::too_many_arguments)] // the render's inputs and the checks'
pub(super) fn single_queries(
    files: &[SourceFile],
    renderer: &Renderer,
    relations: &Arc<Relations>,
    vars: &Arc<BTreeMap<String, serde_json::Value>>,
    known: &BTreeSet<&str>,
    hard_coded: &BTreeMap<(String, String), String>,
    graph: Option<&minijinja::Value>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<SingularTest> {
    let mut out = Vec::new();
    for file in files {
        let name = file
            .path
            .rsplit('/')
            .next()
            .unwrap_or(&file.path)
            .trim_end_matches(".sql")
            .to_string();
        let rendered = match renderer.render(RenderInput {
            file,
            relations,
            vars,
            this: None,
            is_incremental: false,
            model: None,
            graph: graph.cloned(),
        }) {
            Ok(r) => r,
            Err(d) => {
                diagnostics.push(d);
                continue;
            }
        };
        let pseudo = ModelFile {
            file: file.clone(),
            name: name.clone(),
            folders: Vec::new(),
            snapshot: false,
        };
        check_refs(&pseudo, &rendered.calls, known, relations, &[], diagnostics);
        let sql_check = !rendered
            .calls
            .configs
            .iter()
            .any(|c| c.get("sql_check") == Some(&serde_json::Value::Bool(false)));
        if sql_check {
            // Singular tests are few: parsed on every compile.
            let _ = check_query(&rendered, &ParseCache::default(), hard_coded, diagnostics);
        }
        let mut refs = rendered.calls.refs.clone();
        refs.sort();
        refs.dedup();
        let mut sources = rendered.calls.sources.clone();
        sources.sort();
        sources.dedup();
        out.push(SingularTest {
            settings: crate::schema::TestSpec::new(
                "singular".into(),
                None,
                crate::diagnostic::Span::new(&file.path, 0..0),
            ),
            store: None,
            name,
            file: file.clone(),
            rendered,
            refs,
            sources,
        });
    }
    out
}
