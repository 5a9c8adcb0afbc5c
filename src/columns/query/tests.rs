use super::*;
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// `raw.orders(id integer, customer_id integer, amount numeric(10,2),
/// ordered_at date, status text)`, `raw.customers(id integer, name
/// text)`, and `raw.open`, a source of which a schema file lists `id`.
struct Test;

impl Catalog for Test {
    fn relation(&self, schema: &str, name: &str) -> Option<RelCols> {
        let cols: &[(&str, &str)] = match (schema, name) {
            ("raw", "orders") => &[
                ("id", "integer"),
                ("customer_id", "integer"),
                ("amount", "numeric(10,2)"),
                ("ordered_at", "date"),
                ("status", "text"),
            ],
            ("raw", "customers") => &[("id", "integer"), ("name", "text")],
            ("raw", "open") => &[("id", "integer")],
            _ => return None,
        };
        Some(RelCols {
            columns: cols
                .iter()
                .map(|(n, t)| Col {
                    name: n.to_string(),
                    ty: Ty::known(t),
                    lineage: Lineage::from([(
                        ((schema.to_string(), name.to_string()), n.to_string()),
                        Kind::Copy,
                    )]),
                })
                .collect(),
            open: name == "open",
        })
    }
}

fn run(sql: &str) -> Analysis {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("test SQL parses");
    let Some(Statement::Query(q)) = statements.pop() else {
        panic!("not a query: {sql}");
    };
    analyze(&q, &Test)
}

/// The output as `name type` pairs.
fn cols(sql: &str) -> Vec<String> {
    let a = run(sql);
    assert_eq!(a.problems, [], "{sql}");
    a.columns
        .unwrap_or_else(|| panic!("columns of {sql}"))
        .iter()
        .map(|c| format!("{} {}", c.name, c.ty.output().unwrap_or("unknown".into())))
        .collect()
}

fn problems(sql: &str) -> Vec<ProblemKind> {
    run(sql).problems.into_iter().map(|p| p.kind).collect()
}

fn unknown(name: &str) -> impl Fn(&ProblemKind) -> bool + '_ {
    move |p| matches!(p, ProblemKind::UnknownColumn { name: n, .. } if n == name)
}

#[test]
fn select_list_names_and_types() {
    assert_eq!(
        cols(
            "select id, amount * 2 as double_amount, status || '!' , count(*) over () as n, \
              ordered_at + 1 as next_day, 'x' as lit, null as nothing, 1.5, \
              cast(id as bigint), id::text, case when id > 1 then amount else 0 end as c, \
              coalesce(amount, 0) as a0, o.customer_id from raw.orders o"
        ),
        [
            "id integer",
            "double_amount numeric",
            "?column? text",
            "n bigint",
            "next_day date",
            "lit text",
            "nothing text",
            "?column? numeric",
            "id bigint",
            "id text",
            "c numeric",
            "a0 numeric",
            "customer_id integer",
        ]
    );
}

#[test]
fn aggregates_windows_and_dates() {
    assert_eq!(
        cols(
            "select customer_id, sum(amount) as total, count(distinct id) as orders, \
              min(ordered_at) as first_order, avg(id) as a, \
              row_number() over (partition by customer_id order by ordered_at) as rn, \
              date_trunc('month', ordered_at) as month, extract(year from ordered_at) as y, \
              ordered_at - interval '1 day' as before, current_date - ordered_at as age_days \
              from raw.orders group by 1, ordered_at, id"
        ),
        [
            "customer_id integer",
            "total numeric",
            "orders bigint",
            "first_order date",
            "a numeric",
            "rn bigint",
            "month timestamp with time zone",
            "y numeric",
            "before timestamp without time zone",
            "age_days integer",
        ]
    );
}

#[test]
fn stars_ctes_and_subqueries() {
    assert_eq!(
        cols(
            "with o as (select id as order_id, amount from raw.orders), \
              c(cid, cname) as (select * from raw.customers) \
              select o.*, c.cname, s.n from o join c on o.order_id = c.cid \
              cross join (select count(*) as n from raw.orders) s"
        ),
        [
            "order_id integer",
            "amount numeric(10,2)",
            "cname text",
            "n bigint"
        ]
    );
    assert_eq!(
        cols("select * from raw.customers join raw.orders using (id)"),
        [
            "id integer",
            "name text",
            "customer_id integer",
            "amount numeric(10,2)",
            "ordered_at date",
            "status text"
        ]
    );
}

