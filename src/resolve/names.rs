//! Names the database and the artifacts need: unique, not truncated, free of
//! control characters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::node::{Model, ResolvedSeed};
use crate::project::{Project, SourceFile};
use crate::relation::Relation;
use crate::seed::Seed;

use super::queries::column_span;

pub(super) fn check_unique_names(
    project: &Project,
    disabled_seeds: &BTreeSet<&str>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut seen: BTreeMap<&str, &SourceFile> = BTreeMap::new();
    let files = project
        .models
        .iter()
        .map(|m| (m.name.as_str(), &m.file))
        .chain(
            project
                .seeds
                .iter()
                .filter(|s| !disabled_seeds.contains(&*s.file.path))
                .map(|s| (s.name.as_str(), &s.file)),
        );
    for (name, file) in files {
        if !crate::project::is_identifier(name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0005,
                    format!("`{name}` is not a valid model or seed name"),
                )
                .at_file(&file.path, 0..0)
                .help("name files with letters, digits and `_`, starting with a letter"),
            );
        }
        if let Some(first) = seen.get(name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0005,
                    format!(
                        "two nodes are named `{name}`: `{}` and `{}`",
                        first.path, file.path
                    ),
                )
                .at_file(&file.path, 0..0)
                .related(Span::new(&first.path, 0..0), "first defined here")
                .help("models and seeds share one namespace: rename one of them"),
            );
        } else {
            seen.insert(name, file);
        }
    }
}

/// Names in schema files (models, columns, sources, tables, seeds, unit
/// tests) reach artifact names, comments and diagnostics' first lines like
/// file paths do: a control character in one is E0010 too, at the name.
/// Descriptions may span lines; they only reach the manifest (JSON).
pub(super) fn check_schema_file_names(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    fn columns(cols: &[crate::schema::Column]) -> impl Iterator<Item = (&str, &str, &Span)> {
        cols.iter().map(|c| ("column", c.name.as_str(), &c.span))
    }
    let mut names: Vec<(&str, &str, &Span)> = Vec::new();
    for file in &project.schema_files {
        for m in &file.models {
            names.push(("model", &m.name, &m.span));
            names.extend(columns(&m.columns));
        }
        for seed in &file.seeds {
            names.push(("seed", &seed.name, &seed.span));
            names.extend(columns(&seed.columns));
        }
        for source in &file.sources {
            names.push(("source", &source.name, &source.span));
            names.push(("schema", &source.schema, &source.span));
            for t in &source.tables {
                names.push(("table", &t.name, &t.span));
                if t.identifier != t.name {
                    names.push(("identifier", &t.identifier, &t.span));
                }
                names.extend(columns(&t.columns));
            }
        }
        for u in &file.unit_tests {
            names.push(("unit test", &u.name, &u.span));
        }
    }
    for (what, name, span) in names {
        if name.chars().any(char::is_control) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0010,
                    format!(
                        "the {what} name `{}` contains a control character",
                        crate::diagnostic::one_line(name)
                    ),
                )
                .at(span.clone())
                .help("write the name without newlines, tabs or other control characters"),
            );
        }
    }
}

/// PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1): a longer
/// name is cut to this length, silently but for a NOTICE.
pub const MAX_IDENTIFIER: usize = 63;

/// The first [`MAX_IDENTIFIER`] bytes of `name`, as PostgreSQL keeps them
/// (it cuts on a character boundary).
pub fn truncated(name: &str) -> &str {
    let mut end = name.len().min(MAX_IDENTIFIER);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

pub(super) fn too_long(what: &str, name: &str, at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::E0011,
        format!(
            "the {what} `{}` is {} bytes long; PostgreSQL cuts names to {MAX_IDENTIFIER} bytes",
            crate::diagnostic::one_line(name),
            name.len()
        ),
    )
    .at(at)
    .help(format!(
        "shorten it to at most {MAX_IDENTIFIER} bytes: PostgreSQL would call it `{}`",
        crate::diagnostic::one_line(truncated(name))
    ))
}

