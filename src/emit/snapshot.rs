//! A dbt snapshot as dbt-postgres builds it: a table of the query's columns
//! plus `dbt_scd_id`, `dbt_updated_at`, `dbt_valid_from` and `dbt_valid_to`.
//! The migration creates it empty; every run compares the query with the
//! open versions (a staging table of inserts, updates and deletes, as
//! dbt's `snapshot_staging_table`), closes the changed ones and inserts the
//! new ones. On an empty table that inserts every row with the values of
//! dbt's first build, so one run step serves the first run and every later.

use super::migrations::{create_schema, do_block, drop_relation};
use crate::dbt::snapshot::{HardDeletes, Kind, Strategy};
use crate::node::Model;
use crate::sql::{fit_identifier, literal, quote_ident};

/// dbt-postgres's `snapshot_get_time()`.
const NOW: &str = "now()::timestamp without time zone";

/// Set by each run before its comparison: whether the query gained a
/// column that the check strategy compares (dbt counts every row changed).
const COLUMNS_ADDED: &str = "stackc.snapshot_columns_added";

fn updated_at(s: &Strategy) -> &str {
    match &s.kind {
        Kind::Timestamp { updated_at } => updated_at,
        Kind::Check {
            updated_at: Some(u),
            ..
        } => u,
        Kind::Check { .. } => NOW,
    }
}

/// dbt's `snapshot_hash_arguments`: the key parts and `updated_at`.
fn scd_id(s: &Strategy) -> String {
    let parts: Vec<String> = s
        .unique_key
        .iter()
        .map(String::as_str)
        .chain([updated_at(s)])
        .map(|a| format!("coalesce(cast({a} as varchar ), '')"))
        .collect();
    format!("md5({})", parts.join(" || '|' || "))
}

fn valid_to_current(s: &Strategy) -> String {
    let u = updated_at(s);
    format!(
        "coalesce(nullif({u}, {u}), {})",
        s.valid_to_current.as_deref().unwrap_or("null")
    )
}

fn key_names(s: &Strategy) -> Vec<String> {
    match s.unique_key.len() {
        1 => vec!["dbt_unique_key".into()],
        n => (1..=n).map(|i| format!("dbt_unique_key_{i}")).collect(),
    }
}

