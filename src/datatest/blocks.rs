//! `{% test %}` blocks: dbt's generic test definitions, made the macros
//! `test_<name>` they are.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::project::SourceFile;

/// The `{% test %}` blocks of installed packages, by (package, name).
pub fn package_tests(packages: &[(String, Vec<SourceFile>)]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (package, files) in packages {
        let mut names = BTreeSet::new();
        for file in files {
            rewrite_test_blocks(&file.text, &mut names);
        }
        out.extend(names.into_iter().map(|n| (package.clone(), n)));
    }
    out
}

/// Macro files with each `{% test x(...) %}` block made the macro
/// `test_x` (as dbt does), and the names of those tests. Only the tag is
/// rewritten, so line numbers stay those of the file.
pub fn generic_tests(macros: &[SourceFile]) -> (Vec<SourceFile>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let files = macros
        .iter()
        .map(|file| match rewrite_test_blocks(&file.text, &mut names) {
            Some(text) => SourceFile {
                path: Arc::clone(&file.path),
                text: Arc::from(text),
            },
            None => file.clone(),
        })
        .collect();
    (files, names)
}

/// `None` when the text has no `{% test %}` block.
fn rewrite_test_blocks(text: &str, names: &mut BTreeSet<String>) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = 0;
    let mut changed = false;
    while let Some(i) = text[rest..].find("{%") {
        let tag = rest + i + 2;
        out.push_str(&text[rest..tag]);
        let body = &text[tag..];
        let lead = body.len() - body.trim_start_matches(['-', '+', '~']).len();
        let after_lead = &body[lead..];
        let ws = after_lead.len() - after_lead.trim_start().len();
        let word_at = tag + lead + ws;
        let word: String = text[word_at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let next = text[word_at + word.len()..].chars().next();
        out.push_str(&text[tag..word_at]);
        rest = word_at;
        if word == "test" && next.is_some_and(char::is_whitespace) {
            let name_at = text[word_at + 4..]
                .find(|c: char| !c.is_whitespace())
                .map_or(text.len(), |j| word_at + 4 + j);
            let name: String = text[name_at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push_str("macro test_");
                out.push_str(&name);
                names.insert(name.clone());
                rest = name_at + name.len();
                changed = true;
            }
        } else if word == "endtest" {
            out.push_str("endmacro");
            rest = word_at + word.len();
            changed = true;
        } else if word == "macro" && next.is_some_and(char::is_whitespace) {
            // dbt's older spelling of a generic test: a macro named
            // `test_<name>` (dbt_utils' `not_null_proportion` still is one).
            let name: String = text[word_at + 5..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if let Some(test) = name.strip_prefix("test_").filter(|t| !t.is_empty()) {
                names.insert(test.to_string());
            }
        }
    }
    out.push_str(&text[rest..]);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_macro_named_test_x_is_the_generic_test_x() {
        let mut names = std::collections::BTreeSet::new();
        let text = "{% macro test_at_least(model, n) %}select 1{% endmacro %}\n{% macro helper() %}{% endmacro %}";
        assert_eq!(rewrite_test_blocks(text, &mut names), None);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["at_least"]);
    }

    #[test]
    fn test_blocks_become_macros_on_the_same_lines() {
        let mut names = BTreeSet::new();
        let text = "{%- test even(model, column_name) -%}\nselect 1\n{%- endtest %}\n{% macro other() %}x{% endmacro %}\n";
        let out = rewrite_test_blocks(text, &mut names).unwrap();
        assert_eq!(
            out,
            "{%- macro test_even(model, column_name) -%}\nselect 1\n{%- endmacro %}\n{% macro other() %}x{% endmacro %}\n"
        );
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["even"]);
        assert!(
            rewrite_test_blocks("{% macro testing() %}{% endmacro %}", &mut BTreeSet::new())
                .is_none()
        );
    }
}
