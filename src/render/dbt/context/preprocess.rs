//! dbt's block syntax rewritten for minijinja before a file is compiled.

use super::MACRO_PREFIX;

/// Rewrites a dbt macro file for minijinja, keeping every line where it
/// was: `{% macro m(` defines `__stackc_m_m` (calls reach the wrapper),
/// `{% test t(` is the macro `test_t` (as dbt names it),
/// `{% materialization %}` blocks become uncalled macros, `{% do %}` takes
/// any expression, and a list or dict literal under `{% set %}` becomes
/// mutable. Returns the text and the
/// macro names defined.
pub fn preprocess(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len() + 64);
    let mut names = Vec::new();
    let mut rest = text;
    let mut materializations = 0;
    while let Some(i) = rest.find("{%") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let trimmed = rest.trim_start_matches(['-', '+']);
        let lead = rest.len() - trimmed.len();
        let body = trimmed.trim_start();
        let ws = trimmed.len() - body.len();
        out.push_str(&rest[..lead + ws]);
        let word_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let word = &body[..word_len];
        match word {
            "macro" | "test" => {
                let after = &body[word_len..];
                let name_start = after.len() - after.trim_start().len();
                let tail = &after[name_start..];
                let name_len = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                let name = &tail[..name_len];
                let full = if word == "test" {
                    format!("test_{name}")
                } else {
                    name.to_string()
                };
                out.push_str("macro");
                out.push_str(&after[..name_start]);
                out.push_str(MACRO_PREFIX);
                out.push_str(&full);
                names.push(full);
                rest = &tail[name_len..];
                if let Some((sig, extra)) = super::super::macro_args::signature(rest) {
                    out.push_str(&rest[..sig]);
                    out.push_str(&extra);
                    rest = &rest[sig..];
                }
            }
            // minijinja's `do` takes only a call; Jinja's takes any
            // expression (`{% do a.append(x) if c else a.append(y) %}`).
            // A `set` evaluates it the same and drops the value.
            "do" if body[word_len..].starts_with(char::is_whitespace) => {
                out.push_str("set __stackc_do =");
                rest = &body[word_len..];
            }
            "endtest" | "endmaterialization" => {
                out.push_str("endmacro");
                rest = &body[word_len..];
            }
            "materialization" => {
                let end = body.find("%}").unwrap_or(body.len());
                let end = if body[..end].ends_with('-') {
                    end - 1
                } else {
                    end
                };
                out.push_str(&format!(
                    "macro __stackc_materialization_{materializations}() "
                ));
                materializations += 1;
                rest = &body[end..];
            }
            "set" => match mutable_set(body) {
                Some(set) => {
                    out.push_str(&body[..set.value_at]);
                    out.push_str(set.open);
                    out.push_str(set.value);
                    out.push(')');
                    rest = &body[set.value_at + set.value.len()..];
                }
                None => rest = body,
            },
            _ => rest = body,
        }
    }
    out.push_str(rest);
    (out, names)
}

/// A `{% set name = value %}` whose value becomes a mutable copy: where
/// the value starts in the tag's body, the value, and the function that
/// wraps it.
struct MutableSet<'a> {
    value_at: usize,
    value: &'a str,
    open: &'static str,
}

/// `body` is a block tag's text after `{%` and its whitespace control.
fn mutable_set(body: &str) -> Option<MutableSet<'_>> {
    let body_rest = body.strip_prefix("set")?;
    if !body_rest.starts_with(char::is_whitespace) {
        return None;
    }
    let tag_end = body.find("%}").unwrap_or(body.len());
    let tag = &body[..tag_end];
    let eq = tag.find('=')?;
    if tag[..eq].contains(['(', '[', ',']) {
        return None;
    }
    let value = tag[eq + 1..].trim_start();
    let value_at = tag.len() - value.len();
    let value = value.trim_end().trim_end_matches('-').trim_end();
    let closes = matches!(
        (value.chars().next(), value.chars().last()),
        (Some('['), Some(']')) | (Some('{'), Some('}'))
    ) && matching_close(value) == Some(value.len() - 1);
    // `{% set cols = group_by_columns %}` then `cols.append(...)`: Python
    // lists are mutable whoever made them (a copy here).
    let name = !value.is_empty()
        && !matches!(value, "none" | "None" | "true" | "false" | "True" | "False")
        && value.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let listed = value.ends_with("| list") || value.ends_with("|list");
    if !(closes || name || listed) {
        return None;
    }
    Some(MutableSet {
        value_at,
        value,
        // A name may hold anything: only a plain list is copied (a
        // relation stays a relation).
        open: if closes {
            "__stackc_mut("
        } else {
            "__stackc_mut_list("
        },
    })
}

/// A model, test or snapshot file with the lists and dicts it `{% set %}`s
/// mutable, as [`preprocess`] makes a macro file's; nothing else changes.
/// Also returns the insertions made, as (offset in the new text, length),
/// so that [`original_offset`] maps the template's offsets back.
pub fn mutable_literals(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut out = String::with_capacity(text.len());
    let mut inserts = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{%") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let body = rest.trim_start_matches(['-', '+']).trim_start();
        let lead = rest.len() - body.len();
        out.push_str(&rest[..lead]);
        rest = body;
        if let Some(set) = mutable_set(body) {
            out.push_str(&body[..set.value_at]);
            inserts.push((out.len(), set.open.len()));
            out.push_str(set.open);
            out.push_str(set.value);
            inserts.push((out.len(), 1));
            out.push(')');
            rest = &body[set.value_at + set.value.len()..];
        }
    }
    out.push_str(rest);
    (out, inserts)
}

/// The offset in the original text of `at` in [`mutable_literals`]' text
/// (an offset inside an insertion maps to where it was inserted).
pub fn original_offset(inserts: &[(usize, usize)], at: usize) -> usize {
    let mut removed = 0;
    for &(start, len) in inserts {
        if at >= start + len {
            removed += len;
        } else if at > start {
            removed += at - start;
        } else {
            break;
        }
    }
    at - removed
}

/// The byte index of the bracket closing the one `text` starts with,
/// skipping quoted strings.
pub(crate) fn matching_close(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '{' | '(' => depth += 1,
            ']' | '}' | ')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_keeps_lines_and_renames() {
        let text = "{% macro a(x) %}\n{%- set l = ['x', {'k': ']'}] -%}\n{% endmacro %}\n{% test t(model) %}{% endtest %}";
        let (out, names) = preprocess(text);
        assert_eq!(names, ["a", "test_t"]);
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(out.contains("{% macro __stackc_m_a(x) %}"), "{out}");
        assert!(
            out.contains("{%- set l = __stackc_mut(['x', {'k': ']'}]) -%}"),
            "{out}"
        );
        assert!(
            out.contains("{% macro __stackc_m_test_t(model) %}{% endmacro %}"),
            "{out}"
        );
    }
    #[test]
    fn mutable_literals_map_offsets_back() {
        let text = "{% set l = [] %}{% do l.append(1) %}{{ l }} x";
        let (out, inserts) = mutable_literals(text);
        assert_eq!(
            out,
            "{% set l = __stackc_mut([]) %}{% do l.append(1) %}{{ l }} x"
        );
        let x = out.rfind('x').unwrap_or(0);
        assert_eq!(original_offset(&inserts, x), text.rfind('x').unwrap_or(0));
        let open = out.find("__stackc").unwrap_or(0);
        assert_eq!(
            original_offset(&inserts, open + 3),
            text.find('[').unwrap_or(0)
        );
    }
}
