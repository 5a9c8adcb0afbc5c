//! The value of an expression: its type, the names it reads resolved in
//! the scope, and the name PostgreSQL gives it as an output column.

use super::*;

impl Analyzer<'_> {
    /// The value of an expression, resolving its names in `scope`;
    /// `outputs` are the select list's columns, which `group by`, `having`
    /// and `order by` may name.
    pub(super) fn expr(&mut self, e: &Expr, scope: &Scope, outputs: &[Col]) -> Val {
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
                    results.push((r.ty.clone(), Some(&w.result)));
                    parts.push(r);
                }
                match else_result {
                    Some(x) => {
                        let r = self.expr(x, scope, outputs);
                        results.push((r.ty.clone(), Some(&**x)));
                        parts.push(r);
                    }
                    None => results.push((Ty::Literal, None)),
                }
                let ty = self.bring_together("CASE", &results, span_of(e));
                Val::computed(ty.unwrap_or(Ty::Unknown), &parts)
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
                // `array[]` alone has no type PostgreSQL can tell.
                let ty = match parts.is_empty() {
                    true => Ty::Unknown,
                    false => types::array_of(&types::common(parts.iter().map(|p| &p.ty))),
                };
                Val::computed(ty, &parts)
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                use sqlparser::ast::AccessExpr;
                // `t.tags[1]` is the root `t` with `.tags` and `[1]`.
                let (v, access_chain) = match (&**root, &access_chain[..]) {
                    (
                        Expr::Identifier(rel),
                        [AccessExpr::Dot(Expr::Identifier(col)), rest @ ..],
                    ) => {
                        let rel = ident_name(rel);
                        (self.name(Some(&rel), col, scope, outputs), rest)
                    }
                    _ => (self.expr(root, scope, outputs), &access_chain[..]),
                };
                // `tags[1]` is an element, `tags[1:2]` an array, `tags[1][2]`
                // of a one-dimension type is null: left unknown.
                let ty = match access_chain {
                    [sqlparser::ast::AccessExpr::Subscript(sqlparser::ast::Subscript::Index {
                        ..
                    })] => types::element(&v.ty),
                    [sqlparser::ast::AccessExpr::Subscript(sqlparser::ast::Subscript::Slice {
                        ..
                    })] if v.ty.output().is_some_and(|t| t.ends_with("[]")) => v.ty.clone(),
                    _ => Ty::Unknown,
                };
                Val::computed(ty, &[v])
            }
            _ => Val::of(Ty::Unknown),
        }
    }

    pub(super) fn subquery(&mut self, q: &Query, scope: &Scope) -> Val {
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

    pub(super) fn function(
        &mut self,
        f: &sqlparser::ast::Function,
        scope: &Scope,
        outputs: &[Col],
    ) -> Val {
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
        let mut arg_exprs = Vec::new();
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
                            arg_exprs.push(Some(x));
                            parts.push(v);
                        }
                        _ => {
                            arg_types.push(Ty::Unknown);
                            arg_exprs.push(None);
                        }
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
        let construct = match name.as_str() {
            "coalesce" => Some("COALESCE"),
            "greatest" => Some("GREATEST"),
            "least" => Some("LEAST"),
            _ => None,
        };
        let ty = match (&f.args, keyword_type(&name), construct) {
            (FunctionArguments::None, Some(t), _) => t,
            (FunctionArguments::List(_), _, Some(construct)) => {
                let inputs: Vec<_> = arg_types.iter().cloned().zip(arg_exprs).collect();
                let fallback = span_of(&f.name);
                self.bring_together(construct, &inputs, fallback)
                    .unwrap_or(Ty::Unknown)
            }
            _ => types::function(&name, &arg_types),
        };
        Val::computed(ty, &parts)
    }

    /// A column name, `qualifier.name` or bare.
    pub(super) fn name(
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

/// The name PostgreSQL gives an output column with no alias
/// (`FigureColname`): a column's own name, a function's name, `case`,
/// the type of a cast of something nameless, else `?column?`.
pub fn figure_name(e: &Expr) -> String {
    pub(super) fn figure(e: &Expr) -> Option<String> {
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
            Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => figure(inner),
            Expr::AtTimeZone { .. } => Some("timezone".into()),
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
