//! Writing the artifacts into the output folder, or comparing them with it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

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
/// compile owns: `manifest.json` and the files under `migrations/`, `run/`
/// and `unit/` named as a compile names them (see [`list_output`]).
pub fn existing_paths(out: &Path) -> std::io::Result<BTreeSet<String>> {
    list_output(out).map(|listed| listed.owned)
}

/// What the output folder holds, split by who wrote it.
#[derive(Debug, Default)]
pub struct Listed {
    /// Files named as a compile names them: a compile may replace or
    /// remove these.
    pub owned: BTreeSet<String>,
    /// Other files in the folders a compile writes to (a `notes.txt` in
    /// `run/`): never removed nor compared, only mentioned.
    pub foreign: Vec<String>,
}

/// Lists the output folder once: the files a compile owns, and the others
/// found beside them. Symbolic links are never followed nor owned.
pub fn list_output(out: &Path) -> std::io::Result<Listed> {
    let mut listed = Listed::default();
    // Not followed: a link named manifest.json is someone else's.
    match out.join("manifest.json").symlink_metadata() {
        Ok(m) if m.is_file() => {
            listed.owned.insert("manifest.json".to_string());
        }
        Ok(_) => listed.foreign.push("manifest.json".to_string()),
        Err(_) => {}
    }
    for dir in OWNED_FOLDERS {
        let base = out.join(dir);
        if !base.is_dir() || base.is_symlink() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&base) {
            let entry = entry.map_err(std::io::Error::other)?;
            if entry.file_type().is_dir() {
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
            if entry.file_type().is_file() && is_generated_name(&rel) {
                listed.owned.insert(rel);
            } else {
                listed.foreign.push(rel);
            }
        }
    }
    listed.foreign.sort();
    Ok(listed)
}

/// Whether a compile could have written the file at `rel` (relative to the
/// output folder): the names of [`super::emit`] and nothing else, so that
/// a file someone put there is never taken for a leftover artifact.
pub fn is_generated_name(rel: &str) -> bool {
    if rel == "manifest.json" {
        return true;
    }
    let Some((folder, rest)) = rel.split_once('/') else {
        return false;
    };
    if !rest.ends_with(".sql") {
        return false;
    }
    match folder {
        // The project's migrations (any depth, Flyway names) and the
        // generated `R__<level>_<name>.sql`.
        "migrations" => crate::project::parse_migration_name(rest).is_ok(),
        // `run/<level>_<name>...sql`, at least three digits, and a dbt
        // project's `on-run-start`/`on-run-end` hooks.
        "run" => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            (!rest.contains('/') && digits >= 3 && rest.as_bytes().get(digits) == Some(&b'_'))
                || rest == "on_run_start.sql"
                || rest == "on_run_end.sql"
        }
        // `unit/<model>.<test>.sql`
        "unit" => !rest.contains('/') && rest.trim_end_matches(".sql").contains('.'),
        // `analyses/<name>.sql`: a dbt project's analyses, compiled.
        "analyses" => !rest.contains('/'),
        _ => false,
    }
}

/// Where each artifact goes as soon as it is made.
pub trait Sink: Sync {
    /// One artifact. Called from several threads at once, once per path.
    fn put(&self, path: &str, text: &[u8]) -> std::io::Result<()>;
    /// An artifact too large to hold whole (manifest.json), as pieces
    /// that make it in order.
    fn put_pieces(
        &self,
        path: &str,
        pieces: &mut dyn Iterator<Item = Vec<u8>>,
    ) -> std::io::Result<()>;
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
    fn put(&self, path: &str, text: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(text).into_owned();
        lock(&self.0).push((path.to_string(), text));
        Ok(())
    }

    fn put_pieces(
        &self,
        path: &str,
        pieces: &mut dyn Iterator<Item = Vec<u8>>,
    ) -> std::io::Result<()> {
        self.put(path, &pieces.collect::<Vec<_>>().concat())
    }
}

/// The output folder as a compile found it, and the paths it has made
/// there since.
struct Output {
    out: PathBuf,
    existing: BTreeSet<String>,
    made: Mutex<Vec<String>>,
}

