//! One diagnostic type for every problem stackc reports, and its renderers.
//!
//! Spans are byte ranges into a named source file; line and column are only
//! computed when a diagnostic is rendered, from the file text held in
//! [`SourceFiles`]. Paths are always relative to the project folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A byte range in one source file (path relative to the project folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub file: Arc<str>,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: &Arc<str>, range: Range<usize>) -> Span {
        Span {
            file: Arc::clone(file),
            range,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// `None` only for problems that belong to no file (for example a missing
    /// project folder); every problem found in a file carries its span.
    pub primary: Option<Span>,
    pub related: Vec<Related>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// The severity follows from the code: `E…` is an error, `W…` a warning.
    pub fn new(code: &'static str, message: impl Into<String>) -> Diagnostic {
        let severity = if code.starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        };
        Diagnostic {
            code,
            severity,
            message: message.into(),
            primary: None,
            related: Vec::new(),
            help: None,
        }
    }

    pub fn at(mut self, span: Span) -> Diagnostic {
        self.primary = Some(span);
        self
    }

    pub fn at_file(self, file: &Arc<str>, range: Range<usize>) -> Diagnostic {
        self.at(Span::new(file, range))
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn sort_key(&self) -> (Option<&str>, usize, &'static str, &str) {
        match &self.primary {
            Some(span) => (Some(&span.file), span.range.start, self.code, &self.message),
            None => (None, 0, self.code, &self.message),
        }
    }
}

/// Sorts diagnostics by file and position so that output is stable and reads
/// top to bottom, and drops exact duplicates (one mistake reached twice).
pub fn sort_diagnostics(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup();
}

/// The text of every file a diagnostic may point into.
#[derive(Debug, Default, Clone)]
pub struct SourceFiles {
    files: BTreeMap<Arc<str>, Arc<str>>,
}

impl SourceFiles {
    pub fn insert(&mut self, path: &Arc<str>, text: &Arc<str>) {
        self.files.insert(Arc::clone(path), Arc::clone(text));
    }

    pub fn extend(&mut self, other: SourceFiles) {
        self.files.extend(other.files);
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|t| &**t)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_to_char_boundary(text, offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Byte offset of a 1-based line and character column; clamped to the text.
pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    text[start..line_end]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(line_end, |(i, _)| start + i)
}

fn clamp_to_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
}

/// Renders diagnostics for a terminal or a file. `color` adds ANSI colours.
pub fn render(
    diagnostics: &[Diagnostic],
    files: &SourceFiles,
    format: Format,
    color: bool,
) -> String {
    let mut out = String::new();
    match format {
        Format::Human => {
            for d in diagnostics {
                render_human(&mut out, d, files, color);
            }
            if !diagnostics.is_empty() {
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                let warnings = diagnostics.len() - errors;
                let _ = writeln!(out, "{}", summary_line(errors, warnings));
            }
        }
        Format::Json => {
            for d in diagnostics {
                out.push_str(&render_json(d, files).to_string());
                out.push('\n');
            }
        }
        Format::Github => {
            for d in diagnostics {
                render_github(&mut out, d, files);
            }
        }
    }
    out
}

fn summary_line(errors: usize, warnings: usize) -> String {
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

fn render_human(out: &mut String, d: &Diagnostic, files: &SourceFiles, color: bool) {
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
            render_snippet(out, span, files, &style, sev_color, "");
        }
        None => {
            let _ = writeln!(out, "{head}: {}", one_line(&d.message));
        }
    }
    for related in &d.related {
        let location = location_of(&related.span, files);
        let _ = writeln!(out, "  {}: note: {}", location, one_line(&related.message));
        render_snippet(out, &related.span, files, &style, "1;34", "  ");
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

/// A path, name or message as one line of human output: control
/// characters (a newline in a folder name) are written as escapes like
/// `\n`, so that a header or message cannot be split or forged by a name
/// quoted in it.
pub fn one_line(path: &str) -> String {
    if !path.chars().any(char::is_control) {
        return path.to_string();
    }
    path.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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

pub fn render_json(d: &Diagnostic, files: &SourceFiles) -> serde_json::Value {
    serde_json::json!({
        "code": d.code,
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

/// GitHub workflow commands: `::error file=F,line=L,col=C,title=CODE::message`.
fn render_github(out: &mut String, d: &Diagnostic, files: &SourceFiles) {
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut props = Vec::new();
    if let Some(span) = &d.primary {
        props.push(format!("file={}", github_escape_property(&span.file)));
        if let Some(text) = files.get(&span.file) {
            let (line, col) = line_col(text, span.range.start);
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
        }
    }
    props.push(format!("title={}", d.code));
    let _ = writeln!(
        out,
        "::{kind} {}::{}",
        props.join(","),
        github_escape_data(&message)
    );
}

fn github_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn github_escape_property(s: &str) -> String {
    github_escape_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "ab\nçé x\n";
        let x = text.find('x').unwrap();
        assert_eq!(line_col(text, x), (2, 4));
        assert_eq!(offset_of(text, 2, 4), x);
        assert_eq!(line_col(text, 0), (1, 1));
    }

    #[test]
    fn offset_of_clamps_past_the_end() {
        assert_eq!(offset_of("a\nb", 9, 1), 3);
        assert_eq!(offset_of("a\nb", 2, 9), 3);
    }

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

    #[test]
    fn human_header_escapes_control_characters_in_the_path() {
        let path: Arc<str> = Arc::from("models/a\nb/c\r.sql");
        let text: Arc<str> = Arc::from("select 1\n");
        let mut files = SourceFiles::default();
        files.insert(&path, &text);
        let related = Span::new(&path, 0..1);
        let d = Diagnostic::new("E0201", "bad")
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
        let quoting = Diagnostic::new("E0305", "column `a\nb`")
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
    fn github_output_escapes_newlines() {
        let d = Diagnostic::new("W0202", "a\nb");
        let out = render(&[d], &SourceFiles::default(), Format::Github, false);
        assert_eq!(out, "::warning title=W0202::a%0Ab\n");
    }

    #[test]
    fn sorting_is_by_file_then_position() {
        let a: Arc<str> = Arc::from("a.sql");
        let b: Arc<str> = Arc::from("b.sql");
        let mut ds = vec![
            Diagnostic::new("E1", "x").at_file(&b, 0..1),
            Diagnostic::new("E1", "y").at_file(&a, 5..6),
            Diagnostic::new("E1", "z").at_file(&a, 1..2),
        ];
        sort_diagnostics(&mut ds);
        let order: Vec<_> = ds.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(order, ["z", "y", "x"]);
    }
}
