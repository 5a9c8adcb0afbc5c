//! Installed dbt packages: every folder under `dbt_packages/` (or the
//! project's `packages-install-path`) that holds a `dbt_project.yml`, as
//! `dbt deps` leaves them. stackc never downloads: a package named in
//! `packages.yml` / `dependencies.yml` with no installed folder is E0150.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::diagnostic::{Code, Diagnostic, SourceFiles, Span};
use crate::project::SourceFile;

use super::yaml::{self, Yaml};

/// One installed package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The `name:` of its dbt_project.yml: the namespace of its macros.
    pub name: String,
    /// Its macro files, paths relative to the root project.
    pub macros: Vec<SourceFile>,
    /// What its own dbt_project.yml sets for its nodes.
    pub config: PackageConfig,
}

/// A package's own dbt_project.yml, as its nodes need it. The root
/// project's word on them (`models: {pkg: ...}`, `vars: {pkg: ...}`) is in
/// the root's [`super::DbtSettings`] and wins over this.
#[derive(Debug, Clone, Default)]
pub struct PackageConfig {
    /// The package folder relative to the root project (`dbt_packages/x`).
    pub folder: String,
    /// Its model and seed folders, relative to the root project.
    pub model_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    /// Its own `models:` and `seeds:` trees, keyed by folder path under its
    /// model (seed) paths.
    pub model_configs: BTreeMap<Vec<String>, crate::config::ConfigLayer>,
    pub seed_configs: BTreeMap<Vec<String>, crate::config::ConfigLayer>,
    /// Its own `vars:` (global ones and those scoped to itself).
    pub vars: BTreeMap<String, serde_json::Value>,
}

