//! SQL for the dbt configs that act on a built relation: `grants` and
//! `persist_docs`, as dbt-postgres applies them.

use std::fmt::Write;

use crate::quoting::{literal, quote_ident};
use crate::relation::Relation;
use crate::schema::ModelEntry;

/// Privileges PostgreSQL grants on tables and views; anything else in a
/// `grants` config is left out (it could not be a privilege).
const PRIVILEGES: &[&str] = &[
    "select",
    "insert",
    "update",
    "delete",
    "truncate",
    "references",
    "trigger",
    "all",
];

/// `grants: {select: [a, b]}` as (privilege, role) pairs, sorted.
pub fn grant_pairs(grants: Option<&serde_json::Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(map) = grants.and_then(|g| g.as_object()) else {
        return out;
    };
    for (privilege, roles) in map {
        let privilege = privilege.trim_start_matches('+').to_ascii_lowercase();
        if !PRIVILEGES.contains(&privilege.as_str()) {
            continue;
        }
        let roles: Vec<&str> = match roles {
            serde_json::Value::String(r) => vec![r.as_str()],
            serde_json::Value::Array(items) => items.iter().filter_map(|r| r.as_str()).collect(),
            _ => Vec::new(),
        };
        for role in roles {
            if !role.trim().is_empty() {
                out.push((privilege.clone(), role.trim().to_string()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn role(name: &str) -> String {
    if name.eq_ignore_ascii_case("public") {
        "public".into()
    } else {
        quote_ident(name).into_owned()
    }
}

/// Revokes what the config no longer lists, then grants what it lists, as
/// dbt-postgres does after a build. Empty when the model has no `grants`.
pub fn grants_sql(relation: &Relation, grants: Option<&serde_json::Value>) -> String {
    if grants.is_none() {
        return String::new();
    }
    let pairs = grant_pairs(grants);
    let mut s = String::from(
        "\n-- grants (dbt's `grants` config): revoke what is no longer listed, grant what is.\n",
    );
    let keep: Vec<String> = pairs
        .iter()
        .map(|(p, r)| {
            let r = if r.eq_ignore_ascii_case("public") {
                "PUBLIC"
            } else {
                r
            };
            format!("({}, {})", literal(&p.to_ascii_uppercase()), literal(r))
        })
        .collect();
    let body = format!(
        "do $stackc_grants$\ndeclare\n    g record;\nbegin\n    for g in\n        select privilege_type, grantee from information_schema.role_table_grants\n        where table_schema = {schema} and table_name = {name}\n          and grantee <> current_user{keep}\n    loop\n        execute format('revoke %s on %s from %s', g.privilege_type, {rel}, case when g.grantee = 'PUBLIC' then 'public' else quote_ident(g.grantee) end);\n    end loop;\nend\n$stackc_grants$;\n",
        schema = literal(&relation.schema),
        name = literal(&relation.name),
        rel = literal(&relation.to_string()),
        keep = if keep.is_empty() {
            String::new()
        } else {
            format!("\n          and (privilege_type, grantee) not in ({})", keep.join(", "))
        },
    );
    // Names are literals inside a dollar-quote: one holding the tag would
    // end it, so such a relation gets no revoke step (only its grants).
    if body.matches("$stackc_grants$").count() == 2 {
        s.push_str(&body);
    }
    for (privilege, r) in &pairs {
        let _ = writeln!(s, "grant {privilege} on {relation} to {};", role(r));
    }
    s
}

/// `comment on` the relation and its columns, for `persist_docs`.
pub fn comments_sql(
    relation: &Relation,
    kind: &str,
    persist: Option<&serde_json::Value>,
    entry: Option<&ModelEntry>,
) -> String {
    let (Some(persist), Some(entry)) = (persist, entry) else {
        return String::new();
    };
    let flag = |k: &str| persist.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    let mut s = String::new();
    if flag("relation") {
        if let Some(d) = entry.description.as_deref().filter(|d| !d.is_empty()) {
            let _ = writeln!(s, "comment on {kind} {relation} is {};", literal(d));
        }
    }
    if flag("columns") {
        for c in &entry.columns {
            if let Some(d) = c.description.as_deref().filter(|d| !d.is_empty()) {
                let _ = writeln!(
                    s,
                    "comment on column {relation}.{} is {};",
                    quote_ident(&c.name),
                    literal(d)
                );
            }
        }
    }
    if s.is_empty() {
        s
    } else {
        format!("\n-- persist_docs: descriptions from the schema file.\n{s}")
    }
}

/// Hook statements, each ending in `;`, under a `-- <label>` line; empty
/// without hooks. `before` puts the blank line after them (they precede
/// the build), else before them.
pub fn hooks_sql(label: &str, hooks: &[String], before: bool) -> String {
    if hooks.is_empty() {
        return String::new();
    }
    let mut s = format!("-- {label}\n");
    for h in hooks {
        let h = h.trim_end();
        s.push_str(h);
        if !h.ends_with(';') {
            s.push(';');
        }
        s.push('\n');
    }
    if before {
        s.push('\n');
        s
    } else {
        format!("\n{s}")
    }
}
