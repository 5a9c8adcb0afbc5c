//! dbt snapshots: the `{% snapshot %}` blocks of the snapshot paths, and
//! the strategy a snapshot's configs describe (checked here, written as SQL
//! by `emit`).

use crate::config::ModelConfig;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::project::SourceFile;

/// One `{% snapshot name %} ... {% endsnapshot %}` block.
#[derive(Debug, Clone)]
pub struct Block {
    pub name: String,
    /// The file with everything outside the block's body blanked (each
    /// byte a space, newlines kept): what renders is the body, and every
    /// line and column is still the file's own.
    pub file: SourceFile,
}

/// A `{% ... %}` tag: its byte range and its words (without `-` markers).
fn tags(text: &str) -> Vec<(std::ops::Range<usize>, Vec<&str>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = text[at..].find("{%").map(|i| at + i) {
        let Some(end) = text[start + 2..].find("%}").map(|i| start + 2 + i + 2) else {
            break;
        };
        let inner = text[start + 2..end - 2].trim_matches(|c: char| c == '-' || c == '+');
        out.push((start..end, inner.split_whitespace().collect()));
        at = end;
    }
    out
}

/// The snapshot blocks of one file under a snapshot path. An unclosed
/// block or one without a name is E0042.
pub fn blocks(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Vec<Block> {
    let text = &file.text;
    let mut out = Vec::new();
    let mut open: Option<(std::ops::Range<usize>, String)> = None;
    for (range, words) in tags(text) {
        match words.first().copied() {
            Some("snapshot") => {
                let name = words.get(1).copied().unwrap_or("");
                let plain = !name.is_empty()
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && words.len() == 2;
                if !plain {
                    diagnostics.push(
                        Diagnostic::new(Code::E0042, "a snapshot block needs one name: `{% snapshot name %}`")
                            .at(Span::new(&file.path, range.clone()))
                            .help("name the snapshot after `snapshot`, e.g. `{% snapshot orders_snapshot %}`; `ref('orders_snapshot')` then reads it"),
                    );
                    return out;
                }
                if let Some((first, name)) = &open {
                    diagnostics.push(unclosed(file, first.clone(), name));
                    return out;
                }
                open = Some((range, name.to_string()));
            }
            Some("endsnapshot") => match open.take() {
                Some((start, name)) => out.push(Block {
                    name,
                    file: SourceFile {
                        path: file.path.clone(),
                        text: blank_outside(text, start.end..range.start).into(),
                    },
                }),
                None => {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0042,
                            "`{% endsnapshot %}` without a `{% snapshot %}` before it",
                        )
                        .at(Span::new(&file.path, range))
                        .help("start the block with `{% snapshot name %}`, or remove this tag"),
                    );
                    return out;
                }
            },
            _ => {}
        }
    }
    if let Some((start, name)) = open {
        diagnostics.push(unclosed(file, start, &name));
    }
    out
}

fn unclosed(file: &SourceFile, at: std::ops::Range<usize>, name: &str) -> Diagnostic {
    Diagnostic::new(
        Code::E0042,
        format!("snapshot block `{name}` is not closed"),
    )
    .at(Span::new(&file.path, at))
    .help("end the snapshot's query with `{% endsnapshot %}`")
}

