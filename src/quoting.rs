//! Writing SQL text: identifiers quoted where PostgreSQL needs it, string
//! literals, comments and derived names. A leaf module: every stage that
//! writes SQL (render, dbt's Jinja context, emit) uses it.

use std::borrow::Cow;

/// PostgreSQL's reserved key words (those that cannot be a table or column
/// name unquoted), from the "Key Words" appendix of the manual. Sorted:
/// `quote_ident` looks words up by binary search.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// An identifier as PostgreSQL needs it written: bare when it is a plain
/// lower-case name that is not reserved, else double-quoted.
pub fn quote_ident(name: &str) -> Cow<'_, str> {
    if is_plain_ident(name) {
        Cow::Borrowed(name)
    } else {
        let mut quoted = String::with_capacity(name.len() + 2);
        push_quoted(&mut quoted, name);
        Cow::Owned(quoted)
    }
}

fn is_plain_ident(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'$')
        && RESERVED.binary_search(&name).is_err()
}

fn push_quoted(out: &mut String, name: &str) {
    out.push('"');
    for (i, part) in name.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

/// `schema.name`, each part quoted where needed; `force_quote` keeps the
/// name exactly as written (a source with `quoting: {identifier: true}`).
/// Built in one allocation: relation names are written tens of thousands of
/// times in a large project's artifacts.
pub fn relation_name(schema: &str, name: &str, force_quote: bool) -> String {
    let mut out = String::with_capacity(schema.len() + name.len() + 5);
    push_ident(&mut out, schema, false);
    out.push('.');
    push_ident(&mut out, name, force_quote);
    out
}

fn push_ident(out: &mut String, name: &str, force_quote: bool) {
    if !force_quote && is_plain_ident(name) {
        out.push_str(name);
    } else {
        push_quoted(out, name);
    }
}

/// A string literal for SQL text.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A name stackc derives (an index, a temporary table) that PostgreSQL
/// keeps whole: at most 63 bytes, else its start (cut on a character
/// boundary), `__` and 8 hex digits of the SHA-256 of the whole name, so
/// that two long names that start alike stay two names.
pub fn fit_identifier(name: &str) -> Cow<'_, str> {
    const MAX: usize = 63;
    if name.len() <= MAX {
        return Cow::Borrowed(name);
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut keep = MAX - 2 - hash.len();
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    Cow::Owned(format!("{}__{hash}", &name[..keep]))
}

/// Text for an SQL comment (`-- ...` to the end of the line, or inside
/// `/* ... */`), from anything a user wrote: paths, names, config values.
/// Nothing it returns can end or nest a comment: control characters (a
/// newline would end a line comment) become escapes like `\n`, and `*/`
/// and `/*` get a space between their characters. Every comment writer of
/// the artifacts goes through here.
pub fn comment(text: &str) -> Cow<'_, str> {
    let harmless = !text
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
        && !text.contains("*/")
        && !text.contains("/*");
    if harmless {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous = '\0';
    for c in text.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
            previous = '\0';
            continue;
        }
        if (previous == '*' && c == '/') || (previous == '/' && c == '*') {
            out.push(' ');
        }
        out.push(c);
        previous = c;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        assert!(RESERVED.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("orders"), "orders");
    }

    #[test]
    fn derived_names_fit_postgresql() {
        assert_eq!(fit_identifier("short"), "short");
        let a = format!("{}a", "é".repeat(40));
        let b = format!("{}b", "é".repeat(40));
        for n in [&a, &b] {
            assert!(fit_identifier(n).len() <= 63, "{}", fit_identifier(n));
        }
        assert_ne!(fit_identifier(&a), fit_identifier(&b));
        assert_eq!(fit_identifier(&a), fit_identifier(&a.clone()));
    }

    #[test]
    fn nothing_in_a_comment_ends_or_nests_it() {
        assert_eq!(comment("models/a/b.sql"), "models/a/b.sql");
        let hostile = "x\ndrop table raw.orders cascade;\n--\r\u{b}*/ /* /*/\u{2028}y";
        let safe = comment(hostile);
        assert_eq!(
            safe,
            "x\\ndrop table raw.orders cascade;\\n--\\r\\u{b}* / / * / * /\\u{2028}y"
        );
        for line in [
            format!("-- {safe}\nselect 1"),
            format!("/* {safe} */ select 1"),
        ] {
            let dialect = sqlparser::dialect::PostgreSqlDialect {};
            let tokens = sqlparser::tokenizer::Tokenizer::new(&dialect, &line)
                .tokenize()
                .unwrap();
            let words: Vec<String> = tokens
                .iter()
                .filter(|t| !matches!(t, sqlparser::tokenizer::Token::Whitespace(_)))
                .map(ToString::to_string)
                .collect();
            assert_eq!(words, ["select", "1"], "{line}");
        }
    }

    #[test]
    fn quoting_only_where_needed() {
        assert_eq!(quote_ident("orders"), "orders");
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("Orders"), "\"Orders\"");
        assert_eq!(quote_ident("a-b"), "\"a-b\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
        assert_eq!(relation_name("raw", "Orders", false), "raw.\"Orders\"");
        assert_eq!(relation_name("raw", "orders", true), "raw.\"orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(
            relation_name("My Schema", "o\"k", true),
            "\"My Schema\".\"o\"\"k\""
        );
        assert_eq!(relation_name("user", "é", false), "\"user\".\"é\"");
    }
}
