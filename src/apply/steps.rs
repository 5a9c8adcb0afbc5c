//! The order of the run steps and what lies downstream of each, as
//! `dbt build` has it: the lineage of `manifest.child_map`, plus an edge from
//! each test to the nodes downstream of what it tests. So a test runs
//! before the models built on what it checks, and when an error-severity
//! test fails, those models are skipped; a failed model skips its tests
//! and everything built on it.
//!
//! dbt's rule for the extra edges: test `T` precedes node `N` (not a test)
//! when every node `T` depends on is upstream of `N`.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use super::artifacts::{Manifest, RunEntry};

pub struct StepGraph {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    /// Lineage plus test edges.
    children: Vec<Vec<usize>>,
}

impl StepGraph {
    pub fn build(manifest: &Manifest) -> StepGraph {
        let mut g = StepGraph {
            ids: Vec::new(),
            index: HashMap::new(),
            children: Vec::new(),
        };
        let mut parents: Vec<BTreeSet<usize>> = Vec::new();
        let add_edge = |g: &mut StepGraph, parents: &mut Vec<BTreeSet<usize>>, p: &str, c: &str| {
            let p = g.id(p, parents);
            let c = g.id(c, parents);
            parents[c].insert(p);
        };
        for (parent, children) in &manifest.child_map {
            for child in children {
                add_edge(&mut g, &mut parents, parent, child);
            }
        }
        for (child, ps) in &manifest.parent_map {
            for parent in ps {
                add_edge(&mut g, &mut parents, parent, child);
            }
        }
        for step in &manifest.run_order {
            g.id(&step.node, &mut parents);
        }
        let mut children: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); g.ids.len()];
        for (c, ps) in parents.iter().enumerate() {
            for &p in ps {
                children[p].insert(c);
            }
        }
        let lineage: Vec<Vec<usize>> = children
            .iter()
            .map(|c| c.iter().copied().collect())
            .collect();
        let is_test: Vec<bool> = g
            .ids
            .iter()
            .map(|id| {
                manifest
                    .nodes
                    .get(id)
                    .map_or(id.starts_with("test."), |n| n.resource_type() == "test")
            })
            .collect();

        // Test edges. With one parent `d`, the nodes that have `d` upstream
        // are reached through `d`'s direct children, so edges to those
        // suffice. With several, take the nodes downstream of all of them
        // whose parents are not (the first such nodes on each path).
        let mut extra: Vec<(usize, usize)> = Vec::new();
        let mut downstream_cache: HashMap<usize, BTreeSet<usize>> = HashMap::new();
        for t in 0..g.ids.len() {
            if !is_test[t] || parents[t].is_empty() {
                continue;
            }
            let ds: Vec<usize> = parents[t].iter().copied().collect();
            if let [d] = ds.as_slice() {
                for &c in &lineage[*d] {
                    if !is_test[c] {
                        extra.push((t, c));
                    }
                }
                continue;
            }
            let mut common: Option<BTreeSet<usize>> = None;
            for d in &ds {
                let below = downstream_cache
                    .entry(*d)
                    .or_insert_with(|| descendants_of(&lineage, *d));
                common = Some(match common {
                    None => below.clone(),
                    Some(c) => c.intersection(below).copied().collect(),
                });
            }
            let common = common.unwrap_or_default();
            for &n in &common {
                if !is_test[n] && !parents[n].iter().any(|p| common.contains(p)) {
                    extra.push((t, n));
                }
            }
        }
        for (t, n) in extra {
            children[t].insert(n);
        }
        g.children = children
            .into_iter()
            .map(|c| c.into_iter().collect())
            .collect();
        g
    }

    fn id(&mut self, id: &str, parents: &mut Vec<BTreeSet<usize>>) -> usize {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.ids.len();
        self.ids.push(id.to_string());
        self.index.insert(id.to_string(), i);
        parents.push(BTreeSet::new());
        i
    }

    /// The run steps in execution order (indices into `run_order`): the
    /// manifest's order, except that a step waits for everything upstream
    /// of it in this graph (so tests move up, before the models built on
    /// what they test). Among ready steps the manifest's order decides.
    pub fn order(&self, run_order: &[RunEntry]) -> Vec<usize> {
        let mut steps_of: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, step) in run_order.iter().enumerate() {
            if let Some(&n) = self.index.get(&step.node) {
                steps_of.entry(n).or_default().push(i);
            }
        }
        let mut indegree = vec![0usize; self.ids.len()];
        for cs in &self.children {
            for &c in cs {
                indegree[c] += 1;
            }
        }
        // Nodes without a step (views, sources) go first when ready; steps
        // by their position in run_order.
        let key = |n: usize| match steps_of.get(&n) {
            Some(s) => (1, s[0]),
            None => (0, n),
        };
        let mut ready: BinaryHeap<Reverse<((u8, usize), usize)>> = (0..self.ids.len())
            .filter(|&n| indegree[n] == 0)
            .map(|n| Reverse((key(n), n)))
            .collect();
        let mut out = Vec::with_capacity(run_order.len());
        while let Some(Reverse((_, n))) = ready.pop() {
            if let Some(s) = steps_of.get(&n) {
                out.extend(s);
            }
            for &c in &self.children[n] {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.push(Reverse((key(c), c)));
                }
            }
        }
        // A cycle (a malformed manifest) leaves steps behind: run them in
        // the manifest's order rather than not at all.
        if out.len() < run_order.len() {
            let seen: BTreeSet<usize> = out.iter().copied().collect();
            out.extend((0..run_order.len()).filter(|i| !seen.contains(i)));
        }
        out
    }

    /// Every node downstream of `id`, transitively.
    pub fn downstream(&self, id: &str) -> Vec<&str> {
        match self.index.get(id) {
            Some(&i) => descendants_of(&self.children, i)
                .into_iter()
                .map(|n| self.ids[n].as_str())
                .collect(),
            None => Vec::new(),
        }
    }
}

