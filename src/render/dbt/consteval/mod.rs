//! Answers a `statement` block or `run_query()` whose query reads nothing:
//! `select <constant expressions>`, as `dbt.date_spine` and
//! `dbt_date.get_base_dates` run to count the days between two fixed dates.
//!
//! stackc compiles without a database, and an artifact must not change from
//! one compile to the next. A query that reads no relation and calls nothing
//! volatile has one answer whatever the database holds, so stackc computes
//! it here, with PostgreSQL's types and rules for the operators it knows.
//! Anything else (a `from`, `current_date`, a function or type this module
//! does not know) is [`NotConstant`], and the caller reports it: never a
//! guessed or approximate answer.

use std::fmt;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, DateTimeField, Expr, ObjectNamePart, Select, SelectItem,
    SetExpr, Statement, TimezoneInfo, UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

mod functions;
mod time;

use self::functions::function;
use self::time::{add_interval, interval, parse_interval, parse_timestamp, MICROS_PER_DAY};
pub use self::time::{format_date, format_timestamp};
// `modules.datetime` counts days as the SQL evaluator does.
pub(crate) use self::time::{civil_from_days, days_from_civil, days_in_month};

/// One value of a result, with PostgreSQL's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    /// `integer`, `bigint`, `smallint`.
    Int(i64),
    /// `double precision` (what `date_part` returns).
    Float(f64),
    Text(String),
    /// Days since 1970-01-01.
    Date(i64),
    /// Microseconds since 1970-01-01 00:00:00, without time zone.
    Timestamp(i64),
    Interval {
        months: i64,
        days: i64,
        micros: i64,
    },
}

/// The rows of a constant query: column names as PostgreSQL names them.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Scalar>>,
}

/// Why a query cannot be answered without a database.
#[derive(Debug, Clone, PartialEq)]
pub enum NotConstant {
    /// The query reads a relation (or is not a plain `select`).
    ReadsData,
    /// The answer changes from run to run (`current_date`, `now()`).
    Volatile(String),
    /// An operator, function or type this module does not evaluate.
    Unsupported(String),
}

impl fmt::Display for NotConstant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotConstant::ReadsData => f.write_str("the query reads the database"),
            NotConstant::Volatile(what) => write!(
                f,
                "the query uses `{what}`, whose value changes from one run to the next"
            ),
            NotConstant::Unsupported(what) => write!(
                f,
                "the query reads nothing, but stackc does not evaluate {what} without a database"
            ),
        }
    }
}

type Eval<T> = Result<T, NotConstant>;

fn unsupported<T>(what: impl Into<String>) -> Eval<T> {
    Err(NotConstant::Unsupported(what.into()))
}

/// Evaluates `sql` when it is one `select` of constant expressions.
pub fn evaluate(sql: &str) -> Eval<Table> {
    let statements =
        Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|_| NotConstant::ReadsData)?;
    let [Statement::Query(query)] = statements.as_slice() else {
        return Err(NotConstant::ReadsData);
    };
    // Named first, whatever else the query holds: the reason a user can act on.
    if let Some(name) = volatile_call(&statements[0]) {
        return Err(NotConstant::Volatile(name));
    }
    if query.with.is_some()
        || query.order_by.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
    {
        return Err(NotConstant::ReadsData);
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err(NotConstant::ReadsData);
    };
    if !plain_select(select) {
        return Err(NotConstant::ReadsData);
    }
    let mut columns = Vec::new();
    let mut row = Vec::new();
    for item in &select.projection {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            _ => return Err(NotConstant::ReadsData),
        };
        columns.push(alias.unwrap_or_else(|| column_name(expr)));
        row.push(eval(expr)?);
    }
    Ok(Table {
        columns,
        rows: vec![row],
    })
}

fn volatile_call(statement: &Statement) -> Option<String> {
    let mut found = None;
    let _ = sqlparser::ast::visit_expressions(statement, |e| {
        let name = match e {
            Expr::Identifier(i) if i.quote_style.is_none() => Some(i.value.to_lowercase()),
            Expr::Function(f) => f
                .name
                .0
                .last()
                .and_then(ObjectNamePart::as_ident)
                .map(|i| i.value.to_lowercase()),
            _ => None,
        };
        match name {
            Some(n) if VOLATILE.contains(&n.as_str()) => {
                found = Some(n);
                std::ops::ControlFlow::Break(())
            }
            _ => std::ops::ControlFlow::Continue(()),
        }
    });
    found
}

