//! Which migrations run, and why: the artifacts against the schema history,
//! by Flyway's rules. Pure data in, data out; nothing here talks to the
//! database.

use std::collections::BTreeMap;
use std::fmt;

use super::artifacts::{MigrationEntry, MigrationType};
use super::history::{flyway_checksum, AppliedRow};
use crate::project::{parse_migration_name, MigrationKind};

/// Why a migration is in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A versioned migration never applied.
    Pending,
    /// A versioned migration below the highest applied one (`--out-of-order`).
    OutOfOrder { highest: String },
    /// A repeatable migration never applied.
    New,
    /// A repeatable migration whose checksum differs from its last run.
    ChecksumChanged { was: Option<i32> },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Pending => f.write_str("pending"),
            Reason::OutOfOrder { highest } => {
                write!(
                    f,
                    "pending, out of order (highest applied version {highest})"
                )
            }
            Reason::New => f.write_str("new"),
            Reason::ChecksumChanged { was: Some(was) } => {
                write!(f, "checksum changed (was {was})")
            }
            Reason::ChecksumChanged { was: None } => f.write_str("checksum changed"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Index into the manifest's `migrations`.
    pub index: usize,
    pub checksum: i32,
    pub reason: Reason,
}

/// Why nothing may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An applied versioned migration was edited.
    Drift {
        script: String,
        file: String,
        installed_rank: i32,
        installed_on: String,
        applied: i32,
        now: i32,
    },
    /// A version below the highest applied one was never applied.
    OutOfOrder {
        script: String,
        version: String,
        highest: String,
    },
    /// A migration failed outside a transaction in an earlier apply: the
    /// database may hold part of it.
    Failed {
        script: String,
        installed_rank: i32,
        installed_on: String,
    },
}

/// The plan: what runs, in order, and what the user should know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub run: Vec<Planned>,
    pub warnings: Vec<String>,
}

/// Version parts the way migration file names are read, so that the
/// history's `1.0` and a file's `V1__` are the same version.
fn version_parts(text: &str) -> Option<Vec<u64>> {
    match parse_migration_name(&format!("V{text}__x.sql")) {
        Ok((MigrationKind::Versioned(v), _, _)) => Some(v),
        _ => None,
    }
}

/// Rows that describe a migration (not Flyway's schema marker, deletes or undos).
fn is_migration_row(row: &AppliedRow) -> bool {
    !matches!(row.kind.as_str(), "SCHEMA" | "DELETE") && !row.kind.starts_with("UNDO")
}

