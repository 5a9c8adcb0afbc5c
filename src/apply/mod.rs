//! `stackc apply` and `stackc test`: run the compiled artifacts against
//! PostgreSQL, safely.
//!
//! An apply, in order:
//! 1. [`artifacts`]: compile the project in memory, or read committed
//!    artifacts and verify them against their manifest;
//! 2. [`connect`]: resolve the connection settings and connect;
//! 3. [`lock`]: take the advisory lock, held to the end;
//! 4. [`history`] and [`plan`]: read the schema history and decide which
//!    migrations run, refusing on drift, out-of-order versions or a failed
//!    earlier migration;
//! 5. [`statements`]: split every file that will run into statements and
//!    check it can run as it is (before running a byte);
//! 6. run the migrations, each in its own transaction with its history
//!    row; a failure stops the apply;
//! 7. run the steps of `run_order` in [`steps`] order, each in its own
//!    transaction; a failure skips what is downstream, the rest still runs;
//! 8. [`report`]: a line per step, a summary, or a JSON document.

pub mod artifacts;
pub mod condition;
pub mod connect;
pub mod history;
pub mod lock;
pub mod plan;
pub mod report;
pub mod runner;
mod source_map;
pub mod statements;
pub mod steps;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postgres::Client;
use serde_json::{json, Value};

use crate::exit_status::ExitStatus;
use artifacts::{Bundle, MigrationEntry, Node, RunEntry, StepKind};
use connect::Target;
use history::{HistoryTable, NewRow, RunRecord};
use plan::{Planned, Refusal};
use report::{Failure, Item, Progress, ReportFormat, Status};
use runner::{Place, Script};
use statements::{Mode, ScriptProblem};
use steps::StepGraph;

/// How many failing rows a test report shows.
const SAMPLE_ROWS: usize = 5;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub dir: PathBuf,
    pub artifacts: Option<PathBuf>,
    pub database_url: Option<String>,
    pub full_refresh: bool,
    pub dry_run: bool,
    pub out_of_order: bool,
    pub lock_timeout: Duration,
    pub format: ReportFormat,
    /// Colour stderr (`--color`, decided by `diagnostic::ColorWhen`).
    pub color: bool,
    /// `--target` / `--profiles-dir` of a dbt project.
    pub load: crate::project::LoadOptions,
    /// `--warn-error` / `--warn-error-options`.
    pub promote: crate::diagnostic::WarnError,
}

#[derive(Debug, Clone)]
pub struct TestOptions {
    pub dir: PathBuf,
    pub artifacts: Option<PathBuf>,
    pub database_url: Option<String>,
    /// Run the unit tests (fixture inputs, expected rows) instead of the
    /// data tests.
    pub unit: bool,
    pub format: ReportFormat,
    /// Colour stderr (`--color`, decided by `diagnostic::ColorWhen`).
    pub color: bool,
    pub load: crate::project::LoadOptions,
    pub promote: crate::diagnostic::WarnError,
}

/// The JSON document of a command, filled as it goes; printed at the end
/// with `--format json`. Human output goes to stderr as it happens.
struct Out {
    format: ReportFormat,
    doc: serde_json::Map<String, Value>,
    /// The steps' failures, as the compiler's diagnostics.
    failures: Vec<crate::diagnostic::Diagnostic>,
    files: crate::diagnostic::SourceFiles,
}

impl Out {
    fn new(command: &str, format: ReportFormat) -> Out {
        let mut doc = serde_json::Map::new();
        doc.insert("command".into(), json!(command));
        Out {
            format,
            doc,
            failures: Vec::new(),
            files: crate::diagnostic::SourceFiles::default(),
        }
    }

    /// The report's steps, and their failures as diagnostics.
    fn items(&mut self, items: &[Item]) {
        self.set(
            "items",
            Value::Array(items.iter().map(Item::to_json).collect()),
        );
        (self.failures, self.files) = report::diagnostics(items);
        let json = self
            .failures
            .iter()
            .map(|d| crate::diagnostic::to_json(d, &self.files))
            .collect();
        self.set("diagnostics", Value::Array(json));
    }

