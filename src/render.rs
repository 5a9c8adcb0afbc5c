//! Render: Jinja SQL to plain SQL, with a map back to the user's file.
//!
//! Each model is rendered with minijinja. The functions dbt users know
//! (`ref`, `source`, `config`, `var`, `env_var`, `is_incremental`, `this`)
//! record what they were called with in a per-render [`Scope`] object that
//! travels in the template context, so renders share nothing and run in
//! parallel. Macros from `macros/` are imported into every model by a prefix
//! on its first line, which keeps the model's line numbers intact.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Environment, Error, ErrorKind, OutputSpanKind, State, UndefinedBehavior};

use crate::dbt::context::Frame;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::project::SourceFile;
use crate::sql::relation_name;

pub mod cache;
mod limits;

/// The names a model or test may use that are provided by stackc, not macros.
const BUILTINS: &[&str] = &[
    "ref",
    "source",
    "config",
    "var",
    "env_var",
    "is_incremental",
    "this",
];

/// What `ref` and `source` resolve to. Empty in the discovery pass, where
/// every `ref('m')` renders as `m`.
#[derive(Debug, Default, Clone)]
pub struct Relations {
    pub models: BTreeMap<String, Relation>,
    pub sources: BTreeMap<(String, String), Relation>,
    /// Versioned models (dbt's `versions:`): `m` -> the latest version's
    /// model, `m.v2` -> version 2's (`m_v2` unless `defined_in` says).
    pub versions: BTreeMap<String, String>,
    /// In a dbt project: the project (root or package) of each model and
    /// seed, for `ref('package', 'model')`. Empty in a stackc project.
    pub packages: BTreeMap<String, String>,
    /// The columns the project declares or creates, for the adapter's
    /// introspection.
    pub catalog: crate::catalog::Catalog,
    /// False in the discovery pass, which renders with no relations to
    /// collect refs and configs: introspection then answers empty instead
    /// of failing on names that are not relations yet.
    pub complete: bool,
}

/// The catalog of the render `state` belongs to (the dbt context's
/// `adapter.get_columns_in_relation` reads it).
pub fn catalog_of(state: &State) -> Option<Arc<Relations>> {
    scope(state).ok().map(|s| Arc::clone(&s.relations))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub schema: String,
    pub name: String,
    /// Use the name exactly as written (`quoting: {identifier: true}`).
    pub quote: bool,
    /// For ephemeral models: the CTE name the reference renders as.
    pub cte: Option<String>,
}

