//! Splitting a SQL file into the statements the server will see, and
//! deciding how each may run.
//!
//! The split mirrors psql's: a `;` ends a statement only outside
//! parentheses and outside the `BEGIN ... END` body of a
//! `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (SQL-standard bodies contain `;`).
//! Strings, quoted identifiers, comments and dollar-quoted bodies are single
//! tokens of `sqlparser`'s tokenizer, so a `;` inside them never splits.
//!
//! Running statements one by one (rather than a whole file as one batch)
//! gives a row count per statement, and lets an error position, which the
//! server counts from the start of the statement it received, be mapped
//! back to the line and column of the file.

use std::ops::Range;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// One statement of a file: its byte range (without the terminating `;`,
/// starting at its first token, so leading comments are not sent) and its
/// leading keywords, upper-cased, with parenthesized groups left out
/// (`VACUUM (ANALYZE) t` gives `VACUUM T`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub range: Range<usize>,
    pub keywords: Vec<String>,
}

/// How many leading keywords are kept: enough for the longest pattern below
/// (`CREATE UNIQUE INDEX CONCURRENTLY`, `REINDEX (opts) SCHEMA`).
const KEYWORDS: usize = 6;

/// Splits `text` into statements. When the tokenizer cannot read the file (an
/// unterminated string, say), the whole file is one statement: the server
/// then reports the problem with its own position.
pub fn split(text: &str) -> Vec<Statement> {
    let dialect = PostgreSqlDialect {};
    let tokens = match Tokenizer::new(&dialect, text)
        .with_unescape(false)
        .tokenize_with_location()
    {
        Ok(tokens) => tokens,
        Err(_) => return whole_file(text),
    };
    let mut offsets = Offsets::new(text);
    let mut out = Vec::new();
    let mut current: Option<Pending> = None;
    for t in &tokens {
        match &t.token {
            Token::Whitespace(_) | Token::EOF => continue,
            Token::SemiColon => {
                let open = current
                    .as_ref()
                    .is_some_and(|p| p.paren_depth > 0 || p.begin_depth > 0);
                if !open {
                    if let Some(p) = current.take() {
                        let end = offsets.at(t.span.start);
                        out.push(p.finish(end));
                    }
                    continue;
                }
            }
            _ => {}
        }
        let p = current.get_or_insert_with(|| Pending::new(offsets.at(t.span.start)));
        p.feed(&t.token);
        // The end of the last significant token so far: where a final
        // statement without `;` ends (trailing comments are not sent).
        p.end_location = t.span.end;
    }
    if let Some(p) = current.take() {
        let end = offsets.at(p.end_location);
        out.push(p.finish(end));
    }
    out
}

fn whole_file(text: &str) -> Vec<Statement> {
    let start = text.len() - text.trim_start().len();
    let end = text.trim_end().len();
    if start >= end {
        return Vec::new();
    }
    vec![Statement {
        range: start..end,
        keywords: Vec::new(),
    }]
}

struct Pending {
    start: usize,
    end_location: Location,
    paren_depth: usize,
    begin_depth: usize,
    /// Leading unquoted words, as psql tracks them to recognise a routine.
    words: Vec<String>,
    keywords: Vec<String>,
}

impl Pending {
    fn new(start: usize) -> Pending {
        Pending {
            start,
            end_location: Location::new(0, 0),
            paren_depth: 0,
            begin_depth: 0,
            words: Vec::new(),
            keywords: Vec::new(),
        }
    }

