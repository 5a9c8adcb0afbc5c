//! The history tables: Flyway's schema history (what migrations ran, with
//! Flyway's checksum, so that Flyway and stackc read each other's table) and
//! stackc's run history (every step of every apply).

use postgres::GenericClient;

/// Flyway's checksum of a migration: CRC32 over the UTF-8 bytes of each
/// line with its terminator (`\n`, `\r\n` or `\r`) removed, a leading BOM
/// dropped, lines fed in order with nothing between them; as a signed int.
///
/// Feeding the lines with nothing between them is the same as feeding the
/// text with every `\r` and `\n` removed, which is what this does. (So `"a\nb"`
/// and `"ab"` collide, as they do in Flyway.)
pub fn flyway_checksum(text: &str) -> i32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut crc = crc32fast::Hasher::new();
    for piece in text.split(['\r', '\n']) {
        crc.update(piece.as_bytes());
    }
    // Flyway stores Java's `(int) crc32.getValue()`: the same 32 bits, signed.
    crc.finalize() as i32
}

/// Where the history lives: `[history] schema/table` of stackc.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTable {
    pub schema: String,
    pub table: String,
}

/// The run history's table name; it sits in the schema history's schema.
pub const RUN_TABLE: &str = "stackc_run_history";

impl HistoryTable {
    /// Always quoted, as Flyway writes it, so any name works in SQL.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quoted(&self.schema), quoted(&self.table))
    }

    pub fn run_table(&self) -> String {
        format!("{}.{}", quoted(&self.schema), quoted(RUN_TABLE))
    }

    fn run_sequence(&self) -> String {
        format!(
            "{}.{}",
            quoted(&self.schema),
            quoted(&format!("{RUN_TABLE}_run_id_seq"))
        )
    }

    /// How people write it: quoted only where PostgreSQL needs it.
    pub fn display(&self) -> String {
        format!(
            "{}.{}",
            crate::sql::quote_ident(&self.schema),
            crate::sql::quote_ident(&self.table)
        )
    }

    pub fn run_table_display(&self) -> String {
        format!("{}.{RUN_TABLE}", crate::sql::quote_ident(&self.schema))
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One row of the schema history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    pub installed_rank: i32,
    pub version: Option<String>,
    pub description: String,
    pub kind: String,
    pub script: String,
    pub checksum: Option<i32>,
    pub installed_on: String,
    pub success: bool,
}

/// The schema history in rank order, or `None` when the table does not
/// exist yet (nothing was ever applied).
pub fn read(
    client: &mut impl GenericClient,
    table: &HistoryTable,
) -> Result<Option<Vec<AppliedRow>>, postgres::Error> {
    let exists: bool = client
        .query_one("select to_regclass($1) is not null", &[&table.qualified()])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let rows = client.query(
        &format!(
            "select installed_rank, version::text, description::text, type::text, script::text,
                    checksum, to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS'), success
             from {} order by installed_rank",
            table.qualified()
        ),
        &[],
    )?;
    Ok(Some(
        rows.iter()
            .map(|r| AppliedRow {
                installed_rank: r.get(0),
                version: r.get(1),
                description: r.get(2),
                kind: r.get(3),
                script: r.get(4),
                checksum: r.get(5),
                installed_on: r.get(6),
                success: r.get(7),
            })
            .collect(),
    ))
}

