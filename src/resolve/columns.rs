//! Resolve's side of the column analysis (issue 14): the models' columns
//! derived into the catalog (see [`crate::columns`]), and which models to
//! render again once they are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use super::Discovered;
use crate::columns::cache::ColumnCache;
use crate::columns::models::SqlCheck;
use crate::diagnostic::{Code, Diagnostic};
use crate::graph;
use crate::node::{Model, ResolvedSeed, ResolvedSource};
use crate::project::{ModelFile, Project};
use crate::render::Relations;

/// A model rendered (again), and what its render reported.
pub(super) type Rerendered = (Option<Model>, Vec<Diagnostic>);

/// What lineage points to besides the models: the seeds and sources.
pub(super) struct Upstream<'a> {
    pub project_name: &'a str,
    pub seeds: &'a BTreeMap<String, ResolvedSeed>,
    pub sources: &'a BTreeMap<(String, String), ResolvedSource>,
    /// What earlier compiles derived.
    pub cache: &'a ColumnCache,
    /// The SQL check, run on the column pass's parse of each model.
    pub sql_check: &'a SqlCheck<'a>,
}

/// How to render a model again (resolve's second pass, for one model).
pub(super) type RenderModel<'a> =
    dyn Fn(&ModelFile, &Discovered, &Arc<Relations>) -> Rerendered + Sync + 'a;

pub(super) struct Again<'a> {
    pub project: &'a Project,
    pub discovered: &'a [(Discovered, Option<Diagnostic>)],
    pub render: &'a RenderModel<'a>,
    /// A rendered model's schema-file entry and foreign-key parents.
    pub finish: &'a (dyn Fn(Model) -> Model + 'a),
    /// The SQL check of a model the column pass does not see.
    pub check_sql: &'a (dyn Fn(&Model, &mut Vec<Diagnostic>) + 'a),
    pub upstream: &'a Upstream<'a>,
}

/// A model whose introspection (`get_columns_in_relation`, as in
/// `dbt_utils.star`) asked for a model's columns before they were derived
/// is rendered again, and its columns derived, until a round makes no
/// progress; returns the relations with the catalog of the last round.
pub(super) fn render_again(
    again: &Again,
    models: &mut BTreeMap<String, Model>,
    failed: &mut BTreeSet<String>,
    mut relations: Arc<Relations>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Arc<Relations> {
    loop {
        let retry: Vec<(&ModelFile, &Discovered)> = again
            .project
            .models
            .iter()
            .zip(again.discovered)
            .filter(|(m, (disc, _))| {
                disc.ok && failed.contains(&m.name) && only_introspection_errors(m, diagnostics)
            })
            .map(|(m, (disc, _))| (m, disc))
            .collect();
        let rendered: Vec<(&ModelFile, Rerendered)> = retry
            .par_iter()
            .map(|(m, disc)| (*m, (again.render)(m, disc, &relations)))
            .filter(|(_, (model, _))| model.is_some())
            .collect();
        if rendered.is_empty() {
            return relations;
        }
        let mut names = BTreeSet::new();
        for (m, (model, local)) in rendered {
            diagnostics.retain(|d| {
                d.code != Code::E0170 || d.primary.as_ref().is_none_or(|p| *p.file != *m.file.path)
            });
            diagnostics.extend(local);
            failed.remove(&m.name);
            let Some(model) = model else { continue };
            let model = (again.finish)(model);
            if !model.config.enabled {
                (again.check_sql)(&model, diagnostics);
            } else {
                names.insert(model.name.clone());
                // One of the same name that this replaces was checked
                // when its columns were derived.
                models.insert(model.name.clone(), model);
            }
        }
        relations = derive_columns(
            again.upstream,
            models,
            Some(&names),
            &relations,
            diagnostics,
        );
    }
}

/// E0246 for the configured columns of each model whose columns are
/// derived (see [`crate::columns::checks`]).
pub(super) fn check_configured_columns(
    models: &BTreeMap<String, Model>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for m in models.values().filter(|m| m.derived_columns.is_some()) {
        if let Some(columns) = &m.columns {
            crate::columns::checks::configured_columns(
                &m.name,
                &m.file.path,
                &m.config,
                columns,
                diagnostics,
            );
        }
    }
}

/// E0246 for the columns a snapshot's strategy names that its query
/// does not select.
fn check_snapshot_columns(
    m: &Model,
    strategy: &crate::dbt::snapshot::Strategy,
    columns: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) {
    use crate::dbt::snapshot::Kind;
    let mut named: Vec<(&str, &str)> = strategy
        .unique_key
        .iter()
        .map(|c| ("unique_key", c.as_str()))
        .collect();
    match &strategy.kind {
        Kind::Timestamp { updated_at } => named.push(("updated_at", updated_at)),
        Kind::Check {
            columns: checked,
            updated_at,
        } => {
            named.extend(checked.iter().flatten().map(|c| ("check_cols", c.as_str())));
            named.extend(updated_at.iter().map(|u| ("updated_at", u.as_str())));
        }
    }
    crate::columns::checks::snapshot_columns(
        &m.name,
        &m.file.path,
        &m.config,
        &named,
        columns,
        diagnostics,
    );
}

/// Whether every error reported in the model's file is E0170 (columns
/// only the database knows), which the derived columns may now answer.
fn only_introspection_errors(m: &ModelFile, diagnostics: &[Diagnostic]) -> bool {
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
/// dependency order, into the catalog, and their SQL checked; returns the relations with that
/// catalog, for what renders after (tests, unit tests, models rendered
/// again). Frees the models' source maps, which only the checks read.
pub(super) fn derive_columns(
    upstream: &Upstream,
    models: &mut BTreeMap<String, Model>,
    only: Option<&BTreeSet<String>>,
    relations: &Arc<Relations>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Arc<Relations> {
    use crate::columns::models::{derive, key_of, Job, Nodes};
    let Upstream {
        project_name,
        seeds,
        sources,
        cache,
        sql_check,
    } = *upstream;
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
        derive(&jobs, &mut catalog, &nodes, cache, sql_check, diagnostics)
    };
    if only.is_none() {
        catalog.settle_all();
    }
    let todo = models
        .values_mut()
        .filter(|m| only.is_none_or(|o| o.contains(&m.name)));
    for (m, d) in todo.zip(derived) {
        if let (Some(strategy), Some(cols)) = (&m.snapshot, &d.snapshot_query) {
            check_snapshot_columns(m, strategy, cols, diagnostics);
        }
        m.columns = d.select_list;
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
