//! The functions a constant query may call.

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart,
};

use super::time::{date_part, date_trunc, days_from_civil, days_in_month};
use super::{
    as_float, binary, compare, eval, overflow, unsupported, Eval, NotConstant, Scalar, VOLATILE,
};

pub(super) fn function(f: &sqlparser::ast::Function) -> Eval<Scalar> {
    let name = f
        .name
        .0
        .last()
        .and_then(ObjectNamePart::as_ident)
        .map(|i| i.value.to_lowercase())
        .unwrap_or_default();
    if f.name.0.len() > 2
        || (f.name.0.len() == 2 && !f.name.to_string().to_lowercase().starts_with("pg_catalog."))
    {
        return unsupported(format!("the function `{}`", f.name));
    }
    if VOLATILE.contains(&name.as_str()) {
        return Err(NotConstant::Volatile(name));
    }
    if f.filter.is_some() || f.over.is_some() || !f.within_group.is_empty() {
        return unsupported(format!("`{name}` used as an aggregate or window"));
    }
    let args: Vec<&Expr> = match &f.args {
        FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                    _ => Err(NotConstant::Unsupported(format!(
                        "the arguments of `{name}`"
                    ))),
                })
                .collect::<Eval<_>>()?
        }
        FunctionArguments::None => Vec::new(),
        _ => return unsupported(format!("the arguments of `{name}`")),
    };
    // Short-circuiting functions first: their later arguments may not be
    // evaluable.
    if name == "coalesce" {
        for a in &args {
            let v = eval(a)?;
            if v != Scalar::Null {
                return Ok(v);
            }
        }
        return Ok(Scalar::Null);
    }
    let values: Vec<Scalar> = args.iter().map(|a| eval(a)).collect::<Eval<_>>()?;
    let one = |values: &[Scalar]| -> Eval<Scalar> {
        match values {
            [v] => Ok(v.clone()),
            _ => unsupported(format!("`{name}` with {} arguments", values.len())),
        }
    };
    match name.as_str() {
        "date_part" => match values.as_slice() {
            [Scalar::Text(field), v] => date_part(field, v),
            [Scalar::Null, _] | [_, Scalar::Null] => Ok(Scalar::Null),
            _ => unsupported("date_part of these arguments"),
        },
        "abs" => match one(&values)? {
            Scalar::Int(i) => i.checked_abs().map(Scalar::Int).ok_or_else(overflow),
            Scalar::Float(f) => Ok(Scalar::Float(f.abs())),
            Scalar::Null => Ok(Scalar::Null),
            _ => unsupported("abs of a value that is not a number"),
        },
        "ceiling" | "ceil" | "floor" | "round" | "trunc" => {
            let op: fn(f64) -> f64 = match name.as_str() {
                "floor" => f64::floor,
                "round" => f64::round_ties_even,
                "trunc" => f64::trunc,
                _ => f64::ceil,
            };
            match one(&values)? {
                Scalar::Null => Ok(Scalar::Null),
                v => match as_float(&v) {
                    Some(x) => Ok(Scalar::Float(op(x))),
                    None => unsupported(format!("{name} of a value that is not a number")),
                },
            }
        }
        "power" | "pow" => match values.as_slice() {
            [a, b] => binary(a.clone(), &BinaryOperator::PGExp, b.clone()),
            _ => unsupported(format!("`{name}` with {} arguments", values.len())),
        },
        "greatest" | "least" => {
            let mut best: Option<Scalar> = None;
            for v in values.into_iter().filter(|v| *v != Scalar::Null) {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let ord = compare(&v, &b, false)
                            .ok_or_else(|| NotConstant::Unsupported(format!("`{name}` of these values")))?;
                        let take = if name == "greatest" { ord.is_gt() } else { ord.is_lt() };
                        if take { v } else { b }
                    }
                });
            }
            Ok(best.unwrap_or(Scalar::Null))
        }
        "nullif" => match values.as_slice() {
            [a, b] => Ok(if binary(a.clone(), &BinaryOperator::Eq, b.clone())? == Scalar::Bool(true) {
                Scalar::Null
            } else {
                a.clone()
            }),
            _ => unsupported("nullif with other than two arguments"),
        },
        "make_date" => match values.as_slice() {
            [Scalar::Int(y), Scalar::Int(m), Scalar::Int(d)]
                if *y >= 1 && (1..=12).contains(m) && *d >= 1 && *d <= days_in_month(*y, *m) =>
            {
                Ok(Scalar::Date(days_from_civil(*y, *m, *d)))
            }
            _ => unsupported("make_date of these arguments"),
        },
        "date_trunc" => match values.as_slice() {
            [Scalar::Text(field), Scalar::Timestamp(t)] => date_trunc(field, *t).map(Scalar::Timestamp),
            _ => unsupported("date_trunc of anything but a timestamp (a date becomes a timestamp with time zone)"),
        },
        _ => unsupported(format!("the function `{name}`")),
    }
}