    fn set(&mut self, key: &str, value: Value) {
        self.doc.insert(key.into(), value);
    }

    /// Ends the command with one error message: `status` is `error` (could
    /// not run) or `refused` (would not run).
    fn fail(mut self, status: &str, message: &str) -> ExitStatus {
        eprintln!("error: {message}");
        self.set("status", json!(status));
        self.set("error", json!(message));
        self.finish(ExitStatus::Failure)
    }

    fn finish(self, code: ExitStatus) -> ExitStatus {
        if self.format == ReportFormat::Github {
            let error = self.doc.get("error").and_then(Value::as_str);
            print!(
                "{}",
                report::github_annotations(&self.failures, &self.files, error)
            );
        }
        if self.format == ReportFormat::Json {
            let mut text =
                serde_json::to_string_pretty(&Value::Object(self.doc)).unwrap_or_default();
            text.push('\n');
            print!("{text}");
        }
        code
    }
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Session settings for every connection: a killed apply's session is
/// noticed by the server within a second even in a long statement, so its
/// transaction is rolled back and its lock released promptly. (PostgreSQL
/// 14+; older servers reject the setting, which is then simply not used.)
/// Session settings for every apply. `stackc.full_refresh` tells an
/// incremental model's repeatable migration to rebuild its table when the
/// model's columns changed (see emit's on_schema_change block).
fn prepare_session(client: &mut Client, full_refresh: bool) {
    let _ = client.batch_execute("set client_connection_check_interval = '1s'");
    if full_refresh {
        let _ = client.batch_execute("set stackc.full_refresh = 'on'");
    }
}

fn load(
    dir: &std::path::Path,
    artifacts: Option<&std::path::Path>,
    options: &crate::project::LoadOptions,
    promote: &crate::diagnostic::WarnError,
    out: &mut Out,
    color: bool,
) -> Result<Bundle, String> {
    match artifacts::load(dir, artifacts, options, promote, color) {
        Ok((bundle, printed)) => {
            eprint!("{printed}");
            out.set("project", json!(bundle.settings.name));
            Ok(bundle)
        }
        Err(artifacts::LoadError::Diagnostics(printed)) => {
            eprint!("{printed}");
            Err("the project does not compile; nothing was run".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Where an apply connects: `--database-url`, else (in a dbt project with
/// a profiles.yml) the profile's target, as dbt connects with the profile
/// alone, else the stackc settings (`url_env`, `DATABASE_URL`, `PG*`).
fn resolve_target(
    url: Option<&str>,
    settings: &crate::project::Settings,
    env: &connect::Env,
) -> Result<Target, String> {
    let profile = settings
        .dbt
        .as_ref()
        .and_then(|d| d.target.connection.as_ref());
    match (url, profile) {
        (None, Some(connection)) => {
            let conninfo = connection
                .conninfo()
                .map_err(|why| format!("{}: {why}", connection.origin))?;
            connect::from_profile(&conninfo, &connection.origin, env).map_err(|e| e.to_string())
        }
        _ => connect::resolve(url, settings.url_env.as_deref(), env).map_err(|e| e.to_string()),
    }
}

/// Starts the TLS setup before the compile, so the two overlap: only the
/// settings file is read here; any problem is reported by the real
/// resolution after the compile.
fn early_tls(
    dir: &std::path::Path,
    url: Option<&str>,
    options: &crate::project::LoadOptions,
) -> Option<connect::TlsSetup> {
    let settings = crate::project::load_settings_with(dir, options).ok()?;
    let env = connect::Env::load(dir).ok()?;
    let target = resolve_target(url, &settings, &env).ok()?;
    connect::tls_in_background(&target)
}

fn connect_to(
    dir: &std::path::Path,
    url: Option<&str>,
    bundle: &Bundle,
    tls: Option<connect::TlsSetup>,
    full_refresh: bool,
    out: &mut Out,
) -> Result<(Target, Client), String> {
    let env = connect::Env::load(dir).map_err(|e| e.to_string())?;
    let target = resolve_target(url, &bundle.settings, &env)?;
    out.set("database", json!(target.display));
    let mut client = connect::connect(&target, tls).map_err(|e| e.to_string())?;
    prepare_session(&mut client, full_refresh);
    Ok((target, client))
}

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
    let order = graph.order(&manifest.run_order);
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
            if item.status == Status::Failed {
                let why = format!("upstream {} failed", labels.node_name(&step.node));
                for d in graph.downstream(&step.node) {
                    skipped.entry(d.to_string()).or_insert_with(|| why.clone());
                }
            }
            run.items.push(item);
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

/// Splits and checks each file once. A file that mixes statements that
/// cannot run in a transaction with ones that must, or that manages
/// transactions itself, is refused.
fn prepare_scripts(bundle: &Bundle, files: &[&str]) -> Result<HashMap<String, Script>, String> {
    let mut scripts = HashMap::new();
    let mut problems = Vec::new();
    for &file in files {
        if scripts.contains_key(file) {
            continue;
        }
        let text = bundle.text(file);
        match runner::prepare(text) {
            Ok(script) => {
                scripts.insert(file.to_string(), script);
            }
            Err((statements, problem)) => {
                let at = |i: usize| {
                    let (line, col) = crate::diagnostic::line_col(text, statements[i].range.start);
                    (
                        line,
                        col,
                        statements[i].keywords.first().cloned().unwrap_or_default(),
                    )
                };
                let path = bundle.artifact_path(file);
                problems.push(match problem {
                    ScriptProblem::Mixed {
                        non_transactional,
                        transactional,
                    } => {
                        let (nl, nc, nk) = at(non_transactional);
                        let (tl, _, tk) = at(transactional);
                        format!(
                            "{path}:{nl}:{nc}: `{nk}` cannot run inside a transaction, but the file also has statements that must (line {tl}: `{tk}`)\nhelp: split the file: put the statements that cannot run in a transaction (VACUUM, CREATE INDEX CONCURRENTLY, ...) in a file of their own, which stackc runs outside a transaction"
                        )
                    }
                    ScriptProblem::TransactionControl { statement } => {
                        let (l, c, k) = at(statement);
                        format!(
                            "{path}:{l}:{c}: `{k}` manages the transaction, but stackc runs each file in a transaction of its own (so that a failure leaves nothing half done)\nhelp: remove BEGIN/COMMIT/ROLLBACK from the file"
                        )
                    }
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(scripts)
    } else {
        Err(problems.join("\n"))
    }
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

/// How nodes and files are named to the user.
struct Labels<'a> {
    bundle: &'a Bundle,
    /// Artifact path → node that owns it.
    owner: BTreeMap<&'a str, &'a str>,
    /// Test file → how many tests the manifest places in it.
    tests_in: BTreeMap<&'a str, usize>,
}

impl<'a> Labels<'a> {
    fn new(bundle: &'a Bundle) -> Labels<'a> {
        let mut owner = BTreeMap::new();
        for (id, node) in &bundle.manifest.nodes {
            for a in node.artifacts() {
                owner.insert(a.as_str(), id.as_str());
            }
        }
        let mut tests_in = BTreeMap::new();
        for step in &bundle.manifest.run_order {
            if step.step == StepKind::Test {
                *tests_in.entry(step.file.as_str()).or_default() += 1;
            }
        }
        Labels {
            bundle,
            owner,
            tests_in,
        }
    }

    /// The project file a test comes from: its schema file (a node's tests
    /// share an artifact, but not always a schema file), else the header's.
    fn test_source(&self, step: &RunEntry) -> Option<String> {
        match self.bundle.manifest.nodes.get(&step.node).map(|n| n.file()) {
            Some(file) => Some(file.to_string()),
            None => self.source_of(&step.file).0,
        }
    }

    /// `marts.fact_sales` for a model or seed, the name for a test.
    fn node_name(&self, id: &str) -> String {
        match self.bundle.manifest.nodes.get(id) {
            Some(n) if n.resource_type() == "test" => format!("test {}", n.name()),
            Some(n) => n.relation().unwrap_or(n.name()).to_string(),
            None => id.to_string(),
        }
    }

    /// `view staging.stg_orders` for a generated migration (from its
    /// header), `migration V2__create_raw_orders.sql` for the project's own.
    fn migration(&self, entry: &MigrationEntry) -> String {
        let text = self.bundle.text(&entry.file);
        match (&entry.source, artifacts::header_object(text)) {
            (None, Some((materialization, relation))) => format!("{materialization} {relation}"),
            _ => format!("migration {}", entry.script),
        }
    }

    fn step(&self, step: &RunEntry) -> String {
        let node = self.bundle.manifest.nodes.get(&step.node);
        let relation = node
            .and_then(|n| n.relation())
            .map_or_else(|| step.node.clone(), str::to_string);
        match step.step {
            StepKind::Seed => format!("load {relation}"),
            StepKind::Table => format!("build {relation}"),
            StepKind::Incremental => format!("incremental {relation}"),
            StepKind::Refresh => format!("refresh {relation}"),
            StepKind::Snapshot => format!("snapshot {relation}"),
            StepKind::Vacuum => format!("vacuum {relation}"),
            StepKind::Hook => format!("hook {}", step.node.rsplit('.').next().unwrap_or_default()),
            StepKind::Test => format!("test {}", node.map_or(step.node.as_str(), |n| n.name())),
        }
    }

    /// The project file an artifact comes from, and whether it is a
    /// verbatim copy of it (the project's own migrations).
    fn source_of(&self, file: &str) -> (Option<String>, bool) {
        let in_project = |p: &str| p.to_string();
        let own = self
            .bundle
            .manifest
            .migrations
            .iter()
            .find(|m| m.file == file)
            .and_then(|m| m.source.as_deref());
        match own {
            Some(s) => (Some(in_project(s)), true),
            None => (
                artifacts::header_source(self.bundle.text(file)).map(in_project),
                false,
            ),
        }
    }
}

/// The state of a running apply.
struct Run<'a> {
    bundle: &'a Bundle,
    target: &'a Target,
    table: &'a HistoryTable,
    client: Client,
    run_id: i64,
    step_no: i32,
    /// Run-history records of read-only steps (tests, skips), written with
    /// the next write step's transaction or at the end: a test costs no
    /// commit of its own.
    buffer: Vec<RunRecord>,
    progress: Progress,
    items: Vec<Item>,
    scripts: &'a HashMap<String, Script>,
    labels: &'a Labels<'a>,
    full_refresh: bool,
    /// `--warn-error`: a test that would warn fails.
    warn_error: bool,
    /// The connection was lost: nothing more can run.
    fatal: Option<String>,
    /// Printed after the last step.
    warnings: Vec<String>,
}

fn make_record(step_no: i32, item: &Item, started_at: f64) -> RunRecord {
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
struct TxParts<'p, 'h> {
    run_id: i64,
    /// Buffered run records to write along.
    buffer: &'p [RunRecord],
    /// A migration's schema-history row, given success and elapsed time.
    history_row: Option<&'p dyn Fn(bool, Duration) -> NewRow<'h>>,
    step_no: i32,
    started_at: f64,
    start: Instant,
}

/// One step's transaction: the statements, the history row (migrations),
/// the run records (this step's and the buffered ones), commit. Any error
/// drops the transaction, which rolls it back, records included.
fn in_transaction(
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
    history::insert_runs(&mut tx, table, parts.run_id, &batch).map_err(|e| (e, None))?;
    tx.commit().map_err(|e| (e, None))
}

impl Run<'_> {
    fn next_step_no(&mut self) -> i32 {
        self.step_no += 1;
        self.step_no
    }

    /// Writes the buffered records now (after a failure, and at the end).
    fn flush(&mut self) {
        if self.buffer.is_empty() || self.fatal.is_some() {
            return;
        }
        if let Err(e) =
            history::insert_runs(&mut self.client, self.table, self.run_id, &self.buffer)
        {
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

    fn place<'t>(&self, file: &str, text: &'t str, statement: Option<usize>) -> Place<'t> {
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
    fn check_connection(&mut self) {
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
    fn reset_session(&mut self, script: &Script) {
        if script.changes_session() && self.fatal.is_none() {
            let _ = self.client.batch_execute("reset all");
            prepare_session(&mut self.client, self.full_refresh);
        }
    }

    /// Ends a failed step: its record is written now.
    fn fail(&mut self, item: &mut Item, failure: Failure, step_no: i32, started_at: f64) {
        item.status = Status::Failed;
        item.failure = Some(failure);
        self.check_connection();
        self.buffer.push(make_record(step_no, item, started_at));
        self.flush();
    }

    /// Runs one file in its own transaction, or statement by statement
    /// outside one. `history_row` is a migration's schema-history row.
    fn run_file<'h>(
        &mut self,
        item: &mut Item,
        file: &str,
        history_row: Option<&dyn Fn(bool, Duration) -> NewRow<'h>>,
    ) {
        let bundle = self.bundle;
        let text = bundle.text(file);
        let scripts = self.scripts;
        let script = &scripts[file];
        let step_no = self.next_step_no();
        let started_at = epoch_seconds();
        let start = Instant::now();
        match script.mode {
            Mode::Transactional => {
                let parts = TxParts {
                    run_id: self.run_id,
                    buffer: &self.buffer,
                    history_row,
                    step_no,
                    started_at,
                    start,
                };
                match in_transaction(&mut self.client, self.table, text, script, &parts, item) {
                    Ok(()) => self.buffer.clear(),
                    Err((e, statement)) => {
                        item.duration = start.elapsed();
                        let mut f =
                            runner::failure(&e, &self.place(file, text, statement), self.target);
                        f.note = Some(if history_row.is_some() {
                            "the migration was rolled back: nothing of it remains, and it has no history row; the apply stops here".into()
                        } else {
                            "the step was rolled back: the data is as before it".into()
                        });
                        self.fail(item, f, step_no, started_at);
                    }
                }
            }
            Mode::NonTransactional => {
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
                            (Some(r), None) => history::insert(
                                &mut self.client,
                                self.table,
                                &r(false, item.duration),
                            )
                            .ok(),
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
        }
        self.reset_session(script);
    }

    fn migration(&mut self, planned: &Planned) -> Item {
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

    fn skipped(&mut self, step: &RunEntry, why: &str) -> Item {
        let mut item = Item::new(
            step.step.as_str(),
            self.labels.step(step),
            step.file.clone(),
        );
        item.node = Some(step.node.clone());
        item.status = Status::Skipped;
        item.skipped_because = Some(why.to_string());
        self.progress.skipped(&item);
        let step_no = self.next_step_no();
        self.buffer
            .push(make_record(step_no, &item, epoch_seconds()));
        item
    }

    /// A seed whose table already holds this CSV's rows (its load left the
    /// marker comment `emit::seed_marker` describes) is not loaded again.
    fn unchanged_seed(&mut self, step: &RunEntry) -> Option<Item> {
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

    fn step(&mut self, step: &RunEntry) -> Item {
        let mut item = Item::new(
            step.step.as_str(),
            self.labels.step(step),
            step.file.clone(),
        );
        item.node = Some(step.node.clone());
        if step.step == StepKind::Test {
            self.progress.start(&item.label);
            let step_no = self.next_step_no();
            let started_at = epoch_seconds();
            item = run_test(
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
            return item;
        }
        // Which file: an incremental model loads from scratch when asked
        // to, or when its table is empty (the first load).
        let file = match (step.step, &step.full_file) {
            (StepKind::Incremental, Some(full)) => {
                let relation = self
                    .bundle
                    .manifest
                    .nodes
                    .get(&step.node)
                    .and_then(|n| n.relation().map(str::to_string));
                let decision = if self.full_refresh && step.full_refresh != Some(false) {
                    Ok((true, "full refresh: --full-refresh".to_string()))
                } else {
                    match &relation {
                        Some(r) => table_is_empty(&mut self.client, r).map(|empty| {
                            if empty {
                                (true, format!("first load: {r} is empty"))
                            } else {
                                (false, format!("incremental: {r} has rows"))
                            }
                        }),
                        None => Ok((true, "first load".to_string())),
                    }
                };
                match decision {
                    Ok((use_full, reason)) => {
                        item.reason = reason;
                        if use_full {
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
                }
            }
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
}

/// Whether the data step of `node` ran in this apply and changed rows.
fn changed_rows(items: &[Item], node: &str) -> bool {
    items
        .iter()
        .rev()
        .find(|i| i.node.as_deref() == Some(node) && i.kind != "vacuum")
        .is_some_and(|i| {
            matches!(i.status, Status::Ok | Status::Warn) && i.rows_affected.unwrap_or(0) > 0
        })
}

/// The comment on a relation (a seed table's load marker), if any.
fn table_comment(client: &mut Client, relation: &str) -> Result<Option<String>, postgres::Error> {
    let row = client.query_one(
        "select obj_description(to_regclass($1), 'pg_class')",
        &[&relation],
    )?;
    Ok(row.get(0))
}

/// Whether a table has no rows (an incremental model's first load).
fn table_is_empty(client: &mut Client, relation: &str) -> Result<bool, postgres::Error> {
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
fn warn_is_error(item: &mut Item, warn_error: bool) {
    if warn_error && item.status == Status::Warn {
        item.status = Status::Failed;
        item.reason = format!("{}, an error under --warn-error", item.reason);
    }
}

fn run_test(
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
                root: bundle.dir.clone(),
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
fn run_unit(
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

/// `--dry-run`: what would run, in order, and why. Reads the history (and,
/// for incremental models, whether their table has rows); changes nothing.
#[allow(clippy::too_many_arguments)] // the pieces `apply` has already built
fn dry_run(
    opts: &ApplyOptions,
    bundle: &Bundle,
    plan: &plan::Plan,
    order: &[usize],
    scripts: &HashMap<String, Script>,
    labels: &Labels<'_>,
    client: &mut Client,
    target: &Target,
    history_rows: usize,
    table: &HistoryTable,
    mut out: Out,
) -> ExitStatus {
    let manifest = &bundle.manifest;
    let mut lines: Vec<Value> = Vec::new();
    let mut add = |kind: &str, label: String, file: &str, reason: String, transactional: bool| {
        let label = if transactional {
            label
        } else {
            format!("{label} (outside a transaction)")
        };
        lines.push(json!({"kind": kind, "label": label, "file": file, "reason": reason, "transactional": transactional}));
    };
    for p in &plan.run {
        let entry = &manifest.migrations[p.index];
        let label = match labels.migration(entry) {
            l if l.starts_with("migration ") => l,
            l => format!("{l} ({})", entry.script),
        };
        let transactional = scripts[&entry.file].mode == Mode::Transactional;
        add(
            "migration",
            label,
            &entry.file,
            p.reason.to_string(),
            transactional,
        );
    }
    for &i in order {
        let step = &manifest.run_order[i];
        let node = manifest.nodes.get(&step.node);
        let (reason, file) = match (step.step, &step.full_file) {
            (StepKind::Test, _) => {
                let test = node.and_then(Node::test);
                let warn_if = test.map_or("!= 0", |n| n.warn_if.as_str());
                let reason = match test.map(|n| n.severity.as_str()) {
                    Some("warn") => format!("test, severity warn: warns if failing rows {warn_if}"),
                    _ => format!(
                        "test: fails if failing rows {}, warns if {warn_if}",
                        test.map_or("!= 0", |n| n.error_if.as_str())
                    ),
                };
                (reason, step.file.as_str())
            }
            (StepKind::Incremental, Some(full)) => {
                let relation = node.and_then(Node::relation).unwrap_or_default();
                let exists = client
                    .query_one("select to_regclass($1) is not null", &[&relation])
                    .map(|r| r.get::<_, bool>(0))
                    .unwrap_or(false);
                if opts.full_refresh && step.full_refresh != Some(false) {
                    ("full refresh: --full-refresh".into(), full.as_str())
                } else if !exists {
                    (
                        format!("first load: {relation} does not exist yet"),
                        full.as_str(),
                    )
                } else {
                    match table_is_empty(client, relation) {
                        Ok(true) => (format!("first load: {relation} is empty"), full.as_str()),
                        Ok(false) => (
                            format!("incremental: {relation} has rows"),
                            step.file.as_str(),
                        ),
                        Err(e) => (
                            format!("cannot tell: {}", target.scrub(&connect::error_chain(&e))),
                            step.file.as_str(),
                        ),
                    }
                }
            }
            _ => ("data step".into(), step.file.as_str()),
        };
        let transactional = scripts[file].mode == Mode::Transactional;
        add(
            step.step.as_str(),
            labels.step(step),
            file,
            reason,
            transactional,
        );
    }
    let total = lines.len();
    let width = total.to_string().len();
    if opts.format == ReportFormat::Human {
        println!(
            "dry run: {} on {} (history {}: {history_rows} rows); nothing is changed",
            bundle.settings.name,
            target.display,
            table.display()
        );
        if plan.run.is_empty() {
            println!("no migration to run: the database is up to date with the artifacts");
        }
        println!("would run, in order:");
        for (n, l) in lines.iter().enumerate() {
            println!(
                "  [{:>width$}/{total}] {}: {}",
                n + 1,
                l["label"].as_str().unwrap_or(""),
                l["reason"].as_str().unwrap_or("")
            );
        }
    }
    out.set("status", json!("dry_run"));
    out.set("plan", Value::Array(lines));
    out.finish(ExitStatus::Success)
}

/// `stackc test`: runs the tests of the artifacts against the database as
/// it is, and reports each failure with its count and a sample. Read-only:
/// no lock, no history.
pub fn test(opts: &TestOptions) -> ExitStatus {
    let started = Instant::now();
    let mut out = Out::new("test", opts.format);
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
    let tests: Vec<&RunEntry> = bundle
        .manifest
        .run_order
        .iter()
        .filter(|s| s.step == StepKind::Test && !opts.unit)
        .collect();
    let units: Vec<&artifacts::UnitTest> = bundle
        .manifest
        .unit_tests
        .iter()
        .filter(|_| opts.unit)
        .collect();
    let files: Vec<&str> = tests
        .iter()
        .map(|s| s.file.as_str())
        .chain(units.iter().map(|u| u.file.as_str()))
        .collect();
    let scripts = match prepare_scripts(&bundle, &files) {
        Ok(s) => s,
        Err(message) => return out.fail("error", &message),
    };
    let (target, mut client) = match connect_to(
        &opts.dir,
        opts.database_url.as_deref(),
        &bundle,
        tls,
        false,
        &mut out,
    ) {
        Ok(c) => c,
        Err(message) => return out.fail("error", &message),
    };
    let labels = Labels::new(&bundle);
    let mut progress = Progress::new(tests.len() + units.len(), opts.color);
    let mut items = Vec::new();
    let runs = tests.into_iter().map(Ok).chain(units.into_iter().map(Err));
    for test in runs {
        let item = match test {
            Ok(step) => {
                let item = Item::new("test", labels.step(step), step.file.clone());
                progress.start(&item.label);
                let mut item =
                    run_test(&mut client, &bundle, &target, &scripts, &labels, step, item);
                warn_is_error(&mut item, opts.promote.all);
                item
            }
            Err(unit) => {
                let model = labels.node_name(&unit.model);
                let item = Item::new(
                    "unit",
                    format!("unit {model} {}", unit.name),
                    unit.file.clone(),
                );
                progress.start(&item.label);
                run_unit(&mut client, &bundle, &target, &scripts, &labels, unit, item)
            }
        };
        progress.finish(&item);
        let lost = item.failure.is_some() && client.is_closed();
        items.push(item);
        if lost {
            return out.fail(
                "error",
                &format!("the connection to {} was lost", target.display),
            );
        }
    }
    eprint!("{}", report::summary("test", &items, started.elapsed(), 0));
    let failed = items.iter().any(|i| i.status == Status::Failed);
    let t = report::totals(&items);
    out.set("status", json!(if failed { "failed" } else { "success" }));
    out.items(&items);
    out.set(
        "summary",
        json!({
            "tests": t.steps, "ok": t.ok, "warnings": t.warnings, "failed": t.failed,
            "duration_ms": report::millis(started.elapsed()),
        }),
    );
    out.finish(ExitStatus::failed_if(failed))
}
