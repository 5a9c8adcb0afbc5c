//! PostgreSQL's common-type rule ("UNION, CASE, and Related Constructs",
//! `select_common_type`), once, for every construct that brings several
//! values to one type: set operations, `case`, `coalesce`,
//! `greatest`/`least`, `values` and `join ... using`. And whether a
//! string literal reads as the type it is brought to.
//!
//! The rule, for the types this knows the category and casts of:
//! literals (`unknown`) are set aside; all known inputs must be of one
//! category; the first input is the candidate, and a later input replaces
//! it when the candidate casts to it implicitly but not back (unless the
//! candidate is the category's preferred type); every input must then
//! cast implicitly to the result. A type this does not know (an enum, a
//! domain, an array) makes the result unknown and never an error.

use super::types::Ty;

/// Why PostgreSQL refuses to bring some values to one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clash {
    /// Input `at` is of another category than the type chosen from the
    /// inputs before it (`first`, from input `from`): "types integer and
    /// boolean cannot be matched".
    Category {
        at: usize,
        from: usize,
        first: String,
        other: String,
    },
    /// Input `at` does not cast implicitly to the chosen type `to`
    /// (chosen from input `from`): "could not convert type time to date".
    Convert {
        at: usize,
        from: usize,
        ty: String,
        to: String,
    },
}

/// PostgreSQL's name of a type without modifiers, when this knows its
/// category: `(category, preferred)`.
fn category(base: &str) -> Option<(char, bool)> {
    Some(match base {
        "smallint" | "integer" | "bigint" | "numeric" | "real" => ('N', false),
        "double precision" => ('N', true),
        "character varying" | "character" | "name" => ('S', false),
        "text" => ('S', true),
        "boolean" => ('B', true),
        "date"
        | "timestamp without time zone"
        | "time without time zone"
        | "time with time zone" => ('D', false),
        "timestamp with time zone" => ('D', true),
        "interval" => ('T', true),
        "uuid" | "json" | "jsonb" | "bytea" => ('U', false),
        _ => return None,
    })
}

/// Whether PostgreSQL 15's `pg_cast` has an implicit cast (or the types
/// are one), among the types [`category`] knows.
fn implicit(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    let rank = |t: &str| {
        [
            "smallint",
            "integer",
            "bigint",
            "numeric",
            "real",
            "double precision",
        ]
        .iter()
        .position(|n| *n == t)
    };
    if let (Some(a), Some(b)) = (rank(from), rank(to)) {
        return a < b;
    }
    matches!(
        (from, to),
        ("character", "text" | "character varying" | "name")
            | ("character varying", "text" | "character" | "name")
            | ("text", "character varying" | "character" | "name")
            | ("name", "text")
            | (
                "date",
                "timestamp without time zone" | "timestamp with time zone"
            )
            | ("timestamp without time zone", "timestamp with time zone")
            | ("time without time zone", "time with time zone")
    )
}

/// The common type of `inputs` by PostgreSQL's rule, or why PostgreSQL
/// refuses them. Literals alone stay [`Ty::Literal`] (the construct makes
/// them `text`); any input of a type this does not know makes the
/// result [`Ty::Unknown`], though two known inputs of different
/// categories still clash (no type can bring them together).
pub fn resolve<'a>(inputs: impl IntoIterator<Item = &'a Ty>) -> Result<Ty, Clash> {
    let inputs: Vec<&Ty> = inputs.into_iter().collect();
    let known: Vec<(usize, &Ty)> = inputs
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Ty::Literal))
        .map(|(i, t)| (i, *t))
        .collect();
    let Some(&(_, first)) = known.first() else {
        return Ok(if inputs.is_empty() {
            Ty::Unknown
        } else {
            Ty::Literal
        });
    };
    let literal = known.len() < inputs.len();
    // One type, modifiers and all: that type (without the modifiers when
    // a literal joins it, as PostgreSQL's common typmod is then -1).
    if known.iter().all(|(_, t)| *t == first) && *first != Ty::Unknown {
        return Ok(if literal {
            first.unmodified()
        } else {
            first.clone()
        });
    }
    // The known inputs by their base type and category; `None` for the
    // types whose rules this does not model.
    type Info<'t> = Option<(&'t str, char, bool)>;
    let sorted: Vec<(usize, Info)> = known
        .iter()
        .map(|&(i, t)| {
            let b = t.base();
            (i, b.and_then(|b| category(b).map(|(c, p)| (b, c, p))))
        })
        .collect();
    let mut candidate: Option<(usize, &str, char, bool)> = None;
    let mut all_known = true;
    for &(i, info) in &sorted {
        let Some((b, c, p)) = info else {
            all_known = false;
            continue;
        };
        match candidate {
            None => candidate = Some((i, b, c, p)),
            Some((from, cb, cc, _)) if cc != c => {
                return Err(Clash::Category {
                    at: i,
                    from,
                    first: cb.to_string(),
                    other: b.to_string(),
                })
            }
            Some((_, cb, _, cp)) => {
                if !cp && implicit(cb, b) && !implicit(b, cb) {
                    candidate = Some((i, b, c, p));
                }
            }
        }
    }
    if !all_known {
        return Ok(Ty::Unknown);
    }
    let Some((from, to, _, _)) = candidate else {
        return Ok(Ty::Unknown);
    };
    for &(i, info) in &sorted {
        if let Some((b, _, _)) = info {
            if !implicit(b, to) {
                return Err(Clash::Convert {
                    at: i,
                    from,
                    ty: b.to_string(),
                    to: to.to_string(),
                });
            }
        }
    }
    Ok(Ty::known(to))
}

