//! Reading the project's files: listing folders, decoding UTF-8, and parsing
//! schema files on a few threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic, SourceFiles};
use crate::schema::{self, SchemaFile};

use super::SourceFile;

/// The folders between one of `dirs` and the file at `rel`.
pub(super) fn folders_under(rel: &str, dirs: &[String]) -> Option<Vec<String>> {
    let inner = dirs
        .iter()
        .find_map(|dir| rel.strip_prefix(dir.as_str())?.strip_prefix('/'))?;
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    parts.pop();
    Some(parts)
}

/// The folders of `rel` below the first of `dirs` it is under, or all of
/// its folders when it is under none.
pub(super) fn folders_within(rel: &str, dirs: &[String]) -> Vec<String> {
    folders_under(rel, dirs).unwrap_or_else(|| {
        let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
        parts.pop();
        parts
    })
}

/// [`list_files`] over several folders, each file once, in path order.
pub(super) fn list_dirs(
    root: &Path,
    dirs: &[String],
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for dir in dirs {
        out.extend(list_files(root, dir, files, diagnostics));
    }
    out.sort();
    out.dedup();
    out
}

pub(crate) fn source_file(files: &mut SourceFiles, rel: &str, text: String) -> SourceFile {
    let path: Arc<str> = Arc::from(rel);
    let text: Arc<str> = Arc::from(text);
    files.insert(&path, &text);
    SourceFile { path, text }
}

pub(super) fn read_source(
    files: &mut SourceFiles,
    rel: &str,
    abs: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SourceFile> {
    source_from_bytes(files, rel, std::fs::read(abs), diagnostics)
}

pub(super) fn source_from_bytes(
    files: &mut SourceFiles,
    rel: &str,
    bytes: std::io::Result<Vec<u8>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SourceFile> {
    match bytes {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(source_file(files, rel, text)),
            Err(e) => {
                diagnostics.push(not_utf8(files, rel, e));
                None
            }
        },
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(Code::E0006, format!("cannot read `{rel}`: {e}"))
                    .at_file(&Arc::from(rel), 0..0)
                    .help("check the file's permissions"),
            );
            None
        }
    }
}

/// E0006 at the first invalid byte. The file's text, with invalid bytes
/// replaced, is kept for the diagnostic alone: the bytes before the first
/// invalid one are the file's own, so its line and column are right.
pub(super) fn not_utf8(
    files: &mut SourceFiles,
    rel: &str,
    e: std::string::FromUtf8Error,
) -> Diagnostic {
    let at = e.utf8_error().valid_up_to();
    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
    let file = source_file(files, rel, text);
    // U+FFFD, which replaced the invalid byte, is three bytes long.
    Diagnostic::new(
        Code::E0006,
        format!("`{rel}` is not valid UTF-8 (invalid byte at offset {at})"),
    )
    .at_file(&file.path, at..at + 3)
    .help("save the file as UTF-8")
}

pub(super) type ReadModel = (String, std::io::Result<Vec<u8>>);

/// A schema file as read and parsed, with its path for sorting.
pub(super) type ParsedYaml = (String, SourceFiles, Option<SchemaFile>, Vec<Diagnostic>);

/// Schema files that get a `rayon::join` branch of their own.
pub(super) const OWN_BRANCH: usize = 8;

/// Parses the schema files in `paths` (largest first) while `other` runs.
pub(super) fn parse_schema_files_while<R: Send>(
    paths: &[(String, PathBuf)],
    other: impl FnOnce() -> R + Send,
) -> (Vec<ParsedYaml>, R) {
    let (large, small) = paths.split_at(paths.len().min(OWN_BRANCH));
    let (mut parsed, (mut parsed_small, result)) = one_branch_each(large, || {
        rayon::join(
            || {
                small
                    .par_iter()
                    .map(|(rel, abs)| parse_schema_file(rel, abs))
                    .collect::<Vec<_>>()
            },
            other,
        )
    });
    parsed.append(&mut parsed_small);
    (parsed, result)
}

