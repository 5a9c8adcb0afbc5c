//! Load: read a project folder into plain data, reporting every problem found.
//!
//! Nothing here renders Jinja or parses SQL; it finds the files, reads
//! `stackc.toml`, names migrations the way Flyway does, and reads the schema
//! files (see [`crate::schema`]) and seeds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::ConfigLayer;
use crate::diagnostic::{Diagnostic, SourceFiles};
use crate::schema::SchemaFile;
use crate::seed::Seed;

mod files;
mod folders;
mod load;
mod migrations;
mod settings;
mod toml_values;

pub(crate) use self::files::source_file;
pub use self::folders::input_folders;
use self::load::{
    list_model_paths, load_packages, read_migrations, read_models_and_schema_files, read_seeds,
    read_snapshots, read_sql_files, settle_schema_files, ModelListing, SqlFiles,
};
pub use self::migrations::parse_migration_name;
use self::settings::read_settings;
pub use self::settings::{control_character, is_identifier, load_settings, load_settings_with};

/// One text file of the project. `path` is relative to the project folder,
/// with `/` separators, so that it reads the same on every machine.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: Arc<str>,
    pub text: Arc<str>,
}

/// Which project format a folder is written in. A dbt project is read as
/// dbt reads it, and where stackc is stricter than dbt it warns instead of
/// refusing (`--warn-error` makes those warnings errors again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// `stackc.toml` alone: stackc's own strict format.
    #[default]
    Native,
    /// `dbt_project.yml` (with or without a `stackc.toml` beside it).
    Dbt,
}

/// The folders a project reads, relative to the project folder. A native
/// project has exactly the defaults; a dbt project sets them with
/// `model-paths`, `seed-paths`, ... in dbt_project.yml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub models: Vec<String>,
    pub seeds: Vec<String>,
    pub macros: Vec<String>,
    pub tests: Vec<String>,
    pub snapshots: Vec<String>,
    pub analyses: Vec<String>,
}

impl Default for Paths {
    fn default() -> Self {
        let one = |s: &str| vec![s.to_string()];
        Paths {
            models: one("models"),
            seeds: one("seeds"),
            macros: one("macros"),
            tests: one("tests"),
            snapshots: one("snapshots"),
            analyses: one("analyses"),
        }
    }
}

/// What the command line adds to loading: which profile target to use.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--profiles-dir`.
    pub profiles_dir: Option<PathBuf>,
    /// `--target` / `-t`.
    pub target: Option<String>,
    /// `--vars '{k: v}'`: over every var of the project and its packages,
    /// as dbt's command-line vars.
    pub vars: BTreeMap<String, serde_json::Value>,
}

/// The files that make a folder a project, in the order they are looked for.
pub const PROJECT_FILES: [&str; 2] = ["stackc.toml", "dbt_project.yml"];

/// Which format the folder `root` is written in, from the files in it.
pub fn detect_flavor(root: &Path) -> Option<Flavor> {
    // `exists`, not `is_file`: a project file that is a folder or unreadable
    // is reported at its name, not taken for a missing one.
    if root.join("dbt_project.yml").exists() {
        Some(Flavor::Dbt)
    } else if root.join("stackc.toml").exists() {
        Some(Flavor::Native)
    } else {
        None
    }
}

