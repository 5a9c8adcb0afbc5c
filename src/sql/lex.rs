//! A fast path for sqlparser's tokenizer.
//!
//! sqlparser's tokenizer reads about 20 MB/s (it walks a `Peekable<Chars>`
//! and tracks the location of every character); at 10,000 models it took
//! half of the SQL check. This one handles what models are made of
//! (words, quoted identifiers, plain strings, numbers, comments, the common
//! operators) on bytes, and gives up on anything else, so that the caller
//! falls back to sqlparser's tokenizer for the whole text: its tokens are
//! either exactly sqlparser's or not made at all. The unit tests hold it
//! to that against sqlparser on a corpus and on generated text.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Whitespace};

/// Appends to `out` the tokens of `sql` that sqlparser's PostgreSQL
/// tokenizer makes with unescaping off, and returns true; or returns false
/// when `sql` holds something this fast path does not handle, leaving `out`
/// in no particular state.
pub fn tokenize(sql: &str, out: &mut Vec<TokenWithSpan>) -> bool {
    let mut lexer = Lexer {
        sql,
        bytes: sql.as_bytes(),
        pos: 0,
        line: 1,
        col: 1,
    };
    while lexer.pos < lexer.bytes.len() {
        let start = lexer.location();
        let Some(token) = lexer.token() else {
            return false;
        };
        out.push(TokenWithSpan::new(
            token,
            Span::new(start, lexer.location()),
        ));
    }
    true
}

struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u64,
    /// In characters, as sqlparser counts, not bytes.
    col: u64,
}

