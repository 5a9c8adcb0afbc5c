//! The apply lock: a session-level PostgreSQL advisory lock held for the
//! whole apply, so two applies on one database never interleave. It is
//! released when the apply ends, or by the server when the session dies
//! (a killed apply leaves no stale lock behind).

use std::fmt;
use std::time::{Duration, Instant};

use postgres::Client;
use sha2::{Digest, Sha256};

use super::history::HistoryTable;

/// The lock key: the first 8 bytes of SHA-256 of
/// `stackc:<project name>:"<schema>"."<table>"` (the history table, always
/// quoted), read as a big-endian signed 64-bit integer. In SQL:
/// `('x' || left(encode(sha256(convert_to('stackc:analytics:"public"."stackc_schema_history"',
/// 'UTF8')), 'hex'), 16))::bit(64)::bigint`.
/// Deterministic, so every apply of one project against one history table
/// contends for the same lock, whatever machine it runs on.
pub fn key(project: &str, table: &HistoryTable) -> i64 {
    let digest = Sha256::digest(format!("stackc:{project}:{}", table.qualified()).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[derive(Debug)]
pub enum LockError {
    Timeout {
        waited: Duration,
        holder: Option<String>,
    },
    Db(postgres::Error),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Timeout { waited, holder } => {
                write!(
                    f,
                    "another apply holds the lock (gave up after {} s",
                    waited.as_secs()
                )?;
                if let Some(h) = holder {
                    write!(f, "; held by {h}")?;
                }
                write!(f, ")")
            }
            LockError::Db(e) => write!(f, "cannot take the apply lock: {e}"),
        }
    }
}

impl From<postgres::Error> for LockError {
    fn from(e: postgres::Error) -> LockError {
        LockError::Db(e)
    }
}

/// Takes the lock, polling `pg_try_advisory_lock` (rather than blocking in
/// `pg_advisory_lock`) so that the wait can end after `timeout` with a clear
/// message. `waiting` is called once, with the holder, when the lock is busy.
pub fn acquire(
    client: &mut Client,
    key: i64,
    timeout: Duration,
    mut waiting: impl FnMut(Option<&str>),
) -> Result<(), LockError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut told = false;
    loop {
        let got: bool = client
            .query_one("select pg_try_advisory_lock($1)", &[&key])?
            .get(0);
        if got {
            return Ok(());
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockError::Timeout {
                waited,
                holder: holder(client, key)?,
            });
        }
        if !told {
            waiting(holder(client, key)?.as_deref());
            told = true;
        }
        std::thread::sleep(pause.min(timeout.saturating_sub(waited)));
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Who holds the lock: backend pid, application and since when.
fn holder(client: &mut Client, key: i64) -> Result<Option<String>, postgres::Error> {
    // A bigint advisory key is stored as classid (high 32 bits), objid (low
    // 32 bits) and objsubid 1.
    let row = client.query_opt(
        "select a.pid, coalesce(nullif(a.application_name, ''), '?'),
                coalesce(a.client_addr::text, 'local'),
                to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS')
         from pg_locks l
         left join pg_stat_activity a on a.pid = l.pid
         where l.locktype = 'advisory' and l.granted and l.objsubid = 1
           and l.database = (select oid from pg_database where datname = current_database())
           and l.classid::bigint = ($1::bigint >> 32) & 4294967295
           and l.objid::bigint = $1::bigint & 4294967295
         limit 1",
        &[&key],
    )?;
    Ok(row.map(|r| {
        let pid: Option<i32> = r.get(0);
        let app: Option<String> = r.get(1);
        let addr: Option<String> = r.get(2);
        let since: Option<String> = r.get(3);
        format!(
            "PostgreSQL backend pid {} ({} from {}, connected since {})",
            pid.map_or("?".into(), |p| p.to_string()),
            app.unwrap_or_default(),
            addr.unwrap_or_default(),
            since.unwrap_or_default()
        )
    }))
}

pub fn release(client: &mut Client, key: i64) -> Result<(), postgres::Error> {
    client.query_one("select pg_advisory_unlock($1)", &[&key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_depends_on_project_and_table_only() {
        let table = HistoryTable {
            schema: "public".into(),
            table: "stackc_schema_history".into(),
        };
        let k = key("analytics", &table);
        // Pinned: the documented SQL expression gives the same number.
        assert_eq!(k, -396922319212871495);
        assert_ne!(k, key("other", &table));
        let moved = HistoryTable {
            schema: "ops".into(),
            table: "stackc_schema_history".into(),
        };
        assert_ne!(k, key("analytics", &moved));
    }
}
