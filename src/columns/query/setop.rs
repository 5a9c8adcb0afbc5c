//! The constructs that bring several values to one type, by PostgreSQL's
//! rule (see [`crate::columns::common`]): set operations, `values` lists,
//! and (for [`Analyzer::bring_together`]) `case`, `coalesce`,
//! `greatest`/`least`. Each clash is reported at the offending value,
//! with the value it clashes with as a note.

use super::*;
use crate::columns::common::{reads_as, resolve, Clash};

/// A value brought to a common type: its type, and its expression where
/// the query writes one (a `case` without `else` has none).
pub(super) type Input<'e> = (Ty, Option<&'e Expr>);

/// The string a literal expression writes, if it is one.
fn string_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s),
            _ => None,
        },
        Expr::Nested(inner) => string_literal(inner),
        _ => None,
    }
}

/// The span of `e`, or `fallback` where sqlparser has none.
fn span_or(e: Option<&Expr>, fallback: (At, At)) -> (At, At) {
    match e.map(span_of) {
        Some(s) if s.0 .0 > 0 => s,
        _ => fallback,
    }
}

/// The select list of the first select of a set operation's side, when
/// it has no `*` (so its items are its columns, in order).
fn first_items(body: &SetExpr) -> Option<Vec<&Expr>> {
    match body {
        SetExpr::Select(s) => s
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
                _ => None,
            })
            .collect(),
        SetExpr::Query(q) => first_items(&q.body),
        SetExpr::SetOperation { left, .. } => first_items(left),
        _ => None,
    }
}

