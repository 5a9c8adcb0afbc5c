//! dbt's `adapter` (with `dispatch`), `exceptions` and `api` objects.

use std::sync::Arc;

use minijinja::value::{from_args, Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

use crate::diagnostic::Code;

use super::introspection::{columns_in_relation, project_relation};
use super::namespaces::MacroRef;
use super::statement::needs_database;
use super::{fail, Registry, DBT};

#[derive(Debug)]
pub(super) struct Adapter {
    pub(super) registry: Arc<Registry>,
}

/// The packages `adapter.dispatch` searches, in dbt's order: the
/// project's `dispatch:` search order for the namespace, else the root
/// project then the namespace when it is a package. With no namespace, or
/// one that is no package (dbt searches as if none were given): the
/// package of the node being rendered (`local`), the root, then dbt.
pub(super) fn search_order(
    registry: &Registry,
    namespace: Option<&str>,
    local: Option<&str>,
) -> Vec<String> {
    if let Some(order) = namespace.and_then(|ns| registry.dispatch.get(ns)) {
        return order.clone();
    }
    match namespace {
        Some(ns) if ns == registry.root => vec![registry.root.clone()],
        Some(ns) if registry.macros.contains_key(ns) => vec![registry.root.clone(), ns.to_string()],
        _ => {
            let mut order = Vec::new();
            if let Some(local) = local.filter(|l| *l != registry.root && *l != DBT) {
                order.push(local.to_string());
            }
            order.push(registry.root.clone());
            order.push(DBT.to_string());
            order
        }
    }
}

/// Finds the implementation `adapter.dispatch(name, namespace)` calls:
/// `postgres__name`, then `default__name`, in each package of the search
/// order.
pub(super) fn dispatch(
    registry: &Registry,
    name: &str,
    namespace: Option<&str>,
    local: Option<&str>,
) -> Option<(String, String)> {
    for package in search_order(registry, namespace, local) {
        for prefix in ["postgres__", "default__"] {
            let candidate = format!("{prefix}{name}");
            if registry.template(&package, &candidate).is_some() {
                return Some((package, candidate));
            }
        }
    }
    None
}

/// The package of the node being rendered (dbt's `model.package_name`);
/// where `model` is no node (a generic test's `model` is the relation
/// tested), the package of the macro calling dispatch.
fn local_package(state: &State, registry: &Registry) -> Option<String> {
    let node = state
        .lookup("model")
        .and_then(|m| m.get_attr("package_name").ok())
        .and_then(|p| p.as_str().map(str::to_string));
    node.or_else(|| registry.owners.get(state.name()).cloned())
}

impl Object for Adapter {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "dispatch" => {
                let (name, namespace, kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                let namespace = match namespace {
                    Some(ns) => Some(ns),
                    None => kwargs.get::<Option<String>>("macro_namespace")?,
                };
                let local = local_package(state, &self.registry);
                match dispatch(
                    &self.registry,
                    &name,
                    namespace.as_deref(),
                    local.as_deref(),
                ) {
                    Some((package, name)) => Ok(Value::from_object(MacroRef {
                        registry: Arc::clone(&self.registry),
                        called_as: format!("{package}.{name}"),
                        package,
                        name,
                    })),
                    None => {
                        let order =
                            search_order(&self.registry, namespace.as_deref(), local.as_deref());
                        Err(fail(
                            state,
                            Code::E0152,
                            format!(
                                "adapter.dispatch('{name}') finds no `postgres__{name}` or `default__{name}` in {}",
                                order.join(", ")
                            ),
                            format!("define `default__{name}` in macros/, or install the package that has it (dispatch: search_order in dbt_project.yml sets where to look)"),
                        ))
                    }
                }
            }
            "quote" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(format!("\"{}\"", name.replace('"', "\"\""))))
            }
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                columns_in_relation(state, &relation)
            }
            "get_relation" => {
                let (database, schema, identifier, kwargs): (
                    Option<Value>,
                    Option<String>,
                    Option<String>,
                    Kwargs,
                ) = from_args(args)?;
                let _ = database.or(kwargs.get::<Option<Value>>("database")?);
                let schema = match schema {
                    Some(s) => s,
                    None => kwargs.get::<String>("schema")?,
                };
                let identifier = match identifier {
                    Some(i) => i,
                    None => kwargs.get::<String>("identifier")?,
                };
                Ok(project_relation(state, &schema, &identifier))
            }
            "get_missing_columns" | "list_relations_without_caching" | "execute" => {
                Err(needs_database(state, &format!("adapter.{method}()"), None))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
pub(super) struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let message = args.first().map(Value::to_string).unwrap_or_default();
        match method {
            "raise_compiler_error" => Err(fail(
                state,
                Code::E0154,
                message,
                "a macro raised this error with exceptions.raise_compiler_error: fix what it names"
                    .into(),
            )),
            "warn" => {
                eprintln!("warning: {message}");
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
pub(super) struct Api;

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(ApiRelation)),
            "Column" => Some(Value::from_object(ApiColumn)),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(super) struct ApiRelation;

impl Object for ApiRelation {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "create" {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let (kwargs,): (Kwargs,) = from_args(args)?;
        let schema: Option<String> = kwargs.get("schema")?;
        let identifier: Option<String> = kwargs.get("identifier")?;
        let _: Option<Value> = kwargs.get("database")?;
        let _: Option<Value> = kwargs.get("type")?;
        Ok(Value::from_object(crate::relation::Relation {
            schema: schema.unwrap_or_default(),
            name: identifier.unwrap_or_default(),
            quote: false,
            cte: None,
        }))
    }
}

/// `api.Column.translate_type` as dbt-postgres answers it.
#[derive(Debug)]
pub(super) struct ApiColumn;

pub fn translate_type(dtype: &str) -> String {
    match dtype.to_ascii_uppercase().as_str() {
        "STRING" => "TEXT".into(),
        "TIMESTAMP" => "TIMESTAMP".into(),
        "FLOAT" => "FLOAT".into(),
        "INTEGER" => "INT".into(),
        "BOOLEAN" => "BOOLEAN".into(),
        _ => dtype.to_string(),
    }
}

impl Object for ApiColumn {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "translate_type" => {
                let (dtype,): (String,) = from_args(args)?;
                Ok(Value::from(translate_type(&dtype)))
            }
            "numeric_type" => {
                let (dtype, precision, scale): (String, Option<Value>, Option<Value>) =
                    from_args(args)?;
                Ok(Value::from(match (precision, scale) {
                    (Some(p), Some(s)) if !p.is_none() && !s.is_none() => {
                        format!("{dtype}({p},{s})")
                    }
                    _ => dtype,
                }))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unused_imports)]
    use super::super::*;

    #[test]
    fn dispatch_searches_root_then_namespace_postgres_first() {
        let mut registry = Registry {
            root: "root".into(),
            ..Registry::default()
        };
        let add = |r: &mut Registry, p: &str, m: &str| {
            r.macros
                .entry(p.into())
                .or_default()
                .insert(m.into(), "f".into());
        };
        add(&mut registry, "pkg", "default__m");
        add(&mut registry, "pkg", "postgres__m");
        assert_eq!(
            dispatch(&registry, "m", Some("pkg"), None),
            Some(("pkg".into(), "postgres__m".into()))
        );
        add(&mut registry, "root", "default__m");
        assert_eq!(
            dispatch(&registry, "m", Some("pkg"), None),
            Some(("root".into(), "default__m".into()))
        );
        registry
            .dispatch
            .insert("pkg".into(), vec!["pkg".into(), "root".into()]);
        assert_eq!(
            dispatch(&registry, "m", Some("pkg"), None),
            Some(("pkg".into(), "postgres__m".into()))
        );
        assert_eq!(dispatch(&registry, "nope", Some("pkg"), None), None);
        // No namespace, or one that is no package: the node's package
        // first, then the root and dbt.
        add(&mut registry, "other", "default__n");
        for ns in [None, Some("not_a_package")] {
            assert_eq!(
                dispatch(&registry, "n", ns, Some("other")),
                Some(("other".into(), "default__n".into()))
            );
            assert_eq!(dispatch(&registry, "n", ns, None), None);
            assert_eq!(
                dispatch(&registry, "m", ns, Some("other")),
                Some(("root".into(), "default__m".into()))
            );
        }
    }
}
