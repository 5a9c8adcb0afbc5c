//! One pass a top-level section of a schema file (`models:`, `snapshots:`,
//! `sources:`, `seeds:`, exposures and the like, `data_tests:` and
//! `analyses:`), each turning its raw entries into checked ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::data_tests::parse_input;
use super::entries::{version_text, Cx};
use super::raw::{RawDescribed, RawModel, RawOther, RawSeed, RawSnapshot, RawSource};
use super::{
    declared_types, names_of, Column, Described, ModelEntry, OtherEntry, OtherKind, SeedEntry,
    SourceEntry, SourceTable, UnitInputKind,
};
use crate::config::{ConfigEntry, ConfigLayer};
use crate::diagnostic::Diagnostic;

impl Cx<'_> {
    /// A `config:` mapping, each value with where it is written.
    pub(super) fn config(&self, raw: BTreeMap<String, Spanned<serde_json::Value>>) -> ConfigLayer {
        raw.into_iter()
            .map(|(k, v)| {
                let span = self.span(&v);
                (
                    k,
                    ConfigEntry {
                        value: v.value,
                        span,
                    },
                )
            })
            .collect()
    }
}

pub(super) fn models(
    cx: &Cx<'_>,
    raw: Vec<RawModel>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Arc<ModelEntry>> {
    raw.into_iter()
        .map(|m| {
            let versions = m
                .versions
                .into_iter()
                .map(|v| cx.version(&m.name.value, v, diagnostics))
                .collect();
            Arc::new(ModelEntry {
                span: cx.span(&m.name),
                name: m.name.value,
                description: m.description,
                config: cx.config(m.config),
                columns: m
                    .columns
                    .into_iter()
                    .map(|c| cx.column(c, diagnostics))
                    .collect(),
                tests: cx.tests(m.tests, m.data_tests, diagnostics),
                latest_version: m.latest_version.map(|v| version_text(&v)),
                constraints: m.constraints,
                versions,
                snapshot: false,
            })
        })
        .collect()
}

/// `snapshots:` entries: each a model entry (its columns and tests), and
/// the part that the other entries keep (its relation and configs).
pub(super) fn snapshots(
    cx: &Cx<'_>,
    raw: Vec<RawSnapshot>,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<Arc<ModelEntry>>, Vec<RawOther>) {
    raw.into_iter()
        .map(|s| {
            let other = s.other();
            let entry = Arc::new(ModelEntry {
                span: cx.span(&s.name),
                name: s.name.value,
                description: s.description,
                config: ConfigLayer::default(),
                columns: s
                    .columns
                    .into_iter()
                    .map(|c| cx.column(c, diagnostics))
                    .collect(),
                tests: cx.tests(s.tests, s.data_tests, diagnostics),
                latest_version: None,
                constraints: Vec::new(),
                versions: Vec::new(),
                snapshot: true,
            });
            (entry, other)
        })
        .unzip()
}

pub(super) fn sources(
    cx: &Cx<'_>,
    raw: Vec<RawSource>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<SourceEntry> {
    raw.into_iter()
        .map(|s| {
            let source_quoting = s.quoting;
            SourceEntry {
                span: cx.span(&s.name),
                schema: s.schema.unwrap_or_else(|| s.name.value.clone()),
                database: s.database.as_ref().and_then(|d| {
                    let text = match &d.value {
                        serde_json::Value::Null => return None,
                        serde_json::Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    Some((text, cx.span(d)))
                }),
                name: s.name.value,
                description: s.description,
                tables: s
                    .tables
                    .into_iter()
                    .map(|t| {
                        let mut quoting = source_quoting.clone();
                        quoting.extend(t.quoting);
                        let mut yaml = BTreeMap::new();
                        for (key, source, table) in [
                            ("loader", &s.loader, &None),
                            ("meta", &s.meta, &t.meta),
                            ("tags", &s.tags, &t.tags),
                            ("freshness", &s.freshness, &t.freshness),
                            ("loaded_at_field", &s.loaded_at_field, &t.loaded_at_field),
                        ] {
                            if let Some(v) = table.as_ref().or(source.as_ref()) {
                                yaml.insert(key.to_string(), v.clone());
                            }
                        }
                        SourceTable {
                            yaml,
                            span: cx.span(&t.name),
                            identifier: t.identifier.unwrap_or_else(|| t.name.value.clone()),
                            quote_identifier: quoting.get("identifier").copied().unwrap_or(false),
                            quoting,
                            name: t.name.value,
                            description: t.description,
                            columns: t
                                .columns
                                .into_iter()
                                .map(|c| cx.column(c, diagnostics))
                                .collect(),
                            tests: cx.tests(t.tests, t.data_tests, diagnostics),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

pub(super) fn seeds(
    cx: &Cx<'_>,
    raw: Vec<RawSeed>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<SeedEntry> {
    raw.into_iter()
        .map(|s| {
            let columns: Vec<Column> = s
                .columns
                .into_iter()
                .map(|c| cx.column(c, diagnostics))
                .collect();
            let mut column_types: BTreeMap<String, String> = columns
                .iter()
                .filter_map(|c| Some((c.name.clone(), c.data_type.clone()?)))
                .collect();
            let config = cx.config(s.config);
            column_types.extend(declared_types(&config));
            SeedEntry {
                span: cx.span(&s.name),
                name: s.name.value,
                description: s.description,
                column_types,
                config,
                columns,
                tests: cx.tests(s.tests, s.data_tests, diagnostics),
            }
        })
        .collect()
}

/// Snapshots (as [`snapshots`] leaves them), exposures, semantic models,
/// metrics and saved queries, in that order.
pub(super) fn others(cx: &Cx<'_>, lists: [(OtherKind, Vec<RawOther>); 6]) -> Vec<OtherEntry> {
    lists
        .into_iter()
        .flat_map(|(kind, list)| list.into_iter().map(move |o| (kind, o)))
        .map(|(kind, o)| other(cx, kind, o))
        .collect()
}

fn other(cx: &Cx<'_>, kind: OtherKind, o: RawOther) -> OtherEntry {
    let span = cx.span(&o.name);
    let mut depends_on: Vec<UnitInputKind> = o
        .depends_on
        .iter()
        .chain(&o.model)
        .filter_map(|d| parse_input(d))
        .filter(|d| *d != UnitInputKind::This)
        .collect();
    depends_on.sort();
    depends_on.dedup();
    let mut measures = Vec::new();
    names_of(
        Some(&serde_json::Value::Array(o.measures.clone())),
        &mut measures,
    );
    let (mut uses_measures, mut uses_metrics) = (Vec::new(), Vec::new());
    if let Some(params) = &o.type_params {
        let conversion = params.get("conversion_type_params");
        for key in ["measure", "numerator_measure"] {
            names_of(params.get(key), &mut uses_measures);
        }
        for key in ["base_measure", "conversion_measure"] {
            names_of(conversion.and_then(|c| c.get(key)), &mut uses_measures);
        }
        for key in ["metrics", "numerator", "denominator", "metric"] {
            names_of(params.get(key), &mut uses_metrics);
        }
    }
    if let Some(params) = &o.query_params {
        names_of(params.get("metrics"), &mut uses_metrics);
    }
    for list in [&mut measures, &mut uses_measures, &mut uses_metrics] {
        list.sort();
        list.dedup();
    }
    let mut yaml = o.yaml;
    let written = [
        (
            "measures",
            (!o.measures.is_empty()).then(|| serde_json::Value::Array(o.measures.clone())),
        ),
        ("type_params", o.type_params.clone()),
        ("query_params", o.query_params.clone()),
    ];
    for (key, value) in written {
        if let Some(v) = value {
            yaml.insert(key.to_string(), v);
        }
    }
    if !o.config.is_empty() {
        yaml.insert(
            "config".into(),
            serde_json::Value::Object(
                o.config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.clone()))
                    .collect(),
            ),
        );
    }
    OtherEntry {
        yaml,
        relation: o.relation.as_ref().map(|r| (r.value.clone(), cx.span(r))),
        config: cx.config(o.config),
        kind,
        name: o.name.value,
        span,
        description: o.description,
        label: o.label,
        type_: o.kind.map(|k| match k {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }),
        depends_on,
        measures,
        uses_measures,
        uses_metrics,
    }
}

/// `data_tests:` and `analyses:` entries: a name, a description, configs.
pub(super) fn described(cx: &Cx<'_>, list: Vec<RawDescribed>) -> Vec<Described> {
    list.into_iter()
        .map(|d| Described {
            span: cx.span(&d.name),
            name: d.name.value,
            description: d.description,
            config: cx.config(d.config),
        })
        .collect()
}
