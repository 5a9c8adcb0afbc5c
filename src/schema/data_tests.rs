//! Data tests as schema files write them (`tests:` / `data_tests:`), with
//! their settings (`severity`, `where`, `error_if`, ...).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::ConfigLayer;
use crate::diagnostic::{Code, Diagnostic, Span};

use super::{Column, SchemaFile, TestSeverity, TestSpec, UnitInputKind};

/// `ref('m')`, `source('s', 't')` or `this`, as written in a unit test's
/// `input:` or a relationships test's `to:`.
pub fn parse_input(text: &str) -> Option<UnitInputKind> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact == "this" {
        return Some(UnitInputKind::This);
    }
    let args = |prefix: &str| -> Option<Vec<String>> {
        let inner = compact.strip_prefix(prefix)?.strip_suffix(')')?;
        Some(
            inner
                .split(',')
                .map(|a| a.trim_matches(['\'', '"']).to_string())
                .collect(),
        )
    };
    if let Some(a) = args("ref(") {
        return match a.as_slice() {
            [name] if !name.is_empty() => Some(UnitInputKind::Ref(name.clone())),
            _ => None,
        };
    }
    match args("source(")?.as_slice() {
        [s, t] if !s.is_empty() && !t.is_empty() => {
            Some(UnitInputKind::Source(s.clone(), t.clone()))
        }
        _ => None,
    }
}

/// A test entry as dbt reads it: `- not_null`, `- unique: {config: ...}`,
/// or `- name: x  test_name: unique  ...`. Keys that configure the test are
/// taken out; the rest are the test's arguments (its name is built from
/// them). `warnings` gets what stackc accepts but does not do.
pub(super) fn parse_test(
    value: serde_json::Value,
    span: Span,
    warnings: &mut Vec<Diagnostic>,
    unknown: &mut Vec<String>,
) -> Result<TestSpec, String> {
    let (kind, body) = match value {
        serde_json::Value::String(kind) => (kind, serde_json::Map::new()),
        serde_json::Value::Object(mut map) if map.contains_key("test_name") => {
            let kind = match map.remove("test_name") {
                Some(serde_json::Value::String(k)) => k,
                _ => return Err("`test_name` must be the name of a test".into()),
            };
            (kind, map)
        }
        serde_json::Value::Object(map) if map.len() == 1 => {
            let (kind, body) = map.into_iter().next().ok_or("empty test")?;
            match body {
                serde_json::Value::Object(body) => (kind, body),
                serde_json::Value::Null => (kind, serde_json::Map::new()),
                other => {
                    return Err(format!(
                        "the arguments of `{kind}` must be a mapping, found {other}"
                    ))
                }
            }
        }
        serde_json::Value::Object(_) => {
            return Err("a test entry must have exactly one key, the test's name".into())
        }
        other => return Err(format!("expected a test name or mapping, found {other}")),
    };
    let (namespace, kind) = match kind.split_once('.') {
        Some((ns, k)) => (Some(ns.to_string()), k.to_string()),
        None => (None, kind),
    };
    let valid = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !valid(&kind) || namespace.as_deref().is_some_and(|n| !valid(n)) {
        return Err(format!("`{kind}` is not a test name"));
    }
    let mut spec = TestSpec {
        kind,
        args: BTreeMap::new(),
        severity: TestSeverity::Error,
        where_clause: None,
        error_if: "!= 0".into(),
        warn_if: "!= 0".into(),
        span,
        arg_spans: BTreeMap::new(),
        name: None,
        namespace,
        limit: None,
        enabled: true,
        explicit: std::collections::BTreeSet::new(),
    };
    for (key, value) in body {
        match key.as_str() {
            // dbt 1.10 moved test arguments under `arguments:` and settings
            // under `config:`; both spellings are accepted.
            "arguments" => {
                let args = value.as_object().ok_or("`arguments` must be a mapping")?;
                for (k, v) in args {
                    spec.args.insert(k.clone(), v.clone());
                }
            }
            "config" => {
                let config = value.as_object().ok_or("`config` must be a mapping")?;
                for (k, v) in config {
                    // dbt takes any key as a config of the test.
                    if TEST_SETTINGS.contains(&k.as_str()) {
                        apply_test_setting(&mut spec, k, v, warnings)?;
                    } else {
                        unknown.push(k.clone());
                    }
                }
            }
            "name" => {
                let name = value.as_str().ok_or("`name` must be a string")?;
                spec.name = Some(name.to_string());
            }
            "description" => {}
            k if TEST_SETTINGS.contains(&k) => apply_test_setting(&mut spec, k, &value, warnings)?,
            _ => {
                spec.args.insert(key, value);
            }
        }
    }
    Ok(spec)
}

/// The keys of a test entry that configure it rather than being arguments
/// (dbt's list).
pub(super) const TEST_SETTINGS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
];

