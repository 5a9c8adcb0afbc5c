//! The state of a running apply and its steps: each in its transaction,
//! recorded in the history table.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::Client;

use super::artifacts::{Bundle, RunEntry, StepKind};
use super::connect::Target;
use super::history::{HistoryTable, NewRow, RunRecord};
use super::plan::Planned;
use super::report::{Failure, Item, Progress, Status};
use super::runner::{Place, Script};
use super::statements::Mode;

use super::labels::Labels;
use super::test_steps::run_test;
use super::{connect, epoch_seconds, history, prepare_session, runner};

/// The state of a running apply.
pub(super) struct Run<'a> {
    pub(super) bundle: &'a Bundle,
    pub(super) target: &'a Target,
    pub(super) table: &'a HistoryTable,
    pub(super) client: Client,
    pub(super) run_id: i64,
    /// The selection, as written, in every run-history row; `None`: the
    /// whole project.
    pub(super) selection: Option<&'a str>,
    pub(super) step_no: i32,
    /// Run-history records of read-only steps (tests, skips), written with
    /// the next write step's transaction or at the end: a test costs no
    /// commit of its own.
    pub(super) buffer: Vec<RunRecord>,
    pub(super) progress: Progress,
    pub(super) items: Vec<Item>,
    pub(super) scripts: &'a HashMap<String, Script>,
    pub(super) labels: &'a Labels<'a>,
    pub(super) full_refresh: bool,
    /// `--warn-error`: a test that would warn fails.
    pub(super) warn_error: bool,
    /// `--fail-fast`: the first failure ends the apply, a node's migration
    /// too.
    pub(super) fail_fast: bool,
    /// The connection was lost: nothing more can run.
    pub(super) fatal: Option<String>,
    /// Printed after the last step.
    pub(super) warnings: Vec<String>,
}

pub(super) fn make_record(step_no: i32, item: &Item, started_at: f64) -> RunRecord {
    RunRecord {
        step_no,
        step: item.kind,
        node: item.node.clone(),
        file: item.file.clone(),
        status: item.status.as_str(),
        rows_affected: item
            .rows_affected
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        failures: item.failures,
        duration_ms: i32::try_from(item.duration.as_millis()).unwrap_or(i32::MAX),
        // For a skipped step, why: `upstream marts.fact_sales failed`.
        error: item
            .failure
            .as_ref()
            .map(Failure::one_line)
            .or_else(|| item.skipped_because.clone()),
        started_at,
    }
}

/// What one step's transaction holds besides its statements.
pub(super) struct TxParts<'p, 'h> {
    pub(super) run_id: i64,
    pub(super) selection: Option<&'p str>,
    /// Buffered run records to write along.
    pub(super) buffer: &'p [RunRecord],
    /// A migration's schema-history row, given success and elapsed time.
    pub(super) history_row: Option<&'p dyn Fn(bool, Duration) -> NewRow<'h>>,
    pub(super) step_no: i32,
    pub(super) started_at: f64,
    pub(super) start: Instant,
}

/// One step's transaction: the statements, the history row (migrations),
/// the run records (this step's and the buffered ones), commit. Any error
/// drops the transaction, which rolls it back, records included.
pub(super) fn in_transaction(
    client: &mut Client,
    table: &HistoryTable,
    text: &str,
    script: &Script,
    parts: &TxParts<'_, '_>,
    item: &mut Item,
) -> Result<(), (postgres::Error, Option<usize>)> {
    let mut tx = client.transaction().map_err(|e| (e, None))?;
    let rows = runner::execute(&mut tx, text, script).map_err(|e| (e.error, Some(e.statement)))?;
    if let Some(row) = parts.history_row {
        history::insert(&mut tx, table, &row(true, parts.start.elapsed()))
            .map_err(|e| (e, None))?;
    }
    item.rows_affected = Some(rows);
    item.duration = parts.start.elapsed();
    let mut batch = parts.buffer.to_vec();
    batch.push(make_record(parts.step_no, item, parts.started_at));
    history::insert_runs(&mut tx, table, parts.run_id, parts.selection, &batch)
        .map_err(|e| (e, None))?;
    tx.commit().map_err(|e| (e, None))
}

