//! The SQL of repeatable migrations: views, tables (with contracts and
//! indexes), seeds and their loads.

use std::fmt::Write as _;

use crate::config::{IndexConfig, Materialization};
use crate::node::{contract_enforced, Model, Resolved};
use crate::relation::Relation;
use crate::sql::{literal, quote_ident};

use super::incremental::incremental_migration;
use super::{seed_marker, snapshot};

/// An enforced contract: the table has the schema file's columns, in its
/// order, and is loaded by name. The columns, quoted, or `None`.
pub(super) fn contract_columns(m: &Model) -> Option<Vec<String>> {
    m.entry.as_ref().filter(|_| contract_enforced(m)).map(|e| {
        e.columns
            .iter()
            .map(|c| {
                if c.quote {
                    format!("\"{}\"", c.name.replace('"', "\"\""))
                } else {
                    quote_ident(&c.name).into_owned()
                }
            })
            .collect()
    })
}

/// The body of a model's repeatable migration, before dbt's hooks, grants
/// and comments; `None` for an ephemeral model, which has none.
pub(super) fn model_migration(
    m: &Model,
    full_sql: &str,
    contract: Option<&[String]>,
    resolved: &Resolved,
) -> Option<String> {
    Some(match m.config.materialized {
        Materialization::Ephemeral => return None,
        Materialization::View => view_migration(&m.relation, full_sql),
        Materialization::Table if contract.is_some() => {
            contract_table_migration(m, contract.unwrap_or_default(), resolved)
        }
        Materialization::Table => {
            empty_relation_migration("table", &m.relation, full_sql, &m.config.indexes)
        }
        Materialization::Incremental => {
            let sql = incremental_migration(m, full_sql);
            if m.config.dbt.get("full_refresh") == Some(&serde_json::Value::Bool(false)) {
                // dbt's `full_refresh: false`: `--full-refresh` never rebuilds it.
                sql.replace(
                    "current_setting('stackc.full_refresh', true) = 'on'",
                    "false /* full_refresh: false */",
                )
            } else {
                sql
            }
        }
        Materialization::Snapshot => match &m.snapshot {
            Some(strategy) => snapshot::migration(m, strategy, full_sql),
            // resolve gives every snapshot its strategy.
            None => String::new(),
        },
        Materialization::MaterializedView => empty_relation_migration(
            "materialized view",
            &m.relation,
            full_sql,
            &m.config.indexes,
        ),
    })
}

/// Drops whatever relation has this name when it is of another kind than
/// the model now needs (a model may change materialization), or always when
/// `keep_table` is false. `cascade` drops dependent views; their own
/// repeatable files re-create them, since their fingerprint line changes.
pub(super) fn drop_relation(relation: &Relation, keep_kinds: &[&str]) -> String {
    let name = relation.to_string();
    let mut s = String::new();
    let _ = writeln!(s, "declare");
    let _ = writeln!(
        s,
        "    kind \"char\" := (select relkind from pg_class where oid = to_regclass({}));",
        literal(&name)
    );
    let _ = writeln!(s, "begin");
    let branches = [
        ("'v'", "view"),
        ("'m'", "materialized view"),
        ("'r', 'p'", "table"),
    ];
    let mut first = true;
    for (kinds, what) in branches {
        if keep_kinds.contains(&what) {
            continue;
        }
        let keyword = if first { "if" } else { "elsif" };
        first = false;
        let _ = writeln!(
            s,
            "    {keyword} kind in ({kinds}) then execute {};",
            literal(&format!("drop {what} {name} cascade"))
        );
    }
    let _ = writeln!(s, "    end if;");
    let _ = writeln!(s, "end");
    do_block(&s)
}

/// `do $tag$ <body> $tag$;` with a tag that does not occur in `body`, so
/// that no name or value in the body (a schema called `a$stackc$b` is a
/// valid identifier) can end the block early. `$stackc$` unless the body
/// holds it; then `$stackc_1$`, `$stackc_2$`, ... Every dollar-quote of
/// the artifacts goes through [`dollar_tag`].
pub(super) fn do_block(body: &str) -> String {
    let mut body = body.to_string();
    // The closing tag follows a newline: a body ending in `$stackc` and
    // the tag would otherwise make a `$stackc$` of their own.
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let tag = dollar_tag(&body);
    format!("do {tag}\n{body}{tag};\n")
}

/// A dollar-quote tag that does not occur in `body`.
pub(super) fn dollar_tag(body: &str) -> String {
    let mut tag = "$stackc$".to_string();
    let mut n = 0u64;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$stackc_{n}$");
    }
    tag
}

pub(super) fn create_schema(relation: &Relation) -> String {
    format!(
        "create schema if not exists {};\n",
        quote_ident(&relation.schema)
    )
}