/// The characters sqlparser lets a PostgreSQL custom operator run on with.
fn is_operator_char(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

impl<'a> Lexer<'a> {
    fn location(&self) -> Location {
        Location::new(self.line, self.col)
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// Moves over `n` bytes, none of them a line break.
    fn skip_on_line(&mut self, n: usize) {
        self.pos += n;
        self.col += n as u64;
    }

    /// Moves to `end`, counting lines and characters on the way.
    fn skip_to(&mut self, end: usize) {
        for &b in &self.bytes[self.pos..end] {
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                // Not a UTF-8 continuation byte: a new character.
                self.col += 1;
            }
        }
        self.pos = end;
    }

    fn token(&mut self) -> Option<Token> {
        let b = self.bytes[self.pos];
        let one = |lexer: &mut Self, token| {
            lexer.skip_on_line(1);
            Some(token)
        };
        match b {
            b' ' => one(self, Token::Whitespace(Whitespace::Space)),
            b'\t' => one(self, Token::Whitespace(Whitespace::Tab)),
            b'\n' => {
                self.skip_to(self.pos + 1);
                Some(Token::Whitespace(Whitespace::Newline))
            }
            b'\r' => {
                // `\r\n` is one newline token; a lone `\r` is one too, but
                // sqlparser counts it as a column, not a line.
                let end = self.pos + if self.peek(1) == Some(b'\n') { 2 } else { 1 };
                self.skip_to(end);
                Some(Token::Whitespace(Whitespace::Newline))
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.word(),
            b'0'..=b'9' => self.number(),
            b'\'' => {
                let value = self.quoted(b'\'')?;
                Some(Token::SingleQuotedString(value.to_string()))
            }
            b'"' => {
                let value = self.quoted(b'"')?;
                Some(Token::make_word(value, Some('"')))
            }
            b'(' => one(self, Token::LParen),
            b')' => one(self, Token::RParen),
            b',' => one(self, Token::Comma),
            b';' => one(self, Token::SemiColon),
            b'[' => one(self, Token::LBracket),
            b']' => one(self, Token::RBracket),
            b':' => match self.peek(1) {
                Some(b':') => {
                    self.skip_on_line(2);
                    Some(Token::DoubleColon)
                }
                Some(b'=') => {
                    self.skip_on_line(2);
                    Some(Token::Assignment)
                }
                _ => one(self, Token::Colon),
            },
            // `.5` is a number and `._` has rules of its own.
            b'.' => match self.peek(1) {
                Some(b'0'..=b'9' | b'_') => None,
                _ => one(self, Token::Period),
            },
            b if is_operator_char(b) => self.operator(),
            _ => None,
        }
    }

    fn word(&mut self) -> Option<Token> {
        let start = self.pos;
        let mut end = start + 1;
        while end < self.bytes.len() && is_word_char(self.bytes[end]) {
            end += 1;
        }
        let next = self.bytes.get(end).copied();
        // A non-ASCII letter continues the word (PostgreSQL allows them);
        // one letter before a quote may start a literal: E'..', B'..',
        // X'..', N'..', U&'..'.
        if next.is_some_and(|n| !n.is_ascii())
            || (end - start == 1 && matches!(next, Some(b'\'' | b'"' | b'&')))
        {
            return None;
        }
        let token = Token::make_word(&self.sql[start..end], None);
        // `COPY ... FROM STDIN;` makes sqlparser read the lines after it as
        // data.
        if matches!(&token, Token::Word(w) if w.keyword == Keyword::COPY) {
            return None;
        }
        self.skip_on_line(end - start);
        Some(token)
    }

    /// `123` and `1.5`; exponents, `_` separators, `0x..` and friends are
    /// left to sqlparser.
    fn number(&mut self) -> Option<Token> {
        let start = self.pos;
        let digits = |mut at: usize| {
            while at < self.bytes.len() && self.bytes[at].is_ascii_digit() {
                at += 1;
            }
            at
        };
        let mut end = digits(start);
        if self.bytes.get(end) == Some(&b'.') {
            end = digits(end + 1);
        }
        if self
            .bytes
            .get(end)
            .is_some_and(|&n| is_word_char(n) || n == b'.' || !n.is_ascii())
        {
            return None;
        }
        let token = Token::Number(self.sql[start..end].to_string(), false);
        self.skip_on_line(end - start);
        Some(token)
    }

    /// The raw text between `quote` and its closing quote, doubled quotes
    /// kept as written (sqlparser's unescape off); `None` when unclosed.
    fn quoted(&mut self, quote: u8) -> Option<&'a str> {
        let open = self.pos;
        let mut at = open + 1;
        loop {
            let close = at + self.bytes[at..].iter().position(|&b| b == quote)?;
            if self.bytes.get(close + 1) == Some(&quote) {
                at = close + 2;
                continue;
            }
            self.skip_to(close + 1);
            return Some(&self.sql[open + 1..close]);
        }
    }

    fn operator(&mut self) -> Option<Token> {
        let start = self.pos;
        let mut end = start;
        while end < self.bytes.len() && is_operator_char(self.bytes[end]) {
            end += 1;
        }
        let run = &self.bytes[start..end];
        if run.starts_with(b"--") {
            // PostgreSQL's comment ends before `\n` or `\r`.
            let text_start = start + 2;
            let text_end = self.bytes[text_start..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map_or(self.bytes.len(), |n| text_start + n);
            let comment = self.sql[text_start..text_end].to_string();
            self.skip_to(text_end);
            return Some(Token::Whitespace(Whitespace::SingleLineComment {
                comment,
                prefix: "--".to_string(),
            }));
        }
        if run.starts_with(b"/*") {
            return self.block_comment();
        }
        // Any longer run is a custom or rarer operator: sqlparser's.
        let token = match run {
            b"+" => Token::Plus,
            b"-" => Token::Minus,
            b"*" => Token::Mul,
            b"/" => Token::Div,
            b"%" => Token::Mod,
            b"=" => Token::Eq,
            b"<" => Token::Lt,
            b">" => Token::Gt,
            b"<=" => Token::LtEq,
            b">=" => Token::GtEq,
            b"<>" | b"!=" => Token::Neq,
            b"||" => Token::StringConcat,
            _ => return None,
        };
        self.skip_on_line(run.len());
        Some(token)
    }

    /// `/* ... */`, nested as PostgreSQL nests them.
    fn block_comment(&mut self) -> Option<Token> {
        let text_start = self.pos + 2;
        let mut at = text_start;
        let mut depth = 1;
        while at < self.bytes.len() {
            match (self.bytes[at], self.bytes.get(at + 1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    at += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    if depth == 0 {
                        let comment = self.sql[text_start..at].to_string();
                        self.skip_to(at + 2);
                        return Some(Token::Whitespace(Whitespace::MultiLineComment(comment)));
                    }
                    at += 2;
                }
                _ => at += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::tokenizer::Tokenizer;

    fn sqlparser_tokens(sql: &str) -> Option<Vec<TokenWithSpan>> {
        let mut tokens = Vec::new();
        Tokenizer::new(&PostgreSqlDialect {}, sql)
            .with_unescape(false)
            .tokenize_with_location_into_buf(&mut tokens)
            .ok()?;
        Some(tokens)
    }

    /// Whether the fast path took `sql`; panics when it made other tokens
    /// than sqlparser, or took text that sqlparser refuses.
    fn agrees(sql: &str) -> bool {
        let mut fast = Vec::new();
        if !tokenize(sql, &mut fast) {
            return false;
        }
        let slow = sqlparser_tokens(sql)
            .unwrap_or_else(|| panic!("sqlparser refuses what the fast path took: {sql:?}"));
        assert_eq!(fast, slow, "tokens differ for {sql:?}");
        true
    }

    #[test]
    fn model_sql_takes_the_fast_path_with_sqlparsers_tokens() {
        let sql = "-- daily totals\nwith orders as (\n    select id, \"Mixed Case\", amount::numeric(14, 2) as amt\n    from analytics.stg_orders  /* nested /* comment */ here */\n    where status <> 'it''s' and x >= 1.5 and y <= 2 and z != 3\n)\nselect customer_id * 100000 + (created_date - date '2000-01-01') as id,\n  count(*) filter (where status = 'completed') as n, a || b, a % 2, a / 2, arr[1]\nfrom orders\r\ngroup by 1;\n";
        assert!(agrees(sql));
    }

    #[test]
    fn non_ascii_text_in_strings_and_comments_counts_characters() {
        assert!(agrees(
            "select 'café – ok' as x, \"naïve\" -- déjà vu\n, y /* ünïcödé */ from t"
        ));
        assert!(agrees("select 'a\nb' as x,\n 'é\né' as y from t\n"));
    }

    #[test]
    fn what_it_does_not_handle_falls_back() {
        for sql in [
            "select e'a\\n' from t",
            "select x'ff', b'01', n'x', u&'x' from t",
            "select data->>'k', data #> '{a}', data @> '{}' from t",
            "select 1e5, 1_000, 0x1f, .5, 1.2.3 from t",
            "select $1, $$body$$ from t",
            "select a::text from t where b ~ 'x'",
            "select 'unclosed",
            "select \"unclosed",
            "select /* unclosed",
            "copy t from stdin;\n1\n\\.\n",
            "select café from t",
            "select a <-> b, a+-1, a=-1 from t",
        ] {
            let mut fast = Vec::new();
            if tokenize(sql, &mut fast) {
                // Taken after all (`::`, `~` ...): then it must agree.
                assert!(agrees(sql), "{sql:?}");
            }
        }
        let mut out = Vec::new();
        assert!(!tokenize("select data->>'k' from t", &mut out));
        assert!(!tokenize("select e'x' from t", &mut out));
        assert!(!tokenize("select 'unclosed", &mut out));
    }

    /// Text made from fragments chosen to meet at every boundary the fast
    /// path decides on: whatever it takes must be sqlparser's tokens.
    #[test]
    fn generated_text_agrees_with_sqlparser_whenever_taken() {
        const FRAGMENTS: &[&str] = &[
            "select",
            " ",
            "  ",
            "\n",
            "\r\n",
            "\r",
            "\t",
            "a",
            "b",
            "e",
            "x",
            "n",
            "u",
            "_t",
            "t$1",
            "copy",
            "stdin",
            "from",
            "1",
            "0",
            "12",
            ".",
            "..",
            "5",
            "e5",
            "_",
            "'",
            "''",
            "'s'",
            "\"",
            "\"q\"\"x\"",
            "(",
            ")",
            ",",
            ";",
            "[",
            "]",
            ":",
            "::",
            ":=",
            "-",
            "--",
            "+",
            "*",
            "/",
            "/*",
            "*/",
            "%",
            "=",
            "<",
            ">",
            "<=",
            ">=",
            "<>",
            "!=",
            "!",
            "||",
            "|",
            "&",
            "@",
            "#",
            "~",
            "^",
            "?",
            "$",
            "`",
            "{",
            "}",
            "é",
            "–",
            "\\",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            // xorshift64*: deterministic, so a failure reproduces.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut taken = 0;
        for _ in 0..40_000 {
            let len = 1 + (next() % 12) as usize;
            let sql: String = (0..len)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            if agrees(&sql) {
                taken += 1;
            }
        }
        // The test means something only if the fast path takes a fair share.
        assert!(taken > 5_000, "only {taken} texts took the fast path");
    }
}
