//! Render: Jinja SQL to plain SQL, with a map back to the user's file.
//!
//! Each model is rendered with minijinja. The functions dbt users know
//! (`ref`, `source`, `config`, `var`, `env_var`, `is_incremental`, `this`)
//! record what they were called with in a per-render [`Scope`] object that
//! travels in the template context, so renders share nothing and run in
//! parallel. Macros from `macros/` are imported into every model by a prefix
//! on its first line, which keeps the model's line numbers intact.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, OutputSpanKind, State, UndefinedBehavior};

use self::dbt::context::Frame;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::project::SourceFile;
use crate::relation::Relation;

pub mod cache;
pub mod cache_file;
mod functions;
mod locate;
mod relation_object;

pub(crate) use self::functions::SCOPE_KEY;
use self::functions::{
    caller_range, env_var_fn, is_incremental_fn, pending_failure, ref_fn, scope, source_fn, var_fn,
    ConfigObject, Scope,
};
pub use self::locate::{call_span, config_call_spans};
use self::locate::{jinja_diagnostic, macro_names};

pub mod dbt;
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

/// Everything a render recorded, in call order.
#[derive(Debug, Default, Clone)]
pub struct Calls {
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
    /// Keyword arguments of each `config()` call.
    pub configs: Vec<BTreeMap<String, serde_json::Value>>,
    pub vars: BTreeSet<String>,
    pub env_vars: BTreeSet<String>,
    /// dbt's `depends_on.macros`: the macros the file itself calls
    /// (`macro.<package>.<name>`), not those they call in turn.
    pub macros: BTreeSet<String>,
}

/// A failure of one of our functions, with its code, kept until the render
/// returns (minijinja errors carry only a kind and a message).
#[derive(Debug, Clone)]
struct FunctionError {
    code: Code,
    message: String,
    help: String,
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
    /// A dbt project's files get mutable `{% set %}` lists and dicts, as
    /// its macro files do (Python's lists take `append`).
    mutable_sets: bool,
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
    /// context of [`dbt::context`].
    pub dbt: Option<Arc<crate::dbt::DbtMacros>>,
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
        // Jinja2's default undefined, as dbt renders with it, in a dbt
        // project: packages print names they set only in one branch
        // (dbt_utils' `{{ groupby_gb_cols }}`). A stackc project keeps the
        // error for a misspelled name.
        env.set_undefined_behavior(if options.dbt_whitespace {
            UndefinedBehavior::Lenient
        } else {
            UndefinedBehavior::Strict
        });
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
        env.add_global("config", Value::from_object(ConfigObject));
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
                Err(e) => diagnostics.push(jinja_diagnostic(&e, file, &|x| x, None)),
            }
        }
        if let Some(dbt) = &options.dbt {
            self::dbt::context::install(&mut env, macros, dbt, diagnostics);
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
            mutable_sets: options.dbt.is_some(),
        }
    }

    /// Renders a SQL snippet that is not a file of its own (a hook from a
    /// config), with the project's macros, `this` and the relations, and
    /// a node's hook with the node's `model` and `graph` (dbt renders a
    /// hook in its node's context); errors point at `at`, where the
    /// snippet was written.
    pub fn render_snippet(
        &self,
        text: &str,
        this: Option<Relation>,
        node: (Option<Value>, Option<Value>),
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
        let (model, graph) = node;
        let ctx = minijinja::context! {
            __stackc_scope => Value::from_dyn_object(Arc::clone(&scope)),
            __stackc_frame => Value::from_dyn_object(Arc::clone(&frame)),
            this => this,
            model => model.unwrap_or(Value::UNDEFINED),
            graph => graph.unwrap_or(Value::UNDEFINED),
            execute => relations.complete,
            run_started_at => Value::from_object(dbt::context::clock::RunStartedAt(Some(Arc::clone(&frame)))),
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
            self::dbt::context::FRAME_KEY.into(),
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
        // A model's text gets the rewrite of mutable literals only
        // (`.append`, `.update`), with its offsets mapped back below; timedelta
        // arithmetic stays a macro-file rewrite.
        let (body, inserts) = if self.mutable_sets {
            dbt::context::mutable_literals(&file.text)
        } else {
            (file.text.to_string(), Vec::new())
        };
        let source = format!("{}{}", self.prefix, body);
        let prefix_len = self.prefix.len();
        // The template's offsets back to the user's file.
        let shift = |x: usize| {
            dbt::context::original_offset(&inserts, x.saturating_sub(prefix_len))
                .min(file.text.len())
        };
        let template = self
            .env
            .template_from_named_str(&file.path, &source)
            .map_err(|e| jinja_diagnostic(&e, file, &shift, None))?;
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
            // The node again, where a macro's `model` argument cannot hide
            // it (`should_store_failures()` reads its configs).
            __stackc_model => input.model.clone().unwrap_or(Value::UNDEFINED),
            model => input.model.unwrap_or(Value::UNDEFINED),
            graph => input.graph.unwrap_or(Value::UNDEFINED),
            // dbt's parse phase renders with `execute` false and its
            // compile phase with true: discovery is stackc's parse.
            execute => input.relations.complete,
            run_started_at => Value::from_object(dbt::context::clock::RunStartedAt(Some(Arc::clone(&frame)))),
        };
        let result = template.render_with_spans(ctx);
        let calls = scope.calls.lock().map(|c| c.clone()).unwrap_or_default();
        let (sql, out_spans) = match result {
            Ok(ok) => ok,
            Err(e) => {
                let pending = pending_failure(&scope, &frame);
                let mut d = jinja_diagnostic(&e, file, &shift, pending);
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

#[cfg(test)]
mod tests;
