//! Schema, alias and database names as dbt gives them: the project's own
//! `generate_schema_name`, `generate_alias_name` and
//! `generate_database_name` macros when it has them, else dbt's defaults.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::dbt::profiles::Target;
use crate::dbt::{seeds, DbtSettings};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::render::Renderer;
use crate::seed::Seed;

/// A node as the naming macros see it (`node.name`, `node.resource_type`,
/// `node.config`, `node.fqn`...).
pub struct Node<'a> {
    pub name: &'a str,
    pub resource_type: &'a str,
    pub package: &'a str,
    pub path: &'a str,
    pub folders: &'a [String],
    pub config: serde_json::Value,
}

impl Node<'_> {
    fn to_json(&self) -> serde_json::Value {
        let mut fqn: Vec<&str> = vec![self.package];
        fqn.extend(self.folders.iter().map(String::as_str));
        fqn.push(self.name);
        serde_json::json!({
            "name": self.name,
            "resource_type": self.resource_type,
            "package_name": self.package,
            "path": self.path,
            "original_file_path": self.path,
            "unique_id": format!("{}.{}.{}", self.resource_type, self.package, self.name),
            "fqn": fqn,
            "config": self.config,
        })
    }
}

/// The names one node gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub schema: String,
    pub alias: String,
}

/// Names `node`: `custom_schema` is its `schema` config, `alias` and
/// `database` its configs of those names; `at` is where the node is.
#[allow(clippy::too_many_arguments)] // each is one of dbt's naming inputs
pub fn names(
    renderer: &Renderer,
    target: &Target,
    vars: &Arc<BTreeMap<String, serde_json::Value>>,
    node: &Node<'_>,
    custom_schema: Option<&str>,
    alias: Option<&str>,
    database: Option<&str>,
    at: &Span,
    diagnostics: &mut Vec<Diagnostic>,
) -> Names {
    let json = node.to_json();
    let opt = |v: Option<&str>| v.map_or(serde_json::Value::Null, |s| serde_json::json!(s));
    let mut call = |macro_name: &str, custom: Option<&str>, default: String| -> String {
        match renderer.call_macro(macro_name, &[opt(custom), json.clone()], vars, at) {
            Some(Ok(name)) => name,
            Some(Err(d)) => {
                diagnostics.push(d);
                default
            }
            None => default,
        }
    };
    let schema = call(
        "generate_schema_name",
        custom_schema,
        default_schema(&target.schema, custom_schema),
    );
    let alias = call(
        "generate_alias_name",
        alias,
        alias.map_or_else(|| node.name.to_string(), |a| a.trim().to_string()),
    );
    let db_default = database.map_or_else(|| target.database.clone(), |d| d.trim().to_string());
    let db = call("generate_database_name", database, db_default);
    if !db.is_empty() && !target.database.is_empty() && db != target.database {
        diagnostics.push(
            Diagnostic::new(
                Code::E0038,
                format!(
                    "`{}` would be built in database `{db}`, but the target is database `{}`",
                    node.name, target.database
                ),
            )
            .at(at.clone())
            .help("PostgreSQL cannot write across databases in one connection: remove the `database` config (or the override in generate_database_name)"),
        );
    }
    Names { schema, alias }
}

/// dbt's `default__generate_schema_name`.
pub fn default_schema(target_schema: &str, custom: Option<&str>) -> String {
    match custom {
        None => target_schema.to_string(),
        Some(custom) => format!("{target_schema}_{}", custom.trim()),
    }
}

/// Schema and table name of a seed.
pub fn seed_names(
    renderer: &Renderer,
    dbt: &DbtSettings,
    project: &str,
    vars: &Arc<BTreeMap<String, serde_json::Value>>,
    seed: &Seed,
    seed_paths: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> (String, String) {
    let config = seeds::config(dbt, seed, seed_paths);
    let text = |k: &str| config.get(k).and_then(|v| v.as_str());
    let (package, seed_paths) = match dbt.package_of(&seed.file.path) {
        Some((pkg, config)) => (pkg, config.seed_paths.as_slice()),
        None => (project, seed_paths),
    };
    let folders = seeds::folders(&seed.file.path, seed_paths);
    let node = Node {
        name: &seed.name,
        resource_type: "seed",
        package,
        path: &seed.file.path,
        folders: &folders,
        config: serde_json::Value::Object(config.clone().into_iter().collect()),
    };
    let names = names(
        renderer,
        &dbt.target,
        vars,
        &node,
        text("schema"),
        text("alias"),
        text("database"),
        &Span::new(&seed.file.path, 0..0),
        diagnostics,
    );
    (names.schema, names.alias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dbt::profiles::target_json;
    use crate::project::SourceFile;

    fn node() -> Node<'static> {
        Node {
            name: "orders",
            resource_type: "model",
            package: "shop",
            path: "models/orders.sql",
            folders: &[],
            config: serde_json::json!({}),
        }
    }

    fn run(macros: &str, custom: Option<&str>) -> (Names, Vec<Diagnostic>) {
        let files = if macros.is_empty() {
            vec![]
        } else {
            vec![SourceFile {
                path: Arc::from("macros/naming.sql"),
                text: Arc::from(macros),
            }]
        };
        let mut d = Vec::new();
        let target = Target {
            schema: "dev".into(),
            database: "db".into(),
            ..Target::default()
        };
        let options = crate::render::RenderOptions {
            dbt_whitespace: true,
            target: Some(target_json(&target)),
            dbt: None,
        };
        let renderer = Renderer::new_with(&files, &options, &mut d);
        let at = Span::new(&Arc::from("models/orders.sql"), 0..0);
        let vars = Arc::new(BTreeMap::new());
        let names = names(
            &renderer,
            &target,
            &vars,
            &node(),
            custom,
            None,
            None,
            &at,
            &mut d,
        );
        (names, d)
    }

    #[test]
    fn dbt_default_appends_the_custom_schema() {
        assert_eq!(run("", None).0.schema, "dev");
        assert_eq!(run("", Some(" marts ")).0.schema, "dev_marts");
        assert_eq!(run("", None).0.alias, "orders");
    }

    #[test]
    fn the_projects_own_macro_wins() {
        let m = "{% macro generate_schema_name(custom_schema_name, node) -%}\n    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}\n{%- endmacro %}\n";
        let (names, d) = run(m, Some("marts"));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(names.schema, "marts");
    }
}
