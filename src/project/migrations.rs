//! Hand-written Flyway migrations: their names and versions.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, Span};

use super::{Migration, MigrationKind};

/// Splits a Flyway file name (relative to `migrations/`) into its kind,
/// version text and description, as Flyway does.
pub fn parse_migration_name(script: &str) -> Result<(MigrationKind, String, String), String> {
    let file_name = script.rsplit('/').next().unwrap_or(script);
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return Err("it does not end in `.sql`".into());
    };
    let Some((prefix, description)) = stem.split_once("__") else {
        return Err("there is no `__` between the version and the description".into());
    };
    let description = description.replace('_', " ");
    if description.trim().is_empty() {
        return Err("the description after `__` is empty".into());
    }
    if prefix == "R" {
        return Ok((MigrationKind::Repeatable, String::new(), description));
    }
    let Some(version) = prefix.strip_prefix('V') else {
        return Err(match prefix.chars().next() {
            Some('v') => "the prefix must be an upper-case `V`".into(),
            Some('r') => "the prefix must be an upper-case `R`".into(),
            Some('B') | Some('U') => {
                "baseline (B) and undo (U) migrations are not supported".into()
            }
            _ => format!("the prefix `{prefix}` is neither `V<version>` nor `R`"),
        });
    };
    if version.is_empty() {
        return Err("the version after `V` is empty".into());
    }
    let mut parts = Vec::new();
    for part in version.split(['.', '_']) {
        match part.parse::<u64>() {
            Ok(n) if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) => parts.push(n),
            _ => {
                return Err(format!(
                    "the version `{version}` must be numbers separated by `.` or `_`"
                ))
            }
        }
    }
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    Ok((
        MigrationKind::Versioned(parts),
        version.replace('_', "."),
        description,
    ))
}

pub(super) fn check_duplicate_versions(
    migrations: &[Migration],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut seen: BTreeMap<&[u64], &Migration> = BTreeMap::new();
    for m in migrations {
        if let MigrationKind::Versioned(v) = &m.kind {
            if let Some(first) = seen.get(v.as_slice()) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0004,
                        format!(
                            "duplicate migration version {}: `{}` and `{}`",
                            m.version_text, first.file.path, m.file.path
                        ),
                    )
                    .at_file(&m.file.path, 0..0)
                    .related(Span::new(&first.file.path, 0..0), "first used here")
                    .help("give one of them a new version; versions compare numerically, so `1` and `1.0` are the same"),
                );
            } else {
                seen.insert(v, m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unused_imports)]
    use super::super::*;

    #[test]
    fn description_replaces_underscores() {
        let (kind, text, desc) = parse_migration_name("V1.1__create_raw_sales.sql").unwrap();
        assert_eq!(kind, MigrationKind::Versioned(vec![1, 1]));
        assert_eq!(text, "1.1");
        assert_eq!(desc, "create raw sales");
        let (kind, _, desc) = parse_migration_name("R__raw_comments.sql").unwrap();
        assert_eq!(kind, MigrationKind::Repeatable);
        assert_eq!(desc, "raw comments");
    }

    #[test]
    fn bad_names_say_why() {
        for name in [
            "create.sql",
            "V1_create.sql",
            "v1__x.sql",
            "V__x.sql",
            "V1a__x.sql",
            "V1__.sql",
            "B1__x.sql",
        ] {
            assert!(parse_migration_name(name).is_err(), "{name}");
        }
    }
}
