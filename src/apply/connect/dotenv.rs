//! The `.env` file beside the project: `KEY=value` lines, consulted for a
//! variable the process environment does not set.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use super::ConnectError;

/// Environment lookups: the process environment wins over `.env`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `None`: the real process environment (a map in tests).
    pub(super) process: Option<BTreeMap<String, String>>,
    pub(super) dotenv: BTreeMap<String, String>,
}

impl Env {
    /// The process environment and `dir/.env` when there is one.
    pub fn load(dir: &Path) -> Result<Env, ConnectError> {
        let path = dir.join(".env");
        let dotenv = match std::fs::read_to_string(&path) {
            Ok(text) => parse_dotenv(&text)
                .map_err(|e| ConnectError::Settings(format!("{}:{e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(ConnectError::Settings(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        Ok(Env {
            process: None,
            dotenv,
        })
    }

    pub fn from_maps(process: BTreeMap<String, String>, dotenv: BTreeMap<String, String>) -> Env {
        Env {
            process: Some(process),
            dotenv,
        }
    }

    /// A variable's value; an empty value counts as unset, as in libpq.
    pub fn get(&self, key: &str) -> Option<String> {
        let process = match &self.process {
            Some(map) => map.get(key).cloned(),
            None => std::env::var(key).ok(),
        };
        process
            .filter(|v| !v.is_empty())
            .or_else(|| self.dotenv.get(key).cloned().filter(|v| !v.is_empty()))
    }
}

/// Where a `.env` file cannot be read, and why; never the line's text, which
/// may hold a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub column: usize,
    pub message: &'static str,
    pub help: &'static str,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}; {}",
            self.line, self.column, self.message, self.help
        )
    }
}

/// Parses a `.env` file with dotenvy, without touching the process
/// environment: `KEY=value`, an optional `export `, `#` comments (whole
/// lines, or after whitespace), `'single'` quotes taken literally,
/// `"double"` quotes with escapes, values over several lines in quotes,
/// `${VAR}` from the process environment, else from a line above.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, DotenvError> {
    // Editors on Windows start a UTF-8 file with a byte order mark; the
    // iterator API of dotenvy keeps it as part of the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // dotenvy refuses a last line that ends in a blank or a backslash
    // without a newline after it.
    let text = if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    };
    let lines_read = Cell::new(0);
    let reader = LineByLine {
        rest: text.as_bytes(),
        lines_read: &lines_read,
    };
    let mut out = BTreeMap::new();
    for item in dotenvy::from_read_iter(reader) {
        match item {
            Ok((key, value)) => {
                out.insert(key, value);
            }
            Err(dotenvy::Error::LineParse(part, index)) => {
                return Err(locate(&text, lines_read.get(), &part, index));
            }
            // Reading from memory fails in no other way.
            Err(_) => {
                return Err(DotenvError {
                    line: lines_read.get().max(1),
                    column: 1,
                    message: "cannot read this line",
                    help: "write KEY=value",
                })
            }
        }
    }
    Ok(out)
}

/// Hands dotenvy one line per read, so that the lines read so far tell
/// where the item it just returned ends (dotenvy's errors carry the text
/// and a position in it, not a line number).
struct LineByLine<'a> {
    rest: &'a [u8],
    lines_read: &'a Cell<usize>,
}