impl Output {
    fn new(out: &Path, existing: BTreeSet<String>) -> Output {
        Output {
            out: out.to_path_buf(),
            existing,
            made: Mutex::default(),
        }
    }

    /// Records that `path` is made; whether a file is there already.
    fn make(&self, path: &str) -> bool {
        lock(&self.made).push(path.to_string());
        self.existing.contains(path)
    }

    /// The paths made but not found, and the paths found but not made,
    /// both sorted.
    fn missing_and_extra(self) -> (Vec<String>, Vec<String>) {
        let mut made = self.made.into_inner().unwrap_or_else(|e| e.into_inner());
        made.par_sort_unstable();
        made.dedup();
        let (mut missing, mut extra) = (Vec::new(), Vec::new());
        let mut found = self.existing.into_iter().peekable();
        for path in made {
            while let Some(f) = found.next_if(|f| *f < path) {
                extra.push(f);
            }
            if found.next_if(|f| *f == path).is_none() {
                missing.push(path);
            }
        }
        extra.extend(found);
        (missing, extra)
    }
}

/// Writes artifacts into the output folder. A file whose content is
/// unchanged is not rewritten, so its modification time stays; files a
/// previous compile wrote that are no longer made are removed by `finish`.
pub struct Writer {
    output: Output,
    folders: Mutex<BTreeSet<String>>,
}

impl Writer {
    /// `existing`: what [`existing_paths`] found in `out`.
    pub fn new(out: &Path, existing: BTreeSet<String>) -> Writer {
        Writer {
            output: Output::new(out, existing),
            folders: Mutex::default(),
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        let out = self.output.out.clone();
        let (_, extra) = self.output.missing_and_extra();
        // Only owned names reach `extra` (see `list_output`).
        let mut emptied = BTreeSet::new();
        for path in &extra {
            std::fs::remove_file(out.join(path))?;
            let mut folder = Path::new(path).parent();
            while let Some(f) = folder.filter(|f| f.components().count() > 1) {
                emptied.insert(f.to_path_buf());
                folder = f.parent();
            }
        }
        // Folders emptied by those removals go too, deepest first; the
        // folders a compile writes to themselves stay, as do any others.
        let mut emptied: Vec<PathBuf> = emptied.into_iter().collect();
        emptied.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in emptied {
            let _ = std::fs::remove_dir(out.join(d)); // fails, harmlessly, when not empty
        }
        for dir in OWNED_FOLDERS {
            if !extra.is_empty() {
                let _ = std::fs::remove_dir(out.join(dir)); // as above
            }
        }
        Ok(())
    }

    /// Creates the folder of `path` unless this writer did already: at
    /// 40,000 files, a `create_dir_all` per file was a fifth of the time
    /// spent writing.
    fn folder_of(&self, path: &str) -> std::io::Result<()> {
        let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
        if !lock(&self.folders).contains(folder) {
            std::fs::create_dir_all(self.output.out.join(folder))?;
            lock(&self.folders).insert(folder.to_string());
        }
        Ok(())
    }
}

impl Writer {
    /// Records that `path` is made, and whether a file is there already. A
    /// path that was not listed as owned but holds something (a symbolic
    /// link, a folder, a file in a linked folder that was not listed) is
    /// in the way: writing would go through it, so the compile stops.
    fn claim(&self, path: &str, target: &Path) -> std::io::Result<bool> {
        let existed = self.output.make(path);
        if !existed && target.symlink_metadata().is_ok() {
            return Err(std::io::Error::other(format!(
                "{} is in the way: stackc did not write it and does not write through or over it; move it away",
                crate::diagnostic::one_line(&target.display().to_string())
            )));
        }
        Ok(existed)
    }
}

impl Sink for Writer {
    fn put(&self, path: &str, text: &[u8]) -> std::io::Result<()> {
        let target = self.output.out.join(path);
        if self.claim(path, &target)? && same_file(&target, text) {
            return Ok(());
        }
        self.folder_of(path)?;
        std::fs::write(&target, text)
    }

