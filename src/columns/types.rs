//! PostgreSQL's type rules, as far as the column catalog needs them: the
//! type of a literal, of arithmetic, of the common functions and
//! aggregates, and the common type of `case`, `coalesce` and set
//! operations. Each rule was checked against PostgreSQL 15 with
//! `pg_typeof` (the unit tests hold the answers). What the rules do not
//! cover is [`Ty::Unknown`]: never a guess.

use crate::catalog::pg_type_name;

/// The type of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// A type as PostgreSQL's catalog spells it (`integer`, `numeric(10,2)`).
    Known(String),
    /// A string literal or `null`: PostgreSQL's `unknown`, which takes the
    /// type of what it meets and is `text` when it reaches the output.
    Literal,
    /// Nothing here says.
    Unknown,
}

impl Ty {
    pub fn known(name: &str) -> Ty {
        Ty::Known(name.to_string())
    }

    /// The written type (`varchar(20)`, `INT`) as PostgreSQL spells it.
    pub fn written(name: &str) -> Ty {
        Ty::Known(pg_type_name(name))
    }

    /// The type a column of the output gets.
    pub fn output(&self) -> Option<String> {
        match self {
            Ty::Known(t) => Some(t.clone()),
            Ty::Literal => Some("text".into()),
            Ty::Unknown => None,
        }
    }

    /// The type without modifiers, as an expression that is not a plain
    /// copy or cast has it: `max(numeric(12,2))` is `numeric`.
    pub(super) fn unmodified(&self) -> Ty {
        match self.base() {
            Some(b) => Ty::known(b),
            None => self.clone(),
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Ty::Known(t) => Some(t),
            _ => None,
        }
    }

    /// The type without its modifiers: `numeric(10,2)` is `numeric`,
    /// `character varying(20)` is `character varying`.
    pub(super) fn base(&self) -> Option<&str> {
        let t = self.name()?;
        let Some(i) = t.find('(') else {
            return Some(t);
        };
        if t.ends_with("[]") {
            return Some(t);
        }
        // `timestamp(3) with time zone` keeps its zone.
        for kind in ["timestamp", "time"] {
            if t.starts_with(kind) && t[kind.len()..].starts_with('(') {
                let zoned = t.ends_with(" with time zone");
                return Some(match (kind, zoned) {
                    ("timestamp", true) => "timestamp with time zone",
                    ("timestamp", false) => "timestamp without time zone",
                    (_, true) => "time with time zone",
                    _ => "time without time zone",
                });
            }
        }
        Some(t[..i].trim_end())
    }
}

/// The rank of a numeric type in PostgreSQL's implicit casts.
fn numeric_rank(t: &Ty) -> Option<u8> {
    match t.base()? {
        "smallint" => Some(1),
        "integer" => Some(2),
        "bigint" => Some(3),
        "numeric" => Some(4),
        "real" => Some(5),
        "double precision" => Some(6),
        _ => None,
    }
}

fn of_rank(rank: u8) -> Ty {
    Ty::known(match rank {
        1 => "smallint",
        2 => "integer",
        3 => "bigint",
        4 => "numeric",
        5 => "real",
        _ => "double precision",
    })
}

fn is_text(t: &Ty) -> bool {
    matches!(
        t.base(),
        Some("text" | "character varying" | "character" | "name")
    )
}

/// A numeric literal: `integer` when it fits, then `bigint`, else
/// `numeric` (any literal with a point or an exponent).
pub fn number(text: &str) -> Ty {
    if text.contains(['.', 'e', 'E']) {
        return Ty::known("numeric");
    }
    match text.parse::<i64>() {
        Ok(n) if i32::try_from(n).is_ok() => Ty::known("integer"),
        Ok(_) => Ty::known("bigint"),
        Err(_) => Ty::known("numeric"),
    }
}

/// Arithmetic on two numbers: the wider of two integer types; `numeric`
/// with any integer; `double precision` once a float meets anything but
/// the same float.
fn numeric_pair(l: &Ty, r: &Ty) -> Option<Ty> {
    let (a, b) = (numeric_rank(l)?, numeric_rank(r)?);
    Some(match (a.max(b), a.min(b)) {
        (hi, _) if hi <= 4 => of_rank(hi),
        (5, 5) => of_rank(5),
        (5, 4) => of_rank(6),
        (5, _) => of_rank(6),
        _ => of_rank(6),
    })
}

