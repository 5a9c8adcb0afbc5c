//! The file format the binary caches share (`DIR/.stackc-cache/*.bin`:
//! the render cache and the column cache), so that each cache is only what
//! it keys and what an entry holds.
//!
//! A file is a header line, then `key, length, CRC-32, entry` records. The
//! header names the cache, its rules version and the build of the stackc
//! binary (its size and time), so that a rebuilt stackc, whose output may
//! differ under the same version number, reads no cache of another build.
//! A file of another header, cut short or otherwise unreadable is no cache
//! at all; an entry whose CRC does not match is a miss. A file is written
//! whole (a temporary file renamed over it), so that a concurrent compile
//! reads either the old or the new one, and only when this compile used
//! other entries than the file holds.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;

pub(crate) const FOLDER: &str = ".stackc-cache";

/// A SHA-256 of everything an entry was computed from.
pub type Key = [u8; 32];

/// The first line of a cache file: the cache's name and rules version, the
/// stackc version, and the size and time of the binary itself. `None` when
/// the binary cannot be found: then nothing is cached.
pub(crate) fn header(cache: &str, rules: u32) -> Option<String> {
    let binary = std::env::current_exe().ok()?.metadata().ok()?;
    let built = binary
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "stackc {} {cache} {rules} binary {} {}\n",
        env!("CARGO_PKG_VERSION"),
        binary.len(),
        built.as_nanos()
    ))
}

/// One cache file as read, and the entries this compile used or made.
#[derive(Debug, Default)]
pub struct Store {
    /// The file's name in the cache folder.
    name: &'static str,
    /// What the file must start with; `None`: no cache (see [`header`]).
    header: Option<String>,
    /// The file as read, and where each record (CRC and entry) sits in it.
    bytes: Vec<u8>,
    earlier: HashMap<Key, Range<usize>>,
    /// The entries this compile used (`None`: the one in `earlier`) or
    /// made (encoded), for the next compile.
    now: Mutex<Vec<(Key, Option<Vec<u8>>)>>,
}

impl Store {
    /// `DIR/.stackc-cache/<name>` with the header of `cache` and `rules`;
    /// empty when there is none or it cannot be used.
    pub fn load(dir: &Path, name: &'static str, cache: &str, rules: u32) -> Store {
        let Some(header) = header(cache, rules) else {
            return Store::default();
        };
        let bytes = std::fs::read(dir.join(FOLDER).join(name)).unwrap_or_default();
        let (bytes, earlier) = match index(&bytes, &header) {
            Some(earlier) => (bytes, earlier),
            None => (Vec::new(), HashMap::new()),
        };
        Store {
            name,
            header: Some(header),
            bytes,
            earlier,
            now: Mutex::default(),
        }
    }

    /// Whether anything is cached at all (see [`header`]).
    pub fn enabled(&self) -> bool {
        self.header.is_some()
    }

    /// How many entries the file held.
    #[cfg(test)]
    pub fn earlier_len(&self) -> usize {
        self.earlier.len()
    }

    /// The entry of `key` from the file, when its CRC matches. It is kept
    /// for the next compile only if [`Store::keep`] says so.
    pub fn get(&self, key: &Key) -> Option<&[u8]> {
        let range = self.earlier.get(key)?;
        let (crc, entry) = self.bytes[range.clone()].split_at(4);
        // A damaged entry that still decodes must not become output.
        (crc32fast::hash(entry).to_le_bytes() == crc).then_some(entry)
    }

    /// Keeps the file's entry of `key` for the next compile.
    pub fn keep(&self, key: &Key) {
        self.lock().push((*key, None));
    }

    /// Records a new entry for the next compile.
    pub fn put(&self, key: Key, entry: Vec<u8>) {
        self.lock().push((key, Some(entry)));
    }

    /// Writes the entries this compile used or made to `dir`. Nothing is
    /// written when the file already holds exactly those entries.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let Some(header) = &self.header else {
            return Ok(());
        };
        let mut now = std::mem::take(&mut *self.lock());
        now.sort_by_key(|(key, _)| *key);
        now.dedup_by(|a, b| a.0 == b.0);
        if now.len() == self.earlier.len() && now.iter().all(|(_, made)| made.is_none()) {
            return Ok(());
        }
        let mut out = header.clone().into_bytes();
        for (key, made) in &now {
            match made {
                Some(entry) => {
                    out.extend_from_slice(key);
                    out.extend_from_slice(&(entry.len() as u64 + 4).to_le_bytes());
                    out.extend_from_slice(&crc32fast::hash(entry).to_le_bytes());
                    out.extend_from_slice(entry);
                }
                // Checked when it was read: copied as it is.
                None => {
                    let Some(range) = self.earlier.get(key).cloned() else {
                        continue;
                    };
                    out.extend_from_slice(key);
                    out.extend_from_slice(&(range.len() as u64).to_le_bytes());
                    out.extend_from_slice(&self.bytes[range]);
                }
            }
        }
        write_cache_file(dir, self.name, &out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Key, Option<Vec<u8>>)>> {
        // A panic while holding this lock aborts the compile anyway.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes `DIR/.stackc-cache/<name>` whole (a temporary file renamed over
/// it), beside a `.gitignore` that keeps the folder out of version control.
pub(crate) fn write_cache_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let folder = dir.join(FOLDER);
    std::fs::create_dir_all(&folder)?;
    let ignore = folder.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# Written by stackc: a cache, safe to delete, never to commit.\n*\n",
        )?;
    }
    let temporary = folder.join(format!("{name}.{}.partial", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, folder.join(name)).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Where each record of a cache file sits; `None` when the file is of
/// another header or cut short.
fn index(bytes: &[u8], header: &str) -> Option<HashMap<Key, Range<usize>>> {
    let mut at = header.len();
    if bytes.get(..at)? != header.as_bytes() {
        return None;
    }
    let mut entries = HashMap::new();
    while at < bytes.len() {
        let key: Key = bytes.get(at..at + 32)?.try_into().ok()?;
        at += 32;
        let len =
            usize::try_from(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?)).ok()?;
        at += 8;
        let end = at.checked_add(len)?;
        // Each record starts with the CRC-32 of its entry.
        bytes.get(at..end).filter(|record| record.len() >= 4)?;
        entries.insert(key, at..end);
        at = end;
    }
    Some(entries)
}