    /// Compares the pieces with the file already there and writes nothing
    /// while they match. From the first difference on, a temporary file
    /// gets the matching start (copied from the old file) and the rest of
    /// the pieces, and replaces the old file.
    fn put_pieces(
        &self,
        path: &str,
        pieces: &mut dyn Iterator<Item = Vec<u8>>,
    ) -> std::io::Result<()> {
        let target = self.output.out.join(path);
        let existed = self.claim(path, &target)?;
        self.folder_of(path)?;
        let temporary = self.output.out.join(format!("{path}.stackc-partial"));
        let mut old = match existed {
            true => std::fs::File::open(&target)
                .ok()
                .map(std::io::BufReader::new),
            false => None,
        };
        // Bytes of the old file the pieces matched, while they all have.
        let mut matched: Option<u64> = old.as_ref().map(|_| 0);
        let mut file: Option<std::io::BufWriter<std::fs::File>> = None;
        let written = (|| {
            let mut buffer = Vec::new();
            for piece in pieces {
                if let (Some(n), Some(reader)) = (matched, old.as_mut()) {
                    buffer.resize(piece.len(), 0);
                    if reader.read_exact(&mut buffer).is_ok() && buffer == piece {
                        matched = Some(n + piece.len() as u64);
                        continue;
                    }
                }
                let out = match &mut file {
                    Some(out) => out,
                    None => file.insert(start_partial(&temporary, &target, matched.take())?),
                };
                out.write_all(&piece)?;
            }
            if let (Some(n), Some(reader)) = (matched, old.as_mut()) {
                if !reader.read(&mut [0]).is_ok_and(|read| read == 0) {
                    // The old file is longer: the pieces are its start.
                    file = Some(start_partial(&temporary, &target, Some(n))?);
                }
            }
            if file.is_none() && matched.is_none() {
                // No pieces, and no old file to compare with.
                file = Some(start_partial(&temporary, &target, None)?);
            }
            file.as_mut().map_or(Ok(()), |out| out.flush())
        })();
        match (written, file) {
            (Ok(()), None) => Ok(()),
            (Ok(()), Some(_)) => std::fs::rename(&temporary, &target),
            (Err(e), _) => {
                let _ = std::fs::remove_file(&temporary);
                Err(e)
            }
        }
    }
}

/// A temporary file that starts with the first `keep` bytes of `old`.
fn start_partial(
    temporary: &Path,
    old: &Path,
    keep: Option<u64>,
) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(temporary)?);
    if let Some(n) = keep.filter(|n| *n > 0) {
        let copied = std::io::copy(&mut std::fs::File::open(old)?.take(n), &mut file)?;
        if copied != n {
            return Err(std::io::Error::other(format!(
                "{} changed while it was being compared",
                old.display()
            )));
        }
    }
    Ok(file)
}

/// Compares artifacts with the output folder, writing nothing.
pub struct Checker {
    output: Output,
    stale: Mutex<Vec<String>>,
}

impl Checker {
    /// `existing`: what [`existing_paths`] found in `out`.
    pub fn new(out: &Path, existing: BTreeSet<String>) -> Checker {
        Checker {
            output: Output::new(out, existing),
            stale: Mutex::default(),
        }
    }

    pub fn finish(self) -> Staleness {
        let mut stale = self.stale.into_inner().unwrap_or_else(|e| e.into_inner());
        stale.sort();
        let (missing, extra) = self.output.missing_and_extra();
        Staleness {
            stale,
            missing,
            extra,
        }
    }
}

impl Sink for Checker {
    fn put(&self, path: &str, text: &[u8]) -> std::io::Result<()> {
        if self.output.make(path) && !same_file(&self.output.out.join(path), text) {
            lock(&self.stale).push(path.to_string());
        }
        Ok(())
    }

    fn put_pieces(
        &self,
        path: &str,
        pieces: &mut dyn Iterator<Item = Vec<u8>>,
    ) -> std::io::Result<()> {
        if self.output.make(path) && !same_content(&self.output.out.join(path), pieces) {
            lock(&self.stale).push(path.to_string());
        }
        Ok(())
    }
}

/// The folders under the output folder that a compile owns, besides
/// `manifest.json`.
const OWNED_FOLDERS: [&str; 4] = ["analyses", "migrations", "run", "unit"];

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks aborts the compile anyway;
    // the data under it is still whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the file at `path` holds exactly `text`; its size answers first.
