//! One query's columns: each name resolved with SQL's scoping (CTEs,
//! subqueries in FROM and in expressions, correlated references, aliases,
//! `using` and `natural` joins, lateral), the output columns with their
//! types, and the upstream columns each output column is computed from.
//!
//! The rule that keeps it free of false positives: a relation whose
//! columns are not all known (a source no migration creates, a function in
//! FROM, a relation stackc cannot see) makes every name that could be its
//! column unknown, and an unknown name is never reported. An expression
//! this walk does not model has an unknown type and reads nothing it
//! reports.

use std::collections::BTreeMap;

use sqlparser::ast::{
    BinaryOperator, Distinct, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart, OrderByKind, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned, TableFactor, UnaryOperator,
    Value, WindowType,
};

use super::types::{self, Ty};

/// A relation of the catalog, by `(schema, name)`.
pub type RelKey = (String, String);

/// How an output column depends on an upstream column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The value itself, unchanged.
    Copy,
    /// Computed from it.
    Transform,
    /// It decides which rows there are (`where`, `join ... on`, `group
    /// by`, `having`), not the value.
    Filter,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Copy => "copy",
            Kind::Transform => "transform",
            Kind::Filter => "filter",
        }
    }
}

/// Upstream columns, each with the strongest way it is used.
pub type Lineage = BTreeMap<(RelKey, String), Kind>;

fn add(into: &mut Lineage, key: (RelKey, String), kind: Kind) {
    let k = into.entry(key).or_insert(kind);
    *k = (*k).min(kind);
}

fn extend(into: &mut Lineage, from: &Lineage, kind: Option<Kind>) {
    for (key, k) in from {
        let k = match (kind, *k) {
            (_, Kind::Filter) => Kind::Filter,
            (Some(kind), _) => kind,
            (None, k) => k,
        };
        add(into, key.clone(), k);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Col {
    pub name: String,
    pub ty: Ty,
    pub lineage: Lineage,
}

/// What the catalog knows of a relation.
#[derive(Debug, Clone)]
pub struct RelCols {
    pub columns: Vec<Col>,
    /// Further columns may exist (a schema file lists some of a source's).
    pub open: bool,
}

/// The relations a query can read.
pub trait Catalog {
    /// `schema.name` when the project knows it.
    fn relation(&self, schema: &str, name: &str) -> Option<RelCols>;
}

/// A 1-based (line, character column) of the analysed SQL.
pub type At = (usize, usize);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// A column that no relation in scope has.
    UnknownColumn {
        name: String,
        /// The relations looked in, as written (alias or name).
        searched: Vec<String>,
        candidates: Vec<String>,
    },
    /// A name two relations in scope have.
    Ambiguous {
        name: String,
        relations: [String; 2],
    },
    /// A set operation whose sides have different numbers of columns.
    SetArity { left: usize, right: usize },
    /// A set operation column whose known types on the two sides are of
    /// different categories, which PostgreSQL refuses to match.
    SetTypes {
        column: usize,
        left: String,
        right: String,
    },
    /// `values` rows of different lengths.
    ValuesArity {
        row: usize,
        len: usize,
        first: usize,
    },
    /// Values PostgreSQL cannot bring to one type (`construct` is
    /// `VALUES`, `CASE`, `COALESCE`...): this one's type `other` and the
    /// type `first` chosen from those before it.
    Types {
        construct: &'static str,
        first: String,
        other: String,
    },
    /// A string literal PostgreSQL cannot read as the type its construct
    /// brings it to.
    Literal { text: String, ty: String },
    /// Two output columns of one name.
    Duplicate { name: String },
    /// A `join ... using` column whose types on the two sides PostgreSQL
    /// cannot match.
    UsingTypes {
        name: String,
        left: String,
        right: String,
    },
    /// `group by 3` / `order by 3` beyond the select list.
    Position {
        n: String,
        count: usize,
        clause: &'static str,
    },
    /// A natural join: which columns it joins on changes when an upstream
    /// relation gains a column.
    Natural { joined: Option<Vec<String>> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub start: At,
    pub end: At,
    /// Where the value it clashes with is, for a note.
    pub related: Option<(At, At)>,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    /// The output columns, when all of them are known.
    pub columns: Option<Vec<Col>>,
    pub problems: Vec<Problem>,
}

/// Analyses one query against the catalog.
pub fn analyze(query: &Query, catalog: &dyn Catalog) -> Analysis {
    let mut a = Analyzer {
        catalog,
        problems: Vec::new(),
    };
    let root = Scope::default();
    let out = a.query(query, &root);
    Analysis {
        columns: out,
        problems: a.problems,
    }
}

mod expr;
mod scope;
mod setop;

pub use setop::duplicate_outputs;
#[cfg(test)]
mod tests;

pub use expr::figure_name;
use scope::{
    apply_alias, column, find_rel, function_rel, qualified, rename, star, unqualified, Found, Rel,
    Scope, Val,
};

fn ident_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some('"') => ident.value.replace("\"\"", "\""),
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    }
}

