//! `modules.pytz`, the part of it stackc can answer without a time zone
//! database: UTC (`pytz.utc`, `pytz.timezone('UTC')`) and fixed offsets
//! (`pytz.FixedOffset(minutes)`), with `localize(dt)`. A named zone
//! (`America/Los_Angeles`) is refused with a message naming it, never
//! answered with a guessed offset: its offset depends on the date, and on
//! the tz database of the machine that compiles.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

/// The `modules.pytz` global.
#[derive(Debug)]
pub struct Pytz;

/// A time zone: a fixed offset from UTC, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tz {
    offset: i64,
}

/// The names pytz gives UTC itself.
const UTC_NAMES: &[&str] = &[
    "UTC",
    "Etc/UTC",
    "GMT",
    "Etc/GMT",
    "Universal",
    "Zulu",
    "Etc/Zulu",
];

fn bad(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// A time zone as a value (what a datetime's `tzinfo` gives back).
pub fn tz_value(offset: i64) -> Value {
    Value::from_object(Tz { offset })
}

/// The offset of a `modules.pytz` time zone.
pub fn offset_of(value: &Value) -> Option<i64> {
    value.downcast_object_ref::<Tz>().map(|t| t.offset)
}

/// `+HH:MM`, as Python writes an aware datetime's offset.
pub fn iso_offset(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let m = offset.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

impl Object for Pytz {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(tz_value(0)),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "timezone" => {
                let (name,): (String,) = minijinja::value::from_args(args)?;
                if UTC_NAMES.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                    Ok(tz_value(0))
                } else {
                    Err(bad(format!(
                        "modules.pytz.timezone('{name}'): stackc knows UTC and fixed offsets only, not named time zones (their offset depends on the date and on the machine's tz database); use 'UTC', or modules.pytz.FixedOffset(minutes)"
                    )))
                }
            }
            "FixedOffset" => {
                let (minutes,): (i64,) = minijinja::value::from_args(args)?;
                if minutes.abs() >= 24 * 60 {
                    return Err(bad(format!(
                        "modules.pytz.FixedOffset({minutes}): an offset is less than a day"
                    )));
                }
                Ok(tz_value(minutes))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl Object for Tz {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "zone" => Some(Value::from(if self.offset == 0 {
                "UTC".to_string()
            } else {
                // pytz's FixedOffset has no zone name.
                return Some(Value::from(()));
            })),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "localize" => {
                let (dt,): (Value,) = minijinja::value::from_args(args)?;
                super::modules::localized(&dt, self.offset).ok_or_else(|| {
                    bad("localize(): expected a modules.datetime.datetime".to_string())
                })
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offset == 0 {
            f.write_str("UTC")
        } else {
            write!(f, "pytz.FixedOffset({})", self.offset)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> Result<String, String> {
        let mut env = minijinja::Environment::new();
        env.add_global(
            "modules",
            Value::from_object(super::super::modules::Modules),
        );
        env.render_str(src, ()).map_err(|e| e.to_string())
    }

    #[test]
    fn utc_and_fixed_offsets_make_aware_datetimes() {
        assert_eq!(
            render("{{ modules.datetime.datetime(1997, 9, 29, 6, 14, 0, tzinfo=modules.pytz.timezone('UTC')) }}").unwrap(),
            "1997-09-29 06:14:00+00:00"
        );
        assert_eq!(
            render("{{ modules.pytz.FixedOffset(-480).localize(modules.datetime.datetime(2024, 1, 2)).isoformat() }}").unwrap(),
            "2024-01-02T00:00:00-08:00"
        );
        assert_eq!(
            render("{{ modules.pytz.utc }} {{ modules.datetime.datetime(2024, 1, 2, tzinfo=modules.pytz.utc).tzinfo }} {{ modules.datetime.datetime(2024, 1, 2).tzinfo is none }}").unwrap(),
            "UTC UTC True"
        );
        assert_eq!(
            render("{{ modules.datetime.datetime(1970, 1, 2, 1, tzinfo=modules.pytz.FixedOffset(60)).timestamp() }}").unwrap(),
            "86400.0"
        );
    }

    #[test]
    fn a_named_zone_is_refused_by_name() {
        let e = render("{{ modules.pytz.timezone('America/Los_Angeles') }}").unwrap_err();
        assert!(e.contains("'America/Los_Angeles'"), "{e}");
        assert!(e.contains("FixedOffset"), "{e}");
    }
}