/// Each file is a branch of a `rayon::join`: the thread that takes it
/// parses it while the next branch (the next file, at the end `other`) is
/// left for the other thread to take.
pub(super) fn one_branch_each<R: Send>(
    paths: &[(String, PathBuf)],
    other: impl FnOnce() -> R + Send,
) -> (Vec<ParsedYaml>, R) {
    let Some(((rel, abs), rest)) = paths.split_first() else {
        return (Vec::new(), other());
    };
    let (first, (mut parsed, result)) = rayon::join(
        || parse_schema_file(rel, abs),
        || one_branch_each(rest, other),
    );
    parsed.push(first);
    (parsed, result)
}

pub(super) fn parse_schema_file(rel: &str, abs: &Path) -> ParsedYaml {
    let mut local = Vec::new();
    let mut files = SourceFiles::default();
    let bytes = std::fs::read(abs);
    let file = source_from_bytes(&mut files, rel, bytes, &mut local);
    let schema = file.as_ref().and_then(|f| schema::parse(f, &mut local));
    (rel.to_string(), files, schema, local)
}

/// Every file under `root/dir`, as (path relative to root with `/`, absolute
/// path), sorted by relative path. A missing folder is simply empty.
pub(super) fn list_files(
    root: &Path,
    dir: &str,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(String, PathBuf)> {
    let base = root.join(dir);
    if !base.is_dir() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&base).follow_links(true) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                diagnostics.push(Diagnostic::new(
                    Code::E0006,
                    format!("cannot read `{dir}`: {e}"),
                ));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        // Hidden files (editor swap files, .gitkeep) are not part of the project.
        if rel.iter().any(|part| part.starts_with('.')) {
            continue;
        }
        let rel = rel.join("/");
        if rel.chars().any(char::is_control) {
            // The path would reach artifacts (names, `-- source:` lines)
            // and every diagnostic's header: refused, whatever the file.
            let text = std::fs::read(entry.path()).unwrap_or_default();
            let file = source_file(files, &rel, String::from_utf8_lossy(&text).into_owned());
            diagnostics.push(
                Diagnostic::new(
                    Code::E0010,
                    format!(
                        "the path `{}` contains a control character",
                        crate::diagnostic::one_line(&rel)
                    ),
                )
                .at_file(&file.path, 0..0)
                .help(
                    "rename the file or folder without newlines, tabs or other control characters",
                ),
            );
            continue;
        }
        out.push((rel, entry.path().to_path_buf()));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unused_imports)]
    use super::super::*;

    #[test]
    fn schema_files_come_in_path_order_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("stackc.toml"), "[project]\nname = \"p\"\n").unwrap();
        std::fs::create_dir_all(root.join("models")).unwrap();
        // More files than get a branch of their own, sizes out of path order.
        let mut expected = Vec::new();
        for i in 0..(OWN_BRANCH * 2 + 3) {
            let name = format!("m{i:02}");
            std::fs::write(root.join(format!("models/{name}.sql")), "select 1 as id\n").unwrap();
            let padding = "#\n".repeat((i * 7919) % 97);
            let yml = format!("version: 2\n{padding}models:\n  - name: {name}\n");
            let path = format!("models/{name}.yml");
            std::fs::write(root.join(&path), yml).unwrap();
            expected.push(path);
        }
        let mut diagnostics = Vec::new();
        let project = load(root, &mut diagnostics).unwrap();
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let paths: Vec<&str> = project.schema_files.iter().map(|f| &*f.path).collect();
        assert_eq!(paths, expected);
        let names: Vec<&str> = project
            .schema_files
            .iter()
            .flat_map(|f| f.models.iter().map(|m| m.name.as_str()))
            .collect();
        assert_eq!(names.len(), expected.len());
        assert_eq!(project.models.len(), expected.len());
    }
}
