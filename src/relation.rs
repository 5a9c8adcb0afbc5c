//! A relation a model, seed or source is written to: its schema and name,
//! and how `ref()`/`source()` render it. Plain data shared by render (which
//! hands it to Jinja), resolve and emit.

use std::fmt;

use crate::quoting::relation_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub schema: String,
    pub name: String,
    /// Use the name exactly as written (`quoting: {identifier: true}`).
    pub quote: bool,
    /// For ephemeral models: the CTE name the reference renders as.
    pub cte: Option<String>,
}

impl Relation {
    /// What `ref('m')` gives in the discovery pass, before the model's
    /// schema is known: it renders as the bare name.
    pub(crate) fn unresolved(name: String) -> Relation {
        Relation {
            schema: String::new(),
            name,
            quote: false,
            cte: None,
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cte {
            Some(cte) => f.write_str(cte),
            None if self.schema.is_empty() => f.write_str(&self.name),
            None => f.write_str(&relation_name(&self.schema, &self.name, self.quote)),
        }
    }
}