impl Run<'_> {
    pub(super) fn next_step_no(&mut self) -> i32 {
        self.step_no += 1;
        self.step_no
    }

    /// Writes the buffered records now (after a failure, and at the end).
    pub(super) fn flush(&mut self) {
        if self.buffer.is_empty() || self.fatal.is_some() {
            return;
        }
        if let Err(e) = history::insert_runs(
            &mut self.client,
            self.table,
            self.run_id,
            self.selection,
            &self.buffer,
        ) {
            self.check_connection();
            // A lost connection is said once, at the end; anything else
            // waits for the end too, not to break into a progress line.
            if self.fatal.is_none() {
                self.warnings.push(format!(
                    "warning: cannot write to {}: {}",
                    self.table.run_table_display(),
                    self.target.scrub(&connect::error_chain(&e))
                ));
            }
        }
        self.buffer.clear();
    }

    pub(super) fn place<'t>(
        &self,
        file: &str,
        text: &'t str,
        statement: Option<usize>,
    ) -> Place<'t> {
        let script = &self.scripts[file];
        let (source, verbatim) = self.labels.source_of(file);
        Place {
            file: self.bundle.artifact_path(file),
            text,
            statement: statement.map(|i| script.statements[i].range.clone()),
            prefix_chars: 0,
            source,
            root: self.bundle.dir.clone(),
            verbatim,
        }
    }

    /// After an error: is the connection still there? `is_closed` lags
    /// behind a connection the server ended (a terminated backend, a
    /// restart during a VACUUM), so an empty query asks; later steps are
    /// then "not run", not "upstream failed".
    pub(super) fn check_connection(&mut self) {
        if self.fatal.is_some() {
            return;
        }
        if self.client.is_closed() || self.client.is_valid(Duration::from_secs(5)).is_err() {
            self.fatal = Some(format!(
                "the connection to {} was lost; the rest was not run (the server rolls back the open transaction and releases the lock of a lost session)",
                self.target.display
            ));
        }
    }

    /// Resets what a file's top-level `SET` changed for the session.
    pub(super) fn reset_session(&mut self, script: &Script) {
        if script.changes_session() && self.fatal.is_none() {
            let _ = self.client.batch_execute("reset all");
            prepare_session(&mut self.client, self.full_refresh);
        }
    }

    /// Ends a failed step: its record is written now.
    pub(super) fn fail(
        &mut self,
        item: &mut Item,
        failure: Failure,
        step_no: i32,
        started_at: f64,
    ) {
        item.status = Status::Failed;
        item.failure = Some(failure);
        self.check_connection();
        self.buffer.push(make_record(step_no, item, started_at));
        self.flush();
    }

    /// Runs one file in its own transaction, or statement by statement
    /// outside one. `history_row` is a migration's schema-history row.
    pub(super) fn run_file<'h>(
        &mut self,
        item: &mut Item,
        file: &str,
        history_row: Option<&dyn Fn(bool, Duration) -> NewRow<'h>>,
    ) {
        let script = &self.scripts[file];
        let clock = Clock {
            step_no: self.next_step_no(),
            started_at: epoch_seconds(),
            start: Instant::now(),
        };
        match script.mode {
            Mode::Transactional => self.run_in_transaction(item, file, history_row, clock),
            Mode::NonTransactional => self.run_outside_transaction(item, file, history_row, clock),
        }
        self.reset_session(script);
    }

    fn run_in_transaction<'h>(
        &mut self,
        item: &mut Item,
        file: &str,
        history_row: Option<&dyn Fn(bool, Duration) -> NewRow<'h>>,
        clock: Clock,
    ) {
        let text = self.bundle.text(file);
        let script = &self.scripts[file];
        let parts = TxParts {
            run_id: self.run_id,
            selection: self.selection,
            buffer: &self.buffer,
            history_row,
            step_no: clock.step_no,
            started_at: clock.started_at,
            start: clock.start,
        };
        match in_transaction(&mut self.client, self.table, text, script, &parts, item) {
            Ok(()) => self.buffer.clear(),
            Err((e, statement)) => {
                item.duration = clock.start.elapsed();
                let mut f = runner::failure(&e, &self.place(file, text, statement), self.target);
                f.note = Some(if history_row.is_some() && self.failure_goes_on(file) {
                    "the migration was rolled back: nothing of it remains, and it has no history row; what is built on it is skipped, the rest of the apply goes on".into()
                } else if history_row.is_some() {
                    "the migration was rolled back: nothing of it remains, and it has no history row; the apply stops here".into()
                } else {
                    "the step was rolled back: the data is as before it".into()
                });
                self.fail(item, f, clock.step_no, clock.started_at);
            }
        }
    }

    /// A file that cannot run in a transaction: a failure leaves the
    /// statements before it applied, and a migration's row says so.
    fn run_outside_transaction<'h>(
        &mut self,
        item: &mut Item,
        file: &str,
        history_row: Option<&dyn Fn(bool, Duration) -> NewRow<'h>>,
        clock: Clock,
    ) {
        let text = self.bundle.text(file);
        let script = &self.scripts[file];
        let Clock {
            step_no,
            started_at,
            start,
        } = clock;
        let result = runner::execute(&mut self.client, text, script);
        item.duration = start.elapsed();
        match result {
            Ok(rows) => {
                item.rows_affected = Some(rows);
                let written = history_row.map(|r| {
                    history::insert(&mut self.client, self.table, &r(true, item.duration))
                });
                if let Some(Err(e)) = written {
                    let f = Failure::plain(format!(
                        "the migration ran, but its history row could not be written: {}",
                        self.target.scrub(&connect::error_chain(&e))
                    ));
                    self.fail(item, f, step_no, started_at);
                } else {
                    self.buffer.push(make_record(step_no, item, started_at));
                    self.flush();
                }
            }
            Err(e) => {
                let mut f = runner::failure(
                    &e.error,
                    &self.place(file, text, Some(e.statement)),
                    self.target,
                );
                self.check_connection();
                let rank = match (history_row, &self.fatal) {
                    (Some(r), None) => {
                        history::insert(&mut self.client, self.table, &r(false, item.duration)).ok()
                    }
                    _ => None,
                };
                f.note = Some(match (history_row, rank) {
                    (Some(_), Some(rank)) => format!(
                        "this migration runs outside a transaction: the statements before the failing one stay applied. It is recorded as failed (installed_rank {rank}), and apply refuses to run until you finish or undo it by hand and delete that row: `delete from {} where installed_rank = {rank};`",
                        self.table.display()
                    ),
                    (Some(_), None) => "this migration runs outside a transaction: the statements before the failing one stay applied; finish or undo it by hand before applying again".into(),
                    (None, _) => "this step runs outside a transaction: the statements before the failing one stay applied".into(),
                });
                self.fail(item, f, step_no, started_at);
            }
        }
    }

    pub(super) fn migration(&mut self, planned: &Planned) -> Item {
        let bundle = self.bundle;
        let entry = &bundle.manifest.migrations[planned.index];
        let script = &self.scripts[&entry.file];
        let mut item = Item::new(
            "migration",
            self.labels.migration(entry),
            entry.file.clone(),
        );
        item.node = self
            .labels
            .owner
            .get(entry.file.as_str())
            .map(|s| s.to_string());
        item.reason = planned.reason.to_string();
        item.checksum = Some(planned.checksum);
        item.transactional = script.mode == Mode::Transactional;
        if !item.transactional {
            item.label.push_str(" (outside a transaction)");
        }
        self.progress.start(&item.label);
        let row = |success: bool, elapsed: Duration| NewRow {
            version: entry.version.as_deref(),
            description: &entry.description,
            script: &entry.script,
            checksum: planned.checksum,
            execution_ms: i32::try_from(elapsed.as_millis()).unwrap_or(i32::MAX),
            success,
        };
        self.run_file(&mut item, &entry.file, Some(&row));
        self.progress.finish(&item);
        item
    }

    /// Whether the apply goes on after migration `file` failed in its
    /// transaction: yes for a node's generated migration (a view, a
    /// table's DDL), as `dbt build` goes on after a failed model, skipping
    /// what is built on it; no for the project's own migrations (Flyway
    /// stops: a later version may need the failed one) and with
    /// `--fail-fast`.
    pub(super) fn failure_goes_on(&self, file: &str) -> bool {
        !self.fail_fast
            && self.labels.owner.contains_key(file)
            && self
                .scripts
                .get(file)
                .is_some_and(|s| s.mode == Mode::Transactional)
    }

    /// A node's migration not run because something it is built on failed:
    /// it has no history row, so the next apply runs it.
    pub(super) fn skipped_migration(&mut self, planned: &Planned, node: &str, why: &str) -> Item {
        let entry = &self.bundle.manifest.migrations[planned.index];
        let mut item = Item::new(
            "migration",
            self.labels.migration(entry),
            entry.file.clone(),
        );
        item.node = Some(node.to_string());
        item.reason = planned.reason.to_string();
        item.checksum = Some(planned.checksum);
        self.record_skip(item, why)
    }

    /// Marks `item` skipped for `why`: shown, and a row of the run history.
    fn record_skip(&mut self, mut item: Item, why: &str) -> Item {
        item.status = Status::Skipped;
        item.skipped_because = Some(why.to_string());
        self.progress.skipped(&item);
        let step_no = self.next_step_no();
        self.buffer
            .push(make_record(step_no, &item, epoch_seconds()));
        item
    }

    pub(super) fn skipped(&mut self, step: &RunEntry, why: &str) -> Item {
        let mut item = Item::new(
            step.step.as_str(),
            self.labels.step(step),
            step.file.clone(),
        );
        item.node = Some(step.node.clone());
        self.record_skip(item, why)
    }

    /// A seed whose table already holds this CSV's rows (its load left the
    /// marker comment `emit::seed_marker` describes) is not loaded again.
    pub(super) fn unchanged_seed(&mut self, step: &RunEntry) -> Option<Item> {
        let node = self.bundle.manifest.nodes.get(&step.node)?.seed()?;
        let (file, checksum, relation) = (&node.file, &node.checksum, &node.relation);
        let marker = crate::manifest::seed_marker(file, checksum);
        let comment = table_comment(&mut self.client, relation).ok()??;
        if comment != marker {
            return None;
        }
        let mut item = Item::new(
            step.step.as_str(),
            self.labels.step(step),
            step.file.clone(),
        );
        item.node = Some(step.node.clone());
        item.reason = format!("unchanged: {file} is loaded");
        item.label.push_str(" (unchanged, not reloaded)");
        item.rows_affected = Some(0);
        self.progress.start(&item.label);
        self.progress.finish(&item);
        let step_no = self.next_step_no();
        self.buffer
            .push(make_record(step_no, &item, epoch_seconds()));
        Some(item)
    }

    pub(super) fn step(&mut self, step: &RunEntry) -> Item {
        let mut item = Item::new(
            step.step.as_str(),
            self.labels.step(step),
            step.file.clone(),
        );
        item.node = Some(step.node.clone());
        if step.step == StepKind::Test {
            return self.test(step, item);
        }
        // Which file: an incremental model loads from scratch when asked
        // to, or when its table is empty (the first load).
        let file = match (step.step, &step.full_file) {
            (StepKind::Incremental, Some(full)) => match self.incremental_load(step) {
                Ok(load) => {
                    item.reason = load.reason;
                    if load.full {
                        full.clone()
                    } else {
                        step.file.clone()
                    }
                }
                Err(e) => {
                    self.progress.start(&item.label);
                    let step_no = self.next_step_no();
                    let f = runner::failure(&e, &self.place(&step.file, "", None), self.target);
                    self.fail(&mut item, f, step_no, epoch_seconds());
                    self.progress.finish(&item);
                    return item;
                }
            },
            _ => {
                item.reason = "data step".into();
                step.file.clone()
            }
        };
        item.file = file.clone();
        item.transactional = self.scripts[&file].mode == Mode::Transactional;
        if !item.transactional {
            item.label.push_str(" (outside a transaction)");
        }
        if step.step == StepKind::Incremental {
            item.label = format!("{} ({})", item.label, item.reason);
        }
        self.progress.start(&item.label);
        self.run_file(&mut item, &file, None);
        self.progress.finish(&item);
        item
    }

    /// A test step: read-only, so its record waits in the buffer.
    fn test(&mut self, step: &RunEntry, item: Item) -> Item {
        self.progress.start(&item.label);
        let step_no = self.next_step_no();
        let started_at = epoch_seconds();
        let mut item = run_test(
            &mut self.client,
            self.bundle,
            self.target,
            self.scripts,
            self.labels,
            step,
            item,
        );
        warn_is_error(&mut item, self.warn_error);
        self.progress.finish(&item);
        if item.failure.is_some() {
            self.check_connection();
        }
        self.buffer.push(make_record(step_no, &item, started_at));
        item
    }

    /// Whether an incremental model with a full-load file loads from scratch.
    fn incremental_load(&mut self, step: &RunEntry) -> Result<Load, postgres::Error> {
        if self.full_refresh && step.full_refresh != Some(false) {
            return Ok(Load {
                full: true,
                reason: "full refresh: --full-refresh".to_string(),
            });
        }
        let relation = self
            .bundle
            .manifest
            .nodes
            .get(&step.node)
            .and_then(|n| n.relation().map(str::to_string));
        let Some(r) = relation else {
            return Ok(Load {
                full: true,
                reason: "first load".to_string(),
            });
        };
        let empty = table_is_empty(&mut self.client, &r)?;
        Ok(if empty {
            Load {
                full: true,
                reason: format!("first load: {r} is empty"),
            }
        } else {
            Load {
                full: false,
                reason: format!("incremental: {r} has rows"),
            }
        })
    }
}

