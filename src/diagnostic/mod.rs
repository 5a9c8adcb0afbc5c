//! One diagnostic type for every problem stackc reports, and its renderers:
//! [`human`] (for a terminal), [`json`] (one object a line) and [`github`]
//! (workflow commands that annotate a pull request).
//!
//! Spans are byte ranges into a named source file; line and column are only
//! computed when a diagnostic is rendered, from the file text held in
//! [`SourceFiles`]. Paths are always relative to the project folder.

mod code;
mod github;
mod human;
mod json;
mod warn_error;

pub use code::{Code, Sqlstate};
pub use warn_error::WarnError;

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
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// `None` only for problems that belong to no file (for example a missing
    /// project folder); every problem found in a file carries its span.
    pub primary: Option<Span>,
    pub related: Vec<Related>,
    pub help: Option<String>,
    /// The consequence of an error reported elsewhere (a namespace of a
    /// package E0150 says is not installed): counted by nobody, shown to
    /// nobody, dropped once the compile has collected everything.
    pub follow_on: bool,
}

impl Diagnostic {
    /// The severity is the code's, from the table in [`Code`].
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: None,
            related: Vec::new(),
            help: None,
            follow_on: false,
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

    fn sort_key(&self) -> (Option<&str>, usize, &str, &str) {
        let code = self.code.as_str();
        match &self.primary {
            Some(span) => (Some(&span.file), span.range.start, code, &self.message),
            None => (None, 0, code, &self.message),
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

    /// Every file by path, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, t)| (&**p, &**t))
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

pub(crate) fn clamp_to_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// When to colour what stackc writes to stderr (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Whether to colour stderr: `always` and `never` as asked; `auto` by
    /// anstream's rules, as clap's own output: colour on a terminal, none
    /// when `NO_COLOR` is set (or `TERM=dumb`), and colour anywhere when
    /// `CLICOLOR_FORCE` is. The one place stackc decides it.
    pub fn for_stderr(self) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
            }
        }
    }
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
                human::render(&mut out, d, files, color);
            }
            if !diagnostics.is_empty() {
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                let warnings = diagnostics.len() - errors;
                let _ = writeln!(out, "{}", human::summary_line(errors, warnings));
            }
        }
        Format::Json => {
            for d in diagnostics {
                out.push_str(&json::render(d, files).to_string());
                out.push('\n');
            }
        }
        Format::Github => {
            for d in diagnostics {
                github::render(&mut out, d, files);
            }
        }
    }
    out
}

/// The human rendering's first line and source snippet of one diagnostic,
/// for reports that add lines of their own below it (apply's server
/// errors: detail, context, source).
pub fn render_header(d: &Diagnostic, files: &SourceFiles, color: bool) -> String {
    let mut out = String::new();
    human::header(&mut out, d, files, color);
    out
}

/// The lines of a span with carets under it, each after `indent`.
pub fn render_snippet(span: &Span, files: &SourceFiles, indent: &str) -> String {
    let mut out = String::new();
    human::render_snippet(&mut out, span, files, Severity::Error, false, indent);
    out
}

/// One diagnostic as the JSON object `--format json` prints (for reports
/// that embed diagnostics in a larger document, as apply's does).
pub fn to_json(d: &Diagnostic, files: &SourceFiles) -> serde_json::Value {
    json::render(d, files)
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
    fn sorting_is_by_file_then_position() {
        let a: Arc<str> = Arc::from("a.sql");
        let b: Arc<str> = Arc::from("b.sql");
        let mut ds = vec![
            Diagnostic::new(Code::E0001, "x").at_file(&b, 0..1),
            Diagnostic::new(Code::E0001, "y").at_file(&a, 5..6),
            Diagnostic::new(Code::E0001, "z").at_file(&a, 1..2),
        ];
        sort_diagnostics(&mut ds);
        let order: Vec<_> = ds.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(order, ["z", "y", "x"]);
    }
}
