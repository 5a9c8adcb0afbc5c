//! Parse: rendered SQL through sqlparser's PostgreSQL dialect, and the
//! identifier quoting rules of PostgreSQL.

use std::ops::ControlFlow;

use std::collections::BTreeMap;

use sqlparser::ast::{ObjectName, Spanned, Statement, TableFactor, Visit, Visitor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError, ParserOptions};
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

mod depth;
mod lex;

// The quoting helpers live in a leaf module so that stages before parsing
// (render, dbt) can write SQL text without naming this stage.
pub use crate::quoting::{comment, fit_identifier, literal, quote_ident, relation_name};

/// A syntax error at a 1-based line and character column of the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// A relation named in a query's FROM/JOIN, with its location in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationRef {
    /// Name parts as PostgreSQL sees them (unquoted parts folded to lower case).
    pub parts: Vec<String>,
    /// 1-based (line, column) of the start and end (exclusive) of the name.
    pub start: (usize, usize),
    pub end: (usize, usize),
}

#[derive(Debug, Clone)]
pub struct ParsedQuery {
    pub relations: Vec<RelationRef>,
    /// The output columns, when the select list names every one.
    pub columns: Option<Vec<String>>,
}

/// What a model or test must be: one query (SELECT, VALUES, WITH ...).
#[derive(Debug)]
pub enum QueryProblem {
    Syntax(SqlError),
    /// Nested more deeply than the checker can safely hold (see [`depth`]).
    TooDeep(SqlError),
    NotAQuery {
        what: String,
    },
    Empty,
}

/// `Parser::parse_sql`, with three differences that matter at 10,000
/// models: tokens come from [`lex`] when it can make them (sqlparser's
/// tokenizer was half of the parse), string literals keep their escapes
/// (nothing here reads a literal's value, and unescaping was a sixth of the
/// parse), and the token buffer is sized up front (growing it was 3% of a
/// compile).
fn parse_statements(sql: &str) -> Result<Vec<Statement>, Failure> {
    let dialect = PostgreSqlDialect {};
    // Models run to about one token, whitespace included, per two bytes.
    let mut tokens = Vec::with_capacity(sql.len() / 2 + 16);
    if !lex::tokenize(sql, &mut tokens) {
        tokens.clear();
        Tokenizer::new(&dialect, sql)
            .with_unescape(false)
            .tokenize_with_location_into_buf(&mut tokens)
            .map_err(|e| Failure::Parser(e.into()))?;
    }
    if let Some((line, column)) = depth::too_deep(&tokens) {
        return Err(Failure::TooDeep {
            line,
            column,
            limit: depth::MAX_DEPTH,
        });
    }
    // Kept for the location of a recursion-limit error: the parser takes
    // the tokens.
    let deepest = depth::deepest_bracket(&tokens);
    Parser::new(&dialect)
        .with_options(ParserOptions::new().with_unescape(false))
        .with_recursion_limit(depth::MAX_BRACKETS)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| match e {
            ParserError::RecursionLimitExceeded => Failure::TooDeep {
                line: deepest.0,
                column: deepest.1,
                limit: depth::MAX_BRACKETS,
            },
            e => Failure::Parser(e),
        })
}

/// Why [`parse_statements`] made no statements.
enum Failure {
    Parser(ParserError),
    TooDeep {
        line: usize,
        column: usize,
        limit: usize,
    },
}

impl Failure {
    fn into_problem(self, sql: &str) -> QueryProblem {
        match self {
            Failure::Parser(e) => QueryProblem::Syntax(sql_error(e, sql)),
            Failure::TooDeep {
                line,
                column,
                limit,
            } => QueryProblem::TooDeep(too_deep(line, column, limit)),
        }
    }

    fn into_error(self, sql: &str) -> SqlError {
        match self {
            Failure::Parser(e) => sql_error(e, sql),
            Failure::TooDeep {
                line,
                column,
                limit,
            } => too_deep(line, column, limit),
        }
    }
}

fn too_deep(line: usize, column: usize, limit: usize) -> SqlError {
    SqlError {
        message: format!(
            "the statement is nested too deeply to check (more than {limit} levels of operators, brackets or subqueries)"
        ),
        line,
        column,
    }
}

pub fn parse_query(sql: &str) -> Result<ParsedQuery, QueryProblem> {
    parse_query_tree(sql).map(|(parsed, _)| parsed)
}

