//! Jinja in a generic test's settings, rendered as dbt renders them:
//! `severity: "{{ 'warn' if target.type == 'spark' else 'error' }}"` or
//! `enabled: "{{ target.type != 'bigquery' }}"` (dbt-expectations writes
//! both). The schema files are parsed before the profile is known, so the
//! parser keeps such values aside (`TestSpec::jinja`) and they are applied
//! here, with `var`, `env_var` and `target` (none in a stackc project).

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::schema::{self, SchemaFile, TestSpec};

/// Renders and applies the Jinja settings of every test in `files`.
pub fn render(
    files: &mut [SchemaFile],
    vars: &BTreeMap<String, serde_json::Value>,
    target: Option<&serde_json::Value>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for file in files {
        schema::for_each_test_mut(file, &mut |spec: &mut TestSpec| {
            for (key, value) in std::mem::take(&mut spec.jinja) {
                let Some(text) = value.as_str() else { continue };
                let problem = match super::profiles::render_value(text, vars, target) {
                    Ok(out) => {
                        let value = super::rendered_value(out);
                        match schema::apply_test_setting(spec, &key, &value) {
                            Ok(()) => continue,
                            Err(problem) => {
                                format!("`{key}: {text}` renders to {value}: {problem}")
                            }
                        }
                    }
                    Err(message) => format!("`{key}: {text}` cannot be rendered: {message}"),
                };
                diagnostics.push(
                    Diagnostic::new(Code::E0310, format!("invalid test: {problem}"))
                        .at(spec.span.clone())
                        .help("a test setting may use var(), env_var() and target; give var() a default or set the var"),
                );
            }
        });
    }
}
