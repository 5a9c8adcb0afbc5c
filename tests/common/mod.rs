//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn stackc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the stackc binary runs")
}

/// Every file under `dir`, by path relative to it.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.expect("readable tree");
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).expect("inside dir");
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.insert(
                rel,
                std::fs::read_to_string(entry.path()).expect("utf-8 artifact"),
            );
        }
    }
    out
}

/// Copies a folder tree (for tests that edit a project).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("readable tree");
        let rel = entry.path().strip_prefix(from).expect("inside from");
        if rel.starts_with("target") {
            continue;
        }
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
