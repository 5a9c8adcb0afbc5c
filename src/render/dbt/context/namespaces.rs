//! Macro namespaces (`dbt_utils.star(...)`) and calls into them.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use crate::diagnostic::Code;

use super::{fail, frame, Registry, FRAME_KEY, MACRO_PREFIX, SCOPE_KEY};

/// Calls macro `name` of `package`: evaluates its file (so the macros beside
/// it are defined) and calls the renamed definition, catching `return()`.
pub(super) fn call_macro(
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
        if let Ok(scope) = super::super::super::functions::scope(state) {
            scope.record(|c| {
                c.macros.insert(format!("macro.{package}.{name}"));
            });
        }
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
        // dbt's `model` is the node wherever a macro is called from, not
        // a calling macro's `model` argument (a generic test's relation).
        __stackc_model => state.lookup("__stackc_model").unwrap_or_default(),
        model => state
            .lookup("__stackc_model")
            .filter(|m| !m.is_undefined())
            .or_else(|| state.lookup("model"))
            .unwrap_or_default(),
        graph => state.lookup("graph").unwrap_or_default(),
        run_started_at => state.lookup("run_started_at").unwrap_or_default(),
        // The render's phase (false in discovery), not the global default.
        execute => state.lookup("execute").unwrap_or(Value::from(true)),
    };
    let frame = frame(state);
    let mut captured = template.render_captured(ctx)?;
    let inner = format!("{MACRO_PREFIX}{name}");
    captured.with_state_mut(|st| match st.lookup(&inner) {
        Some(m) => {
            match super::super::macro_args::spread_for(&m, args).and_then(|a| m.call(st, &a)) {
                Ok(v) => Ok(v),
                Err(e) => match frame.as_ref().and_then(|f| f.take_return()) {
                    Some(v) => Ok(v),
                    None => Err(e),
                },
            }
        }
        None => Err(Error::new(
            ErrorKind::UnknownFunction,
            format!("macro `{name}` is not defined in {path}"),
        )),
    })
}

/// `dbt_utils`, `dbt`, the root project's name: `ns.macro(...)`.
#[derive(Debug)]
pub(super) struct Namespace {
    pub(super) registry: Arc<Registry>,
    pub(super) package: String,
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
pub(super) struct MacroRef {
    pub(super) registry: Arc<Registry>,
    pub(super) package: String,
    pub(super) name: String,
    pub(super) called_as: String,
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
