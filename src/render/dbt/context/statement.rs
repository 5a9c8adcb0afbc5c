//! `{% call statement(...) %}`, `run_query()` and `return()`: constant
//! queries are answered, others need a database.

use std::sync::Arc;

use minijinja::value::{from_args, Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

use super::super::consteval;
use crate::diagnostic::Code;

use super::{fail, frame};

/// `{% call statement(name, fetch_result=...) %}SQL{% endcall %}`: runs
/// nothing; a query that reads nothing is answered here, for `load_result`.
#[derive(Debug)]
pub(super) struct StatementBlock;

impl Object for StatementBlock {
    fn call(self: &Arc<Self>, state: &mut State, args: &[Value]) -> Result<Value, Error> {
        let (args, kwargs): (minijinja::value::Rest<Value>, Kwargs) = from_args(args)?;
        statement(state, &args, kwargs)
    }
}

pub(super) fn statement(state: &mut State, args: &[Value], kwargs: Kwargs) -> Result<Value, Error> {
    let name: Option<String> = match args.first() {
        Some(v) if !v.is_none() => Some(v.to_string()),
        _ => kwargs.get("name")?,
    };
    let fetch: Option<bool> = match args.get(1) {
        Some(v) => Some(v.is_true()),
        None => kwargs.get("fetch_result")?,
    };
    let _: Option<Value> = kwargs.get("auto_begin")?;
    let _: Option<Value> = kwargs.get("language")?;
    let caller: Option<Value> = kwargs.get("caller")?;
    kwargs.assert_all_used()?;
    let sql = match caller {
        Some(c) => c.call(state, &[])?.to_string(),
        None => String::new(),
    };
    let table = consteval::evaluate(&sql)
        .map_err(|why| needs_database(state, "a {% call statement() %} block", Some(&why)))?;
    if let (Some(frame), Some(name)) = (frame(state), name) {
        if let Ok(mut results) = frame.results.lock() {
            results.insert(name, (table, fetch.unwrap_or(false)));
        }
    }
    Ok(Value::from(""))
}

/// E0153 for `what`; `why` says why a query could not be answered here.
pub(super) fn needs_database(
    state: &State,
    what: &str,
    why: Option<&consteval::NotConstant>,
) -> Error {
    let help = match why.unwrap_or(&consteval::NotConstant::ReadsData) {
        consteval::NotConstant::ReadsData => "the SQL would depend on what the database holds at run time: set the value in the model (a config or a var) instead of querying for it".to_string(),
        consteval::NotConstant::Volatile(_) => "stackc's artifacts do not change from one run to the next: give the macro fixed values (literal dates, or a var) instead".to_string(),
        consteval::NotConstant::Unsupported(_) => "stackc answers a query that reads nothing with PostgreSQL's rules for the common operators, casts and date functions; write the value in the model (a config or a var) instead".to_string(),
    };
    let message = match why {
        Some(why) => format!("{what} needs a database, and stackc compiles without one: {why}"),
        None => format!("{what} needs a database, and stackc compiles without one"),
    };
    fail(state, Code::E0153, message, help)
}

pub(super) fn return_fn(state: &State, value: Option<Value>) -> Result<Value, Error> {
    if let Some(frame) = frame(state) {
        if let Ok(mut slot) = frame.returned.lock() {
            *slot = Some(value.unwrap_or(Value::from(())));
        }
    }
    Err(Error::new(
        ErrorKind::InvalidOperation,
        "return() is used outside a macro",
    ))
}

#[cfg(test)]
mod tests {

    use super::super::tests::render;

    #[test]
    fn a_query_that_reads_nothing_is_answered_without_a_database() {
        let sql =
            render("{{ dbt.date_spine('day', \"'2024-01-01'\", \"'2024-02-01'\") }}").unwrap();
        assert!(sql.contains("where generated_number <= 31"), "{sql}");
        let cases = [
            ("{{ run_query('select 2 + 3 as n').columns[0].values()[0] }}", "5"),
            ("{{ run_query('select 2 + 3 as n').rows[0]['n'] }}", "5"),
            ("{{ run_query(\"select date '2024-03-01' - 1\").columns[0].values() }}", "['2024-02-29']"),
            (
                "{% call statement('q', fetch_result=True) %}select date_part('dow', '2024-01-07'::date){% endcall %}{{ load_result('q')['data'][0][0] }}",
                "0.0",
            ),
            ("{{ load_result('never') is none }}", "True"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).as_deref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn what_needs_a_database_fails_with_e0153() {
        for src in [
            "{{ run_query('select max(id) from orders') }}",
            "{{ dbt.date_spine('day', \"'2024-01-01'\", 'current_date') }}",
            "{% call statement('s', fetch_result=True) %}select id from t{% endcall %}",
        ] {
            let err = render(src).unwrap_err();
            assert!(err.starts_with("E0153"), "{src}: {err}");
        }
    }
}
