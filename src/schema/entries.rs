//! Raw entries turned into checked ones, each value pointing at where it is
//! written.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{offset_of, Code, Diagnostic, Span};
use crate::project::SourceFile;

use super::data_tests::{parse_input, parse_test, TEST_SETTINGS};
use super::raw::{RawColumn, RawUnitTest, RawVersion};
use super::{Column, ModelVersion, Strict, TestSpec, UnitInput, UnitTest};

pub(super) struct Cx<'a> {
    pub(super) file: &'a SourceFile,
    /// Findings of the test entries, which dbt accepts (see [`Strict`]).
    pub(super) strict: std::cell::RefCell<Vec<Strict>>,
}

impl Cx<'_> {
    pub(super) fn unit_test(
        &self,
        u: RawUnitTest,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<UnitTest> {
        let span = self.span(&u.name);
        let fail = |at: Span, message: String, help: &str| {
            Diagnostic::new(Code::E0311, message)
                .at(at)
                .help(help.to_string())
        };
        let mut ok = true;
        for (format, at) in u
            .given
            .iter()
            .map(|g| (&g.format, self.span(&g.input)))
            .chain(std::iter::once((
                &u.expect.value.format,
                self.span(&u.expect),
            )))
        {
            if format.as_deref().is_some_and(|f| f != "dict") {
                diagnostics.push(fail(
                    at,
                    format!(
                        "unit test rows in format `{}` are not supported",
                        format.as_deref().unwrap_or("")
                    ),
                    "write rows as mappings (format: dict), e.g. rows: [{id: 1, status: 'paid'}]",
                ));
                ok = false;
            }
        }
        let mut given = Vec::new();
        for g in u.given {
            let at = self.span(&g.input);
            match parse_input(&g.input.value) {
                Some(kind) => given.push(UnitInput {
                    kind,
                    span: at,
                    rows: g.rows,
                }),
                None => {
                    diagnostics.push(fail(
                        at,
                        format!(
                            "`input: {}` is not ref('model'), source('source', 'table') or this",
                            g.input.value
                        ),
                        "name each input as in the model: input: ref('stg_orders')",
                    ));
                    ok = false;
                }
            }
        }
        let is_incremental = match u.overrides.macros.get("is_incremental") {
            None => None,
            Some(serde_json::Value::Bool(b)) => Some(*b),
            Some(_) => {
                diagnostics.push(fail(
                    span.clone(),
                    "`overrides.macros.is_incremental` must be true or false".into(),
                    "write overrides: {macros: {is_incremental: true}}",
                ));
                ok = false;
                None
            }
        };
        if let Some(other) = u.overrides.macros.keys().find(|k| *k != "is_incremental") {
            diagnostics.push(fail(
                span.clone(),
                format!("overriding macro `{other}` is not supported"),
                "only is_incremental can be overridden; vars go under overrides.vars",
            ));
            ok = false;
        }
        if !u.overrides.env_vars.is_empty() {
            diagnostics.push(fail(
                span.clone(),
                "overriding env_vars in a unit test is not supported".into(),
                "use overrides.vars, or set the variable in the environment of `stackc test --unit`",
            ));
            ok = false;
        }
        ok.then(|| UnitTest {
            name: u.name.value,
            span,
            model_span: self.span(&u.model),
            model: u.model.value,
            description: u.description,
            given,
            expect_span: self.span(&u.expect),
            expect: u.expect.value.rows,
            is_incremental,
            vars: u.overrides.vars,
        })
    }

    pub(super) fn span<T>(&self, spanned: &Spanned<T>) -> Span {
        let loc = spanned.referenced;
        let start = loc
            .span()
            .byte_offset()
            .map(|o| o as usize)
            .filter(|o| *o <= self.file.text.len())
            .unwrap_or_else(|| {
                offset_of(&self.file.text, loc.line() as usize, loc.column() as usize)
            });
        let len = loc.span().byte_len().map_or(0, |l| l as usize);
        let end = (start + len).min(self.file.text.len());
        Span::new(&self.file.path, start..end)
    }

    pub(super) fn version(
        &self,
        model: &str,
        v: RawVersion,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> ModelVersion {
        let text = version_text(&v.v.value);
        let columns = v
            .columns
            .into_iter()
            .filter(|c| c.get("name").is_some())
            .filter_map(|c| serde_json::from_value::<VersionColumn>(c).ok())
            .map(|c| Column {
                span: self.span(&v.v),
                name: c.name,
                description: c.description,
                data_type: c.data_type,
                quote: c.quote,
                constraints: c.constraints,
                tests: self.tests(
                    c.tests
                        .into_iter()
                        .chain(c.data_tests)
                        .map(|t| Spanned::new(t, v.v.referenced, v.v.defined))
                        .collect(),
                    Vec::new(),
                    diagnostics,
                ),
            })
            .collect();
        ModelVersion {
            span: self.span(&v.v),
            defined_in: v.defined_in.unwrap_or_else(|| format!("{model}_v{text}")),
            v: text,
            columns,
            tests: self.tests(v.tests, v.data_tests, diagnostics),
        }
    }

    pub(super) fn column(&self, c: RawColumn, diagnostics: &mut Vec<Diagnostic>) -> Column {
        let mut tests = self.tests(c.tests, c.data_tests, diagnostics);
        // dbt gives a column's tests the column's tags.
        let tags = c
            .tags
            .as_ref()
            .and_then(|t| super::data_tests::tag_list(t).ok())
            .unwrap_or_default();
        for t in &mut tests {
            t.column_tags.clone_from(&tags);
        }
        Column {
            span: self.span(&c.name),
            name: c.name.value,
            description: c.description,
            data_type: c.data_type,
            quote: c.quote,
            constraints: c.constraints,
            tests,
        }
    }

    pub(super) fn tests(
        &self,
        tests: Vec<Spanned<serde_json::Value>>,
        data_tests: Vec<Spanned<serde_json::Value>>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Vec<TestSpec> {
        tests
            .into_iter()
            .chain(data_tests)
            .filter_map(|t| {
                let mut span = self.span(&t);
                if span.range.is_empty() {
                    // A mapping-style test is located at its first key: underline the name.
                    let rest = &self.file.text[span.range.start..];
                    let len = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    span.range.end = span.range.start + len;
                }
                let mut unknown = Vec::new();
                let parsed = parse_test(t.value, span.clone(), &mut unknown);
                for key in unknown {
                    self.strict.borrow_mut().push(Strict {
                        native: Code::E0310,
                        diagnostic: Diagnostic::new(
                            Code::W0050,
                            format!("unknown key `{key}` in a test's `config`"),
                        )
                        .at(span.clone())
                        .help(format!("test settings: {}", TEST_SETTINGS.join(", "))),
                    });
                }
                match parsed {
                    Ok(mut spec) => {
                        spec.arg_spans = spec
                            .args
                            .keys()
                            .filter_map(|key| {
                                let at = value_range(&self.file.text, span.range.start, key)?;
                                Some((key.clone(), Span::new(&self.file.path, at)))
                            })
                            .collect();
                        Some(spec)
                    }
                    Err(problem) => {
                        diagnostics.push(
                            Diagnostic::new(Code::E0310, format!("invalid test: {problem}"))
                                .at(span)
                                .help("write a test as `- not_null` or `- accepted_values: {values: ['a', 'b'], severity: warn}`"),
                        );
                        None
                    }
                }
            })
            .collect()
    }
}

/// The byte range of the value of `key:` in the test entry that starts at
/// `start` (its name), block or flow style: from the value's first
/// character to the end of the scalar (a closing quote, or the `,` or `}`
/// or line end outside brackets). `None` when the key is not written there
/// (an argument under `arguments:` further down is still found).
pub(super) fn value_range(text: &str, start: usize, key: &str) -> Option<std::ops::Range<usize>> {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    // The entry's `- ` dash: the entry ends at the next line indented no deeper.
    let dash = text[line_start..start]
        .find('-')
        .map_or(start - line_start, |i| i);
    let mut end = text.len();
    let mut at = text[start..]
        .find('\n')
        .map_or(text.len(), |i| start + i + 1);
    while at < text.len() {
        let line = &text[at..text[at..].find('\n').map_or(text.len(), |i| at + i)];
        let indent = line.len() - line.trim_start_matches(' ').len();
        if !line.trim().is_empty() && !line.trim_start().starts_with('#') && indent <= dash {
            end = at;
            break;
        }
        at += line.len() + 1;
    }
    let entry = &text[start..end];
    let pattern = format!("{key}:");
    let mut from = 0;
    let key_at = loop {
        let i = from + entry[from..].find(&pattern)?;
        let before = entry[..i].chars().next_back();
        if before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',') {
            break i;
        }
        from = i + pattern.len();
    };
    let after = key_at + pattern.len();
    let value_start = after + (entry[after..].len() - entry[after..].trim_start_matches(' ').len());
    let rest = &entry[value_start..];
    let len = match rest.chars().next()? {
        q @ ('\'' | '"') => rest[1..].find(q).map_or(rest.len(), |i| i + 2),
        '\n' | '\r' => return None,
        _ => {
            let mut depth = 0i32;
            rest.char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' | '[' => depth += 1,
                        ')' | ']' => depth -= 1,
                        _ => {}
                    }
                    c == '\n' || (depth <= 0 && (c == ',' || c == '}')) || c == '#'
                })
                .map_or(rest.len(), |(i, _)| i)
        }
    };
    let value = rest[..len].trim_end();
    (!value.is_empty()).then(|| start + value_start..start + value_start + value.len())
}

