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
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned, TableAlias, TableFactor,
    UnaryOperator, Value, WindowType,
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

#[derive(Debug, Clone)]
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

/// A relation in a FROM clause.
#[derive(Debug, Clone)]
struct Rel {
    /// The name columns are qualified with: the alias, else the table name.
    alias: Option<String>,
    /// For messages.
    label: String,
    /// `None`: nothing is known of its columns.
    cols: Option<Vec<Col>>,
    open: bool,
}

impl Rel {
    fn closed(&self) -> Option<&[Col]> {
        self.cols.as_deref().filter(|_| !self.open)
    }

    fn find(&self, name: &str) -> Option<&Col> {
        self.cols.as_ref()?.iter().find(|c| c.name == name)
    }
}

#[derive(Default)]
struct Scope<'p> {
    rels: Vec<Rel>,
    /// Columns a `using` or `natural` join made one.
    merged: Vec<Col>,
    /// A natural join with a side of unknown columns: which names it
    /// merged is not known, so no name is ambiguous.
    lenient: bool,
    ctes: Vec<(String, Option<RelCols>)>,
    parent: Option<&'p Scope<'p>>,
}

impl<'p> Scope<'p> {
    fn child(parent: &'p Scope<'p>) -> Scope<'p> {
        Scope {
            parent: Some(parent),
            ..Scope::default()
        }
    }

    fn cte(&self, name: &str) -> Option<&Option<RelCols>> {
        // A later CTE of one WITH shadows nothing earlier in it: names are unique.
        match self.ctes.iter().rev().find(|(n, _)| n == name) {
            Some((_, cols)) => Some(cols),
            None => self.parent?.cte(name),
        }
    }
}

/// What an unqualified or qualified name resolved to.
enum Found {
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
struct Val {
    ty: Ty,
    lineage: Lineage,
    copy: bool,
}

impl Val {
    fn of(ty: Ty) -> Val {
        Val {
            ty,
            lineage: Lineage::new(),
            copy: false,
        }
    }

