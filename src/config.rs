//! Model configuration: the three places it comes from, their precedence, and
//! the rules a configuration must follow.
//!
//! Every value keeps the span it was written at, so a rule that fails points
//! at the `config()` call, the schema-file line or the `stackc.toml` line that
//! set the winning value.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, Span};

/// Every key a model configuration may have, wherever it is written.
pub const CONFIG_KEYS: &[&str] = &[
    "materialized",
    "schema",
    "tags",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "indexes",
    "event_time",
    "lookback",
    "sql_check",
    "vacuum",
    "enabled",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    pub value: serde_json::Value,
    pub span: Span,
}

/// The configuration written in one place (one folder table, one schema-file
/// entry or one `config()` call).
pub type ConfigLayer = BTreeMap<String, ConfigEntry>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Materialization {
    View,
    Table,
    Incremental,
    Ephemeral,
    MaterializedView,
    /// A dbt snapshot (`{% snapshot %}` block or a YAML `snapshots:`
    /// entry): a type-2 history table, never chosen with `materialized`.
    Snapshot,
}

impl Materialization {
    pub fn as_str(self) -> &'static str {
        match self {
            Materialization::View => "view",
            Materialization::Table => "table",
            Materialization::Incremental => "incremental",
            Materialization::Ephemeral => "ephemeral",
            Materialization::MaterializedView => "materialized_view",
            Materialization::Snapshot => "snapshot",
        }
    }
    const ALL: [Materialization; 5] = [
        Materialization::View,
        Materialization::Table,
        Materialization::Incremental,
        Materialization::Ephemeral,
        Materialization::MaterializedView,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Append,
    DeleteInsert,
    Merge,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Append => "append",
            Strategy::DeleteInsert => "delete+insert",
            Strategy::Merge => "merge",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSchemaChange {
    Fail,
    AppendNewColumns,
}

impl OnSchemaChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OnSchemaChange::Fail => "fail",
            OnSchemaChange::AppendNewColumns => "append_new_columns",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexConfig {
    pub columns: Vec<String>,
    pub unique: bool,
    /// `btree`, `hash`, `gin` or `brin`.
    pub method: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub materialized: Materialization,
    pub schema: Option<String>,
    pub tags: Vec<String>,
    pub unique_key: Vec<String>,
    pub strategy: Option<Strategy>,
    pub on_schema_change: OnSchemaChange,
    pub indexes: Vec<IndexConfig>,
    pub event_time: Option<String>,
    pub lookback: Option<String>,
    pub sql_check: bool,
    pub vacuum: bool,
    pub enabled: bool,
    /// In a dbt project: the winning value of each dbt config stackc does
    /// not model above (`alias`, `grants`, `post_hook`, `persist_docs`...).
    pub dbt: BTreeMap<String, serde_json::Value>,
    /// Where each key's winning value was written, for later diagnostics.
    pub spans: BTreeMap<String, Span>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            materialized: Materialization::View,
            schema: None,
            tags: Vec::new(),
            unique_key: Vec::new(),
            strategy: None,
            on_schema_change: OnSchemaChange::Fail,
            indexes: Vec::new(),
            event_time: None,
            lookback: None,
            sql_check: true,
            vacuum: true,
            enabled: true,
            dbt: BTreeMap::new(),
            spans: BTreeMap::new(),
        }
    }
}

/// Resolves a model's configuration from its layers, most specific first
/// (`config()` in the model, then the schema file, then folders from the
/// deepest up). Tags accumulate across layers, as in dbt; every other key
/// takes the most specific value.
pub fn resolve(layers: &[&ConfigLayer], diagnostics: &mut Vec<Diagnostic>) -> ModelConfig {
    resolve_for(layers, crate::project::Flavor::Native, diagnostics)
}

/// Configs dbt accepts that do nothing on PostgreSQL (or nothing stackc
/// does yet): a dbt project gets a warning, not an error.
const DBT_IGNORED: &[&str] = &[
    "cluster_by",
    "partition_by",
    "sql_header",
    "bind",
    "batch_size",
    "begin",
    "store_failures",
    "store_failures_as",
    "on_configuration_change",
    "merge_exclude_columns",
    "merge_update_columns",
    "quoting",
];

