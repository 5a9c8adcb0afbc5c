//! Incremental models: the migration that creates their table and the load
//! that merges new rows; materialized views' refresh.

use crate::config::{OnSchemaChange, Strategy};
use crate::node::{model_columns, Model};
use crate::sql::{comment, literal, quote_ident};

use super::migrations::{create_schema, do_block, drop_relation, index_statements};

/// An incremental table keeps its rows: it is created once, and when the
/// model's columns change the `on_schema_change` policy decides, at apply
/// time, by comparing the table with the model's shape. `stackc apply
/// --full-refresh` sets `stackc.full_refresh`, which rebuilds it instead.
pub(super) fn incremental_migration(m: &Model, sql: &str) -> String {
    let relation = &m.relation;
    let name = literal(&relation.to_string());
    let policy = m.config.on_schema_change;
    let on_change = match policy {
        OnSchemaChange::Fail => format!(
            "        raise exception 'incremental model % changed its columns: %', {name}, array_to_string(changes, '; ')\n            using hint = 'set on_schema_change=''append_new_columns'' in the model to add new columns and keep the rows, or run `stackc apply --full-refresh` to rebuild the table';\n"
        ),
        OnSchemaChange::AppendNewColumns => format!(
            "        for col in\n            select n.attname, format_type(n.atttypid, n.atttypmod) as type\n            from pg_attribute n\n            where n.attrelid = 'pg_temp.stackc_new_shape'::regclass and n.attnum > 0 and not n.attisdropped\n              and not exists (select 1 from pg_attribute o where o.attrelid = {name}::regclass and o.attname = n.attname and not o.attisdropped)\n            order by n.attnum\n        loop\n            execute format('alter table %s add column %I %s', {name}, col.attname, col.type);\n        end loop;\n"
        ),
    };
    let on_schema_change = do_block(&format!(
        r#"declare
    changes text[];
    col record;
begin
    select array_agg(change order by change) into changes from (
        select 'added ' || n.attname || ' ' || format_type(n.atttypid, n.atttypmod) as change
        from pg_attribute n
        left join pg_attribute o
            on o.attrelid = {name}::regclass and o.attname = n.attname and not o.attisdropped
        where n.attrelid = 'pg_temp.stackc_new_shape'::regclass and n.attnum > 0 and not n.attisdropped
          and o.attname is null
        union all
        select 'removed ' || o.attname
        from pg_attribute o
        left join pg_attribute n
            on n.attrelid = 'pg_temp.stackc_new_shape'::regclass and n.attname = o.attname and not n.attisdropped
        where o.attrelid = {name}::regclass and o.attnum > 0 and not o.attisdropped
          and n.attname is null
        union all
        select 'retyped ' || n.attname || ' from ' || format_type(o.atttypid, o.atttypmod) || ' to ' || format_type(n.atttypid, n.atttypmod)
        from pg_attribute n
        join pg_attribute o
            on o.attrelid = {name}::regclass and o.attname = n.attname and not o.attisdropped
        where n.attrelid = 'pg_temp.stackc_new_shape'::regclass and n.attnum > 0 and not n.attisdropped
          and format_type(o.atttypid, o.atttypmod) <> format_type(n.atttypid, n.atttypmod)
    ) as differences;
    if changes is not null and current_setting('stackc.full_refresh', true) = 'on' then
        -- `stackc apply --full-refresh`: rebuild the table in the new shape.
        execute {drop_now};
        execute {create_now};
    elsif changes is not null then
{on_change}    end if;
end
"#,
        drop_now = literal(&format!("drop table {relation} cascade")),
        create_now = literal(&format!(
            "create table {relation} (like pg_temp.stackc_new_shape)"
        )),
    ));
    let drop_shape = do_block(
        "begin\n    if to_regclass('pg_temp.stackc_new_shape') is not null then\n        drop table pg_temp.stackc_new_shape;\n    end if;\nend\n",
    );
    format!(
        r#"{schema}
{drop}
-- The model's shape (no rows), to create the table from or compare it with.
-- (A leftover of an earlier model in this session goes first; `drop table if
-- exists` would print a notice that pg_temp does not exist when it does not.)
{drop_shape}create temporary table stackc_new_shape as
{sql}
with no data;

create table if not exists {relation} (like pg_temp.stackc_new_shape);

-- on_schema_change: {policy}.
{on_schema_change}
drop table pg_temp.stackc_new_shape;
{indexes}"#,
        schema = create_schema(relation),
        drop = drop_relation(relation, &["table"]),
        sql = sql.trim_end(),
        policy = policy.as_str(),
        indexes = index_statements(relation, &m.config.indexes),
    )
}