impl Relation {
    /// What `ref('m')` gives in the discovery pass, before the model's
    /// schema is known: it renders as the bare name.
    fn unresolved(name: String) -> Relation {
        Relation {
            schema: String::new(),
            name,
            quote: false,
            cte: None,
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cte {
            Some(cte) => f.write_str(cte),
            None if self.schema.is_empty() => f.write_str(&self.name),
            None => f.write_str(&relation_name(&self.schema, &self.name, self.quote)),
        }
    }
}

/// The keys of a relation as dbt's `Relation` object has them.
const RELATION_KEYS: &[&str] = &[
    "schema",
    "name",
    "identifier",
    "table",
    "database",
    "type",
    "is_cte",
    "is_table",
    "is_view",
    "metadata",
];

/// A relation in Jinja as dbt's: a mapping (packages test `obj is mapping`
/// and `obj.get('metadata', {}).get('type')` to tell a relation from a
/// string) that renders as its quoted name.
impl Object for Relation {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "schema" => Value::from(self.schema.clone()),
            "name" | "identifier" | "table" => Value::from(self.name.clone()),
            // stackc names relations by schema and name in the target
            // database; dbt's `database` part is left out.
            "database" => Value::from(()),
            // Whether a ref is a table or a view is the materialization's
            // business, unknown to a relation: none, as dbt's for a
            // relation it has not looked up.
            "type" => match self.cte {
                Some(_) => Value::from("cte"),
                None => Value::from(()),
            },
            "is_cte" => Value::from(self.cte.is_some()),
            "is_table" | "is_view" => Value::from(false),
            "metadata" => Value::from(BTreeMap::from([("type", "PostgresRelation")])),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(RELATION_KEYS)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "get" => {
                let (key, default): (Value, Option<Value>) = minijinja::value::from_args(args)?;
                Ok(self
                    .get_value(&key)
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            "render" => Ok(Value::from(self.to_string())),
            // The relation without its database, quoted as configured,
            // is what stackc renders already.
            "include" | "incorporate" | "quote" => Ok(Value::from_dyn_object(Arc::clone(self))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Everything a render recorded, in call order.
#[derive(Debug, Default, Clone)]
pub struct Calls {
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
    /// Keyword arguments of each `config()` call.
    pub configs: Vec<BTreeMap<String, serde_json::Value>>,
    pub vars: BTreeSet<String>,
    pub env_vars: BTreeSet<String>,
}

/// A failure of one of our functions, with its code, kept until the render
/// returns (minijinja errors carry only a kind and a message).
#[derive(Debug, Clone)]
struct FunctionError {
    code: Code,
    message: String,
    help: String,
}

/// The range of the `nth` call `called(...)` in `text` (1 for the first):
/// where a file called the macro an error came from. A call repeated by a
/// loop is counted more often than it is written: the last one written is
/// then the nearest guess.
fn caller_range(text: &str, called: &str, nth: usize) -> Option<Range<usize>> {
    let needle = format!("{called}(");
    let mut found = None;
    let mut count = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        from = at + needle.len();
        // `pkg.m(` is no call of `m(`, nor is `my_m(`.
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        found = Some(at);
        count += 1;
        if count == nth {
            break;
        }
    }
    let at = found?;
    let end = text[at..]
        .find(')')
        .map_or(at + needle.len(), |i| at + i + 1);
    Some(at..end)
}

#[derive(Debug)]
struct Scope {
    relations: Arc<Relations>,
    vars: Arc<BTreeMap<String, serde_json::Value>>,
    is_incremental: bool,
    calls: Mutex<Calls>,
    error: Mutex<Option<FunctionError>>,
}

impl Object for Scope {}

impl Scope {
    fn fail(&self, code: Code, message: String, help: String) -> Error {
        let error = Error::new(ErrorKind::InvalidOperation, message.clone());
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(FunctionError {
                code,
                message,
                help,
            });
        }
        error
    }

    fn record(&self, f: impl FnOnce(&mut Calls)) {
        // A poisoned lock means another function panicked mid-render, and
        // that render is lost anyway; recording nothing is then correct.
        if let Ok(mut calls) = self.calls.lock() {
            f(&mut calls);
        }
    }
}

pub(crate) const SCOPE_KEY: &str = "__stackc_scope";

fn scope(state: &State) -> Result<Arc<Scope>, Error> {
    state
        .lookup(SCOPE_KEY)
        .and_then(|v| v.downcast_object::<Scope>())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "stackc scope is missing"))
}

fn ref_fn(
    state: &State,
    name: String,
    extra: Option<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let scope = scope(state)?;
    // dbt's two-argument form names the project first: ref('pkg', 'model').
    let (package, name) = match extra {
        Some(model) => (Some(name), model),
        None => (None, name),
    };
    let resolved = !scope.relations.models.is_empty();
    if let Some(package) = &package {
        if resolved && scope.relations.packages.is_empty() {
            return Err(scope.fail(
                Code::E0102,
                format!("ref() takes one model name, got two arguments (`{package}`, `{name}`)"),
                "stackc projects have no packages: write ref('model_name')".into(),
            ));
        }
        if let Some(owner) = scope.relations.packages.get(&name) {
            if owner != package {
                return Err(scope.fail(
                    Code::E0155,
                    format!("ref('{package}', '{name}'): `{name}` belongs to project `{owner}`, not `{package}`"),
                    format!("write ref('{owner}', '{name}'), or ref('{name}')"),
                ));
            }
        }
    }
    // `ref('m', v=2)` / `ref('m', version=2)`: a version of a versioned model.
    let version: Option<Value> = match kwargs.get::<Option<Value>>("v")? {
        Some(v) => Some(v),
        None => kwargs.get::<Option<Value>>("version")?,
    };
    kwargs.assert_all_used()?;
    let versions = &scope.relations.versions;
    let name = match version {
        Some(v) => {
            let v = v.to_string();
            versions
                .get(&format!("{name}.v{v}"))
                .cloned()
                .unwrap_or_else(|| format!("{name}_v{v}"))
        }
        None => versions.get(&name).cloned().unwrap_or(name),
    };
    scope.record(|c| c.refs.push(name.clone()));
    Ok(match scope.relations.models.get(&name) {
        Some(rel) => Value::from_object(rel.clone()),
        None => Value::from_object(Relation::unresolved(name)),
    })
}

fn source_fn(state: &State, source: String, table: String) -> Result<Value, Error> {
    let scope = scope(state)?;
    scope.record(|c| c.sources.push((source.clone(), table.clone())));
    Ok(
        match scope
            .relations
            .sources
            .get(&(source.clone(), table.clone()))
        {
            Some(rel) => Value::from_object(rel.clone()),
            None => Value::from_object(Relation {
                schema: source.clone(),
                name: table.clone(),
                quote: false,
                cte: None,
            }),
        },
    )
}

fn config_fn(state: &State, kwargs: Kwargs) -> Result<String, Error> {
    let scope = scope(state)?;
    let mut map = BTreeMap::new();
    for key in kwargs.args() {
        let value: Value = kwargs.get(key)?;
        let json = serde_json::to_value(&value).map_err(|e| {
            scope.fail(
                Code::E0105,
                format!("config value `{key}` cannot be used: {e}"),
                "config values are strings, numbers, booleans, lists and mappings".into(),
            )
        })?;
        map.insert(key.to_string(), json);
    }
    scope.record(|c| c.configs.push(map));
    Ok(String::new())
}

fn var_fn(state: &State, name: String, default: Option<Value>) -> Result<Value, Error> {
    let scope = scope(state)?;
    scope.record(|c| {
        c.vars.insert(name.clone());
    });
    if let Some(v) = scope.vars.get(&name) {
        // dbt renders Jinja in a var's value when it is used, with the
        // context of the node that uses it (`"{{ target.schema }}_raw"`).
        if let serde_json::Value::String(text) = v {
            if state.lookup("target").is_some() && (text.contains("{{") || text.contains("{%")) {
                let ctx = minijinja::context! {
                    __stackc_scope => state.lookup(SCOPE_KEY).unwrap_or_default(),
                    __stackc_frame => state.lookup("__stackc_frame").unwrap_or_default(),
                    this => state.lookup("this").unwrap_or_default(),
                };
                return state.env().render_str(text, ctx).map(Value::from);
            }
        }
        return Ok(Value::from(minijinja::value::Serde(v)));
    }
    match default {
        Some(d) => Ok(d),
        None => Err(scope.fail(
            Code::E0103,
            format!("var `{name}` is not defined and has no default"),
            format!("add `{name} = ...` under [vars] in stackc.toml, or give a default: var('{name}', ...)"),
        )),
    }
}

fn env_var_fn(state: &State, name: String, default: Option<Value>) -> Result<Value, Error> {
    let scope = scope(state)?;
    scope.record(|c| {
        c.env_vars.insert(name.clone());
    });
    match std::env::var(&name) {
        Ok(v) => Ok(Value::from(v)),
        Err(_) => match default {
            Some(d) => Ok(d),
            None => Err(scope.fail(
                Code::E0104,
                format!("environment variable `{name}` is not set and has no default"),
                format!(
                    "set {name} in the environment, or give a default: env_var('{name}', 'value')"
                ),
            )),
        },
    }
}

fn is_incremental_fn(state: &State) -> Result<bool, Error> {
    Ok(scope(state)?.is_incremental)
}

/// The failure one of our functions recorded before the render failed.
fn pending_failure(scope: &Scope, frame: &Frame) -> Option<FunctionError> {
    scope.error.lock().ok().and_then(|e| e.clone()).or_else(|| {
        frame.failure().map(|f| FunctionError {
            code: f.code,
            message: f.message,
            help: f.help,
        })
    })
}

/// How one piece of rendered SQL maps back to the source.
#[derive(Debug, Clone)]
struct MapSpan {
    output: Range<usize>,
    /// Byte range in the user's file.
    source: Range<usize>,
    /// Raw text maps byte for byte; an expression's output maps to the whole
    /// expression.
    raw: bool,
}

/// Rendered SQL with its map back to the file it came from.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub sql: String,
    pub file: Arc<str>,
    spans: Vec<MapSpan>,
    pub calls: Calls,
}

