//! `stackc apply`: the artifacts, the selection and the connection, the
//! lock, the plan, the migrations, the steps, the report.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::exit_status::ExitStatus;
use crate::selection::Selected;

use postgres::Client;

use super::artifacts::{Bundle, StepKind};
use super::connect::Target;
use super::dry_run::dry_run;
use super::history::{self, HistoryTable};
use super::labels::Labels;
use super::plan::{self, Refusal};
use super::report::{self, Progress, Status};
use super::run::{changed_rows, Run};
use super::runner::Script;
use super::steps::StepGraph;
use super::{connect, connect_to, load, lock, prepare_scripts, selected};
use super::{ApplyOptions, Out};

/// Why an apply ends before its first migration.
enum Stop {
    /// It could not run (compile errors, no connection, no lock).
    Error(String),
    /// It would not run (drift, a file that cannot run as it is).
    Refused(String),
    /// The selection cannot be read: exit 2.
    Usage(String),
}

impl Stop {
    fn end(self, out: Out) -> ExitStatus {
        match self {
            Stop::Error(message) => out.fail("error", &message),
            Stop::Refused(message) => out.fail("refused", &message),
            Stop::Usage(message) => out.usage(&message),
        }
    }
}

/// What the prepare pass makes: the artifacts, what is selected, the
/// history table and the connection.
struct Session {
    bundle: Bundle,
    chosen: Selected,
    /// The selection as written, for the run history; `None`: everything.
    selection: Option<String>,
    table: HistoryTable,
    target: Target,
    client: Client,
}

/// What the plan pass decides: the migrations and steps that run, each
/// file split and checked.
struct Work {
    plan: plan::Plan,
    /// Indices into `run_order`, in the order they run.
    order: Vec<usize>,
    scripts: HashMap<String, Script>,
    graph: StepGraph,
    /// Rows the schema history had.
    history_rows: usize,
}

/// How far the migrate and run passes got.
#[derive(Default)]
struct Ran {
    /// Migrations and steps that did not start.
    not_run: usize,
    /// A migration failed, or Ctrl-C: no step runs.
    stopped: bool,
    /// `--fail-fast` stopped the steps at a failure.
    fail_fast: bool,
}

/// `stackc apply`. Returns the exit status: 0 when everything ran (warnings
/// allowed), 1 on any failure or refusal.
pub fn apply(opts: &ApplyOptions) -> ExitStatus {
    let started = Instant::now();
    let mut out = Out::new("apply", opts.format);
    out.doc.dry_run = Some(opts.dry_run);
    let ready = prepare(opts, &mut out).and_then(|mut session| {
        let key = take_lock(opts, &mut session)?;
        let work = plan(opts, &mut session, &mut out)?;
        Ok((session, key, work))
    });
    let (mut session, key, work) = match ready {
        Ok(ready) => ready,
        Err(stop) => return stop.end(out),
    };
    if opts.dry_run {
        let labels = Labels::new(&session.bundle);
        return dry_run(
            opts,
            &session.bundle,
            &work.plan,
            &work.order,
            &work.scripts,
            &labels,
            &mut session.client,
            &session.target,
            work.history_rows,
            &session.table,
            out,
        );
    }
    let run_id = match start_run(&mut session, &work, &mut out) {
        Ok(id) => id,
        Err(stop) => return stop.end(out),
    };
    let labels = Labels::new(&session.bundle);
    let mut run = Run {
        bundle: &session.bundle,
        target: &session.target,
        table: &session.table,
        client: session.client,
        run_id,
        selection: session.selection.as_deref(),
        step_no: 0,
        buffer: Vec::new(),
        progress: Progress::new(work.plan.run.len() + work.order.len(), opts.color),
        items: Vec::new(),
        scripts: &work.scripts,
        labels: &labels,
        full_refresh: opts.full_refresh,
        warn_error: opts.promote.all,
        fail_fast: opts.fail_fast,
        fatal: None,
        warnings: Vec::new(),
    };
    let interrupted = stop_on_interrupt();
    // Node id -> why it is not run (something it is built on failed).
    let mut skipped: HashMap<String, String> = HashMap::new();
    let mut ran = migrate(&mut run, &work, &mut skipped, &interrupted);
    if !ran.stopped {
        ran = run_steps(&mut run, &work, opts, &mut skipped, &interrupted);
    }
    run.flush();
    if run.fatal.is_none() {
        let _ = lock::release(&mut run.client, key);
    }
    report(&run, &ran, interrupted.load(Ordering::SeqCst), started, out)
}

