//! Evaluating an [`Expr`] over a [`Graph`]: methods, graph operators,
//! state comparison and indirect selection of tests.

use std::collections::{BTreeMap, BTreeSet};

use super::glob::glob;
use super::index::{Candidate, Graph};
use super::{Expr, Indirect, Method, StateCheck, Term};

/// What a selection evaluates against besides the graph.
#[derive(Default)]
pub struct Context<'a> {
    /// `--state`: the graph of a previous manifest.
    pub state: Option<&'a Graph>,
    /// `selectors.yml`, by name.
    pub selectors: Option<&'a BTreeMap<String, Expr>>,
}

/// What evaluating a selection found besides the nodes.
#[derive(Debug, Default)]
pub struct Findings {
    /// Terms that matched nothing, as written.
    pub unmatched: Vec<String>,
    /// Nodes an exclusion removed, with their tests: indirect selection
    /// does not bring them back.
    pub excluded: BTreeSet<String>,
}

/// Evaluates `expr`.
pub fn evaluate(
    graph: &Graph,
    expr: &Expr,
    cx: &Context<'_>,
    found: &mut Findings,
) -> Result<BTreeSet<String>, String> {
    evaluate_depth(graph, expr, cx, found, 0)
}

pub(super) fn evaluate_depth(
    graph: &Graph,
    expr: &Expr,
    cx: &Context<'_>,
    found: &mut Findings,
    depth: usize,
) -> Result<BTreeSet<String>, String> {
    if depth > 32 {
        return Err("selectors refer to each other in a cycle".into());
    }
    Ok(match expr {
        Expr::Term(t) => {
            let nodes = term(graph, t, cx, found, depth)?;
            if nodes.is_empty() {
                found.unmatched.push(t.text.clone());
            }
            nodes
        }
        Expr::Union(parts) => {
            let mut out = BTreeSet::new();
            for p in parts {
                out.extend(evaluate_depth(graph, p, cx, found, depth)?);
            }
            out
        }
        Expr::Intersection(parts) => {
            let mut out: Option<BTreeSet<String>> = None;
            for p in parts {
                let s = evaluate_depth(graph, p, cx, found, depth)?;
                out = Some(match out {
                    None => s,
                    Some(o) => o.intersection(&s).cloned().collect(),
                });
            }
            out.unwrap_or_default()
        }
        Expr::Difference(a, b) => {
            let a = evaluate_depth(graph, a, cx, found, depth)?;
            let mut b = evaluate_depth(graph, b, cx, found, depth)?;
            // As `--exclude`: the tests of what is excluded go with it.
            add_tests(graph, &mut b, Indirect::Eager);
            let kept = a.difference(&b).cloned().collect();
            found.excluded.extend(b);
            kept
        }
    })
}

pub(super) fn term(
    graph: &Graph,
    t: &Term,
    cx: &Context<'_>,
    found: &mut Findings,
    depth: usize,
) -> Result<BTreeSet<String>, String> {
    let base: BTreeSet<String> = match &t.method {
        Method::Selector => {
            let selectors = cx
                .selectors
                .ok_or_else(|| format!("`{}`: no selectors.yml in the project", t.text))?;
            let expr = selectors.get(&t.value).ok_or_else(|| {
                let known: Vec<&str> = selectors.keys().map(String::as_str).collect();
                format!(
                    "`{}`: selectors.yml has no selector `{}` (it has: {})",
                    t.text,
                    t.value,
                    known.join(", ")
                )
            })?;
            evaluate_depth(graph, expr, cx, found, depth + 1)?
        }
        Method::State(check) => {
            let old = cx.state.ok_or_else(|| {
                format!(
                    "`{}` compares with a previous manifest: pass --state DIR",
                    t.text
                )
            })?;
            graph
                .nodes
                .values()
                .filter(|n| state_matches(n, old, *check))
                .map(|n| n.id.clone())
                .collect()
        }
        _ => graph
            .nodes
            .values()
            .filter(|n| matches(n, &t.method, &t.value))
            .map(|n| n.id.clone())
            .collect(),
    };
    let mut out = base.clone();
    if let Some(d) = t.parents {
        out.extend(graph.walk(&base, d, true));
    }
    if let Some(d) = t.children {
        out.extend(graph.walk(&base, d, false));
    }
    if t.childrens_parents {
        let children = graph.walk(&base, None, false);
        let mut all: BTreeSet<String> = base.iter().chain(&children).cloned().collect();
        all.extend(graph.walk(&all.clone(), None, true));
        out.extend(all);
    }
    Ok(out)
}

