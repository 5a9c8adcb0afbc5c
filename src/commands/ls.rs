//! `stackc ls`: the nodes a selection picks, as dbt's `ls` lists them.
//! Selection runs over the manifest that compile would write
//! ([`crate::select`]): the one in OUT when the last compile's fingerprint
//! shows it up to date, else the project compiled in memory (nothing is
//! written).

use std::io::Write;
use std::path::PathBuf;

use crate::diagnostic::{self, Format};
use crate::exit_status::ExitStatus;
use crate::manifest::Manifest;
use crate::project::LoadOptions;
use crate::select::{Candidate, Graph};
pub use crate::selection::SelectionArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Selector,
    Name,
    Path,
    Json,
}

/// What `stackc ls` was asked.
#[derive(Debug, Clone)]
pub struct LsOptions {
    pub dir: PathBuf,
    pub load: LoadOptions,
    pub selection: SelectionArgs,
    pub resource_types: Vec<String>,
    pub output: Output,
    pub output_keys: Vec<String>,
    pub color: bool,
}

/// The project and its resolved graph of a compilation without errors; on
/// errors, prints them and returns the exit status. `ls`, `graph`,
/// `lineage` and `docs` all start here.
pub(crate) fn error_free(
    compilation: &crate::Compilation,
    color: bool,
) -> Result<(&crate::project::Project, &crate::node::Resolved), ExitStatus> {
    let errors: Vec<_> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    match (&compilation.project, &compilation.resolved) {
        (Some(project), Some(resolved)) if errors.is_empty() => Ok((project, resolved)),
        _ => {
            eprint!(
                "{}",
                diagnostic::render(&errors, &compilation.files, Format::Human, color)
            );
            Err(ExitStatus::Failure)
        }
    }
}

/// The manifest compile would write for this project, read back.
pub(crate) fn manifest_of(
    project: &crate::project::Project,
    resolved: &crate::node::Resolved,
) -> Result<Manifest<String>, ExitStatus> {
    let artifacts = crate::emit::artifacts(project, resolved);
    // emit writes the manifest from these same types.
    crate::selection::manifest_of(&artifacts).map_err(|problem| {
        eprintln!("error: {problem}");
        ExitStatus::Error
    })
}

/// The manifest compile would write for `dir`, with the project's
/// settings: the one the last compile wrote when nothing it was made from
/// has changed since ([`crate::fingerprint`]), else compiled in memory. On
/// errors, prints them and returns the exit status.
pub(crate) fn compiled_manifest(
    dir: &std::path::Path,
    load: &LoadOptions,
    color: bool,
) -> Result<(Manifest<String>, crate::project::Settings), ExitStatus> {
    if let Some(fresh) = crate::fingerprint::fresh_manifest(dir, load) {
        let manifest = serde_json::from_str(&fresh.text).ok();
        let settings = crate::project::load_settings_with(dir, load).ok();
        if let (Some(manifest), Some(settings)) = (manifest, settings) {
            return Ok((manifest, settings));
        }
    }
    let compilation = crate::analyze_with(dir, load);
    let (project, resolved) = error_free(&compilation, color)?;
    Ok((manifest_of(project, resolved)?, project.settings.clone()))
}

/// Where the selection graph of an up-to-date manifest is kept: reading a
/// large manifest (96 MB at 10,000 models, every node's columns and their
/// lineage) takes most of a second, its graph a tenth of that.
const GRAPH_CACHE: &str = "graph.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct CachedGraph {
    build: String,
    /// The CRC-32 of the manifest it was made from.
    manifest_crc32: u32,
    graph: Graph,
}

/// The selection graph of the manifest compile would write for `dir`,
/// with the project's settings: as [`compiled_manifest`], and from the
/// cache beside the fingerprint when it was made from that same manifest.
pub(crate) fn compiled_graph(
    dir: &std::path::Path,
    load: &LoadOptions,
    color: bool,
) -> Result<(Graph, crate::project::Settings), ExitStatus> {
    let build = crate::render::cache::header();
    if let (Some(fresh), Ok(settings), Some(build)) = (
        crate::fingerprint::fresh_manifest(dir, load),
        crate::project::load_settings_with(dir, load),
        build,
    ) {
        let path = dir.join(".stackc-cache").join(GRAPH_CACHE);
        let cached = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CachedGraph>(&bytes).ok())
            .filter(|c| c.build == build && c.manifest_crc32 == fresh.crc32);
        if let Some(cached) = cached {
            return Ok((cached.graph, settings));
        }
        if let Ok(manifest) = serde_json::from_str::<Manifest<String>>(&fresh.text) {
            let cached = CachedGraph {
                build,
                manifest_crc32: fresh.crc32,
                graph: Graph::from_manifest(&manifest),
            };
            // Only a cache: the next ls reads the manifest again without it.
            if let Ok(bytes) = serde_json::to_vec(&cached) {
                let _ = crate::render::cache_file::write_cache_file(dir, GRAPH_CACHE, &bytes);
            }
            std::mem::forget(manifest);
            return Ok((cached.graph, settings));
        }
    }
    let (manifest, settings) = compiled_manifest(dir, load, color)?;
    Ok((Graph::from_manifest(&manifest), settings))
}

