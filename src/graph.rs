//! The dependency graph: every node, its parents and children, cycles, and a
//! deterministic dependency order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::node::{DataTest, Graph, Model, ResolvedSeed, ResolvedSource, SingularTest};
use crate::render::call_span;

/// Unique ids in dbt's style: `model.<project>.<name>`,
/// `source.<project>.<source>.<table>`, `seed.<project>.<name>`, `test.…`.
pub fn model_id(project: &str, name: &str) -> String {
    format!("model.{project}.{name}")
}

pub fn seed_id(project: &str, name: &str) -> String {
    format!("seed.{project}.{name}")
}

pub fn source_id(project: &str, source: &str, table: &str) -> String {
    format!("source.{project}.{source}.{table}")
}

/// The id of whatever `ref(name)` reaches: a model or a seed.
pub fn ref_id(project: &str, name: &str, seeds: &BTreeMap<String, ResolvedSeed>) -> String {
    if seeds.contains_key(name) {
        seed_id(project, name)
    } else {
        model_id(project, name)
    }
}

pub fn build(
    project: &str,
    models: &BTreeMap<String, Model>,
    seeds: &BTreeMap<String, ResolvedSeed>,
    sources: &BTreeMap<(String, String), ResolvedSource>,
    tests: &[DataTest],
    singular: &[SingularTest],
    diagnostics: &mut Vec<Diagnostic>,
) -> Graph {
    let mut nodes: Vec<(String, Vec<String>)> = Vec::new();
    for (source, table) in sources.keys() {
        nodes.push((source_id(project, source, table), Vec::new()));
    }
    for name in seeds.keys() {
        nodes.push((seed_id(project, name), Vec::new()));
    }
    // The ids a list of ref() and source() calls reaches; unknown names were
    // reported already and add no edge.
    let parents_of = |refs: &[String], srcs: &[(String, String)], own: Option<&str>| {
        let mut parents: Vec<String> = refs
            .iter()
            .filter(|r| {
                Some(r.as_str()) != own && (models.contains_key(*r) || seeds.contains_key(*r))
            })
            .map(|r| ref_id(project, r, seeds))
            .collect();
        parents.extend(
            srcs.iter()
                .filter(|k| sources.contains_key(*k))
                .map(|(s, t)| source_id(project, s, t)),
        );
        parents
    };
    let model_list: Vec<&Model> = models.values().collect();
    nodes.par_extend(model_list.par_iter().map(|m| {
        let parents = parents_of(&m.refs, &m.sources, Some(&m.name));
        (model_id(project, &m.name), parents)
    }));
    nodes.par_extend(
        tests
            .par_iter()
            .map(|t| (t.unique_id.clone(), t.depends_on.clone())),
    );
    for t in singular {
        let parents = parents_of(&t.refs, &t.sources, None);
        nodes.push((format!("test.{project}.{}", t.name), parents));
    }
    let g = from_nodes(nodes);
    report_cycles(&g, models, diagnostics);
    order(g)
}

/// The graph of `(id, parent ids)` pairs, without order. An id listed twice
/// is one node with both lists of parents; parents that are not nodes
/// (disabled models) are dropped.
fn from_nodes(mut nodes: Vec<(String, Vec<String>)>) -> Graph {
    nodes.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut g = Graph::default();
    let mut parent_ids: Vec<Vec<String>> = Vec::with_capacity(nodes.len());
    for (id, parents) in nodes {
        if g.ids.last() == Some(&id) {
            if let Some(last) = parent_ids.last_mut() {
                last.extend(parents);
            }
        } else {
            g.ids.push(id);
            parent_ids.push(parents);
        }
    }
    g.children = vec![Vec::new(); g.ids.len()];
    g.parents = parent_ids
        .par_iter()
        .map(|parents| {
            let mut p: Vec<usize> = parents.iter().filter_map(|p| g.index(p)).collect();
            p.sort_unstable();
            p.dedup();
            p
        })
        .collect();
    // Children come out sorted: children are pushed in increasing order.
    for (child, parents) in g.parents.iter().enumerate() {
        for &p in parents {
            g.children[p].push(child);
        }
    }
    g
}

