//! The settings of singular tests (`tests/*.sql`), by dbt's precedence:
//! the file's own `config()`, then the `data_tests:` entry of a schema file
//! that names the test, then dbt_project.yml's `data_tests:`/`tests:` tree
//! for the file's folders, most specific first.

use std::collections::BTreeMap;

use crate::config::ConfigLayer;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::node::SingularTest;
use crate::project::Project;
use crate::schema::{apply_test_setting, Described, TestSpec};

/// Applies each test's settings; a disabled test is dropped.
pub(super) fn settle(
    project: &Project,
    tests: Vec<SingularTest>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<SingularTest> {
    let entries: BTreeMap<&str, &Described> = project
        .schema_files
        .iter()
        .flat_map(|f| &f.singular_tests)
        .map(|d| (d.name.as_str(), d))
        .collect();
    let tree = project.settings.dbt.as_ref().map(|d| &d.test_configs);
    let mut out = Vec::with_capacity(tests.len());
    for mut t in tests {
        let at = Span::new(&t.file.path, 0..0);
        let mut spec = TestSpec::new("singular".into(), None, at.clone());
        // The last config() call of the file wins, as in dbt.
        let own: BTreeMap<&String, &serde_json::Value> =
            t.rendered.calls.configs.iter().flatten().collect();
        let entry = entries.get(t.name.as_str()).map(|d| &d.config);
        let folders = folders_under(&t.file.path, &project.settings.paths.tests);
        let levels: Vec<&ConfigLayer> = tree
            .map(|tree| {
                (0..=folders.len())
                    .rev()
                    .filter_map(|depth| tree.get(&folders[..depth]))
                    .collect()
            })
            .unwrap_or_default();
        // Tags add up, as dbt appends them: the tree's levels (least
        // specific first), the schema-file entry's, the file's config().
        let mut tag_values: Vec<(serde_json::Value, Span)> = levels
            .iter()
            .rev()
            .filter_map(|l| l.get("tags"))
            .chain(entry.and_then(|c| c.get("tags")))
            .map(|e| (e.value.clone(), e.span.clone()))
            .collect();
        tag_values.extend(
            own.get(&"tags".to_string())
                .map(|v| ((*v).clone(), at.clone())),
        );
        for (value, span) in tag_values {
            match crate::schema::tag_list(&value) {
                Ok(tags) => spec.tree_tags.extend(tags),
                Err(problem) => diagnostics.push(
                    Diagnostic::new(Code::E0310, format!("invalid test `{}`: {problem}", t.name))
                        .at(span)
                        .help("write `tags=['nightly']` in the test's config()"),
                ),
            }
        }
        for key in crate::schema::TEST_SETTINGS {
            if *key == "tags" {
                continue;
            }
            let (value, span) = if let Some(v) = own.get(&key.to_string()) {
                ((*v).clone(), at.clone())
            } else if let Some(e) = entry.and_then(|c| c.get(*key)) {
                (e.value.clone(), e.span.clone())
            } else if let Some(e) = levels.iter().find_map(|l| l.get(*key)) {
                (e.value.clone(), e.span.clone())
            } else {
                continue;
            };
            if let Err(problem) = apply_test_setting(&mut spec, key, &value) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0310,
                        format!("invalid test `{}`: {problem}", t.name),
                    )
                    .at(span)
                    .help("write the setting as in a generic test's config: `severity='warn'`, `error_if='>10'`, `fail_calc='sum(n)'`"),
                );
            }
        }
        if !spec.enabled {
            continue;
        }
        t.store = crate::node::StoredFailures::of(&spec.store, &t.name);
        t.settings = spec;
        out.push(t);
    }
    out
}

/// The folders of `path` under the first of `dirs` that holds it.
fn folders_under(path: &str, dirs: &[String]) -> Vec<String> {
    let Some(inner) = dirs
        .iter()
        .find_map(|d| path.strip_prefix(d.as_str())?.strip_prefix('/'))
    else {
        return Vec::new();
    };
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    parts.pop();
    parts
}
