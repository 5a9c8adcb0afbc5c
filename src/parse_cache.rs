//! What the SQL check learned from earlier compiles, so that a model whose
//! rendered SQL has not changed is not parsed again: parsing is half of a
//! large project's compile (sqlparser reads about 10 MB/s).
//!
//! Entries are keyed by the SHA-256 of the rendered SQL and hold what
//! [`crate::sql::parse_query`] returns for it, so a hit gives exactly what
//! parsing would. Only successful parses are kept: errors are rare and are
//! reported from a fresh parse. The file is `DIR/.stackc-cache/parse.json`,
//! next to a `.gitignore` that keeps the folder out of version control; it
//! is rewritten after each compile with the entries that compile used, and
//! ignored when it was written by another version of stackc or cannot be
//! read.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sql::{parse_query, ParsedQuery, QueryProblem, RelationRef};

use crate::render::cache_file::FOLDER;
const FILE: &str = "parse.json";

#[derive(Debug, Default)]
pub struct ParseCache {
    earlier: HashMap<[u8; 32], ParsedQuery>,
    /// The entries this compile used (`None`: the one in `earlier`) or
    /// made, for the next compile.
    now: Mutex<Vec<([u8; 32], Option<ParsedQuery>)>>,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    generator: String,
    entries: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    sha256: String,
    relations: Vec<CachedRelation>,
    columns: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct CachedRelation {
    parts: Vec<String>,
    /// Start line, start column, end line, end column.
    at: [usize; 4],
}

/// Raised whenever [`parse_query`] reads the same SQL differently (2:
/// quoted identifiers unescaped, `"a""b"` is the column `a"b`), so that a
/// cache written before the change is not used after it.
const PARSE_RULES: u32 = 2;

fn generator() -> String {
    format!("stackc {} parse {PARSE_RULES}", env!("CARGO_PKG_VERSION"))
}

impl ParseCache {
    /// The cache of the project in `dir`; empty when there is none or it
    /// cannot be used.
    pub fn load(dir: &Path) -> ParseCache {
        let Ok(text) = std::fs::read(dir.join(FOLDER).join(FILE)) else {
            return ParseCache::default();
        };
        let Ok(file) = serde_json::from_slice::<CacheFile>(&text) else {
            return ParseCache::default();
        };
        if file.generator != generator() {
            return ParseCache::default();
        }
        let earlier = file
            .entries
            .into_iter()
            .filter_map(|e| Some((key_from_hex(&e.sha256)?, e.into_parsed())))
            .collect();
        ParseCache {
            earlier,
            now: Mutex::default(),
        }
    }

    /// [`parse_query`], answered from the cache when this SQL was parsed
    /// before.
    pub fn parse_query(&self, sql: &str) -> Result<ParsedQuery, QueryProblem> {
        let key: [u8; 32] = Sha256::digest(sql.as_bytes()).into();
        if let Some(parsed) = self.earlier.get(&key) {
            self.lock().push((key, None));
            return Ok(parsed.clone());
        }
        let parsed = parse_query(sql)?;
        self.lock().push((key, Some(parsed.clone())));
        Ok(parsed)
    }

    /// What [`parse_query`] made of `sql` when the caller parsed it itself
    /// (the column analysis, which needs the tree too), kept as
    /// [`ParseCache::parse_query`] would keep it.
    pub fn remember(&self, sql: &str, parsed: &Result<ParsedQuery, QueryProblem>) {
        let key: [u8; 32] = Sha256::digest(sql.as_bytes()).into();
        if self.earlier.contains_key(&key) {
            self.lock().push((key, None));
        } else if let Ok(parsed) = parsed {
            self.lock().push((key, Some(parsed.clone())));
        }
    }

    /// Writes the entries this compile used to `dir`, replacing the file
    /// whole (a temporary file renamed over it), so that a concurrent
    /// compile reads either the old or the new cache.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let mut now = std::mem::take(&mut *self.lock());
        now.sort_by_key(|(key, _)| *key);
        now.dedup_by(|a, b| a.0 == b.0);
        let file = CacheFile {
            generator: generator(),
            entries: now
                .into_iter()
                .filter_map(|(key, parsed)| {
                    let parsed = parsed.or_else(|| self.earlier.get(&key).cloned())?;
                    Some(Entry::new(&key, parsed))
                })
                .collect(),
        };
        let text = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        crate::render::cache_file::write_cache_file(dir, FILE, &text)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<([u8; 32], Option<ParsedQuery>)>> {
        // A panic while holding this lock aborts the compile anyway.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Entry {
    fn new(key: &[u8; 32], parsed: ParsedQuery) -> Entry {
        Entry {
            sha256: crate::naming::hex(key),
            relations: parsed
                .relations
                .into_iter()
                .map(|r| CachedRelation {
                    parts: r.parts,
                    at: [r.start.0, r.start.1, r.end.0, r.end.1],
                })
                .collect(),
            columns: parsed.columns,
        }
    }

    fn into_parsed(self) -> ParsedQuery {
        ParsedQuery {
            relations: self
                .relations
                .into_iter()
                .map(|r| RelationRef {
                    parts: r.parts,
                    start: (r.at[0], r.at[1]),
                    end: (r.at[2], r.at[3]),
                })
                .collect(),
            columns: self.columns,
        }
    }
}

fn key_from_hex(hex: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "select o.id, o.amount as total\nfrom raw.orders as o\njoin staging.customers c on c.id = o.customer_id";

    #[test]
    fn a_saved_cache_answers_as_the_parser_does() {
        let dir = tempfile::tempdir().unwrap();
        let first = ParseCache::load(dir.path());
        let parsed = first.parse_query(SQL).unwrap();
        assert!(first.parse_query("select from where").is_err());
        first.save(dir.path()).unwrap();

        let second = ParseCache::load(dir.path());
        assert_eq!(second.earlier.len(), 1, "errors are not kept");
        let cached = second.parse_query(SQL).unwrap();
        assert_eq!(format!("{cached:?}"), format!("{parsed:?}"));
        let ignore = dir.path().join(FOLDER).join(".gitignore");
        assert!(std::fs::read_to_string(ignore).unwrap().contains("\n*\n"));

        // Unused entries are dropped on the next save.
        let third = ParseCache::load(dir.path());
        third.parse_query("select 1 as one").unwrap();
        third.save(dir.path()).unwrap();
        assert!(ParseCache::load(dir.path()).earlier.len() == 1);
    }

    #[test]
    fn another_version_or_a_damaged_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParseCache::load(dir.path());
        cache.parse_query(SQL).unwrap();
        cache.save(dir.path()).unwrap();
        let path = dir.path().join(FOLDER).join(FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(&generator(), "stackc 0.0.0")).unwrap();
        assert!(ParseCache::load(dir.path()).earlier.is_empty());
        std::fs::write(&path, "{ not json").unwrap();
        assert!(ParseCache::load(dir.path()).earlier.is_empty());
    }
}
