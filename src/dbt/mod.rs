//! dbt projects: `dbt_project.yml` and `profiles.yml` read as dbt reads
//! them, into the same [`crate::project::Settings`] a `stackc.toml` gives,
//! plus what only a dbt project has ([`DbtSettings`]).
//!
//! Loading is split so that installed packages (each a folder with its own
//! `dbt_project.yml`) can be read by the same [`project::parse`] later.

pub mod docs;
pub mod emit;
pub mod filters;
pub mod packages;
pub mod profiles;
pub mod project;
pub mod schema_jinja;
pub mod seeds;
pub mod snapshot;
pub mod sources;
pub mod test_settings;
pub mod yaml;

use std::collections::BTreeMap;

use crate::config::ConfigLayer;
use crate::diagnostic::Span;

/// What the renderer needs to know of a dbt project's macros: plain data
/// from the loader.
#[derive(Debug, Clone, Default)]
pub struct DbtMacros {
    /// The root project's name (its own namespace).
    pub root: String,
    /// Installed packages: name and macro files, in name order.
    pub packages: Vec<(String, Vec<crate::project::SourceFile>)>,
    /// `dispatch:` of dbt_project.yml: namespace -> search order.
    pub dispatch: BTreeMap<String, Vec<String>>,
    /// Packages packages.yml / dependencies.yml declare that are not
    /// installed (E0150): an undefined namespace of one of these names is
    /// that error's consequence, not another.
    pub missing: std::collections::BTreeSet<String>,
}

/// What a dbt project sets beyond stackc's own settings.
#[derive(Debug, Clone, Default)]
pub struct DbtSettings {
    /// `profile:` in dbt_project.yml.
    pub profile: Option<String>,
    /// The target from profiles.yml (or the defaults when there is none).
    pub target: profiles::Target,
    /// `on-run-start` / `on-run-end`: SQL (Jinja) run at the start and end
    /// of an apply.
    pub on_run_start: Vec<Hook>,
    pub on_run_end: Vec<Hook>,
    /// `seeds:` config tree, keyed by the folder path under a seed path
    /// (the last part may be the seed's name).
    pub seed_configs: BTreeMap<Vec<String>, ConfigLayer>,
    /// `snapshots:` config tree, keyed by the folder path under a
    /// snapshot path (the last part may be the snapshot's name).
    pub snapshot_configs: BTreeMap<Vec<String>, ConfigLayer>,
    /// `tests:` / `data_tests:` config tree.
    pub test_configs: BTreeMap<Vec<String>, ConfigLayer>,
    /// Config trees keyed by another project's name (an installed package):
    /// kept for the packages loader.
    pub package_configs: BTreeMap<String, BTreeMap<Vec<String>, ConfigLayer>>,
    /// The same for the `seeds:` tree.
    pub package_seed_configs: BTreeMap<String, BTreeMap<Vec<String>, ConfigLayer>>,
    /// The root project's `models:` entries outside any project's name:
    /// dbt applies them to every package's models too, over the package's
    /// own dbt_project.yml and under the root's `models: {pkg: ...}`.
    /// Kept as a tree whose one key is the empty folder path.
    pub every_model: BTreeMap<Vec<String>, ConfigLayer>,
    /// The same for `seeds:`.
    pub every_seed: BTreeMap<Vec<String>, ConfigLayer>,
    /// Seeds' schema-file `config:`, by package (`None`: the root project)
    /// and seed name: over every `seeds:` tree, as in dbt.
    pub seed_properties: BTreeMap<(Option<String>, String), ConfigLayer>,
    /// Installed packages' own settings, by package name (filled when the
    /// packages are loaded).
    pub packages: BTreeMap<String, packages::PackageConfig>,
    /// Project-level `quoting:` (`database`, `schema`, `identifier`).
    pub quoting: BTreeMap<String, bool>,
}

