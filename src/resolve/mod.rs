//! Resolve: turn a loaded project into checked nodes.
//!
//! Two render passes: the first discovers each model's `config()`, `ref()`
//! and `source()` calls (relation names are not known yet, since a model's
//! schema may be set in its own `config()`); the second renders with the real
//! relation names and checks the SQL. Both passes run in parallel per model.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::columns::cache::ColumnCache;
use crate::columns::models::SqlCheck;
use crate::datatest;
use crate::diagnostic::Diagnostic;
use crate::graph;
use crate::node::{Model, Resolved};
use crate::parse_cache::ParseCache;
use crate::project::Project;
use crate::render::cache::RenderCache;
use crate::render::{Calls, Relations};

mod columns;
mod configure;
mod database;
mod dbt_graph;
mod dbt_nodes;
mod entries;
mod migrations;
mod model_config;
mod models;
mod names;
mod queries;
mod setup;
mod shadowed;
mod singular;

use self::columns::{
    check_configured_columns, derive_columns, render_again, Again, Rerendered, Upstream,
};
use self::configure::{complete_relations, configure_models, place_seeds, Configured};
use self::database::skip_models_needing_a_database;
use self::dbt_nodes::{dbt_graph, other_nodes, run_hooks};
pub use self::entries::foreign_key_targets;
use self::entries::{model_entries, rejected_schema_texts, seed_entries, source_tables};
use self::migrations::{check_migration_names, check_migrations, check_sources_created};
use self::models::ModelPass;
use self::names::{check_schema_file_names, check_truncated_names, check_unique_names};
pub use self::names::{truncated, MAX_IDENTIFIER};
use self::queries::{
    check_columns_for_merge, check_contracts, check_described_columns, hard_coded_names,
    single_queries,
};
use self::setup::{discover, setup};
pub use self::shadowed::drop_shadowed_models;

/// What the discovery pass learnt of a model: the calls it makes, and
/// whether it rendered.
struct Discovered {
    calls: Calls,
    ok: bool,
}

/// Models per unit of parallel work. Rayon otherwise splits a few large
/// ranges, and when the last one holds the slower models (long marts,
/// incremental models rendered and parsed twice), one core waits: 0.25 s
/// of a 10,000-model compile ran on one thread.
const MODELS_PER_TASK: usize = 32;

