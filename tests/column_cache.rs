//! The column cache (`DIR/.stackc-cache/columns.bin`) changes nothing but
//! the time: after each kind of edit that changes a model's columns or
//! those of what it reads, a compile with the caches and the previous
//! artifacts in place writes exactly what a cold compile of the same
//! project writes, byte for byte, prints the same messages and exits the
//! same way.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{compile_quiet, copy_tree, edit, read_tree, repo};

fn compile(dir: &Path, out: &Path) -> (Option<i32>, String) {
    compile_quiet(dir, out, |_| {})
}

type Compiled = (Option<i32>, String, BTreeMap<String, String>);

/// A cold compile of a copy of `dir` (no cache, no artifacts).
fn cold(dir: &Path) -> Compiled {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir, copy.path());
    let _ = std::fs::remove_dir_all(copy.path().join(".stackc-cache"));
    let out = tempfile::tempdir().unwrap();
    let (code, stderr) = compile(copy.path(), out.path());
    (code, stderr, read_tree(out.path()))
}

#[test]
fn a_compile_from_the_column_cache_is_a_cold_compile() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    copy_tree(&repo().join("project_template"), dir);
    let _ = std::fs::remove_dir_all(dir.join(".stackc-cache"));
    // Models whose SQL never changes below, but whose columns do: each
    // reads every column of what is upstream.
    let write = |path: &str, text: &str| std::fs::write(dir.join(path), text).unwrap();
    write(
        "models/staging/stg_raw_orders.sql",
        "select * from {{ source('raw', 'orders') }}\n",
    );
    write(
        "models/staging/stg_all_orders.sql",
        "select o.*, r.status as raw_status\nfrom {{ ref('stg_orders') }} as o\njoin {{ ref('stg_raw_orders') }} as r using (order_id)\n",
    );
    write(
        "models/staging/stg_notes.sql",
        "select order_id, note from {{ ref('stg_raw_orders') }}\n",
    );
    write(
        "migrations/V3__order_notes.sql",
        "alter table raw.orders add column note text;\n",
    );
    let out = tempfile::tempdir().unwrap();
    let (code, stderr) = compile(dir, out.path());
    assert_eq!(code, Some(0), "{stderr}");
    let cache = dir.join(".stackc-cache/columns.bin");
    assert!(cache.exists(), "no column cache after a compile");

    type Edit = Box<dyn Fn(&Path)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("nothing", Box::new(|_| {})),
        (
            "a model's body",
            Box::new(|d| {
                edit(
                    &d.join("models/staging/stg_orders.sql"),
                    "    updated_at\n",
                    "    updated_at,\n    order_id * 2 as doubled_id\n",
                )
            }),
        ),
        (
            "an upstream column added (a new migration)",
            Box::new(|d| {
                std::fs::write(
                    d.join("migrations/V4__order_flags.sql"),
                    "alter table raw.orders add column is_gift boolean not null default false;\n",
                )
                .unwrap()
            }),
        ),
        (
            "an upstream column's type changed (a migration edited)",
            Box::new(|d| {
                edit(
                    &d.join("migrations/V3__order_notes.sql"),
                    "note text",
                    "note integer",
                )
            }),
        ),
        (
            "a migration that alters a type",
            Box::new(|d| {
                std::fs::write(
                    d.join("migrations/V5__order_dates.sql"),
                    "alter table raw.orders alter column order_date type timestamp;\n",
                )
                .unwrap()
            }),
        ),
        (
            "a schema file's data_type",
            Box::new(|d| {
                edit(
                    &d.join("models/staging/_staging.yml"),
                    "      - name: order_id\n        description: Primary key of the order.\n        data_type: bigint",
                    "      - name: order_id\n        description: Primary key of the order.\n        data_type: numeric(20,0)",
                )
            }),
        ),
        (
            "a damaged cache",
            Box::new(|d| {
                let path = d.join(".stackc-cache/columns.bin");
                let mut bytes = std::fs::read(&path).unwrap();
                let n = bytes.len();
                bytes[n / 2..].fill(b'x');
                std::fs::write(&path, bytes).unwrap();
            }),
        ),
        (
            "an upstream column renamed (an error downstream)",
            Box::new(|d| {
                edit(
                    &d.join("migrations/V3__order_notes.sql"),
                    "note integer",
                    "remark integer",
                )
            }),
        ),
    ];
    let mut previous = (code, stderr, read_tree(out.path()));
    for (what, change) in edits {
        change(dir);
        let before = std::fs::read(&cache).unwrap();
        let (code, stderr) = compile(dir, out.path());
        let warm = (code, stderr, read_tree(out.path()));
        let (cold_code, cold_stderr, cold_tree) = cold(dir);
        assert_eq!(warm.0, cold_code, "{what}: {}", warm.1);
        assert_eq!(warm.1, cold_stderr, "{what}: the messages differ");
        if cold_code == Some(0) {
            for (path, text) in &cold_tree {
                assert_eq!(
                    warm.2.get(path),
                    Some(text),
                    "{what}: {path} differs from a cold compile's"
                );
            }
            assert_eq!(
                warm.2.keys().collect::<Vec<_>>(),
                cold_tree.keys().collect::<Vec<_>>(),
                "{what}"
            );
        }
        match what {
            // Every entry was used as it was: the file is not rewritten.
            "nothing" => assert_eq!(std::fs::read(&cache).unwrap(), before, "{what}"),
            "a damaged cache" => {}
            // Each change reaches the artifacts or the messages, so that a
            // stale entry would show above.
            _ => assert_ne!(previous, warm, "{what} changed nothing"),
        }
        previous = warm;
    }
    assert!(
        previous.1.contains("error[E0240]") && previous.1.contains("`remark`"),
        "{}",
        previous.1
    );
}
