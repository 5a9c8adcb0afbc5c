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

/// A Jinja argument: `"{{ var('types') }}"`, not `ref('m')`, which stays
/// the reference the test kinds read.
fn is_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// A rendered argument as dbt's native renderer gives it: the Python
/// literal the text spells (`['a', 'b']`, `10`, `True`), as its
/// `literal_eval`, else the text.
fn native_value(text: &str) -> serde_json::Value {
    let mut chars = text.trim().chars().peekable();
    match literal(&mut chars) {
        Some(v) if chars.next().is_none() && !v.is_string() => v,
        _ => serde_json::Value::String(text.to_string()),
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_space(chars: &mut Chars<'_>) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

/// One Python literal: a string, number, boolean, `None`, list, tuple or
/// dict of literals.
fn literal(chars: &mut Chars<'_>) -> Option<serde_json::Value> {
    skip_space(chars);
    let v = match *chars.peek()? {
        q @ ('\'' | '"') => {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next()? {
                    '\\' => s.push(chars.next()?),
                    c if c == q => break,
                    c => s.push(c),
                }
            }
            serde_json::Value::String(s)
        }
        open @ ('[' | '(' | '{') => {
            chars.next();
            let close = match open {
                '[' => ']',
                '(' => ')',
                _ => '}',
            };
            let mut items = Vec::new();
            let mut map = serde_json::Map::new();
            loop {
                skip_space(chars);
                if chars.next_if_eq(&close).is_some() {
                    break;
                }
                let item = literal(chars)?;
                if open == '{' {
                    skip_space(chars);
                    chars.next_if_eq(&':')?;
                    let key = item.as_str()?.to_string();
                    map.insert(key, literal(chars)?);
                } else {
                    items.push(item);
                }
                skip_space(chars);
                if chars.next_if_eq(&',').is_none() {
                    skip_space(chars);
                    chars.next_if_eq(&close)?;
                    break;
                }
            }
            if open == '{' {
                serde_json::Value::Object(map)
            } else {
                serde_json::Value::Array(items)
            }
        }
        _ => {
            let mut word = String::new();
            while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || "._-+".contains(*c)) {
                word.push(c);
            }
            match word.as_str() {
                "True" => serde_json::Value::Bool(true),
                "False" => serde_json::Value::Bool(false),
                "None" => serde_json::Value::Null,
                w => serde_json::from_str::<serde_json::Number>(w)
                    .ok()
                    .map(serde_json::Value::Number)?,
            }
        }
    };
    skip_space(chars);
    Some(v)
}

impl Cx<'_> {
    /// `text` rendered as Jinja of the test `spec`'s schema file, with the
    /// generic tests' relations and vars. dbt's `model` is the test node,
    /// as far as its configs go: `should_store_failures()` reads them.
    fn render_in(
        &self,
        spec: &TestSpec,
        text: &str,
    ) -> Result<crate::render::Rendered, Diagnostic> {
        let file = SourceFile {
            path: Arc::clone(&spec.span.file),
            text: Arc::from(text),
        };
        let kind = spec.store.kind();
        let node = serde_json::json!({
            "resource_type": "test",
            "config": {
                "store_failures": kind.is_some(),
                "store_failures_as": kind,
            },
        });
        self.generic.renderer.render(RenderInput {
            file: &file,
            relations: self.generic.relations,
            vars: self.generic.vars,
            this: None,
            is_incremental: false,
            model: Some(minijinja::Value::from(minijinja::value::Serde(node))),
            graph: None,
        })
    }

    /// The entry with its Jinja arguments rendered natively, as dbt renders
    /// test kwargs (`values: "{{ var('types') }}"` is the list), or
    /// `Some(None)` when it has none; `None` when one fails (reported).
    pub(super) fn native_args(
        &self,
        spec: &TestSpec,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Option<TestSpec>> {
        if !spec.args.values().any(|v| v.as_str().is_some_and(is_jinja)) {
            return Some(None);
        }
        let mut out = spec.clone();
        for value in out.args.values_mut() {
            let Some(text) = value.as_str().filter(|t| is_jinja(t)) else {
                continue;
            };
            let rendered = self.render_in(spec, text);
            match rendered {
                Ok(r) => *value = native_value(&r.sql),
                Err(mut d) => {
                    d.primary = Some(spec.span.clone());
                    d.message = format!("generic test `{}` argument: {}", spec.kind, d.message);
                    diagnostics.push(d);
                    return None;
                }
            }
        }
        Some(Some(out))
    }

    /// A `{% test %}` block's macro called with dbt's arguments: `model`
    /// (the Jinja expression passed as it), `column_name` when under a
    /// column, and the entry's own. Returns the SQL and the nodes it
    /// refers to.
    fn render_generic(
        &self,
        model: &str,
        column: Option<&str>,
        spec: &TestSpec,
        package: Option<&str>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<(String, Vec<String>)> {
        // A test that compares with a model that is not built (it failed,
        // or needs a database; already reported) cannot run either, as a
        // test of that model is not made.
        let reads_unbuilt = spec.args.values().any(|v| {
            v.as_str()
                .and_then(crate::schema::parse_input)
                .is_some_and(|i| matches!(i, crate::schema::UnitInputKind::Ref(name) if self.failed.contains(&name)))
        });
        if reads_unbuilt {
            return None;
        }
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
        let rendered = self.render_in(spec, &call);
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

    /// dbt reads a rendered test argument with `literal_eval`.
    #[test]
    fn rendered_arguments_are_python_literals() {
        use serde_json::json;
        assert_eq!(native_value("['a', \"b\"]"), json!(["a", "b"]));
        assert_eq!(native_value(" (1, 2.5) "), json!([1, 2.5]));
        assert_eq!(
            native_value("{'k': [True, None]}"),
            json!({"k": [true, null]})
        );
        assert_eq!(native_value("False"), json!(false));
        assert_eq!(native_value("10"), json!(10));
        assert_eq!(native_value("'a'"), json!("'a'"));
        assert_eq!(native_value("my_table"), json!("my_table"));
        assert_eq!(native_value("[a, b]"), json!("[a, b]"));
    }

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
