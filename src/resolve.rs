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
use crate::datatest::{self, DataTest};
use crate::diagnostic::{offset_of, Code, Diagnostic, Span};
use crate::graph::{self, Graph};
use crate::parse_cache::ParseCache;
use crate::project::{Flavor, MigrationKind, ModelFile, Project, SourceFile};
use crate::render::cache::{Keys as CacheKeys, RenderCache};
use crate::render::{call_span, Calls, Relation, Relations, RenderInput, Rendered, Renderer};
use crate::schema::{
    Column, ModelEntry, OtherEntry, OtherKind, SeedEntry, SourceEntry, SourceTable, Strict,
    UnitInputKind,
};
use crate::seed::Seed;
use crate::sql::{self, QueryProblem};

/// A model after resolution: its configuration, relation and rendered SQL.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub file: SourceFile,
    pub config: ModelConfig,
    pub relation: Relation,
    /// The model rendered with `is_incremental()` false: the full build.
    pub full: Rendered,
    /// For incremental models, rendered with `is_incremental()` true.
    pub incremental: Option<Rendered>,
    pub entry: Option<Arc<ModelEntry>>,
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
    pub vars: Vec<String>,
    pub env_vars: Vec<String>,
    /// The full query's output columns, when its select list names them all.
    pub columns: Option<Vec<String>>,
    /// dbt's `pre_hook` / `post_hook`, rendered, in run order.
    pub pre_hooks: Vec<String>,
    pub post_hooks: Vec<String>,
    /// A dbt snapshot's strategy (its materialization is `snapshot`).
    pub snapshot: Option<crate::dbt::snapshot::Strategy>,
}

#[derive(Debug, Clone)]
pub struct SingularTest {
    pub name: String,
    pub file: SourceFile,
    pub rendered: Rendered,
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
}

/// E0153 (a query the database would answer) and E0170 (columns only the
/// database knows): what dbt asks the database while it builds a model.
fn needs_database(code: Code) -> bool {
    matches!(code, Code::E0153 | Code::E0170)
}

/// In a dbt project, a model whose only errors are E0153 or E0170 (its SQL
/// needs the database at compile time, which dbt has and stackc does not)
/// is not built, with warning W0180, and neither is
/// anything that reads it; the rest of the project compiles, as `dbt
/// build` builds the rest when one node fails. A stackc project keeps the
/// error.
fn skip_models_needing_a_database(
    project: &Project,
    models: &mut BTreeMap<String, Model>,
    failed: &mut BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let by_file: BTreeMap<&str, &str> = project
        .models
        .iter()
        .map(|m| (&*m.file.path, m.name.as_str()))
        .collect();
    // model name -> whether every error in its file is E0153.
    let mut only_e0153: BTreeMap<&str, bool> = BTreeMap::new();
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        let Some(name) = d.primary.as_ref().and_then(|p| by_file.get(&*p.file)) else {
            continue;
        };
        let ok = only_e0153.entry(name).or_insert(true);
        *ok &= needs_database(d.code);
    }
    let skipped: BTreeSet<String> = only_e0153
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(name, _)| name.to_string())
        .collect();
    if skipped.is_empty() {
        return;
    }
    let mut seen = BTreeSet::new();
    let mut kept = Vec::with_capacity(diagnostics.len());
    for d in diagnostics.drain(..) {
        let name = d.primary.as_ref().and_then(|p| by_file.get(&*p.file));
        match name {
            Some(name) if needs_database(d.code) && skipped.contains(*name) => {
                // Discovery and the final render report the same error.
                let at = d.primary.as_ref().map(|p| (p.range.start, p.range.end));
                if !seen.insert((d.message.clone(), at)) {
                    continue;
                }
                let mut w = Diagnostic::new(
                    Code::W0180,
                    format!("model `{name}` is not built: {}", d.message),
                )
                .help(format!(
                    "{}; stackc builds the rest of the project without it (`--warn-error` makes this an error)",
                    d.help.clone().unwrap_or_default()
                ));
                w.primary = d.primary;
                w.related = d.related;
                kept.push(w);
            }
            _ => kept.push(d),
        }
    }
    *diagnostics = kept;
    for name in &skipped {
        models.remove(name);
        failed.insert(name.clone());
    }
    // What reads a model that is not built is not built either.
    let mut not_built = skipped;
    loop {
        let downstream: Vec<(String, String)> = models
            .values()
            .filter_map(|m| {
                let upstream = m.refs.iter().find(|r| not_built.contains(*r))?;
                Some((m.name.clone(), upstream.clone()))
            })
            .collect();
        if downstream.is_empty() {
            break;
        }
        for (name, upstream) in downstream {
            let Some(m) = models.remove(&name) else {
                continue;
            };
            let text = &m.file.text;
            let at = [format!("ref('{upstream}')"), format!("ref(\"{upstream}\")")]
                .iter()
                .find_map(|needle| text.find(needle.as_str()).map(|i| i..i + needle.len()))
                .unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::new(
                    Code::W0180,
                    format!(
                        "model `{name}` is not built: it reads `{upstream}`, which is not built"
                    ),
                )
                .at(Span::new(&m.file.path, at))
                .help("see the warning about the upstream model"),
            );
            failed.insert(name.clone());
            not_built.insert(name);
        }
    }
}

