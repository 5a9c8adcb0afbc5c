//! What a rebuild's `drop ... cascade` takes along that this apply does not
//! build again. A repeatable migration of a table, seed or view drops the
//! relation with `cascade`; PostgreSQL then drops every view on it and
//! every foreign key other tables hold on it. The views and tables of the
//! project are rebuilt along (see [`super::selected`]); a view or foreign
//! key the project does not declare (made by hand, by another tool, by a
//! versioned migration on a generated table) would vanish unsaid. They are
//! named before anything runs, as warnings.

use std::collections::BTreeMap;

use postgres::Client;

use super::artifacts::Manifest;
use super::plan::Planned;

/// The materializations whose repeatable migration drops the relation
/// whatever it holds. An incremental model keeps its table but with
/// `--full-refresh` (when its shape changed); a snapshot always does.
const DROPPED: [&str; 4] = ["table", "seed", "view", "materialized_view"];

/// One warning for each view and foreign key on a relation that the
/// migrations in `planned` drop, unless its own relation is rebuilt by
/// them too.
pub fn lost_to_cascade(
    client: &mut Client,
    manifest: &Manifest,
    planned: &[Planned],
    full_refresh: bool,
) -> Result<Vec<String>, postgres::Error> {
    let drops = |materialization: &str| {
        DROPPED.contains(&materialization) || (full_refresh && materialization == "incremental")
    };
    // The relation each dropping migration belongs to, by its file.
    let mut relation_of: BTreeMap<&str, &str> = BTreeMap::new();
    for node in manifest.nodes.values() {
        let (materialization, relation) = match node {
            crate::manifest::Node::Model(m) => (&m.materialization, m.relation.as_ref()),
            crate::manifest::Node::Seed(s) => (&s.materialization, Some(&s.relation)),
            crate::manifest::Node::Test(_) | crate::manifest::Node::Analysis(_) => continue,
        };
        if let (true, Some(relation)) = (drops(materialization), relation) {
            for file in node.artifacts() {
                relation_of.insert(file, relation);
            }
        }
    }
    let mut dropped: Vec<String> = planned
        .iter()
        .filter_map(|p| relation_of.get(manifest.migrations[p.index].file.as_str()))
        .map(|r| r.to_string())
        .collect();
    if dropped.is_empty() {
        return Ok(Vec::new());
    }
    dropped.sort();
    dropped.dedup();
    let mut warnings = Vec::new();
    // Foreign keys only reference tables; `to_regclass` is null for a
    // relation that does not exist yet, which holds nothing.
    let keys = client.query(
        "with dropped as (
            select to_regclass(r) as oid from unnest($1::text[]) as r where to_regclass(r) is not null
        )
        select c.conname::text, c.conrelid::regclass::text, c.confrelid::regclass::text
        from pg_constraint c
        where c.contype = 'f'
          and c.confrelid in (select oid from dropped)
          and c.conrelid not in (select oid from dropped)
        order by 2, 1",
        &[&dropped],
    )?;
    for row in keys {
        let (name, table, target): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        warnings.push(format!(
            "foreign key {} of table {table} references {target}, which this apply rebuilds: `drop table {target} cascade` drops the constraint, and the project does not declare it, so nothing creates it again; declare it in a contract (`constraints: [{{type: foreign_key, to: ...}}]` of a model) or add it again after the apply",
            crate::sql::quote_ident(&name)
        ));
    }
    let views = client.query(
        "with dropped as (
            select to_regclass(r) as oid from unnest($1::text[]) as r where to_regclass(r) is not null
        )
        select distinct v.oid::regclass::text, d.refobjid::regclass::text,
            case v.relkind when 'm' then 'materialized view' else 'view' end
        from pg_depend d
        join pg_rewrite w on d.classid = 'pg_rewrite'::regclass and w.oid = d.objid
        join pg_class v on v.oid = w.ev_class
        where d.refclassid = 'pg_class'::regclass
          and d.refobjid in (select oid from dropped)
          and v.oid not in (select oid from dropped)
        order by 1, 2",
        &[&dropped],
    )?;
    for row in views {
        let (view, target, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        warnings.push(format!(
            "{kind} {view} reads {target}, which this apply rebuilds: `drop ... {target} cascade` drops {view} (and whatever is built on it), and it is not a node of this apply, so nothing creates it again; make it a model of the project, or create it again after the apply"
        ));
    }
    Ok(warnings)
}
