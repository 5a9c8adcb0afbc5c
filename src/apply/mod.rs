//! `stackc apply` and `stackc test`: run the compiled artifacts against
//! PostgreSQL, safely.
//!
//! An apply, in order (the passes of `session`):
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
//!    row; a failed node migration skips what is downstream, a failed
//!    migration of the project's own stops the apply;
//! 7. run the steps of `run_order` in [`steps`] order, each in its own
//!    transaction; a failure skips what is downstream, the rest still runs;
//! 8. [`report`]: a line per step, a summary, or a JSON document.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postgres::Client;

use crate::exit_status::ExitStatus;
use artifacts::{Bundle, RunEntry, StepKind};
use connect::Target;
use report::{Item, Progress, ReportFormat, Status};
use runner::Script;
use statements::ScriptProblem;

mod document;
mod dry_run;
mod labels;
mod run;
mod session;
mod test_steps;

use self::labels::Labels;
use self::run::warn_is_error;
use self::test_steps::{run_test, run_unit};

pub use self::session::apply;

pub mod artifacts;
mod cascade;
pub mod condition;
pub mod connect;
pub mod history;
pub mod lock;
pub mod plan;
pub mod report;
pub mod runner;
pub mod selected;
mod source_map;
pub mod statements;
pub mod steps;

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
    /// `-s`, `--exclude`, `--selector`: run only these steps (see
    /// [`selected`]).
    pub selection: crate::selection::SelectionArgs,
    /// `--fail-fast`: stop at the first failure.
    pub fail_fast: bool,
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
    pub selection: crate::selection::SelectionArgs,
    pub fail_fast: bool,
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
    doc: document::Document,
    /// The steps' failures, as the compiler's diagnostics.
    failures: Vec<crate::diagnostic::Diagnostic>,
    files: crate::diagnostic::SourceFiles,
}

impl Out {
    fn new(command: &str, format: ReportFormat) -> Out {
        Out {
            format,
            doc: document::Document {
                command: command.to_string(),
                ..Default::default()
            },
            failures: Vec::new(),
            files: crate::diagnostic::SourceFiles::default(),
        }
    }

    /// The report's steps, and their failures as diagnostics.
    fn items(&mut self, items: &[Item]) {
        self.doc.items = Some(items.to_vec());
        (self.failures, self.files) = report::diagnostics(items);
        let json = self
            .failures
            .iter()
            .map(|d| crate::diagnostic::to_json(d, &self.files))
            .collect();
        self.doc.diagnostics = Some(json);
    }

    /// Ends the command with one error message: `status` is `error` (could
    /// not run) or `refused` (would not run).
    fn fail(mut self, status: &str, message: &str) -> ExitStatus {
        eprintln!("error: {message}");
        self.doc.status = Some(status.to_string());
        self.doc.error = Some(Some(message.to_string()));
        self.finish(ExitStatus::Failure)
    }

    /// Ends the command on a usage problem (a selection that cannot be
    /// read): exit 2, nothing run.
    fn usage(mut self, message: &str) -> ExitStatus {
        eprintln!("error: {message}");
        self.doc.status = Some("error".to_string());
        self.doc.error = Some(Some(message.to_string()));
        self.finish(ExitStatus::Error)
    }

    fn finish(self, code: ExitStatus) -> ExitStatus {
        if self.format == ReportFormat::Github {
            let error = self.doc.error.clone().flatten();
            print!(
                "{}",
                report::github_annotations(&self.failures, &self.files, error.as_deref())
            );
        }
        if self.format == ReportFormat::Json {
            let mut text = serde_json::to_string_pretty(&self.doc).unwrap_or_default();
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
            out.doc.project = Some(bundle.settings.name.clone());
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

fn connect_to(
    dir: &std::path::Path,
    url: Option<&str>,
    bundle: &Bundle,
    full_refresh: bool,
    out: &mut Out,
) -> Result<(Target, Client), String> {
    let env = connect::Env::load(dir).map_err(|e| e.to_string())?;
    let target = resolve_target(url, &bundle.settings, &env)?;
    out.doc.database = Some(target.display.clone());
    let mut client = connect::connect(&target).map_err(|e| e.to_string())?;
    prepare_session(&mut client, full_refresh);
    Ok((target, client))
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

/// `stackc test`: runs the tests of the artifacts against the database as
/// it is, and reports each failure with its count and a sample. Read-only:
/// no lock, no history.
pub fn test(opts: &TestOptions) -> ExitStatus {
    let started = Instant::now();
    let mut out = Out::new("test", opts.format);
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
    out.doc.selection = Some((!chosen.whole).then(|| chosen.text.clone()));
    let picked = |id: &str| chosen.whole || chosen.ids.contains(id);
    let tests: Vec<&RunEntry> = bundle
        .manifest
        .run_order
        .iter()
        .filter(|s| s.step == StepKind::Test && !opts.unit && picked(&s.node))
        .collect();
    let graph = crate::select::Graph::from_manifest(&bundle.manifest);
    let units: Vec<&artifacts::UnitTest> = crate::selection::unit_tests(&bundle.manifest, &graph)
        .into_iter()
        .filter(|(id, _)| opts.unit && picked(id))
        .map(|(_, unit)| unit)
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
        false,
        &mut out,
    ) {
        Ok(c) => c,
        Err(message) => return out.fail("error", &message),
    };
    let labels = Labels::new(&bundle);
    let mut progress = Progress::new(tests.len() + units.len(), opts.color);
    let mut items = Vec::new();
    let total = tests.len() + units.len();
    let mut not_run = 0;
    let runs = tests.into_iter().map(Ok).chain(units.into_iter().map(Err));
    for (n, test) in runs.enumerate() {
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
        let failed = item.status == Status::Failed;
        items.push(item);
        if lost {
            return out.fail(
                "error",
                &format!("the connection to {} was lost", target.display),
            );
        }
        if failed && opts.fail_fast {
            not_run = total - n - 1;
            eprintln!("stopped at the first failure (--fail-fast): {not_run} tests not run");
            break;
        }
    }
    eprint!(
        "{}",
        report::summary("test", &items, started.elapsed(), not_run)
    );
    let failed = items.iter().any(|i| i.status == Status::Failed);
    let t = report::totals(&items);
    out.doc.status = Some(if failed { "failed" } else { "success" }.to_string());
    out.items(&items);
    out.doc.summary = Some(document::Summary {
        tests: Some(t.steps),
        ok: t.ok,
        warnings: t.warnings,
        failed: t.failed,
        not_run,
        duration_ms: report::millis(started.elapsed()),
        ..Default::default()
    });
    out.finish(ExitStatus::failed_if(failed))
}