/// Everything later stages need, checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub project_name: String,
    pub models: BTreeMap<String, Model>,
    pub seeds: BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
    pub sources: BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
    pub tests: Vec<DataTest>,
    pub singular_tests: Vec<SingularTest>,
    /// dbt's analyses (`analysis-paths`): rendered and checked, written to
    /// `OUT/analyses/`, never run. Their `refs` are not graph edges.
    pub analyses: Vec<SingularTest>,
    pub unit_tests: Vec<crate::unittest::CompiledUnitTest>,
    /// Exposures, semantic models, metrics and saved queries: in the
    /// manifest and its lineage, no SQL. Sorted by unique id.
    pub others: Vec<OtherNode>,
    pub graph: Graph,
    /// In a dbt project: each seed's configs from dbt_project.yml's
    /// `seeds:` tree (`column_types`, `quote_columns`...), by seed name.
    pub dbt_seeds: Option<BTreeMap<String, BTreeMap<String, serde_json::Value>>>,
    /// A dbt project's `on-run-start` / `on-run-end`, rendered.
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct OtherNode {
    pub unique_id: String,
    pub entry: OtherEntry,
    /// Unique ids of the models, seeds and sources it depends on.
    pub depends_on: Vec<String>,
}

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
        target: dbt_settings.map(|d| crate::dbt::naming::target_json(&d.target)),
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
                        Arc::new(p.vars_for(name, &project.settings.vars)),
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
                    let node = crate::dbt::naming::Node {
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
                    let names = crate::dbt::naming::names(
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
            Some(dbt) => crate::dbt::seeds::names(
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
            (
                seed.clone(),
                seed_entries.get(&seed.name).cloned(),
                relation,
            ),
        );
    }
    let sources = source_tables(project, diagnostics);
    for ((source, table), (_, t, rel)) in &sources {
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
        let mut nodes = serde_json::Map::new();
        for (m, (disc, _)) in project.models.iter().zip(&discovered) {
            if disabled.contains(&m.name) {
                continue;
            }
            let mut node = node_json(
                project,
                d,
                m,
                configs.get(&m.name),
                relations.models.get(&m.name),
            );
            let depends: Vec<String> = disc
                .calls
                .refs
                .iter()
                .filter_map(|r| {
                    let owner = relations.packages.get(r)?;
                    let kind = if project.seeds.iter().any(|s| &s.name == r) {
                        "seed"
                    } else {
                        "model"
                    };
                    Some(format!("{kind}.{owner}.{r}"))
                })
                .collect();
            node["depends_on"] = serde_json::json!({"nodes": depends, "macros": []});
            let id = node["unique_id"].as_str().unwrap_or_default().to_string();
            nodes.insert(id, node);
        }
        for (name, (seed, _, relation)) in &seeds {
            let owner = relations
                .packages
                .get(name)
                .cloned()
                .unwrap_or_else(|| project.settings.name.clone());
            let id = format!("seed.{owner}.{name}");
            nodes.insert(
                id.clone(),
                serde_json::json!({
                    "unique_id": id,
                    "name": name,
                    "resource_type": "seed",
                    "package_name": owner,
                    "original_file_path": &*seed.file.path,
                    "path": &*seed.file.path,
                    "schema": relation.schema,
                    "alias": relation.name,
                    "identifier": relation.name,
                    "database": d.target.database,
                    "config": {"enabled": true, "materialized": "seed"},
                }),
            );
        }
        let mut sources_json = serde_json::Map::new();
        for ((source, table), (_, _, rel)) in &sources {
            let id = format!("source.{}.{source}.{table}", project.settings.name);
            sources_json.insert(
                id.clone(),
                serde_json::json!({
                    "unique_id": id,
                    "name": table,
                    "source_name": source,
                    "resource_type": "source",
                    "package_name": project.settings.name,
                    "schema": rel.schema,
                    "identifier": rel.name,
                    "database": d.target.database,
                }),
            );
        }
        serde_value(serde_json::json!({
            "nodes": nodes,
            "sources": sources_json,
        }))
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
    let rendered: Vec<(Option<Model>, Vec<Diagnostic>)> = project
        .models
        .par_iter()
        .zip(&discovered)
        .with_max_len(MODELS_PER_TASK)
        .map(|(m, (disc, _))| {
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
                        relations: &relations,
                        vars: vars_of(&m.file.path),
                        this: Some(this.clone()),
                        is_incremental,
                        model: model_value.clone(),
                        graph: graph.clone(),
                    })
                };
                render_cache.render(key, render, &m.file)
            };
            let mut full = match render(false) {
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
            check_refs(m, &all_calls, &known, &relations, &rejected, &mut local);
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
            full.shrink_after_checks();
            let incremental = incremental.map(|mut r| {
                r.shrink_after_checks();
                r
            });
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
                        &relations,
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
            };
            (Some(model), local)
        })
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
        if let Some(mut model) = model {
            model.entry = entries.get(&model.name).cloned();
            // A foreign key's `to:` is built first, as dbt orders it.
            for to in model.entry.iter().flat_map(|e| foreign_key_targets(e)) {
                match to {
                    UnitInputKind::Ref(name)
                        if name != model.name && known.contains(name.as_str()) =>
                    {
                        model.refs.push(name)
                    }
                    UnitInputKind::Source(s, t)
                        if sources.contains_key(&(s.clone(), t.clone())) =>
                    {
                        model.sources.push((s, t))
                    }
                    _ => {}
                }
            }
            model.refs.sort();
            model.refs.dedup();
            model.sources.sort();
            model.sources.dedup();
            if model.config.enabled {
                models.insert(model.name.clone(), model);
            }
        }
    }
    if dbt {
        skip_models_needing_a_database(project, &mut models, &mut failed, diagnostics);
    }
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

