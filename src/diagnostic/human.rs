//! The human rendering: `path:line:col: error[CODE]: message` (the line
//! editors and pre-commit users rely on), the source line with carets under
//! the span, notes at related spans, and `help:`.

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{clamp_to_char_boundary, line_col, one_line, Diagnostic, Severity, SourceFiles, Span};

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

/// The first line, `path:line:col: error[CODE]: message`, and the source
/// line with carets under the primary span.
pub(super) fn header(out: &mut String, d: &Diagnostic, files: &SourceFiles, color: bool) {
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
                one_line(&d.message)
            );
            render_snippet(out, span, files, d.severity, color, "");
        }
        None => {
            let _ = writeln!(out, "{head}: {}", one_line(&d.message));
        }
    }
}

pub(super) fn render(out: &mut String, d: &Diagnostic, files: &SourceFiles, color: bool) {
    let style = Style { on: color };
    header(out, d, files, color);
    for related in &d.related {
        let location = location_of(&related.span, files);
        let _ = writeln!(out, "  {}: note: {}", location, one_line(&related.message));
        render_snippet(out, &related.span, files, d.severity, color, "  ");
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  {} {}", style.paint("1;36", "help:"), one_line(help));
    }
    out.push('\n');
}

fn location_of(span: &Span, files: &SourceFiles) -> String {
    let file = one_line(&span.file);
    match files.get(&span.file) {
        Some(text) => {
            let (line, col) = line_col(text, span.range.start);
            format!("{file}:{line}:{col}")
        }
        None => file,
    }
}

/// Writes the lines of the span with carets under it (a span over several
/// lines is drawn as rustc draws one), through annotate-snippets; `indent`
/// goes before every line.
pub(super) fn render_snippet(
    out: &mut String,
    span: &Span,
    files: &SourceFiles,
    severity: Severity,
    color: bool,
    indent: &str,
) {
    let Some(text) = files.get(&span.file) else {
        return;
    };
    let start = clamp_to_char_boundary(text, span.range.start);
    let end = clamp_to_char_boundary(text, span.range.end.max(start));
    let level = match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let report = [Group::with_level(level).element(
        Snippet::source(text)
            .line_start(1)
            .annotation(AnnotationKind::Primary.span(start..end)),
    )];
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    for line in renderer.render(&report).lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{render, Code, Format};
    use super::*;

    #[test]
    fn human_header_escapes_control_characters_in_the_path() {
        let path: Arc<str> = Arc::from("models/a\nb/c\r.sql");
        let text: Arc<str> = Arc::from("select 1\n");
        let mut files = SourceFiles::default();
        files.insert(&path, &text);
        let related = Span::new(&path, 0..1);
        let d = Diagnostic::new(Code::E0201, "bad")
            .at_file(&path, 0..1)
            .related(related, "here");
        let out = render(std::slice::from_ref(&d), &files, Format::Human, false);
        assert!(
            out.starts_with("models/a\\nb/c\\r.sql:1:1: error[E0201]: bad\n"),
            "{out}"
        );
        assert!(
            out.contains("  models/a\\nb/c\\r.sql:1:1: note: here\n"),
            "{out}"
        );
        // Messages and help quote names: they stay one line each.
        let quoting = Diagnostic::new(Code::E0305, "column `a\nb`")
            .at_file(&path, 0..1)
            .help("not `a\nb`");
        let out = render(&[quoting], &files, Format::Human, false);
        assert!(out.contains("error[E0305]: column `a\\nb`\n"), "{out}");
        assert!(out.contains("help: not `a\\nb`\n"), "{out}");
        // Without the file's text, the bare path is escaped as well.
        let out = render(&[d], &SourceFiles::default(), Format::Human, false);
        assert!(
            out.starts_with("models/a\\nb/c\\r.sql: error[E0201]"),
            "{out}"
        );
    }

    #[test]
    fn human_output_shows_line_and_carets() {
        let path: Arc<str> = Arc::from("models/a.sql");
        let text: Arc<str> = Arc::from("select 1\nfrom x y z\n");
        let mut files = SourceFiles::default();
        files.insert(&path, &text);
        let d = Diagnostic::new(Code::E0201, "bad")
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

    #[test]
    fn a_span_over_several_lines_is_drawn_whole() {
        let path: Arc<str> = Arc::from("models/a.sql");
        let text: Arc<str> = Arc::from("select 1\nfrom x\nwhere\n  a = 1\n");
        let mut files = SourceFiles::default();
        files.insert(&path, &text);
        let d = Diagnostic::new(Code::E0204, "two statements").at_file(&path, 9..26);
        let out = render(&[d], &files, Format::Human, false);
        assert!(
            out.starts_with("models/a.sql:2:1: error[E0204]: two statements\n"),
            "{out}"
        );
        assert!(
            out.contains("2 | / from x\n3 | | where\n4 | |   a = 1\n  | |____^\n"),
            "{out}"
        );
    }

    #[test]
    #[allow(clippy::reversed_empty_ranges)] // a reversed span must not panic either
    fn spans_off_the_text_or_inside_a_character_do_not_panic() {
        let path: Arc<str> = Arc::from("a.sql");
        let text: Arc<str> = Arc::from("select 'é'\n");
        let mut files = SourceFiles::default();
        files.insert(&path, &text);
        for range in [9..9, 9..10, 3..1, 100..200, 0..100] {
            let d = Diagnostic::new(Code::E0201, "x").at_file(&path, range.clone());
            let out = render(&[d], &files, Format::Human, true);
            assert!(out.contains("error"), "{range:?}: {out}");
        }
    }
}
