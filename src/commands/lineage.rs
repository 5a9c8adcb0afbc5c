//! `stackc lineage <model>.<column>`: where a column comes from, down to
//! the raw columns, and what is computed from it, from the column lineage
//! of the manifest that compile would write (issue 14). The project is
//! compiled in memory; nothing is written.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use crate::exit_status::ExitStatus;
use crate::manifest::{ColumnInfo, Manifest, Node};
use crate::project::LoadOptions;

/// What `stackc lineage` was asked.
#[derive(Debug, Clone)]
pub struct LineageOptions {
    pub dir: PathBuf,
    pub load: LoadOptions,
    /// `model.column`, or `source.table.column`.
    pub column: String,
    /// Also follow the columns that only filter (`where`, joins, `group by`).
    pub filters: bool,
    pub json: bool,
    pub color: bool,
}

/// One column of the tree: a node's unique id, the column, how it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    node: String,
    column: String,
    kind: String,
    next: Vec<Step>,
}

/// The deepest a tree is followed; the graph is acyclic, this only bounds
/// the output of a very deep project.
const MAX_DEPTH: usize = 64;

pub fn run(options: &LineageOptions) -> ExitStatus {
    let manifest = match super::ls::compiled_manifest(&options.dir, &options.load, options.color) {
        Ok((m, _)) => m,
        Err(status) => return status,
    };
    let (node, column) = match find(&manifest, &options.column) {
        Ok(x) => x,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitStatus::Error;
        }
    };
    let keep = |kind: &str| options.filters || kind != "filter";
    let mut path = BTreeSet::new();
    let upstream = upstream_of(&manifest, &node, &column, &keep, 0, &mut path);
    let downstream = downstream_of(&manifest, &node, &column, &keep, 0, &mut path);
    let data_type = columns_of(&manifest, &node)
        .and_then(|c| c.get(&column))
        .and_then(|c| c.data_type.clone());
    let mut out = std::io::stdout().lock();
    let text = if options.json {
        let doc = serde_json::json!({
            "node": node,
            "column": column,
            "data_type": data_type,
            "upstream": upstream.iter().map(|s| json(s, "upstream")).collect::<Vec<_>>(),
            "downstream": downstream.iter().map(|s| json(s, "downstream")).collect::<Vec<_>>(),
        });
        format!("{doc:#}\n")
    } else {
        let mut t = format!(
            "{}.{column}{}\n",
            display(&node),
            data_type.map(|d| format!(" ({d})")).unwrap_or_default()
        );
        t.push_str("upstream:\n");
        tree(&mut t, &upstream, 1, "<-");
        if upstream.is_empty() {
            t.push_str("  (none known)\n");
        }
        t.push_str("downstream:\n");
        tree(&mut t, &downstream, 1, "->");
        if downstream.is_empty() {
            t.push_str("  (none)\n");
        }
        t
    };
    // A closed pipe (`stackc lineage ... | head`) ends the output.
    let _ = out.write_all(text.as_bytes());
    ExitStatus::Success
}

/// The node and column `arg` names: `model.column` (a model or seed), or
/// `source.table.column`.
fn find(manifest: &Manifest<String>, arg: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = arg.split('.').collect();
    let usage = || format!("`{arg}`: name a column as `model.column` (or `source.table.column`)");
    match parts[..] {
        [model, column] => {
            let node = manifest
                .nodes
                .iter()
                .find(|(_, n)| match n {
                    Node::Model(m) => m.name == model,
                    Node::Seed(s) => s.name == model,
                    Node::Test(_) | Node::Analysis(_) => false,
                })
                .map(|(id, _)| id.clone())
                .ok_or_else(|| {
                    let names = manifest.nodes.values().filter_map(|n| match n {
                        Node::Model(m) => Some(m.name.as_str()),
                        _ => None,
                    });
                    match crate::suggest::closest(model, names) {
                        Some(close) => format!("no model `{model}`; did you mean `{close}`?"),
                        None => format!("no model or seed `{model}`"),
                    }
                })?;
            check_column(manifest, node, column)
        }
        [source, table, column] => {
            let node = manifest
                .sources
                .keys()
                .find(|id| id.ends_with(&format!(".{source}.{table}")))
                .cloned()
                .ok_or_else(|| format!("no source table `{source}.{table}`"))?;
            check_column(manifest, node, column)
        }
        _ => Err(usage()),
    }
}

fn check_column(
    manifest: &Manifest<String>,
    node: String,
    column: &str,
) -> Result<(String, String), String> {
    let column = column.to_string();
    match columns_of(manifest, &node) {
        Some(cols) if cols.contains_key(&column) => Ok((node, column)),
        Some(cols) if !cols.is_empty() => {
            let close = crate::suggest::closest(&column, cols.keys().map(String::as_str));
            Err(match close {
                Some(c) => format!(
                    "`{}` has no column `{column}`; did you mean `{c}`?",
                    display(&node)
                ),
                None => format!(
                    "`{}` has no column `{column}` (it has {})",
                    display(&node),
                    cols.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            })
        }
        // Columns not known (a seed lists names only, a source may list
        // none): the column is taken as named, for its downstream.
        _ => Ok((node, column)),
    }
}

fn columns_of<'m>(
    manifest: &'m Manifest<String>,
    node: &str,
) -> Option<&'m std::collections::BTreeMap<String, ColumnInfo<String>>> {
    match manifest.nodes.get(node) {
        Some(Node::Model(m)) => Some(&m.columns),
        _ => manifest.sources.get(node).map(|s| &s.columns),
    }
}