fn report_cycles(g: &Graph, models: &BTreeMap<String, Model>, diagnostics: &mut Vec<Diagnostic>) {
    let mut pg: DiGraph<(), ()> = DiGraph::with_capacity(g.ids.len(), g.ids.len());
    for _ in &g.ids {
        pg.add_node(());
    }
    for (child, parents) in g.parents.iter().enumerate() {
        for &p in parents {
            pg.add_edge(NodeIndex::new(p), NodeIndex::new(child), ());
        }
    }
    for scc in tarjan_scc(&pg) {
        if scc.len() < 2 {
            continue;
        }
        let mut members: Vec<usize> = scc.iter().map(|i| i.index()).collect();
        members.sort_unstable();
        let path: Vec<&str> = cycle_path(g, &members)
            .into_iter()
            .map(|i| g.ids[i].as_str())
            .collect();
        let names: Vec<&str> = path
            .iter()
            .map(|id| id.rsplit('.').next().unwrap_or(id))
            .collect();
        let model_of = |id: &str| models.get(id.rsplit('.').next().unwrap_or(id));
        let Some(first) = model_of(path[0]) else {
            continue;
        };
        // path[k + 1] refs path[k]: point at that ref() call in each model.
        let ref_span = |k: usize| -> Span {
            match model_of(path[k + 1]) {
                Some(model) => call_span(&model.file, "ref", names[k]),
                None => Span::new(&first.file.path, 0..0),
            }
        };
        let mut d = Diagnostic::new(
            Code::E0303,
            format!("dependency cycle: {}", names.join(" -> ")),
        )
        .at(ref_span(0))
        .help("a model cannot depend on itself through other models: remove one of these refs");
        for k in 1..path.len() - 1 {
            let who = names[k + 1];
            d = d.related(ref_span(k), format!("`{who}` refs `{}` here", names[k]));
        }
        diagnostics.push(d);
    }
}

/// A closed walk through the cycle's members (sorted), starting at the
/// smallest: each step goes to the smallest child still in the cycle.
fn cycle_path(g: &Graph, members: &[usize]) -> Vec<usize> {
    let first = members[0];
    let mut path = vec![first];
    let mut seen = BTreeSet::from([first]);
    loop {
        let current = path[path.len() - 1];
        let children = &g.children[current];
        let next = children
            .iter()
            .copied()
            .filter(|n| members.binary_search(n).is_ok())
            .find(|n| !seen.contains(n))
            .or_else(|| children.iter().copied().find(|n| *n == first));
        match next {
            Some(n) if n == first => {
                path.push(n);
                return path;
            }
            Some(n) => {
                seen.insert(n);
                path.push(n);
            }
            None => {
                path.push(first);
                return path;
            }
        }
    }
}

/// Kahn's algorithm with the ready set ordered by id, so the order is the
/// same on every run; levels follow from it. Nodes on a cycle are left out.
fn order(mut g: Graph) -> Graph {
    let mut missing: Vec<usize> = g.parents.iter().map(Vec::len).collect();
    let mut level = vec![0usize; g.ids.len()];
    // Tests first, so each runs right after what it checks; then the
    // smallest index, which is the smallest id since ids are sorted.
    let is_test: Vec<bool> = g.ids.iter().map(|id| id.starts_with("test.")).collect();
    let key = |i: usize| Reverse((!is_test[i], i));
    let mut ready: BinaryHeap<Reverse<(bool, usize)>> = (0..g.ids.len())
        .filter(|i| missing[*i] == 0)
        .map(key)
        .collect();
    let mut order = Vec::with_capacity(g.ids.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &c in &g.children[i] {
            level[c] = level[c].max(level[i] + 1);
            missing[c] -= 1;
            if missing[c] == 0 {
                ready.push(key(c));
            }
        }
    }
    g.order = order;
    g.level = level;
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut nodes: Vec<(String, Vec<String>)> = Vec::new();
        for (p, c) in edges {
            nodes.push((c.to_string(), vec![p.to_string()]));
            nodes.push((p.to_string(), Vec::new()));
        }
        from_nodes(nodes)
    }

    fn ids<'a>(g: &'a Graph, indices: &[usize]) -> Vec<&'a str> {
        indices.iter().map(|&i| g.ids[i].as_str()).collect()
    }

    #[test]
    fn order_is_topological_and_stable() {
        let g = order(graph(&[("s", "b"), ("s", "a"), ("a", "c"), ("b", "c")]));
        assert_eq!(ids(&g, &g.order), ["s", "a", "b", "c"]);
        assert_eq!(g.level_of("c"), 2);
        assert_eq!(g.level_of("s"), 0);
    }

    #[test]
    fn tests_run_right_after_what_they_check() {
        let g = order(graph(&[
            ("a", "z"),
            ("a", "test.not_null_a"),
            ("b", "test.unique_b"),
        ]));
        assert_eq!(
            ids(&g, &g.order),
            ["a", "test.not_null_a", "b", "test.unique_b", "z"]
        );
    }

    #[test]
    fn duplicate_ids_merge_and_unknown_parents_drop() {
        let g = from_nodes(vec![
            ("b".into(), vec!["a".into()]),
            ("b".into(), vec!["gone".into(), "a".into()]),
            ("a".into(), Vec::new()),
        ]);
        assert_eq!(g.ids, ["a", "b"]);
        assert_eq!(g.parents, [vec![], vec![0]]);
        assert_eq!(g.children, [vec![1], vec![]]);
    }

    #[test]
    fn cycle_walk_visits_every_member() {
        let g = graph(&[("a", "b"), ("b", "c"), ("c", "a")]);
        assert_eq!(ids(&g, &cycle_path(&g, &[0, 1, 2])), ["a", "b", "c", "a"]);
    }

    #[test]
    fn nodes_on_a_cycle_are_left_out_of_the_order() {
        let g = order(graph(&[("a", "b"), ("b", "a"), ("s", "t")]));
        assert_eq!(ids(&g, &g.order), ["s", "t"]);
    }
}
