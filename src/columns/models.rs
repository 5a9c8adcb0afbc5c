//! Every model's output columns, derived from its rendered SQL in
//! dependency order (a model's upstream columns are known before its own
//! query is read), into the catalog; the name-resolution diagnostics at
//! the user's line; each column's upstream columns by node.
//!
//! One level of the dependency graph at a time, the models of a level in
//! parallel: they read only the catalog as the levels before left it.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::cache::{self, ColumnCache, Lookups, Outcome};
use super::query::{self, Col, Kind, Lineage, Problem, ProblemKind, RelCols, RelKey};
use super::types::Ty;
use crate::catalog::{Catalog, CatalogColumn, ModelColumn, Upstream};
use crate::diagnostic::{offset_of, Code, Diagnostic};
use crate::parse_cache::ParseCache;
use crate::relation::Relation;
use crate::render::Rendered;
use crate::schema::ModelEntry;
use crate::sql::{ParsedQuery, QueryProblem};

/// One model to derive.
pub struct Job<'a> {
    pub name: &'a str,
    pub relation: &'a Relation,
    pub full: &'a Rendered,
    pub incremental: Option<&'a Rendered>,
    /// The models and seeds it reads.
    pub refs: &'a [String],
    pub entry: Option<&'a ModelEntry>,
    /// `config(sql_check=false)`: its SQL is not read, its columns are
    /// unknown (or what its schema file says).
    pub sql_check: bool,
    /// A snapshot's table has dbt's columns besides the query's: its
    /// names are checked, its columns left unknown.
    pub snapshot: bool,
}

/// Resolve's SQL check of a model's queries (E0201, E0204, W0203, ...),
/// which the column pass runs on the tree it parses: a model is parsed
/// once for both.
pub struct SqlCheck<'a> {
    pub parse_cache: &'a ParseCache,
    /// `false` only to measure the column pass (`STACKC_BENCH_NO_COLUMNS`,
    /// docs/benchmark.md): the SQL check runs, nothing is derived.
    pub derive: bool,
    /// The check of one rendered query from what parsing it made: its
    /// diagnostics, and the output columns its select list names.
    #[allow(clippy::type_complexity)]
    pub check: &'a (dyn Fn(
        &Rendered,
        Result<ParsedQuery, QueryProblem>,
        &mut Vec<Diagnostic>,
    ) -> Option<Vec<String>>
             + Sync),
}

/// What was derived of one model.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// The output columns its select list names (the SQL check's), when
    /// it names every one.
    pub select_list: Option<Vec<String>>,
    /// Its output columns, when all are known.
    pub columns: Option<Vec<ModelColumn>>,
    /// A snapshot's query's column names, when all are known: its
    /// `unique_key`, `updated_at` and `check_cols` must be among them.
    pub snapshot_query: Option<Vec<String>>,
}

/// Where lineage points: each relation's node, by its catalog key.
pub type Nodes = BTreeMap<RelKey, String>;

/// The catalog key of a model: an ephemeral model is the CTE its
/// references render as.
pub fn key_of(relation: &Relation) -> RelKey {
    match &relation.cte {
        Some(cte) => (String::new(), cte.clone()),
        None => (relation.schema.clone(), relation.name.clone()),
    }
}

