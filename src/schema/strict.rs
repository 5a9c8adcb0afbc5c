//! The key check: every key a schema file has that dbt's do not.

use crate::diagnostic::{Code, Diagnostic};

use super::keys::Node;

use super::entries::Cx;
use super::Strict;

/// Where a mapping sits in a schema file, for the key check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
    Top,
    Model,
    Version,
    Column,
    VersionColumn,
    Source,
    Table,
    Seed,
    Snapshot,
    Analysis,
    UnitTest,
    Given,
    Expect,
    Overrides,
    Macro,
    MacroArgument,
    /// Not checked: config mappings, test arguments, dbt-only resources.
    Any,
}

impl Ctx {
    pub(super) fn what(self) -> &'static str {
        match self {
            Ctx::Top => "at the top of a schema file",
            Ctx::Model => "in a model entry",
            Ctx::Version => "in a model version",
            Ctx::Column | Ctx::VersionColumn => "in a column entry",
            Ctx::Source => "in a source",
            Ctx::Table => "in a source table",
            Ctx::Seed => "in a seed entry",
            Ctx::Snapshot => "in a snapshot entry",
            Ctx::Analysis => "in an analysis entry",
            Ctx::UnitTest => "in a unit test",
            Ctx::Given => "in a unit test input",
            Ctx::Expect => "in a unit test's `expect`",
            Ctx::Overrides => "in a unit test's `overrides`",
            Ctx::Macro => "in a macro entry",
            Ctx::MacroArgument => "in a macro argument",
            Ctx::Any => "",
        }
    }

    /// The keys dbt's schema files allow here.
    pub(super) fn keys(self) -> &'static [&'static str] {
        const COLUMN: &[&str] = &[
            "name",
            "description",
            "data_type",
            "quote",
            "constraints",
            "tests",
            "data_tests",
            "meta",
            "tags",
            "config",
            "docs",
            "granularity",
            "policy_tags",
        ];
        match self {
            Ctx::Top => &[
                "version",
                "models",
                "sources",
                "seeds",
                "snapshots",
                "analyses",
                "macros",
                "exposures",
                "groups",
                "semantic_models",
                "metrics",
                "saved_queries",
                "unit_tests",
                "data_tests",
            ],
            Ctx::Model => &[
                "name",
                "description",
                "config",
                "columns",
                "tests",
                "data_tests",
                "meta",
                "docs",
                "access",
                "group",
                "contract",
                "constraints",
                "deprecation_date",
                "latest_version",
                "versions",
                "tags",
                "time_spine",
            ],
            Ctx::Version => &[
                "v",
                "defined_in",
                "description",
                "config",
                "columns",
                "tests",
                "data_tests",
                "meta",
                "docs",
                "access",
                "group",
                "contract",
                "constraints",
                "deprecation_date",
                "tags",
            ],
            Ctx::Column => COLUMN,
            Ctx::VersionColumn => &[
                "name",
                "description",
                "data_type",
                "quote",
                "constraints",
                "tests",
                "data_tests",
                "meta",
                "tags",
                "config",
                "docs",
                "granularity",
                "policy_tags",
                "include",
                "exclude",
            ],
            Ctx::Source => &[
                "name",
                "description",
                "database",
                "schema",
                "loader",
                "loaded_at_field",
                "loaded_at_query",
                "meta",
                "tags",
                "config",
                "overrides",
                "freshness",
                "quoting",
                "tables",
            ],
            Ctx::Table => &[
                "name",
                "description",
                "identifier",
                "quoting",
                "loaded_at_field",
                "loaded_at_query",
                "meta",
                "tags",
                "config",
                "freshness",
                "columns",
                "tests",
                "data_tests",
                "external",
                "docs",
            ],
            Ctx::Seed | Ctx::Snapshot => &[
                "name",
                "description",
                "config",
                "columns",
                "tests",
                "data_tests",
                "meta",
                "docs",
                "tags",
                "relation",
            ],
            Ctx::Analysis => &[
                "name",
                "description",
                "config",
                "columns",
                "docs",
                "meta",
                "tags",
            ],
            Ctx::UnitTest => &[
                "name",
                "model",
                "description",
                "given",
                "expect",
                "overrides",
                "config",
                "versions",
            ],
            Ctx::Given => &["input", "rows", "format", "fixture"],
            Ctx::Expect => &["rows", "format", "fixture"],
            Ctx::Overrides => &["macros", "vars", "env_vars"],
            Ctx::Macro => &["name", "description", "arguments", "docs", "meta", "config"],
            Ctx::MacroArgument => &["name", "type", "description"],
            Ctx::Any => &[],
        }
    }

    /// The context of the value under `key`, and whether it is a list of
    /// entries of that context.
    pub(super) fn child(self, key: &str) -> (Ctx, bool) {
        match (self, key) {
            (Ctx::Top, "models") => (Ctx::Model, true),
            (Ctx::Top, "sources") => (Ctx::Source, true),
            (Ctx::Top, "seeds") => (Ctx::Seed, true),
            (Ctx::Top, "snapshots") => (Ctx::Snapshot, true),
            (Ctx::Top, "analyses") => (Ctx::Analysis, true),
            (Ctx::Top, "unit_tests") => (Ctx::UnitTest, true),
            (Ctx::Top, "macros") => (Ctx::Macro, true),
            (Ctx::Model, "versions") => (Ctx::Version, true),
            (Ctx::Version, "columns") => (Ctx::VersionColumn, true),
            (Ctx::Model | Ctx::Table | Ctx::Seed | Ctx::Snapshot | Ctx::Analysis, "columns") => {
                (Ctx::Column, true)
            }
            (Ctx::Source, "tables") => (Ctx::Table, true),
            (Ctx::UnitTest, "given") => (Ctx::Given, true),
            (Ctx::UnitTest, "expect") => (Ctx::Expect, false),
            (Ctx::UnitTest, "overrides") => (Ctx::Overrides, false),
            (Ctx::Macro, "arguments") => (Ctx::MacroArgument, true),
            _ => (Ctx::Any, false),
        }
    }
}

/// Reports every key dbt's schema files do not have, as a warning naming
/// it (an error in a stackc project).
pub(super) fn check_keys(node: &Node, ctx: Ctx, cx: &Cx<'_>, out: &mut Vec<Strict>) {
    if ctx == Ctx::Any {
        return;
    }
    let Node::Map(entries) = node else {
        return;
    };
    let known = ctx.keys();
    for (key, value) in entries {
        if !known.contains(&key.value.as_str()) {
            let help = match crate::suggest::closest(&key.value, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? or remove the key"),
                None => format!("keys here: {}", known.join(", ")),
            };
            let mut span = cx.span(key);
            if span.range.is_empty() {
                span.range.end = (span.range.start + key.value.len()).min(cx.file.text.len());
            }
            out.push(Strict {
                native: Code::E0002,
                diagnostic: Diagnostic::new(
                    Code::W0050,
                    format!("unknown key `{}` {}", key.value, ctx.what()),
                )
                .at(span)
                .help(help),
            });
            continue;
        }
        let (child, list) = ctx.child(&key.value);
        match (value, list) {
            (Node::Seq(items), true) => {
                for item in items {
                    check_keys(item, child, cx, out);
                }
            }
            (value, false) => check_keys(value, child, cx, out),
            _ => {}
        }
    }
}
