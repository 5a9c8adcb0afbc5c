//! stackc answers `statement` blocks and `run_query()` of queries that read
//! nothing (dbt.date_spine counts days that way) without a database: each
//! answer here is checked against the real PostgreSQL, type and text.

mod common;

use stackc::render::dbt::consteval::{
    evaluate, format_date, format_timestamp, NotConstant, Scalar,
};

/// Expressions as dbt's cross-database macros and packages write them.
const EXPRESSIONS: &[&str] = &[
    "1 + 2 * 3",
    "7 / 2",
    "-7 / 2",
    "-7 % 3",
    "2 ^ 10",
    "power(2, 3)",
    "floor(7)",
    "ceil(2)",
    "round(2.0::float8 / 4)",
    "abs(-4)",
    "greatest(1, 5, 3)",
    "least(4, 2)",
    "coalesce(null, 3)",
    "nullif(2, 2)",
    "(('2018-01-10')::date - ('2018-01-01')::date)",
    "date '2024-03-01' - 1",
    "'2018-01-31'::date + interval '1 month'",
    "cast('2020-02-29' as date) + ((interval '1 year') * (-1))",
    "'2018-01-01'::date + ((interval '1 day') * (3650))",
    "'2018-01-10 10:00'::timestamp - '2018-01-01'::timestamp",
    "'2018-01-01'::timestamp - '2018-01-10 10:00:30.5'::timestamp",
    "interval '1 day' * -3650",
    "interval '2 hours' + interval '3 mons'",
    "(date_part('year', ('2019-03-01')::date) - date_part('year', ('2018-01-01')::date)) * 12 + date_part('month', ('2019-03-01')::date) - date_part('month', ('2018-01-01')::date)",
    "date_part('dow', '2024-01-07'::date)",
    "date_part('isodow', '2024-01-07'::date)",
    "date_part('doy', '2024-12-31'::date)",
    "date_part('week', '2021-01-03'::date)",
    "date_part('isoyear', '2021-01-03'::date)",
    "date_part('quarter', '2021-08-03'::date)",
    "date_part('epoch', '2021-08-03 01:02:03.25'::timestamp)",
    "date_part('second', '2021-08-03 01:02:03.25'::timestamp)",
    "date_part('hour', '2021-08-03 17:02:03'::timestamp)",
    "date_part('epoch', interval '3 days 02:00:00')",
    "date_trunc('month', '2024-02-29 10:00'::timestamp)",
    "date_trunc('week', '2024-02-29 10:00'::timestamp)",
    "date_trunc('quarter', '2024-02-29 10:00'::timestamp)",
    "make_date(2024, 2, 29)",
    "cast('12' as integer) + 1",
    "cast(2.5::float8 as int)",
    "cast(3.5::float8 as int)",
    "'a' || 'b' || 3",
    "case when 1 < 2 then 'yes' else 'no' end",
    "case 3 when 1 then 'one' when 3 then 'three' end",
    "1 = 1 and null",
    "1 = 2 and null",
    "1 = 1 or null",
    "not (1 > 2)",
    "'2024-01-01'::date < '2024-01-01 00:00:01'::timestamp",
    "interval '1 mon' > interval '29 days'",
    "(('2024-01-31')::date - ('2023-12-01')::date) / 7 + case when date_part('dow', ('2023-12-01')::timestamp) <= date_part('dow', ('2024-01-31')::timestamp) then case when '2023-12-01' <= '2024-01-31' then 0 else -1 end else case when '2023-12-01' <= '2024-01-31' then 1 else 0 end end",
    "cast('t' as boolean)",
    "null::date",
];