/// Derives every job's columns into `catalog`, in dependency order.
pub fn derive(
    jobs: &[Job],
    catalog: &mut Catalog,
    nodes: &Nodes,
    cache: &ColumnCache,
    sql_check: &SqlCheck,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Derived> {
    let mut out = vec![Derived::default(); jobs.len()];
    for level in levels(jobs) {
        let results: Vec<(usize, One)> = level
            .par_iter()
            .map(|&i| (i, derive_one(&jobs[i], catalog, cache, sql_check)))
            .collect();
        for (i, one) in results {
            let One {
                columns: cols,
                select_list,
                diagnostics: local,
            } = one;
            out[i].select_list = select_list;
            diagnostics.extend(local);
            let (schema, name) = key_of(jobs[i].relation);
            catalog.settle(&schema, &name);
            let Some(cols) = cols else { continue };
            let job = &jobs[i];
            if job.snapshot {
                out[i].snapshot_query = Some(cols.into_iter().map(|c| c.name).collect());
                continue;
            }
            let declared = |name: &str| {
                job.entry?
                    .columns
                    .iter()
                    .find(|c| c.folded_name() == name)?
                    .data_type
                    .as_deref()
                    .map(crate::catalog::pg_type_name)
            };
            if let Some(entry) = job.entry {
                disagreements(job.name, entry, &cols, diagnostics);
            }
            let (schema, name) = key_of(job.relation);
            catalog.set_derived(
                &schema,
                &name,
                cols.iter()
                    .map(|c| CatalogColumn {
                        name: c.name.clone(),
                        // The schema file's type wins where it gives one.
                        data_type: declared(&c.name).or_else(|| c.ty.output()),
                    })
                    .collect(),
            );
            out[i].columns = Some(
                cols.iter()
                    .map(|c| ModelColumn {
                        name: c.name.clone(),
                        data_type: declared(&c.name).or_else(|| c.ty.output()),
                        lineage: upstream(&c.lineage, nodes),
                    })
                    .collect(),
            );
        }
    }
    out
}

/// W0245: a schema file's `data_type` of another kind than the query's
/// (a number declared `text`). Lengths, precisions and the spellings of
/// one kind (`varchar` and `text`) are not compared: the schema file's
/// type wins, and PostgreSQL casts within a kind on its own.
fn disagreements(model: &str, entry: &ModelEntry, cols: &[Col], diagnostics: &mut Vec<Diagnostic>) {
    for declared in &entry.columns {
        let Some(written) = &declared.data_type else {
            continue;
        };
        let name = declared.folded_name();
        let Some(derived) = cols
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| match &c.ty {
                Ty::Known(t) => Some(t.clone()),
                _ => None,
            })
        else {
            continue;
        };
        let want = crate::catalog::pg_type_name(written);
        match (kind_of(&want), kind_of(&derived)) {
            (Some(a), Some(b)) if a != b => diagnostics.push(
                Diagnostic::new(
                    Code::W0245,
                    format!(
                        "the schema file gives column `{}` of `{model}` the type `{want}`, but its query makes `{derived}`",
                        declared.name
                    ),
                )
                .at(declared.span.clone())
                .help(format!("cast it in the query (`::{want}`), or correct `data_type:`")),
            ),
            _ => {}
        }
    }
}

/// The kind of a type, for [`disagreements`]; `None` for types it does
/// not sort (arrays, enums, domains).
fn kind_of(t: &str) -> Option<&'static str> {
    let base = t.split('(').next().unwrap_or(t).trim();
    if t.ends_with("[]") {
        return None;
    }
    Some(match base {
        "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision" => "number",
        "text" | "character varying" | "character" | "name" => "text",
        "boolean" => "boolean",
        "date" => "date",
        "timestamp" if t.contains("without") => "timestamp",
        "timestamp" => "timestamp",
        "timestamp without time zone" | "timestamp with time zone" => "timestamp",
        "interval" => "interval",
        "json" | "jsonb" => "json",
        "uuid" => "uuid",
        _ => return None,
    })
}

fn upstream(lineage: &Lineage, nodes: &Nodes) -> Vec<Upstream> {
    let mut out: Vec<Upstream> = lineage
        .iter()
        .filter_map(|((rel, column), kind)| {
            Some(Upstream {
                node: nodes.get(rel)?.clone(),
                column: column.clone(),
                kind: kind.as_str(),
            })
        })
        .collect();
    out.sort();
    out
}

