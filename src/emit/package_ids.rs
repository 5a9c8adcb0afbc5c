//! dbt's unique ids for the nodes of installed packages, and for snapshots.
//!
//! Inside stackc a node's id is `<kind>.<root project>.<name>`: names are
//! unique across the root project and its packages, so the graph, the run
//! steps and the tests all key on that one form. dbt names a node by the
//! project whose file defines it (`model.dbt_utils.x`,
//! `test.pkg.unique_x_id.<hash>`, `source.pkg.raw.t`), and so do selection
//! (`package:`) and `dbt ls`. A snapshot is `snapshot.<package>.<name>` in
//! dbt (inside stackc it is a model with the `snapshot` materialization).
//! The manifest is rewritten to dbt's ids here, as the last step before it
//! is written; a project without package nodes or snapshots is left as it
//! is, at no cost.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::manifest::Manifest;

type Text<'a> = Cow<'a, str>;

/// Rewrites every id of a package's node in `m` to dbt's form. `package_of`
/// names the package a file belongs to (none for the root project's).
pub fn rewrite<'a>(
    m: Manifest<Text<'a>>,
    package_of: &dyn Fn(&str) -> Option<String>,
) -> Manifest<Text<'a>> {
    let root = m.metadata.project_name.to_string();
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    let files = m
        .nodes
        .iter()
        .map(|(id, n)| (id, n.file(), n.resource_type() == "snapshot"))
        .chain(m.sources.iter().map(|(id, s)| (id, s.file.as_ref(), false)));
    for (id, file, snapshot) in files {
        let package = package_of(file).unwrap_or_else(|| root.clone());
        let kind = snapshot.then_some("snapshot");
        if let Some(new) = dbt_id(id, &root, &package, kind) {
            renamed.insert(id.to_string(), new);
        }
    }
    if renamed.is_empty() {
        return m;
    }
    let Ok(mut value) = serde_json::to_value(&m) else {
        return m;
    };
    rename(&mut value, &renamed);
    // A Cow reads back owned: the manifest's own types read what they wrote.
    serde_json::from_value::<Manifest<Text<'a>>>(value).unwrap_or(m)
}

/// `model.<root>.<rest>` as `<new kind or model>.<package>.<rest>`; `None`
/// when nothing changes.
fn dbt_id(id: &str, root: &str, package: &str, new_kind: Option<&str>) -> Option<String> {
    let (kind, rest) = id.split_once('.')?;
    let rest = rest.strip_prefix(root)?.strip_prefix('.')?;
    let new = new_kind.unwrap_or(kind);
    (package != root || new != kind).then(|| format!("{new}.{package}.{rest}"))
}

/// `model.<root>.<rest>` as `model.<package>.<rest>`.
#[cfg(test)]
fn with_package(id: &str, root: &str, package: &str) -> Option<String> {
    dbt_id(id, root, package, None)
}

fn rename(value: &mut serde_json::Value, renamed: &BTreeMap<String, String>) {
    match value {
        serde_json::Value::String(s) => {
            if let Some(new) = renamed.get(s.as_str()) {
                *s = new.clone();
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| rename(v, renamed)),
        serde_json::Value::Object(map) => {
            let old = std::mem::take(map);
            for (key, mut v) in old {
                rename(&mut v, renamed);
                let key = renamed.get(&key).cloned().unwrap_or(key);
                map.insert(key, v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_take_their_kind() {
        assert_eq!(
            dbt_id("model.shop.orders_snap", "shop", "shop", Some("snapshot")).as_deref(),
            Some("snapshot.shop.orders_snap")
        );
        assert_eq!(
            dbt_id("model.shop.s", "shop", "pkg", Some("snapshot")).as_deref(),
            Some("snapshot.pkg.s")
        );
    }

    #[test]
    fn ids_take_the_package_and_keep_the_rest() {
        assert_eq!(
            with_package("test.shop.unique_x_id.0123456789", "shop", "pkg").as_deref(),
            Some("test.pkg.unique_x_id.0123456789")
        );
        assert_eq!(
            with_package("source.shop.raw.t", "shop", "pkg").as_deref(),
            Some("source.pkg.raw.t")
        );
        assert_eq!(with_package("model.shop.x", "shop", "shop"), None);
        assert_eq!(with_package("model.shopx.x", "shop", "pkg"), None);
    }

    #[test]
    fn keys_and_values_are_renamed() {
        let mut v = serde_json::json!({"model.a.x": ["model.a.x", "model.a.y"], "k": "model.a.x"});
        let renamed = BTreeMap::from([("model.a.x".to_string(), "model.p.x".to_string())]);
        rename(&mut v, &renamed);
        assert_eq!(
            v,
            serde_json::json!({"model.p.x": ["model.p.x", "model.a.y"], "k": "model.p.x"})
        );
    }
}
