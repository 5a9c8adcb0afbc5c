//! Where each node of the docs' lineage graph sits: a layered layout, left
//! to right, computed once here so that the page only draws.
//!
//! The steps are the first ones of Sugiyama's method, each linear or
//! `n log n` so that 10,000 nodes take milliseconds: a layer per node
//! (the longest path from a node without parents), an order within each
//! layer by the barycenter of its neighbours (a few sweeps down and up),
//! and, so that a layer of 4,000 staging models does not become a column
//! 100,000 pixels tall, layers taller than a page are wrapped into several
//! columns side by side. The result is the same for the same graph.

use std::cmp::Ordering;

/// A column's width and a row's height, in the page's pixels: the page
/// reads them from the data, so both sides agree on the aspect ratio the
/// wrapping aims at.
pub const COLUMN_WIDTH: u32 = 260;
pub const ROW_HEIGHT: u32 = 34;
/// Width over height that wrapped layers aim at (a landscape screen).
const ASPECT: f64 = 1.6;
/// Layers up to this many nodes are never wrapped: small projects read as
/// one column a layer, as people draw them.
const MIN_ROWS: usize = 40;
/// Down-and-up sweeps of the barycenter ordering; more change little.
const SWEEPS: usize = 4;

/// A node's place: its column and its row (a half row where a shorter
/// column is centred), in cells of [`COLUMN_WIDTH`] by [`ROW_HEIGHT`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub column: u32,
    pub row: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub places: Vec<Place>,
    pub columns: u32,
    pub rows: u32,
}

/// Lays out `n` nodes with the edges `(parent, child)` (indices below
/// `n`; others are ignored). A cycle, which a resolved project does not
/// have, still gets a layout: its nodes are placed after their other
/// parents.
pub fn layered(n: usize, edges: &[(usize, usize)]) -> Layout {
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(p, c) in edges {
        if p < n && c < n && p != c {
            parents[c].push(p);
            children[p].push(c);
        }
    }
    let layer = layers(&parents, &children);
    let depth = layer.iter().max().map_or(0, |&l| l + 1);
    let mut by_layer: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (v, &l) in layer.iter().enumerate() {
        by_layer[l].push(v);
    }
    order(&mut by_layer, &layer, &parents, &children);
    wrap(n, &by_layer)
}

/// The longest path from a root to each node (Kahn's order). A cycle,
/// whose nodes are never freed, is broken at its first node by index,
/// placed one layer after its parents placed so far.
fn layers(parents: &[Vec<usize>], children: &[Vec<usize>]) -> Vec<usize> {
    let n = parents.len();
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut layer = vec![0usize; n];
    let mut placed = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|&v| waiting[v] == 0).collect();
    let mut next = 0;
    loop {
        while let Some(v) = ready.pop() {
            placed[v] = true;
            for &c in &children[v] {
                if placed[c] {
                    continue;
                }
                layer[c] = layer[c].max(layer[v] + 1);
                waiting[c] -= 1;
                if waiting[c] == 0 {
                    ready.push(c);
                }
            }
        }
        while next < n && placed[next] {
            next += 1;
        }
        if next == n {
            break;
        }
        // Every root is placed, so `next` waits on a cycle.
        layer[next] = parents[next]
            .iter()
            .filter(|&&p| placed[p])
            .map(|&p| layer[p] + 1)
            .max()
            .unwrap_or(0);
        waiting[next] = 0;
        ready.push(next);
    }
    layer
}