impl PackageConfig {
    /// The vars a node of this package sees, as dbt merges them: the
    /// package's own, then the root project's globals, then the root's
    /// `vars: {<package>: {...}}`, each overriding the one before.
    pub fn vars_for(
        &self,
        name: &str,
        root_vars: &BTreeMap<String, serde_json::Value>,
    ) -> BTreeMap<String, serde_json::Value> {
        let mut out = self.vars.clone();
        out.extend(root_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(serde_json::Value::Object(scoped)) = root_vars.get(name) {
            out.extend(scoped.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }
}

/// What the root project's dbt_project.yml says about packages.
#[derive(Debug, Clone, Default)]
pub struct PackageSettings {
    pub install_path: String,
    /// The root project's target, for rendering packages' config values.
    pub target: Option<super::profiles::Target>,
    /// `dispatch:` entries: macro namespace -> search order.
    pub dispatch: BTreeMap<String, Vec<String>>,
}

/// Reads `packages-install-path` and `dispatch:` (the loader of
/// dbt_project.yml accepts and skips both).
pub fn settings(file: &SourceFile) -> PackageSettings {
    let mut out = PackageSettings {
        install_path: "dbt_packages".into(),
        target: None,
        dispatch: BTreeMap::new(),
    };
    // A file that does not parse was reported by the loader already.
    let Ok(doc) = yaml::parse(&file.path, &file.text) else {
        return out;
    };
    if let Some(p) = doc.value.get("packages-install-path") {
        if let Some(p) = p.value.as_str() {
            out.install_path = p.trim_end_matches('/').to_string();
        }
    }
    if let Some(Yaml::Seq(entries)) = doc.value.get("dispatch").map(|d| &d.value) {
        for entry in entries {
            let namespace = entry
                .value
                .get("macro_namespace")
                .and_then(|v| v.value.as_str());
            let order = match entry.value.get("search_order").map(|v| &v.value) {
                Some(Yaml::Seq(items)) => items
                    .iter()
                    .filter_map(|i| i.value.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(ns) = namespace {
                out.dispatch.insert(ns.to_string(), order);
            }
        }
    }
    out
}

/// Loads the installed packages of `root`, in name order, and checks
/// `packages.yml` / `dependencies.yml` against them: the second part is
/// the names of declared packages that are not installed (each an E0150).
pub fn load(
    root: &Path,
    settings: &PackageSettings,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<Package>, BTreeSet<String>) {
    let install = root.join(&settings.install_path);
    let mut folders: Vec<String> = std::fs::read_dir(&install)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().join("dbt_project.yml").is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    let mut packages: Vec<Package> = Vec::new();
    for folder in folders {
        let rel = format!("{}/{folder}", settings.install_path);
        let project_rel = format!("{rel}/dbt_project.yml");
        let Ok(text) = std::fs::read_to_string(root.join(&project_rel)) else {
            continue;
        };
        let file = crate::project::source_file(files, &project_rel, text);
        // A package's own keys are its authors' business: only a file that
        // cannot be read at all is worth reporting.
        let mut local = Vec::new();
        let parsed = super::project::parse(&file, &mut local);
        diagnostics.extend(local.into_iter().filter(|d| d.code == Code::E0030));
        let name = if parsed.name.is_empty() {
            folder.clone()
        } else {
            parsed.name.clone()
        };
        let inside = |dirs: &[String]| -> Vec<String> {
            dirs.iter().map(|d| format!("{rel}/{d}")).collect()
        };
        let mut config = PackageConfig {
            folder: rel.clone(),
            model_paths: inside(&parsed.paths.models),
            seed_paths: inside(&parsed.paths.seeds),
            model_configs: parsed.model_configs.clone(),
            seed_configs: parsed.dbt.seed_configs.clone(),
            vars: parsed.vars.clone(),
        };
        // dbt renders a package's config values with its own vars.
        let target = super::profiles::target_json(&root_target(settings));
        super::render_tree(
            &mut config.model_configs,
            &config.vars,
            &target,
            diagnostics,
        );
        super::render_tree(&mut config.seed_configs, &config.vars, &target, diagnostics);
        let mut macros = Vec::new();
        // A package's `tests/generic/` holds generic tests, which dbt loads
        // as macros (`pkg.test_name` in a schema file), as a project's own.
        let generic: Vec<String> = parsed
            .paths
            .tests
            .iter()
            .map(|d| format!("{d}/generic"))
            .collect();
        for dir in parsed.paths.macros.iter().chain(&generic) {
            let mut listing = Vec::new();
            walk(
                &root.join(&rel).join(dir),
                &format!("{rel}/{dir}"),
                &mut listing,
            );
            listing.sort();
            for path in listing {
                if let Ok(text) = std::fs::read_to_string(root.join(&path)) {
                    macros.push(crate::project::source_file(files, &path, text));
                }
            }
        }
        packages.push(Package {
            name,
            macros,
            config,
        });
    }
    let missing = check_declared(root, settings, &packages, files, diagnostics);
    (packages, missing)
}

fn root_target(settings: &PackageSettings) -> super::profiles::Target {
    settings.target.clone().unwrap_or_default()
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let path = entry.path();
        if path.is_dir() {
            walk(&path, &format!("{rel}/{name}"), out);
        } else if name.ends_with(".sql") {
            out.push(format!("{rel}/{name}"));
        }
    }
}

/// E0150 for each hub package (`package: owner/name`) of packages.yml or
/// dependencies.yml that is not installed, and for a declared package list
/// with no install folder at all (git and local packages are named by their
/// own dbt_project.yml, which only `dbt deps` reads).
fn check_declared(
    root: &Path,
    settings: &PackageSettings,
    packages: &[Package],
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeSet<String> {
    let mut missing = BTreeSet::new();
    for declared in ["packages.yml", "dependencies.yml"] {
        let Ok(text) = std::fs::read_to_string(root.join(declared)) else {
            continue;
        };
        let file = crate::project::source_file(files, declared, text);
        let doc = match yaml::parse(&file.path, &file.text) {
            Ok(doc) => doc,
            Err(d) => {
                diagnostics.push(d);
                continue;
            }
        };
        let Some(Yaml::Seq(entries)) = doc.value.get("packages").map(|p| &p.value) else {
            continue;
        };
        let install = &settings.install_path;
        let hub_names = entries.iter().filter_map(|e| {
            let full = e.value.get("package")?.value.as_str()?;
            Some(full.rsplit('/').next().unwrap_or(full).to_string())
        });
        if packages.is_empty() && !entries.is_empty() {
            missing.extend(hub_names);
            diagnostics.push(
                Diagnostic::new(
                    Code::E0150,
                    format!("{declared} names packages, but `{install}/` holds none"),
                )
                .at(Span::new(&file.path, 0..0))
                .help("run `dbt deps` to install them; stackc never downloads packages"),
            );
            continue;
        }
        for entry in entries {
            let Some(hub) = entry.value.get("package") else {
                continue;
            };
            let Some(full) = hub.value.as_str() else {
                continue;
            };
            let name = full.rsplit('/').next().unwrap_or(full);
            if !packages.iter().any(|p| p.name == name) {
                missing.insert(name.to_string());
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0150,
                        format!("package `{full}` is not installed under `{install}/`"),
                    )
                    .at(yaml::span_of(&file.path, &file.text, hub))
                    .help("run `dbt deps` to install it; stackc never downloads packages"),
                );
            }
        }
    }
    missing
}
