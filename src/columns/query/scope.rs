//! The relations a query sees (FROM items, CTEs, the enclosing queries
//! of a correlated subquery) and how a column name resolves among them.

use sqlparser::ast::TableAlias;

use super::*;

/// A relation in a FROM clause.
#[derive(Debug, Clone)]
pub(super) struct Rel {
    /// The name columns are qualified with: the alias, else the table name.
    pub(super) alias: Option<String>,
    /// For messages.
    pub(super) label: String,
    /// `None`: nothing is known of its columns.
    pub(super) cols: Option<Vec<Col>>,
    pub(super) open: bool,
}

impl Rel {
    pub(super) fn closed(&self) -> Option<&[Col]> {
        self.cols.as_deref().filter(|_| !self.open)
    }

    pub(super) fn find(&self, name: &str) -> Option<&Col> {
        self.cols.as_ref()?.iter().find(|c| c.name == name)
    }
}

#[derive(Default)]
pub(super) struct Scope<'p> {
    pub(super) rels: Vec<Rel>,
    /// Columns a `using` or `natural` join made one.
    pub(super) merged: Vec<Col>,
    /// A natural join with a side of unknown columns: which names it
    /// merged is not known, so no name is ambiguous.
    pub(super) lenient: bool,
    pub(super) ctes: Vec<(String, Option<RelCols>)>,
    pub(super) parent: Option<&'p Scope<'p>>,
}

impl<'p> Scope<'p> {
    pub(super) fn child(parent: &'p Scope<'p>) -> Scope<'p> {
        Scope {
            parent: Some(parent),
            ..Scope::default()
        }
    }

    pub(super) fn cte(&self, name: &str) -> Option<&Option<RelCols>> {
        // A later CTE of one WITH shadows nothing earlier in it: names are unique.
        match self.ctes.iter().rev().find(|(n, _)| n == name) {
            Some((_, cols)) => Some(cols),
            None => self.parent?.cte(name),
        }
    }
}

/// What an unqualified or qualified name resolved to.
pub(super) enum Found {
    Col(Col),
    Unknown,
    Missing {
        searched: Vec<String>,
        candidates: Vec<String>,
    },
    Ambiguous([String; 2]),
}

/// An expression's type and what it reads; `copy` when it is a bare column.
#[derive(Debug, Clone)]
pub(super) struct Val {
    pub(super) ty: Ty,
    pub(super) lineage: Lineage,
    pub(super) copy: bool,
}

impl Val {
    pub(super) fn of(ty: Ty) -> Val {
        Val {
            ty,
            lineage: Lineage::new(),
            copy: false,
        }
    }

    /// A value computed from `parts`.
    pub(super) fn computed(ty: Ty, parts: &[Val]) -> Val {
        let mut lineage = Lineage::new();
        for p in parts {
            extend(&mut lineage, &p.lineage, Some(Kind::Transform));
        }
        Val {
            ty,
            lineage,
            copy: false,
        }
    }
}

pub(super) fn column(name: String, v: Val) -> Col {
    let lineage = if v.copy {
        v.lineage
    } else {
        let mut l = Lineage::new();
        extend(&mut l, &v.lineage, Some(Kind::Transform));
        l
    };
    Col {
        name,
        ty: v.ty,
        lineage,
    }
}

/// The columns `*` stands for, when all are known.
pub(super) fn star(scope: &Scope) -> Option<Vec<Col>> {
    if scope.lenient && !scope.merged.is_empty() {
        return None;
    }
    let mut out: Vec<Col> = scope.merged.clone();
    for r in &scope.rels {
        for c in r.closed()? {
            if !scope.merged.iter().any(|m| m.name == c.name) {
                out.push(c.clone());
            }
        }
    }
    Some(out)
}

pub(super) fn find_rel<'a>(scope: &'a Scope, alias: &str) -> Option<&'a Rel> {
    match scope
        .rels
        .iter()
        .rev()
        .find(|r| r.alias.as_deref() == Some(alias))
    {
        Some(r) => Some(r),
        None => find_rel(scope.parent?, alias),
    }
}