/// `l op r` for `+ - * / %`, and `||`.
pub fn arithmetic(op: &str, l: &Ty, r: &Ty) -> Ty {
    // An unknown-typed literal takes the other side's type.
    let (l, r) = match (l, r) {
        (Ty::Literal, Ty::Known(_)) if op != "||" => (r, r),
        (Ty::Known(_), Ty::Literal) if op != "||" => (l, l),
        _ => (l, r),
    };
    if op == "||" {
        // An array with an array of its type or with an element.
        let arr = |t: &Ty| t.name().filter(|n| n.ends_with("[]")).map(str::to_string);
        match (arr(l), arr(r)) {
            (Some(a), Some(b)) if a == b => return Ty::Known(a),
            (Some(a), None) if element(l).base() == r.base() && r.base().is_some() => {
                return Ty::Known(a)
            }
            (None, Some(b)) if element(r).base() == l.base() && l.base().is_some() => {
                return Ty::Known(b)
            }
            (Some(_), _) | (_, Some(_)) => return Ty::Unknown,
            _ => {}
        }
        if is_text(l) || is_text(r) || (*l == Ty::Literal && *r == Ty::Literal) {
            return Ty::known("text");
        }
        if l.base() == Some("jsonb") && r.base() == Some("jsonb") {
            return Ty::known("jsonb");
        }
        if *l == Ty::Literal && r.name().is_some_and(|t| t != "jsonb" && !t.ends_with("[]")) {
            return Ty::known("text");
        }
        if *r == Ty::Literal && l.name().is_some_and(|t| t != "jsonb" && !t.ends_with("[]")) {
            return Ty::known("text");
        }
        return Ty::Unknown;
    }
    if let Some(t) = numeric_pair(l, r) {
        return t;
    }
    let (lb, rb) = (l.base(), r.base());
    let int = |b: Option<&str>| matches!(b, Some("smallint" | "integer" | "bigint"));
    let num = |t: &Ty| numeric_rank(t).is_some();
    const TS: &str = "timestamp without time zone";
    const TSTZ: &str = "timestamp with time zone";
    match (op, lb, rb) {
        ("-", Some("date"), Some("date")) => Ty::known("integer"),
        ("+" | "-", Some("date"), _) if int(rb) => Ty::known("date"),
        ("+", _, Some("date")) if int(lb) => Ty::known("date"),
        ("+" | "-", Some("date"), Some("interval")) | ("+", Some("interval"), Some("date")) => {
            Ty::known(TS)
        }
        ("+", Some("date"), Some("time without time zone"))
        | ("+", Some("time without time zone"), Some("date")) => Ty::known(TS),
        ("+" | "-", Some(TS), Some("interval")) | ("+", Some("interval"), Some(TS)) => {
            Ty::known(TS)
        }
        ("+" | "-", Some(TSTZ), Some("interval")) | ("+", Some("interval"), Some(TSTZ)) => {
            Ty::known(TSTZ)
        }
        ("-", Some(TS), Some(TS)) | ("-", Some(TSTZ), Some(TSTZ)) => Ty::known("interval"),
        ("+" | "-", Some("interval"), Some("interval")) => Ty::known("interval"),
        ("*" | "/", Some("interval"), _) if num(r) => Ty::known("interval"),
        ("*", _, Some("interval")) if num(l) => Ty::known("interval"),
        ("+" | "-", Some("time without time zone"), Some("interval")) => {
            Ty::known("time without time zone")
        }
        _ => Ty::Unknown,
    }
}

/// `^`: `numeric` when either side is, else `double precision`.
pub fn power(l: &Ty, r: &Ty) -> Ty {
    match (numeric_rank(l), numeric_rank(r)) {
        (Some(4), Some(b)) | (Some(b), Some(4)) if b <= 4 => Ty::known("numeric"),
        (Some(_), Some(_)) => Ty::known("double precision"),
        _ => Ty::Unknown,
    }
}

