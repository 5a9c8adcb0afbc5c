//! Jinja in a schema file's config values, rendered as dbt renders them:
//! `config: {schema: "{{ var('prefix', 'x') }}_marts"}` on a model or seed,
//! and a source's `schema:` and `identifier:` (with `var`, `env_var` and
//! `target`). The schema files are parsed before the profile is known; the
//! values are rendered here, once it is.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::ConfigLayer;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::schema::SchemaFile;

fn has_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Renders every Jinja config value of `layer` in place; `place` names the
/// file kind in a diagnostic.
pub fn render_layer(
    layer: &mut ConfigLayer,
    vars: &BTreeMap<String, serde_json::Value>,
    target: Option<&serde_json::Value>,
    place: &str,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (key, entry) in layer.iter_mut() {
        // Hooks are rendered per node, with `this`, as dbt does.
        if key == "pre_hook" || key == "post_hook" {
            continue;
        }
        if !contains_jinja(&entry.value) {
            continue;
        }
        if let Err(message) = render_json(&mut entry.value, vars, target) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0034,
                    format!("this {place} value cannot be rendered: {message}"),
                )
                .at(entry.span.clone())
                .help(format!("{place} values may use var(), env_var() and target; give var() a default or set the var")),
            );
        }
    }
}

fn contains_jinja(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => has_jinja(text),
        serde_json::Value::Array(items) => items.iter().any(contains_jinja),
        serde_json::Value::Object(map) => map.values().any(contains_jinja),
        _ => false,
    }
}

/// Every text in `value` (lists and mappings too, as dbt's renderer walks
/// them) rendered and read back as a value.
fn render_json(
    value: &mut serde_json::Value,
    vars: &BTreeMap<String, serde_json::Value>,
    target: Option<&serde_json::Value>,
) -> Result<(), String> {
    match value {
        serde_json::Value::String(text) if has_jinja(text) => {
            *value = super::rendered_value(super::profiles::render_value(text, vars, target)?);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                render_json(item, vars, target)?;
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values_mut() {
                render_json(item, vars, target)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A source's name-giving text rendered in place.
fn render_name(
    text: &mut String,
    span: &Span,
    vars: &BTreeMap<String, serde_json::Value>,
    target: Option<&serde_json::Value>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if !has_jinja(text) {
        return;
    }
    match super::profiles::render_value(text, vars, target) {
        Ok(out) => *text = out,
        Err(message) => diagnostics.push(
            Diagnostic::new(
                Code::E0034,
                format!("this schema file value cannot be rendered: {message}"),
            )
            .at(span.clone())
            .help("a source's schema and identifier may use var(), env_var() and target; give var() a default or set the var"),
        ),
    }
}

/// Renders the Jinja config values of every model, seed and source of
/// `files`.
pub fn render(
    files: &mut [SchemaFile],
    vars: &BTreeMap<String, serde_json::Value>,
    target: Option<&serde_json::Value>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for file in files {
        for model in &mut file.models {
            let jinja = model.config.values().any(|e| contains_jinja(&e.value));
            if jinja {
                let model = Arc::make_mut(model);
                render_layer(&mut model.config, vars, target, "schema file", diagnostics);
            }
        }
        for seed in &mut file.seeds {
            if seed.config.values().any(|e| contains_jinja(&e.value)) {
                render_layer(&mut seed.config, vars, target, "schema file", diagnostics);
                let declared = crate::schema::declared_types(&seed.config);
                seed.column_types.extend(declared);
            }
        }
        for source in &mut file.sources {
            let span = source.span.clone();
            render_name(&mut source.schema, &span, vars, target, diagnostics);
            for table in &mut source.tables {
                let span = table.span.clone();
                render_name(&mut table.identifier, &span, vars, target, diagnostics);
            }
        }
    }
}
