//! stackc: a compiler for analytics projects on PostgreSQL.
//!
//! The pipeline, one module a stage, plain data between them:
//! [`project`] (load) → [`render`] (Jinja, with a source map) → [`sql`]
//! (parse; [`parse_cache`] remembers results between compiles) →
//! [`resolve`] and [`graph`] (check and order) → [`emit`] (artifacts).
//! [`diagnostic`] is how every stage reports problems. [`cli`] reads the
//! command line and hands it to one of [`commands`] (compile, apply, test),
//! which run the stages; `main` only starts them. [`stages`] writes the
//! order down once, and its test keeps each module to earlier stages.

// A diagnostic is returned at most once per file, on the error path; boxing
// it would add noise to every stage for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod apply;
pub mod catalog;
pub mod cli;
pub mod columns;
pub mod commands;
pub mod config;
pub mod datatest;
pub mod dbt;
pub mod diagnostic;
pub mod docs;
pub mod emit;
pub mod exit_status;
pub mod fingerprint;
pub mod graph;
pub mod manifest;
pub mod naming;
pub mod node;
pub mod parse_cache;
pub mod project;
pub mod quoting;
pub mod relation;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod seed;
pub mod select;
pub mod selection;
pub mod sql;
pub mod stages;
pub mod suggest;
pub mod unittest;

use std::path::Path;

use diagnostic::{sort_diagnostics, Diagnostic, SourceFiles};

/// The result of compiling a project: artifacts only when there is no error.
#[derive(Debug)]
pub struct Compilation {
    pub artifacts: Option<emit::Artifacts>,
    pub diagnostics: Vec<Diagnostic>,
    pub files: SourceFiles,
    pub summary: Option<Summary>,
    /// The loaded project and its resolved graph, for callers that need
    /// more than the artifacts (settings, lineage).
    pub project: Option<project::Project>,
    pub resolved: Option<node::Resolved>,
    /// What this compile parsed and rendered; `stackc compile` saves them
    /// for the next.
    pub parse_cache: parse_cache::ParseCache,
    pub render_cache: render::cache::RenderCache,
    pub column_cache: columns::cache::ColumnCache,
}

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub models: usize,
    pub tests: usize,
    pub seeds: usize,
    pub sources: usize,
    pub migrations: usize,
}

/// Compiles the project in `dir` in memory; nothing is written.
pub fn compile(dir: &Path) -> Compilation {
    compile_with(dir, &project::LoadOptions::default())
}

/// [`compile`] with the command line's loading options (`--target`, ...).
pub fn compile_with(dir: &Path, options: &project::LoadOptions) -> Compilation {
    let mut compilation = analyze_with(dir, options);
    if let (Some(project), Some(resolved), false) = (
        &compilation.project,
        &compilation.resolved,
        compilation.has_errors(),
    ) {
        compilation.artifacts = Some(emit::artifacts(project, resolved));
    }
    compilation
}

/// Loads and checks the project in `dir`: everything but the artifacts,
/// which [`emit`] makes from the loaded project and its resolved graph.
pub fn analyze(dir: &Path) -> Compilation {
    analyze_with(dir, &project::LoadOptions::default())
}

pub fn analyze_with(dir: &Path, options: &project::LoadOptions) -> Compilation {
    let mut diagnostics = Vec::new();
    // The caches are read while the project loads.
    let (loaded, ((parse_cache, render_cache), column_cache)) = rayon::join(
        || project::load_with(dir, options, &mut diagnostics),
        || {
            rayon::join(
                || {
                    rayon::join(
                        || parse_cache::ParseCache::load(dir),
                        || render::cache::RenderCache::load(dir),
                    )
                },
                || columns::cache::ColumnCache::load(dir),
            )
        },
    );
    let mut project = match loaded {
        Ok(project) => project,
        Err((d, files)) => {
            diagnostics.push(d);
            sort_diagnostics(&mut diagnostics);
            return Compilation {
                artifacts: None,
                diagnostics,
                files,
                summary: None,
                project: None,
                resolved: None,
                parse_cache: parse_cache::ParseCache::default(),
                render_cache: render::cache::RenderCache::default(),
                column_cache: columns::cache::ColumnCache::default(),
            };
        }
    };
    resolve::drop_shadowed_models(&mut project, &render_cache);
    let resolved = resolve::resolve(
        &project,
        &parse_cache,
        &render_cache,
        &column_cache,
        &mut diagnostics,
    );
    diagnostics.retain(|d| !d.follow_on);
    sort_diagnostics(&mut diagnostics);
    let summary = Summary {
        models: resolved.models.len(),
        tests: resolved.tests.len() + resolved.singular_tests.len(),
        seeds: resolved.seeds.len(),
        sources: resolved.sources.len(),
        migrations: project.migrations.len(),
    };
    Compilation {
        artifacts: None,
        diagnostics,
        files: project.files.clone(),
        summary: Some(summary),
        project: Some(project),
        resolved: Some(resolved),
        parse_cache,
        render_cache,
        column_cache,
    }
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}
