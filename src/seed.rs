//! Seeds: small CSV reference tables, with column types inferred when the
//! schema file does not give them.

use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::project::SourceFile;

#[derive(Debug, Clone)]
pub struct Seed {
    pub file: SourceFile,
    pub name: String,
    pub columns: Vec<String>,
    /// `None` is an empty field, loaded as NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

pub fn parse(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Option<Seed> {
    parse_with(file, ',', diagnostics)
}

/// [`parse`] with another field delimiter (a dbt seed's `+delimiter`).
pub fn parse_with(
    file: &SourceFile,
    delimiter: char,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Seed> {
    let name = file
        .path
        .rsplit('/')
        .next()
        .unwrap_or(&file.path)
        .trim_end_matches(".csv")
        .to_string();
    let records = match split_csv(&file.text, delimiter) {
        Ok(records) => records,
        Err((offset, problem)) => {
            diagnostics.push(
                Diagnostic::new(Code::E0007, format!("invalid CSV: {problem}"))
                    .at_file(&file.path, offset..offset)
                    .help("seeds are comma-separated with a header row; quote fields that contain commas with \"\""),
            );
            return None;
        }
    };
    let mut records = records.into_iter();
    let Some((_, header)) = records.next() else {
        diagnostics.push(
            Diagnostic::new(Code::E0007, format!("seed `{name}` is empty"))
                .at_file(&file.path, 0..0)
                .help("the first line of a seed names its columns"),
        );
        return None;
    };
    let columns: Vec<String> = header
        .into_iter()
        .map(|c| c.unwrap_or_default().trim().to_string())
        .collect();
    let mut ok = true;
    for (i, c) in columns.iter().enumerate() {
        if c.is_empty() || columns[..i].contains(c) {
            ok = false;
            let problem = if c.is_empty() {
                "an empty column name".to_string()
            } else {
                format!("column `{c}` twice")
            };
            diagnostics.push(
                Diagnostic::new(Code::E0007, format!("seed header has {problem}"))
                    .at_file(&file.path, 0..0)
                    .help("give every column a unique name in the first line"),
            );
        }
    }
    let mut rows = Vec::new();
    for (offset, record) in records {
        if record.len() != columns.len() {
            ok = false;
            diagnostics.push(
                Diagnostic::new(
                    Code::E0007,
                    format!(
                        "row has {} fields, the header has {}",
                        record.len(),
                        columns.len()
                    ),
                )
                .at_file(&file.path, offset..offset)
                .help(
                    "every row needs one field per header column; quote fields that contain commas",
                ),
            );
            continue;
        }
        rows.push(record);
    }
    ok.then_some(Seed {
        file: SourceFile {
            path: Arc::clone(&file.path),
            text: Arc::clone(&file.text),
        },
        name,
        columns,
        rows,
    })
}

/// RFC 4180 records with the byte offset each starts at. Blank lines are
/// skipped; an empty unquoted field is `None`, an empty quoted one `Some("")`.
/// Kept by hand rather than the `csv` crate: its records do not tell a
/// quoted empty field from an unquoted one, and a stackc seed must (the
/// first loads as null, the second as an empty string; a dbt project's
/// seed takes both as null, as agate does).
#[allow(clippy::type_complexity)] // a plain list of records is the clearest shape here
fn split_csv(
    text: &str,
    delimiter: char,
) -> Result<Vec<(usize, Vec<Option<String>>)>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.char_indices().peekable();
    while chars.peek().is_some() {
        let start = chars.peek().map_or(0, |(i, _)| *i);
        let mut record = Vec::new();
        loop {
            // One field.
            let mut field = String::new();
            let mut quoted = false;
            if let Some((_, '"')) = chars.peek() {
                quoted = true;
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '"')) => {
                            if let Some((_, '"')) = chars.peek() {
                                field.push('"');
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        Some((_, c)) => field.push(c),
                        None => return Err((start, "a quoted field is never closed".into())),
                    }
                }
            }
            while let Some((i, c)) = chars.peek().copied() {
                if c == delimiter || c == '\n' || c == '\r' {
                    break;
                }
                if quoted {
                    return Err((i, "text after the closing quote of a field".into()));
                }
                field.push(c);
                chars.next();
            }
            record.push(if field.is_empty() && !quoted {
                None
            } else {
                Some(field)
            });
            match chars.next() {
                Some((_, c)) if c == delimiter => continue,
                Some((_, '\r')) => {
                    if let Some((_, '\n')) = chars.peek() {
                        chars.next();
                    }
                    break;
                }
                _ => break,
            }
        }
        if !(record.len() == 1 && record[0].is_none()) {
            records.push((start, record));
        }
    }
    Ok(records)
}