pub fn resolve(
    project: &Project,
    parse_cache: &ParseCache,
    render_cache: &RenderCache,
    column_cache: &ColumnCache,
    diagnostics: &mut Vec<Diagnostic>,
) -> Resolved {
    let setup = setup(project, diagnostics);
    let (dbt_settings, dbt) = (setup.dbt_settings, setup.dbt);
    // Pass 1: discovery.
    let discovered = discover(project, &setup, render_cache, diagnostics);

    let entries = model_entries(project, dbt, diagnostics);
    let seed_entries = seed_entries(project, dbt, diagnostics);
    // A disabled seed leaves the namespace, as in dbt: a root seed may
    // take the name of a package's seed the root disables.
    let disabled_seeds = disabled_seeds(project, dbt_settings);
    check_unique_names(project, &disabled_seeds, diagnostics);
    check_schema_file_names(project, diagnostics);

    // Configuration and relation of every model, seed and source.
    let Configured {
        configs,
        mut relations,
    } = configure_models(project, &setup, &discovered, &entries, diagnostics);
    // A disabled node vanishes from a dbt project; a ref to one is an error.
    let mut disabled: BTreeSet<String> = configs
        .iter()
        .filter(|(_, c)| dbt_settings.is_some() && !c.enabled)
        .map(|(n, _)| n.clone())
        .collect();
    let seeds = place_seeds(
        project,
        &setup,
        &seed_entries,
        &mut relations,
        &mut disabled,
        diagnostics,
    );
    // A ref resolves to the enabled node of its name, if there is one.
    disabled.retain(|n| !seeds.contains_key(n));
    let sources = source_tables(project, diagnostics);
    let relations = complete_relations(project, relations, &seeds, &sources, &entries);

    // dbt's `graph`: every enabled model and seed, and the sources, as the
    // parsed manifest has them (without compiled SQL).
    let graph = dbt_settings.map(|d| {
        dbt_graph(
            project,
            d,
            &discovered,
            &disabled,
            &configs,
            &relations,
            &seeds,
            &sources,
            &entries,
        )
    });

    // Pass 2: render with relations and check the SQL.
    let known = known_names(project);
    let hard_coded = hard_coded_names(&relations);
    let rejected = rejected_schema_texts(project);
    let pass = ModelPass {
        project,
        setup: &setup,
        parse_cache,
        render_cache,
        cache_keys: setup.cache_keys.map(|k| k.with_relations(&relations)),
        configs: &configs,
        disabled: &disabled,
        known: &known,
        hard_coded: &hard_coded,
        rejected: &rejected,
        graph,
        entries: &entries,
        sources: &sources,
    };
    let (mut models, mut failed) =
        render_models(project, &pass, &discovered, &relations, diagnostics);
    let check = |r: &crate::render::Rendered, parsed, diagnostics: &mut Vec<Diagnostic>| {
        self::queries::check_parsed(r, parsed, &hard_coded, diagnostics)
    };
    let sql_check = SqlCheck {
        parse_cache,
        // A switch of the benchmark alone (docs/benchmark.md), to measure
        // what the column pass costs; not for users.
        derive: std::env::var_os("STACKC_BENCH_NO_COLUMNS").is_none(),
        check: &check,
    };
    let upstream = Upstream {
        project_name: &project.settings.name,
        seeds: &seeds,
        sources: &sources,
        cache: column_cache,
        sql_check: &sql_check,
    };
    let relations = derive_columns(&upstream, &mut models, None, &relations, diagnostics);
    let relations = render_again(
        &Again {
            project,
            discovered: &discovered,
            render: &|m, disc, relations| pass.render(m, disc, relations),
            finish: &|model| pass.finish(model),
            check_sql: &|model, diagnostics| pass.check_sql(model, diagnostics),
            upstream: &upstream,
        },
        &mut models,
        &mut failed,
        relations,
        diagnostics,
    );
    if dbt {
        skip_models_needing_a_database(project, &mut models, &mut failed, diagnostics);
    }
    check_configured_columns(&models, diagnostics);
    check_columns_for_merge(&models, diagnostics);
    check_described_columns(&models, dbt, diagnostics);
    check_truncated_names(&models, &seeds, diagnostics);
    check_contracts(&models, &known, &sources, diagnostics);

    let renderer = &setup.renderer;
    let vars = &setup.vars;
    let single = |files: &[crate::project::SourceFile], diagnostics: &mut Vec<Diagnostic>| {
        let graph = pass.graph.as_ref();
        single_queries(
            files,
            renderer,
            &relations,
            vars,
            &known,
            &hard_coded,
            graph,
            diagnostics,
        )
    };
    let singular_tests = single(&project.singular_tests, diagnostics);
    // dbt's analyses: compiled and checked like a test, never run.
    let analyses = single(&project.analyses, diagnostics);

    let mut tests = datatest::build(
        &project.settings.name,
        &entries,
        &seeds,
        &sources,
        &models,
        &failed,
        &relations,
        &datatest::Generic {
            renderer,
            relations: &relations,
            vars,
            names: &setup.generic_names,
            package_tests: &setup.package_tests,
        },
        diagnostics,
    );

    let mut singular_tests = singular::settle(project, singular_tests, diagnostics);
    place_stored_failures(
        project,
        &setup,
        &mut tests,
        &mut singular_tests,
        diagnostics,
    );

    let declared = declared_unit_tests(project);
    let unit_models = unit_model_values(project, dbt_settings, &declared, &models);
    let unit_tests = crate::unittest::compile(
        &declared,
        renderer,
        &crate::unittest::Inputs {
            model_values: &unit_models,
            graph: pass.graph.as_ref(),
            models: &models,
            seeds: &seeds,
            sources: &sources,
            relations: &relations,
            vars,
            failed: &failed,
            dbt,
        },
        diagnostics,
    );

    // A dbt project's sources are loaded by other tools; with no migrations
    // of its own, there is nothing to compare them with.
    if !(dbt && project.migrations.is_empty()) {
        check_sources_created(project, &sources, diagnostics);
    }
    check_migrations(project, diagnostics);

    let graph = graph::build(
        &project.settings.name,
        &models,
        &seeds,
        &sources,
        &tests,
        &singular_tests,
        diagnostics,
    );
    check_migration_names(project, &models, &seeds, &graph, diagnostics);
    let model_names: BTreeSet<&str> = models.keys().map(String::as_str).collect();
    let others = other_nodes(project, &model_names, &seeds, &sources, diagnostics);
    drop(model_names);
    // dbt renders the run hooks with the graph (a package's on-run-end
    // reads `graph.nodes`).
    let run_graph = pass.graph.as_ref();
    let mut hooks = |list: Option<&[crate::dbt::Hook]>| {
        run_hooks(list, renderer, &relations, vars, run_graph, diagnostics)
    };
    let on_run_start = hooks(dbt_settings.map(|d| &d.on_run_start[..]));
    let on_run_end = hooks(dbt_settings.map(|d| &d.on_run_end[..]));
    Resolved {
        project_name: project.settings.name.clone(),
        models,
        seeds,
        sources,
        tests,
        singular_tests,
        analyses,
        unit_tests,
        others,
        graph,
        on_run_start,
        on_run_end,
        dbt_seeds: dbt_settings.map(|d| dbt_seed_configs(project, d)),
    }
}

