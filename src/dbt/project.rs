//! `dbt_project.yml`: the project's name, folders, vars, hooks and config
//! trees, with dbt's rules for `+key` and bare keys.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use super::yaml::{self, Key, Yaml};
use super::{DbtSettings, Hook};
use crate::config::{ConfigEntry, ConfigLayer};
use crate::diagnostic::{Code, Diagnostic};
use crate::project::{Paths, SourceFile};

/// Configs dbt knows, so that a bare key (without `+`) in a config tree is
/// read as a config and not as a folder, as dbt does.
pub const DBT_CONFIG_KEYS: &[&str] = &[
    "access",
    "alias",
    "batch_size",
    "begin",
    "bind",
    "check_cols",
    "cluster_by",
    "column_types",
    "contract",
    "database",
    "dbt_valid_to_current",
    "delimiter",
    "docs",
    "enabled",
    "error_if",
    "event_time",
    "fail_calc",
    "full_refresh",
    "grants",
    "group",
    "hard_deletes",
    "identifier",
    "incremental_predicates",
    "incremental_strategy",
    "indexes",
    "invalidate_hard_deletes",
    "limit",
    "lookback",
    "materialized",
    "merge_exclude_columns",
    "merge_update_columns",
    "meta",
    "on_configuration_change",
    "on_schema_change",
    "partition_by",
    "persist_docs",
    "post_hook",
    "pre_hook",
    "quote_columns",
    "quoting",
    "schema",
    "severity",
    "snapshot_meta_column_names",
    "sql_check",
    "sql_header",
    "store_failures",
    "store_failures_as",
    "strategy",
    "tags",
    "target_database",
    "target_schema",
    "unique_key",
    "unlogged",
    "updated_at",
    "vacuum",
    "warn_if",
    "where",
];

const TOP_LEVEL_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "source-paths",
    "seed-paths",
    "data-paths",
    "macro-paths",
    "test-paths",
    "snapshot-paths",
    "analysis-paths",
    "docs-paths",
    "asset-paths",
    "function-paths",
    "target-path",
    "log-path",
    "packages-install-path",
    "clean-targets",
    "require-dbt-version",
    "vars",
    "quoting",
    "flags",
    "on-run-start",
    "on-run-end",
    "dispatch",
    "query-comment",
    "restrict-access",
    "models",
    "seeds",
    "snapshots",
    "tests",
    "data_tests",
    "unit_tests",
    "sources",
    "analyses",
    "metrics",
    "semantic-models",
    "saved-queries",
    "exposures",
    "functions",
];

/// `dbt_project.yml` as plain data.
#[derive(Debug, Clone, Default)]
pub struct DbtProject {
    pub name: String,
    pub paths: Paths,
    pub vars: BTreeMap<String, serde_json::Value>,
    /// `models:` tree of this project, keyed by folder path under a model
    /// path (the last part may be a model's name).
    pub model_configs: BTreeMap<Vec<String>, ConfigLayer>,
    pub dbt: DbtSettings,
}

/// The key as dbt reads it in a config tree: `+pre-hook` is `pre_hook`.
pub fn config_key(raw: &str) -> (bool, String) {
    let plus = raw.starts_with('+');
    let key = raw.trim_start_matches('+');
    let key = match key {
        "pre-hook" => "pre_hook",
        "post-hook" => "post_hook",
        other => other,
    };
    (plus, key.to_string())
}