/// The filter columns of a model (none for a source).
fn filters_of<'m>(
    manifest: &'m Manifest<String>,
    node: &str,
) -> &'m [crate::manifest::ColumnSource<String>] {
    match manifest.nodes.get(node) {
        Some(Node::Model(m)) => &m.lineage_filters,
        _ => &[],
    }
}

fn upstream_of(
    manifest: &Manifest<String>,
    node: &str,
    column: &str,
    keep: &dyn Fn(&str) -> bool,
    depth: usize,
    path: &mut BTreeSet<(String, String)>,
) -> Vec<Step> {
    let Some(info) = columns_of(manifest, node).and_then(|c| c.get(column)) else {
        return Vec::new();
    };
    if depth >= MAX_DEPTH || !path.insert((node.to_string(), column.to_string())) {
        return Vec::new();
    }
    let mut sources: Vec<&crate::manifest::ColumnSource<String>> = info
        .lineage
        .iter()
        .chain(
            // A column that copies or computes from a filter column lists
            // it so already.
            filters_of(manifest, node).iter().filter(|f| {
                !info
                    .lineage
                    .iter()
                    .any(|s| s.node == f.node && s.column == f.column)
            }),
        )
        .filter(|s| keep(&s.kind))
        .collect();
    // In the order of the manifest's lineage, as if the model's filters
    // were listed with the column.
    sources.sort_by(|a, b| (&a.node, &a.column, &a.kind).cmp(&(&b.node, &b.column, &b.kind)));
    let out = sources
        .into_iter()
        .map(|s| Step {
            node: s.node.clone(),
            column: s.column.clone(),
            kind: s.kind.clone(),
            next: upstream_of(manifest, &s.node, &s.column, keep, depth + 1, path),
        })
        .collect();
    path.remove(&(node.to_string(), column.to_string()));
    out
}

fn downstream_of(
    manifest: &Manifest<String>,
    node: &str,
    column: &str,
    keep: &dyn Fn(&str) -> bool,
    depth: usize,
    path: &mut BTreeSet<(String, String)>,
) -> Vec<Step> {
    if depth >= MAX_DEPTH || !path.insert((node.to_string(), column.to_string())) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (id, n) in &manifest.nodes {
        let Node::Model(m) = n else { continue };
        // A filter column decides the rows of every column of its model.
        let filters = m.lineage_filters.iter().filter(|s| keep(&s.kind));
        let filtering = filters
            .filter(|s| s.node == node && s.column == column)
            .collect::<Vec<_>>();
        for (name, info) in &m.columns {
            let own = info
                .lineage
                .iter()
                .any(|s| s.node == node && s.column == column);
            let filtered = filtering.iter().copied().filter(|_| !own);
            for s in info.lineage.iter().chain(filtered) {
                if s.node == node && s.column == column && keep(&s.kind) {
                    out.push(Step {
                        node: id.clone(),
                        column: name.clone(),
                        kind: s.kind.clone(),
                        next: downstream_of(manifest, id, name, keep, depth + 1, path),
                    });
                }
            }
        }
    }
    path.remove(&(node.to_string(), column.to_string()));
    out
}

/// `model.shop.orders` is `orders`; `source.shop.raw.orders` is `raw.orders`.
fn display(id: &str) -> String {
    let parts: Vec<&str> = id.split('.').collect();
    match parts[..] {
        ["source", _, source, table] => format!("{source}.{table}"),
        [_, _, _, ..] => parts[2..].join("."),
        _ => id.to_string(),
    }
}

fn tree(out: &mut String, steps: &[Step], depth: usize, arrow: &str) {
    for s in steps {
        let what = if s.node.starts_with("source.") {
            "source "
        } else if s.node.starts_with("seed.") {
            "seed "
        } else {
            ""
        };
        out.push_str(&format!(
            "{}{arrow} {what}{}.{} ({})\n",
            "  ".repeat(depth),
            display(&s.node),
            s.column,
            s.kind
        ));
        tree(out, &s.next, depth + 1, arrow);
    }
}

fn json(s: &Step, key: &str) -> serde_json::Value {
    serde_json::json!({
        "node": s.node,
        "column": s.column,
        "kind": s.kind,
        key: s.next.iter().map(|n| json(n, key)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_shown_by_their_names() {
        assert_eq!(display("model.shop.orders"), "orders");
        assert_eq!(display("seed.shop.countries"), "countries");
        assert_eq!(display("source.shop.raw.orders"), "raw.orders");
    }

    #[test]
    fn a_tree_prints_one_line_a_column() {
        let leaf = Step {
            node: "source.shop.raw.sales".into(),
            column: "amount".into(),
            kind: "transform".into(),
            next: vec![],
        };
        let steps = [Step {
            node: "model.shop.stg_sales".into(),
            column: "amount".into(),
            kind: "copy".into(),
            next: vec![leaf],
        }];
        let mut out = String::new();
        tree(&mut out, &steps, 1, "<-");
        assert_eq!(
            out,
            "  <- stg_sales.amount (copy)\n    <- source raw.sales.amount (transform)\n"
        );
    }
}
