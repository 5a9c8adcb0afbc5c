//! The functions a template calls (`ref`, `source`, `config`, `var`,
//! `env_var`, `is_incremental`), and the per-render scope they record into.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

use super::dbt::context::Frame;
use crate::diagnostic::Code;
use crate::relation::Relation;

use super::{Calls, FunctionError, Relations};

/// The range of the `nth` call `called(...)` in `text` (1 for the first):
/// where a file called the macro an error came from. A call repeated by a
/// loop is counted more often than it is written: the last one written is
/// then the nearest guess.
pub(super) fn caller_range(text: &str, called: &str, nth: usize) -> Option<Range<usize>> {
    let needle = format!("{called}(");
    let mut found = None;
    let mut count = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        from = at + needle.len();
        // `pkg.m(` is no call of `m(`, nor is `my_m(`.
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        found = Some(at);
        count += 1;
        if count == nth {
            break;
        }
    }
    let at = found?;
    let end = text[at..]
        .find(')')
        .map_or(at + needle.len(), |i| at + i + 1);
    Some(at..end)
}

#[derive(Debug)]
pub(super) struct Scope {
    pub(super) relations: Arc<Relations>,
    pub(super) vars: Arc<BTreeMap<String, serde_json::Value>>,
    pub(super) is_incremental: bool,
    pub(super) calls: Mutex<Calls>,
    pub(super) error: Mutex<Option<FunctionError>>,
}

impl Object for Scope {}

impl Scope {
    pub(super) fn fail(&self, code: Code, message: String, help: String) -> Error {
        let error = Error::new(ErrorKind::InvalidOperation, message.clone());
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(FunctionError {
                code,
                message,
                help,
            });
        }
        error
    }

    pub(super) fn record(&self, f: impl FnOnce(&mut Calls)) {
        // A poisoned lock means another function panicked mid-render, and
        // that render is lost anyway; recording nothing is then correct.
        if let Ok(mut calls) = self.calls.lock() {
            f(&mut calls);
        }
    }
}

pub(crate) const SCOPE_KEY: &str = "__stackc_scope";

pub(super) fn scope(state: &State) -> Result<Arc<Scope>, Error> {
    state
        .lookup(SCOPE_KEY)
        .and_then(|v| v.downcast_object::<Scope>())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "stackc scope is missing"))
}

pub(super) fn ref_fn(
    state: &State,
    name: String,
    extra: Option<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let scope = scope(state)?;
    // dbt's two-argument form names the project first: ref('pkg', 'model').
    let (package, name) = match extra {
        Some(model) => (Some(name), model),
        None => (None, name),
    };
    let resolved = !scope.relations.models.is_empty();
    if let Some(package) = &package {
        if resolved && scope.relations.packages.is_empty() {
            return Err(scope.fail(
                Code::E0102,
                format!("ref() takes one model name, got two arguments (`{package}`, `{name}`)"),
                "stackc projects have no packages: write ref('model_name')".into(),
            ));
        }
        if let Some(owner) = scope.relations.packages.get(&name) {
            if owner != package {
                return Err(scope.fail(
                    Code::E0155,
                    format!("ref('{package}', '{name}'): `{name}` belongs to project `{owner}`, not `{package}`"),
                    format!("write ref('{owner}', '{name}'), or ref('{name}')"),
                ));
            }
        }
    }
    // `ref('m', v=2)` / `ref('m', version=2)`: a version of a versioned model.
    let version: Option<Value> = match kwargs.get::<Option<Value>>("v")? {
        Some(v) => Some(v),
        None => kwargs.get::<Option<Value>>("version")?,
    };
    kwargs.assert_all_used()?;
    let versions = &scope.relations.versions;
    let name = match version {
        Some(v) => {
            let v = v.to_string();
            versions
                .get(&format!("{name}.v{v}"))
                .cloned()
                .unwrap_or_else(|| format!("{name}_v{v}"))
        }
        None => versions.get(&name).cloned().unwrap_or(name),
    };
    scope.record(|c| c.refs.push(name.clone()));
    Ok(match scope.relations.models.get(&name) {
        Some(rel) => Value::from_object(rel.clone()),
        None => Value::from_object(Relation::unresolved(name)),
    })
}

pub(super) fn source_fn(state: &State, source: String, table: String) -> Result<Value, Error> {
    let scope = scope(state)?;
    scope.record(|c| c.sources.push((source.clone(), table.clone())));
    Ok(
        match scope
            .relations
            .sources
            .get(&(source.clone(), table.clone()))
        {
            Some(rel) => Value::from_object(rel.clone()),
            None => Value::from_object(Relation {
                schema: source.clone(),
                name: table.clone(),
                quote: false,
                cte: None,
            }),
        },
    )
}

pub(super) fn config_fn(state: &State, kwargs: Kwargs) -> Result<String, Error> {
    let scope = scope(state)?;
    let mut map = BTreeMap::new();
    for key in kwargs.args() {
        let value: Value = kwargs.get(key)?;
        let json = serde_json::to_value(&value).map_err(|e| {
            scope.fail(
                Code::E0105,
                format!("config value `{key}` cannot be used: {e}"),
                "config values are strings, numbers, booleans, lists and mappings".into(),
            )
        })?;
        map.insert(key.to_string(), json);
    }
    scope.record(|c| c.configs.push(map));
    Ok(String::new())
}