/// When a step started: its number in the run, the wall clock for the run
/// history, and an instant for its duration.
#[derive(Clone, Copy)]
struct Clock {
    step_no: i32,
    started_at: f64,
    start: Instant,
}

/// How an incremental model loads, and why.
struct Load {
    /// From scratch (its full-load file), not incrementally.
    full: bool,
    reason: String,
}

/// Whether the data step of `node` ran in this apply and changed rows.
pub(super) fn changed_rows(items: &[Item], node: &str) -> bool {
    items
        .iter()
        .rev()
        .find(|i| i.node.as_deref() == Some(node) && i.kind != "vacuum")
        .is_some_and(|i| {
            matches!(i.status, Status::Ok | Status::Warn) && i.rows_affected.unwrap_or(0) > 0
        })
}

/// The comment on a relation (a seed table's load marker), if any.
pub(super) fn table_comment(
    client: &mut Client,
    relation: &str,
) -> Result<Option<String>, postgres::Error> {
    let row = client.query_one(
        "select obj_description(to_regclass($1), 'pg_class')",
        &[&relation],
    )?;
    Ok(row.get(0))
}

/// Whether a table has no rows (an incremental model's first load).
pub(super) fn table_is_empty(client: &mut Client, relation: &str) -> Result<bool, postgres::Error> {
    // `relation` is the manifest's SQL name of the model, quoted as needed.
    // The simple protocol: one round trip.
    let messages = client.simple_query(&format!("select not exists (select from {relation})"))?;
    Ok(messages
        .iter()
        .any(|m| matches!(m, postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("t"))))
}

/// Runs one test: counts its failing rows, judges them by severity,
/// `error_if` and `warn_if`, and samples a few when there are any.
/// dbt's `--warn-error` on a test result: a test that would warn fails.
pub(super) fn warn_is_error(item: &mut Item, warn_error: bool) {
    if warn_error && item.status == Status::Warn {
        item.status = Status::Failed;
        item.reason = format!("{}, an error under --warn-error", item.reason);
    }
}