/// The seeds a dbt project disables, by file: a disabled seed leaves the
/// namespace, as in dbt.
fn disabled_seeds<'p>(
    project: &'p Project,
    dbt_settings: Option<&crate::dbt::DbtSettings>,
) -> BTreeSet<&'p str> {
    let Some(d) = dbt_settings else {
        return BTreeSet::new();
    };
    project
        .seeds
        .iter()
        .filter(|s| {
            crate::dbt::seeds::config(d, s, &project.settings.paths.seeds)
                .get("enabled")
                .and_then(|e| e.as_bool())
                == Some(false)
        })
        .map(|s| &*s.file.path)
        .collect()
}

/// The names a `ref()` may reach: every model and seed.
fn known_names(project: &Project) -> BTreeSet<&str> {
    project
        .models
        .iter()
        .map(|m| m.name.as_str())
        .chain(project.seeds.iter().map(|s| s.name.as_str()))
        .collect()
}

/// The relation each data test and singular test stores its failing rows
/// in, where it stores them.
fn place_stored_failures(
    project: &Project,
    setup: &setup::Setup<'_>,
    tests: &mut [crate::node::DataTest],
    singular_tests: &mut [crate::node::SingularTest],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let stored = tests
        .iter_mut()
        .map(|t| (t.name.as_str(), &t.span, &mut t.store))
        .chain(
            singular_tests
                .iter_mut()
                .map(|t| (t.name.as_str(), &t.settings.span, &mut t.store)),
        );
    configure::place_stored_failures(project, setup, stored, diagnostics);
}

/// Every unit test of the schema files, with the file it is in.
fn declared_unit_tests(project: &Project) -> Vec<(Arc<str>, &crate::schema::UnitTest)> {
    project
        .schema_files
        .iter()
        .flat_map(|f| f.unit_tests.iter().map(move |u| (Arc::clone(&f.path), u)))
        .collect()
}

/// dbt's `model` of each unit-tested model of a dbt project: a unit test
/// renders its model with it (and `graph`), as the model's own render has
/// them.
fn unit_model_values(
    project: &Project,
    dbt_settings: Option<&crate::dbt::DbtSettings>,
    declared: &[(Arc<str>, &crate::schema::UnitTest)],
    models: &BTreeMap<String, Model>,
) -> BTreeMap<String, minijinja::Value> {
    let Some(d) = dbt_settings else {
        return BTreeMap::new();
    };
    declared
        .iter()
        .filter_map(|(_, u)| {
            let resolved = models.get(&u.model)?;
            let file = project
                .models
                .iter()
                .find(|m| m.file.path == resolved.file.path)?;
            let node = dbt_nodes::node_json(
                project,
                d,
                file,
                Some(&resolved.config),
                Some(&resolved.relation),
                resolved.entry.as_deref(),
            );
            Some((u.model.clone(), dbt_nodes::node_value(node)))
        })
        .collect()
}

/// Every seed's config from dbt's `seeds:` tree.
fn dbt_seed_configs(
    project: &Project,
    d: &crate::dbt::DbtSettings,
) -> BTreeMap<String, BTreeMap<String, serde_json::Value>> {
    project
        .seeds
        .iter()
        .map(|seed| {
            let config = crate::dbt::seeds::config(d, seed, &project.settings.paths.seeds);
            (seed.name.clone(), config)
        })
        .collect()
}

/// Every model rendered with the relations, in parallel; the enabled ones
/// by name, and the names of those that did not render or resolve.
fn render_models(
    project: &Project,
    pass: &ModelPass<'_>,
    discovered: &[(Discovered, Option<Diagnostic>)],
    relations: &Arc<Relations>,
    diagnostics: &mut Vec<Diagnostic>,
) -> (BTreeMap<String, Model>, BTreeSet<String>) {
    let rendered: Vec<Rerendered> = project
        .models
        .par_iter()
        .zip(discovered)
        .with_max_len(MODELS_PER_TASK)
        .map(|(m, (disc, _))| pass.render(m, disc, relations))
        .collect();
    let mut models = BTreeMap::new();
    // Models whose file exists but did not render or resolve: what is
    // attached to them is not checked, to report no second error.
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for ((model, local), m) in rendered.into_iter().zip(&project.models) {
        diagnostics.extend(local);
        if model.is_none() {
            failed.insert(m.name.clone());
        }
        if let Some(model) = model {
            let model = pass.finish(model);
            if !model.config.enabled {
                pass.check_sql(&model, diagnostics);
            } else if let Some(first) = models.insert(model.name.clone(), model) {
                pass.check_sql(&first, diagnostics);
            }
        }
    }
    (models, failed)
}
