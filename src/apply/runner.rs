//! Running one file or one test, and turning what the server says into a
//! located [`Failure`].

use std::ops::Range;

use postgres::error::ErrorPosition;
use postgres::{GenericClient, SimpleQueryMessage};

use super::connect::{error_chain, Target};
use super::report::{Failure, Location, Sample};
use super::source_map;
use super::statements::{self, Mode, ScriptProblem, Statement};

/// A file split into statements, with how it runs.
#[derive(Debug, Clone)]
pub struct Script {
    pub statements: Vec<Statement>,
    pub mode: Mode,
}

pub fn prepare(text: &str) -> Result<Script, (Vec<Statement>, ScriptProblem)> {
    let statements = statements::split(text);
    match statements::mode(&statements) {
        Ok(mode) => Ok(Script { statements, mode }),
        Err(problem) => Err((statements, problem)),
    }
}

impl Script {
    /// A top-level `SET` (not `SET LOCAL`) or `RESET` outlives its file's
    /// transaction and would change how every later file runs: after such a
    /// file the session is reset.
    pub fn changes_session(&self) -> bool {
        self.statements.iter().any(|s| {
            let k: Vec<&str> = s.keywords.iter().map(String::as_str).collect();
            matches!(k.as_slice(), ["SET", second, ..] if *second != "LOCAL")
                || matches!(k.as_slice(), ["RESET", ..])
        })
    }
}

/// A statement that failed, and which one.
pub struct ExecError {
    pub error: postgres::Error,
    pub statement: usize,
}

/// Runs the statements one by one with the simple query protocol (what psql
/// does): one round trip each, and the server's row count for each.
pub fn execute(
    client: &mut impl GenericClient,
    text: &str,
    script: &Script,
) -> Result<u64, ExecError> {
    let mut rows = 0;
    for (i, s) in script.statements.iter().enumerate() {
        let messages = client
            .simple_query(&text[s.range.clone()])
            .map_err(|error| ExecError {
                error,
                statement: i,
            })?;
        rows += messages
            .iter()
            .map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => *n,
                _ => 0,
            })
            .sum::<u64>();
    }
    Ok(rows)
}

/// What is needed to point at an error: the artifact, the statement that was
/// sent, and what was put before it (a test's `select count(*) from (`).
pub struct Place<'a> {
    /// The artifact as the user can find it.
    pub file: String,
    pub text: &'a str,
    pub statement: Option<Range<usize>>,
    /// Characters sent before the statement's own text.
    pub prefix_chars: usize,
    /// The project file it was generated from, relative to `root`, as
    /// every diagnostic names a project file.
    pub source: Option<String>,
    /// The project folder, where `source` is read.
    pub root: std::path::PathBuf,
    /// The artifact is a verbatim copy of `source` (the project's own
    /// migrations): the error's line and column are the same there.
    pub verbatim: bool,
}

/// A failure with PostgreSQL's message, detail, hint, context and SQLSTATE,
/// located at the artifact's line and column. Errors without a position
/// (PL/pgSQL, constraint violations) point at the statement's start. Every
/// text is scrubbed of the password.
pub fn failure(error: &postgres::Error, place: &Place<'_>, target: &Target) -> Failure {
    let scrub = |s: &str| target.scrub(s);
    let mut f = Failure::default();
    let mut offset = place.statement.as_ref().map(|r| r.start);
    let mut positioned = false;
    match error.as_db_error() {
        Some(db) => {
            f.message = scrub(db.message());
            f.sqlstate = Some(db.code().code().to_string());
            f.detail = db.detail().map(scrub);
            f.hint = db.hint().map(scrub);
            f.context = db.where_().map(scrub);
            match (db.position(), &place.statement) {
                (Some(ErrorPosition::Original(p)), Some(range)) => {
                    let p = *p as usize;
                    if p > place.prefix_chars {
                        let sent = &place.text[range.clone()];
                        // Within `u32`: it came from a `u32` and only shrank.
                        let within = u32::try_from(p - place.prefix_chars).unwrap_or(u32::MAX);
                        offset = Some(statements::file_offset(
                            place.text,
                            range.start,
                            sent,
                            within,
                        ));
                        positioned = true;
                    }
                }
                (Some(ErrorPosition::Internal { position, query }), _) => {
                    f.internal_query = Some(scrub(&format!("{query} (at character {position})")));
                }
                _ => {}
            }
        }
        None => f.message = scrub(&error_chain(error)),
    }
    if let Some(offset) = offset {
        let (line, column) = crate::diagnostic::line_col(place.text, offset);
        let line_text = place
            .text
            .lines()
            .nth(line - 1)
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string();
        f.location = Some(Location {
            file: place.file.clone(),
            line,
            column,
            line_text,
        });
    }
    if let (Some(source), Some(range), Some(offset), false) =
        (&place.source, &place.statement, offset, place.verbatim)
    {
        // The model as it is now on disk: with `--artifacts` it may have
        // changed since the compile, and then no line matches.
        if let Ok(text) = std::fs::read_to_string(place.root.join(source)) {
            if let Some((line, column)) =
                source_map::locate(place.text, range.clone(), offset, &text, positioned)
            {
                let line_text = text.lines().nth(line - 1).unwrap_or("");
                f.source_location = Some(Location {
                    file: source.clone(),
                    line,
                    column,
                    line_text: line_text.trim_end_matches('\r').to_string(),
                });
            }
        }
    }
    f.source = match (&place.source, &f.location) {
        (Some(source), _) if f.source_location.is_some() => f
            .source_location
            .as_ref()
            .map(|l| format!("{source}:{}:{}", l.line, l.column)),
        (Some(source), Some(l)) if place.verbatim => {
            Some(format!("{source}:{}:{}", l.line, l.column))
        }
        (source, _) => source.clone(),
    };
    f
}

