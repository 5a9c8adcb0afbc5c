//! `stackc init [DIR]`: a new project that compiles and applies as it is,
//! in stackc's layout (default) or dbt's (`--dbt`), with a `.gitignore`,
//! `.env.example`, a `docker-compose.yml` for a local PostgreSQL and a
//! pre-commit config that runs `stackc compile --check`.
//!
//! Nothing is ever overwritten: when any of the files exists, init names
//! it, writes nothing and exits 2.

use std::path::{Path, PathBuf};

use crate::exit_status::ExitStatus;

/// What `stackc init` was asked.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub dir: PathBuf,
    /// `--name`; else from the folder's name.
    pub name: Option<String>,
    pub dbt: bool,
}

pub fn run(options: &InitOptions) -> ExitStatus {
    let name = match &options.name {
        Some(n) if valid_name(n) => n.clone(),
        Some(n) => {
            eprintln!(
                "error: --name `{}` is not a project name: use lower-case letters, digits and `_`, starting with a letter (e.g. `analytics`)",
                crate::diagnostic::one_line(n)
            );
            return ExitStatus::Error;
        }
        None => name_from_dir(&options.dir),
    };
    let files = if options.dbt {
        dbt_files(&name)
    } else {
        native_files(&name)
    };
    match write_new(&options.dir, &files) {
        Ok(()) => {
            let shown = crate::diagnostic::one_line(&options.dir.display().to_string());
            eprintln!(
                "created {} project `{name}` in {shown}:",
                if options.dbt { "a dbt" } else { "a stackc" }
            );
            for (path, _) in &files {
                eprintln!("  {path}");
            }
            let out = if options.dbt {
                "stackc_target"
            } else {
                "target"
            };
            eprintln!(
                "next:\n  cd {shown}\n  cp .env.example .env && docker compose up -d   # a local PostgreSQL 15\n  stackc compile       # writes {out}/: commit it\n  stackc apply         # builds the project in the database\n  pre-commit install   # checks {out}/ on every commit"
            );
            ExitStatus::Success
        }
        Err(InitError::Exists(path)) => {
            eprintln!(
                "error: {} exists: stackc init never overwrites a file, and wrote nothing\nhelp: run it in a new or empty folder (`stackc init DIR` creates DIR)",
                crate::diagnostic::one_line(&path.display().to_string()),
            );
            ExitStatus::Error
        }
        Err(InitError::Io(path, e)) => {
            eprintln!(
                "error: cannot write {}: {e}",
                crate::diagnostic::one_line(&path.display().to_string())
            );
            ExitStatus::Error
        }
    }
}

#[derive(Debug)]
enum InitError {
    Exists(PathBuf),
    Io(PathBuf, std::io::Error),
}

/// Writes every file, or none: all are checked first, then each is
/// created with `create_new`, so a file that appears in between is not
/// overwritten either.
fn write_new(dir: &Path, files: &[(&str, String)]) -> Result<(), InitError> {
    for (rel, _) in files {
        let path = dir.join(rel);
        // A dangling link counts as existing: writing would follow it.
        if path.symlink_metadata().is_ok() {
            return Err(InitError::Exists(path));
        }
    }
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| InitError::Io(parent.to_path_buf(), e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => InitError::Exists(path.clone()),
                _ => InitError::Io(path.clone(), e),
            })?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| InitError::Io(path.clone(), e))?;
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The folder's name made a project name (`My Shop` → `my_shop`).
fn name_from_dir(dir: &Path) -> String {
    let folder = std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name: String = folder
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    name = name.trim_matches('_').to_string();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("p_{name}");
    }
    name.truncate(63);
    if valid_name(&name) {
        name
    } else {
        "analytics".into()
    }
}

const STATUSES_CSV: &str = "status,label,is_open
placed,Placed,true
shipped,Shipped,true
delivered,Delivered,false
returned,Returned,false
";

const STATUSES_YML: &str = "version: 2

