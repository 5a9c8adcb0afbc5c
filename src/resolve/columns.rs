//! Resolve's side of the column analysis (issue 14): the models' columns
//! derived into the catalog (see [`crate::columns`]), and which models to
//! render again once they are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::graph;
use crate::node::{Model, ResolvedSeed, ResolvedSource};
use crate::project::ModelFile;
use crate::render::Relations;

/// A model rendered (again), and what its render reported.
pub(super) type Rerendered = (Option<Model>, Vec<Diagnostic>);

/// Whether every error reported in the model's file is E0170 (columns
/// only the database knows), which the derived columns may now answer.
pub(super) fn only_introspection_errors(m: &ModelFile, diagnostics: &[Diagnostic]) -> bool {
    let mut any = false;
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        if d.primary.as_ref().is_some_and(|p| *p.file == *m.file.path) {
            if d.code != Code::E0170 {
                return false;
            }
            any = true;
        }
    }
    any
}

/// The columns of the models (all, or `only` these) from their SQL, in
/// dependency order, into the catalog; returns the relations with that
/// catalog, for what renders after (tests, unit tests, models rendered
/// again). Frees the models' source maps, which only the checks read.
pub(super) fn derive_columns(
    project_name: &str,
    models: &mut BTreeMap<String, Model>,
    only: Option<&BTreeSet<String>>,
    seeds: &BTreeMap<String, ResolvedSeed>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    relations: &Arc<Relations>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Arc<Relations> {
    use crate::columns::models::{derive, key_of, Job, Nodes};
    let mut nodes = Nodes::new();
    for ((source, table), s) in sources {
        nodes.insert(
            key_of(&s.relation),
            graph::source_id(project_name, source, table),
        );
    }
    for (name, s) in seeds {
        nodes.insert(key_of(&s.relation), graph::seed_id(project_name, name));
    }
    for (name, m) in models.iter() {
        nodes.insert(key_of(&m.relation), graph::model_id(project_name, name));
    }
    let mut catalog = relations.catalog.clone();
    let derived = {
        let jobs: Vec<Job> = models
            .values()
            .filter(|m| only.is_none_or(|o| o.contains(&m.name)))
            .map(|m| Job {
                name: &m.name,
                relation: &m.relation,
                full: &m.full,
                incremental: m.incremental.as_ref(),
                refs: &m.refs,
                entry: m.entry.as_deref(),
                sql_check: m.config.sql_check,
                snapshot: m.snapshot.is_some(),
            })
            .collect();
        derive(&jobs, &mut catalog, &nodes, diagnostics)
    };
    let todo = models
        .values_mut()
        .filter(|m| only.is_none_or(|o| o.contains(&m.name)));
    for (m, d) in todo.zip(derived) {
        if let Some(cols) = d.columns {
            m.columns = Some(cols.iter().map(|c| c.name.clone()).collect());
            m.derived_columns = Some(cols);
        }
        m.full.shrink_after_checks();
        if let Some(inc) = &mut m.incremental {
            inc.shrink_after_checks();
        }
    }
    Arc::new(Relations {
        catalog,
        ..(**relations).clone()
    })
}