/// Orders each layer by the mean relative position of each node's
/// neighbours in other layers, sweeping down (parents) then up
/// (children). A node without neighbours on that side keeps its place.
fn order(
    by_layer: &mut [Vec<usize>],
    layer: &[usize],
    parents: &[Vec<usize>],
    children: &[Vec<usize>],
) {
    let n = layer.len();
    // A node's position as a fraction of its layer's height, so that
    // neighbours in layers of different sizes compare.
    let mut fraction = vec![0.0f64; n];
    let refresh = |by_layer: &[Vec<usize>], fraction: &mut [f64], l: usize| {
        let len = by_layer[l].len().max(1) as f64;
        for (i, &v) in by_layer[l].iter().enumerate() {
            fraction[v] = (i as f64 + 0.5) / len;
        }
    };
    for l in 0..by_layer.len() {
        refresh(by_layer, &mut fraction, l);
    }
    let mut sweep = |by_layer: &mut [Vec<usize>], l: usize, side: &[Vec<usize>]| {
        let keys: Vec<(f64, usize)> = by_layer[l]
            .iter()
            .map(|&v| {
                let near = &side[v];
                let key = if near.is_empty() {
                    fraction[v]
                } else {
                    near.iter().map(|&u| fraction[u]).sum::<f64>() / near.len() as f64
                };
                (key, v)
            })
            .collect();
        let mut keys = keys;
        keys.sort_by(|a, b| {
            a.0.partial_cmp(&b.0)
                .unwrap_or(Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        by_layer[l] = keys.into_iter().map(|(_, v)| v).collect();
        refresh(by_layer, &mut fraction, l);
    };
    let depth = by_layer.len();
    for _ in 0..SWEEPS {
        for l in 1..depth {
            sweep(by_layer, l, parents);
        }
        for l in (0..depth.saturating_sub(1)).rev() {
            sweep(by_layer, l, children);
        }
    }
}

/// Places the ordered layers in columns: a layer taller than the rows a
/// page of `n` nodes aims at is cut into even columns, filled top to
/// bottom, and every column is centred on the tallest.
fn wrap(n: usize, by_layer: &[Vec<usize>]) -> Layout {
    let aimed = (n as f64 * f64::from(COLUMN_WIDTH) / (ASPECT * f64::from(ROW_HEIGHT)))
        .sqrt()
        .ceil() as usize;
    let max_rows = aimed.max(MIN_ROWS);
    // (first column, rows per column) of each layer.
    let mut shapes = Vec::with_capacity(by_layer.len());
    let mut column = 0usize;
    let mut rows = 0usize;
    for nodes in by_layer {
        let columns = nodes.len().div_ceil(max_rows).max(1);
        let per_column = nodes.len().div_ceil(columns);
        shapes.push((column, per_column));
        column += columns;
        rows = rows.max(per_column);
    }
    let mut places = vec![
        Place {
            column: 0,
            row: 0.0
        };
        n
    ];
    for (nodes, &(first, per_column)) in by_layer.iter().zip(&shapes) {
        let per_column = per_column.max(1);
        for (chunk_index, chunk) in nodes.chunks(per_column).enumerate() {
            let offset = (rows - chunk.len()) as f64 / 2.0;
            for (i, &v) in chunk.iter().enumerate() {
                places[v] = Place {
                    column: (first + chunk_index) as u32,
                    row: offset + i as f64,
                };
            }
        }
    }
    Layout {
        places,
        columns: column as u32,
        rows: rows as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_goes_left_to_right_in_one_row() {
        let l = layered(3, &[(0, 1), (1, 2)]);
        let columns: Vec<u32> = l.places.iter().map(|p| p.column).collect();
        assert_eq!(columns, [0, 1, 2]);
        assert!(l.places.iter().all(|p| p.row == 0.0));
        assert_eq!((l.columns, l.rows), (3, 1));
    }

    #[test]
    fn a_node_sits_one_layer_after_its_deepest_parent() {
        // 0 -> 1 -> 3 and 0 -> 3, 2 -> 3: 3 is after 1, not after 0.
        let l = layered(4, &[(0, 1), (1, 3), (0, 3), (2, 3)]);
        assert_eq!(l.places[3].column, 2);
        assert_eq!(l.places[2].column, 0);
    }

    #[test]
    fn barycenters_uncross_two_parallel_chains() {
        // 0 -> 3, 1 -> 2: in index order the edges would cross.
        let l = layered(4, &[(0, 3), (1, 2)]);
        assert!(l.places[0].row < l.places[1].row);
        assert!(l.places[3].row < l.places[2].row);
    }

    #[test]
    fn a_wide_layer_is_wrapped_and_columns_are_centred() {
        // One root with 1,000 children: the children's layer is wrapped.
        let edges: Vec<(usize, usize)> = (1..=1000).map(|c| (0, c)).collect();
        let l = layered(1001, &edges);
        assert!(l.columns > 2, "{} columns", l.columns);
        assert!(l.rows < 1000);
        let root = l.places[0];
        assert_eq!(root.column, 0);
        assert_eq!(root.row, f64::from(l.rows - 1) / 2.0, "centred");
        // No two nodes share a place.
        let mut seen: Vec<(u32, i64)> = l
            .places
            .iter()
            .map(|p| (p.column, (p.row * 2.0) as i64))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1001);
    }

    #[test]
    fn a_cycle_and_stray_edges_still_lay_out() {
        let l = layered(3, &[(0, 1), (1, 0), (1, 2), (7, 1), (2, 2)]);
        assert_eq!(l.places.len(), 3);
        assert!(l.places[2].column >= 1);
    }

    #[test]
    fn no_nodes_no_columns() {
        let l = layered(0, &[]);
        assert_eq!((l.columns, l.rows, l.places.len()), (0, 0, 0));
    }

    #[test]
    fn the_layout_of_10000_nodes_is_quick() {
        // The bench's shape: 4 layers, each node with two parents.
        let n: usize = 10_000;
        let edges: Vec<(usize, usize)> = (500..n)
            .flat_map(|c| {
                let below = c - c % 2500;
                let lo = below.saturating_sub(2500);
                [(lo + c * 7 % 2500, c), (lo + c * 13 % 2500, c)]
            })
            .filter(|&(p, c)| p < c)
            .collect();
        let start = std::time::Instant::now();
        let l = layered(n, &edges);
        assert_eq!(l.places.len(), n);
        // Debug build on a shared machine: generous, but a quadratic step
        // would take minutes.
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    }
}
