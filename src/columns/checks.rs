//! Checks that need a model's derived columns (issue 14): the columns its
//! configuration names (`unique_key`, `event_time`, `indexes`) exist.

use crate::config::ModelConfig;
use crate::diagnostic::{Code, Diagnostic, Span};

/// E0246 for each column `config` names that `columns` (all the model's
/// output columns, derived from its SQL) does not have. A name that is
/// not a plain identifier (an expression) is left to PostgreSQL.
pub fn configured_columns(
    model: &str,
    file: &std::sync::Arc<str>,
    config: &ModelConfig,
    columns: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut named: Vec<(&str, &str)> = Vec::new();
    if config.materialized == crate::config::Materialization::Incremental {
        named.extend(config.unique_key.iter().map(|c| ("unique_key", c.as_str())));
        named.extend(config.event_time.iter().map(|c| ("event_time", c.as_str())));
    }
    for index in &config.indexes {
        named.extend(index.columns.iter().map(|c| ("indexes", c.as_str())));
    }
    named_columns(
        &format!("`{model}`"),
        file,
        config,
        &named,
        columns,
        diagnostics,
    );
}

/// E0246 for a snapshot's `unique_key`, `updated_at` and `check_cols`
/// that its query (whose column names are `columns`) does not select:
/// dbt's merge into the snapshot table would fail in the database.
pub fn snapshot_columns(
    model: &str,
    file: &std::sync::Arc<str>,
    config: &ModelConfig,
    named: &[(&str, &str)],
    columns: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) {
    named_columns(
        &format!("the query of snapshot `{model}`"),
        file,
        config,
        named,
        columns,
        diagnostics,
    );
}

/// `subject` is what selects the columns, for the messages.
fn named_columns(
    subject: &str,
    file: &std::sync::Arc<str>,
    config: &ModelConfig,
    named: &[(&str, &str)],
    columns: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) {
    for &(key, written) in named {
        let name = match written.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None if plain(written) => written.to_ascii_lowercase(),
            None => continue,
        };
        if columns.contains(&name) {
            continue;
        }
        let at = config
            .spans
            .get(key)
            .cloned()
            .unwrap_or_else(|| Span::new(file, 0..0));
        let d = Diagnostic::new(
            Code::E0246,
            format!("`{key}` names column `{written}`, which {subject} does not select"),
        )
        .at(at);
        diagnostics.push(
            match crate::suggest::closest(&name, columns.iter().map(String::as_str)) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help(format!("{subject} selects: {}", columns.join(", "))),
            },
        );
    }
}

fn plain(name: &str) -> bool {
    let mut chars = name.trim().chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_not_names() {
        assert!(plain("order_id"));
        assert!(plain("Order_Id"));
        assert!(!plain("coalesce(a, b)"));
        assert!(!plain("a, b"));
        assert!(!plain(""));
    }
}
