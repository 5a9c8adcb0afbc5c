//! Every diagnostic code stackc reports, in one table: its severity, a
//! one-line title and the anchor of its section in `docs/diagnostics.md`.
//!
//! apply's failures carry PostgreSQL's SQLSTATE as their code
//! ([`Code::Sqlstate`]); those are PostgreSQL's codes, documented by
//! PostgreSQL, and so are not in the table.

use std::fmt;

use super::Severity;

/// Declares [`Code`] from rows `CODE: Severity, "title";`.
macro_rules! codes {
    ($($code:ident: $severity:ident, $title:literal;)*) => {
        /// A diagnostic code. The table below is the only place a code's
        /// severity and title are written down.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($code,)*
            /// A PostgreSQL error reported by `stackc apply`, by its SQLSTATE.
            Sqlstate(Sqlstate),
            /// A failure of `stackc apply` that PostgreSQL did not number
            /// (a connection, a lock, a missing artifact).
            Apply,
        }

        impl Code {
            /// Every code of the table, in its order.
            pub const ALL: &'static [Code] = &[$(Code::$code),*];

            fn row(self) -> Option<(&'static str, Severity, &'static str)> {
                match self {
                    $(Code::$code => Some((stringify!($code), Severity::$severity, $title)),)*
                    Code::Sqlstate(_) | Code::Apply => None,
                }
            }
        }
    };
}

