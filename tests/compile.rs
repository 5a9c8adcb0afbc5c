//! The compiler end to end on the sample project: determinism, minimal
//! diffs and `--check`. The artifacts themselves are pinned by the committed
//! `migrations/` folder, which `committed_migrations_folder_is_current` (and
//! CI's `--check`) compares with a fresh compile.

mod common;

use common::{copy_tree, read_tree, repo, stackc};

fn compile_to(dir: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    let output = stackc(&[
        "compile",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn two_compiles_are_byte_identical() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    compile_to(&repo().join("project_template"), a.path());
    compile_to(&repo().join("project_template"), b.path());
    assert_eq!(read_tree(a.path()), read_tree(b.path()));
    for text in read_tree(a.path()).values() {
        assert!(
            !text.contains(a.path().to_str().unwrap()),
            "absolute path in an artifact"
        );
    }
}

#[test]
fn changing_one_model_changes_only_what_must_change() {
    let project = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("project_template"), project.path());
    let before = tempfile::tempdir().unwrap();
    compile_to(project.path(), before.path());

    let model = project.path().join("models/staging/stg_orders.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text.replacen("select", "select distinct", 1)).unwrap();
    let after = tempfile::tempdir().unwrap();
    compile_to(project.path(), after.path());

    let (before, after) = (read_tree(before.path()), read_tree(after.path()));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let changed: Vec<&String> = before.keys().filter(|k| before[*k] != after[*k]).collect();
    // Its own migration, the manifest, and its dependents' fingerprint lines.
    assert!(
        changed.contains(&&"migrations/R__001_stg_orders.sql".to_string()),
        "{changed:?}"
    );
    assert!(
        changed.contains(&&"manifest.json".to_string()),
        "{changed:?}"
    );
    for path in &changed {
        if path.as_str() == "manifest.json" || path.as_str() == "migrations/R__001_stg_orders.sql" {
            continue;
        }
        assert!(
            path.starts_with("migrations/R__"),
            "unexpected change in {path}"
        );
        let diff: Vec<(&str, &str)> = before[*path]
            .lines()
            .zip(after[*path].lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(diff.len(), 1, "{path}: {diff:?}");
        assert!(diff[0].0.starts_with("-- upstream: "), "{path}: {diff:?}");
    }
    // stg_orders feeds dim_customers and fact_sales, and through fact_sales
    // the daily summary: all of their fingerprints move.
    for dependent in [
        "R__002_dim_customers.sql",
        "R__002_fact_sales.sql",
        "R__003_daily_sales_summary.sql",
    ] {
        assert!(
            changed.contains(&&format!("migrations/{dependent}")),
            "{dependent} not re-fingerprinted: {changed:?}"
        );
    }
    assert!(
        !changed.iter().any(|p| p.contains("stg_products")),
        "{changed:?}"
    );
}

#[test]
fn check_reports_stale_missing_and_extra_files_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let project = repo().join("project_template");
    compile_to(&project, out.path());
    let ok = stackc(&[
        "compile",
        project.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    std::fs::write(out.path().join("run/002_dim_products.sql"), "-- edited\n").unwrap();
    std::fs::remove_file(out.path().join("migrations/R__001_stg_orders.sql")).unwrap();
    std::fs::write(out.path().join("run/999_old.sql"), "select 1;\n").unwrap();
    let before = read_tree(out.path());
    let stale = stackc(&[
        "compile",
        project.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(stale.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(
        stderr.contains("stale") && stderr.contains("run/002_dim_products.sql"),
        "{stderr}"
    );
    assert!(
        stderr.contains("missing") && stderr.contains("R__001_stg_orders.sql"),
        "{stderr}"
    );
    assert!(
        stderr.contains("extra") && stderr.contains("run/999_old.sql"),
        "{stderr}"
    );
    assert_eq!(before, read_tree(out.path()), "--check wrote something");

    // A plain compile repairs the folder, removing what it no longer makes.
    compile_to(&project, out.path());
    assert!(!out.path().join("run/999_old.sql").exists());
}

#[test]
fn committed_migrations_folder_is_current() {
    let project = repo().join("project_template");
    let committed = repo().join("migrations");
    let out = stackc(&[
        "compile",
        project.to_str().unwrap(),
        "--out",
        committed.to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run `stackc compile project_template --out migrations`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The data loss: a project at `T/run` compiled with `--out T`
/// lost `stackc.toml` and `models/` as "extra" artifacts. Every OUT that
/// is the project, holds it, or lies in one of its input folders is now a
/// usage error, and nothing in the project changes.
#[test]
fn out_never_reaches_into_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["run", "migrations"] {
        let project = tmp.path().join(name);
        copy_tree(&repo().join("project_template"), &project);
        let before = read_tree(&project);
        let p = project.to_str().unwrap();
        let outs = [
            tmp.path().to_path_buf(),
            project.clone(),
            project.join("models/../.."),
            project.join("migrations"),
            project.join("models/out"),
            project.join("seeds"),
            project.join("macros/x"),
            project.join("tests"),
        ];
        for out in &outs {
            let run = stackc(&["compile", p, "--out", out.to_str().unwrap()]);
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert_eq!(
                run.status.code(),
                Some(2),
                "--out {}: {stderr}",
                out.display()
            );
            assert!(stderr.contains("e.g. --out"), "{stderr}");
            assert_eq!(
                before,
                read_tree(&project),
                "--out {} changed the project",
                out.display()
            );
        }
    }
    #[cfg(unix)]
    {
        let project = tmp.path().join("run");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        let run = stackc(&[
            "compile",
            project.to_str().unwrap(),
            "--out",
            link.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(2), "a link to the project's parent");
    }
}

/// Files in OUT that stackc did not write stay, and are mentioned.
#[test]
fn a_compile_leaves_files_it_did_not_write() {
    let out = tempfile::tempdir().unwrap();
    let project = repo().join("project_template");
    compile_to(&project, out.path());
    std::fs::write(out.path().join("run/notes.txt"), "mine\n").unwrap();
    std::fs::write(out.path().join("migrations/notes.sql"), "mine\n").unwrap();
    std::fs::write(out.path().join("run/999_old.sql"), "select 1;\n").unwrap();
    let run = compile_to(&project, out.path());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("run/notes.txt was not written by stackc: left alone"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("run/notes.txt")).unwrap(),
        "mine\n"
    );
    assert!(out.path().join("migrations/notes.sql").exists());
    assert!(
        !out.path().join("run/999_old.sql").exists(),
        "its own leftover goes"
    );
    let check = stackc(&[
        "compile",
        project.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// `--check --out <a regular file>` is a usage problem, not "missing" files.
#[test]
fn check_against_a_file_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("artifacts");
    std::fs::write(&file, "x").unwrap();
    let project = repo().join("project_template");
    let run = stackc(&[
        "compile",
        project.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
        "--check",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a folder"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        stackc(&["compile", "--format", "xml"]).status.code(),
        Some(2)
    );
    assert_eq!(stackc(&["frobnicate"]).status.code(), Some(2));
    let tmp = tempfile::tempdir().unwrap();
    let same = stackc(&[
        "compile",
        tmp.path().to_str().unwrap(),
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(same.status.code(), Some(2));
}

#[test]
fn compose_file_is_valid_and_complete() {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    let doc: serde_json::Value =
        serde_saphyr::from_str(&text).expect("docker-compose.yml is valid YAML");
    let pg = &doc["services"]["postgres"];
    let image = pg["image"].as_str().unwrap();
    assert!(image.starts_with("postgres:15"), "{image}");
    assert!(pg["healthcheck"]["test"].to_string().contains("pg_isready"));
    assert!(pg["deploy"]["resources"]["limits"]["memory"].is_string());
    assert!(pg["deploy"]["resources"]["limits"]["cpus"].is_string());
    let command = pg["command"].to_string();
    for setting in [
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
    ] {
        assert!(
            command.contains(setting),
            "postgres is not tuned for {setting}"
        );
    }
    assert!(
        doc["volumes"].as_object().is_some_and(|v| !v.is_empty()),
        "no named volume"
    );
    let admin = &doc["services"]["pgadmin"];
    assert_eq!(
        admin["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    // Credentials come from .env, never from the file itself.
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        if let Some((key, value)) = line.split_once(':') {
            if key.to_uppercase().contains("PASSWORD") {
                assert!(
                    value.trim().starts_with("${"),
                    "a literal secret in docker-compose.yml: {line}"
                );
            }
        }
    }
    let example = std::fs::read_to_string(repo().join(".env.example")).unwrap();
    assert!(example.contains("POSTGRES_PASSWORD="));
    let ignore = std::fs::read_to_string(repo().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == ".env"));
}

/// The parse cache changes nothing but the time: a compile answered from it
/// prints the same warnings, at the same places, and writes the same
/// artifacts as one that parses everything; `--check` never writes it.
#[test]
fn a_compile_from_the_parse_cache_is_the_same_compile() {
    for fixture in ["warn_w0203_hard_coded", "err_e0201_after_macro_call"] {
        let project = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("tests/fixtures").join(fixture), project.path());
        let _ = std::fs::remove_dir_all(project.path().join(".stackc-cache"));
        let dir = project.path().to_str().unwrap();
        let run = |out: &std::path::Path, check: bool| {
            let mut args = vec!["compile", dir, "--out", out.to_str().unwrap()];
            if check {
                args.push("--check");
            }
            let output = stackc(&args);
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        };
        let cache = project.path().join(".stackc-cache/parse.json");

        let out = tempfile::tempdir().unwrap();
        let checked = run(out.path(), true);
        assert!(!cache.exists(), "{fixture}: --check wrote the cache");
        let first = run(out.path(), false);
        assert!(cache.exists(), "{fixture}: no cache after a compile");
        let first_tree = read_tree(out.path());
        let second = run(out.path(), false);
        assert_eq!(first, second, "{fixture}: the cached compile differs");
        assert_eq!(first_tree, read_tree(out.path()), "{fixture}");
        assert_eq!(
            checked.1.lines().next(),
            first.1.lines().next(),
            "{fixture}"
        );
        let ignore = std::fs::read_to_string(project.path().join(".stackc-cache/.gitignore"));
        assert!(
            ignore.unwrap().contains('*'),
            "{fixture}: the cache is not git-ignored"
        );
    }
}
