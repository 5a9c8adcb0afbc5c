use super::*;

pub(super) fn parse_str(text: &str) -> (Option<SchemaFile>, Vec<Diagnostic>) {
    let file = SourceFile {
        path: Arc::from("models/s.yml"),
        text: Arc::from(text),
    };
    let mut d = Vec::new();
    (parse(&file, &mut d), d)
}

#[test]
fn reads_models_sources_and_tests() {
    let text = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: Orders\n        quoting: {identifier: true}\nmodels:\n  - name: stg\n    config:\n      materialized: table\n    columns:\n      - name: id\n        data_type: bigint\n        tests:\n          - not_null\n          - accepted_values:\n              values: [a, b]\n              config: {severity: warn, where: \"x > 1\"}\n";
    let (f, d) = parse_str(text);
    assert!(d.is_empty(), "{d:?}");
    let f = f.unwrap();
    assert_eq!(f.sources[0].schema, "raw");
    assert!(f.sources[0].tables[0].quote_identifier);
    let m = &f.models[0];
    assert_eq!(&text[m.span.range.clone()], "stg");
    assert_eq!(m.config["materialized"].value, "table");
    let tests = &m.columns[0].tests;
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[1].kind, "accepted_values");
    assert_eq!(tests[1].severity, TestSeverity::Warn);
    assert_eq!(tests[1].where_clause.as_deref(), Some("x > 1"));
    assert_eq!(tests[1].args["values"], serde_json::json!(["a", "b"]));
}

#[test]
fn unknown_keys_are_found_at_every_depth_in_one_parse() {
    // Under a `Spanned` value (`expect`), in entries read as plain JSON
    // (a snapshot's columns) and in typed entries.
    let text = "version: 2\nunit_tests:\n  - name: t\n    model: a\n    given: []\n    expect:\n      rowz: []\nsnapshots:\n  - name: s\n    columns:\n      - name: c\n        descripton: x\nmodels:\n  - name: a\n    columns:\n      - name: id\n        tets: [x]\n";
    let (f, d) = parse_str(text);
    assert!(d.is_empty(), "{d:?}");
    let found: Vec<&str> = f
        .as_ref()
        .unwrap()
        .strict
        .iter()
        .map(|s| {
            let at = s.diagnostic.primary.as_ref().unwrap().range.clone();
            &text[at]
        })
        .collect();
    assert_eq!(found, ["rowz", "descripton", "tets"]);
}

#[test]
fn unknown_keys_and_duplicates_are_located() {
    let text = "version: 2\nmodels:\n  - name: a\n    colums: []\n";
    let (f, d) = parse_str(text);
    assert!(d.is_empty(), "{d:?}");
    let f = f.unwrap();
    assert_eq!(f.models[0].name, "a");
    let w = &f.strict[0];
    assert_eq!((w.native, w.diagnostic.code), (Code::E0002, Code::W0050));
    let at = w.diagnostic.primary.as_ref().unwrap().range.clone();
    assert_eq!(&text[at], "colums");
    assert!(
        w.diagnostic
            .message
            .contains("unknown key `colums` in a model entry"),
        "{}",
        w.diagnostic.message
    );
    assert!(w.diagnostic.help.as_ref().unwrap().contains("`columns`"));
    let (f, d) = parse_str("version: 2\nmodels:\n  - name: a\n    name: b\n");
    assert!(d[0].message.contains("duplicate"), "{}", d[0].message);
    assert!(f.unwrap().rejected);
}

