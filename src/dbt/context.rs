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
//! with a silently different answer. `execute` is true, as when dbt runs a
//! model, so a package's `{% if execute %}` branch is the one checked.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::{consteval, query_result};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::project::SourceFile;

/// dbt's own macros as dbt-postgres renders them, written for stackc.
const BUILTIN_FILES: &[(&str, &str)] = &[(
    "stackc:dbt/cross_db.sql",
    include_str!("macros/cross_db.sql"),
)];

/// The namespace of dbt's own macros.
pub const DBT: &str = "dbt";

/// Where renamed macro definitions live inside their template.
const MACRO_PREFIX: &str = "__stackc_m_";
pub const FRAME_KEY: &str = "__stackc_frame";
const SCOPE_KEY: &str = "__stackc_scope";

/// What the renderer needs to know of a dbt project's macros: plain data
/// from the loader.
#[derive(Debug, Clone, Default)]
pub struct DbtMacros {
    /// The root project's name (its own namespace).
    pub root: String,
    /// Installed packages: name and macro files, in name order.
    pub packages: Vec<(String, Vec<SourceFile>)>,
    /// `dispatch:` of dbt_project.yml: namespace -> search order.
    pub dispatch: BTreeMap<String, Vec<String>>,
    /// Packages packages.yml / dependencies.yml declare that are not
    /// installed (E0150): an undefined namespace of one of these names is
    /// that error's consequence, not another.
    pub missing: std::collections::BTreeSet<String>,
}

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
            let entry = registry.macros.entry(package.to_string()).or_default();
            let (text, names) = preprocess(&file.text);
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
    let registry = Arc::new(registry);
    env.set_loader(move |name| Ok(lazy.get(name).cloned()));

    // Unqualified names: the root project's macros override dbt's, as in
    // dbt. A package's macros are reachable unqualified too (dbt allows
    // that only inside the package itself; stackc cannot tell which package
    // a call comes from, so it is lenient here, never different: a name the
    // root project or dbt defines always wins).
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
    for (name, package) in &global {
        // An object, not a function: its call receives keyword arguments
        // as they were written.
        env.add_global(
            name.clone(),
            Value::from_object(MacroRef {
                registry: Arc::clone(&registry),
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
                registry: Arc::clone(&registry),
                package,
            }),
        );
    }
    env.add_global(
        "adapter",
        Value::from_object(Adapter {
            registry: Arc::clone(&registry),
        }),
    );
    env.add_function(
        "load_relation",
        |state: &State, relation: Value| -> Result<Value, Error> {
            let Some(rel) = relation.downcast_object_ref::<crate::render::Relation>() else {
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
    env.add_global("execute", Value::from(true));
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
    env.add_global("modules", Value::from_object(super::modules::Modules));
    env.add_function("toyaml", |v: Value| -> Result<String, Error> {
        let json = serde_json::to_value(&v)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("toyaml: {e}")))?;
        Ok(super::yaml::to_yaml(&json))
    });
    env.add_function("fromyaml", |s: String| -> Result<Value, Error> {
        super::yaml::from_yaml(&s)
            .map(|v| Value::from(minijinja::value::Serde(v)))
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromyaml: {e}")))
    });
    env.add_function("should_full_refresh", |_: &State| false);
    // stackc stores no test failures (W0051): the tests select what dbt
    // selects without `store_failures`.
    env.add_function("should_store_failures", |_: &State| false);
    env.add_function(
        "log",
        |msg: Value, kwargs: Kwargs| -> Result<String, Error> {
            let info: Option<bool> = kwargs.get("info")?;
            // dbt writes log() to its log file and, with info=True, to the
            // console: stderr here, never into SQL.
            if info.unwrap_or(false) {
                eprintln!("{msg}");
            }
            Ok(String::new())
        },
    );
    env.add_function("print", |msg: Value| {
        eprintln!("{msg}");
        String::new()
    });
    env.add_function("tojson", |v: Value| -> Result<String, Error> {
        serde_json::to_string(&v)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    env.add_function("fromjson", |s: String| -> Result<Value, Error> {
        serde_json::from_str::<serde_json::Value>(&s)
            .map(|v| Value::from(minijinja::value::Serde(v)))
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromjson: {e}")))
    });
    env.add_function(
        "zip",
        |args: minijinja::value::Rest<Value>| -> Result<Value, Error> {
            let lists: Vec<Vec<Value>> = args
                .iter()
                .map(|a| a.try_iter().map(Iterator::collect))
                .collect::<Result<_, _>>()?;
            let len = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::from(
                (0..len)
                    .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
                    .collect::<Vec<_>>(),
            ))
        },
    );
    env.add_function("set", |v: Option<Value>| -> Result<Value, Error> {
        let mut seen: Vec<Value> = Vec::new();
        if let Some(v) = v {
            for item in v.try_iter()? {
                if !seen.contains(&item) {
                    seen.push(item);
                }
            }
        }
        Ok(Value::from(seen))
    });
    env.add_function("__stackc_mut_list", |v: Value| -> Value {
        if v.downcast_object_ref::<Vec<Value>>().is_some() {
            Value::from_object(MutList(Mutex::new(
                v.try_iter().map(Iterator::collect).unwrap_or_default(),
            )))
        } else {
            v
        }
    });
    env.add_function("__stackc_mut", |v: Value| -> Value {
        match v.kind() {
            minijinja::value::ValueKind::Seq => Value::from_object(MutList(Mutex::new(
                v.try_iter().map(Iterator::collect).unwrap_or_default(),
            ))),
            minijinja::value::ValueKind::Map => {
                let mut map = Vec::new();
                if let Ok(keys) = v.try_iter() {
                    for k in keys {
                        let value = v.get_item(&k).unwrap_or_default();
                        map.push((k, value));
                    }
                }
                Value::from_object(MutDict(Mutex::new(map)))
            }
            _ => v,
        }
    });
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    global.into_keys().collect()
}

/// `adapter.get_columns_in_relation(r)` from the project's catalog: the
/// columns of a seed, or of a source or model whose schema file lists them.
/// Anything else is E0170: the answer would need the database, and a
/// guess would compile to different SQL than dbt's.
fn columns_in_relation(state: &State, relation: &Value) -> Result<Value, Error> {
    let relations = crate::render::catalog_of(state);
    if relations.as_ref().is_some_and(|r| !r.complete) {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let Some(rel) = relation.downcast_object_ref::<crate::render::Relation>() else {
        return Err(fail(
            state,
            Code::E0170,
            format!("adapter.get_columns_in_relation() needs a relation, got `{relation}`"),
            "pass ref('model'), source('src', 'table') or api.Relation.create(schema=..., identifier=...)".into(),
        ));
    };
    let entry = relations
        .as_ref()
        .and_then(|r| r.catalog.columns(&rel.schema, &rel.name));
    let Some(entry) = entry else {
        return Err(fail(
            state,
            Code::E0170,
            format!(
                "adapter.get_columns_in_relation({}.{}): stackc does not know the columns of this relation at compile time",
                rel.schema, rel.name
            ),
            "list its columns (with data_type) in a schema file: stackc then answers from there; seeds are known from their header".into(),
        ));
    };
    Ok(Value::from(
        entry
            .columns
            .iter()
            .map(|c| {
                Value::from_object(CatalogColumnValue {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                })
            })
            .collect::<Vec<_>>(),
    ))
}

/// `adapter.get_relation(database, schema, identifier)`: the relation when
/// the project creates it (a model or seed) or declares it (a source),
/// else none, as dbt answers for a relation that does not exist.
fn project_relation(state: &State, schema: &str, identifier: &str) -> Value {
    let Some(relations) = crate::render::catalog_of(state) else {
        return Value::from(());
    };
    relations
        .models
        .values()
        .chain(relations.sources.values())
        .find(|r| r.cte.is_none() && r.schema == schema && r.name == identifier)
        .map_or(Value::from(()), |r| Value::from_object(r.clone()))
}

/// An `api.Column` as get_columns_in_relation returns it.
#[derive(Debug)]
struct CatalogColumnValue {
    name: String,
    data_type: Option<String>,
}

impl Object for CatalogColumnValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" | "column" => Some(Value::from(self.name.clone())),
            "quoted" => Some(Value::from(format!(
                "\"{}\"",
                self.name.replace('"', "\"\"")
            ))),
            "data_type" | "dtype" => {
                Some(self.data_type.clone().map_or(Value::from(()), Value::from))
            }
            _ => None,
        }
    }

    /// dbt-postgres's `Column` predicates, from the type's name.
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        let t = self
            .data_type
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let base = t.split('(').next().unwrap_or_default().trim().to_string();
        let is_string = matches!(
            base.as_str(),
            "text" | "character varying" | "varchar" | "character" | "char"
        );
        let is_integer = matches!(
            base.as_str(),
            "smallint"
                | "integer"
                | "bigint"
                | "smallserial"
                | "serial"
                | "bigserial"
                | "int2"
                | "int4"
                | "int8"
                | "int"
        );
        let is_float = matches!(
            base.as_str(),
            "real" | "float4" | "float" | "double precision" | "float8" | "double"
        );
        let is_numeric = matches!(base.as_str(), "numeric" | "decimal");
        Ok(Value::from(match method {
            "is_string" => is_string,
            "is_integer" => is_integer,
            "is_float" => is_float,
            "is_numeric" => is_numeric,
            "is_number" => is_integer || is_float || is_numeric,
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<Column {} ({})>",
            self.name,
            self.data_type.as_deref().unwrap_or("?")
        )
    }
}

