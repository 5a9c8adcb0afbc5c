//! From a place in a generated artifact back to the model file it came
//! from, for errors the server reports while a step runs.
//!
//! A run file holds the model's rendered SQL inside stackc's own wrapping
//! (header comments, `insert into ... (`, a temporary table). Rendering
//! keeps the model's lines apart from its Jinja, so the artifact's lines
//! and the model's are aligned line by line (a longest common subsequence
//! of their trimmed texts); the line the error is on is then either one of
//! the model's lines, or lies between two that are, where a `{{ ref() }}`
//! was rendered. This needs only the two texts, so it works the same for a
//! fresh compile and for committed artifacts (`--artifacts`).

use std::ops::Range;

/// Alignments larger than this many line pairs are not attempted (the
/// table would take too long); only lines that occur once on both sides
/// are matched then.
const MAX_CELLS: usize = 4_000_000;

/// The 1-based line and column in `source` for the byte `offset` of
/// `artifact`, inside the statement at `statement`. With `positioned`
/// false (the server gave no position), the answer is the first line of
/// the statement that comes from the model: where its query begins.
pub fn locate(
    artifact: &str,
    statement: Range<usize>,
    offset: usize,
    source: &str,
    positioned: bool,
) -> Option<(usize, usize)> {
    let statement = statement.start.min(artifact.len())..statement.end.min(artifact.len());
    let first_line = artifact[..statement.start].matches('\n').count();
    let a_lines: Vec<&str> = artifact[statement.clone()].split('\n').collect();
    let s_lines: Vec<&str> = source.split('\n').collect();
    let pairs = align(&a_lines, &s_lines);
    if pairs.is_empty() {
        return None;
    }
    if !positioned {
        // The first line of SQL, not a comment above it.
        let &(_, s) = pairs
            .iter()
            .find(|(_, s)| !s_lines[*s].trim_start().starts_with("--"))?;
        return Some((s + 1, indent_chars(s_lines[s]) + 1));
    }
    let (line, column) = crate::diagnostic::line_col(artifact, offset);
    let a = (line - 1).checked_sub(first_line)?;
    let a_text = a_lines.get(a)?;
    // A line of the model as it is.
    if let Some(&(_, s)) = pairs.iter().find(|(pa, _)| *pa == a) {
        let shift = indent_chars(s_lines[s]) as isize - indent_chars(a_text) as isize;
        let column = (column as isize + shift).max(1) as usize;
        return Some((s + 1, column.min(s_lines[s].chars().count() + 1)));
    }
    // Between two of the model's lines: positionally, when the gap has the
    // same number of lines on both sides.
    let before = pairs.iter().rev().find(|(pa, _)| *pa < a);
    let after = pairs.iter().find(|(pa, _)| *pa > a);
    let s = match (before, after) {
        (Some(&(pa, ps)), Some(&(na, ns))) if na - pa == ns - ps => ps + (a - pa),
        (Some(&(pa, ps)), None) if ps + (a - pa) < s_lines.len() => ps + (a - pa),
        _ => return None,
    };
    let s_text = s_lines[s];
    // The column holds while the two lines agree, up to the first `{{`.
    let common = a_text
        .chars()
        .zip(s_text.chars())
        .take_while(|(x, y)| x == y)
        .count();
    // ... and after the last `}}`, counted from the end of the lines.
    let (a_len, s_len) = (a_text.chars().count(), s_text.chars().count());
    let common_end = a_text
        .chars()
        .rev()
        .zip(s_text.chars().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let from_end = a_len.saturating_sub(column - 1);
    let column = if column <= common + 1 {
        column
    } else if from_end <= common_end && from_end > 0 {
        s_len - from_end + 1
    } else {
        s_text
            .find("{{")
            .map_or(indent_chars(s_text), |i| s_text[..i].chars().count())
            + 1
    };
    Some((s + 1, column))
}

fn indent_chars(line: &str) -> usize {
    line.chars().take_while(|c| c.is_whitespace()).count()
}

/// Pairs (artifact line, source line) of equal trimmed, non-blank text, in
/// order on both sides.
fn align(a: &[&str], s: &[&str]) -> Vec<(usize, usize)> {
    let a_keys: Vec<&str> = a.iter().map(|l| l.trim()).collect();
    let s_keys: Vec<&str> = s.iter().map(|l| l.trim()).collect();
    if a.len().saturating_mul(s.len()) > MAX_CELLS {
        return unique_pairs(&a_keys, &s_keys);
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and s[j..].
    let width = s.len() + 1;
    let mut lcs = vec![0u32; (a.len() + 1) * width];
    for i in (0..a.len()).rev() {
        for j in (0..s.len()).rev() {
            lcs[i * width + j] = if !a_keys[i].is_empty() && a_keys[i] == s_keys[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut pairs = Vec::new();
    while i < a.len() && j < s.len() {
        if !a_keys[i].is_empty() && a_keys[i] == s_keys[j] {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

/// Lines that occur exactly once in each text, kept where they are in
/// order on both sides.
fn unique_pairs(a: &[&str], s: &[&str]) -> Vec<(usize, usize)> {
    use std::collections::HashMap;
    let count = |keys: &[&str]| {
        let mut m: HashMap<String, (usize, usize)> = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            if !k.is_empty() {
                m.entry((*k).to_string()).or_insert((0, i)).0 += 1;
            }
        }
        m
    };
    let (ca, cs) = (count(a), count(s));
    let mut pairs: Vec<(usize, usize)> = ca
        .iter()
        .filter(|(_, (n, _))| *n == 1)
        .filter_map(|(k, (_, i))| match cs.get(k) {
            Some((1, j)) => Some((*i, *j)),
            _ => None,
        })
        .collect();
    pairs.sort_unstable();
    let mut last = None;
    pairs.retain(|&(_, j)| {
        let keep = last.is_none_or(|l| j > l);
        if keep {
            last = Some(j);
        }
        keep
    });
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "-- Products.\n{{ config(materialized='table') }}\n\nwith products as (\n    select * from {{ ref('stg_products') }}\n)\n\nselect\n    product_id,\n    price / 0 as ratio\nfrom products\n";
    const ARTIFACT: &str = "-- model: dim_products\n-- source: models/marts/dim_products.sql\ninsert into marts.dim_products (product_id, ratio)\n-- Products.\n\nwith products as (\n    select * from staging.stg_products\n)\n\nselect\n    product_id,\n    price / 0 as ratio\nfrom products\n;\n";

    fn statement() -> Range<usize> {
        ARTIFACT.find("insert").unwrap()..ARTIFACT.len()
    }

    #[test]
    fn a_position_on_a_line_of_the_model_maps_to_that_line() {
        let at = ARTIFACT.find("/ 0").unwrap();
        let (line, column) = locate(ARTIFACT, statement(), at, MODEL, true).unwrap();
        assert_eq!(line, 10);
        assert_eq!(&MODEL.lines().nth(9).unwrap()[column - 1..], "/ 0 as ratio");
    }

    #[test]
    fn a_position_in_rendered_jinja_maps_to_the_expression() {
        let at = ARTIFACT.find("staging.stg_products").unwrap();
        let (line, column) = locate(ARTIFACT, statement(), at, MODEL, true).unwrap();
        assert_eq!(line, 5);
        assert_eq!(
            &MODEL.lines().nth(4).unwrap()[column - 1..],
            "{{ ref('stg_products') }}"
        );
        // Before the expression the columns agree.
        let at = ARTIFACT.find("* from staging").unwrap();
        assert_eq!(
            locate(ARTIFACT, statement(), at, MODEL, true),
            Some((5, 12))
        );
    }

    #[test]
    fn after_the_expression_columns_count_from_the_line_end() {
        let model = "select\n    {{ var('n', 1) }} + 'many'::int as n\n";
        let artifact = "create view v as\nselect\n    1 + 'many'::int as n\n";
        let at = artifact.find("'many'").unwrap();
        let (line, column) = locate(artifact, 0..artifact.len(), at, model, true).unwrap();
        assert_eq!(line, 2);
        assert_eq!(
            &model.lines().nth(1).unwrap()[column - 1..],
            "'many'::int as n"
        );
    }

    #[test]
    fn without_a_position_the_query_start_is_shown() {
        assert_eq!(locate(ARTIFACT, statement(), 0, MODEL, false), Some((4, 1)));
    }

    #[test]
    fn a_place_in_stackc_s_own_wrapping_has_no_model_line() {
        let at = ARTIFACT.find("insert").unwrap();
        assert_eq!(locate(ARTIFACT, statement(), at, MODEL, true), None);
        assert_eq!(
            locate(ARTIFACT, statement(), at, "nothing alike\n", false),
            None
        );
    }
}
