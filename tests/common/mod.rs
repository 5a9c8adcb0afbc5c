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
/// `stackc compile DIR --out OUT` without colour, `more` setting the rest
/// of the command (its environment); the exit code and stderr with the
/// folder names taken out, so that two folders' messages compare.
pub fn compile_quiet(
    dir: &Path,
    out: &Path,
    more: impl FnOnce(&mut Command),
) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackc"));
    command
        .args([
            "compile",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env("NO_COLOR", "1");
    more(&mut command);
    let output = command.output().expect("the stackc binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr)
        .replace(dir.to_str().unwrap(), "DIR")
        .replace(out.to_str().unwrap(), "OUT");
    (output.status.code(), stderr)
}

/// Replaces the first `from` in the file at `path` with `to`.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.expect("readable tree");
        let rel = entry.path().strip_prefix(dir).expect("inside dir");
        // The caches a compile keeps in a project folder (render.bin is not
        // text) are neither project files nor artifacts; the tests of the
        // caches read them by name.
        if rel.starts_with(".stackc-cache") {
            continue;
        }
        if entry.file_type().is_file() {
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
        // Build output and caches (a compile of the repository's own
        // project_template leaves `.stackc-cache/`) are no part of a project.
        if rel.starts_with("target") || rel.starts_with(".stackc-cache") {
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

/// The server the database tests use: `STACKC_TEST_DATABASE_URL`, else the
/// local PostgreSQL every development and CI machine runs.
pub fn admin_url() -> String {
    std::env::var("STACKC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Creates a fresh, empty database `<prefix>_<tag>_<pid>` for one test and
/// returns its name and connection settings (callers may add to them, e.g. a
/// notice callback, before connecting). Without a server the test fails and
/// says how to start one: never a silent skip.
pub fn create_database(prefix: &str, tag: &str) -> (String, postgres::Config) {
    let admin_url = admin_url();
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {admin_url}: {e}\n\
             start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
             or point STACKC_TEST_DATABASE_URL at a server"
        )
    });
    let name = format!("{prefix}_{tag}_{}", std::process::id());
    // CREATE DATABASE cannot share a batch (an implicit transaction) with another statement.
    admin
        .batch_execute(&format!("drop database if exists {name} with (force)"))
        .unwrap();
    admin
        .batch_execute(&format!("create database {name}"))
        .unwrap();
    let mut config: postgres::Config = admin_url.parse().unwrap();
    config.dbname(&name);
    (name, config)
}

/// Drops a database made by [`create_database`], also when sessions remain.
pub fn drop_database(name: &str) {
    if let Ok(mut admin) = postgres::Client::connect(&admin_url(), postgres::NoTls) {
        let _ = admin.batch_execute(&format!("drop database if exists {name} with (force)"));
    }
}

/// `stackc compile DIR` into a fresh folder, which must succeed (the
/// assertion shows stderr); every artifact, by path.
pub fn compile_ok(dir: &Path) -> BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    let output = stackc(&[
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    read_tree(out.path())
}

/// A copy of `tests/fixtures/<name>` in a fresh folder, to edit or to
/// compile with caches of its own.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/fixtures").join(name), dir.path());
    dir
}

/// A fresh database for one test (see [`create_database`]), its URL for
/// the binary, and a client on it; dropped, with force, when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub client: postgres::Client,
}

impl TestDb {
    pub fn new(prefix: &str, tag: &str) -> TestDb {
        let (name, config) = create_database(prefix, tag);
        let client = config.connect(postgres::NoTls).unwrap();
        // The admin URL's server and credentials, with the test's database.
        let url = admin_url()
            .rsplit_once('/')
            .map(|(base, _)| format!("{base}/{name}"))
            .expect("a postgres:// URL has a path");
        TestDb { name, url, client }
    }

    pub fn exists(&mut self, relation: &str) -> bool {
        self.client
            .query_one("select to_regclass($1) is not null", &[&relation])
            .unwrap()
            .get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}