pub(super) fn apply_test_setting(
    spec: &mut TestSpec,
    key: &str,
    value: &serde_json::Value,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), String> {
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{key}` must be a string"))
    };
    spec.explicit.insert(key.to_string());
    match key {
        "severity" => {
            spec.severity = match text()?.to_ascii_lowercase().as_str() {
                "error" => TestSeverity::Error,
                "warn" => TestSeverity::Warn,
                other => {
                    return Err(format!(
                        "severity must be `error` or `warn`, found `{other}`"
                    ))
                }
            }
        }
        "where" => spec.where_clause = Some(text()?),
        "error_if" => spec.error_if = check_condition(&text()?)?,
        "warn_if" => spec.warn_if = check_condition(&text()?)?,
        "enabled" => spec.enabled = value.as_bool().ok_or("`enabled` must be true or false")?,
        "limit" => match value {
            serde_json::Value::Null => spec.limit = None,
            v => spec.limit = Some(v.as_u64().ok_or("`limit` must be a whole number")?),
        },
        "fail_calc" => {
            let calc = text()?;
            let compact: String = calc.chars().filter(|c| !c.is_whitespace()).collect();
            if !compact.eq_ignore_ascii_case("count(*)") {
                warnings.push(
                    Diagnostic::new(
                        Code::W0052,
                        format!("`fail_calc: {calc}` is not supported: failures are counted as count(*)"),
                    )
                    .at(spec.span.clone())
                    .help("remove `fail_calc`, or write the count into the query of a singular test in tests/"),
                );
            }
        }
        "store_failures" | "store_failures_as" => {
            let on = match value {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Null => false,
                _ => true,
            };
            if on {
                warnings.push(
                    Diagnostic::new(
                        Code::W0051,
                        format!("`{key}` is not supported: stackc does not store failing rows in a table"),
                    )
                    .at(spec.span.clone())
                    .help("`stackc test` prints a sample of the failing rows instead; remove the key to silence this"),
                );
            }
        }
        // Only used by dbt to name the table of stored failures.
        "database" | "schema" | "alias" => {}
        "tags" | "meta" => {}
        other => return Err(format!("unknown test setting `{other}`")),
    }
    Ok(())
}

/// dbt_project.yml's `tests:`/`data_tests:` tree on the generic tests of
/// one schema file: each setting the test's own entry does not write is
/// taken from the most specific level of the tree for the schema file's
/// folders (under a model path), as dbt does. A bad value is E0045.
pub fn apply_test_tree(
    file: &mut SchemaFile,
    folders: &[String],
    tree: &BTreeMap<Vec<String>, ConfigLayer>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if tree.is_empty() {
        return;
    }
    // Most specific first: a key is taken from the first level that has it.
    let levels: Vec<&ConfigLayer> = (0..=folders.len())
        .rev()
        .filter_map(|depth| tree.get(&folders[..depth]))
        .collect();
    if levels.is_empty() {
        return;
    }
    let mut apply = |spec: &mut TestSpec| {
        let mut seen = std::collections::BTreeSet::new();
        for layer in &levels {
            for (key, entry) in layer.iter() {
                if !TEST_SETTINGS.contains(&key.as_str())
                    || spec.explicit.contains(key)
                    || !seen.insert(key.clone())
                {
                    continue;
                }
                let mut warnings = Vec::new();
                if let Err(problem) = apply_test_setting(spec, key, &entry.value, &mut warnings) {
                    diagnostics.push(
                        Diagnostic::new(Code::E0045, format!("invalid `{key}` for tests in dbt_project.yml: {problem}"))
                            .at(entry.span.clone())
                            .help("write it as in a test's config: `+severity: warn`, `+warn_if: \">10\"`, `+limit: 100`, `+enabled: false`"),
                    );
                }
                // The tree's own warnings (store_failures) point at the tree.
                diagnostics.extend(warnings.into_iter().map(|mut w| {
                    w.primary = Some(entry.span.clone());
                    w
                }));
                // The tree does not make a setting the entry's own.
                spec.explicit.remove(key);
            }
        }
    };
    let columns = |cols: &mut Vec<Column>, apply: &mut dyn FnMut(&mut TestSpec)| {
        for c in cols {
            c.tests.iter_mut().for_each(&mut *apply);
        }
    };
    for m in &mut file.models {
        let m = Arc::make_mut(m);
        m.tests.iter_mut().for_each(&mut apply);
        columns(&mut m.columns, &mut apply);
        for v in &mut m.versions {
            v.tests.iter_mut().for_each(&mut apply);
            columns(&mut v.columns, &mut apply);
        }
    }
    for s in &mut file.sources {
        for t in &mut s.tables {
            t.tests.iter_mut().for_each(&mut apply);
            columns(&mut t.columns, &mut apply);
        }
    }
    for s in &mut file.seeds {
        s.tests.iter_mut().for_each(&mut apply);
        columns(&mut s.columns, &mut apply);
    }
}

/// `error_if`/`warn_if` are compared against the failure count in SQL, so
/// they are restricted to a comparison with a number.
pub(super) fn check_condition(s: &str) -> Result<String, String> {
    let t = s.trim();
    let op_len = ["!=", "<>", ">=", "<=", "=", ">", "<"]
        .iter()
        .find(|op| t.starts_with(*op))
        .map(|op| op.len())
        .ok_or_else(|| format!("`{s}` must be a comparison such as `> 10` or `!= 0`"))?;
    let number = t[op_len..].trim();
    if number.parse::<u64>().is_err() {
        return Err(format!("`{s}` must compare with a whole number"));
    }
    Ok(format!("{} {number}", &t[..op_len]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_validated() {
        assert_eq!(check_condition(">10").unwrap(), "> 10");
        assert!(check_condition("> x").is_err());
        assert!(check_condition("10").is_err());
    }
}
