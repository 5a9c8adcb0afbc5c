//! One JSON object a diagnostic, for tools.

use super::{line_col, Diagnostic, SourceFiles, Span};

fn span_json(span: &Span, files: &SourceFiles) -> serde_json::Value {
    // A file whose text could not be read has no lines to point at.
    let (line, column, end_line, end_column) = match files.get(&span.file) {
        Some(text) => {
            let (l, c) = line_col(text, span.range.start);
            let (el, ec) = line_col(text, span.range.end.max(span.range.start));
            (Some(l), Some(c), Some(el), Some(ec))
        }
        None => (None, None, None, None),
    };
    serde_json::json!({
        "file": &*span.file,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
    })
}

pub(super) fn render(d: &Diagnostic, files: &SourceFiles) -> serde_json::Value {
    serde_json::json!({
        "code": d.code.as_str(),
        "severity": d.severity.as_str(),
        "message": d.message,
        "location": d.primary.as_ref().map(|s| span_json(s, files)),
        "related": d.related.iter().map(|r| serde_json::json!({
            "message": r.message,
            "location": span_json(&r.span, files),
        })).collect::<Vec<_>>(),
        "help": d.help,
    })
}
