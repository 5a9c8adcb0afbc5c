//! What the project itself says about the columns of its relations, for
//! the adapter's introspection at compile time (`get_columns_in_relation`,
//! `get_relation`): tables the migrations create (replayed), seeds (their
//! header and inferred types), sources and models whose columns a schema
//! file declares. A leaf module: resolve fills
//! it before models render, and the render stage only reads it.
//!
//! A relation the catalog does not know is not guessed at: the caller gives
//! a diagnostic naming the way out (declare the columns).

use std::collections::BTreeMap;

/// One column as `api.Column` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// `None` when nothing says (a schema-file column without `data_type`).
    pub data_type: Option<String>,
}

/// Where a relation's columns came from, for the diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A table the project's migrations create.
    Migration,
    Seed,
    Source,
    /// A model whose schema file lists its columns (perhaps not all).
    Model,
    /// A model's output, derived from its SQL: all of its columns.
    Query,
}

impl Origin {
    /// Whether the entry lists every column of the relation (a schema
    /// file may document only some).
    pub fn is_complete(self) -> bool {
        matches!(self, Origin::Migration | Origin::Seed | Origin::Query)
    }
}

/// A model column as its SQL derives it (issue 14), for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelColumn {
    pub name: String,
    /// PostgreSQL's spelling; `None` when not known.
    pub data_type: Option<String>,
    /// The upstream columns it is computed from, sorted.
    pub lineage: Vec<Upstream>,
}

/// One upstream column of a [`ModelColumn`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Upstream {
    /// The unique id of the model, seed or source.
    pub node: String,
    pub column: String,
    /// `copy`, `transform` or `filter`.
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub origin: Origin,
    pub columns: Vec<CatalogColumn>,
}

/// Relations by `(schema, name)`, as PostgreSQL would name them.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tables: BTreeMap<(String, String), Entry>,
    /// Models whose schema file lists columns and whose own columns are
    /// not derived yet: introspection waits for the derived ones (what the
    /// database would answer), not the schema file's, which may list
    /// columns the SQL does not make.
    pending: std::collections::BTreeSet<(String, String)>,
}

impl Catalog {
    /// Records a relation's columns; the first record of a relation wins
    /// (resolve reports two relations of one name elsewhere).
    pub fn insert(
        &mut self,
        schema: &str,
        name: &str,
        origin: Origin,
        mut columns: Vec<CatalogColumn>,
    ) {
        for c in &mut columns {
            c.data_type = c.data_type.as_deref().map(pg_type_name);
        }
        let key = (schema.to_string(), name.to_string());
        if origin == Origin::Model && !self.tables.contains_key(&key) {
            self.pending.insert(key);
        }
        self.tables
            .entry((schema.to_string(), name.to_string()))
            .or_insert(Entry { origin, columns });
    }

    /// Records a model's columns derived from its SQL: they replace what
    /// its schema file lists, which may be only some of them.
    /// Marks a model's columns as settled: derived, or left to what its
    /// schema file lists when its SQL does not tell them.
    pub fn settle(&mut self, schema: &str, name: &str) {
        self.pending.remove(&(schema.to_string(), name.to_string()));
    }

    /// Settles every model: what was not derived in the first round (a
    /// model that failed to render) is left to its schema file.
    pub fn settle_all(&mut self) {
        self.pending.clear();
    }

    /// Whether `schema.name` is a model whose derived columns are still to come.
    pub fn is_pending(&self, schema: &str, name: &str) -> bool {
        self.pending
            .contains(&(schema.to_string(), name.to_string()))
    }

    pub fn set_derived(&mut self, schema: &str, name: &str, columns: Vec<CatalogColumn>) {
        self.settle(schema, name);
        self.tables.insert(
            (schema.to_string(), name.to_string()),
            Entry {
                origin: Origin::Query,
                columns,
            },
        );
    }

    /// The columns of `schema.name`, when the project says what they are.
    pub fn columns(&self, schema: &str, name: &str) -> Option<&Entry> {
        self.tables.get(&(schema.to_string(), name.to_string()))
    }
}

/// A type as PostgreSQL's catalog spells it (`format_type`), which is what
/// dbt's `Column.data_type` shows: `float8` is `double precision`,
/// `varchar(20)` is `character varying(20)`. Types it does not know are
/// kept as written.
pub fn pg_type_name(written: &str) -> String {
    let t = written.trim();
    // An array of any number of dimensions is `element[]` to
    // `format_type`; `_int4` is the catalog's own name of `integer[]`.
    if let Some(open) = t.find('[').filter(|_| t.ends_with(']')) {
        let elem = t[..open].trim();
        if !elem.is_empty() {
            return format!("{}[]", pg_type_name(elem));
        }
    }
    if let Some(elem) = t.strip_prefix('_') {
        let named = pg_type_name(elem);
        if named != elem {
            return format!("{named}[]");
        }
    }
    if let Some(elem) = t
        .to_ascii_lowercase()
        .strip_suffix(" array")
        .map(|e| e.trim().to_string())
    {
        return format!("{}[]", pg_type_name(&elem));
    }
    let lower = t.to_ascii_lowercase();
    let (base, args) = match lower.find('(') {
        Some(i) => (lower[..i].trim(), &lower[i..]),
        None => (lower.as_str(), ""),
    };
    let args = args.replace(' ', "");
    let base = match base {
        "int" | "int4" | "integer" | "serial" | "serial4" => "integer",
        "int8" | "bigint" | "bigserial" | "serial8" => "bigint",
        "int2" | "smallint" | "smallserial" | "serial2" => "smallint",
        "float8" | "double precision" | "float" => "double precision",
        "float4" | "real" => "real",
        "bool" | "boolean" => "boolean",
        "decimal" | "numeric" => "numeric",
        "varchar" | "character varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "time" | "time without time zone" => "time without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "text" | "date" | "uuid" | "json" | "jsonb" | "bytea" | "interval" => base,
        _ => return t.to_string(),
    };
    // `timestamp(3)` is `timestamp(3) without time zone` to PostgreSQL.
    match base.split_once(" with") {
        Some((head, zone)) if !args.is_empty() => format!("{head}{args} with{zone}"),
        _ => format!("{base}{args}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_spelled_as_postgresql_spells_them() {
        for (written, catalog) in [
            ("float8", "double precision"),
            ("INT", "integer"),
            ("varchar(20)", "character varying(20)"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamp(3)", "timestamp(3) without time zone"),
            ("text", "text"),
            ("my_enum", "my_enum"),
            ("text[]", "text[]"),
            ("INT[]", "integer[]"),
            ("int4[][]", "integer[]"),
            ("varchar(20)[3]", "character varying(20)[]"),
            ("_int8", "bigint[]"),
            ("_my_type", "_my_type"),
            ("integer array", "integer[]"),
        ] {
            assert_eq!(pg_type_name(written), catalog, "{written}");
        }
    }

    #[test]
    fn the_first_record_of_a_relation_wins_and_unknown_ones_are_none() {
        let mut c = Catalog::default();
        let col = |n: &str| CatalogColumn {
            name: n.into(),
            data_type: None,
        };
        c.insert("s", "t", Origin::Seed, vec![col("a")]);
        c.insert("s", "t", Origin::Model, vec![col("b")]);
        let entry = c.columns("s", "t").unwrap();
        assert_eq!(entry.origin, Origin::Seed);
        assert_eq!(entry.columns, vec![col("a")]);
        assert!(c.columns("s", "u").is_none());
    }
}
