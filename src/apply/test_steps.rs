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
    let fail_calc = node.and_then(|n| n.fail_calc.as_deref());
    let stored = node.and_then(|n| n.store_failures.as_ref());
    let place = |prefix: &str| Place {
        file: bundle.artifact_path(&step.file),
        text,
        statement: Some(range.clone()),
        prefix_chars: prefix.chars().count(),
        source: labels.test_source(step),
        root: bundle.dir.clone(),
        verbatim: false,
    };
    // dbt's store_failures: the rows go to the audit relation (the old one
    // dropped first), and the test reads them from there.
    let from_store;
    let judged = match stored {
        Some(s) => match store_failures(client, s, query) {
            Ok(()) => {
                from_store = format!("select * from {}", s.relation);
                from_store.as_str()
            }
            Err((e, prefix)) => {
                item.status = Status::Failed;
                item.failure = Some(runner::failure(&e, &place(&prefix), target));
                item.duration = start.elapsed();
                return item;
            }
        },
        None => query,
    };
    match runner::count_failures(client, judged, fail_calc) {
        Err(e) => {
            // The position is the query's only when it was sent as it is.
            let prefix = runner::count_prefix(fail_calc);
            let mut at = place(&prefix);
            if stored.is_some() {
                at.statement = None;
            }
            item.status = Status::Failed;
            item.failure = Some(runner::failure(&e, &at, target));
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
                item.sample = runner::sample(client, judged, SAMPLE_ROWS).ok();
            }
        }
    }
    item.duration = start.elapsed();
    item
}

/// Writes a test's failing rows to its audit relation as dbt-postgres
/// does: the schema created if missing, whatever relation has the name
/// dropped (a table or view of an earlier run), then `create table|view
/// ... as` the query. On failure, the error and the text sent before the
/// query (for its position).
fn store_failures(
    client: &mut Client,
    s: &crate::manifest::StoredFailuresInfo<String>,
    query: &str,
) -> Result<(), (postgres::Error, String)> {
    let schema = crate::quoting::quote_ident(&s.schema);
    let kind = if s.kind == "view" { "view" } else { "table" };
    let create = format!("create {kind} {} as (\n", s.relation);
    let mut before = || -> Result<(), postgres::Error> {
        client.batch_execute(&format!("create schema if not exists {schema}"))?;
        let old = client.query(
            "select c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = $1 and c.relname = $2",
            &[&s.schema, &s.identifier],
        )?;
        let drop = match old.first().map(|r| r.get::<_, String>(0)).as_deref() {
            Some("v") => Some("view"),
            Some("m") => Some("materialized view"),
            Some(_) => Some("table"),
            None => None,
        };
        if let Some(drop) = drop {
            client.batch_execute(&format!("drop {drop} if exists {} cascade", s.relation))?;
        }
        Ok(())
    };
    before().map_err(|e| (e, String::new()))?;
    client
        .batch_execute(&format!("{create}{query}\n)"))
        .map_err(|e| (e, create))
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
        root: bundle.dir.clone(),
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