/// [`resolve`] for a project of the given flavor. A dbt project accepts
/// every config dbt knows: those stackc does not model land in
/// [`ModelConfig::dbt`]; unknown keys are warnings, as dbt ignores them.
/// Config keys whose values become names in SQL or in artifact names.
const NAME_KEYS: &[&str] = &[
    "schema",
    "alias",
    "database",
    "unique_key",
    "event_time",
    "indexes",
    "tags",
];

/// Whether a control character is in any string of `v`.
fn has_control(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.chars().any(char::is_control),
        serde_json::Value::Array(items) => items.iter().any(has_control),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.chars().any(char::is_control) || has_control(v)),
        _ => false,
    }
}

pub fn resolve_for(
    layers: &[&ConfigLayer],
    flavor: crate::project::Flavor,
    diagnostics: &mut Vec<Diagnostic>,
) -> ModelConfig {
    let dbt = flavor == crate::project::Flavor::Dbt;
    let mut config = ModelConfig::default();
    let mut dbt_winners: BTreeMap<&str, &ConfigEntry> = BTreeMap::new();
    let mut hooks: BTreeMap<String, Vec<Vec<serde_json::Value>>> = BTreeMap::new();
    let mut winners: BTreeMap<&str, &ConfigEntry> = BTreeMap::new();
    let mut tags = Vec::new();
    for layer in layers {
        for (key, entry) in layer.iter() {
            if NAME_KEYS.contains(&key.as_str()) && has_control(&entry.value) {
                // Refused, not escaped: the name would reach SQL and
                // artifact comments (issue 11, item 2).
                let value = entry
                    .value
                    .as_str()
                    .map_or_else(|| short(&entry.value), str::to_string);
                diagnostics.push(crate::project::control_character(
                    key,
                    &value,
                    entry.span.clone(),
                ));
                continue;
            }
            if key == "tags" {
                match string_list(&entry.value) {
                    Some(list) => tags.extend(list),
                    None => {
                        diagnostics.push(bad_type(entry, "tags", "a string or a list of strings"))
                    }
                }
                continue;
            }
            if dbt && (key == "pre_hook" || key == "post_hook") {
                // Hooks add up across levels, as in dbt: the least specific
                // level's run first.
                let items = match &entry.value {
                    serde_json::Value::Array(items) => items.clone(),
                    one => vec![one.clone()],
                };
                hooks.entry(key.clone()).or_default().insert(0, items);
                dbt_winners.entry(key.as_str()).or_insert(entry);
                continue;
            }
            if dbt && !CONFIG_KEYS.contains(&key.as_str()) {
                if crate::dbt::project::DBT_CONFIG_KEYS.contains(&key.as_str()) {
                    dbt_winners.entry(key.as_str()).or_insert(entry);
                } else {
                    diagnostics.push(
                        Diagnostic::new(Code::W0035, format!("config `{key}` is not one dbt knows; ignored"))
                            .at(entry.span.clone())
                            .help(match crate::suggest::closest(key, crate::dbt::project::DBT_CONFIG_KEYS.iter().copied()) {
                                Some(close) => format!("did you mean `{close}`?"),
                                None => "remove it, or check the spelling against dbt's config reference".into(),
                            }),
                    );
                }
                continue;
            }
            if !CONFIG_KEYS.contains(&key.as_str()) {
                let mut d = Diagnostic::new(Code::E0105, format!("unknown config key `{key}`"))
                    .at(entry.span.clone());
                let help = match crate::suggest::closest(key, CONFIG_KEYS.iter().copied()) {
                    Some(close) => format!(
                        "did you mean `{close}`? known keys: {}",
                        CONFIG_KEYS.join(", ")
                    ),
                    None => format!("known keys: {}", CONFIG_KEYS.join(", ")),
                };
                d = d.help(help);
                diagnostics.push(d);
                continue;
            }
            winners.entry(key.as_str()).or_insert(entry);
        }
    }
    tags.sort();
    tags.dedup();
    config.tags = tags;

    for (key, entry) in &winners {
        let v = &entry.value;
        match *key {
            "materialized" => match v.as_str().and_then(|s| {
                Materialization::ALL
                    .into_iter()
                    .chain(dbt.then_some(Materialization::Snapshot))
                    .find(|m| m.as_str() == s)
            }) {
                Some(m) => config.materialized = m,
                None => diagnostics.push(
                    Diagnostic::new(
                        Code::E0307,
                        format!("unknown materialization {}", short(v)),
                    )
                    .at(entry.span.clone())
                    .help("use one of: view, table, incremental, ephemeral, materialized_view"),
                ),
            },
            "schema" => match v.as_str() {
                Some(s) if !s.is_empty() => config.schema = Some(s.to_string()),
                _ => diagnostics.push(bad_type(entry, key, "a schema name")),
            },
            "unique_key" => match string_list(v) {
                Some(list) if !list.is_empty() => config.unique_key = list,
                _ => diagnostics.push(bad_type(entry, key, "a column name or a list of column names")),
            },
            "incremental_strategy" => match v.as_str() {
                Some("append") => config.strategy = Some(Strategy::Append),
                Some("delete+insert") => config.strategy = Some(Strategy::DeleteInsert),
                Some("merge") => config.strategy = Some(Strategy::Merge),
                _ => diagnostics.push(
                    Diagnostic::new(Code::E0308, format!("unknown incremental_strategy {}", short(v)))
                        .at(entry.span.clone())
                        .help("use one of: append, delete+insert, merge"),
                ),
            },
            "on_schema_change" => match v.as_str() {
                Some("fail") => config.on_schema_change = OnSchemaChange::Fail,
                Some("append_new_columns") => {
                    config.on_schema_change = OnSchemaChange::AppendNewColumns
                }
                _ => diagnostics.push(
                    Diagnostic::new(Code::E0308, format!("unsupported on_schema_change {}", short(v)))
                        .at(entry.span.clone())
                        .help("use `fail` (the default) or `append_new_columns`; `--full-refresh` rebuilds the table for any other change"),
                ),
            },
            "indexes" => match parse_indexes(v) {
                Ok(indexes) => config.indexes = indexes,
                Err(problem) => diagnostics.push(
                    Diagnostic::new(Code::E0105, format!("invalid `indexes`: {problem}"))
                        .at(entry.span.clone())
                        .help("write indexes=[{'columns': ['col'], 'unique': true, 'type': 'btree'}]; type is btree, hash, gin or brin"),
                ),
            },
            "event_time" => match v.as_str() {
                Some(s) if !s.is_empty() => config.event_time = Some(s.to_string()),
                _ => diagnostics.push(bad_type(entry, key, "a column name")),
            },
            "lookback" => match v.as_str().filter(|s| is_interval(s)) {
                Some(s) => config.lookback = Some(s.trim().to_string()),
                None => diagnostics.push(bad_type(entry, key, "an interval such as '3 days' or '12 hours'")),
            },
            "sql_check" | "vacuum" | "enabled" => match v.as_bool() {
                Some(b) => match *key {
                    "sql_check" => config.sql_check = b,
                    "vacuum" => config.vacuum = b,
                    _ => config.enabled = b,
                },
                None => diagnostics.push(bad_type(entry, key, "true or false")),
            },
            _ => {}
        }
    }

    if dbt {
        // Rules that only say a key is dead weight are warnings in a dbt
        // project: dbt accepts such configs and does nothing with them.
        let mut local = Vec::new();
        check_rules(&config, &winners, &mut local);
        for mut d in local {
            if d.message.contains("applies only to incremental models") {
                d = warning_of(d, Code::W0036);
            }
            diagnostics.push(d);
        }
        for (key, entry) in &dbt_winners {
            if DBT_IGNORED.contains(key) {
                diagnostics.push(
                    Diagnostic::new(Code::W0036, format!("config `{key}` has no effect on PostgreSQL in stackc; ignored"))
                        .at(entry.span.clone())
                        .help("dbt-postgres ignores it too, or stackc does not support it yet; remove it to silence this warning"),
                );
            }
        }
        config.dbt = dbt_winners
            .iter()
            .map(|(k, e)| (k.to_string(), e.value.clone()))
            .collect();
        for (key, levels) in hooks {
            config
                .dbt
                .insert(key, serde_json::Value::Array(levels.concat()));
        }
    } else {
        check_rules(&config, &winners, diagnostics);
    }
    config.spans = winners
        .iter()
        .chain(dbt_winners.iter())
        .map(|(k, e)| (k.to_string(), e.span.clone()))
        .collect();
    config
}

