//! Data tests and unit tests run as steps: their rows, severity and outcome.

use std::collections::HashMap;
use std::time::Instant;

use postgres::Client;

use super::artifacts::{Bundle, Node, RunEntry};
use super::connect::Target;
use super::report::{Failure, Item, Status};
use super::runner::{Place, Script};

use super::labels::Labels;
use super::{artifacts, condition, report, runner, SAMPLE_ROWS};

pub(super) fn run_test(
    client: &mut Client,
    bundle: &Bundle,
    target: &Target,
    scripts: &HashMap<String, Script>,
    labels: &Labels<'_>,
    step: &RunEntry,
    mut item: Item,
) -> Item {
    let start = Instant::now();
    item.node = Some(step.node.clone());
    let node = bundle.manifest.nodes.get(&step.node).and_then(Node::test);
    let severity_error = node.map(|n| n.severity.as_str()) != Some("warn");
    let condition =
        |c: Option<&String>| condition::Condition::parse(c.map_or("!= 0", String::as_str));
    let text = bundle.text(&step.file);
    let prepared = condition(node.map(|n| &n.error_if))
        .and_then(|e| condition(node.map(|n| &n.warn_if)).map(|w| (e, w)))
        .and_then(|c| {
            let tests = labels
                .tests_in
                .get(step.file.as_str())
                .copied()
                .unwrap_or(1);
            let statement = step.statement.unwrap_or(0);
            runner::test_query(text, &scripts[&step.file], statement, tests).map(|q| (c, q))
        });
    let ((error_if, warn_if), (query, range)) = match prepared {
        Ok(p) => p,
        Err(message) => {
            item.status = Status::Failed;
            item.failure = Some(Failure {
                message,
                source: labels.test_source(step),
                ..Failure::plain(String::new())
            });
            item.duration = start.elapsed();
            return item;
        }
    };
    match runner::count_failures(client, query) {
        Err(e) => {
            let place = Place {
                file: bundle.artifact_path(&step.file),
                text,
                statement: Some(range),
                prefix_chars: runner::COUNT_PREFIX.chars().count(),
                source: labels.test_source(step),
                verbatim: false,
            };
            item.status = Status::Failed;
            item.failure = Some(runner::failure(&e, &place, target));
        }
        Ok(n) => {
            item.failures = Some(n);
            match condition::verdict(severity_error, error_if, warn_if, n) {
                condition::Verdict::Pass => {}
                condition::Verdict::Warn(c) => {
                    item.status = Status::Warn;
                    item.reason = format!("warn_if {c}");
                }
                condition::Verdict::Error(c) => {
                    item.status = Status::Failed;
                    item.reason = format!("error_if {c}");
                }
            }
            if n > 0 {
                // A sample is a courtesy: if it cannot be read, the count stands.
                item.sample = runner::sample(client, query, SAMPLE_ROWS).ok();
            }
        }
    }
    item.duration = start.elapsed();
    item
}

/// Runs one unit test in a transaction that is rolled back: the script's
/// statements, then its check query, whose rows are the differences
/// between the model's output and the expected rows.
pub(super) fn run_unit(
    client: &mut Client,
    bundle: &Bundle,
    target: &Target,
    scripts: &HashMap<String, Script>,
    labels: &Labels<'_>,
    unit: &artifacts::UnitTest,
    mut item: Item,
) -> Item {
    let start = Instant::now();
    item.node = Some(unit.model.clone());
    let text = bundle.text(&unit.file);
    let script = &scripts[&unit.file];
    // The check is the statement after the `-- stackc: check` line.
    let marker = text.find(crate::manifest::CHECK_MARKER).unwrap_or(0);
    let check = script
        .statements
        .iter()
        .rposition(|s| s.range.start >= marker);
    let (source, _) = labels.source_of(&unit.file);
    let place = |statement: Option<usize>| Place {
        file: bundle.artifact_path(&unit.file),
        text,
        statement: statement.map(|i| script.statements[i].range.clone()),
        prefix_chars: 0,
        source: source.clone(),
        verbatim: false,
    };
    let Some(check) = check else {
        item.status = Status::Failed;
        item.failure = Some(Failure::plain("the unit test script has no check query"));
        return item;
    };
    let result = (|| -> Result<report::Sample, (postgres::Error, Option<usize>)> {
        let mut tx = client.transaction().map_err(|e| (e, None))?;
        for (i, s) in script.statements[..check].iter().enumerate() {
            tx.simple_query(&text[s.range.clone()])
                .map_err(|e| (e, Some(i)))?;
        }
        let rows = tx
            .simple_query(&text[script.statements[check].range.clone()])
            .map_err(|e| (e, Some(check)))?;
        // Nothing of a unit test stays: its temporary tables go with it.
        tx.rollback().map_err(|e| (e, None))?;
        Ok(runner::sample_of(&rows))
    })();
    match result {
        Ok(differences) => {
            let n = differences.rows.len();
            item.failures = Some(i64::try_from(n).unwrap_or(i64::MAX));
            if n > 0 {
                item.status = Status::Failed;
                item.reason = "the model's rows differ from the expected rows".into();
                item.sample = Some(report::Sample {
                    columns: differences.columns,
                    rows: differences.rows.into_iter().take(SAMPLE_ROWS).collect(),
                });
            }
        }
        Err((e, statement)) => {
            item.status = Status::Failed;
            item.failure = Some(runner::failure(&e, &place(statement), target));
        }
    }
    item.duration = start.elapsed();
    item
}
