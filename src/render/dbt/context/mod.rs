//! The dbt Jinja context that packages use: macro namespaces
//! (`dbt_utils.star(...)`), `adapter.dispatch`, `return()`, `exceptions`,
//! `execute`, mutable lists and dicts (`{% do cols.append(c) %}`), and dbt's
//! own macros (`macros/*.sql` beside this file, embedded).
//!
//! Every macro of a dbt project runs through one wrapper ([`call_macro`]):
//! macro definitions are renamed when their file is compiled, so even a call
//! between two macros of one file reaches the wrapper, which is where a
//! `return(value)` is caught. minijinja has no exceptions; `return()` stores
//! its value in the render's [`Frame`] and fails, and the innermost wrapper
//! takes the value back.
//!
//! stackc has no database at compile time: `run_query`, `statement` blocks
//! and the adapter's introspection fail with E0153 naming the macro, never
//! with a silently different answer. `execute` is false in the discovery
//! pass (dbt's parse) and true in the real render (dbt's compile), so a
//! package's `{% if execute %}` branch is the one checked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use minijinja::value::{Object, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::{consteval, query_result};
use crate::dbt::DbtMacros;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::project::SourceFile;

mod adapter;
mod builtins;
pub(crate) mod clock;
mod introspection;
pub(crate) mod mutable;
mod namespaces;
pub(crate) mod preprocess;
mod pyobjects;
mod statement;

use self::adapter::{Adapter, Api, Exceptions};
use self::introspection::project_relation;
use self::namespaces::{MacroRef, Namespace};
pub use self::preprocess::{mutable_literals, original_offset, preprocess};
use self::statement::{needs_database, return_fn, StatementBlock};

/// dbt's own macros as dbt-postgres renders them, written for stackc.
const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "stackc:dbt/cross_db.sql",
        include_str!("macros/cross_db.sql"),
    ),
    ("stackc:dbt/naming.sql", include_str!("macros/naming.sql")),
];

/// The namespace of dbt's own macros.
pub const DBT: &str = "dbt";

/// Where renamed macro definitions live inside their template.
const MACRO_PREFIX: &str = "__stackc_m_";

pub const FRAME_KEY: &str = "__stackc_frame";

const SCOPE_KEY: &str = "__stackc_scope";

/// A failure raised by the dbt context, with its code, kept until the
/// render returns.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: Code,
    pub message: String,
    pub help: String,
}

/// Per-render state of the dbt context.
#[derive(Debug, Default)]
pub struct Frame {
    returned: Mutex<Option<Value>>,
    failure: Mutex<Option<Failure>>,
    /// The last macro the rendered file itself called, as written
    /// (`pkg.macro`): where an error from inside a macro is reported.
    caller: Mutex<Option<(String, usize)>>,
    /// How often the rendered file has called each macro so far: the n-th
    /// call of `pkg.m` is the n-th `pkg.m(` in the file, when no loop
    /// repeats one (minijinja tells a function nothing of its line).
    calls: Mutex<BTreeMap<String, usize>>,
    /// `statement` blocks answered without a database, by name, and
    /// whether they fetched their rows.
    results: Mutex<BTreeMap<String, (consteval::Table, bool)>>,
}

impl Object for Frame {}

impl Frame {
    /// The first failure raised in this render.
    pub fn failure(&self) -> Option<Failure> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// The last macro call written in the rendered file, and how many
    /// calls of that macro the file had made then (1 for the first).
    pub fn caller(&self) -> Option<(String, usize)> {
        self.caller.lock().ok().and_then(|c| c.clone())
    }

    fn take_return(&self) -> Option<Value> {
        self.returned.lock().ok().and_then(|mut r| r.take())
    }
}

fn frame(state: &State) -> Option<Arc<Frame>> {
    state
        .lookup(FRAME_KEY)
        .and_then(|v| v.downcast_object::<Frame>())
}

