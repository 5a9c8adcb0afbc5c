//! The run scripts and test files of `run/`: their steps, headers and
//! fingerprints.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::naming::fit_path;
use crate::naming::hex;

use crate::manifest::{StepKind, HEADER_OBJECT, HEADER_SOURCE};
use crate::relation::Relation;
use crate::sql::comment;

use super::ephemeral::with_ephemerals;
use super::{Cx, RunStep, TestPosition, DO_NOT_EDIT, NODES_PER_TASK};

/// What a model's run files are made of.
pub(super) struct RunFiles<'a> {
    /// `run/NNN_<model>`: each file adds its suffix.
    pub(super) stem: String,
    pub(super) header: &'a str,
    pub(super) full_sql: &'a str,
    pub(super) contract: Option<&'a [String]>,
    /// dbt's pre- and post-hooks, as SQL.
    pub(super) pre: &'a str,
    pub(super) post: &'a str,
}

/// A run step of `node` in `file`, with no position in it yet.
pub(super) fn run_step(node: &str, file: &str, kind: StepKind) -> RunStep {
    RunStep {
        file: file.to_string(),
        full_file: None,
        full_refresh: None,
        line: None,
        node: node.to_string(),
        statement: None,
        step: kind,
    }
}

/// The data tests of each node, one file a node (`run/NNN_<node>.tests.sql`)
/// with one query a test in the order of their names, each headed by a
/// comment naming it: (path, text, where each test's query is).
pub(super) type TestsFile = (String, String, Vec<(String, TestPosition)>);

pub(super) fn tests_files(cx: &Cx<'_>) -> Vec<TestsFile> {
    let resolved = cx.resolved;
    let mut by_node: BTreeMap<&str, Vec<&crate::node::DataTest>> = BTreeMap::new();
    for t in &resolved.tests {
        by_node.entry(t.attached_to.as_str()).or_default().push(t);
    }
    let groups: Vec<(&str, Vec<&crate::node::DataTest>)> = by_node.into_iter().collect();
    groups
        .into_par_iter()
        .with_max_len(NODES_PER_TASK)
        .map(|(node, mut tests)| {
            tests.sort_by(|a, b| (&a.name, &a.unique_id).cmp(&(&b.name, &b.unique_id)));
            // `stg_orders` for a model or seed, `raw.orders` for a source table.
            let attached = node
                .strip_prefix(&cx.source_prefix)
                .unwrap_or_else(|| node.rsplit('.').next().unwrap_or(node));
            let level = resolved.graph.level_of(node);
            let path = fit_path(format!("run/{level:03}_{attached}.tests.sql"));
            let sources: BTreeSet<&str> = tests.iter().map(|t| &*t.span.file).collect();
            let sources: Vec<String> = sources.into_iter().map(|s| comment(s).into_owned()).collect();
            let mut text = format!(
                "-- stackc: tests of {}\n-- source: {}\n-- The rows each query returns are failures; `stackc apply` runs each as a step of its own.\n{DO_NOT_EDIT}",
                comment(attached),
                sources.join(", "),
            );
            let mut positions = Vec::with_capacity(tests.len());
            for (statement, t) in tests.into_iter().enumerate() {
                let head = format!(
                    "\n-- test {} ({} on {}{})\n-- source: {}; severity: {}, error_if: {}, warn_if: {}\n",
                    comment(&t.name),
                    comment(&t.kind),
                    comment(attached),
                    t.column
                        .as_ref()
                        .map(|c| format!(".{}", comment(c)))
                        .unwrap_or_default(),
                    comment(&t.span.file),
                    t.severity.as_str(),
                    comment(&t.error_if),
                    comment(&t.warn_if),
                );
                text.push_str(&head);
                // A test of (or reading) an ephemeral model reads it as a
                // CTE, as the models that ref it do.
                let refs: Vec<String> = t
                    .depends_on
                    .iter()
                    .filter_map(|id| id.strip_prefix(&cx.model_prefix))
                    .map(str::to_string)
                    .collect();
                let wrapped = if refs.iter().any(|r| cx.ephemeral_sql.contains_key(r)) {
                    std::borrow::Cow::Owned(with_ephemerals(&t.sql, &refs, resolved, &cx.ephemeral_sql))
                } else {
                    std::borrow::Cow::Borrowed(t.sql.as_str())
                };
                let sql = wrapped.trim_end().trim_end_matches(';').trim_end();
                let line = query_line(&text, sql);
                text.push_str(sql);
                // On a line of its own: a query may end in a `--` comment.
                text.push_str("\n;\n");
                positions.push((
                    t.unique_id.clone(),
                    TestPosition {
                        path: path.clone(),
                        statement,
                        line,
                    },
                ));
            }
            (path, text, positions)
        })
        .collect()
}

/// The 1-based line on which `sql`, appended to `before`, has its first
/// non-blank line.
pub(super) fn query_line(before: &str, sql: &str) -> usize {
    let blank = sql.len() - sql.trim_start().len();
    let newlines = |s: &str| s.bytes().filter(|&b| b == b'\n').count();
    newlines(before) + newlines(&sql[..blank]) + 1
}

pub(super) const RUN_NOTE: &str =
    "-- `stackc apply` runs this step in one transaction (with psql: `psql -1 -f`).\n";

pub(super) fn header(kind: &str, relation: &Relation, file: &str, materialization: &str) -> String {
    format!(
        "{HEADER_OBJECT}{kind} {} ({})\n{HEADER_SOURCE}{}\n",
        comment(&relation.to_string()),
        comment(materialization),
        comment(file)
    )
}

pub(super) fn fingerprint_line(parents: &[usize], fingerprints: &[Option<String>]) -> String {
    let upstream: Vec<&str> = parents
        .iter()
        .filter_map(|&p| fingerprints[p].as_deref())
        .collect();
    if upstream.is_empty() {
        "-- upstream: none\n".to_string()
    } else {
        format!("-- upstream: {}\n", &digest(&upstream)[..16])
    }
}

pub(super) fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lines_count_the_header_and_leading_blank_lines() {
        assert_eq!(query_line("", "select 1"), 1);
        assert_eq!(query_line("-- a\n-- b\n", "select 1"), 3);
        assert_eq!(query_line("-- a\n", "\n\n  select 1"), 4);
    }

    #[test]
    fn header_comments_cannot_be_ended_by_names_or_paths() {
        let r = Relation {
            schema: "s".into(),
            name: "x\ndrop table raw.orders cascade;\n--".into(),
            quote: false,
            cte: None,
        };
        let h = header(
            "model",
            &r,
            "models/x/sub\ndrop table raw.orders;\n--/nl.sql",
            "view",
        );
        assert_eq!(h.lines().count(), 2, "{h}");
        assert!(h.lines().all(|l| l.starts_with("-- ")), "{h}");
    }
}
