//! Jinja's `kwargs` and `varargs` in dbt macros, which minijinja's macros do
//! not have.
//!
//! In Jinja a macro whose body reads `kwargs` accepts keyword arguments it
//! does not declare and sees them in that dict; one that reads `varargs`
//! accepts extra positional arguments as that list. dbt packages rely on it
//! (dbt_utils' `not_null_proportion` reads `kwargs.get('at_least')`, and
//! dbt passes `column_name` to every generic test as a keyword). minijinja
//! refuses an unknown keyword argument, so a macro that reads either name is
//! given them as trailing parameters when its file is rewritten
//! ([`extra_params`]), and the macro wrapper folds what the call passed
//! beyond the declared parameters into them ([`spread`]). A macro that reads
//! neither keeps minijinja's (and Jinja's) error for an unknown argument.

use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind};

const KWARGS: &str = "kwargs";
const VARARGS: &str = "varargs";

/// The parameters to append to a macro's signature, given the text of its
/// body and whether its declared list is empty: `kwargs={}`, `varargs=[]`
/// (each only if the body reads it), or `None`.
pub fn extra_params(body: &str, declares_none: bool) -> Option<String> {
    let mut params = Vec::new();
    for (name, default) in [(KWARGS, "{}"), (VARARGS, "[]")] {
        if reads(body, name) {
            params.push(format!("{name}={default}"));
        }
    }
    if params.is_empty() {
        return None;
    }
    let list = params.join(", ");
    Some(if declares_none {
        list
    } else {
        format!(", {list}")
    })
}

/// For the text right after a macro's name in its `{% macro %}` tag: the
/// byte index of the `)` closing its parameter list, and the parameters to
/// insert there (see [`extra_params`]); `None` when it needs none.
pub fn signature(after_name: &str) -> Option<(usize, String)> {
    let open = after_name.len() - after_name.trim_start().len();
    if !after_name[open..].starts_with('(') {
        return None;
    }
    let close = open + super::context::preprocess::matching_close(&after_name[open..])?;
    let rest = &after_name[close..];
    let body_start = rest.find("%}")?;
    let body = &rest[body_start..];
    let body_end = ["endmacro", "endtest"]
        .iter()
        .filter_map(|end| body.find(end))
        .min()
        .unwrap_or(body.len());
    let declares_none = after_name[open + 1..close].trim().is_empty();
    let list = after_name[open + 1..close].trim_end();
    let extra = extra_params(&body[..body_end], declares_none)?;
    // `(a, b,)`: the list already ends with a comma.
    Some(match extra.strip_prefix(", ") {
        Some(bare) if list.ends_with(',') => (close, bare.to_string()),
        _ => (close, extra),
    })
}

/// [`spread`] for the macro value `m`.
pub fn spread_for(m: &Value, args: &[Value]) -> Result<Vec<Value>, Error> {
    let params: Vec<String> = match m.get_attr("arguments") {
        Ok(list) => match list.try_iter() {
            Ok(iter) => iter
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Err(_) => return Ok(args.to_vec()),
        },
        Err(_) => return Ok(args.to_vec()),
    };
    spread(&params, args)
}

