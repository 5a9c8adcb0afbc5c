//! What an apply runs: the artifacts, compiled in memory from the project
//! or read from a folder of committed artifacts, which are verified against
//! their own manifest before anything runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::manifest::{HEADER_OBJECT, HEADER_SOURCE, MANIFEST_VERSION};

use crate::diagnostic::{self, Format};
use crate::project::Settings;

/// `manifest.json` as an apply reads it: see [`crate::manifest`].
pub type Manifest = crate::manifest::Manifest<String>;
pub type Node = crate::manifest::Node<String>;
pub type RunEntry = crate::manifest::RunStep<String>;
pub type MigrationEntry = crate::manifest::MigrationEntry<String>;
pub type UnitTest = crate::manifest::UnitTestEntry<String>;
pub use crate::manifest::{MigrationType, StepKind};

/// Everything an apply needs, checked for consistency.
#[derive(Debug)]
pub struct Bundle {
    pub settings: Settings,
    pub manifest: Manifest,
    /// Artifact path (relative to the artifacts folder) → text.
    pub files: BTreeMap<String, String>,
    /// The artifacts folder on disk (`--artifacts`), `None` when compiled in
    /// memory: used to show where an artifact is.
    pub root: Option<PathBuf>,
    /// The project folder.
    pub dir: PathBuf,
}

impl Bundle {
    /// How to show an artifact's path to the user.
    pub fn artifact_path(&self, path: &str) -> String {
        match &self.root {
            Some(root) => root.join(path).display().to_string(),
            None => path.to_string(),
        }
    }

    pub fn text(&self, path: &str) -> &str {
        // `check` made sure every file the manifest names is here.
        self.files.get(path).map_or("", String::as_str)
    }
}

#[derive(Debug)]
pub enum LoadError {
    /// The project does not compile, or stackc.toml is invalid: the rendered
    /// diagnostics.
    Diagnostics(String),
    /// The artifacts are not what their manifest says, or are incomplete.
    Artifacts(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Diagnostics(d) => f.write_str(d.trim_end()),
            LoadError::Artifacts(m) => f.write_str(m),
        }
    }
}

/// Loads what to run. Returns the bundle and the (warning) diagnostics of
/// the compile, rendered for stderr.
pub fn load(
    dir: &Path,
    artifacts: Option<&Path>,
    options: &crate::project::LoadOptions,
    promote: &crate::diagnostic::WarnError,
    color: bool,
) -> Result<(Bundle, String), LoadError> {
    let (files, printed) = match artifacts {
        None => {
            let mut compilation = crate::compile_with(dir, options);
            promote.apply(&mut compilation.diagnostics);
            if compilation.has_errors() {
                compilation.artifacts = None;
            }
            let printed = diagnostic::render(
                &compilation.diagnostics,
                &compilation.files,
                Format::Human,
                color,
            );
            match compilation.artifacts {
                Some(files) => (files, printed),
                None => return Err(LoadError::Diagnostics(printed)),
            }
        }
        Some(out) => (read_verified(out)?, String::new()),
    };
    let settings =
        crate::project::load_settings_with(dir, options).map_err(|(diagnostics, sources)| {
            LoadError::Diagnostics(diagnostic::render(
                &diagnostics,
                &sources,
                Format::Human,
                color,
            ))
        })?;
    let manifest_text = files
        .get("manifest.json")
        .ok_or_else(|| LoadError::Artifacts("the artifacts have no manifest.json".into()))?;
    let manifest: Manifest = serde_json::from_str(manifest_text)
        .map_err(|e| LoadError::Artifacts(format!("manifest.json cannot be read: {e}")))?;
    let bundle = Bundle {
        settings,
        manifest,
        files,
        root: artifacts.map(Path::to_path_buf),
        dir: dir.to_path_buf(),
    };
    check(&bundle)?;
    Ok((bundle, printed))
}

