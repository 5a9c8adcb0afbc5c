//! `stackc graph`: the lineage of a selection as Mermaid (renders in
//! GitHub markdown), Graphviz dot or JSON. The project is compiled in
//! memory (nothing is written); nodes are those of the manifest compile
//! would write, tests left out (they would hide the lineage), grouped by
//! layer (stackc's `[layers]`, the first folder under `models/`) or, in a
//! dbt project, by folder.
//!
//! Output is deterministic (nodes sorted by id, ids `n0`, `n1`... in that
//! order), and every name a user wrote is escaped for the format, so no
//! folder or model name can end a label or a quoted id.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use crate::exit_status::ExitStatus;
use crate::project::{Flavor, LoadOptions, Settings};
use crate::select::{Candidate, Graph};
use crate::selection::SelectionArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Json,
}

/// What `stackc graph` was asked.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    pub dir: PathBuf,
    pub load: LoadOptions,
    pub selection: SelectionArgs,
    pub format: GraphFormat,
    pub color: bool,
}

/// One box of the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Box_ {
    pub id: String,
    pub name: String,
    pub resource_type: String,
    /// `view`, `table`, ... for models; `seed`, `source`, `exposure`...
    pub kind: String,
    /// The layer or folder it is drawn in, if any.
    pub cluster: Option<String>,
}

/// The lineage to draw: boxes sorted by id, edges parent → child.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    pub boxes: Vec<Box_>,
    pub edges: BTreeSet<(usize, usize)>,
}

pub fn run(options: &GraphOptions) -> ExitStatus {
    let (graph, settings) =
        match super::ls::compiled_graph(&options.dir, &options.load, options.color) {
            Ok(x) => x,
            Err(status) => return status,
        };
    let chosen = match crate::selection::selected(&options.dir, &graph, &options.selection) {
        Ok(c) => c,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitStatus::Error;
        }
    };
    for w in &chosen.warnings {
        eprintln!("{w}");
    }
    let lineage = lineage(&graph, &chosen.ids, &settings);
    let text = match options.format {
        GraphFormat::Mermaid => mermaid(&lineage),
        GraphFormat::Dot => dot(&lineage),
        GraphFormat::Json => json(&lineage),
    };
    // A closed pipe (`stackc graph | head`) is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitStatus::Success
}

/// The boxes and edges of the selected nodes that are not tests.
pub fn lineage(graph: &Graph, selected: &BTreeSet<String>, settings: &Settings) -> Lineage {
    let shown: Vec<&Candidate> = selected
        .iter()
        .filter_map(|id| graph.nodes.get(id))
        .filter(|n| n.test_type.is_none() && n.resource_type != "test")
        .collect();
    let index: BTreeMap<&str, usize> = shown
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let boxes = shown
        .iter()
        .map(|n| Box_ {
            id: n.id.clone(),
            name: n.name.clone(),
            resource_type: n.resource_type.clone(),
            kind: kind_of(n),
            cluster: cluster_of(n, settings),
        })
        .collect();
    let mut edges = BTreeSet::new();
    for (child, n) in shown.iter().enumerate() {
        for parent in &n.parents {
            if let Some(&p) = index.get(parent.as_str()) {
                edges.insert((p, child));
            }
        }
    }
    Lineage { boxes, edges }
}

fn kind_of(n: &Candidate) -> String {
    match n.resource_type.as_str() {
        "model" | "snapshot" => n
            .config
            .get("materialized")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(&n.resource_type)
            .to_string(),
        other => other.to_string(),
    }
}

/// A model's layer (stackc: the first folder under the models folder,
/// shown with its schema when `[layers]` maps it to another one) or its
/// folders (dbt); `sources` and `seeds` for those.
fn cluster_of(n: &Candidate, settings: &Settings) -> Option<String> {
    match n.resource_type.as_str() {
        "source" => return Some("sources".into()),
        "seed" => return Some("seeds".into()),
        "model" | "snapshot" => {}
        _ => return None,
    }
    // fqn: project, the folders under the resource folder, the name.
    let folders = n.fqn.get(1..n.fqn.len().saturating_sub(1)).unwrap_or(&[]);
    if folders.is_empty() {
        return None;
    }
    if settings.flavor == Flavor::Native {
        let layer = &folders[0];
        return Some(match settings.layers.get(layer) {
            Some(schema) if schema != layer => format!("{layer} (schema {schema})"),
            _ => layer.clone(),
        });
    }
    Some(folders.join("/"))
}