pub(super) fn view_migration(relation: &Relation, sql: &str) -> String {
    format!(
        "{}\n{}\ncreate view {relation} as\n{}\n;\n",
        create_schema(relation),
        drop_relation(relation, &[]),
        sql.trim_end()
    )
}

/// A table or materialized view (`kind`) with the model's shape and no
/// rows, and its indexes: the run scripts load it.
pub(super) fn empty_relation_migration(
    kind: &str,
    relation: &Relation,
    sql: &str,
    indexes: &[IndexConfig],
) -> String {
    format!(
        "{}\n{}\ncreate {kind} {relation} as\n{}\nwith no data;\n{}",
        create_schema(relation),
        drop_relation(relation, &[]),
        sql.trim_end(),
        index_statements(relation, indexes)
    )
}

/// The table of an enforced contract: its columns with their types and
/// constraints, then the model-level constraints, as dbt-postgres writes
/// them (`not null`, `unique`, `primary key`, `check (...)`, `references`).
pub(super) fn contract_table_migration(
    m: &Model,
    columns: &[String],
    resolved: &Resolved,
) -> String {
    let relation = &m.relation;
    // A foreign key's `to: ref('m')` / `source('s', 't')` as the relation.
    let to = |text: &str| -> Option<String> {
        match crate::schema::parse_input(text)? {
            crate::schema::UnitInputKind::Ref(name) => resolved
                .models
                .get(&name)
                .map(|m| m.relation.to_string())
                .or_else(|| resolved.seeds.get(&name).map(|s| s.relation.to_string())),
            crate::schema::UnitInputKind::Source(s, t) => resolved
                .sources
                .get(&(s, t))
                .map(|s| s.relation.to_string()),
            crate::schema::UnitInputKind::This => None,
        }
    };
    let mut lines: Vec<String> = Vec::new();
    if let Some(entry) = &m.entry {
        for (c, name) in entry.columns.iter().zip(columns) {
            let mut line = format!("    {name} {}", c.data_type.as_deref().unwrap_or("text"));
            for constraint in &c.constraints {
                if let Some(text) = constraint_sql(constraint, None, &to) {
                    line.push(' ');
                    line.push_str(&text);
                }
            }
            lines.push(line);
        }
        for constraint in &entry.constraints {
            let cols: Vec<String> = constraint
                .get("columns")
                .and_then(|c| c.as_array())
                .map(|cols| {
                    cols.iter()
                        .filter_map(|c| c.as_str())
                        .map(|c| quote_ident(c).into_owned())
                        .collect()
                })
                .unwrap_or_default();
            if let Some(text) = constraint_sql(constraint, Some(&cols), &to) {
                lines.push(format!("    {text}"));
            }
        }
    }
    format!(
        "{}\n{}\ncreate table {relation} (\n{}\n);\n{}",
        create_schema(relation),
        drop_relation(relation, &[]),
        lines.join(",\n"),
        index_statements(relation, &m.config.indexes)
    )
}

/// One dbt constraint as SQL; `columns` is `Some` for a model-level one.
pub(super) fn constraint_sql(
    c: &serde_json::Value,
    columns: Option<&[String]>,
    to: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let kind = c.get("type")?.as_str()?.to_ascii_lowercase();
    let expression = c.get("expression").and_then(|e| e.as_str());
    let list = columns.map(|cols| format!(" ({})", cols.join(", ")));
    let body = match kind.as_str() {
        "not_null" if columns.is_none() => "not null".to_string(),
        "unique" => format!("unique{}", list.unwrap_or_default()),
        "primary_key" => format!("primary key{}", list.unwrap_or_default()),
        "check" => format!("check ({})", expression?),
        "foreign_key" => {
            let target = match (c.get("to").and_then(|t| t.as_str()), expression) {
                // dbt-postgres: `references <to> (<to_columns>)`.
                (Some(t), _) => {
                    let cols: Vec<String> = c
                        .get("to_columns")?
                        .as_array()?
                        .iter()
                        .map(|c| c.as_str().map(|c| quote_ident(c).into_owned()))
                        .collect::<Option<_>>()?;
                    format!("{} ({})", to(t)?, cols.join(", "))
                }
                (None, None) => return None,
                (None, Some(e)) => e.to_string(),
            };
            match columns {
                Some(_) => format!(
                    "foreign key{} references {target}",
                    list.unwrap_or_default()
                ),
                None => format!("references {target}"),
            }
        }
        "custom" => expression?.to_string(),
        _ => return None,
    };
    Some(match c.get("name").and_then(|n| n.as_str()) {
        Some(name) => format!("constraint {} {body}", quote_ident(name)),
        None => body,
    })
}

