//! What a compile's `manifest.json` was made from, so that `stackc ls`,
//! `graph` and `lineage` can answer from it instead of compiling again: at
//! 10,000 models a compile in memory takes seconds, reading the manifest a
//! fraction of one.
//!
//! `stackc compile` writes `DIR/.stackc-cache/fingerprint.json` (beside the
//! other caches, never in the artifacts, which stay deterministic) after it
//! wrote OUT. It holds everything that can change the manifest:
//! - the stackc build ([`crate::render::cache::header`]: version, size and
//!   time of the binary);
//! - the loading options (`--vars`, `--target`, `--profiles-dir`);
//! - every file the compile could read: the files directly in the project
//!   folder, every file under the folders a compile reads
//!   ([`crate::project::input_folders`]), and each place profiles.yml is
//!   looked for (present or not), each by path, size, modification time
//!   and SHA-256 of the text the compile read;
//! - the environment variables the project's files name in `env_var(...)`,
//!   with their values. A file that calls `env_var` with anything but a
//!   quoted name (the name is only known when rendering) gets no
//!   fingerprint at all;
//! - where the manifest was written, and its CRC-32 (read whole on every
//!   check: at 10,000 models a SHA-256 of it would take longer than the
//!   rest of the check).
//!
//! [`fresh_manifest`] answers only when all of it is unchanged. A file whose
//! size and time are unchanged is taken as unchanged (as `make` and `git`
//! do), except a file changed less than [`RACY`] before the compile began:
//! a later edit could leave the same time, so its text is compared every
//! time. Any other difference is compared by text, so a file touched but not
//! changed keeps the fingerprint. Anything missing, unreadable or different
//! means no answer, and the caller compiles as before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diagnostic::SourceFiles;
use crate::project::LoadOptions;

const FOLDER: &str = ".stackc-cache";
const FILE: &str = "fingerprint.json";

/// How long before a compile a file's modification time is too close to
/// trust: file systems keep times to 2 s (FAT), 1 s (ext3, HFS+) or the
/// kernel's clock tick, and an edit within that step leaves the time as it
/// was. Such files are compared by text.
const RACY: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, Deserialize)]
struct Fingerprint {
    build: String,
    options: String,
    env: BTreeMap<String, Option<String>>,
    files: Vec<Stamp>,
    manifest: PathBuf,
    manifest_crc32: u32,
}

/// One file as the compile saw it. `sha256` is `None` for a file changed
/// during the compile that the compile did not keep the text of: it makes
/// the fingerprint stale until the next compile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Stamp {
    path: String,
    /// `None`: no file there (a place profiles.yml is looked for).
    seen: Option<Seen>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Seen {
    size: u64,
    modified_ns: u128,
    /// Compared by text on every check.
    racy: bool,
    sha256: Option<String>,
}

/// The moment a compile starts, before it reads anything.
pub fn started() -> SystemTime {
    SystemTime::now()
}

/// Records what the compile begun at `started`, which read `files` and
/// wrote `out/manifest.json`, was made from. A project whose files call
/// `env_var` with a computed name gets no fingerprint (an earlier one is
/// removed), so the next `ls` compiles.
pub fn save(
    dir: &Path,
    out: &Path,
    options: &LoadOptions,
    files: &SourceFiles,
    started: SystemTime,
) -> std::io::Result<()> {
    let path = dir.join(FOLDER).join(FILE);
    let made = make(dir, out, options, files, started)?;
    let Some(made) = made else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    let text = serde_json::to_vec(&made).map_err(std::io::Error::other)?;
    crate::render::cache_file::write_cache_file(dir, FILE, &text)
}

