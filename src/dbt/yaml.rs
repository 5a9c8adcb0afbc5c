//! A YAML document as a tree that remembers where each key and value was
//! written, for files whose shape is open (`dbt_project.yml`'s config trees,
//! `profiles.yml`): serde structs would lose the position of every value we
//! do not name in advance.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::{offset_of, Code, Diagnostic, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Yaml>>),
    /// In file order; saphyr has already rejected duplicate keys.
    Map(Vec<(Spanned<Key>, Spanned<Yaml>)>),
}

/// A mapping key: YAML allows numbers and booleans as keys, dbt means them
/// as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Key(pub String);

impl Yaml {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Spanned<Key>, Spanned<Yaml>)]> {
        match self {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Spanned<Yaml>> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.value.0 == key)
            .map(|(_, v)| v)
    }

    /// A scalar as dbt would print it, for values that must be text
    /// (a port written as a number, a schema written as a number).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Yaml::Str(s) => Some(s.clone()),
            Yaml::Int(i) => Some(i.to_string()),
            Yaml::Float(f) => Some(f.to_string()),
            Yaml::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Yaml::Null => J::Null,
            Yaml::Bool(b) => J::Bool(*b),
            Yaml::Int(i) => J::from(*i),
            Yaml::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Yaml::Str(s) => J::String(s.clone()),
            Yaml::Seq(items) => J::Array(items.iter().map(|i| i.value.to_json()).collect()),
            Yaml::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.0.clone(), v.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses a whole document; an empty file is `Null`.
pub fn parse(path: &Arc<str>, text: &str) -> Result<Spanned<Yaml>, Diagnostic> {
    if text.trim().is_empty() {
        return Ok(Spanned::new(
            Yaml::Null,
            serde_saphyr::Location::UNKNOWN,
            serde_saphyr::Location::UNKNOWN,
        ));
    }
    serde_saphyr::from_str::<Spanned<Yaml>>(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let start = offset_of(text, line, col);
        Diagnostic::new(
            Code::E0030,
            format!(
                "invalid YAML: {}",
                first_line(&e.without_snippet().to_string())
            ),
        )
        .at_file(path, start..start)
        .help("fix the YAML syntax at this position (indentation, a missing `:` or quote)")
    })
}

/// dbt's `fromyaml`: a YAML document as a plain value.
pub fn from_yaml(text: &str) -> Result<serde_json::Value, String> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_saphyr::from_str::<Spanned<Yaml>>(text)
        .map(|v| v.value.to_json())
        .map_err(|e| first_line(&e.without_snippet().to_string()).to_string())
}

/// dbt's `toyaml`: block-style YAML as PyYAML's `safe_dump` writes it
/// (keys in their order, strings quoted only where YAML needs it).
pub fn to_yaml(value: &serde_json::Value) -> String {
    let mut out = String::new();
    match value {
        serde_json::Value::Object(m) if !m.is_empty() => write_map(m, 0, &mut out),
        serde_json::Value::Array(a) if !a.is_empty() => write_seq(a, 0, &mut out),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(m: &serde_json::Map<String, serde_json::Value>, indent: usize, out: &mut String) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_scalar(&serde_json::Value::String(k.clone())));
        out.push(':');
        write_child(v, indent, out);
    }
}

fn write_seq(a: &[serde_json::Value], indent: usize, out: &mut String) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut first = true;
                for (k, item) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    out.push_str(&yaml_scalar(&serde_json::Value::String(k.clone())));
                    out.push(':');
                    write_child(item, indent + 2, out);
                }
            }
            other => write_child(other, indent, out),
        }
    }
}

fn write_child(v: &serde_json::Value, indent: usize, out: &mut String) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(m, indent + 2, out);
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(a, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' '))
                && !s.starts_with([' ', '-', '.'])
                && !s.ends_with(' ')
                && s.parse::<f64>().is_err()
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
                );
            if plain {
                s.clone()
            } else {
                format!("'{}'", s.replace('\'', "''"))
            }
        }
        serde_json::Value::Array(_) => "[]".into(),
        serde_json::Value::Object(_) => "{}".into(),
    }
}

/// The parser's message without its position (shown in front already).
fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or(s);
    match line.rfind(" at line ") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The span of a spanned value in `text`.
pub fn span_of<T>(path: &Arc<str>, text: &str, spanned: &Spanned<T>) -> Span {
    let loc = spanned.referenced;
    let start = loc
        .span()
        .byte_offset()
        .map(|o| o as usize)
        .filter(|o| *o <= text.len())
        .unwrap_or_else(|| offset_of(text, loc.line() as usize, loc.column() as usize));
    let len = loc.span().byte_len().map_or(0, |l| l as usize);
    let end = (start + len).min(text.len());
    Span::new(path, start..end)
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Yaml, E> {
        Ok(i64::try_from(v).map_or(Yaml::Float(v as f64), Yaml::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Yaml>>()? {
            items.push(item);
        }
        Ok(Yaml::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = map.next_value::<Spanned<Yaml>>()?;
            entries.push((key, value));
        }
        Ok(Yaml::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Yaml::deserialize(d)? {
            Yaml::Str(s) => Ok(Key(s)),
            Yaml::Null => Ok(Key(String::new())),
            other => Ok(Key(other.scalar_text().unwrap_or_default())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toyaml_writes_what_fromyaml_reads_back() {
        let v = serde_json::json!({
            "name": "orders",
            "columns": [{"name": "id", "tests": ["unique", "not_null"]}, {"name": "yes"}],
            "meta": {"owner": "it's me", "n": 3, "none": null, "empty": []},
        });
        let text = to_yaml(&v);
        assert_eq!(
            text,
            "columns:\n- name: id\n  tests:\n  - unique\n  - not_null\n- name: 'yes'\nmeta:\n  empty: []\n  'n': 3\n  none: null\n  owner: 'it''s me'\nname: orders\n"
        );
        assert_eq!(from_yaml(&text).unwrap(), v);
        assert!(from_yaml("a: [").is_err());
    }

    #[test]
    fn keys_and_values_keep_their_positions() {
        let path: Arc<str> = Arc::from("x.yml");
        let text = "a:\n  +b: 1\n  c: [x, 'y']\n3: yes\n";
        let doc = parse(&path, text).unwrap();
        let a = doc.value.get("a").unwrap();
        let (k, v) = &a.value.as_map().unwrap()[0];
        assert_eq!(k.value.0, "+b");
        assert_eq!(v.value, Yaml::Int(1));
        let span = span_of(&path, text, k);
        assert_eq!(&text[span.range.start..span.range.start + 2], "+b");
        assert_eq!(doc.value.get("3").unwrap().value, Yaml::Bool(true));
        assert_eq!(
            a.value.get("c").unwrap().value.to_json(),
            serde_json::json!(["x", "y"])
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let path: Arc<str> = Arc::from("x.yml");
        let d = parse(&path, "a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(d.code, Code::E0030);
        assert!(d.primary.is_some());
    }
}
