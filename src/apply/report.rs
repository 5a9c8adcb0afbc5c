//! What an apply tells its user: a line per step as it runs (stderr), a
//! located report of each server error, a summary, and the same as one
//! JSON document (stdout) with `--format json`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::diagnostic::{self, Code, Diagnostic, SourceFiles, Span, Sqlstate};

/// `--format` of apply and test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    /// Human output on stderr, and a GitHub workflow annotation on stdout
    /// for every failure, on the model's line where it is known.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Failed,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "success",
            Status::Warn => "warn",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// Where in an artifact an error is, with the line's text. (Fields in the
/// order of the JSON report's keys, which are alphabetical.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub column: usize,
    /// The artifact, as the user can find it.
    pub file: String,
    pub line: usize,
    #[serde(skip)]
    pub line_text: String,
}

/// A failure, from the server or otherwise, with everything that helps.
/// (Fields in the order of the JSON report's keys, which are alphabetical.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// PostgreSQL's CONTEXT (`where`): e.g. the PL/pgSQL line.
    pub context: Option<String>,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// A server-generated query the position points into.
    pub internal_query: Option<String>,
    pub location: Option<Location>,
    pub message: String,
    /// What this means for the database (rolled back, left as is...).
    pub note: Option<String>,
    /// The project file the artifact was generated from.
    pub source: Option<String>,
    /// Where in that file, when the artifact's line could be traced back
    /// to it (see `source_map`).
    pub source_location: Option<Location>,
    pub sqlstate: Option<String>,
}

impl Failure {
    pub fn plain(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            ..Failure::default()
        }
    }

    /// One line, for the history table and the summary.
    pub fn one_line(&self) -> String {
        let mut s = String::new();
        if let Some(l) = &self.location {
            let _ = write!(s, "{}:{}:{}: ", l.file, l.line, l.column);
        }
        s.push_str(&self.message);
        if let Some(code) = &self.sqlstate {
            let _ = write!(s, " (SQLSTATE {code})");
        }
        s
    }

    /// As the compiler's diagnostics, through its renderer: `file:line:col:
    /// error[SQLSTATE]: message` at the artifact's line, with a caret under
    /// the position, then the rest.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut files = SourceFiles::default();
        match &self.location {
            Some(l) => {
                let d =
                    Diagnostic::new(self.code(), self.message.clone()).at(span_of(l, &mut files));
                out.push_str(&diagnostic::render_header(&d, &files, false));
            }
            None => match &self.sqlstate {
                Some(code) => {
                    let _ = writeln!(out, "error[{code}]: {}", self.message);
                }
                None => {
                    let _ = writeln!(out, "error: {}", self.message);
                }
            },
        }
        for (label, value) in [
            ("detail", &self.detail),
            ("hint", &self.hint),
            ("context", &self.context),
            ("internal query", &self.internal_query),
            ("source", &self.source),
            ("note", &self.note),
        ] {
            if let Some(v) = value {
                let v = v.trim_end().replace('\n', "\n    ");
                let _ = writeln!(out, "  {label}: {v}");
                if label == "source" {
                    if let Some(l) = &self.source_location {
                        let span = span_of(l, &mut files);
                        out.push_str(&diagnostic::render_snippet(&span, &files, "    "));
                    }
                }
            }
        }
        out
    }

    fn code(&self) -> Code {
        self.sqlstate
            .as_deref()
            .map_or(Code::Apply, |s| Code::Sqlstate(Sqlstate::new(s)))
    }
}

impl Failure {
    /// The failure as a [`Diagnostic`], for the renderers compile uses:
    /// the SQLSTATE as its code, the hint as its help, and its place in
    /// the model file when it was traced back there (else in the artifact),
    /// with the artifact's line as a related span. The message is the
    /// server's, as the human report prints it.
    pub fn to_diagnostic(&self, files: &mut SourceFiles) -> Diagnostic {
        let mut d = Diagnostic::new(self.code(), self.message.clone());
        match (&self.source_location, &self.location) {
            (Some(source), artifact) => {
                d = d.at(span_of(source, files));
                if let Some(a) = artifact {
                    d = d.related(span_of(a, files), "in the generated artifact");
                }
            }
            (None, Some(artifact)) => d = d.at(span_of(artifact, files)),
            (None, None) => {}
        }
        if let Some(hint) = &self.hint {
            d = d.help(hint.trim_end());
        }
        d
    }
}

