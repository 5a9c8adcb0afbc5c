//! Python's `set`, the `list` filter's new list, and the Python methods of
//! lists, dicts and strings that dbt's Jinja has and minijinja lacks.

use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, DynObject, Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::mutable::{MutDict, MutList};

/// dbt's `set(value)`: Python's set, whose items are unique and whose
/// equality ignores their order (`set(a) != set(b)` in
/// `dbt_utils.equality`). Iterates in insertion order (stackc's output does
/// not depend on a hash).
#[derive(Debug, Default)]
pub(super) struct PySet(Mutex<Vec<Value>>);

impl PySet {
    pub(super) fn of(v: Option<Value>) -> Result<Value, Error> {
        let mut items: Vec<Value> = Vec::new();
        if let Some(v) = v.filter(|v| !v.is_none() && !v.is_undefined()) {
            for item in v.try_iter()? {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
        }
        Ok(Value::from_object(PySet(Mutex::new(items))))
    }

    fn items(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn from_items(items: Vec<Value>) -> Value {
        let mut unique: Vec<Value> = Vec::with_capacity(items.len());
        for item in items {
            if !unique.contains(&item) {
                unique.push(item);
            }
        }
        Value::from_object(PySet(Mutex::new(unique)))
    }
}

/// The items of any iterable argument (a set method takes a list too).
fn items_of(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

impl Object for PySet {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        // Python's sets are not indexable.
        None
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items())
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<PySet>()?;
        let (a, b) = (self.items(), other.items());
        if a.len() == b.len() && a.iter().all(|x| b.contains(x)) {
            return Some(Ordering::Equal);
        }
        // Not equal: any fixed order that is not `Equal` (Python orders
        // sets by inclusion, which no package here relies on).
        let (mut a, mut b) = (a, b);
        a.sort();
        b.sort();
        Some(match a.cmp(&b) {
            Ordering::Equal => Ordering::Less,
            o => o,
        })
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = self.items();
        if items.is_empty() {
            return f.write_str("set()");
        }
        f.debug_set().entries(items.iter()).finish()
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mine = self.items();
        let all_args = || -> Result<Vec<Vec<Value>>, Error> { args.iter().map(items_of).collect() };
        let none = Value::from(());
        let result = match method {
            "add" => {
                let (v,): (Value,) = from_args(args)?;
                if !mine.contains(&v) {
                    self.change(|items| items.push(v));
                }
                none
            }
            "update" => {
                for other in all_args()? {
                    self.change(|items| {
                        for v in other {
                            if !items.contains(&v) {
                                items.push(v);
                            }
                        }
                    });
                }
                none
            }
            "discard" | "remove" => {
                let (v,): (Value,) = from_args(args)?;
                if !mine.contains(&v) && method == "remove" {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("set.remove({v}): the set does not hold it"),
                    ));
                }
                self.change(|items| items.retain(|x| *x != v));
                none
            }
            "clear" => {
                self.change(Vec::clear);
                none
            }
            "copy" => PySet::from_items(mine),
            "union" => {
                let mut items = mine;
                items.extend(all_args()?.into_iter().flatten());
                PySet::from_items(items)
            }
            "intersection" => {
                let others = all_args()?;
                PySet::from_items(
                    mine.into_iter()
                        .filter(|x| others.iter().all(|o| o.contains(x)))
                        .collect(),
                )
            }
            "difference" => {
                let others = all_args()?;
                PySet::from_items(
                    mine.into_iter()
                        .filter(|x| others.iter().all(|o| !o.contains(x)))
                        .collect(),
                )
            }
            "symmetric_difference" => {
                let (other,): (Value,) = from_args(args)?;
                let other = items_of(&other)?;
                let mut items: Vec<Value> = mine
                    .iter()
                    .filter(|x| !other.contains(x))
                    .cloned()
                    .collect();
                items.extend(other.into_iter().filter(|x| !mine.contains(x)));
                PySet::from_items(items)
            }
            "issubset" | "issuperset" | "isdisjoint" => {
                let (other,): (Value,) = from_args(args)?;
                let other = items_of(&other)?;
                Value::from(match method {
                    "issubset" => mine.iter().all(|x| other.contains(x)),
                    "issuperset" => other.iter().all(|x| mine.contains(x)),
                    _ => mine.iter().all(|x| !other.contains(x)),
                })
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        };
        Ok(result)
    }
}

impl PySet {
    fn change(&self, f: impl FnOnce(&mut Vec<Value>)) {
        if let Ok(mut items) = self.0.lock() {
            f(&mut items);
        }
    }
}