/// [`parse_query`], with the query's tree for the column analysis: one
/// parse of a model serves both (the tree is dropped after its analysis,
/// as keeping 10,000 trees alive costs 0.7 GB).
pub fn parse_query_tree(
    sql: &str,
) -> Result<(ParsedQuery, Box<sqlparser::ast::Query>), QueryProblem> {
    let statements = parse_statements(sql).map_err(|e| e.into_problem(sql))?;
    let mut statements = statements.into_iter();
    let (Some(statement), None) = (statements.next(), statements.next()) else {
        return Err(if is_blank(sql) {
            QueryProblem::Empty
        } else {
            QueryProblem::NotAQuery {
                what: "several statements".into(),
            }
        });
    };
    let query = match statement {
        Statement::Query(query) => query,
        statement => {
            let text = statement.to_string();
            let what = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            return Err(QueryProblem::NotAQuery {
                what: format!("a `{what}` statement"),
            });
        }
    };
    let mut collector = RelationCollector::default();
    let _ = query.visit(&mut collector);
    let parsed = ParsedQuery {
        relations: collector.relations,
        columns: query_columns(&query),
    };
    Ok((parsed, query))
}

/// The output column names of a query when its select list names every
/// column (no `*`, every expression a column or aliased), else `None`.
pub fn select_columns(sql: &str) -> Option<Vec<String>> {
    let statements = parse_statements(sql).ok()?;
    match statements.first()? {
        Statement::Query(query) => query_columns(query),
        _ => None,
    }
}

fn query_columns(query: &sqlparser::ast::Query) -> Option<Vec<String>> {
    use sqlparser::ast::{Expr, SelectItem, SetExpr};
    let mut body = &*query.body;
    let select = loop {
        match body {
            SetExpr::Select(select) => break select,
            SetExpr::Query(q) => body = &q.body,
            SetExpr::SetOperation { left, .. } => body = left,
            _ => return None,
        }
    };
    let fold = ident_name;
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(fold(alias)),
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) => Some(fold(ident)),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => parts.last().map(fold),
            _ => None,
        })
        .collect()
}

/// Parses a script of statements (a migration); only success matters.
pub fn check_script(sql: &str) -> Result<usize, SqlError> {
    parse_statements(sql)
        .map(|s| s.len())
        .map_err(|e| e.into_error(sql))
}

fn sql_error(e: ParserError, sql: &str) -> SqlError {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        // parse_statements gives this one its location.
        ParserError::RecursionLimitExceeded => return too_deep(1, 1, depth::MAX_BRACKETS),
    };
    if let Some(i) = text.rfind(" at Line: ") {
        let location = &text[i + " at Line: ".len()..];
        if let Some((line, column)) = location.split_once(", Column: ") {
            if let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse()) {
                return SqlError {
                    message: text[..i].to_string(),
                    line,
                    column,
                };
            }
        }
    }
    // Errors at the end of input carry no location: point after the last
    // non-blank character.
    let end = sql.trim_end();
    let (line, column) = crate::diagnostic::line_col(end, end.len());
    SqlError {
        message: text,
        line,
        column,
    }
}

#[derive(Default)]
struct RelationCollector {
    relations: Vec<RelationRef>,
}

impl Visitor for RelationCollector {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        // Table functions (`generate_series(...)`) have args; they are not relations.
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
        {
            self.relations.push(relation_ref(name));
        }
        ControlFlow::Continue(())
    }
}

/// The name PostgreSQL sees for an identifier of a parsed statement. The
/// tokens are made with unescaping off (see `parse_statements`), so a
/// quoted identifier still holds `""` for each `"` of its name: `"a""b"`
/// is the column `a"b`. Unquoted names fold as in [`fold_unquoted`].
fn ident_name(ident: &sqlparser::ast::Ident) -> String {
    match ident.quote_style {
        Some('"') => ident.value.replace("\"\"", "\""),
        Some(_) => ident.value.clone(),
        None => fold_unquoted(&ident.value),
    }
}

/// PostgreSQL folds an unquoted identifier to lower case in ASCII only
/// (`Straße` stays `straße`, `ÄB` becomes `Äb`).
pub fn fold_unquoted(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn relation_ref(name: &ObjectName) -> RelationRef {
    let parts = name
        .0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident_name(ident),
            None => part.to_string(),
        })
        .collect();
    let span = name.span();
    RelationRef {
        parts,
        start: (span.start.line as usize, span.start.column as usize),
        end: (span.end.line as usize, span.end.column as usize),
    }
}

/// The tables a sequence of migrations leaves, replayed in order: `create
/// table` with its columns, `alter table ... add / drop / rename column`,
/// `drop table`. Keys are `(schema, name)` as PostgreSQL folds them (no
/// schema: `public`); each column has its type as written. A migration the
/// checker cannot parse is skipped (W0202 says so), and so is any table
/// whose shape it cannot follow (`create table ... as select`).
pub type ReplayedTables = BTreeMap<(String, String), Vec<(String, String)>>;