pub(super) fn incremental_load(m: &Model, sql: &str) -> String {
    let target = m.relation.to_string();
    // Named from the model's own select list, before any lookback wrapper.
    let columns = insert_columns(m);
    // The window's start is computed first, into a setting, so that the
    // planner sees its value when it plans the load (a subquery in the
    // filter gets a blind one-third estimate and a full scan of the table).
    let (prelude, sql) = match (&m.config.event_time, &m.config.lookback) {
        (Some(event_time), Some(lookback)) => {
            let col = quote_ident(event_time);
            let setting = literal(&lookback_setting(m));
            (
                format!(
                    "-- Written by stackc from config(event_time, lookback): re-read the last {}\n-- of {} before the newest row already loaded.\nselect set_config({setting}, coalesce(max({col}) - interval {}, '-infinity')::text, false)\nfrom {target};\n\n",
                    comment(lookback),
                    comment(event_time),
                    literal(lookback)
                ),
                format!(
                    "select *\nfrom (\n{}\n) as stackc_source\nwhere {col} > current_setting({setting})::timestamptz",
                    sql.trim_end(),
                ),
            )
        }
        _ => (String::new(), sql.trim_end().to_string()),
    };
    format!(
        "{prelude}{}",
        incremental_statement(m, &target, &columns, &sql)
    )
}

/// The setting that holds an incremental model's window start during its load.
pub(super) fn lookback_setting(m: &Model) -> String {
    format!("stackc.since_{}", m.name)
}

