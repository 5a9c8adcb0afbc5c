//! The dbt_utils generic tests stackc implements itself, so that a project
//! needs no package for them.

use crate::diagnostic::Diagnostic;

use super::{Call, Cx, GenericTest, Made};

/// Values between `min_value` and `max_value`, either of which may be left
/// out; a bound is SQL, as dbt_utils pastes it.
pub(super) struct AcceptedRange;

impl GenericTest for AcceptedRange {
    fn sql(&self, _: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made> {
        let c = call.needs_column("accepted_range", diagnostics)?;
        let bound = |key: &str| {
            call.arg(key).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let (min, max) = (bound("min_value"), bound("max_value"));
        if min.is_none() && max.is_none() {
            diagnostics.push(call.fail(
                "`accepted_range` needs `min_value`, `max_value` or both".into(),
                "write accepted_range: {min_value: 0, inclusive: true}",
            ));
            return None;
        }
        let inclusive = call
            .arg("inclusive")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        let (lo, hi) = if inclusive { (">=", "<=") } else { (">", "<") };
        let mut conditions = Vec::new();
        if let Some(min) = min {
            conditions.push(format!("{c} {lo} {min}"));
        }
        if let Some(max) = max {
            conditions.push(format!("{c} {hi} {max}"));
        }
        Made::of(format!(
            "select *\nfrom {}\nwhere not ({})\n",
            call.from,
            conditions.join(" and ")
        ))
    }
}

/// An expression every row satisfies; under a column, the expression
/// continues the column (`expression: ">= 0"`).
pub(super) struct ExpressionIsTrue;

impl GenericTest for ExpressionIsTrue {
    fn sql(&self, _: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made> {
        let Some(expr) = call.arg("expression").and_then(|v| v.as_str()) else {
            diagnostics.push(call.fail(
                "`expression_is_true` needs `expression`".into(),
                "write expression_is_true: {expression: \"amount >= 0\"}",
            ));
            return None;
        };
        let from = call.from;
        Made::of(match call.under {
            Some(c) => format!("select *\nfrom {from}\nwhere not ({c} {expr})\n"),
            None => format!("select *\nfrom {from}\nwhere not ({expr})\n"),
        })
    }
}