/// The common type of `case` branches, `coalesce` arguments and the
/// columns of a set operation, by PostgreSQL's rule (see
/// [`super::common`]); unknown where PostgreSQL would refuse them (the
/// caller reports that).
pub fn common<'a>(types: impl IntoIterator<Item = &'a Ty>) -> Ty {
    super::common::resolve(types).unwrap_or(Ty::Unknown)
}

/// The result of a function PostgreSQL ships, by its lower-case name and
/// its arguments' types; `star` for `count(*)`.
pub fn function(name: &str, args: &[Ty]) -> Ty {
    let first = args.first().cloned().unwrap_or(Ty::Unknown);
    let rank = numeric_rank(&first);
    const TS: &str = "timestamp without time zone";
    const TSTZ: &str = "timestamp with time zone";
    match name {
        "count" => Ty::known("bigint"),
        "sum" => match rank {
            Some(1 | 2) => Ty::known("bigint"),
            Some(3 | 4) => Ty::known("numeric"),
            Some(5) => Ty::known("real"),
            Some(_) => Ty::known("double precision"),
            None if first.base() == Some("interval") => Ty::known("interval"),
            None => Ty::Unknown,
        },
        "avg" => match rank {
            Some(1..=4) => Ty::known("numeric"),
            Some(_) => Ty::known("double precision"),
            None if first.base() == Some("interval") => Ty::known("interval"),
            None => Ty::Unknown,
        },
        "min" | "max" | "first_value" | "last_value" | "nth_value" | "lag" | "lead"
        | "any_value" => match first {
            Ty::Literal => Ty::known("text"),
            // There is no `max(varchar)`: PostgreSQL takes `max(text)`.
            t if t.base() == Some("character varying") => Ty::known("text"),
            t => t.unmodified(),
        },
        "abs" => match rank {
            Some(_) => first.unmodified(),
            None => Ty::Unknown,
        },
        "round" | "trunc" if args.len() == 2 => Ty::known("numeric"),
        "round" | "trunc" | "ceil" | "ceiling" | "floor" | "sqrt" | "cbrt" | "exp" | "ln"
        | "log" | "log10" | "power" | "pow" | "sign" => match rank {
            Some(4) => Ty::known("numeric"),
            Some(_) => Ty::known("double precision"),
            None => Ty::Unknown,
        },
        "mod" => match (rank, args.get(1).and_then(numeric_rank)) {
            (Some(a), Some(b)) if a.max(b) <= 4 => of_rank(a.max(b)),
            _ => Ty::Unknown,
        },
        "random" | "pi" | "date_part" | "percent_rank" | "cume_dist" | "stddev" | "stddev_samp"
        | "stddev_pop" | "variance" | "var_samp" | "var_pop" | "corr" | "regr_slope"
        | "regr_intercept" | "covar_pop" | "covar_samp"
            if rank.is_none_or(|r| r >= 5) || name == "date_part" || name == "random" =>
        {
            Ty::known("double precision")
        }
        "stddev" | "stddev_samp" | "stddev_pop" | "variance" | "var_samp" | "var_pop" => {
            Ty::known("numeric")
        }
        "percent_rank" | "cume_dist" => Ty::known("double precision"),
        "row_number" | "rank" | "dense_rank" | "ntile" => Ty::known("bigint"),
        "lower" | "upper" | "initcap" | "trim" | "btrim" | "ltrim" | "rtrim" | "replace"
        | "substr" | "left" | "right" | "lpad" | "rpad" | "concat" | "concat_ws" | "md5"
        | "to_char" | "string_agg" | "split_part" | "regexp_replace" | "repeat" | "reverse"
        | "translate" | "quote_ident" | "quote_literal" | "format" | "chr" | "encode" => {
            Ty::known("text")
        }
        "length" | "char_length" | "character_length" | "octet_length" | "strpos" | "ascii"
        | "array_length" => Ty::known("integer"),
        "bool_and" | "bool_or" | "every" | "starts_with" => Ty::known("boolean"),
        "now"
        | "transaction_timestamp"
        | "statement_timestamp"
        | "clock_timestamp"
        | "to_timestamp" => Ty::known(TSTZ),
        "to_date" => Ty::known("date"),
        "to_number" => Ty::known("numeric"),
        "age" | "justify_days" | "justify_hours" | "justify_interval" | "make_interval" => {
            Ty::known("interval")
        }
        "make_date" => Ty::known("date"),
        "make_timestamp" => Ty::known(TS),
        "make_timestamptz" => Ty::known(TSTZ),
        "date_trunc" => match args.get(1).and_then(Ty::base) {
            Some(TS) => Ty::known(TS),
            Some(TSTZ) | Some("date") => Ty::known(TSTZ),
            Some("interval") => Ty::known("interval"),
            _ => Ty::Unknown,
        },
        "json_agg" | "json_build_object" | "json_build_array" | "to_json" | "json_object_agg" => {
            Ty::known("json")
        }
        "jsonb_agg" | "jsonb_build_object" | "jsonb_build_array" | "to_jsonb"
        | "jsonb_object_agg" | "jsonb_set" | "jsonb_strip_nulls" => Ty::known("jsonb"),
        "gen_random_uuid" => Ty::known("uuid"),
        // Of an array, an array of one more dimension: the same type.
        "array_agg" => match first.unmodified() {
            Ty::Known(t) if t.ends_with("[]") => Ty::Known(t),
            Ty::Known(t) => Ty::Known(format!("{t}[]")),
            _ => Ty::Unknown,
        },
        "string_to_array" | "regexp_split_to_array" | "regexp_match" | "regexp_matches" => {
            Ty::known("text[]")
        }
        "array_positions" => Ty::known("integer[]"),
        "array_position" | "cardinality" | "array_ndims" | "array_upper" | "array_lower" => {
            Ty::known("integer")
        }
        "array_to_string" | "array_dims" => Ty::known("text"),
        "array_append" | "array_remove" | "array_replace" | "array_cat" => match first {
            Ty::Known(t) if t.ends_with("[]") => Ty::Known(t),
            _ => Ty::Unknown,
        },
        "array_prepend" => match args.get(1) {
            Some(Ty::Known(t)) if t.ends_with("[]") => Ty::Known(t.clone()),
            _ => Ty::Unknown,
        },
        "unnest" if args.len() == 1 => element(&first),
        "coalesce" | "greatest" | "least" => common(args),
        "nullif" => match first {
            Ty::Literal => Ty::known("text"),
            t => t,
        },
        _ => Ty::Unknown,
    }
}

