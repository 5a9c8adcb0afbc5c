use super::*;

pub(super) fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: Arc::from(path),
        text: Arc::from(text),
    }
}

pub(super) fn render(
    macros: &[SourceFile],
    model: &SourceFile,
    relations: Relations,
) -> Result<Rendered, Diagnostic> {
    let mut d = Vec::new();
    let r = Renderer::new(macros, &mut d);
    assert!(d.is_empty(), "{d:?}");
    let vars = Arc::new(BTreeMap::from([("days".to_string(), serde_json::json!(3))]));
    r.render(RenderInput {
        file: model,
        relations: &Arc::new(relations),
        vars: &vars,
        this: Some(Relation {
            schema: "marts".into(),
            name: "m".into(),
            quote: false,
            cte: None,
        }),
        is_incremental: true,
        model: None,
        graph: None,
    })
}

#[test]
fn records_calls_and_resolves_relations() {
    let mut rel = Relations::default();
    rel.models.insert(
        "order".into(),
        Relation {
            schema: "staging".into(),
            name: "order".into(),
            quote: false,
            cte: None,
        },
    );
    let model = file(
        "models/m.sql",
        "{{ config(materialized='table', tags=['a']) }}\nselect * from {{ ref('order') }}\n{% if is_incremental() %}\nwhere d > {{ var('days') }} and x in (select 1 from {{ this }})\n{% endif %}\n",
    );
    let r = render(&[], &model, rel).unwrap();
    assert_eq!(
        r.sql,
        "\nselect * from staging.\"order\"\nwhere d > 3 and x in (select 1 from marts.m)\n"
    );
    assert_eq!(r.calls.refs, ["order"]);
    assert_eq!(r.calls.configs[0]["materialized"], "table");
    assert!(r.calls.vars.contains("days"));
}

/// Packages tell a relation from a string as dbt_utils' `_is_relation`
/// does; before the schema is known (discovery) it is a relation too.
#[test]
fn refs_and_sources_are_relations_as_packages_test_them() {
    let text = "{% for r in [ref('order'), ref('unknown'), source('raw', 'orders')] %}{{ r is mapping }} {{ r.get('metadata', {})['type'] }} {{ r.is_cte }} {{ r.identifier }} {{ r.include(database=false) }}|{% endfor %}{{ 'x' is mapping }}";
    let mut rel = Relations::default();
    rel.models.insert(
        "order".into(),
        Relation {
            schema: "staging".into(),
            name: "order".into(),
            quote: false,
            cte: None,
        },
    );
    let r = render(&[], &file("models/m.sql", text), rel).unwrap();
    assert_eq!(
        r.sql,
        "True PostgresRelation False order staging.\"order\"|True PostgresRelation False unknown unknown|True PostgresRelation False orders raw.orders|False"
    );
}

#[test]
fn maps_rendered_offsets_back_through_macros() {
    let macros = [file(
        "macros/m.sql",
        "{% macro money(c) %}round({{ c }}, 2){% endmacro %}\n",
    )];
    let model = file(
        "models/m.sql",
        "select {{ money('x') }} as a,\n  bad syntax here\n",
    );
    let r = render(&macros, &model, Relations::default()).unwrap();
    assert_eq!(r.sql, "select round(x, 2) as a,\n  bad syntax here\n");
    let at = r.sql.find("syntax").unwrap();
    let span = r.source_span(at);
    assert_eq!(span.range.start, model.text.find("syntax").unwrap());
    // Inside the macro output, the span is the call expression.
    let span = r.source_span(r.sql.find("round").unwrap());
    assert_eq!(&model.text[span.range], "money('x')");
    assert!(!r.is_raw(r.sql.find("round").unwrap()));
}

#[test]
fn undefined_var_has_its_own_code() {
    let model = file("models/m.sql", "select 1\nwhere x > {{ var('nope') }}\n");
    let d = render(&[], &model, Relations::default()).unwrap_err();
    assert_eq!(d.code, Code::E0103);
    let range = d.primary.unwrap().range;
    assert_eq!(crate::diagnostic::line_col(&model.text, range.start).0, 2);
}

#[test]
fn unclosed_block_names_its_opening_line() {
    let model = file(
        "models/m.sql",
        "select 1\n{% if is_incremental() %}\nwhere x\n",
    );
    let d = render(&[], &model, Relations::default()).unwrap_err();
    assert_eq!(d.code, Code::E0101);
    assert_eq!(
        &model.text[d.primary.unwrap().range],
        "{% if is_incremental() %}"
    );
}

