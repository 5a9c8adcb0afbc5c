//! Writing the artifacts into the output folder, or comparing them with it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::Artifacts;

/// The files under `out` that a compile owns, with their contents.
pub fn existing_files(out: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    existing_paths(out)?
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(out.join(&rel))?;
            Ok((rel, bytes))
        })
        .collect()
}

/// The paths (relative, `/`-separated) of the files under `out` that a
/// compile owns: `manifest.json` and everything under `migrations/` and `run/`.
pub fn existing_paths(out: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut files = BTreeSet::new();
    if out.join("manifest.json").is_file() {
        files.insert("manifest.json".to_string());
    }
    for dir in OWNED_FOLDERS {
        let base = out.join(dir);
        if !base.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&base) {
            let entry = entry.map_err(std::io::Error::other)?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(out)
                .map_err(std::io::Error::other)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.insert(rel);
        }
    }
    Ok(files)
}

/// Where each artifact goes as soon as it is made.
pub trait Sink: Sync {
    /// One artifact, as pieces that make it in order. Called from several
    /// threads at once, once per path.
    fn put(&self, path: &str, pieces: &[&[u8]]) -> std::io::Result<()>;
}

/// Keeps the artifacts in memory.
#[derive(Default)]
pub(super) struct Collect(Mutex<Vec<(String, String)>>);

impl Collect {
    pub(super) fn into_artifacts(self) -> Artifacts {
        let files = self.0.into_inner().unwrap_or_else(|e| e.into_inner());
        files.into_iter().collect()
    }
}

impl Sink for Collect {
    fn put(&self, path: &str, pieces: &[&[u8]]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&pieces.concat()).into_owned();
        lock(&self.0).push((path.to_string(), text));
        Ok(())
    }
}

/// Writes artifacts into the output folder. A file whose content is
/// unchanged is not rewritten, so its modification time stays; files a
/// previous compile wrote that are no longer made are removed by `finish`.
pub struct Writer {
    out: PathBuf,
    existing: BTreeSet<String>,
    folders: Mutex<BTreeSet<String>>,
    made: Mutex<Vec<String>>,
}

impl Writer {
    pub fn new(out: &Path) -> std::io::Result<Writer> {
        Ok(Writer {
            out: out.to_path_buf(),
            existing: existing_paths(out)?,
            folders: Mutex::default(),
            made: Mutex::default(),
        })
    }

    pub fn finish(self) -> std::io::Result<()> {
        let made: BTreeSet<String> = self
            .made
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .collect();
        for path in self.existing.difference(&made) {
            std::fs::remove_file(self.out.join(path))?;
        }
        // Folders emptied by removals are removed too, deepest first.
        for dir in OWNED_FOLDERS {
            let base = self.out.join(dir);
            if base.is_dir() {
                let mut dirs: Vec<_> = walkdir::WalkDir::new(&base)
                    .into_iter()
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_dir())
                    .map(|e| e.into_path())
                    .collect();
                dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
                for d in dirs {
                    let _ = std::fs::remove_dir(d); // fails, harmlessly, when not empty
                }
            }
        }
        Ok(())
    }
}

impl Sink for Writer {
    fn put(&self, path: &str, pieces: &[&[u8]]) -> std::io::Result<()> {
        lock(&self.made).push(path.to_string());
        let target = self.out.join(path);
        if self.existing.contains(path) && same_content(&target, pieces) {
            return Ok(());
        }
        // Each folder is created once: at 40,000 files, a `create_dir_all`
        // per file was a fifth of the time spent writing.
        if let Some((folder, _)) = path.rsplit_once('/') {
            if !lock(&self.folders).contains(folder) {
                std::fs::create_dir_all(self.out.join(folder))?;
                lock(&self.folders).insert(folder.to_string());
            }
        } else {
            std::fs::create_dir_all(&self.out)?;
        }
        match pieces {
            [text] => std::fs::write(&target, text),
            _ => {
                let mut file = std::io::BufWriter::new(std::fs::File::create(&target)?);
                for piece in pieces {
                    file.write_all(piece)?;
                }
                file.flush()
            }
        }
    }
}

