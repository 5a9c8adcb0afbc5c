//! Checks of the project's own migrations: names that collide with stackc's,
//! and sources that no migration creates.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Materialization;
use crate::diagnostic::{offset_of, Code, Diagnostic};
use crate::graph;
use crate::node::{Graph, Model, ResolvedSeed, ResolvedSource};
use crate::project::{MigrationKind, Project};
use crate::sql::{self};

/// Every source table should be created by the project's own migrations.
pub(super) fn check_sources_created(
    project: &Project,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut created: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    for m in &project.migrations {
        created.extend(sql::created_relations(&m.file.text));
    }
    for ResolvedSource {
        table,
        relation: rel,
        ..
    } in sources.values()
    {
        let name = if rel.quote {
            rel.name.clone()
        } else {
            rel.name.to_lowercase()
        };
        let schema = rel.schema.to_lowercase();
        let qualified = created.contains(&(Some(schema.clone()), name.clone()));
        let unqualified = schema == "public" && created.contains(&(None, name.clone()));
        if !qualified && !unqualified {
            diagnostics.push(
                Diagnostic::new(
                    Code::W0309,
                    format!("source table `{schema}.{name}` is not created by any migration in migrations/"),
                )
                .at(table.span.clone())
                .help("add a versioned migration that creates it, or check the source's `schema:` and `identifier:`"),
            );
        }
    }
}

/// A project migration named like the repeatable migration stackc makes
/// for a model or seed would be overwritten by it in the output.
pub(super) fn check_migration_names(
    project: &Project,
    models: &BTreeMap<String, Model>,
    seeds: &BTreeMap<String, ResolvedSeed>,
    graph: &Graph,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let project_name = &project.settings.name;
    // The node a generated name `R__<level>_<node>.sql` would belong to.
    let generated_for = |script: &str| -> Option<(&'static str, String)> {
        let rest = script.strip_prefix("R__")?.strip_suffix(".sql")?;
        let (_, node) = rest.split_once('_')?;
        let (kind, id) = match (models.get(node), seeds.contains_key(node)) {
            (Some(m), _) if m.config.materialized != Materialization::Ephemeral => {
                ("model", graph::model_id(project_name, node))
            }
            (_, true) => ("seed", graph::seed_id(project_name, node)),
            _ => return None,
        };
        let generated = crate::naming::repeatable_script(graph.level_of(&id), node);
        (generated == script).then(|| (kind, node.to_string()))
    };
    for m in &project.migrations {
        if let Some((kind, node)) = generated_for(&m.script) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0312,
                    format!(
                        "migration `{}` has the name of the repeatable migration stackc generates for {kind} `{node}`",
                        m.script
                    ),
                )
                .at_file(&m.file.path, 0..0)
                .help("rename this migration: generated ones are `R__<level>_<name>.sql`, so start yours with a word (e.g. `R__raw_views.sql`)"),
            );
        }
    }
}

pub(super) fn check_migrations(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for m in &project.migrations {
        if let Err(e) = sql::check_script(&m.file.text) {
            let offset = offset_of(&m.file.text, e.line, e.column);
            diagnostics.push(
                Diagnostic::new(Code::W0202, format!("the SQL checker cannot parse this migration: {}", e.message))
                    .at_file(&m.file.path, offset..offset)
                    .help("PostgreSQL accepts more than the checker; if this statement is valid PostgreSQL, ignore this warning"),
            );
        }
        if matches!(m.kind, MigrationKind::Repeatable) && sql::is_blank(&m.file.text) {
            diagnostics.push(
                Diagnostic::new(Code::W0202, "this migration has no statements")
                    .at_file(&m.file.path, 0..0)
                    .help("delete the file or add its SQL"),
            );
        }
    }
}
