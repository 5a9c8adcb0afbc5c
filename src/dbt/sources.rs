//! A source's `database:` in a dbt project. One PostgreSQL connection reads
//! one database; dbt-postgres only fails at run time ("cross-database
//! references are not implemented"), and reading the source from the
//! target's database instead would silently read the wrong table. So a
//! database other than the target's is the compile-time error a model in
//! another database is (E0038).

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::schema::SchemaFile;

use super::profiles::Target;

/// Reports every source whose `database:` (rendered when it is Jinja, with
/// `var`, `env_var` and `target` as dbt renders it) is not the target's.
pub fn check_databases(
    files: &[SchemaFile],
    vars: &BTreeMap<String, serde_json::Value>,
    target: &Target,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let target_json = super::profiles::target_json(target);
    for source in files.iter().flat_map(|f| &f.sources) {
        let Some((text, span)) = &source.database else {
            continue;
        };
        let database = if text.contains("{{") || text.contains("{%") {
            match super::profiles::render_value(text, vars, Some(&target_json)) {
                Ok(out) => out.trim().to_string(),
                Err(message) => {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0038,
                            format!(
                                "the database of source `{}` (`{text}`) cannot be rendered: {message}",
                                source.name
                            ),
                        )
                        .at(span.clone())
                        .help("a source's `database:` may use var(), env_var() and target; give var() a default or set the var"),
                    );
                    continue;
                }
            }
        } else {
            text.trim().to_string()
        };
        if database.is_empty() || target.database.is_empty() || database == target.database {
            continue;
        }
        diagnostics.push(
            Diagnostic::new(
                Code::E0038,
                format!(
                    "source `{}` would be read from database `{database}`, but the target is database `{}`",
                    source.name, target.database
                ),
            )
            .at(span.clone())
            .help("PostgreSQL cannot read across databases in one connection: remove `database:` (the source is then read from the target's database), or load the tables into the target's database"),
        );
    }
}