fn make(
    dir: &Path,
    out: &Path,
    options: &LoadOptions,
    files: &SourceFiles,
    started: SystemTime,
) -> std::io::Result<Option<Fingerprint>> {
    let Some(build) = crate::render::cache::header() else {
        return Ok(None);
    };
    let Some(names) = env_names(files) else {
        return Ok(None);
    };
    let trusted_before = started.checked_sub(RACY).unwrap_or(SystemTime::UNIX_EPOCH);
    let stamps = listing(dir, options)
        .into_par_iter()
        .map(|(path, abs)| {
            let Some(meta) = metadata(&abs) else {
                return Ok(Stamp { path, seen: None });
            };
            let modified = meta.modified()?;
            let racy = modified >= trusted_before;
            // The text the compile read; a file it did not keep is read
            // now, unless it may have changed since the compile read it.
            let sha256 = match files.get(&path) {
                Some(text) => Some(hex(text.as_bytes())),
                None if racy => None,
                None => Some(hex(&std::fs::read(&abs)?)),
            };
            Ok(Stamp {
                path,
                seen: Some(Seen {
                    size: meta.len(),
                    modified_ns: nanos(modified),
                    racy,
                    sha256,
                }),
            })
        })
        .collect::<std::io::Result<Vec<Stamp>>>()?;
    let manifest = std::path::absolute(out.join("manifest.json"))?;
    let manifest_crc32 = crc32fast::hash(&std::fs::read(&manifest)?);
    Ok(Some(Fingerprint {
        build,
        options: format!("{options:?}"),
        env: env_values(names),
        files: stamps,
        manifest,
        manifest_crc32,
    }))
}

/// The manifest the last compile wrote, when nothing it was made from has
/// changed since; `None` otherwise (compile instead).
#[derive(Debug)]
pub struct FreshManifest {
    pub text: String,
    /// Of `text`: what a cache made from it is keyed by.
    pub crc32: u32,
}

/// The text of the manifest the last compile wrote, when nothing it was
/// made from has changed since; `None` otherwise (compile instead).
pub fn fresh_manifest(dir: &Path, options: &LoadOptions) -> Option<FreshManifest> {
    let bytes = std::fs::read(dir.join(FOLDER).join(FILE)).ok()?;
    let earlier: Fingerprint = serde_json::from_slice(&bytes).ok()?;
    if Some(&earlier.build) != crate::render::cache::header().as_ref()
        || earlier.options != format!("{options:?}")
        || earlier.env != env_values(earlier.env.keys().cloned().collect())
    {
        return None;
    }
    let now = listing(dir, options);
    if now.len() != earlier.files.len()
        || now
            .iter()
            .zip(&earlier.files)
            .any(|((path, _), stamp)| *path != stamp.path)
    {
        return None;
    }
    let (manifest, unchanged) = rayon::join(
        || std::fs::read(&earlier.manifest).ok(),
        || {
            now.par_iter()
                .zip(&earlier.files)
                .all(|((_, abs), stamp)| unchanged(abs, stamp))
        },
    );
    let manifest =
        manifest.filter(|m| unchanged && crc32fast::hash(m) == earlier.manifest_crc32)?;
    Some(FreshManifest {
        text: String::from_utf8(manifest).ok()?,
        crc32: earlier.manifest_crc32,
    })
}

fn unchanged(abs: &Path, stamp: &Stamp) -> bool {
    let (meta, seen) = match (metadata(abs), &stamp.seen) {
        (None, None) => return true,
        (Some(meta), Some(seen)) => (meta, seen),
        _ => return false,
    };
    let same_stat =
        meta.len() == seen.size && meta.modified().is_ok_and(|m| nanos(m) == seen.modified_ns);
    if same_stat && !seen.racy {
        return true;
    }
    match (&seen.sha256, std::fs::read(abs)) {
        (Some(sha256), Ok(text)) => hex(&text) == *sha256,
        _ => false,
    }
}