/// Job indexes by dependency level: a job comes after every job it reads.
/// A cycle (reported by the graph) is broken where it is met.
fn levels(jobs: &[Job]) -> Vec<Vec<usize>> {
    let index: BTreeMap<&str, usize> = jobs.iter().enumerate().map(|(i, j)| (j.name, i)).collect();
    let mut level: Vec<Option<usize>> = vec![None; jobs.len()];
    fn visit(
        i: usize,
        jobs: &[Job],
        index: &BTreeMap<&str, usize>,
        level: &mut Vec<Option<usize>>,
        on_path: &mut BTreeSet<usize>,
    ) -> usize {
        if let Some(l) = level[i] {
            return l;
        }
        if !on_path.insert(i) {
            return 0;
        }
        let mut l = 0;
        for r in jobs[i].refs {
            if let Some(&j) = index.get(r.as_str()) {
                if j != i {
                    l = l.max(visit(j, jobs, index, level, on_path) + 1);
                }
            }
        }
        on_path.remove(&i);
        level[i] = Some(l);
        l
    }
    let mut on_path = BTreeSet::new();
    for i in 0..jobs.len() {
        visit(i, jobs, &index, &mut level, &mut on_path);
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, l) in level.into_iter().enumerate() {
        let l = l.unwrap_or(0);
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(i);
    }
    out
}

/// The catalog as the analysis reads it, with the model's own columns for
/// `{{ this }}` in its incremental query; every lookup of the catalog is
/// recorded for the column cache.
struct View<'a> {
    catalog: &'a Catalog,
    own: Option<(RelKey, RelCols)>,
    lookups: &'a Lookups,
}

impl query::Catalog for View<'_> {
    fn relation(&self, schema: &str, name: &str) -> Option<RelCols> {
        if let Some(((s, n), cols)) = &self.own {
            if s == schema && n == name {
                return Some(cols.clone());
            }
        }
        let entry = self.catalog.columns(schema, name);
        self.lookups.record(schema, name, entry);
        let entry = entry?;
        let key: RelKey = (schema.to_string(), name.to_string());
        Some(RelCols {
            columns: entry
                .columns
                .iter()
                .map(|c| Col {
                    name: c.name.clone(),
                    ty: c.data_type.as_deref().map_or(Ty::Unknown, Ty::known),
                    lineage: Lineage::from([((key.clone(), c.name.clone()), Kind::Copy)]),
                })
                .collect(),
            open: !entry.origin.is_complete(),
        })
    }
}

/// What the column pass made of one model.
struct One {
    columns: Option<Vec<Col>>,
    /// The SQL check's select list (see [`Derived::select_list`]).
    select_list: Option<Vec<String>>,
    diagnostics: Vec<Diagnostic>,
}

fn derive_one(job: &Job, catalog: &Catalog, cache: &ColumnCache, sql_check: &SqlCheck) -> One {
    let mut local = Vec::new();
    if !job.sql_check {
        return One {
            columns: None,
            select_list: None,
            diagnostics: local,
        };
    }
    // What the analysis parsed (on a miss of the column cache), for the
    // SQL check; the parse cache answers for what it did not parse.
    let mut parsed = Parsed::default();
    let outcome = if sql_check.derive {
        let key = cache::key(
            &job.full.sql,
            job.incremental.map(|r| r.sql.as_str()),
            &key_of(job.relation),
        );
        cache.analyze(key, catalog, |lookups| {
            analyze(job, catalog, lookups, &mut parsed)
        })
    } else {
        Outcome::default()
    };
    let check = |r: &Rendered, parsed: Option<ParseResult>, local: &mut Vec<Diagnostic>| {
        let parsed = match parsed {
            Some(p) => {
                sql_check.parse_cache.remember(&r.sql, &p);
                p
            }
            None => sql_check.parse_cache.parse_query(&r.sql),
        };
        (sql_check.check)(r, parsed, local)
    };
    let select_list = check(job.full, parsed.full, &mut local);
    if let Some(inc) = job.incremental {
        check(inc, parsed.incremental, &mut local);
    }
    let mut seen = BTreeSet::new();
    for p in &outcome.full {
        let d = diagnostic(job, job.full, p);
        seen.insert((
            d.message.clone(),
            d.primary.as_ref().map(|s| (s.range.start, s.range.end)),
        ));
        local.push(d);
    }
    if let Some(inc) = job.incremental {
        for p in &outcome.incremental {
            let d = diagnostic(job, inc, p);
            // The same name in both renders is one mistake.
            if seen.insert((
                d.message.clone(),
                d.primary.as_ref().map(|s| (s.range.start, s.range.end)),
            )) {
                local.push(d);
            }
        }
    }
    One {
        columns: outcome.columns,
        select_list,
        diagnostics: local,
    }
}