    /// A value computed from `parts`.
    fn computed(ty: Ty, parts: &[Val]) -> Val {
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
        self.problems.push(Problem { kind, start, end });
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

    fn set_expr(&mut self, body: &SetExpr, scope: &Scope) -> Option<Vec<Col>> {
        match body {
            SetExpr::Select(select) => self.select(select, scope, &[]),
            SetExpr::Query(q) => self.query(q, scope),
            SetExpr::SetOperation { left, right, .. } => {
                let l = self.set_expr(left, scope);
                let r = self.set_expr(right, scope);
                let (l, r) = (l?, r?);
                if l.len() != r.len() {
                    self.problem(
                        ProblemKind::SetArity {
                            left: l.len(),
                            right: r.len(),
                        },
                        span_of(&**right),
                    );
                    return None;
                }
                Some(
                    l.into_iter()
                        .zip(r)
                        .map(|(a, b)| {
                            let mut lineage = a.lineage;
                            extend(&mut lineage, &b.lineage, None);
                            Col {
                                ty: types::common([&a.ty, &b.ty]),
                                name: a.name,
                                lineage,
                            }
                        })
                        .collect(),
                )
            }
            SetExpr::Values(values) => {
                let mut rows: Vec<Vec<Val>> = Vec::new();
                for row in &values.rows {
                    rows.push(row.iter().map(|e| self.expr(e, scope, &[])).collect());
                }
                let width = rows.first()?.len();
                (0..width)
                    .map(|i| {
                        let vals: Vec<&Val> = rows.iter().filter_map(|r| r.get(i)).collect();
                        let mut lineage = Lineage::new();
                        for v in &vals {
                            extend(&mut lineage, &v.lineage, Some(Kind::Transform));
                        }
                        Some(Col {
                            name: format!("column{}", i + 1),
                            ty: types::common(vals.iter().map(|v| &v.ty)),
                            lineage,
                        })
                    })
                    .collect()
            }
            _ => None,
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
                    });
                }
            }
            let mut lineage = Lineage::new();
            for c in [lcol, rcol].into_iter().flatten() {
                extend(&mut lineage, &c.lineage, None);
                extend(filters, &c.lineage, Some(Kind::Filter));
            }
            let ty = match (lcol, rcol) {
                (Some(a), Some(b)) => types::common([&a.ty, &b.ty]),
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

    /// The value of an expression, resolving its names in `scope`;
    /// `outputs` are the select list's columns, which `group by`, `having`
    /// and `order by` may name.
    fn expr(&mut self, e: &Expr, scope: &Scope, outputs: &[Col]) -> Val {
        match e {
            Expr::Identifier(ident) => self.name(None, ident, scope, outputs),
            Expr::CompoundIdentifier(parts) => match parts.len() {
                2 | 3 => {
                    let rel = ident_name(&parts[parts.len() - 2]);
                    self.name(Some(&rel), &parts[parts.len() - 1], scope, outputs)
                }
                _ => Val::of(Ty::Unknown),
            },
            Expr::Nested(inner) => self.expr(inner, scope, outputs),
            Expr::Value(v) => Val::of(match &v.value {
                Value::Number(n, _) => types::number(n),
                Value::SingleQuotedString(_)
                | Value::EscapedStringLiteral(_)
                | Value::DollarQuotedString(_)
                | Value::NationalStringLiteral(_)
                | Value::Null => Ty::Literal,
                Value::Boolean(_) => Ty::known("boolean"),
                _ => Ty::Unknown,
            }),
            Expr::TypedString(t) => Val::of(Ty::written(&t.data_type.to_string())),
            Expr::Interval(_) => Val::of(Ty::known("interval")),
            Expr::Cast {
                expr, data_type, ..
            } => {
                let v = self.expr(expr, scope, outputs);
                Val::computed(Ty::written(&data_type.to_string()), &[v])
            }
            Expr::BinaryOp { left, op, right } => {
                let l = self.expr(left, scope, outputs);
                let r = self.expr(right, scope, outputs);
                let ty = binary_type(op, &l.ty, &r.ty);
                Val::computed(ty, &[l, r])
            }
            Expr::UnaryOp { op, expr } => {
                let v = self.expr(expr, scope, outputs);
                let ty = match op {
                    UnaryOperator::Not => Ty::known("boolean"),
                    UnaryOperator::Minus | UnaryOperator::Plus => v.ty.clone(),
                    _ => Ty::Unknown,
                };
                Val::computed(ty, &[v])
            }
            Expr::IsNull(x)
            | Expr::IsNotNull(x)
            | Expr::IsTrue(x)
            | Expr::IsNotTrue(x)
            | Expr::IsFalse(x)
            | Expr::IsNotFalse(x)
            | Expr::IsUnknown(x)
            | Expr::IsNotUnknown(x) => {
                let v = self.expr(x, scope, outputs);
                Val::computed(Ty::known("boolean"), &[v])
            }
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                let parts = [self.expr(a, scope, outputs), self.expr(b, scope, outputs)];
                Val::computed(Ty::known("boolean"), &parts)
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                let parts = [
                    self.expr(expr, scope, outputs),
                    self.expr(low, scope, outputs),
                    self.expr(high, scope, outputs),
                ];
                Val::computed(Ty::known("boolean"), &parts)
            }
            Expr::Like { expr, pattern, .. }
            | Expr::ILike { expr, pattern, .. }
            | Expr::SimilarTo { expr, pattern, .. } => {
                let parts = [
                    self.expr(expr, scope, outputs),
                    self.expr(pattern, scope, outputs),
                ];
                Val::computed(Ty::known("boolean"), &parts)
            }
            Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
                let parts = [
                    self.expr(left, scope, outputs),
                    self.expr(right, scope, outputs),
                ];
                Val::computed(Ty::known("boolean"), &parts)
            }
            Expr::In { expr, target, .. } => {
                let mut parts = vec![self.expr(expr, scope, outputs)];
                match target {
                    sqlparser::ast::InTarget::List(list) => {
                        for x in list {
                            parts.push(self.expr(x, scope, outputs));
                        }
                    }
                    sqlparser::ast::InTarget::Subquery(q) => {
                        parts.push(self.subquery(q, scope));
                    }
                    sqlparser::ast::InTarget::Unnest(x) => {
                        parts.push(self.expr(x, scope, outputs));
                    }
                    _ => {}
                }
                Val::computed(Ty::known("boolean"), &parts)
            }
            Expr::Exists { subquery, .. } => {
                let v = self.subquery(subquery, scope);
                Val::computed(Ty::known("boolean"), &[v])
            }
            Expr::Subquery(q) => {
                let v = self.subquery(q, scope);
                Val::computed(v.ty.clone(), &[v])
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut parts = Vec::new();
                let mut results = Vec::new();
                if let Some(o) = operand {
                    parts.push(self.expr(o, scope, outputs));
                }
                for w in conditions {
                    parts.push(self.expr(&w.condition, scope, outputs));
                    let r = self.expr(&w.result, scope, outputs);
                    results.push(r.ty.clone());
                    parts.push(r);
                }
                match else_result {
                    Some(x) => {
                        let r = self.expr(x, scope, outputs);
                        results.push(r.ty.clone());
                        parts.push(r);
                    }
                    None => results.push(Ty::Literal),
                }
                Val::computed(types::common(&results), &parts)
            }
            Expr::Function(f) => self.function(f, scope, outputs),
            Expr::Extract { expr, .. } => {
                let v = self.expr(expr, scope, outputs);
                Val::computed(Ty::known("numeric"), &[v])
            }
            Expr::Ceil { expr, .. } | Expr::Floor { expr, .. } => {
                let v = self.expr(expr, scope, outputs);
                let ty = types::function("ceil", std::slice::from_ref(&v.ty));
                Val::computed(ty, &[v])
            }
            Expr::Position { expr, r#in } => {
                let parts = [
                    self.expr(expr, scope, outputs),
                    self.expr(r#in, scope, outputs),
                ];
                Val::computed(Ty::known("integer"), &parts)
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut parts = vec![self.expr(expr, scope, outputs)];
                for x in [substring_from, substring_for].into_iter().flatten() {
                    parts.push(self.expr(x, scope, outputs));
                }
                Val::computed(Ty::known("text"), &parts)
            }
            Expr::Trim {
                expr, trim_what, ..
            } => {
                let mut parts = vec![self.expr(expr, scope, outputs)];
                if let Some(w) = trim_what {
                    parts.push(self.expr(w, scope, outputs));
                }
                Val::computed(Ty::known("text"), &parts)
            }
            Expr::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                let v = self.expr(timestamp, scope, outputs);
                let z = self.expr(time_zone, scope, outputs);
                let ty = match v.ty.output().as_deref() {
                    Some("timestamp with time zone") => Ty::known("timestamp without time zone"),
                    Some("timestamp without time zone") => Ty::known("timestamp with time zone"),
                    _ => Ty::Unknown,
                };
                Val::computed(ty, &[v, z])
            }
            Expr::Collate { expr, .. } => {
                let v = self.expr(expr, scope, outputs);
                Val::computed(v.ty.clone(), &[v])
            }
            Expr::Tuple(items) => {
                let parts: Vec<Val> = items.iter().map(|x| self.expr(x, scope, outputs)).collect();
                Val::computed(Ty::Unknown, &parts)
            }
            Expr::Array(arr) => {
                let parts: Vec<Val> = arr
                    .elem
                    .iter()
                    .map(|x| self.expr(x, scope, outputs))
                    .collect();
                Val::computed(Ty::Unknown, &parts)
            }
            Expr::CompoundFieldAccess { root, .. } => {
                let v = self.expr(root, scope, outputs);
                Val::computed(Ty::Unknown, &[v])
            }
            _ => Val::of(Ty::Unknown),
        }
    }

    fn subquery(&mut self, q: &Query, scope: &Scope) -> Val {
        let cols = self.query(q, scope);
        let mut lineage = Lineage::new();
        for c in cols.iter().flatten() {
            extend(&mut lineage, &c.lineage, None);
        }
        let ty = match cols.as_deref() {
            Some([one]) => one.ty.clone(),
            _ => Ty::Unknown,
        };
        Val {
            ty,
            lineage,
            copy: false,
        }
    }

    fn function(&mut self, f: &sqlparser::ast::Function, scope: &Scope, outputs: &[Col]) -> Val {
        let name = object_parts(&f.name)
            .and_then(|p| {
                // `pg_catalog.now()` is `now()`.
                match &p[..] {
                    [one] => Some(one.clone()),
                    [schema, one] if schema == "pg_catalog" => Some(one.clone()),
                    _ => None,
                }
            })
            .unwrap_or_default();
        let mut parts = Vec::new();
        let mut arg_types = Vec::new();
        match &f.args {
            FunctionArguments::List(list) => {
                for a in &list.args {
                    let arg = match a {
                        FunctionArg::Unnamed(x) => x,
                        FunctionArg::Named { arg, .. } | FunctionArg::ExprNamed { arg, .. } => arg,
                    };
                    match arg {
                        FunctionArgExpr::Expr(x) => {
                            let v = self.expr(x, scope, outputs);
                            arg_types.push(v.ty.clone());
                            parts.push(v);
                        }
                        _ => arg_types.push(Ty::Unknown),
                    }
                }
                for clause in &list.clauses {
                    if let sqlparser::ast::FunctionArgumentClause::OrderBy(order) = clause {
                        for o in order {
                            parts.push(self.expr(&o.expr, scope, outputs));
                        }
                    }
                }
            }
            FunctionArguments::Subquery(q) => parts.push(self.subquery(q, scope)),
            FunctionArguments::None => {}
        }
        for o in &f.within_group {
            parts.push(self.expr(&o.expr, scope, outputs));
        }
        if let Some(filter) = &f.filter {
            parts.push(self.expr(filter, scope, outputs));
        }
        if let Some(WindowType::WindowSpec(spec)) = &f.over {
            for x in spec
                .partition_by
                .iter()
                .chain(spec.order_by.iter().map(|o| &o.expr))
            {
                parts.push(self.expr(x, scope, outputs));
            }
        }
        let ty = match (&f.args, keyword_type(&name)) {
            (FunctionArguments::None, Some(t)) => t,
            _ => types::function(&name, &arg_types),
        };
        Val::computed(ty, &parts)
    }

    /// A column name, `qualifier.name` or bare.
    fn name(
        &mut self,
        qualifier: Option<&str>,
        ident: &Ident,
        scope: &Scope,
        outputs: &[Col],
    ) -> Val {
        let n = ident_name(ident);
        let found = match qualifier {
            Some(q) => qualified(scope, q, &n),
            None => unqualified(scope, &n),
        };
        match found {
            Found::Col(c) => Val {
                ty: c.ty,
                lineage: c.lineage,
                copy: true,
            },
            Found::Unknown => Val::of(Ty::Unknown),
            Found::Missing {
                searched,
                candidates,
            } => {
                if qualifier.is_none() {
                    if let Some(c) = outputs.iter().find(|c| c.name == n) {
                        return Val {
                            ty: c.ty.clone(),
                            lineage: c.lineage.clone(),
                            copy: true,
                        };
                    }
                    if let Some(ty) = keyword_type(&n) {
                        return Val::of(ty);
                    }
                }
                self.problem(
                    ProblemKind::UnknownColumn {
                        name: n,
                        searched,
                        candidates,
                    },
                    at(ident),
                );
                Val::of(Ty::Unknown)
            }
            Found::Ambiguous(relations) => {
                self.problem(ProblemKind::Ambiguous { name: n, relations }, at(ident));
                Val::of(Ty::Unknown)
            }
        }
    }
}

