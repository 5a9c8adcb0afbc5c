//! `--warn-error` and `--warn-error-options`: which warnings a run turns
//! into errors.

use super::{Diagnostic, Severity};

/// `--warn-error` and `--warn-error-options`: which warnings become errors.
/// dbt's syntax, with stackc's codes: `{"include": "all"}` or
/// `{"include": ["W0050"], "exclude": ["W0203"]}` (`"*"` means all too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarnError {
    pub all: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl WarnError {
    /// Parses the JSON or YAML-flow value of `--warn-error-options`.
    pub fn parse_options(text: &str) -> Result<WarnError, String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .or_else(|_| serde_saphyr::from_str::<serde_json::Value>(text))
            .map_err(|_| {
                format!("`{text}` is not a mapping like {{\"include\": \"all\", \"exclude\": [\"W0203\"]}}")
            })?;
        let serde_json::Value::Object(map) = value else {
            return Err(format!(
                "`{text}` is not a mapping like {{\"include\": [\"W0050\"]}}"
            ));
        };
        let mut out = WarnError::default();
        for (key, v) in map {
            let codes: Vec<String> = match &v {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| format!("`{key}` must list codes as strings"))?,
                _ => return Err(format!("`{key}` must be \"all\" or a list of codes")),
            };
            // dbt's older spellings `error` and `warn` mean include and exclude.
            match key.as_str() {
                "include" | "error" => {
                    for c in codes {
                        if c == "all" || c == "*" {
                            out.all = true;
                        } else {
                            out.include.push(c.to_ascii_uppercase());
                        }
                    }
                }
                "exclude" | "warn" => {
                    out.exclude
                        .extend(codes.into_iter().map(|c| c.to_ascii_uppercase()));
                }
                "silence" => {}
                other => {
                    return Err(format!(
                        "unknown key `{other}`: use `include` and `exclude`"
                    ))
                }
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        !self.all && self.include.is_empty()
    }

    fn promotes(&self, code: &str) -> bool {
        (self.all || self.include.iter().any(|c| c == code))
            && !self.exclude.iter().any(|c| c == code)
    }

    /// Turns the chosen warnings into errors; their codes stay, so the user
    /// can still tell which check it was and exclude it.
    pub fn apply(&self, diagnostics: &mut [Diagnostic]) {
        for d in diagnostics {
            if d.severity == Severity::Warning && self.promotes(d.code.as_str()) {
                d.severity = Severity::Error;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

    #[test]
    fn warn_error_options_follow_dbt_syntax() {
        let all = WarnError::parse_options(r#"{"include": "all", "exclude": ["W0203"]}"#).unwrap();
        let mut d = vec![
            Diagnostic::new(Code::W0203, "a"),
            Diagnostic::new(Code::W0050, "b"),
        ];
        all.apply(&mut d);
        assert!(!d[0].is_error());
        assert!(d[1].is_error());
        let some = WarnError::parse_options("{include: [w0203]}").unwrap();
        let mut d = vec![
            Diagnostic::new(Code::W0203, "a"),
            Diagnostic::new(Code::W0050, "b"),
        ];
        some.apply(&mut d);
        assert!(d[0].is_error());
        assert!(!d[1].is_error());
        assert!(WarnError::parse_options("{nope: all}").is_err());
        assert!(WarnError::parse_options("[1]").is_err());
    }
}
