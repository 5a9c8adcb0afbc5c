//! dbt projects end to end: `tests/fixtures/ok_dbt_shop` (a dbt project of
//! our own making) compiled and applied by the real binary on the real
//! PostgreSQL, connecting with its own profiles.yml, into a new database.
//!
//! The server is `STACKC_TEST_DATABASE_URL` (default: the local trust-auth
//! server at 127.0.0.1:5432, user postgres).

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_fixture, read_tree, repo};
use postgres::{Client, NoTls};

struct TestDb {
    name: String,
    client: Client,
}

impl TestDb {
    fn new(tag: &str) -> TestDb {
        let (name, config) = common::create_database("stackc_dbt", tag);
        let mut admin = Client::connect(&common::admin_url(), NoTls).unwrap();
        // Roles are cluster-wide: created once, never dropped (another test
        // run may be using it).
        let _ = admin.batch_execute(
            "do $$ begin create role stackc_dbt_reader; exception when duplicate_object then null; end $$",
        );
        let client = config.connect(NoTls).unwrap();
        TestDb { name, client }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        common::drop_database(&self.name);
    }
}

fn stackc(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackc"));
    cmd.args(args).arg(dir).env("NO_COLOR", "1");
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGDATABASE",
        "PGPASSWORD",
        "DBT_PROFILES_DIR",
        "STACKC_DBT_PASSWORD",
    ] {
        cmd.env_remove(var);
    }
    let config: postgres::Config = common::admin_url().parse().unwrap();
    if let postgres::config::Host::Tcp(h) = &config.get_hosts()[0] {
        cmd.env("STACKC_DBT_HOST", h);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the stackc binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn fixture() -> tempfile::TempDir {
    copy_fixture("ok_dbt_shop")
}

#[test]
fn a_dbt_project_compiles_to_dbts_names_without_a_password() {
    let project = fixture();
    let (code, out) = stackc(project.path(), &["compile"], &[]);
    assert_eq!(code, 0, "{out}");
    // The default OUT leaves dbt's target/ to dbt.
    let files = read_tree(&project.path().join("stackc_target"));
    assert!(!project.path().join("target").exists());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    // generate_schema_name of the project: custom schemas without prefix;
    // the disabled model is gone.
    assert!(
        names.contains(&"migrations/R__001_stg_customers.sql"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("stg_legacy")), "{names:?}");
    let stg = &files["migrations/R__001_stg_customers.sql"];
    assert!(
        stg.contains("create view staging.stg_customers as"),
        "{stg}"
    );
    assert!(stg.contains("from raw.raw_customers"), "{stg}");
    // `alias` names the relation; incremental_predicates join the key match.
    let inc = &files["run/002_payments_log.incremental.sql"];
    assert!(
        inc.contains("delete from shop.payments_log_v1 as target"),
        "{inc}"
    );
    assert!(
        inc.contains("target.payment_id = source.payment_id\n    and (target.payment_id >= 10)"),
        "{inc}"
    );
    // dbt's whitespace: the comment keeps its newline.
    assert!(
        stg.contains("must not join it\n    , true as is_customer"),
        "{stg}"
    );
}

#[test]
fn a_dbt_project_applies_with_its_profile() {
    let mut db = TestDb::new("shop");
    let project = fixture();
    let dbname = db.name.clone();
    // The password's env_var() has no default: compile is fine, apply says so.
    let (code, out) = stackc(
        project.path(),
        &["apply"],
        &[("STACKC_DBT_DATABASE", &dbname)],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("STACKC_DBT_PASSWORD"), "{out}");

    let env = [
        ("STACKC_DBT_DATABASE", dbname.as_str()),
        ("STACKC_DBT_PASSWORD", ""),
    ];
    let (code, out) = stackc(project.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    let client = &mut db.client;
    let tables: Vec<String> = client
        .query(
            "select table_schema || '.' || table_name from information_schema.tables
             where table_schema in ('raw', 'staging', 'shop', 'shop_audit') order by 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        [
            "raw.raw_customers",
            "raw.raw_payments",
            "raw.raw_regions",
            "shop.customer_revenue",
            "shop.payments_log_v1",
            "shop_audit.builds",
            "staging.stg_customers",
            "staging.stg_payments",
        ]
    );
    // Seeds: values as the CSV has them, types as dbt-postgres gives them,
    // `+column_types` from dbt_project.yml.
    let names: Vec<Option<String>> = client
        .query("select name from raw.raw_customers order by id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, [Some(" Ann ".to_string()), Some("Bob".into()), None]);
    let types: Vec<(String, String)> = client
        .query(
            "select column_name::text, (case when data_type = 'numeric' then data_type || '(' || numeric_precision || ',' || numeric_scale || ')' else data_type end)::text
             from information_schema.columns where table_schema = 'raw' order by table_name, ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let types: Vec<(&str, &str)> = types
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("id", "integer"),
            ("name", "text"),
            ("signed_up", "date"),
            ("id", "integer"),
            ("customer_id", "integer"),
            ("amount", "numeric(10,2)"),
            // `+delimiter: "|"` and `+quote_columns: false` (names folded).
            ("region_code", "text"),
            ("name", "text"),
        ]
    );
    let fr: String = client
        .query_one(
            "select name from raw.raw_regions where region_code = 'FR'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(fr, "France|Metropolitan");
    // The block after the comment made its column.
    let flag: bool = client
        .query_one("select is_customer from staging.stg_customers limit 1", &[])
        .unwrap()
        .get(0);
    assert!(flag);
    // Grants, hooks, persist_docs.
    let grants: Vec<String> = client
        .query(
            "select privilege_type::text from information_schema.role_table_grants
             where grantee = 'stackc_dbt_reader' and table_schema = 'shop' and table_name = 'customer_revenue'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(grants, ["SELECT"]);
    let builds: i64 = client
        .query_one("select count(*) from shop_audit.builds", &[])
        .unwrap()
        .get(0);
    // The marts' post-hook (two models), then on-run-end.
    assert_eq!(builds, 3);
    let comment: Option<String> = client
        .query_one(
            "select obj_description('shop.customer_revenue'::regclass, 'pg_class')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(comment.as_deref(), Some("Revenue per customer."));
    // `{{ doc('revenue') }}` filled from models/docs.md.
    let column: Option<String> = client
        .query_one(
            "select col_description('shop.customer_revenue'::regclass, 3)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(column.as_deref(), Some("Sum of the payments, in euros."));

    // A second apply loads the incremental model with its predicates.
    let (code, out) = stackc(project.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "incremental shop.payments_log_v1 (incremental: shop.payments_log_v1 has rows) ... ok"
        ),
        "{out}"
    );
    let rows: i64 = client
        .query_one("select count(*) from shop.payments_log_v1", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 3);

    // `full_refresh: false`: --full-refresh leaves the model incremental.
    let (code, out) = stackc(project.path(), &["apply", "--full-refresh"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "incremental shop.payments_log_v1 (incremental: shop.payments_log_v1 has rows) ... ok"
        ),
        "{out}"
    );

    // An incremental table keeps its rows, and so its privileges, across
    // migrations: one granted by hand is revoked when its migration runs
    // again, because the config does not list it.
    client
        .batch_execute("grant insert on shop.payments_log_v1 to stackc_dbt_reader")
        .unwrap();
    let yml = project.path().join("models/marts/schema.yml");
    let mut text = std::fs::read_to_string(&yml).unwrap();
    text.push_str("  - name: payments_log\n    description: Every payment, kept.\n");
    std::fs::write(&yml, text).unwrap();
    let (code, out) = stackc(project.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    let grants: Vec<String> = client
        .query(
            "select privilege_type::text from information_schema.role_table_grants
             where grantee = 'stackc_dbt_reader' and table_name = 'payments_log_v1' order by 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(grants, ["SELECT"]);
    let rows: i64 = client
        .query_one("select count(*) from shop.payments_log_v1", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 3);
}

#[test]
fn without_profiles_yml_compile_warns_and_names_where_it_looked() {
    let project = fixture();
    std::fs::remove_file(project.path().join("profiles.yml")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let (code, out) = stackc(
        project.path(),
        &["compile"],
        &[("HOME", home.path().to_str().unwrap())],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning[W0034]"), "{out}");
    assert!(
        out.contains("looked for profiles.yml, ~/.dbt/profiles.yml"),
        "{out}"
    );
    // A profiles.yml in ~/.dbt is found.
    std::fs::create_dir_all(home.path().join(".dbt")).unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/ok_dbt_shop/profiles.yml"),
        home.path().join(".dbt/profiles.yml"),
    )
    .unwrap();
    let (code, out) = stackc(
        project.path(),
        &["compile"],
        &[("HOME", home.path().to_str().unwrap())],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("W0034"), "{out}");
}

#[test]
fn the_target_flag_picks_another_output() {
    let project = fixture();
    let profiles = project.path().join("profiles.yml");
    let text = std::fs::read_to_string(&profiles).unwrap();
    let ci = text
        .replace("    dev:", "    ci:")
        .replace("schema: shop", "schema: ci_shop");
    let outputs = ci.split_once("  outputs:\n").unwrap().1;
    std::fs::write(&profiles, format!("{text}{outputs}")).unwrap();
    let (code, out) = stackc(project.path(), &["compile", "--target", "ci"], &[]);
    assert_eq!(code, 0, "{out}");
    let files = read_tree(&project.path().join("stackc_target"));
    let mart = &files["migrations/R__002_customer_revenue.sql"];
    assert!(
        mart.contains("create table ci_shop.customer_revenue"),
        "{mart}"
    );
    let (code, out) = stackc(project.path(), &["compile", "-t", "prod"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0036]") && out.contains("dev, ci"),
        "{out}"
    );
}

/// A macro that loops over `adapter.get_columns_in_relation` compiles to
/// the SQL dbt compiles (dbt-core 1.10.13 with dbt-postgres 1.9.1 against
/// the seeded and run project, relation names aside: dbt writes
/// `"db"."analytics"."orders_seed"`). The seed's columns come from its
/// header with the types it is loaded with, spelt as PostgreSQL's catalog
/// spells them (`double precision`); a model's from its schema file.
#[test]
fn introspection_loops_compile_to_the_sql_dbt_compiles() {
    let dir = copy_fixture("ok_dbt_introspection");
    let out = dir.path().join("out");
    let (code, text) = stackc(
        dir.path(),
        &["compile", "--out", out.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    let body = |model: &str| {
        let path = std::fs::read_dir(out.join("migrations"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(&format!("_{model}.sql")))
            .unwrap_or_else(|| panic!("no migration for {model}"));
        let sql = std::fs::read_to_string(path).unwrap();
        let start = sql.find(" as\nselect").expect("a create view") + 4;
        sql[start..]
            .trim_end()
            .trim_end_matches(';')
            .trim_end()
            .to_string()
    };
    let dbt_select = |columns: &str, from: &str| format!("select\n{columns}\nfrom {from}");
    let seed_columns =
        "\n    \"id\", -- integer\n    \"country_code\", -- text\n    \"amount\", -- double precision\n    \"ordered_at\" -- date\n";
    let declared =
        "\n    \"id\", -- integer\n    \"country_code\", -- text\n    \"ordered_at\" -- date\n";
    assert_eq!(
        body("orders_all"),
        dbt_select(seed_columns, "analytics.orders_seed")
    );
    assert_eq!(
        body("orders"),
        dbt_select(declared, "analytics.orders_seed")
    );
    // get_relation finds the project's own model; load_relation too.
    assert_eq!(
        body("orders_again"),
        dbt_select(declared, "analytics.orders")
    );
    // A source's columns from the migrations, replayed (create, then
    // alter table add/drop column), as dbt read them from the database.
    let replayed = "\n    \"id\", -- integer\n    \"amount\", -- numeric(10,2)\n    \"paid_at\" -- timestamp with time zone\n";
    assert_eq!(body("payments"), dbt_select(replayed, "raw.payments"));
    // A model's columns derived from its SQL (issue 14), the types copied
    // through the view as PostgreSQL keeps them.
    assert_eq!(
        body("payments_again"),
        dbt_select(replayed, "analytics.payments")
    );
    // A ref is a mapping whose metadata type ends in `Relation`, also in
    // the discovery pass, as packages check before they introspect.
    assert_eq!(
        body("orders_checked"),
        "select id, country_code, ordered_at\nfrom analytics.orders"
    );
}

/// Snapshots on the real server, over two rounds of source changes: the
/// rows dbt-postgres makes (scripts/snapshot_parity.sh compares them with
/// dbt itself), and `ref()` to a snapshot.
#[test]
fn snapshots_keep_history_across_applies() {
    let mut db = TestDb::new("snap");
    let dir = copy_fixture("ok_dbt_snapshots");
    let env = [("STACKC_DBT_DATABASE", db.name.as_str())];
    let (code, out) = stackc(dir.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    std::fs::write(
        dir.path().join("seeds/raw_customers.csv"),
        "id,region,name,status,updated_at\n1,eu,Ann,churned,2024-02-01 08:00:00\n2,eu,Bobby,active,2024-02-01 08:00:00\n4,us,Dee,trial,2024-02-03 12:00:00\n",
    )
    .unwrap();
    let (code, out) = stackc(dir.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    // Applying again without a source change adds no version.
    let (code, out) = stackc(dir.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    let rows = |client: &mut Client, sql: &str| -> Vec<String> {
        client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect()
    };
    let client = &mut db.client;
    // Timestamp strategy, hard deletes invalidated: Ann and Bob have two
    // versions, Cid's is closed, Dee is new.
    assert_eq!(
        rows(
            client,
            "select concat_ws('|', id, name, status, dbt_valid_from, dbt_valid_to is null,
                    dbt_scd_id = md5(coalesce(cast(id as varchar ), '') || '|' || coalesce(cast(updated_at as varchar ), '')),
                    dbt_updated_at = updated_at)
             from snapshots.customers_ts order by id, dbt_valid_from"
        ),
        [
            "1|Ann|active|2024-01-01 10:00:00|f|t|t",
            "1|Ann|churned|2024-02-01 08:00:00|t|t|t",
            "2|Bob|active|2024-01-01 10:00:00|f|t|t",
            "2|Bobby|active|2024-02-01 08:00:00|t|t|t",
            "3|Cid|trial|2024-01-02 09:30:00|f|t|t",
            "4|Dee|trial|2024-02-03 12:00:00|t|t|t",
        ]
    );
    // The first versions closed at the new ones' updated_at.
    assert_eq!(
        rows(
            client,
            "select concat_ws('|', id, dbt_valid_to) from snapshots.customers_ts
             where dbt_valid_to is not null and id < 3 order by id"
        ),
        ["1|2024-02-01 08:00:00", "2|2024-02-01 08:00:00"]
    );
    // Check strategy on `status` only, a list key, deletes ignored: Bob's
    // new name is no new version, Cid stays open.
    assert_eq!(
        rows(
            client,
            "select concat_ws('|', id, region, status, dbt_valid_to is null)
             from snapshots.customers_check order by id, dbt_valid_from"
        ),
        [
            "1|eu|active|f",
            "1|eu|churned|t",
            "2|eu|active|t",
            "3|us|trial|t",
            "4|us|trial|t"
        ]
    );
    // check_cols all, `schema` through generate_schema_name, renamed meta
    // columns, open versions at dbt_valid_to_current, Cid invalidated.
    assert_eq!(
        rows(
            client,
            "select concat_ws('|', id, name, status, valid_to = '9999-12-31')
             from shop_history.customers_all order by id, valid_from"
        ),
        [
            "1|Ann|active|f",
            "1|Ann|churned|t",
            "2|Bob|active|f",
            "2|Bobby|active|t",
            "3|Cid|trial|f",
            "4|Dee|trial|t",
        ]
    );
    // dbt 1.9's YAML snapshot (`relation:`, configs in the entry, a list
    // key): the rows of the block snapshot with the same strategy (the
    // time a hard delete closes a version at is each step's own).
    assert_eq!(
        rows(
            client,
            "select string_agg(concat_ws('|', id, region, name, status, dbt_valid_from, dbt_valid_to is null, dbt_updated_at), ',' order by id, dbt_valid_from)
             from snapshots.customers_yaml"
        ),
        rows(
            client,
            "select string_agg(concat_ws('|', id, region, name, status, dbt_valid_from, dbt_valid_to is null, dbt_updated_at), ',' order by id, dbt_valid_from)
             from snapshots.customers_ts"
        ),
    );
    // A model reads the snapshot with ref().
    assert_eq!(
        rows(
            client,
            "select concat_ws('|', id, name, status) from shop.current_customers order by id"
        ),
        ["1|Ann|churned", "2|Bobby|active", "4|Dee|trial"]
    );
    // `quoting: {identifier: false}`: models/CustomerCount.sql is the bare
    // name PostgreSQL folds, as dbt creates it.
    assert_eq!(
        rows(client, "select n::text from shop.customercount"),
        ["3"]
    );
    // `hard_deletes: new_record`: Cid's live version is closed and a
    // version marked deleted opens, once (the third apply added none).
    let gone = "select concat_ws('|', id, name, dbt_is_deleted, dbt_valid_to is null,
                    dbt_valid_from = dbt_updated_at)
             from snapshots.customers_gone order by id, dbt_valid_from";
    assert_eq!(
        rows(client, gone),
        [
            "1|Ann|False|f|t",
            "1|Ann|False|t|t",
            "2|Bob|False|f|t",
            "2|Bobby|False|t|t",
            "3|Cid|False|f|t",
            "3|Cid|True|t|t",
            "4|Dee|False|t|t",
        ]
    );
    // Cid comes back: the deleted version is closed, a live one opens
    // (from Cid's updated_at, which is before the deletion's stamp: dbt's
    // rows too).
    std::fs::write(
        dir.path().join("seeds/raw_customers.csv"),
        "id,region,name,status,updated_at\n1,eu,Ann,churned,2024-02-01 08:00:00\n2,eu,Bobby,active,2024-02-01 08:00:00\n3,us,Cid,active,2024-03-02 09:00:00\n4,us,Dee,trial,2024-02-03 12:00:00\n",
    )
    .unwrap();
    let (code, out) = stackc(dir.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    let client = &mut db.client;
    assert_eq!(
        rows(
            client,
            "select concat_ws('|', name, dbt_is_deleted, dbt_valid_to is null)
             from snapshots.customers_gone where id = 3 order by dbt_valid_from"
        ),
        ["Cid|False|f", "Cid|False|t", "Cid|True|f"]
    );
}

/// `--warn-error` on apply and test, as dbt's: a compile warning stops the
/// apply before it connects, and a failing test of severity warn fails.
#[test]
fn warn_error_applies_to_apply_and_test() {
    let warned = repo().join("tests/fixtures/warn_w0330_dbt_entry_without_model");
    let (code, out) = stackc(&warned, &["apply", "--warn-error"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[W0330]") && out.contains("nothing was run"),
        "{out}"
    );
    let (code, out) = stackc(
        &warned,
        &["test", "--warn-error-options", r#"{"include": ["W0330"]}"#],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[W0330]"), "{out}");

    let db = TestDb::new("warn");
    let dir = copy_fixture("ok_dbt_warn_test");
    let env = [("STACKC_DBT_DATABASE", db.name.as_str())];
    let (code, out) = stackc(dir.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    // The data_tests tree (as dbt build reports the same fixture): warn
    // severity from the project level, `warn_if` from the folder, and the
    // test's own `warn_if` over the folder's.
    for (test, result) in [
        (
            "accepted_values_orders_status__open__shipped",
            "warn 1 failing row",
        ),
        ("accepted_values_checked_id__2", "ok"),
        ("checked_id_is_two_or_three", "warn 1 failing row"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("test {test} ... {result}"))),
            "{test}: {out}"
        );
    }
    let (code, out) = stackc(dir.path(), &["test"], &env);
    assert_eq!(code, 0, "{out}");
    let (code, out) = stackc(dir.path(), &["test", "--warn-error"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("an error under --warn-error"), "{out}");
    let (code, out) = stackc(dir.path(), &["apply", "--warn-error"], &env);
    assert_eq!(code, 1, "{out}");
}

/// dbt's analyses: rendered (with `ref` to a snapshot) and checked into
/// OUT/analyses/, never run (the snapshot apply test runs this fixture,
/// whose analysis would fail on a division by zero); a bad ref is an error
/// at its line.
#[test]
fn analyses_compile_into_out_and_are_checked() {
    let dir = copy_fixture("ok_dbt_snapshots");
    let out_dir = dir.path().join("stackc_target");
    let (code, out) = stackc(dir.path(), &["compile"], &[]);
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(out_dir.join("analyses/status_history.sql")).unwrap();
    assert!(text.contains("from snapshots.customers_ts\n"), "{text}");
    assert!(
        text.starts_with("-- stackc: analysis status_history\n"),
        "{text}"
    );
    let (code, out) = stackc(dir.path(), &["compile", "--check"], &[]);
    assert_eq!(code, 0, "{out}");
    // Jinja in a var of dbt_project.yml, rendered at its use, with `this`.
    let model =
        std::fs::read_to_string(out_dir.join("migrations/R__002_current_customers.sql")).unwrap();
    assert!(
        model.contains("'shop history of current_customers' as label"),
        "{model}"
    );

    std::fs::write(
        dir.path().join("analyses/status_history.sql"),
        "select 1\nfrom {{ ref('no_such_model') }}\n",
    )
    .unwrap();
    let (code, out) = stackc(dir.path(), &["compile"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("analyses/status_history.sql:2:"), "{out}");
}

/// Contract constraints on the real server: `foreign_key` with `to:
/// ref(...)` and `to_columns` (column and model level) and `check`, as
/// dbt-postgres writes them; the referenced table is built first, and a
/// second apply reloads both tables.
#[test]
fn contract_foreign_keys_reference_the_built_table() {
    let mut db = TestDb::new("fk");
    let dir = copy_fixture("ok_dbt_foreign_key");
    let env = [("STACKC_DBT_DATABASE", db.name.as_str())];
    for _ in 0..2 {
        let (code, out) = stackc(dir.path(), &["apply"], &env);
        assert_eq!(code, 0, "{out}");
    }
    let client = &mut db.client;
    let constraints: Vec<String> = client
        .query(
            "select tc.constraint_type || ' ' || ccu.table_name || '.' || ccu.column_name
             from information_schema.table_constraints tc
             join information_schema.constraint_column_usage ccu using (constraint_schema, constraint_name)
             where tc.table_schema = 'shop' and tc.table_name = 'orders'
             order by 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        constraints,
        [
            "CHECK orders.amount",
            "FOREIGN KEY customers.customer_id",
            "FOREIGN KEY customers.customer_id",
            "PRIMARY KEY orders.order_id",
        ]
    );
    let n: i64 = client
        .query_one("select count(*) from shop.orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    let refused = client
        .batch_execute("insert into shop.orders values (13, 99, 1)")
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{refused:?}"
    );
}

/// Snapshots are dbt's `snapshot.<package>.<name>` nodes: in the manifest,
/// in `ls`, and selected by their folder without the project's name
/// (`history.*`) as `dbt ls` selects them.
#[test]
fn snapshots_have_dbts_ids_and_fqns() {
    let dir = copy_fixture("ok_dbt_snapshots");
    let (code, out) = stackc(dir.path(), &["compile"], &[]);
    assert_eq!(code, 0, "{out}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("stackc_target/manifest.json")).unwrap(),
    )
    .unwrap();
    let node = &manifest["nodes"]["snapshot.dbt_snap.customers_ts"];
    assert_eq!(node["resource_type"], "snapshot", "{node}");
    assert!(manifest["nodes"]["model.dbt_snap.customers_ts"].is_null());
    let parents = &manifest["parent_map"]["model.dbt_snap.current_customers"];
    assert_eq!(
        parents,
        &serde_json::json!(["snapshot.dbt_snap.customers_ts"])
    );
    let (code, out) = stackc(
        dir.path(),
        &["ls", "-s", "history.*", "--indirect-selection", "eager"],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "dbt_snap.history.customers_ts.customers_ts",
            "dbt_snap.not_null_customers_ts_id",
            "dbt_snap.unique_customers_ts_dbt_scd_id",
        ]
    );
    let (code, out) = stackc(
        dir.path(),
        &[
            "ls",
            "-s",
            "resource_type:snapshot",
            "--indirect-selection",
            "eager",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "dbt_snap.customers_all.customers_all",
            "dbt_snap.customers_check.customers_check",
            "dbt_snap.customers_gone.customers_gone",
            "dbt_snap.history.customers_ts.customers_ts",
            "dbt_snap.customers_yaml",
            "dbt_snap.not_null_customers_ts_id",
            "dbt_snap.unique_customers_ts_dbt_scd_id",
        ]
    );
}

/// `store_failures` / `store_failures_as` and `fail_calc` as dbt-postgres
/// runs them (the same fixture under `dbt build` gives these relations and
/// counts): the rows go to the audit schema named by the project's own
/// `generate_schema_name`, replaced on each run, and the count is the
/// `fail_calc`'s.
#[test]
fn tests_store_their_failures_and_count_with_fail_calc() {
    let mut db = TestDb::new("sf");
    let dir = copy_fixture("ok_dbt_store_failures");
    let env = [("STACKC_DBT_DATABASE", db.name.as_str())];
    for _ in 0..2 {
        let (code, out) = stackc(dir.path(), &["apply"], &env);
        assert_eq!(code, 0, "{out}");
        // sum(n_records) over the one duplicated id: 2, not 1 row.
        assert!(
            out.contains("test unique_orders_id ... warn 2 failing rows"),
            "{out}"
        );
        assert!(
            out.contains("test accepted_values_orders_status__ok__bad ... ok"),
            "{out}"
        );
    }
    let rows: Vec<String> = db
        .client
        .query(
            "select table_schema || '.' || table_name || ' ' || table_type
             from information_schema.tables
             where table_schema in ('dbt_test__audit', 'quality') order by 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        rows,
        [
            "dbt_test__audit.status_missing VIEW",
            "dbt_test__audit.unique_orders_id BASE TABLE",
            "quality.accepted_values_orders_status__ok__bad BASE TABLE",
        ]
    );
    let dup: Vec<(i32, i64)> = db
        .client
        .query(
            "select unique_field, n_records from dbt_test__audit.unique_orders_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(dup, [(2, 2)]);
}

/// `hard_deletes: new_record` switched on for a snapshot table made
/// without it: dbt 1.10 refuses the table (it lacks `dbt_is_deleted`);
/// stackc adds the column, 'False' on the versions so far, and the next
/// deletion is a version marked 'True'.
#[test]
fn new_record_switched_on_adds_dbt_is_deleted() {
    let mut db = TestDb::new("snapdel");
    let dir = copy_fixture("ok_dbt_snapshots");
    let gone = dir.path().join("snapshots/customers_gone.sql");
    let original = std::fs::read_to_string(&gone).unwrap();
    std::fs::write(&gone, original.replace(", hard_deletes='new_record'", "")).unwrap();
    let env = [("STACKC_DBT_DATABASE", db.name.as_str())];
    let (code, out) = stackc(dir.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    std::fs::write(&gone, original).unwrap();
    std::fs::write(
        dir.path().join("seeds/raw_customers.csv"),
        "id,region,name,status,updated_at\n1,eu,Ann,active,2024-01-01 10:00:00\n2,eu,Bob,active,2024-01-01 10:00:00\n",
    )
    .unwrap();
    let (code, out) = stackc(dir.path(), &["apply"], &env);
    assert_eq!(code, 0, "{out}");
    let rows: Vec<String> = db
        .client
        .query(
            "select concat_ws('|', id, dbt_valid_to is null, dbt_is_deleted)
             from snapshots.customers_gone order by id, dbt_valid_from",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, ["1|t|False", "2|t|False", "3|f|False", "3|t|True"]);
}

/// As real dbt 1.10's manifest has them: an analysis in `parent_map` and
/// `child_map` (children sorted by id), a singular test with the
/// `description` of the `data_tests:` entry naming it and the Jinja
/// severity of the project's `data_tests:` tree rendered; `ls` still
/// leaves the analysis out, as `dbt ls` does.
#[test]
fn analyses_are_in_the_maps_and_singular_tests_keep_their_description() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "dbt_project.yml",
            "name: maps\nprofile: maps\ndata_tests:\n  maps:\n    +severity: \"{{ 'warn' if target.name == 'dev' else 'error' }}\"\n",
        ),
        (
            "profiles.yml",
            "maps:\n  target: dev\n  outputs:\n    dev: {type: postgres, host: localhost, user: u, dbname: d, schema: public}\n",
        ),
        ("models/m.sql", "select 1 as id\n"),
        ("analyses/a.sql", "select * from {{ ref('m') }}\n"),
        ("tests/t1.sql", "select * from {{ ref('m') }} where id < 0\n"),
        (
            "tests/schema.yml",
            "version: 2\ndata_tests:\n  - name: t1\n    description: the t1 test\n",
        ),
    ];
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let (code, out) = stackc(dir.path(), &["compile"], &[]);
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(dir.path().join("stackc_target/manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        m["parent_map"]["analysis.maps.a"],
        serde_json::json!(["model.maps.m"])
    );
    assert_eq!(m["child_map"]["analysis.maps.a"], serde_json::json!([]));
    assert_eq!(
        m["child_map"]["model.maps.m"],
        serde_json::json!(["analysis.maps.a", "test.maps.t1"])
    );
    let test = &m["nodes"]["test.maps.t1"];
    assert_eq!(test["description"], "the t1 test");
    assert_eq!(test["severity"], "warn");
    let (code, out) = stackc(dir.path(), &["ls"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("analysis"), "{out}");
    let (code, out) = stackc(dir.path(), &["ls", "-s", "m+", "--output", "selector"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("maps.t1") && !out.contains("analysis"),
        "{out}"
    );
    // dbt's `ls --resource-type analysis` lists them, by dbt's fqn.
    let args = [
        "ls",
        "-s",
        "m+",
        "--resource-type",
        "analysis",
        "model",
        "--output",
        "selector",
    ];
    let (code, out) = stackc(dir.path(), &args, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "maps.analysis.a\nmaps.m", "{out}");
}