/// Plans the migrations by Flyway's rules:
/// - a versioned migration runs once; if its checksum changed since it ran,
///   that is drift, and nothing runs;
/// - a never-applied version below the highest applied one is refused
///   unless `out_of_order`; versions at or below a `BASELINE` row are skipped;
/// - repeatables run after the versioned ones, in the manifest's order,
///   when their checksum differs from their latest successful run;
/// - a failed (`success = false`) row blocks everything until repaired.
pub fn migrations(
    entries: &[MigrationEntry],
    texts: &dyn Fn(&str) -> String,
    history: &[AppliedRow],
    out_of_order: bool,
) -> Result<Plan, Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut plan = Plan::default();
    for row in history.iter().filter(|r| !r.success && is_migration_row(r)) {
        refusals.push(Refusal::Failed {
            script: row.script.clone(),
            installed_rank: row.installed_rank,
            installed_on: row.installed_on.clone(),
        });
    }

    // Applied versions, the latest row of each.
    let mut applied: BTreeMap<Vec<u64>, &AppliedRow> = BTreeMap::new();
    let mut baseline: Option<Vec<u64>> = None;
    for row in history.iter().filter(|r| r.success && is_migration_row(r)) {
        let Some(v) = row.version.as_deref().and_then(version_parts) else {
            continue;
        };
        if row.kind == "BASELINE" {
            baseline = baseline.max(Some(v.clone()));
        }
        applied.insert(v, row);
    }
    let highest = applied.keys().next_back().cloned();
    let highest_text = highest
        .as_ref()
        .and_then(|h| applied.get(h))
        .and_then(|r| r.version.clone())
        .unwrap_or_default();

    let mut known_versions = Vec::new();
    let mut repeatables = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if entry.kind == MigrationType::Repeatable {
            repeatables.push((index, entry));
            continue;
        }
        let version_text = entry.version.clone().unwrap_or_default();
        let Some(version) = version_parts(&version_text) else {
            // The compiler only emits valid versions; a hand-edited manifest
            // would fail verification first. Treat it as pending all the same.
            plan.run.push(Planned {
                index,
                checksum: flyway_checksum(&texts(&entry.file)),
                reason: Reason::Pending,
            });
            continue;
        };
        known_versions.push(version.clone());
        let checksum = flyway_checksum(&texts(&entry.file));
        match applied.get(&version) {
            Some(row) => {
                if row.kind == "BASELINE" {
                    continue;
                }
                if let Some(was) = row.checksum {
                    if was != checksum {
                        refusals.push(Refusal::Drift {
                            script: entry.script.clone(),
                            file: entry.file.clone(),
                            installed_rank: row.installed_rank,
                            installed_on: row.installed_on.clone(),
                            applied: was,
                            now: checksum,
                        });
                    }
                }
            }
            None if baseline.as_ref().is_some_and(|b| &version <= b) => {}
            None if highest.as_ref().is_some_and(|h| &version < h) => {
                if out_of_order {
                    plan.run.push(Planned {
                        index,
                        checksum,
                        reason: Reason::OutOfOrder {
                            highest: highest_text.clone(),
                        },
                    });
                } else {
                    refusals.push(Refusal::OutOfOrder {
                        script: entry.script.clone(),
                        version: version_text,
                        highest: highest_text.clone(),
                    });
                }
            }
            None => plan.run.push(Planned {
                index,
                checksum,
                reason: Reason::Pending,
            }),
        }
    }
    for (v, row) in &applied {
        if row.kind != "BASELINE" && !known_versions.contains(v) {
            plan.warnings.push(format!(
                "the history has version {} ({}), which the artifacts do not have: was the file deleted or renamed?",
                row.version.as_deref().unwrap_or(""),
                row.script
            ));
        }
    }

    // Repeatables, matched to the history by description as Flyway does.
    let mut latest: BTreeMap<&str, &AppliedRow> = BTreeMap::new();
    for row in history
        .iter()
        .filter(|r| r.success && r.version.is_none() && is_migration_row(r))
    {
        latest.insert(row.description.as_str(), row);
    }
    for (index, entry) in repeatables {
        let checksum = flyway_checksum(&texts(&entry.file));
        let reason = match latest.get(truncated(&entry.description).as_str()) {
            None => Reason::New,
            Some(row) if row.checksum == Some(checksum) => continue,
            Some(row) => Reason::ChecksumChanged { was: row.checksum },
        };
        plan.run.push(Planned {
            index,
            checksum,
            reason,
        });
    }

    if refusals.is_empty() {
        Ok(plan)
    } else {
        Err(refusals)
    }
}