/// Compiles the project (or reads its artifacts), reads the selection and
/// connects.
fn prepare(opts: &ApplyOptions, out: &mut Out) -> Result<Session, Stop> {
    let bundle = load(
        &opts.dir,
        opts.artifacts.as_deref(),
        &opts.load,
        &opts.promote,
        out,
        opts.color,
    )
    .map_err(Stop::Error)?;
    let chosen = selected::of_bundle(&bundle, &opts.selection).map_err(Stop::Usage)?;
    for w in &chosen.warnings {
        eprintln!("{w}");
    }
    let selection = (!chosen.whole).then(|| chosen.text.clone());
    out.doc.selection = Some(selection.clone());
    let table = HistoryTable {
        schema: bundle.settings.history_schema.clone(),
        table: bundle.settings.history_table.clone(),
    };
    out.doc.history_table = Some(table.display());
    let (target, client) = connect_to(
        &opts.dir,
        opts.database_url.as_deref(),
        &bundle,
        opts.full_refresh,
        out,
    )
    .map_err(Stop::Error)?;
    Ok(Session {
        bundle,
        chosen,
        selection,
        table,
        target,
        client,
    })
}

/// Takes the advisory lock of the project's history, held to the end;
/// returns its key.
fn take_lock(opts: &ApplyOptions, session: &mut Session) -> Result<i64, Stop> {
    let Session {
        bundle,
        table,
        target,
        client,
        ..
    } = session;
    let key = lock::key(&bundle.settings.name, table);
    // A dry run only reads, so it neither waits for nor blocks an apply.
    if opts.dry_run {
        return Ok(key);
    }
    let waiting = |holder: Option<&str>| {
        eprintln!(
            "waiting up to {} s (--lock-timeout) for another apply to finish; the lock is held by {}",
            opts.lock_timeout.as_secs(),
            holder.unwrap_or("another session")
        );
    };
    if let Err(e) = lock::acquire(client, key, opts.lock_timeout, waiting) {
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
        return Err(Stop::Error(message));
    }
    Ok(key)
}

/// Reads the schema history, decides which migrations run (refusing on
/// drift, out-of-order versions or a failed migration), narrows both to
/// the selection, and splits and checks every file that will run before
/// anything runs.
fn plan(opts: &ApplyOptions, session: &mut Session, out: &mut Out) -> Result<Work, Stop> {
    let Session {
        bundle,
        chosen,
        table,
        target,
        client,
        ..
    } = session;
    let rows = history::read(client, table).map_err(|e| {
        Stop::Error(format!(
            "cannot read the history table {}: {}",
            table.display(),
            target.scrub(&connect::error_chain(&e))
        ))
    })?;
    let manifest = &bundle.manifest;
    let mut plan = plan::migrations(
        &manifest.migrations,
        &|f| bundle.text(f).to_string(),
        rows.as_deref().unwrap_or(&[]),
        opts.out_of_order,
    )
    .map_err(|refusals| {
        let text = refusals
            .iter()
            .map(|r| explain_refusal(r, bundle, table))
            .collect::<Vec<_>>()
            .join("\n");
        Stop::Refused(format!("{text}\nnothing was run"))
    })?;
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    out.doc.warnings = Some(plan.warnings.clone());

    let graph = StepGraph::build(manifest);
    let mut order = graph.order(&manifest.run_order);
    if !chosen.whole {
        let text = |f: &str| bundle.text(f).to_string();
        let kept = selected::narrow(manifest, &plan.run, &order, &chosen.ids, &text);
        let labels = Labels::new(bundle);
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
                    "; rebuilt along, as a rebuilt relation's views and the foreign keys on it are dropped with it: {}",
                    along.join(", ")
                )
            }
        );
        plan.run = kept.migrations;
        order = kept.order;
    }
    match super::cascade::lost_to_cascade(client, manifest, &plan.run, opts.full_refresh) {
        Ok(lost) => plan
            .warnings
            .extend(lost.into_iter().inspect(|w| eprintln!("warning: {w}"))),
        Err(e) => eprintln!(
            "warning: cannot list the views and foreign keys the rebuilds drop along: {}",
            target.scrub(&connect::error_chain(&e))
        ),
    }
    out.doc.warnings = Some(plan.warnings.clone());
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
    let scripts = prepare_scripts(bundle, &files)
        .map_err(|message| Stop::Refused(format!("{message}\nnothing was run")))?;
    Ok(Work {
        plan,
        order,
        scripts,
        graph,
        history_rows: rows.as_ref().map_or(0, Vec::len),
    })
}
/// Creates the history tables if need be and starts a run in the run
/// history; returns its id.
fn start_run(session: &mut Session, work: &Work, out: &mut Out) -> Result<i64, Stop> {
    let Session {
        bundle,
        table,
        target,
        client,
        ..
    } = session;
    history::ensure_tables(client, table).map_err(|e| {
        Stop::Error(format!(
            "cannot create the history tables in schema {}: {}",
            crate::sql::quote_ident(&table.schema),
            target.scrub(&connect::error_chain(&e))
        ))
    })?;
    let run_id = history::next_run_id(client, table).map_err(|e| {
        Stop::Error(format!(
            "cannot start a run in {}: {}",
            table.run_table_display(),
            target.scrub(&connect::error_chain(&e))
        ))
    })?;
    out.doc.run_id = Some(run_id);
    eprintln!(
        "apply {} to {} (run {run_id}; history {}): {} to run, {} steps",
        bundle.settings.name,
        target.display,
        table.display(),
        match work.plan.run.len() {
            1 => "1 migration".to_string(),
            n => format!("{n} migrations"),
        },
        work.order.len()
    );
    Ok(run_id)
}

