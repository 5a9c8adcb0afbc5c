//! Where in the user's file a render problem is: calls, `config()`
//! arguments, macros, and minijinja's errors turned into diagnostics.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use minijinja::{Error, ErrorKind};

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::project::SourceFile;

use super::{limits, FunctionError};

/// Where `func('…name…')` is written in a file; the file start if the call
/// was made from a macro.
pub fn call_span(file: &SourceFile, func: &str, name: &str) -> Span {
    let text: &str = &file.text;
    let mut from = 0;
    while let Some(i) = text[from..].find(func) {
        let start = from + i;
        let after = text[start + func.len()..].trim_start();
        if let Some(args) = after.strip_prefix('(') {
            let close = args.find(')').unwrap_or(args.len());
            let args_text = &args[..close];
            for quote in ['\'', '"'] {
                let needle = format!("{quote}{name}{quote}");
                if let Some(j) = args_text.find(&needle) {
                    let abs = text.len() - args.len() + j + 1;
                    return Span::new(&file.path, abs..abs + name.len());
                }
            }
        }
        from = start + func.len();
    }
    Span::new(&file.path, 0..0)
}

/// Where a model writes `{{ config(...) }}`: the range of the word `config`
/// and of each `key` in its arguments (the first call that sets it).
pub fn config_call_spans(text: &str) -> (Option<Range<usize>>, BTreeMap<String, Range<usize>>) {
    let mut first_call = None;
    let mut keys = BTreeMap::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("config") {
        let start = from + i;
        from = start + "config".len();
        let before = &text[..start];
        let ident_before = before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let line = &before[before.rfind('\n').map_or(0, |n| n + 1)..];
        // Inside a Jinja expression, not in a SQL comment.
        let in_jinja = before
            .rfind("{{")
            .is_some_and(|o| before.rfind("}}").is_none_or(|c| c < o));
        let after = &text[from..];
        let Some(args) = after.trim_start().strip_prefix('(') else {
            continue;
        };
        if ident_before || line.contains("--") || !in_jinja {
            continue;
        }
        first_call.get_or_insert(start..from);
        let args_start = text.len() - args.len();
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut chars = args.char_indices().peekable();
        while let Some((j, c)) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(' | '[' | '{') => depth += 1,
                (None, ')') if depth == 0 => break,
                (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
                (None, c) if depth == 0 && (c.is_alphabetic() || c == '_') => {
                    let rest = &args[j..];
                    let len = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    let after_key = rest[len..].trim_start();
                    if after_key.starts_with('=') && !after_key.starts_with("==") {
                        keys.entry(rest[..len].to_string())
                            .or_insert(args_start + j..args_start + j + len);
                    }
                    for _ in 1..rest[..len].chars().count() {
                        chars.next();
                    }
                }
                _ => {}
            }
        }
    }
    (first_call, keys)
}

/// Names and name ranges of the `{% macro name(...) %}` definitions in a file.
pub(super) fn macro_names(text: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(i) = text[rest..].find("{%") {
        let tag_start = rest + i + 2;
        let body = &text[tag_start..];
        let trimmed = body.trim_start_matches(['-', '+', '~']).trim_start();
        if let Some(after) = trimmed.strip_prefix("macro") {
            if after.starts_with(char::is_whitespace) {
                let name_start = text.len() - after.trim_start().len();
                let name: String = text[name_start..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((name.clone(), name_start..name_start + name.len()));
                }
            }
        }
        rest = tag_start;
    }
    out
}

pub(super) fn jinja_diagnostic(
    e: &Error,
    file: &SourceFile,
    shift: &dyn Fn(usize) -> usize,
    pending: Option<FunctionError>,
) -> Diagnostic {
    let in_this_file = e.name().is_none_or(|n| n == &*file.path);
    let text: &str = &file.text;
    let range = match e.range() {
        Some(r) if in_this_file => shift(r.start).min(text.len())..shift(r.end).min(text.len()),
        Some(r) => r,
        None if in_this_file => {
            let line = e.line().unwrap_or(1);
            locate_without_range(text, line, e.detail())
        }
        None => {
            let start = 0;
            start..start
        }
    };
    // minijinja's range of an unexpected character is one byte, also
    // where the character takes several.
    let range = if in_this_file {
        let mut start = range.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = range.end.clamp(start, text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        start..end
    } else {
        range
    };
    let path: Arc<str> = match e.name() {
        Some(n) if !in_this_file => Arc::from(n),
        _ => Arc::clone(&file.path),
    };
    if let Some(f) = pending {
        let mut d = Diagnostic::new(f.code, f.message)
            .at(Span::new(&path, range))
            .help(f.help);
        if !in_this_file {
            d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
        }
        return d;
    }
    let detail = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    if e.kind() == ErrorKind::SyntaxError {
        if detail.contains("unexpected end of input") && in_this_file {
            if let Some((tag, open)) = unclosed_block(text) {
                return Diagnostic::new(Code::E0101, format!("`{{% {tag} %}}` is never closed"))
                    .at_file(&file.path, open)
                    .help(format!("add `{{% end{tag} %}}` where the block ends"));
            }
        }
        let mut d = Diagnostic::new(Code::E0101, format!("Jinja syntax error: {detail}"))
            .at(Span::new(&path, range))
            .help("check the `{{ }}` and `{% %}` around this point");
        if !in_this_file {
            d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
        }
        return d;
    }
    if e.kind() == ErrorKind::OutOfFuel {
        let mut d = Diagnostic::new(
            Code::E0121,
            format!(
                "rendering stopped here: the template did more work than one render may do ({} steps)",
                limits::FUEL
            ),
        )
        .at(Span::new(&path, range))
        .help("a loop or a macro runs far more often than a model needs; make the loop smaller");
        if !in_this_file {
            d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
        }
        return d;
    }
    let help = match e.kind() {
        ErrorKind::UndefinedError => {
            "the name is not defined: use var('name', default) for settings, or define it with {% set %}"
        }
        ErrorKind::UnknownFunction => {
            "define it as a macro in macros/*.sql, or use one of ref, source, config, var, env_var, is_incremental"
        }
        _ => "check the expression at this point",
    };
    let mut d = Diagnostic::new(Code::E0102, format!("Jinja error: {detail}"))
        .at(Span::new(&path, range))
        .help(help);
    if !in_this_file {
        d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
    }
    d
}

/// Where an error that minijinja gave only a line for belongs. A call
/// written over several lines loses its range and reports the line where
/// it ends, so the line start pointed at the wrong place: the name the
/// error message gives (`nope is unknown`) in the expression around that
/// line, else the start of that expression, else the start of the line.
pub(super) fn locate_without_range(text: &str, line: usize, detail: Option<&str>) -> Range<usize> {
    use crate::diagnostic::offset_of;
    let line_start = offset_of(text, line, 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let before = &text[..line_end];
    let open = match (before.rfind("{{"), before.rfind("{%")) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => match a.or(b) {
            Some(o) => o,
            None => return line_start..line_start,
        },
    };
    let close_pat = if text[open..].starts_with("{{") {
        "}}"
    } else {
        "%}"
    };
    let close = text[open..]
        .find(close_pat)
        .map_or(text.len(), |i| open + i);
    if close < line_start {
        return line_start..line_start;
    }
    let tag = &text[open + 2..close];
    let word_at = |at: usize| {
        let len = text[at..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len() - at);
        let len = if len == 0 {
            text[at..].chars().next().map_or(0, char::len_utf8)
        } else {
            len
        };
        at..at + len
    };
    let name = detail
        .and_then(|d| d.strip_suffix(" is unknown"))
        .and_then(|d| d.rsplit(' ').next())
        .filter(|n| !n.is_empty());
    if let Some(name) = name {
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        let mut from = 0;
        while let Some(i) = tag[from..].find(name) {
            let at = from + i;
            let end = at + name.len();
            let bounded = !tag[..at].ends_with(is_ident) && !tag[end..].starts_with(is_ident);
            if bounded {
                return open + 2 + at..open + 2 + end;
            }
            from = end;
        }
    }
    let head = tag.len() - tag.trim_start_matches(['-', '+', '~']).trim_start().len();
    if open + 2 + head < close {
        return word_at(open + 2 + head);
    }
    line_start..line_start
}

/// The innermost block opened in `text` and never closed, with the range of
/// its opening tag.
pub(super) fn unclosed_block(text: &str) -> Option<(String, Range<usize>)> {
    const BLOCKS: &[&str] = &[
        "if",
        "for",
        "macro",
        "call",
        "filter",
        "raw",
        "with",
        "block",
        "autoescape",
    ];
    let mut stack: Vec<(String, Range<usize>)> = Vec::new();
    let mut rest = 0;
    let mut in_raw = false;
    while let Some(i) = text[rest..].find("{%") {
        let start = rest + i;
        let Some(close) = text[start..].find("%}") else {
            break;
        };
        let end = start + close + 2;
        let inner = text[start + 2..end - 2]
            .trim_matches(['-', '+', '~'])
            .trim();
        let word: String = inner
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if in_raw {
            if word == "endraw" {
                in_raw = false;
                stack.pop();
            }
        } else if BLOCKS.contains(&word.as_str()) {
            in_raw = word == "raw";
            stack.push((word, start..end));
        } else if word == "set" && !inner.contains('=') {
            stack.push((word, start..end));
        } else if let Some(closed) = word.strip_prefix("end") {
            if let Some(pos) = stack.iter().rposition(|(w, _)| w == closed) {
                stack.truncate(pos);
            }
        }
        rest = end;
    }
    stack.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_config_keys() {
        let text = "-- config(x=1)\n{{\n  config (\n    materialized='table',\n    indexes=[{'columns': ['a']}], tags=['x'])\n}}\nselect 1";
        let (call, keys) = config_call_spans(text);
        assert_eq!(&text[call.unwrap()], "config");
        assert_eq!(&text[keys["materialized"].clone()], "materialized");
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert_eq!(crate::diagnostic::line_col(text, keys["tags"].start).0, 5);
    }

    #[test]
    fn finds_macro_names() {
        let names =
            macro_names("{% macro a(x) %}{% endmacro %}\n{%- macro b_2() -%}{% endmacro %}");
        let names: Vec<_> = names.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b_2"]);
    }
}