fn blank_outside(text: &str, keep: std::ops::Range<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if keep.contains(&i) || c == '\n' || c == '\r' {
            out.push(c);
        } else {
            // One space a byte: byte offsets stay the file's.
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out
}

/// A YAML snapshot (dbt 1.9's `snapshots:` entry with `relation:`) as a
/// query: `select * from {{ <relation> }}`, written into the schema file's
/// own text, blanked, with the relation at its own line and column (the
/// words before it go into blank space before it), so that an unknown
/// `ref` is shown where the schema file says it.
pub fn yaml_query(schema: &SourceFile, relation: &str, at: &Span) -> SourceFile {
    let text: &str = &schema.text;
    let mut bytes: Vec<u8> = text
        .bytes()
        .map(|b| if b == b'\n' || b == b'\r' { b } else { b' ' })
        .collect();
    let start = at.range.start.min(bytes.len());
    let end = at.range.end.min(bytes.len()).max(start);
    let fits = start >= 3
        && text.get(start..end) == Some(relation)
        && bytes[start - 3..start].iter().all(|b| *b == b' ');
    let mut placed = fits;
    if fits {
        bytes[start..end].copy_from_slice(relation.as_bytes());
        bytes[start - 3..start].copy_from_slice(b"{{ ");
        // Each word in blank space before the `{{`, a blank or newline
        // between words.
        let mut limit = start - 4;
        for word in ["from", "*", "select"] {
            let mut end_at = None;
            let mut i = limit;
            while i >= word.len() {
                let run = &bytes[i - word.len()..i];
                let after_ok =
                    i == bytes.len() || bytes[i] == b' ' || bytes[i] == b'\n' || bytes[i] == b'\r';
                if run.iter().all(|b| *b == b' ') && after_ok {
                    end_at = Some(i);
                    break;
                }
                i -= 1;
            }
            match end_at {
                Some(i) => {
                    bytes[i - word.len()..i].copy_from_slice(word.as_bytes());
                    limit = (i - word.len()).saturating_sub(1);
                }
                None => {
                    placed = false;
                    break;
                }
            }
        }
        if placed {
            bytes.splice(end..end, b" }}".iter().copied());
        }
    }
    let text = match (placed, String::from_utf8(bytes)) {
        (true, Ok(t)) => t,
        // No room (a relation on a line of its own): the query alone, at
        // the file's start.
        _ => format!("select * from {{{{ {relation} }}}}\n"),
    };
    SourceFile {
        path: schema.path.clone(),
        text: text.into(),
    }
}

/// How a snapshot finds changed rows (dbt's `strategy`).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `strategy: timestamp`: a row changed when its `updated_at` is newer.
    Timestamp { updated_at: String },
    /// `strategy: check`: a row changed when one of the columns differs;
    /// `None` is `check_cols: all`. `updated_at`, when set, stamps the
    /// versions instead of the snapshot's time.
    Check {
        columns: Option<Vec<String>>,
        updated_at: Option<String>,
    },
}

/// What happens to a snapshot row whose key left the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardDeletes {
    Ignore,
    Invalidate,
    /// dbt 1.9's `new_record`: the open version is closed and a version
    /// with `dbt_is_deleted = 'True'` opens; a key that comes back closes it.
    NewRecord,
}

/// The names of the columns a snapshot adds (`snapshot_meta_column_names`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaColumns {
    pub scd_id: String,
    pub updated_at: String,
    pub valid_from: String,
    pub valid_to: String,
    /// Only in the table with `hard_deletes: new_record`.
    pub is_deleted: String,
}

/// A snapshot's strategy, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    pub kind: Kind,
    /// SQL expressions, one a key part (dbt's `unique_key`, also a list).
    pub unique_key: Vec<String>,
    pub hard_deletes: HardDeletes,
    /// SQL for the open versions' `dbt_valid_to` (dbt's
    /// `dbt_valid_to_current`); NULL when unset.
    pub valid_to_current: Option<String>,
    pub meta: MetaColumns,
}

