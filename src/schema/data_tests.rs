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
/// them).
pub(super) fn parse_test(
    value: serde_json::Value,
    span: Span,
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
    let mut spec = TestSpec::new(kind, namespace, span);
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
                        apply_test_setting(&mut spec, k, v)?;
                    } else {
                        unknown.push(k.clone());
                    }
                }
            }
            "name" => {
                let name = value.as_str().ok_or("`name` must be a string")?;
                spec.name = Some(name.to_string());
            }
            "description" => spec.description = value.as_str().map(str::to_string),
            k if TEST_SETTINGS.contains(&k) => apply_test_setting(&mut spec, k, &value)?,
            _ => {
                spec.args.insert(key, value);
            }
        }
    }
    Ok(spec)
}

impl TestSpec {
    /// A test with dbt's default settings.
    pub fn new(kind: String, namespace: Option<String>, span: Span) -> TestSpec {
        TestSpec {
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
            jinja: BTreeMap::new(),
            fail_calc: None,
            store: Store::default(),
            description: None,
            tags: Vec::new(),
            tree_tags: Vec::new(),
            column_tags: Vec::new(),
        }
    }

    /// The test's `config.tags` as dbt's manifest has them: the tree's,
    /// then its own; dbt adds its own a second time for every test but
    /// its built-in `unique` and `not_null` (their config is read without
    /// rendering the test, the others' `config()` call is rendered on top
    /// of the config already taken from the entry).
    pub fn config_tags(&self) -> Vec<String> {
        let builtin = matches!(self.kind.as_str(), "unique" | "not_null")
            && matches!(self.namespace.as_deref(), None | Some("dbt"));
        let mut out = self.tree_tags.clone();
        out.extend(self.tags.iter().cloned());
        if !builtin {
            out.extend(self.tags.iter().cloned());
        }
        out
    }

    /// The test node's `tags` as dbt's manifest has them: the column's and
    /// its own, sorted and once each, then the config's others in order.
    pub fn node_tags(&self) -> Vec<String> {
        if self.kind == "singular" {
            // A singular test's tags are its config's, once each.
            let mut out: Vec<String> = Vec::new();
            for t in self.config_tags() {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            return out;
        }
        let mut out: Vec<String> = self
            .column_tags
            .iter()
            .chain(&self.tags)
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for t in self.config_tags() {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}

/// `tags: x` or `tags: [x, y]`, as dbt takes them.
pub fn tag_list(value: &serde_json::Value) -> Result<Vec<String>, String> {
    match value {
        serde_json::Value::Null => Ok(Vec::new()),
        serde_json::Value::String(s) => Ok(vec![s.clone()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("a tag must be a string, found {t}"))
            })
            .collect(),
        other => Err(format!(
            "`tags` must be a string or a list of strings, found {other}"
        )),
    }
}

/// Where and whether a test stores its failing rows, as dbt's configs say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    pub store_failures: Option<bool>,
    pub store_failures_as: Option<String>,
    pub schema: Option<String>,
    pub alias: Option<String>,
}

impl Store {
    /// `table` or `view` when failing rows are stored: dbt's rule,
    /// `store_failures_as` first (`ephemeral` stores nothing), then
    /// `store_failures: true` as a table.
    pub fn kind(&self) -> Option<&str> {
        match self.store_failures_as.as_deref() {
            Some("ephemeral") => None,
            Some(kind) => Some(kind),
            None => (self.store_failures == Some(true)).then_some("table"),
        }
    }
}

/// A `fail_calc`: one SQL expression (`sum(n_records)`), `None` for the
/// default `count(*)`. A `;`, a comment or a dollar quote could end or
/// escape the query it is put into, and unbalanced parentheses or quotes
/// would reach outside its place: all are refused.
pub fn check_fail_calc(calc: &str) -> Result<Option<String>, String> {
    let calc = calc.trim();
    let compact: String = calc.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.eq_ignore_ascii_case("count(*)") {
        return Ok(None);
    }
    if calc.is_empty() {
        return Err("`fail_calc` is empty: write an expression such as `sum(n_records)`".into());
    }
    let refuse = |what: &str| {
        Err(format!(
            "`fail_calc: {calc}` must be one SQL expression, without {what}"
        ))
    };
    for bad in [";", "--", "/*", "*/", "$"] {
        if calc.contains(bad) {
            return refuse(&format!("`{bad}`"));
        }
    }
    let (mut depth, mut quote) = (0i64, None::<char>);
    for c in calc.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth < 0 {
                    return refuse("a `)` that no `(` opens");
                }
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return refuse("an unclosed quote");
    }
    if depth != 0 {
        return refuse("an unclosed `(`");
    }
    Ok(Some(calc.to_string()))
}