/// Every file whose change could change the manifest, by the name the
/// compile reads it under (relative to `dir`, `/` separators) or, outside
/// the project, by its absolute path; sorted.
fn listing(dir: &Path, options: &LoadOptions) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let abs = entry.path();
            if !name.starts_with('.') && abs.is_file() {
                out.push((name, abs));
            }
        }
    }
    for folder in crate::project::input_folders(dir) {
        let base = dir.join(&folder);
        if !base.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&base).follow_links(true) {
            let Ok(entry) = entry else {
                // A folder that cannot be listed now: the compile reported
                // it, or it changed since; either way, no answer.
                out.push((String::from("\u{0}unlistable"), base.clone()));
                continue;
            };
            // Hidden files are no part of the project (see `project`).
            if !entry.file_type().is_file() || entry.file_name().to_string_lossy().starts_with('.')
            {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(dir) else {
                continue;
            };
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((rel.join("/"), entry.into_path()));
        }
    }
    for (candidate, _) in crate::dbt::profiles::candidates(dir, options) {
        let abs = std::path::absolute(&candidate).unwrap_or(candidate);
        out.push((abs.display().to_string(), abs));
    }
    out.sort();
    out.dedup();
    out
}

fn metadata(path: &Path) -> Option<std::fs::Metadata> {
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The SHA-256 of `bytes`, in hex.
fn hex(bytes: &[u8]) -> String {
    crate::naming::hex(&Sha256::digest(bytes))
}

fn env_values(names: Vec<String>) -> BTreeMap<String, Option<String>> {
    // As `env_var()` reads them: unset and not UTF-8 are alike.
    names
        .into_iter()
        .map(|name| {
            let value = std::env::var(&name).ok();
            (name, value)
        })
        .collect()
}

/// The names every file passes to `env_var(...)`; `None` when one passes
/// something else (a variable, a concatenation), whose name only a render
/// knows.
fn env_names(files: &SourceFiles) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for (_, text) in files.iter() {
        names.extend(env_names_in(text)?);
    }
    names.sort();
    names.dedup();
    Some(names)
}

