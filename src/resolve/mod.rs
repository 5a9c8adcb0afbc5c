//! Resolve: turn a loaded project into checked nodes.
//!
//! Two render passes: the first discovers each model's `config()`, `ref()`
//! and `source()` calls (relation names are not known yet, since a model's
//! schema may be set in its own `config()`); the second renders with the real
//! relation names and checks the SQL. Both passes run in parallel per model.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::{self, ConfigEntry, ConfigLayer, Materialization, ModelConfig};
use crate::datatest;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::graph;
use crate::node::{Model, Resolved, ResolvedSeed, ResolvedSource};
use crate::parse_cache::ParseCache;
use crate::project::{Flavor, ModelFile, Project};
use crate::relation::Relation;
use crate::render::cache::{Keys as CacheKeys, RenderCache};
use crate::render::{call_span, Calls, Relations, RenderInput, Renderer};
use crate::schema::{OtherKind, UnitInputKind};

mod columns;
mod database;
mod dbt_nodes;
mod entries;
mod migrations;
mod model_config;
mod names;
mod queries;

use self::columns::{
    check_configured_columns, derive_columns, render_again, Again, Rerendered, Upstream,
};
use self::database::skip_models_needing_a_database;
use self::dbt_nodes::{dbt_graph, node_json, other_nodes, run_hooks, serde_value};
pub use self::entries::foreign_key_targets;
use self::entries::{
    catalog, model_entries, model_versions, rejected_schema_texts, seed_entries, source_tables,
    strictness, unquoted,
};
use self::migrations::{check_migration_names, check_migrations, check_sources_created};
use self::model_config::{config_call_layer, default_schema, snapshot_span};
use self::names::{check_schema_file_names, check_truncated_names, check_unique_names};
pub use self::names::{truncated, MAX_IDENTIFIER};
use self::queries::{
    check_columns_for_merge, check_contracts, check_described_columns, check_query, check_refs,
    hard_coded_names, single_queries,
};

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
    diagnostics: &mut Vec<Diagnostic>,
) -> Resolved {
    let dbt_settings = project.settings.dbt.as_ref();
    let dbt = project.settings.flavor == Flavor::Dbt;
    for file in &project.schema_files {
        diagnostics.extend(file.strict.iter().map(|s| strictness(s, dbt)));
    }
    let (macro_files, generic_names) = datatest::generic_tests(&project.macros);
    let package_tests = project
        .dbt_macros
        .as_ref()
        .map(|m| datatest::package_tests(&m.packages))
        .unwrap_or_default();
    let render_options = crate::render::RenderOptions {
        dbt_whitespace: dbt_settings.is_some(),
        target: dbt_settings.map(|d| crate::dbt::profiles::target_json(&d.target)),
        dbt: project.dbt_macros.clone(),
    };
    let renderer = Renderer::new_with(&macro_files, &render_options, diagnostics);
    // A stackc project's renders are kept between compiles (see
    // `render::cache` for what a key holds, and why dbt projects are not).
    let cache_keys = (!dbt && project.dbt_macros.is_none()).then(|| {
        CacheKeys::new(
            &render_options,
            &macro_files,
            &format!("{:?}", project.settings),
        )
    });
    let vars = Arc::new(project.settings.vars.clone());
    // A package's nodes see its own vars under the root project's.
    let package_vars: BTreeMap<&str, Arc<BTreeMap<String, serde_json::Value>>> = dbt_settings
        .map(|d| {
            d.packages
                .iter()
                .map(|(name, p)| {
                    (
                        name.as_str(),
                        Arc::new({
                            let mut vars = p.vars_for(name, &project.settings.vars);
                            // dbt: command-line vars win over every scope.
                            vars.extend(project.settings.cli_vars.clone());
                            vars
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let vars_of = |path: &str| -> &Arc<BTreeMap<String, serde_json::Value>> {
        dbt_settings
            .and_then(|d| d.package_of(path))
            .and_then(|(name, _)| package_vars.get(name))
            .unwrap_or(&vars)
    };
    let no_relations = Arc::new(Relations::default());
    let empty_graph = serde_value(serde_json::json!({"nodes": {}, "sources": {}}));

    // Pass 1: discovery.
    let discovered: Vec<(Discovered, Option<Diagnostic>)> = project
        .models
        .par_iter()
        .with_max_len(MODELS_PER_TASK)
        .map(|m| {
            let this = Relation {
                schema: "this".into(),
                name: m.name.clone(),
                quote: false,
                cte: None,
            };
            let key = cache_keys.map(|k| k.render(&m.file, Some(&this), false));
            let render = || {
                renderer.render(RenderInput {
                    file: &m.file,
                    relations: &no_relations,
                    vars: vars_of(&m.file.path),
                    this: Some(this.clone()),
                    is_incremental: false,
                    // What dbt's parser knows of the node before its configs.
                    model: dbt_settings.map(|d| serde_value(node_json(project, d, m, None, None))),
                    graph: dbt_settings.map(|_| empty_graph.clone()),
                })
            };
            let result = render_cache.render(key, render, &m.file);
            match result {
                Ok(r) => (
                    Discovered {
                        calls: r.calls,
                        ok: true,
                    },
                    None,
                ),
                Err(d) => (
                    Discovered {
                        calls: Calls::default(),
                        ok: false,
                    },
                    Some(d),
                ),
            }
        })
        .collect();
    diagnostics.extend(discovered.iter().filter_map(|(_, d)| d.clone()));

    let entries = model_entries(project, dbt, diagnostics);
    let seed_entries = seed_entries(project, dbt, diagnostics);
    check_unique_names(project, diagnostics);
    check_schema_file_names(project, diagnostics);

    // The `config:` of schema-file `snapshots:` entries, by name.
    let snapshot_entries: BTreeMap<&str, &ConfigLayer> = project
        .schema_files
        .iter()
        .flat_map(|f| &f.others)
        .filter(|o| o.kind == OtherKind::Snapshot)
        .map(|o| (o.name.as_str(), &o.config))
        .collect();
    // Configuration and relation of every model.
    let mut configs: BTreeMap<String, ModelConfig> = BTreeMap::new();
    let mut relations = Relations::default();
    let resolved_configs: Vec<(ModelConfig, Relation, Vec<Diagnostic>)> = project
        .models
        .par_iter()
        .zip(&discovered)
        .map(|(m, (disc, _))| {
            let mut local = Vec::new();
            let call_layer = config_call_layer(m, &disc.calls);
            let snapshot_layer: ConfigLayer;
            let mut layers: Vec<&ConfigLayer> = Vec::new();
            if m.snapshot {
                // A snapshot is a snapshot whatever a folder's configs say.
                snapshot_layer = ConfigLayer::from([(
                    "materialized".to_string(),
                    ConfigEntry {
                        value: serde_json::Value::String("snapshot".into()),
                        span: snapshot_span(m),
                    },
                )]);
                layers.push(&snapshot_layer);
            }
            layers.push(&call_layer);
            if m.snapshot {
                if let Some(layer) = snapshot_entries.get(m.name.as_str()) {
                    layers.push(layer);
                }
            } else if let Some(entry) = entries.get(&m.name) {
                layers.push(&entry.config);
            }
            let package = dbt_settings.and_then(|d| d.package_of(&m.file.path));
            if let (true, Some(dbt)) = (m.snapshot, dbt_settings) {
                let dbt_path = crate::dbt::project::config_path(&m.folders, &m.name);
                if let Some(layer) = dbt.snapshot_configs.get(&dbt_path) {
                    layers.push(layer);
                }
                for depth in (0..=m.folders.len()).rev() {
                    if let Some(layer) = dbt.snapshot_configs.get(&m.folders[..depth]) {
                        layers.push(layer);
                    }
                }
            } else {
                // A package's model takes the root project's `models: {pkg: ...}`
                // first, at any depth, then the package's own tree: dbt lets the
                // root project have the last word.
                let trees: Vec<&BTreeMap<Vec<String>, ConfigLayer>> = match (dbt_settings, package)
                {
                    (Some(d), Some((name, own))) => d
                        .package_configs
                        .get(name)
                        .into_iter()
                        .chain(std::iter::once(&own.model_configs))
                        .collect(),
                    _ => vec![&project.settings.folder_configs],
                };
                // dbt's trees may name the model itself as the last part.
                let dbt_path = crate::dbt::project::config_path(&m.folders, &m.name);
                for tree in trees {
                    if project.settings.flavor == Flavor::Dbt {
                        if let Some(layer) = tree.get(&dbt_path) {
                            layers.push(layer);
                        }
                    }
                    for depth in (0..=m.folders.len()).rev() {
                        if let Some(layer) = tree.get(&m.folders[..depth]) {
                            layers.push(layer);
                        }
                    }
                }
            }
            let config = config::resolve_for(&layers, project.settings.flavor, &mut local);
            if !m.snapshot && config.materialized == Materialization::Snapshot {
                let mut d = Diagnostic::new(
                    Code::E0307,
                    format!("model `{}` is materialized as `snapshot`, which only a snapshot block can be", m.name),
                )
                .help("move the query into `{% snapshot name %} ... {% endsnapshot %}` in a file under the snapshot paths (`snapshots/`)");
                if let Some(span) = config.spans.get("materialized") {
                    d = d.at(span.clone());
                }
                local.push(d);
            }
            let (schema, name) = match dbt_settings {
                Some(dbt) => {
                    let text = |k: &str| config.dbt.get(k).and_then(|v| v.as_str());
                    let node = crate::render::dbt::naming::Node {
                        name: &m.name,
                        resource_type: if m.snapshot { "snapshot" } else { "model" },
                        package: package.map_or(project.settings.name.as_str(), |p| p.0),
                        path: &m.file.path,
                        folders: &m.folders,
                        config: serde_json::json!({
                            "materialized": config.materialized.as_str(),
                            "schema": config.schema,
                            "tags": config.tags,
                            "alias": text("alias"),
                        }),
                    };
                    let names = crate::render::dbt::naming::names(
                        &renderer,
                        &dbt.target,
                        vars_of(&m.file.path),
                        &node,
                        config.schema.as_deref(),
                        text("alias"),
                        text("database").or(text("target_database").filter(|_| m.snapshot)),
                        &config
                            .spans
                            .get("database")
                            .cloned()
                            .unwrap_or_else(|| Span::new(&m.file.path, 0..0)),
                        &mut local,
                    );
                    // A snapshot's legacy `target_schema` is the schema
                    // itself: dbt does not pass it through generate_schema_name.
                    match text("target_schema").filter(|_| m.snapshot) {
                        Some(schema) => (schema.to_string(), names.alias),
                        None => (names.schema, names.alias),
                    }
                }
                None => (
                    config
                        .schema
                        .clone()
                        .unwrap_or_else(|| default_schema(project, m)),
                    m.name.clone(),
                ),
            };
            let cte = (config.materialized == Materialization::Ephemeral)
                .then(|| format!("__stackc_ephemeral_{}", m.name));
            let (schema, name) = unquoted(dbt_settings, schema, name);
            let relation = Relation {
                schema,
                name,
                quote: false,
                cte,
            };
            (config, relation, local)
        })
        .collect();
    for (m, (config, relation, local)) in project.models.iter().zip(resolved_configs) {
        diagnostics.extend(local);
        if let Some(d) = dbt_settings {
            let owner = d
                .package_of(&m.file.path)
                .map_or(project.settings.name.as_str(), |p| p.0);
            relations.packages.insert(m.name.clone(), owner.to_string());
        }
        relations.models.insert(m.name.clone(), relation);
        configs.insert(m.name.clone(), config);
    }
    // A disabled node vanishes from a dbt project; a ref to one is an error.
    let mut disabled: BTreeSet<String> = configs
        .iter()
        .filter(|(_, c)| dbt_settings.is_some() && !c.enabled)
        .map(|(n, _)| n.clone())
        .collect();
    let mut seeds = BTreeMap::new();
    for seed in &project.seeds {
        if let Some(d) = dbt_settings {
            let config = crate::dbt::seeds::config(d, seed, &project.settings.paths.seeds);
            if config.get("enabled").and_then(|e| e.as_bool()) == Some(false) {
                disabled.insert(seed.name.clone());
                continue;
            }
        }
        let (schema, name) = match dbt_settings {
            Some(dbt) => crate::render::dbt::naming::seed_names(
                &renderer,
                dbt,
                &project.settings.name,
                vars_of(&seed.file.path),
                seed,
                &project.settings.paths.seeds,
                diagnostics,
            ),
            None => (project.settings.seeds_schema.clone(), seed.name.clone()),
        };
        let (schema, name) = unquoted(dbt_settings, schema, name);
        let relation = Relation {
            schema,
            name,
            quote: false,
            cte: None,
        };
        if let Some(d) = dbt_settings {
            let owner = d
                .package_of(&seed.file.path)
                .map_or(project.settings.name.as_str(), |p| p.0);
            relations
                .packages
                .entry(seed.name.clone())
                .or_insert_with(|| owner.to_string());
        }
        relations
            .models
            .entry(seed.name.clone())
            .or_insert_with(|| relation.clone());
        seeds.insert(
            seed.name.clone(),
            ResolvedSeed {
                seed: seed.clone(),
                entry: seed_entries.get(&seed.name).cloned(),
                relation,
            },
        );
    }
    let sources = source_tables(project, diagnostics);
    for (
        (source, table),
        ResolvedSource {
            table: t,
            relation: rel,
            ..
        },
    ) in &sources
    {
        let _ = t;
        relations
            .sources
            .insert((source.clone(), table.clone()), rel.clone());
    }
    relations.versions = model_versions(project);
    relations.catalog = catalog(project, &seeds, &sources, &entries, &relations);
    relations.complete = true;
    let relations = Arc::new(relations);
    let cache_keys = cache_keys.map(|k| k.with_relations(&relations));

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
        )
    });

    // Pass 2: render with relations and check the SQL.
    let known: BTreeSet<&str> = project
        .models
        .iter()
        .map(|m| m.name.as_str())
        .chain(project.seeds.iter().map(|s| s.name.as_str()))
        .collect();
    let hard_coded = hard_coded_names(&relations);
    let rejected = rejected_schema_texts(project);
    // Renders and checks one model; again later for a model whose
    // introspection needed upstream columns not derived yet.
    let render_model =
        |m: &ModelFile, disc: &Discovered, relations: &Arc<Relations>| -> Rerendered {
            let mut local = Vec::new();
            if !disc.ok || disabled.contains(&m.name) {
                return (None, local);
            }
            let config = configs[&m.name].clone();
            let relation = relations.models[&m.name].clone();
            let this = Relation {
                cte: None,
                ..relation.clone()
            };
            let model_value = dbt_settings
                .map(|d| serde_value(node_json(project, d, m, Some(&config), Some(&relation))));
            let render = |is_incremental| {
                let key = cache_keys.map(|k| k.render(&m.file, Some(&this), is_incremental));
                let render = || {
                    renderer.render(RenderInput {
                        file: &m.file,
                        relations,
                        vars: vars_of(&m.file.path),
                        this: Some(this.clone()),
                        is_incremental,
                        model: model_value.clone(),
                        graph: graph.clone(),
                    })
                };
                render_cache.render(key, render, &m.file)
            };
            let full = match render(false) {
                Ok(r) => r,
                Err(d) => {
                    local.push(d);
                    return (None, local);
                }
            };
            let incremental = if config.materialized == Materialization::Incremental {
                match render(true) {
                    Ok(r) => Some(r),
                    Err(d) => {
                        local.push(d);
                        return (None, local);
                    }
                }
            } else {
                None
            };
            // A ref inside {% if is_incremental() %} is as real as any other.
            let mut all_calls = full.calls.clone();
            if let Some(inc) = &incremental {
                all_calls.refs.extend(inc.calls.refs.iter().cloned());
                all_calls.sources.extend(inc.calls.sources.iter().cloned());
                all_calls.refs.dedup();
                all_calls.sources.sort();
                all_calls.sources.dedup();
            }
            let mut seen = BTreeSet::new();
            all_calls.refs.retain(|r| seen.insert(r.clone()));
            check_refs(m, &all_calls, &known, relations, &rejected, &mut local);
            for name in all_calls.refs.iter().filter(|r| disabled.contains(*r)) {
                local.push(
                    Diagnostic::new(
                        Code::E0039,
                        format!("`{}` depends on `{name}`, which is disabled", m.name),
                    )
                    .at(call_span(&m.file, "ref", name))
                    .help(format!(
                        "enable `{name}` (its `enabled` config), or disable `{}` too",
                        m.name
                    )),
                );
            }
            let mut columns = None;
            if config.sql_check {
                columns = check_query(&full, parse_cache, &hard_coded, &mut local);
                if let Some(inc) = &incremental {
                    check_query(inc, parse_cache, &hard_coded, &mut local);
                }
            }
            let calls = &full.calls;
            let mut refs: Vec<String> = calls.refs.clone();
            let mut srcs = calls.sources.clone();
            if let Some(inc) = &incremental {
                refs.extend(inc.calls.refs.iter().cloned());
                srcs.extend(inc.calls.sources.iter().cloned());
            }
            refs.sort();
            refs.dedup();
            srcs.sort();
            srcs.dedup();
            let mut vars_used: BTreeSet<String> = calls.vars.clone();
            let mut env_used: BTreeSet<String> = calls.env_vars.clone();
            if let Some(inc) = &incremental {
                vars_used.extend(inc.calls.vars.iter().cloned());
                env_used.extend(inc.calls.env_vars.iter().cloned());
            }
            // The source maps are freed once the column analysis has read
            // them (see `columns::derive_columns`).
            let hook_sql = |key: &str, local: &mut Vec<Diagnostic>| -> Vec<String> {
                let Some(serde_json::Value::Array(items)) = config.dbt.get(key) else {
                    return Vec::new();
                };
                let at = config
                    .spans
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| Span::new(&m.file.path, 0..0));
                let mut out = Vec::new();
                for item in items {
                    let text = match item {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Object(o) => match o.get("sql").and_then(|s| s.as_str())
                        {
                            Some(s) => s.to_string(),
                            None => continue,
                        },
                        _ => continue,
                    };
                    match renderer.render_snippet(
                        &text,
                        Some(this.clone()),
                        relations,
                        vars_of(&m.file.path),
                        &at,
                    ) {
                        Ok(sql) if !sql.trim().is_empty() => out.push(sql.trim().to_string()),
                        Ok(_) => {}
                        Err(d) => local.push(d),
                    }
                }
                out
            };
            let snapshot = if m.snapshot {
                match crate::dbt::snapshot::strategy(&config, &snapshot_span(m)) {
                    Ok(s) => Some(s),
                    Err(d) => {
                        local.push(d);
                        return (None, local);
                    }
                }
            } else {
                None
            };
            let pre_hooks = hook_sql("pre_hook", &mut local);
            let post_hooks = hook_sql("post_hook", &mut local);
            let model = Model {
                snapshot,
                pre_hooks,
                post_hooks,
                name: m.name.clone(),
                file: m.file.clone(),
                config,
                relation,
                full,
                incremental,
                entry: None,
                refs,
                sources: srcs,
                vars: vars_used.into_iter().collect(),
                env_vars: env_used.into_iter().collect(),
                columns,
                derived_columns: None,
            };
            (Some(model), local)
        };
    let rendered: Vec<Rerendered> = project
        .models
        .par_iter()
        .zip(&discovered)
        .with_max_len(MODELS_PER_TASK)
        .map(|(m, (disc, _))| render_model(m, disc, &relations))
        .collect();
    // A rendered model's schema-file entry, and what its foreign keys make
    // it depend on.
    let finish = |mut model: Model| -> Model {
        model.entry = entries.get(&model.name).cloned();
        // A foreign key's `to:` is built first, as dbt orders it.
        for to in model.entry.iter().flat_map(|e| foreign_key_targets(e)) {
            match to {
                UnitInputKind::Ref(name) if name != model.name && known.contains(name.as_str()) => {
                    model.refs.push(name)
                }
                UnitInputKind::Source(s, t) if sources.contains_key(&(s.clone(), t.clone())) => {
                    model.sources.push((s, t))
                }
                _ => {}
            }
        }
        model.refs.sort();
        model.refs.dedup();
        model.sources.sort();
        model.sources.dedup();
        model
    };
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
            let model = finish(model);
            if model.config.enabled {
                models.insert(model.name.clone(), model);
            }
        }
    }
    let upstream = Upstream {
        project_name: &project.settings.name,
        seeds: &seeds,
        sources: &sources,
    };
    let relations = derive_columns(&upstream, &mut models, None, &relations, diagnostics);
    let relations = render_again(
        &Again {
            project,
            discovered: &discovered,
            render: &render_model,
            finish: &finish,
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

    let singular_tests = single_queries(
        &project.singular_tests,
        &renderer,
        &relations,
        &vars,
        &known,
        &hard_coded,
        diagnostics,
    );
    // dbt's analyses: compiled and checked like a test, never run.
    let analyses = single_queries(
        &project.analyses,
        &renderer,
        &relations,
        &vars,
        &known,
        &hard_coded,
        diagnostics,
    );

    let tests = datatest::build(
        &project.settings.name,
        &entries,
        &seeds,
        &sources,
        &models,
        &failed,
        &relations,
        &datatest::Generic {
            renderer: &renderer,
            relations: &relations,
            vars: &vars,
            names: &generic_names,
            package_tests: &package_tests,
        },
        diagnostics,
    );

    let declared: Vec<(Arc<str>, &crate::schema::UnitTest)> = project
        .schema_files
        .iter()
        .flat_map(|f| f.unit_tests.iter().map(move |u| (Arc::clone(&f.path), u)))
        .collect();
    let unit_tests = crate::unittest::compile(
        &declared,
        &renderer,
        &crate::unittest::Inputs {
            models: &models,
            seeds: &seeds,
            sources: &sources,
            relations: &relations,
            vars: &vars,
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
    let others = other_nodes(project, &models, &seeds, &sources, diagnostics);
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
        on_run_start: run_hooks(
            dbt_settings.map(|d| &d.on_run_start[..]),
            &renderer,
            &relations,
            &vars,
            diagnostics,
        ),
        on_run_end: run_hooks(
            dbt_settings.map(|d| &d.on_run_end[..]),
            &renderer,
            &relations,
            &vars,
            diagnostics,
        ),
        dbt_seeds: dbt_settings.map(|d| {
            project
                .seeds
                .iter()
                .map(|seed| {
                    let config = crate::dbt::seeds::config(d, seed, &project.settings.paths.seeds);
                    (seed.name.clone(), config)
                })
                .collect()
        }),
    }
}