/// The query of one test in a test file: statement `statement` (comments
/// left out) of a file that must hold one statement for each of the `tests`
/// tests the manifest places in it. A file with more statements than tests
/// (a `;` in a test's own SQL) would run the wrong text, so it is refused.
pub fn test_query<'a>(
    text: &'a str,
    script: &Script,
    statement: usize,
    tests: usize,
) -> Result<(&'a str, Range<usize>), String> {
    let found = script.statements.len();
    if found != tests {
        return Err(match (found, tests) {
            (0, _) => "the test file holds no query".into(),
            (_, 1) => format!("a test file must hold one query; this one holds {found} statements"),
            _ => format!(
                "the test file holds {found} statements, but manifest.json places {tests} tests in it, one query each"
            ),
        });
    }
    match script.statements.get(statement) {
        Some(s) => Ok((&text[s.range.clone()], s.range.clone())),
        None => Err(format!(
            "manifest.json places a test at statement {} of a file of {found}",
            statement + 1
        )),
    }
}

pub const COUNT_PREFIX: &str = "select count(*) from (\n";
const SAMPLE_PREFIX: &str = "select * from (\n";

/// The number of rows a test query returns. The simple protocol: one
/// round trip (a prepared statement takes three), which is most of what a
/// passing test costs.
/// `fail_calc` (dbt's; `None` is `count(*)`) judges the rows: its value is
/// the failure count, a null (`sum` of no rows) none, a fraction rounded.
pub fn count_failures(
    client: &mut impl GenericClient,
    query: &str,
    fail_calc: Option<&str>,
) -> Result<i64, postgres::Error> {
    let prefix = count_prefix(fail_calc);
    let messages = client.simple_query(&format!("{prefix}{query}\n) as stackc_test"))?;
    Ok(messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| {
                v.parse::<i64>()
                    .ok()
                    .or_else(|| v.parse::<f64>().ok().map(|f| f.round() as i64))
            }),
            _ => None,
        })
        .unwrap_or(0))
}

/// The text sent before a test's query to count its failures.
pub fn count_prefix(fail_calc: Option<&str>) -> String {
    match fail_calc {
        None => COUNT_PREFIX.to_string(),
        Some(calc) => format!("select {calc} from (\n"),
    }
}

/// Up to `limit` failing rows, every value as PostgreSQL's text.
pub fn sample(
    client: &mut impl GenericClient,
    query: &str,
    limit: usize,
) -> Result<Sample, postgres::Error> {
    let messages = client.simple_query(&format!(
        "{SAMPLE_PREFIX}{query}\n) as stackc_test limit {limit}"
    ))?;
    Ok(sample_of(&messages))
}

/// The rows of a simple query, every value as PostgreSQL's text.
pub fn sample_of(messages: &[SimpleQueryMessage]) -> Sample {
    let mut s = Sample::default();
    for m in messages {
        match m {
            SimpleQueryMessage::RowDescription(columns) => {
                s.columns = columns.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                if s.columns.is_empty() {
                    s.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                s.rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                );
            }
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_changing_files() {
        let yes = prepare("set search_path = raw;\ncreate table t (x int);").unwrap();
        assert!(yes.changes_session());
        let reset = prepare("reset search_path;").unwrap();
        assert!(reset.changes_session());
        let local = prepare("set local statement_timeout = '1s';\nselect 1;").unwrap();
        assert!(!local.changes_session());
        let none = prepare("update t set x = 1;").unwrap();
        assert!(!none.changes_session());
    }

    #[test]
    fn a_test_file_is_one_query() {
        let text = "-- header\n-- more\n\nselect a from t where a is null\n";
        let script = prepare(text).unwrap();
        let (q, range) = test_query(text, &script, 0, 1).unwrap();
        assert_eq!(q, "select a from t where a is null");
        assert_eq!(range.start, text.find("select").unwrap());
        let two = "select 1; select 2;";
        assert!(test_query(two, &prepare(two).unwrap(), 0, 1).is_err());
        let none = "-- nothing\n";
        assert!(test_query(none, &prepare(none).unwrap(), 0, 1).is_err());
    }

    #[test]
    fn a_tests_file_is_one_query_a_test() {
        let text = "-- tests of t\n\n-- test a\nselect 1 where false -- a comment\n;\n\n-- test b; ends here\nselect ';' from t\n;\n";
        let script = prepare(text).unwrap();
        let (a, _) = test_query(text, &script, 0, 2).unwrap();
        // A trailing comment stays: the count wrapper puts `)` on a new line.
        assert_eq!(a, "select 1 where false -- a comment\n");
        let (b, range) = test_query(text, &script, 1, 2).unwrap();
        assert_eq!(b, "select ';' from t\n");
        assert_eq!(crate::diagnostic::line_col(text, range.start), (8, 1));
        // A test whose own SQL holds a `;` makes one statement too many.
        let err = test_query(text, &script, 0, 1).unwrap_err();
        assert!(err.contains("holds 2 statements"), "{err}");
        let err = test_query(text, &script, 0, 3).unwrap_err();
        assert!(err.contains("places 3 tests"), "{err}");
        assert!(test_query(text, &script, 2, 2).is_err());
    }

    #[test]
    fn the_count_prefix_is_counted_in_characters() {
        // The position of an error in `select count(*) from (\n<query>` is
        // shifted by this many characters.
        assert_eq!(COUNT_PREFIX.chars().count(), 23);
    }
}