    fn feed(&mut self, token: &Token) {
        match token {
            Token::LParen => self.paren_depth += 1,
            Token::RParen => self.paren_depth = self.paren_depth.saturating_sub(1),
            Token::Word(w) if w.quote_style.is_none() => {
                let upper = w.value.to_ascii_uppercase();
                if self.paren_depth == 0 && self.keywords.len() < KEYWORDS {
                    self.keywords.push(upper.clone());
                }
                // psql's heuristic: inside CREATE [OR REPLACE] FUNCTION|PROCEDURE,
                // BEGIN (and CASE within it) open a block that END closes.
                if self.is_routine() && self.paren_depth == 0 {
                    match upper.as_str() {
                        "BEGIN" => self.begin_depth += 1,
                        "CASE" if self.begin_depth > 0 => self.begin_depth += 1,
                        "END" => self.begin_depth = self.begin_depth.saturating_sub(1),
                        _ => {}
                    }
                }
                if self.words.len() < 4 {
                    self.words.push(upper);
                }
            }
            _ => {
                if self.words.len() < 4 {
                    // Any other token ends the leading-word sequence.
                    self.words.push(String::new());
                }
            }
        }
    }

    fn is_routine(&self) -> bool {
        let w: Vec<&str> = self.words.iter().map(String::as_str).collect();
        matches!(
            w.as_slice(),
            ["CREATE", "FUNCTION" | "PROCEDURE", ..]
                | ["CREATE", "OR", "REPLACE", "FUNCTION" | "PROCEDURE", ..]
        )
    }

    fn finish(self, end: usize) -> Statement {
        Statement {
            range: self.start..end.max(self.start),
            keywords: self.keywords,
        }
    }
}

/// Converts the tokenizer's 1-based line and character column to byte
/// offsets. Tokens arrive in order, so one forward cursor serves the whole
/// file; the tokenizer counts lines at `\n` only, and so does this.
struct Offsets<'a> {
    text: &'a str,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Offsets<'a> {
        Offsets {
            text,
            line: 1,
            column: 1,
            byte: 0,
        }
    }

    fn at(&mut self, loc: Location) -> usize {
        if (loc.line, loc.column) < (self.line, self.column) {
            // Only for a location behind the cursor (a token's end may lie
            // before the next token's start is asked for): restart.
            self.line = 1;
            self.column = 1;
            self.byte = 0;
        }
        while (self.line, self.column) < (loc.line, loc.column) {
            let Some(c) = self.text[self.byte..].chars().next() else {
                break;
            };
            self.byte += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.byte
    }
}

/// How a file's statements may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In one transaction, with the history row (the normal case).
    Transactional,
    /// Each statement on its own, outside any transaction (VACUUM, ...).
    NonTransactional,
}

/// A statement that PostgreSQL refuses inside a transaction block, by its
/// leading keywords: Flyway's list for PostgreSQL, plus
/// `REINDEX ... CONCURRENTLY`, which PostgreSQL 12+ refuses there too.
pub fn non_transactional(keywords: &[String]) -> bool {
    let k: Vec<&str> = keywords.iter().map(String::as_str).collect();
    match k.as_slice() {
        ["CREATE" | "DROP", "DATABASE" | "TABLESPACE" | "SUBSCRIPTION", ..] => true,
        ["ALTER", "SYSTEM", ..] => true,
        ["CREATE", "INDEX", "CONCURRENTLY", ..] => true,
        ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", ..] => true,
        ["DROP", "INDEX", "CONCURRENTLY", ..] => true,
        ["REINDEX", rest @ ..] => rest
            .iter()
            .any(|w| matches!(*w, "SCHEMA" | "DATABASE" | "SYSTEM" | "CONCURRENTLY")),
        ["VACUUM", ..] => true,
        ["DISCARD", "ALL", ..] => true,
        _ => false,
    }
}

/// A statement that starts or ends a transaction itself. Inside a file that
/// stackc runs in its own transaction, a `COMMIT` would end that transaction
/// half way through the file, so such files are refused.
pub fn transaction_control(keywords: &[String]) -> bool {
    let k: Vec<&str> = keywords.iter().map(String::as_str).collect();
    match k.as_slice() {
        ["BEGIN" | "COMMIT" | "END" | "ABORT", ..] => true,
        ["START", "TRANSACTION", ..] => true,
        // `ROLLBACK TO [SAVEPOINT] x` stays inside the transaction.
        ["ROLLBACK", "TO", ..] => false,
        ["ROLLBACK", ..] => true,
        _ => false,
    }
}