/// The description as the history stores it (cut to 200 characters).
pub fn truncated(description: &str) -> String {
    if description.chars().count() > 200 {
        let cut: String = description.chars().take(197).collect();
        format!("{cut}...")
    } else {
        description.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(script: &str) -> MigrationEntry {
        let (kind, version, description) = parse_migration_name(script).unwrap();
        MigrationEntry {
            file: format!("migrations/{script}"),
            script: script.into(),
            kind: match kind {
                MigrationKind::Versioned(_) => MigrationType::Versioned,
                MigrationKind::Repeatable => MigrationType::Repeatable,
            },
            version: (!version.is_empty()).then_some(version),
            description,
            source: None,
        }
    }

    fn row(rank: i32, e: &MigrationEntry, checksum: i32, success: bool) -> AppliedRow {
        AppliedRow {
            installed_rank: rank,
            version: e.version.clone(),
            description: e.description.clone(),
            kind: "SQL".into(),
            script: e.script.clone(),
            checksum: Some(checksum),
            installed_on: "2026-01-01 00:00:00".into(),
            success,
        }
    }

    fn text(path: &str) -> String {
        format!("-- {path}\nselect 1;\n")
    }

    fn sum(e: &MigrationEntry) -> i32 {
        flyway_checksum(&text(&e.file))
    }

    fn scripts(entries: &[MigrationEntry], plan: &Plan) -> Vec<String> {
        plan.run
            .iter()
            .map(|p| entries[p.index].script.clone())
            .collect()
    }

    #[test]
    fn an_empty_history_runs_everything_in_order() {
        let entries = [entry("V1__a.sql"), entry("V1.1__b.sql"), entry("R__v.sql")];
        let plan = migrations(&entries, &text, &[], false).unwrap();
        assert_eq!(
            scripts(&entries, &plan),
            ["V1__a.sql", "V1.1__b.sql", "R__v.sql"]
        );
        assert_eq!(plan.run[2].reason, Reason::New);
    }

    #[test]
    fn applied_ones_do_not_run_again_and_changed_repeatables_do() {
        let entries = [entry("V1__a.sql"), entry("R__v.sql"), entry("R__w.sql")];
        let history = [
            row(1, &entries[0], sum(&entries[0]), true),
            row(2, &entries[1], 123, true),
            row(3, &entries[2], sum(&entries[2]), true),
        ];
        let plan = migrations(&entries, &text, &history, false).unwrap();
        assert_eq!(scripts(&entries, &plan), ["R__v.sql"]);
        assert_eq!(
            plan.run[0].reason,
            Reason::ChecksumChanged { was: Some(123) }
        );
        // The latest successful row of a repeatable is what counts.
        let history = [
            row(1, &entries[0], sum(&entries[0]), true),
            row(2, &entries[1], 123, true),
            row(3, &entries[1], sum(&entries[1]), true),
            row(4, &entries[2], sum(&entries[2]), true),
        ];
        let plan = migrations(&entries, &text, &history, false).unwrap();
        assert!(plan.run.is_empty());
    }

    #[test]
    fn drift_is_refused_with_both_checksums() {
        let entries = [entry("V1__a.sql"), entry("V2__b.sql")];
        let history = [row(1, &entries[0], 42, true)];
        let refusals = migrations(&entries, &text, &history, false).unwrap_err();
        assert_eq!(
            refusals,
            [Refusal::Drift {
                script: "V1__a.sql".into(),
                file: "migrations/V1__a.sql".into(),
                installed_rank: 1,
                installed_on: "2026-01-01 00:00:00".into(),
                applied: 42,
                now: sum(&entries[0]),
            }]
        );
    }

    #[test]
    fn versions_compare_numerically_with_the_history() {
        // The history says `1.0`, the file is V1: the same version.
        let entries = [
            entry("V1__a.sql"),
            entry("V1.10__b.sql"),
            entry("V1.9__c.sql"),
        ];
        let mut applied = row(1, &entries[0], sum(&entries[0]), true);
        applied.version = Some("1.0".into());
        let plan = migrations(&entries, &text, &[applied], false).unwrap();
        assert_eq!(scripts(&entries, &plan), ["V1.10__b.sql", "V1.9__c.sql"]);
    }

    #[test]
    fn out_of_order_versions_need_the_flag() {
        let entries = [
            entry("V1__a.sql"),
            entry("V1.5__late.sql"),
            entry("V2__b.sql"),
        ];
        let history = [
            row(1, &entries[0], sum(&entries[0]), true),
            row(2, &entries[2], sum(&entries[2]), true),
        ];
        let refusals = migrations(&entries, &text, &history, false).unwrap_err();
        assert_eq!(
            refusals,
            [Refusal::OutOfOrder {
                script: "V1.5__late.sql".into(),
                version: "1.5".into(),
                highest: "2".into(),
            }]
        );
        let plan = migrations(&entries, &text, &history, true).unwrap();
        assert_eq!(scripts(&entries, &plan), ["V1.5__late.sql"]);
        assert!(matches!(plan.run[0].reason, Reason::OutOfOrder { .. }));
    }

    #[test]
    fn a_failed_row_blocks_until_repaired() {
        let entries = [entry("V1__a.sql"), entry("V2__b.sql")];
        let history = [
            row(1, &entries[0], sum(&entries[0]), true),
            row(2, &entries[1], sum(&entries[1]), false),
        ];
        let refusals = migrations(&entries, &text, &history, false).unwrap_err();
        assert!(matches!(
            &refusals[..],
            [Refusal::Failed {
                installed_rank: 2,
                ..
            }]
        ));
    }

    #[test]
    fn baselines_and_missing_files() {
        let entries = [entry("V1__a.sql"), entry("V3__c.sql")];
        let baseline = AppliedRow {
            installed_rank: 1,
            version: Some("2".into()),
            description: "<< Flyway Baseline >>".into(),
            kind: "BASELINE".into(),
            script: "<< Flyway Baseline >>".into(),
            checksum: None,
            installed_on: String::new(),
            success: true,
        };
        let plan = migrations(&entries, &text, std::slice::from_ref(&baseline), false).unwrap();
        assert_eq!(scripts(&entries, &plan), ["V3__c.sql"]);
        let gone = entry("V0.5__gone.sql");
        let plan = migrations(&entries, &text, &[row(1, &gone, 1, true)], false).unwrap();
        assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
        assert!(plan.warnings[0].contains("V0.5__gone.sql"));
    }

    #[test]
    fn long_descriptions_match_their_truncated_history() {
        let long = "x".repeat(250);
        assert_eq!(truncated(&long).chars().count(), 200);
        assert!(truncated(&long).ends_with("..."));
        assert_eq!(truncated("short"), "short");
    }
}