#[test]
fn reads_dbt_vocabulary_without_complaint() {
    let text = r#"
models:
  - name: m
    description: d
    access: public
    group: finance
    latest_version: 2
    deprecation_date: 2030-01-01
    meta: {owner: a}
    docs: {show: true}
    constraints:
      - type: primary_key
        columns: [id]
    versions:
      - v: 1
        columns:
          - include: all
            exclude: [x]
      - v: 2
    columns:
      - name: id
        granularity: day
        data_tests:
          - unique:
              name: m_id_is_unique
              description: every id once
              config: {severity: warn, limit: 10, tags: [a], meta: {b: 1}}
          - dbt_utils.accepted_range:
              arguments: {min_value: 0}
          - name: custom
            test_name: not_null
            enabled: false
exposures:
  - name: weekly
    type: dashboard
    owner: {name: a}
    depends_on:
      - ref('m')
      - source('raw', 'orders')
groups:
  - name: finance
    owner: {email: a@b.c}
semantic_models:
  - name: orders
    model: ref('m')
    entities: [{name: id, type: primary}]
metrics:
  - name: revenue
    type: simple
    type_params: {measure: amount}
saved_queries:
  - name: q
    query_params: {metrics: [revenue]}
analyses:
  - name: a
    description: x
macros:
  - name: cents
    arguments: [{name: col, type: string}]
snapshots:
  - name: s
    config: {strategy: timestamp}
"#;
    let (f, d) = parse_str(text);
    assert!(d.is_empty(), "{d:?}");
    let f = f.unwrap();
    assert!(f.strict.is_empty(), "{:?}", f.strict);
    let tests = &f.models[0].columns[0].tests;
    assert_eq!(tests[0].name.as_deref(), Some("m_id_is_unique"));
    assert_eq!(tests[0].limit, Some(10));
    assert_eq!(tests[0].severity, TestSeverity::Warn);
    assert!(tests[0].args.is_empty(), "{:?}", tests[0].args);
    assert_eq!(tests[1].namespace.as_deref(), Some("dbt_utils"));
    assert_eq!(tests[1].kind, "accepted_range");
    assert_eq!(tests[1].args["min_value"], serde_json::json!(0));
    assert_eq!(
        (tests[2].kind.as_str(), tests[2].enabled),
        ("not_null", false)
    );
    let kinds: Vec<(OtherKind, &str)> =
        f.others.iter().map(|o| (o.kind, o.name.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (OtherKind::Snapshot, "s"),
            (OtherKind::Exposure, "weekly"),
            (OtherKind::SemanticModel, "orders"),
            (OtherKind::Metric, "revenue"),
            (OtherKind::SavedQuery, "q"),
            (OtherKind::Group, "finance"),
        ]
    );
    // What the entry's YAML says beyond stackc's own fields, for `graph`.
    assert_eq!(f.others[1].yaml["owner"], serde_json::json!({"name": "a"}));
    assert_eq!(
        f.others[5].yaml["owner"],
        serde_json::json!({"email": "a@b.c"})
    );
    assert_eq!(
        f.others[1].depends_on,
        [
            UnitInputKind::Ref("m".into()),
            UnitInputKind::Source("raw".into(), "orders".into())
        ]
    );
}

#[test]
fn unknown_test_configs_are_strict_findings() {
    let text = "models:\n  - name: m\n    columns:\n      - name: id\n        tests:\n          - unique:\n              config: {owner_team: data}\n";
    let (f, d) = parse_str(text);
    assert!(d.is_empty(), "{d:?}");
    let f = f.unwrap();
    assert_eq!(f.models[0].columns[0].tests.len(), 1);
    let s = &f.strict[0];
    assert_eq!((s.native, s.diagnostic.code), (Code::E0310, Code::W0050));
    assert!(
        s.diagnostic.message.contains("`owner_team`"),
        "{}",
        s.diagnostic.message
    );
}

#[test]
fn fail_calc_and_store_failures_are_read() {
    let text = "models:\n  - name: m\n    columns:\n      - name: id\n        tests:\n          - unique:\n              store_failures: true\n              fail_calc: sum(n_records)\n          - not_null:\n              config: {fail_calc: count(*), store_failures_as: view, schema: audit}\n";
    let (f, d) = parse_str(text);
    assert!(d.is_empty(), "{d:?}");
    let f = f.unwrap();
    let tests = &f.models[0].columns[0].tests;
    assert_eq!(tests[0].fail_calc.as_deref(), Some("sum(n_records)"));
    assert_eq!(tests[0].store.kind(), Some("table"));
    assert_eq!(tests[1].fail_calc, None);
    assert_eq!(tests[1].store.kind(), Some("view"));
    assert_eq!(tests[1].store.schema.as_deref(), Some("audit"));
}

#[test]
fn a_fail_calc_is_one_expression() {
    use super::data_tests::check_fail_calc;
    assert_eq!(check_fail_calc(" COUNT( * ) "), Ok(None));
    assert_eq!(
        check_fail_calc("sum(case when x then 1 else 0 end)")
            .unwrap()
            .as_deref(),
        Some("sum(case when x then 1 else 0 end)")
    );
    for bad in [
        "1; drop table t",
        "count(*) -- x",
        "count(*) /* x */",
        "sum(x",
        "max(x))",
        "'a",
        "$$x$$",
        "",
    ] {
        assert!(check_fail_calc(bad).is_err(), "{bad}");
    }
    let text = "models:\n  - name: m\n    tests:\n      - unique:\n          column_name: id\n          config: {fail_calc: \"count(*); select 1\"}\n";
    let (_, d) = parse_str(text);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Code::E0310);
    assert!(
        d[0].message.contains("one SQL expression"),
        "{}",
        d[0].message
    );
}
