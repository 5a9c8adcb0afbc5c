//! The dependency graph's data; `crate::graph` builds it.

/// Nodes are indices into `ids`, which is sorted, so index order is id
/// order: at 40,000 nodes, string-keyed maps made the graph one of the
/// slowest stages of a compile.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every node's unique id, sorted.
    pub ids: Vec<String>,
    /// Each node's parents and children, sorted.
    pub parents: Vec<Vec<usize>>,
    pub children: Vec<Vec<usize>>,
    /// Every node in dependency order; ties broken by id. Nodes on a cycle
    /// are left out.
    pub order: Vec<usize>,
    /// 0 for nodes without parents, else one more than the deepest parent.
    pub level: Vec<usize>,
}

impl Graph {
    pub fn index(&self, id: &str) -> Option<usize> {
        self.ids.binary_search_by(|x| x.as_str().cmp(id)).ok()
    }

    pub fn level_of(&self, id: &str) -> usize {
        self.index(id).map_or(0, |i| self.level[i])
    }

    /// `parents` or `children` as (id, ids) pairs in id order: the
    /// manifest's `parent_map` and `child_map`.
    pub fn id_entries<'a>(&'a self, edges: &'a [Vec<usize>]) -> Vec<(&'a str, IdList<'a>)> {
        self.ids
            .iter()
            .zip(edges)
            .map(|(id, edges)| {
                (
                    id.as_str(),
                    IdList {
                        ids: &self.ids,
                        indices: edges,
                    },
                )
            })
            .collect()
    }
}

/// Nodes given by index, serialized as a list of their ids.
pub struct IdList<'a> {
    ids: &'a [String],
    indices: &'a [usize],
}

impl<'a> IdList<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.indices.iter().map(|&i| self.ids[i].as_str())
    }
}

impl serde::Serialize for IdList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.indices.iter().map(|&i| &self.ids[i]))
    }
}