pub(super) fn state_matches(n: &Candidate, old: &Graph, check: StateCheck) -> bool {
    let Some(before) = old.nodes.get(&n.id) else {
        return matches!(check, StateCheck::New | StateCheck::Modified);
    };
    let body = n.checksum != before.checksum;
    let configs = n.config != before.config;
    match check {
        StateCheck::New => false,
        StateCheck::Modified => body || configs,
        StateCheck::ModifiedBody => body,
        StateCheck::ModifiedConfigs => configs,
        // The contract lives in the model's config here.
        StateCheck::ModifiedContract => n.config.get("contract") != before.config.get("contract"),
    }
}

pub(super) fn matches(n: &Candidate, method: &Method, value: &str) -> bool {
    match method {
        // dbt matches the fqn and the fqn without its package, so that
        // `history.*` (a folder) selects in any package.
        Method::Fqn => {
            let versioned = n.version.is_some();
            fqn_matches(&n.fqn, value, versioned)
                || fqn_matches(n.fqn.get(1..).unwrap_or_default(), value, versioned)
        }
        Method::Tag => n.tags.iter().any(|tag| glob(value, tag)),
        Method::Path => {
            let value = value.trim_end_matches('/');
            let value = value.strip_prefix("./").unwrap_or(value);
            glob(value, &n.file)
                || n.file
                    .strip_prefix(value)
                    .is_some_and(|rest| rest.starts_with('/'))
                || (value.contains('*')
                    && n.file
                        .rsplit_once('/')
                        .is_some_and(|(dir, _)| glob(value, dir)))
        }
        Method::File => {
            let base = n.file.rsplit('/').next().unwrap_or(&n.file);
            let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
            glob(value, base) || glob(value, stem)
        }
        Method::Config(key) => n.config.get(key).is_some_and(|v| config_matches(v, value)),
        Method::ResourceType => n.resource_type == value,
        Method::Source => n.source.as_ref().is_some_and(|(s, t)| {
            let parts: Vec<&str> = value.split('.').collect();
            match parts.as_slice() {
                [source] => glob(source, s),
                [source, table] => glob(source, s) && glob(table, t),
                [package, source, table] => {
                    glob(package, &n.package) && glob(source, s) && glob(table, t)
                }
                _ => false,
            }
        }),
        Method::TestType => match value {
            "data" => matches!(n.test_type, Some("generic" | "singular")),
            "schema" => n.test_type == Some("generic"),
            other => n.test_type == Some(other),
        },
        Method::TestName => n.test_name.as_deref().is_some_and(|t| {
            glob(value, t)
                || t.rsplit_once('.')
                    .is_some_and(|(_, short)| glob(value, short))
        }),
        Method::Package => glob(value, &n.package),
        Method::Exposure => n.resource_type == "exposure" && glob(value, &n.name),
        Method::Version => n.resource_type == "model" && version_matches(n, value),
        Method::State(_) | Method::Selector => false,
    }
}

/// `version:latest|prerelease|old|none`, as dbt, or a version number (a
/// stackc addition: that version of every versioned model).
pub(super) fn version_matches(n: &Candidate, value: &str) -> bool {
    use std::cmp::Ordering;
    let order = match (&n.version, &n.latest_version) {
        (Some(v), Some(l)) => Some(crate::schema::version_order(v, l)),
        _ => None,
    };
    match value {
        "latest" => order == Some(Ordering::Equal),
        "prerelease" => order == Some(Ordering::Greater),
        "old" => order == Some(Ordering::Less),
        "none" => n.version.is_none(),
        number => n
            .version
            .as_deref()
            .is_some_and(|v| crate::schema::version_order(v, number) == Ordering::Equal),
    }
}