seeds:
  - name: order_statuses
    description: The statuses an order goes through, with their display label. Maintained by hand.
    columns:
      - name: status
        data_type: text
        data_tests: [not_null, unique]
      - name: label
        data_type: text
        data_tests: [not_null]
      - name: is_open
        data_type: boolean
";

const DAILY_ORDERS_SQL: &str =
    "-- Orders and revenue per day and status, one row each: the table BI reads.
select
    o.ordered_at::date as order_date,
    s.label as status,
    count(*) as orders,
    sum(o.amount) as revenue
from {{ ref('stg_orders') }} as o
inner join {{ ref('order_statuses') }} as s
    on s.status = o.status
group by 1, 2
";

const MARTS_YML: &str = "version: 2

models:
  - name: daily_orders
    description: Orders and revenue per day and status.
    columns:
      - name: order_date
        description: The day the orders were placed (UTC).
        data_tests: [not_null]
      - name: status
        data_tests: [not_null]
      - name: orders
        data_tests: [not_null]
      - name: revenue
        data_tests: [not_null]
";

const SINGULAR_TEST_SQL: &str = "-- A singular test: every row it returns is a failure.
select order_date, status, revenue
from {{ ref('daily_orders') }}
where revenue < 0
";

const STAGING_MODELS_YML: &str = "models:
  - name: stg_orders
    description: Orders, cleaned; one row per order.
    columns:
      - name: order_id
        data_tests: [not_null, unique]
      - name: customer_id
        data_tests: [not_null]
      - name: status
        data_tests:
          - not_null
          - accepted_values:
              arguments:
                values: [placed, shipped, delivered, returned]
          - relationships:
              arguments:
                to: ref('order_statuses')
                field: status
";

fn gitignore(dbt: bool) -> String {
    let mut text = String::from(
        "# Secrets: copy .env.example to .env and fill it in; never commit .env.\n.env\n\n# stackc's parse cache (it also ignores itself).\n.stackc-cache/\n",
    );
    if dbt {
        text.push_str(
            "\n# dbt's own output and installed packages.\ntarget/\ndbt_packages/\nlogs/\n\n# stackc_target/ holds stackc's artifacts: commit it, so that pull requests show the SQL\n# that will run, and the pre-commit hook can check it is up to date.\n",
        );
    } else {
        text.push_str(
            "\n# target/ holds the compiled artifacts: commit it, so that pull requests show the SQL\n# that will run, and the pre-commit hook can check it is up to date.\n",
        );
    }
    text
}

fn env_example(name: &str, dbt: bool) -> String {
    let mut text = format!(
        "# Copy to .env and change the values. .env is git-ignored: never commit real credentials.
# docker compose reads this file for docker-compose.yml; stackc reads its connection from it.

POSTGRES_USER={name}
POSTGRES_PASSWORD=change-me
POSTGRES_DB={name}
POSTGRES_PORT=5432
"
    );
    if dbt {
        text.push_str(&format!(
            "
# profiles.yml reads these (export them for dbt itself, which does not read .env).
PGHOST=localhost
PGPORT=5432
PGUSER={name}
PGPASSWORD=change-me
PGDATABASE={name}
"
        ));
    } else {
        text.push_str(&format!(
            "
# The same user, password, port and database as above; keep them in sync.
DATABASE_URL=postgresql://{name}:change-me@localhost:5432/{name}?sslmode=disable
"
        ));
    }
    text
}