/// Whether PostgreSQL reads string literal `text` as type `ty` (its input
/// function accepts it). Only the types whose input is simple to judge
/// are judged (numbers, `boolean`, `uuid`); every other type reads it.
pub fn reads_as(text: &str, ty: &Ty) -> bool {
    let Some(base) = ty.base() else { return true };
    let t = text.trim();
    let int = |min: i128, max: i128| {
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t).replace('_', "");
        // Hexadecimal, octal and binary integers read too (PostgreSQL 16),
        // which a 15 server refuses: left to the server.
        if digits.starts_with("0x") || digits.starts_with("0o") || digits.starts_with("0b") {
            return true;
        }
        t.replace('_', "")
            .parse::<i128>()
            .is_ok_and(|n| (min..=max).contains(&n))
    };
    let special = |t: &str| {
        let l = t.to_ascii_lowercase();
        let l = l.strip_prefix(['+', '-']).unwrap_or(&l);
        matches!(l, "nan" | "infinity" | "inf")
    };
    match base {
        "smallint" => int(i16::MIN.into(), i16::MAX.into()),
        "integer" => int(i32::MIN.into(), i32::MAX.into()),
        "bigint" => int(i64::MIN.into(), i64::MAX.into()),
        "numeric" | "real" | "double precision" => {
            special(t)
                || t.replace('_', "")
                    .parse::<f64>()
                    .is_ok_and(|_| !t.is_empty())
        }
        "boolean" => {
            let l = t.to_ascii_lowercase();
            !l.is_empty()
                && ["true", "false", "yes", "no", "on", "off", "1", "0"]
                    .iter()
                    // PostgreSQL takes any unique prefix (`t`, `ye`, `of`).
                    .any(|w| w.starts_with(&l) && l != "o")
        }
        "uuid" => {
            let hex: String = t
                .trim_start_matches('{')
                .trim_end_matches('}')
                .chars()
                .filter(|c| *c != '-')
                .collect();
            hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(t: &str) -> Ty {
        Ty::known(t)
    }

    /// Each answer is PostgreSQL 15's (`pg_typeof` over a union, or its error).
    #[test]
    fn common_types_follow_postgresql() {
        for (inputs, want) in [
            (vec![k("integer"), k("real")], "real"),
            (vec![k("real"), k("integer")], "real"),
            (vec![k("integer"), k("numeric")], "numeric"),
            (vec![k("numeric(10,2)"), k("integer")], "numeric"),
            (vec![k("bigint"), k("double precision")], "double precision"),
            (vec![Ty::Literal, k("date")], "date"),
            (vec![k("character varying"), k("text")], "character varying"),
            (vec![k("text"), k("character varying")], "text"),
            (vec![k("character(3)"), k("character varying")], "character"),
            (
                vec![k("date"), k("timestamp with time zone")],
                "timestamp with time zone",
            ),
            (
                vec![k("date"), k("timestamp without time zone")],
                "timestamp without time zone",
            ),
            (vec![k("integer"), k("numeric"), k("real")], "real"),
            (
                vec![k("numeric(12,2)"), k("numeric(12,2)")],
                "numeric(12,2)",
            ),
            (vec![k("character(2)"), Ty::Literal], "character"),
        ] {
            assert_eq!(resolve(&inputs), Ok(k(want)), "{inputs:?}");
        }
        assert_eq!(resolve(&[Ty::Literal, Ty::Literal]), Ok(Ty::Literal));
        assert_eq!(resolve(&[k("integer"), Ty::Unknown]), Ok(Ty::Unknown));
        assert_eq!(resolve(&[k("my_enum"), k("integer")]), Ok(Ty::Unknown));
        assert_eq!(
            resolve(&[k("integer"), Ty::Literal, k("boolean")]),
            Err(Clash::Category {
                at: 2,
                from: 0,
                first: "integer".into(),
                other: "boolean".into()
            })
        );
        // Unknown in between does not hide two known categories.
        assert!(resolve(&[k("integer"), Ty::Unknown, k("text")]).is_err());
        assert_eq!(
            resolve(&[k("date"), k("time without time zone")]),
            Err(Clash::Convert {
                at: 1,
                from: 0,
                ty: "time without time zone".into(),
                to: "date".into()
            })
        );
        assert!(resolve(&[k("uuid"), k("jsonb")]).is_err());
    }

    #[test]
    fn literals_read_as_postgresql_reads_them() {
        assert!(reads_as("12", &k("integer")));
        assert!(reads_as(" -3 ", &k("smallint")));
        assert!(!reads_as("abc", &k("integer")));
        assert!(!reads_as("1.5", &k("integer")));
        assert!(!reads_as("40000", &k("smallint")));
        assert!(reads_as("1.5e3", &k("numeric(10,2)")));
        assert!(reads_as("NaN", &k("double precision")));
        assert!(!reads_as("x", &k("numeric")));
        assert!(reads_as("t", &k("boolean")));
        assert!(reads_as("Yes", &k("boolean")));
        assert!(!reads_as("maybe", &k("boolean")));
        assert!(!reads_as("o", &k("boolean")));
        assert!(reads_as("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", &k("uuid")));
        assert!(!reads_as("abc", &k("uuid")));
        assert!(reads_as("whatever", &k("date")));
    }
}