fn env_names_in(text: &str) -> Option<Vec<String>> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = Vec::new();
    for (at, word) in text.match_indices("env_var") {
        let before = text[..at].chars().next_back();
        let rest = &text[at + word.len()..];
        if before.is_some_and(ident) || rest.chars().next().is_some_and(ident) {
            continue;
        }
        let rest = rest.trim_start().strip_prefix('(')?.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '\'' || *q == '"')?;
        let (name, after) = rest[1..].split_once(quote)?;
        let after = after.trim_start();
        if name.contains('\\') || !(after.starts_with(',') || after.starts_with(')')) {
            return None;
        }
        names.push(name.to_string());
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_are_read_only_when_quoted() {
        assert_eq!(
            env_names_in("{{ env_var('A') }} {{ env_var( \"B\" , 'd') }} my_env_var(x)"),
            Some(vec!["A".to_string(), "B".to_string()])
        );
        assert_eq!(env_names_in("{{ env_var(name) }}"), None);
        assert_eq!(env_names_in("{{ env_var('A' ~ b) }}"), None);
        assert_eq!(env_names_in("{% set f = env_var %}"), None);
        assert_eq!(env_names_in("no call"), Some(vec![]));
    }

    fn project() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("stackc.toml"), "[project]\nname = \"p\"\n").unwrap();
        std::fs::create_dir_all(dir.join("models")).unwrap();
        std::fs::write(dir.join("models/a.sql"), "select 1 as id\n").unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::write(dir.join("out/manifest.json"), "{}").unwrap();
        tmp
    }

    fn files_of(dir: &Path) -> SourceFiles {
        // What a compile reads of this project.
        let mut files = SourceFiles::default();
        let mut read = |rel: &str| {
            let text = std::fs::read_to_string(dir.join(rel)).unwrap();
            crate::project::source_file(&mut files, rel, text);
        };
        read("stackc.toml");
        for entry in std::fs::read_dir(dir.join("models")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.starts_with('.') {
                read(&format!("models/{name}"));
            }
        }
        files
    }

    /// Sets a file's modification time to an hour ago, as if it had been
    /// written long before the compile.
    fn age(path: &Path) {
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
    }

    #[test]
    fn a_fingerprint_holds_until_an_input_changes() {
        let tmp = project();
        let dir = tmp.path();
        let options = LoadOptions::default();
        let save_now = || save(dir, &dir.join("out"), &options, &files_of(dir), started()).unwrap();
        save_now();
        assert_eq!(
            fresh_manifest(dir, &options).map(|m| m.text).as_deref(),
            Some("{}")
        );
        let other = LoadOptions {
            target: Some("prod".into()),
            ..LoadOptions::default()
        };
        assert!(fresh_manifest(dir, &other).is_none(), "another target");

        // A racy file is compared by text: the same size and time do not hide the edit.
        let model = dir.join("models/a.sql");
        let time = std::fs::metadata(&model).unwrap().modified().unwrap();
        std::fs::write(&model, "select 2 as id\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&model)
            .unwrap()
            .set_modified(time)
            .unwrap();
        assert!(fresh_manifest(dir, &options).is_none(), "an edit");

        std::fs::write(dir.join("models/b.sql"), "select 1 as id\n").unwrap();
        save_now();
        assert!(fresh_manifest(dir, &options).is_some());
        std::fs::remove_file(dir.join("models/b.sql")).unwrap();
        assert!(fresh_manifest(dir, &options).is_none(), "a removed file");
        save_now();
        std::fs::write(dir.join("models/c.yml"), "version: 2\n").unwrap();
        assert!(fresh_manifest(dir, &options).is_none(), "a new file");
        std::fs::remove_file(dir.join("models/c.yml")).unwrap();
        std::fs::write(dir.join("models/.a.sql.swp"), "x").unwrap();
        assert!(fresh_manifest(dir, &options).is_some(), "a hidden file");

        std::fs::write(dir.join("out/manifest.json"), "{ }").unwrap();
        assert!(fresh_manifest(dir, &options).is_none(), "another manifest");
    }

    #[test]
    fn an_old_file_is_trusted_by_size_and_time_and_a_touched_one_by_text() {
        let tmp = project();
        let dir = tmp.path();
        let model = dir.join("models/a.sql");
        age(&model);
        let options = LoadOptions::default();
        save(dir, &dir.join("out"), &options, &files_of(dir), started()).unwrap();
        let text = std::fs::read_to_string(dir.join(FOLDER).join(FILE)).unwrap();
        assert!(text.contains(r#""path":"models/a.sql","seen":{"size":15"#));
        // Touched: compared by text, which is the same.
        std::fs::write(&model, "select 1 as id\n").unwrap();
        assert!(fresh_manifest(dir, &options).is_some());
        std::fs::write(&model, "select 3 as id\n").unwrap();
        assert!(fresh_manifest(dir, &options).is_none());
    }

    #[test]
    fn a_computed_env_var_name_leaves_no_fingerprint() {
        let tmp = project();
        let dir = tmp.path();
        let options = LoadOptions::default();
        save(dir, &dir.join("out"), &options, &files_of(dir), started()).unwrap();
        std::fs::write(dir.join("models/a.sql"), "select '{{ env_var(x) }}'\n").unwrap();
        save(dir, &dir.join("out"), &options, &files_of(dir), started()).unwrap();
        assert!(!dir.join(FOLDER).join(FILE).exists());
        assert!(fresh_manifest(dir, &options).is_none());
    }

    #[test]
    fn a_named_env_var_is_part_of_the_fingerprint() {
        let tmp = project();
        let dir = tmp.path();
        // The value of an unset variable is recorded as unset; one that is
        // surely set (PATH) with its value.
        std::fs::write(
            dir.join("models/a.sql"),
            "select '{{ env_var('PATH') }}', '{{ env_var('STACKC_FINGERPRINT_TEST_UNSET', 'x') }}'\n",
        )
        .unwrap();
        let options = LoadOptions::default();
        let made = make(dir, &dir.join("out"), &options, &files_of(dir), started())
            .unwrap()
            .unwrap();
        assert_eq!(
            made.env.keys().collect::<Vec<_>>(),
            ["PATH", "STACKC_FINGERPRINT_TEST_UNSET"]
        );
        assert_eq!(made.env["STACKC_FINGERPRINT_TEST_UNSET"], None);
        assert_eq!(made.env["PATH"], std::env::var("PATH").ok());
    }
}