/// A span at a location. apply knows only the one line it reports, not the
/// whole file, so the text it registers for the file is that line at its
/// line number (blank lines before it), which is all a renderer reads.
fn span_of(l: &Location, files: &mut SourceFiles) -> Span {
    let file: std::sync::Arc<str> = std::sync::Arc::from(l.file.as_str());
    let mut lines: Vec<&str> = files
        .get(&l.file)
        .map_or(Vec::new(), |t| t.lines().collect());
    let index = l.line.max(1) - 1;
    if lines.len() <= index {
        lines.resize(index + 1, "");
    }
    if lines[index].is_empty() {
        lines[index] = &l.line_text;
    }
    let mut text = lines.join("\n");
    text.push('\n');
    let at = diagnostic::offset_of(&text, l.line, l.column);
    files.insert(&file, &std::sync::Arc::from(text.as_str()));
    Span::new(&file, at..at)
}

/// The failures of a report's items as diagnostics, in step order.
pub fn diagnostics(items: &[Item]) -> (Vec<Diagnostic>, SourceFiles) {
    let mut files = SourceFiles::default();
    let ds = items
        .iter()
        .filter_map(|i| Some(i.failure.as_ref()?.to_diagnostic(&mut files)))
        .collect();
    (ds, files)
}

/// Up to five failing rows of a test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Sample {
    /// A small psql-like table, indented.
    pub fn render(&self, indent: &str) -> String {
        const MAX: usize = 40;
        let cell = |v: &Option<String>| {
            let s = v.as_deref().unwrap_or("NULL").replace('\n', " ");
            if s.chars().count() > MAX {
                format!("{}…", s.chars().take(MAX - 1).collect::<String>())
            } else {
                s
            }
        };
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(cell).collect())
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                rows.iter()
                    .map(|r| r.get(i).map_or(0, |v| v.chars().count()))
                    .chain([c.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("{indent}{}", parts.join(" | ").trim_end())
        };
        let mut out = String::new();
        let _ = writeln!(out, "{}", line(&self.columns));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let _ = writeln!(out, "{indent}{}", rule.join("-+-"));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        out
    }
}

/// One migration or run step of an apply, as it ended. (Fields in the
/// order of the JSON report's keys, which are alphabetical.)
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// A migration's Flyway checksum.
    pub checksum: Option<i32>,
    #[serde(rename = "duration_ms", serialize_with = "duration_ms")]
    pub duration: Duration,
    #[serde(rename = "error")]
    pub failure: Option<Failure>,
    pub failures: Option<i64>,
    pub file: String,
    /// `migration`, or the step kind (`seed`, `table`, `test`, ...).
    pub kind: &'static str,
    pub label: String,
    pub node: Option<String>,
    /// Why it ran (or would run).
    pub reason: String,
    pub rows_affected: Option<u64>,
    pub sample: Option<Sample>,
    pub skipped_because: Option<String>,
    #[serde(serialize_with = "status_text")]
    pub status: Status,
    pub transactional: bool,
}

fn duration_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(millis(*d))
}

fn status_text<S: serde::Serializer>(status: &Status, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(status.as_str())
}

impl Item {
    pub fn new(kind: &'static str, label: String, file: String) -> Item {
        Item {
            kind,
            label,
            node: None,
            file,
            reason: String::new(),
            transactional: true,
            status: Status::Ok,
            rows_affected: None,
            failures: None,
            duration: Duration::ZERO,
            failure: None,
            skipped_because: None,
            sample: None,
            checksum: None,
        }
    }
}