/// Creates the schema (with Flyway's marker row when stackc created it), the
/// schema history table with Flyway's columns, primary key and index, and
/// the run history. Runs under the apply lock, so never concurrently.
pub fn ensure_tables(
    client: &mut impl GenericClient,
    table: &HistoryTable,
) -> Result<(), postgres::Error> {
    let schema_exists: bool = client
        .query_one(
            "select exists (select 1 from pg_namespace where nspname = $1)",
            &[&table.schema],
        )?
        .get(0);
    let history_exists: bool = client
        .query_one("select to_regclass($1) is not null", &[&table.qualified()])?
        .get(0);
    let mut tx = client.transaction()?;
    if !schema_exists {
        tx.batch_execute(&format!("create schema {}", quoted(&table.schema)))?;
    }
    if !history_exists {
        tx.batch_execute(&format!(
            "create table {q} (
                installed_rank integer not null,
                version varchar(50),
                description varchar(200) not null,
                type varchar(20) not null,
                script varchar(1000) not null,
                checksum integer,
                installed_by varchar(100) not null,
                installed_on timestamp not null default now(),
                execution_time integer not null,
                success boolean not null,
                constraint {pk} primary key (installed_rank)
            );
            create index {idx} on {q} (success);",
            q = table.qualified(),
            pk = quoted(&format!("{}_pk", table.table)),
            idx = quoted(&format!("{}_s_idx", table.table)),
        ))?;
        if !schema_exists {
            // Flyway's record that it created the schema (rank 0, type SCHEMA),
            // so that `flyway clean` on this table knows to drop it.
            tx.execute(
                &format!(
                    "insert into {} (installed_rank, version, description, type, script, checksum,
                                     installed_by, execution_time, success)
                     values (0, null, '<< Flyway Schema Creation >>', 'SCHEMA', $1, null,
                             current_user, 0, true)",
                    table.qualified()
                ),
                &[&quoted(&table.schema)],
            )?;
        }
    }
    tx.batch_execute(&format!(
        "create sequence if not exists {seq};
         create table if not exists {run} (
             run_id bigint not null,
             step_no integer not null,
             step varchar(20) not null,
             node varchar(1000),
             file varchar(1000) not null,
             status varchar(10) not null,
             rows_affected bigint,
             failures bigint,
             duration_ms integer not null,
             error text,
             started_at timestamptz not null,
             installed_by varchar(100) not null default current_user,
             selection text,
             constraint {pk} primary key (run_id, step_no)
         );",
        seq = table.run_sequence(),
        run = table.run_table(),
        pk = quoted(&format!("{RUN_TABLE}_pk")),
    ))?;
    // Added after the table's first layout: a run history made before it
    // gets the column. Asked first, since `alter table` would lock the
    // table against its readers on every apply.
    let has_selection: bool = tx
        .query_one(
            "select exists (select 1 from pg_attribute
                            where attrelid = to_regclass($1) and attname = 'selection'
                              and not attisdropped)",
            &[&table.run_table()],
        )?
        .get(0);
    if !has_selection {
        tx.batch_execute(&format!(
            "alter table {} add column selection text",
            table.run_table()
        ))?;
    }
    tx.commit()
}

/// A migration's history row, written in the migration's own transaction
/// (so a rolled-back migration leaves none), or after a failed
/// non-transactional one with `success = false`.
pub struct NewRow<'a> {
    pub version: Option<&'a str>,
    pub description: &'a str,
    pub script: &'a str,
    pub checksum: i32,
    pub execution_ms: i32,
    pub success: bool,
}

/// Returns the row's `installed_rank`.
pub fn insert(
    client: &mut impl GenericClient,
    table: &HistoryTable,
    row: &NewRow<'_>,
) -> Result<i32, postgres::Error> {
    // Flyway cuts descriptions to the column's 200 characters with "...".
    let description = super::plan::truncated(row.description);
    let rank = client.query_one(
        &format!(
            "insert into {q} (installed_rank, version, description, type, script, checksum,
                              installed_by, execution_time, success)
             select coalesce(max(installed_rank), 0) + 1, $1, $2, 'SQL', $3, $4,
                    current_user, $5, $6
             from {q}
             returning installed_rank",
            q = table.qualified()
        ),
        &[
            &row.version,
            &description,
            &row.script,
            &row.checksum,
            &row.execution_ms,
            &row.success,
        ],
    )?;
    Ok(rank.get(0))
}

pub fn next_run_id(
    client: &mut impl GenericClient,
    table: &HistoryTable,
) -> Result<i64, postgres::Error> {
    Ok(client
        .query_one(
            "select nextval($1::text::regclass)",
            &[&table.run_sequence()],
        )?
        .get(0))
}

/// One step of an apply, as the run history records it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub step_no: i32,
    pub step: &'static str,
    pub node: Option<String>,
    pub file: String,
    pub status: &'static str,
    pub rows_affected: Option<i64>,
    pub failures: Option<i64>,
    pub duration_ms: i32,
    pub error: Option<String>,
    /// Seconds since the Unix epoch, from this machine's clock.
    pub started_at: f64,
}