/// The narrowest PostgreSQL type that holds every non-empty value.
/// Each column of `seed` with the type its table gets: declared (a dbt
/// project's `seeds:` tree, then the schema file's `column_types`), else
/// inferred from the values as stackc, or in a dbt project as dbt, does.
/// `dbt_config` is `Some` in a dbt project.
pub fn column_types(
    seed: &Seed,
    entry: Option<&crate::schema::SeedEntry>,
    dbt_config: Option<Option<&std::collections::BTreeMap<String, serde_json::Value>>>,
) -> Vec<(String, String)> {
    seed.columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let from_tree = dbt_config
                .flatten()
                .and_then(|cfg| cfg.get("column_types"))
                .and_then(|t| t.get(c))
                .and_then(|t| t.as_str())
                .map(str::to_string);
            let declared = from_tree.or_else(|| entry.and_then(|e| e.column_types.get(c)).cloned());
            let values = seed
                .rows
                .iter()
                .map(move |r| r.get(i).and_then(|v| v.as_deref()));
            let ty = declared.unwrap_or_else(|| match dbt_config {
                Some(_) => crate::dbt::seeds::infer_type(values),
                None => {
                    infer_type(seed.rows.iter().map(|r| r.get(i).cloned().flatten())).to_string()
                }
            });
            (c.clone(), ty)
        })
        .collect()
}

pub fn infer_type(values: impl Iterator<Item = Option<String>>) -> &'static str {
    let mut candidates = [true; 6]; // integer, bigint, numeric, date, timestamp, boolean
    let mut any = false;
    for value in values.flatten() {
        let v = value.trim();
        any = true;
        candidates[0] &= v.parse::<i32>().is_ok();
        candidates[1] &= v.parse::<i64>().is_ok();
        candidates[2] &= is_numeric(v);
        candidates[3] &= is_date(v);
        candidates[4] &= is_timestamp(v);
        candidates[5] &= matches!(v.to_ascii_lowercase().as_str(), "true" | "false");
    }
    if !any {
        return "text";
    }
    let names = [
        "integer",
        "bigint",
        "numeric",
        "date",
        "timestamp",
        "boolean",
    ];
    candidates
        .iter()
        .zip(names)
        .find(|(ok, _)| **ok)
        .map_or("text", |(_, n)| n)
}

fn is_numeric(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|i| b[*i].is_ascii_digit())
        && (1..=12).contains(&v[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&v[8..10].parse::<u32>().unwrap_or(0))
}

pub(crate) fn is_timestamp(v: &str) -> bool {
    v.len() >= 16 && is_date(&v[..10]) && matches!(v.as_bytes()[10], b' ' | b'T') && {
        let time = &v[11..];
        let b = time.as_bytes();
        b.len() >= 5 && b[2] == b':' && b[..2].iter().chain(&b[3..5]).all(u8::is_ascii_digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(text: &str) -> (Option<Seed>, Vec<Diagnostic>) {
        let file = SourceFile {
            path: Arc::from("seeds/s.csv"),
            text: Arc::from(text),
        };
        let mut d = Vec::new();
        (parse(&file, &mut d), d)
    }

    #[test]
    fn parses_quotes_and_empty_fields() {
        let (s, d) = seed("a,b,c\r\n1,\"x, \"\"y\"\"\",\n\n2,,\"\"\n");
        assert!(d.is_empty(), "{d:?}");
        let s = s.unwrap();
        assert_eq!(s.name, "s");
        assert_eq!(s.columns, ["a", "b", "c"]);
        assert_eq!(s.rows[0], [Some("1".into()), Some("x, \"y\"".into()), None]);
        assert_eq!(s.rows[1], [Some("2".into()), None, Some(String::new())]);
    }

    #[test]
    fn ragged_rows_are_errors() {
        let (s, d) = seed("a,b\n1\n");
        assert!(s.is_none());
        assert_eq!(d[0].code, Code::E0007);
        assert_eq!(d[0].primary.as_ref().unwrap().range.start, 4);
    }

    #[test]
    fn infers_types() {
        let t = |vals: &[&str]| infer_type(vals.iter().map(|v| Some(v.to_string())));
        assert_eq!(t(&["1", "-2"]), "integer");
        assert_eq!(t(&["1", "9999999999"]), "bigint");
        assert_eq!(t(&["1", "2.50"]), "numeric");
        assert_eq!(t(&["2024-01-31"]), "date");
        assert_eq!(t(&["2024-01-31 10:00:00"]), "timestamp");
        assert_eq!(t(&["true", "FALSE"]), "boolean");
        assert_eq!(t(&["1", "x"]), "text");
        assert_eq!(infer_type(std::iter::once(None)), "text");
    }
}
