//! dbt's `{% docs name %}...{% enddocs %}` blocks (in `.md` files under the
//! model paths) and the `{{ doc('name') }}` calls in schema-file
//! descriptions that they fill.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::project::SourceFile;
use crate::schema::{Column, SchemaFile};

/// Every docs block by name, with where it is defined.
pub fn blocks(
    files: &[SourceFile],
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, (String, Span)> {
    let mut out: BTreeMap<String, (String, Span)> = BTreeMap::new();
    for file in files {
        let text: &str = &file.text;
        let mut rest = 0;
        while let Some(open) = find_tag(text, rest, "docs") {
            let (tag_start, name, body_start) = open;
            let Some((body_end, after)) = find_end(text, body_start) else {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0040,
                        format!("`{{% docs {name} %}}` is never closed"),
                    )
                    .at_file(&file.path, tag_start..body_start)
                    .help("add `{% enddocs %}` where the text ends"),
                );
                break;
            };
            let span = Span::new(&file.path, tag_start..body_start);
            let body = text[body_start..body_end].trim().to_string();
            if let Some((_, first)) = out.get(&name) {
                diagnostics.push(
                    Diagnostic::new(Code::E0040, format!("docs block `{name}` is defined twice"))
                        .at(span)
                        .related(first.clone(), "first defined here")
                        .help("docs names are one namespace across the project: rename one"),
                );
            } else {
                out.insert(name, (body, span));
            }
            rest = after;
        }
    }
    out
}

/// `{% docs name %}` (with optional `-` trims) at or after `from`: (start
/// of the tag, name, end of the tag).
fn find_tag(text: &str, from: usize, word: &str) -> Option<(usize, String, usize)> {
    let mut at = from;
    while let Some(i) = text[at..].find("{%") {
        let start = at + i;
        let inner_start = start + 2;
        let close = text[inner_start..].find("%}")? + inner_start;
        let inner = text[inner_start..close].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if let Some(name) = inner.strip_prefix(word) {
            let name = name.trim();
            if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Some((start, name.to_string(), close + 2));
            }
        }
        at = close + 2;
    }
    None
}

/// The `{% enddocs %}` after `from`: (start of the tag, end of the tag).
fn find_end(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(i) = text[at..].find("{%") {
        let start = at + i;
        let close = text[start + 2..].find("%}")? + start + 2;
        let inner = text[start + 2..close].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if inner == "enddocs" {
            return Some((start, close + 2));
        }
        at = close + 2;
    }
    None
}

/// Replaces each `{{ doc('name') }}` in the descriptions of `files` with
/// its block; an unknown name is an error at the call.
pub fn fill(
    schema_files: &mut [SchemaFile],
    texts: &crate::diagnostic::SourceFiles,
    blocks: &BTreeMap<String, (String, Span)>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for file in schema_files {
        let text = texts.get(&file.path).unwrap_or_default();
        let path = Arc::clone(&file.path);
        let mut cx = Fill {
            path: &path,
            text,
            blocks,
            diagnostics,
        };
        for m in &mut file.models {
            let m = Arc::make_mut(m);
            cx.one(&mut m.description);
            cx.columns(&mut m.columns);
        }
        for s in &mut file.sources {
            cx.one(&mut s.description);
            for t in &mut s.tables {
                cx.one(&mut t.description);
                cx.columns(&mut t.columns);
            }
        }
        for s in &mut file.seeds {
            cx.one(&mut s.description);
            cx.columns(&mut s.columns);
        }
    }
}

struct Fill<'a> {
    path: &'a Arc<str>,
    text: &'a str,
    blocks: &'a BTreeMap<String, (String, Span)>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Fill<'_> {
    fn columns(&mut self, columns: &mut [Column]) {
        for c in columns {
            self.one(&mut c.description);
        }
    }

    fn one(&mut self, description: &mut Option<String>) {
        let Some(d) = description.as_mut() else {
            return;
        };
        if !d.contains("doc(") {
            return;
        }
        let mut out = String::new();
        let mut rest: &str = d;
        while let Some(i) = rest.find("{{") {
            let Some(j) = rest[i..].find("}}") else {
                break;
            };
            let expr = rest[i + 2..i + j].trim();
            match doc_name(expr) {
                Some(name) => {
                    out.push_str(&rest[..i]);
                    match self.blocks.get(name) {
                        Some((body, _)) => out.push_str(body),
                        None => {
                            let at = self.text.find(expr).unwrap_or(0);
                            let mut diag = Diagnostic::new(
                                Code::E0040,
                                format!("doc('{name}') names no `{{% docs %}}` block"),
                            )
                            .at_file(self.path, at..at + expr.len());
                            diag = match crate::suggest::closest(name, self.blocks.keys().map(String::as_str)) {
                                Some(close) => diag.help(format!("did you mean doc('{close}')?")),
                                None => diag.help("define it in a .md file under the model paths: {% docs name %}...{% enddocs %}"),
                            };
                            self.diagnostics.push(diag);
                        }
                    }
                }
                None => out.push_str(&rest[..i + j + 2]),
            }
            rest = &rest[i + j + 2..];
        }
        out.push_str(rest);
        *d = out;
    }
}

/// `doc('name')` / `doc("name")` -> `name`.
fn doc_name(expr: &str) -> Option<&str> {
    let inner = expr.strip_prefix("doc(")?.strip_suffix(')')?.trim();
    let quote = inner.chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    inner.strip_prefix(quote)?.strip_suffix(quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_and_trimmed() {
        let file = SourceFile {
            path: Arc::from("models/docs.md"),
            text: Arc::from("# Docs\n{% docs orders %}\nOne row per order.\n{% enddocs %}\n{%- docs status -%}The status.{%- enddocs -%}\n"),
        };
        let mut d = Vec::new();
        let b = blocks(&[file], &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(b["orders"].0, "One row per order.");
        assert_eq!(b["status"].0, "The status.");
        assert_eq!(doc_name("doc('x')"), Some("x"));
        assert_eq!(doc_name("doc(\"x\")"), Some("x"));
        assert_eq!(doc_name("ref('x')"), None);
    }
}
