//! The daily commands: `compile --check` with a selection, `--vars`,
//! `version:`, and `stackc init` (whose projects are applied to a fresh
//! database each).

mod common;

use std::path::Path;

use common::{copy_tree, repo, stackc};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = stackc(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn compile_check_with_a_selection_compares_only_the_selected_nodes_files() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    let out = tmp.path().join("out");
    copy_tree(&repo().join("project_template"), &project);
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    let model = project.join("models/marts/fact_sales.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text.replacen("select", "select ", 1)).unwrap();

    let check = |select: &str| {
        run(&[
            "compile",
            s(&project),
            "--out",
            s(&out),
            "--check",
            "-s",
            select,
        ])
    };
    // Another node's files are what the project compiles to.
    let (code, _, err) = check("stg_orders");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("files of the selection compared"), "{err}");
    // The edited model's files are stale; with `+`, its dependents' too.
    let (code, _, err) = check("fact_sales");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("R__002_fact_sales.sql"), "{err}");
    assert!(!err.contains("R__003_daily_sales_summary.sql"), "{err}");
    assert!(!err.contains("manifest.json"), "{err}");
    let (code, _, err) = check("fact_sales+");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("R__003_daily_sales_summary.sql"), "{err}");
    // Without a selection, the manifest is stale too.
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out), "--check"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("manifest.json"), "{err}");
    // A selection that matches nothing warns; a malformed one is exit 2.
    let (code, _, err) = check("no_such_model");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("`no_such_model` does not match any node"),
        "{err}"
    );
    let (code, _, err) = check("tag:");
    assert_eq!(code, 2, "{err}");

    // compile without --check writes the whole project, selection or not.
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out), "-s", "stg_orders"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("compile writes the whole project"), "{err}");
    let (code, _, err) = run(&["compile", s(&project), "--out", s(&out), "--check"]);
    assert_eq!(code, 0, "{err}");
}