pub(super) fn qualified(scope: &Scope, rel: &str, name: &str) -> Found {
    let Some(r) = find_rel(scope, rel) else {
        // Not a relation in scope: a composite column's field, or a
        // relation PostgreSQL would refuse; either way not a column here.
        return Found::Unknown;
    };
    if let Some(c) = r.find(name) {
        return Found::Col(c.clone());
    }
    match r.closed() {
        Some(cols) => Found::Missing {
            searched: vec![r.label.clone()],
            candidates: cols.iter().map(|c| c.name.clone()).collect(),
        },
        None => Found::Unknown,
    }
}

pub(super) fn unqualified(scope: &Scope, name: &str) -> Found {
    let mut level = Some(scope);
    let mut searched = Vec::new();
    let mut candidates = Vec::new();
    while let Some(s) = level {
        if let Some(c) = s.merged.iter().find(|c| c.name == name) {
            return Found::Col(c.clone());
        }
        let matches: Vec<&Rel> = s.rels.iter().filter(|r| r.find(name).is_some()).collect();
        match matches[..] {
            [one] => {
                return Found::Col(
                    one.find(name)
                        .cloned()
                        .unwrap_or_else(|| unreachable_col(name)),
                )
            }
            [a, b, ..] => {
                if s.lenient {
                    return Found::Unknown;
                }
                return Found::Ambiguous([a.label.clone(), b.label.clone()]);
            }
            [] => {}
        }
        // A relation whose columns are not all known may hold it; so may
        // a relation's own name (a whole-row reference).
        if s.lenient
            || s.rels
                .iter()
                .any(|r| r.closed().is_none() || r.alias.as_deref() == Some(name))
        {
            return Found::Unknown;
        }
        for r in &s.rels {
            searched.push(r.label.clone());
            candidates.extend(r.cols.iter().flatten().map(|c| c.name.clone()));
        }
        level = s.parent;
    }
    if searched.is_empty() {
        // `select x` with no FROM anywhere: PostgreSQL refuses it, but a
        // macro may have rendered it from something stackc cannot see.
        return Found::Unknown;
    }
    Found::Missing {
        searched,
        candidates,
    }
}

/// Never used: `matches` holds only relations that have the column.
pub(super) fn unreachable_col(name: &str) -> Col {
    Col {
        name: name.to_string(),
        ty: Ty::Unknown,
        lineage: Lineage::new(),
    }
}

/// A relation's alias `a(x, y)`: renames the first columns; `a` alone
/// renames the relation.
pub(super) fn apply_alias(rel: &mut Rel, alias: Option<&TableAlias>) {
    let Some(alias) = alias else { return };
    rel.alias = Some(ident_name(&alias.name));
    if let Some(cols) = &mut rel.cols {
        if alias.columns.len() > cols.len() && !rel.open {
            rel.cols = None;
            return;
        }
        for (c, a) in cols.iter_mut().zip(&alias.columns) {
            c.name = ident_name(&a.name);
        }
    }
}

pub(super) fn rename(mut cols: Vec<Col>, alias: &TableAlias) -> Vec<Col> {
    for (c, a) in cols.iter_mut().zip(&alias.columns) {
        c.name = ident_name(&a.name);
    }
    cols
}

/// A function in FROM: with `as f(a, b)` its columns are those names (of
/// unknown types), else unknown.
pub(super) fn function_rel(alias: Option<&TableAlias>) -> Rel {
    let cols = alias.filter(|a| !a.columns.is_empty()).map(|a| {
        a.columns
            .iter()
            .map(|c| Col {
                name: ident_name(&c.name),
                ty: c
                    .data_type
                    .as_ref()
                    .map_or(Ty::Unknown, |t| Ty::written(&t.to_string())),
                lineage: Lineage::new(),
            })
            .collect()
    });
    Rel {
        alias: alias.map(|a| ident_name(&a.name)),
        label: alias.map_or("a function".into(), |a| ident_name(&a.name)),
        cols,
        open: false,
    }
}
