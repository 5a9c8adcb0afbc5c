//! The dependency graph: every node, its parents and children, cycles, and a
//! deterministic dependency order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use crate::datatest::DataTest;
use crate::diagnostic::{Diagnostic, Span};
use crate::render::{call_span, Relation};
use crate::resolve::{Model, SingularTest};
use crate::schema::{SeedEntry, SourceEntry, SourceTable};
use crate::seed::Seed;

/// A unique id in dbt's style: `model.<project>.<name>`,
/// `source.<project>.<source>.<table>`, `seed.<project>.<name>`, `test.…`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeId(pub String);

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub parents: BTreeMap<String, BTreeSet<String>>,
    pub children: BTreeMap<String, BTreeSet<String>>,
    /// Every node in dependency order; ties broken by id.
    pub order: Vec<String>,
    /// 0 for sources and seeds' parents, else one more than the deepest parent.
    pub level: BTreeMap<String, usize>,
}

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
pub fn ref_id(
    project: &str,
    name: &str,
    seeds: &BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
) -> String {
    if seeds.contains_key(name) {
        seed_id(project, name)
    } else {
        model_id(project, name)
    }
}

pub fn build(
    project: &str,
    models: &BTreeMap<String, Model>,
    seeds: &BTreeMap<String, (Seed, Option<SeedEntry>, Relation)>,
    sources: &BTreeMap<(String, String), (SourceEntry, SourceTable, Relation)>,
    tests: &[DataTest],
    singular: &[SingularTest],
    diagnostics: &mut Vec<Diagnostic>,
) -> Graph {
    let mut g = Graph::default();
    let add = |g: &mut Graph, id: String, parents: Vec<String>| {
        g.children.entry(id.clone()).or_default();
        let entry = g.parents.entry(id.clone()).or_default();
        for p in parents {
            entry.insert(p.clone());
        }
    };
    for (source, table) in sources.keys() {
        add(&mut g, source_id(project, source, table), Vec::new());
    }
    for name in seeds.keys() {
        add(&mut g, seed_id(project, name), Vec::new());
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
    for m in models.values() {
        let parents = parents_of(&m.refs, &m.sources, Some(&m.name));
        add(&mut g, model_id(project, &m.name), parents);
    }
    for t in tests {
        add(&mut g, t.unique_id.clone(), t.depends_on.clone());
    }
    for t in singular {
        let parents = parents_of(&t.refs, &t.sources, None);
        add(&mut g, format!("test.{project}.{}", t.name), parents);
    }
    // Parents that are not nodes (disabled models) are dropped.
    let ids: BTreeSet<String> = g.parents.keys().cloned().collect();
    for parents in g.parents.values_mut() {
        parents.retain(|p| ids.contains(p));
    }
    let links: Vec<(String, String)> = g
        .parents
        .iter()
        .flat_map(|(child, parents)| parents.iter().map(move |p| (p.clone(), child.clone())))
        .collect();
    for (parent, child) in links {
        g.children.entry(parent).or_default().insert(child);
    }

    report_cycles(&g, models, diagnostics);
    order(&mut g);
    g
}

fn report_cycles(g: &Graph, models: &BTreeMap<String, Model>, diagnostics: &mut Vec<Diagnostic>) {
    let mut pg: DiGraph<&str, ()> = DiGraph::new();
    let index: HashMap<&str, _> = g
        .parents
        .keys()
        .map(|id| (id.as_str(), pg.add_node(id.as_str())))
        .collect();
    for (child, parents) in &g.parents {
        for p in parents {
            pg.add_edge(index[p.as_str()], index[child.as_str()], ());
        }
    }
    for scc in tarjan_scc(&pg) {
        if scc.len() < 2 {
            continue;
        }
        let mut members: Vec<&str> = scc.iter().map(|i| pg[*i]).collect();
        members.sort();
        let path = cycle_path(g, &members);
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
        let mut d = Diagnostic::new("E0303", format!("dependency cycle: {}", names.join(" -> ")))
            .at(ref_span(0))
            .help("a model cannot depend on itself through other models: remove one of these refs");
        for k in 1..path.len() - 1 {
            let who = names[k + 1];
            d = d.related(ref_span(k), format!("`{who}` refs `{}` here", names[k]));
        }
        diagnostics.push(d);
    }
}

/// A closed walk through the cycle's members, starting at the smallest id:
/// each step goes to the smallest child still in the cycle.
fn cycle_path<'a>(g: &'a Graph, members: &[&'a str]) -> Vec<&'a str> {
    let set: BTreeSet<&str> = members.iter().copied().collect();
    let mut path = vec![members[0]];
    let mut seen = BTreeSet::from([members[0]]);
    loop {
        let current = path[path.len() - 1];
        let next = g.children.get(current).and_then(|c| {
            c.iter()
                .map(String::as_str)
                .filter(|n| set.contains(n))
                .find(|n| !seen.contains(n))
                .or_else(|| c.iter().map(String::as_str).find(|n| *n == members[0]))
        });
        match next {
            Some(n) if n == members[0] => {
                path.push(n);
                return path;
            }
            Some(n) => {
                seen.insert(n);
                path.push(n);
            }
            None => {
                path.push(members[0]);
                return path;
            }
        }
    }
}

/// Kahn's algorithm with the ready set ordered by id, so the order is the
/// same on every run; levels follow from it. Nodes on a cycle are left out.
/// Works on indices into the sorted ids: string-keyed maps made this the
/// slowest part of the graph at 10,000 models.
fn order(g: &mut Graph) {
    let ids: Vec<&str> = g.parents.keys().map(String::as_str).collect();
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut missing: Vec<usize> = g.parents.values().map(BTreeSet::len).collect();
    let children: Vec<Vec<usize>> = ids
        .iter()
        .map(|id| {
            g.children
                .get(*id)
                .map(|c| {
                    c.iter()
                        .filter_map(|c| index.get(c.as_str()).copied())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    let mut level = vec![0usize; ids.len()];
    // Tests first, so each runs right after what it checks; then the
    // smallest index, which is the smallest id since ids are sorted.
    let key = |i: usize| Reverse((!ids[i].starts_with("test."), i));
    let mut ready: BinaryHeap<Reverse<(bool, usize)>> = (0..ids.len())
        .filter(|i| missing[*i] == 0)
        .map(key)
        .collect();
    let mut order = Vec::with_capacity(ids.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &c in &children[i] {
            level[c] = level[c].max(level[i] + 1);
            missing[c] -= 1;
            if missing[c] == 0 {
                ready.push(key(c));
            }
        }
    }
    let levels = order
        .iter()
        .map(|&i| (ids[i].to_string(), level[i]))
        .collect();
    g.order = order.into_iter().map(|i| ids[i].to_string()).collect();
    g.level = levels;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::default();
        for (p, c) in edges {
            g.parents
                .entry(c.to_string())
                .or_default()
                .insert(p.to_string());
            g.parents.entry(p.to_string()).or_default();
            g.children
                .entry(p.to_string())
                .or_default()
                .insert(c.to_string());
            g.children.entry(c.to_string()).or_default();
        }
        g
    }

    #[test]
    fn order_is_topological_and_stable() {
        let mut g = graph(&[("s", "b"), ("s", "a"), ("a", "c"), ("b", "c")]);
        order(&mut g);
        assert_eq!(g.order, ["s", "a", "b", "c"]);
        assert_eq!(g.level["c"], 2);
        assert_eq!(g.level["s"], 0);
    }

    #[test]
    fn cycle_walk_visits_every_member() {
        let g = graph(&[("a", "b"), ("b", "c"), ("c", "a")]);
        assert_eq!(cycle_path(&g, &["a", "b", "c"]), ["a", "b", "c", "a"]);
    }
}