/// Why a file cannot be run as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptProblem {
    /// Statements that need a transaction and ones that cannot run in one.
    Mixed {
        non_transactional: usize,
        transactional: usize,
    },
    /// `BEGIN`, `COMMIT`, ... in the file (index of the first one).
    TransactionControl { statement: usize },
}

/// Decides how a file runs, from its statements.
pub fn mode(statements: &[Statement]) -> Result<Mode, ScriptProblem> {
    if let Some(i) = statements
        .iter()
        .position(|s| transaction_control(&s.keywords))
    {
        return Err(ScriptProblem::TransactionControl { statement: i });
    }
    let non_tx = statements
        .iter()
        .position(|s| non_transactional(&s.keywords));
    let tx = statements
        .iter()
        .position(|s| !non_transactional(&s.keywords));
    match (non_tx, tx) {
        (None, _) => Ok(Mode::Transactional),
        (Some(_), None) => Ok(Mode::NonTransactional),
        (Some(n), Some(t)) => Err(ScriptProblem::Mixed {
            non_transactional: n,
            transactional: t,
        }),
    }
}

/// The byte offset in the file of a server error position: `position` is the
/// 1-based character index into the statement text that was sent, which
/// starts at byte `start` of the file. Clamped to the statement's end.
pub fn file_offset(text: &str, start: usize, sent: &str, position: u32) -> usize {
    let index = (position as usize).saturating_sub(1);
    let within = sent
        .char_indices()
        .nth(index)
        .map_or(sent.len(), |(i, _)| i);
    (start + within).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).into_iter().map(|s| &sql[s.range]).collect()
    }

    fn kw(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn splits_on_top_level_semicolons() {
        assert_eq!(
            texts("create table a (x int);\ninsert into a values (1);\n"),
            ["create table a (x int)", "insert into a values (1)"]
        );
    }

    #[test]
    fn semicolons_in_strings_identifiers_and_comments_do_not_split() {
        let sql = "-- header; with a semicolon\nselect 'a;b', \"we;ird\" /* c; d */ from t;\n/* only; a comment */\n";
        assert_eq!(texts(sql), ["select 'a;b', \"we;ird\" /* c; d */ from t"]);
        assert_eq!(texts("select E'it\\'s; fine';"), ["select E'it\\'s; fine'"]);
        assert_eq!(texts("select 'it''s; fine';"), ["select 'it''s; fine'"]);
    }

    #[test]
    fn dollar_quoted_bodies_are_one_token() {
        let sql = "do $stackc$\nbegin\n  perform 1;\n  perform 2;\nend\n$stackc$;\nselect 1;\n";
        let parts = texts(sql);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].starts_with("do $stackc$") && parts[0].ends_with("$stackc$"));
        let plain = "create function f() returns int language plpgsql as $$ begin return 1; end $$;\nselect f();";
        assert_eq!(texts(plain).len(), 2);
    }

    #[test]
    fn sql_standard_function_bodies_keep_their_semicolons() {
        let sql = "create or replace function f(a int) returns int\nbegin atomic\n  select a + 1;\n  select case when a > 0 then 1 else 2 end;\nend;\nselect f(1);\n";
        let parts = texts(sql);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].ends_with("end"), "{parts:?}");
    }

    #[test]
    fn a_last_statement_without_semicolon_and_empty_statements() {
        assert_eq!(
            texts("select 1;;\n  ;select 2 -- tail\n"),
            ["select 1", "select 2"]
        );
        assert!(texts("-- nothing here\n\n").is_empty());
        assert!(texts("").is_empty());
    }

    #[test]
    fn keywords_skip_parentheses_and_comments() {
        let s = split("/* c */ VACUUM (ANALYZE, VERBOSE) marts.fact_sales;");
        assert_eq!(s[0].keywords, kw("VACUUM MARTS FACT_SALES"));
        let s = split("reindex (verbose) schema marts;");
        assert_eq!(s[0].keywords, kw("REINDEX SCHEMA MARTS"));
    }

    #[test]
    fn an_unterminated_string_falls_back_to_the_whole_file() {
        let sql = "  select 'oops;\nselect 2;\n";
        let s = split(sql);
        assert_eq!(s.len(), 1);
        assert_eq!(&sql[s[0].range.clone()], "select 'oops;\nselect 2;");
    }

    #[test]
    fn detects_statements_that_cannot_run_in_a_transaction() {
        for yes in [
            "vacuum",
            "VACUUM (ANALYZE) t",
            "create index concurrently i on t (a)",
            "create unique index concurrently i on t (a)",
            "drop index concurrently i",
            "create database x",
            "drop tablespace x",
            "create subscription s connection 'x' publication p",
            "alter system set work_mem = '1MB'",
            "reindex schema marts",
            "reindex (verbose) database x",
            "reindex index concurrently i",
            "discard all",
        ] {
            let s = split(yes);
            assert!(non_transactional(&s[0].keywords), "{yes}");
        }
        for no in [
            "create index i on t (a)",
            "create unique index i on t (a)",
            "reindex table t",
            "analyze t",
            "discard temp",
            "alter table t add column concurrently int",
            "select 'vacuum'",
            "refresh materialized view concurrently m",
        ] {
            let s = split(no);
            assert!(!non_transactional(&s[0].keywords), "{no}");
        }
    }

    #[test]
    fn mode_of_a_file() {
        assert_eq!(
            mode(&split("create table a (x int); insert into a values (1);")),
            Ok(Mode::Transactional)
        );
        assert_eq!(
            mode(&split("vacuum (analyze) a;\nvacuum b;")),
            Ok(Mode::NonTransactional)
        );
        assert_eq!(
            mode(&split("insert into a values (1);\nvacuum a;")),
            Err(ScriptProblem::Mixed {
                non_transactional: 1,
                transactional: 0
            })
        );
        assert_eq!(
            mode(&split("create table a (x int);\ncommit;")),
            Err(ScriptProblem::TransactionControl { statement: 1 })
        );
        assert_eq!(
            mode(&split("begin;\ncreate table a (x int);")),
            Err(ScriptProblem::TransactionControl { statement: 0 })
        );
        assert_eq!(
            mode(&split(
                "savepoint s; insert into a values (1); rollback to savepoint s;"
            )),
            Ok(Mode::Transactional)
        );
    }

    #[test]
    fn error_positions_map_to_file_offsets() {
        let text = "-- header\ncreate table a (x int);\n\ninsert into nope\nvalues (1);\n";
        let statements = split(text);
        let second = &statements[1];
        let sent = &text[second.range.clone()];
        assert_eq!(sent, "insert into nope\nvalues (1)");
        // PostgreSQL reports `nope` at character 13 of the statement.
        let offset = file_offset(text, second.range.start, sent, 13);
        assert_eq!(crate::diagnostic::line_col(text, offset), (4, 13));
        // Characters, not bytes: a multi-byte character before the position.
        let text = "select 'é', nope;";
        let s = &split(text)[0];
        let offset = file_offset(text, s.range.start, &text[s.range.clone()], 13);
        assert_eq!(&text[offset..offset + 4], "nope");
        assert_eq!(crate::diagnostic::line_col(text, offset), (1, 13));
    }

    #[test]
    fn statement_ranges_survive_multibyte_text_and_crlf() {
        let text = "select 'ü';\r\nselect 'ß€';\r\n";
        assert_eq!(texts(text), ["select 'ü'", "select 'ß€'"]);
    }
}