fn docker_compose(name: &str) -> String {
    format!(
        r#"# A local PostgreSQL 15 for this project.
#
#   cp .env.example .env      # then change the password
#   docker compose up -d      # healthy within a few seconds
#   stackc apply
#
# Every credential comes from .env (git-ignored); the port is published on 127.0.0.1 only.

name: {name}

services:
  postgres:
    image: postgres:15
    restart: unless-stopped
    environment:
      POSTGRES_USER: ${{POSTGRES_USER:?set POSTGRES_USER in .env}}
      POSTGRES_PASSWORD: ${{POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}}
      POSTGRES_DB: ${{POSTGRES_DB:?set POSTGRES_DB in .env}}
    # Memory settings sized for the 1 GB limit below.
    command: ["postgres", "-c", "shared_buffers=256MB", "-c", "work_mem=16MB",
              "-c", "maintenance_work_mem=128MB", "-c", "effective_cache_size=768MB"]
    shm_size: 256mb
    ports:
      - "127.0.0.1:${{POSTGRES_PORT:-5432}}:5432"
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      # $$ leaves the variables to the container's shell, which has them from `environment:`.
      test: ["CMD-SHELL", "pg_isready -U \"$${{POSTGRES_USER}}\" -d \"$${{POSTGRES_DB}}\""]
      interval: 5s
      timeout: 5s
      retries: 10
      start_period: 10s
    deploy:
      resources:
        limits:
          memory: 1g
          cpus: '2'

volumes:
  pgdata:
"#
    )
}

const PRE_COMMIT: &str = r#"# https://pre-commit.com: run `pre-commit install` once; then every commit that touches the
# project fails when the committed artifacts are not what the project compiles to.
repos:
  - repo: local
    hooks:
      - id: stackc-compile-check
        name: stackc compile --check
        entry: stackc compile --check
        language: system
        pass_filenames: false
        files: '\.(sql|ya?ml|toml|csv)$'
"#;

/// Files shared by both layouts.
fn common_files(name: &str, dbt: bool) -> Vec<(&'static str, String)> {
    vec![
        (".gitignore", gitignore(dbt)),
        (".env.example", env_example(name, dbt)),
        ("docker-compose.yml", docker_compose(name)),
        (".pre-commit-config.yaml", PRE_COMMIT.to_string()),
        ("seeds/order_statuses.csv", STATUSES_CSV.to_string()),
        // In models/: stackc reads schema files there (dbt reads them in seeds/ too).
        ("models/_seeds.yml", STATUSES_YML.to_string()),
        (
            "models/marts/daily_orders.sql",
            DAILY_ORDERS_SQL.to_string(),
        ),
        ("models/marts/_marts.yml", MARTS_YML.to_string()),
        (
            "tests/assert_revenue_is_not_negative.sql",
            SINGULAR_TEST_SQL.to_string(),
        ),
    ]
}

