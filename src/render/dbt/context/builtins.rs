//! The Python-like functions and filters dbt's Jinja context has besides its
//! macros: YAML and JSON, `zip`, `set`, `log` and `print`, `modules`, and
//! the mutable lists and dicts `{% do cols.append(c) %}` needs.

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use std::sync::Mutex;

use super::mutable::{MutDict, MutList};

pub(super) fn install(env: &mut Environment<'static>) {
    env.add_global(
        "modules",
        Value::from_object(super::super::modules::Modules),
    );
    super::super::timedelta::install(env);
    crate::dbt::filters::add_text_filters(env);
    env.add_function("toyaml", |v: Value| -> Result<String, Error> {
        let json = serde_json::to_value(&v)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("toyaml: {e}")))?;
        Ok(crate::dbt::yaml::to_yaml(&json))
    });
    env.add_function("fromyaml", |s: String| -> Result<Value, Error> {
        crate::dbt::yaml::from_yaml(&s)
            .map(|v| Value::from(minijinja::value::Serde(v)))
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromyaml: {e}")))
    });
    env.add_function("should_full_refresh", |_: &State| false);
    // dbt's: the node's `store_failures` (set by `store_failures_as` too);
    // a generic test's `model` carries its configs. The rows themselves
    // are stored by the test's apply step, around the query.
    env.add_function("should_store_failures", |state: &State| -> bool {
        state
            .lookup("__stackc_model")
            .and_then(|m| m.get_attr("config").ok())
            .and_then(|c| c.get_attr("store_failures").ok())
            .is_some_and(|v| v.is_true())
    });
    env.add_function(
        "log",
        |msg: Value, kwargs: Kwargs| -> Result<String, Error> {
            let info: Option<bool> = kwargs.get("info")?;
            // dbt writes log() to its log file and, with info=True, to the
            // console: stderr here, never into SQL.
            if info.unwrap_or(false) {
                eprintln!("{msg}");
            }
            Ok(String::new())
        },
    );
    env.add_function("print", |msg: Value| {
        eprintln!("{msg}");
        String::new()
    });
    super::super::pyjson::install(env);
    env.add_function("fromjson", |s: String| -> Result<Value, Error> {
        serde_json::from_str::<serde_json::Value>(&s)
            .map(|v| Value::from(minijinja::value::Serde(v)))
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromjson: {e}")))
    });
    env.add_function(
        "zip",
        |args: minijinja::value::Rest<Value>| -> Result<Value, Error> {
            let lists: Vec<Vec<Value>> = args
                .iter()
                .map(|a| a.try_iter().map(Iterator::collect))
                .collect::<Result<_, _>>()?;
            let len = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::from(
                (0..len)
                    .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
                    .collect::<Vec<_>>(),
            ))
        },
    );
    env.add_function("set", super::pyobjects::PySet::of);
    // dbt's `set_strict` is `set` that raises where Python cannot hash an
    // item; every Jinja value compares here, so the two agree.
    env.add_function("set_strict", super::pyobjects::PySet::of);
    env.add_filter("list", super::pyobjects::list_filter);
    env.add_function("__stackc_mut_list", |v: Value| -> Value {
        if v.downcast_object_ref::<Vec<Value>>().is_some() {
            Value::from_object(MutList(Mutex::new(
                v.try_iter().map(Iterator::collect).unwrap_or_default(),
            )))
        } else {
            v
        }
    });
    env.add_function("__stackc_mut", |v: Value| -> Value {
        match v.kind() {
            minijinja::value::ValueKind::Seq => Value::from_object(MutList(Mutex::new(
                v.try_iter().map(Iterator::collect).unwrap_or_default(),
            ))),
            minijinja::value::ValueKind::Map => {
                let mut map = Vec::new();
                if let Ok(keys) = v.try_iter() {
                    for k in keys {
                        let value = v.get_item(&k).unwrap_or_default();
                        map.push((k, value));
                    }
                }
                Value::from_object(MutDict(Mutex::new(map)))
            }
            _ => v,
        }
    });
}