/// Runs the migrations, each in its own transaction with its history row.
/// A failed node migration (a view, a table's DDL) skips what is built on
/// the node, and the rest goes on, as `dbt build` does; any other failed
/// migration stops the apply, as later ones may need it (Flyway's rule).
fn migrate(
    run: &mut Run<'_>,
    work: &Work,
    skipped: &mut HashMap<String, String>,
    interrupted: &AtomicBool,
) -> Ran {
    let (migrations, steps) = (work.plan.run.len(), work.order.len());
    for (i, planned) in work.plan.run.iter().enumerate() {
        if run.fatal.is_some() || interrupted.load(Ordering::SeqCst) {
            return Ran {
                not_run: migrations - i + steps,
                stopped: true,
                fail_fast: false,
            };
        }
        let file = run.bundle.manifest.migrations[planned.index].file.as_str();
        let owner = run.labels.owner.get(file).copied();
        if let Some((node, why)) = owner.and_then(|n| skipped.get(n).map(|why| (n, why))) {
            let item = run.skipped_migration(planned, node, why);
            run.items.push(item);
            continue;
        }
        let item = run.migration(planned);
        let failed = item.status == Status::Failed;
        run.items.push(item);
        if !failed {
            continue;
        }
        match owner {
            Some(node) if run.failure_goes_on(file) && run.fatal.is_none() => {
                skip_downstream(run, work, skipped, node);
                let script = file.strip_prefix("migrations/").unwrap_or(file);
                skipped.insert(node.to_string(), format!("its migration {script} failed"));
            }
            _ => {
                return Ran {
                    not_run: migrations - i - 1 + steps,
                    stopped: true,
                    fail_fast: run.fail_fast && owner.is_some(),
                }
            }
        }
    }
    Ran::default()
}

/// Marks everything downstream of failed `node` as skipped, naming it.
fn skip_downstream(run: &Run<'_>, work: &Work, skipped: &mut HashMap<String, String>, node: &str) {
    let why = format!("upstream {} failed", run.labels.node_name(node));
    for d in work.graph.downstream(node) {
        skipped.entry(d.to_string()).or_insert_with(|| why.clone());
    }
}

/// Runs the steps in order, each in its own transaction; a failed one
/// skips what is downstream of it, the rest still runs.
fn run_steps(
    run: &mut Run<'_>,
    work: &Work,
    opts: &ApplyOptions,
    skipped: &mut HashMap<String, String>,
    interrupted: &AtomicBool,
) -> Ran {
    let manifest = &run.bundle.manifest;
    for (n, &i) in work.order.iter().enumerate() {
        if run.fatal.is_some() || interrupted.load(Ordering::SeqCst) {
            return Ran {
                not_run: work.order.len() - n,
                ..Ran::default()
            };
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
            skip_downstream(run, work, skipped, &step.node);
        }
        run.items.push(item);
        if failed && opts.fail_fast {
            return Ran {
                not_run: work.order.len() - n - 1,
                stopped: false,
                fail_fast: true,
            };
        }
    }
    Ran::default()
}

/// What ran, on stderr and in the JSON document; the exit status.
fn report(
    run: &Run<'_>,
    ran: &Ran,
    interrupted: bool,
    started: Instant,
    mut out: Out,
) -> ExitStatus {
    let not_run = ran.not_run;
    let failed = run.items.iter().any(|i| i.status == Status::Failed) || run.fatal.is_some();
    for w in &run.warnings {
        eprintln!("{w}");
    }
    if let Some(fatal) = &run.fatal {
        eprintln!("error: {fatal}");
    }
    if ran.fail_fast {
        eprintln!("stopped at the first failure (--fail-fast): {not_run} steps not run");
    }
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
    out.doc.status = Some(if failed { "failed" } else { "success" }.to_string());
    out.doc.error = Some(run.fatal.clone());
    out.items(&run.items);
    out.doc.summary = Some(super::document::Summary {
        migrations: Some(t.migrations),
        steps: Some(t.steps),
        ok: t.ok,
        warnings: t.warnings,
        failed: t.failed,
        skipped: Some(t.skipped),
        not_run,
        duration_ms: report::millis(started.elapsed()),
        ..Default::default()
    });
    if interrupted {
        out.doc.status = Some("interrupted".to_string());
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