fn key_fields(s: &Strategy) -> String {
    s.unique_key
        .iter()
        .zip(key_names(s))
        .map(|(k, n)| format!("{k} as {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_join(s: &Strategy) -> String {
    let names = key_names(s);
    if names.len() == 1 {
        return "snapshotted_data.dbt_unique_key = source_data.dbt_unique_key".into();
    }
    names
        .iter()
        .map(|n| format!("(snapshotted_data.{n} = source_data.{n})"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The open versions: `dbt_valid_to` NULL, or `dbt_valid_to_current`.
fn is_open(s: &Strategy, table: &str) -> String {
    let valid_to = quote_ident(&s.meta.valid_to);
    match &s.valid_to_current {
        Some(current) => {
            format!("(({table}{valid_to} = {current}) or {table}{valid_to} is null)")
        }
        None => format!("{table}{valid_to} is null"),
    }
}

fn row_changed(s: &Strategy) -> String {
    match &s.kind {
        Kind::Timestamp { updated_at } => format!(
            "(snapshotted_data.{} < source_data.{updated_at})",
            quote_ident(&s.meta.valid_from)
        ),
        Kind::Check { columns, .. } => {
            let compared = match columns {
                Some(columns) => columns
                    .iter()
                    .map(|c| {
                        let (a, b) = (format!("snapshotted_data.{c}"), format!("source_data.{c}"));
                        format!("{a} != {b}\n        or\n        (\n            (({a} is null) and not ({b} is null))\n            or\n            ((not {a} is null) and ({b} is null))\n        )")
                    })
                    .collect::<Vec<_>>()
                    .join(" or "),
                // `check_cols: all`: every column of the query, compared
                // as dbt compares them (NULL equal to NULL); the row's own
                // columns are not known before the query runs.
                None => {
                    let mut added: Vec<String> = key_names(s);
                    added.extend(
                        [
                            &s.meta.scd_id,
                            &s.meta.updated_at,
                            &s.meta.valid_from,
                            &s.meta.valid_to,
                        ]
                        .map(|c| c.to_string()),
                    );
                    let added: Vec<String> = added.iter().map(|a| literal(a)).collect();
                    format!(
                        "exists (\n            select 1\n            from jsonb_each(to_jsonb(source_data) - array[{}]::text[]) as q\n            where q.value is distinct from to_jsonb(snapshotted_data) -> q.key\n        )",
                        added.join(", ")
                    )
                }
            };
            format!(
                "(\n        current_setting({}) = 'on'\n        or {compared}\n    )",
                literal(COLUMNS_ADDED)
            )
        }
    }
}

/// The snapshot's migration: the schema, and the table when it is missing
/// (a snapshot's rows are its history: never dropped, never rebuilt).
pub fn migration(m: &Model, s: &Strategy, sql: &str) -> String {
    let relation = &m.relation;
    let u = updated_at(s);
    format!(
        "{schema}\n{drop}\n-- dbt's snapshot table: the query's columns, then the snapshot's own.\ncreate table if not exists {relation} as\nselect *,\n    {scd} as {scd_id},\n    {u} as {updated},\n    {u} as {from},\n    {to_current} as {to}{deleted}\nfrom (\n{sql}\n) sbq\nwith no data;\n",
        schema = create_schema(relation),
        drop = drop_relation(relation, &["table"]),
        scd = scd_id(s),
        scd_id = quote_ident(&s.meta.scd_id),
        updated = quote_ident(&s.meta.updated_at),
        from = quote_ident(&s.meta.valid_from),
        to_current = valid_to_current(s),
        to = quote_ident(&s.meta.valid_to),
        deleted = if s.hard_deletes == HardDeletes::NewRecord {
            format!(",\n    'False' as {}", quote_ident(&s.meta.is_deleted))
        } else {
            String::new()
        },
        sql = sql.trim_end(),
    )
}

/// One run of the snapshot.
pub fn run(m: &Model, s: &Strategy, sql: &str) -> String {
    let target = m.relation.to_string();
    let name = literal(&target);
    let sql = sql.trim_end();
    let tmp = quote_ident(&fit_identifier(&format!("{}__dbt_tmp", m.name))).into_owned();
    let shape = quote_ident(&fit_identifier(&format!("{}__stackc_shape", m.name))).into_owned();
    let meta = &s.meta;
    let (scd, upd, from, to) = (
        quote_ident(&meta.scd_id),
        quote_ident(&meta.updated_at),
        quote_ident(&meta.valid_from),
        quote_ident(&meta.valid_to),
    );
    let u = updated_at(s);
    let keys = key_fields(s);
    let join = key_join(s);
    let first_key = &key_names(s)[0];
    // Which added columns make every row count as changed (dbt's
    // `column_added` of the check strategy): any, or one of check_cols.
    let counts = match &s.kind {
        Kind::Timestamp { .. } => "false".to_string(),
        Kind::Check { columns: None, .. } => "true".to_string(),
        Kind::Check {
            columns: Some(c), ..
        } => format!(
            "col.attname = any (array[{}]::text[])",
            c.iter().map(|c| literal(c)).collect::<Vec<_>>().join(", ")
        ),
    };
    let add_columns = do_block(&format!(
        "declare\n    col record;\n    added boolean := false;\nbegin\n    for col in\n        select n.attname, format_type(n.atttypid, n.atttypmod) as type\n        from pg_attribute n\n        where n.attrelid = {shape_name}::regclass and n.attnum > 0 and not n.attisdropped\n          and not exists (select 1 from pg_attribute o where o.attrelid = {name}::regclass and o.attname = n.attname and not o.attisdropped)\n        order by n.attnum\n    loop\n        execute format('alter table %s add column %I %s', {name}, col.attname, col.type);\n        added := added or {counts};\n    end loop;\n    perform set_config({setting}, case when added then 'on' else 'off' end, false);\nend\n",
        shape_name = literal(&format!("pg_temp.{shape}")),
        setting = literal(COLUMNS_ADDED),
    ));
    let deletes = s.hard_deletes != HardDeletes::Ignore;
    let new_record = s.hard_deletes == HardDeletes::NewRecord;
    let del = quote_ident(&meta.is_deleted);
    // `new_record` switched on for a table made without it: dbt 1.10
    // refuses the table ("missing configured columns"); stackc adds the
    // column and marks every version so far as not deleted, so that the
    // history goes on instead of having to be rebuilt.
    let add_is_deleted = if new_record {
        format!(
            "-- hard deletes: new_record on a table made without it: its column, 'False' so far.\n{}",
            do_block(&format!(
                "begin\n    if not exists (select 1 from pg_attribute where attrelid = {name}::regclass and attname = {col} and not attisdropped) then\n        execute format('alter table %s add column %I text', {name}, {col});\n        execute format('update %s set %I = ''False''', {name}, {col});\n    end if;\nend\n",
                col = literal(&meta.is_deleted),
            ))
        )
    } else {
        String::new()
    };
    // dbt's new_record: a deleted version counts as changed, so a key that
    // comes back closes it and opens a live version; a key already marked
    // deleted is not deleted again.
    let (mark_live, carry_mark, was_deleted, not_again) = if new_record {
        (
            format!(",\n        'False' as {del}"),
            format!(",\n        snapshotted_data.{del}"),
            format!(" or snapshotted_data.{del} = 'True'"),
            format!(
                "\n      and not (snapshotted_data.{del} = 'True' and {})",
                match &s.valid_to_current {
                    Some(current) => format!("snapshotted_data.{to} = {current}"),
                    None => format!("snapshotted_data.{to} is null"),
                }
            ),
        )
    } else {
        Default::default()
    };
    let mut staging = format!(
        "with snapshot_query as (\n{sql}\n),\nsnapshotted_data as (\n    select *, {keys}\n    from {target}\n    where {open}\n),\ninsertions_source_data as (\n    select *, {keys},\n        {u} as {upd},\n        {u} as {from},\n        {to_current} as {to},\n        {scd_expr} as {scd}\n    from snapshot_query\n),\nupdates_source_data as (\n    select *, {keys},\n        {u} as {upd},\n        {u} as {from},\n        {u} as {to}\n    from snapshot_query\n),\n",
        open = is_open(s, ""),
        to_current = valid_to_current(s),
        scd_expr = scd_id(s),
    );
    if deletes {
        staging.push_str(&format!(
            "deletes_source_data as (\n    select *, {keys}\n    from snapshot_query\n),\n"
        ));
    }
    let changed = format!("{}{was_deleted}", row_changed(s));
    staging.push_str(&format!(
        "insertions as (\n    select 'insert' as dbt_change_type, source_data.*{mark_live}\n    from insertions_source_data as source_data\n    left outer join snapshotted_data\n        on {join}\n    where snapshotted_data.{first_key} is null\n       or (snapshotted_data.{first_key} is not null and (\n        {changed}\n    ))\n),\nupdates as (\n    select 'update' as dbt_change_type, source_data.*, snapshotted_data.{scd}{carry_mark}\n    from updates_source_data as source_data\n    join snapshotted_data\n        on {join}\n    where (\n        {changed}\n    )\n)"
    ));
    if deletes {
        staging.push_str(&format!(
            ",\ndeletes as (\n    select 'delete' as dbt_change_type, source_data.*,\n        {NOW} as {from},\n        {NOW} as {upd},\n        {NOW} as {to},\n        snapshotted_data.{scd}{carry_mark}\n    from snapshotted_data\n    left join deletes_source_data as source_data\n        on {join}\n    where source_data.{first_key} is null{not_again}\n)"
        ));
    }
    staging.push_str("\nselect * from insertions\nunion all\nselect * from updates");
    if deletes {
        staging.push_str("\nunion all\nselect * from deletes");
    }
    let not_inserted: Vec<String> = ["dbt_change_type".to_string()]
        .into_iter()
        .chain(key_names(s))
        .map(|n| literal(&n))
        .collect();
    let insert = do_block(&format!(
        "declare\n    cols text;\nbegin\n    select string_agg(quote_ident(attname), ', ' order by attnum) into cols\n    from pg_attribute\n    where attrelid = {tmp_name}::regclass and attnum > 0 and not attisdropped\n      and attname <> all (array[{not_inserted}]::text[]);\n    execute format('insert into %s (%s) select %s from %s where dbt_change_type = ''insert''', {name}, cols, cols, {tmp_name});\nend\n",
        tmp_name = literal(&format!("pg_temp.{tmp}")),
        not_inserted = not_inserted.join(", "),
    ));
    // dbt's `deletion_records`: before the deleted versions are closed, a
    // copy of each opens with `dbt_is_deleted = 'True'`. The query's
    // columns are known only when it runs: those of the staging table.
    let deletion_records = if new_record {
        let mut skipped: Vec<String> = not_inserted.clone();
        skipped.extend(
            [
                &meta.scd_id,
                &meta.updated_at,
                &meta.valid_from,
                &meta.valid_to,
                &meta.is_deleted,
            ]
            .map(|c| literal(c)),
        );
        let own = format!("{from}, {upd}, {to}, {scd}, {del}");
        let values = format!(
            "{NOW}, {NOW}, t.{to}, md5(coalesce(cast(t.{scd} as varchar ), '') || '|' || coalesce(cast({NOW} as varchar ), '')), 'True'"
        );
        let on = format!(
            "d.{scd}::text = t.{scd}::text and d.dbt_change_type = 'delete' and {}",
            is_open(s, "t.")
        );
        format!(
            "-- Deleted keys: a new version marked deleted (hard deletes: new_record).\n{}",
            do_block(&format!(
                "declare\n    cols text;\n    picked text;\nbegin\n    select string_agg(quote_ident(attname), ', ' order by attnum),\n           string_agg('t.' || quote_ident(attname), ', ' order by attnum)\n      into cols, picked\n    from pg_attribute\n    where attrelid = {tmp_name}::regclass and attnum > 0 and not attisdropped\n      and attname <> all (array[{skipped}]::text[]);\n    execute format('insert into %s (%s, %s) select %s, %s from %s as t join %s as d on %s', {name}, cols, {own}, picked, {values}, {name}, {tmp_name}, {on});\nend\n",
                tmp_name = literal(&format!("pg_temp.{tmp}")),
                skipped = skipped.join(", "),
                own = literal(&own),
                values = literal(&values),
                on = literal(&on),
            ))
        )
    } else {
        String::new()
    };
    let leftover = |t: &str| {
        do_block(&format!(
            "begin\n    if to_regclass({0}) is not null then\n        drop table {1};\n    end if;\nend\n",
            literal(&format!("pg_temp.{t}")),
            format_args!("pg_temp.{t}")
        ))
    };
    format!(
        "-- Columns the query gained since the snapshot table was made are added to it.\n{drop_shape}create temporary table {shape} as\nselect * from (\n{sql}\n) sbq\nwith no data;\n\n{add_columns}drop table pg_temp.{shape};\n\n{add_is_deleted}-- What changed: new rows and versions to insert, open versions to close\n-- (hard deletes: {hard}).\n{drop_tmp}create temporary table {tmp} as\n{staging}\n;\n\n{deletion_records}update {target}\nset {to} = DBT_INTERNAL_SOURCE.{to}\nfrom pg_temp.{tmp} as DBT_INTERNAL_SOURCE\nwhere DBT_INTERNAL_SOURCE.{scd}::text = {target}.{scd}::text\n  and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update'::text, 'delete'::text)\n  and {open};\n\n-- The new versions, by column name.\n{insert}drop table pg_temp.{tmp};\n",
        drop_shape = leftover(&shape),
        drop_tmp = leftover(&tmp),
        hard = match s.hard_deletes {
            HardDeletes::Ignore => "ignore",
            HardDeletes::Invalidate => "invalidate",
            HardDeletes::NewRecord => "new_record",
        },
        open = is_open(s, &format!("{target}.")),
    )
}
