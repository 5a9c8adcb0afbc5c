//! Models that need a database to compile (E0153, E0170): skipped with the
//! models that depend on them.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::node::Model;
use crate::project::Project;

/// E0153 (a query the database would answer) and E0170 (columns only the
/// database knows): what dbt asks the database while it builds a model.
pub(super) fn needs_database(code: Code) -> bool {
    matches!(code, Code::E0153 | Code::E0170)
}

/// In a dbt project, a model whose only errors are E0153 or E0170 (its SQL
/// needs the database at compile time, which dbt has and stackc does not)
/// is not built, with warning W0180, and neither is
/// anything that reads it; the rest of the project compiles, as `dbt
/// build` builds the rest when one node fails. A stackc project keeps the
/// error.
pub(super) fn skip_models_needing_a_database(
    project: &Project,
    models: &mut BTreeMap<String, Model>,
    failed: &mut BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let by_file: BTreeMap<&str, &str> = project
        .models
        .iter()
        .map(|m| (&*m.file.path, m.name.as_str()))
        .collect();
    // model name -> whether every error in its file is E0153.
    let mut only_e0153: BTreeMap<&str, bool> = BTreeMap::new();
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        let Some(name) = d.primary.as_ref().and_then(|p| by_file.get(&*p.file)) else {
            continue;
        };
        let ok = only_e0153.entry(name).or_insert(true);
        *ok &= needs_database(d.code);
    }
    let skipped: BTreeSet<String> = only_e0153
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(name, _)| name.to_string())
        .collect();
    if skipped.is_empty() {
        return;
    }
    let mut seen = BTreeSet::new();
    let mut kept = Vec::with_capacity(diagnostics.len());
    for d in diagnostics.drain(..) {
        let name = d.primary.as_ref().and_then(|p| by_file.get(&*p.file));
        match name {
            Some(name) if needs_database(d.code) && skipped.contains(*name) => {
                // Discovery and the final render report the same error.
                let at = d.primary.as_ref().map(|p| (p.range.start, p.range.end));
                if !seen.insert((d.message.clone(), at)) {
                    continue;
                }
                let mut w = Diagnostic::new(
                    Code::W0180,
                    format!("model `{name}` is not built: {}", d.message),
                )
                .help(format!(
                    "{}; stackc builds the rest of the project without it (`--warn-error` makes this an error)",
                    d.help.clone().unwrap_or_default()
                ));
                w.primary = d.primary;
                w.related = d.related;
                kept.push(w);
            }
            _ => kept.push(d),
        }
    }
    *diagnostics = kept;
    for name in &skipped {
        models.remove(name);
        failed.insert(name.clone());
    }
    // What reads a model that is not built is not built either.
    let mut not_built = skipped;
    loop {
        let downstream: Vec<(String, String)> = models
            .values()
            .filter_map(|m| {
                let upstream = m.refs.iter().find(|r| not_built.contains(*r))?;
                Some((m.name.clone(), upstream.clone()))
            })
            .collect();
        if downstream.is_empty() {
            break;
        }
        for (name, upstream) in downstream {
            let Some(m) = models.remove(&name) else {
                continue;
            };
            let text = &m.file.text;
            let at = [format!("ref('{upstream}')"), format!("ref(\"{upstream}\")")]
                .iter()
                .find_map(|needle| text.find(needle.as_str()).map(|i| i..i + needle.len()))
                .unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::new(
                    Code::W0180,
                    format!(
                        "model `{name}` is not built: it reads `{upstream}`, which is not built"
                    ),
                )
                .at(Span::new(&m.file.path, at))
                .help("see the warning about the upstream model"),
            );
            failed.insert(name.clone());
            not_built.insert(name);
        }
    }
}
