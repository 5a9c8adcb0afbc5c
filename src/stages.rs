//! The order of the pipeline's stages, written down once, and a test that
//! each module of `src/` names only modules of its own stage or of stages
//! before it. Leaf modules of shared data sit in the first stage.

/// Stages from first to last; each lists the top-level modules of `src/`
/// that belong to it. A module may use any module of its own stage or of
/// an earlier one.
pub const STAGES: &[(&str, &[&str])] = &[
    // Shared data: diagnostics, artifact names and markers, the manifest's
    // types (written by emit, read by apply).
    (
        "shared",
        &[
            "diagnostic",
            "exit_status",
            "suggest",
            "naming",
            "manifest",
            "catalog",
            "quoting",
            "relation",
        ],
    ),
    ("load", &["project", "config", "schema", "seed", "dbt"]),
    ("render", &["render"]),
    ("parse", &["sql", "parse_cache"]),
    // The nodes resolve makes: plain data the resolve stage and emit share.
    ("nodes", &["node"]),
    (
        "resolve",
        &["resolve", "columns", "graph", "datatest", "unittest"],
    ),
    // The fingerprint records what an emitted manifest was made from.
    ("emit", &["emit", "fingerprint"]),
    // Node selection reads the manifest emit makes.
    ("select", &["select", "selection"]),
    // The docs site: the manifest, the resolved SQL, a selection's nodes.
    ("docs", &["docs"]),
    ("apply", &["apply"]),
    ("commands", &["commands", "cli"]),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::STAGES;

    fn stage_of(module: &str) -> Option<usize> {
        STAGES
            .iter()
            .position(|(_, modules)| modules.contains(&module))
    }

    /// The top-level modules a file names as `crate::<module>`, outside
    /// comments and before its tests (a test may use any stage).
    fn named_modules(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for line in text.lines().take_while(|l| l.trim() != "#[cfg(test)]") {
            let code = line.split("//").next().unwrap_or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                // `use crate::{a::X, b}` names several modules at once.
                let names = match rest.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or_default(),
                    None => rest,
                };
                for item in names.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    out.insert(name);
                }
            }
        }
        out
    }

    #[test]
    fn crate_paths_are_read_in_both_spellings() {
        let names = named_modules(
            "use crate::{emit::x, apply};\nlet a = crate::sql::parse(); // crate::cli\n",
        );
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(names, ["apply", "emit", "sql"]);
    }

    #[test]
    fn no_module_uses_a_later_stage() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut edges = BTreeSet::new();
        let mut unplaced = BTreeSet::new();
        for entry in walkdir::WalkDir::new(&src) {
            let entry = entry.expect("src/ is readable");
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src/");
            let first = rel.components().next().expect("a file name");
            let from = first.as_os_str().to_string_lossy();
            let from = from.strip_suffix(".rs").unwrap_or(&from).to_string();
            if matches!(from.as_str(), "lib" | "main" | "stages") {
                continue;
            }
            let Some(from_stage) = stage_of(&from) else {
                unplaced.insert(from);
                continue;
            };
            let text = std::fs::read_to_string(path).expect("a readable source file");
            for to in named_modules(&text) {
                match stage_of(&to) {
                    Some(to_stage) if to_stage > from_stage => {
                        edges.insert((from.clone(), to));
                    }
                    _ => {}
                }
            }
        }
        assert!(
            unplaced.is_empty(),
            "modules in no stage of src/stages.rs (add them): {unplaced:?}"
        );
        assert!(
            edges.is_empty(),
            "modules that use a later stage (move the shared data into a leaf module instead): {edges:?}"
        );
    }
}
