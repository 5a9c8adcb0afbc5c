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

/// `--warn-error` and `--warn-error-options`: which warnings become errors.
/// dbt's syntax, with stackc's codes: `{"include": "all"}` or
/// `{"include": ["W0050"], "exclude": ["W0203"]}` (`"*"` means all too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarnError {
    pub all: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl WarnError {
    /// Parses the JSON or YAML-flow value of `--warn-error-options`.
    pub fn parse_options(text: &str) -> Result<WarnError, String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .or_else(|_| serde_saphyr::from_str::<serde_json::Value>(text))
            .map_err(|_| {
                format!("`{text}` is not a mapping like {{\"include\": \"all\", \"exclude\": [\"W0203\"]}}")
            })?;
        let serde_json::Value::Object(map) = value else {
            return Err(format!(
                "`{text}` is not a mapping like {{\"include\": [\"W0050\"]}}"
            ));
        };
        let mut out = WarnError::default();
        for (key, v) in map {
            let codes: Vec<String> = match &v {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| format!("`{key}` must list codes as strings"))?,
                _ => return Err(format!("`{key}` must be \"all\" or a list of codes")),
            };
            // dbt's older spellings `error` and `warn` mean include and exclude.
            match key.as_str() {
                "include" | "error" => {
                    for c in codes {
                        if c == "all" || c == "*" {
                            out.all = true;
                        } else {
                            out.include.push(c.to_ascii_uppercase());
                        }
                    }
                }
                "exclude" | "warn" => {
                    out.exclude
                        .extend(codes.into_iter().map(|c| c.to_ascii_uppercase()));
                }
                "silence" => {}
                other => {
                    return Err(format!(
                        "unknown key `{other}`: use `include` and `exclude`"
                    ))
                }
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        !self.all && self.include.is_empty()
    }

    fn promotes(&self, code: &str) -> bool {
        (self.all || self.include.iter().any(|c| c == code))
            && !self.exclude.iter().any(|c| c == code)
    }

    /// Turns the chosen warnings into errors; their codes stay, so the user
    /// can still tell which check it was and exclude it.
    pub fn apply(&self, diagnostics: &mut [Diagnostic]) {
        for d in diagnostics {
            if d.severity == Severity::Warning && self.promotes(d.code) {
                d.severity = Severity::Error;
            }
        }
    }
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
    fn warn_error_options_follow_dbt_syntax() {
        let all = WarnError::parse_options(r#"{"include": "all", "exclude": ["W0203"]}"#).unwrap();
        let mut d = vec![Diagnostic::new("W0203", "a"), Diagnostic::new("W0050", "b")];
        all.apply(&mut d);
        assert!(!d[0].is_error());
        assert!(d[1].is_error());
        let some = WarnError::parse_options("{include: [w0203]}").unwrap();
        let mut d = vec![Diagnostic::new("W0203", "a"), Diagnostic::new("W0050", "b")];
        some.apply(&mut d);
        assert!(d[0].is_error());
        assert!(!d[1].is_error());
        assert!(WarnError::parse_options("{nope: all}").is_err());
        assert!(WarnError::parse_options("[1]").is_err());
    }

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