type ParseResult = Result<ParsedQuery, QueryProblem>;

/// What [`analyze`] parsed of the full and the incremental query.
#[derive(Default)]
struct Parsed {
    full: Option<ParseResult>,
    incremental: Option<ParseResult>,
}

/// One parse of a query: what the SQL check reads, and the tree when it
/// is one query.
fn parse(sql: &str) -> (ParseResult, Option<Box<sqlparser::ast::Query>>) {
    match crate::sql::parse_query_tree(sql) {
        Ok((parsed, q)) => (Ok(parsed), Some(q)),
        Err(e) => (Err(e), None),
    }
}

/// Parses and analyses a model's queries against the catalog.
fn analyze(job: &Job, catalog: &Catalog, lookups: &Lookups, parsed: &mut Parsed) -> Outcome {
    let (result, q) = parse(&job.full.sql);
    parsed.full = Some(result);
    let Some(q) = q else {
        return Outcome::default();
    };
    let mut view = View {
        catalog,
        own: None,
        lookups,
    };
    let mut analysis = query::analyze(&q, &view);
    // An ephemeral model is a CTE, which may repeat a name.
    if let (Some(cols), None) = (&analysis.columns, &job.relation.cte) {
        analysis.problems.extend(query::duplicate_outputs(&q, cols));
    }
    drop(q);
    let mut incremental = Vec::new();
    if let Some(inc) = job.incremental {
        let (result, q) = parse(&inc.sql);
        parsed.incremental = Some(result);
        if let Some(q) = q {
            view.own = analysis.columns.as_ref().map(|c| {
                (
                    key_of(job.relation),
                    RelCols {
                        columns: c.clone(),
                        open: false,
                    },
                )
            });
            incremental = query::analyze(&q, &view).problems;
        }
    }
    Outcome {
        parsed: true,
        columns: analysis.columns,
        full: analysis.problems,
        incremental,
    }
}