fn plain_select(s: &Select) -> bool {
    s.from.is_empty()
        && s.selection.is_none()
        && s.having.is_none()
        && s.distinct.is_none()
        && s.top.is_none()
        && s.into.is_none()
        && s.lateral_views.is_empty()
        && s.named_window.is_empty()
        && s.qualify.is_none()
        && matches!(&s.group_by, sqlparser::ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty())
}

/// The name PostgreSQL gives an unaliased output column.
fn column_name(expr: &Expr) -> String {
    match expr {
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(ObjectNamePart::as_ident)
            .map(|i| i.value.to_lowercase())
            .unwrap_or_else(|| "?column?".into()),
        Expr::Cast { data_type, .. } => match type_of(data_type) {
            Some(t) => t.pg_name().into(),
            None => "?column?".into(),
        },
        Expr::Nested(inner) => column_name(inner),
        _ => "?column?".into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Type {
    Int,
    Float,
    Text,
    Date,
    Timestamp,
    Bool,
    Interval,
}

impl Type {
    fn pg_name(self) -> &'static str {
        match self {
            Type::Int => "int4",
            Type::Float => "float8",
            Type::Text => "text",
            Type::Date => "date",
            Type::Timestamp => "timestamp",
            Type::Bool => "bool",
            Type::Interval => "interval",
        }
    }
}

fn type_of(t: &DataType) -> Option<Type> {
    Some(match t {
        DataType::Int(_)
        | DataType::Integer(_)
        | DataType::BigInt(_)
        | DataType::SmallInt(_)
        | DataType::Int2(_)
        | DataType::Int4(_)
        | DataType::Int8(_) => Type::Int,
        DataType::Float8 | DataType::DoublePrecision | DataType::Double(_) => Type::Float,
        DataType::Float(_) => Type::Float,
        DataType::Text | DataType::Varchar(_) | DataType::CharacterVarying(_) => Type::Text,
        DataType::Date => Type::Date,
        DataType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
            Type::Timestamp
        }
        DataType::Boolean | DataType::Bool => Type::Bool,
        DataType::Interval { .. } => Type::Interval,
        _ => return None,
    })
}

const VOLATILE: &[&str] = &[
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "random",
    "gen_random_uuid",
];

fn eval(expr: &Expr) -> Eval<Scalar> {
    match expr {
        Expr::Nested(e) => eval(e),
        Expr::Value(v) => literal(&v.value),
        Expr::TypedString(t) => {
            let text = match &t.value.value {
                Value::SingleQuotedString(s) => s.clone(),
                _ => return unsupported("a typed literal that is not a string"),
            };
            cast(Scalar::Text(text), &t.data_type)
        }
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            data_type,
            format: None,
            ..
        } => match (expr.as_ref(), type_of(data_type)) {
            // A decimal literal is numeric, which this module does not
            // compute with; cast straight to double precision it is exact.
            (Expr::Value(v), Some(Type::Float)) if matches!(&v.value, Value::Number(..)) => {
                let Value::Number(text, _) = &v.value else {
                    return unsupported("this literal");
                };
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Scalar::Float)
                    .ok_or_else(|| NotConstant::Unsupported(format!("the literal `{text}`")))
            }
            _ => cast(eval(expr)?, data_type),
        },
        Expr::Interval(i) => interval(i),
        Expr::UnaryOp { op, expr } => {
            let v = eval(expr)?;
            match (op, v) {
                (UnaryOperator::Minus, Scalar::Int(i)) => {
                    i.checked_neg().map(Scalar::Int).ok_or_else(overflow)
                }
                (UnaryOperator::Minus, Scalar::Float(f)) => Ok(Scalar::Float(-f)),
                (
                    UnaryOperator::Minus,
                    Scalar::Interval {
                        months,
                        days,
                        micros,
                    },
                ) => Ok(Scalar::Interval {
                    months: -months,
                    days: -days,
                    micros: -micros,
                }),
                (UnaryOperator::Plus, v @ (Scalar::Int(_) | Scalar::Float(_))) => Ok(v),
                (UnaryOperator::Not, Scalar::Bool(b)) => Ok(Scalar::Bool(!b)),
                (_, Scalar::Null) => Ok(Scalar::Null),
                (op, _) => unsupported(format!("the operator `{op}` here")),
            }
        }
        Expr::BinaryOp { left, op, right } => binary(eval(left)?, op, eval(right)?),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let operand = operand.as_deref().map(eval).transpose()?;
            for when in conditions {
                let hit = match &operand {
                    Some(o) => binary(o.clone(), &BinaryOperator::Eq, eval(&when.condition)?)?,
                    None => eval(&when.condition)?,
                };
                if hit == Scalar::Bool(true) {
                    return eval(&when.result);
                }
            }
            else_result.as_deref().map_or(Ok(Scalar::Null), eval)
        }
        Expr::Floor { expr, field } => rounding(eval(expr)?, field, f64::floor),
        Expr::Ceil { expr, field } => rounding(eval(expr)?, field, f64::ceil),
        Expr::Function(f) => function(f),
        Expr::Identifier(i) => {
            let name = i.value.to_lowercase();
            if i.quote_style.is_none() && VOLATILE.contains(&name.as_str()) {
                Err(NotConstant::Volatile(name))
            } else {
                Err(NotConstant::ReadsData)
            }
        }
        Expr::Extract { .. } => unsupported("extract() (its result is numeric)"),
        Expr::CompoundIdentifier(_) | Expr::Subquery(_) | Expr::Exists { .. } => {
            Err(NotConstant::ReadsData)
        }
        other => unsupported(format!("`{other}`")),
    }
}

