//! What every pass of resolve renders with, and the first pass: each model
//! rendered without relations, to discover its `ref`s, `source`s and
//! `config()` calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::datatest;
use crate::dbt::DbtSettings;
use crate::diagnostic::Diagnostic;
use crate::project::{Flavor, ModelFile, Project};
use crate::relation::Relation;
use crate::render::cache::{Keys as CacheKeys, RenderCache};
use crate::render::{Calls, Relations, RenderInput, RenderOptions, Renderer};

use super::dbt_nodes::{node_json, node_value, serde_value};
use super::entries::strictness;
use super::{Discovered, MODELS_PER_TASK};

pub(super) type Vars = Arc<BTreeMap<String, serde_json::Value>>;

/// The renderer over the project's macros, the render cache's keys, and
/// the vars each node sees.
pub(super) struct Setup<'p> {
    pub dbt_settings: Option<&'p DbtSettings>,
    pub dbt: bool,
    pub renderer: Renderer,
    /// Generic tests the project defines.
    pub generic_names: BTreeSet<String>,
    /// Generic tests its packages define, as (package, test name).
    pub package_tests: BTreeSet<(String, String)>,
    /// A stackc project's renders are kept between compiles (see
    /// `render::cache` for what a key holds, and why dbt projects are not).
    pub cache_keys: Option<CacheKeys>,
    pub vars: Vars,
    /// A package's nodes see its own vars under the root project's.
    package_vars: BTreeMap<&'p str, Vars>,
}

impl Setup<'_> {
    /// The vars of the node in the file at `path`.
    pub(super) fn vars_of(&self, path: &str) -> &Vars {
        self.dbt_settings
            .and_then(|d| d.package_of(path))
            .and_then(|(name, _)| self.package_vars.get(name))
            .unwrap_or(&self.vars)
    }
}

pub(super) fn setup<'p>(project: &'p Project, diagnostics: &mut Vec<Diagnostic>) -> Setup<'p> {
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
    let render_options = RenderOptions {
        dbt_whitespace: dbt_settings.is_some(),
        target: dbt_settings.map(|d| crate::dbt::profiles::target_json(&d.target)),
        dbt: project.dbt_macros.clone(),
    };
    let renderer = Renderer::new_with(&macro_files, &render_options, diagnostics);
    let cache_keys = (!dbt && project.dbt_macros.is_none()).then(|| {
        CacheKeys::new(
            &render_options,
            &macro_files,
            &format!("{:?}", project.settings),
        )
    });
    let vars = Arc::new(project.settings.vars.clone());
    let package_vars: BTreeMap<&str, Vars> = dbt_settings
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
    Setup {
        dbt_settings,
        dbt,
        renderer,
        generic_names,
        package_tests,
        cache_keys,
        vars,
        package_vars,
    }
}

/// Every model rendered once without relations, for the calls it makes.
pub(super) fn discover(
    project: &Project,
    setup: &Setup<'_>,
    render_cache: &RenderCache,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(Discovered, Option<Diagnostic>)> {
    let discovered: Vec<(Discovered, Option<Diagnostic>)> = project
        .models
        .par_iter()
        .with_max_len(MODELS_PER_TASK)
        .map(|m| discover_one(project, setup, render_cache, m))
        .collect();
    diagnostics.extend(discovered.iter().filter_map(|(_, d)| d.clone()));
    discovered
}

/// One model rendered without relations.
pub(super) fn discover_one(
    project: &Project,
    setup: &Setup<'_>,
    render_cache: &RenderCache,
    m: &ModelFile,
) -> (Discovered, Option<Diagnostic>) {
    let dbt_settings = setup.dbt_settings;
    let this = Relation {
        schema: "this".into(),
        name: m.name.clone(),
        quote: false,
        cte: None,
    };
    let key = setup
        .cache_keys
        .as_ref()
        .map(|k| k.render(&m.file, Some(&this), false));
    let render = || {
        setup.renderer.render(RenderInput {
            file: &m.file,
            relations: &Arc::new(Relations::default()),
            vars: setup.vars_of(&m.file.path),
            this: Some(this.clone()),
            is_incremental: false,
            // What dbt's parser knows of the node before its configs.
            model: dbt_settings.map(|d| node_value(node_json(project, d, m, None, None, None))),
            graph: dbt_settings.map(|_| {
                serde_value(serde_json::json!({
                    "nodes": {}, "sources": {}, "exposures": {}, "metrics": {},
                    "semantic_models": {}, "saved_queries": {}, "groups": {},
                }))
            }),
        })
    };
    match render_cache.render(key, render, &m.file) {
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
}