fn descendants_of(children: &[Vec<usize>], start: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        for &c in &children[n] {
            if seen.insert(c) {
                stack.push(c);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::artifacts::{Node, StepKind};
    use crate::manifest::Metadata;
    use std::collections::BTreeMap;

    /// source → stg (view) → fact (table) → summary (table); dim (table) → summary;
    /// tests on stg, fact, and a relationships test on fact and dim.
    fn manifest() -> Manifest {
        let edges: &[(&str, &[&str])] = &[
            ("source.p.raw.t", &["model.p.stg", "test.p.t_src"]),
            ("model.p.stg", &["model.p.fact", "test.p.t_stg"]),
            ("model.p.dim", &["model.p.summary", "test.p.rel"]),
            (
                "model.p.fact",
                &["model.p.summary", "test.p.t_fact", "test.p.rel"],
            ),
            ("model.p.summary", &[]),
        ];
        let child_map: BTreeMap<String, Vec<String>> = edges
            .iter()
            .map(|(p, cs)| (p.to_string(), cs.iter().map(|c| c.to_string()).collect()))
            .collect();
        let mut nodes = BTreeMap::new();
        for t in [
            "test.p.t_src",
            "test.p.t_stg",
            "test.p.t_fact",
            "test.p.rel",
        ] {
            let node: Node = serde_json::from_value(serde_json::json!({
                "artifacts": [], "depends_on": {"nodes": []}, "error_if": "!= 0",
                "file": "models/_schema.yml", "name": t, "resource_type": "test",
                "severity": "error", "test": "not_null", "unique_id": t, "warn_if": "!= 0",
            }))
            .unwrap();
            nodes.insert(t.to_string(), node);
        }
        let step = |node: &str, kind: StepKind| RunEntry {
            node: node.into(),
            file: format!("run/{node}.sql"),
            step: kind,
            full_file: None,
            full_refresh: None,
            statement: None,
            line: None,
        };
        Manifest {
            metadata: Metadata {
                generator: "stackc".into(),
                project_name: "p".into(),
                manifest_version: 1,
            },
            nodes,
            migrations: Vec::new(),
            // As emit writes it: models, then tests by name.
            run_order: vec![
                step("model.p.dim", StepKind::Table),
                step("model.p.fact", StepKind::Table),
                step("model.p.summary", StepKind::Table),
                step("test.p.rel", StepKind::Test),
                step("test.p.t_fact", StepKind::Test),
                step("test.p.t_src", StepKind::Test),
                step("test.p.t_stg", StepKind::Test),
            ],
            child_map,
            parent_map: BTreeMap::new(),
            files: BTreeMap::new(),
            sources: BTreeMap::new(),
            unit_tests: Vec::new(),
            exposures: BTreeMap::new(),
            groups: BTreeMap::new(),
            metrics: BTreeMap::new(),
            saved_queries: BTreeMap::new(),
            semantic_models: BTreeMap::new(),
        }
    }

    fn names(m: &Manifest, order: &[usize]) -> Vec<String> {
        order
            .iter()
            .map(|&i| m.run_order[i].node.rsplit('.').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn tests_run_before_the_models_built_on_what_they_test() {
        let m = manifest();
        let g = StepGraph::build(&m);
        let order = names(&m, &g.order(&m.run_order));
        assert_eq!(
            order,
            ["dim", "t_src", "t_stg", "fact", "rel", "t_fact", "summary"]
        );
    }

    #[test]
    fn downstream_of_a_failure() {
        let m = manifest();
        let g = StepGraph::build(&m);
        let down = |id: &str| {
            let mut d: Vec<&str> = g.downstream(id).into_iter().collect();
            d.sort();
            d
        };
        // A failed model: its tests and what is built on it.
        assert_eq!(
            down("model.p.fact"),
            ["model.p.summary", "test.p.rel", "test.p.t_fact"]
        );
        // A failed test on the source: everything built on the source.
        assert_eq!(
            down("test.p.t_src"),
            [
                "model.p.fact",
                "model.p.stg",
                "model.p.summary",
                "test.p.rel",
                "test.p.t_fact",
                "test.p.t_stg"
            ]
        );
        // The relationships test gates only what is downstream of both.
        assert_eq!(down("test.p.rel"), ["model.p.summary"]);
        assert!(down("model.p.summary").is_empty());
        assert!(down("unknown").is_empty());
    }
}
