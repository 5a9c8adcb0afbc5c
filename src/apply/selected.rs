//! An apply with a selection (`-s`, `--exclude`, `--selector`): which of
//! the planned migrations and run steps it keeps. Pure data in, data out.
//!
//! The rules, as the README's "apply with a selection" says:
//! - versioned migrations always run (the raw layer is the project's, not a
//!   node's), and so do repeatable migrations that belong to no node
//!   (schemas, comments);
//! - a selected node's repeatable migration runs when it is pending: for a
//!   view that migration is the whole build;
//! - a repeatable migration drops its relation with `cascade`, and that
//!   drops the views built on it; their migrations are pending too (their
//!   `-- upstream:` line changed), so they run along, and a materialized
//!   view's refresh with them: else the apply would leave them missing;
//! - that `cascade` also drops the foreign keys other tables hold on a
//!   rebuilt table: a table whose pending migration declares one (its
//!   contract's `foreign_key`) is rebuilt and reloaded along, else it would
//!   keep its rows without the constraint;
//! - run steps run for selected nodes only (tests join by indirect
//!   selection); hooks always run, as dbt runs `on-run-start`/`-end` for
//!   any selection;
//! - what is not selected is left as it is: not run, not failed, not listed.

use std::collections::{BTreeMap, BTreeSet};

use super::artifacts::{Manifest, MigrationType, StepKind};
use super::plan::Planned;

/// What a selection keeps, and what it leaves.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Kept {
    pub migrations: Vec<Planned>,
    /// Indices into `run_order`, in the order given.
    pub order: Vec<usize>,
    /// Nodes not selected whose migration runs because a selected one
    /// drops them (`cascade`), by id.
    pub cascaded: BTreeSet<String>,
    pub migrations_left: usize,
    pub steps_left: usize,
}

/// What `args` select in the bundle's manifest; `Err` is a usage problem.
pub fn of_bundle(
    bundle: &super::artifacts::Bundle,
    args: &crate::selection::SelectionArgs,
) -> Result<crate::selection::Selected, String> {
    let graph = crate::select::Graph::from_manifest(&bundle.manifest);
    let mut chosen = crate::selection::selected(&bundle.dir, &graph, args)?;
    // Unit tests are known to selection by the id it gives them.
    if !chosen.whole {
        let units: BTreeSet<String> = crate::selection::unit_tests(&bundle.manifest, &graph)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        chosen.ids.retain(|id| {
            bundle.manifest.nodes.contains_key(id)
                || bundle.manifest.sources.contains_key(id)
                || units.contains(id)
        });
    }
    Ok(chosen)
}

