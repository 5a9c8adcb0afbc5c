//! Generic tests a project or a package defines: their macro, called with
//! dbt's arguments.

use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{ref_id, source_id};
use crate::project::SourceFile;
use crate::render::RenderInput;
use crate::schema::TestSpec;

use super::{Call, Cx, GenericTest, Made};

/// A `{% test %}` block of the project (`package: None`) or of a package.
pub(super) struct Macro {
    pub package: Option<String>,
}

impl GenericTest for Macro {
    fn sql(&self, cx: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made> {
        // dbt passes `model` as get_where_subquery(ref(...)): the relation
        // itself (packages check it is one), or with a `where`, the
        // filtered subquery as text.
        let model = match &call.spec.where_clause {
            None => call
                .target
                .model_arg
                .trim_start_matches("{{")
                .trim_end_matches("}}")
                .trim()
                .to_string(),
            Some(_) => serde_json::Value::String(call.from.to_string()).to_string(),
        };
        let (sql, refs) = cx.render_generic(
            &model,
            call.column,
            call.spec,
            self.package.as_deref(),
            diagnostics,
        )?;
        let mut depends_on: Vec<String> = Vec::new();
        for r in refs {
            if r != call.target.id && !depends_on.contains(&r) {
                depends_on.push(r);
            }
        }
        Some(Made { sql, depends_on })
    }
}

/// A YAML value as a Jinja literal, to pass it to a test macro.
fn jinja_literal(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "none".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        // `compare_model: ref('m')` is the relation, as dbt renders it.
        serde_json::Value::String(text) => match crate::schema::parse_input(text) {
            Some(crate::schema::UnitInputKind::Ref(name)) => {
                format!("ref({})", serde_json::Value::String(name))
            }
            Some(crate::schema::UnitInputKind::Source(source, table)) => format!(
                "source({}, {})",
                serde_json::Value::String(source),
                serde_json::Value::String(table)
            ),
            // A JSON string is a valid Jinja string literal.
            _ => value.to_string(),
        },
        serde_json::Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(jinja_literal).collect();
            format!("[{}]", inner.join(", "))
        }
        serde_json::Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        serde_json::Value::String(k.clone()),
                        jinja_literal(v)
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

impl Cx<'_> {
    /// A project's own generic test: its macro called with dbt's arguments
    /// (`model`, `column_name` when under a column, and the entry's own).
    /// Returns the SQL and the nodes it refers to.
    /// A generic test of a `{% test %}` block; `model` is the Jinja
    /// expression passed as its `model` argument.
    fn render_generic(
        &self,
        model: &str,
        column: Option<&str>,
        spec: &TestSpec,
        package: Option<&str>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<(String, Vec<String>)> {
        let namespace = package.map(|p| format!("{p}.")).unwrap_or_default();
        let mut call = format!("{{{{ {namespace}test_{}(model={model}", spec.kind);
        let mut args = spec.args.clone();
        if let Some(c) = column {
            args.insert(
                "column_name".into(),
                serde_json::Value::String(c.to_string()),
            );
        }
        for (k, v) in &args {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                diagnostics.push(
                    Diagnostic::new(Code::E0310, format!("`{k}` is not a valid argument name"))
                        .at(spec.span.clone())
                        .help("name test arguments with letters, digits and `_`"),
                );
                return None;
            }
            call.push_str(&format!(", {k}={}", jinja_literal(v)));
        }
        call.push_str(") }}\n");
        let file = SourceFile {
            path: Arc::clone(&spec.span.file),
            text: Arc::from(call),
        };
        let rendered = self.generic.renderer.render(RenderInput {
            file: &file,
            relations: self.generic.relations,
            vars: self.generic.vars,
            this: None,
            is_incremental: false,
            model: None,
            graph: None,
        });
        match rendered {
            Ok(r) => {
                let refs = r
                    .calls
                    .refs
                    .iter()
                    .filter(|n| self.models.contains_key(*n) || self.seeds.contains_key(*n))
                    .map(|n| ref_id(self.project, n, self.seeds))
                    .chain(
                        r.calls
                            .sources
                            .iter()
                            .filter(|k| self.sources.contains_key(*k))
                            .map(|(s, t)| source_id(self.project, s, t)),
                    )
                    .collect();
                Some((r.sql, refs))
            }
            Err(mut d) => {
                // An error in the call itself is the test entry's; one in
                // the macro keeps the macro's line.
                if d.primary.as_ref().is_none_or(|p| p.file == spec.span.file) {
                    d.primary = Some(spec.span.clone());
                    d.message = format!("generic test `{}`: {}", spec.kind, d.message);
                }
                diagnostics.push(d);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dbt renders `compare_model: ref('m')` as the relation.
    #[test]
    fn ref_and_source_arguments_are_relations() {
        let lit = |v: serde_json::Value| jinja_literal(&v);
        assert_eq!(lit(serde_json::json!("ref('m')")), "ref(\"m\")");
        assert_eq!(
            lit(serde_json::json!("source('raw', 't')")),
            "source(\"raw\", \"t\")"
        );
        assert_eq!(lit(serde_json::json!("refs are fine")), "\"refs are fine\"");
        assert_eq!(lit(serde_json::json!(["ref('a')", 1])), "[ref(\"a\"), 1]");
    }

    #[test]
    fn yaml_values_are_jinja_literals() {
        assert_eq!(
            jinja_literal(&serde_json::json!({"a": [1, null, true, "x\"y"]})),
            r#"{"a": [1, none, true, "x\"y"]}"#
        );
    }
}
