//! `adapter.get_columns_in_relation` and friends, answered from the catalog
//! the project declares (stackc compiles without a database).

use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use crate::diagnostic::Code;

use super::fail;

/// `adapter.get_columns_in_relation(r)` from the project's catalog: the
/// columns of a seed, or of a source or model whose schema file lists them.
/// Anything else is E0170: the answer would need the database, and a
/// guess would compile to different SQL than dbt's.
pub(super) fn columns_in_relation(state: &State, relation: &Value) -> Result<Value, Error> {
    let relations = crate::render::catalog_of(state);
    if relations.as_ref().is_some_and(|r| !r.complete) {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let Some(rel) = relation.downcast_object_ref::<crate::relation::Relation>() else {
        return Err(fail(
            state,
            Code::E0170,
            format!("adapter.get_columns_in_relation() needs a relation, got `{relation}`"),
            "pass ref('model'), source('src', 'table') or api.Relation.create(schema=..., identifier=...)".into(),
        ));
    };
    // A model whose columns its SQL will tell: asked again once they are
    // (its schema file may list columns the SQL does not make).
    let entry = relations
        .as_ref()
        .filter(|r| !r.catalog.is_pending(&rel.schema, &rel.name))
        .and_then(|r| r.catalog.columns(&rel.schema, &rel.name));
    let Some(entry) = entry else {
        return Err(fail(
            state,
            Code::E0170,
            format!(
                "adapter.get_columns_in_relation({}.{}): stackc does not know the columns of this relation at compile time",
                rel.schema, rel.name
            ),
            "list its columns (with data_type) in a schema file: stackc then answers from there; seeds are known from their header".into(),
        ));
    };
    Ok(Value::from(
        entry
            .columns
            .iter()
            .map(|c| {
                Value::from_object(CatalogColumnValue {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                })
            })
            .collect::<Vec<_>>(),
    ))
}

/// `adapter.get_relation(database, schema, identifier)`: the relation when
/// the project creates it (a model or seed) or declares it (a source),
/// else none, as dbt answers for a relation that does not exist.
pub(super) fn project_relation(state: &State, schema: &str, identifier: &str) -> Value {
    let Some(relations) = crate::render::catalog_of(state) else {
        return Value::from(());
    };
    relations
        .models
        .values()
        .chain(relations.sources.values())
        .find(|r| r.cte.is_none() && r.schema == schema && r.name == identifier)
        .map_or(Value::from(()), |r| Value::from_object(r.clone()))
}

/// An `api.Column` as get_columns_in_relation returns it.
#[derive(Debug)]
pub(super) struct CatalogColumnValue {
    pub(super) name: String,
    pub(super) data_type: Option<String>,
}

impl Object for CatalogColumnValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" | "column" => Some(Value::from(self.name.clone())),
            "quoted" => Some(Value::from(format!(
                "\"{}\"",
                self.name.replace('"', "\"\"")
            ))),
            "data_type" | "dtype" => {
                Some(self.data_type.clone().map_or(Value::from(()), Value::from))
            }
            _ => None,
        }
    }

    /// dbt-postgres's `Column` predicates, from the type's name.
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        let t = self
            .data_type
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let base = t.split('(').next().unwrap_or_default().trim().to_string();
        let is_string = matches!(
            base.as_str(),
            "text" | "character varying" | "varchar" | "character" | "char"
        );
        let is_integer = matches!(
            base.as_str(),
            "smallint"
                | "integer"
                | "bigint"
                | "smallserial"
                | "serial"
                | "bigserial"
                | "int2"
                | "int4"
                | "int8"
                | "int"
        );
        let is_float = matches!(
            base.as_str(),
            "real" | "float4" | "float" | "double precision" | "float8" | "double"
        );
        let is_numeric = matches!(base.as_str(), "numeric" | "decimal");
        Ok(Value::from(match method {
            "is_string" => is_string,
            "is_integer" => is_integer,
            "is_float" => is_float,
            "is_numeric" => is_numeric,
            "is_number" => is_integer || is_float || is_numeric,
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<Column {} ({})>",
            self.name,
            self.data_type.as_deref().unwrap_or("?")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Environment;

    #[test]
    fn columns_answer_dbt_postgres_type_predicates() {
        let mut env = Environment::new();
        env.add_global(
            "c",
            Value::from_object(CatalogColumnValue {
                name: "amount".into(),
                data_type: Some("double precision".into()),
            }),
        );
        env.add_global(
            "s",
            Value::from_object(CatalogColumnValue {
                name: "code".into(),
                data_type: Some("character varying(10)".into()),
            }),
        );
        let out = env
            .render_str(
                "{{ c.is_float() }} {{ c.is_number() }} {{ c.is_string() }} {{ s.is_string() }} {{ s.is_integer() }}",
                (),
            )
            .unwrap();
        assert_eq!(out, "True True False True False");
    }
}
