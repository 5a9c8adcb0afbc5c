//! `modules.datetime.timedelta` and the date arithmetic packages write with
//! it (`end_date - modules.datetime.timedelta(days=10)`).
//!
//! minijinja has no operator overloading, so a macro file's (not a
//! model's: its offsets must stay those of the file)
//! `x - modules.datetime.timedelta(...)` is rewritten before it compiles
//! ([`rewrite`]) into the filter `x | __stackc_dt_sub(modules.datetime.timedelta(...))`.
//! A filter binds tighter than `+`/`-`, which gives the same result for
//! the postfix expressions packages put on the left (a name, a call, a
//! parenthesised expression).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::context::preprocess::matching_close;
use super::modules::Date;

const CALL: &str = "modules.datetime.timedelta(";

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A Python `timedelta`: a signed count of microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timedelta {
    micros: i64,
}

impl Timedelta {
    /// Python's normalised fields: days (any sign), seconds and
    /// microseconds (never negative).
    fn fields(self) -> (i64, i64, i64) {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let rest = self.micros.rem_euclid(MICROS_PER_DAY);
        (days, rest / 1_000_000, rest % 1_000_000)
    }
}

/// `modules.datetime.timedelta`, callable as Python's.
#[derive(Debug)]
pub(super) struct TimedeltaClass;

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// A number argument as a float (Python accepts ints and floats).
fn number(v: &Value, what: &str) -> Result<f64, Error> {
    f64::try_from(v.clone()).map_err(|_| {
        bad(format!(
            "modules.datetime.timedelta(): {what} must be a number, not {v}"
        ))
    })
}

impl Object for TimedeltaClass {
    fn call(self: &Arc<Self>, _state: &mut State, args: &[Value]) -> Result<Value, Error> {
        let (args, kwargs): (&[Value], Kwargs) = minijinja::value::from_args(args)?;
        // Python's positional order, and each unit in microseconds.
        let units: [(&str, f64); 7] = [
            ("days", MICROS_PER_DAY as f64),
            ("seconds", 1e6),
            ("microseconds", 1.0),
            ("milliseconds", 1e3),
            ("minutes", 60e6),
            ("hours", 3600e6),
            ("weeks", 7.0 * MICROS_PER_DAY as f64),
        ];
        if args.len() > units.len() {
            return Err(bad(
                "modules.datetime.timedelta() takes at most 7 arguments",
            ));
        }
        let mut micros = 0f64;
        for (a, (name, scale)) in args.iter().zip(units) {
            micros += number(a, name)? * scale;
        }
        for (name, scale) in units {
            if let Some(v) = kwargs.get::<Option<Value>>(name)? {
                micros += number(&v, name)? * scale;
            }
        }
        kwargs.assert_all_used()?;
        // Python rounds to the nearest microsecond, half to even.
        let micros = micros.round_ties_even();
        if !micros.is_finite() || micros.abs() > 1e18 {
            return Err(bad(
                "modules.datetime.timedelta(): the duration is too large",
            ));
        }
        Ok(Value::from_object(Timedelta {
            micros: micros as i64,
        }))
    }
}

