//! The folders a project reads, which compile's output must stay out of.

use std::path::{Path, PathBuf};

/// The folders of the project at `root` that a compile reads, relative to
/// `root`: stackc's own, dbt's defaults, and in a dbt project the folders
/// `dbt_project.yml` configures (`model-paths` and the like). The output
/// folder may lie in none of them (see `cli`), so every folder read as
/// input belongs here.
pub fn input_folders(root: &Path) -> Vec<PathBuf> {
    const DEFAULTS: [&str; 9] = [
        "migrations",
        "models",
        "macros",
        "tests",
        "seeds",
        "snapshots",
        "analyses",
        "dbt_packages",
        "data",
    ];
    let mut folders: Vec<PathBuf> = DEFAULTS.iter().map(PathBuf::from).collect();
    folders.extend(dbt_configured_folders(root));
    folders.sort();
    folders.dedup();
    folders
}

/// The `*-paths` of `dbt_project.yml`, when there is one that reads.
pub(super) fn dbt_configured_folders(root: &Path) -> Vec<PathBuf> {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "kebab-case", default)]
    struct Paths {
        model_paths: Vec<String>,
        seed_paths: Vec<String>,
        test_paths: Vec<String>,
        macro_paths: Vec<String>,
        snapshot_paths: Vec<String>,
        analysis_paths: Vec<String>,
        docs_paths: Vec<String>,
        asset_paths: Vec<String>,
        packages_install_path: Option<String>,
    }
    let Ok(text) = std::fs::read_to_string(root.join("dbt_project.yml")) else {
        return Vec::new();
    };
    // A file that does not read is reported by the load; the defaults
    // above still hold.
    let paths: Paths = serde_saphyr::from_str(&text).unwrap_or_default();
    [
        paths.model_paths,
        paths.seed_paths,
        paths.test_paths,
        paths.macro_paths,
        paths.snapshot_paths,
        paths.analysis_paths,
        paths.docs_paths,
        paths.asset_paths,
        paths.packages_install_path.into_iter().collect(),
    ]
    .into_iter()
    .flatten()
    .map(PathBuf::from)
    .collect()
}
