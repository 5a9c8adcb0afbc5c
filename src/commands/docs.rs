//! `stackc docs`: compile the project in memory, select nodes as `ls`
//! does, and write the docs site (`crate::docs`) to one folder; with
//! `--serve`, then serve it on 127.0.0.1.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::diagnostic;
use crate::exit_status::ExitStatus;
use crate::project::LoadOptions;
use crate::select::Graph;
use crate::selection::SelectionArgs;

/// What `stackc docs` was asked.
#[derive(Debug, Clone)]
pub struct DocsOptions {
    pub dir: PathBuf,
    /// `None`: `OUT/docs`, OUT the project's default artifacts folder.
    pub out_dir: Option<PathBuf>,
    pub load: LoadOptions,
    pub selection: SelectionArgs,
    /// `Some(port)`: serve the site after writing it (0: any free port).
    pub serve: Option<u16>,
    pub color: bool,
}

/// The default folder of the site: `docs/` in the default artifacts
/// folder (`target/`, `stackc_target/` in a dbt project).
pub fn default_out_dir(dir: &Path) -> PathBuf {
    crate::project::default_out(dir).join("docs")
}

pub fn run(options: &DocsOptions) -> ExitStatus {
    let dir = options.dir.as_path();
    let out_dir = options
        .out_dir
        .clone()
        .unwrap_or_else(|| default_out_dir(dir));
    if let Err(problem) = check_out_dir(dir, &out_dir) {
        eprintln!("error: {problem}");
        return ExitStatus::Error;
    }
    let compilation = crate::analyze_with(dir, &options.load);
    let (project, resolved) = match super::ls::error_free(&compilation, options.color) {
        Ok(x) => x,
        Err(status) => return status,
    };
    let manifest = match super::ls::manifest_of(project, resolved) {
        Ok(m) => m,
        Err(status) => return status,
    };
    let graph = Graph::from_manifest(&manifest);
    let chosen: BTreeSet<String> = match crate::selection::selected(dir, &graph, &options.selection)
    {
        Ok(selected) => {
            for w in &selected.warnings {
                eprintln!("{w}");
            }
            selected.ids
        }
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitStatus::Error;
        }
    };
    let texts = crate::docs::data::Texts::of(resolved);
    let site = crate::docs::data::build(&manifest, &graph, &texts, &chosen);
    let page = match crate::docs::embed::page(&site) {
        Ok(page) => page,
        Err(e) => {
            eprintln!("error: cannot write the docs' data: {e}");
            return ExitStatus::Error;
        }
    };
    let path = match crate::docs::write_site(&out_dir, &page) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Error;
        }
    };
    eprintln!(
        "wrote the docs of {} nodes ({} edges) to {}",
        site.graph.nodes.len(),
        site.graph.edges.len(),
        diagnostic::one_line(&path.display().to_string())
    );
    let Some(port) = options.serve else {
        return ExitStatus::Success;
    };
    drop(site);
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on 127.0.0.1:{port}: {e}; pass another --port (0 picks a free one)"
            );
            return ExitStatus::Error;
        }
    };
    let address = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitStatus::Error;
        }
    };
    eprintln!("serving the docs at http://{address}/ (Ctrl-C stops)");
    let files = [(crate::docs::INDEX.to_string(), page.into_bytes())]
        .into_iter()
        .collect();
    match crate::docs::serve::serve(listener, files) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: the docs server stopped: {e}");
            ExitStatus::Error
        }
    }
}

/// The site's folder may not be the project, a folder that holds it, or
/// a folder inside one the compile reads (the rules of `compile --out`),
/// compared with links and `..` resolved.
fn check_out_dir(dir: &Path, out_dir: &Path) -> Result<(), String> {
    let shown = |p: &Path| diagnostic::one_line(&p.display().to_string());
    let suggestion = shown(&default_out_dir(dir));
    let Ok(project) = dir.canonicalize() else {
        // A folder that does not exist is no project; the compile says so.
        return Ok(());
    };
    let target = super::compile::resolve(out_dir);
    let what = format!("--out-dir {}", shown(out_dir));
    if target == project {
        return Err(format!(
            "{what} is the project folder itself: pass a folder of its own for the site, e.g. --out-dir {suggestion}"
        ));
    }
    if project.starts_with(&target) {
        return Err(format!(
            "{what} holds the project folder {}: pass a folder that does not hold the project, e.g. --out-dir {suggestion}",
            shown(dir)
        ));
    }
    for rel in crate::project::input_folders(dir) {
        if target.starts_with(super::compile::resolve(&dir.join(&rel))) {
            return Err(format!(
                "{what} is inside {}, which a compile reads: pass a folder outside the project's input folders, e.g. --out-dir {suggestion}",
                shown(&dir.join(rel))
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_may_not_go_into_the_project_or_its_inputs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        std::fs::create_dir_all(dir.join("models")).unwrap();
        let refused = |out: &Path| check_out_dir(&dir, out).is_err();
        assert!(refused(&dir));
        assert!(refused(tmp.path()));
        assert!(refused(&dir.join("models/site")));
        assert!(refused(&dir.join("target/../models")));
        assert!(!refused(&dir.join("target/docs")));
        assert!(!refused(&tmp.path().join("site")));
        assert_eq!(default_out_dir(&dir), dir.join("target/docs"));
    }
}