impl Rendered {
    /// Frees what only the checks read (the source map, `config()`
    /// arguments, variable names), keeping the SQL and the refs and sources
    /// that emit and unit tests need: at 10,000 models this held tens of
    /// megabytes.
    pub fn shrink_after_checks(&mut self) {
        self.spans = Vec::new();
        self.calls.configs = Vec::new();
        self.calls.vars = BTreeSet::new();
        self.calls.env_vars = BTreeSet::new();
        self.sql.shrink_to_fit();
    }

    /// The span in the user's file that produced the rendered byte `offset`.
    pub fn source_span(&self, offset: usize) -> Span {
        let i = self.spans.partition_point(|s| s.output.end <= offset);
        let range = match self.spans.get(i).or_else(|| self.spans.last()) {
            Some(s) if s.raw => {
                let at = s.source.start + offset.saturating_sub(s.output.start);
                let at = at.min(s.source.end);
                at..at
            }
            Some(s) => s.source.clone(),
            None => 0..0,
        };
        Span::new(&self.file, range)
    }

    /// The span in the user's file for a rendered range: exact when the
    /// whole range was copied from the file, else the producing expression.
    pub fn source_range(&self, output: Range<usize>) -> Span {
        let start = self.source_span(output.start);
        let last = output.end.saturating_sub(1).max(output.start);
        let end = self.source_span(last);
        // `end` is where the last byte sits; the range ends after it.
        let last_len = self.sql[last..].chars().next().map_or(1, char::len_utf8);
        if start.range.start <= end.range.start && self.is_raw(output.start) && self.is_raw(last) {
            Span::new(&self.file, start.range.start..end.range.start + last_len)
        } else {
            start
        }
    }

    /// Whether the rendered byte at `offset` was copied from the file (as
    /// opposed to produced by an expression such as `ref()`).
    pub fn is_raw(&self, offset: usize) -> bool {
        let i = self.spans.partition_point(|s| s.output.end <= offset);
        self.spans
            .get(i)
            .is_some_and(|s| s.raw && s.output.start <= offset)
    }
}

/// Inputs of one render.
pub struct RenderInput<'a> {
    pub file: &'a SourceFile,
    pub relations: &'a Arc<Relations>,
    pub vars: &'a Arc<BTreeMap<String, serde_json::Value>>,
    pub this: Option<Relation>,
    pub is_incremental: bool,
    /// dbt's `model` (the node being rendered) and `graph` (every node and
    /// source), as Jinja values; `None` where there are none (a stackc
    /// project, a snippet).
    pub model: Option<Value>,
    pub graph: Option<Value>,
}

pub struct Renderer {
    env: Environment<'static>,
    /// `{% from "macros/x.sql" import a, b %}` for every macro file.
    prefix: String,
    /// Every macro the project defines.
    defined: BTreeSet<String>,
    /// In a dbt project: the namespaces a call may name (the root project,
    /// installed packages, `dbt`), and the declared packages that are not
    /// installed.
    namespaces: BTreeSet<String>,
    root_namespace: String,
    missing_packages: BTreeSet<String>,
}