#[test]
fn set_operations_and_values() {
    assert_eq!(
        cols("select id, null as x from raw.orders union all select id, 1.5 from raw.customers"),
        ["id integer", "x numeric"]
    );
    assert_eq!(
        cols("select * from (values (1, 'a'), (2, 'b')) v(n, s)"),
        ["n integer", "s text"]
    );
    assert_eq!(
        problems("select id, status from raw.orders union select id from raw.customers"),
        [ProblemKind::SetArity { left: 2, right: 1 }]
    );
    assert_eq!(
        problems("select id, status from raw.orders union select name, id from raw.customers"),
        [ProblemKind::SetTypes {
            column: 1,
            left: "integer".into(),
            right: "text".into()
        }]
    );
    // Numbers widen, strings meet text, literals and unknown types never
    // clash; a date and an interval do (PostgreSQL: "cannot be matched").
    for sql in [
        "select id, amount from raw.orders union select id::bigint, 1 from raw.customers",
        "select status from raw.orders union select name::varchar(3) from raw.customers",
        "select id, status from raw.orders union select null, 'x' from raw.customers",
        "select id from raw.orders union select nope.x from raw.open nope",
    ] {
        assert_eq!(problems(sql), [], "{sql}");
    }
    assert_eq!(
        problems("select ordered_at from raw.orders except select interval '1 day'"),
        [ProblemKind::SetTypes {
            column: 1,
            left: "date".into(),
            right: "interval".into()
        }]
    );
}

#[test]
fn unknown_columns_are_found_in_every_clause() {
    for sql in [
        "select idd from raw.orders",
        "select id from raw.orders where idd > 1",
        "select o.id from raw.orders o join raw.customers c on c.idd = o.customer_id",
        "select count(*) from raw.orders group by idd",
        "select row_number() over (partition by idd) from raw.orders",
        "with x as (select idd from raw.orders) select 1",
        "with x as (select id from raw.orders) select x.idd from x",
        "select id from raw.orders having sum(idd) > 1",
        "select id from raw.orders order by idd",
        "select * from raw.orders o where exists (select 1 from raw.customers c where c.id = o.idd)",
        "select * from raw.orders join raw.customers using (idd)",
    ] {
        let p = problems(sql);
        assert!(p.iter().any(unknown("idd")), "{sql}: {p:?}");
    }
    let p = problems("select o.idd from raw.orders o");
    assert_eq!(
        p,
        [ProblemKind::UnknownColumn {
            name: "idd".into(),
            searched: vec!["o".into()],
            candidates: ["id", "customer_id", "amount", "ordered_at", "status"]
                .map(String::from)
                .to_vec(),
        }]
    );
}

#[test]
fn ambiguous_and_positions_and_natural() {
    assert_eq!(
        problems("select id from raw.orders o join raw.customers c on o.customer_id = c.id"),
        [ProblemKind::Ambiguous {
            name: "id".into(),
            relations: ["o".into(), "c".into()],
        }]
    );
    assert_eq!(
        problems("select id from raw.orders group by 2"),
        [ProblemKind::Position {
            n: "2".into(),
            count: 1,
            clause: "group by",
        }]
    );
    assert_eq!(
        problems("select * from raw.orders natural join raw.customers"),
        [ProblemKind::Natural {
            joined: Some(vec!["id".into()])
        }]
    );
}

#[test]
fn what_is_not_known_is_never_reported() {
    for sql in [
        // A source no migration creates.
        "select anything from raw.unknown",
        "select u.anything, o.id from raw.orders o join raw.unknown u on u.x = o.id",
        // A schema file lists some of its columns.
        "select other from raw.open",
        // Functions in FROM, whole rows, composite fields, keywords.
        "select g, t.x from generate_series(1, 3) g, jsonb_to_recordset('[]') t(x int)",
        "select o, (o).id, current_date, current_timestamp from raw.orders o",
        // Correlated names from an outer scope, lateral.
        "select id, (select max(c.name) from raw.customers c where c.id = o.customer_id) from raw.orders o",
        "select o.id, l.n from raw.orders o, lateral (select o.amount * 2 as n) l",
        // Output aliases in order by / group by.
        "select id as k, count(*) as n from raw.orders group by k order by n",
        "select distinct on (customer_id) customer_id, id from raw.orders order by customer_id, ordered_at desc",
        // A recursive CTE.
        "with recursive r as (select 1 as n union all select n + 1 from r where n < 3) select n from r",
        // A natural join with a side of unknown columns.
        "select id, anything from raw.orders natural join raw.unknown",
    ] {
        let p = run(sql).problems;
        assert!(
            p.iter().all(|p| matches!(p.kind, ProblemKind::Natural { .. })),
            "{sql}: {p:?}"
        );
    }
    assert!(run("select * from raw.unknown").columns.is_none());
    assert!(run("select * from raw.open").columns.is_none());
}

#[test]
fn lineage_is_copy_transform_or_filter() {
    let a = run(
        "select o.id, o.amount * 2 as twice, c.name from raw.orders o \
                 join raw.customers c on c.id = o.customer_id where o.status = 'done'",
    );
    let cols = a.columns.unwrap();
    let show = |c: &Col| {
        c.lineage
            .iter()
            .map(|(((_, t), col), k)| format!("{t}.{col} {}", k.as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        show(&cols[0]),
        [
            "customers.id filter",
            "orders.customer_id filter",
            "orders.id copy",
            "orders.status filter"
        ]
    );
    assert!(show(&cols[1]).contains(&"orders.amount transform".to_string()));
    assert!(show(&cols[2]).contains(&"customers.name copy".to_string()));
}
