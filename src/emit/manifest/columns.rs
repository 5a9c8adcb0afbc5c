//! A node's columns in the manifest: the schema file's, and for a model
//! every column its SQL makes, with its type and lineage.

use std::collections::{BTreeMap, BTreeSet};

use super::{b, Text};
use crate::catalog::Upstream;
use crate::manifest::{ColumnInfo, ColumnSource};
use crate::node::Model;
use crate::schema::Column;

/// An upstream column: (its node, its name).
pub(super) type ColumnKey<'m> = (&'m str, &'m str);

pub(super) fn columns_info(columns: &[Column]) -> BTreeMap<Text<'_>, ColumnInfo<Text<'_>>> {
    columns
        .iter()
        .map(|c| {
            (
                b(&c.name),
                ColumnInfo {
                    data_type: c.data_type.as_deref().map(b),
                    description: c.description.as_deref().map(b),
                    lineage: Vec::new(),
                },
            )
        })
        .collect()
}

/// A model's columns: the schema file's, and every column its SQL makes
/// with the derived type (the schema file's `data_type` wins) and lineage.
pub(super) fn model_columns<'m>(
    m: &'m Model,
    filters: &BTreeSet<ColumnKey<'m>>,
) -> BTreeMap<Text<'m>, ColumnInfo<Text<'m>>> {
    let mut out = m
        .entry
        .as_ref()
        .map(|e| columns_info(&e.columns))
        .unwrap_or_default();
    for c in m.derived_columns.iter().flatten() {
        let info = out.entry(b(&c.name)).or_insert(ColumnInfo {
            data_type: None,
            description: None,
            lineage: Vec::new(),
        });
        if info.data_type.is_none() {
            info.data_type = c.data_type.as_deref().map(b);
        }
        info.lineage = c
            .lineage
            .iter()
            .filter(|u| u.kind != "filter" || !filters.contains(&key(u)))
            .map(|u| ColumnSource {
                node: b(&u.node),
                column: b(&u.column),
                kind: b(u.kind),
            })
            .collect();
    }
    out
}

fn key(u: &Upstream) -> ColumnKey<'_> {
    (u.node.as_str(), u.column.as_str())
}

/// A model's filter columns (see `ModelNode::lineage_filters`): the
/// upstream columns every column of the model has in its lineage, as
/// `filter` in at least one (a copy or a computation in the others says
/// more). A filter of one column only (in a scalar subquery, a lateral
/// join) stays with that column.
pub(super) fn model_filters(m: &Model) -> BTreeSet<ColumnKey<'_>> {
    let cols = m.derived_columns.as_deref().unwrap_or_default();
    let mut common: Option<BTreeSet<ColumnKey<'_>>> = None;
    let mut filter = BTreeSet::new();
    for c in cols {
        let mine: BTreeSet<ColumnKey<'_>> = c.lineage.iter().map(key).collect();
        filter.extend(c.lineage.iter().filter(|u| u.kind == "filter").map(key));
        common = Some(match common {
            None => mine,
            Some(before) => before.intersection(&mine).copied().collect(),
        });
    }
    common
        .unwrap_or_default()
        .intersection(&filter)
        .copied()
        .collect()
}
