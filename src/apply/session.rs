//! `stackc apply`: the artifacts, the selection and the connection, the
//! lock, the plan, the migrations, the steps, the report.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::exit_status::ExitStatus;

use super::artifacts::{Bundle, StepKind};
use super::dry_run::dry_run;
use super::history::{self, HistoryTable};
use super::labels::Labels;
use super::plan::{self, Refusal};
use super::report::{self, Progress, Status};
use super::run::{changed_rows, Run};
use super::steps::StepGraph;
use super::{connect, connect_to, early_tls, load, lock, prepare_scripts, selected};
use super::{ApplyOptions, Out};

/// `stackc apply`. Returns the exit status: 0 when everything ran (warnings
/// allowed), 1 on any failure or refusal.
pub fn apply(opts: &ApplyOptions) -> ExitStatus {
    let started = Instant::now();
    let mut out = Out::new("apply", opts.format);
    out.set("dry_run", json!(opts.dry_run));
    let tls = early_tls(&opts.dir, opts.database_url.as_deref(), &opts.load);
    let bundle = match load(
        &opts.dir,
        opts.artifacts.as_deref(),
        &opts.load,
        &opts.promote,
        &mut out,
        opts.color,
    ) {
        Ok(b) => b,
        Err(message) => return out.fail("error", &message),
    };
    let chosen = match selected::of_bundle(&bundle, &opts.selection) {
        Ok(c) => c,
        Err(message) => return out.usage(&message),
    };
    for w in &chosen.warnings {
        eprintln!("{w}");
    }
    let selection = (!chosen.whole).then(|| chosen.text.clone());
    out.set("selection", json!(selection));
    let table = HistoryTable {
        schema: bundle.settings.history_schema.clone(),
        table: bundle.settings.history_table.clone(),
    };
    out.set("history_table", json!(table.display()));
    let (target, mut client) = match connect_to(
        &opts.dir,
        opts.database_url.as_deref(),
        &bundle,
        tls,
        opts.full_refresh,
        &mut out,
    ) {
        Ok(c) => c,
        Err(message) => return out.fail("error", &message),
    };
    let key = lock::key(&bundle.settings.name, &table);
    // A dry run only reads, so it neither waits for nor blocks an apply.
    if !opts.dry_run {
        let waiting = |holder: Option<&str>| {
            eprintln!(
                "waiting up to {} s (--lock-timeout) for another apply to finish; the lock is held by {}",
                opts.lock_timeout.as_secs(),
                holder.unwrap_or("another session")
            );
        };
        if let Err(e) = lock::acquire(&mut client, key, opts.lock_timeout, waiting) {
            let message = match e {
                lock::LockError::Timeout { .. } => format!(
                    "{e}; project `{}` on {}, history {}, advisory lock key {key}; nothing was run\nhelp: wait for that apply to finish and apply again, or wait longer with --lock-timeout SECS",
                    bundle.settings.name, target.display, table.display()
                ),
                lock::LockError::Db(e) => format!(
                    "cannot take the apply lock: {}",
                    target.scrub(&connect::error_chain(&e))
                ),
            };
            return out.fail("error", &message);
        }
    }

    let rows = match history::read(&mut client, &table) {
        Ok(rows) => rows,
        Err(e) => {
            return out.fail(
                "error",
                &format!(
                    "cannot read the history table {}: {}",
                    table.display(),
                    target.scrub(&connect::error_chain(&e))
                ),
            )
        }
    };
    let manifest = &bundle.manifest;
    let plan = match plan::migrations(
        &manifest.migrations,
        &|f| bundle.text(f).to_string(),
        rows.as_deref().unwrap_or(&[]),
        opts.out_of_order,
    ) {
        Ok(plan) => plan,
        Err(refusals) => {
            let text = refusals
                .iter()
                .map(|r| explain_refusal(r, &bundle, &table))
                .collect::<Vec<_>>()
                .join("\n");
            return out.fail("refused", &format!("{text}\nnothing was run"));
        }
    };
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    out.set("warnings", json!(plan.warnings));

    // Every file that will run, split and checked before anything runs.
    let graph = StepGraph::build(manifest);
    let mut order = graph.order(&manifest.run_order);
    let mut plan = plan;
    if !chosen.whole {
        let kept = selected::narrow(manifest, &plan.run, &order, &chosen.ids);
        let labels = Labels::new(&bundle);
        let along: Vec<String> = kept
            .cascaded
            .iter()
            .map(|id| labels.node_name(id))
            .collect();
        eprintln!(
            "selection {}: {} of {} steps; {} steps and {} pending migrations not selected are left as they are{}",
            chosen.text,
            kept.order.len(),
            order.len(),
            kept.steps_left,
            kept.migrations_left,
            if along.is_empty() {
                String::new()
            } else {
                format!(
                    "; rebuilt along, as the views on a rebuilt relation are dropped with it: {}",
                    along.join(", ")
                )
            }
        );
        plan.run = kept.migrations;
        order = kept.order;
    }
    let mut files: Vec<&str> = plan
        .run
        .iter()
        .map(|p| manifest.migrations[p.index].file.as_str())
        .collect();
    for &i in &order {
        let step = &manifest.run_order[i];
        files.push(&step.file);
        files.extend(step.full_file.as_deref());
    }
    let scripts = match prepare_scripts(&bundle, &files) {
        Ok(s) => s,
        Err(message) => return out.fail("refused", &format!("{message}\nnothing was run")),
    };

    let labels = Labels::new(&bundle);
    if opts.dry_run {
        return dry_run(
            opts,
            &bundle,
            &plan,
            &order,
            &scripts,
            &labels,
            &mut client,
            &target,
            rows.as_ref().map_or(0, Vec::len),
            &table,
            out,
        );
    }

    if let Err(e) = history::ensure_tables(&mut client, &table) {
        return out.fail(
            "error",
            &format!(
                "cannot create the history tables in schema {}: {}",
                crate::sql::quote_ident(&table.schema),
                target.scrub(&connect::error_chain(&e))
            ),
        );
    }
    let run_id = match history::next_run_id(&mut client, &table) {
        Ok(id) => id,
        Err(e) => {
            return out.fail(
                "error",
                &format!(
                    "cannot start a run in {}: {}",
                    table.run_table_display(),
                    target.scrub(&connect::error_chain(&e))
                ),
            )
        }
    };
    out.set("run_id", json!(run_id));
    eprintln!(
        "apply {} to {} (run {run_id}; history {}): {} to run, {} steps",
        bundle.settings.name,
        target.display,
        table.display(),
        match plan.run.len() {
            1 => "1 migration".to_string(),
            n => format!("{n} migrations"),
        },
        order.len()
    );

    let mut run = Run {
        bundle: &bundle,
        target: &target,
        table: &table,
        client,
        run_id,
        selection: selection.as_deref(),
        step_no: 0,
        buffer: Vec::new(),
        progress: Progress::new(plan.run.len() + order.len(), opts.color),
        items: Vec::new(),
        scripts: &scripts,
        labels: &labels,
        full_refresh: opts.full_refresh,
        warn_error: opts.promote.all,
        fatal: None,
        warnings: Vec::new(),
    };
    let interrupted = stop_on_interrupt();
    let is_interrupted = || interrupted.load(Ordering::SeqCst);
    let mut not_run = 0;
    let mut stopped = false;
    let mut fail_fast_stop = false;
    for (i, planned) in plan.run.iter().enumerate() {
        if is_interrupted() {
            not_run = plan.run.len() - i + order.len();
            stopped = true;
            break;
        }
        let item = run.migration(planned);
        let failed = item.status == Status::Failed;
        run.items.push(item);
        if failed {
            // A failed migration stops the apply: later ones may need it.
            not_run = plan.run.len() - i - 1 + order.len();
            stopped = true;
            break;
        }
    }
    if !stopped {
        let mut skipped: HashMap<String, String> = HashMap::new();
        for (n, &i) in order.iter().enumerate() {
            if run.fatal.is_some() || is_interrupted() {
                not_run = order.len() - n;
                break;
            }
            let step = &manifest.run_order[i];
            if let Some(why) = skipped.get(&step.node) {
                // A skipped table has no changed rows to VACUUM: not a second skip.
                if step.step != StepKind::Vacuum {
                    let item = run.skipped(step, why);
                    run.items.push(item);
                }
                continue;
            }
            if step.step == StepKind::Vacuum && !changed_rows(&run.items, &step.node) {
                // VACUUM only where this apply changed rows.
                continue;
            }
            if step.step == StepKind::Seed {
                if let Some(item) = run.unchanged_seed(step) {
                    run.items.push(item);
                    continue;
                }
            }
            let item = run.step(step);
            let failed = item.status == Status::Failed;
            if failed {
                let why = format!("upstream {} failed", labels.node_name(&step.node));
                for d in graph.downstream(&step.node) {
                    skipped.entry(d.to_string()).or_insert_with(|| why.clone());
                }
            }
            run.items.push(item);
            if failed && opts.fail_fast {
                not_run = order.len() - n - 1;
                fail_fast_stop = true;
                break;
            }
        }
    }
    run.flush();
    if run.fatal.is_none() {
        let _ = lock::release(&mut run.client, key);
    }

    let failed = run.items.iter().any(|i| i.status == Status::Failed) || run.fatal.is_some();
    for w in &run.warnings {
        eprintln!("{w}");
    }
    if let Some(fatal) = &run.fatal {
        eprintln!("error: {fatal}");
    }
    if fail_fast_stop {
        eprintln!("stopped at the first failure (--fail-fast): {not_run} steps not run");
    }
    let interrupted = is_interrupted();
    if interrupted {
        let done = run
            .items
            .iter()
            .filter(|i| i.status != Status::Failed)
            .count();
        eprintln!(
            "interrupted: stopped after the step that was running; {done} finished and are committed, {not_run} not run; nothing was rolled back but a step that failed"
        );
    }
    eprint!(
        "{}",
        report::summary("apply", &run.items, started.elapsed(), not_run)
    );
    let t = report::totals(&run.items);
    out.set("status", json!(if failed { "failed" } else { "success" }));
    out.set("error", json!(run.fatal));
    out.items(&run.items);
    out.set(
        "summary",
        json!({
            "migrations": t.migrations, "steps": t.steps, "ok": t.ok, "warnings": t.warnings,
            "failed": t.failed, "skipped": t.skipped, "not_run": not_run,
            "duration_ms": report::millis(started.elapsed()),
        }),
    );
    if interrupted {
        out.set("status", json!("interrupted"));
        return out.finish(ExitStatus::Interrupted);
    }
    out.finish(ExitStatus::failed_if(failed))
}