fn same_file(path: &Path, text: &[u8]) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(text.len() as u64) {
        return false;
    }
    let mut bytes = Vec::with_capacity(text.len());
    file.read_to_end(&mut bytes).is_ok() && bytes == text
}

/// Whether the file at `path` holds exactly the pieces, read piece by piece
/// so that a large manifest is not held twice. Stops at the first
/// difference, leaving the rest of `pieces` unread.
fn same_content<P: AsRef<[u8]>>(path: &Path, pieces: &mut dyn Iterator<Item = P>) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut file = std::io::BufReader::new(file);
    let mut buffer = Vec::new();
    for piece in pieces {
        let piece = piece.as_ref();
        buffer.resize(piece.len(), 0);
        if file.read_exact(&mut buffer).is_err() || buffer != piece {
            return false;
        }
    }
    file.read(&mut [0]).is_ok_and(|n| n == 0)
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

    /// Short files whole, longer ones in pieces of two bytes, so that both
    /// ways of handing over a file are exercised.
    fn put(sink: &dyn Sink, files: &[(&str, &str)]) {
        for (path, text) in files {
            if text.len() < 4 {
                sink.put(path, text.as_bytes()).unwrap();
            } else {
                let mut pieces = text.as_bytes().chunks(2).map(<[u8]>::to_vec);
                sink.put_pieces(path, &mut pieces).unwrap();
            }
        }
    }

    #[test]
    fn checker_lists_stale_missing_and_extra_files() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(dir.path(), existing_paths(dir.path()).unwrap());
        put(
            &writer,
            &[
                ("run/001_a.sql", "select 1;\n"),
                ("run/001_c.sql", "3"),
                ("manifest.json", "{}"),
            ],
        );
        writer.finish().unwrap();
        let checker = Checker::new(dir.path(), existing_paths(dir.path()).unwrap());
        put(
            &checker,
            &[
                ("run/001_a.sql", "select 2;\n"),
                ("run/001_b.sql", "2"),
                ("manifest.json", "{}"),
            ],
        );
        let s = checker.finish();
        assert_eq!(s.stale, ["run/001_a.sql"]);
        assert_eq!(s.missing, ["run/001_b.sql"]);
        assert_eq!(s.extra, ["run/001_c.sql"]);
    }

    #[test]
    fn writer_removes_what_is_no_longer_made_and_keeps_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(dir.path(), existing_paths(dir.path()).unwrap());
        put(
            &writer,
            &[
                ("run/001_a.sql", "a"),
                ("unit/x.y.sql", "y"),
                ("manifest.json", "{ 1 }"),
            ],
        );
        writer.finish().unwrap();
        let a = dir.path().join("run/001_a.sql");
        let manifest = dir.path().join("manifest.json");
        let manifest_before = std::fs::metadata(&manifest).unwrap().modified().unwrap();
        let before = std::fs::metadata(&a).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let writer = Writer::new(dir.path(), existing_paths(dir.path()).unwrap());
        let second = [
            ("run/001_a.sql", "a"),
            ("migrations/V1__x.sql", "x"),
            ("manifest.json", "{ 1 }"),
        ];
        put(&writer, &second);
        writer.finish().unwrap();
        let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(modified(&a), before, "an unchanged file is not rewritten");
        assert_eq!(
            modified(&manifest),
            manifest_before,
            "nor one written in pieces"
        );
        assert!(
            !dir.path().join("unit").exists(),
            "an emptied folder is removed"
        );
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(read("migrations/V1__x.sql"), "x");
        let checker = Checker::new(dir.path(), existing_paths(dir.path()).unwrap());
        put(&checker, &second);
        assert!(checker.finish().is_clean());

        // A changed manifest replaces the old one, and no partial file stays.
        let writer = Writer::new(dir.path(), existing_paths(dir.path()).unwrap());
        put(
            &writer,
            &[("run/001_a.sql", "a"), ("manifest.json", "{ 1, 2 }")],
        );
        writer.finish().unwrap();
        assert_eq!(read("manifest.json"), "{ 1, 2 }");
        assert!(!dir.path().join("manifest.json.stackc-partial").exists());
        assert!(!dir.path().join("migrations").exists());
    }

    #[test]
    fn files_a_compile_did_not_write_are_never_removed_nor_compared() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(dir.path(), existing_paths(dir.path()).unwrap());
        put(&writer, &[("run/001_a.sql", "a"), ("manifest.json", "{}")]);
        writer.finish().unwrap();
        let theirs = [
            "run/notes.txt",
            "run/a.sql",
            "run/sub/001_a.sql",
            "migrations/readme.sql",
            "unit/x.sql",
            "other/001_a.sql",
        ];
        for rel in theirs {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "mine").unwrap();
        }
        let listed = list_output(dir.path()).unwrap();
        assert_eq!(
            listed.owned.iter().collect::<Vec<_>>(),
            ["manifest.json", "run/001_a.sql"]
        );
        let mut foreign: Vec<_> = theirs[..5].to_vec();
        foreign.sort_unstable();
        assert_eq!(listed.foreign, foreign);
        // A compile that makes nothing in run/ any more removes only its own file.
        let writer = Writer::new(dir.path(), listed.owned);
        put(&writer, &[("manifest.json", "{}")]);
        writer.finish().unwrap();
        assert!(!dir.path().join("run/001_a.sql").exists());
        for rel in theirs {
            assert_eq!(
                std::fs::read_to_string(dir.path().join(rel)).unwrap(),
                "mine"
            );
        }
        let checker = Checker::new(dir.path(), existing_paths(dir.path()).unwrap());
        put(&checker, &[("manifest.json", "{}")]);
        assert!(checker.finish().is_clean());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_the_way_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs.sql");
        std::fs::write(&theirs, "mine").unwrap();
        std::fs::create_dir_all(dir.path().join("out/run")).unwrap();
        std::os::unix::fs::symlink(&theirs, dir.path().join("out/run/001_a.sql")).unwrap();
        let out = dir.path().join("out");
        let listed = list_output(&out).unwrap();
        assert_eq!(listed.foreign, ["run/001_a.sql"]);
        let writer = Writer::new(&out, listed.owned);
        let e = writer.put("run/001_a.sql", b"select 1;\n").unwrap_err();
        assert!(e.to_string().contains("is in the way"), "{e}");
        let mut pieces = [b"{}".to_vec()].into_iter();
        std::os::unix::fs::symlink(&theirs, out.join("manifest.json")).unwrap();
        let listed = list_output(&out).unwrap();
        assert_eq!(listed.foreign, ["manifest.json", "run/001_a.sql"]);
        let writer = Writer::new(&out, listed.owned);
        assert!(writer.put_pieces("manifest.json", &mut pieces).is_err());
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "mine");
    }

    #[test]
    fn generated_names_are_recognised() {
        for rel in [
            "manifest.json",
            "migrations/V1__a.sql",
            "migrations/sub/V1.1__a.sql",
            "migrations/R__000_x.sql",
            "run/000_x.sql",
            "run/1000_x.test.y.sql",
            "run/on_run_start.sql",
            "run/on_run_end.sql",
            "unit/m.t.sql",
        ] {
            assert!(is_generated_name(rel), "{rel}");
        }
        for rel in [
            "stackc.toml",
            "models/x.sql",
            "migrations/notes.sql",
            "migrations/V1__a.txt",
            "run/01_x.sql",
            "run/x/000_y.sql",
            "run/000x.sql",
            "unit/m.sql",
        ] {
            assert!(!is_generated_name(rel), "{rel}");
        }
    }

    #[test]
    fn pieces_replace_a_file_that_differs_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        let write = |text: &str| {
            let writer = Writer::new(dir.path(), existing_paths(dir.path()).unwrap());
            let mut pieces = text.as_bytes().chunks(3).map(<[u8]>::to_vec);
            writer.put_pieces("manifest.json", &mut pieces).unwrap();
            writer.finish().unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
            assert!(!dir.path().join("manifest.json.stackc-partial").exists());
        };
        write("");
        write("abcdefghij");
        write("abcdefXhij"); // differs in the middle
        write("abcdefXhijklm"); // longer
        write("abcdef"); // shorter: the pieces are the old file's start
        write("Zbcdef"); // differs in the first piece
        write("Zbcdef");
    }
}