/// The boxes of each cluster, clusters by name, and the boxes of none.
fn clusters(l: &Lineage) -> (BTreeMap<&str, Vec<usize>>, Vec<usize>) {
    let mut named: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut loose = Vec::new();
    for (i, b) in l.boxes.iter().enumerate() {
        match &b.cluster {
            Some(c) => named.entry(c.as_str()).or_default().push(i),
            None => loose.push(i),
        }
    }
    (named, loose)
}

/// Text inside a Mermaid `"..."` label: `"` would end it and `#...;` is
/// Mermaid's entity syntax, so both (and the characters Mermaid or the
/// HTML behind it give a meaning: `<`, `>`, `&`, backtick) are written as
/// entities; line breaks and other control characters become spaces.
pub fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a dot `"..."` string: `\` and `"` escaped (a `\` would start
/// dot's `\n`, `\N`, `\G` escapes), control characters as spaces.
pub fn dot_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Colours by kind, the same in both pictures.
const STYLES: &[(&str, &str)] = &[
    ("source", "#fff4e0"),
    ("seed", "#fdf2d0"),
    ("view", "#e6f2ff"),
    ("table", "#dff5e1"),
    ("incremental", "#c8ecd0"),
    ("materialized_view", "#e2e8ff"),
    ("ephemeral", "#f2f2f2"),
    ("snapshot", "#f3e6ff"),
    ("exposure", "#ffe6ea"),
];

fn style_of(kind: &str) -> Option<&'static str> {
    STYLES.iter().find(|(k, _)| *k == kind).map(|(_, c)| *c)
}

fn label(b: &Box_) -> String {
    format!("{} ({})", b.name, b.kind)
}

pub fn mermaid(l: &Lineage) -> String {
    let mut out = String::from("flowchart LR\n");
    let node = |out: &mut String, i: usize, indent: &str| {
        let b = &l.boxes[i];
        let text = mermaid_text(&label(b));
        let (open, close) = match b.resource_type.as_str() {
            "source" => ("[(\"", "\")]"),
            "seed" => ("[[\"", "\"]]"),
            "exposure" => ("{{\"", "\"}}"),
            _ => ("[\"", "\"]"),
        };
        let _ = writeln!(out, "{indent}n{i}{open}{text}{close}");
    };
    let (named, loose) = clusters(l);
    for (c, (name, members)) in named.iter().enumerate() {
        let _ = writeln!(out, "  subgraph c{c}[\"{}\"]", mermaid_text(name));
        for &i in members {
            node(&mut out, i, "    ");
        }
        out.push_str("  end\n");
    }
    for &i in &loose {
        node(&mut out, i, "  ");
    }
    for (p, c) in &l.edges {
        let _ = writeln!(out, "  n{p} --> n{c}");
    }
    let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, b) in l.boxes.iter().enumerate() {
        if style_of(&b.kind).is_some() {
            by_kind
                .entry(b.kind.as_str())
                .or_default()
                .push(format!("n{i}"));
        }
    }
    for (kind, members) in &by_kind {
        if let Some(colour) = style_of(kind) {
            let _ = writeln!(out, "  classDef {kind} fill:{colour},stroke:#555");
            let _ = writeln!(out, "  class {} {kind}", members.join(","));
        }
    }
    out
}

