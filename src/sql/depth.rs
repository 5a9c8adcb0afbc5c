//! A bound on how deeply a statement nests, checked on its tokens before
//! sqlparser builds a tree from them.
//!
//! sqlparser parses `a + a + a ...` in a loop, so its recursion limit never
//! sees the chain, but the tree it returns is as deep as the chain is long,
//! and dropping or walking that tree recurses once per operator: 33,000
//! terms overflowed the stack and aborted the process. The estimate here
//! counts, for every open bracket level, the operators since the last
//! separator (`,`, a clause keyword, `when`, ...), which is at least the
//! depth of any tree the tokens can make; a query a person writes stays far
//! below the limit.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

/// More levels than this are refused. sqlparser with `recursive-protection`
/// grows its stack while it parses and walks; what is left recursive (drop)
/// handled ten times this in a debug build on a 2 MiB thread stack.
pub const MAX_DEPTH: usize = 1000;

/// sqlparser's own recursion limit (brackets, subqueries), raised from its
/// default of 50, which a generated `coalesce(coalesce(...))` can reach:
/// with `recursive-protection` its recursion grows the stack as it goes.
pub const MAX_BRACKETS: usize = 200;

#[derive(Default)]
struct Level {
    /// Operators since the last separator at this level.
    ops: usize,
    /// `union`/`intersect`/`except` at this level: a select keyword does not
    /// reset them, as each one nests the query before it one level deeper.
    set_ops: usize,
}

/// Where the estimate first passes [`MAX_DEPTH`]: the 1-based line and
/// column of that token.
pub fn too_deep(tokens: &[TokenWithSpan]) -> Option<(usize, usize)> {
    let mut levels = vec![Level::default()];
    // The sum over `levels` of `ops + set_ops + 1`, kept as it changes.
    let mut depth = 1usize;
    for t in tokens {
        match &t.token {
            Token::Whitespace(
                Whitespace::Space
                | Whitespace::Tab
                | Whitespace::Newline
                | Whitespace::SingleLineComment { .. }
                | Whitespace::MultiLineComment(_),
            ) => continue,
            Token::LParen | Token::LBracket | Token::LBrace => {
                levels.push(Level::default());
                depth += 1;
            }
            Token::RParen | Token::RBracket | Token::RBrace if levels.len() > 1 => {
                if let Some(top) = levels.pop() {
                    depth -= top.ops + top.set_ops + 1;
                }
            }
            // A stray closing bracket: the parser reports it.
            Token::RParen | Token::RBracket | Token::RBrace => {}
            Token::Comma | Token::SemiColon | Token::Colon => {
                if let Some(top) = levels.last_mut() {
                    depth -= top.ops;
                    top.ops = 0;
                    if t.token == Token::SemiColon {
                        depth -= top.set_ops;
                        top.set_ops = 0;
                    }
                }
            }
            Token::Word(w) => match w.keyword {
                // `case` nests like a bracket, `end` closes it.
                Keyword::CASE => {
                    levels.push(Level::default());
                    depth += 1;
                }
                Keyword::END if levels.len() > 1 => {
                    if let Some(top) = levels.pop() {
                        depth -= top.ops + top.set_ops + 1;
                    }
                }
                Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT => {
                    if let Some(top) = levels.last_mut() {
                        top.set_ops += 1;
                        depth += 1;
                    }
                }
                Keyword::AND
                | Keyword::OR
                | Keyword::NOT
                | Keyword::IS
                | Keyword::IN
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::SIMILAR
                | Keyword::BETWEEN
                | Keyword::COLLATE
                | Keyword::AT
                | Keyword::OVERLAPS
                | Keyword::ANY
                | Keyword::ALL
                | Keyword::SOME
                | Keyword::EXISTS => {
                    if let Some(top) = levels.last_mut() {
                        top.ops += 1;
                        depth += 1;
                    }
                }
                Keyword::SELECT
                | Keyword::FROM
                | Keyword::WHERE
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::OFFSET
                | Keyword::WHEN
                | Keyword::THEN
                | Keyword::ELSE
                | Keyword::ON
                | Keyword::JOIN
                | Keyword::USING
                | Keyword::WITH
                | Keyword::AS
                | Keyword::SET
                | Keyword::VALUES
                | Keyword::RETURNING
                | Keyword::WINDOW => {
                    if let Some(top) = levels.last_mut() {
                        depth -= top.ops;
                        top.ops = 0;
                    }
                }
                _ => {}
            },
            // Operands and names.
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::Placeholder(_)
            | Token::Period
            | Token::EOF => {}
            // Everything else may be an operator: counting one that is
            // not only makes the estimate larger.
            _ => {
                if let Some(top) = levels.last_mut() {
                    top.ops += 1;
                    depth += 1;
                }
            }
        }
        if depth > MAX_DEPTH {
            let at = t.span.start;
            return Some((at.line as usize, at.column as usize));
        }
    }
    None
}

/// Where the bracket nesting of `tokens` is first at its deepest: the place
/// to show when sqlparser's own recursion limit stops it.
pub fn deepest_bracket(tokens: &[TokenWithSpan]) -> (usize, usize) {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut at = (1, 1);
    for t in tokens {
        match t.token {
            Token::LParen | Token::LBracket => {
                depth += 1;
                if depth > max {
                    max = depth;
                    at = (t.span.start.line as usize, t.span.start.column as usize);
                }
            }
            Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::tokenizer::Tokenizer;

    fn tokens(sql: &str) -> Vec<TokenWithSpan> {
        Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize_with_location()
            .unwrap()
    }

    #[test]
    fn a_long_chain_is_too_deep_where_it_passes_the_limit() {
        let sql = format!("select\n  1{}", " + a".repeat(2 * MAX_DEPTH));
        let (line, column) = too_deep(&tokens(&sql)).unwrap();
        assert_eq!(line, 2);
        // The operator that made it one too many.
        assert_eq!(&sql[sql.find('\n').unwrap() + column..][..1], "+");
    }

    #[test]
    fn wide_queries_are_not_deep() {
        let cols: Vec<String> = (0..5000).map(|i| format!("a + {i} as c{i}")).collect();
        let whens: String = (0..5000)
            .map(|i| format!(" when x = {i} then 'v{i}'"))
            .collect();
        let unions = vec!["select 1 from t where a = 1 and b = 2"; 500].join(" union all ");
        for sql in [
            format!("select {} from t", cols.join(", ")),
            format!("select case{whens} else null end from t"),
            format!("select 1 where x in ({})", vec!["1"; 20000].join(", ")),
            unions,
        ] {
            assert_eq!(too_deep(&tokens(&sql)), None, "{}", &sql[..60]);
        }
    }

    #[test]
    fn nesting_adds_up_across_brackets_and_cases() {
        let half = MAX_DEPTH / 2 + 1;
        let sql = format!(
            "select {}{}1{}",
            "a + ".repeat(half),
            "(".repeat(half),
            ")".repeat(half)
        );
        assert!(too_deep(&tokens(&sql)).is_some());
        let cases = format!(
            "select {}1{}",
            "case when x then ".repeat(MAX_DEPTH + 1),
            " end".repeat(MAX_DEPTH + 1)
        );
        assert!(too_deep(&tokens(&cases)).is_some());
    }

    #[test]
    fn deepest_bracket_is_the_first_at_the_maximum() {
        let t = tokens("select (1),\n  ((2)), ((3))");
        assert_eq!(deepest_bracket(&t), (2, 4));
    }
}
