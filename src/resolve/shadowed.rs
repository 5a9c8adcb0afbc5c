//! Disabled models that leave their name to an enabled one.
//!
//! dbt counts only enabled nodes when it checks that names are unique, and
//! a `ref` resolves to the enabled node of its name: a root project may
//! disable a package's model (`models: {pkg: {customers: {+enabled:
//! false}}}`) and bring its own `customers`. Resolve keys configs and
//! relations by name, so such a disabled model is taken out of the project
//! before it resolves, as if its file were not there.

use std::collections::{BTreeMap, BTreeSet};

use crate::project::{Flavor, Project};
use crate::render::cache::RenderCache;

use super::configure::is_enabled;
use super::entries::model_entries;
use super::setup::{discover_one, setup};

/// Removes from a dbt project's models every disabled model whose name
/// another model has, keeping one of each name (the first file) when all
/// of them are disabled, so that a `ref` to it is still the error of a
/// disabled model. Names used once cost nothing beyond a count.
pub fn drop_shadowed_models(project: &mut Project, render_cache: &RenderCache) {
    if project.settings.flavor != Flavor::Dbt {
        return;
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &project.models {
        *count.entry(&m.name).or_default() += 1;
    }
    let shared: BTreeSet<String> = count
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(name, _)| name.to_string())
        .collect();
    if shared.is_empty() {
        return;
    }
    // The diagnostics of this look are not kept: resolve makes them again
    // for the models that stay.
    let mut ignored = Vec::new();
    let setup = setup(project, &mut ignored);
    let entries = model_entries(project, true, &mut ignored);
    let enabled: Vec<bool> = project
        .models
        .iter()
        .map(|m| {
            !shared.contains(&m.name) || {
                let (disc, _) = discover_one(project, &setup, render_cache, m);
                is_enabled(project, &setup, &entries, m, &disc)
            }
        })
        .collect();
    let with_enabled: BTreeSet<&str> = project
        .models
        .iter()
        .zip(&enabled)
        .filter(|(_, &on)| on)
        .map(|(m, _)| m.name.as_str())
        .collect();
    let mut kept_disabled: BTreeSet<&str> = BTreeSet::new();
    let keep: Vec<bool> = project
        .models
        .iter()
        .zip(&enabled)
        .map(|(m, &on)| {
            on || (!with_enabled.contains(m.name.as_str()) && kept_disabled.insert(&m.name))
        })
        .collect();
    let mut keep = keep.into_iter();
    project.models.retain(|_| keep.next().unwrap_or(true));
}