/// The load statement(s) of an incremental model's strategy.
pub(super) fn incremental_statement(m: &Model, target: &str, columns: &str, sql: &str) -> String {
    let keys: Vec<String> = m
        .config
        .unique_key
        .iter()
        .map(|k| quote_ident(k).into_owned())
        .collect();
    // dbt's `incremental_predicates`: SQL written against dbt's aliases
    // for the table (DBT_INTERNAL_DEST) and the new rows (DBT_INTERNAL_SOURCE).
    let predicates: Vec<String> = match m.config.dbt.get("incremental_predicates") {
        Some(serde_json::Value::String(p)) => vec![p.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let on = |a: &str, b: &str| {
        keys.iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .chain(predicates.iter().map(|p| {
                format!(
                    "({})",
                    p.replace("DBT_INTERNAL_DEST", a)
                        .replace("DBT_INTERNAL_SOURCE", b)
                )
            }))
            .collect::<Vec<_>>()
            .join("\n    and ")
    };
    match m.config.effective_strategy() {
        Strategy::Append => format!("insert into {target}{columns}\n{sql}\n;\n"),
        Strategy::DeleteInsert => {
            let tmp = quote_ident(&format!("{}__stackc_new", m.name)).into_owned();
            let select = match columns.trim() {
                "" => "*".to_string(),
                list => list
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .to_string(),
            };
            format!(
                "drop table if exists {tmp};\ncreate temporary table {tmp} as\n{sql}\n;\n\ndelete from {target} as target\nusing {tmp} as source\nwhere {};\n\ninsert into {target}{columns}\nselect {select} from {tmp};\n\ndrop table {tmp};\n",
                on("target", "source")
            )
        }
        Strategy::Merge => {
            let names = model_columns(m).unwrap_or_default();
            let columns: Vec<String> = names.iter().map(|c| quote_ident(c).into_owned()).collect();
            let updates: Vec<String> = columns
                .iter()
                .filter(|c| !keys.contains(c))
                .map(|c| format!("{c} = source.{c}"))
                .collect();
            let values: Vec<String> = columns.iter().map(|c| format!("source.{c}")).collect();
            let matched = if updates.is_empty() {
                "when matched then do nothing".to_string()
            } else {
                // Rows re-read by a lookback are mostly unchanged: updating
                // them anyway rewrites them and leaves dead tuples behind.
                let non_keys: Vec<(&String, &str)> = names
                    .iter()
                    .zip(&columns)
                    .filter(|(_, quoted)| !keys.contains(quoted))
                    .map(|(name, quoted)| (quoted, comparable_cast(m, name)))
                    .collect();
                let list = |side: &str| {
                    non_keys
                        .iter()
                        .map(|(c, cast)| format!("{side}.{c}{cast}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!(
                    "when matched and ({}) is distinct from ({}) then update set\n    {}",
                    list("target"),
                    list("source"),
                    updates.join(",\n    ")
                )
            };
            format!(
                "merge into {target} as target\nusing (\n{sql}\n) as source\non {}\n{matched}\nwhen not matched then insert ({})\n    values ({});\n",
                on("target", "source"),
                columns.join(", "),
                values.join(", ")
            )
        }
    }
}

/// The cast that makes a merge column comparable with `is distinct from`,
/// from the type the schema file declares: `json`, `xml` and the geometric
/// types have no `=`, and comparing a row that holds one fails. Other
/// columns compare as they are (a cast to text would update every row whose
/// source differs from the target in scale only, 1.5 against 1.50).
pub(super) fn comparable_cast(m: &Model, column: &str) -> &'static str {
    let Some(entry) = &m.entry else { return "" };
    let declared = entry
        .columns
        .iter()
        .find(|c| c.name == column || c.folded_name() == column)
        .and_then(|c| c.data_type.as_deref());
    let Some(declared) = declared else { return "" };
    let declared = declared.trim().to_ascii_lowercase();
    let base = declared
        .split(|c: char| c == '(' || c == '[' || c.is_whitespace())
        .next()
        .unwrap_or("");
    let array = declared.ends_with(']') || declared.ends_with(" array");
    match base {
        "json" if !array => "::jsonb",
        "json" => "::jsonb[]",
        "xml" | "point" | "line" | "lseg" | "box" | "path" | "polygon" | "circle" => "::text",
        _ => "",
    }
}

/// `refresh materialized view`, concurrently (readers keep the old rows
/// meanwhile) when a unique index allows it and the view already has rows:
/// PostgreSQL refuses a concurrent first refresh.
pub(super) fn matview_refresh(m: &Model) -> String {
    let target = m.relation.to_string();
    if !m.config.indexes.iter().any(|i| i.unique) {
        return format!("refresh materialized view {target};\n");
    }
    do_block(&format!(
        "begin\n    if (select ispopulated from pg_matviews where schemaname = {} and matviewname = {}) then\n        execute {};\n    else\n        execute {};\n    end if;\nend\n",
        literal(&m.relation.schema),
        literal(&m.relation.name),
        literal(&format!("refresh materialized view concurrently {target}")),
        literal(&format!("refresh materialized view {target}")),
    ))
}

/// ` (a, b, c)` when the query names all its columns: an incremental table
/// may have gained columns (`append_new_columns`), so inserts say which
/// they fill. Empty for `select *`, which then inserts by position.
pub(super) fn insert_columns(m: &Model) -> String {
    match &m.columns {
        Some(columns) => {
            let quoted: Vec<String> = columns
                .iter()
                .map(|c| quote_ident(c).into_owned())
                .collect();
            format!(" ({})", quoted.join(", "))
        }
        None => String::new(),
    }
}
