//! A generic data test, compiled: what datatest makes and emit writes.

use crate::diagnostic::Span;
use crate::relation::Relation;
use crate::schema::{Store, TestSeverity};

/// A test that stores its failing rows (dbt's `store_failures`).
#[derive(Debug, Clone)]
pub struct StoredFailures {
    /// `table` or `view`.
    pub kind: String,
    /// The custom schema (`dbt_test__audit` unless the test's `schema`
    /// says otherwise), before the project's `generate_schema_name`.
    pub custom_schema: String,
    /// The relation's name before `generate_alias_name`: the test's alias.
    pub alias: String,
    /// Where the rows go, once named (resolve).
    pub relation: Option<Relation>,
}

impl StoredFailures {
    /// Where a test with the settings `store` keeps its failing rows, if it
    /// does: in `dbt_test__audit` and under the test's `alias`, unless the
    /// settings name others.
    pub fn of(store: &Store, alias: &str) -> Option<StoredFailures> {
        Some(StoredFailures {
            kind: store.kind()?.to_string(),
            custom_schema: store
                .schema
                .clone()
                .unwrap_or_else(|| "dbt_test__audit".into()),
            alias: store.alias.clone().unwrap_or_else(|| alias.to_string()),
            relation: None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DataTest {
    /// dbt's: `test.<project>.<name>.<hash>`.
    pub unique_id: String,
    /// dbt's name, by which a test is selected.
    pub name: String,
    /// The name cut to under 64 characters with dbt's hash rule: the
    /// artifact's file name (dbt's alias).
    pub alias: String,
    /// The last 10 hex digits of dbt's MD5 of the name and the test's
    /// arguments, which end its unique id.
    pub hash: String,
    pub kind: String,
    /// The node under test.
    pub attached_to: String,
    pub column: Option<String>,
    /// A query whose rows are the failures.
    pub sql: String,
    pub severity: TestSeverity,
    pub error_if: String,
    pub warn_if: String,
    pub depends_on: Vec<String>,
    pub span: Span,
    /// dbt's `fail_calc` when it is not `count(*)`.
    pub fail_calc: Option<String>,
    pub store: Option<StoredFailures>,
    /// The entry's `description:`.
    pub description: Option<String>,
    /// dbt's node `tags` and `config.tags` (see `TestSpec::node_tags`).
    pub tags: Vec<String>,
    pub config_tags: Vec<String>,
}