/// Writes records in one statement (arrays unnested), so that buffered
/// records of read-only steps cost one round trip. `selection` is how the
/// apply's selection was written (`--select fact_sales+`), `None` for the
/// whole project.
pub fn insert_runs(
    client: &mut impl GenericClient,
    table: &HistoryTable,
    run_id: i64,
    selection: Option<&str>,
    records: &[RunRecord],
) -> Result<(), postgres::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let step_no: Vec<i32> = records.iter().map(|r| r.step_no).collect();
    let step: Vec<&str> = records.iter().map(|r| r.step).collect();
    let node: Vec<Option<&str>> = records.iter().map(|r| r.node.as_deref()).collect();
    let file: Vec<&str> = records.iter().map(|r| r.file.as_str()).collect();
    let status: Vec<&str> = records.iter().map(|r| r.status).collect();
    let rows: Vec<Option<i64>> = records.iter().map(|r| r.rows_affected).collect();
    let failures: Vec<Option<i64>> = records.iter().map(|r| r.failures).collect();
    let duration: Vec<i32> = records.iter().map(|r| r.duration_ms).collect();
    let error: Vec<Option<&str>> = records.iter().map(|r| r.error.as_deref()).collect();
    let started: Vec<f64> = records.iter().map(|r| r.started_at).collect();
    client.execute(
        &format!(
            "insert into {} (run_id, step_no, step, node, file, status, rows_affected, failures,
                             duration_ms, error, started_at, selection)
             select $1, u.step_no, u.step, u.node, u.file, u.status, u.rows_affected, u.failures,
                    u.duration_ms, u.error, to_timestamp(u.started_at), $12
             from unnest($2::integer[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::bigint[], $8::bigint[], $9::integer[], $10::text[], $11::float8[])
                  as u(step_no, step, node, file, status, rows_affected, failures, duration_ms,
                       error, started_at)",
            table.run_table()
        ),
        &[
            &run_id, &step_no, &step, &node, &file, &status, &rows, &failures, &duration, &error,
            &started, &selection,
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flyway_checksum_vectors() {
        // Pinned against Flyway's own results (REFERENCE.md).
        assert_eq!(flyway_checksum("SELECT 1;\n"), 78787420);
        assert_eq!(flyway_checksum("SELECT 1;\r\n"), 78787420);
        assert_eq!(flyway_checksum("\u{feff}SELECT 1;\n"), 78787420);
        assert_eq!(flyway_checksum("SELECT 1;"), 78787420);
        assert_eq!(flyway_checksum("CREATE TABLE t (id int);\n"), 92137680);
        assert_eq!(flyway_checksum(""), 0);
    }

    #[test]
    fn line_endings_do_not_matter_but_content_does() {
        let lf = "create table a (x int);\ninsert into a values (1);\n";
        let crlf = lf.replace('\n', "\r\n");
        let cr = lf.replace('\n', "\r");
        assert_eq!(flyway_checksum(lf), flyway_checksum(&crlf));
        assert_eq!(flyway_checksum(lf), flyway_checksum(&cr));
        assert_ne!(
            flyway_checksum(lf),
            flyway_checksum("create table a (x int);\ninsert into a values (2);\n")
        );
        // Flyway's known quirk: the line structure itself is not hashed.
        assert_eq!(flyway_checksum("a\nb"), flyway_checksum("ab"));
        // A BOM only counts at the very start.
        assert_ne!(flyway_checksum("a\n\u{feff}b"), flyway_checksum("a\nb"));
    }

    #[test]
    fn names_are_quoted_for_sql_and_plain_for_people() {
        let t = HistoryTable {
            schema: "public".into(),
            table: "stackc_schema_history".into(),
        };
        assert_eq!(t.qualified(), "\"public\".\"stackc_schema_history\"");
        assert_eq!(t.display(), "public.stackc_schema_history");
        assert_eq!(t.run_table(), "\"public\".\"stackc_run_history\"");
        let odd = HistoryTable {
            schema: "Ops".into(),
            table: "hist\"ory".into(),
        };
        assert_eq!(odd.qualified(), "\"Ops\".\"hist\"\"ory\"");
    }
}