#[test]
fn an_error_in_a_call_over_several_lines_points_at_the_call() {
    let model = file(
        "models/m.sql",
        "select\n  {{ nope(var('days', 1),\n     2,\n     3) }}\n",
    );
    let d = render(&[], &model, Relations::default()).unwrap_err();
    assert_eq!(d.code, Code::E0102);
    let range = d.primary.unwrap().range;
    assert_eq!(&model.text[range.clone()], "nope");
    assert_eq!(
        crate::diagnostic::line_col(&model.text, range.start),
        (2, 6)
    );
    let filter = file(
        "models/m.sql",
        "select\n  {{ var('days', 1)\n     | nofilter(1,\n 2) }}\n",
    );
    let d = render(&[], &filter, Relations::default()).unwrap_err();
    assert_eq!(&filter.text[d.primary.unwrap().range], "nofilter");
}

#[test]
fn a_syntax_error_at_a_wide_character_covers_the_whole_character() {
    // Found by the `model` fuzz target: the range was 2..3, inside `䒞`.
    let model = file("models/m.sql", "{%䒞");
    let d = render(&[], &model, Relations::default()).unwrap_err();
    let range = d.primary.unwrap().range;
    assert!(model.text.is_char_boundary(range.start), "{range:?}");
    assert!(model.text.is_char_boundary(range.end), "{range:?}");
}

#[test]
fn strict_undefined() {
    let model = file("models/m.sql", "select {{ nope }}\n");
    let d = render(&[], &model, Relations::default()).unwrap_err();
    assert_eq!(d.code, Code::E0102);
    assert_eq!(&model.text[d.primary.unwrap().range], "nope");
}

/// dbt's parse phase sees `execute` false, its compile phase true: a macro
/// file reads it as a model does.
#[test]
fn execute_is_false_in_discovery_and_true_in_the_render() {
    let macros = [file(
        "macros/m.sql",
        "{% macro phase() %}{{ 'compile' if execute else 'parse' }}{% endmacro %}",
    )];
    let model = file("models/m.sql", "{{ execute }} {{ phase() }}");
    let parse = render(&macros, &model, Relations::default()).unwrap();
    assert_eq!(parse.sql, "False parse");
    let compile = Relations {
        complete: true,
        ..Relations::default()
    };
    assert_eq!(
        render(&macros, &model, compile).unwrap().sql,
        "True compile"
    );
}

fn render_dbt(model: &SourceFile) -> Result<Rendered, Diagnostic> {
    let mut d = Vec::new();
    let options = RenderOptions {
        dbt_whitespace: true,
        target: None,
        dbt: Some(Arc::new(crate::dbt::DbtMacros {
            root: "p".into(),
            ..crate::dbt::DbtMacros::default()
        })),
    };
    let r = Renderer::new_with(&[], &options, &mut d);
    assert!(d.is_empty(), "{d:?}");
    r.render(RenderInput {
        file: model,
        relations: &Arc::new(Relations::default()),
        vars: &Arc::new(BTreeMap::new()),
        this: None,
        is_incremental: false,
        model: None,
        graph: None,
    })
}

#[test]
fn a_dbt_model_appends_to_the_lists_it_sets() {
    let model = file(
        "models/m.sql",
        "{% set cols = [] %}{% for c in ['a', 'b'] %}{% do cols.append(c ~ '_x') %}{% endfor %}\
         {% set s = set_strict(['k', 'k']) %}select {{ cols | join(', ') }}, {{ s | length }} as n",
    );
    let r = render_dbt(&model).unwrap();
    assert_eq!(r.sql, "select a_x, b_x, 1 as n");
    // The map back to the file is the file's, not the rewritten text's.
    let at = r.sql.find("select").unwrap();
    let span = r.source_span(at);
    assert_eq!(
        &model.text[span.range.start..span.range.start + 6],
        "select"
    );
}

#[test]
fn an_error_after_a_mutable_set_points_at_the_user_s_text() {
    let model = file(
        "models/m.sql",
        "{% set cols = [] %}\nselect {{ cols.nope() }}",
    );
    let d = render_dbt(&model).unwrap_err();
    let span = d.primary.expect("a location");
    let call = model.text.find("cols.nope").unwrap_or(0);
    assert!(
        span.range.start >= call && span.range.end <= model.text.len(),
        "{:?} in {:?}",
        span.range,
        model.text
    );
}
