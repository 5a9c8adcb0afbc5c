//! Load: read a project folder into plain data, reporting every problem found.
//!
//! Nothing here renders Jinja or parses SQL; it finds the files, reads
//! `stackc.toml`, names migrations the way Flyway does, and reads the schema
//! files (see [`crate::schema`]) and seeds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::ConfigLayer;
use crate::diagnostic::{Code, Diagnostic, SourceFiles};
use crate::schema::{self, OtherKind, SchemaFile};
use crate::seed::{self, Seed};

mod files;
mod folders;
mod migrations;
mod settings;

pub(crate) use self::files::source_file;
use self::files::{
    folders_under, list_dirs, list_files, parse_schema_file, parse_schema_files_while, read_source,
    source_from_bytes, ReadModel,
};
pub use self::folders::input_folders;
use self::migrations::check_duplicate_versions;
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

/// `migrations/*.sql`, named as Flyway names them.
fn read_migrations(
    root: &Path,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Migration> {
    let mut migrations = Vec::new();
    for (rel, abs) in list_files(root, "migrations", files, diagnostics) {
        if !rel.ends_with(".sql") {
            continue;
        }
        let Some(file) = read_source(files, &rel, &abs, diagnostics) else {
            continue;
        };
        let script = rel.trim_start_matches("migrations/").to_string();
        match parse_migration_name(&script) {
            Ok((kind, version_text, description)) => migrations.push(Migration {
                file,
                script,
                kind,
                version_text,
                description,
            }),
            Err(problem) => diagnostics.push(
                Diagnostic::new(Code::E0003, format!("`{rel}` is not a Flyway migration name: {problem}"))
                    .at_file(&file.path, 0..0)
                    .help("name versioned migrations `V<version>__<description>.sql` (e.g. `V1.2__create_raw_orders.sql`) and repeatable ones `R__<description>.sql`"),
            ),
        }
    }
    check_duplicate_versions(&migrations, diagnostics);
    migrations
}

/// The files under the model paths (and a dbt project's snapshot paths),
/// by what they are; only the docs are read yet.
struct ModelListing {
    /// Markdown files of a dbt project (its `{% docs %}` blocks).
    docs: Vec<SourceFile>,
    /// Schema files, largest first.
    yaml: Vec<(String, PathBuf)>,
    /// Models, in path order.
    sql: Vec<(String, PathBuf)>,
    /// A dbt project's `{% snapshot %}` files.
    snapshot_sql: Vec<(String, PathBuf)>,
}

fn list_model_paths(
    root: &Path,
    paths: &Paths,
    dbt: bool,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> ModelListing {
    let mut docs = Vec::new();
    let mut model_listing = Vec::new();
    for dir in &paths.models {
        for (rel, abs) in list_files(root, dir, files, diagnostics) {
            if dbt && rel.ends_with(".md") {
                if let Some(file) = read_source(files, &rel, &abs, diagnostics) {
                    docs.push(file);
                }
            } else if rel.ends_with(".sql") || rel.ends_with(".yml") || rel.ends_with(".yaml") {
                model_listing.push((rel, abs));
            }
        }
    }
    model_listing.sort();
    model_listing.dedup();
    let (mut yaml_paths, sql_paths): (Vec<_>, Vec<_>) = model_listing
        .into_iter()
        .partition(|(rel, _)| !rel.ends_with(".sql"));
    // A dbt project's snapshot paths: `{% snapshot %}` files, and schema
    // files (dbt 1.9 writes snapshots in YAML there).
    let mut snapshot_sql = Vec::new();
    if dbt {
        for (rel, abs) in list_dirs(root, &paths.snapshots, files, diagnostics) {
            if rel.ends_with(".sql") {
                snapshot_sql.push((rel, abs));
            } else if (rel.ends_with(".yml") || rel.ends_with(".yaml"))
                && !yaml_paths.iter().any(|(r, _)| *r == rel)
            {
                yaml_paths.push((rel, abs));
            }
        }
    }
    // Largest first, so that the last file to finish is a small one.
    yaml_paths.sort_by_cached_key(|(_, abs)| {
        std::cmp::Reverse(std::fs::metadata(abs).map_or(0, |m| m.len()))
    });
    ModelListing {
        docs,
        yaml: yaml_paths,
        sql: sql_paths,
        snapshot_sql,
    }
}

/// Models and schema files are most of a project. Schema files are read
/// and parsed while the models are being read: one large YAML file takes
/// about as long as reading thousands of models, and parses on one thread.
fn read_models_and_schema_files(
    paths: &Paths,
    yaml_paths: Vec<(String, PathBuf)>,
    sql_paths: Vec<(String, PathBuf)>,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<ModelFile>, Vec<SchemaFile>) {
    let mut models = Vec::new();
    let mut schema_files = Vec::new();
    let read_models = || -> Vec<ReadModel> {
        sql_paths
            .into_par_iter()
            .map(|(rel, abs)| {
                let bytes = std::fs::read(&abs);
                (rel, bytes)
            })
            .collect()
    };
    let (mut parsed, model_files) = parse_schema_files_while(&yaml_paths, read_models);
    // Back to path order, in which the files were listed.
    parsed.sort_by(|a, b| a.0.cmp(&b.0));
    for (rel, bytes) in model_files {
        let Some(file) = source_from_bytes(files, &rel, bytes, diagnostics) else {
            continue;
        };
        // Folders are counted from the model path the file is under.
        let inner = paths
            .models
            .iter()
            .filter_map(|dir| {
                rel.strip_prefix(dir.as_str())
                    .and_then(|r| r.strip_prefix('/'))
            })
            .next()
            .unwrap_or(&rel);
        let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
        let file_name = parts.pop().unwrap_or_default();
        let name = file_name.trim_end_matches(".sql").to_string();
        models.push(ModelFile {
            file,
            name,
            folders: parts,
            snapshot: false,
        });
    }
    for (_, read, schema, local) in parsed {
        files.extend(read);
        diagnostics.extend(local);
        schema_files.extend(schema);
    }
    (models, schema_files)
}

/// What a dbt project adds to its schema files: rendered test settings,
/// the `data_tests:` configs of `dbt_project.yml`'s tree, docs blocks.
fn settle_schema_files(
    settings: &Settings,
    docs: &[SourceFile],
    schema_files: &mut [SchemaFile],
    files: &SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let paths = &settings.paths;
    let target = settings
        .dbt
        .as_ref()
        .map(|d| crate::dbt::profiles::target_json(&d.target));
    crate::dbt::test_settings::render(schema_files, &settings.vars, target.as_ref(), diagnostics);
    if let Some(d) = &settings.dbt {
        for file in schema_files.iter_mut() {
            let folders = folders_under(&file.path, &paths.models)
                .or_else(|| folders_under(&file.path, &paths.snapshots))
                .unwrap_or_default();
            schema::apply_test_tree(file, &folders, &d.test_configs, diagnostics);
        }
    }
    if settings.flavor == Flavor::Dbt {
        let blocks = crate::dbt::docs::blocks(docs, diagnostics);
        crate::dbt::docs::fill(schema_files, files, &blocks, diagnostics);
    }
}

/// A dbt project's snapshots: the `{% snapshot %}` blocks of its snapshot
/// files, and dbt 1.9's YAML ones.
fn read_snapshots(
    paths: &Paths,
    snapshot_sql: Vec<(String, PathBuf)>,
    schema_files: &[SchemaFile],
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<ModelFile> {
    let mut models = Vec::new();
    for (rel, abs) in snapshot_sql {
        let Some(file) = read_source(files, &rel, &abs, diagnostics) else {
            continue;
        };
        let inner = paths
            .snapshots
            .iter()
            .filter_map(|dir| {
                rel.strip_prefix(dir.as_str())
                    .and_then(|r| r.strip_prefix('/'))
            })
            .next()
            .unwrap_or(&rel);
        let mut folders: Vec<String> = inner.split('/').map(str::to_string).collect();
        folders.pop();
        for block in crate::dbt::snapshot::blocks(&file, diagnostics) {
            models.push(ModelFile {
                file: block.file,
                name: block.name,
                folders: folders.clone(),
                snapshot: true,
            });
        }
    }
    // dbt 1.9's YAML snapshots: a `snapshots:` entry with `relation:`.
    for schema in schema_files {
        for o in &schema.others {
            let (OtherKind::Snapshot, Some((relation, at))) = (o.kind, &o.relation) else {
                continue;
            };
            let Some(text) = files.get(&schema.path) else {
                continue;
            };
            let file = SourceFile {
                path: schema.path.clone(),
                text: text.into(),
            };
            let folders = folders_under(&schema.path, &paths.snapshots)
                .or_else(|| folders_under(&schema.path, &paths.models))
                .unwrap_or_default();
            models.push(ModelFile {
                file: crate::dbt::snapshot::yaml_query(&file, relation, at),
                name: o.name.clone(),
                folders,
                snapshot: true,
            });
        }
    }
    models
}

/// The `.sql` files besides models and migrations.
struct SqlFiles {
    /// Macros, and a dbt project's generic test definitions.
    macros: Vec<SourceFile>,
    singular_tests: Vec<SourceFile>,
    analyses: Vec<SourceFile>,
}

fn read_sql_files(
    root: &Path,
    paths: &Paths,
    dbt: bool,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> SqlFiles {
    let mut macros = Vec::new();
    let mut singular_tests = Vec::new();
    let mut analyses = Vec::new();
    for (rel, abs) in list_dirs(root, &paths.macros, files, diagnostics) {
        if rel.ends_with(".sql") {
            if let Some(file) = read_source(files, &rel, &abs, diagnostics) {
                macros.push(file);
            }
        }
    }
    for (rel, abs) in list_dirs(root, &paths.tests, files, diagnostics) {
        // In a dbt project, `tests/generic/` holds `{% test %}` definitions,
        // not singular tests.
        let generic = dbt
            && paths
                .tests
                .iter()
                .any(|dir| rel.starts_with(&format!("{dir}/generic/")));
        if rel.ends_with(".sql") {
            if let Some(file) = read_source(files, &rel, &abs, diagnostics) {
                // Generic test definitions are macros (see datatest::generic_tests).
                if generic {
                    macros.push(file);
                } else {
                    singular_tests.push(file);
                }
            }
        }
    }
    for (rel, abs) in list_dirs(root, &paths.analyses, files, diagnostics) {
        if rel.ends_with(".sql") {
            if let Some(file) = read_source(files, &rel, &abs, diagnostics) {
                analyses.push(file);
            }
        }
    }
    SqlFiles {
        macros,
        singular_tests,
        analyses,
    }
}

fn read_seeds(
    root: &Path,
    settings: &Settings,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Seed> {
    let paths = &settings.paths;
    let mut seeds = Vec::new();
    for (rel, abs) in list_dirs(root, &paths.seeds, files, diagnostics) {
        if rel.ends_with(".csv") {
            if let Some(file) = read_source(files, &rel, &abs, diagnostics) {
                let parsed = match &settings.dbt {
                    Some(d) => crate::dbt::seeds::parse(d, &file, &paths.seeds, diagnostics),
                    None => seed::parse(&file, diagnostics),
                };
                if let Some(parsed) = parsed {
                    seeds.push(parsed);
                }
            }
        }
    }
    seeds
}

/// A dbt project's installed packages: their macros, and their models,
/// schema files and seeds, which join the project's.
#[allow(clippy::too_many_arguments)] // the loader's collections, filled in place
fn load_packages(
    root: &Path,
    settings: &mut Settings,
    settings_file: &SourceFile,
    files: &mut SourceFiles,
    models: &mut Vec<ModelFile>,
    seeds: &mut Vec<Seed>,
    schema_files: &mut Vec<SchemaFile>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Arc<crate::dbt::DbtMacros> {
    let mut package_settings = crate::dbt::packages::settings(settings_file);
    package_settings.target = settings.dbt.as_ref().map(|d| d.target.clone());
    let (packages, missing) =
        crate::dbt::packages::load(root, &package_settings, files, diagnostics);
    if let Some(d) = settings.dbt.as_mut() {
        d.packages = packages
            .iter()
            .map(|p| (p.name.clone(), p.config.clone()))
            .collect();
    }
    for package in &packages {
        load_package_nodes(
            root,
            settings,
            &package.config,
            files,
            models,
            seeds,
            schema_files,
            diagnostics,
        );
    }
    Arc::new(crate::dbt::DbtMacros {
        root: settings.name.clone(),
        packages: packages.into_iter().map(|p| (p.name, p.macros)).collect(),
        dispatch: package_settings.dispatch,
        missing,
    })
}

/// A package's models, schema files and seeds join the root project's, as
/// in dbt's graph; their folders count from the package's own model (seed)
/// paths, so that its `models:` tree and the root's `models: {pkg: ...}`
/// match them.
#[allow(clippy::too_many_arguments)] // the loader's collections, filled in place
fn load_package_nodes(
    root: &Path,
    settings: &Settings,
    package: &crate::dbt::packages::PackageConfig,
    files: &mut SourceFiles,
    models: &mut Vec<ModelFile>,
    seeds: &mut Vec<Seed>,
    schema_files: &mut Vec<SchemaFile>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (rel, abs) in list_dirs(root, &package.model_paths, files, diagnostics) {
        if rel.ends_with(".yml") || rel.ends_with(".yaml") {
            let (_, read, schema, local) = parse_schema_file(&rel, &abs);
            files.extend(read);
            diagnostics.extend(local);
            schema_files.extend(schema);
            continue;
        }
        if !rel.ends_with(".sql") {
            continue;
        }
        let Some(file) = read_source(files, &rel, &abs, diagnostics) else {
            continue;
        };
        let inner = package
            .model_paths
            .iter()
            .find_map(|dir| {
                rel.strip_prefix(dir.as_str())
                    .and_then(|r| r.strip_prefix('/'))
            })
            .unwrap_or(&rel);
        let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
        let file_name = parts.pop().unwrap_or_default();
        models.push(ModelFile {
            file,
            name: file_name.trim_end_matches(".sql").to_string(),
            folders: parts,
            snapshot: false,
        });
    }
    let Some(dbt) = &settings.dbt else {
        return;
    };
    for (rel, abs) in list_dirs(root, &package.seed_paths, files, diagnostics) {
        if rel.ends_with(".csv") {
            if let Some(file) = read_source(files, &rel, &abs, diagnostics) {
                if let Some(seed) =
                    crate::dbt::seeds::parse(dbt, &file, &package.seed_paths, diagnostics)
                {
                    seeds.push(seed);
                }
            }
        }
    }
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
