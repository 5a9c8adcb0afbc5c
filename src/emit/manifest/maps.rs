//! The manifest's `child_map` and `parent_map`: the graph's edges, and the
//! nodes outside the graph (exposures and the like, analyses).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{b, Cx, Text};
use crate::schema::OtherKind;

type Map<'a> = BTreeMap<Text<'a>, Vec<Text<'a>>>;

pub(super) struct Lineage<'a> {
    pub(super) child_map: Map<'a>,
    pub(super) parent_map: Map<'a>,
}

/// `analyses`: (an analysis's id, the ids it depends on, sorted).
pub(super) fn lineage<'a>(cx: &Cx<'a>, analyses: Vec<(String, Vec<String>)>) -> Lineage<'a> {
    let graph = &cx.resolved.graph;
    let id_map = |edges: &'a [Vec<usize>]| -> Map<'a> {
        graph
            .ids
            .iter()
            .zip(edges)
            .map(|(id, edges)| (b(id), edges.iter().map(|&i| b(&graph.ids[i])).collect()))
            .collect()
    };
    let mut child_map = id_map(&graph.children);
    let mut parent_map = id_map(&graph.parents);
    // Exposures, metrics and the like are not in the graph (nothing runs for
    // them): each is a child of what it depends on, with its own parents.
    // Groups are no node: dbt's maps leave them out.
    for o in cx
        .resolved
        .others
        .iter()
        .filter(|o| o.entry.kind != OtherKind::Group)
    {
        parent_map
            .entry(b(&o.unique_id))
            .or_default()
            .extend(o.depends_on.iter().map(|p| b(p)));
        child_map.entry(b(&o.unique_id)).or_default();
        for p in &o.depends_on {
            child_map.entry(b(p)).or_default().push(b(&o.unique_id));
        }
    }
    // Analyses are not in the graph either (nothing runs them), but dbt's
    // maps list them: children sorted by id, as dbt writes them.
    for (id, parents) in analyses {
        for p in &parents {
            let children = child_map.entry(Cow::Owned(p.clone())).or_default();
            children.push(Cow::Owned(id.clone()));
            children.sort();
        }
        child_map.entry(Cow::Owned(id.clone())).or_default();
        parent_map.insert(
            Cow::Owned(id),
            parents.into_iter().map(Cow::Owned).collect(),
        );
    }
    Lineage {
        child_map,
        parent_map,
    }
}
