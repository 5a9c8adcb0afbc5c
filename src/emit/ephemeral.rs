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
    let lower = body.to_ascii_lowercase();
    let after_with = ["with recursive", "with"]
        .iter()
        .find(|w| lower.starts_with(*w) && lower[w.len()..].starts_with(char::is_whitespace))
        .map(|w| w.len());
    match after_with {
        Some(n) => format!(
            "{} {},\n{}\n",
            &body[..n],
            ctes.join(",\n"),
            body[n..].trim_start()
        ),
        None => format!("with {}\n{body}\n", ctes.join(",\n")),
    }
}