impl Read for LineByLine<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let line_end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.rest.len(), |i| i + 1);
        let n = line_end.min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        if n > 0 && self.rest[n - 1] == b'\n' {
            self.lines_read.set(self.lines_read.get() + 1);
        }
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// Turns dotenvy's (text, index) into a line, a column and a message.
/// `last_line` is the line the failed item ends on. dotenvy reports three
/// kinds: a quote still open at the end of the file (the text read, ending
/// in a newline), a bad name or missing `=` (the whole item, a byte index),
/// and a bad value (the value, a character index).
fn locate(text: &str, last_line: usize, part: &str, index: usize) -> DotenvError {
    let lines: Vec<&str> = text.lines().collect();
    let first_line = (last_line + 1)
        .saturating_sub(part.trim_end_matches('\n').matches('\n').count() + 1)
        .max(1);
    let line_text = lines.get(first_line - 1).copied().unwrap_or("");
    let column_of = |byte: usize| line_text[..byte.min(line_text.len())].chars().count() + 1;
    if part.ends_with('\n') {
        let quote = line_text.find(['"', '\'']).unwrap_or(0);
        return DotenvError {
            line: first_line,
            column: column_of(quote),
            message: "unterminated quoted value",
            help: "close the quote",
        };
    }
    let first_segment = part.split('\n').next().unwrap_or("");
    let value_start = line_text.find('=').map(|eq| {
        let after = &line_text[eq + 1..];
        eq + 1 + (after.len() - after.trim_start().len())
    });
    match value_start {
        Some(start) if start > 0 && line_text[start..].starts_with(first_segment) => {
            value_error(part, index, first_line, column_of(start))
        }
        _ => {
            let before = part.get(..index).unwrap_or(part).trim();
            let (message, help) = if before.is_empty() || before == "export" {
                (
                    "a variable name starts with a letter or `_` and has only letters, digits, `_` and `.`",
                    "write KEY=value",
                )
            } else {
                ("expected `=` after the variable name", "write KEY=value")
            };
            DotenvError {
                line: first_line,
                column: column_of(index),
                message,
                help,
            }
        }
    }
}