fn native_files(name: &str) -> Vec<(&'static str, String)> {
    let mut files = vec![
        (
            "stackc.toml",
            format!(
                r#"# stackc project settings. Every key is optional except [project].name.

[project]
name = "{name}"

# Layer folder under models/ -> PostgreSQL schema.
[layers]
staging = "staging"
marts = "marts"

# Defaults per folder; config() in a model and `config:` in a schema file win over these.
[models.staging]
materialized = "view"

[models.marts]
materialized = "table"
tags = ["bi"]

[vars]
# Orders below this amount are left out of the marts (`--vars '{{min_amount: 10}}'` overrides it).
min_amount = 0

# The name of the environment variable with the connection URL, never the URL itself.
[connection]
url_env = "DATABASE_URL"

[seeds]
schema = "seeds"
"#
            ),
        ),
        (
            "migrations/V1__create_raw_orders.sql",
            "-- The raw layer: tables your loader fills, guarded by constraints. stackc copies
-- migrations verbatim and runs each once (Flyway's rules); add V2__..., never edit V1.
create schema if not exists raw;

create table raw.orders (
    order_id bigint primary key,
    customer_id bigint not null,
    status text not null check (status in ('placed', 'shipped', 'delivered', 'returned')),
    amount numeric(12, 2) not null check (amount >= 0),
    ordered_at timestamptz not null
);
"
            .to_string(),
        ),
        (
            "models/staging/stg_orders.sql",
            "-- Orders, cleaned: one row per order.
select
    order_id,
    customer_id,
    lower(status) as status,
    amount,
    ordered_at
from {{ source('raw', 'orders') }}
where amount >= {{ var('min_amount') }}
"
            .to_string(),
        ),
        (
            "models/staging/_staging.yml",
            format!(
                "version: 2

sources:
  - name: raw
    schema: raw
    description: Data as your loader writes it, created by migrations/.
    tables:
      - name: orders
        description: Orders as the shop exports them, one row per order.
        columns:
          - name: order_id
            data_type: bigint
          - name: customer_id
            data_type: bigint
          - name: status
            data_type: text
          - name: amount
            data_type: numeric
          - name: ordered_at
            data_type: timestamptz

{STAGING_MODELS_YML}"
            ),
        ),
    ];
    files.extend(common_files(name, false));
    files.sort_by(|a, b| a.0.cmp(b.0));
    files
}

fn dbt_files(name: &str) -> Vec<(&'static str, String)> {
    let mut files = vec![
        (
            "dbt_project.yml",
            format!(
                r#"name: {name}
version: "1.0.0"
profile: {name}

model-paths: ["models"]
seed-paths: ["seeds"]
test-paths: ["tests"]
macro-paths: ["macros"]

vars:
  # Orders below this amount are left out of the marts (`--vars '{{min_amount: 10}}'`).
  min_amount: 0

models:
  {name}:
    staging:
      +materialized: view
    marts:
      +materialized: table
"#
            ),
        ),
        (
            "profiles.yml",
            format!(
                r#"# Where dbt (and `stackc apply`) connect: the variables of .env.example.
{name}:
  target: dev
  outputs:
    dev:
      type: postgres
      host: "{{{{ env_var('PGHOST', 'localhost') }}}}"
      port: 5432
      user: "{{{{ env_var('PGUSER', '{name}') }}}}"
      password: "{{{{ env_var('PGPASSWORD', '') }}}}"
      dbname: "{{{{ env_var('PGDATABASE', '{name}') }}}}"
      schema: analytics
      threads: 4
"#
            ),
        ),
        (
            "seeds/raw_orders.csv",
            "order_id,customer_id,status,amount,ordered_at
1,1,placed,20.00,2026-01-05 10:00:00+00
2,2,shipped,35.50,2026-01-05 12:30:00+00
3,1,delivered,12.25,2026-01-06 09:15:00+00
"
            .to_string(),
        ),
        (
            "models/staging/stg_orders.sql",
            "-- Orders, cleaned: one row per order. (raw_orders is a seed here, standing in for the
-- table your loader fills: read a source() instead when you have one.)
select
    order_id,
    customer_id,
    lower(status) as status,
    amount,
    ordered_at
from {{ ref('raw_orders') }}
where amount >= {{ var('min_amount') }}
"
            .to_string(),
        ),
        (
            "models/staging/_staging.yml",
            format!("version: 2\n\n{STAGING_MODELS_YML}"),
        ),
        ("macros/.gitkeep", String::new()),
    ];
    files.extend(common_files(name, true));
    files.sort_by(|a, b| a.0.cmp(b.0));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_folder() {
        assert_eq!(name_from_dir(Path::new("/x/My Shop")), "my_shop");
        assert_eq!(name_from_dir(Path::new("/x/2026-data")), "p_2026_data");
        assert_eq!(name_from_dir(Path::new("/x/analytics")), "analytics");
        assert!(valid_name("a_1"));
        assert!(!valid_name("1a"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name("A"));
    }

    #[test]
    fn nothing_is_written_when_one_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("models/marts")).unwrap();
        std::fs::write(dir.path().join("models/marts/_marts.yml"), "mine").unwrap();
        let files = native_files("shop");
        match write_new(dir.path(), &files) {
            Err(InitError::Exists(p)) => assert!(p.ends_with("models/marts/_marts.yml")),
            other => panic!("{other:?}"),
        }
        assert!(!dir.path().join("stackc.toml").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("models/marts/_marts.yml")).unwrap(),
            "mine"
        );
    }
}