/// Names PostgreSQL would make equal by cutting them: the relations of a
/// schema, models and seeds alike (each >63-byte name is also an E0011 of
/// its own, at its file), the columns a model selects and the columns of a
/// seed's header.
pub(super) fn check_truncated_names(
    models: &BTreeMap<String, Model>,
    seeds: &BTreeMap<String, ResolvedSeed>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let tables = models
        .values()
        .filter(|m| m.relation.cte.is_none())
        .map(|m| (&m.relation, &m.file.path))
        .chain(seeds.values().map(|s| (&s.relation, &s.seed.file.path)));
    let mut relations: BTreeMap<(&str, &str), (&Relation, &Arc<str>)> = BTreeMap::new();
    for (relation, path) in tables {
        // The relation's name, not the file's: an `alias` under 63 bytes
        // makes a long model name fine, as in dbt-postgres, and an
        // ephemeral model makes no relation at all.
        if relation.name.len() > MAX_IDENTIFIER {
            diagnostics.push(too_long(
                "model or seed name",
                &relation.name,
                Span::new(path, 0..0),
            ));
        }
        let key = (relation.schema.as_str(), truncated(&relation.name));
        match relations.get(&key) {
            Some((first, first_path)) if first.name != relation.name => diagnostics.push(
                Diagnostic::new(
                    Code::E0012,
                    format!(
                        "`{relation}` and `{first}` are the same relation to PostgreSQL, which cuts names to {MAX_IDENTIFIER} bytes"
                    ),
                )
                .at_file(path, 0..0)
                .related(Span::new(first_path, 0..0), "the other one")
                .help("rename one of them so that their first 63 bytes differ"),
            ),
            Some(_) => {}
            None => {
                relations.insert(key, (relation, path));
            }
        }
        // A config refuses control characters at its line; a name a
        // project's `generate_schema_name` made up can still hold one.
        for (what, name) in [("schema", &relation.schema), ("relation", &relation.name)] {
            if name.chars().any(char::is_control) {
                diagnostics.push(crate::project::control_character(
                    what,
                    name,
                    Span::new(path, 0..0),
                ));
            }
        }
        if relation.schema.len() > MAX_IDENTIFIER {
            diagnostics.push(too_long(
                "schema name",
                &relation.schema,
                Span::new(path, 0..0),
            ));
        }
    }
    for ResolvedSeed { seed, .. } in seeds.values() {
        check_seed_columns(seed, diagnostics);
    }
    for m in models.values() {
        if m.relation.cte.is_some() {
            continue;
        }
        let Some(columns) = &m.columns else { continue };
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for c in columns {
            let at = column_span(m, c);
            if c.len() > MAX_IDENTIFIER {
                diagnostics.push(too_long("column name", c, at.clone()));
            }
            match seen.get(truncated(c)) {
                Some(first) if *first != c => diagnostics.push(
                    Diagnostic::new(
                        Code::E0012,
                        format!(
                            "columns `{first}` and `{c}` of `{}` are the same column to PostgreSQL, which cuts names to {MAX_IDENTIFIER} bytes",
                            m.name
                        ),
                    )
                    .at(at)
                    .help("rename one of them so that their first 63 bytes differ"),
                ),
                Some(_) => {}
                None => {
                    seen.insert(truncated(c), c);
                }
            }
        }
    }
}

/// A seed's header names its table's columns: too long, or two cut to the
/// same name, is E0011/E0012 at the header, as for a model's columns.
pub(super) fn check_seed_columns(seed: &Seed, diagnostics: &mut Vec<Diagnostic>) {
    let header_end = seed.file.text.find('\n').unwrap_or(seed.file.text.len());
    let header = &seed.file.text[..header_end];
    let at = |c: &str| {
        let r = header.find(c).map_or(0..0, |i| i..i + c.len());
        Span::new(&seed.file.path, r)
    };
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for c in &seed.columns {
        if c.len() > MAX_IDENTIFIER {
            diagnostics.push(too_long("column name", c, at(c)));
        }
        match seen.get(truncated(c)) {
            Some(first) if *first != c => diagnostics.push(
                Diagnostic::new(
                    Code::E0012,
                    format!(
                        "columns `{first}` and `{c}` of seed `{}` are the same column to PostgreSQL, which cuts names to {MAX_IDENTIFIER} bytes",
                        seed.name
                    ),
                )
                .at(at(c))
                .help("rename one of them so that their first 63 bytes differ"),
            ),
            Some(_) => {}
            None => {
                seen.insert(truncated(c), c);
            }
        }
    }
}