/// Reads `out` and verifies it against its manifest's `files` checksums: a
/// changed, missing or extra file is refused before anything runs.
fn read_verified(out: &Path) -> Result<BTreeMap<String, String>, LoadError> {
    let manifest_path = out.join("manifest.json");
    let manifest_text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        LoadError::Artifacts(format!(
            "cannot read {}: {e} (compile the project with `stackc compile DIR --out {}`)",
            manifest_path.display(),
            out.display()
        ))
    })?;
    #[derive(Deserialize)]
    struct FilesOnly {
        files: BTreeMap<String, String>,
    }
    let listed: FilesOnly = serde_json::from_str(&manifest_text).map_err(|e| {
        LoadError::Artifacts(format!("{} cannot be read: {e}", manifest_path.display()))
    })?;
    let on_disk = crate::emit::existing_files(out).map_err(|e| {
        LoadError::Artifacts(format!(
            "cannot read the artifacts in {}: {e}",
            out.display()
        ))
    })?;
    let mut problems = Vec::new();
    let mut files = BTreeMap::new();
    for (path, expected) in &listed.files {
        match on_disk.get(path) {
            None => problems.push(format!("missing  {}", out.join(path).display())),
            Some(bytes) => {
                if sha256_hex(bytes) != *expected {
                    problems.push(format!(
                        "changed  {} (its SHA-256 differs from manifest.json's)",
                        out.join(path).display()
                    ));
                } else {
                    match String::from_utf8(bytes.clone()) {
                        Ok(text) => {
                            files.insert(path.clone(), text);
                        }
                        Err(_) => problems
                            .push(format!("invalid  {} (not UTF-8)", out.join(path).display())),
                    }
                }
            }
        }
    }
    for path in on_disk.keys() {
        if path != "manifest.json" && !listed.files.contains_key(path) {
            problems.push(format!(
                "extra    {} (not listed in manifest.json)",
                out.join(path).display()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(LoadError::Artifacts(format!(
            "the artifacts in {} do not match their manifest; nothing was run:\n  {}\nhelp: recompile with `stackc compile DIR --out {}` and review the diff; never edit artifacts by hand",
            out.display(),
            problems.join("\n  "),
            out.display()
        )));
    }
    files.insert("manifest.json".into(), manifest_text);
    Ok(files)
}

/// The same digest as `emit` writes into the manifest, over raw bytes (a
/// file on disk need not be UTF-8 to be compared).
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crate::naming::hex(&Sha256::digest(bytes))
}

/// The manifest is one this stackc understands, of this project, and names
/// only files that are there.
fn check(bundle: &Bundle) -> Result<(), LoadError> {
    let m = &bundle.manifest;
    if m.metadata.manifest_version != MANIFEST_VERSION {
        return Err(LoadError::Artifacts(format!(
            "manifest.json has manifest_version {}; this stackc reads version {MANIFEST_VERSION}: recompile with this stackc",
            m.metadata.manifest_version
        )));
    }
    if m.metadata.project_name != bundle.settings.name {
        return Err(LoadError::Artifacts(format!(
            "the artifacts are of project `{}`, but {} names the project `{}`: pass the project folder the artifacts were compiled from",
            m.metadata.project_name,
            bundle
                .dir
                .join(match bundle.settings.flavor {
                    crate::project::Flavor::Dbt => "dbt_project.yml",
                    crate::project::Flavor::Native => "stackc.toml",
                })
                .display(),
            bundle.settings.name
        )));
    }
    let mut named: BTreeSet<&str> = BTreeSet::new();
    for mig in &m.migrations {
        named.insert(&mig.file);
    }
    for unit in &m.unit_tests {
        named.insert(&unit.file);
    }
    for step in &m.run_order {
        named.insert(&step.file);
        if let Some(full) = &step.full_file {
            named.insert(full);
        }
        if step.step == StepKind::Incremental && step.full_file.is_none() {
            return Err(LoadError::Artifacts(format!(
                "manifest.json: the incremental step of `{}` has no full_file",
                step.node
            )));
        }
    }
    let missing: Vec<&str> = named
        .into_iter()
        .filter(|f| !bundle.files.contains_key(*f))
        .collect();
    if !missing.is_empty() {
        return Err(LoadError::Artifacts(format!(
            "manifest.json names files that are not among the artifacts: {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// The `-- source: <file>` header line of a generated artifact.
pub fn header_source(text: &str) -> Option<&str> {
    header_lines(text).find_map(|l| l.strip_prefix(HEADER_SOURCE).map(str::trim))
}

/// The `-- stackc: <kind> <relation> (<materialization>)` header line, as
/// (materialization, relation): `("view", "staging.stg_orders")`.
pub fn header_object(text: &str) -> Option<(&str, &str)> {
    let line = header_lines(text).find_map(|l| l.strip_prefix(HEADER_OBJECT))?;
    let (_kind, rest) = line.split_once(' ')?;
    let (relation, materialization) = rest.rsplit_once(" (")?;
    Some((materialization.trim_end_matches(')'), relation))
}

fn header_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().take_while(|l| l.starts_with("--")).take(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_generated_files() {
        let text = "-- stackc: model staging.stg_orders (view)\n-- source: models/staging/stg_orders.sql\n-- upstream: none\n\ncreate view x as select 1;\n-- source: not a header\n";
        assert_eq!(header_source(text), Some("models/staging/stg_orders.sql"));
        assert_eq!(header_object(text), Some(("view", "staging.stg_orders")));
        let seed = "-- stackc: seed seeds.product_categories (table)\n-- source: seeds/product_categories.csv\n";
        assert_eq!(
            header_object(seed),
            Some(("table", "seeds.product_categories"))
        );
        assert_eq!(header_source("create table t (x int);\n"), None);
        assert_eq!(header_object("-- a comment\nselect 1;\n"), None);
    }
}
