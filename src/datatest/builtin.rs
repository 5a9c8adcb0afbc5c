//! The generic tests dbt ships and the dbt_utils ones stackc implements.

use crate::graph::{ref_id, source_id};
use crate::node::ResolvedSource;
use crate::schema::UnitInputKind;

use super::Cx;

impl Cx<'_> {
    /// All the columns of a `to:` relation, when the catalog has them all
    /// (a migration's table, a seed, a model's derived columns).
    pub(super) fn parent_columns(&self, to: &str) -> Option<Vec<String>> {
        let rel = match crate::schema::parse_input(to)? {
            UnitInputKind::Ref(name) => self.relations.models.get(&name)?,
            UnitInputKind::Source(s, t) => &self.sources.get(&(s, t))?.relation,
            UnitInputKind::This => return None,
        };
        let (schema, name) = match &rel.cte {
            Some(cte) => ("", cte.as_str()),
            None => (rel.schema.as_str(), rel.name.as_str()),
        };
        let entry = self.relations.catalog.columns(schema, name)?;
        entry
            .origin
            .is_complete()
            .then(|| entry.columns.iter().map(|c| c.name.clone()).collect())
    }

    /// `ref('m')` or `source('s', 't')` as written in a `to:` argument.
    pub(super) fn resolve_to(
        &self,
        to: &str,
    ) -> Result<Option<(String, String)>, (String, String)> {
        match crate::schema::parse_input(to) {
            Some(UnitInputKind::Ref(name)) if self.failed.contains(&name) => return Ok(None),
            Some(UnitInputKind::Ref(name)) => {
                if let Some(rel) = self.relations.models.get(&name) {
                    if self.models.contains_key(&name) || self.seeds.contains_key(&name) {
                        return Ok(Some((
                            ref_id(self.project, &name, self.seeds),
                            rel.to_string(),
                        )));
                    }
                }
                let names = self
                    .models
                    .keys()
                    .chain(self.seeds.keys())
                    .map(String::as_str);
                let help = match crate::suggest::closest(&name, names) {
                    Some(close) => format!("did you mean ref('{close}')?"),
                    None => "name an existing model or seed".to_string(),
                };
                return Err((
                    format!("relationships test refers to unknown model `{name}`"),
                    help,
                ));
            }
            Some(UnitInputKind::Source(s, t)) => {
                if let Some(ResolvedSource { relation: rel, .. }) =
                    self.sources.get(&(s.clone(), t.clone()))
                {
                    return Ok(Some((source_id(self.project, &s, &t), rel.to_string())));
                }
                return Err((
                    format!("relationships test refers to unknown source `{s}.{t}`"),
                    "declare the source table under `sources:`".into(),
                ));
            }
            Some(UnitInputKind::This) | None => {}
        }
        Err((
            format!("`to: {to}` is not ref('model') or source('source', 'table')"),
            "write to: ref('dim_customers')".into(),
        ))
    }
}
