//! Load: read a project folder into plain data, reporting every problem found.
//!
//! Nothing here renders Jinja or parses SQL; it finds the files, reads
//! `stackc.toml`, names migrations the way Flyway does, and reads the schema
//! files (see [`crate::schema`]) and seeds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use toml::de::{DeTable, DeValue};

use crate::config::{ConfigEntry, ConfigLayer};
use crate::diagnostic::{Code, Diagnostic, SourceFiles, Span};
use crate::schema::{self, OtherKind, SchemaFile};
use crate::seed::{self, Seed};

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

/// Reads the project file(s) of `root`: `stackc.toml`, or `dbt_project.yml`
/// (with an optional `stackc.toml` beside it for stackc-only settings).
fn read_settings(
    root: &Path,
    options: &LoadOptions,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(Settings, SourceFile), Diagnostic> {
    if !root.is_dir() {
        return Err(Diagnostic::new(
            Code::E0001,
            format!("project folder `{}` does not exist", root.display()),
        )
        .help("pass the folder that holds stackc.toml or dbt_project.yml, e.g. `stackc compile project_template`"));
    }
    match detect_flavor(root) {
        None => Err(Diagnostic::new(
            Code::E0001,
            format!(
                "`{}` is not a project: neither stackc.toml nor dbt_project.yml is in it",
                root.display()
            ),
        )
        .help("pass the folder that holds stackc.toml (`[project] name = \"...\"`) or a dbt project's dbt_project.yml")),
        Some(Flavor::Native) => {
            let file = read_settings_file(root, "stackc.toml", files)?;
            let mut settings = parse_settings(&file, diagnostics);
            settings.vars.extend(options.vars.clone());
            settings.cli_vars = options.vars.clone();
            Ok((settings, file))
        }
        Some(Flavor::Dbt) => {
            let file = read_settings_file(root, "dbt_project.yml", files)?;
            let beside = if root.join("stackc.toml").exists() {
                let toml = read_settings_file(root, "stackc.toml", files)?;
                let mut local = Vec::new();
                let parsed = parse_settings(&toml, &mut local);
                // The name comes from dbt_project.yml.
                local.retain(|d| !(d.code == Code::E0001 && d.message.contains("[project] name")));
                diagnostics.extend(local);
                Some((parsed, toml))
            } else {
                None
            };
            let settings = crate::dbt::settings(root, &file, beside, options, files, diagnostics);
            Ok((settings, file))
        }
    }
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

    let mut migrations = Vec::new();
    let mut models = Vec::new();
    let mut macros = Vec::new();
    let mut singular_tests = Vec::new();
    let mut analyses = Vec::new();
    let mut seeds = Vec::new();
    let mut schema_files = Vec::new();

    for (rel, abs) in list_files(root, "migrations", &mut files, diagnostics) {
        if !rel.ends_with(".sql") {
            continue;
        }
        let Some(file) = read_source(&mut files, &rel, &abs, diagnostics) else {
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

    // Models and schema files are most of a project. Schema files are read
    // and parsed while the models are being read: one large YAML file takes
    // about as long as reading thousands of models, and parses on one thread.
    let mut docs = Vec::new();
    let mut model_listing = Vec::new();
    for dir in &paths.models {
        for (rel, abs) in list_files(root, dir, &mut files, diagnostics) {
            if dbt && rel.ends_with(".md") {
                if let Some(file) = read_source(&mut files, &rel, &abs, diagnostics) {
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
        for (rel, abs) in list_dirs(root, &paths.snapshots, &mut files, diagnostics) {
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
        let Some(file) = source_from_bytes(&mut files, &rel, bytes, diagnostics) else {
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
    if let Some(d) = &settings.dbt {
        for file in &mut schema_files {
            let folders = folders_under(&file.path, &paths.models)
                .or_else(|| folders_under(&file.path, &paths.snapshots))
                .unwrap_or_default();
            schema::apply_test_tree(file, &folders, &d.test_configs, diagnostics);
        }
    }
    if dbt {
        let blocks = crate::dbt::docs::blocks(&docs, diagnostics);
        crate::dbt::docs::fill(&mut schema_files, &files, &blocks, diagnostics);
    }
    if dbt {
        for (rel, abs) in snapshot_sql {
            let Some(file) = read_source(&mut files, &rel, &abs, diagnostics) else {
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
        for schema in &schema_files {
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
    }
    for (rel, abs) in list_dirs(root, &paths.macros, &mut files, diagnostics) {
        if rel.ends_with(".sql") {
            if let Some(file) = read_source(&mut files, &rel, &abs, diagnostics) {
                macros.push(file);
            }
        }
    }
    for (rel, abs) in list_dirs(root, &paths.tests, &mut files, diagnostics) {
        // In a dbt project, `tests/generic/` holds `{% test %}` definitions,
        // not singular tests.
        let generic = dbt
            && paths
                .tests
                .iter()
                .any(|dir| rel.starts_with(&format!("{dir}/generic/")));
        if rel.ends_with(".sql") {
            if let Some(file) = read_source(&mut files, &rel, &abs, diagnostics) {
                // Generic test definitions are macros (see datatest::generic_tests).
                if generic {
                    macros.push(file);
                } else {
                    singular_tests.push(file);
                }
            }
        }
    }
    for (rel, abs) in list_dirs(root, &paths.analyses, &mut files, diagnostics) {
        if rel.ends_with(".sql") {
            if let Some(file) = read_source(&mut files, &rel, &abs, diagnostics) {
                analyses.push(file);
            }
        }
    }
    for (rel, abs) in list_dirs(root, &paths.seeds, &mut files, diagnostics) {
        if rel.ends_with(".csv") {
            if let Some(file) = read_source(&mut files, &rel, &abs, diagnostics) {
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

    let dbt_macros = dbt.then(|| {
        let mut package_settings = crate::dbt::packages::settings(&settings_file);
        package_settings.target = settings.dbt.as_ref().map(|d| d.target.clone());
        let (packages, missing) =
            crate::dbt::packages::load(root, &package_settings, &mut files, diagnostics);
        if let Some(d) = settings.dbt.as_mut() {
            d.packages = packages
                .iter()
                .map(|p| (p.name.clone(), p.config.clone()))
                .collect();
        }
        for package in &packages {
            load_package_nodes(
                root,
                &settings,
                &package.config,
                &mut files,
                &mut models,
                &mut seeds,
                &mut schema_files,
                diagnostics,
            );
        }
        Arc::new(crate::dbt::DbtMacros {
            root: settings.name.clone(),
            packages: packages.into_iter().map(|p| (p.name, p.macros)).collect(),
            dispatch: package_settings.dispatch,
            missing,
        })
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

/// The folders between one of `dirs` and the file at `rel`.
fn folders_under(rel: &str, dirs: &[String]) -> Option<Vec<String>> {
    let inner = dirs
        .iter()
        .find_map(|dir| rel.strip_prefix(dir.as_str())?.strip_prefix('/'))?;
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    parts.pop();
    Some(parts)
}

/// [`list_files`] over several folders, each file once, in path order.
fn list_dirs(
    root: &Path,
    dirs: &[String],
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for dir in dirs {
        out.extend(list_files(root, dir, files, diagnostics));
    }
    out.sort();
    out.dedup();
    out
}

pub(crate) fn source_file(files: &mut SourceFiles, rel: &str, text: String) -> SourceFile {
    let path: Arc<str> = Arc::from(rel);
    let text: Arc<str> = Arc::from(text);
    files.insert(&path, &text);
    SourceFile { path, text }
}

fn read_source(
    files: &mut SourceFiles,
    rel: &str,
    abs: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SourceFile> {
    source_from_bytes(files, rel, std::fs::read(abs), diagnostics)
}

fn source_from_bytes(
    files: &mut SourceFiles,
    rel: &str,
    bytes: std::io::Result<Vec<u8>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SourceFile> {
    match bytes {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(source_file(files, rel, text)),
            Err(e) => {
                diagnostics.push(not_utf8(files, rel, e));
                None
            }
        },
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(Code::E0006, format!("cannot read `{rel}`: {e}"))
                    .at_file(&Arc::from(rel), 0..0)
                    .help("check the file's permissions"),
            );
            None
        }
    }
}

/// E0006 at the first invalid byte. The file's text, with invalid bytes
/// replaced, is kept for the diagnostic alone: the bytes before the first
/// invalid one are the file's own, so its line and column are right.
fn not_utf8(files: &mut SourceFiles, rel: &str, e: std::string::FromUtf8Error) -> Diagnostic {
    let at = e.utf8_error().valid_up_to();
    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
    let file = source_file(files, rel, text);
    // U+FFFD, which replaced the invalid byte, is three bytes long.
    Diagnostic::new(
        Code::E0006,
        format!("`{rel}` is not valid UTF-8 (invalid byte at offset {at})"),
    )
    .at_file(&file.path, at..at + 3)
    .help("save the file as UTF-8")
}

type ReadModel = (String, std::io::Result<Vec<u8>>);
/// A schema file as read and parsed, with its path for sorting.
type ParsedYaml = (String, SourceFiles, Option<SchemaFile>, Vec<Diagnostic>);

/// Schema files that get a `rayon::join` branch of their own.
const OWN_BRANCH: usize = 8;

/// Parses the schema files in `paths` (largest first) while `other` runs.
fn parse_schema_files_while<R: Send>(
    paths: &[(String, PathBuf)],
    other: impl FnOnce() -> R + Send,
) -> (Vec<ParsedYaml>, R) {
    let (large, small) = paths.split_at(paths.len().min(OWN_BRANCH));
    let (mut parsed, (mut parsed_small, result)) = one_branch_each(large, || {
        rayon::join(
            || {
                small
                    .par_iter()
                    .map(|(rel, abs)| parse_schema_file(rel, abs))
                    .collect::<Vec<_>>()
            },
            other,
        )
    });
    parsed.append(&mut parsed_small);
    (parsed, result)
}

/// Each file is a branch of a `rayon::join`: the thread that takes it
/// parses it while the next branch (the next file, at the end `other`) is
/// left for the other thread to take.
fn one_branch_each<R: Send>(
    paths: &[(String, PathBuf)],
    other: impl FnOnce() -> R + Send,
) -> (Vec<ParsedYaml>, R) {
    let Some(((rel, abs), rest)) = paths.split_first() else {
        return (Vec::new(), other());
    };
    let (first, (mut parsed, result)) = rayon::join(
        || parse_schema_file(rel, abs),
        || one_branch_each(rest, other),
    );
    parsed.push(first);
    (parsed, result)
}

fn parse_schema_file(rel: &str, abs: &Path) -> ParsedYaml {
    let mut local = Vec::new();
    let mut files = SourceFiles::default();
    let bytes = std::fs::read(abs);
    let file = source_from_bytes(&mut files, rel, bytes, &mut local);
    let schema = file.as_ref().and_then(|f| schema::parse(f, &mut local));
    (rel.to_string(), files, schema, local)
}

/// Every file under `root/dir`, as (path relative to root with `/`, absolute
/// path), sorted by relative path. A missing folder is simply empty.
fn list_files(
    root: &Path,
    dir: &str,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(String, PathBuf)> {
    let base = root.join(dir);
    if !base.is_dir() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&base).follow_links(true) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                diagnostics.push(Diagnostic::new(
                    Code::E0006,
                    format!("cannot read `{dir}`: {e}"),
                ));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        // Hidden files (editor swap files, .gitkeep) are not part of the project.
        if rel.iter().any(|part| part.starts_with('.')) {
            continue;
        }
        let rel = rel.join("/");
        if rel.chars().any(char::is_control) {
            // The path would reach artifacts (names, `-- source:` lines)
            // and every diagnostic's header: refused, whatever the file.
            let text = std::fs::read(entry.path()).unwrap_or_default();
            let file = source_file(files, &rel, String::from_utf8_lossy(&text).into_owned());
            diagnostics.push(
                Diagnostic::new(
                    Code::E0010,
                    format!(
                        "the path `{}` contains a control character",
                        crate::diagnostic::one_line(&rel)
                    ),
                )
                .at_file(&file.path, 0..0)
                .help(
                    "rename the file or folder without newlines, tabs or other control characters",
                ),
            );
            continue;
        }
        out.push((rel, entry.path().to_path_buf()));
    }
    out.sort();
    out
}

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
fn dbt_configured_folders(root: &Path) -> Vec<PathBuf> {
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

/// Splits a Flyway file name (relative to `migrations/`) into its kind,
/// version text and description, as Flyway does.
pub fn parse_migration_name(script: &str) -> Result<(MigrationKind, String, String), String> {
    let file_name = script.rsplit('/').next().unwrap_or(script);
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return Err("it does not end in `.sql`".into());
    };
    let Some((prefix, description)) = stem.split_once("__") else {
        return Err("there is no `__` between the version and the description".into());
    };
    let description = description.replace('_', " ");
    if description.trim().is_empty() {
        return Err("the description after `__` is empty".into());
    }
    if prefix == "R" {
        return Ok((MigrationKind::Repeatable, String::new(), description));
    }
    let Some(version) = prefix.strip_prefix('V') else {
        return Err(match prefix.chars().next() {
            Some('v') => "the prefix must be an upper-case `V`".into(),
            Some('r') => "the prefix must be an upper-case `R`".into(),
            Some('B') | Some('U') => {
                "baseline (B) and undo (U) migrations are not supported".into()
            }
            _ => format!("the prefix `{prefix}` is neither `V<version>` nor `R`"),
        });
    };
    if version.is_empty() {
        return Err("the version after `V` is empty".into());
    }
    let mut parts = Vec::new();
    for part in version.split(['.', '_']) {
        match part.parse::<u64>() {
            Ok(n) if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) => parts.push(n),
            _ => {
                return Err(format!(
                    "the version `{version}` must be numbers separated by `.` or `_`"
                ))
            }
        }
    }
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    Ok((
        MigrationKind::Versioned(parts),
        version.replace('_', "."),
        description,
    ))
}

fn check_duplicate_versions(migrations: &[Migration], diagnostics: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&[u64], &Migration> = BTreeMap::new();
    for m in migrations {
        if let MigrationKind::Versioned(v) = &m.kind {
            if let Some(first) = seen.get(v.as_slice()) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0004,
                        format!(
                            "duplicate migration version {}: `{}` and `{}`",
                            m.version_text, first.file.path, m.file.path
                        ),
                    )
                    .at_file(&m.file.path, 0..0)
                    .related(Span::new(&first.file.path, 0..0), "first used here")
                    .help("give one of them a new version; versions compare numerically, so `1` and `1.0` are the same"),
                );
            } else {
                seen.insert(v, m);
            }
        }
    }
}

const FOLDER_CONFIG_KEYS: &[&str] = crate::config::CONFIG_KEYS;

pub(crate) fn parse_settings(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Settings {
    let mut settings = Settings {
        flavor: Flavor::Native,
        paths: Paths::default(),
        dbt: None,
        name: String::new(),
        layers: BTreeMap::new(),
        folder_configs: BTreeMap::new(),
        vars: BTreeMap::new(),
        cli_vars: BTreeMap::new(),
        url_env: None,
        seeds_schema: "seeds".into(),
        history_schema: "public".into(),
        history_table: "stackc_schema_history".into(),
    };
    let table = match DeTable::parse(&file.text) {
        Ok(t) => t.into_inner(),
        Err(e) => {
            let range = e.span().unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::new(Code::E0001, format!("invalid TOML: {}", e.message().trim()))
                    .at_file(&file.path, range)
                    .help("see the stackc.toml format in the README"),
            );
            return settings;
        }
    };
    let err = |range: std::ops::Range<usize>, msg: String, help: &str| {
        Diagnostic::new(Code::E0001, msg)
            .at_file(&file.path, range)
            .help(help.to_string())
    };
    let mut has_name = false;
    for (key, value) in &table {
        let section = key.get_ref().as_ref();
        let Some(section_table) = value.get_ref().as_table() else {
            diagnostics.push(err(
                key.span(),
                format!("`{section}` must be a table (`[{section}]`)"),
                "the top level of stackc.toml holds only tables: [project], [layers], [models.<folder>], [vars], [connection], [seeds], [history]",
            ));
            continue;
        };
        match section {
            "project" => {
                for (k, v) in section_table {
                    match k.get_ref().as_ref() {
                        "name" => match v.get_ref().as_str() {
                            Some(name) if is_identifier(name) => {
                                settings.name = name.to_string();
                                has_name = true;
                            }
                            _ => diagnostics.push(err(
                                v.span(),
                                "`project.name` must be a string of letters, digits and `_`".into(),
                                "for example `name = \"analytics\"`",
                            )),
                        },
                        other => diagnostics.push(unknown_key(
                            file,
                            k.span(),
                            "project",
                            other,
                            &["name"],
                        )),
                    }
                }
            }
            "layers" => {
                for (k, v) in section_table {
                    match v.get_ref().as_str() {
                        Some(s)
                            if refuses_control(
                                file,
                                k.span(),
                                "layer",
                                k.get_ref(),
                                diagnostics,
                            ) | refuses_control(file, v.span(), "schema", s, diagnostics) => {}
                        Some(s) if !s.is_empty() => {
                            settings
                                .layers
                                .insert(k.get_ref().to_string(), s.to_string());
                        }
                        _ => diagnostics.push(err(
                            v.span(),
                            format!("layer `{}` must map to a schema name string", k.get_ref()),
                            "for example `staging = \"staging\"`",
                        )),
                    }
                }
            }
            "models" => parse_folder_configs(
                file,
                section_table,
                &mut Vec::new(),
                &mut settings,
                diagnostics,
            ),
            "vars" => {
                for (k, v) in section_table {
                    settings
                        .vars
                        .insert(k.get_ref().to_string(), toml_to_json(v.get_ref()));
                }
            }
            "connection" => {
                for (k, v) in section_table {
                    match k.get_ref().as_ref() {
                        "url_env" => match v.get_ref().as_str() {
                            Some(s) if !s.is_empty() => settings.url_env = Some(s.to_string()),
                            _ => diagnostics.push(err(
                                v.span(),
                                "`connection.url_env` must be the name of an environment variable".into(),
                                "for example `url_env = \"DATABASE_URL\"`; never put a URL or password in stackc.toml",
                            )),
                        },
                        other => diagnostics.push(unknown_key(file, k.span(), "connection", other, &["url_env"])),
                    }
                }
            }
            "seeds" => {
                for (k, v) in section_table {
                    match (k.get_ref().as_ref(), v.get_ref().as_str()) {
                        ("schema", Some(s))
                            if refuses_control(file, v.span(), "schema", s, diagnostics) => {}
                        ("schema", Some(s)) if !s.is_empty() => {
                            settings.seeds_schema = s.to_string()
                        }
                        ("schema", _) => diagnostics.push(err(
                            v.span(),
                            "`seeds.schema` must be a schema name".into(),
                            "for example `schema = \"seeds\"`",
                        )),
                        (other, _) => diagnostics.push(unknown_key(
                            file,
                            k.span(),
                            "seeds",
                            other,
                            &["schema"],
                        )),
                    }
                }
            }
            "history" => {
                for (k, v) in section_table {
                    match (k.get_ref().as_ref(), v.get_ref().as_str()) {
                        ("schema" | "table", Some(s))
                            if refuses_control(file, v.span(), "history", s, diagnostics) => {}
                        ("schema", Some(s)) if !s.is_empty() => {
                            settings.history_schema = s.to_string()
                        }
                        ("table", Some(s)) if !s.is_empty() => {
                            settings.history_table = s.to_string()
                        }
                        ("schema" | "table", _) => diagnostics.push(err(
                            v.span(),
                            format!("`history.{}` must be a non-empty string", k.get_ref()),
                            "for example `table = \"stackc_schema_history\"`",
                        )),
                        (other, _) => diagnostics.push(unknown_key(
                            file,
                            k.span(),
                            "history",
                            other,
                            &["schema", "table"],
                        )),
                    }
                }
            }
            other => diagnostics.push(unknown_key(
                file,
                key.span(),
                "stackc.toml",
                other,
                &[
                    "project",
                    "layers",
                    "models",
                    "vars",
                    "connection",
                    "seeds",
                    "history",
                ],
            )),
        }
    }
    if !has_name {
        let already = diagnostics
            .iter()
            .any(|d| d.code == Code::E0001 && d.message.contains("project.name"));
        if !already {
            diagnostics.push(
                Diagnostic::new(Code::E0001, "stackc.toml has no `[project] name`")
                    .at_file(&file.path, 0..0)
                    .help("add `[project]` with `name = \"analytics\"` (letters, digits and `_`)"),
            );
        }
    }
    settings
}

fn parse_folder_configs(
    file: &SourceFile,
    table: &DeTable<'_>,
    folders: &mut Vec<String>,
    settings: &mut Settings,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut layer = ConfigLayer::default();
    for (k, v) in table {
        let key = k.get_ref().as_ref();
        if FOLDER_CONFIG_KEYS.contains(&key) {
            layer.insert(
                key.to_string(),
                ConfigEntry {
                    value: toml_to_json(v.get_ref()),
                    span: Span::new(&file.path, v.span()),
                },
            );
        } else if let Some(sub) = v.get_ref().as_table() {
            if refuses_control(file, k.span(), "folder", key, diagnostics) {
                continue;
            }
            // A nested table that is not a config key is a deeper folder.
            folders.push(key.to_string());
            parse_folder_configs(file, sub, folders, settings, diagnostics);
            folders.pop();
        } else {
            let section = format!("models.{}", folders.join("."));
            diagnostics.push(unknown_key(
                file,
                k.span(),
                section.trim_end_matches('.'),
                key,
                FOLDER_CONFIG_KEYS,
            ));
        }
    }
    if !layer.is_empty() {
        settings.folder_configs.insert(folders.clone(), layer);
    }
}

/// A name in stackc.toml reaches SQL and artifact comments like a file's
/// path does: a control character in it is E0010, at the value (issue 11,
/// item 2). Returns whether it was refused.
fn refuses_control(
    file: &SourceFile,
    range: std::ops::Range<usize>,
    what: &str,
    value: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    if !value.chars().any(char::is_control) {
        return false;
    }
    diagnostics.push(control_character(what, value, Span::new(&file.path, range)));
    true
}

/// E0010 for a name written in a setting or config: `what` is the kind of
/// name (`schema`, `alias`, `layer`).
pub fn control_character(what: &str, value: &str, at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::E0010,
        format!(
            "the {what} name `{}` contains a control character",
            crate::diagnostic::one_line(value)
        ),
    )
    .at(at)
    .help("write the name without newlines, tabs or other control characters")
}

fn unknown_key(
    file: &SourceFile,
    range: std::ops::Range<usize>,
    section: &str,
    key: &str,
    known: &[&str],
) -> Diagnostic {
    let mut help = format!("known keys here: {}", known.join(", "));
    if let Some(close) = crate::suggest::closest(key, known.iter().copied()) {
        help = format!("did you mean `{close}`? ({help})");
    }
    Diagnostic::new(Code::E0001, format!("unknown key `{key}` in `{section}`"))
        .at_file(&file.path, range)
        .help(help)
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn toml_to_json(value: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        DeValue::String(s) => J::String(s.to_string()),
        DeValue::Integer(i) => i
            .as_str()
            .replace('_', "")
            .parse::<i64>()
            .ok()
            .and_then(|n| {
                if i.radix() == 10 {
                    Some(J::from(n))
                } else {
                    i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
                        .ok()
                        .map(J::from)
                }
            })
            .unwrap_or_else(|| J::String(i.as_str().to_string())),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| J::String(f.as_str().to_string()), J::Number),
        DeValue::Boolean(b) => J::Bool(*b),
        DeValue::Datetime(d) => J::String(d.to_string()),
        DeValue::Array(items) => {
            J::Array(items.iter().map(|v| toml_to_json(v.get_ref())).collect())
        }
        DeValue::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.get_ref().to_string(), toml_to_json(v.get_ref())))
                .collect(),
        ),
    }
}

/// `root/stackc.toml` as a source file. A file that is there but cannot be
/// read as text (a folder, not UTF-8) is reported at `stackc.toml:1:1` or
/// at its first invalid byte; a missing one with the path that was tried.
/// Reads a project file (`stackc.toml`, `dbt_project.yml`), with a location
/// also when it is a folder or not UTF-8.
fn read_settings_file(
    root: &Path,
    name: &str,
    files: &mut SourceFiles,
) -> Result<SourceFile, Diagnostic> {
    const HELP: &str = "a project has a stackc.toml with at least `[project] name = \"...\"`, or a dbt_project.yml with `name:`";
    let path = root.join(name);
    let cannot_read = |e: &dyn std::fmt::Display| {
        Diagnostic::new(
            Code::E0001,
            format!("cannot read `{}`: {e}", path.display()),
        )
        .help(HELP)
    };
    if path.is_dir() {
        let file = source_file(files, name, String::new());
        return Err(
            Diagnostic::new(Code::E0001, format!("`{name}` is a folder, not a file"))
                .at_file(&file.path, 0..0)
                .help(HELP),
        );
    }
    let bytes = std::fs::read(&path).map_err(|e| cannot_read(&e))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(source_file(files, name, text)),
        Err(e) => Err(not_utf8(files, name, e)),
    }
}

/// Reads and checks only `stackc.toml`, for commands that need the settings
/// beside a compile (`stackc apply` reads the history table and connection
/// settings from it, also when it runs committed artifacts). On error, the
/// diagnostics and the file they point into.
pub fn load_settings(root: &Path) -> Result<Settings, (Vec<Diagnostic>, SourceFiles)> {
    load_settings_with(root, &LoadOptions::default())
}

pub fn load_settings_with(
    root: &Path,
    options: &LoadOptions,
) -> Result<Settings, (Vec<Diagnostic>, SourceFiles)> {
    let mut files = SourceFiles::default();
    let mut diagnostics = Vec::new();
    let settings = match read_settings(root, options, &mut files, &mut diagnostics) {
        Ok((settings, _)) => settings,
        Err(d) => return Err((vec![d], files)),
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err((diagnostics, files));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(name: &str) -> Vec<u64> {
        match parse_migration_name(name).unwrap().0 {
            MigrationKind::Versioned(v) => v,
            MigrationKind::Repeatable => panic!("repeatable"),
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version("V1.10__a.sql") > version("V1.9__a.sql"));
        assert_eq!(version("V1__a.sql"), version("V1.0__a.sql"));
        assert_eq!(version("V1_2__a.sql"), vec![1, 2]);
        assert_eq!(version("V2__a.sql"), vec![2]);
    }

    #[test]
    fn description_replaces_underscores() {
        let (kind, text, desc) = parse_migration_name("V1.1__create_raw_sales.sql").unwrap();
        assert_eq!(kind, MigrationKind::Versioned(vec![1, 1]));
        assert_eq!(text, "1.1");
        assert_eq!(desc, "create raw sales");
        let (kind, _, desc) = parse_migration_name("R__raw_comments.sql").unwrap();
        assert_eq!(kind, MigrationKind::Repeatable);
        assert_eq!(desc, "raw comments");
    }

    #[test]
    fn bad_names_say_why() {
        for name in [
            "create.sql",
            "V1_create.sql",
            "v1__x.sql",
            "V__x.sql",
            "V1a__x.sql",
            "V1__.sql",
            "B1__x.sql",
        ] {
            assert!(parse_migration_name(name).is_err(), "{name}");
        }
    }

    fn settings(text: &str) -> (Settings, Vec<Diagnostic>) {
        let file = SourceFile {
            path: Arc::from("stackc.toml"),
            text: Arc::from(text),
        };
        let mut diagnostics = Vec::new();
        let s = parse_settings(&file, &mut diagnostics);
        (s, diagnostics)
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

    #[test]
    fn schema_files_come_in_path_order_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("stackc.toml"), "[project]\nname = \"p\"\n").unwrap();
        std::fs::create_dir_all(root.join("models")).unwrap();
        // More files than get a branch of their own, sizes out of path order.
        let mut expected = Vec::new();
        for i in 0..(OWN_BRANCH * 2 + 3) {
            let name = format!("m{i:02}");
            std::fs::write(root.join(format!("models/{name}.sql")), "select 1 as id\n").unwrap();
            let padding = "#\n".repeat((i * 7919) % 97);
            let yml = format!("version: 2\n{padding}models:\n  - name: {name}\n");
            let path = format!("models/{name}.yml");
            std::fs::write(root.join(&path), yml).unwrap();
            expected.push(path);
        }
        let mut diagnostics = Vec::new();
        let project = load(root, &mut diagnostics).unwrap();
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let paths: Vec<&str> = project.schema_files.iter().map(|f| &*f.path).collect();
        assert_eq!(paths, expected);
        let names: Vec<&str> = project
            .schema_files
            .iter()
            .flat_map(|f| f.models.iter().map(|m| m.name.as_str()))
            .collect();
        assert_eq!(names.len(), expected.len());
        assert_eq!(project.models.len(), expected.len());
    }
}
