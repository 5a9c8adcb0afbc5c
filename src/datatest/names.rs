//! dbt's names and unique ids of generic tests.

use std::collections::BTreeMap;

use crate::schema::TestSpec;

use super::Target;

/// A test's name, the alias of its relation, and the end of its unique id.
pub(super) struct Names {
    pub name: String,
    pub alias: String,
    pub hash: String,
}

/// `written` is the column the test is under, as the schema file writes it.
pub(super) fn of(target: &Target<'_>, spec: &TestSpec, written: Option<&String>) -> Names {
    let mut args = spec.args.clone();
    if let Some(written) = written {
        args.insert(
            "column_name".into(),
            serde_json::Value::String(written.clone()),
        );
    }
    let (alias, name) = match &spec.name {
        Some(name) => (name.clone(), name.clone()),
        None => {
            let mut test_type = spec.kind.clone();
            if target.source {
                test_type.insert_str(0, "source_");
            }
            if let Some(ns) = &spec.namespace {
                test_type = format!("{ns}_{test_type}");
            }
            dbt_test_name(&test_type, &target.label, &args)
        }
    };
    args.insert(
        "model".into(),
        serde_json::Value::String(target.model_arg.clone()),
    );
    let hash = dbt_test_hash(&name, spec.namespace.as_deref(), &spec.kind, &args);
    Names { name, alias, hash }
}

/// dbt's name for a generic test (`synthesize_generic_test_names`): the
/// test type, the target, then each argument's values (sorted by argument
/// name, `model` left out) with runs of other characters than `[0-9a-zA-Z_]`
/// made `_`, joined by `__`. A name of 64 characters or more is cut to the
/// first 30 of `<type>_<target>` plus the MD5 of the full name. Returns
/// (name, full name).
pub fn dbt_test_name(
    test_type: &str,
    target: &str,
    args: &BTreeMap<String, serde_json::Value>,
) -> (String, String) {
    let mut parts: Vec<String> = Vec::new();
    for (name, value) in args {
        if name == "model" {
            continue;
        }
        match value {
            serde_json::Value::Object(map) => parts.extend(map.values().map(python_str)),
            serde_json::Value::Array(items) => parts.extend(items.iter().map(python_str)),
            other => parts.push(python_str(other)),
        }
    }
    let unique: Vec<String> = parts.iter().map(|p| clean_arg(p)).collect();
    let identifier = format!("{test_type}_{target}");
    let full = format!("{identifier}_{}", unique.join("__"));
    if full.len() < 64 {
        return (full.clone(), full);
    }
    use md5::Digest as _;
    let digest = md5::Md5::digest(full.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    // dbt cuts characters; names are ASCII except where a user wrote
    // otherwise, so cut at a character boundary.
    let cut: String = identifier.chars().take(30).collect();
    (format!("{cut}_{hex}"), full)
}

/// The end of dbt's unique id of a generic test: the last 10 hex digits of
/// the MD5 of its name followed by the Python `repr` of its metadata
/// (`namespace`, `name`, `kwargs` with `model`), every key sorted and every
/// value that is neither a list nor a mapping made a string.
fn dbt_test_hash(
    name: &str,
    namespace: Option<&str>,
    kind: &str,
    kwargs: &BTreeMap<String, serde_json::Value>,
) -> String {
    // The repr of {'kwargs': ..., 'name': ..., 'namespace': ...}, keys in
    // the sorted order get_hashable_md gives them, written straight into
    // one string (building the dict as a value first cost more than the
    // MD5, once per test).
    let mut text = String::with_capacity(name.len() + 128);
    text.push_str(name);
    text.push_str("{'kwargs': {");
    for (i, (key, value)) in kwargs.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        repr_str_into(&mut text, key);
        text.push_str(": ");
        repr_into(&mut text, value, true);
    }
    text.push_str("}, 'name': ");
    repr_str_into(&mut text, kind);
    text.push_str(", 'namespace': ");
    repr_str_into(&mut text, namespace.unwrap_or("None"));
    text.push('}');
    use md5::Digest as _;
    let digest = md5::Md5::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[hex.len() - 10..].to_string()
}

