//! The `.env` file beside the project: `KEY=value` lines, read before the
//! process environment is consulted.

use std::collections::BTreeMap;
use std::fmt;
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
            Ok(text) => parse_dotenv(&text).map_err(|e| {
                ConnectError::Settings(format!("cannot read {}: {e}", path.display()))
            })?,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub message: &'static str,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the line's text: it may hold a password.
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses a `.env` file the way docker compose and dotenv read the common
/// cases: `KEY=value`, an optional `export `, `#` comments (whole lines, or
/// after whitespace in an unquoted value), `'single'` quotes taken
/// literally, `"double"` quotes with `\n`, `\t`, `\"`, `\\` escapes; quoted
/// values may span lines. No `${VAR}` expansion.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, DotenvError> {
    // Editors on Windows start a UTF-8 file with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = BTreeMap::new();
    let mut rest = text;
    let mut line = 1;
    while !rest.is_empty() {
        let (current, after) = rest.split_once('\n').unwrap_or((rest, ""));
        let trimmed = current.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            rest = after;
            line += 1;
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        let Some((key, value_start)) = body.split_once('=') else {
            return Err(DotenvError {
                line,
                message: "expected KEY=VALUE",
            });
        };
        let key = key.trim();
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_key {
            return Err(DotenvError {
                line,
                message: "a variable name is letters, digits and `_`",
            });
        }
        let value_start = value_start.trim_start();
        // Quoted values may run over several lines: read from the whole rest.
        let value_offset = value_start.as_ptr() as usize - rest.as_ptr() as usize;
        let from_value = &rest[value_offset..];
        let (value, consumed) = match from_value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let (value, len) = quoted_value(&from_value[1..], q).ok_or(DotenvError {
                    line,
                    message: "unterminated quoted value",
                })?;
                let used = &from_value[..1 + len];
                let tail = from_value[1 + len..]
                    .split_once('\n')
                    .map_or(&from_value[1 + len..], |(t, _)| t);
                let tail = tail.trim();
                if !tail.is_empty() && !tail.starts_with('#') {
                    return Err(DotenvError {
                        line,
                        message: "unexpected text after the closing quote",
                    });
                }
                (value, used.len() + tail.len())
            }
            _ => {
                let raw = from_value.split_once('\n').map_or(from_value, |(v, _)| v);
                let value = match raw.find(" #").or_else(|| raw.find("\t#")) {
                    Some(i) => &raw[..i],
                    None => raw,
                };
                (value.trim().to_string(), raw.len())
            }
        };
        out.insert(key.to_string(), value);
        let end = value_offset + consumed;
        line += rest[..end].matches('\n').count() + 1;
        rest = rest[end..].split_once('\n').map_or("", |(_, a)| a);
    }
    Ok(out)
}

/// The value up to the closing quote `q`, and how many bytes that took
/// (including the closing quote).
pub(super) fn quoted_value(text: &str, q: char) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == q => return Some((value, i + 1)),
            '\\' if q == '"' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other)) => value.push(other),
                None => return None,
            },
            c => value.push(c),
        }
    }
    None
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
        let text = "# comment\n\nexport A=1\nB = two words  # trailing comment\nC='lit $X \\n'\nD=\"line\\nnext \\\"q\\\"\"\nE=\nF=x#not-a-comment\nG=\"multi\nline\"\nH=after\n";
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
    fn dotenv_may_start_with_a_byte_order_mark() {
        let env = parse_dotenv("\u{feff}DATABASE_URL=postgres://a@h/x\n").unwrap();
        assert_eq!(env["DATABASE_URL"], "postgres://a@h/x");
    }

    #[test]
    fn dotenv_errors_name_the_line_but_never_the_value() {
        let e = parse_dotenv("A=1\nPASSWORD sekret\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("sekret"));
        let e = parse_dotenv("A=1\nB=\"sekret\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("sekret"));
        let e = parse_dotenv("A=1\nB=\"x\"\nC=\"two\nlines\" junk\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse_dotenv("1A=x\n").is_err());
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
        let Err(e) = connect(&target, None) else {
            panic!("connected to a server that never answers")
        };
        let e = e.to_string();
        assert!(started.elapsed() < Duration::from_secs(10), "{e}");
        assert!(e.contains("no answer within 1 s"), "{e}");
    }
}