pub fn replay_tables<'a>(scripts: impl IntoIterator<Item = &'a str>) -> ReplayedTables {
    use sqlparser::ast::AlterTableOperation as Op;
    let key = |name: &ObjectName| -> Option<(String, String)> {
        let parts = relation_ref(name).parts;
        match parts.as_slice() {
            [table] => Some(("public".to_string(), table.clone())),
            [schema, table] | [_, schema, table] => Some((schema.clone(), table.clone())),
            _ => None,
        }
    };
    let mut tables = ReplayedTables::new();
    for sql in scripts {
        let Ok(statements) = parse_statements(sql) else {
            continue;
        };
        for statement in statements {
            match statement {
                Statement::CreateTable(t) if t.query.is_none() && !t.columns.is_empty() => {
                    if let Some(k) = key(&t.name) {
                        let columns = t
                            .columns
                            .iter()
                            .map(|c| (ident_name(&c.name), c.data_type.to_string()))
                            .collect();
                        if !(t.if_not_exists && tables.contains_key(&k)) {
                            tables.insert(k, columns);
                        }
                    }
                }
                Statement::AlterTable(a) => {
                    let Some(k) = key(&a.name) else { continue };
                    let Some(columns) = tables.get_mut(&k) else {
                        continue;
                    };
                    for op in &a.operations {
                        match op {
                            Op::AddColumn { column_def, .. } => {
                                let name = ident_name(&column_def.name);
                                if !columns.iter().any(|(c, _)| *c == name) {
                                    columns.push((name, column_def.data_type.to_string()));
                                }
                            }
                            Op::DropColumn { column_names, .. } => {
                                let drop: Vec<String> =
                                    column_names.iter().map(ident_name).collect();
                                columns.retain(|(c, _)| !drop.contains(c));
                            }
                            Op::RenameColumn {
                                old_column_name,
                                new_column_name,
                            } => {
                                let old = ident_name(old_column_name);
                                for (c, _) in columns.iter_mut() {
                                    if *c == old {
                                        *c = ident_name(new_column_name);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Statement::Drop {
                    object_type: sqlparser::ast::ObjectType::Table,
                    names,
                    ..
                } => {
                    for name in &names {
                        if let Some(k) = key(name) {
                            tables.remove(&k);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    tables
}

/// Relations a script creates (`create table|view|materialized view`), as
/// lower-cased `(schema, name)` pairs where the name is qualified. Works on
/// tokens, so it also reads scripts that sqlparser cannot parse.
pub fn created_relations(sql: &str) -> Vec<(Option<String>, String)> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let keyword = |t: &Token, k: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !keyword(words[i], "create") {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < words.len()
            && [
                "or",
                "replace",
                "unlogged",
                "temp",
                "temporary",
                "materialized",
                "recursive",
                "global",
                "local",
            ]
            .iter()
            .any(|k| keyword(words[j], k))
        {
            j += 1;
        }
        if j < words.len() && (keyword(words[j], "table") || keyword(words[j], "view")) {
            j += 1;
            if j + 2 < words.len()
                && keyword(words[j], "if")
                && keyword(words[j + 1], "not")
                && keyword(words[j + 2], "exists")
            {
                j += 3;
            }
            let mut parts = Vec::new();
            while let Some(Token::Word(w)) = words.get(j) {
                // This tokenizer unescapes (`""` is already `"`).
                parts.push(if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    fold_unquoted(&w.value)
                });
                if matches!(words.get(j + 1), Some(Token::Period)) {
                    j += 2;
                } else {
                    break;
                }
            }
            match parts.len() {
                1 => out.push((None, parts.remove(0))),
                n if n >= 2 => {
                    let name = parts.pop().unwrap_or_default();
                    let schema = parts.pop();
                    out.push((schema, name));
                }
                _ => {}
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// Whether a token list has only whitespace and comments.
pub fn is_blank(sql: &str) -> bool {
    match Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() {
        Ok(tokens) => tokens.iter().all(|t| {
            matches!(
                t,
                Token::Whitespace(
                    Whitespace::Space
                        | Whitespace::Newline
                        | Whitespace::Tab
                        | Whitespace::SingleLineComment { .. }
                        | Whitespace::MultiLineComment(_)
                ) | Token::SemiColon
            )
        }),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_replay_to_the_tables_they_leave() {
        let tables = replay_tables([
            "create table raw.orders (id int, \"Amount\" numeric(10,2), note text);\ncreate table t (a int);",
            "alter table raw.orders add column placed_at timestamptz, drop column note;\nalter table raw.orders rename column id to order_id;\ndrop table t;\ncreate table raw.copy as select 1 as x;",
        ]);
        let orders = &tables[&("raw".to_string(), "orders".to_string())];
        let names: Vec<&str> = orders.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["order_id", "Amount", "placed_at"]);
        assert_eq!(orders[1].1, "NUMERIC(10,2)");
        assert!(!tables.contains_key(&("public".to_string(), "t".to_string())));
        assert!(!tables.contains_key(&("raw".to_string(), "copy".to_string())));
    }

    #[test]
    fn quoted_names_are_unescaped_and_unquoted_ones_fold_as_postgresql_does() {
        let columns = select_columns(
            "select 1 as \"a\"\"b\", 2 as \"\"\"\", t.\"X\"\"\" , \"Q\" as \"\"\"q\"\"\", 3 as ÄB from t",
        );
        assert_eq!(columns.unwrap(), ["a\"b", "\"", "X\"", "\"q\"", "Äb"]);
        let parsed = parse_query("select * from \"s\"\"x\".\"T\"\"\" join Ab.ÄB on true").unwrap();
        let parts: Vec<_> = parsed.relations.iter().map(|r| r.parts.clone()).collect();
        assert_eq!(parts, [vec!["s\"x", "T\""], vec!["ab", "Äb"]]);
        assert_eq!(
            created_relations("create table \"a\"\"b\".ÄX (x int)"),
            [(Some("a\"b".to_string()), "Äx".to_string())]
        );
        // Emitted back, each name is quoted so that it reads as itself.
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    use super::*;

    #[test]
    fn real_world_postgres_parses() {
        let sql = r#"
with recent as (
    select distinct on (customer_id) customer_id, order_id, payload->>'channel' as channel,
           amount::numeric(12,2) as amount,
           sum(amount) filter (where status = 'paid') over (partition by customer_id order by created_at
               rows between unbounded preceding and current row) as running,
           percentile_cont(0.5) within group (order by amount) over () as med
    from staging.orders o
    cross join lateral (select * from jsonb_array_elements(o.items) as i(item)) li
    where payload @> '{"a": 1}'::jsonb and created_at > now() - interval '3 days'
    order by customer_id, created_at desc
)
select r.*, g.n from recent r, generate_series(1, 3) as g(n)
"#;
        let parsed = parse_query(sql).unwrap();
        let names: Vec<_> = parsed.relations.iter().map(|r| r.parts.join(".")).collect();
        assert!(names.contains(&"staging.orders".to_string()), "{names:?}");
        assert!(
            !names.iter().any(|n| n.contains("generate_series")),
            "{names:?}"
        );
    }

    #[test]
    fn syntax_errors_are_located() {
        match parse_query("select a\nfrom t where") {
            Err(QueryProblem::Syntax(e)) => assert_eq!(e.line, 2),
            other => panic!("{other:?}"),
        }
        match parse_query("select (1") {
            Err(QueryProblem::Syntax(e)) => assert_eq!(e.line, 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn models_must_be_one_query() {
        assert!(matches!(
            parse_query("create table x (a int)"),
            Err(QueryProblem::NotAQuery { .. })
        ));
        assert!(matches!(
            parse_query("select 1; select 2"),
            Err(QueryProblem::NotAQuery { .. })
        ));
        assert!(matches!(
            parse_query("-- nothing\n"),
            Err(QueryProblem::Empty)
        ));
        assert!(parse_query("select 1;").is_ok());
    }

    #[test]
    fn finds_created_relations_in_unparseable_scripts() {
        let sql = "CREATE TABLE IF NOT EXISTS raw.Orders (id int);\nDO $$ begin perform 1; end $$;\ncreate unlogged table \"Raw\".\"Mixed\" (like raw.orders including all);\ncreate or replace view v as select 1;";
        assert!(check_script(sql).is_err());
        assert_eq!(
            created_relations(sql),
            vec![
                (Some("raw".into()), "orders".into()),
                (Some("Raw".into()), "Mixed".into()),
                (None, "v".into())
            ]
        );
    }

    #[test]
    fn select_columns_when_named() {
        assert_eq!(
            select_columns("with a as (select 1 as x) select a.x, y as \"Y\", z::int as z from a")
                .unwrap(),
            ["x", "Y", "z"]
        );
        assert_eq!(select_columns("select * from a"), None);
        assert_eq!(select_columns("select count(*) from a"), None);
    }
}
