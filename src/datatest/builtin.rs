//! The generic tests dbt ships and the dbt_utils ones stackc implements.

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{ref_id, source_id};
use crate::node::ResolvedSource;
use crate::schema::UnitInputKind;
use crate::sql::{literal, quote_ident};

use super::{Call, Cx, GenericTest, Made};

pub(super) struct NotNull;

impl GenericTest for NotNull {
    fn sql(&self, _: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made> {
        let c = call.needs_column("not_null", diagnostics)?;
        Made::of(format!("select *\nfrom {}\nwhere {c} is null\n", call.from))
    }
}

/// One column's values, or with `columns:`, a combination of them.
pub(super) struct Unique;

impl GenericTest for Unique {
    fn sql(&self, _: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made> {
        let from = call.from;
        let combined = call.arg("columns").and_then(|v| v.as_array()).map(|cols| {
            cols.iter()
                .filter_map(|c| c.as_str())
                .map(|c| quote_ident(c).into_owned())
                .collect::<Vec<_>>()
        });
        match combined {
            Some(cols) if !cols.is_empty() => {
                let list = cols.join(", ");
                Made::of(format!("select {list}, count(*) as n_records\nfrom {from}\ngroup by {list}\nhaving count(*) > 1\n"))
            }
            _ => {
                let c = call.needs_column("unique", diagnostics)?;
                Made::of(format!(
                    "select {c} as unique_field, count(*) as n_records\nfrom {from}\nwhere {c} is not null\ngroup by {c}\nhaving count(*) > 1\n"
                ))
            }
        }
    }
}

pub(super) struct AcceptedValues;

impl GenericTest for AcceptedValues {
    fn sql(&self, _: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made> {
        let c = call.needs_column("accepted_values", diagnostics)?;
        let Some(values) = call
            .arg("values")
            .and_then(|v| v.as_array())
            .filter(|v| !v.is_empty())
        else {
            diagnostics.push(call.fail(
                "`accepted_values` needs `values`, a non-empty list".into(),
                "write accepted_values: {values: ['a', 'b']}",
            ));
            return None;
        };
        let quote = call.arg("quote").and_then(|v| v.as_bool()).unwrap_or(true);
        let list: Vec<String> = values
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) if quote => literal(s),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        Made::of(format!(
            "select {c} as value_field, count(*) as n_records\nfrom {}\nwhere {c} is not null\n  and {c} not in ({})\ngroup by {c}\n",
            call.from,
            list.join(", ")
        ))
    }
}

/// Every value has a row in the parent `to:`, whose column is `field:`.
pub(super) struct Relationships;

impl GenericTest for Relationships {
    fn sql(&self, cx: &Cx<'_>, call: &Call<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Made> {
        let spec = call.spec;
        let c = call.needs_column("relationships", diagnostics)?;
        let Some(to) = call.arg("to").and_then(|v| v.as_str()) else {
            diagnostics.push(call.fail(
                "`relationships` needs `to`, e.g. to: ref('dim_customers')".into(),
                "write relationships: {to: ref('parent'), field: id}",
            ));
            return None;
        };
        let Some(field) = call.arg("field").and_then(|v| v.as_str()) else {
            diagnostics.push(call.fail(
                "`relationships` needs `field`, the parent's column".into(),
                "write relationships: {to: ref('parent'), field: id}",
            ));
            return None;
        };
        let (parent_id, parent_rel) = match cx.resolve_to(to) {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(problem) => {
                let at = spec.arg_spans.get("to").unwrap_or(&spec.span);
                diagnostics.push(
                    Diagnostic::new(Code::E0306, problem.0)
                        .at(at.clone())
                        .help(problem.1),
                );
                return None;
            }
        };
        if let Some(columns) = cx.parent_columns(to) {
            if !columns.iter().any(|c| c == field) {
                let at = spec.arg_spans.get("field").unwrap_or(&spec.span);
                let help = match crate::suggest::closest(field, columns.iter().map(String::as_str))
                {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("its columns: {}", columns.join(", ")),
                };
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0306,
                        format!("relationships test: `{to}` has no column `{field}`"),
                    )
                    .at(at.clone())
                    .help(help),
                );
                return None;
            }
        }
        let field = quote_ident(field);
        Some(Made {
            sql: format!(
                "select child.{c} as from_field\nfrom {} as child\nleft join {parent_rel} as parent\n  on child.{c} = parent.{field}\nwhere child.{c} is not null\n  and parent.{field} is null\n",
                call.from
            ),
            depends_on: vec![parent_id],
        })
    }
}

impl Cx<'_> {
    /// All the columns of a `to:` relation, when the catalog has them all
    /// (a migration's table, a seed, a model's derived columns).
    fn parent_columns(&self, to: &str) -> Option<Vec<String>> {
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
    fn resolve_to(&self, to: &str) -> Result<Option<(String, String)>, (String, String)> {
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
