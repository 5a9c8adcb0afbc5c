//! `tojson` as dbt has it: Python's `json.dumps` (`", "` and `": "`
//! between items, non-ASCII as `\uXXXX`, keys in the order the mapping
//! has them), and Jinja's `|tojson` filter (keys sorted, `<>&'` escaped
//! for HTML, as Jinja's default policy).

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

fn push_string(out: &mut String, s: &str, html_safe: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\'' if html_safe => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr` of a float, as `json.dumps` writes it.
fn push_float(out: &mut String, f: f64) -> Result<(), Error> {
    if !f.is_finite() {
        // Python writes NaN/Infinity, which is not JSON: refuse instead.
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("tojson: {f} is not a JSON number"),
        ));
    }
    if f.fract() == 0.0 && f.abs() < 1e16 {
        out.push_str(&format!("{f:.1}"));
    } else {
        out.push_str(&format!("{f}"));
    }
    Ok(())
}

/// A mapping key as `json.dumps` writes it (numbers, booleans and None
/// become text).
fn key_text(key: &Value) -> String {
    match key.kind() {
        ValueKind::None | ValueKind::Undefined => "null".into(),
        ValueKind::Bool => if key.is_true() { "true" } else { "false" }.into(),
        _ => key.to_string(),
    }
}

fn write(out: &mut String, v: &Value, sort_keys: bool, html_safe: bool) -> Result<(), Error> {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => out.push_str(&v.to_string()),
        ValueKind::Number => push_float(out, f64::try_from(v.clone())?)?,
        ValueKind::String => push_string(out, v.as_str().unwrap_or_default(), html_safe),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, &item, sort_keys, html_safe)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            let mut pairs: Vec<(String, Value)> = Vec::new();
            for key in v.try_iter()? {
                let value = v.get_item(&key)?;
                pairs.push((key_text(&key), value));
            }
            if sort_keys {
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
            }
            out.push('{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_string(out, key, html_safe);
                out.push_str(": ");
                write(out, value, sort_keys, html_safe)?;
            }
            out.push('}');
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: {v} ({}) is not JSON serializable", v.kind()),
            ))
        }
    }
    Ok(())
}

/// `value` as Python's `json.dumps(value, sort_keys=sort_keys)`.
pub(crate) fn dumps(v: &Value, sort_keys: bool) -> Result<String, Error> {
    let mut out = String::new();
    write(&mut out, v, sort_keys, false)?;
    Ok(out)
}

/// dbt's `tojson(value, sort_keys=False)` and Jinja's `|tojson` filter.
pub(crate) fn install(env: &mut Environment<'static>) {
    env.add_function(
        "tojson",
        |v: Value, kwargs: Kwargs| -> Result<String, Error> {
            let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
            let _: Option<Value> = kwargs.get("default")?;
            kwargs.assert_all_used()?;
            dumps(&v, sort_keys.unwrap_or(false))
        },
    );
    env.add_filter("tojson", |v: Value| -> Result<Value, Error> {
        let mut out = String::new();
        write(&mut out, &v, true, true)?;
        Ok(Value::from_safe_string(out))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let mut env = Environment::new();
        install(&mut env);
        env.render_str(src, ()).unwrap()
    }

    #[test]
    fn tojson_writes_what_python_json_dumps_writes() {
        assert_eq!(
            render("{{ tojson({'b': 1, 'a': [true, none, 1.5, 2.0], 'é': \"it's\\n\"}) }}"),
            r#"{"b": 1, "a": [true, null, 1.5, 2.0], "\u00e9": "it's\n"}"#
        );
        assert_eq!(
            render("{{ tojson({'b': 1, 'a': 2}, sort_keys=true) }}"),
            r#"{"a": 2, "b": 1}"#
        );
        assert_eq!(
            render("{{ {'b': '<x>', 'a': 1} | tojson }}"),
            r#"{"a": 1, "b": "\u003cx\u003e"}"#
        );
        assert_eq!(render("{{ tojson('😀') }}"), r#""\ud83d\ude00""#);
    }
}