pub(super) fn fail(state: &State, code: Code, message: String, help: String) -> Error {
    if let Some(frame) = frame(state) {
        if let Ok(mut slot) = frame.failure.lock() {
            slot.get_or_insert(Failure {
                code,
                message: message.clone(),
                help,
            });
        }
    }
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Every macro by namespace: namespace -> macro name -> template name.
#[derive(Debug, Default)]
struct Registry {
    root: String,
    /// The templates that hold macros (any other is a rendered file).
    templates: BTreeSet<String>,
    macros: BTreeMap<String, BTreeMap<String, String>>,
    /// The package of each macro template.
    owners: BTreeMap<String, String>,
    dispatch: BTreeMap<String, Vec<String>>,
}

impl Registry {
    fn template(&self, package: &str, name: &str) -> Option<&String> {
        self.macros.get(package).and_then(|m| m.get(name))
    }
}

/// Adds the dbt context to `env`: dbt's macros, the packages' and the
/// root project's (`root_macros`), each callable unqualified where dbt
/// allows it and by namespace. Returns the names callable unqualified.
pub fn install(
    env: &mut Environment<'static>,
    root_macros: &[SourceFile],
    dbt: &DbtMacros,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeSet<String> {
    let (registry, lazy) = load_macros(env, root_macros, dbt, diagnostics);
    let registry = Arc::new(registry);
    env.set_loader(move |name| Ok(lazy.get(name).cloned()));
    let global = unqualified(&registry, dbt);
    add_macros(env, &registry, &global);
    add_runtime(env);
    builtins::install(env);
    env.set_unknown_method_callback(pyobjects::unknown_method);
    global.into_keys().collect()
}

/// Reads every macro file into a registry: dbt's own, the packages' (each
/// compiled when first called: their texts by template name, for the
/// loader) and the root project's (compiled here).
fn load_macros(
    env: &mut Environment<'static>,
    root_macros: &[SourceFile],
    dbt: &DbtMacros,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Registry, BTreeMap<String, String>) {
    let mut registry = Registry {
        root: dbt.root.clone(),
        dispatch: dbt.dispatch.clone(),
        ..Registry::default()
    };
    let builtins: Vec<SourceFile> = BUILTIN_FILES
        .iter()
        .map(|(path, text)| SourceFile {
            path: Arc::from(*path),
            text: Arc::from(*text),
        })
        .collect();
    let mut sets: Vec<(&str, &[SourceFile])> = vec![(DBT, &builtins)];
    for (name, files) in &dbt.packages {
        sets.push((name, files));
    }
    sets.push((&dbt.root, root_macros));
    // Installed packages bring hundreds of macro files and a project calls
    // few of them: their templates compile when first called (the loader
    // below), which kept a project with dbt_utils, dbt_date and
    // audit_helper at 1.25 times the instructions of the same project
    // without them. The root project's files still compile here, so that
    // their syntax errors are reported whether or not they are called.
    let mut lazy: BTreeMap<String, String> = BTreeMap::new();
    for (package, files) in sets {
        for file in files {
            registry
                .owners
                .insert(file.path.to_string(), package.to_string());
            let entry = registry.macros.entry(package.to_string()).or_default();
            let (text, names) = preprocess(&file.text);
            let text = super::timedelta::rewrite(&text);
            if package != dbt.root {
                registry.templates.insert(file.path.to_string());
                for name in names {
                    entry.entry(name).or_insert_with(|| file.path.to_string());
                }
                lazy.insert(file.path.to_string(), text);
                continue;
            }
            match env.add_template_owned(file.path.to_string(), text) {
                Ok(()) => {
                    registry.templates.insert(file.path.to_string());
                    for name in names {
                        entry.entry(name).or_insert_with(|| file.path.to_string());
                    }
                }
                Err(e) => diagnostics.push(
                    Diagnostic::new(
                        Code::E0101,
                        format!(
                            "Jinja syntax error in a macro file: {}",
                            e.detail().unwrap_or("invalid syntax")
                        ),
                    )
                    .at(Span::new(
                        &file.path,
                        e.range().unwrap_or_else(|| {
                            let at =
                                crate::diagnostic::offset_of(&file.text, e.line().unwrap_or(1), 1);
                            at..at
                        }),
                    ))
                    .help("check the `{{ }}` and `{% %}` around this point"),
                ),
            }
        }
    }
    (registry, lazy)
}

/// Unqualified names: the root project's macros override dbt's, as in
/// dbt. A package's macros are reachable unqualified too (dbt allows
/// that only inside the package itself; stackc cannot tell which package
/// a call comes from, so it is lenient here, never different: a name the
/// root project or dbt defines always wins).
///
/// Returns each such name with the package whose macro it calls.
fn unqualified(registry: &Registry, dbt: &DbtMacros) -> BTreeMap<String, String> {
    let mut global: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<&str> = vec![&registry.root, DBT];
    order.extend(dbt.packages.iter().map(|(n, _)| n.as_str()));
    for package in order {
        if let Some(names) = registry.macros.get(package) {
            for name in names.keys() {
                global
                    .entry(name.clone())
                    .or_insert_with(|| package.to_string());
            }
        }
    }
    global
}

/// Every macro as a global: unqualified (`global`), by namespace
/// (`dbt_utils.star`), and `adapter`.
fn add_macros(
    env: &mut Environment<'static>,
    registry: &Arc<Registry>,
    global: &BTreeMap<String, String>,
) {
    for (name, package) in global {
        // An object, not a function: its call receives keyword arguments
        // as they were written.
        env.add_global(
            name.clone(),
            Value::from_object(MacroRef {
                registry: Arc::clone(registry),
                package: package.clone(),
                name: name.clone(),
                called_as: name.clone(),
            }),
        );
    }
    let namespaces: BTreeSet<String> = registry.macros.keys().cloned().collect();
    for package in namespaces {
        env.add_global(
            package.clone(),
            Value::from_object(Namespace {
                registry: Arc::clone(registry),
                package,
            }),
        );
    }
    env.add_global(
        "adapter",
        Value::from_object(Adapter {
            registry: Arc::clone(registry),
        }),
    );
}

/// What a render asks of the run: flags, `execute`, the clock, `return`,
/// and the queries that need a database (`run_query`, `statement`).
fn add_runtime(env: &mut Environment<'static>) {
    env.add_function(
        "load_relation",
        |state: &State, relation: Value| -> Result<Value, Error> {
            let Some(rel) = relation.downcast_object_ref::<crate::relation::Relation>() else {
                return Ok(Value::from(()));
            };
            Ok(project_relation(state, &rel.schema, &rel.name))
        },
    );
    // dbt's `flags` as `dbt build` sets them: the compiled SQL is what
    // apply runs, as `dbt build` runs it. Packages read `WHICH`
    // (dbt_utils.star writes a bare `*` for a relation without columns
    // under `compile` only; union_relations adds its source column under
    // `run`/`build`).
    env.add_global(
        "flags",
        Value::from(std::collections::BTreeMap::from([("WHICH", "build")])),
    );
    env.add_global("exceptions", Value::from_object(Exceptions));
    env.add_global("api", Value::from_object(Api));
    // True where a render does not say (a snippet); a model's render sets
    // it from its phase.
    env.add_global("execute", Value::from(true));
    // A render puts its own (with its frame) in its context; this one
    // serves a snippet.
    env.add_global(
        "run_started_at",
        Value::from_object(clock::RunStartedAt(None)),
    );
    // One fixed id: an artifact must not change from one compile to the next.
    env.add_global("invocation_id", "00000000-0000-0000-0000-000000000000");
    env.add_function("return", return_fn);
    env.add_function(
        "run_query",
        |state: &State, sql: Value| -> Result<Value, Error> {
            let sql = sql.to_string();
            consteval::evaluate(&sql)
                .and_then(|t| query_result::table(&t))
                .map_err(|why| needs_database(state, "run_query()", Some(&why)))
        },
    );
    env.add_global("statement", Value::from_object(StatementBlock));
    env.add_function(
        "load_result",
        |state: &State, name: String| -> Result<Value, Error> {
            let Some(frame) = frame(state) else {
                return Ok(Value::from(()));
            };
            let stored = frame
                .results
                .lock()
                .ok()
                .and_then(|r| r.get(&name).cloned());
            match stored {
                // dbt's load_result of a statement that never ran.
                None => Ok(Value::from(())),
                Some((table, fetched)) => query_result::load_result(&table, fetched)
                    .map_err(|why| needs_database(state, "load_result()", Some(&why))),
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn render(src: &str) -> Result<String, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_global(
            "target",
            Value::from(minijinja::value::Serde(
                serde_json::json!({"schema": "dev", "database": "db", "name": "dev"}),
            )),
        );
        let mut d = Vec::new();
        let dbt = DbtMacros {
            root: "p".into(),
            ..DbtMacros::default()
        };
        install(&mut env, &[], &dbt, &mut d);
        assert!(d.is_empty(), "{d:?}");
        let frame = Arc::new(Frame::default());
        env.render_str(
            src,
            minijinja::context! { __stackc_frame => Value::from_dyn_object(Arc::clone(&frame)) },
        )
        .map_err(|e| {
            frame
                .failure()
                .map_or_else(|| e.to_string(), |f| format!("{}: {}", f.code, f.message))
        })
    }

    #[test]
    fn builtins_render_as_dbt_postgres() {
        let cases = [
            ("{{ dbt.type_string() }}", "TEXT"),
            ("{{ dbt.type_int() }}", "INT"),
            ("{{ dbt.type_bigint() }}", "bigint"),
            ("{{ dbt.type_numeric() }}", "numeric(28,6)"),
            ("{{ dbt.type_float() }}", "FLOAT"),
            ("{{ dbt.type_timestamp() }}", "TIMESTAMP"),
            ("{{ dbt.type_boolean() }}", "BOOLEAN"),
            ("{{ dbt.current_timestamp() }}", "now()"),
            ("{{ dbt.concat(['a', 'b']) }}", "a || b"),
            ("{{ dbt.hash('x') }}", "md5(cast(x as TEXT))"),
            ("{{ dbt.safe_cast('x', 'int') }}", "cast(x as int)"),
            ("{{ dbt.date_trunc('month', 'd') }}", "date_trunc('month', d)"),
            ("{{ dbt.dateadd('day', 3, 'd') }}", "d + ((interval '1 day') * (3))"),
            ("{{ dbt.datediff('a', 'b', 'day') }}", "((b)::date - (a)::date)"),
            (
                "{{ dbt.datediff('a', 'b', 'year') }}",
                "(date_part('year', (b)::date) - date_part('year', (a)::date))",
            ),
            (
                "{{ dbt.datediff('a', 'b', 'month') }}",
                "((date_part('year', (b)::date) - date_part('year', (a)::date)) * 12 + date_part('month', (b)::date) - date_part('month', (a)::date))",
            ),
            (
                "{{ dbt.last_day('d', 'month') }}",
                "cast(date_trunc('month', d) + ((interval '1 month') * (1)) + ((interval '1 day') * (-1)) as date)",
            ),
            (
                "{{ dbt.last_day('d', 'quarter') }}",
                "cast(date_trunc('quarter', d) + '3 month'::interval - '1 day'::interval as date)",
            ),
            ("{{ dbt.split_part('s', \"','\", 2) }}", "split_part(s, ',', 2)"),
            ("{{ dbt.listagg('x') }}", "string_agg(x, ',')"),
            (
                "{{ dbt.listagg('x', \"', '\", 'order by x', 2) }}",
                "array_to_string((array_agg(x order by x))[1:2], ', ')",
            ),
            ("{{ dbt.any_value('x') }}", "min(x)"),
            ("{{ dbt.bool_or('x') }}", "bool_or(x)"),
            ("{{ dbt.cast_bool_to_text('b') }}", "cast(b as TEXT)"),
            ("{{ dbt.string_literal('a') }}", "'a'"),
            ("{{ dbt.escape_single_quotes(\"it's\") }}", "it''s"),
            ("{{ dbt.right('s', 2) }}", "right(s, 2)"),
            ("{{ dbt.position(\"'a'\", 's') }}", "position('a' in s)"),
            ("{{ dbt.length('s') }}", "length(s)"),
            ("{{ dbt.replace('s', \"'a'\", \"'b'\") }}", "replace(s, 'a', 'b')"),
            ("{{ dbt.array_construct(['1', '2']) }}", "array[ 1 , 2 ]"),
            ("{{ dbt.array_construct([]) }}", "array[]::INT[]"),
            ("{{ dbt.array_append('a', '1') }}", "array_append(a, 1)"),
            ("{{ dbt.array_concat('a', 'b') }}", "array_cat(a, b)"),
            ("{{ dbt.except() }}", "except"),
            ("{{ dbt.intersect() }}", "intersect"),
            ("{{ dbt.get_powers_of_two(5) }}", "3"),
            ("{{ dbt.get_where_subquery('s.t') }}", "s.t"),
            (
                "{{ generate_schema_name('raw') }}|{{ generate_schema_name(none) }}|{{ generate_database_name() }}",
                "dev_raw|dev|db",
            ),
            (
                "{{ generate_alias_name(none, {'name': 'm', 'version': 2}) }}|{{ generate_alias_name(' a ') }}",
                "m_v2|a",
            ),
            (
                "{{ current_timestamp_backcompat() }}",
                "\n    current_timestamp::timestamp\n",
            ),
            (
                "{{ snapshot_get_time() }}",
                "now()::timestamp without time zone",
            ),
            // Unqualified, as dbt's global macros.
            ("{{ dateadd('day', 1, 'd') }}", "d + ((interval '1 day') * (1))"),
            ("{{ should_full_refresh() }}", "False"),
            ("{{ adapter.quote('a\"b') }}", "\"a\"\"b\""),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).as_deref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn generate_series_counts_to_its_bound() {
        let sql = render("{{ dbt.generate_series(5) }}").unwrap();
        assert!(sql.contains("p2.generated_number * power(2, 2)"), "{sql}");
        assert!(!sql.contains("p3"), "{sql}");
        assert!(sql.contains("where generated_number <= 5"), "{sql}");
    }

    #[test]
    fn introspection_of_what_the_project_does_not_know_is_e0170() {
        for src in [
            "{{ adapter.get_columns_in_relation('x') }}",
            "{{ adapter.get_columns_in_relation(api.Relation.create(schema='s', identifier='t')) }}",
        ] {
            let err = render(src).unwrap_err();
            assert!(err.starts_with("E0170"), "{src}: {err}");
        }
        let none = render("{{ adapter.get_relation(none, 's', 't') is none }}").unwrap();
        assert_eq!(none.trim(), "True");
    }

    /// A list passed in and then appended to, as dbt_utils' tests do
    /// (`{% set pruned = group_by_columns %}{% do pruned.append(c) %}`).
    /// An environment with `src` installed as the root project `p`'s
    /// `macros/f.sql`.
    fn env_with_macro_file(src: &str) -> Environment<'static> {
        let mut env = Environment::new();
        let mut d = Vec::new();
        let files = [SourceFile {
            path: Arc::from("macros/f.sql"),
            text: Arc::from(src),
        }];
        let dbt = DbtMacros {
            root: "p".into(),
            ..DbtMacros::default()
        };
        install(&mut env, &files, &dbt, &mut d);
        env
    }

    #[test]
    fn a_list_set_from_a_name_is_mutable_and_a_relation_stays_one() {
        let src = "{% macro f(cols, rel) %}{% set c = cols %}{% set r = rel %}{% do c.append(3) %}{{ return([c | length, r is mapping]) }}{% endmacro %}";
        let env = env_with_macro_file(src);
        let rel = Value::from_object(crate::relation::Relation {
            schema: "s".into(),
            name: "t".into(),
            quote: false,
            cte: None,
        });
        let ctx = minijinja::context! { __stackc_frame => Value::from_object(Frame::default()), rel => rel };
        let out = env.render_str("{{ f([1, 2], rel) }}", ctx).unwrap();
        assert_eq!(out, "[3, True]");
    }

    #[test]
    fn a_list_put_into_a_dict_is_mutable() {
        let src = "{% macro f() %}{% set d = {} %}{% do d.update({'a': []}) %}{% do d['a'].append(1) %}{% do d.setdefault('b', []).append(2) %}{{ return([d['a'], d['b']]) }}{% endmacro %}";
        let env = env_with_macro_file(src);
        let ctx = minijinja::context! { __stackc_frame => Value::from_object(Frame::default()) };
        let out = env.render_str("{{ f() }}", ctx).unwrap();
        assert_eq!(out, "[[1], [2]]");
    }

    #[test]
    fn return_gives_a_value_and_lists_are_mutable() {
        let src = "{% macro f() %}{% set l = [] %}{% do l.append(1) %}{% do l.extend([2, 3]) %}{% do l.append(4) if l else l.append(0) %}{{ return(l) }}ignored{% endmacro %}";
        let env = env_with_macro_file(src);
        let ctx = minijinja::context! { __stackc_frame => Value::from_object(Frame::default()) };
        let out = env
            .render_str("{{ f() | sum }} {{ p.f() | length }}", ctx)
            .unwrap();
        assert_eq!(out, "10 4");
    }
}
