//! Bounds on what one template may make minijinja do.
//!
//! minijinja's parser guards its recursion for brackets and statements,
//! but `{{ - - - 1 }}` recurses once per sign and `1 + 1 + ...` builds a
//! tree as deep as the chain, which its compiler then walks recursively:
//! a few thousand terms overflowed the stack and aborted the process. The
//! scan here runs on the template text before minijinja sees it.

use std::ops::Range;

/// Operators and brackets one Jinja expression may nest; minijinja handled
/// four times this in a debug build on a 2 MiB thread stack.
pub const MAX_DEPTH: usize = 500;

/// The work one render may do, in minijinja's fuel (about one unit per
/// instruction, and one per 64 bytes of data it makes). A model of the
/// sample project takes a few hundred; a loop over `range(10000)` with a
/// little body takes about 100,000. Ten million is about a second.
pub const FUEL: u64 = 10_000_000;

/// The SQL one render may make. Fuel counts instructions, not the text a
/// loop copies out: `{% for i in range(50000) %}<500 bytes>{% endfor %}`
/// takes little fuel and made a 24 MiB model, seconds to check (found by
/// the `model` fuzz target). The largest real models are well under 1 MiB.
pub const MAX_OUTPUT: usize = 8 << 20;

/// The range of the first token at which an expression of `text` nests
/// more than [`MAX_DEPTH`] levels, counting for every open bracket the
/// operators since its last `,` or `:`: at least the depth of the tree
/// minijinja builds.
pub fn too_deep(text: &str) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        match bytes[i + 1] {
            b'#' => i = find(text, i + 2, "#}").map_or(bytes.len(), |e| e + 2),
            b'{' | b'%' => {
                let close = if bytes[i + 1] == b'{' { "}}" } else { "%}" };
                if bytes[i + 1] == b'%' && is_raw_tag(text, i + 2) {
                    i = skip_raw(text, i + 2);
                    continue;
                }
                match scan_tag(text, i + 2, close) {
                    Ok(end) => i = end,
                    Err(at) => return Some(at),
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn find(text: &str, from: usize, needle: &str) -> Option<usize> {
    text.get(from..)?.find(needle).map(|i| from + i)
}

fn is_raw_tag(text: &str, from: usize) -> bool {
    let inner = text[from..]
        .trim_start_matches(['-', '+', '~'])
        .trim_start();
    inner.strip_prefix("raw").is_some_and(|rest| {
        rest.trim_start_matches(['-', '+', '~'])
            .trim_start()
            .starts_with("%}")
    })
}

/// Past the `{% endraw %}` that closes a raw block opened at `from`.
fn skip_raw(text: &str, from: usize) -> usize {
    let mut at = from;
    while let Some(open) = find(text, at, "{%") {
        let inner = text[open + 2..]
            .trim_start_matches(['-', '+', '~'])
            .trim_start();
        if inner.starts_with("endraw") {
            return find(text, open, "%}").map_or(text.len(), |e| e + 2);
        }
        at = open + 2;
    }
    text.len()
}

/// Scans one tag's expression from `from` to its `close`; `Ok` with the
/// offset after the tag, or `Err` with the token where it nests too deep.
fn scan_tag(text: &str, from: usize, close: &str) -> Result<usize, Range<usize>> {
    let bytes = text.as_bytes();
    // Operators since the last separator, per open bracket.
    let mut levels: Vec<usize> = vec![0];
    let mut depth = 1usize;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        if levels.len() == 1 && bytes[i..].starts_with(close.as_bytes()) {
            return Ok(i + 2);
        }
        match b {
            b'\'' | b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            b'(' | b'[' | b'{' => {
                levels.push(0);
                depth += 1;
            }
            b')' | b']' | b'}' if levels.len() > 1 => {
                depth -= levels.pop().unwrap_or(0) + 1;
            }
            b',' | b':' => {
                if let Some(top) = levels.last_mut() {
                    depth -= *top;
                    *top = 0;
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'~' | b'<' | b'>' | b'=' | b'!' | b'|' | b'.' => {
                if let Some(top) = levels.last_mut() {
                    *top += 1;
                    depth += 1;
                }
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                if matches!(
                    &text[i..i + len],
                    "and" | "or" | "not" | "in" | "is" | "if" | "else"
                ) {
                    if let Some(top) = levels.last_mut() {
                        *top += 1;
                        depth += 1;
                    }
                }
                i += len;
                if depth > MAX_DEPTH {
                    return Err(start..i);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
        if depth > MAX_DEPTH {
            return Err(start..i);
        }
    }
    Ok(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_expressions_are_found_at_the_token_that_passes_the_limit() {
        let signs = format!("select\n  {{{{ {}1 }}}}\n", "-".repeat(5000));
        let at = too_deep(&signs).unwrap();
        assert_eq!(at.start, signs.find('-').unwrap() + MAX_DEPTH - 1);
        let sum = format!("{{% set x = {} %}}", vec!["1"; 2000].join(" + "));
        assert!(too_deep(&sum).is_some());
        let attrs = format!("{{{{ this{} }}}}", ".a".repeat(2000));
        assert!(too_deep(&attrs).is_some());
        let brackets = format!("{{{{ {}1{} }}}}", "(".repeat(600), ")".repeat(600));
        assert!(too_deep(&brackets).is_some());
    }

    #[test]
    fn wide_and_literal_text_is_not_deep() {
        let list = format!("{{{{ [{}] }}}}", vec!["1 + 1"; 5000].join(", "));
        let sql = format!("select {}\n", vec!["a + b - c"; 5000].join(" + "));
        let raw = format!("{{% raw %}}{{{{ {} }}}}{{% endraw %}}", "-".repeat(5000));
        let comment = format!("{{# {} #}}", "-".repeat(5000));
        let string = format!("{{{{ '{}' }}}}", "-".repeat(5000));
        let many = "{{ a + b }}\n".repeat(5000);
        for text in [list, sql, raw, comment, string, many] {
            assert_eq!(too_deep(&text), None, "{}", &text[..40]);
        }
    }

    #[test]
    fn cut_short_text_is_scanned_to_its_end() {
        for text in [
            "{{",
            "{%",
            "{#",
            "{{ 'a",
            "{% raw %}",
            "{{ (((",
            "{{ )))}}",
            "{",
        ] {
            assert_eq!(too_deep(text), None, "{text}");
        }
    }
}
