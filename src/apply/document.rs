//! The JSON document of `stackc apply` and `stackc test` (`--format json`):
//! serde types, filled as the command goes and printed at its end. A key a
//! command never reached is left out; one it reached without a value is
//! `null`. Fields are in alphabetical order, the order of the keys.

use serde::Serialize;

use super::report::Item;

#[derive(Serialize, Default)]
pub(super) struct Document {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The steps' failures, as the compiler's JSON diagnostics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Item>>,
    /// What a dry run would run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanLine>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// The selection as written, `null` for the whole project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// One step a dry run would run.
#[derive(Serialize)]
pub(super) struct PlanLine {
    pub file: String,
    pub kind: String,
    pub label: String,
    pub reason: String,
    pub transactional: bool,
}

/// The counts of an apply (`migrations`, `skipped`, `steps`) or of a test
/// run (`tests`).
#[derive(Serialize, Default)]
pub(super) struct Summary {
    pub duration_ms: u64,
    pub failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<usize>,
    pub not_run: usize,
    pub ok: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<usize>,
    pub warnings: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::report::{Failure, Location, Sample};

    /// The document's keys, at every level, are in alphabetical order, as
    /// they were when it was a `serde_json::Map`: a round trip through
    /// `Value` (which sorts them) writes the same text.
    #[test]
    fn the_keys_are_in_alphabetical_order() {
        let mut item = Item::new("table", "build s.m".into(), "run/000_m.sql".into());
        let at = Location {
            column: 1,
            file: "run/000_m.sql".into(),
            line: 2,
            line_text: "select".into(),
        };
        item.failure = Some(Failure {
            location: Some(at.clone()),
            source_location: Some(at),
            ..Failure::plain("boom")
        });
        item.sample = Some(Sample {
            columns: vec!["a".into()],
            rows: vec![vec![None]],
        });
        let doc = Document {
            command: "apply".into(),
            database: Some("db".into()),
            diagnostics: Some(Vec::new()),
            dry_run: Some(false),
            error: Some(None),
            history_table: Some("public.h".into()),
            items: Some(vec![item]),
            plan: Some(vec![PlanLine {
                file: "f".into(),
                kind: "k".into(),
                label: "l".into(),
                reason: "r".into(),
                transactional: true,
            }]),
            project: Some("p".into()),
            run_id: Some(1),
            selection: Some(None),
            status: Some("success".into()),
            summary: Some(Summary {
                migrations: Some(1),
                skipped: Some(0),
                steps: Some(1),
                tests: Some(0),
                ..Summary::default()
            }),
            warnings: Some(Vec::new()),
        };
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let sorted = serde_json::to_string_pretty(&serde_json::to_value(&doc).unwrap()).unwrap();
        assert_eq!(text, sorted);
        assert!(!text.contains("line_text"), "{text}");
    }
}