/// Whether `body` mentions the identifier `name` (a whole word). A mention
/// inside a string or comment only adds a parameter that stays empty.
fn reads(body: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    body.match_indices(name).any(|(i, _)| {
        let before = body[..i].chars().next_back();
        let after = body[i + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The arguments to call a macro with, whose parameters are `params` (as
/// minijinja lists them, with the ones [`extra_params`] added): positional
/// arguments beyond the declared ones go to `varargs`, keyword arguments
/// the macro does not declare go to `kwargs`. Returns `args` unchanged for
/// a macro that has neither.
pub fn spread(params: &[String], args: &[Value]) -> Result<Vec<Value>, Error> {
    let takes_kwargs = params.iter().any(|p| p == KWARGS);
    let takes_varargs = params.iter().any(|p| p == VARARGS);
    if !takes_kwargs && !takes_varargs {
        return Ok(args.to_vec());
    }
    let declared: Vec<&str> = params
        .iter()
        .map(String::as_str)
        .filter(|p| *p != KWARGS && *p != VARARGS)
        .collect();
    let (positional, keywords) = match args.last().map(|v| Kwargs::try_from(v.clone())) {
        Some(Ok(kw)) => (&args[..args.len() - 1], Some(kw)),
        _ => (args, None),
    };
    let mut out: Vec<Value> = positional.iter().take(declared.len()).cloned().collect();
    let extra_positional: Vec<Value> = positional.iter().skip(declared.len()).cloned().collect();
    if !extra_positional.is_empty() && !takes_varargs {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!(
                "the macro takes {} positional arguments, and {} were given",
                declared.len(),
                positional.len()
            ),
        ));
    }
    let mut passed: Vec<(String, Value)> = Vec::new();
    let mut extra: Vec<(Value, Value)> = Vec::new();
    if let Some(kw) = &keywords {
        for key in kw.args() {
            let value: Value = kw.get(key)?;
            if declared.contains(&key) || key == "caller" {
                passed.push((key.to_string(), value));
            } else if takes_kwargs {
                extra.push((Value::from(key), value));
            } else {
                return Err(Error::new(
                    ErrorKind::TooManyArguments,
                    format!("unknown keyword argument `{key}`"),
                ));
            }
        }
    }
    if takes_kwargs {
        passed.push((KWARGS.to_string(), super::context::mutable::mut_dict(extra)));
    }
    if takes_varargs {
        passed.push((VARARGS.to_string(), Value::from(extra_positional)));
    }
    out.push(Value::from(Kwargs::from_iter(passed)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_gets_the_parameters_before_its_parenthesis() {
        let after = "(model, g = []) %}{{ kwargs.get('at_least') }}{% endmacro %}{% macro b() %}{{ varargs }}";
        let (at, extra) = signature(after).unwrap();
        assert_eq!(&after[..at], "(model, g = []");
        assert_eq!(extra, ", kwargs={}");
        assert_eq!(signature("() %}{{ x }}{% endmacro %}{{ kwargs }}"), None);
        assert_eq!(
            signature("(a,) %}{{ kwargs }}{% endmacro %}"),
            Some((3, "kwargs={}".to_string()))
        );
    }

    #[test]
    fn only_a_body_that_reads_the_names_gets_them() {
        assert_eq!(extra_params("{{ x }}", false), None);
        assert_eq!(extra_params("{{ my_kwargs }}", false), None);
        assert_eq!(
            extra_params("{{ kwargs.get('a') }}", false).as_deref(),
            Some(", kwargs={}")
        );
        assert_eq!(
            extra_params("{{ varargs[0] }}{{ kwargs }}", true).as_deref(),
            Some("kwargs={}, varargs=[]")
        );
    }

    #[test]
    fn undeclared_arguments_are_folded_into_kwargs_and_varargs() {
        let params = ["model".to_string(), "kwargs".into(), "varargs".into()];
        let args = [
            Value::from("m"),
            Value::from(1),
            Value::from(Kwargs::from_iter([("at_least", Value::from(0.5))])),
        ];
        let out = spread(&params, &args).unwrap();
        assert_eq!(out.len(), 2);
        let kw = Kwargs::try_from(out[1].clone()).unwrap();
        let kwargs: Value = kw.get("kwargs").unwrap();
        assert_eq!(kwargs.get_attr("at_least").unwrap(), Value::from(0.5));
        let varargs: Value = kw.get("varargs").unwrap();
        assert_eq!(varargs.len(), Some(1));
    }

    #[test]
    fn a_macro_without_kwargs_still_refuses_an_unknown_keyword() {
        let params = ["model".to_string(), "varargs".into()];
        let args = [Value::from(Kwargs::from_iter([("nope", Value::from(1))]))];
        let err = spread(&params, &args).unwrap_err();
        assert!(err.to_string().contains("unknown keyword argument `nope`"));
        let plain = ["model".to_string()];
        assert_eq!(spread(&plain, &args).unwrap().len(), 1);
    }
}