/// dbt's fqn rule: the name itself, or the fqn's leading parts, where from
/// the first part with a wildcard on the rest of the fqn is matched as one
/// pattern (`shop.marts.*`, `*.stg_*`).
pub(super) fn fqn_matches(fqn: &[String], selector: &str, versioned: bool) -> bool {
    if versioned && fqn.len() >= 2 {
        // dbt's rule for a versioned model (`[.., dim_customers, v1]`): its
        // name selects every version, and the last two parts may be joined
        // by `.` or `_` (`dim_customers.v1`, `dim_customers_v1`).
        let tail = &fqn[fqn.len() - 2..];
        let wanted: Vec<&str> = selector.split('.').collect();
        let wanted_tail = wanted[wanted.len().saturating_sub(2)..].join("_");
        if tail[0] == selector || tail.join("_") == wanted_tail {
            return true;
        }
    } else if fqn.last().is_some_and(|leaf| leaf == selector) {
        return true;
    }
    let flat: Vec<&str> = fqn.iter().flat_map(|part| part.split('.')).collect();
    let parts: Vec<&str> = selector.split('.').collect();
    if flat.len() < parts.len() {
        return false;
    }
    for (i, part) in parts.iter().enumerate() {
        if part.contains(['*', '?', '[', ']']) {
            return glob(&parts[i..].join("."), &flat[i..].join("."));
        }
        if flat[i] != *part {
            return false;
        }
    }
    true
}

pub(super) fn config_matches(v: &serde_json::Value, value: &str) -> bool {
    match v {
        serde_json::Value::String(s) => glob(value, s),
        serde_json::Value::Bool(b) => value.eq_ignore_ascii_case(&b.to_string()),
        serde_json::Value::Number(n) => n.to_string() == value,
        serde_json::Value::Array(items) => items.iter().any(|i| config_matches(i, value)),
        _ => false,
    }
}

