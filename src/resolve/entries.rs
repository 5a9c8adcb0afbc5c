//! Schema-file entries matched to their models, seeds and sources, and the
//! catalog of columns the project declares.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::node::{ResolvedSeed, ResolvedSource};
use crate::project::Project;
use crate::relation::Relation;
use crate::render::Relations;
use crate::schema::{Column, ModelEntry, SeedEntry, SourceEntry, Strict, UnitInputKind};
use crate::sql::{self};

/// A check stackc makes and dbt does not: a warning in a dbt project, an
/// error with its native code in a stackc project.
pub(super) fn strictness(s: &Strict, dbt: bool) -> Diagnostic {
    let mut d = s.diagnostic.clone();
    if dbt {
        d.message.push_str("; stackc ignores it");
    } else {
        d.code = s.native;
        d.severity = crate::diagnostic::Severity::Error;
    }
    d
}

/// The same for a check made here: `warning` in a dbt project, else `error`.
pub(super) fn strict_code(dbt: bool, error: Code, warning: Code) -> Code {
    if dbt {
        warning
    } else {
        error
    }
}

/// The text of the schema files that could not be read.
pub(super) fn rejected_schema_texts(project: &Project) -> Vec<&str> {
    project
        .schema_files
        .iter()
        .filter(|f| f.rejected)
        .filter_map(|f| project.files.get(&f.path))
        .collect()
}

/// The `to:` of the foreign keys of a schema-file entry (column and model
/// level), parsed.
pub fn foreign_key_targets(entry: &ModelEntry) -> Vec<UnitInputKind> {
    entry
        .columns
        .iter()
        .flat_map(|c| &c.constraints)
        .chain(&entry.constraints)
        .filter(|c| c.get("type").and_then(|t| t.as_str()) == Some("foreign_key"))
        .filter_map(|c| c.get("to").and_then(|t| t.as_str()))
        .filter_map(crate::schema::parse_input)
        .collect()
}

/// A dbt project's `quoting: {schema: false, identifier: false}`: dbt writes
/// those names bare, so PostgreSQL folds them to lower case. Quoted (dbt's
/// default on PostgreSQL) a name keeps its case, as stackc writes it anyway.
pub(super) fn unquoted(
    dbt: Option<&crate::dbt::DbtSettings>,
    schema: String,
    name: String,
) -> (String, String) {
    let Some(dbt) = dbt else {
        return (schema, name);
    };
    let off = |key: &str| dbt.quoting.get(key) == Some(&false);
    let fold = |s: String, key: &str| if off(key) { s.to_lowercase() } else { s };
    (fold(schema, "schema"), fold(name, "identifier"))
}

/// Schema-file model entries by name; entries for models that do not exist
/// and duplicate entries are errors.
pub(super) fn model_entries(
    project: &Project,
    dbt: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Arc<ModelEntry>> {
    let names: BTreeSet<&str> = project.models.iter().map(|m| m.name.as_str()).collect();
    let snapshots: BTreeSet<&str> = project
        .models
        .iter()
        .filter(|m| m.snapshot)
        .map(|m| m.name.as_str())
        .collect();
    let mut out: BTreeMap<String, Arc<ModelEntry>> = BTreeMap::new();
    for file in &project.schema_files {
        // A versioned model's entry describes each version's model file.
        let entries = file
            .models
            .iter()
            .flat_map(|entry| -> Vec<Arc<ModelEntry>> {
                if entry.versions.is_empty() {
                    return vec![Arc::clone(entry)];
                }
                entry
                    .versions
                    .iter()
                    .map(|v| {
                        let mut columns = entry.columns.clone();
                        for c in &v.columns {
                            columns.retain(|old| old.name != c.name);
                            columns.push(c.clone());
                        }
                        let mut tests = entry.tests.clone();
                        tests.extend(v.tests.iter().cloned());
                        Arc::new(ModelEntry {
                            name: v.defined_in.clone(),
                            span: if names.contains(v.defined_in.as_str()) {
                                entry.span.clone()
                            } else {
                                v.span.clone()
                            },
                            columns,
                            tests,
                            versions: Vec::new(),
                            ..(**entry).clone()
                        })
                    })
                    .collect()
            });
        for entry in entries {
            let entry = &entry;
            if entry.snapshot && !snapshots.contains(entry.name.as_str()) {
                // dbt warns ("did not find matching node for patch") and
                // goes on; so does stackc, in any project.
                let d = Diagnostic::new(
                    Code::W0330,
                    format!(
                        "schema file describes snapshot `{}`, but no snapshot has that name",
                        entry.name
                    ),
                )
                .at(entry.span.clone())
                .help(no_such_node_help(
                    &entry.name,
                    names.contains(entry.name.as_str()).then_some("model"),
                    snapshots.iter().copied(),
                    "remove the entry, or add `{% snapshot <name> %}` under a snapshot path",
                ));
                diagnostics.push(d);
                continue;
            }
            if !names.contains(&entry.name.as_str()) {
                let seeds: Vec<&str> = project.seeds.iter().map(|s| s.name.as_str()).collect();
                // dbt only warns ("did not find matching node for patch").
                let d = Diagnostic::new(
                    strict_code(dbt, Code::E0305, Code::W0330),
                    format!(
                        "schema file describes model `{}`, but there is no models/**/{}.sql",
                        entry.name, entry.name
                    ),
                )
                .at(entry.span.clone())
                .help(no_such_node_help(
                    &entry.name,
                    seeds.contains(&entry.name.as_str()).then_some("seed"),
                    names.iter().copied(),
                    "remove the entry or add the model's .sql file",
                ));
                diagnostics.push(d);
                continue;
            }
            if let Some(first) = out.get(&entry.name) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0305,
                        format!("model `{}` is described twice", entry.name),
                    )
                    .at(entry.span.clone())
                    .related(first.span.clone(), "first described here")
                    .help("keep one entry per model across all schema files"),
                );
                continue;
            }
            check_entry_columns(&entry.columns, dbt, diagnostics);
            out.insert(entry.name.clone(), entry.clone());
        }
    }
    out
}