pub fn dot(l: &Lineage) -> String {
    let mut out = String::from(
        "digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n",
    );
    let node = |out: &mut String, i: usize, indent: &str| {
        let b = &l.boxes[i];
        let shape = match b.resource_type.as_str() {
            "source" => ", shape=cylinder",
            "seed" => ", shape=folder",
            "exposure" => ", shape=hexagon",
            _ => "",
        };
        let fill = style_of(&b.kind)
            .map(|c| format!(", fillcolor=\"{c}\""))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{indent}n{i} [label=\"{}\"{shape}{fill}];",
            dot_text(&label(b))
        );
    };
    let (named, loose) = clusters(l);
    for (c, (name, members)) in named.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{c} {{\n    label=\"{}\";\n    style=\"rounded\";",
            dot_text(name)
        );
        for &i in members {
            node(&mut out, i, "    ");
        }
        out.push_str("  }\n");
    }
    for &i in &loose {
        node(&mut out, i, "  ");
    }
    for (p, c) in &l.edges {
        let _ = writeln!(out, "  n{p} -> n{c};");
    }
    out.push_str("}\n");
    out
}

pub fn json(l: &Lineage) -> String {
    let nodes: Vec<serde_json::Value> = l
        .boxes
        .iter()
        .map(|b| {
            serde_json::json!({
                "unique_id": b.id,
                "name": b.name,
                "resource_type": b.resource_type,
                "materialization": b.kind,
                "cluster": b.cluster,
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = l
        .edges
        .iter()
        .map(|(p, c)| serde_json::json!({"from": l.boxes[*p].id, "to": l.boxes[*c].id}))
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({
        "nodes": nodes,
        "edges": edges,
    }))
    .unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> Lineage {
        let b = |id: &str, name: &str, kind: &str, cluster: Option<&str>| Box_ {
            id: id.into(),
            name: name.into(),
            resource_type: if kind == "source" { "source" } else { "model" }.into(),
            kind: kind.into(),
            cluster: cluster.map(str::to_string),
        };
        Lineage {
            boxes: vec![
                b(
                    "model.p.a",
                    "a\"] --> x[\"b",
                    "view",
                    Some("end\"]\nsubgraph"),
                ),
                b("model.p.b", "b`#lt;<i>&\\\"}", "table", None),
                b("source.p.s.t", "t", "source", Some("sources")),
            ],
            edges: [(2, 0), (0, 1)].into_iter().collect(),
        }
    }

    #[test]
    fn no_name_ends_a_mermaid_label() {
        let text = mermaid(&hostile());
        for line in text.lines() {
            // Each label is one `"..."`: quotes come in the pairs the
            // syntax writes, never from a name.
            let quotes = line.matches('"').count();
            assert!(quotes == 0 || quotes == 2, "{line}");
            assert!(!line.contains('<') && !line.contains('`'), "{line}");
        }
        assert!(
            text.contains("n0[\"a#quot;] --#gt; x[#quot;b (view)\"]"),
            "{text}"
        );
        assert!(
            text.contains("subgraph c0[\"end#quot;] subgraph\"]"),
            "{text}"
        );
        assert!(
            text.contains("n1[\"b#96;#35;lt;#lt;i#gt;#amp;\\#quot;} (table)\"]"),
            "{text}"
        );
        assert!(text.contains("n2[(\"t (source)\")]"), "{text}");
        assert!(
            text.contains("  n2 --> n0\n  n0 --> n1\n")
                || text.contains("  n0 --> n1\n  n2 --> n0\n")
        );
    }

    #[test]
    fn no_name_ends_a_dot_string() {
        let text = dot(&hostile());
        assert!(text.contains("label=\"end\\\"] subgraph\";"), "{text}");
        assert!(
            text.contains("n1 [label=\"b`#lt;<i>&\\\\\\\"} (table)\""),
            "{text}"
        );
        // Unescaped quotes pair up on every line.
        for line in text.lines() {
            let unescaped = line
                .replace("\\\\", "")
                .replace("\\\"", "")
                .matches('"')
                .count();
            assert_eq!(unescaped % 2, 0, "{line}");
        }
    }

    #[test]
    fn json_names_nodes_by_id() {
        let v: serde_json::Value = serde_json::from_str(&json(&hostile())).unwrap();
        assert_eq!(v["edges"][0]["from"], "model.p.a");
        assert_eq!(v["edges"][0]["to"], "model.p.b");
        assert_eq!(v["nodes"][1]["name"], "b`#lt;<i>&\\\"}");
    }
}
