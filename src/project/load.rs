//! Loading a project, pass by pass: migrations, the model paths, models
//! and schema files (read alongside), snapshots, the other SQL files,
//! seeds, and a dbt project's packages.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic, SourceFiles};
use crate::schema::{self, OtherKind, SchemaFile};
use crate::seed::{self, Seed};

use super::files::{
    folders_under, folders_within, list_dirs, list_files, parse_schema_file,
    parse_schema_files_while, read_source, source_from_bytes, ReadModel,
};
use super::migrations::check_duplicate_versions;
use super::{parse_migration_name, Flavor, Migration, ModelFile, Paths, Settings, SourceFile};

/// `migrations/*.sql`, named as Flyway names them.
pub(super) fn read_migrations(
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
pub(super) struct ModelListing {
    /// Markdown files of a dbt project (its `{% docs %}` blocks).
    pub(super) docs: Vec<SourceFile>,
    /// Schema files, largest first.
    pub(super) yaml: Vec<(String, PathBuf)>,
    /// Models, in path order.
    pub(super) sql: Vec<(String, PathBuf)>,
    /// A dbt project's `{% snapshot %}` files.
    pub(super) snapshot_sql: Vec<(String, PathBuf)>,
}

pub(super) fn list_model_paths(
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
    // A dbt project's snapshot paths hold `{% snapshot %}` files; dbt reads
    // schema files (and docs blocks) under every resource path, not only
    // the model paths: seed properties beside the CSVs, `data_tests:` in
    // tests/, `macros:` in macros/, dbt 1.9's YAML snapshots...
    let mut snapshot_sql = Vec::new();
    if dbt {
        let mut seen: std::collections::BTreeSet<String> =
            yaml_paths.iter().map(|(r, _)| r.clone()).collect();
        seen.extend(docs.iter().map(|d| d.path.to_string()));
        let others = [
            &paths.snapshots,
            &paths.seeds,
            &paths.analyses,
            &paths.macros,
            &paths.tests,
        ];
        for (i, dirs) in others.into_iter().enumerate() {
            for (rel, abs) in list_dirs(root, dirs, files, diagnostics) {
                if i == 0 && rel.ends_with(".sql") {
                    snapshot_sql.push((rel, abs));
                } else if (rel.ends_with(".yml") || rel.ends_with(".yaml") || rel.ends_with(".md"))
                    && seen.insert(rel.clone())
                {
                    if rel.ends_with(".md") {
                        if let Some(file) = read_source(files, &rel, &abs, diagnostics) {
                            docs.push(file);
                        }
                    } else {
                        yaml_paths.push((rel, abs));
                    }
                }
            }
        }
        snapshot_sql.sort();
        snapshot_sql.dedup();
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
pub(super) fn read_models_and_schema_files(
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
        let folders = folders_within(&rel, &paths.models);
        let file_name = rel.rsplit('/').next().unwrap_or_default();
        let name = file_name.trim_end_matches(".sql").to_string();
        models.push(ModelFile {
            file,
            name,
            folders,
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
pub(super) fn settle_schema_files(
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
    if settings.dbt.is_some() {
        crate::dbt::schema_jinja::render(
            schema_files,
            &settings.vars,
            target.as_ref(),
            diagnostics,
        );
    }
    if let Some(d) = &settings.dbt {
        crate::dbt::sources::check_databases(schema_files, &settings.vars, &d.target, diagnostics);
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
pub(super) fn read_snapshots(
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
        let folders = folders_within(&rel, &paths.snapshots);
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
pub(super) struct SqlFiles {
    /// Macros, and a dbt project's generic test definitions.
    pub(super) macros: Vec<SourceFile>,
    pub(super) singular_tests: Vec<SourceFile>,
    pub(super) analyses: Vec<SourceFile>,
}

pub(super) fn read_sql_files(
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

pub(super) fn read_seeds(
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
pub(super) fn load_packages(
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
            &package.name,
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
    settings: &mut Settings,
    name: &str,
    package: &crate::dbt::packages::PackageConfig,
    files: &mut SourceFiles,
    models: &mut Vec<ModelFile>,
    seeds: &mut Vec<Seed>,
    schema_files: &mut Vec<SchemaFile>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let is_yaml = |rel: &str| rel.ends_with(".yml") || rel.ends_with(".yaml");
    let (mut yaml, model_sql): (Vec<_>, Vec<_>) =
        list_dirs(root, &package.model_paths, files, diagnostics)
            .into_iter()
            .filter(|(rel, _)| is_yaml(rel) || rel.ends_with(".sql"))
            .partition(|(rel, _)| is_yaml(rel));
    // As in the root project, schema files count under the seed paths too:
    // packages keep their seeds' properties (`config: column_types`...)
    // beside the CSVs.
    yaml.extend(
        list_dirs(root, &package.seed_paths, files, diagnostics)
            .into_iter()
            .filter(|(rel, _)| is_yaml(rel)),
    );
    yaml.sort();
    yaml.dedup();
    let mut own_schema_files = Vec::new();
    for (rel, abs) in yaml {
        let (_, read, schema, local) = parse_schema_file(&rel, &abs);
        files.extend(read);
        diagnostics.extend(local);
        own_schema_files.extend(schema);
    }
    for (rel, abs) in model_sql {
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
    // The package's schema-file Jinja sees the vars its nodes see.
    let mut vars = package.vars_for(name, &settings.vars);
    vars.extend(settings.cli_vars.clone());
    let target = settings
        .dbt
        .as_ref()
        .map(|d| crate::dbt::profiles::target_json(&d.target));
    crate::dbt::test_settings::render(&mut own_schema_files, &vars, target.as_ref(), diagnostics);
    crate::dbt::schema_jinja::render(&mut own_schema_files, &vars, target.as_ref(), diagnostics);
    let Some(dbt) = settings.dbt.as_mut() else {
        schema_files.extend(own_schema_files);
        return;
    };
    // The package's seed entries' `config:` decide how its CSVs are read.
    crate::dbt::seeds::collect_properties(dbt, &own_schema_files);
    schema_files.extend(own_schema_files);
    let dbt = &*dbt;
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