/// The element type of an array type (`text[]` is of `text`).
pub fn element(t: &Ty) -> Ty {
    match t {
        Ty::Known(a) => match a.strip_suffix("[]") {
            Some(e) => Ty::known(e),
            None => Ty::Unknown,
        },
        _ => Ty::Unknown,
    }
}

/// An array of `elem`: `array[1, 2]` is `integer[]`; an array of arrays
/// is the same array type.
pub fn array_of(elem: &Ty) -> Ty {
    match elem.unmodified() {
        Ty::Literal => Ty::known("text[]"),
        Ty::Known(t) if t.ends_with("[]") => Ty::Known(t),
        Ty::Known(t) => Ty::Known(format!("{t}[]")),
        Ty::Unknown => Ty::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(t: &str) -> Ty {
        Ty::known(t)
    }

    /// Each answer is PostgreSQL 15's `pg_typeof` of the same expression.
    #[test]
    fn arithmetic_follows_postgresql() {
        let int = k("integer");
        for (op, l, r, want) in [
            ("/", int.clone(), int.clone(), "integer"),
            ("/", k("numeric"), int.clone(), "numeric"),
            ("+", k("smallint"), k("smallint"), "smallint"),
            ("%", int.clone(), int.clone(), "integer"),
            ("*", k("real"), int.clone(), "double precision"),
            ("*", k("numeric"), k("double precision"), "double precision"),
            ("+", k("numeric(10,2)"), k("bigint"), "numeric"),
            ("-", k("date"), int.clone(), "date"),
            ("-", k("date"), k("date"), "integer"),
            ("+", k("date"), k("interval"), "timestamp without time zone"),
            ("-", k("date"), k("interval"), "timestamp without time zone"),
            (
                "+",
                k("date"),
                k("time without time zone"),
                "timestamp without time zone",
            ),
            (
                "-",
                k("timestamp with time zone"),
                k("timestamp with time zone"),
                "interval",
            ),
            ("||", Ty::Literal, int.clone(), "text"),
            ("||", k("character varying(10)"), k("text"), "text"),
            ("||", k("text[]"), k("text[]"), "text[]"),
            ("||", k("integer[]"), int.clone(), "integer[]"),
            ("||", int.clone(), k("integer[]"), "integer[]"),
        ] {
            assert_eq!(arithmetic(op, &l, &r), k(want), "{l:?} {op} {r:?}");
        }
        assert_eq!(arithmetic("+", &k("text"), &k("date")), Ty::Unknown);
        assert_eq!(power(&int, &int), k("double precision"));
    }

    #[test]
    fn functions_follow_postgresql() {
        let int = k("integer");
        for (f, args, want) in [
            ("count", vec![], "bigint"),
            ("sum", vec![int.clone()], "bigint"),
            ("sum", vec![k("bigint")], "numeric"),
            ("sum", vec![k("real")], "real"),
            ("avg", vec![k("real")], "double precision"),
            ("avg", vec![int.clone()], "numeric"),
            ("abs", vec![int.clone()], "integer"),
            ("round", vec![int.clone()], "double precision"),
            ("round", vec![k("numeric")], "numeric"),
            ("round", vec![k("double precision"), int.clone()], "numeric"),
            ("ceil", vec![int.clone()], "double precision"),
            ("floor", vec![k("numeric")], "numeric"),
            ("sqrt", vec![int.clone()], "double precision"),
            ("mod", vec![int.clone(), int.clone()], "integer"),
            (
                "date_part",
                vec![Ty::Literal, k("date")],
                "double precision",
            ),
            (
                "date_trunc",
                vec![Ty::Literal, k("date")],
                "timestamp with time zone",
            ),
            (
                "date_trunc",
                vec![Ty::Literal, k("timestamp without time zone")],
                "timestamp without time zone",
            ),
            ("coalesce", vec![int.clone(), k("numeric")], "numeric"),
            ("greatest", vec![int.clone(), k("bigint")], "bigint"),
            ("length", vec![Ty::Literal], "integer"),
            ("to_char", vec![], "text"),
            ("string_agg", vec![], "text"),
            ("row_number", vec![], "bigint"),
            ("array_agg", vec![int.clone()], "integer[]"),
            (
                "array_agg",
                vec![k("character varying(20)")],
                "character varying[]",
            ),
            ("array_agg", vec![k("text[]")], "text[]"),
            ("string_to_array", vec![k("text"), Ty::Literal], "text[]"),
            ("array_append", vec![k("bigint[]"), k("bigint")], "bigint[]"),
            ("array_length", vec![k("bigint[]"), int.clone()], "integer"),
            ("unnest", vec![k("date[]")], "date"),
        ] {
            assert_eq!(function(f, &args), k(want), "{f}({args:?})");
        }
        assert_eq!(function("my_udf", &[int]), Ty::Unknown);
    }

    #[test]
    fn literals_and_common_types() {
        assert_eq!(number("1"), k("integer"));
        assert_eq!(number("3000000000"), k("bigint"));
        assert_eq!(number("1.5"), k("numeric"));
        assert_eq!(number("99999999999999999999"), k("numeric"));
        assert_eq!(common(&[Ty::Literal, Ty::Literal]), Ty::Literal);
        assert_eq!(common(&[Ty::Literal, k("date")]), k("date"));
        assert_eq!(common(&[k("integer"), k("real")]), k("real"));
        assert_eq!(
            common(&[k("character varying(10)"), k("character varying(20)")]),
            k("character varying")
        );
        assert_eq!(common(&[k("integer"), k("text")]), Ty::Unknown);
        assert_eq!(common(&[k("integer"), Ty::Unknown]), Ty::Unknown);
        assert_eq!(Ty::Literal.output().as_deref(), Some("text"));
        // Checked with format_type() of a view's columns in PostgreSQL 15.
        assert_eq!(common(&[k("character(2)"), Ty::Literal]), k("character"));
        assert_eq!(
            common(&[k("numeric(12,2)"), k("numeric(12,2)")]),
            k("numeric(12,2)")
        );
        assert_eq!(function("max", &[k("numeric(12,2)")]), k("numeric"));
        assert_eq!(function("lag", &[k("numeric(12,2)")]), k("numeric"));
        assert_eq!(function("min", &[k("character varying(20)")]), k("text"));
    }
}