/// The `list` filter as Python's `list()`: a new list, which the template
/// may change (`(nodes | selectattr(...) | list).pop()`, as dbt-codegen
/// writes).
pub(super) fn list_filter(state: &State, value: Value) -> Result<Value, Error> {
    let list = minijinja::filters::list(state, value)?;
    Ok(Value::from_object(MutList(Mutex::new(
        list.try_iter()?.collect(),
    ))))
}

/// Python's methods on the values minijinja makes itself (a filter's list,
/// a var's dict, a string), after minijinja-contrib's: the methods that
/// read; a method that would change a list or dict minijinja cannot change
/// says so, rather than changing a copy nobody sees.
pub(super) fn unknown_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args) {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => {}
        other => return other,
    }
    match value.kind() {
        ValueKind::Seq => seq_method(value, method, args),
        ValueKind::Map => map_method(value, method, args),
        ValueKind::String => match value.as_str() {
            Some(s) => string_method(s, method, args),
            None => Err(Error::from(ErrorKind::UnknownMethod)),
        },
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn cannot_change(kind: &str, method: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "{kind}.{method}() changes the {kind} in place, and this {kind} cannot change (a filter's result or a value stackc made); \
             make a copy first, as `{{% set x = value | list %}}` for a list or `{{% set x = dict(value) %}}` for a dict"
        ),
    )
}