fn object_parts(name: &ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(ident_name(i)),
            _ => None,
        })
        .collect()
}

fn at(ident: &Ident) -> (At, At) {
    let s = ident.span;
    (
        (s.start.line as usize, s.start.column as usize),
        (s.end.line as usize, s.end.column as usize),
    )
}

fn span_of(node: &impl Spanned) -> (At, At) {
    let s = node.span();
    (
        (s.start.line as usize, s.start.column as usize),
        (s.end.line as usize, s.end.column as usize),
    )
}

/// Names sqlparser may read as a column that PostgreSQL reads as a
/// function of no arguments.
const VALUE_KEYWORDS: &[&str] = &[
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "current_user",
    "session_user",
    "user",
    "current_role",
    "current_schema",
    "current_catalog",
];

fn keyword_type(name: &str) -> Option<Ty> {
    Some(match name {
        "current_date" => Ty::known("date"),
        "current_timestamp" => Ty::known("timestamp with time zone"),
        "localtimestamp" => Ty::known("timestamp without time zone"),
        "current_time" => Ty::known("time with time zone"),
        "localtime" => Ty::known("time without time zone"),
        n if VALUE_KEYWORDS.contains(&n) => Ty::known("name"),
        _ => return None,
    })
}

struct Analyzer<'c> {
    catalog: &'c dyn Catalog,
    problems: Vec<Problem>,
}

