//! A constant query's answer as dbt hands it to Jinja: an agate table
//! (`.rows`, `.columns[0].values()`, `.column_names`) and the dict that
//! `load_result()` returns (`data`, `table`, `response`). The values are
//! those the PostgreSQL driver gives Python: integers, floats, strings;
//! dates and timestamps print as Python prints them.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::consteval::{format_date, format_timestamp, NotConstant, Scalar, Table};

fn to_value(s: &Scalar) -> Result<Value, NotConstant> {
    Ok(match s {
        Scalar::Null => Value::from(()),
        Scalar::Bool(b) => Value::from(*b),
        Scalar::Int(i) => Value::from(*i),
        Scalar::Float(f) => Value::from(*f),
        Scalar::Text(t) => Value::from(t.clone()),
        Scalar::Date(d) => Value::from(format_date(*d)),
        Scalar::Timestamp(t) => Value::from(format_timestamp(*t)),
        Scalar::Interval { .. } => {
            return Err(NotConstant::Unsupported(
                "an interval result (Python would get a timedelta)".into(),
            ))
        }
    })
}

#[derive(Debug)]
struct Row {
    names: Arc<Vec<String>>,
    values: Vec<Value>,
}

impl Object for Row {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(name) = key.as_str() {
            let i = self.names.iter().position(|n| n == name)?;
            return self.values.get(i).cloned();
        }
        let i = usize::try_from(key.as_i64()?).ok()?;
        self.values.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }
}

#[derive(Debug)]
struct Column {
    name: String,
    values: Vec<Value>,
}

impl Object for Column {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if key.as_str() == Some("name") {
            return Some(Value::from(self.name.clone()));
        }
        let i = usize::try_from(key.as_i64()?).ok()?;
        self.values.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values.clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A list that is also a mapping by name, as agate's `MappedSequence`.
#[derive(Debug)]
struct Columns(Vec<Value>, Vec<String>);

impl Object for Columns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(name) = key.as_str() {
            let i = self.1.iter().position(|n| n == name)?;
            return self.0.get(i).cloned();
        }
        let i = usize::try_from(key.as_i64()?).ok()?;
        self.0.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

#[derive(Debug)]
struct AgateTable {
    names: Arc<Vec<String>>,
    rows: Vec<Value>,
    columns: Value,
}

impl Object for AgateTable {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "rows" => Some(Value::from(self.rows.clone())),
            "columns" => Some(self.columns.clone()),
            "column_names" => Some(Value::from(
                self.names
                    .iter()
                    .cloned()
                    .map(Value::from)
                    .collect::<Vec<_>>(),
            )),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["rows", "columns", "column_names"])
    }
}

/// The table `run_query()` returns.
pub fn table(t: &Table) -> Result<Value, NotConstant> {
    let names = Arc::new(t.columns.clone());
    let rows: Vec<Vec<Value>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(to_value).collect())
        .collect::<Result<_, _>>()?;
    let columns = (0..names.len())
        .map(|i| {
            Value::from_object(Column {
                name: names[i].clone(),
                values: rows.iter().map(|r| r[i].clone()).collect(),
            })
        })
        .collect();
    Ok(Value::from_object(AgateTable {
        names: Arc::clone(&names),
        rows: rows
            .into_iter()
            .map(|values| {
                Value::from_object(Row {
                    names: Arc::clone(&names),
                    values,
                })
            })
            .collect(),
        columns: Value::from_object(Columns(columns, names.to_vec())),
    }))
}

/// What `load_result(name)` returns after a `statement` block.
pub fn load_result(t: &Table, fetched: bool) -> Result<Value, NotConstant> {
    let table = table(t)?;
    let data: Vec<Value> = if fetched {
        t.rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(to_value)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::from)
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let response: BTreeMap<&str, Value> = [
        ("_message", Value::from(format!("SELECT {}", t.rows.len()))),
        ("code", Value::from("SELECT")),
        ("rows_affected", Value::from(t.rows.len())),
    ]
    .into();
    let result: BTreeMap<&str, Value> = [
        ("data", Value::from(data)),
        ("response", Value::from(response)),
        ("table", table),
    ]
    .into();
    Ok(Value::from(result))
}