/// GitHub workflow commands for the failures of a report, through the
/// compiler's renderer (at the model's line when the failure was traced back
/// to it, else at the artifact's), and one for the report's own error.
pub fn github_annotations(
    diagnostics: &[Diagnostic],
    files: &SourceFiles,
    error: Option<&str>,
) -> String {
    let mut out = diagnostic::render(diagnostics, files, diagnostic::Format::Github, false);
    if let Some(error) = error {
        let data = error
            .replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A");
        let _ = writeln!(out, "::error title=stackc::{data}");
    }
    out
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Progress lines on stderr: `[12/40] view staging.stg_orders ... ok 8 ms`.
/// The label is written when the step starts (so a slow step shows what is
/// running) and the outcome when it ends.
pub struct Progress {
    pub total: usize,
    done: usize,
    color: bool,
}

impl Progress {
    pub fn new(total: usize, color: bool) -> Progress {
        Progress {
            total,
            done: 0,
            color,
        }
    }

    pub fn start(&mut self, label: &str) {
        self.done += 1;
        let width = self.total.to_string().len();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "[{:>width$}/{}] {label} ... ", self.done, self.total);
        let _ = err.flush();
    }

    pub fn finish(&self, item: &Item) {
        eprintln!("{}", self.outcome(item));
        if let Some(f) = &item.failure {
            eprint!("{}", f.render());
        }
        if let Some(s) = &item.sample {
            eprint!("{}", s.render("      "));
        }
    }

    /// A step that never started (skipped): its whole line at once.
    pub fn skipped(&mut self, item: &Item) {
        self.start(&item.label);
        self.finish(item);
    }

    fn outcome(&self, item: &Item) -> String {
        let ms = millis(item.duration);
        let paint = |code: &str, text: &str| {
            if self.color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let rows = match item.rows_affected {
            Some(1) => ", 1 row".to_string(),
            Some(n) if item.kind != "migration" => format!(", {n} rows"),
            _ => String::new(),
        };
        let failing = |n: i64| {
            if n == 1 {
                "1 failing row".to_string()
            } else {
                format!("{n} failing rows")
            }
        };
        match item.status {
            Status::Ok => format!("{} {ms} ms{rows}", paint("32", "ok")),
            Status::Warn => format!(
                "{} {} ({}) {ms} ms",
                paint("33", "warn"),
                failing(item.failures.unwrap_or(0)),
                item.reason
            ),
            Status::Failed => match item.failures {
                Some(n) if item.failure.is_none() => format!(
                    "{} {} ({}) {ms} ms",
                    paint("1;31", "FAILED"),
                    failing(n),
                    item.reason
                ),
                _ => format!("{} after {ms} ms", paint("1;31", "FAILED")),
            },
            Status::Skipped => format!(
                "{} ({})",
                paint("33", "skipped"),
                item.skipped_because.as_deref().unwrap_or("")
            ),
        }
    }
}

/// Totals for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub migrations: usize,
    pub steps: usize,
    pub ok: usize,
    pub warnings: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn totals(items: &[Item]) -> Totals {
    let mut t = Totals::default();
    for i in items {
        if i.kind == "migration" {
            t.migrations += 1;
        } else {
            t.steps += 1;
        }
        match i.status {
            Status::Ok => t.ok += 1,
            Status::Warn => t.warnings += 1,
            Status::Failed => t.failed += 1,
            Status::Skipped => t.skipped += 1,
        }
    }
    t
}

/// The closing lines: totals, then what failed and what was skipped, why.
pub fn summary(what: &str, items: &[Item], elapsed: Duration, not_run: usize) -> String {
    let t = totals(items);
    let mut out = String::new();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let counted = if what == "test" {
        plural(t.steps, "test", "tests")
    } else {
        format!(
            "{} and {}",
            plural(t.migrations, "migration", "migrations"),
            plural(t.steps, "step", "steps")
        )
    };
    let _ = write!(
        out,
        "{what}: {counted} in {:.2} s: {} ok, {}, {} failed, {} skipped",
        elapsed.as_secs_f64(),
        t.ok,
        plural(t.warnings, "warning", "warnings"),
        t.failed,
        t.skipped
    );
    if not_run > 0 {
        let _ = write!(out, ", {not_run} not run");
    }
    out.push('\n');
    let failed: Vec<&Item> = items
        .iter()
        .filter(|i| i.status == Status::Failed)
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "failed:");
        for i in failed {
            let why = match (&i.failure, i.failures) {
                (Some(f), _) => f.one_line(),
                (None, Some(1)) => format!("1 failing row ({})", i.reason),
                (None, Some(n)) => format!("{n} failing rows ({})", i.reason),
                (None, None) => String::new(),
            };
            let _ = writeln!(out, "  {}: {why}", i.label);
        }
    }
    let skipped: Vec<&Item> = items
        .iter()
        .filter(|i| i.status == Status::Skipped)
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "skipped:");
        for i in skipped {
            let _ = writeln!(
                out,
                "  {}: {}",
                i.label,
                i.skipped_because.as_deref().unwrap_or("")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_located_failure_reads_like_a_diagnostic() {
        let f = Failure {
            message: "relation \"nope\" does not exist".into(),
            sqlstate: Some("42P01".into()),
            hint: Some("create it first".into()),
            location: Some(Location {
                file: "migrations/V2__b.sql".into(),
                line: 7,
                column: 13,
                line_text: "insert into nope values (1);".into(),
            }),
            source: Some("migrations/V2__b.sql".into()),
            ..Failure::default()
        };
        let text = f.render();
        assert!(
            text.starts_with(
                "migrations/V2__b.sql:7:13: error[42P01]: relation \"nope\" does not exist\n  |\n7 | insert into nope values (1);\n  |             ^\n"
            ),
            "{text}"
        );
        assert!(text.contains("  hint: create it first\n"), "{text}");
        assert_eq!(
            f.one_line(),
            "migrations/V2__b.sql:7:13: relation \"nope\" does not exist (SQLSTATE 42P01)"
        );
    }

    /// `--format github` and the JSON report's `diagnostics` go through the
    /// compiler's renderers: SQLSTATE as the code, the hint as the help, at
    /// the model's line, with the artifact's line as a related span.
    #[test]
    fn a_failure_is_a_diagnostic_at_the_model_line() {
        let at = |file: &str, line, column, text: &str| Location {
            file: file.into(),
            line,
            column,
            line_text: text.into(),
        };
        let mut item = Item::new("view", "view staging.stg_bad".into(), "run/001.sql".into());
        item.failure = Some(Failure {
            message: "division by zero".into(),
            sqlstate: Some("22012".into()),
            hint: Some("check the divisor".into()),
            location: Some(at("run/001.sql", 9, 5, "    select 1/0")),
            source_location: Some(at("models/stg_bad.sql", 2, 1, "select 1/0")),
            ..Failure::default()
        });
        let (ds, files) = diagnostics(&[item]);
        assert_eq!(ds[0].code.as_str(), "22012");
        assert_eq!(ds[0].help.as_deref(), Some("check the divisor"));
        assert_eq!(&*ds[0].related[0].span.file, "run/001.sql");
        assert_eq!(
            github_annotations(&ds, &files, None),
            "::error file=models/stg_bad.sql,line=2,col=1,title=22012::division by zero%0Ahelp: check the divisor\n"
        );
        let json = diagnostic::to_json(&ds[0], &files);
        assert_eq!(json["related"][0]["location"]["line"], 9);
        assert_eq!(json["related"][0]["location"]["column"], 5);
    }

    #[test]
    fn samples_render_as_a_table() {
        let s = Sample {
            columns: vec!["id".into(), "email".into()],
            rows: vec![
                vec![Some("1".into()), None],
                vec![Some("22".into()), Some("a@b.org".into())],
            ],
        };
        assert_eq!(
            s.render("  "),
            "  id | email\n  ---+--------\n  1  | NULL\n  22 | a@b.org\n"
        );
    }

    #[test]
    fn the_summary_lists_failures_and_skips_with_reasons() {
        let mut failed = Item::new("table", "build staging.stg_bad".into(), "run/x.sql".into());
        failed.status = Status::Failed;
        failed.failure = Some(Failure::plain("division by zero"));
        let mut skipped = Item::new("table", "build marts.m".into(), "run/y.sql".into());
        skipped.status = Status::Skipped;
        skipped.skipped_because = Some("upstream staging.stg_bad failed".into());
        let ok = Item::new(
            "migration",
            "migration V1__a.sql".into(),
            "migrations/V1__a.sql".into(),
        );
        let s = summary(
            "apply",
            &[ok, failed, skipped],
            Duration::from_millis(1234),
            0,
        );
        assert_eq!(
            s,
            "apply: 1 migration and 2 steps in 1.23 s: 1 ok, 0 warnings, 1 failed, 1 skipped\n\
             failed:\n  build staging.stg_bad: division by zero\n\
             skipped:\n  build marts.m: upstream staging.stg_bad failed\n"
        );
    }
}
