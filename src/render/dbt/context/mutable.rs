//! Lists and dicts that `{% do x.append(..) %}` and `x.update(..)` change.

use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

/// A list that `{% do l.append(x) %}` can change (a Jinja list literal
/// under `{% set %}` becomes one).
#[derive(Debug)]
pub(super) struct MutList(pub(super) Mutex<Vec<Value>>);

impl MutList {
    pub(super) fn items(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let i = i64::try_from(key.clone()).ok()?;
        let i = if i < 0 { items.len() as i64 + i } else { i };
        items.get(usize::try_from(i).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let Ok(mut items) = self.0.lock() else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "list lock poisoned",
            ));
        };
        match method {
            "append" => {
                let (v,): (Value,) = from_args(args)?;
                items.push(v);
                Ok(Value::from(()))
            }
            "extend" => {
                let (v,): (Value,) = from_args(args)?;
                items.extend(v.try_iter()?);
                Ok(Value::from(()))
            }
            "insert" => {
                let (i, v): (usize, Value) = from_args(args)?;
                let i = i.min(items.len());
                items.insert(i, v);
                Ok(Value::from(()))
            }
            "pop" => {
                let (i,): (Option<i64>,) = from_args(args)?;
                let len = items.len() as i64;
                let i = i.map_or(len - 1, |i| if i < 0 { len + i } else { i });
                match usize::try_from(i).ok().filter(|i| *i < items.len()) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "pop from an empty list",
                    )),
                }
            }
            "remove" => {
                let (v,): (Value,) = from_args(args)?;
                if let Some(i) = items.iter().position(|x| *x == v) {
                    items.remove(i);
                }
                Ok(Value::from(()))
            }
            "index" => list_index(&items, args),
            "count" => {
                let (v,): (Value,) = from_args(args)?;
                Ok(Value::from(items.iter().filter(|x| **x == v).count()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Python's `list.index(v)`: the first position of `v`, else an error.
pub(super) fn list_index(items: &[Value], args: &[Value]) -> Result<Value, Error> {
    let (v,): (Value,) = from_args(args)?;
    items
        .iter()
        .position(|x| *x == v)
        .map(Value::from)
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "value not in list"))
}

/// A dict that `{% do d.update({...}) %}` can change.
#[derive(Debug)]
pub(super) struct MutDict(pub(super) Mutex<Vec<(Value, Value)>>);

/// A mutable dict of `pairs`, in their order (Jinja's `kwargs`).
pub(crate) fn mut_dict(pairs: Vec<(Value, Value)>) -> Value {
    Value::from_object(MutDict(Mutex::new(pairs)))
}

/// A plain list as a mutable one: a list written into a dict
/// (`d.update({k: []})`, then `d[k].append(x)`, as dbt_utils'
/// `union_relations` does) is a Python list, which any holder may change.
fn mutable_list(v: Value) -> Value {
    if v.downcast_object_ref::<Vec<Value>>().is_some() {
        Value::from_object(MutList(Mutex::new(
            v.try_iter().map(Iterator::collect).unwrap_or_default(),
        )))
    } else {
        v
    }
}

impl MutDict {
    pub(super) fn pairs(&self) -> Vec<(Value, Value)> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Object for MutDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.pairs().into_iter().map(|(k, _)| k).collect())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let Ok(mut pairs) = self.0.lock() else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "dict lock poisoned",
            ));
        };
        let set = |pairs: &mut Vec<(Value, Value)>, k: Value, v: Value| match pairs
            .iter_mut()
            .find(|(key, _)| *key == k)
        {
            Some(slot) => slot.1 = v,
            None => pairs.push((k, v)),
        };
        match method {
            "update" => {
                let (other,): (Value,) = from_args(args)?;
                for k in other.try_iter()? {
                    let v = mutable_list(other.get_item(&k)?);
                    set(&mut pairs, k, v);
                }
                Ok(Value::from(()))
            }
            "pop" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                match pairs.iter().position(|(key, _)| *key == k) {
                    Some(i) => Ok(pairs.remove(i).1),
                    None => Ok(default.unwrap_or_default()),
                }
            }
            "setdefault" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                if let Some((_, v)) = pairs.iter().find(|(key, _)| *key == k) {
                    return Ok(v.clone());
                }
                let v = mutable_list(default.unwrap_or(Value::from(())));
                pairs.push((k, v.clone()));
                Ok(v)
            }
            "get" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                Ok(pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            "items" => Ok(Value::from(
                pairs
                    .iter()
                    .map(|(k, v)| Value::from(vec![k.clone(), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            "keys" => Ok(Value::from(
                pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            )),
            "values" => Ok(Value::from(
                pairs.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