/// `{% call statement(name, fetch_result=...) %}SQL{% endcall %}`: runs
/// nothing; a query that reads nothing is answered here, for `load_result`.
#[derive(Debug)]
struct StatementBlock;

impl Object for StatementBlock {
    fn call(self: &Arc<Self>, state: &mut State, args: &[Value]) -> Result<Value, Error> {
        let (args, kwargs): (minijinja::value::Rest<Value>, Kwargs) = from_args(args)?;
        statement(state, &args, kwargs)
    }
}

fn statement(state: &mut State, args: &[Value], kwargs: Kwargs) -> Result<Value, Error> {
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
fn needs_database(state: &State, what: &str, why: Option<&consteval::NotConstant>) -> Error {
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

fn return_fn(state: &State, value: Option<Value>) -> Result<Value, Error> {
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

/// Calls macro `name` of `package`: evaluates its file (so the macros beside
/// it are defined) and calls the renamed definition, catching `return()`.
fn call_macro(
    registry: &Registry,
    state: &State,
    package: &str,
    name: &str,
    called_as: &str,
    args: &[Value],
) -> Result<Value, Error> {
    let Some(path) = registry.template(package, name) else {
        let known = registry
            .macros
            .get(package)
            .map(|m| m.keys().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        let help = match crate::suggest::closest(name, known) {
            Some(close) => format!("did you mean `{package}.{close}`?"),
            None => format!("check the macro's name in the macros of `{package}`"),
        };
        return Err(fail(
            state,
            Code::E0151,
            format!("`{package}` has no macro `{name}`"),
            help,
        ));
    };
    if !registry.templates.contains(state.name()) {
        if let Some(frame) = frame(state) {
            let nth = frame.calls.lock().map_or(1, |mut calls| {
                let n = calls.entry(called_as.to_string()).or_default();
                *n += 1;
                *n
            });
            if let Ok(mut caller) = frame.caller.lock() {
                *caller = Some((called_as.to_string(), nth));
            }
        }
    }
    let template = state.env().get_template(path)?;
    let ctx = minijinja::context! {
        __stackc_scope => state.lookup(SCOPE_KEY).unwrap_or_default(),
        __stackc_frame => state.lookup(FRAME_KEY).unwrap_or_default(),
        this => state.lookup("this").unwrap_or_default(),
        model => state.lookup("model").unwrap_or_default(),
        graph => state.lookup("graph").unwrap_or_default(),
    };
    let frame = frame(state);
    let mut captured = template.render_captured(ctx)?;
    let inner = format!("{MACRO_PREFIX}{name}");
    captured.with_state_mut(|st| match st.lookup(&inner) {
        Some(m) => match super::macro_args::spread_for(&m, args).and_then(|a| m.call(st, &a)) {
            Ok(v) => Ok(v),
            Err(e) => match frame.as_ref().and_then(|f| f.take_return()) {
                Some(v) => Ok(v),
                None => Err(e),
            },
        },
        None => Err(Error::new(
            ErrorKind::UnknownFunction,
            format!("macro `{name}` is not defined in {path}"),
        )),
    })
}

/// `dbt_utils`, `dbt`, the root project's name: `ns.macro(...)`.
#[derive(Debug)]
struct Namespace {
    registry: Arc<Registry>,
    package: String,
}

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        self.registry.template(&self.package, name)?;
        Some(Value::from_object(MacroRef {
            registry: Arc::clone(&self.registry),
            package: self.package.clone(),
            name: name.to_string(),
            called_as: format!("{}.{name}", self.package),
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        call_macro(
            &self.registry,
            state,
            &self.package,
            method,
            &format!("{}.{method}", self.package),
            args,
        )
    }
}

/// A macro as a value (what `adapter.dispatch` returns).
#[derive(Debug)]
struct MacroRef {
    registry: Arc<Registry>,
    package: String,
    name: String,
    called_as: String,
}

impl Object for MacroRef {
    fn call(self: &Arc<Self>, state: &mut State, args: &[Value]) -> Result<Value, Error> {
        call_macro(
            &self.registry,
            state,
            &self.package,
            &self.name,
            &self.called_as,
            args,
        )
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.package, self.name)
    }
}

#[derive(Debug)]
struct Adapter {
    registry: Arc<Registry>,
}

/// The packages `adapter.dispatch` searches, in dbt's order: the
/// project's `dispatch:` search order for the namespace, else the root
/// project then the namespace (with no namespace: the root, then dbt).
fn search_order(registry: &Registry, namespace: Option<&str>) -> Vec<String> {
    match namespace {
        Some(ns) => registry.dispatch.get(ns).cloned().unwrap_or_else(|| {
            let mut order = vec![registry.root.clone()];
            if ns != registry.root {
                order.push(ns.to_string());
            }
            order
        }),
        None => vec![registry.root.clone(), DBT.to_string()],
    }
}

/// Finds the implementation `adapter.dispatch(name, namespace)` calls:
/// `postgres__name`, then `default__name`, in each package of the search
/// order.
fn dispatch(registry: &Registry, name: &str, namespace: Option<&str>) -> Option<(String, String)> {
    for package in search_order(registry, namespace) {
        for prefix in ["postgres__", "default__"] {
            let candidate = format!("{prefix}{name}");
            if registry.template(&package, &candidate).is_some() {
                return Some((package, candidate));
            }
        }
    }
    None
}

impl Object for Adapter {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "dispatch" => {
                let (name, namespace, kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                let namespace = match namespace {
                    Some(ns) => Some(ns),
                    None => kwargs.get::<Option<String>>("macro_namespace")?,
                };
                match dispatch(&self.registry, &name, namespace.as_deref()) {
                    Some((package, name)) => Ok(Value::from_object(MacroRef {
                        registry: Arc::clone(&self.registry),
                        called_as: format!("{package}.{name}"),
                        package,
                        name,
                    })),
                    None => {
                        let order = search_order(&self.registry, namespace.as_deref());
                        Err(fail(
                            state,
                            Code::E0152,
                            format!(
                                "adapter.dispatch('{name}') finds no `postgres__{name}` or `default__{name}` in {}",
                                order.join(", ")
                            ),
                            format!("define `default__{name}` in macros/, or install the package that has it (dispatch: search_order in dbt_project.yml sets where to look)"),
                        ))
                    }
                }
            }
            "quote" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(format!("\"{}\"", name.replace('"', "\"\""))))
            }
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                columns_in_relation(state, &relation)
            }
            "get_relation" => {
                let (database, schema, identifier, kwargs): (
                    Option<Value>,
                    Option<String>,
                    Option<String>,
                    Kwargs,
                ) = from_args(args)?;
                let _ = database.or(kwargs.get::<Option<Value>>("database")?);
                let schema = match schema {
                    Some(s) => s,
                    None => kwargs.get::<String>("schema")?,
                };
                let identifier = match identifier {
                    Some(i) => i,
                    None => kwargs.get::<String>("identifier")?,
                };
                Ok(project_relation(state, &schema, &identifier))
            }
            "get_missing_columns" | "list_relations_without_caching" | "execute" => {
                Err(needs_database(state, &format!("adapter.{method}()"), None))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let message = args.first().map(Value::to_string).unwrap_or_default();
        match method {
            "raise_compiler_error" => Err(fail(
                state,
                Code::E0154,
                message,
                "a macro raised this error with exceptions.raise_compiler_error: fix what it names"
                    .into(),
            )),
            "warn" => {
                eprintln!("warning: {message}");
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct Api;

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(ApiRelation)),
            "Column" => Some(Value::from_object(ApiColumn)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct ApiRelation;

impl Object for ApiRelation {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "create" {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let (kwargs,): (Kwargs,) = from_args(args)?;
        let schema: Option<String> = kwargs.get("schema")?;
        let identifier: Option<String> = kwargs.get("identifier")?;
        let _: Option<Value> = kwargs.get("database")?;
        let _: Option<Value> = kwargs.get("type")?;
        Ok(Value::from_object(crate::render::Relation {
            schema: schema.unwrap_or_default(),
            name: identifier.unwrap_or_default(),
            quote: false,
            cte: None,
        }))
    }
}

/// `api.Column.translate_type` as dbt-postgres answers it.
#[derive(Debug)]
struct ApiColumn;

pub fn translate_type(dtype: &str) -> String {
    match dtype.to_ascii_uppercase().as_str() {
        "STRING" => "TEXT".into(),
        "TIMESTAMP" => "TIMESTAMP".into(),
        "FLOAT" => "FLOAT".into(),
        "INTEGER" => "INT".into(),
        "BOOLEAN" => "BOOLEAN".into(),
        _ => dtype.to_string(),
    }
}

impl Object for ApiColumn {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "translate_type" => {
                let (dtype,): (String,) = from_args(args)?;
                Ok(Value::from(translate_type(&dtype)))
            }
            "numeric_type" => {
                let (dtype, precision, scale): (String, Option<Value>, Option<Value>) =
                    from_args(args)?;
                Ok(Value::from(match (precision, scale) {
                    (Some(p), Some(s)) if !p.is_none() && !s.is_none() => {
                        format!("{dtype}({p},{s})")
                    }
                    _ => dtype,
                }))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A list that `{% do l.append(x) %}` can change (a Jinja list literal
/// under `{% set %}` becomes one).
#[derive(Debug)]
struct MutList(Mutex<Vec<Value>>);

impl MutList {
    fn items(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let i = i64::try_from(key.clone()).ok()?;
        let i = if i < 0 { items.len() as i64 + i } else { i };
        items.get(usize::try_from(i).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let Ok(mut items) = self.0.lock() else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "list lock poisoned",
            ));
        };
        match method {
            "append" => {
                let (v,): (Value,) = from_args(args)?;
                items.push(v);
                Ok(Value::from(()))
            }
            "extend" => {
                let (v,): (Value,) = from_args(args)?;
                items.extend(v.try_iter()?);
                Ok(Value::from(()))
            }
            "insert" => {
                let (i, v): (usize, Value) = from_args(args)?;
                let i = i.min(items.len());
                items.insert(i, v);
                Ok(Value::from(()))
            }
            "pop" => {
                let (i,): (Option<i64>,) = from_args(args)?;
                let len = items.len() as i64;
                let i = i.map_or(len - 1, |i| if i < 0 { len + i } else { i });
                match usize::try_from(i).ok().filter(|i| *i < items.len()) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "pop from an empty list",
                    )),
                }
            }
            "remove" => {
                let (v,): (Value,) = from_args(args)?;
                if let Some(i) = items.iter().position(|x| *x == v) {
                    items.remove(i);
                }
                Ok(Value::from(()))
            }
            "index" => {
                let (v,): (Value,) = from_args(args)?;
                items
                    .iter()
                    .position(|x| *x == v)
                    .map(Value::from)
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "value not in list"))
            }
            "count" => {
                let (v,): (Value,) = from_args(args)?;
                Ok(Value::from(items.iter().filter(|x| **x == v).count()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A dict that `{% do d.update({...}) %}` can change.
#[derive(Debug)]
struct MutDict(Mutex<Vec<(Value, Value)>>);

/// A plain list as a mutable one: a list written into a dict
/// (`d.update({k: []})`, then `d[k].append(x)`, as dbt_utils'
/// `union_relations` does) is a Python list, which any holder may change.
fn mutable_list(v: Value) -> Value {
    if v.downcast_object_ref::<Vec<Value>>().is_some() {
        Value::from_object(MutList(Mutex::new(
            v.try_iter().map(Iterator::collect).unwrap_or_default(),
        )))
    } else {
        v
    }
}

/// A mutable dict of `pairs`, in their order (Jinja's `kwargs`).
pub(super) fn mut_dict(pairs: Vec<(Value, Value)>) -> Value {
    Value::from_object(MutDict(Mutex::new(pairs)))
}

impl MutDict {
    fn pairs(&self) -> Vec<(Value, Value)> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Object for MutDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.pairs().into_iter().map(|(k, _)| k).collect())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let Ok(mut pairs) = self.0.lock() else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "dict lock poisoned",
            ));
        };
        let set = |pairs: &mut Vec<(Value, Value)>, k: Value, v: Value| match pairs
            .iter_mut()
            .find(|(key, _)| *key == k)
        {
            Some(slot) => slot.1 = v,
            None => pairs.push((k, v)),
        };
        match method {
            "update" => {
                let (other,): (Value,) = from_args(args)?;
                for k in other.try_iter()? {
                    let v = mutable_list(other.get_item(&k)?);
                    set(&mut pairs, k, v);
                }
                Ok(Value::from(()))
            }
            "pop" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                match pairs.iter().position(|(key, _)| *key == k) {
                    Some(i) => Ok(pairs.remove(i).1),
                    None => Ok(default.unwrap_or_default()),
                }
            }
            "setdefault" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                if let Some((_, v)) = pairs.iter().find(|(key, _)| *key == k) {
                    return Ok(v.clone());
                }
                let v = mutable_list(default.unwrap_or(Value::from(())));
                pairs.push((k, v.clone()));
                Ok(v)
            }
            "get" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                Ok(pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            "items" => Ok(Value::from(
                pairs
                    .iter()
                    .map(|(k, v)| Value::from(vec![k.clone(), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            "keys" => Ok(Value::from(
                pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            )),
            "values" => Ok(Value::from(
                pairs.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Rewrites a dbt macro file for minijinja, keeping every line where it
/// was: `{% macro m(` defines `__stackc_m_m` (calls reach the wrapper),
/// `{% test t(` is the macro `test_t` (as dbt names it),
/// `{% materialization %}` blocks become uncalled macros, `{% do %}` takes
/// any expression, and a list or dict literal under `{% set %}` becomes
/// mutable. Returns the text and the
/// macro names defined.
pub fn preprocess(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len() + 64);
    let mut names = Vec::new();
    let mut rest = text;
    let mut materializations = 0;
    while let Some(i) = rest.find("{%") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let trimmed = rest.trim_start_matches(['-', '+']);
        let lead = rest.len() - trimmed.len();
        let body = trimmed.trim_start();
        let ws = trimmed.len() - body.len();
        out.push_str(&rest[..lead + ws]);
        let word_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let word = &body[..word_len];
        match word {
            "macro" | "test" => {
                let after = &body[word_len..];
                let name_start = after.len() - after.trim_start().len();
                let tail = &after[name_start..];
                let name_len = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                let name = &tail[..name_len];
                let full = if word == "test" {
                    format!("test_{name}")
                } else {
                    name.to_string()
                };
                out.push_str("macro");
                out.push_str(&after[..name_start]);
                out.push_str(MACRO_PREFIX);
                out.push_str(&full);
                names.push(full);
                rest = &tail[name_len..];
                if let Some((sig, extra)) = super::macro_args::signature(rest) {
                    out.push_str(&rest[..sig]);
                    out.push_str(&extra);
                    rest = &rest[sig..];
                }
            }
            // minijinja's `do` takes only a call; Jinja's takes any
            // expression (`{% do a.append(x) if c else a.append(y) %}`).
            // A `set` evaluates it the same and drops the value.
            "do" if body[word_len..].starts_with(char::is_whitespace) => {
                out.push_str("set __stackc_do =");
                rest = &body[word_len..];
            }
            "endtest" | "endmaterialization" => {
                out.push_str("endmacro");
                rest = &body[word_len..];
            }
            "materialization" => {
                let end = body.find("%}").unwrap_or(body.len());
                let end = if body[..end].ends_with('-') {
                    end - 1
                } else {
                    end
                };
                out.push_str(&format!(
                    "macro __stackc_materialization_{materializations}() "
                ));
                materializations += 1;
                rest = &body[end..];
            }
            "set" => {
                let tag_end = body.find("%}").unwrap_or(body.len());
                let tag = &body[..tag_end];
                match tag.find('=') {
                    Some(eq) if !tag[..eq].contains(['(', '[', ',']) => {
                        let value = tag[eq + 1..].trim_start();
                        let value_at = tag.len() - value.len();
                        let value = value.trim_end().trim_end_matches('-').trim_end();
                        let closes = matches!(
                            (value.chars().next(), value.chars().last()),
                            (Some('['), Some(']')) | (Some('{'), Some('}'))
                        ) && matching_close(value) == Some(value.len() - 1);
                        // `{% set cols = group_by_columns %}` then
                        // `cols.append(...)`: Python lists are mutable
                        // whoever made them (a copy here).
                        let name = !value.is_empty()
                            && !matches!(
                                value,
                                "none" | "None" | "true" | "false" | "True" | "False"
                            )
                            && value.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        let listed = value.ends_with("| list") || value.ends_with("|list");
                        if closes || name || listed {
                            out.push_str(&tag[..value_at]);
                            // A name may hold anything: only a plain list
                            // is copied (a relation stays a relation).
                            out.push_str(if closes {
                                "__stackc_mut("
                            } else {
                                "__stackc_mut_list("
                            });
                            out.push_str(value);
                            out.push(')');
                            rest = &body[value_at + value.len()..];
                        } else {
                            rest = body;
                        }
                    }
                    _ => rest = body,
                }
            }
            _ => rest = body,
        }
    }
    out.push_str(rest);
    (out, names)
}

/// The byte index of the bracket closing the one `text` starts with,
/// skipping quoted strings.
pub(super) fn matching_close(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '{' | '(' => depth += 1,
            ']' | '}' | ')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> Result<String, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
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
    #[test]
    fn a_list_set_from_a_name_is_mutable_and_a_relation_stays_one() {
        let src = "{% macro f(cols, rel) %}{% set c = cols %}{% set r = rel %}{% do c.append(3) %}{{ return([c | length, r is mapping]) }}{% endmacro %}";
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
        let rel = Value::from_object(crate::render::Relation {
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
    fn columns_answer_dbt_postgres_type_predicates() {
        let mut env = Environment::new();
        env.add_global(
            "c",
            Value::from_object(CatalogColumnValue {
                name: "amount".into(),
                data_type: Some("double precision".into()),
            }),
        );
        env.add_global(
            "s",
            Value::from_object(CatalogColumnValue {
                name: "code".into(),
                data_type: Some("character varying(10)".into()),
            }),
        );
        let out = env
            .render_str(
                "{{ c.is_float() }} {{ c.is_number() }} {{ c.is_string() }} {{ s.is_string() }} {{ s.is_integer() }}",
                (),
            )
            .unwrap();
        assert_eq!(out, "True True False True False");
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

    #[test]
    fn a_list_put_into_a_dict_is_mutable() {
        let src = "{% macro f() %}{% set d = {} %}{% do d.update({'a': []}) %}{% do d['a'].append(1) %}{% do d.setdefault('b', []).append(2) %}{{ return([d['a'], d['b']]) }}{% endmacro %}";
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
        let ctx = minijinja::context! { __stackc_frame => Value::from_object(Frame::default()) };
        let out = env.render_str("{{ f() }}", ctx).unwrap();
        assert_eq!(out, "[[1], [2]]");
    }

    #[test]
    fn return_gives_a_value_and_lists_are_mutable() {
        let src = "{% macro f() %}{% set l = [] %}{% do l.append(1) %}{% do l.extend([2, 3]) %}{% do l.append(4) if l else l.append(0) %}{{ return(l) }}ignored{% endmacro %}";
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
        let ctx = minijinja::context! { __stackc_frame => Value::from_object(Frame::default()) };
        let out = env
            .render_str("{{ f() | sum }} {{ p.f() | length }}", ctx)
            .unwrap();
        assert_eq!(out, "10 4");
    }

    #[test]
    fn preprocess_keeps_lines_and_renames() {
        let text = "{% macro a(x) %}\n{%- set l = ['x', {'k': ']'}] -%}\n{% endmacro %}\n{% test t(model) %}{% endtest %}";
        let (out, names) = preprocess(text);
        assert_eq!(names, ["a", "test_t"]);
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(out.contains("{% macro __stackc_m_a(x) %}"), "{out}");
        assert!(
            out.contains("{%- set l = __stackc_mut(['x', {'k': ']'}]) -%}"),
            "{out}"
        );
        assert!(
            out.contains("{% macro __stackc_m_test_t(model) %}{% endmacro %}"),
            "{out}"
        );
    }

    #[test]
    fn dispatch_searches_root_then_namespace_postgres_first() {
        let mut registry = Registry {
            root: "root".into(),
            ..Registry::default()
        };
        let add = |r: &mut Registry, p: &str, m: &str| {
            r.macros
                .entry(p.into())
                .or_default()
                .insert(m.into(), "f".into());
        };
        add(&mut registry, "pkg", "default__m");
        add(&mut registry, "pkg", "postgres__m");
        assert_eq!(
            dispatch(&registry, "m", Some("pkg")),
            Some(("pkg".into(), "postgres__m".into()))
        );
        add(&mut registry, "root", "default__m");
        assert_eq!(
            dispatch(&registry, "m", Some("pkg")),
            Some(("root".into(), "default__m".into()))
        );
        registry
            .dispatch
            .insert("pkg".into(), vec!["pkg".into(), "root".into()]);
        assert_eq!(
            dispatch(&registry, "m", Some("pkg")),
            Some(("pkg".into(), "postgres__m".into()))
        );
        assert_eq!(dispatch(&registry, "nope", Some("pkg")), None);
    }
}
