//! The human rendering: `path:line:col: error[CODE]: message` (the line
//! editors and pre-commit users rely on), the source line with carets under
//! the span, notes at related spans, and `help:`.

use std::fmt::Write as _;

use super::{clamp_to_char_boundary, line_col, Diagnostic, Severity, SourceFiles, Span};

pub(super) fn summary_line(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "found {} and {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

pub(super) fn render(out: &mut String, d: &Diagnostic, files: &SourceFiles, color: bool) {
    let style = Style { on: color };
    let sev_color = match d.severity {
        Severity::Error => "1;31",
        Severity::Warning => "1;33",
    };
    let head = style.paint(sev_color, &format!("{}[{}]", d.severity.as_str(), d.code));
    match &d.primary {
        Some(span) => {
            let location = location_of(span, files);
            let _ = writeln!(
                out,
                "{}: {head}: {}",
                style.paint("1", &location),
                d.message
            );
            render_snippet(out, span, files, &style, sev_color, "");
        }
        None => {
            let _ = writeln!(out, "{head}: {}", d.message);
        }
    }
    for related in &d.related {
        let location = location_of(&related.span, files);
        let _ = writeln!(out, "  {}: note: {}", location, related.message);
        render_snippet(out, &related.span, files, &style, "1;34", "  ");
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  {} {help}", style.paint("1;36", "help:"));
    }
    out.push('\n');
}

fn location_of(span: &Span, files: &SourceFiles) -> String {
    match files.get(&span.file) {
        Some(text) => {
            let (line, col) = line_col(text, span.range.start);
            format!("{}:{line}:{col}", span.file)
        }
        None => span.file.to_string(),
    }
}

/// Writes the span's first line with a caret underline below it.
fn render_snippet(
    out: &mut String,
    span: &Span,
    files: &SourceFiles,
    style: &Style,
    color: &str,
    indent: &str,
) {
    let Some(text) = files.get(&span.file) else {
        return;
    };
    let start = clamp_to_char_boundary(text, span.range.start);
    let (line, col) = line_col(text, start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let source_line = text[line_start..line_end].trim_end_matches('\r');
    let end = clamp_to_char_boundary(text, span.range.end.max(start)).min(line_end);
    let width = text[start..end].chars().count().max(1);
    let gutter = line.to_string();
    let pad = " ".repeat(gutter.len());
    // Tabs keep their width in the caret line so the carets stay aligned.
    let lead: String = source_line
        .chars()
        .take(col - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let bar = style.paint("1;34", "|");
    let _ = writeln!(out, "{indent}{pad} {bar}");
    let _ = writeln!(
        out,
        "{indent}{} {bar} {source_line}",
        style.paint("1;34", &gutter)
    );
    let _ = writeln!(
        out,
        "{indent}{pad} {bar} {lead}{}",
        style.paint(color, &"^".repeat(width))
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{render, Format};
    use super::*;

    #[test]
    fn human_output_shows_line_and_carets() {
        let path: Arc<str> = Arc::from("models/a.sql");
        let text: Arc<str> = Arc::from("select 1\nfrom x y z\n");
        let mut files = SourceFiles::default();
        files.insert(&path, &text);
        let d = Diagnostic::new("E0201", "bad")
            .at_file(&path, 16..17)
            .help("fix it");
        let out = render(&[d], &files, Format::Human, false);
        assert!(
            out.starts_with("models/a.sql:2:8: error[E0201]: bad\n"),
            "{out}"
        );
        assert!(out.contains("2 | from x y z\n  |        ^\n"), "{out}");
        assert!(out.contains("help: fix it"), "{out}");
    }
}