pub(super) fn index_statements(relation: &Relation, indexes: &[IndexConfig]) -> String {
    let mut s = String::new();
    if !indexes.is_empty() {
        s.push('\n');
    }
    for index in indexes {
        let name = index_name(&relation.name, index);
        let columns: Vec<String> = index
            .columns
            .iter()
            .map(|c| quote_ident(c).into_owned())
            .collect();
        let _ = writeln!(
            s,
            "create {}index if not exists {} on {relation} using {} ({});",
            if index.unique { "unique " } else { "" },
            quote_ident(&name),
            index.method,
            columns.join(", ")
        );
    }
    s
}

/// A deterministic index name within PostgreSQL's 63-byte limit.
pub fn index_name(table: &str, index: &IndexConfig) -> String {
    let suffix = if index.unique { "uidx" } else { "idx" };
    let method = if index.method == "btree" {
        String::new()
    } else {
        format!("_{}", index.method)
    };
    let name = format!("{table}__{}{method}__{suffix}", index.columns.join("_")).to_lowercase();
    crate::sql::fit_identifier(&name).into_owned()
}

pub(super) fn seed_migration(relation: &Relation, types: &[(String, String)]) -> String {
    let columns: Vec<String> = types
        .iter()
        .map(|(c, t)| format!("    {} {t}", quote_ident(c)))
        .collect();
    format!(
        "{}\n{}\ncreate table {relation} (\n{}\n);\n",
        create_schema(relation),
        drop_relation(relation, &[]),
        columns.join(",\n")
    )
}

pub(super) fn seed_load(
    relation: &Relation,
    seed: &crate::seed::Seed,
    types: &[(String, String)],
    dbt: bool,
) -> String {
    let columns: Vec<String> = seed
        .columns
        .iter()
        .map(|c| quote_ident(c).into_owned())
        .collect();
    let mut s = format!("truncate table {relation};\n");
    if !seed.rows.is_empty() {
        s.push_str(&seed_rows(relation, seed, types, &columns, dbt));
    }
    let _ = write!(
        s,
        "\n-- Marks what was loaded, so an apply skips the load while the CSV is unchanged.\ncomment on table {relation} is {};\n",
        literal(&seed_marker(seed))
    );
    s
}

pub(super) fn seed_rows(
    relation: &Relation,
    seed: &crate::seed::Seed,
    types: &[(String, String)],
    columns: &[String],
    dbt: bool,
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "\ninsert into {relation} ({}) values\n",
        columns.join(", ")
    );
    let rows: Vec<String> = seed
        .rows
        .iter()
        .map(|row| {
            let values: Vec<String> = row
                .iter()
                .zip(types)
                .map(|(v, (_, ty))| match v {
                    None => "null".to_string(),
                    // dbt loads values as the CSV has them (agate reads
                    // `null` and blanks as NULL, and trims nothing else).
                    Some(v) if dbt && crate::dbt::seeds::is_null(v) => "null".to_string(),
                    Some(v) if dbt => format!("{}::{ty}", literal(v)),
                    Some(v) => format!("{}::{ty}", literal(v.trim())),
                })
                .collect();
            format!("    ({})", values.join(", "))
        })
        .collect();
    s.push_str(&rows.join(",\n"));
    s.push_str(";\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_are_deterministic_and_short() {
        let i = IndexConfig {
            columns: vec!["sale_id".into()],
            unique: true,
            method: "btree".into(),
        };
        assert_eq!(index_name("fact_sales", &i), "fact_sales__sale_id__uidx");
        let long = IndexConfig {
            columns: vec!["a_very_long_column_name_indeed".into(); 3],
            unique: false,
            method: "gin".into(),
        };
        let n = index_name("a_table_with_a_long_name", &long);
        assert!(n.len() <= 63, "{n}");
        assert_eq!(n, index_name("a_table_with_a_long_name", &long));
    }

    #[test]
    fn no_name_ends_a_dollar_quote_early() {
        let r = Relation {
            schema: "a$stackc$b".into(),
            name: "x$stackc_1$y".into(),
            quote: false,
            cte: None,
        };
        let s = drop_relation(&r, &[]);
        assert!(s.starts_with("do $stackc_2$\n"), "{s}");
        assert!(s.ends_with("\n$stackc_2$;\n"), "{s}");
        assert_eq!(s.matches("$stackc_2$").count(), 2, "{s}");
        assert_eq!(dollar_tag("nothing here"), "$stackc$");
        // A body ending in the start of a tag is closed after a newline.
        assert_eq!(do_block("$stackc"), "do $stackc$\n$stackc\n$stackc$;\n");
    }

    #[test]
    fn drop_block_keeps_tables_for_incremental_models() {
        let r = Relation {
            schema: "marts".into(),
            name: "order".into(),
            quote: false,
            cte: None,
        };
        let s = drop_relation(&r, &["table"]);
        assert!(s.contains("to_regclass('marts.\"order\"')"), "{s}");
        assert!(!s.contains("drop table"), "{s}");
        assert!(s.contains("drop view marts.\"order\" cascade"), "{s}");
    }
}
