//! The render pass: each model rendered with the relations, its calls and
//! SQL checked, its hooks rendered; a [`Model`] out of each.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::config::{Materialization, ModelConfig};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::node::{Model, ResolvedSource};
use crate::parse_cache::ParseCache;
use crate::project::{ModelFile, Project};
use crate::relation::Relation;
use crate::render::cache::{Keys as CacheKeys, RenderCache};
use crate::render::{call_span, Calls, Relations, RenderInput, Rendered};
use crate::schema::{ModelEntry, UnitInputKind};

use super::columns::Rerendered;
use super::dbt_nodes::{node_json, node_value};
use super::entries::foreign_key_targets;
use super::model_config::snapshot_span;
use super::queries::{check_query, check_refs};
use super::setup::Setup;
use super::Discovered;

/// What rendering a model with its relations reads.
pub(super) struct ModelPass<'a> {
    pub project: &'a Project,
    pub setup: &'a Setup<'a>,
    pub parse_cache: &'a ParseCache,
    pub render_cache: &'a RenderCache,
    /// The render cache's keys, with the relations.
    pub cache_keys: Option<CacheKeys>,
    pub configs: &'a BTreeMap<String, ModelConfig>,
    pub disabled: &'a BTreeSet<String>,
    /// The names of models and seeds.
    pub known: &'a BTreeSet<&'a str>,
    pub hard_coded: &'a BTreeMap<(String, String), String>,
    pub rejected: &'a [&'a str],
    /// dbt's `graph`.
    pub graph: Option<minijinja::Value>,
    pub entries: &'a BTreeMap<String, Arc<ModelEntry>>,
    pub sources: &'a BTreeMap<(String, String), ResolvedSource>,
}

