//! A model's configuration inputs: its schema, its `config()` calls, where a
//! snapshot's problems are shown.

use crate::config::{ConfigEntry, ConfigLayer};
use crate::diagnostic::Span;
use crate::project::{ModelFile, Project};
use crate::render::Calls;

/// Where a snapshot's problems without a config of their own are shown:
/// its `config(` call, else the first word of its query.
pub(super) fn snapshot_span(m: &ModelFile) -> Span {
    let text: &str = &m.file.text;
    let range = crate::render::config_call_spans(text).0.unwrap_or_else(|| {
        let start = text.len() - text.trim_start().len();
        let end = text[start..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| start + i);
        start..end
    });
    Span::new(&m.file.path, range)
}

pub(super) fn default_schema(project: &Project, m: &ModelFile) -> String {
    match m.folders.first() {
        Some(layer) => project
            .settings
            .layers
            .get(layer)
            .cloned()
            .unwrap_or_else(|| layer.clone()),
        None => "public".into(),
    }
}

/// The `config()` calls of one model as a configuration layer; later calls
/// win. Each value points at its `key=` in the model's `config(...)`.
pub(super) fn config_call_layer(m: &ModelFile, calls: &Calls) -> ConfigLayer {
    let (call, keys) = crate::render::config_call_spans(&m.file.text);
    let fallback = call.unwrap_or(0..0);
    let mut layer = ConfigLayer::new();
    for call in &calls.configs {
        for (k, v) in call {
            let range = keys.get(k).cloned().unwrap_or_else(|| fallback.clone());
            layer.insert(
                k.clone(),
                ConfigEntry {
                    value: v.clone(),
                    span: Span::new(&m.file.path, range),
                },
            );
        }
    }
    layer
}