/// dbt's `config`: called, it sets the node's configs (`config(...)`);
/// `config.get(key, default)` and `config.require(key)` read them back:
/// what this file's `config()` calls set so far, the last one winning,
/// else the node's resolved configs (`model.config`, from the project's
/// trees and schema files), else the default.
#[derive(Debug)]
pub(super) struct ConfigObject;

impl Object for ConfigObject {
    fn call(self: &Arc<Self>, state: &mut State, args: &[Value]) -> Result<Value, Error> {
        let (kwargs,): (Kwargs,) = minijinja::value::from_args(args)?;
        config_fn(state, kwargs).map(Value::from)
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (key, default, kwargs): (String, Option<Value>, Kwargs) =
            minijinja::value::from_args(args)?;
        let default = match default {
            Some(d) => Some(d),
            None => kwargs.get::<Option<Value>>("default")?,
        };
        kwargs.assert_all_used()?;
        let found = configured(state, &key);
        match method {
            "get" => Ok(found.or(default).unwrap_or(Value::from(()))),
            "require" => found.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("config.require: the required config `{key}` is not set"),
                )
            }),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// The value of config `key` as [`ConfigObject`] reads it.
fn configured(state: &State, key: &str) -> Option<Value> {
    let set_here = scope(state).ok().and_then(|scope| {
        let calls = scope.calls.lock().ok()?;
        calls
            .configs
            .iter()
            .rev()
            .find_map(|c| c.get(key))
            .map(|v| Value::from(minijinja::value::Serde(v)))
    });
    set_here.or_else(|| {
        state
            .lookup("__stackc_model")
            .and_then(|m| m.get_attr("config").ok())
            .and_then(|c| c.get_attr(key).ok())
            .filter(|v| !v.is_undefined() && !v.is_none())
    })
}

/// The one optional default of `var()` and `env_var()`, taken as it is
/// written (minijinja's `Option` would take a `none` for a missing one).
fn optional_default(function: &str, rest: &[Value]) -> Result<Option<Value>, Error> {
    if rest.len() > 1 {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!("{function}() takes a name and a default"),
        ));
    }
    Ok(rest.first().cloned())
}

/// `var(name)` and `var(name, default)`: a default given as `none` is a
/// default (minijinja's `Option` would take it for a missing argument).
pub(super) fn var_fn(
    state: &State,
    name: String,
    default: minijinja::value::Rest<Value>,
) -> Result<Value, Error> {
    let default = optional_default("var", &default)?;
    let scope = scope(state)?;
    scope.record(|c| {
        c.vars.insert(name.clone());
    });
    if let Some(v) = scope.vars.get(&name) {
        // dbt renders Jinja in a var's value when it is used, with the
        // context of the node that uses it (`"{{ target.schema }}_raw"`).
        if let serde_json::Value::String(text) = v {
            if state.lookup("target").is_some() && (text.contains("{{") || text.contains("{%")) {
                let ctx = minijinja::context! {
                    __stackc_scope => state.lookup(SCOPE_KEY).unwrap_or_default(),
                    __stackc_frame => state.lookup("__stackc_frame").unwrap_or_default(),
                    this => state.lookup("this").unwrap_or_default(),
                    run_started_at => state.lookup("run_started_at").unwrap_or_default(),
                    execute => state.lookup("execute").unwrap_or(Value::from(true)),
                };
                return state.env().render_str(text, ctx).map(Value::from);
            }
        }
        return Ok(Value::from(minijinja::value::Serde(v)));
    }
    match default {
        Some(d) => Ok(d),
        None => Err(scope.fail(
            Code::E0103,
            format!("var `{name}` is not defined and has no default"),
            // Only a dbt project's render has `target`.
            if state.lookup("target").is_some() {
                format!("add `{name}: ...` under `vars:` in dbt_project.yml, or give a default: var('{name}', ...)")
            } else {
                format!("add `{name} = ...` under [vars] in stackc.toml, or give a default: var('{name}', ...)")
            },
        )),
    }
}

pub(super) fn env_var_fn(
    state: &State,
    name: String,
    default: minijinja::value::Rest<Value>,
) -> Result<Value, Error> {
    let default = optional_default("env_var", &default)?;
    let scope = scope(state)?;
    scope.record(|c| {
        c.env_vars.insert(name.clone());
    });
    match std::env::var(&name) {
        Ok(v) => Ok(Value::from(v)),
        Err(_) => match default {
            Some(d) => Ok(d),
            None => Err(scope.fail(
                Code::E0104,
                format!("environment variable `{name}` is not set and has no default"),
                format!(
                    "set {name} in the environment, or give a default: env_var('{name}', 'value')"
                ),
            )),
        },
    }
}

pub(super) fn is_incremental_fn(state: &State) -> Result<bool, Error> {
    Ok(scope(state)?.is_incremental)
}

/// The failure one of our functions recorded before the render failed.
pub(super) fn pending_failure(scope: &Scope, frame: &Frame) -> Option<FunctionError> {
    scope.error.lock().ok().and_then(|e| e.clone()).or_else(|| {
        frame.failure().map(|f| FunctionError {
            code: f.code,
            message: f.message,
            help: f.help,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_call_of_a_macro_is_found_where_it_is_written() {
        let text = "{{ p.m(1) }} {{ my_m(2) }} {{ m(3) }} {{ m(4) }}";
        assert_eq!(caller_range(text, "m", 1), Some(30..34));
        assert_eq!(caller_range(text, "m", 2), Some(41..45));
        // A loop calls more often than the text says: the last written.
        assert_eq!(caller_range(text, "m", 5), Some(41..45));
        assert_eq!(caller_range(text, "p.m", 1), Some(3..9));
    }
}