/// `re.sub("[^0-9a-zA-Z_]+", "_", arg)`.
fn clean_arg(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut in_run = false;
    for c in arg.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// What Python's `str()` makes of a YAML value, which dbt puts in names.
fn python_str(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(value: &serde_json::Value) -> String {
    let mut out = String::new();
    repr_into(&mut out, value, false);
    out
}

/// Python's `repr` of `value` onto `out`; with `hashable`, every value that
/// is neither a list nor a mapping is first made a string, as dbt's
/// get_hashable_md does.
fn repr_into(out: &mut String, value: &serde_json::Value, hashable: bool) {
    match value {
        serde_json::Value::String(s) => repr_str_into(out, s),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(out, item, hashable);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str_into(out, k);
                out.push_str(": ");
                repr_into(out, v, hashable);
            }
            out.push('}');
        }
        scalar if hashable => {
            let mut text = String::new();
            repr_into(&mut text, scalar, false);
            repr_str_into(out, &text);
        }
        serde_json::Value::Null => out.push_str("None"),
        serde_json::Value::Bool(true) => out.push_str("True"),
        serde_json::Value::Bool(false) => out.push_str("False"),
        serde_json::Value::Number(n) => out.push_str(&n.to_string()),
    }
}

fn repr_str_into(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn names_are_dbts() {
        let name = |t: &str, target: &str, a: &[(&str, serde_json::Value)]| {
            dbt_test_name(t, target, &args(a)).0
        };
        assert_eq!(
            name("not_null", "orders", &[("column_name", "order_id".into())]),
            "not_null_orders_order_id"
        );
        assert_eq!(
            name(
                "relationships",
                "orders",
                &[
                    ("column_name", "customer_id".into()),
                    ("to", "ref('customers')".into()),
                    ("field", "customer_id".into()),
                ]
            ),
            "relationships_orders_customer_id__customer_id__ref_customers_"
        );
        assert_eq!(
            name(
                "accepted_values",
                "orders",
                &[
                    ("column_name", "status".into()),
                    ("values", serde_json::json!(["placed", "shipped"])),
                ]
            ),
            "accepted_values_orders_status__placed__shipped"
        );
        assert_eq!(
            name(
                "source_unique",
                "jaffle_shop_orders",
                &[("column_name", "id".into())]
            ),
            "source_unique_jaffle_shop_orders_id"
        );
        assert_eq!(
            name(
                "dbt_utils_accepted_range",
                "orders",
                &[
                    ("column_name", "amount".into()),
                    ("min_value", 0.into()),
                    ("inclusive", true.into()),
                ]
            ),
            "dbt_utils_accepted_range_orders_amount__True__0"
        );
    }

    #[test]
    fn long_names_are_hashed_as_dbt_does() {
        // dbt 1.10 names this test of jaffle_shop
        // `accepted_values_orders_1ce6ab157c285f7cd2ac656013faf758`.
        let (short, full) = dbt_test_name(
            "accepted_values",
            "orders",
            &args(&[
                ("column_name", "status".into()),
                (
                    "values",
                    serde_json::json!([
                        "placed",
                        "shipped",
                        "completed",
                        "return_pending",
                        "returned"
                    ]),
                ),
            ]),
        );
        assert_eq!(
            full,
            "accepted_values_orders_status__placed__shipped__completed__return_pending__returned"
        );
        assert_eq!(
            short,
            "accepted_values_orders_1ce6ab157c285f7cd2ac656013faf758"
        );
    }

    #[test]
    fn unique_ids_end_in_dbts_hash() {
        // From `dbt ls` of jaffle_shop (dbt 1.10).
        let hash = dbt_test_hash(
            "not_null_customers_customer_id",
            None,
            "not_null",
            &args(&[
                ("column_name", "customer_id".into()),
                ("model", "{{ get_where_subquery(ref('customers')) }}".into()),
            ]),
        );
        assert_eq!(hash, "5c9bf9911d");
        let hash = dbt_test_hash(
            "accepted_values_orders_status__placed__shipped__completed__return_pending__returned",
            None,
            "accepted_values",
            &args(&[
                ("column_name", "status".into()),
                ("model", "{{ get_where_subquery(ref('orders')) }}".into()),
                (
                    "values",
                    serde_json::json!([
                        "placed",
                        "shipped",
                        "completed",
                        "return_pending",
                        "returned"
                    ]),
                ),
            ]),
        );
        assert_eq!(hash, "be6b5b5ec3");
    }

    #[test]
    fn python_values_print_as_python_does() {
        assert_eq!(python_str(&serde_json::json!(null)), "None");
        assert_eq!(python_str(&serde_json::json!(1.5)), "1.5");
        assert_eq!(
            python_str(&serde_json::json!(["a", "it's", 1])),
            "['a', \"it's\", 1]"
        );
        assert_eq!(clean_arg("a  b--c_d"), "a_b_c_d");
    }
}
