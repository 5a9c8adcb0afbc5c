//! `stackc docs`: a static site of the project (its lineage graph and a
//! page per node) in one self-contained `index.html` that opens from the
//! file system: [`data`] is what it shows, [`layout`] where the graph's
//! nodes sit, [`embed`] the page around the data, [`serve`] the optional
//! local server. The page's script and stylesheet are committed files
//! under `site/`, compiled into the binary: no build step, no network.

pub mod data;
pub mod embed;
pub mod layout;
pub mod serve;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The one file of the site.
pub const INDEX: &str = "index.html";

/// The line near the top of every page stackc writes, by which it knows
/// a file it may replace.
pub const MARK: &str = r#"<meta name="generator" content="stackc docs">"#;

/// How far into a file [`MARK`] is looked for.
const MARK_WITHIN: usize = 512;

/// Whether `text` is a page `stackc docs` wrote.
pub fn written_by_stackc(text: &[u8]) -> bool {
    let head = &text[..text.len().min(MARK_WITHIN)];
    head.windows(MARK.len()).any(|w| w == MARK.as_bytes())
}

#[derive(Debug)]
pub enum WriteError {
    /// A file stackc did not write sits where the page goes.
    Foreign(PathBuf),
    /// A folder or a symbolic link sits where the page goes.
    NotAFile(PathBuf),
    Io(PathBuf, io::Error),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |p: &Path| crate::diagnostic::one_line(&p.display().to_string());
        match self {
            WriteError::Foreign(p) => write!(
                f,
                "{} was not written by stackc: left alone; remove it yourself, or pass another --out-dir",
                shown(p)
            ),
            WriteError::NotAFile(p) => write!(
                f,
                "{} is a folder or a symbolic link: stackc writes the page only as a file of its own; pass another --out-dir",
                shown(p)
            ),
            WriteError::Io(p, e) => write!(f, "cannot write {}: {e}", shown(p)),
        }
    }
}

/// Writes `page` as `out_dir/index.html`, creating the folder, and
/// replacing only a page stackc wrote before; other files in the folder
/// are left as they are. Returns the page's path.
pub fn write_site(out_dir: &Path, page: &str) -> Result<PathBuf, WriteError> {
    std::fs::create_dir_all(out_dir).map_err(|e| WriteError::Io(out_dir.to_path_buf(), e))?;
    let path = out_dir.join(INDEX);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.file_type().is_file() => return Err(WriteError::NotAFile(path)),
        Ok(_) => {
            let existing = std::fs::read(&path).map_err(|e| WriteError::Io(path.clone(), e))?;
            if !written_by_stackc(&existing) {
                return Err(WriteError::Foreign(path));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(WriteError::Io(path, e)),
    }
    // Written beside and renamed over, so that a browser reloading the
    // page never reads half of it.
    let partial = out_dir.join(".index.html.stackc-partial");
    if std::fs::symlink_metadata(&partial).is_ok_and(|m| !m.file_type().is_file()) {
        return Err(WriteError::NotAFile(partial));
    }
    std::fs::write(&partial, page).map_err(|e| WriteError::Io(partial.clone(), e))?;
    std::fs::rename(&partial, &path).map_err(|e| WriteError::Io(path.clone(), e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_page_stackc_wrote_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("site");
        let page = format!("<!DOCTYPE html>\n<head>\n{MARK}\n</head>");
        let path = write_site(&out, &page).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), page);
        write_site(&out, &format!("{page}\n")).unwrap();
        std::fs::write(&path, "<html>my own page</html>").unwrap();
        assert!(matches!(
            write_site(&out, &page),
            Err(WriteError::Foreign(_))
        ));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "<html>my own page</html>"
        );
        let other = tmp.path().join("other");
        std::fs::create_dir_all(other.join(INDEX)).unwrap();
        assert!(matches!(
            write_site(&other, &page),
            Err(WriteError::NotAFile(_))
        ));
    }

    #[test]
    fn the_mark_is_looked_for_near_the_top_only() {
        assert!(written_by_stackc(MARK.as_bytes()));
        let late = format!("{}{MARK}", " ".repeat(MARK_WITHIN));
        assert!(!written_by_stackc(late.as_bytes()));
        assert!(!written_by_stackc(b""));
    }

    #[test]
    fn the_template_carries_the_mark_near_its_top() {
        let site = data::Site {
            graph: data::GraphData {
                project: "p".into(),
                cell: [1, 1],
                columns: 0,
                rows: 0,
                nodes: Vec::new(),
                edges: Vec::new(),
            },
            details: Vec::new(),
            test_sql: Vec::new(),
        };
        assert!(written_by_stackc(embed::page(&site).unwrap().as_bytes()));
    }
}
