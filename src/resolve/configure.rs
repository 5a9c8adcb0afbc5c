//! The second pass: every model's configuration and relation, every seed's
//! relation, and the relations the render pass sees.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::{self, ConfigEntry, ConfigLayer, Materialization, ModelConfig};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::node::{ResolvedSeed, ResolvedSource};
use crate::project::{Flavor, ModelFile, Project};
use crate::relation::Relation;
use crate::render::Relations;
use crate::schema::{ModelEntry, OtherKind, SeedEntry};

use super::entries::{catalog, model_versions, unquoted};
use super::model_config::{config_call_layer, default_schema, snapshot_span};
use super::setup::Setup;
use super::Discovered;

/// Each model's configuration, and the relations of the models.
pub(super) struct Configured {
    pub configs: BTreeMap<String, ModelConfig>,
    pub relations: Relations,
}

pub(super) fn configure_models(
    project: &Project,
    setup: &Setup<'_>,
    discovered: &[(Discovered, Option<Diagnostic>)],
    entries: &BTreeMap<String, Arc<ModelEntry>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Configured {
    let snapshot_entries = snapshot_entries(project);
    let mut configs: BTreeMap<String, ModelConfig> = BTreeMap::new();
    let mut relations = Relations::default();
    let resolved_configs: Vec<(ModelConfig, Relation, Vec<Diagnostic>)> = project
        .models
        .par_iter()
        .zip(discovered)
        .map(|(m, (disc, _))| {
            let mut local = Vec::new();
            let config = model_config(
                project,
                setup,
                &snapshot_entries,
                entries,
                m,
                disc,
                &mut local,
            );
            let relation = model_relation(project, setup, m, &config, &mut local);
            (config, relation, local)
        })
        .collect();
    for (m, (config, relation, local)) in project.models.iter().zip(resolved_configs) {
        diagnostics.extend(local);
        if let Some(d) = setup.dbt_settings {
            let owner = d
                .package_of(&m.file.path)
                .map_or(project.settings.name.as_str(), |p| p.0);
            relations.packages.insert(m.name.clone(), owner.to_string());
        }
        relations.models.insert(m.name.clone(), relation);
        configs.insert(m.name.clone(), config);
    }
    Configured { configs, relations }
}

/// A model's configuration from its layers, most specific first: its
/// `config()` call, its schema-file entry, then the folder trees.
fn model_config(
    project: &Project,
    setup: &Setup<'_>,
    snapshot_entries: &BTreeMap<&str, &ConfigLayer>,
    entries: &BTreeMap<String, Arc<ModelEntry>>,
    m: &ModelFile,
    disc: &Discovered,
    local: &mut Vec<Diagnostic>,
) -> ModelConfig {
    let dbt_settings = setup.dbt_settings;
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
        // first, at any depth, then the root's entries for every project,
        // then the package's own tree: dbt lets the root project have the
        // last word.
        let trees: Vec<&BTreeMap<Vec<String>, ConfigLayer>> = match (dbt_settings, package) {
            (Some(d), Some((name, own))) => d
                .package_configs
                .get(name)
                .into_iter()
                .chain([&d.every_model, &own.model_configs])
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
    let config = config::resolve_for(&layers, project.settings.flavor, local);
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
    config
}

/// Where a model's relation is: dbt's generate_schema_name and
/// generate_alias_name in a dbt project, its config and folder otherwise.
fn model_relation(
    project: &Project,
    setup: &Setup<'_>,
    m: &ModelFile,
    config: &ModelConfig,
    local: &mut Vec<Diagnostic>,
) -> Relation {
    let dbt_settings = setup.dbt_settings;
    let package = dbt_settings.and_then(|d| d.package_of(&m.file.path));
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
                &setup.renderer,
                &dbt.target,
                setup.vars_of(&m.file.path),
                &node,
                config.schema.as_deref(),
                text("alias"),
                text("database").or(text("target_database").filter(|_| m.snapshot)),
                &config
                    .spans
                    .get("database")
                    .cloned()
                    .unwrap_or_else(|| Span::new(&m.file.path, 0..0)),
                local,
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
    Relation {
        schema,
        name,
        quote: false,
        cte,
    }
}

/// Every enabled seed, placed as dbt (or stackc's `seeds_schema`) places
/// it; a dbt seed that is disabled joins `disabled`.
pub(super) fn place_seeds(
    project: &Project,
    setup: &Setup<'_>,
    seed_entries: &BTreeMap<String, SeedEntry>,
    relations: &mut Relations,
    disabled: &mut BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, ResolvedSeed> {
    let dbt_settings = setup.dbt_settings;
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
                &setup.renderer,
                dbt,
                &project.settings.name,
                setup.vars_of(&seed.file.path),
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
    seeds
}

/// The relations complete: the sources', the model versions, and the
/// catalog of every column known so far.
pub(super) fn complete_relations(
    project: &Project,
    mut relations: Relations,
    seeds: &BTreeMap<String, ResolvedSeed>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    entries: &BTreeMap<String, Arc<ModelEntry>>,
) -> Arc<Relations> {
    for ((source, table), ResolvedSource { relation: rel, .. }) in sources {
        relations
            .sources
            .insert((source.clone(), table.clone()), rel.clone());
    }
    relations.versions = model_versions(project);
    relations.catalog = catalog(project, seeds, sources, entries, &relations);
    relations.complete = true;
    Arc::new(relations)
}

/// The relations of the tests that store their failing rows: in a dbt
/// project `<target schema>_dbt_test__audit.<alias>` by the project's own
/// `generate_schema_name` and `generate_alias_name`, as dbt names them; in a
/// stackc project the `schema` as written.
pub(super) fn place_stored_failures<'t>(
    project: &Project,
    setup: &Setup<'_>,
    tests: impl Iterator<
        Item = (
            &'t str,
            &'t Span,
            &'t mut Option<crate::node::StoredFailures>,
        ),
    >,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (test_name, span, store) in tests {
        let Some(store) = store else { continue };
        let (schema, name) = match setup.dbt_settings {
            Some(dbt) => {
                let package = dbt
                    .package_of(&span.file)
                    .map_or(project.settings.name.as_str(), |p| p.0);
                let node = crate::render::dbt::naming::Node {
                    name: test_name,
                    resource_type: "test",
                    package,
                    path: &span.file,
                    folders: &[],
                    config: serde_json::json!({
                        "materialized": "test",
                        "schema": store.custom_schema,
                        "alias": store.alias,
                        "store_failures": true,
                        "store_failures_as": store.kind,
                    }),
                };
                let names = crate::render::dbt::naming::names(
                    &setup.renderer,
                    &dbt.target,
                    setup.vars_of(&span.file),
                    &node,
                    Some(&store.custom_schema),
                    Some(&store.alias),
                    None,
                    span,
                    diagnostics,
                );
                unquoted(setup.dbt_settings, names.schema, names.alias)
            }
            None => (store.custom_schema.clone(), store.alias.clone()),
        };
        store.relation = Some(Relation {
            schema,
            name,
            quote: false,
            cte: None,
        });
    }
}

/// The `config:` of schema-file `snapshots:` entries, by name.
fn snapshot_entries(project: &Project) -> BTreeMap<&str, &ConfigLayer> {
    project
        .schema_files
        .iter()
        .flat_map(|f| &f.others)
        .filter(|o| o.kind == OtherKind::Snapshot)
        .map(|o| (o.name.as_str(), &o.config))
        .collect()
}

/// Whether model `m` is enabled, from all its config layers (as
/// [`configure_models`] decides it), its diagnostics left out.
pub(super) fn is_enabled(
    project: &Project,
    setup: &Setup<'_>,
    entries: &BTreeMap<String, Arc<ModelEntry>>,
    m: &ModelFile,
    disc: &Discovered,
) -> bool {
    let snapshot_entries = snapshot_entries(project);
    let mut ignored = Vec::new();
    model_config(
        project,
        setup,
        &snapshot_entries,
        entries,
        m,
        disc,
        &mut ignored,
    )
    .enabled
}