/// A column of a model version (read from a plain value: version columns
/// may also be `include`/`exclude` entries).
#[derive(Deserialize)]
pub(super) struct VersionColumn {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) data_type: Option<String>,
    #[serde(default)]
    pub(super) quote: bool,
    #[serde(default)]
    pub(super) constraints: Vec<serde_json::Value>,
    #[serde(default)]
    pub(super) tests: Vec<serde_json::Value>,
    #[serde(default)]
    pub(super) data_tests: Vec<serde_json::Value>,
}

/// A version as text: `2`, `1.5`, or a string.
pub(super) fn version_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_values_are_found_in_block_and_flow_style() {
        fn found<'t>(text: &'t str, key: &str) -> Option<&'t str> {
            let start = text.find("relationships").unwrap();
            value_range(text, start, key).map(|r| &text[r])
        }
        let block = "      - relationships:\n          to: ref('a')  # parent\n          field: id\n      - not_null\n";
        assert_eq!(found(block, "to"), Some("ref('a')"));
        assert_eq!(found(block, "field"), Some("id"));
        let flow = "  - relationships: {to: source('s', 't'), field: \"id\"}\n";
        assert_eq!(found(flow, "to"), Some("source('s', 't')"));
        assert_eq!(found(flow, "field"), Some("\"id\""));
        let nested = "- relationships:\n    arguments:\n      to: \"ref('b')\"\n- relationships:\n    to: ref('c')\n";
        assert_eq!(
            found(nested, "to"),
            Some("\"ref('b')\""),
            "not the next entry's"
        );
        assert_eq!(found("- relationships:\n    into: x\n", "to"), None);
    }
}