fn binary_type(op: &BinaryOperator, l: &Ty, r: &Ty) -> Ty {
    use BinaryOperator as B;
    match op {
        B::Plus => types::arithmetic("+", l, r),
        B::Minus => types::arithmetic("-", l, r),
        B::Multiply => types::arithmetic("*", l, r),
        B::Divide => types::arithmetic("/", l, r),
        B::Modulo => types::arithmetic("%", l, r),
        B::StringConcat => types::arithmetic("||", l, r),
        B::PGExp => types::power(l, r),
        B::Gt
        | B::Lt
        | B::GtEq
        | B::LtEq
        | B::Eq
        | B::NotEq
        | B::And
        | B::Or
        | B::PGRegexMatch
        | B::PGRegexIMatch
        | B::PGRegexNotMatch
        | B::PGRegexNotIMatch
        | B::PGLikeMatch
        | B::PGILikeMatch
        | B::PGNotLikeMatch
        | B::PGNotILikeMatch
        | B::AtArrow
        | B::ArrowAt
        | B::Question
        | B::QuestionAnd
        | B::QuestionPipe
        | B::PGOverlap => Ty::known("boolean"),
        B::LongArrow | B::HashLongArrow => Ty::known("text"),
        B::Arrow | B::HashArrow => match l.output().as_deref() {
            Some("json") => Ty::known("json"),
            Some("jsonb") => Ty::known("jsonb"),
            _ => Ty::Unknown,
        },
        _ => Ty::Unknown,
    }
}