fn diagnostic(job: &Job, r: &Rendered, p: &Problem) -> Diagnostic {
    let start = offset_of(&r.sql, p.start.0, p.start.1);
    let end = offset_of(&r.sql, p.end.0, p.end.1).max(start);
    let span = r.source_range(start..end);
    let related = p.related.map(|(a, b)| {
        let start = offset_of(&r.sql, a.0, a.1);
        let end = offset_of(&r.sql, b.0, b.1).max(start);
        r.source_range(start..end)
    });
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let d = match &p.kind {
        ProblemKind::UnknownColumn {
            name,
            searched,
            candidates,
        } => {
            let d = Diagnostic::new(
                Code::E0240,
                format!(
                    "column `{name}` does not exist in {}",
                    list(&dedup(searched.clone()))
                ),
            )
            .at(span);
            match crate::suggest::closest(name, candidates.iter().map(String::as_str)) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => {
                    let mut all = dedup(candidates.clone());
                    all.truncate(20);
                    d.help(format!("the columns there: {}", list(&all)))
                }
            }
        }
        ProblemKind::Ambiguous { name, relations } => Diagnostic::new(
            Code::E0241,
            format!(
                "column `{name}` is ambiguous: both `{}` and `{}` have it",
                relations[0], relations[1]
            ),
        )
        .at(span)
        .help(format!(
            "qualify it: `{}.{name}` or `{}.{name}`",
            relations[0], relations[1]
        )),
        ProblemKind::SetArity { left, right } => Diagnostic::new(
            Code::E0242,
            format!(
                "each side of a set operation must have the same number of columns: {left} before, {right} here"
            ),
        )
        .at(span)
        .help("select the same columns, in the same order, on every side of the union/intersect/except"),
        ProblemKind::SetTypes { column, left, right } => Diagnostic::new(
            Code::E0242,
            format!(
                "column {column} of this set operation is `{left}` before and `{right}` here, which PostgreSQL cannot match"
            ),
        )
        .at(span)
        .help(format!(
            "cast one side so both agree (`::{left}` here or `::{right}` before), or select the column that was meant"
        )),
        ProblemKind::Position { n, count, clause } => Diagnostic::new(
            Code::E0243,
            format!(
                "`{clause} {n}` names a position the select list does not have (it has {count} column{})",
                if *count == 1 { "" } else { "s" }
            ),
        )
        .at(span)
        .help(format!("use a number from 1 to {count}, or name the column")),
        ProblemKind::Natural { joined } => Diagnostic::new(
            Code::W0244,
            match joined {
                Some(cols) if !cols.is_empty() => format!(
                    "a natural join in `{}` joins on every column of the same name (today {})",
                    job.name,
                    list(cols)
                ),
                Some(_) => format!(
                    "a natural join in `{}` has no column in common: it is a cross join",
                    job.name
                ),
                None => format!(
                    "a natural join in `{}` joins on every column of the same name",
                    job.name
                ),
            },
        )
        .at(span)
        .help("write `join ... using (col, ...)`: a column added upstream would silently join too"),
        ProblemKind::ValuesArity { row, len, first } => Diagnostic::new(
            Code::E0247,
            format!(
                "`values` rows must all be the same length: row {row} has {len} value{}, the first {first}",
                if *len == 1 { "" } else { "s" }
            ),
        )
        .at(span)
        .help("give every row the same number of values (`null` for one that has none)"),
        ProblemKind::Types { construct, first, other } => Diagnostic::new(
            Code::E0247,
            format!(
                "this value is `{other}`, which PostgreSQL cannot bring to `{first}`, the type of the {construct} values before it"
            ),
        )
        .at(span)
        .help(format!("cast it (`::{first}`), or the values before it (`::{other}`)")),
        ProblemKind::Literal { text, ty } => Diagnostic::new(
            Code::E0247,
            format!("PostgreSQL cannot read '{text}' as `{ty}`, the type this value is brought to"),
        )
        .at(span)
        .help(format!("write a value of type `{ty}`, or cast the other values to the type meant")),
        ProblemKind::UsingTypes { name, left, right } => Diagnostic::new(
            Code::E0247,
            format!(
                "`join ... using ({name})` joins `{left}` on the left with `{right}` on the right, which PostgreSQL cannot match"
            ),
        )
        .at(span)
        .help(format!(
            "join `on` with a cast (`on l.{name} = r.{name}::{left}`), or cast the column upstream"
        )),
        ProblemKind::Duplicate { name } => Diagnostic::new(
            Code::E0248,
            format!(
                "`{}` selects column `{name}` twice: PostgreSQL's `create table as` and `create view` refuse a name used twice",
                job.name
            ),
        )
        .at(span)
        .help(format!("give one of them another name (`as {name}_2`), or select it once")),
    };
    match (related, &p.kind) {
        (Some(at), ProblemKind::SetTypes { .. }) => d.related(at, "the first side's column"),
        (Some(at), ProblemKind::ValuesArity { .. }) => d.related(at, "the first row"),
        (Some(at), ProblemKind::Duplicate { .. }) => d.related(at, "selected first here"),
        (Some(at), _) => d.related(at, "the value it must match"),
        (None, _) => d,
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}
