//! The page: the committed template with its stylesheet, its script and
//! the site's data filled in, so that one file opens from the file system
//! with nothing to fetch.
//!
//! The data sits in `<script type="application/json">` blocks, which the
//! HTML parser ends at the first `</script` (and treats `<!--` specially):
//! [`script_json`] writes every `<`, `>` and `&` of the JSON as a `\u`
//! escape, which JSON reads back as the same character, so nothing a user
//! writes (a description with `</script>`) can end the block. The page's
//! Content-Security-Policy allows only the page's own script and
//! stylesheet (by hash) and no network at all, so even a block that did
//! end early could neither run a script nor load anything.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::data::Site;

const TEMPLATE: &str = include_str!("site/index.html");
pub const SCRIPT: &str = include_str!("site/app.js");
pub const STYLE: &str = include_str!("site/style.css");

/// `value` as JSON that can sit between `<script type="application/json">`
/// and `</script>`: the characters HTML gives a meaning there are escaped,
/// and so are U+2028 and U+2029 (harmless to JSON, line ends to old
/// JavaScript parsers).
pub fn script_json<T: Serialize>(value: &T) -> serde_json::Result<String> {
    let json = serde_json::to_string(value)?;
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    for c in json.chars() {
        match c {
            // Outside strings JSON has none of these, so escaping them
            // everywhere only ever touches string contents.
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Text for an HTML element's content or a quoted attribute.
pub fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page for `site`.
pub fn page(site: &Site) -> serde_json::Result<String> {
    let graph = script_json(&site.graph)?;
    let details = script_json(&site.details)?;
    let test_sql = script_json(&site.test_sql)?;
    let title = html_text(&site.graph.project);
    let script_hash = csp_hash(SCRIPT);
    let style_hash = csp_hash(STYLE);
    Ok(fill(
        TEMPLATE,
        &[
            ("{{SCRIPT_HASH}}", &script_hash),
            ("{{STYLE_HASH}}", &style_hash),
            ("{{TITLE}}", &title),
            ("{{CSS}}", STYLE),
            ("{{GRAPH}}", &graph),
            ("{{DETAILS}}", &details),
            ("{{TEST_SQL}}", &test_sql),
            ("{{JS}}", SCRIPT),
        ],
    ))
}

/// The template with each placeholder replaced. Only the template is
/// searched for placeholders, never a value put in, so data that spells
/// `{{JS}}` stays data.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let extra: usize = values.iter().map(|(_, v)| v.len()).sum();
    let mut out = String::with_capacity(template.len() + extra);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let hit = values
            .iter()
            .find(|(marker, _)| rest[start..].starts_with(marker));
        match hit {
            Some((marker, value)) => {
                out.push_str(&rest[..start]);
                out.push_str(value);
                rest = &rest[start + marker.len()..];
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A Content-Security-Policy source that allows exactly this inline
/// script or stylesheet: `'sha256-<base64 of its SHA-256>'`.
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

/// Standard base64 with padding (RFC 4648), all a CSP hash needs.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_cannot_end_its_script_block() {
        let hostile = "</script><script>alert(1)</script> <!-- & \u{2028}";
        let json = script_json(&serde_json::json!({ "description": hostile })).unwrap();
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        assert!(!json.contains('\u{2028}'));
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["description"], hostile, "the same text once parsed");
    }

    #[test]
    fn html_text_escapes_markup_and_quotes() {
        assert_eq!(
            html_text(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;"
        );
    }

    #[test]
    fn placeholders_in_values_stay_data() {
        let out = fill("<{{A}}|{{B}}|{{C}}>", &[("{{A}}", "{{B}}"), ("{{B}}", "b")]);
        assert_eq!(out, "<{{B}}|b|{{C}}>");
    }

    #[test]
    fn base64_matches_rfc_4648() {
        // RFC 4648, section 10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn the_committed_script_and_stylesheet_cannot_end_their_elements() {
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        assert!(!SCRIPT.contains("<!--"));
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
    }

    #[test]
    fn the_page_allows_only_its_own_script_and_style() {
        let site = Site {
            graph: super::super::data::GraphData {
                project: "p<x>".into(),
                cell: [1, 1],
                columns: 0,
                rows: 0,
                nodes: Vec::new(),
                edges: Vec::new(),
            },
            details: Vec::new(),
            test_sql: Vec::new(),
        };
        let html = page(&site).unwrap();
        assert!(html.contains(&format!("script-src {}", csp_hash(SCRIPT))));
        assert!(html.contains("default-src 'none'"));
        assert!(html.contains("<title>p&lt;x&gt; · stackc docs</title>"));
        assert!(!html.contains("{{"), "every placeholder filled");
        // The script is exactly what was hashed.
        let start = html.find("<script>").unwrap() + "<script>".len();
        let end = html[start..].find("</script>").unwrap() + start;
        assert_eq!(&html[start..end], SCRIPT);
    }
}