/// Narrows `planned` and `order` to `selected`; `text` gives a
/// migration's text by its file.
pub fn narrow(
    manifest: &Manifest,
    planned: &[Planned],
    order: &[usize],
    selected: &BTreeSet<String>,
    text: &dyn Fn(&str) -> String,
) -> Kept {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, node) in &manifest.nodes {
        for a in node.artifacts() {
            owner.insert(a.as_str(), id.as_str());
        }
    }
    // Each pending node, with its migration's file.
    let pending: BTreeMap<&str, &str> = planned
        .iter()
        .filter_map(|p| {
            let file = manifest.migrations[p.index].file.as_str();
            owner.get(file).map(|id| (*id, file))
        })
        .collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, node) in &manifest.nodes {
        if let Some(model) = node.model() {
            for parent in &model.depends_on.nodes {
                children
                    .entry(parent.as_str())
                    .or_default()
                    .push(id.as_str());
            }
        }
    }
    let materialization = |id: &str| {
        manifest
            .nodes
            .get(id)
            .and_then(|n| n.model())
            .map(|m| m.materialization.as_str())
    };
    // A dropped table takes with it the foreign keys of the tables that
    // reference it: those whose pending migration declares one
    // (`references <relation>`, from their contract) are rebuilt along.
    let relation = |id: &str| match manifest.nodes.get(id) {
        Some(crate::manifest::Node::Seed(seed)) => Some(seed.relation.as_str()),
        Some(crate::manifest::Node::Model(m)) => m.relation.as_deref(),
        _ => None,
    };
    let texts: BTreeMap<&str, String> =
        pending.iter().map(|(id, file)| (*id, text(file))).collect();
    let referencing = |id: &str| -> Vec<&str> {
        let Some(relation) = relation(id).filter(|_| materialization(id) != Some("view")) else {
            return Vec::new();
        };
        let needle = format!("references {relation}");
        texts
            .iter()
            .filter(|(other, text)| {
                **other != id
                    && text
                        .match_indices(&needle)
                        .any(|(at, _)| text[at + needle.len()..].starts_with([' ', '(', ',', '\n']))
            })
            .map(|(other, _)| *other)
            .collect()
    };
    // The views a dropped relation takes with it: through views and
    // ephemeral models (inlined, so the view depends on what they read).
    let mut cascaded = BTreeSet::new();
    let mut queue: Vec<&str> = selected
        .iter()
        .map(String::as_str)
        .filter(|id| pending.contains_key(id))
        .collect();
    let mut seen: BTreeSet<&str> = queue.iter().copied().collect();
    while let Some(id) = queue.pop() {
        for &child in children.get(id).map_or(&[][..], Vec::as_slice) {
            let through = match materialization(child) {
                Some("view" | "materialized_view") => pending.contains_key(child),
                Some("ephemeral") => true,
                _ => false,
            };
            if through && seen.insert(child) {
                if materialization(child) != Some("ephemeral") && !selected.contains(child) {
                    cascaded.insert(child.to_string());
                }
                queue.push(child);
            }
        }
        for child in referencing(id) {
            if seen.insert(child) {
                if !selected.contains(child) {
                    cascaded.insert(child.to_string());
                }
                queue.push(child);
            }
        }
    }
    let runs = |id: &str| selected.contains(id) || cascaded.contains(id);
    let mut kept = Kept::default();
    for p in planned {
        let entry = &manifest.migrations[p.index];
        let keep = entry.kind == MigrationType::Versioned
            || owner.get(entry.file.as_str()).is_none_or(|id| runs(id));
        if keep {
            kept.migrations.push(p.clone());
        } else {
            kept.migrations_left += 1;
        }
    }
    for &i in order {
        let step = &manifest.run_order[i];
        let keep = step.step == StepKind::Hook
            || selected.contains(&step.node)
            || (cascaded.contains(&step.node) && step.step != StepKind::Test);
        if keep {
            kept.order.push(i);
        } else {
            kept.steps_left += 1;
        }
    }
    kept.cascaded = cascaded;
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::plan::Reason;

    /// raw (V1) -> stg (view) -> mart (table) -> report (view), with a
    /// view `side` on stg, and a test on mart; `R__schemas` of no node.
    fn manifest() -> Manifest {
        let model = |name: &str, mat: &str, parents: &[&str]| {
            serde_json::json!({
                "artifacts": [format!("migrations/R__{name}.sql"), format!("run/{name}.sql")],
                "checksum": "x", "columns": {},
                "config": {"indexes": [], "materialized": mat, "sql_check": true, "vacuum": false},
                "depends_on": {"nodes": parents.iter().map(|p| format!("model.p.{p}")).collect::<Vec<_>>()},
                "description": null, "env_vars": [], "file": format!("models/{name}.sql"),
                "materialization": mat, "name": name, "relation": format!("s.{name}"),
                "resource_type": "model", "schema": "s", "tags": [],
                "unique_id": format!("model.p.{name}"), "vars": []
            })
        };
        let migration = |file: &str, kind: &str| {
            serde_json::json!({"description": file, "file": format!("migrations/{file}.sql"),
                "script": format!("{file}.sql"), "type": kind,
                "version": if kind == "versioned" { Some("1") } else { None }})
        };
        let step = |node: &str, step: &str, file: &str| serde_json::json!({"file": file, "node": node, "step": step});
        serde_json::from_value(serde_json::json!({
            "files": {}, "metadata": {"generator": "t", "manifest_version": 1, "project_name": "p"},
            "migrations": [migration("V1__raw", "versioned"), migration("R__schemas", "repeatable"),
                migration("R__stg", "repeatable"), migration("R__side", "repeatable"),
                migration("R__mart", "repeatable"), migration("R__report", "repeatable")],
            "nodes": {
                "model.p.stg": model("stg", "view", &[]),
                "model.p.side": model("side", "view", &["stg"]),
                "model.p.mart": model("mart", "table", &["stg"]),
                "model.p.report": model("report", "view", &["mart"]),
            },
            "run_order": [step("model.p.mart", "table", "run/mart.sql"),
                step("test.p.t", "test", "run/mart.tests.sql"),
                step("hook.p.on-run-end.0", "hook", "run/hook.sql")],
        }))
        .unwrap()
    }

    fn all_pending(m: &Manifest) -> Vec<Planned> {
        (0..m.migrations.len())
            .map(|index| Planned {
                index,
                checksum: 0,
                reason: Reason::New,
            })
            .collect()
    }

    fn scripts(m: &Manifest, kept: &Kept) -> Vec<String> {
        kept.migrations
            .iter()
            .map(|p| m.migrations[p.index].script.clone())
            .collect()
    }

    fn no_text(_: &str) -> String {
        String::new()
    }

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_selected_table_keeps_its_migration_its_steps_and_what_no_node_owns() {
        let m = manifest();
        let kept = narrow(
            &m,
            &all_pending(&m),
            &[0, 1, 2],
            &ids(&["model.p.mart", "test.p.t"]),
            &no_text,
        );
        // report is a view on mart: dropped with it, so rebuilt with it.
        assert_eq!(
            scripts(&m, &kept),
            [
                "V1__raw.sql",
                "R__schemas.sql",
                "R__mart.sql",
                "R__report.sql"
            ]
        );
        assert_eq!(kept.cascaded, ids(&["model.p.report"]));
        assert_eq!(kept.order, [0, 1, 2]);
        assert_eq!((kept.migrations_left, kept.steps_left), (2, 0));
    }

    #[test]
    fn a_view_cascades_to_views_only_and_steps_of_others_are_left() {
        let m = manifest();
        let kept = narrow(
            &m,
            &all_pending(&m),
            &[0, 1, 2],
            &ids(&["model.p.stg"]),
            &no_text,
        );
        assert_eq!(
            scripts(&m, &kept),
            ["V1__raw.sql", "R__schemas.sql", "R__stg.sql", "R__side.sql"]
        );
        // The hook runs; mart's build and its test are not selected.
        assert_eq!(kept.order, [2]);
        assert_eq!(kept.steps_left, 2);
    }

    #[test]
    fn nothing_pending_nothing_cascades() {
        let m = manifest();
        let planned: Vec<Planned> = all_pending(&m).into_iter().take(1).collect();
        let kept = narrow(&m, &planned, &[0], &ids(&["model.p.stg"]), &no_text);
        assert_eq!(scripts(&m, &kept), ["V1__raw.sql"]);
        assert!(kept.cascaded.is_empty());
        assert_eq!(kept.steps_left, 1);
    }

    #[test]
    fn a_table_whose_foreign_key_references_a_rebuilt_one_is_rebuilt_along() {
        // side is made a table whose contract references mart (and stg,
        // through a name that only starts alike: no match).
        let mut m = manifest();
        let side = m.nodes.get_mut("model.p.side").unwrap();
        if let crate::manifest::Node::Model(side) = side {
            side.materialization = "table".into();
        }
        let text = |file: &str| {
            match file {
            "migrations/R__side.sql" => {
                "create table s.side (\n    id integer references s.mart (id),\n    x integer references s.stg_old (id)\n);".to_string()
            }
            _ => String::new(),
        }
        };
        let kept = narrow(
            &m,
            &all_pending(&m),
            &[0, 1, 2],
            &ids(&["model.p.mart"]),
            &text,
        );
        assert_eq!(kept.cascaded, ids(&["model.p.report", "model.p.side"]));
        let kept = narrow(
            &m,
            &all_pending(&m),
            &[0, 1, 2],
            &ids(&["model.p.stg"]),
            &text,
        );
        assert!(kept.cascaded.is_empty(), "{:?}", kept.cascaded);
    }
}