impl Object for Timedelta {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (days, seconds, micros) = self.fields();
        match key.as_str()? {
            "days" => Some(Value::from(days)),
            "seconds" => Some(Value::from(seconds)),
            "microseconds" => Some(Value::from(micros)),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(self.micros as f64 / 1e6)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // str() of a Python timedelta: `[D day[s], ]H:MM:SS[.ffffff]`.
        let (days, seconds, micros) = self.fields();
        if days != 0 {
            let s = if days.abs() == 1 { "" } else { "s" };
            write!(f, "{days} day{s}, ")?;
        }
        write!(
            f,
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        Ok(())
    }
}

/// `lhs + sign * rhs` where `rhs` is a timedelta: a date, a datetime or a
/// timedelta, as Python computes it.
fn shift(lhs: &Value, rhs: &Value, sign: i64, op: &str) -> Result<Value, Error> {
    let Some(delta) = rhs.downcast_object_ref::<Timedelta>() else {
        return Err(bad(format!(
            "{lhs} {op} {rhs}: stackc computes a date or datetime {op} modules.datetime.timedelta(...) only"
        )));
    };
    let micros = delta
        .micros
        .checked_mul(sign)
        .ok_or_else(|| bad("overflow"))?;
    if let Some(date) = lhs.downcast_object_ref::<Date>() {
        return date.shifted(micros).map(Value::from_object);
    }
    if let Some(other) = lhs.downcast_object_ref::<Timedelta>() {
        return Ok(Value::from_object(Timedelta {
            micros: other.micros + micros,
        }));
    }
    Err(bad(format!(
        "{lhs} {op} a timedelta: the left side must be a modules.datetime date, datetime or timedelta"
    )))
}

/// Adds the filters [`rewrite`] calls.
pub(super) fn install(env: &mut Environment<'static>) {
    env.add_filter("__stackc_dt_add", |lhs: Value, rhs: Value| {
        shift(&lhs, &rhs, 1, "+")
    });
    env.add_filter("__stackc_dt_sub", |lhs: Value, rhs: Value| {
        shift(&lhs, &rhs, -1, "-")
    });
}

/// `x + modules.datetime.timedelta(...)` and `x - ...` as filter calls, on
/// the same lines. Everything else is left as written.
pub(crate) fn rewrite(text: &str) -> String {
    if !text.contains(CALL) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find(CALL) {
        let before = rest[..at].trim_end();
        let mut back = before.chars().rev();
        let (op, ahead) = (back.next(), back.next());
        let call = &rest[at..];
        let close = matching_close(&call[CALL.len() - 1..]).map(|c| c + CALL.len());
        match (op, close) {
            // Not the `-` of a `{{-` or `{%-` whitespace control.
            (Some(op @ ('+' | '-')), Some(close)) if !matches!(ahead, Some('{' | '%')) => {
                out.push_str(&before[..before.len() - 1]);
                // The whitespace between, newlines included: lines stay.
                out.push_str(&rest[before.len()..at]);
                out.push_str(if op == '+' {
                    "| __stackc_dt_add("
                } else {
                    "| __stackc_dt_sub("
                });
                out.push_str(&call[..close]);
                out.push(')');
                rest = &call[close..];
            }
            _ => {
                out.push_str(&rest[..at + CALL.len()]);
                rest = &rest[at + CALL.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> Result<String, String> {
        let mut env = Environment::new();
        env.add_global(
            "modules",
            Value::from_object(super::super::modules::Modules),
        );
        install(&mut env);
        env.render_str(&rewrite(src), ()).map_err(|e| e.to_string())
    }

    #[test]
    fn dates_move_by_a_timedelta_as_in_python() {
        let cases = [
            (
                "{{ modules.datetime.date(2024, 3, 1) - modules.datetime.timedelta(days=1) }}",
                "2024-02-29",
            ),
            (
                "{{ (modules.datetime.datetime(2024, 12, 31, 23, 30) + modules.datetime.timedelta(minutes=45)).isoformat() }}",
                "2025-01-01T00:15:00",
            ),
            (
                "{% set d = modules.datetime.date(2024, 1, 10) %}{{ (d - modules.datetime.timedelta(10 | int)).strftime('%Y-%m-%d') }}",
                "2023-12-31",
            ),
            // A date ignores the part of a day.
            (
                "{{ modules.datetime.date(2024, 1, 1) + modules.datetime.timedelta(hours=30) }}",
                "2024-01-02",
            ),
            ("{{ modules.datetime.timedelta(days=1, seconds=3661) }}", "1 day, 1:01:01"),
            ("{{ modules.datetime.timedelta(hours=-1) }}", "-1 day, 23:00:00"),
            ("{{ modules.datetime.timedelta() }}", "0:00:00"),
            (
                "{{ modules.datetime.timedelta(weeks=1).days }} {{ modules.datetime.timedelta(minutes=1.5).total_seconds() }}",
                "7 90.0",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).as_deref(), Ok(want), "{src}");
        }
        assert!(render("{{ 3 - modules.datetime.timedelta(1) }}").is_err());
    }

    #[test]
    fn the_rewrite_keeps_lines_and_leaves_other_uses() {
        let src = "{% set a = x -\n modules.datetime.timedelta(days=(1 + 2)) %}{{ f(modules.datetime.timedelta(1)) }}";
        let out = rewrite(src);
        assert_eq!(out.lines().count(), src.lines().count());
        assert_eq!(
            out,
            "{% set a = x \n | __stackc_dt_sub(modules.datetime.timedelta(days=(1 + 2))) %}{{ f(modules.datetime.timedelta(1)) }}"
        );
    }
}