fn column(name: String, v: Val) -> Col {
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
fn star(scope: &Scope) -> Option<Vec<Col>> {
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

fn find_rel<'a>(scope: &'a Scope, alias: &str) -> Option<&'a Rel> {
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

fn qualified(scope: &Scope, rel: &str, name: &str) -> Found {
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

fn unqualified(scope: &Scope, name: &str) -> Found {
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
fn unreachable_col(name: &str) -> Col {
    Col {
        name: name.to_string(),
        ty: Ty::Unknown,
        lineage: Lineage::new(),
    }
}

/// A relation's alias `a(x, y)`: renames the first columns; `a` alone
/// renames the relation.
fn apply_alias(rel: &mut Rel, alias: Option<&TableAlias>) {
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

fn rename(mut cols: Vec<Col>, alias: &TableAlias) -> Vec<Col> {
    for (c, a) in cols.iter_mut().zip(&alias.columns) {
        c.name = ident_name(&a.name);
    }
    cols
}

/// A function in FROM: with `as f(a, b)` its columns are those names (of
/// unknown types), else unknown.
fn function_rel(alias: Option<&TableAlias>) -> Rel {
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

/// The name PostgreSQL gives an output column with no alias
/// (`FigureColname`): a column's own name, a function's name, `case`,
/// the type of a cast of something nameless, else `?column?`.
pub fn figure_name(e: &Expr) -> String {
    fn figure(e: &Expr) -> Option<String> {
        match e {
            Expr::Identifier(i) => Some(ident_name(i)),
            Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
            Expr::Function(f) => object_parts(&f.name)?.last().cloned(),
            Expr::Cast {
                expr, data_type, ..
            } => figure(expr).or_else(|| {
                let t = data_type.to_string().to_ascii_lowercase();
                // The type's own name, without modifiers: `numeric(10,2)` is `numeric`.
                let base = t.split('(').next().unwrap_or(&t).trim();
                Some(
                    match base {
                        "integer" | "int" | "int4" => "int4",
                        "bigint" | "int8" => "int8",
                        "smallint" | "int2" => "int2",
                        "boolean" | "bool" => "bool",
                        "double precision" | "float8" => "float8",
                        "real" | "float4" => "float4",
                        "character varying" | "varchar" => "varchar",
                        "decimal" => "numeric",
                        "timestamp" | "timestamp without time zone" => "timestamp",
                        "timestamptz" | "timestamp with time zone" => "timestamptz",
                        other => other,
                    }
                    .to_string(),
                )
            }),
            Expr::Nested(inner) => figure(inner),
            Expr::Case { .. } => Some("case".into()),
            Expr::Exists { .. } => Some("exists".into()),
            Expr::Array(_) => Some("array".into()),
            Expr::Extract { .. } => Some("extract".into()),
            Expr::Substring { .. } => Some("substring".into()),
            Expr::Trim { .. } => Some("btrim".into()),
            Expr::Position { .. } => Some("position".into()),
            Expr::Ceil { .. } => Some("ceil".into()),
            Expr::Floor { .. } => Some("floor".into()),
            Expr::Interval(_) => Some("interval".into()),
            Expr::TypedString(t) => {
                let ty = t.data_type.to_string().to_ascii_lowercase();
                Some(match ty.as_str() {
                    "timestamp" => "timestamp".into(),
                    _ => ty,
                })
            }
            Expr::Subquery(q) => match &*q.body {
                SetExpr::Select(s) => match s.projection.first()? {
                    SelectItem::ExprWithAlias { alias, .. } => Some(ident_name(alias)),
                    SelectItem::UnnamedExpr(e) => figure(e),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }
    figure(e).unwrap_or_else(|| "?column?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    /// `raw.orders(id integer, customer_id integer, amount numeric(10,2),
    /// ordered_at date, status text)`, `raw.customers(id integer, name
    /// text)`, and `raw.open`, a source of which a schema file lists `id`.
    struct Test;

    impl Catalog for Test {
        fn relation(&self, schema: &str, name: &str) -> Option<RelCols> {
            let cols: &[(&str, &str)] = match (schema, name) {
                ("raw", "orders") => &[
                    ("id", "integer"),
                    ("customer_id", "integer"),
                    ("amount", "numeric(10,2)"),
                    ("ordered_at", "date"),
                    ("status", "text"),
                ],
                ("raw", "customers") => &[("id", "integer"), ("name", "text")],
                ("raw", "open") => &[("id", "integer")],
                _ => return None,
            };
            Some(RelCols {
                columns: cols
                    .iter()
                    .map(|(n, t)| Col {
                        name: n.to_string(),
                        ty: Ty::known(t),
                        lineage: Lineage::from([(
                            ((schema.to_string(), name.to_string()), n.to_string()),
                            Kind::Copy,
                        )]),
                    })
                    .collect(),
                open: name == "open",
            })
        }
    }

    fn run(sql: &str) -> Analysis {
        let mut statements =
            Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("test SQL parses");
        let Some(Statement::Query(q)) = statements.pop() else {
            panic!("not a query: {sql}");
        };
        analyze(&q, &Test)
    }

    /// The output as `name type` pairs.
    fn cols(sql: &str) -> Vec<String> {
        let a = run(sql);
        assert_eq!(a.problems, [], "{sql}");
        a.columns
            .unwrap_or_else(|| panic!("columns of {sql}"))
            .iter()
            .map(|c| format!("{} {}", c.name, c.ty.output().unwrap_or("unknown".into())))
            .collect()
    }

    fn problems(sql: &str) -> Vec<ProblemKind> {
        run(sql).problems.into_iter().map(|p| p.kind).collect()
    }

    fn unknown(name: &str) -> impl Fn(&ProblemKind) -> bool + '_ {
        move |p| matches!(p, ProblemKind::UnknownColumn { name: n, .. } if n == name)
    }

    #[test]
    fn select_list_names_and_types() {
        assert_eq!(
            cols(
                "select id, amount * 2 as double_amount, status || '!' , count(*) over () as n, \
                  ordered_at + 1 as next_day, 'x' as lit, null as nothing, 1.5, \
                  cast(id as bigint), id::text, case when id > 1 then amount else 0 end as c, \
                  coalesce(amount, 0) as a0, o.customer_id from raw.orders o"
            ),
            [
                "id integer",
                "double_amount numeric",
                "?column? text",
                "n bigint",
                "next_day date",
                "lit text",
                "nothing text",
                "?column? numeric",
                "id bigint",
                "id text",
                "c numeric",
                "a0 numeric",
                "customer_id integer",
            ]
        );
    }

    #[test]
    fn aggregates_windows_and_dates() {
        assert_eq!(
            cols(
                "select customer_id, sum(amount) as total, count(distinct id) as orders, \
                  min(ordered_at) as first_order, avg(id) as a, \
                  row_number() over (partition by customer_id order by ordered_at) as rn, \
                  date_trunc('month', ordered_at) as month, extract(year from ordered_at) as y, \
                  ordered_at - interval '1 day' as before, current_date - ordered_at as age_days \
                  from raw.orders group by 1, ordered_at, id"
            ),
            [
                "customer_id integer",
                "total numeric",
                "orders bigint",
                "first_order date",
                "a numeric",
                "rn bigint",
                "month timestamp with time zone",
                "y numeric",
                "before timestamp without time zone",
                "age_days integer",
            ]
        );
    }

    #[test]
    fn stars_ctes_and_subqueries() {
        assert_eq!(
            cols(
                "with o as (select id as order_id, amount from raw.orders), \
                  c(cid, cname) as (select * from raw.customers) \
                  select o.*, c.cname, s.n from o join c on o.order_id = c.cid \
                  cross join (select count(*) as n from raw.orders) s"
            ),
            [
                "order_id integer",
                "amount numeric(10,2)",
                "cname text",
                "n bigint"
            ]
        );
        assert_eq!(
            cols("select * from raw.customers join raw.orders using (id)"),
            [
                "id integer",
                "name text",
                "customer_id integer",
                "amount numeric(10,2)",
                "ordered_at date",
                "status text"
            ]
        );
    }

    #[test]
    fn set_operations_and_values() {
        assert_eq!(
            cols(
                "select id, null as x from raw.orders union all select id, 1.5 from raw.customers"
            ),
            ["id integer", "x numeric"]
        );
        assert_eq!(
            cols("select * from (values (1, 'a'), (2, 'b')) v(n, s)"),
            ["n integer", "s text"]
        );
        assert_eq!(
            problems("select id, status from raw.orders union select id from raw.customers"),
            [ProblemKind::SetArity { left: 2, right: 1 }]
        );
    }

    #[test]
    fn unknown_columns_are_found_in_every_clause() {
        for sql in [
            "select idd from raw.orders",
            "select id from raw.orders where idd > 1",
            "select o.id from raw.orders o join raw.customers c on c.idd = o.customer_id",
            "select count(*) from raw.orders group by idd",
            "select row_number() over (partition by idd) from raw.orders",
            "with x as (select idd from raw.orders) select 1",
            "with x as (select id from raw.orders) select x.idd from x",
            "select id from raw.orders having sum(idd) > 1",
            "select id from raw.orders order by idd",
            "select * from raw.orders o where exists (select 1 from raw.customers c where c.id = o.idd)",
            "select * from raw.orders join raw.customers using (idd)",
        ] {
            let p = problems(sql);
            assert!(p.iter().any(unknown("idd")), "{sql}: {p:?}");
        }
        let p = problems("select o.idd from raw.orders o");
        assert_eq!(
            p,
            [ProblemKind::UnknownColumn {
                name: "idd".into(),
                searched: vec!["o".into()],
                candidates: ["id", "customer_id", "amount", "ordered_at", "status"]
                    .map(String::from)
                    .to_vec(),
            }]
        );
    }

    #[test]
    fn ambiguous_and_positions_and_natural() {
        assert_eq!(
            problems("select id from raw.orders o join raw.customers c on o.customer_id = c.id"),
            [ProblemKind::Ambiguous {
                name: "id".into(),
                relations: ["o".into(), "c".into()],
            }]
        );
        assert_eq!(
            problems("select id from raw.orders group by 2"),
            [ProblemKind::Position {
                n: "2".into(),
                count: 1,
                clause: "group by",
            }]
        );
        assert_eq!(
            problems("select * from raw.orders natural join raw.customers"),
            [ProblemKind::Natural {
                joined: Some(vec!["id".into()])
            }]
        );
    }

    #[test]
    fn what_is_not_known_is_never_reported() {
        for sql in [
            // A source no migration creates.
            "select anything from raw.unknown",
            "select u.anything, o.id from raw.orders o join raw.unknown u on u.x = o.id",
            // A schema file lists some of its columns.
            "select other from raw.open",
            // Functions in FROM, whole rows, composite fields, keywords.
            "select g, t.x from generate_series(1, 3) g, jsonb_to_recordset('[]') t(x int)",
            "select o, (o).id, current_date, current_timestamp from raw.orders o",
            // Correlated names from an outer scope, lateral.
            "select id, (select max(c.name) from raw.customers c where c.id = o.customer_id) from raw.orders o",
            "select o.id, l.n from raw.orders o, lateral (select o.amount * 2 as n) l",
            // Output aliases in order by / group by.
            "select id as k, count(*) as n from raw.orders group by k order by n",
            "select distinct on (customer_id) customer_id, id from raw.orders order by customer_id, ordered_at desc",
            // A recursive CTE.
            "with recursive r as (select 1 as n union all select n + 1 from r where n < 3) select n from r",
            // A natural join with a side of unknown columns.
            "select id, anything from raw.orders natural join raw.unknown",
        ] {
            let p = run(sql).problems;
            assert!(
                p.iter().all(|p| matches!(p.kind, ProblemKind::Natural { .. })),
                "{sql}: {p:?}"
            );
        }
        assert!(run("select * from raw.unknown").columns.is_none());
        assert!(run("select * from raw.open").columns.is_none());
    }

    #[test]
    fn lineage_is_copy_transform_or_filter() {
        let a = run(
            "select o.id, o.amount * 2 as twice, c.name from raw.orders o \
                     join raw.customers c on c.id = o.customer_id where o.status = 'done'",
        );
        let cols = a.columns.unwrap();
        let show = |c: &Col| {
            c.lineage
                .iter()
                .map(|(((_, t), col), k)| format!("{t}.{col} {}", k.as_str()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            show(&cols[0]),
            [
                "customers.id filter",
                "orders.customer_id filter",
                "orders.id copy",
                "orders.status filter"
            ]
        );
        assert!(show(&cols[1]).contains(&"orders.amount transform".to_string()));
        assert!(show(&cols[2]).contains(&"customers.name copy".to_string()));
    }
}