/// How a project renders: a dbt project renders as dbt does.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// dbt's whitespace (no `trim_blocks`/`lstrip_blocks`: a `-- comment`
    /// line before `{%- if %}` keeps its newline, as in dbt).
    pub dbt_whitespace: bool,
    /// dbt's `target` variable.
    pub target: Option<serde_json::Value>,
    /// A dbt project's macros by namespace (packages, dbt's own): the dbt
    /// context of [`crate::dbt::context`].
    pub dbt: Option<Arc<crate::dbt::context::DbtMacros>>,
}

impl Renderer {
    /// Compiles the macro files once; problems in them are reported here.
    pub fn new(macros: &[SourceFile], diagnostics: &mut Vec<Diagnostic>) -> Renderer {
        Renderer::new_with(macros, &RenderOptions::default(), diagnostics)
    }

    pub fn new_with(
        macros: &[SourceFile],
        options: &RenderOptions,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(limits::FUEL));
        // Jinja's block whitespace control, as stackc users expect of
        // compiled SQL: no blank lines left by `{% if %}`, and the final
        // newline kept. dbt turns neither on, and a dbt project's SQL must be
        // dbt's SQL (a trimmed newline can pull a line into a `--` comment).
        let trim = !options.dbt_whitespace;
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(trim)
            .lstrip_blocks(trim)
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        if let Some(target) = &options.target {
            env.add_global("target", Value::from(minijinja::value::Serde(target)));
        }
        env.add_function("ref", ref_fn);
        env.add_function("source", source_fn);
        env.add_function("config", config_fn);
        env.add_function("var", var_fn);
        env.add_function("env_var", env_var_fn);
        env.add_function("is_incremental", is_incremental_fn);

