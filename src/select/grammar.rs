//! Parsing selector arguments into an [`Expr`], with the offset of each
//! mistake for the caret.

use super::{Expr, Method, SelectError, StateCheck, Term};

pub(super) fn error(argument: &str, offset: usize, message: impl Into<String>) -> SelectError {
    SelectError {
        argument: argument.to_string(),
        offset,
        message: message.into(),
    }
}

/// Reads the arguments of one `--select` (or `--exclude`): a union.
pub fn parse(arguments: &[String]) -> Result<Expr, SelectError> {
    let mut union = Vec::new();
    for argument in arguments {
        // dbt accepts `-s "a b"` as well as `-s a b`.
        let mut at = 0;
        for word in argument.split(' ') {
            if !word.is_empty() {
                union.push(parse_intersection(argument, at, word)?);
            }
            at += word.len() + 1;
        }
    }
    Ok(Expr::Union(union))
}

pub(super) fn parse_intersection(
    argument: &str,
    start: usize,
    word: &str,
) -> Result<Expr, SelectError> {
    let mut terms = Vec::new();
    let mut at = start;
    for part in word.split(',') {
        if part.is_empty() {
            return Err(error(
                argument,
                at,
                "empty term: `,` joins two selectors (`tag:a,path:models/x`)",
            ));
        }
        terms.push(Expr::Term(parse_term(argument, at, part)?));
        at += part.len() + 1;
    }
    Ok(if terms.len() == 1 {
        terms.remove(0)
    } else {
        Expr::Intersection(terms)
    })
}

/// Splits `2+name+3` into the depths and the middle.
pub(super) fn operators(argument: &str, start: usize, part: &str) -> Result<Term, SelectError> {
    let mut rest = part;
    let mut at = start;
    let childrens_parents = rest.starts_with('@');
    if childrens_parents {
        rest = &rest[1..];
        at += 1;
    }
    let mut parents = None;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if rest[digits..].starts_with('+') {
        parents = Some(if digits == 0 {
            None
        } else {
            Some(
                rest[..digits]
                    .parse()
                    .map_err(|_| error(argument, at, "depth too large"))?,
            )
        });
        rest = &rest[digits + 1..];
        at += digits + 1;
    }
    let mut children = None;
    let trailing_digits = rest.bytes().rev().take_while(u8::is_ascii_digit).count();
    let body_end = rest.len() - trailing_digits;
    if rest[..body_end].ends_with('+') {
        children = Some(if trailing_digits == 0 {
            None
        } else {
            Some(
                rest[body_end..]
                    .parse()
                    .map_err(|_| error(argument, at + body_end, "depth too large"))?,
            )
        });
        rest = &rest[..body_end - 1];
    }
    if childrens_parents && (parents.is_some() || children.is_some()) {
        return Err(error(
            argument,
            start,
            "`@` cannot be combined with `+`: `@m` already adds m's descendants and their ancestors",
        ));
    }
    if rest.is_empty() {
        return Err(error(
            argument,
            at,
            "a selector needs a name or `method:value`",
        ));
    }
    Ok(Term {
        method: Method::Fqn,
        value: rest.to_string(),
        parents,
        children,
        childrens_parents,
        text: format!("{at}"),
    })
}

pub(super) fn parse_term(argument: &str, start: usize, part: &str) -> Result<Term, SelectError> {
    let mut term = operators(argument, start, part)?;
    let value_at: usize = term.text.parse().unwrap_or(start);
    term.text = part.to_string();
    let (method, value) = match term.value.split_once(':') {
        Some((method, value)) => (Some(method.to_string()), value.to_string()),
        None => (None, term.value.clone()),
    };
    term.method = match method.as_deref() {
        None => default_method(&value),
        Some(m) => match parse_method(m) {
            Some(method) => method,
            None => {
                return Err(error(
                    argument,
                    value_at,
                    format!(
                        "unknown selector method `{m}`: use one of fqn, tag, path, file, config.<key>, resource_type, source, test_type, test_name, package, exposure, version, state, selector"
                    ),
                ))
            }
        },
    };
    if value.is_empty() {
        return Err(error(
            argument,
            value_at + part.len().min(term.value.len()),
            "the selector method needs a value after `:`",
        ));
    }
    if term.method == Method::Version
        && !matches!(value.as_str(), "latest" | "prerelease" | "old" | "none")
        && !value.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(error(
            argument,
            value_at + "version:".len(),
            format!(
                "unknown version `{value}`: use latest, prerelease, old, none or a version number"
            ),
        ));
    }
    if let Method::State(_) = term.method {
        term.method = Method::State(match value.as_str() {
            "new" => StateCheck::New,
            "modified" => StateCheck::Modified,
            "modified.body" => StateCheck::ModifiedBody,
            "modified.configs" => StateCheck::ModifiedConfigs,
            "modified.contract" => StateCheck::ModifiedContract,
            other => {
                return Err(error(
                    argument,
                    value_at + "state:".len(),
                    format!("unknown state `{other}`: use new, modified, modified.body, modified.configs or modified.contract"),
                ))
            }
        });
    }
    term.value = value;
    Ok(term)
}

pub(super) fn parse_method(m: &str) -> Option<Method> {
    Some(match m {
        "fqn" => Method::Fqn,
        "tag" => Method::Tag,
        "path" => Method::Path,
        "file" => Method::File,
        "resource_type" => Method::ResourceType,
        "source" => Method::Source,
        "test_type" => Method::TestType,
        "test_name" => Method::TestName,
        "package" => Method::Package,
        "exposure" => Method::Exposure,
        "version" => Method::Version,
        "state" => Method::State(StateCheck::Modified),
        "selector" => Method::Selector,
        _ => match m.strip_prefix("config.") {
            Some(key) if !key.is_empty() => Method::Config(key.to_string()),
            _ => return None,
        },
    })
}

/// dbt's guess when no method is written.
pub(super) fn default_method(value: &str) -> Method {
    if value.contains('/') || value.contains('\\') {
        Method::Path
    } else if [".sql", ".py", ".csv"]
        .iter()
        .any(|ext| value.to_ascii_lowercase().ends_with(ext))
    {
        Method::File
    } else {
        Method::Fqn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_selectors_point_at_the_character() {
        let e = parse(&["tag:a,,b".into()]).unwrap_err();
        assert_eq!(e.offset, 6);
        let e = parse(&["orders tagz:x".into()]).unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("unknown selector method `tagz`"), "{e}");
        assert!(parse(&["@+orders".into()]).is_err());
        assert!(parse(&["state:changed".into()]).is_err());
        assert!(parse(&["tag:".into()]).is_err());
    }
}