fn seq_method(value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let items: Vec<Value> = value.try_iter()?.collect();
    match method {
        "index" => super::mutable::list_index(&items, args),
        "copy" => Ok(Value::from_object(MutList(Mutex::new(items)))),
        "append" | "extend" | "insert" | "pop" | "remove" | "clear" | "sort" | "reverse" => {
            Err(cannot_change("list", method))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn map_method(value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let pairs = || -> Result<Vec<(Value, Value)>, Error> {
        value
            .try_iter()?
            .map(|k| {
                let v = value.get_item(&k)?;
                Ok((k, v))
            })
            .collect()
    };
    match method {
        "copy" => Ok(Value::from_object(MutDict(Mutex::new(pairs()?)))),
        // Without a change: the key is there.
        "setdefault" | "pop" => {
            let (k, _default): (Value, Option<Value>) = from_args(args)?;
            match pairs()?.into_iter().find(|(key, _)| *key == k) {
                Some((_, v)) if method == "setdefault" => Ok(v),
                _ => Err(cannot_change("dict", method)),
            }
        }
        "update" | "clear" | "popitem" => Err(cannot_change("dict", method)),
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn string_method(s: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let chars = s.chars().count();
    let pad = |width: usize, fill: Option<String>| -> Result<(usize, char), Error> {
        let fill = match fill {
            None => ' ',
            Some(f) if f.chars().count() == 1 => f.chars().next().unwrap_or(' '),
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "the fill character must be exactly one character long",
                ))
            }
        };
        Ok((width.saturating_sub(chars), fill))
    };
    let repeat = |n: usize, c: char| std::iter::repeat_n(c, n).collect::<String>();
    let out = match method {
        "zfill" => {
            let (width,): (usize,) = from_args(args)?;
            let n = width.saturating_sub(chars);
            match s.strip_prefix(['-', '+']) {
                Some(rest) => format!("{}{}{rest}", &s[..1], repeat(n, '0')),
                None => format!("{}{s}", repeat(n, '0')),
            }
        }
        "ljust" | "rjust" | "center" => {
            let (width, fill): (usize, Option<String>) = from_args(args)?;
            let (n, c) = pad(width, fill)?;
            match method {
                "ljust" => format!("{s}{}", repeat(n, c)),
                "rjust" => format!("{}{s}", repeat(n, c)),
                // Python's rule for where the odd fill character goes.
                _ => {
                    let left = n / 2 + (n & width & 1);
                    format!("{}{s}{}", repeat(left, c), repeat(n - left, c))
                }
            }
        }
        "removeprefix" => {
            let (p,): (String,) = from_args(args)?;
            s.strip_prefix(p.as_str()).unwrap_or(s).to_string()
        }
        "removesuffix" => {
            let (p,): (String,) = from_args(args)?;
            s.strip_suffix(p.as_str()).unwrap_or(s).to_string()
        }
        "swapcase" => s
            .chars()
            .flat_map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().collect::<Vec<_>>()
                } else {
                    c.to_uppercase().collect::<Vec<_>>()
                }
            })
            .collect(),
        "casefold" => s.to_lowercase(),
        "partition" | "rpartition" => {
            let (sep,): (String,) = from_args(args)?;
            if sep.is_empty() {
                return Err(Error::new(ErrorKind::InvalidOperation, "empty separator"));
            }
            let found = if method == "partition" {
                s.find(sep.as_str())
            } else {
                s.rfind(sep.as_str())
            };
            let parts = match found {
                Some(i) => [&s[..i], sep.as_str(), &s[i + sep.len()..]],
                None if method == "partition" => [s, "", ""],
                None => ["", "", s],
            };
            return Ok(Value::from(
                parts.iter().map(|p| Value::from(*p)).collect::<Vec<_>>(),
            ));
        }
        "rsplit" => {
            let (sep, maxsplit): (Option<String>, Option<i64>) = from_args(args)?;
            let max = maxsplit.filter(|m| *m >= 0).map(|m| m as usize);
            let mut parts: Vec<String> = match (&sep, max) {
                (Some(sep), Some(m)) => {
                    s.rsplitn(m + 1, sep.as_str()).map(str::to_string).collect()
                }
                (Some(sep), None) => s.rsplit(sep.as_str()).map(str::to_string).collect(),
                (None, None) => s.split_whitespace().rev().map(str::to_string).collect(),
                (None, Some(_)) => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "str.rsplit(None, maxsplit) is not supported: name the separator",
                    ))
                }
            };
            parts.reverse();
            return Ok(Value::from(
                parts.into_iter().map(Value::from).collect::<Vec<_>>(),
            ));
        }
        "index" | "rindex" => {
            let (sub,): (String,) = from_args(args)?;
            let found = if method == "index" {
                s.find(sub.as_str())
            } else {
                s.rfind(sub.as_str())
            };
            return found
                .map(|i| Value::from(s[..i].chars().count()))
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "substring not found"));
        }
        "isdecimal" => {
            return Ok(Value::from(
                !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()),
            ))
        }
        "isidentifier" => {
            return Ok(Value::from(
                s.starts_with(|c: char| c.is_alphabetic() || c == '_')
                    && s.chars().all(|c| c.is_alphanumeric() || c == '_'),
            ))
        }
        _ => return Err(Error::from(ErrorKind::UnknownMethod)),
    };
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;

    #[test]
    fn sets_compare_without_order() {
        let cases = [
            ("{{ set(['a', 'b']) == set(['b', 'a']) }}", "True"),
            ("{{ set(['a', 'b', 'a']) != set(['b', 'a']) }}", "False"),
            ("{{ set(['a']) != set(['a', 'b']) }}", "True"),
            ("{{ set(['a', 'b', 'a']) | length }}", "2"),
            ("{{ 'b' in set(['a', 'b']) }}", "True"),
            (
                "{% set s = set([1]) %}{% do s.add(2) %}{% do s.add(1) %}{{ s | list }}",
                "[1, 2]",
            ),
            ("{{ set([1, 2, 3]).difference([2]) | list }}", "[1, 3]"),
            ("{{ set([1, 2]).union([3, 1]) | sort | list }}", "[1, 2, 3]"),
            ("{{ set([1, 2]).intersection([2, 3]) | list }}", "[2]"),
            ("{{ set([1]).issubset([1, 2]) }}", "True"),
            ("{{ set([]) }}", "set()"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).as_deref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn a_listed_value_is_a_new_list() {
        let cases = [
            ("{{ ([1, 2, 3] | select('odd') | list).pop() }}", "3"),
            ("{% set l = [3, 1] | sort %}{{ l.index(3) }}", "1"),
            ("{{ ({'a': 1}).copy().a }}", "1"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).as_deref(), Ok(want), "{src}");
        }
        let err = render("{{ ([1, 2] | sort).pop() }}").unwrap_err();
        assert!(err.contains("cannot change"), "{err}");
    }

    #[test]
    fn string_methods_as_python() {
        let cases = [
            ("{{ '7'.zfill(3) }}", "007"),
            ("{{ '-7'.zfill(4) }}", "-007"),
            ("{{ 'ab'.ljust(4, '.') }}|", "ab..|"),
            ("{{ 'ab'.rjust(4) }}", "  ab"),
            ("{{ 'a'.center(4, '*') }}", "*a**"),
            ("{{ 'abc'.center(6, '*') }}", "*abc**"),
            ("{{ 'ab'.center(5, '*') }}", "**ab*"),
            ("{{ 'x_col'.removeprefix('x_') }}", "col"),
            ("{{ 'a.b.c'.partition('.') }}", "['a', '.', 'b.c']"),
            ("{{ 'a.b.c'.rpartition('.')[2] }}", "c"),
            ("{{ 'a.b.c'.rsplit('.', 1) }}", "['a.b', 'c']"),
            ("{{ 'abcb'.rindex('b') }}", "3"),
            ("{{ 'aB'.swapcase() }}", "Ab"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).as_deref(), Ok(want), "{src}");
        }
    }
}
