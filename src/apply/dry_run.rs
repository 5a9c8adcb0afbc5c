//! `--dry-run`: what would run, in order, and why; changes nothing.

use std::collections::HashMap;

use super::document::PlanLine;
use postgres::Client;

use super::artifacts::{Bundle, Node, StepKind};
use super::connect::Target;
use super::history::HistoryTable;
use super::report::ReportFormat;
use super::runner::Script;
use super::statements::Mode;
use crate::exit_status::ExitStatus;

use super::labels::Labels;
use super::run::table_is_empty;
use super::{connect, plan, ApplyOptions, Out};

/// `--dry-run`: what would run, in order, and why. Reads the history (and,
/// for incremental models, whether their table has rows); changes nothing.
#[allow(clippy::too_many_arguments)] // the pieces `apply` has already built
pub(super) fn dry_run(
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
    let mut lines: Vec<PlanLine> = Vec::new();
    let mut add = |kind: &str, label: String, file: &str, reason: String, transactional: bool| {
        let label = if transactional {
            label
        } else {
            format!("{label} (outside a transaction)")
        };
        lines.push(PlanLine {
            file: file.to_string(),
            kind: kind.to_string(),
            label,
            reason,
            transactional,
        });
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
            println!("  [{:>width$}/{total}] {}: {}", n + 1, l.label, l.reason);
        }
    }
    out.doc.status = Some("dry_run".to_string());
    out.doc.plan = Some(lines);
    out.finish(ExitStatus::Success)
}