pub fn parse(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> DbtProject {
    let mut out = DbtProject {
        paths: Paths::default(),
        ..DbtProject::default()
    };
    let doc = match yaml::parse(&file.path, &file.text) {
        Ok(doc) => doc,
        Err(d) => {
            diagnostics.push(d);
            return out;
        }
    };
    let cx = Cx { file };
    let Some(entries) = doc.value.as_map() else {
        diagnostics.push(
            Diagnostic::new(Code::E0031, "dbt_project.yml must be a mapping of keys")
                .at(cx.span(&doc))
                .help("start with `name: my_project`"),
        );
        return out;
    };
    // The name first: the config trees and vars are keyed by it.
    match doc.value.get("name") {
        Some(v) => match v.value.as_str() {
            Some(name) if crate::project::is_identifier(name) => out.name = name.to_string(),
            _ => diagnostics.push(
                Diagnostic::new(
                    Code::E0031,
                    "`name` in dbt_project.yml must be letters, digits and `_`",
                )
                .at(cx.span(v))
                .help("for example `name: 'jaffle_shop'`"),
            ),
        },
        None => diagnostics.push(
            Diagnostic::new(Code::E0031, "dbt_project.yml has no `name`")
                .at_file(&file.path, 0..0)
                .help("add `name: my_project` (letters, digits and `_`)"),
        ),
    }
    for (key, value) in entries {
        let k = key.value.0.as_str();
        match k {
            "name"
            | "version"
            | "config-version"
            | "require-dbt-version"
            | "target-path"
            | "log-path"
            | "clean-targets"
            | "packages-install-path"
            | "flags"
            | "query-comment"
            | "restrict-access"
            | "dispatch"
            | "asset-paths"
            | "docs-paths"
            | "function-paths" => {}
            "profile" => match value.value.scalar_text() {
                Some(p) => out.dbt.profile = Some(p),
                None => diagnostics.push(cx.bad(value, "`profile` must be a profile name")),
            },
            "model-paths" | "source-paths" => {
                if let Some(p) = cx.paths(value, k, diagnostics) {
                    out.paths.models = p;
                }
            }
            "seed-paths" | "data-paths" => {
                if let Some(p) = cx.paths(value, k, diagnostics) {
                    out.paths.seeds = p;
                }
            }
            "macro-paths" => {
                if let Some(p) = cx.paths(value, k, diagnostics) {
                    out.paths.macros = p;
                }
            }
            "test-paths" => {
                if let Some(p) = cx.paths(value, k, diagnostics) {
                    out.paths.tests = p;
                }
            }
            "snapshot-paths" => {
                if let Some(p) = cx.paths(value, k, diagnostics) {
                    out.paths.snapshots = p;
                }
            }
            "analysis-paths" => {
                if let Some(p) = cx.paths(value, k, diagnostics) {
                    out.paths.analyses = p;
                }
            }
            "vars" => cx.vars(value, &mut out, diagnostics),
            "quoting" => {
                for (qk, qv) in value.value.as_map().unwrap_or_default() {
                    match qv.value {
                        Yaml::Bool(b) => {
                            out.dbt.quoting.insert(qk.value.0.clone(), b);
                        }
                        _ => {
                            diagnostics.push(cx.bad(qv, "a `quoting` value must be true or false"))
                        }
                    }
                }
            }
            "on-run-start" => out.dbt.on_run_start = cx.hooks(value, k, diagnostics),
            "on-run-end" => out.dbt.on_run_end = cx.hooks(value, k, diagnostics),
            "models" => {
                let (own, packages, top) = cx.tree(value, &out.name, k, diagnostics);
                out.model_configs = own;
                out.dbt.every_model = BTreeMap::from([(Vec::new(), top)]);
                merge_packages(&mut out.dbt.package_configs, packages);
            }
            "seeds" => {
                let (own, packages, top) = cx.tree(value, &out.name, k, diagnostics);
                out.dbt.seed_configs = own;
                out.dbt.every_seed = BTreeMap::from([(Vec::new(), top)]);
                merge_packages(&mut out.dbt.package_seed_configs, packages);
            }
            "tests" | "data_tests" => {
                let (own, _, _) = cx.tree(value, &out.name, k, diagnostics);
                for (path, layer) in own {
                    out.dbt.test_configs.entry(path).or_default().extend(layer);
                }
            }
            "snapshots" => {
                let (own, _, _) = cx.tree(value, &out.name, k, diagnostics);
                out.dbt.snapshot_configs = own;
            }
            "unit_tests" | "sources" | "analyses" | "metrics" | "semantic-models"
            | "saved-queries" | "exposures" | "functions" => {}
            other => {
                let mut help =
                    "dbt_project.yml keys are dbt's; stackc ignores this one".to_string();
                if let Some(close) = crate::suggest::closest(other, TOP_LEVEL_KEYS.iter().copied())
                {
                    help = format!("did you mean `{close}`? {help}");
                }
                diagnostics.push(
                    Diagnostic::new(
                        Code::W0032,
                        format!("unknown key `{other}` in dbt_project.yml"),
                    )
                    .at(cx.span(key))
                    .help(help),
                );
            }
        }
    }
    out
}

fn merge_packages(
    into: &mut BTreeMap<String, BTreeMap<Vec<String>, ConfigLayer>>,
    packages: BTreeMap<String, BTreeMap<Vec<String>, ConfigLayer>>,
) {
    for (name, tree) in packages {
        into.entry(name).or_default().extend(tree);
    }
}

struct Cx<'a> {
    file: &'a SourceFile,
}