/// Adds the tests of selected nodes, as `--indirect-selection` says.
pub fn add_tests(graph: &Graph, selected: &mut BTreeSet<String>, mode: Indirect) {
    if mode == Indirect::Empty {
        return;
    }
    let ancestors = if mode == Indirect::Buildable {
        graph.walk(selected, None, true)
    } else {
        BTreeSet::new()
    };
    let tests: Vec<String> = graph
        .nodes
        .values()
        .filter(|n| n.test_type.is_some() && !selected.contains(&n.id))
        .filter(|n| {
            let mut parents = n.parents.iter().filter(|p| graph.nodes.contains_key(*p));
            match mode {
                Indirect::Eager => parents.any(|p| selected.contains(p)),
                Indirect::Cautious => {
                    let all: Vec<&String> = parents.collect();
                    !all.is_empty() && all.iter().all(|p| selected.contains(*p))
                }
                Indirect::Buildable => {
                    let all: Vec<&String> = parents.collect();
                    !all.is_empty()
                        && all
                            .iter()
                            .all(|p| selected.contains(*p) || ancestors.contains(*p))
                        && all.iter().any(|p| selected.contains(*p))
                }
                Indirect::Empty => false,
            }
        })
        .map(|n| n.id.clone())
        .collect();
    selected.extend(tests);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use super::super::tests::{graph, names, node};
    #[allow(unused_imports)]
    use super::super::*;

    #[test]
    fn tests_join_as_indirect_selection_says() {
        let g = graph();
        let pick = |ids: &[&str], mode| {
            let mut s: BTreeSet<String> = ids.iter().map(|i| format!("model.shop.{i}")).collect();
            add_tests(&g, &mut s, mode);
            s.into_iter().filter(|i| i.starts_with("test.")).count()
        };
        assert_eq!(pick(&["orders"], Indirect::Eager), 2);
        assert_eq!(pick(&["orders"], Indirect::Cautious), 1);
        assert_eq!(pick(&["orders", "customers"], Indirect::Cautious), 2);
        assert_eq!(pick(&["orders"], Indirect::Empty), 0);
        assert_eq!(
            pick(&["orders"], Indirect::Buildable),
            2,
            "customers is an ancestor of orders"
        );
        assert_eq!(pick(&["report"], Indirect::Eager), 0);
    }

    #[test]
    fn a_selector_matching_nothing_is_reported() {
        let expr = parse(&["tag:nope".into(), "orders".into()]).unwrap();
        let mut findings = Findings::default();
        let found = evaluate(&graph(), &expr, &Context::default(), &mut findings).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(findings.unmatched, ["tag:nope"]);
    }

    #[test]
    fn yaml_selectors_with_unions_and_exclusions() {
        let yaml: serde_json::Value = serde_json::json!({
            "selectors": [
                {"name": "nightly_no_finance", "default": true, "definition": {
                    "union": [
                        {"method": "tag", "value": "nightly", "children": true},
                        {"exclude": [{"method": "tag", "value": "finance"}]}
                    ]
                }},
                {"name": "staging", "definition": "path:models/staging"},
                {"name": "both", "definition": {"union": [
                    {"method": "selector", "value": "staging"}, "report"
                ]}}
            ]
        });
        let (selectors, default) = parse_selectors(&yaml).unwrap();
        assert_eq!(default.as_deref(), Some("nightly_no_finance"));
        let cx = Context {
            state: None,
            selectors: Some(&selectors),
        };
        let run = |name: &str| {
            evaluate(&graph(), &selectors[name], &cx, &mut Findings::default())
                .unwrap()
                .into_iter()
                .map(|id| id.rsplit('.').next().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        };
        // The tests of the excluded `orders` go with it.
        assert_eq!(run("nightly_no_finance"), names(&["customers", "report"]));
        assert_eq!(run("both"), names(&["stg_orders", "report"]));
    }

    #[test]
    fn state_new_and_modified() {
        let mut old = graph();
        old.nodes.remove("model.shop.report");
        for n in old.nodes.values_mut() {
            n.checksum = Some("a".into());
        }
        let mut now = graph();
        for n in now.nodes.values_mut() {
            n.checksum = Some(if n.name == "orders" { "b" } else { "a" }.into());
        }
        let cx = Context {
            state: Some(&old),
            selectors: None,
        };
        let run = |s: &str| {
            evaluate(
                &now,
                &parse(&[s.into()]).unwrap(),
                &cx,
                &mut Findings::default(),
            )
            .unwrap()
            .into_iter()
            .map(|id| id.rsplit('.').next().unwrap().to_string())
            .collect::<BTreeSet<_>>()
        };
        assert_eq!(run("state:new"), names(&["report"]));
        assert_eq!(run("state:modified"), names(&["orders", "report"]));
        assert_eq!(
            run("state:modified.body,resource_type:model"),
            names(&["orders"])
        );
    }

    #[test]
    fn version_methods_as_dbt() {
        let model = |name: &str, version: Option<&str>, latest: Option<&str>| Candidate {
            version: version.map(str::to_string),
            latest_version: latest.map(str::to_string),
            ..node(
                &format!("model.shop.{name}"),
                "model",
                &format!("models/{name}.sql"),
                &[],
                &[],
            )
        };
        let nodes = [
            model("dim_v1", Some("1"), Some("2")),
            model("dim_v2", Some("2"), Some("2")),
            model("dim_v3", Some("3"), Some("2")),
            model("dim_v10", Some("10"), Some("2")),
            model("plain", None, None),
            node("seed.shop.s", "seed", "seeds/s.csv", &[], &[]),
        ];
        let graph = Graph::new(nodes.into_iter().map(|n| (n.id.clone(), n)).collect());
        let pick = |value: &str| -> BTreeSet<String> {
            let expr = parse(&[format!("version:{value}")]).unwrap();
            evaluate(&graph, &expr, &Context::default(), &mut Findings::default())
                .unwrap()
                .into_iter()
                .map(|id| id.rsplit('.').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(pick("latest"), names(&["dim_v2"]));
        // 10 > 2 as numbers, not as text.
        assert_eq!(pick("prerelease"), names(&["dim_v3", "dim_v10"]));
        assert_eq!(pick("old"), names(&["dim_v1"]));
        // Models only: a seed has no version, but is not a model either.
        assert_eq!(pick("none"), names(&["plain"]));
        assert_eq!(pick("3"), names(&["dim_v3"]));
        let e = parse(&["version:newest".to_string()]).unwrap_err();
        assert_eq!(e.offset, "version:".len());
        assert!(e.message.contains("latest, prerelease, old, none"));
    }
}