/// The keys of a test entry that configure it rather than being arguments
/// (dbt's list).
pub const TEST_SETTINGS: &[&str] = &[
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

pub fn apply_test_setting(
    spec: &mut TestSpec,
    key: &str,
    value: &serde_json::Value,
) -> Result<(), String> {
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{key}` must be a string"))
    };
    spec.explicit.insert(key.to_string());
    if let serde_json::Value::String(text) = value {
        // `where` is SQL that the test's own render takes as it is.
        if key != "where" && (text.contains("{{") || text.contains("{%")) {
            spec.jinja.insert(key.to_string(), value.clone());
            return Ok(());
        }
    }
    spec.jinja.remove(key);
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
        "fail_calc" => spec.fail_calc = check_fail_calc(&text()?)?,
        "store_failures" => {
            spec.store.store_failures = match value {
                serde_json::Value::Null => None,
                v => Some(
                    v.as_bool()
                        .ok_or("`store_failures` must be true or false")?,
                ),
            }
        }
        "store_failures_as" => {
            spec.store.store_failures_as = match value {
                serde_json::Value::Null => None,
                _ => match text()?.to_ascii_lowercase().as_str() {
                    kind @ ("table" | "view" | "ephemeral") => Some(kind.to_string()),
                    other => {
                        return Err(format!(
                    "`store_failures_as` must be `table`, `view` or `ephemeral`, found `{other}`"
                ))
                    }
                },
            }
        }
        // Where the failing rows are stored (dbt's `dbt_test__audit`).
        "schema" => spec.store.schema = value.as_str().map(str::to_string),
        "alias" => spec.store.alias = value.as_str().map(str::to_string),
        "database" => {}
        "tags" => spec.tags = tag_list(value)?,
        "meta" => {}
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
    // Tags add up across the levels, the least specific first, as dbt
    // appends them; the entry's own come after.
    let mut tree_tags = Vec::new();
    for layer in levels.iter().rev() {
        if let Some(entry) = layer.get("tags") {
            match tag_list(&entry.value) {
                Ok(tags) => tree_tags.extend(tags),
                Err(problem) => diagnostics.push(
                    Diagnostic::new(
                        Code::E0045,
                        format!("invalid `tags` for tests in dbt_project.yml: {problem}"),
                    )
                    .at(entry.span.clone())
                    .help("write `+tags: nightly` or `+tags: [nightly, bi]`"),
                ),
            }
        }
    }
    let mut apply = |spec: &mut TestSpec| {
        spec.tree_tags.clone_from(&tree_tags);
        let mut seen = std::collections::BTreeSet::new();
        for layer in &levels {
            for (key, entry) in layer.iter() {
                if key == "tags"
                    || !TEST_SETTINGS.contains(&key.as_str())
                    || spec.explicit.contains(key)
                    || !seen.insert(key.clone())
                {
                    continue;
                }
                if let Err(problem) = apply_test_setting(spec, key, &entry.value) {
                    diagnostics.push(
                        Diagnostic::new(Code::E0045, format!("invalid `{key}` for tests in dbt_project.yml: {problem}"))
                            .at(entry.span.clone())
                            .help("write it as in a test's config: `+severity: warn`, `+warn_if: \">10\"`, `+limit: 100`, `+enabled: false`"),
                    );
                }
                // The tree does not make a setting the entry's own.
                spec.explicit.remove(key);
            }
        }
    };
    for_each_test_mut(file, &mut apply);
}

/// Calls `apply` on every generic test of `file`.
pub fn for_each_test_mut(file: &mut SchemaFile, mut apply: &mut dyn FnMut(&mut TestSpec)) {
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