/// `m` -> the latest version's model file, `m.v<v>` -> version v's.
pub(super) fn model_versions(project: &Project) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in project.schema_files.iter().flat_map(|f| &f.models) {
        if entry.versions.is_empty() {
            continue;
        }
        for v in &entry.versions {
            out.insert(format!("{}.v{}", entry.name, v.v), v.defined_in.clone());
        }
        if let Some(latest) = entry.latest() {
            out.insert(entry.name.clone(), latest.defined_in.clone());
        }
    }
    out
}

/// A column listed twice in one entry: dbt accepts it (each entry's tests
/// run), so a dbt project is warned (W0332); a stackc project refuses it.
pub(super) fn check_entry_columns(
    columns: &[Column],
    dbt: bool,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut seen: BTreeMap<&str, &Column> = BTreeMap::new();
    for c in columns {
        if let Some(first) = seen.get(c.name.as_str()) {
            diagnostics.push(
                Diagnostic::new(
                    strict_code(dbt, Code::E0305, Code::W0332),
                    format!("column `{}` is listed twice", c.name),
                )
                .at(c.span.clone())
                .related(first.span.clone(), "first listed here")
                .help(if dbt {
                    "merge the two entries (the tests of both run, as in dbt)"
                } else {
                    "merge the two entries"
                }),
            );
        } else {
            seen.insert(&c.name, c);
        }
    }
}