impl Analyzer<'_> {
    /// The common type of `inputs` (a `construct` such as `CASE`), each
    /// clash and each literal PostgreSQL cannot read as it reported at
    /// `fallback` where the value has no expression; `None` after a clash.
    pub(super) fn bring_together(
        &mut self,
        construct: &'static str,
        inputs: &[Input],
        fallback: (At, At),
    ) -> Option<Ty> {
        match resolve(inputs.iter().map(|(t, _)| t)) {
            // Literals alone are `text` (PostgreSQL's rule, for every construct).
            Ok(Ty::Literal) => Some(Ty::known("text")),
            Ok(ty) => {
                self.check_literals(inputs.iter().filter_map(|(_, e)| *e), &ty);
                Some(ty)
            }
            Err(clash) => {
                let (at, from, first, other) = match clash {
                    Clash::Category {
                        at,
                        from,
                        first,
                        other,
                    } => (at, from, first, other),
                    Clash::Convert { at, from, ty, to } => (at, from, to, ty),
                };
                let here = span_or(inputs[at].1, fallback);
                let kind = ProblemKind::Types {
                    construct,
                    first,
                    other,
                };
                match inputs[from].1.map(span_of).filter(|s| s.0 .0 > 0) {
                    Some(there) => self.problem_with(kind, here, there),
                    None => self.problem(kind, here),
                }
                None
            }
        }
    }

    /// A problem for each string literal among `exprs` that PostgreSQL
    /// cannot read as `ty`.
    fn check_literals<'e>(&mut self, exprs: impl Iterator<Item = &'e Expr>, ty: &Ty) {
        let Ty::Known(name) = ty else { return };
        for e in exprs {
            if let Some(text) = string_literal(e) {
                if !reads_as(text, ty) {
                    let kind = ProblemKind::Literal {
                        text: text.to_string(),
                        ty: name.clone(),
                    };
                    let (start, end) = span_of(e);
                    // A nested set operation checks its first side again.
                    if !self
                        .problems
                        .iter()
                        .any(|p| p.kind == kind && p.start == start)
                    {
                        self.problem(kind, (start, end));
                    }
                }
            }
        }
    }

    pub(super) fn set_expr(&mut self, body: &SetExpr, scope: &Scope) -> Option<Vec<Col>> {
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
                let (li, ri) = (first_items(left), first_items(right));
                fn item<'e>(items: &Option<Vec<&'e Expr>>, i: usize) -> Option<&'e Expr> {
                    items.as_ref().and_then(|v| v.get(i).copied())
                }
                let mut out = Vec::with_capacity(l.len());
                for (i, (a, b)) in l.into_iter().zip(r).enumerate() {
                    let ty = match resolve([&a.ty, &b.ty]) {
                        // Literals alone are `text` once the sides meet.
                        Ok(Ty::Literal) => Ty::known("text"),
                        Ok(ty) => ty,
                        Err(_) => {
                            let kind = ProblemKind::SetTypes {
                                column: i + 1,
                                left: a.ty.output().unwrap_or_default(),
                                right: b.ty.output().unwrap_or_default(),
                            };
                            let here = span_or(item(&ri, i), span_of(&**right));
                            match item(&li, i).map(span_of).filter(|s| s.0 .0 > 0) {
                                Some(there) => self.problem_with(kind, here, there),
                                None => self.problem(kind, here),
                            }
                            return None;
                        }
                    };
                    self.check_literals([item(&li, i), item(&ri, i)].into_iter().flatten(), &ty);
                    let mut lineage = a.lineage;
                    extend(&mut lineage, &b.lineage, None);
                    out.push(Col {
                        ty,
                        name: a.name,
                        lineage,
                    });
                }
                Some(out)
            }
            SetExpr::Values(values) => {
                let mut rows: Vec<Vec<Val>> = Vec::new();
                for row in &values.rows {
                    rows.push(row.iter().map(|e| self.expr(e, scope, &[])).collect());
                }
                let width = rows.first()?.len();
                if let Some(bad) = values.rows.iter().position(|r| r.len() != width) {
                    let row = &values.rows[bad];
                    let here = match (row.first(), row.last()) {
                        (Some(a), Some(b)) => (span_of(a).0, span_of(b).1),
                        _ => span_of(&values.rows[0][0]),
                    };
                    let kind = ProblemKind::ValuesArity {
                        row: bad + 1,
                        len: row.len(),
                        first: width,
                    };
                    match values.rows[0].first().zip(values.rows[0].last()) {
                        Some((a, b)) => self.problem_with(kind, here, (span_of(a).0, span_of(b).1)),
                        None => self.problem(kind, here),
                    }
                    return None;
                }
                let mut out = Vec::with_capacity(width);
                let mut clashed = false;
                for i in 0..width {
                    let inputs: Vec<Input> = rows
                        .iter()
                        .zip(&values.rows)
                        .map(|(vals, exprs)| (vals[i].ty.clone(), Some(&exprs[i])))
                        .collect();
                    let ty = self.bring_together("VALUES", &inputs, span_of(&values.rows[0][i]));
                    clashed |= ty.is_none();
                    let ty = ty.unwrap_or(Ty::Unknown);
                    let mut lineage = Lineage::new();
                    for r in &rows {
                        extend(&mut lineage, &r[i].lineage, Some(Kind::Transform));
                    }
                    out.push(Col {
                        name: format!("column{}", i + 1),
                        ty,
                        lineage,
                    });
                }
                (!clashed).then_some(out)
            }
            _ => None,
        }
    }
}

/// A second output column of one name, at its select-list item (or the
/// query, after a `*`), with the first as a note: a plain select allows
/// it, but `create table as` and `create view`, which build every model,
/// refuse it ("column specified more than once").
pub fn duplicate_outputs(q: &Query, cols: &[Col]) -> Vec<Problem> {
    let items = first_items(&q.body).filter(|items| items.len() == cols.len());
    // After a `*`, the `select` keyword: which item repeats is not known.
    let whole = span_of(&*q.body);
    let whole = (whole.0, (whole.0 .0, whole.0 .1 + "select".len()));
    let at = |i: usize| span_or(items.as_ref().map(|v| v[i]), whole);
    let mut out = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        // `?column?` is the name of what stackc may not name as PostgreSQL
        // does: never reported.
        if c.name == "?column?" {
            continue;
        }
        if let Some(first) = cols[..i].iter().position(|d| d.name == c.name) {
            // One problem a name: a third copy says nothing new.
            if cols[first + 1..i].iter().any(|d| d.name == c.name) {
                continue;
            }
            let (start, end) = at(i);
            out.push(Problem {
                kind: ProblemKind::Duplicate {
                    name: c.name.clone(),
                },
                start,
                end,
                related: (items.is_some()).then(|| at(first)),
            });
        }
    }
    out
}