impl Analyzer<'_> {
    fn problem(&mut self, kind: ProblemKind, (start, end): (At, At)) {
        self.problems.push(Problem {
            kind,
            start,
            end,
            related: None,
        });
    }

    fn problem_with(&mut self, kind: ProblemKind, (start, end): (At, At), related: (At, At)) {
        self.problems.push(Problem {
            kind,
            start,
            end,
            related: Some(related),
        });
    }

    /// The output columns of a query, `None` when not all are known.
    fn query(&mut self, q: &Query, parent: &Scope) -> Option<Vec<Col>> {
        let mut scope = Scope::child(parent);
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = ident_name(&cte.alias.name);
                if with.recursive {
                    // The recursive part reads the CTE itself: its columns
                    // are the non-recursive part's, unknown while analysing.
                    scope.ctes.push((name.clone(), None));
                }
                let cols = self.query(&cte.query, &scope);
                let cols = cols.map(|c| rename(c, &cte.alias));
                scope.ctes.retain(|(n, _)| *n != name);
                scope.ctes.push((
                    name,
                    cols.map(|columns| RelCols {
                        columns,
                        open: false,
                    }),
                ));
            }
        }
        let order_by = q.order_by.as_ref().and_then(|o| match &o.kind {
            OrderByKind::Expressions(e) => Some(&e[..]),
            OrderByKind::All(_) => None,
        });
        match &*q.body {
            SetExpr::Select(select) => self.select(select, &scope, order_by.unwrap_or_default()),
            body => {
                let out = self.set_expr(body, &scope);
                // ORDER BY of a set operation names its output columns.
                if let (Some(order_by), Some(cols)) = (order_by, &out) {
                    self.order_by_outputs(order_by, cols);
                }
                out
            }
        }
    }

    fn select(
        &mut self,
        select: &Select,
        parent: &Scope,
        order_by: &[sqlparser::ast::OrderByExpr],
    ) -> Option<Vec<Col>> {
        let mut scope = Scope::child(parent);
        let mut filters = Lineage::new();
        for twj in &select.from {
            self.factor(&twj.relation, &mut scope);
            for join in &twj.joins {
                let before = scope.rels.len();
                self.factor(&join.relation, &mut scope);
                let constraint = match &join.join_operator {
                    JoinOperator::Join(c)
                    | JoinOperator::Inner(c)
                    | JoinOperator::Left(c)
                    | JoinOperator::LeftOuter(c)
                    | JoinOperator::Right(c)
                    | JoinOperator::RightOuter(c)
                    | JoinOperator::FullOuter(c)
                    | JoinOperator::CrossJoin(c) => Some(c),
                    _ => None,
                };
                match constraint {
                    Some(JoinConstraint::On(e)) => {
                        let v = self.expr(e, &scope, &[]);
                        extend(&mut filters, &v.lineage, Some(Kind::Filter));
                    }
                    Some(JoinConstraint::Using(names)) => {
                        self.using(names, before.saturating_sub(1), &mut scope, &mut filters)
                    }
                    Some(JoinConstraint::Natural) => {
                        self.natural(&join.relation, before, &mut scope)
                    }
                    Some(_) => {}
                    // A join this walk does not model: nothing is certain.
                    None => scope.lenient = true,
                }
            }
        }
        if let Some(e) = &select.selection {
            let v = self.expr(e, &scope, &[]);
            extend(&mut filters, &v.lineage, Some(Kind::Filter));
        }
        let mut outputs: Vec<Col> = Vec::new();
        let mut complete = true;
        for item in &select.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let v = self.expr(e, &scope, &[]);
                    outputs.push(column(figure_name(e), v));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let v = self.expr(expr, &scope, &[]);
                    outputs.push(column(ident_name(alias), v));
                }
                SelectItem::Wildcard(_) => match star(&scope) {
                    Some(cols) => outputs.extend(cols),
                    None => complete = false,
                },
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => {
                    let rel = object_parts(n)
                        .and_then(|p| p.last().cloned())
                        .and_then(|alias| find_rel(&scope, &alias));
                    match rel.and_then(|r| r.closed().map(<[Col]>::to_vec)) {
                        Some(cols) => outputs.extend(cols),
                        None => complete = false,
                    }
                }
                _ => complete = false,
            }
        }
        match &select.group_by {
            GroupByExpr::Expressions(exprs, _) => {
                for e in exprs {
                    if let Some(v) = self.position(e, &outputs, complete, "group by") {
                        extend(&mut filters, &v.lineage, Some(Kind::Filter));
                        continue;
                    }
                    let v = self.expr(e, &scope, &outputs);
                    extend(&mut filters, &v.lineage, Some(Kind::Filter));
                }
            }
            GroupByExpr::All(_) => {}
        }
        if let Some(e) = &select.having {
            let v = self.expr(e, &scope, &outputs);
            extend(&mut filters, &v.lineage, Some(Kind::Filter));
        }
        if let Some(Distinct::On(exprs)) = &select.distinct {
            for e in exprs {
                let v = self.expr(e, &scope, &outputs);
                extend(&mut filters, &v.lineage, Some(Kind::Filter));
            }
        }
        for w in &select.named_window {
            if let sqlparser::ast::NamedWindowExpr::WindowSpec(spec) = &w.1 {
                for e in spec
                    .partition_by
                    .iter()
                    .chain(spec.order_by.iter().map(|o| &o.expr))
                {
                    self.expr(e, &scope, &[]);
                }
            }
        }
        for o in order_by {
            if self
                .position(&o.expr, &outputs, complete, "order by")
                .is_some()
            {
                continue;
            }
            if let Expr::Identifier(i) = &o.expr {
                if outputs.iter().any(|c| c.name == ident_name(i)) {
                    continue;
                }
            }
            self.expr(&o.expr, &scope, &outputs);
        }
        if !complete {
            return None;
        }
        for c in &mut outputs {
            extend(&mut c.lineage, &filters, Some(Kind::Filter));
        }
        Some(outputs)
    }

    /// `group by 2` / `order by 2`: the output column, or a problem when
    /// there is none at that position.
    fn position(
        &mut self,
        e: &Expr,
        outputs: &[Col],
        complete: bool,
        clause: &'static str,
    ) -> Option<Val> {
        let Expr::Value(v) = e else { return None };
        let Value::Number(n, _) = &v.value else {
            return None;
        };
        let i: usize = n.parse().ok()?;
        match outputs.get(i.wrapping_sub(1)) {
            Some(c) => Some(Val {
                ty: c.ty.clone(),
                lineage: c.lineage.clone(),
                copy: true,
            }),
            None => {
                if complete {
                    self.problem(
                        ProblemKind::Position {
                            n: n.clone(),
                            count: outputs.len(),
                            clause,
                        },
                        span_of(e),
                    );
                }
                Some(Val::of(Ty::Unknown))
            }
        }
    }

    fn order_by_outputs(&mut self, order_by: &[sqlparser::ast::OrderByExpr], cols: &[Col]) {
        for o in order_by {
            // Positions are checked; names and expressions PostgreSQL
            // resolves against the output alone, which the walk leaves to it.
            self.position(&o.expr, cols, true, "order by");
        }
    }

    fn using(
        &mut self,
        names: &[ObjectName],
        left_end: usize,
        scope: &mut Scope,
        filters: &mut Lineage,
    ) {
        let (left, right) = scope.rels.split_at(left_end + 1);
        let mut merged = Vec::new();
        for name in names {
            let Some(ident) = name.0.last().and_then(|p| match p {
                ObjectNamePart::Identifier(i) => Some(i),
                _ => None,
            }) else {
                continue;
            };
            let n = ident_name(ident);
            let lcol = scope
                .merged
                .iter()
                .find(|c| c.name == n)
                .or_else(|| left.iter().find_map(|r| r.find(&n)));
            let rcol = right.iter().find_map(|r| r.find(&n));
            let all_known = |rels: &[Rel]| rels.iter().all(|r| r.closed().is_some());
            for (side, col, known) in [
                (left, lcol, all_known(left)),
                (right, rcol, all_known(right)),
            ] {
                if col.is_none() && known {
                    let kind = ProblemKind::UnknownColumn {
                        name: n.clone(),
                        searched: side.iter().map(|r| r.label.clone()).collect(),
                        candidates: side
                            .iter()
                            .flat_map(|r| r.cols.iter().flatten().map(|c| c.name.clone()))
                            .collect(),
                    };
                    self.problems.push(Problem {
                        kind,
                        start: at(ident).0,
                        end: at(ident).1,
                        related: None,
                    });
                }
            }
            let mut lineage = Lineage::new();
            for c in [lcol, rcol].into_iter().flatten() {
                extend(&mut lineage, &c.lineage, None);
                extend(filters, &c.lineage, Some(Kind::Filter));
            }
            let ty = match (lcol, rcol) {
                (Some(a), Some(b)) => match crate::columns::common::resolve([&a.ty, &b.ty]) {
                    Ok(ty) => ty,
                    Err(_) => {
                        let kind = ProblemKind::UsingTypes {
                            name: n.clone(),
                            left: a.ty.output().unwrap_or_default(),
                            right: b.ty.output().unwrap_or_default(),
                        };
                        self.problems.push(Problem {
                            kind,
                            start: at(ident).0,
                            end: at(ident).1,
                            related: None,
                        });
                        Ty::Unknown
                    }
                },
                _ => Ty::Unknown,
            };
            merged.push(Col {
                name: n,
                ty,
                lineage,
            });
        }
        scope
            .merged
            .retain(|c| !merged.iter().any(|m| m.name == c.name));
        scope.merged.extend(merged);
    }

    fn natural(&mut self, relation: &TableFactor, right_start: usize, scope: &mut Scope) {
        let (left, right) = scope.rels.split_at(right_start);
        let names = |rels: &[Rel]| -> Option<Vec<String>> {
            let mut out = Vec::new();
            for r in rels {
                out.extend(r.closed()?.iter().map(|c| c.name.clone()));
            }
            Some(out)
        };
        let joined = match (names(left), names(right)) {
            (Some(l), Some(r)) => Some(l.into_iter().filter(|n| r.contains(n)).collect::<Vec<_>>()),
            _ => None,
        };
        match &joined {
            Some(names) => {
                let cols: Vec<Col> = names
                    .iter()
                    .filter_map(|n| left.iter().find_map(|r| r.find(n)).cloned())
                    .collect();
                scope.merged.extend(cols);
            }
            None => scope.lenient = true,
        }
        self.problem(ProblemKind::Natural { joined }, span_of(relation));
    }

    fn factor(&mut self, f: &TableFactor, scope: &mut Scope) {
        let rel = match f {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let parts = object_parts(name).unwrap_or_default();
                let table = parts.last().cloned().unwrap_or_default();
                let cols = if args.is_some() {
                    None
                } else if parts.len() == 1 {
                    match scope.cte(&table) {
                        Some(cte) => cte.clone(),
                        // An ephemeral model's CTE, which emit adds.
                        None => self.catalog.relation("", &table),
                    }
                } else if parts.len() >= 2 {
                    let n = parts.len();
                    self.catalog.relation(&parts[n - 2], &parts[n - 1])
                } else {
                    None
                };
                let label = match alias {
                    Some(a) => ident_name(&a.name),
                    None => parts.join("."),
                };
                let (cols, open) = match cols {
                    Some(rc) => (Some(rc.columns), rc.open),
                    None => (None, false),
                };
                let mut rel = Rel {
                    alias: Some(table),
                    label,
                    cols,
                    open,
                };
                apply_alias(&mut rel, alias.as_ref());
                rel
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let cols = self.query(subquery, scope);
                let mut rel = Rel {
                    alias: None,
                    label: alias
                        .as_ref()
                        .map_or("the subquery".into(), |a| ident_name(&a.name)),
                    cols,
                    open: false,
                };
                apply_alias(&mut rel, alias.as_ref());
                rel
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                // The nested join's relations join this FROM; an alias
                // over them all hides their names, which is left unknown.
                if alias.is_some() {
                    Rel {
                        alias: alias.as_ref().map(|a| ident_name(&a.name)),
                        label: "the join".into(),
                        cols: None,
                        open: false,
                    }
                } else {
                    // Analyse the nested join's conditions in its own scope,
                    // then expose its relations here.
                    let mut inner = Scope::child(scope);
                    for twj in [&**table_with_joins] {
                        self.factor(&twj.relation, &mut inner);
                        for join in &twj.joins {
                            self.factor(&join.relation, &mut inner);
                            if let JoinOperator::Inner(JoinConstraint::On(e))
                            | JoinOperator::Join(JoinConstraint::On(e))
                            | JoinOperator::Left(JoinConstraint::On(e))
                            | JoinOperator::LeftOuter(JoinConstraint::On(e))
                            | JoinOperator::Right(JoinConstraint::On(e))
                            | JoinOperator::RightOuter(JoinConstraint::On(e))
                            | JoinOperator::FullOuter(JoinConstraint::On(e)) =
                                &join.join_operator
                            {
                                self.expr(e, &inner, &[]);
                            } else if !matches!(
                                join.join_operator,
                                JoinOperator::CrossJoin(JoinConstraint::None)
                            ) {
                                inner.lenient = true;
                            }
                        }
                    }
                    let (rels, merged, lenient) = (inner.rels, inner.merged, inner.lenient);
                    scope.rels.extend(rels);
                    scope.merged.extend(merged);
                    scope.lenient |= lenient;
                    return;
                }
            }
            // Functions in FROM (`generate_series`, `unnest`, `jsonb_to_recordset`):
            // their columns are named by the alias, their types not known.
            TableFactor::Function { alias, args, .. } => {
                for a in args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a {
                        self.expr(e, scope, &[]);
                    }
                }
                function_rel(alias.as_ref())
            }
            TableFactor::UNNEST {
                alias, array_exprs, ..
            } => {
                for e in array_exprs {
                    self.expr(e, scope, &[]);
                }
                function_rel(alias.as_ref())
            }
            TableFactor::TableFunction { alias, .. } => function_rel(alias.as_ref()),
            other => {
                let alias = match other {
                    TableFactor::JsonTable { alias, .. }
                    | TableFactor::OpenJsonTable { alias, .. }
                    | TableFactor::Pivot { alias, .. }
                    | TableFactor::Unpivot { alias, .. } => alias.as_ref(),
                    _ => None,
                };
                function_rel(alias)
            }
        };
        scope.rels.push(rel);
    }
}