/// Every artifact under `out` that contains `needle`.
fn files_with(out: &Path, needle: &str) -> Vec<String> {
    common::read_tree(out)
        .into_iter()
        .filter(|(_, text)| text.contains(needle))
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn vars_on_the_command_line_win_over_the_project_and_its_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let template = repo().join("project_template");
    let (code, _, err) = run(&["compile", s(&template), "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(!files_with(&out, "'3 days'").is_empty());
    let (code, _, err) = run(&[
        "compile",
        s(&template),
        "--out",
        s(&out),
        "--vars",
        "{lookback_days: 7}",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(files_with(&out, "'3 days'").is_empty());
    assert!(!files_with(&out, "'7 days'").is_empty());
    // dbt's precedence: the command line, then the root project's scope
    // for the package (`pkg_models: {greeting: ...}`), then the package.
    let dbt = repo().join("tests/fixtures/ok_dbt_package_models");
    let out = tmp.path().join("dbt");
    let (code, _, err) = run(&["compile", s(&dbt), "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(!files_with(&out, "hello from shop").is_empty());
    let (code, _, err) = run(&[
        "compile",
        s(&dbt),
        "--out",
        s(&out),
        "--vars",
        "greeting: from the command line\nmin_amount: 5",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(files_with(&out, "hello from shop").is_empty());
    assert!(!files_with(&out, "from the command line").is_empty());
    assert!(!files_with(&out, "amount > 5").is_empty());
    // `ls` takes them too; a text that is not a mapping is exit 2.
    let (code, _, err) = run(&["ls", s(&dbt), "--vars", "{min_amount: 1}"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["compile", s(&dbt), "--out", s(&out), "--vars", "[1, 2]"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a YAML mapping"), "{err}");
    // Committed artifacts run as compiled: --vars with --artifacts is refused.
    let (code, _, err) = run(&[
        "apply",
        s(&template),
        "--artifacts",
        s(&out),
        "--vars",
        "{a: 1}",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--vars"), "{err}");
}

#[test]
fn version_selects_versioned_models_as_dbt_ls_does() {
    // dbt ls prints the same lines.
    let dir = repo().join("tests/fixtures/ok_dbt_model_versions");
    let ls = |sel: &str| {
        let (code, out, err) = run(&["ls", s(&dir), "-s", sel, "--resource-type", "model"]);
        assert_eq!(code, 0, "{err}");
        out.lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(ls("version:latest"), ["shop.dim_customers.v2"]);
    assert_eq!(ls("version:old"), ["shop.dim_customers.v1"]);
    assert_eq!(ls("version:none"), ["shop.orders"]);
    assert_eq!(ls("version:1"), ["shop.dim_customers.v1"]);
    assert!(ls("version:prerelease").is_empty());
    let (code, _, err) = run(&["ls", s(&dir), "-s", "version:next"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown version `next`"), "{err}");
}

/// Applies `dir` to a fresh database; returns the relations it made.
fn apply_fresh(dir: &Path, tag: &str) -> Vec<String> {
    let (name, config) = common::create_database("stackc_init", tag);
    let url = format!(
        "postgres://{}@{}:{}/{name}",
        config.get_user().unwrap_or("postgres"),
        match &config.get_hosts()[0] {
            postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        },
        config.get_ports().first().copied().unwrap_or(5432)
    );
    let (code, _, err) = run(&["apply", s(dir), "--database-url", &url]);
    let relations = config
        .connect(postgres::NoTls)
        .unwrap()
        .query(
            "select table_schema || '.' || table_name from information_schema.tables
             where table_schema not in ('pg_catalog', 'information_schema') order by 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    common::drop_database(&name);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(" 0 failed, 0 skipped"), "{err}");
    relations
}

#[test]
fn init_makes_a_project_that_compiles_and_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("My Shop");
    let (code, _, err) = run(&["init", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("created a stackc project `my_shop`"), "{err}");
    for file in [
        ".gitignore",
        ".env.example",
        "docker-compose.yml",
        ".pre-commit-config.yaml",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let (code, _, err) = run(&["compile", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    // The hook it configures passes on the fresh artifacts.
    let hook = std::fs::read_to_string(dir.join(".pre-commit-config.yaml")).unwrap();
    assert!(hook.contains("entry: stackc compile --check"), "{hook}");
    let (code, _, err) = run(&["compile", s(&dir), "--check"]);
    assert_eq!(code, 0, "{err}");
    let relations = apply_fresh(&dir, "native");
    for r in [
        "raw.orders",
        "staging.stg_orders",
        "marts.daily_orders",
        "seeds.order_statuses",
    ] {
        assert!(relations.iter().any(|x| x == r), "{r}: {relations:?}");
    }

    // docker-compose.yml is YAML with a healthy PostgreSQL 15 whose
    // credentials come from .env, as .env.example names them.
    let compose: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap())
            .unwrap();
    let pg = &compose["services"]["postgres"];
    assert_eq!(pg["image"], "postgres:15");
    assert!(pg["healthcheck"]["test"].is_array(), "{pg}");
    let example = std::fs::read_to_string(dir.join(".env.example")).unwrap();
    for var in ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"] {
        assert!(pg["environment"][var].as_str().unwrap().contains(var));
        assert!(example.contains(&format!("{var}=")), "{example}");
    }
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == ".env"), "{ignore}");

    // A second init refuses, names the file, and writes nothing: a file
    // removed in between does not come back.
    std::fs::remove_file(dir.join("models/_seeds.yml")).unwrap();
    std::fs::write(dir.join("stackc.toml"), "mine").unwrap();
    let (code, _, err) = run(&["init", s(&dir)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(".env.example exists"), "{err}");
    assert!(!dir.join("models/_seeds.yml").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("stackc.toml")).unwrap(),
        "mine"
    );
    let (code, _, err) = run(&["init", s(&tmp.path().join("x")), "--name", "Bad-Name"]);
    assert_eq!(code, 2, "{err}");
    assert!(!tmp.path().join("x").exists());
}

#[test]
fn init_dbt_makes_a_dbt_project_that_compiles_and_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let (code, _, err) = run(&["init", s(&dir), "--dbt"]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("dbt_project.yml").is_file());
    assert!(dir.join("profiles.yml").is_file());
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "target/"),
        "dbt's target/: {ignore}"
    );
    let (code, _, err) = run(&["compile", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(dir.join("stackc_target/manifest.json").is_file());
    let relations = apply_fresh(&dir, "dbt");
    for r in [
        "analytics.raw_orders",
        "analytics.stg_orders",
        "analytics.daily_orders",
    ] {
        assert!(relations.iter().any(|x| x == r), "{r}: {relations:?}");
    }
    let (code, _, err) = run(&["init", s(&dir), "--dbt"]);
    assert_eq!(code, 2, "{err}");
}

/// The scripts name every command and the selection flags, and bash
/// accepts its script: `complete -p stackc` fails unless sourcing it
/// registered a completion.
#[test]
fn completions_cover_the_commands_and_load_in_bash() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for word in [
            "compile", "apply", "test", "ls", "graph", "init", "select", "exclude",
        ] {
            assert!(out.contains(word), "{shell} script lacks {word}");
        }
    }
    let (_, script, _) = run(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stackc.bash");
    std::fs::write(&file, script).unwrap();
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p stackc", s(&file)))
        .output()
        .expect("bash runs");
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let (code, _, err) = run(&["completions", "powershell"]);
    assert_eq!(code, 2, "an unknown shell is a usage error: {err}");
}