/// How PostgreSQL prints an interval (`IntervalStyle = postgres`).
fn interval_text(months: i64, days: i64, micros: i64) -> String {
    let plural =
        |n: i64, one: &str, many: &str| format!("{n} {}", if n.abs() == 1 { one } else { many });
    let mut parts = Vec::new();
    let (years, mons) = (months / 12, months % 12);
    if years != 0 {
        parts.push(plural(years, "year", "years"));
    }
    if mons != 0 {
        parts.push(plural(mons, "mon", "mons"));
    }
    if days != 0 {
        parts.push(plural(days, "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let m = micros.abs();
        let secs = m / 1_000_000;
        let mut t = format!(
            "{sign}{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if m % 1_000_000 != 0 {
            t.push_str(format!(".{:06}", m % 1_000_000).trim_end_matches('0'));
        }
        parts.push(t);
    }
    parts.join(" ")
}

fn ours(expr: &str) -> (String, Option<String>) {
    let table = evaluate(&format!("select {expr}")).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let value = &table.rows[0][0];
    match value {
        Scalar::Null => ("null".into(), None),
        Scalar::Bool(b) => (
            "boolean".into(),
            Some(if *b { "true" } else { "false" }.into()),
        ),
        Scalar::Int(i) => ("integer".into(), Some(i.to_string())),
        Scalar::Float(f) => ("double precision".into(), Some(format!("{f}"))),
        Scalar::Text(t) => ("text".into(), Some(t.clone())),
        Scalar::Date(d) => ("date".into(), Some(format_date(*d))),
        Scalar::Timestamp(t) => (
            "timestamp without time zone".into(),
            Some(format_timestamp(*t)),
        ),
        Scalar::Interval {
            months,
            days,
            micros,
        } => (
            "interval".into(),
            Some(interval_text(*months, *days, *micros)),
        ),
    }
}

#[test]
fn constant_queries_have_postgresql_s_answer() {
    let (name, config) = common::create_database("stackc_consteval", "answers");
    let mut client = config
        .connect(postgres::NoTls)
        .expect("connect to the test database");
    let mut differences = Vec::new();
    for expr in EXPRESSIONS {
        let row = client
            .query_one(
                &format!("select pg_typeof({expr})::text, ({expr})::text"),
                &[],
            )
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        let (pg_type, pg_text): (String, Option<String>) = (row.get(0), row.get(1));
        let (our_type, our_text) = ours(expr);
        // An unknown-typed literal prints as PostgreSQL's `text`; a null
        // has whatever type PostgreSQL gave it.
        let type_ok = our_type == "null" && pg_text.is_none()
            || our_type == pg_type
            || (our_type == "integer" && pg_type == "bigint");
        if !type_ok || our_text != pg_text {
            differences.push(format!(
                "{expr}\n  postgres: {pg_type} {pg_text:?}\n  stackc:   {our_type} {our_text:?}"
            ));
        }
    }
    drop(client);
    common::drop_database(&name);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn what_depends_on_the_run_or_the_data_is_not_answered() {
    for (sql, want) in [
        ("select max(id) from orders", NotConstant::ReadsData),
        (
            "select current_date",
            NotConstant::Volatile("current_date".into()),
        ),
        (
            "select now() - interval '1 day'",
            NotConstant::Volatile("now".into()),
        ),
        (
            "with x as (select 1) select * from x",
            NotConstant::ReadsData,
        ),
        ("create table t (a int)", NotConstant::ReadsData),
    ] {
        assert_eq!(evaluate(sql), Err(want), "{sql}");
    }
}

/// The same answers end to end: a dbt project whose models call dbt's
/// date_spine over fixed dates compiles without a database and applies
/// with the rows dbt builds (checked once against dbt itself with
/// `scripts/dbt_parity.sh tests/fixtures_apply/dbt_date_spine`).
#[test]
fn date_spines_over_fixed_dates_apply_with_dbt_s_rows() {
    let (name, config) = common::create_database("stackc_consteval", "spine");
    let project = tempfile::tempdir().unwrap();
    common::copy_tree(
        &common::repo().join("tests/fixtures_apply/dbt_date_spine"),
        project.path(),
    );
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackc"))
        .arg("apply")
        .arg(project.path())
        .env("NO_COLOR", "1")
        .env("STACKC_DBT_DATABASE", &name)
        .env("STACKC_DBT_HOST", host)
        .env_remove("DATABASE_URL")
        .env_remove("DBT_PROFILES_DIR")
        .output()
        .expect("the stackc binary runs");
    let mut client = config.connect(postgres::NoTls).expect("connect");
    let result = (|| -> Result<(i64, i64, String, i64), postgres::Error> {
        let days: i64 = client
            .query_one("select count(*) from calendar.days_2024", &[])?
            .get(0);
        let months: i64 = client
            .query_one("select count(*) from calendar.months", &[])?
            .get(0);
        let last: String = client
            .query_one(
                "select max(date_day)::date::text from calendar.days_2024",
                &[],
            )?
            .get(0);
        let weeks: i32 = client
            .query_one("select week_count from calendar.weeks", &[])?
            .get(0);
        Ok((days, months, last, i64::from(weeks)))
    })();
    drop(client);
    common::drop_database(&name);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(result.unwrap(), (60, 5, "2024-02-29".to_string(), 13));
}