// To add a code:
// 1. pick a free number in your area (grep `docs/diagnostics.md` and
//    `src/` for it first): `E` numbers are errors, `W` numbers warnings by
//    convention, but the severity written in the row is what counts;
// 2. add a row here, in order: `E0160: Error, "what it means in one line";`
//    (the title is the row's text in "Codes at a glance");
// 3. add its row to "Codes at a glance" and a `### E0160` section to
//    `docs/diagnostics.md`, and a fixture `tests/fixtures/err_e0160_*`;
//    `tests/diagnostics.rs` fails until all three agree with this table;
// 4. report it with `Diagnostic::new(Code::E0160, "message")`.
codes! {
    E0001: Error, "`stackc.toml` missing, not valid TOML, an unknown key, or no `[project] name`";
    E0002: Error, "a schema file (`models/**/*.yml`) is not valid: YAML syntax, unknown field, duplicate key, `version` other than 2";
    E0003: Error, "a file in `migrations/` does not have a Flyway name";
    E0004: Error, "two versioned migrations have the same version (`V1` and `V1.0`)";
    E0005: Error, "two nodes (model, seed) share a name, or a file name is not a valid name";
    E0006: Error, "a project file cannot be read or is not UTF-8";
    E0007: Error, "a seed CSV is not valid";
    E0010: Error, "a file or folder name, or a name in a schema file, stackc.toml or a config, contains a control character (a newline, a tab)";
    E0011: Error, "a model, seed, schema or column name longer than PostgreSQL's 63 bytes";
    E0012: Error, "two names PostgreSQL would cut to the same identifier";
    E0030: Error, "`dbt_project.yml` or `profiles.yml` is not valid YAML";
    E0031: Error, "`dbt_project.yml` has no valid `name`, or a key has the wrong shape";
    E0034: Error, "a `profiles.yml` value cannot be read (`env_var()` unset without default)";
    E0035: Error, "the profile named by `dbt_project.yml` is not in `profiles.yml`";
    E0036: Error, "the target is not among the profile's outputs, or has no `schema`";
    E0037: Error, "the target is not `type: postgres`";
    E0038: Error, "a node would be built in another database than the target's";
    E0039: Error, "`ref()` to a disabled model or seed";
    E0040: Error, "`doc('x')` names no `{% docs %}` block, or a docs block is unclosed or defined twice";
    E0041: Error, "a seed's `delimiter` (`seeds:` tree or a seed entry's `config:`) is not one character";
    E0042: Error, "a `{% snapshot %}` block without a name, unclosed, or an `{% endsnapshot %}` without one";
    E0043: Error, "a snapshot's strategy is incomplete: no `unique_key`, `strategy`, `updated_at` or `check_cols`";
    E0045: Error, "a value in the `tests:`/`data_tests:` tree of dbt_project.yml that no test could have";
    E0101: Error, "Jinja syntax error, or a block (`{% if %}`, `{% for %}`, …) never closed";
    E0102: Error, "Jinja render error: undefined name, unknown function or macro";
    E0103: Error, "`var('x')` is not defined and has no default";
    E0104: Error, "`env_var('X')` is not set and has no default";
    E0105: Error, "unknown config key, or a config value of the wrong type";
    E0106: Error, "a macro is defined twice, or hides a builtin (`ref`, `source`, …)";
    E0120: Error, "a Jinja expression nested too deeply to compile safely";
    E0121: Error, "a render did more work than one render may do (a runaway loop)";
    E0150: Error, "a package in packages.yml / dependencies.yml is not installed under `dbt_packages/`";
    E0151: Error, "`pkg.macro(...)` names a macro the package does not define";
    E0152: Error, "`adapter.dispatch` finds no `postgres__` or `default__` implementation";
    E0153: Error, "`run_query`, `statement` or a query of the adapter: the SQL would need a database";
    E0154: Error, "a macro called `exceptions.raise_compiler_error`";
    E0155: Error, "`ref('project', 'model')` names a project the model does not belong to";
    E0156: Error, "`name.macro(...)` where `name` is no installed package or project";
    E0157: Error, "`modules.datetime` asked for the clock, `run_started_at` used, or `modules.re` asked for a pattern stackc cannot run";
    E0170: Error, "`adapter.get_columns_in_relation` of a relation whose columns the project does not declare";
    E0201: Error, "SQL syntax error in a model or singular test";
    E0204: Error, "a model or test that is not exactly one query";
    E0220: Error, "a model or test nested too deeply for the SQL checker";
    E0240: Error, "a column that no relation in scope has";
    E0241: Error, "an unqualified column that two relations in scope have";
    E0242: Error, "the sides of a set operation have different numbers of columns, or column types PostgreSQL cannot match";
    E0243: Error, "`group by` / `order by` position beyond the select list";
    E0246: Error, "`unique_key`, `event_time`, an index or a snapshot's `updated_at`/`check_cols` names a column the model does not select";
    E0247: Error, "values PostgreSQL cannot bring to one type (`values` rows, `case`, `coalesce`, `greatest`/`least`), or a literal it cannot read as that type";
    E0248: Error, "a model selects two columns of one name, which `create table as` and `create view` refuse";
    E0301: Error, "`ref()` to a model or seed that does not exist";
    E0302: Error, "`source()` to a table that no schema file declares";
    E0303: Error, "dependency cycle between models";
    E0304: Error, "a model refers to itself with `ref()`";
    E0305: Error, "a schema-file entry for a model or seed that does not exist, or a duplicate entry or column";
    E0306: Error, "a `relationships` test points to an unknown model, source or column";
    E0307: Error, "unknown materialization";
    E0308: Error, "incremental configuration rule broken";
    E0310: Error, "invalid or unknown generic test";
    E0311: Error, "invalid unit test";
    E0312: Error, "a project migration has the name of a repeatable migration stackc generates";
    E0330: Error, "a model with an enforced contract has a column without `data_type`, or no columns";
    E0331: Error, "a model with an enforced contract does not select the contract's columns";
    W0032: Warning, "a key in `dbt_project.yml` (top level or config tree) that dbt does not know";
    W0033: Warning, "a `stackc.toml` section that `dbt_project.yml` overrides beside it";
    W0034: Warning, "no `profiles.yml` found: compiled for the default target";
    W0035: Warning, "a config key dbt does not know, in a dbt project";
    W0036: Warning, "a config dbt accepts that does nothing on PostgreSQL, in a dbt project";
    W0050: Warning, "a schema-file key dbt does not have (dbt project; E0002 in a stackc project)";
    W0054: Warning, "an exposure, semantic model or metric depends on a node that is not there";
    W0180: Warning, "a dbt project's model needs the database at compile time: it is not built, nor what reads it";
    W0202: Warning, "a migration the SQL checker cannot parse, or an empty repeatable migration";
    W0203: Warning, "a hard-coded `schema.table` that `ref()` or `source()` should name";
    W0244: Warning, "a natural join: it joins on whatever columns the two sides share";
    W0245: Warning, "a schema file's `data_type` of another kind than the model's query makes";
    W0309: Warning, "a source table that no migration creates";
    W0330: Warning, "a schema entry for a model, seed or snapshot that does not exist (dbt project; E0305 in a stackc project)";
    W0331: Warning, "a described column the model does not select (dbt project; E0305 in a stackc project)";
    W0332: Warning, "a column listed twice in one schema-file entry (dbt project; E0305 in a stackc project)";
    W0333: Warning, "a constraint stackc does not emit (foreign key to a relation not in the project, unknown type, not a table)";
}