/// Ctrl-C during an apply: the step that is running finishes (or fails and
/// rolls back) and nothing after it starts, so that the apply can say what
/// ran; a second Ctrl-C ends the process at once, and the server rolls back
/// the open transaction of the lost session.
fn stop_on_interrupt() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&flag);
    // Fails only when a handler was set already (one apply per process):
    // Ctrl-C then ends the process as it would without one.
    let _ = ctrlc::set_handler(move || {
        if seen.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: stopping now; the server rolls back the step that was running");
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping after the step that is running (Ctrl-C again to stop at once; the server then rolls it back)");
    });
    flag
}

fn explain_refusal(r: &Refusal, bundle: &Bundle, table: &HistoryTable) -> String {
    match r {
        Refusal::Drift {
            script,
            file,
            installed_rank,
            installed_on,
            applied,
            now,
        } => {
            let source = bundle
                .manifest
                .migrations
                .iter()
                .find(|m| &m.file == file)
                .and_then(|m| m.source.as_ref())
                .map_or_else(
                    || bundle.artifact_path(file),
                    |s| bundle.dir.join(s).display().to_string(),
                );
            format!(
                "migration {script} was changed after it was applied (drift): {source}\n  checksum in {} (installed_rank {installed_rank}, applied {installed_on}): {applied}\n  checksum of the file now: {now}\nhelp: an applied migration must not change. Undo the edit (e.g. `git checkout -- {source}`) and put the change in a new migration with a higher version. If the edit changes nothing in the database (a comment, formatting), record the new checksum instead: `update {} set checksum = {now} where installed_rank = {installed_rank};` (what `flyway repair` does)",
                table.display(),
                table.display()
            )
        }
        Refusal::OutOfOrder {
            script,
            version,
            highest,
        } => format!(
            "migration {script} (version {version}) was never applied, but a higher version ({highest}) already was\nhelp: give it a version above {highest}, or pass --out-of-order to apply it anyway"
        ),
        Refusal::Failed {
            script,
            installed_rank,
            installed_on,
        } => format!(
            "migration {script} failed in an earlier apply ({installed_on}, installed_rank {installed_rank}) outside a transaction, so the database may hold part of it\nhelp: finish or undo by hand what the script did, then delete its row: `delete from {} where installed_rank = {installed_rank};` (what `flyway repair` does), and apply again",
            table.display()
        ),
    }
}