fn overflow() -> NotConstant {
    NotConstant::Unsupported("a value out of range".into())
}

fn literal(v: &Value) -> Eval<Scalar> {
    match v {
        Value::Number(text, _) => {
            if text.contains(['.', 'e', 'E']) {
                return unsupported(format!("the decimal literal `{text}` (numeric)"));
            }
            text.parse::<i64>()
                .map(Scalar::Int)
                .map_err(|_| NotConstant::Unsupported(format!("the literal `{text}`")))
        }
        Value::SingleQuotedString(s) => Ok(Scalar::Text(s.clone())),
        Value::Boolean(b) => Ok(Scalar::Bool(*b)),
        Value::Null => Ok(Scalar::Null),
        other => unsupported(format!("the literal `{other}`")),
    }
}

fn rounding(v: Scalar, field: &sqlparser::ast::CeilFloorKind, f: fn(f64) -> f64) -> Eval<Scalar> {
    if !matches!(
        field,
        sqlparser::ast::CeilFloorKind::DateTimeField(DateTimeField::NoDateTime)
    ) {
        return unsupported("floor/ceil with a scale");
    }
    match v {
        Scalar::Null => Ok(Scalar::Null),
        // floor(integer) is floor(double precision) in PostgreSQL.
        Scalar::Int(i) => Ok(Scalar::Float(f(i as f64))),
        Scalar::Float(x) => Ok(Scalar::Float(f(x))),
        _ => unsupported("floor/ceil of a value that is not a number"),
    }
}