type Tree = BTreeMap<Vec<String>, ConfigLayer>;

impl Cx<'_> {
    fn span<T>(&self, v: &Spanned<T>) -> crate::diagnostic::Span {
        yaml::span_of(&self.file.path, &self.file.text, v)
    }

    fn bad(&self, v: &Spanned<Yaml>, msg: &str) -> Diagnostic {
        Diagnostic::new(Code::E0031, msg.to_string())
            .at(self.span(v))
            .help("see dbt's dbt_project.yml reference for the shape of this key")
    }

    fn paths(
        &self,
        v: &Spanned<Yaml>,
        key: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Vec<String>> {
        let items: Vec<&Spanned<Yaml>> = match &v.value {
            Yaml::Seq(items) => items.iter().collect(),
            Yaml::Str(_) => vec![v],
            _ => {
                diagnostics.push(self.bad(v, &format!("`{key}` must be a list of folders")));
                return None;
            }
        };
        let mut out = Vec::new();
        for item in items {
            match item.value.as_str() {
                Some(p) if is_relative_folder(p) => {
                    out.push(p.trim_end_matches('/').trim_start_matches("./").to_string())
                }
                _ => diagnostics.push(
                    Diagnostic::new(
                        Code::E0031,
                        format!("`{key}` entries must be folders inside the project"),
                    )
                    .at(self.span(item))
                    .help("write a relative path such as \"models\"; `..` and absolute paths are not allowed"),
                ),
            }
        }
        Some(out)
    }

    fn vars(&self, v: &Spanned<Yaml>, out: &mut DbtProject, diagnostics: &mut Vec<Diagnostic>) {
        let Some(entries) = v.value.as_map() else {
            if v.value != Yaml::Null {
                diagnostics.push(self.bad(v, "`vars` must be a mapping"));
            }
            return;
        };
        let mut scoped = BTreeMap::new();
        for (k, val) in entries {
            let name = &k.value.0;
            // dbt reads a mapping under a project's name as vars scoped to
            // that project; the root project's own scope wins over globals.
            if *name == out.name {
                if let Some(own) = val.value.as_map() {
                    for (ik, iv) in own {
                        scoped.insert(ik.value.0.clone(), iv.value.to_json());
                    }
                    continue;
                }
            }
            out.vars.insert(name.clone(), val.value.to_json());
        }
        out.vars.extend(scoped);
    }

    fn hooks(&self, v: &Spanned<Yaml>, key: &str, diagnostics: &mut Vec<Diagnostic>) -> Vec<Hook> {
        let items: Vec<&Spanned<Yaml>> = match &v.value {
            Yaml::Seq(items) => items.iter().collect(),
            Yaml::Null => Vec::new(),
            _ => vec![v],
        };
        let mut out = Vec::new();
        for item in items {
            match item.value.scalar_text() {
                Some(sql) => out.push(Hook {
                    sql,
                    span: self.span(item),
                }),
                None => diagnostics
                    .push(self.bad(item, &format!("`{key}` entries must be SQL strings"))),
            }
        }
        out
    }

    /// A `models:`/`seeds:`/`tests:` tree: configs at the top apply to every
    /// project; under the project's own name they are this project's, by
    /// folder; under another name they belong to that package.
    fn tree(
        &self,
        v: &Spanned<Yaml>,
        project: &str,
        section: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> (Tree, BTreeMap<String, Tree>, ConfigLayer) {
        let mut own = Tree::new();
        let mut packages = BTreeMap::new();
        let Some(entries) = v.value.as_map() else {
            if v.value != Yaml::Null {
                diagnostics.push(self.bad(v, &format!("`{section}` must be a mapping")));
            }
            return (own, packages, ConfigLayer::new());
        };
        let mut top = ConfigLayer::new();
        for (k, val) in entries {
            let (plus, key) = config_key(&k.value.0);
            if plus || DBT_CONFIG_KEYS.contains(&key.as_str()) {
                top.insert(key, self.entry(val));
            } else if key == project {
                self.subtree(val, &mut Vec::new(), &mut own, section, diagnostics);
            } else if val.value.as_map().is_some() {
                let mut tree = Tree::new();
                self.subtree(val, &mut Vec::new(), &mut tree, section, diagnostics);
                packages.insert(key, tree);
            } else {
                diagnostics.push(self.unknown_config(k, section));
            }
        }
        if !top.is_empty() {
            // Project-level entries are more specific than the top level.
            let root = own.entry(Vec::new()).or_default();
            for (k, e) in &top {
                root.entry(k.clone()).or_insert_with(|| e.clone());
            }
        }
        (own, packages, top)
    }

    fn subtree(
        &self,
        v: &Spanned<Yaml>,
        folders: &mut Vec<String>,
        out: &mut Tree,
        section: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let Some(entries) = v.value.as_map() else {
            if v.value != Yaml::Null {
                diagnostics.push(self.bad(v, &format!("`{section}` folders must be mappings")));
            }
            return;
        };
        let mut layer = ConfigLayer::new();
        for (k, val) in entries {
            let (plus, key) = config_key(&k.value.0);
            if plus || DBT_CONFIG_KEYS.contains(&key.as_str()) {
                layer.insert(key, self.entry(val));
            } else if val.value.as_map().is_some() || val.value == Yaml::Null {
                folders.push(key);
                self.subtree(val, folders, out, section, diagnostics);
                folders.pop();
            } else {
                diagnostics.push(self.unknown_config(k, section));
            }
        }
        if !layer.is_empty() {
            out.insert(folders.clone(), layer);
        }
    }

    fn entry(&self, v: &Spanned<Yaml>) -> ConfigEntry {
        ConfigEntry {
            value: v.value.to_json(),
            span: self.span(v),
        }
    }

    fn unknown_config(&self, k: &Spanned<Key>, section: &str) -> Diagnostic {
        Diagnostic::new(
            Code::W0032,
            format!("`{}` under `{section}` is neither a folder nor a config dbt knows", k.value.0),
        )
        .at(self.span(k))
        .help("write configs with a `+` (`+materialized: table`) and folders as mappings; stackc ignores this key")
    }
}

fn is_relative_folder(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.split('/').any(|part| part == "..")
        && !p.contains(':')
}

/// The path parts a `models:` tree is keyed by: folders under the model
/// path, then the model's name, as dbt matches them.
pub fn config_path(folders: &[String], name: &str) -> Vec<String> {
    let mut path = folders.to_vec();
    path.push(name.to_string());
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn parse_text(text: &str) -> (DbtProject, Vec<Diagnostic>) {
        let file = SourceFile {
            path: Arc::from("dbt_project.yml"),
            text: Arc::from(text),
        };
        let mut d = Vec::new();
        let p = parse(&file, &mut d);
        (p, d)
    }

    #[test]
    fn paths_vars_and_config_trees_are_read_as_dbt_reads_them() {
        let (p, d) = parse_text(
            "name: shop\nprofile: shop\nmodel-paths: [\"transform\"]\nseed-paths: [data]\nvars:\n  a: 1\n  b: 2\n  shop:\n    b: 3\n  other_pkg:\n    c: 4\nmodels:\n  +tags: top\n  shop:\n    +materialized: table\n    staging:\n      materialized: view\n      +post-hook: \"select 1\"\n      stg_a:\n        +enabled: false\n  other_pkg:\n    +enabled: false\non-run-end: \"grant usage on schema x to y\"\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.name, "shop");
        assert_eq!(p.paths.models, ["transform"]);
        assert_eq!(p.paths.seeds, ["data"]);
        assert_eq!(p.paths.macros, ["macros"]);
        assert_eq!(p.vars["b"], serde_json::json!(3));
        assert_eq!(p.vars["other_pkg"], serde_json::json!({"c": 4}));
        let root = &p.model_configs[&Vec::<String>::new()];
        assert_eq!(root["materialized"].value, serde_json::json!("table"));
        assert_eq!(root["tags"].value, serde_json::json!("top"));
        let staging = &p.model_configs[&vec!["staging".to_string()]];
        assert_eq!(staging["materialized"].value, serde_json::json!("view"));
        assert_eq!(staging["post_hook"].value, serde_json::json!("select 1"));
        assert!(p
            .model_configs
            .contains_key(&vec!["staging".to_string(), "stg_a".to_string()]));
        assert!(p.dbt.package_configs.contains_key("other_pkg"));
        assert_eq!(p.dbt.on_run_end.len(), 1);
    }

    #[test]
    fn a_missing_name_and_unknown_keys_are_reported_at_their_line() {
        let (_, d) = parse_text("profile: p\nmodle-paths: [x]\nmodel-paths: [\"../up\"]\n");
        let codes: Vec<Code> = d.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::E0031, Code::W0032, Code::E0031], "{d:?}");
        assert!(d[1].help.as_deref().unwrap().contains("model-paths"));
    }
}
