//! The selection a command was given (`-s`, `--exclude`, `--selector`,
//! `--indirect-selection`, `--state`), evaluated over a manifest with
//! [`crate::select`]: the one way `compile --check`, `apply`, `test`, `ls`
//! and `graph` turn their arguments into the set of node ids they act on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::manifest::Manifest;
use crate::select::{self, Expr, Graph, Indirect};

/// `-s`, `--exclude`, `--selector`, `--indirect-selection`, `--state`:
/// the same for every command that selects.
#[derive(Debug, Clone, Default)]
pub struct SelectionArgs {
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    pub selector: Option<String>,
    pub indirect: Indirect,
    pub state: Option<PathBuf>,
}

impl SelectionArgs {
    /// The selection as the command line spells it, for the run history:
    /// `--select fact_sales+ --exclude tag:slow`. Empty when nothing was
    /// given.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.select.is_empty() {
            parts.push(format!("--select {}", self.select.join(" ")));
        }
        if !self.exclude.is_empty() {
            parts.push(format!("--exclude {}", self.exclude.join(" ")));
        }
        if let Some(s) = &self.selector {
            parts.push(format!("--selector {s}"));
        }
        if self.indirect != Indirect::Eager {
            let mode = match self.indirect {
                Indirect::Eager => "eager",
                Indirect::Cautious => "cautious",
                Indirect::Buildable => "buildable",
                Indirect::Empty => "empty",
            };
            parts.push(format!("--indirect-selection {mode}"));
        }
        parts.join(" ")
    }
}

/// What a selection picked.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    /// The node ids, tests joined by indirect selection.
    pub ids: BTreeSet<String>,
    /// One line per criterion that matched nothing (`warning: ...`).
    pub warnings: Vec<String>,
    /// Nothing selected or excluded (and no default selector): the whole
    /// project. Commands then act as without a selection.
    pub whole: bool,
    /// How the selection was written (`--selector` names the default one
    /// when it applied), for the run history; empty when `whole`.
    pub text: String,
}

/// The selectors of `selectors.yml` by name, and the default one's name.
type Selectors = (BTreeMap<String, Expr>, Option<String>);

/// Reads `selectors.yml` of a project, if it has one.
fn project_selectors(dir: &Path) -> Result<Option<Selectors>, String> {
    let path = dir.join("selectors.yml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read selectors.yml: {e}")),
    };
    let yaml: serde_json::Value = serde_saphyr::from_str(&text)
        .map_err(|e| format!("selectors.yml is not valid YAML: {e}"))?;
    select::parse_selectors(&yaml)
        .map(Some)
        .map_err(|e| format!("selectors.yml: {e}"))
}

/// The manifest an artifact set holds, as the selection reads it.
pub fn manifest_of(artifacts: &BTreeMap<String, String>) -> Result<Manifest<String>, String> {
    match artifacts
        .get("manifest.json")
        .map(|t| serde_json::from_str(t))
    {
        Some(Ok(m)) => Ok(m),
        Some(Err(e)) => Err(format!("the compiled manifest could not be read back: {e}")),
        None => Err("the artifacts have no manifest.json".into()),
    }
}

/// The unit tests of a manifest with their ids, as selection knows them.
pub fn unit_tests<'m>(
    manifest: &'m Manifest<String>,
    graph: &Graph,
) -> Vec<(String, &'m crate::manifest::UnitTestEntry<String>)> {
    manifest
        .unit_tests
        .iter()
        .map(|unit| {
            let model = graph.nodes.get(&unit.model).map_or("", |n| n.name.as_str());
            let id = select::unit_test_id(&manifest.metadata.project_name, model, &unit.name);
            (id, unit)
        })
        .collect()
}

/// The ids `args` select in `graph` (every node when nothing selects),
/// with a warning for every criterion that matched nothing; `Err` is a
/// usage problem (exit 2).
pub fn selected(dir: &Path, graph: &Graph, args: &SelectionArgs) -> Result<Selected, String> {
    let selectors = project_selectors(dir)?;
    let (named, default) = match &selectors {
        Some((named, default)) => (Some(named), default.clone()),
        None => (None, None),
    };
    let state_graph = match &args.state {
        None => None,
        Some(state) => {
            let path = state.join("manifest.json");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("--state: cannot read {}: {e}", path.display()))?;
            let old: Manifest<String> = serde_json::from_str(&text).map_err(|e| {
                format!("--state: {} is not a stackc manifest: {e}", path.display())
            })?;
            Some(Graph::from_manifest(&old))
        }
    };
    let cx = select::Context {
        state: state_graph.as_ref(),
        selectors: named,
    };
    let mut found = select::Findings::default();
    let mut text = args.describe();
    let include: Option<Expr> = if !args.select.is_empty() {
        Some(select::parse(&args.select).map_err(|e| format!("invalid --select: {e}"))?)
    } else if let Some(name) = args
        .selector
        .clone()
        // dbt's default selector: only when nothing else selects.
        .or(default.filter(|_| args.exclude.is_empty()))
    {
        let named = named.ok_or("--selector: the project has no selectors.yml")?;
        if args.selector.is_none() {
            text = format!("--selector {name} (the default of selectors.yml)");
        }
        Some(
            named
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("--selector: selectors.yml has no selector `{name}`"))?,
        )
    } else {
        None
    };
    let whole = include.is_none() && args.exclude.is_empty();
    let mut chosen: BTreeSet<String> = match &include {
        Some(expr) => {
            let mut s = select::evaluate(graph, expr, &cx, &mut found)?;
            select::add_tests(graph, &mut s, args.indirect);
            s.retain(|id| !found.excluded.contains(id));
            s
        }
        None => graph.nodes.keys().cloned().collect(),
    };
    if !args.exclude.is_empty() {
        let expr = select::parse(&args.exclude).map_err(|e| format!("invalid --exclude: {e}"))?;
        let mut out = select::evaluate(graph, &expr, &cx, &mut found)?;
        select::add_tests(graph, &mut out, Indirect::Eager);
        chosen.retain(|id| !out.contains(id));
    }
    let warnings = found
        .unmatched
        .into_iter()
        .map(|c| {
            format!(
                "warning: the selection criterion `{}` does not match any node",
                crate::diagnostic::one_line(&c)
            )
        })
        .collect();
    Ok(Selected {
        ids: chosen,
        warnings,
        whole,
        text: if whole { String::new() } else { text },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_text_is_the_command_line_spelling() {
        let args = SelectionArgs {
            select: vec!["fact_sales+".into(), "tag:bi".into()],
            exclude: vec!["stg_x".into()],
            selector: None,
            indirect: Indirect::Cautious,
            state: None,
        };
        assert_eq!(
            args.describe(),
            "--select fact_sales+ tag:bi --exclude stg_x --indirect-selection cautious"
        );
        assert_eq!(SelectionArgs::default().describe(), "");
    }

    #[test]
    fn no_selection_is_the_whole_project() {
        let dir = tempfile::tempdir().unwrap();
        let graph = Graph::default();
        let s = selected(dir.path(), &graph, &SelectionArgs::default()).unwrap();
        assert!(s.whole);
        assert!(s.text.is_empty());
        let s = selected(
            dir.path(),
            &graph,
            &SelectionArgs {
                exclude: vec!["x".into()],
                ..SelectionArgs::default()
            },
        )
        .unwrap();
        assert!(!s.whole);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    }
}