fn cast(v: Scalar, to: &DataType) -> Eval<Scalar> {
    let Some(t) = type_of(to) else {
        return unsupported(format!("a cast to `{to}`"));
    };
    if v == Scalar::Null {
        return Ok(Scalar::Null);
    }
    let bad = || NotConstant::Unsupported(format!("this cast to `{to}`"));
    Ok(match (t, v) {
        (Type::Int, Scalar::Int(i)) => Scalar::Int(i),
        (Type::Int, Scalar::Float(f)) if f.is_finite() && f.abs() < 9.2e18 => {
            Scalar::Int(f.round_ties_even() as i64)
        }
        (Type::Int, Scalar::Text(s)) => Scalar::Int(s.trim().parse().map_err(|_| bad())?),
        (Type::Int, Scalar::Bool(b)) => Scalar::Int(i64::from(b)),
        (Type::Float, Scalar::Int(i)) => Scalar::Float(i as f64),
        (Type::Float, Scalar::Float(f)) => Scalar::Float(f),
        (Type::Float, Scalar::Text(s)) => {
            let f: f64 = s.trim().parse().map_err(|_| bad())?;
            if !f.is_finite() {
                return Err(bad());
            }
            Scalar::Float(f)
        }
        (Type::Text, v) => Scalar::Text(to_text(&v).ok_or_else(bad)?),
        (Type::Date, Scalar::Text(s)) => Scalar::Date(parse_timestamp(&s).ok_or_else(bad)?.0),
        (Type::Date, Scalar::Date(d)) => Scalar::Date(d),
        (Type::Date, Scalar::Timestamp(t)) => Scalar::Date(t.div_euclid(MICROS_PER_DAY)),
        (Type::Timestamp, Scalar::Text(s)) => {
            let (days, micros) = parse_timestamp(&s).ok_or_else(bad)?;
            Scalar::Timestamp(days * MICROS_PER_DAY + micros)
        }
        (Type::Timestamp, Scalar::Date(d)) => Scalar::Timestamp(d * MICROS_PER_DAY),
        (Type::Timestamp, Scalar::Timestamp(t)) => Scalar::Timestamp(t),
        (Type::Bool, Scalar::Bool(b)) => Scalar::Bool(b),
        (Type::Bool, Scalar::Int(i)) => Scalar::Bool(i != 0),
        (Type::Bool, Scalar::Text(s)) => Scalar::Bool(parse_bool(&s).ok_or_else(bad)?),
        (Type::Interval, Scalar::Text(s)) => parse_interval(&s, None).ok_or_else(bad)?,
        (Type::Interval, v @ Scalar::Interval { .. }) => v,
        _ => return Err(bad()),
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn as_float(v: &Scalar) -> Option<f64> {
    match v {
        Scalar::Int(i) => Some(*i as f64),
        Scalar::Float(f) => Some(*f),
        _ => None,
    }
}

fn as_timestamp(v: &Scalar) -> Option<i64> {
    match v {
        Scalar::Date(d) => d.checked_mul(MICROS_PER_DAY),
        Scalar::Timestamp(t) => Some(*t),
        _ => None,
    }
}

/// Two intervals combined field by field with `op` (`i64::checked_add`,
/// `i64::checked_sub`); `None` when a field overflows or one is no interval.
fn intervals(a: &Scalar, b: &Scalar, op: fn(i64, i64) -> Option<i64>) -> Option<Scalar> {
    let (
        Scalar::Interval {
            months: m1,
            days: d1,
            micros: u1,
        },
        Scalar::Interval {
            months: m2,
            days: d2,
            micros: u2,
        },
    ) = (a, b)
    else {
        return None;
    };
    Some(Scalar::Interval {
        months: op(*m1, *m2)?,
        days: op(*d1, *d2)?,
        micros: op(*u1, *u2)?,
    })
}

fn binary(l: Scalar, op: &BinaryOperator, r: Scalar) -> Eval<Scalar> {
    use BinaryOperator as B;
    use Scalar as S;
    match op {
        B::And => {
            return match (l, r) {
                (S::Bool(false), _) | (_, S::Bool(false)) => Ok(S::Bool(false)),
                (S::Bool(true), S::Bool(true)) => Ok(S::Bool(true)),
                (S::Null | S::Bool(_), S::Null | S::Bool(_)) => Ok(S::Null),
                _ => unsupported("`and` of values that are not boolean"),
            }
        }
        B::Or => {
            return match (l, r) {
                (S::Bool(true), _) | (_, S::Bool(true)) => Ok(S::Bool(true)),
                (S::Bool(false), S::Bool(false)) => Ok(S::Bool(false)),
                (S::Null | S::Bool(_), S::Null | S::Bool(_)) => Ok(S::Null),
                _ => unsupported("`or` of values that are not boolean"),
            }
        }
        _ => {}
    }
    if l == S::Null || r == S::Null {
        return Ok(S::Null);
    }
    let no = || NotConstant::Unsupported(format!("`{op}` between these types"));
    let float = |f: f64| {
        if f.is_finite() {
            Ok(S::Float(f))
        } else {
            Err(overflow())
        }
    };
    match op {
        B::Plus => match (l, r) {
            (S::Int(a), S::Int(b)) => a.checked_add(b).map(S::Int).ok_or_else(overflow),
            (S::Date(d), S::Int(n)) | (S::Int(n), S::Date(d)) => {
                d.checked_add(n).map(S::Date).ok_or_else(overflow)
            }
            (
                a @ (S::Date(_) | S::Timestamp(_)),
                S::Interval {
                    months,
                    days,
                    micros,
                },
            )
            | (
                S::Interval {
                    months,
                    days,
                    micros,
                },
                a @ (S::Date(_) | S::Timestamp(_)),
            ) => {
                let ts = as_timestamp(&a).ok_or_else(overflow)?;
                add_interval(ts, months, days, micros).map(S::Timestamp)
            }
            (a @ S::Interval { .. }, b @ S::Interval { .. }) => {
                intervals(&a, &b, i64::checked_add).ok_or_else(overflow)
            }
            (a, b) => match (as_float(&a), as_float(&b)) {
                (Some(x), Some(y)) => float(x + y),
                _ => Err(no()),
            },
        },
        B::Minus => match (l, r) {
            (S::Int(a), S::Int(b)) => a.checked_sub(b).map(S::Int).ok_or_else(overflow),
            (S::Date(a), S::Date(b)) => a.checked_sub(b).map(S::Int).ok_or_else(overflow),
            (S::Date(d), S::Int(n)) => d.checked_sub(n).map(S::Date).ok_or_else(overflow),
            (
                a @ (S::Date(_) | S::Timestamp(_)),
                S::Interval {
                    months,
                    days,
                    micros,
                },
            ) => {
                let ts = as_timestamp(&a).ok_or_else(overflow)?;
                add_interval(ts, -months, -days, -micros).map(S::Timestamp)
            }
            (a @ (S::Date(_) | S::Timestamp(_)), b @ (S::Date(_) | S::Timestamp(_))) => {
                let diff = as_timestamp(&a)
                    .zip(as_timestamp(&b))
                    .and_then(|(a, b)| a.checked_sub(b))
                    .ok_or_else(overflow)?;
                // timestamp - timestamp is justified to days and time.
                Ok(S::Interval {
                    months: 0,
                    days: diff / MICROS_PER_DAY,
                    micros: diff % MICROS_PER_DAY,
                })
            }
            (a @ S::Interval { .. }, b @ S::Interval { .. }) => {
                intervals(&a, &b, i64::checked_sub).ok_or_else(overflow)
            }
            (a, b) => match (as_float(&a), as_float(&b)) {
                (Some(x), Some(y)) => float(x - y),
                _ => Err(no()),
            },
        },
        B::Multiply => match (l, r) {
            (S::Int(a), S::Int(b)) => a.checked_mul(b).map(S::Int).ok_or_else(overflow),
            (
                S::Interval {
                    months,
                    days,
                    micros,
                },
                S::Int(n),
            )
            | (
                S::Int(n),
                S::Interval {
                    months,
                    days,
                    micros,
                },
            ) => Ok(S::Interval {
                months: months.checked_mul(n).ok_or_else(overflow)?,
                days: days.checked_mul(n).ok_or_else(overflow)?,
                micros: micros.checked_mul(n).ok_or_else(overflow)?,
            }),
            (a, b) => match (as_float(&a), as_float(&b)) {
                (Some(x), Some(y)) => float(x * y),
                _ => Err(no()),
            },
        },
        B::Divide => match (l, r) {
            (S::Int(_), S::Int(0)) => unsupported("a division by zero"),
            (S::Int(a), S::Int(b)) => a.checked_div(b).map(S::Int).ok_or_else(overflow),
            (a, b) => match (as_float(&a), as_float(&b)) {
                (Some(_), Some(0.0)) => unsupported("a division by zero"),
                (Some(x), Some(y)) => float(x / y),
                _ => Err(no()),
            },
        },
        B::Modulo => match (l, r) {
            (S::Int(_), S::Int(0)) => unsupported("a division by zero"),
            (S::Int(a), S::Int(b)) => a.checked_rem(b).map(S::Int).ok_or_else(overflow),
            _ => Err(no()),
        },
        B::PGExp => match (as_float(&l), as_float(&r)) {
            (Some(x), Some(y)) => float(x.powf(y)),
            _ => Err(no()),
        },
        B::StringConcat => match (to_text(&l), to_text(&r)) {
            (Some(a), Some(b)) => Ok(S::Text(a + &b)),
            _ => Err(no()),
        },
        B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq => {
            let ordering = compare(&l, &r, matches!(op, B::Eq | B::NotEq)).ok_or_else(no)?;
            use std::cmp::Ordering as O;
            Ok(S::Bool(match op {
                B::Eq => ordering == O::Equal,
                B::NotEq => ordering != O::Equal,
                B::Lt => ordering == O::Less,
                B::LtEq => ordering != O::Greater,
                B::Gt => ordering == O::Greater,
                _ => ordering != O::Less,
            }))
        }
        _ => unsupported(format!("the operator `{op}`")),
    }
}

/// Orders two values as PostgreSQL does. Text only for equality and for
/// strings whose order no collation changes: text order depends on the
/// database's collation.
fn compare(l: &Scalar, r: &Scalar, equality: bool) -> Option<std::cmp::Ordering> {
    use Scalar as S;
    match (l, r) {
        (S::Int(a), S::Int(b)) => Some(a.cmp(b)),
        (S::Bool(a), S::Bool(b)) => Some(a.cmp(b)),
        (S::Text(a), S::Text(b)) if equality || same_shape_digits(a, b) => Some(a.cmp(b)),
        (S::Interval { .. }, S::Interval { .. }) => {
            let span = |v: &Scalar| match v {
                S::Interval {
                    months,
                    days,
                    micros,
                } => {
                    i128::from(*months) * 30 * i128::from(MICROS_PER_DAY)
                        + i128::from(*days) * i128::from(MICROS_PER_DAY)
                        + i128::from(*micros)
                }
                _ => 0,
            };
            Some(span(l).cmp(&span(r)))
        }
        (a @ (S::Date(_) | S::Timestamp(_)), b @ (S::Date(_) | S::Timestamp(_))) => {
            Some(as_timestamp(a)?.cmp(&as_timestamp(b)?))
        }
        (a, b) => as_float(a)?.partial_cmp(&as_float(b)?),
    }
}

/// Two strings of digits with the same punctuation at the same places (two
/// ISO dates as text): every collation orders them as their bytes.
fn same_shape_digits(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            (x.is_ascii_digit() && y.is_ascii_digit())
                || (x == y && matches!(x, b'-' | b':' | b' ' | b'.' | b'T'))
        })
}

/// A value as PostgreSQL prints it in text.
fn to_text(v: &Scalar) -> Option<String> {
    Some(match v {
        Scalar::Text(s) => s.clone(),
        Scalar::Int(i) => i.to_string(),
        // float8 output: shortest round trip, scientific from 1e15 on.
        Scalar::Float(f) if f.is_finite() && (f.abs() < 1e15) && (*f == 0.0 || f.abs() >= 1e-4) => {
            format!("{f}")
        }
        Scalar::Bool(b) => if *b { "true" } else { "false" }.into(),
        Scalar::Date(d) => format_date(*d),
        Scalar::Timestamp(t) => format_timestamp(*t),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Scalar {
        let t = evaluate(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        t.rows[0][0].clone()
    }

    #[test]
    fn dbt_datediff_of_fixed_dates() {
        assert_eq!(
            one("select (('2018-01-10')::date - ('2018-01-01')::date)"),
            Scalar::Int(9)
        );
        assert_eq!(
            one("select ((date_part('year', ('2019-03-01')::date) - date_part('year', ('2018-01-01')::date)) * 12 + date_part('month', ('2019-03-01')::date) - date_part('month', ('2018-01-01')::date))"),
            Scalar::Float(14.0)
        );
    }

    #[test]
    fn months_clamp_to_the_last_day() {
        assert_eq!(
            to_text(&one("select '2018-01-31'::date + interval '1 month'")).unwrap(),
            "2018-02-28 00:00:00"
        );
        assert_eq!(
            to_text(&one(
                "select cast('2020-02-29' as date) + ((interval '1 year') * (-1))"
            ))
            .unwrap(),
            "2019-02-28 00:00:00"
        );
    }

    #[test]
    fn what_is_not_constant_is_refused() {
        assert_eq!(
            evaluate("select count(*) from orders"),
            Err(NotConstant::ReadsData)
        );
        assert_eq!(
            evaluate("select current_date - date '2020-01-01'"),
            Err(NotConstant::Volatile("current_date".into()))
        );
        assert_eq!(
            evaluate("select now()"),
            Err(NotConstant::Volatile("now".into()))
        );
        assert!(matches!(
            evaluate("select 1.5 * 2"),
            Err(NotConstant::Unsupported(_))
        ));
        assert!(matches!(
            evaluate("select 'b' < 'a'"),
            Err(NotConstant::Unsupported(_))
        ));
        assert!(matches!(
            evaluate("select 1/0"),
            Err(NotConstant::Unsupported(_))
        ));
    }
}