impl Code {
    /// `E0150`, or the SQLSTATE (`22012`).
    pub fn as_str(&self) -> &str {
        match self {
            Code::Sqlstate(s) => s.as_str(),
            Code::Apply => "apply",
            other => other.row().map_or("", |r| r.0),
        }
    }

    /// The severity a diagnostic with this code starts with
    /// (`--warn-error` may raise a warning to an error).
    pub fn severity(self) -> Severity {
        self.row().map_or(Severity::Error, |r| r.1)
    }

    /// One line saying what the code means.
    pub fn title(self) -> &'static str {
        match self {
            Code::Apply => "stackc apply failed",
            code => code.row().map_or("PostgreSQL error", |r| r.2),
        }
    }

    /// Where the code is documented: `docs/diagnostics.md#e0150`, or
    /// PostgreSQL's table of SQLSTATEs.
    pub fn docs(self) -> String {
        match self {
            Code::Sqlstate(_) => {
                "https://www.postgresql.org/docs/current/errcodes-appendix.html".to_string()
            }
            Code::Apply => "README.md#apply".to_string(),
            code => format!("docs/diagnostics.md#{}", code.as_str().to_ascii_lowercase()),
        }
    }

    /// The table's code of that name (`"E0150"`, any case).
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A PostgreSQL SQLSTATE: five ASCII letters or digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sqlstate([u8; 5]);

impl Sqlstate {
    /// `XX000` (internal error) when the server sent something that is not
    /// a SQLSTATE, so that the code is always five printable characters.
    pub fn new(code: &str) -> Sqlstate {
        match <[u8; 5]>::try_from(code.as_bytes()) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_alphanumeric) => Sqlstate(bytes),
            _ => Sqlstate(*b"XX000"),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics get in (`new`), so this is valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("XX000")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_know_their_row() {
        assert_eq!(Code::E0150.as_str(), "E0150");
        assert_eq!(Code::E0150.docs(), "docs/diagnostics.md#e0150");
        assert_eq!(Code::W0203.severity(), Severity::Warning);
        assert_eq!(Code::E0201.severity(), Severity::Error);
        assert_eq!(Code::from_name("w0203"), Some(Code::W0203));
        assert_eq!(Code::from_name("E9999"), None);
    }

    #[test]
    fn the_table_is_in_order_without_duplicates() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn sqlstates_are_five_characters() {
        let c = Code::Sqlstate(Sqlstate::new("22012"));
        assert_eq!(c.as_str(), "22012");
        assert_eq!(c.severity(), Severity::Error);
        assert_eq!(Sqlstate::new("bad").as_str(), "XX000");
        assert_eq!(Sqlstate::new("2201\n").as_str(), "XX000");
    }

    /// The page documents exactly the codes of the table, with the same
    /// severity and title in "Codes at a glance" and a `### CODE` section
    /// each; and a fixture under `tests/fixtures/` shows each code.
    #[test]
    fn the_table_matches_the_diagnostics_page_and_the_fixtures() {
        let page = include_str!("../../docs/diagnostics.md");
        let mut glance = Vec::new();
        let mut sections = Vec::new();
        for line in page.lines() {
            if let Some(code) = line.strip_prefix("### ") {
                sections.push(code.to_string());
            }
            let cells: Vec<&str> = line.split(" | ").collect();
            if let [first, severity, title] = cells[..] {
                if let Some(code) = first.strip_prefix("| [").and_then(|c| c.split(']').next()) {
                    let title = title.strip_suffix(" |").unwrap_or(title);
                    glance.push(format!("{code} {severity} {title}"));
                }
            }
        }
        let table: Vec<String> = Code::ALL
            .iter()
            .map(|c| format!("{c} {} {}", c.severity().as_str(), c.title()))
            .collect();
        glance.sort();
        assert_eq!(
            table, glance,
            "src/diagnostic/code.rs and \"Codes at a glance\" differ"
        );
        sections.sort();
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names, sections,
            "the `### CODE` sections of docs/diagnostics.md differ"
        );

        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let folders: Vec<String> = std::fs::read_dir(fixtures)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_ascii_uppercase())
            .collect();
        // W0034 depends on the user's home (`~/.dbt/profiles.yml`), which a
        // fixture cannot control; tests/dbt.rs covers it.
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|&n| n != "W0034")
            .filter(|n| !folders.iter().any(|f| f.contains(&format!("_{n}_"))))
            .collect();
        assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    }
}