/// One input of a key, length first, so that no two sequences of inputs
/// make the same bytes.
pub(crate) fn part(h: &mut sha2::Sha256, bytes: &[u8]) {
    use sha2::Digest;
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// An entry being encoded: numbers as LEB128 varints (a length under 128
/// is one byte: at 10,000 models the column cache holds over a million
/// short strings), strings as their length and bytes.
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    pub fn len(&mut self, n: usize) {
        let mut n = n as u64;
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    pub fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.byte(1);
                self.str(s);
            }
            None => self.byte(0),
        }
    }

    pub fn strs<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a String>) {
        self.len(items.len());
        for s in items {
            self.str(s);
        }
    }
}

/// An entry being decoded; every read is `None` past the end.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// Whether the whole entry was read.
    pub fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    pub fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub fn len(&mut self) -> Option<usize> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return usize::try_from(n).ok();
            }
        }
        None
    }

    /// A count of items, each at least `min` bytes long (a string is at
    /// least its one-byte length): a corrupt count must not reserve memory
    /// before the items are read.
    pub fn count(&mut self, min: usize) -> Option<usize> {
        let n = self.len()?;
        (n.checked_mul(min.max(1))? <= self.bytes.len() - self.at).then_some(n)
    }

    pub fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    pub fn opt_str(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }

    pub fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.count(1)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.str()?);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_and_a_damaged_file_is_no_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(dir.path(), "t.bin", "test", 1);
        assert!(store.enabled());
        store.put([1; 32], b"one".to_vec());
        store.put([2; 32], b"two".to_vec());
        store.save(dir.path()).unwrap();

        let store = Store::load(dir.path(), "t.bin", "test", 1);
        assert_eq!(store.get(&[1; 32]), Some(&b"one"[..]));
        assert_eq!(store.get(&[3; 32]), None);
        // Only what this compile used is kept.
        store.keep(&[2; 32]);
        store.save(dir.path()).unwrap();
        let store = Store::load(dir.path(), "t.bin", "test", 1);
        assert_eq!(store.earlier_len(), 1);
        assert_eq!(store.get(&[2; 32]), Some(&b"two"[..]));

        // Other rules, another cache's name: no cache.
        assert_eq!(Store::load(dir.path(), "t.bin", "test", 2).earlier_len(), 0);
        assert_eq!(
            Store::load(dir.path(), "t.bin", "other", 1).earlier_len(),
            0
        );

        let path = dir.path().join(FOLDER).join("t.bin");
        let whole = std::fs::read(&path).unwrap();
        let header = header("test", 1).unwrap();
        for cut in [whole.len() - 1, header.len() + 10, 5] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let store = Store::load(dir.path(), "t.bin", "test", 1);
            assert_eq!(store.earlier_len(), 0, "cut at {cut}");
        }
        // A flipped byte in an entry: a miss, not a wrong entry.
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        let store = Store::load(dir.path(), "t.bin", "test", 1);
        assert_eq!(store.earlier_len(), 1);
        assert_eq!(store.get(&[2; 32]), None);
    }

    #[test]
    fn a_reader_refuses_counts_beyond_the_entry() {
        let mut w = Writer(Vec::new());
        w.len(u64::MAX as usize);
        assert_eq!(Reader::new(&w.0).strs(), None);
        let mut w = Writer(Vec::new());
        for n in [0, 127, 128, 300, u32::MAX as usize, u64::MAX as usize] {
            w.len(n);
        }
        let mut r = Reader::new(&w.0);
        for n in [0, 127, 128, 300, u32::MAX as usize, u64::MAX as usize] {
            assert_eq!(r.len(), Some(n));
        }
        assert!(r.done());
        assert_eq!(Reader::new(&[0xff; 11]).len(), None);
        let mut w = Writer(Vec::new());
        w.strs(["a".to_string(), "bc".to_string()].iter());
        w.opt_str(None);
        w.opt_str(Some("d"));
        let mut r = Reader::new(&w.0);
        assert_eq!(r.strs(), Some(vec!["a".to_string(), "bc".to_string()]));
        assert_eq!(r.opt_str(), Some(None));
        assert_eq!(r.opt_str(), Some(Some("d".to_string())));
        assert!(r.done());
    }
}