pub fn run(options: &LsOptions) -> ExitStatus {
    let graph = if options.resource_types.iter().any(|t| t == "analysis") {
        match compiled_manifest(&options.dir, &options.load, options.color) {
            Ok((m, _)) => Graph::from_manifest_with(&m, true),
            Err(status) => return status,
        }
    } else {
        match compiled_graph(&options.dir, &options.load, options.color) {
            Ok((g, _)) => g,
            Err(status) => return status,
        }
    };
    let crate::selection::Selected {
        ids: chosen,
        warnings,
        ..
    } = match crate::selection::selected(&options.dir, &graph, &options.selection) {
        Ok(x) => x,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitStatus::Error;
        }
    };
    for w in &warnings {
        eprintln!("{w}");
    }
    let mut out = std::io::stdout().lock();
    for id in &chosen {
        let Some(node) = graph.nodes.get(id) else {
            continue;
        };
        if !options.resource_types.is_empty()
            && !options
                .resource_types
                .iter()
                .any(|t| t == &node.resource_type || (t == "test" && node.test_type.is_some()))
        {
            continue;
        }
        let line = match options.output {
            Output::Name => node.name.clone(),
            Output::Path => node.file.clone(),
            Output::Selector => selector_of(node),
            Output::Json => json_of(node, &options.output_keys),
        };
        if writeln!(out, "{line}").is_err() {
            // A closed pipe (`stackc ls | head`) ends the listing.
            break;
        }
    }
    ExitStatus::Success
}

/// How dbt's `ls` prints a node by default: its fqn, `source:` for sources.
fn selector_of(n: &Candidate) -> String {
    match (&n.source, n.resource_type.as_str()) {
        (Some(_), _) => format!("source:{}", n.fqn.join(".")),
        (_, kind @ ("exposure" | "metric" | "unit_test" | "semantic_model" | "saved_query")) => {
            format!("{kind}:{}", n.fqn.join("."))
        }
        _ => n.fqn.join("."),
    }
}

/// A node as dbt's `ls --output json` prints it: its keys in dbt's order,
/// and Python's `json.dumps` spacing (`", "`, `": "`, non-ASCII escaped).
/// `fqn` and `source_name` only when `--output-keys` asks for them.
fn json_of(n: &Candidate, keys: &[String]) -> String {
    let mut all: Vec<(&str, serde_json::Value)> = vec![
        ("name", n.name.clone().into()),
        ("resource_type", n.resource_type.clone().into()),
        ("package_name", n.package.clone().into()),
        ("original_file_path", n.file.clone().into()),
        ("unique_id", n.id.clone().into()),
    ];
    if let Some(alias) = &n.alias {
        all.push(("alias", alias.clone().into()));
    }
    all.push((
        "config",
        serde_json::Value::Object(n.config.clone().into_iter().collect()),
    ));
    all.push(("tags", n.tags.clone().into()));
    // dbt writes a seed's `depends_on` with its macros only.
    let depends_on = if n.resource_type == "seed" {
        serde_json::json!({ "macros": n.macros })
    } else {
        serde_json::json!({ "macros": n.macros, "nodes": n.parents })
    };
    all.push(("depends_on", depends_on));
    if !keys.is_empty() {
        all.push(("fqn", n.fqn.clone().into()));
        if let Some((source, _)) = &n.source {
            all.push(("source_name", source.clone().into()));
        }
        all.retain(|(k, _)| keys.iter().any(|want| want == k));
    }
    let mut out = String::from("{");
    for (i, (key, value)) in all.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&python_json(&serde_json::Value::from(*key)));
        out.push_str(": ");
        out.push_str(&python_json(value));
    }
    out.push('}');
    out
}

/// `value` as Python's `json.dumps` writes it: the one writer that dbt's
/// `tojson` uses too.
fn python_json(value: &serde_json::Value) -> String {
    crate::render::dbt::pyjson::dumps(
        &minijinja::Value::from(minijinja::value::Serde(value)),
        false,
    )
    .unwrap_or_else(|_| value.to_string())
}
