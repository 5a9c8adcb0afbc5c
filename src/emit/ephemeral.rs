//! Ephemeral models, inlined as CTEs into the queries that use them.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Materialization;
use crate::node::Resolved;

/// The SQL of every ephemeral model, with its own ephemeral parents inlined.
pub(super) fn ephemeral_bodies(resolved: &Resolved) -> BTreeMap<String, String> {
    resolved
        .models
        .values()
        .filter(|m| m.config.materialized == Materialization::Ephemeral)
        .map(|m| {
            let sql = m.full.sql.trim_end().trim_end_matches(';').trim_end();
            (m.name.clone(), without_leading_blank_lines(sql).to_string())
        })
        .collect()
}

/// Lines left empty by `{{ config(...) }}` at the top of a model are noise
/// in review; everything from the first non-blank line on is kept as written.
pub(super) fn without_leading_blank_lines(sql: &str) -> &str {
    let mut rest = sql;
    while let Some(i) = rest.find('\n') {
        if rest[..i].trim().is_empty() {
            rest = &rest[i + 1..];
        } else {
            break;
        }
    }
    rest
}

/// Prepends a CTE for every ephemeral model the query reaches through
/// `refs` (model names), in dependency order, merging with the query's own
/// `with`.
pub(super) fn with_ephemerals(
    sql: &str,
    refs: &[String],
    resolved: &Resolved,
    bodies: &BTreeMap<String, String>,
) -> String {
    let sql = without_leading_blank_lines(sql.trim_end().trim_end_matches(';').trim_end());
    let mut needed: Vec<String> = Vec::new();
    let mut stack: Vec<&String> = refs.iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(r) = stack.pop() {
        if let Some(dep) = resolved.models.get(r) {
            if dep.config.materialized == Materialization::Ephemeral && seen.insert(r.clone()) {
                needed.push(r.clone());
                stack.extend(dep.refs.iter());
            }
        }
    }
    if needed.is_empty() {
        return format!("{sql}\n");
    }
    // Dependency order: the graph's order restricted to the needed ones.
    let prefix = format!("model.{}.", resolved.project_name);
    let graph = &resolved.graph;
    let order: Vec<&String> = graph
        .order
        .iter()
        .filter_map(|&i| graph.ids[i].strip_prefix(&prefix))
        .filter_map(|n| needed.iter().find(|x| x.as_str() == n))
        .collect();
    let ctes: Vec<String> = order
        .iter()
        .map(|n| format!("__stackc_ephemeral_{n} as (\n{}\n)", bodies[*n]))
        .collect();
    let body = sql.trim_start();
    // The query's own `with` may follow comments (a note under the config
    // block): the CTEs join it there, or the query would read `with ...)
    // -- note with x as (...)`, which PostgreSQL refuses.
    let (lead, query) = body.split_at(leading_comments(body));
    let lower = query.to_ascii_lowercase();
    let after_with = ["with recursive", "with"]
        .iter()
        .find(|w| lower.starts_with(*w) && lower[w.len()..].starts_with(char::is_whitespace))
        .map(|w| w.len());
    match after_with {
        Some(n) => format!(
            "{lead}{} {},\n{}\n",
            &query[..n],
            ctes.join(",\n"),
            query[n..].trim_start()
        ),
        None => format!("with {}\n{body}\n", ctes.join(",\n")),
    }
}

/// The length of the whitespace and comments `sql` starts with: `--` to
/// the end of the line, and `/* */` nested as PostgreSQL nests them. An
/// unclosed comment runs to the end.
fn leading_comments(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i..].starts_with(b"--") {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
        } else if bytes[i..].starts_with(b"/*") {
            let mut depth = 0usize;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            return i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::leading_comments;

    #[test]
    fn leading_comments_skip_line_and_nested_block_comments() {
        let sql =
            "-- a note\n  /* outer /* inner */ still */\nwith x as (select 1) select * from x";
        assert_eq!(
            &sql[leading_comments(sql)..],
            "with x as (select 1) select * from x"
        );
        assert_eq!(leading_comments("select 1"), 0);
        assert_eq!(leading_comments("-- only a comment"), 17);
        assert_eq!(leading_comments("/* unclosed"), 11);
        // Multi-byte text in a comment keeps the offset on a boundary.
        let sql = "-- naïve\nwith";
        assert_eq!(&sql[leading_comments(sql)..], "with");
    }
}
