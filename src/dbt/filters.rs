//! dbt's type filters, `as_bool`, `as_number`, `as_native` and `as_text`.
//!
//! dbt renders a SQL file as text, where the four filters give back what
//! they are given, and a YAML config value natively, where they say what
//! type the rendered value is (`enabled: "{{ var('on', 'false') | as_bool }}"`
//! is the boolean false).

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

/// The filters of a text render (a model, a macro): each returns its value.
pub fn add_text_filters(env: &mut Environment<'_>) {
    for name in ["as_bool", "as_number", "as_native", "as_text"] {
        env.add_filter(name, |v: Value| v);
    }
}

/// The filters of a native render (a YAML config value).
pub fn add_native_filters(env: &mut Environment<'_>) {
    env.add_filter("as_bool", |v: Value| -> Result<Value, Error> {
        match native(&v) {
            b if b.kind() == ValueKind::Bool => Ok(b),
            _ => Err(not_a("bool", &v)),
        }
    });
    env.add_filter("as_number", |v: Value| -> Result<Value, Error> {
        match native(&v) {
            n if n.kind() == ValueKind::Number => Ok(n),
            _ => Err(not_a("number", &v)),
        }
    });
    env.add_filter("as_native", |v: Value| native(&v));
    env.add_filter("as_text", |v: Value| Value::from(v.to_string()));
}

fn not_a(kind: &str, v: &Value) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("could not convert value {v:?} into type {kind}"),
    )
}

/// A text read as the Python literal it spells (`True`, `None`, `10`,
/// `1.5`), as dbt's `literal_eval`; any other value as it is.
fn native(v: &Value) -> Value {
    let Some(text) = v.as_str() else {
        return v.clone();
    };
    let text = text.trim();
    match text {
        "True" | "true" => return Value::from(true),
        "False" | "false" => return Value::from(false),
        "None" | "none" => return Value::from(()),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(native: bool, src: &str) -> Result<String, String> {
        let mut env = Environment::new();
        if native {
            add_native_filters(&mut env);
        } else {
            add_text_filters(&mut env);
        }
        env.render_str(src, ()).map_err(|e| e.to_string())
    }

    #[test]
    fn native_filters_type_the_value_and_text_filters_keep_it() {
        assert_eq!(render(true, "{{ 'False' | as_bool }}").unwrap(), "False");
        assert_eq!(render(true, "{{ true | as_bool }}").unwrap(), "True");
        assert_eq!(render(true, "{{ ' 10 ' | as_number + 1 }}").unwrap(), "11");
        assert_eq!(render(true, "{{ '1.5' | as_native }}").unwrap(), "1.5");
        assert_eq!(render(true, "{{ 'abc' | as_native }}").unwrap(), "abc");
        assert!(render(true, "{{ 'yes' | as_bool }}").is_err());
        assert!(render(true, "{{ 'x' | as_number }}").is_err());
        assert_eq!(render(false, "{{ 'yes' | as_bool }}").unwrap(), "yes");
        assert_eq!(render(false, "{{ 3 | as_text }}").unwrap(), "3");
    }
}
