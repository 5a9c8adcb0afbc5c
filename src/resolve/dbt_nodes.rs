//! What a dbt project has beyond models: run hooks, exposures and the other
//! nodes without SQL, and the `model` object Jinja sees.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::Discovered;
use crate::config::ModelConfig;
use crate::diagnostic::{Code, Diagnostic};
use crate::graph;

use crate::node::{OtherNode, ResolvedSeed, ResolvedSource};
use crate::project::{ModelFile, Project};
use crate::relation::Relation;
use crate::render::{Relations, Renderer};
use crate::schema::{ModelEntry, OtherEntry, OtherKind, UnitInputKind};

pub(super) use super::dbt_graph::node_value;
use super::dbt_graph::{columns_json, ordered, other_resources};

/// `on-run-start`/`on-run-end` rendered (with `target`, `var`, `ref` and
/// `graph`, as dbt renders them);
/// empty entries dropped.
pub(super) fn run_hooks(
    hooks: Option<&[crate::dbt::Hook]>,
    renderer: &Renderer,
    relations: &Arc<Relations>,
    vars: &Arc<BTreeMap<String, serde_json::Value>>,
    graph: Option<&minijinja::Value>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut out = Vec::new();
    for hook in hooks.unwrap_or_default() {
        let node = (None, graph.cloned());
        match renderer.render_snippet(&hook.sql, None, node, relations, vars, &hook.span) {
            Ok(sql) if !sql.trim().is_empty() => out.push(sql.trim().to_string()),
            Ok(_) => {}
            Err(d) => diagnostics.push(d),
        }
    }
    out
}

/// Exposures, semantic models, metrics and saved queries with what they
/// depend on. Snapshots are left out: stackc does not build them.
pub(super) fn other_nodes(
    project: &Project,
    models: &BTreeSet<&str>,
    seeds: &BTreeMap<String, ResolvedSeed>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
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
                    UnitInputKind::Ref(m)
                        if models.contains(m.as_str()) || seeds.contains_key(m) =>
                    {
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

pub(super) fn serde_value(v: serde_json::Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

/// dbt's `model` for a model: what its parsed node holds (configs and
/// names once they are resolved).
pub(super) fn node_json(
    project: &Project,
    dbt: &crate::dbt::DbtSettings,
    m: &ModelFile,
    config: Option<&ModelConfig>,
    relation: Option<&Relation>,
    entry: Option<&ModelEntry>,
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
    let kind = if m.snapshot { "snapshot" } else { "model" };
    serde_json::json!({
        "unique_id": format!("{kind}.{package}.{}", m.name),
        "name": m.name,
        "resource_type": kind,
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
        "description": entry.and_then(|e| e.description.clone()).unwrap_or_default(),
        "columns": columns_json(entry.map_or(&[][..], |e| &e.columns[..])),
    })
}

/// dbt's `graph`: every enabled model and seed, and the sources, as the
/// parsed manifest has them (without compiled SQL).
#[allow(clippy::too_many_arguments)]
pub(super) fn dbt_graph(
    project: &Project,
    d: &crate::dbt::DbtSettings,
    discovered: &[(Discovered, Option<Diagnostic>)],
    disabled: &BTreeSet<String>,
    configs: &BTreeMap<String, ModelConfig>,
    relations: &Relations,
    seeds: &BTreeMap<String, ResolvedSeed>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    entries: &BTreeMap<String, Arc<ModelEntry>>,
) -> minijinja::Value {
    let root = &project.settings.name;
    let package_of = |file: &str| -> (String, String) {
        let (package, rest) = match d.package_of(file) {
            Some((name, p)) => (
                name.to_string(),
                file.strip_prefix(p.folder.as_str())
                    .unwrap_or(file)
                    .trim_start_matches('/'),
            ),
            None => (root.clone(), file),
        };
        // dbt's `path` is relative to the resource folder (`models/`).
        let path = rest.split_once('/').map_or(rest, |(_, p)| p);
        (package, path.to_string())
    };
    let mut nodes = serde_json::Map::new();
    for (m, (disc, _)) in project.models.iter().zip(discovered) {
        if disabled.contains(&m.name) {
            continue;
        }
        let mut node = node_json(
            project,
            d,
            m,
            configs.get(&m.name),
            relations.models.get(&m.name),
            entries.get(&m.name).map(|e| &**e),
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
    for (
        name,
        ResolvedSeed {
            seed,
            relation,
            entry,
        },
    ) in seeds
    {
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
                "description": entry.as_ref().and_then(|e| e.description.clone()).unwrap_or_default(),
                "columns": columns_json(entry.as_ref().map_or(&[][..], |e| &e.columns[..])),
            }),
        );
    }
    let mut sources_json = serde_json::Map::new();
    for (
        (source, table),
        ResolvedSource {
            relation: rel,
            table: t,
            entry,
        },
    ) in sources
    {
        let id = format!("source.{}.{source}.{table}", project.settings.name);
        let (package, path) = package_of(&entry.span.file);
        let mut fqn = vec![package.clone()];
        fqn.extend(
            path.split('/')
                .rev()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into_iter()
                .rev(),
        );
        fqn.extend([source.clone(), table.clone()]);
        let mut node = serde_json::json!({
                "unique_id": id,
                "name": table,
                "source_name": source,
                "resource_type": "source",
                "package_name": package,
                "fqn": fqn,
                "path": path,
                "original_file_path": &*entry.span.file,
                "source_description": entry.description.clone().unwrap_or_default(),
                "config": {"enabled": true},
                "schema": rel.schema,
                "identifier": rel.name,
                "database": d.target.database,
                "description": t.description.clone().unwrap_or_default(),
                "columns": columns_json(&t.columns),
                "loader": "",
                "meta": {},
                "tags": [],
                "freshness": null,
                "loaded_at_field": null,
        });
        for (k, v) in &t.yaml {
            node[k] = v.clone();
        }
        node["config"]["freshness"] = node["freshness"].clone();
        sources_json.insert(id, node);
    }
    // The manifest's other entries, with the enabled models' names.
    let enabled: BTreeSet<&str> = project
        .models
        .iter()
        .map(|m| m.name.as_str())
        .filter(|n| !disabled.contains(*n))
        .collect();
    let others = other_nodes(project, &enabled, seeds, sources, &mut Vec::new());
    let node_id = |id: &str| -> String {
        let mut parts = id.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(kind @ ("model" | "seed")), Some(_), Some(name)) => {
                match relations.packages.get(name) {
                    Some(owner) => format!("{kind}.{owner}.{name}"),
                    None => id.to_string(),
                }
            }
            _ => id.to_string(),
        }
    };
    let by_id = |map: serde_json::Map<String, serde_json::Value>| {
        ordered(map.into_iter().map(|(id, n)| (id, node_value(n))))
    };
    let mut graph: Vec<(String, minijinja::Value)> = vec![
        ("nodes".into(), by_id(nodes)),
        ("sources".into(), by_id(sources_json)),
    ];
    for (key, map) in other_resources(&others, &package_of, &node_id) {
        graph.push((key.into(), serde_value(serde_json::Value::Object(map))));
    }
    ordered(graph.into_iter())
}
