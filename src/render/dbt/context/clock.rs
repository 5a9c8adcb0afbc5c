//! dbt's `run_started_at`: the time the run started, which stackc has no
//! value for. A compiled artifact may not depend on when it was compiled,
//! so any use of it (printed, a method, an attribute) is E0157 naming the
//! way out, never a made-up time.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error, State};

use crate::diagnostic::Code;

use super::{Failure, Frame};

const MESSAGE: &str = "run_started_at is the time the run started, and a compiled artifact may not depend on when it was compiled";
const HELP: &str = "write `{{ dbt.current_timestamp() }}` (the database's time when the model runs), or pass the time in a var: `var('run_started_at')`, set under `vars:` or with --vars";

/// `run_started_at` of one render: its frame takes the failure when the
/// value is printed (rendering has no `State` to report through).
#[derive(Debug)]
pub(crate) struct RunStartedAt(pub(crate) Option<Arc<Frame>>);

fn failure() -> Failure {
    Failure {
        code: Code::E0157,
        message: MESSAGE.into(),
        help: HELP.into(),
    }
}

impl Object for RunStartedAt {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        _method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        Err(super::fail(state, Code::E0157, MESSAGE.into(), HELP.into()))
    }

    fn render(self: &Arc<Self>, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(frame) = &self.0 {
            if let Ok(mut slot) = frame.failure.lock() {
                slot.get_or_insert_with(failure);
            }
        }
        Err(fmt::Error)
    }
}