/// The same finding as a warning with another code.
fn warning_of(d: Diagnostic, code: Code) -> Diagnostic {
    let mut w = Diagnostic::new(code, d.message.clone());
    if let Some(span) = d.primary.clone() {
        w = w.at(span);
    }
    if let Some(help) = &d.help {
        w = w.help(help.clone());
    }
    w
}

/// Rules across keys: which keys make sense together.
fn check_rules(
    config: &ModelConfig,
    winners: &BTreeMap<&str, &ConfigEntry>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let span_of = |key: &str| {
        winners
            .get(key)
            .or_else(|| winners.get("materialized"))
            .map(|e| e.span.clone())
    };
    let incremental = config.materialized == Materialization::Incremental;
    let snapshot = config.materialized == Materialization::Snapshot;
    for key in [
        "incremental_strategy",
        "unique_key",
        "event_time",
        "lookback",
        "on_schema_change",
    ] {
        // A snapshot matches rows by its unique_key too.
        if winners.contains_key(key) && !incremental && !(snapshot && key == "unique_key") {
            let mut d = Diagnostic::new(
                Code::E0308,
                format!(
                    "`{key}` applies only to incremental models, but this model is materialized as `{}`",
                    config.materialized.as_str()
                ),
            )
            .help("set materialized='incremental' or remove the key");
            if let Some(span) = span_of(key) {
                d = d.at(span);
            }
            // unique_key on a table is harmless in dbt; here it would be dead
            // configuration, so it is reported, but only as part of this rule.
            diagnostics.push(d);
        }
    }
    if incremental {
        if let Some(strategy @ (Strategy::DeleteInsert | Strategy::Merge)) = config.strategy {
            if config.unique_key.is_empty() {
                let mut d = Diagnostic::new(
                    Code::E0308,
                    format!(
                        "incremental_strategy `{}` needs a `unique_key`",
                        strategy.as_str()
                    ),
                )
                .help("add unique_key='id' (or a list of columns), or use incremental_strategy='append'");
                if let Some(span) = span_of("incremental_strategy") {
                    d = d.at(span);
                }
                diagnostics.push(d);
            }
        }
        if config.lookback.is_some() && config.effective_strategy() == Strategy::Append {
            let mut d = Diagnostic::new(
                Code::E0308,
                "a `lookback` re-reads rows that are already loaded, and the `append` strategy would insert them twice",
            )
            .help("set unique_key (the strategy becomes delete+insert) or incremental_strategy='merge'");
            if let Some(span) = span_of("lookback") {
                d = d.at(span);
            }
            diagnostics.push(d);
        }
        if winners.contains_key("event_time") != winners.contains_key("lookback") {
            let (have, missing) = if winners.contains_key("event_time") {
                ("event_time", "lookback")
            } else {
                ("lookback", "event_time")
            };
            let mut d = Diagnostic::new(
                Code::E0308,
                format!("`{have}` is set but `{missing}` is not; stackc writes the incremental filter only from both"),
            )
            .help("set both, e.g. config(event_time='sold_at', lookback='3 days'), or write the filter yourself in {% if is_incremental() %}");
            if let Some(span) = span_of(have) {
                d = d.at(span);
            }
            diagnostics.push(d);
        }
    }
    if !config.indexes.is_empty()
        && matches!(
            config.materialized,
            Materialization::View | Materialization::Ephemeral
        )
    {
        let mut d = Diagnostic::new(
            Code::E0308,
            format!(
                "a `{}` model cannot have indexes",
                config.materialized.as_str()
            ),
        )
        .help("indexes need a table: materialize the model as table, incremental or materialized_view");
        if let Some(span) = span_of("indexes") {
            d = d.at(span);
        }
        diagnostics.push(d);
    }
}