/// The strategy of a snapshot from its resolved configs; every problem is
/// E0043 at the config that has it (or at `at`, the snapshot's block).
pub fn strategy(config: &ModelConfig, at: &Span) -> Result<Strategy, Diagnostic> {
    let span = |key: &str| config.spans.get(key).cloned().unwrap_or_else(|| at.clone());
    let text = |key: &str| {
        config
            .dbt
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let bad = |key: &str, message: String, help: &str| {
        Diagnostic::new(Code::E0043, message)
            .at(span(key))
            .help(help.to_string())
    };
    if config.unique_key.is_empty() {
        return Err(bad(
            "unique_key",
            "a snapshot needs a `unique_key`".into(),
            "set unique_key='id' (or a list of columns) in the snapshot's config",
        ));
    }
    let kind = match text("strategy").as_deref() {
        Some("timestamp") => match text("updated_at") {
            Some(u) if !u.trim().is_empty() => Kind::Timestamp { updated_at: u },
            _ => {
                return Err(bad(
                    "strategy",
                    "`strategy: timestamp` needs `updated_at`".into(),
                    "set updated_at='<column that changes with the row>', or use strategy='check' with check_cols",
                ))
            }
        },
        Some("check") => {
            let columns = match config.dbt.get("check_cols") {
                Some(serde_json::Value::String(s)) if s == "all" => None,
                Some(serde_json::Value::Array(items))
                    if !items.is_empty() && items.iter().all(|i| i.is_string()) =>
                {
                    Some(
                        items
                            .iter()
                            .filter_map(|i| i.as_str().map(str::to_string))
                            .collect(),
                    )
                }
                _ => {
                    return Err(bad(
                        "check_cols",
                        "`strategy: check` needs `check_cols`: `all` or a list of columns".into(),
                        "set check_cols='all' or check_cols=['status', 'amount']",
                    ))
                }
            };
            Kind::Check {
                columns,
                updated_at: text("updated_at"),
            }
        }
        Some(other) => {
            return Err(bad(
                "strategy",
                format!("unknown snapshot strategy `{other}`"),
                "use strategy='timestamp' (with updated_at) or strategy='check' (with check_cols)",
            ))
        }
        None => {
            return Err(bad(
                "strategy",
                "a snapshot needs a `strategy`".into(),
                "set strategy='timestamp' (with updated_at) or strategy='check' (with check_cols)",
            ))
        }
    };
    let invalidate = config.dbt.get("invalidate_hard_deletes");
    let hard = config.dbt.get("hard_deletes");
    if invalidate.is_some() && hard.is_some() {
        return Err(bad(
            "hard_deletes",
            "`invalidate_hard_deletes` and `hard_deletes` are both set".into(),
            "keep `hard_deletes` (ignore, invalidate or new_record), as dbt requires",
        ));
    }
    let hard_deletes = match (invalidate, hard.and_then(|h| h.as_str())) {
        (Some(serde_json::Value::Bool(true)), _) | (_, Some("invalidate")) => {
            HardDeletes::Invalidate
        }
        (Some(serde_json::Value::Bool(false)), _) | (None, None | Some("ignore")) => {
            HardDeletes::Ignore
        }
        (_, Some("new_record")) => HardDeletes::NewRecord,
        _ => {
            let key = if invalidate.is_some() {
                "invalidate_hard_deletes"
            } else {
                "hard_deletes"
            };
            return Err(bad(
                key,
                format!("invalid `{key}`"),
                "use hard_deletes: ignore, invalidate or new_record (or invalidate_hard_deletes: true)",
            ));
        }
    };
    let names = config
        .dbt
        .get("snapshot_meta_column_names")
        .and_then(|v| v.as_object());
    let name = |key: &str| {
        names
            .and_then(|n| n.get(key))
            .and_then(|v| v.as_str())
            .filter(|v| !v.trim().is_empty())
            .unwrap_or(key)
            .to_string()
    };
    Ok(Strategy {
        kind,
        unique_key: config.unique_key.clone(),
        hard_deletes,
        valid_to_current: text("dbt_valid_to_current").filter(|v| !v.trim().is_empty()),
        meta: MetaColumns {
            scd_id: name("dbt_scd_id"),
            updated_at: name("dbt_updated_at"),
            valid_from: name("dbt_valid_from"),
            valid_to: name("dbt_valid_to"),
            is_deleted: name("dbt_is_deleted"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile {
            path: "snapshots/s.sql".into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_block_keeps_its_lines_and_columns() {
        let f = file("-- note\n{% snapshot orders_snap %}\n{{ config(strategy='check') }}\nselect 1\n{% endsnapshot %}\n");
        let mut d = Vec::new();
        let b = blocks(&f, &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].name, "orders_snap");
        assert_eq!(b[0].file.text.len(), f.text.len());
        assert_eq!(b[0].file.text.lines().nth(3), Some("select 1"));
        assert!(!b[0].file.text.contains("snapshot"));
        assert!(!b[0].file.text.contains("note"));
    }

    #[test]
    fn unclosed_and_unnamed_blocks_are_errors() {
        for text in [
            "{% snapshot s %}\nselect 1\n",
            "{% snapshot %}select 1{% endsnapshot %}",
            "select 1{% endsnapshot %}",
        ] {
            let mut d = Vec::new();
            assert!(blocks(&file(text), &mut d).is_empty(), "{text}");
            assert_eq!(d.len(), 1, "{text}");
            assert_eq!(d[0].code, Code::E0042);
        }
    }

    #[test]
    fn a_yaml_snapshot_query_keeps_the_relation_where_it_is_written() {
        let schema = SourceFile {
            path: "snapshots/s.yml".into(),
            text: "snapshots:\n  - name: s\n    relation: ref('orders')\n    config: {}\n".into(),
        };
        let start = schema.text.find("ref(").unwrap();
        let at = Span::new(&schema.path, start..start + "ref('orders')".len());
        let q = yaml_query(&schema, "ref('orders')", &at);
        assert_eq!(q.text.find("ref("), Some(start));
        let words: Vec<&str> = q.text.split_whitespace().collect();
        assert_eq!(words, ["select", "*", "from", "{{", "ref('orders')", "}}"]);
        assert_eq!(q.text.lines().count(), schema.text.lines().count());
    }

    #[test]
    fn two_blocks_in_one_file() {
        let mut d = Vec::new();
        let b = blocks(
            &file("{%- snapshot a -%}select 1{%- endsnapshot -%}\n{% snapshot b %}select 2{% endsnapshot %}"),
            &mut d,
        );
        assert!(d.is_empty());
        assert_eq!(
            b.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(b[1].file.text.contains("select 2") && !b[1].file.text.contains("select 1"));
    }
}