/// A value dotenvy refused at its `index`th character.
fn value_error(value: &str, index: usize, line: usize, column: usize) -> DotenvError {
    // dotenvy points at the last character of a value whose `${` is not
    // closed; the `${` itself says more.
    let unclosed = value
        .rfind("${")
        .filter(|&at| !value[at..].contains('}') && index + 1 >= value.chars().count());
    let index = unclosed.map_or(index, |at| value[..at].chars().count());
    let (mut line, mut column) = (line, column);
    let mut previous = None;
    let mut at = None;
    for (i, c) in value.chars().enumerate() {
        if i == index {
            at = Some(c);
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
        previous = Some(c);
    }
    let (message, help) = match (previous, at) {
        (Some(' ' | '\t'), _) => (
            "a value with spaces must be quoted",
            "quote the value: KEY=\"two words\" (or 'two words', taken as it is)",
        ),
        (Some('\\'), _) => (
            "unknown escape",
            "the escapes are \\n, \\\\, \\\", \\' and \\$; single quotes take the text as it is",
        ),
        _ if unclosed.is_some() => (
            "`${` without a closing `}`",
            "write ${NAME}, or \\$ for a `$` itself",
        ),
        _ => ("cannot read this value", "quote the value"),
    };
    DotenvError {
        line,
        column,
        message,
        help,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::super::tests::map;
    #[allow(unused_imports)]
    use super::super::*;

    #[test]
    fn dotenv_reads_the_common_forms() {
        let text = "# comment\n\nexport A=1\nB = \"two words\"  # trailing comment\nC='lit $X \\n'\nD=\"line\\nnext \\\"q\\\"\"\nE=\nF=x#not-a-comment\nG=\"multi\nline\"\nH=after";
        let env = parse_dotenv(text).unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "lit $X \\n");
        assert_eq!(env["D"], "line\nnext \"q\"");
        assert_eq!(env["E"], "");
        assert_eq!(env["F"], "x#not-a-comment");
        assert_eq!(env["G"], "multi\nline");
        assert_eq!(env["H"], "after");
        assert_eq!(env.len(), 8);
    }

    #[test]
    fn dotenv_reads_windows_line_ends() {
        let env = parse_dotenv("A=1\r\nB=\"x y\"\r\n").unwrap();
        assert_eq!((env["A"].as_str(), env["B"].as_str()), ("1", "x y"));
        let e = parse_dotenv("A=1\r\nB=x y\r\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 5), "{e}");
    }

    #[test]
    fn dotenv_may_start_with_a_byte_order_mark() {
        let env = parse_dotenv("\u{feff}DATABASE_URL=postgres://a@h/x\n").unwrap();
        assert_eq!(env["DATABASE_URL"], "postgres://a@h/x");
    }

    #[test]
    fn dotenv_expands_variables_from_lines_above_and_the_environment() {
        let text = "HOST=db.example\nURL=\"postgres://u@${HOST}/x\"\nRAW='${HOST}'\nDOLLAR=a\\$b\nP=${PATH}\nNONE=${STACKC_DOTENV_TEST_UNSET}\n";
        let env = parse_dotenv(text).unwrap();
        assert_eq!(env["URL"], "postgres://u@db.example/x");
        assert_eq!(env["RAW"], "${HOST}");
        assert_eq!(env["DOLLAR"], "a$b");
        assert_eq!(env["P"], std::env::var("PATH").unwrap_or_default());
        assert_eq!(env["NONE"], "");
        // Without braces a name is letters and digits only (dotenvy's rule,
        // as docs/apply.md says).
        let env = parse_dotenv("A=x\nB=$A_1\n").unwrap();
        assert_eq!(env["B"], "x_1");
    }

    #[test]
    fn dotenv_errors_name_line_and_column_but_never_the_value() {
        let cases = [
            ("A=1\nPASSWORD sekret\n", 2, 10, "expected `=`"),
            ("A=1\n  1A=sekret\n", 2, 3, "a variable name"),
            ("A=1\nB=\"sekret\n", 2, 3, "unterminated quoted value"),
            (
                "A=1\nB='x'\nC=\"two\nlines\" sekret\n",
                4,
                8,
                "spaces must be quoted",
            ),
            (
                "A=1\nPASSWORD = two sekret words # comment\n",
                2,
                16,
                "spaces must be quoted",
            ),
            ("A=\"x\\qsekret\"\n", 1, 6, "unknown escape"),
            ("A=${B\n", 1, 3, "without a closing"),
            ("A=1\nB = two\tsekret", 2, 9, "spaces must be quoted"),
        ];
        for (text, line, column, message) in cases {
            let e = parse_dotenv(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
            assert!(!e.to_string().contains("sekret"), "{text:?}: {e}");
        }
        let e = parse_dotenv("A=two words\n").unwrap_err();
        assert!(e.help.contains("quote the value"), "{e}");
    }

    #[test]
    fn the_process_environment_wins_over_dotenv() {
        let env = Env::from_maps(
            map(&[("DATABASE_URL", "postgres://a@h1/x"), ("EMPTY", "")]),
            map(&[("DATABASE_URL", "postgres://b@h2/y"), ("EMPTY", "fromfile")]),
        );
        assert_eq!(env.get("DATABASE_URL").unwrap(), "postgres://a@h1/x");
        assert_eq!(env.get("EMPTY").unwrap(), "fromfile");
        assert_eq!(env.get("MISSING"), None);
    }

    #[test]
    fn nothing_configured_is_one_clear_error() {
        let env = Env::from_maps(map(&[("USER", "me")]), BTreeMap::new());
        let e = resolve(None, Some("DATABASE_URL"), &env).unwrap_err();
        assert!(e.to_string().contains("--database-url"), "{e}");
    }

    #[test]
    fn a_server_that_never_answers_is_given_up_after_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, then holds the connection without a word, for 30 s at most.
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(1).collect();
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        let env = Env::from_maps(BTreeMap::new(), BTreeMap::new());
        let url = format!("postgres://u@127.0.0.1:{port}/db?connect_timeout=1&sslmode=disable");
        let target = resolve(Some(&url), None, &env).unwrap();
        let started = std::time::Instant::now();
        let Err(e) = connect(&target) else {
            panic!("connected to a server that never answers")
        };
        let e = e.to_string();
        assert!(started.elapsed() < Duration::from_secs(10), "{e}");
        assert!(e.contains("no answer within 1 s"), "{e}");
    }
}