/// `on-run-start`/`on-run-end` rendered (with `target`, `var` and `ref`);
/// empty entries dropped.
fn run_hooks(
    hooks: Option<&[crate::dbt::Hook]>,
    renderer: &Renderer,
    relations: &Arc<Relations>,
    vars: &Arc<BTreeMap<String, serde_json::Value>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut out = Vec::new();
    for hook in hooks.unwrap_or_default() {
        match renderer.render_snippet(&hook.sql, None, relations, vars, &hook.span) {
            Ok(sql) if !sql.trim().is_empty() => out.push(sql.trim().to_string()),
            Ok(_) => {}
            Err(d) => diagnostics.push(d),
        }
    }
    out
}

/// Exposures, semantic models, metrics and saved queries with what they
/// depend on. Snapshots are left out: stackc does not build them.
fn other_nodes(
    project: &Project,
    models: &BTreeMap<String, Model>,
    seeds: &BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
    sources: &BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<OtherNode> {
    let name = &project.settings.name;
    let entries: Vec<&OtherEntry> = project
        .schema_files
        .iter()
        .flat_map(|f| &f.others)
        .filter(|e| e.kind != OtherKind::Snapshot)
        .collect();
    let id_of = |e: &OtherEntry| format!("{}.{name}.{}", e.kind.as_str(), e.name);
    // Metrics are made of the measures of semantic models, and of other
    // metrics; saved queries query metrics.
    let mut by_measure: BTreeMap<&str, String> = BTreeMap::new();
    let mut by_metric: BTreeMap<&str, String> = BTreeMap::new();
    for e in &entries {
        match e.kind {
            OtherKind::SemanticModel => {
                for m in &e.measures {
                    by_measure.entry(m).or_insert_with(|| id_of(e));
                }
            }
            OtherKind::Metric => {
                by_metric.entry(&e.name).or_insert_with(|| id_of(e));
            }
            _ => {}
        }
    }
    let mut out: Vec<OtherNode> = Vec::new();
    for entry in entries {
        {
            let mut depends_on: Vec<String> = entry
                .uses_measures
                .iter()
                .filter_map(|m| by_measure.get(m.as_str()).cloned())
                .chain(
                    entry
                        .uses_metrics
                        .iter()
                        .filter_map(|m| by_metric.get(m.as_str()).cloned()),
                )
                .collect();
            for d in &entry.depends_on {
                let id = match d {
                    UnitInputKind::Ref(m) if models.contains_key(m) || seeds.contains_key(m) => {
                        Some(graph::ref_id(name, m, seeds))
                    }
                    UnitInputKind::Source(s, t)
                        if sources.contains_key(&(s.clone(), t.clone())) =>
                    {
                        Some(graph::source_id(name, s, t))
                    }
                    _ => None,
                };
                match id {
                    Some(id) => depends_on.push(id),
                    None => {
                        let what = match d {
                            UnitInputKind::Ref(m) => format!("ref('{m}')"),
                            UnitInputKind::Source(s, t) => format!("source('{s}', '{t}')"),
                            UnitInputKind::This => "this".into(),
                        };
                        diagnostics.push(
                            Diagnostic::new(
                                Code::W0054,
                                format!(
                                    "{} `{}` depends on {what}, which is not in the project",
                                    entry.kind.as_str().replace('_', " "),
                                    entry.name
                                ),
                            )
                            .at(entry.span.clone())
                            .help("name an existing model, seed or source; the dependency is left out of the lineage"),
                        );
                    }
                }
            }
            depends_on.sort();
            depends_on.dedup();
            out.push(OtherNode {
                unique_id: id_of(entry),
                entry: entry.clone(),
                depends_on,
            });
        }
    }
    out.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    out.dedup_by(|a, b| a.unique_id == b.unique_id);
    out
}

/// A check stackc makes and dbt does not: a warning in a dbt project, an
/// error with its native code in a stackc project.
fn strictness(s: &Strict, dbt: bool) -> Diagnostic {
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
fn strict_code(dbt: bool, error: Code, warning: Code) -> Code {
    if dbt {
        warning
    } else {
        error
    }
}

/// The text of the schema files that could not be read.
fn rejected_schema_texts(project: &Project) -> Vec<&str> {
    project
        .schema_files
        .iter()
        .filter(|f| f.rejected)
        .filter_map(|f| project.files.get(&f.path))
        .collect()
}

fn serde_value(v: serde_json::Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

/// dbt's `model` for a model: what its parsed node holds (configs and
/// names once they are resolved).
fn node_json(
    project: &Project,
    dbt: &crate::dbt::DbtSettings,
    m: &ModelFile,
    config: Option<&ModelConfig>,
    relation: Option<&Relation>,
) -> serde_json::Value {
    let package = dbt
        .package_of(&m.file.path)
        .map_or(project.settings.name.as_str(), |p| p.0);
    let mut config_json = serde_json::Map::new();
    // Before configs are resolved (discovery), dbt's defaults.
    let defaults = ModelConfig::default();
    let config_or_default = config.or(Some(&defaults));
    if let Some(c) = config_or_default {
        for (k, v) in &c.dbt {
            config_json.insert(k.clone(), v.clone());
        }
        config_json.insert("materialized".into(), c.materialized.as_str().into());
        config_json.insert("schema".into(), serde_json::json!(c.schema));
        config_json.insert("tags".into(), serde_json::json!(c.tags));
        config_json.insert("enabled".into(), c.enabled.into());
        config_json.insert("unique_key".into(), serde_json::json!(c.unique_key));
    }
    let mut fqn = vec![package.to_string()];
    fqn.extend(m.folders.iter().cloned());
    fqn.push(m.name.clone());
    let tags = config.map(|c| c.tags.clone()).unwrap_or_default();
    serde_json::json!({
        "unique_id": format!("model.{package}.{}", m.name),
        "name": m.name,
        "resource_type": "model",
        "package_name": package,
        "path": m.folders.iter().map(|f| format!("{f}/")).collect::<String>() + &m.name + ".sql",
        "original_file_path": &*m.file.path,
        "fqn": fqn,
        "tags": tags,
        "schema": relation.map(|r| r.schema.clone()),
        "alias": relation.map(|r| r.name.clone()),
        "identifier": relation.map(|r| r.name.clone()),
        "database": dbt.target.database,
        "config": config_json,
        "raw_code": &*m.file.text,
        "language": "sql",
    })
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
fn unquoted(
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

/// Where a snapshot's problems without a config of their own are shown:
/// its `config(` call, else the first word of its query.
fn snapshot_span(m: &ModelFile) -> Span {
    let text: &str = &m.file.text;
    let range = crate::render::config_call_spans(text).0.unwrap_or_else(|| {
        let start = text.len() - text.trim_start().len();
        let end = text[start..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| start + i);
        start..end
    });
    Span::new(&m.file.path, range)
}

fn default_schema(project: &Project, m: &ModelFile) -> String {
    match m.folders.first() {
        Some(layer) => project
            .settings
            .layers
            .get(layer)
            .cloned()
            .unwrap_or_else(|| layer.clone()),
        None => "public".into(),
    }
}

/// The `config()` calls of one model as a configuration layer; later calls
/// win. Each value points at its `key=` in the model's `config(...)`.
fn config_call_layer(m: &ModelFile, calls: &Calls) -> ConfigLayer {
    let (call, keys) = crate::render::config_call_spans(&m.file.text);
    let fallback = call.unwrap_or(0..0);
    let mut layer = ConfigLayer::new();
    for call in &calls.configs {
        for (k, v) in call {
            let range = keys.get(k).cloned().unwrap_or_else(|| fallback.clone());
            layer.insert(
                k.clone(),
                ConfigEntry {
                    value: v.clone(),
                    span: Span::new(&m.file.path, range),
                },
            );
        }
    }
    layer
}

/// Schema-file model entries by name; entries for models that do not exist
/// and duplicate entries are errors.
fn model_entries(
    project: &Project,
    dbt: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Arc<ModelEntry>> {
    let names: BTreeSet<&str> = project.models.iter().map(|m| m.name.as_str()).collect();
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
            if !names.contains(&entry.name.as_str()) {
                let seeds: Vec<&str> = project.seeds.iter().map(|s| s.name.as_str()).collect();
                // dbt only warns ("did not find matching node for patch").
                let mut d = Diagnostic::new(
                    strict_code(dbt, Code::E0305, Code::W0330),
                    format!(
                        "schema file describes model `{}`, but there is no models/**/{}.sql",
                        entry.name, entry.name
                    ),
                )
                .at(entry.span.clone());
                d = if seeds.contains(&entry.name.as_str()) {
                    d.help(format!(
                        "`{}` is a seed: describe it under `seeds:`",
                        entry.name
                    ))
                } else if let Some(close) =
                    crate::suggest::closest(&entry.name, names.iter().copied())
                {
                    d.help(format!("did you mean `{close}`?"))
                } else {
                    d.help("remove the entry or add the model's .sql file")
                };
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
            check_entry_columns(&entry.columns, diagnostics);
            out.insert(entry.name.clone(), entry.clone());
        }
    }
    out
}

/// `m` -> the latest version's model file, `m.v<v>` -> version v's.
fn model_versions(project: &Project) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in project.schema_files.iter().flat_map(|f| &f.models) {
        if entry.versions.is_empty() {
            continue;
        }
        for v in &entry.versions {
            out.insert(format!("{}.v{}", entry.name, v.v), v.defined_in.clone());
        }
        // dbt's latest is `latest_version`, else the highest version.
        let latest = match &entry.latest_version {
            Some(l) => entry.versions.iter().find(|v| &v.v == l),
            None => entry.versions.iter().max_by(|a, b| {
                match (a.v.parse::<f64>(), b.v.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.total_cmp(&y),
                    _ => a.v.cmp(&b.v),
                }
            }),
        };
        if let Some(latest) = latest {
            out.insert(entry.name.clone(), latest.defined_in.clone());
        }
    }
    out
}

fn check_entry_columns(columns: &[Column], diagnostics: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&str, &Column> = BTreeMap::new();
    for c in columns {
        if let Some(first) = seen.get(c.name.as_str()) {
            diagnostics.push(
                Diagnostic::new(Code::E0305, format!("column `{}` is listed twice", c.name))
                    .at(c.span.clone())
                    .related(first.span.clone(), "first listed here")
                    .help("merge the two entries"),
            );
        } else {
            seen.insert(&c.name, c);
        }
    }
}

fn seed_entries(
    project: &Project,
    dbt: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, SeedEntry> {
    let names: BTreeSet<&str> = project.seeds.iter().map(|s| s.name.as_str()).collect();
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
                        diagnostics.push(
                            Diagnostic::new(
                                Code::E0305,
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

fn check_unique_names(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&str, &SourceFile> = BTreeMap::new();
    let files = project
        .models
        .iter()
        .map(|m| (m.name.as_str(), &m.file))
        .chain(project.seeds.iter().map(|s| (s.name.as_str(), &s.file)));
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
        if name.len() > MAX_IDENTIFIER {
            diagnostics.push(too_long(
                "model or seed name",
                name,
                Span::new(&file.path, 0..0),
            ));
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

/// What the project says about its relations' columns before any model
/// renders: seeds' headers and types, and the columns schema files declare
/// for sources and models (see [`crate::catalog`]).
fn catalog(
    project: &Project,
    seeds: &BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
    sources: &BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
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
    for (seed, entry, rel) in seeds.values() {
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
    for (_, table, rel) in sources.values() {
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

/// Names in schema files (models, columns, sources, tables, seeds, unit
/// tests) reach artifact names, comments and diagnostics' first lines like
/// file paths do: a control character in one is E0010 too, at the name.
/// Descriptions may span lines; they only reach the manifest (JSON).
fn check_schema_file_names(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
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

fn too_long(what: &str, name: &str, at: Span) -> Diagnostic {
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
fn check_truncated_names(
    models: &BTreeMap<String, Model>,
    seeds: &BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let tables = models
        .values()
        .filter(|m| m.relation.cte.is_none())
        .map(|m| (&m.relation, &m.file.path))
        .chain(seeds.values().map(|(seed, _, rel)| (rel, &seed.file.path)));
    let mut relations: BTreeMap<(&str, &str), (&Relation, &Arc<str>)> = BTreeMap::new();
    for (relation, path) in tables {
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
    for (seed, _, _) in seeds.values() {
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
fn check_seed_columns(seed: &Seed, diagnostics: &mut Vec<Diagnostic>) {
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

/// Where the model's file spells column `c` (its last mention, where an
/// alias usually is), else the file's start.
fn column_span(m: &Model, c: &str) -> Span {
    let at = m.file.text.rfind(c).map_or(0..0, |i| i..i + c.len());
    Span::new(&m.file.path, at)
}

fn source_tables(
    project: &Project,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)> {
    let mut out: BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)> = BTreeMap::new();
    for file in &project.schema_files {
        for source in &file.sources {
            for table in &source.tables {
                let key = (source.name.clone(), table.name.clone());
                if let Some((_, first, _)) = out.get(&key) {
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
                check_entry_columns(&table.columns, diagnostics);
                let relation = Relation {
                    schema: source.schema.clone(),
                    name: table.identifier.clone(),
                    quote: table.quote_identifier,
                    cte: None,
                };
                // The entry without its table list: each table keeps only its own.
                let entry = SourceEntry {
                    tables: Vec::new(),
                    name: source.name.clone(),
                    span: source.span.clone(),
                    schema: source.schema.clone(),
                    description: source.description.clone(),
                };
                out.insert(key, (entry, table.clone(), relation));
            }
        }
    }
    out
}

/// Relation names (lower-cased, as PostgreSQL folds them) that a query
/// should reach through `ref` or `source`, with the call to use instead.
fn hard_coded_names(relations: &Relations) -> BTreeMap<(String, String), String> {
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

fn check_refs(
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

fn unknown_source(source: &str, table: &str, span: Span, relations: &Relations) -> Diagnostic {
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
fn check_query(
    r: &Rendered,
    parse_cache: &ParseCache,
    hard_coded: &BTreeMap<(String, String), String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    match parse_cache.parse_query(&r.sql) {
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
fn check_columns_for_merge(models: &BTreeMap<String, Model>, diagnostics: &mut Vec<Diagnostic>) {
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

/// The model's output columns: from the select list when it names every
/// column (that is what the query really returns), else from the schema file.
pub fn model_columns(m: &Model) -> Option<Vec<String>> {
    m.columns.clone().or_else(|| {
        let entry = m.entry.as_ref()?;
        (!entry.columns.is_empty()).then(|| entry.columns.iter().map(|c| c.name.clone()).collect())
    })
}

/// Whether the model's contract is enforced (`config: {contract: {enforced:
/// true}}`): its table is then created from the schema file's columns, with
/// their types and constraints.
pub fn contract_enforced(m: &Model) -> bool {
    m.config
        .dbt
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .and_then(|e| e.as_bool())
        .unwrap_or(false)
}

/// An enforced contract needs every column's `data_type`, and the model
/// must select exactly the contract's columns (dbt refuses both too).
fn check_contracts(
    models: &BTreeMap<String, Model>,
    known: &BTreeSet<&str>,
    sources: &BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
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
fn check_described_columns(
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

/// Singular tests, and analyses: each file one query, rendered and checked.
fn single_queries(
    files: &[SourceFile],
    renderer: &Renderer,
    relations: &Arc<Relations>,
    vars: &Arc<BTreeMap<String, serde_json::Value>>,
    known: &BTreeSet<&str>,
    hard_coded: &BTreeMap<(String, String), String>,
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
            graph: None,
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
            name,
            file: file.clone(),
            rendered,
            refs,
            sources,
        });
    }
    out
}

/// Every source table should be created by the project's own migrations.
fn check_sources_created(
    project: &Project,
    sources: &BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut created: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    for m in &project.migrations {
        created.extend(sql::created_relations(&m.file.text));
    }
    for (_, table, rel) in sources.values() {
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
fn check_migration_names(
    project: &Project,
    models: &BTreeMap<String, Model>,
    seeds: &BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
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

fn check_migrations(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
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