/// Compares artifacts with the output folder, writing nothing.
pub struct Checker {
    out: PathBuf,
    existing: BTreeSet<String>,
    made: Mutex<Vec<String>>,
    stale: Mutex<Vec<String>>,
}

impl Checker {
    pub fn new(out: &Path) -> std::io::Result<Checker> {
        Ok(Checker {
            out: out.to_path_buf(),
            existing: existing_paths(out)?,
            made: Mutex::default(),
            stale: Mutex::default(),
        })
    }

    pub fn finish(self) -> Staleness {
        let made: BTreeSet<String> = self
            .made
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .collect();
        let mut stale = self.stale.into_inner().unwrap_or_else(|e| e.into_inner());
        stale.sort();
        Staleness {
            stale,
            missing: made.difference(&self.existing).cloned().collect(),
            extra: self.existing.difference(&made).cloned().collect(),
        }
    }
}

impl Sink for Checker {
    fn put(&self, path: &str, pieces: &[&[u8]]) -> std::io::Result<()> {
        lock(&self.made).push(path.to_string());
        if self.existing.contains(path) && !same_content(&self.out.join(path), pieces) {
            lock(&self.stale).push(path.to_string());
        }
        Ok(())
    }
}

/// The folders under the output folder that a compile owns, besides
/// `manifest.json`.
const OWNED_FOLDERS: [&str; 3] = ["migrations", "run", "unit"];

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks aborts the compile anyway;
    // the data under it is still whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the file at `path` holds exactly the pieces, read piece by piece
/// so that a large manifest is not held twice.
fn same_content(path: &Path, pieces: &[&[u8]]) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    if file.metadata().map(|m| m.len()).ok() != Some(total as u64) {
        return false;
    }
    let mut buffer = Vec::new();
    for piece in pieces {
        buffer.resize(piece.len(), 0);
        if file.read_exact(&mut buffer).is_err() || buffer != *piece {
            return false;
        }
    }
    true
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Staleness {
    pub stale: Vec<String>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
}

impl Staleness {
    pub fn is_clean(&self) -> bool {
        self.stale.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(sink: &dyn Sink, files: &[(&str, &str)]) {
        for (path, text) in files {
            // Two pieces, so the comparison across pieces is exercised too.
            let (a, b) = text.split_at(text.len() / 2);
            sink.put(path, &[a.as_bytes(), b.as_bytes()]).unwrap();
        }
    }

    #[test]
    fn checker_lists_stale_missing_and_extra_files() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(dir.path()).unwrap();
        put(
            &writer,
            &[
                ("run/a.sql", "select 1;\n"),
                ("run/c.sql", "3"),
                ("manifest.json", "{}"),
            ],
        );
        writer.finish().unwrap();
        let checker = Checker::new(dir.path()).unwrap();
        put(
            &checker,
            &[
                ("run/a.sql", "select 2;\n"),
                ("run/b.sql", "2"),
                ("manifest.json", "{}"),
            ],
        );
        let s = checker.finish();
        assert_eq!(s.stale, ["run/a.sql"]);
        assert_eq!(s.missing, ["run/b.sql"]);
        assert_eq!(s.extra, ["run/c.sql"]);
    }

    #[test]
    fn writer_removes_what_is_no_longer_made_and_keeps_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(dir.path()).unwrap();
        put(&writer, &[("run/a.sql", "a"), ("unit/x/y.sql", "y")]);
        writer.finish().unwrap();
        let a = dir.path().join("run/a.sql");
        let before = std::fs::metadata(&a).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let writer = Writer::new(dir.path()).unwrap();
        put(
            &writer,
            &[("run/a.sql", "a"), ("migrations/V1__x.sql", "x")],
        );
        writer.finish().unwrap();
        assert_eq!(std::fs::metadata(&a).unwrap().modified().unwrap(), before);
        assert!(
            !dir.path().join("unit").exists(),
            "the emptied folder stays"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("migrations/V1__x.sql")).unwrap(),
            "x"
        );
        let checker = Checker::new(dir.path()).unwrap();
        put(
            &checker,
            &[("run/a.sql", "a"), ("migrations/V1__x.sql", "x")],
        );
        assert!(checker.finish().is_clean());
    }
}
