//! A relation in Jinja, as dbt's `Relation` object.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use crate::relation::Relation;

/// The keys of a relation as dbt's `Relation` object has them.
pub(super) const RELATION_KEYS: &[&str] = &[
    "schema",
    "name",
    "identifier",
    "table",
    "database",
    "type",
    "is_cte",
    "is_table",
    "is_view",
    "metadata",
];

/// A relation in Jinja as dbt's: a mapping (packages test `obj is mapping`
/// and `obj.get('metadata', {}).get('type')` to tell a relation from a
/// string) that renders as its quoted name.
impl Object for Relation {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "schema" => Value::from(self.schema.clone()),
            "name" | "identifier" | "table" => Value::from(self.name.clone()),
            // stackc names relations by schema and name in the target
            // database; dbt's `database` part is left out.
            "database" => Value::from(()),
            // Whether a ref is a table or a view is the materialization's
            // business, unknown to a relation: none, as dbt's for a
            // relation it has not looked up.
            "type" => match self.cte {
                Some(_) => Value::from("cte"),
                None => Value::from(()),
            },
            "is_cte" => Value::from(self.cte.is_some()),
            "is_table" | "is_view" => Value::from(false),
            "metadata" => Value::from(BTreeMap::from([("type", "PostgresRelation")])),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(RELATION_KEYS)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "get" => {
                let (key, default): (Value, Option<Value>) = minijinja::value::from_args(args)?;
                Ok(self
                    .get_value(&key)
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            "render" => Ok(Value::from(self.to_string())),
            // The relation without its database, quoted as configured,
            // is what stackc renders already.
            "include" | "incorporate" | "quote" => Ok(Value::from_dyn_object(Arc::clone(self))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