impl ModelPass<'_> {
    /// Renders and checks one model; again later for a model whose
    /// introspection needed upstream columns not derived yet.
    pub(super) fn render(
        &self,
        m: &ModelFile,
        disc: &Discovered,
        relations: &Arc<Relations>,
    ) -> Rerendered {
        let mut local = Vec::new();
        if !disc.ok || self.disabled.contains(&m.name) {
            return (None, local);
        }
        let config = self.configs[&m.name].clone();
        let relation = relations.models[&m.name].clone();
        let this = Relation {
            cte: None,
            ..relation.clone()
        };
        let (full, incremental) = match self.render_sql(m, &config, &relation, relations) {
            Ok(rendered) => rendered,
            Err(d) => {
                local.push(d);
                return (None, local);
            }
        };
        self.check_calls(m, &full, incremental.as_ref(), relations, &mut local);
        let calls = &full.calls;
        let mut refs: Vec<String> = calls.refs.clone();
        let mut srcs = calls.sources.clone();
        if let Some(inc) = &incremental {
            refs.extend(inc.calls.refs.iter().cloned());
            srcs.extend(inc.calls.sources.iter().cloned());
        }
        refs.sort();
        refs.dedup();
        srcs.sort();
        srcs.dedup();
        let mut vars_used: BTreeSet<String> = calls.vars.clone();
        let mut env_used: BTreeSet<String> = calls.env_vars.clone();
        if let Some(inc) = &incremental {
            vars_used.extend(inc.calls.vars.iter().cloned());
            env_used.extend(inc.calls.env_vars.iter().cloned());
        }
        let snapshot = if m.snapshot {
            match crate::dbt::snapshot::strategy(&config, &snapshot_span(m)) {
                Ok(s) => Some(s),
                Err(d) => {
                    local.push(d);
                    return (None, local);
                }
            }
        } else {
            None
        };
        let pre_hooks = self.hook_sql(m, &config, &this, relations, "pre_hook", &mut local);
        let post_hooks = self.hook_sql(m, &config, &this, relations, "post_hook", &mut local);
        let model = Model {
            snapshot,
            pre_hooks,
            post_hooks,
            name: m.name.clone(),
            file: m.file.clone(),
            config,
            relation,
            full,
            incremental,
            entry: None,
            refs,
            sources: srcs,
            vars: vars_used.into_iter().collect(),
            env_vars: env_used.into_iter().collect(),
            // The SQL check's select list, set where the SQL is checked:
            // by the column pass, or by `check_sql` for a model it skips.
            columns: None,
            derived_columns: None,
        };
        (Some(model), local)
    }

    /// The SQL check of a model the column pass does not see (a disabled
    /// one, or the second of two of one name), which checks the others on
    /// its own parse of each.
    pub(super) fn check_sql(&self, model: &Model, diagnostics: &mut Vec<Diagnostic>) {
        if model.config.sql_check {
            check_query(&model.full, self.parse_cache, self.hard_coded, diagnostics);
            if let Some(inc) = &model.incremental {
                check_query(inc, self.parse_cache, self.hard_coded, diagnostics);
            }
        }
    }

    /// The model rendered, and again as an incremental run renders it.
    fn render_sql(
        &self,
        m: &ModelFile,
        config: &ModelConfig,
        relation: &Relation,
        relations: &Arc<Relations>,
    ) -> Result<(Rendered, Option<Rendered>), Diagnostic> {
        let this = Relation {
            cte: None,
            ..relation.clone()
        };
        let model_value = self.setup.dbt_settings.map(|d| {
            let entry = self.entries.get(&m.name).map(|e| &**e);
            node_value(node_json(
                self.project,
                d,
                m,
                Some(config),
                Some(relation),
                entry,
            ))
        });
        let render = |is_incremental| {
            let key = self
                .cache_keys
                .map(|k| k.render(&m.file, Some(&this), is_incremental));
            let render = || {
                self.setup.renderer.render(RenderInput {
                    file: &m.file,
                    relations,
                    vars: self.setup.vars_of(&m.file.path),
                    this: Some(this.clone()),
                    is_incremental,
                    model: model_value.clone(),
                    graph: self.graph.clone(),
                })
            };
            self.render_cache.render(key, render, &m.file)
        };
        let full = render(false)?;
        let incremental = if config.materialized == Materialization::Incremental {
            Some(render(true)?)
        } else {
            None
        };
        Ok((full, incremental))
    }

    /// The model's `ref`s and `source`s name what exists, and no disabled
    /// node.
    fn check_calls(
        &self,
        m: &ModelFile,
        full: &Rendered,
        incremental: Option<&Rendered>,
        relations: &Arc<Relations>,
        local: &mut Vec<Diagnostic>,
    ) {
        // A ref inside {% if is_incremental() %} is as real as any other.
        let mut all_calls: Calls = full.calls.clone();
        if let Some(inc) = incremental {
            all_calls.refs.extend(inc.calls.refs.iter().cloned());
            all_calls.sources.extend(inc.calls.sources.iter().cloned());
            all_calls.refs.dedup();
            all_calls.sources.sort();
            all_calls.sources.dedup();
        }
        let mut seen = BTreeSet::new();
        all_calls.refs.retain(|r| seen.insert(r.clone()));
        check_refs(m, &all_calls, self.known, relations, self.rejected, local);
        for name in all_calls.refs.iter().filter(|r| self.disabled.contains(*r)) {
            local.push(
                Diagnostic::new(
                    Code::E0039,
                    format!("`{}` depends on `{name}`, which is disabled", m.name),
                )
                .at(call_span(&m.file, "ref", name))
                .help(format!(
                    "enable `{name}` (its `enabled` config), or disable `{}` too",
                    m.name
                )),
            );
        }
    }

    /// The SQL of a `pre_hook` or `post_hook` config, each rendered.
    fn hook_sql(
        &self,
        m: &ModelFile,
        config: &ModelConfig,
        this: &Relation,
        relations: &Arc<Relations>,
        key: &str,
        local: &mut Vec<Diagnostic>,
    ) -> Vec<String> {
        let Some(serde_json::Value::Array(items)) = config.dbt.get(key) else {
            return Vec::new();
        };
        let at = config
            .spans
            .get(key)
            .cloned()
            .unwrap_or_else(|| Span::new(&m.file.path, 0..0));
        let model_value = self.setup.dbt_settings.map(|d| {
            let entry = self.entries.get(&m.name).map(|e| &**e);
            node_value(node_json(
                self.project,
                d,
                m,
                Some(config),
                Some(this),
                entry,
            ))
        });
        let mut out = Vec::new();
        for item in items {
            let text = match item {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(o) => match o.get("sql").and_then(|s| s.as_str()) {
                    Some(s) => s.to_string(),
                    None => continue,
                },
                _ => continue,
            };
            match self.setup.renderer.render_snippet(
                &text,
                Some(this.clone()),
                (model_value.clone(), self.graph.clone()),
                relations,
                self.setup.vars_of(&m.file.path),
                &at,
            ) {
                Ok(sql) if !sql.trim().is_empty() => out.push(sql.trim().to_string()),
                Ok(_) => {}
                Err(d) => local.push(d),
            }
        }
        out
    }

    /// A rendered model's schema-file entry, and what its foreign keys make
    /// it depend on.
    pub(super) fn finish(&self, mut model: Model) -> Model {
        model.entry = self.entries.get(&model.name).cloned();
        // A foreign key's `to:` is built first, as dbt orders it.
        for to in model.entry.iter().flat_map(|e| foreign_key_targets(e)) {
            match to {
                UnitInputKind::Ref(name)
                    if name != model.name && self.known.contains(name.as_str()) =>
                {
                    model.refs.push(name)
                }
                UnitInputKind::Source(s, t)
                    if self.sources.contains_key(&(s.clone(), t.clone())) =>
                {
                    model.sources.push((s, t))
                }
                _ => {}
            }
        }
        model.refs.sort();
        model.refs.dedup();
        model.sources.sort();
        model.sources.dedup();
        model
    }
}