        let mut imports = Vec::new();
        let mut defined: BTreeMap<String, Span> = BTreeMap::new();
        for file in macros {
            if let Some(at) = limits::too_deep(&file.text) {
                diagnostics.push(too_deep(file, at));
                continue;
            }
            let names = macro_names(&file.text);
            let mut fresh = Vec::new();
            for (name, range) in names {
                let span = Span::new(&file.path, range);
                if BUILTINS.contains(&name.as_str()) {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0106,
                            format!("macro `{name}` hides stackc's own `{name}`"),
                        )
                        .at(span)
                        .help("rename the macro"),
                    );
                } else if let Some(first) = defined.get(&name) {
                    diagnostics.push(
                        Diagnostic::new(Code::E0106, format!("macro `{name}` is defined twice"))
                            .at(span)
                            .related(first.clone(), "first defined here")
                            .help("macros share one namespace across macros/: rename one of them"),
                    );
                } else {
                    defined.insert(name.clone(), span);
                    fresh.push(name);
                }
            }
            if options.dbt.is_some() {
                // Compiled with the dbt context below.
                continue;
            }
            match env.add_template_owned(file.path.to_string(), file.text.to_string()) {
                Ok(()) => {
                    if !fresh.is_empty() {
                        imports.push(format!(
                            "{{% from {:?} import {} %}}",
                            &*file.path,
                            fresh.join(", ")
                        ));
                    }
                }
                Err(e) => diagnostics.push(jinja_diagnostic(&e, file, 0, None)),
            }
        }
        if let Some(dbt) = &options.dbt {
            crate::dbt::context::install(&mut env, macros, dbt, diagnostics);
        } else if options.dbt_whitespace {
            // dbt's macros call each other whatever file each is in: every
            // macro is also a global that evaluates its own file and calls
            // it, so a macro finds the others at call time (an import
            // between macro files would loop when two files use each other).
            for (name, span) in &defined {
                let file = span.file.to_string();
                let name = name.clone();
                env.add_function(
                    name.clone(),
                    move |state: &State,
                          args: minijinja::value::Rest<Value>|
                          -> Result<Value, Error> {
                        let template = state.env().get_template(&file)?;
                        let ctx = minijinja::context! {
                            __stackc_scope => state.lookup(SCOPE_KEY).unwrap_or_default(),
                            this => state.lookup("this").unwrap_or_default(),
                        };
                        let mut captured = template.render_captured(ctx)?;
                        captured.with_state_mut(|st| match st.lookup(&name) {
                            Some(m) => m.call(st, &args),
                            None => Err(Error::new(
                                ErrorKind::UnknownFunction,
                                format!("macro `{name}` is not defined in {file}"),
                            )),
                        })
                    },
                );
            }
        }
        let (namespaces, root_namespace, missing_packages) = match &options.dbt {
            Some(dbt) => (
                ["dbt".to_string(), dbt.root.clone()]
                    .into_iter()
                    .chain(dbt.packages.iter().map(|(name, _)| name.clone()))
                    .collect(),
                dbt.root.clone(),
                dbt.missing.clone(),
            ),
            None => (BTreeSet::new(), String::new(), BTreeSet::new()),
        };
        Renderer {
            env,
            prefix: imports.concat(),
            defined: defined.into_keys().collect(),
            namespaces,
            root_namespace,
            missing_packages,
        }
    }

    /// Renders a SQL snippet that is not a file of its own (a hook from a
    /// config), with the project's macros, `this` and the relations;
    /// errors point at `at`, where the snippet was written.
    pub fn render_snippet(
        &self,
        text: &str,
        this: Option<Relation>,
        relations: &Arc<Relations>,
        vars: &Arc<BTreeMap<String, serde_json::Value>>,
        at: &Span,
    ) -> Result<String, Diagnostic> {
        let source = format!("{}{text}", self.prefix);
        let scope = Arc::new(Scope {
            relations: Arc::clone(relations),
            vars: Arc::clone(vars),
            is_incremental: false,
            calls: Mutex::new(Calls::default()),
            error: Mutex::new(None),
        });
        let this = this.map_or(Value::UNDEFINED, Value::from_object);
        let frame = Arc::new(Frame::default());
        let ctx = minijinja::context! {
            __stackc_scope => Value::from_dyn_object(Arc::clone(&scope)),
            __stackc_frame => Value::from_dyn_object(Arc::clone(&frame)),
            this => this,
        };
        self.env.render_str(&source, ctx).map_err(|e| {
            let pending = pending_failure(&scope, &frame);
            let (code, message, help) = match pending {
                Some(f) => (f.code, f.message, f.help),
                None => (
                    Code::E0102,
                    e.detail().map_or_else(|| e.to_string(), str::to_string),
                    "fix the Jinja in this hook".to_string(),
                ),
            };
            Diagnostic::new(code, format!("in a hook: {message}"))
                .at(at.clone())
                .help(help)
        })
    }

    /// Whether the project defines a macro of this name.
    pub fn defines(&self, name: &str) -> bool {
        self.defined.contains(name)
    }

    /// Calls the project's macro `name` with `args` and returns its output,
    /// trimmed (as dbt trims `generate_schema_name` and its kin). `None`
    /// when the project has no such macro.
    pub fn call_macro(
        &self,
        name: &str,
        args: &[serde_json::Value],
        vars: &Arc<BTreeMap<String, serde_json::Value>>,
        at: &Span,
    ) -> Option<Result<String, Diagnostic>> {
        if !self.defines(name) {
            return None;
        }
        let params: Vec<String> = (0..args.len())
            .map(|i| format!("__stackc_arg{i}"))
            .collect();
        let source = format!("{}{{{{ {name}({}) }}}}", self.prefix, params.join(", "));
        let scope = Arc::new(Scope {
            relations: Arc::new(Relations::default()),
            vars: Arc::clone(vars),
            is_incremental: false,
            calls: Mutex::new(Calls::default()),
            error: Mutex::new(None),
        });
        let mut ctx: BTreeMap<String, Value> = args
            .iter()
            .zip(&params)
            .map(|(a, p)| (p.clone(), Value::from(minijinja::value::Serde(a))))
            .collect();
        ctx.insert(SCOPE_KEY.into(), Value::from_dyn_object(Arc::clone(&scope)));
        ctx.insert(
            crate::dbt::context::FRAME_KEY.into(),
            Value::from_object(Frame::default()),
        );
        let result = self
            .env
            .render_str(&source, ctx)
            .map(|s| s.trim().to_string())
            .map_err(|e| {
                let detail = e.detail().map_or_else(|| e.to_string(), str::to_string);
                Diagnostic::new(
                    Code::E0102,
                    format!("the project's `{name}` macro failed: {detail}"),
                )
                .at(at.clone())
                .help(format!(
                    "fix `{name}` in macros/; dbt calls it for every node"
                ))
            });
        Some(result)
    }

    /// E0156 for `name.macro(...)` where `name` is no namespace of a dbt
    /// project (a package not installed, or misspelt), in place of the
    /// template engine's "undefined" at the same place.
    fn unknown_namespace(&self, file: &SourceFile, d: &Diagnostic) -> Option<Diagnostic> {
        if self.namespaces.is_empty() {
            return None;
        }
        let primary = d.primary.as_ref().filter(|p| *p.file == *file.path)?;
        let text: &str = &file.text;
        let at = primary.range.start.min(text.len());
        // minijinja points at `.macro(...)`, or at the whole `name.macro(...)`.
        let (start, dot) = if text[at..].starts_with('.') {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            (start, at)
        } else {
            let len = text[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - at);
            (at, at + len)
        };
        let name = &text[start..dot];
        let rest = text[dot..].strip_prefix('.')?;
        let method_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let called = rest[method_len..].trim_start().starts_with('(');
        if name.is_empty() || method_len == 0 || !called || self.namespaces.contains(name) {
            return None;
        }
        // Only a name that is undefined: a variable with no such method is
        // another mistake.
        let undefined = e_undefined(d, name);
        if !undefined {
            return None;
        }
        let method = &rest[..method_len];
        let span = Span::new(&file.path, start..dot + 1 + method_len);
        if self.missing_packages.contains(name) {
            let mut d = Diagnostic::new(
                Code::E0156,
                format!("`{name}` is a package packages.yml names, and it is not installed"),
            )
            .at(span);
            d.follow_on = true;
            return Some(d);
        }
        let packages: Vec<String> = self
            .namespaces
            .iter()
            .filter(|n| *n != &self.root_namespace && n.as_str() != "dbt")
            .map(|n| format!("`{n}`"))
            .collect();
        let mut help =
            match crate::suggest::closest(name, self.namespaces.iter().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}.{method}`? "),
                None => String::new(),
            };
        let packages = if packages.is_empty() {
            "none".to_string()
        } else {
            packages.join(", ")
        };
        help.push_str(&format!(
            "installed packages: {packages}; the project is `{}`; a package must be in packages.yml and installed by `dbt deps`",
            self.root_namespace
        ));
        Some(
            Diagnostic::new(
                Code::E0156,
                format!("`{name}` in `{name}.{method}(...)` is no installed package or project"),
            )
            .at(span)
            .help(help),
        )
    }

    pub fn render(&self, input: RenderInput<'_>) -> Result<Rendered, Diagnostic> {
        let file = input.file;
        if let Some(at) = limits::too_deep(&file.text) {
            return Err(too_deep(file, at));
        }
        let source = format!("{}{}", self.prefix, file.text);
        let prefix_len = self.prefix.len();
        let template = self
            .env
            .template_from_named_str(&file.path, &source)
            .map_err(|e| jinja_diagnostic(&e, file, prefix_len, None))?;
        let scope = Arc::new(Scope {
            relations: Arc::clone(input.relations),
            vars: Arc::clone(input.vars),
            is_incremental: input.is_incremental,
            calls: Mutex::new(Calls::default()),
            error: Mutex::new(None),
        });
        let this = match &input.this {
            Some(rel) => Value::from_object(rel.clone()),
            None => Value::UNDEFINED,
        };
        let frame = Arc::new(Frame::default());
        let ctx = minijinja::context! {
            __stackc_scope => Value::from_dyn_object(Arc::clone(&scope)),
            __stackc_frame => Value::from_dyn_object(Arc::clone(&frame)),
            this => this,
            model => input.model.unwrap_or(Value::UNDEFINED),
            graph => input.graph.unwrap_or(Value::UNDEFINED),
        };
        let result = template.render_with_spans(ctx);
        let calls = scope.calls.lock().map(|c| c.clone()).unwrap_or_default();
        let (sql, out_spans) = match result {
            Ok(ok) => ok,
            Err(e) => {
                let pending = pending_failure(&scope, &frame);
                let mut d = jinja_diagnostic(&e, file, prefix_len, pending);
                if matches!(
                    e.kind(),
                    ErrorKind::UndefinedError | ErrorKind::UnknownMethod
                ) {
                    if let Some(ns) = self.unknown_namespace(file, &d) {
                        return Err(ns);
                    }
                }
                // An error from inside a package's macro is the user's at
                // the line that called it; the macro's line is related.
                let elsewhere = d
                    .primary
                    .as_ref()
                    .filter(|p| *p.file != *file.path)
                    .cloned();
                if let Some(inner) = elsewhere {
                    if let Some(range) = frame
                        .caller()
                        .and_then(|(c, nth)| caller_range(&file.text, &c, nth))
                    {
                        d.related.retain(|r| *r.span.file != *file.path);
                        d.primary = Some(Span::new(&file.path, range));
                        d = d.related(inner, "raised in this macro");
                    }
                }
                return Err(d);
            }
        };
        if sql.len() > limits::MAX_OUTPUT {
            // Where the work was made: the first block tag (a loop, most
            // likely), else the file's start.
            let at = file.text.find("{%").unwrap_or(0);
            let end = file.text[at..].find("%}").map_or(at, |i| at + i + 2);
            return Err(Diagnostic::new(
                Code::E0121,
                format!(
                    "rendering made {} MiB of SQL; one render may make {} MiB",
                    sql.len() >> 20,
                    limits::MAX_OUTPUT >> 20
                ),
            )
            .at(Span::new(&file.path, at..end))
            .help("a loop makes far more SQL than a model needs; make the loop smaller"));
        }
        let spans = out_spans
            .iter()
            .map(|s| {
                let src = s.source_range();
                let shift = |x: usize| x.saturating_sub(prefix_len).min(file.text.len());
                MapSpan {
                    output: s.output_range(),
                    source: shift(src.start)..shift(src.end),
                    raw: s.kind() == OutputSpanKind::Raw && s.name() == &*file.path,
                }
            })
            .collect();
        Ok(Rendered {
            sql,
            file: Arc::clone(&file.path),
            spans,
            calls,
        })
    }
}

/// Whether the template engine's message says `name` is undefined, either
/// in its own words or as the subject of a missing method.
fn e_undefined(d: &Diagnostic, name: &str) -> bool {
    d.message.contains(&format!("`{name}` is undefined"))
        || d.message.contains(&format!("{name} is undefined"))
}

fn too_deep(file: &SourceFile, at: Range<usize>) -> Diagnostic {
    Diagnostic::new(
        Code::E0120,
        format!(
            "this Jinja expression is nested too deeply (more than {} levels of operators or brackets)",
            limits::MAX_DEPTH
        ),
    )
    .at(Span::new(&file.path, at))
    .help("split it with {% set %} into smaller parts")
}

/// Where `func('…name…')` is written in a file; the file start if the call
/// was made from a macro.
pub fn call_span(file: &SourceFile, func: &str, name: &str) -> Span {
    let text: &str = &file.text;
    let mut from = 0;
    while let Some(i) = text[from..].find(func) {
        let start = from + i;
        let after = text[start + func.len()..].trim_start();
        if let Some(args) = after.strip_prefix('(') {
            let close = args.find(')').unwrap_or(args.len());
            let args_text = &args[..close];
            for quote in ['\'', '"'] {
                let needle = format!("{quote}{name}{quote}");
                if let Some(j) = args_text.find(&needle) {
                    let abs = text.len() - args.len() + j + 1;
                    return Span::new(&file.path, abs..abs + name.len());
                }
            }
        }
        from = start + func.len();
    }
    Span::new(&file.path, 0..0)
}

/// Where a model writes `{{ config(...) }}`: the range of the word `config`
/// and of each `key` in its arguments (the first call that sets it).
pub fn config_call_spans(text: &str) -> (Option<Range<usize>>, BTreeMap<String, Range<usize>>) {
    let mut first_call = None;
    let mut keys = BTreeMap::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("config") {
        let start = from + i;
        from = start + "config".len();
        let before = &text[..start];
        let ident_before = before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let line = &before[before.rfind('\n').map_or(0, |n| n + 1)..];
        // Inside a Jinja expression, not in a SQL comment.
        let in_jinja = before
            .rfind("{{")
            .is_some_and(|o| before.rfind("}}").is_none_or(|c| c < o));
        let after = &text[from..];
        let Some(args) = after.trim_start().strip_prefix('(') else {
            continue;
        };
        if ident_before || line.contains("--") || !in_jinja {
            continue;
        }
        first_call.get_or_insert(start..from);
        let args_start = text.len() - args.len();
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut chars = args.char_indices().peekable();
        while let Some((j, c)) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(' | '[' | '{') => depth += 1,
                (None, ')') if depth == 0 => break,
                (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
                (None, c) if depth == 0 && (c.is_alphabetic() || c == '_') => {
                    let rest = &args[j..];
                    let len = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    let after_key = rest[len..].trim_start();
                    if after_key.starts_with('=') && !after_key.starts_with("==") {
                        keys.entry(rest[..len].to_string())
                            .or_insert(args_start + j..args_start + j + len);
                    }
                    for _ in 1..rest[..len].chars().count() {
                        chars.next();
                    }
                }
                _ => {}
            }
        }
    }
    (first_call, keys)
}

/// Names and name ranges of the `{% macro name(...) %}` definitions in a file.
fn macro_names(text: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(i) = text[rest..].find("{%") {
        let tag_start = rest + i + 2;
        let body = &text[tag_start..];
        let trimmed = body.trim_start_matches(['-', '+', '~']).trim_start();
        if let Some(after) = trimmed.strip_prefix("macro") {
            if after.starts_with(char::is_whitespace) {
                let name_start = text.len() - after.trim_start().len();
                let name: String = text[name_start..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((name.clone(), name_start..name_start + name.len()));
                }
            }
        }
        rest = tag_start;
    }
    out
}

fn jinja_diagnostic(
    e: &Error,
    file: &SourceFile,
    prefix_len: usize,
    pending: Option<FunctionError>,
) -> Diagnostic {
    let in_this_file = e.name().is_none_or(|n| n == &*file.path);
    let text: &str = &file.text;
    let range = match e.range() {
        Some(r) if in_this_file => {
            r.start.saturating_sub(prefix_len).min(text.len())
                ..r.end.saturating_sub(prefix_len).min(text.len())
        }
        Some(r) => r,
        None if in_this_file => {
            let line = e.line().unwrap_or(1);
            locate_without_range(text, line, e.detail())
        }
        None => {
            let start = 0;
            start..start
        }
    };
    // minijinja's range of an unexpected character is one byte, also
    // where the character takes several.
    let range = if in_this_file {
        let mut start = range.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = range.end.clamp(start, text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        start..end
    } else {
        range
    };
    let path: Arc<str> = match e.name() {
        Some(n) if !in_this_file => Arc::from(n),
        _ => Arc::clone(&file.path),
    };
    if let Some(f) = pending {
        let mut d = Diagnostic::new(f.code, f.message)
            .at(Span::new(&path, range))
            .help(f.help);
        if !in_this_file {
            d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
        }
        return d;
    }
    let detail = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    if e.kind() == ErrorKind::SyntaxError {
        if detail.contains("unexpected end of input") && in_this_file {
            if let Some((tag, open)) = unclosed_block(text) {
                return Diagnostic::new(Code::E0101, format!("`{{% {tag} %}}` is never closed"))
                    .at_file(&file.path, open)
                    .help(format!("add `{{% end{tag} %}}` where the block ends"));
            }
        }
        let mut d = Diagnostic::new(Code::E0101, format!("Jinja syntax error: {detail}"))
            .at(Span::new(&path, range))
            .help("check the `{{ }}` and `{% %}` around this point");
        if !in_this_file {
            d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
        }
        return d;
    }
    if e.kind() == ErrorKind::OutOfFuel {
        let mut d = Diagnostic::new(
            Code::E0121,
            format!(
                "rendering stopped here: the template did more work than one render may do ({} steps)",
                limits::FUEL
            ),
        )
        .at(Span::new(&path, range))
        .help("a loop or a macro runs far more often than a model needs; make the loop smaller");
        if !in_this_file {
            d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
        }
        return d;
    }
    let help = match e.kind() {
        ErrorKind::UndefinedError => {
            "the name is not defined: use var('name', default) for settings, or define it with {% set %}"
        }
        ErrorKind::UnknownFunction => {
            "define it as a macro in macros/*.sql, or use one of ref, source, config, var, env_var, is_incremental"
        }
        _ => "check the expression at this point",
    };
    let mut d = Diagnostic::new(Code::E0102, format!("Jinja error: {detail}"))
        .at(Span::new(&path, range))
        .help(help);
    if !in_this_file {
        d = d.related(Span::new(&file.path, 0..0), "while rendering this file");
    }
    d
}

/// Where an error that minijinja gave only a line for belongs. A call
/// written over several lines loses its range and reports the line where
/// it ends, so the line start pointed at the wrong place: the name the
/// error message gives (`nope is unknown`) in the expression around that
/// line, else the start of that expression, else the start of the line.
fn locate_without_range(text: &str, line: usize, detail: Option<&str>) -> Range<usize> {
    use crate::diagnostic::offset_of;
    let line_start = offset_of(text, line, 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let before = &text[..line_end];
    let open = match (before.rfind("{{"), before.rfind("{%")) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => match a.or(b) {
            Some(o) => o,
            None => return line_start..line_start,
        },
    };
    let close_pat = if text[open..].starts_with("{{") {
        "}}"
    } else {
        "%}"
    };
    let close = text[open..]
        .find(close_pat)
        .map_or(text.len(), |i| open + i);
    if close < line_start {
        return line_start..line_start;
    }
    let tag = &text[open + 2..close];
    let word_at = |at: usize| {
        let len = text[at..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len() - at);
        let len = if len == 0 {
            text[at..].chars().next().map_or(0, char::len_utf8)
        } else {
            len
        };
        at..at + len
    };
    let name = detail
        .and_then(|d| d.strip_suffix(" is unknown"))
        .and_then(|d| d.rsplit(' ').next())
        .filter(|n| !n.is_empty());
    if let Some(name) = name {
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        let mut from = 0;
        while let Some(i) = tag[from..].find(name) {
            let at = from + i;
            let end = at + name.len();
            let bounded = !tag[..at].ends_with(is_ident) && !tag[end..].starts_with(is_ident);
            if bounded {
                return open + 2 + at..open + 2 + end;
            }
            from = end;
        }
    }
    let head = tag.len() - tag.trim_start_matches(['-', '+', '~']).trim_start().len();
    if open + 2 + head < close {
        return word_at(open + 2 + head);
    }
    line_start..line_start
}

/// The innermost block opened in `text` and never closed, with the range of
/// its opening tag.
fn unclosed_block(text: &str) -> Option<(String, Range<usize>)> {
    const BLOCKS: &[&str] = &[
        "if",
        "for",
        "macro",
        "call",
        "filter",
        "raw",
        "with",
        "block",
        "autoescape",
    ];
    let mut stack: Vec<(String, Range<usize>)> = Vec::new();
    let mut rest = 0;
    let mut in_raw = false;
    while let Some(i) = text[rest..].find("{%") {
        let start = rest + i;
        let Some(close) = text[start..].find("%}") else {
            break;
        };
        let end = start + close + 2;
        let inner = text[start + 2..end - 2]
            .trim_matches(['-', '+', '~'])
            .trim();
        let word: String = inner
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if in_raw {
            if word == "endraw" {
                in_raw = false;
                stack.pop();
            }
        } else if BLOCKS.contains(&word.as_str()) {
            in_raw = word == "raw";
            stack.push((word, start..end));
        } else if word == "set" && !inner.contains('=') {
            stack.push((word, start..end));
        } else if let Some(closed) = word.strip_prefix("end") {
            if let Some(pos) = stack.iter().rposition(|(w, _)| w == closed) {
                stack.truncate(pos);
            }
        }
        rest = end;
    }
    stack.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: Arc::from(path),
            text: Arc::from(text),
        }
    }

    fn render(
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

    #[test]
    fn finds_config_keys() {
        let text = "-- config(x=1)\n{{\n  config (\n    materialized='table',\n    indexes=[{'columns': ['a']}], tags=['x'])\n}}\nselect 1";
        let (call, keys) = config_call_spans(text);
        assert_eq!(&text[call.unwrap()], "config");
        assert_eq!(&text[keys["materialized"].clone()], "materialized");
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert_eq!(crate::diagnostic::line_col(text, keys["tags"].start).0, 5);
    }

    #[test]
    fn finds_macro_names() {
        let names =
            macro_names("{% macro a(x) %}{% endmacro %}\n{%- macro b_2() -%}{% endmacro %}");
        let names: Vec<_> = names.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b_2"]);
    }

    #[test]
    fn the_nth_call_of_a_macro_is_found_where_it_is_written() {
        let text = "{{ p.m(1) }} {{ my_m(2) }} {{ m(3) }} {{ m(4) }}";
        assert_eq!(caller_range(text, "m", 1), Some(30..34));
        assert_eq!(caller_range(text, "m", 2), Some(41..45));
        // A loop calls more often than the text says: the last written.
        assert_eq!(caller_range(text, "m", 5), Some(41..45));
        assert_eq!(caller_range(text, "p.m", 1), Some(3..9));
    }
}
