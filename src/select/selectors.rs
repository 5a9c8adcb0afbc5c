//! `selectors.yml`: named selector definitions, read into [`Expr`]s.

use std::collections::BTreeMap;

use super::grammar::parse;
use super::Expr;

/// `selectors.yml` as dbt reads it: each selector's definition, as CLI
/// syntax or as `method`/`value` mappings with `union`, `intersection` and
/// `exclude`. Returns the selectors by name and the default one, if any.
pub fn parse_selectors(
    yaml: &serde_json::Value,
) -> Result<(BTreeMap<String, Expr>, Option<String>), String> {
    let list = yaml
        .get("selectors")
        .and_then(serde_json::Value::as_array)
        .ok_or("selectors.yml needs a top-level `selectors:` list")?;
    let mut out = BTreeMap::new();
    let mut default = None;
    for item in list {
        let name = item
            .get("name")
            .and_then(serde_json::Value::as_str)
            .ok_or("every selector needs a `name`")?;
        let definition = item
            .get("definition")
            .ok_or_else(|| format!("selector `{name}` has no `definition`"))?;
        if item.get("default").and_then(serde_json::Value::as_bool) == Some(true) {
            if let Some(other) = &default {
                return Err(format!(
                    "selectors `{other}` and `{name}` are both `default: true`: only one may be"
                ));
            }
            default = Some(name.to_string());
        }
        let expr = definition_expr(definition).map_err(|e| format!("selector `{name}`: {e}"))?;
        out.insert(name.to_string(), expr);
    }
    Ok((out, default))
}

pub(super) fn definition_expr(v: &serde_json::Value) -> Result<Expr, String> {
    use serde_json::Value as J;
    match v {
        J::String(s) => parse(std::slice::from_ref(s)).map_err(|e| e.to_string()),
        J::Object(map) => {
            for (key, combine) in [("union", true), ("intersection", false)] {
                if let Some(items) = map.get(key) {
                    let items = items
                        .as_array()
                        .ok_or_else(|| format!("`{key}` takes a list"))?;
                    let mut parts = Vec::new();
                    let mut excluded = Vec::new();
                    for item in items {
                        match item.get("exclude") {
                            Some(ex) => {
                                let ex = ex.as_array().ok_or("`exclude` takes a list")?;
                                for e in ex {
                                    excluded.push(definition_expr(e)?);
                                }
                            }
                            None => parts.push(definition_expr(item)?),
                        }
                    }
                    let joined = if combine {
                        Expr::Union(parts)
                    } else {
                        Expr::Intersection(parts)
                    };
                    return Ok(if excluded.is_empty() {
                        joined
                    } else {
                        Expr::Difference(Box::new(joined), Box::new(Expr::Union(excluded)))
                    });
                }
            }
            let method = map.get("method").and_then(J::as_str).ok_or(
                "a selector mapping needs `method` and `value` (or `union` / `intersection`)",
            )?;
            let value = match map.get("value") {
                Some(J::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return Err(format!("method `{method}` needs a `value`")),
            };
            let mut text = format!("{method}:{value}");
            let depth = |key: &str| map.get(key).and_then(J::as_u64).map(|d| d as usize);
            let flag = |key: &str| map.get(key).and_then(J::as_bool).unwrap_or(false);
            if flag("parents") {
                text = format!(
                    "{}+{text}",
                    depth("parents_depth").map_or(String::new(), |d| d.to_string())
                );
            }
            if flag("children") {
                text = format!(
                    "{text}+{}",
                    depth("children_depth").map_or(String::new(), |d| d.to_string())
                );
            }
            if flag("childrens_parents") {
                text = format!("@{text}");
            }
            let mut expr = parse(&[text]).map_err(|e| e.to_string())?;
            if let Some(ex) = map.get("exclude") {
                let ex = ex.as_array().ok_or("`exclude` takes a list")?;
                let excluded = ex
                    .iter()
                    .map(definition_expr)
                    .collect::<Result<Vec<_>, _>>()?;
                expr = Expr::Difference(Box::new(expr), Box::new(Expr::Union(excluded)));
            }
            Ok(expr)
        }
        _ => Err("a definition is a string or a mapping".into()),
    }
}