pub(super) fn seed_entries(
    project: &Project,
    dbt: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, SeedEntry> {
    let names: BTreeSet<&str> = project.seeds.iter().map(|s| s.name.as_str()).collect();
    // CSV files that were read but could not be loaded (an error says why):
    // an entry for one is no second problem.
    let unreadable: BTreeSet<&str> = project
        .files
        .iter()
        .filter_map(|(path, _)| path.strip_suffix(".csv"))
        .map(|stem| stem.rsplit('/').next().unwrap_or(stem))
        .filter(|name| !names.contains(name))
        .collect();
    let mut out = BTreeMap::new();
    for file in &project.schema_files {
        for entry in &file.seeds {
            if !names.contains(&entry.name.as_str()) {
                let mut d = Diagnostic::new(
                    strict_code(dbt, Code::E0305, Code::W0330),
                    format!(
                        "schema file describes seed `{}`, but there is no seeds/{}.csv",
                        entry.name, entry.name
                    ),
                )
                .at(entry.span.clone());
                d = match crate::suggest::closest(&entry.name, names.iter().copied()) {
                    Some(close) => d.help(format!("did you mean `{close}`?")),
                    None => d.help("remove the entry or add the CSV file"),
                };
                d.follow_on = unreadable.contains(entry.name.as_str());
                diagnostics.push(d);
                continue;
            }
            if let Some((seed, _)) = project
                .seeds
                .iter()
                .zip(0..)
                .find(|(s, _)| s.name == entry.name)
            {
                for col in entry.column_types.keys() {
                    if !seed.columns.contains(col) {
                        // dbt ignores a type for a column the CSV lacks.
                        diagnostics.push(
                            Diagnostic::new(
                                strict_code(dbt, Code::E0305, Code::W0331),
                                format!("seed `{}` has no column `{col}`", entry.name),
                            )
                            .at(entry.span.clone())
                            .help(format!("its columns are: {}", seed.columns.join(", "))),
                        );
                    }
                }
            }
            out.insert(entry.name.clone(), entry.clone());
        }
    }
    out
}

/// What the project says about its relations' columns before any model
/// renders: seeds' headers and types, and the columns schema files declare
/// for sources and models (see [`crate::catalog`]).
pub(super) fn catalog(
    project: &Project,
    seeds: &BTreeMap<String, ResolvedSeed>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    entries: &BTreeMap<String, Arc<ModelEntry>>,
    relations: &Relations,
) -> crate::catalog::Catalog {
    use crate::catalog::{CatalogColumn, Origin};
    let mut catalog = crate::catalog::Catalog::default();
    let declared = |cols: &[crate::schema::Column]| -> Vec<CatalogColumn> {
        cols.iter()
            .map(|c| CatalogColumn {
                name: c.name.clone(),
                data_type: c.data_type.clone(),
            })
            .collect()
    };
    // What the migrations create is what the database will hold: it comes
    // first, before what a schema file says about the same table.
    let replayed = sql::replay_tables(project.migrations.iter().map(|m| &*m.file.text));
    for ((schema, name), columns) in replayed {
        let columns = columns
            .into_iter()
            .map(|(name, ty)| CatalogColumn {
                name,
                data_type: Some(ty),
            })
            .collect();
        catalog.insert(&schema, &name, Origin::Migration, columns);
    }
    for ResolvedSeed {
        seed,
        entry,
        relation: rel,
    } in seeds.values()
    {
        let dbt_config = project
            .settings
            .dbt
            .as_ref()
            .map(|d| crate::dbt::seeds::config(d, seed, &project.settings.paths.seeds));
        let columns =
            crate::seed::column_types(seed, entry.as_ref(), dbt_config.as_ref().map(Some))
                .into_iter()
                .map(|(name, ty)| CatalogColumn {
                    name,
                    data_type: Some(ty),
                })
                .collect();
        catalog.insert(&rel.schema, &rel.name, Origin::Seed, columns);
    }
    for ResolvedSource {
        table,
        relation: rel,
        ..
    } in sources.values()
    {
        if !table.columns.is_empty() {
            catalog.insert(
                &rel.schema,
                &rel.name,
                Origin::Source,
                declared(&table.columns),
            );
        }
    }
    for (name, entry) in entries {
        if entry.columns.is_empty() {
            continue;
        }
        if let Some(rel) = relations.models.get(name).filter(|r| r.cte.is_none()) {
            catalog.insert(
                &rel.schema,
                &rel.name,
                Origin::Model,
                declared(&entry.columns),
            );
        }
    }
    catalog
}

pub(super) fn source_tables(
    project: &Project,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<(String, String), ResolvedSource> {
    let dbt = project.settings.flavor == crate::project::Flavor::Dbt;
    let mut out: BTreeMap<(String, String), ResolvedSource> = BTreeMap::new();
    for file in &project.schema_files {
        for source in &file.sources {
            for table in &source.tables {
                let key = (source.name.clone(), table.name.clone());
                if let Some(ResolvedSource { table: first, .. }) = out.get(&key) {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0305,
                            format!("source table `{}.{}` is declared twice", key.0, key.1),
                        )
                        .at(table.span.clone())
                        .related(first.span.clone(), "first declared here")
                        .help("declare each source table once"),
                    );
                    continue;
                }
                check_entry_columns(&table.columns, dbt, diagnostics);
                // An unquoted part is what PostgreSQL makes of it: folded.
                let part = |key: &str, text: &str| match table.quoting.get(key) {
                    Some(false) => text.to_lowercase(),
                    _ => text.to_string(),
                };
                let relation = Relation {
                    schema: part("schema", &source.schema),
                    name: part("identifier", &table.identifier),
                    quote: table.quote_identifier,
                    cte: None,
                };
                // The entry without its table list: each table keeps only its own.
                let entry = SourceEntry {
                    tables: Vec::new(),
                    name: source.name.clone(),
                    span: source.span.clone(),
                    schema: source.schema.clone(),
                    database: source.database.clone(),
                    description: source.description.clone(),
                };
                out.insert(
                    key,
                    ResolvedSource {
                        entry,
                        table: table.clone(),
                        relation,
                    },
                );
            }
        }
    }
    out
}

/// The help for a schema entry that names no node of its kind: `kind` is
/// the other kind of node of that name, if there is one; else the closest
/// of `names`; else `otherwise`.
fn no_such_node_help<'n>(
    name: &str,
    kind: Option<&str>,
    names: impl Iterator<Item = &'n str>,
    otherwise: &str,
) -> String {
    if let Some(kind) = kind {
        format!("`{name}` is a {kind}: describe it under `{kind}s:`")
    } else if let Some(close) = crate::suggest::closest(name, names) {
        format!("did you mean `{close}`?")
    } else {
        otherwise.to_string()
    }
}