impl DbtSettings {
    /// The installed package a file (path relative to the root project)
    /// belongs to, if any.
    pub fn package_of(&self, path: &str) -> Option<(&str, &packages::PackageConfig)> {
        self.packages.iter().find_map(|(name, config)| {
            path.strip_prefix(config.folder.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
                .then_some((name.as_str(), config))
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub sql: String,
    pub span: Span,
}

use std::path::Path;

use crate::diagnostic::{Code, Diagnostic, SourceFiles};
use crate::project::{Flavor, LoadOptions, Settings, SourceFile};

/// The settings of a dbt project: `dbt_project.yml`, the target from
/// `profiles.yml`, and the stackc-only sections of a `stackc.toml` beside it
/// (`[history]`, `[connection]`).
pub fn settings(
    root: &Path,
    file: &SourceFile,
    beside: Option<(Settings, SourceFile)>,
    options: &LoadOptions,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Settings {
    let before = diagnostics.len();
    let mut parsed = project::parse(file, diagnostics);
    // `--vars` win over the project's, also where profiles.yml and the
    // config trees read them.
    parsed.vars.extend(options.vars.clone());
    let mut dbt = parsed.dbt;
    // A dbt_project.yml that does not parse names no profile: saying so
    // again would only repeat the YAML error.
    let unreadable = diagnostics[before..].iter().any(|d| d.code == Code::E0030);
    if !unreadable {
        dbt.target = profiles::load(
            root,
            dbt.profile.as_deref(),
            options,
            &parsed.vars,
            files,
            diagnostics,
        );
    }
    let mut model_configs = parsed.model_configs;
    let target_json = profiles::target_json(&dbt.target);
    let trees = [
        &mut model_configs,
        &mut dbt.seed_configs,
        &mut dbt.test_configs,
    ];
    for tree in trees {
        render_tree(tree, &parsed.vars, &target_json, diagnostics);
    }
    // The root's trees for packages (`models: {dbt_utils: ...}`) and its
    // snapshot tree are config values like the others.
    let root_trees = [
        &mut dbt.every_model,
        &mut dbt.every_seed,
        &mut dbt.snapshot_configs,
    ];
    let for_packages = dbt
        .package_configs
        .values_mut()
        .chain(dbt.package_seed_configs.values_mut());
    for tree in root_trees.into_iter().chain(for_packages) {
        render_tree(tree, &parsed.vars, &target_json, diagnostics);
    }
    let mut settings = Settings {
        flavor: Flavor::Dbt,
        paths: parsed.paths,
        dbt: None,
        name: parsed.name,
        layers: BTreeMap::new(),
        folder_configs: model_configs,
        vars: parsed.vars,
        cli_vars: options.vars.clone(),
        url_env: None,
        // dbt puts seeds in the target schema (`+schema` adds a suffix).
        seeds_schema: dbt.target.schema.clone(),
        history_schema: "public".into(),
        history_table: "stackc_schema_history".into(),
    };
    if let Some((toml, toml_file)) = beside {
        settings.history_schema = toml.history_schema;
        settings.history_table = toml.history_table;
        settings.url_env = toml.url_env;
        let ignored = [
            ("[layers]", !toml.layers.is_empty()),
            ("[models]", !toml.folder_configs.is_empty()),
            ("[vars]", !toml.vars.is_empty()),
            ("[seeds]", toml.seeds_schema != "seeds"),
        ];
        for (section, set) in ignored {
            if set {
                let at = toml_file
                    .text
                    .find(section.trim_end_matches(']'))
                    .unwrap_or(0);
                diagnostics.push(
                    Diagnostic::new(
                        Code::W0033,
                        format!("{section} in stackc.toml is ignored beside dbt_project.yml"),
                    )
                    .at_file(&toml_file.path, at..at + section.len() - 1)
                    .help("in a dbt project, dbt_project.yml sets folders, configs, vars and schemas; stackc.toml adds only [history] and [connection]"),
                );
            }
        }
    }
    settings.dbt = Some(dbt);
    settings
}

/// dbt renders the config values of dbt_project.yml as Jinja (with `var`,
/// `env_var` and `target`) and reads the result back as a value:
/// `+enabled: "{{ var('load', false) }}"` is a boolean.
fn render_tree(
    tree: &mut BTreeMap<Vec<String>, ConfigLayer>,
    vars: &BTreeMap<String, serde_json::Value>,
    target: &serde_json::Value,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for layer in tree.values_mut() {
        schema_jinja::render_layer(layer, vars, Some(target), "dbt_project.yml", diagnostics);
    }
}

/// A rendered config value read back as dbt reads it: `True` is a boolean,
/// `None` is null, `10` a number, anything else text.
pub fn rendered_value(out: String) -> serde_json::Value {
    match out.as_str() {
        "True" | "true" => serde_json::Value::Bool(true),
        "False" | "false" => serde_json::Value::Bool(false),
        "None" | "none" => serde_json::Value::Null,
        _ => match out.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::String(out),
        },
    }
}