impl ModelConfig {
    /// The strategy an incremental model uses: as dbt on PostgreSQL,
    /// `delete+insert` when a unique key is set, else `append`.
    pub fn effective_strategy(&self) -> Strategy {
        self.strategy.unwrap_or(if self.unique_key.is_empty() {
            Strategy::Append
        } else {
            Strategy::DeleteInsert
        })
    }
}

fn bad_type(entry: &ConfigEntry, key: &str, expected: &str) -> Diagnostic {
    Diagnostic::new(
        Code::E0105,
        format!("`{key}` must be {expected}, found {}", short(&entry.value)),
    )
    .at(entry.span.clone())
    .help(format!("set `{key}` to {expected}"))
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(40).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

fn string_list(v: &serde_json::Value) -> Option<Vec<String>> {
    match v {
        serde_json::Value::String(s) => Some(vec![s.clone()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn parse_indexes(v: &serde_json::Value) -> Result<Vec<IndexConfig>, String> {
    let items = v.as_array().ok_or("expected a list of index definitions")?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let obj = item
            .as_object()
            .ok_or_else(|| format!("entry {} is not a mapping", i + 1))?;
        for key in obj.keys() {
            if !["columns", "unique", "type"].contains(&key.as_str()) {
                return Err(format!("entry {} has an unknown key `{key}`", i + 1));
            }
        }
        let columns = obj
            .get("columns")
            .and_then(string_list)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("entry {} needs `columns`, a list of column names", i + 1))?;
        let unique = match obj.get("unique") {
            None => false,
            Some(u) => u
                .as_bool()
                .ok_or_else(|| format!("entry {}: `unique` must be true or false", i + 1))?,
        };
        let method = match obj.get("type") {
            None => "btree".to_string(),
            Some(t) => match t.as_str() {
                Some(m @ ("btree" | "hash" | "gin" | "brin")) => m.to_string(),
                _ => {
                    return Err(format!(
                        "entry {}: `type` must be btree, hash, gin or brin",
                        i + 1
                    ))
                }
            },
        };
        if unique && method != "btree" {
            return Err(format!(
                "entry {}: only btree indexes can be unique in PostgreSQL",
                i + 1
            ));
        }
        out.push(IndexConfig {
            columns,
            unique,
            method,
        });
    }
    Ok(out)
}

/// A PostgreSQL interval literal of the simple form `<n> <unit>`.
fn is_interval(s: &str) -> bool {
    let mut parts = s.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    n.parse::<u32>().is_ok()
        && matches!(
            unit.trim_end_matches('s'),
            "minute" | "hour" | "day" | "week" | "month" | "year"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn layer(pairs: &[(&str, serde_json::Value)]) -> ConfigLayer {
        let file: Arc<str> = Arc::from("x");
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    ConfigEntry {
                        value: v.clone(),
                        span: Span::new(&file, 0..1),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn most_specific_layer_wins_and_tags_accumulate() {
        use serde_json::json;
        let model = layer(&[("materialized", json!("table")), ("tags", json!("a"))]);
        let folder = layer(&[("materialized", json!("view")), ("tags", json!(["b", "a"]))]);
        let mut d = Vec::new();
        let c = resolve(&[&model, &folder], &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(c.materialized, Materialization::Table);
        assert_eq!(c.tags, ["a", "b"]);
    }

    #[test]
    fn strategy_defaults_follow_dbt_postgres() {
        use serde_json::json;
        let mut d = Vec::new();
        let c = resolve(
            &[&layer(&[
                ("materialized", json!("incremental")),
                ("unique_key", json!("id")),
            ])],
            &mut d,
        );
        assert_eq!(c.effective_strategy(), Strategy::DeleteInsert);
        let c = resolve(&[&layer(&[("materialized", json!("incremental"))])], &mut d);
        assert_eq!(c.effective_strategy(), Strategy::Append);
        assert!(d.is_empty());
    }

    #[test]
    fn merge_without_unique_key_is_an_error() {
        use serde_json::json;
        let mut d = Vec::new();
        resolve(
            &[&layer(&[
                ("materialized", json!("incremental")),
                ("incremental_strategy", json!("merge")),
            ])],
            &mut d,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::E0308);
    }

    #[test]
    fn bad_values_are_reported() {
        use serde_json::json;
        let mut d = Vec::new();
        resolve(
            &[&layer(&[
                ("materialized", json!("tabel")),
                ("lookback", json!("soon")),
                ("indexes", json!([{"columns": ["a"], "type": "gist"}])),
                ("materialise", json!(1)),
            ])],
            &mut d,
        );
        let codes: Vec<_> = d.iter().map(|d| d.code).collect();
        assert!(codes.contains(&Code::E0307), "{codes:?}");
        assert_eq!(
            codes.iter().filter(|c| **c == Code::E0105).count(),
            3,
            "{d:?}"
        );
    }

    #[test]
    fn intervals() {
        assert!(is_interval("3 days"));
        assert!(is_interval("1 hour"));
        assert!(!is_interval("3"));
        assert!(!is_interval("3 days; drop table x"));
    }
}
