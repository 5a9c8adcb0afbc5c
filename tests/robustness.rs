//! No input makes the compiler panic: every file of the sample project is
//! cut short at many points and spliced with stray Jinja/SQL punctuation,
//! and each mangled project must compile to diagnostics or artifacts.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::{copy_tree, read_tree, repo};

const SPLICES: &[&str] = &[
    "{{", "}}", "{%", "%}", "{#", "'", "\"", "(", ")", "--", "/*", "$$", ";", "\n  - ", ":",
    "\u{feff}", "é",
];

/// Char-boundary cut points spread over the text, always including both ends.
fn cut_points(text: &str, count: usize) -> Vec<usize> {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let step = (boundaries.len() / count).max(1);
    boundaries.into_iter().step_by(step).collect()
}

fn compile_must_not_panic(dir: &Path, what: &str) {
    let result = catch_unwind(AssertUnwindSafe(|| stackc::compile(dir)));
    let compilation = result.unwrap_or_else(|_| panic!("compile panicked on {what}"));
    // Whatever happened is either reported or produced artifacts.
    assert!(
        compilation.artifacts.is_some() || compilation.diagnostics.iter().any(|d| d.is_error()),
        "{what}: no artifacts and no error"
    );
}

#[test]
fn mangled_projects_give_diagnostics_not_panics() {
    let template = repo().join("project_template");
    let files = read_tree(&template);
    let work = tempfile::tempdir().unwrap();
    copy_tree(&template, work.path());
    let mut cases = 0;
    for (rel, original) in &files {
        if rel.starts_with("target/") {
            continue;
        }
        let path = work.path().join(rel);
        for (n, at) in cut_points(original, 12).into_iter().enumerate() {
            std::fs::write(&path, &original[..at]).unwrap();
            compile_must_not_panic(work.path(), &format!("{rel} cut at byte {at}"));
            let splice = SPLICES[n % SPLICES.len()];
            let spliced = format!("{}{splice}{}", &original[..at], &original[at..]);
            std::fs::write(&path, &spliced).unwrap();
            compile_must_not_panic(work.path(), &format!("{rel} with {splice:?} at byte {at}"));
            cases += 2;
        }
        std::fs::write(&path, original).unwrap();
    }
    assert!(cases > 300, "only {cases} cases");
}