/// Where `stackc compile` writes when no `--out` is given. A dbt project
/// keeps dbt's own `target/` for dbt (which writes `target/manifest.json`
/// too, and `dbt clean` deletes it): stackc's artifacts go beside it.
pub fn default_out(root: &Path) -> PathBuf {
    match detect_flavor(root) {
        Some(Flavor::Dbt) => root.join("stackc_target"),
        _ => root.join("target"),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub flavor: Flavor,
    pub paths: Paths,
    /// Only in a dbt project: what dbt_project.yml and profiles.yml set
    /// beyond stackc's own settings.
    pub dbt: Option<crate::dbt::DbtSettings>,
    pub name: String,
    /// Layer folder -> PostgreSQL schema.
    pub layers: BTreeMap<String, String>,
    /// `[models.<folder>...]` defaults, keyed by the folder path under `models/`.
    pub folder_configs: BTreeMap<Vec<String>, ConfigLayer>,
    /// The project's vars, `--vars` merged over them.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// `--vars` alone: they also win over a package's scoped vars.
    pub cli_vars: BTreeMap<String, serde_json::Value>,
    pub url_env: Option<String>,
    pub seeds_schema: String,
    pub history_schema: String,
    pub history_table: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationKind {
    /// Numeric parts with trailing zeros dropped, so `1` and `1.0` are equal.
    Versioned(Vec<u64>),
    Repeatable,
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub file: SourceFile,
    /// Path relative to the `migrations/` folder (Flyway's `script` column).
    pub script: String,
    pub kind: MigrationKind,
    /// The version as written in the file name (`1.1`), empty for repeatables.
    pub version_text: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct ModelFile {
    pub file: SourceFile,
    pub name: String,
    /// Folders between `models/` and the file; the first is the layer.
    pub folders: Vec<String>,
    /// A dbt snapshot: a `{% snapshot %}` block under a snapshot path, or
    /// a YAML `snapshots:` entry. Its `file.text` is the block's body, with
    /// everything else in the file blanked so that lines and columns stay.
    pub snapshot: bool,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub files: SourceFiles,
    pub settings: Settings,
    pub settings_file: SourceFile,
    pub migrations: Vec<Migration>,
    pub models: Vec<ModelFile>,
    pub macros: Vec<SourceFile>,
    pub singular_tests: Vec<SourceFile>,
    /// `.sql` files under the analysis paths.
    pub analyses: Vec<SourceFile>,
    pub seeds: Vec<Seed>,
    pub schema_files: Vec<SchemaFile>,
    /// Markdown files under the model paths (dbt's `{% docs %}` blocks).
    pub docs: Vec<SourceFile>,
    /// A dbt project's installed packages and `dispatch:` config.
    pub dbt_macros: Option<Arc<crate::dbt::DbtMacros>>,
}

/// Loading fails outright only when there is no project to speak of; every
/// other problem is collected so that one run reports them all.
/// On failure, the diagnostic and the file it points into.
pub fn load(
    root: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Project, (Diagnostic, SourceFiles)> {
    load_with(root, &LoadOptions::default(), diagnostics)
}

/// [`load`] with the command line's options (`--target`, `--profiles-dir`).
pub fn load_with(
    root: &Path,
    options: &LoadOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Project, (Diagnostic, SourceFiles)> {
    let mut files = SourceFiles::default();
    let (mut settings, settings_file) = match read_settings(root, options, &mut files, diagnostics)
    {
        Ok(read) => read,
        Err(d) => return Err((d, files)),
    };
    let paths = settings.paths.clone();
    let dbt = settings.flavor == Flavor::Dbt;
    let migrations = read_migrations(root, &mut files, diagnostics);
    let listing = list_model_paths(root, &paths, dbt, &mut files, diagnostics);
    let ModelListing {
        docs,
        yaml,
        sql,
        snapshot_sql,
    } = listing;
    let (mut models, mut schema_files) =
        read_models_and_schema_files(&paths, yaml, sql, &mut files, diagnostics);
    settle_schema_files(&settings, &docs, &mut schema_files, &files, diagnostics);
    if dbt {
        models.extend(read_snapshots(
            &paths,
            snapshot_sql,
            &schema_files,
            &mut files,
            diagnostics,
        ));
    }
    let SqlFiles {
        macros,
        singular_tests,
        analyses,
    } = read_sql_files(root, &paths, dbt, &mut files, diagnostics);
    // A seed entry's `config:` in a schema file (its `delimiter`,
    // `quote_columns`...) decides how the CSV is read, as in dbt: known
    // before the seeds are read.
    if let Some(d) = settings.dbt.as_mut() {
        crate::dbt::seeds::collect_properties(d, &schema_files);
    }
    let mut seeds = read_seeds(root, &settings, &mut files, diagnostics);
    let dbt_macros = dbt.then(|| {
        load_packages(
            root,
            &mut settings,
            &settings_file,
            &mut files,
            &mut models,
            &mut seeds,
            &mut schema_files,
            diagnostics,
        )
    });

    Ok(Project {
        dbt_macros,
        root: root.to_path_buf(),
        files,
        settings,
        settings_file,
        migrations,
        models,
        macros,
        singular_tests,
        analyses,
        seeds,
        schema_files,
        docs,
    })
}

#[cfg(test)]
mod tests {
    use super::settings::parse_settings;
    use super::*;

    pub(super) fn version(name: &str) -> Vec<u64> {
        match parse_migration_name(name).unwrap().0 {
            MigrationKind::Versioned(v) => v,
            MigrationKind::Repeatable => panic!("repeatable"),
        }
    }

    pub(super) fn settings(text: &str) -> (Settings, Vec<Diagnostic>) {
        let file = SourceFile {
            path: Arc::from("stackc.toml"),
            text: Arc::from(text),
        };
        let mut diagnostics = Vec::new();
        let s = parse_settings(&file, &mut diagnostics);
        (s, diagnostics)
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version("V1.10__a.sql") > version("V1.9__a.sql"));
        assert_eq!(version("V1__a.sql"), version("V1.0__a.sql"));
        assert_eq!(version("V1_2__a.sql"), vec![1, 2]);
        assert_eq!(version("V2__a.sql"), vec![2]);
    }

    #[test]
    fn settings_read_every_section() {
        let (s, d) = settings(
            "[project]\nname = \"a\"\n[layers]\nstaging = \"stg\"\n[models.marts]\nmaterialized = \"table\"\n[models.marts.finance]\nmaterialized = \"view\"\n[vars]\nk = 3\n[connection]\nurl_env = \"DB\"\n[seeds]\nschema = \"ref\"\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.name, "a");
        assert_eq!(s.layers["staging"], "stg");
        assert_eq!(s.folder_configs.len(), 2);
        assert!(s
            .folder_configs
            .contains_key(&vec!["marts".to_string(), "finance".to_string()]));
        assert_eq!(s.vars["k"], serde_json::json!(3));
        assert_eq!(s.url_env.as_deref(), Some("DB"));
        assert_eq!(s.seeds_schema, "ref");
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let text = "[project]\nname = \"a\"\n[models.marts]\nmaterialised = \"table\"\n";
        let (_, d) = settings(text);
        assert_eq!(d.len(), 1);
        let span = d[0].primary.clone().unwrap();
        assert_eq!(&text[span.range], "materialised");
        assert!(d[0].help.as_deref().unwrap().contains("materialized"));
    }

    #[test]
    fn missing_name_is_an_error() {
        let (_, d) = settings("[vars]\nx = 1\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("name"));
    }
}
