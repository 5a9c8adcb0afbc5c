//! `profiles.yml`: which database a dbt project's target is.
//!
//! Looked for where dbt looks: `--profiles-dir`, `DBT_PROFILES_DIR`, the
//! project folder, then `~/.dbt/`. Compile needs only the names (schema,
//! database, user); the password and the rest are read, and `env_var()` in
//! them rendered, but an unset password variable matters only to apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::yaml::{self, Yaml};
use crate::diagnostic::{Code, Diagnostic, SourceFiles};
use crate::project::LoadOptions;

/// A resolved target, as dbt's `target` Jinja variable shows it, and how to
/// connect to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub profile_name: String,
    pub kind: String,
    pub schema: String,
    pub database: String,
    pub user: String,
    pub threads: u32,
    /// From a profiles.yml output; `None` when no profiles.yml was found
    /// (apply then connects as a native project does).
    pub connection: Option<Connection>,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            name: "dev".into(),
            profile_name: String::new(),
            kind: "postgres".into(),
            schema: "public".into(),
            database: String::new(),
            user: String::new(),
            threads: 1,
            connection: None,
        }
    }
}

/// The connection settings of a postgres output. Never printed: the
/// password is only turned into a connection string for apply.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// Where it came from, for messages: `profiles.yml (profile p, target dev)`.
    pub origin: String,
    /// libpq keyword -> value (`host`, `port`, `user`, `dbname`, `sslmode`,
    /// `connect_timeout`, `keepalives`, `keepalives_idle`, `options`).
    pub params: BTreeMap<String, String>,
    /// The password, or why it cannot be had (an unset `env_var()`); only
    /// apply needs it.
    pub password: Result<Option<String>, String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("origin", &self.origin)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A libpq key=value connection string (password included), or the
    /// reason the password cannot be known.
    pub fn conninfo(&self) -> Result<String, String> {
        let mut parts: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={}", quote_conninfo(v)))
            .collect();
        match &self.password {
            Ok(Some(p)) if !p.is_empty() => parts.push(format!("password={}", quote_conninfo(p))),
            Ok(_) => {}
            Err(why) => return Err(why.clone()),
        }
        Ok(parts.join(" "))
    }
}

fn quote_conninfo(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The folders profiles.yml is looked for in, in dbt's order, each with the
/// name it is shown by.
pub(crate) fn candidates(root: &Path, options: &LoadOptions) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    if let Some(dir) = &options.profiles_dir {
        out.push((
            dir.join("profiles.yml"),
            format!("{}/profiles.yml", dir.display()),
        ));
    } else if let Some(dir) = std::env::var_os("DBT_PROFILES_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        out.push((
            dir.join("profiles.yml"),
            format!("{}/profiles.yml", dir.display()),
        ));
    } else {
        out.push((root.join("profiles.yml"), "profiles.yml".into()));
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            out.push((
                PathBuf::from(home).join(".dbt/profiles.yml"),
                "~/.dbt/profiles.yml".into(),
            ));
        }
    }
    out
}

pub fn load(
    root: &Path,
    profile: Option<&str>,
    options: &LoadOptions,
    vars: &BTreeMap<String, serde_json::Value>,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Target {
    let looked = candidates(root, options);
    let found = looked.iter().find(|(path, _)| path.is_file());
    let Some((path, shown)) = found else {
        let names: Vec<&str> = looked.iter().map(|(_, s)| s.as_str()).collect();
        let target = Target {
            name: options.target.clone().unwrap_or_else(|| "dev".into()),
            profile_name: profile.unwrap_or_default().to_string(),
            ..Target::default()
        };
        if profile.is_some() || options.target.is_some() || options.profiles_dir.is_some() {
            diagnostics.push(
                Diagnostic::new(
                    Code::W0034,
                    format!(
                        "no profiles.yml found (looked for {}); compiling for target `{}` with schema `{}`",
                        names.join(", "),
                        target.name,
                        target.schema
                    ),
                )
                .help("put a profiles.yml in the project folder or ~/.dbt/, or pass --profiles-dir; apply then connects with --database-url, DATABASE_URL or the PG* variables"),
            );
        }
        return target;
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(Code::E0034, format!("cannot read `{shown}`: {e}"))
                    .help("check the file's permissions"),
            );
            return Target::default();
        }
    };
    let file_path: Arc<str> = Arc::from(shown.as_str());
    let text_arc: Arc<str> = Arc::from(text);
    files.insert(&file_path, &text_arc);
    let cx = Cx {
        path: file_path,
        text: text_arc,
        vars,
    };
    cx.target(profile, options.target.as_deref(), diagnostics)
        .unwrap_or_default()
}

struct Cx<'a> {
    path: Arc<str>,
    text: Arc<str>,
    vars: &'a BTreeMap<String, serde_json::Value>,
}

impl Cx<'_> {
    fn span<T>(&self, v: &Spanned<T>) -> crate::diagnostic::Span {
        yaml::span_of(&self.path, &self.text, v)
    }

    fn target(
        &self,
        profile: Option<&str>,
        target_flag: Option<&str>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Target> {
        let doc = match yaml::parse(&self.path, &self.text) {
            Ok(d) => d,
            Err(d) => {
                diagnostics.push(d);
                return None;
            }
        };
        let profiles: Vec<&str> = doc
            .value
            .as_map()
            .unwrap_or_default()
            .iter()
            .map(|(k, _)| k.value.0.as_str())
            .filter(|k| *k != "config")
            .collect();
        let Some(profile) = profile else {
            diagnostics.push(
                Diagnostic::new(Code::E0035, "dbt_project.yml names no `profile`").help(format!(
                    "add `profile: <name>` to dbt_project.yml; {} has: {}",
                    self.path,
                    profiles.join(", ")
                )),
            );
            return None;
        };
        let Some(entry) = doc.value.get(profile) else {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0035,
                    format!("profile `{profile}` is not in {}", self.path),
                )
                .at_file(&self.path, 0..0)
                .help(if profiles.is_empty() {
                    format!("add a `{profile}:` entry with `target:` and `outputs:`")
                } else {
                    format!(
                        "profiles here: {}; set `profile:` in dbt_project.yml to one of them",
                        profiles.join(", ")
                    )
                }),
            );
            return None;
        };
        let outputs = entry.value.get("outputs");
        let names: Vec<String> = outputs
            .and_then(|o| o.value.as_map())
            .unwrap_or_default()
            .iter()
            .map(|(k, _)| k.value.0.clone())
            .collect();
        let default_target = entry.value.get("target");
        let target_name = match (target_flag, default_target) {
            (Some(t), _) => t.to_string(),
            (None, Some(t)) => self.string(t, diagnostics)?,
            (None, None) => "default".to_string(),
        };
        let Some(output) = outputs.and_then(|o| o.value.get(&target_name)) else {
            let mut d =
                Diagnostic::new(
                    Code::E0036,
                    format!(
                        "target `{target_name}` is not among the outputs of profile `{profile}`"
                    ),
                )
                .help(format!(
                "targets of `{profile}`: {}; pass --target <name> or set `target:` in the profile",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ));
            d = match (target_flag, default_target) {
                (None, Some(t)) => d.at(self.span(t)),
                _ => d.at(self.span(entry)),
            };
            diagnostics.push(d);
            return None;
        };
        self.output(profile, &target_name, output, diagnostics)
    }

    fn output(
        &self,
        profile: &str,
        name: &str,
        output: &Spanned<Yaml>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Target> {
        let field = |key: &str, diagnostics: &mut Vec<Diagnostic>| -> Option<String> {
            output
                .value
                .get(key)
                .and_then(|v| self.string(v, diagnostics))
        };
        let kind = field("type", diagnostics).unwrap_or_default();
        if kind != "postgres" {
            let at = output
                .value
                .get("type")
                .map_or_else(|| self.span(output), |v| self.span(v));
            diagnostics.push(
                Diagnostic::new(
                    Code::E0037,
                    format!("target `{name}` is of type `{kind}`; stackc runs on PostgreSQL only"),
                )
                .at(at)
                .help("use a target with `type: postgres` (pass --target <name>)"),
            );
            return None;
        }
        let schema = field("schema", diagnostics);
        let Some(schema) = schema.filter(|s| !s.is_empty()) else {
            if output.value.get("schema").is_some()
                && self.render(output.value.get("schema")?).is_err()
            {
                // Already reported where the value is.
                return None;
            }
            diagnostics.push(
                Diagnostic::new(Code::E0036, format!("target `{name}` has no `schema`"))
                    .at(self.span(output))
                    .help("add `schema: <name>`: dbt builds every model of the target in it or in `<schema>_<custom>`"),
            );
            return None;
        };
        let database = field("dbname", diagnostics)
            .or_else(|| field("database", diagnostics))
            .unwrap_or_default();
        let user = field("user", diagnostics).unwrap_or_default();
        let threads = field("threads", diagnostics)
            .and_then(|t| t.parse::<u32>().ok())
            .unwrap_or(1);
        let mut params = BTreeMap::new();
        for (key, libpq) in [
            ("host", "host"),
            ("port", "port"),
            ("user", "user"),
            ("sslmode", "sslmode"),
            ("connect_timeout", "connect_timeout"),
            ("keepalives_idle", "keepalives_idle"),
        ] {
            if let Some(v) = field(key, diagnostics).filter(|v| !v.is_empty()) {
                params.insert(libpq.to_string(), v);
            }
        }
        if !database.is_empty() {
            params.insert("dbname".into(), database.clone());
        }
        if let Some(v) = field("keepalives", diagnostics) {
            params.insert(
                "keepalives".into(),
                if v == "0" || v == "false" {
                    "0".into()
                } else {
                    "1".into()
                },
            );
        }
        if let Some(path) = field("search_path", diagnostics).filter(|v| !v.is_empty()) {
            params.insert("options".into(), format!("-c search_path={path}"));
        }
        let password = match output
            .value
            .get("password")
            .or_else(|| output.value.get("pass"))
        {
            None => Ok(None),
            Some(v) => self.render(v).map(Some),
        };
        Some(Target {
            name: name.to_string(),
            profile_name: profile.to_string(),
            kind,
            schema,
            database,
            user,
            threads,
            connection: Some(Connection {
                origin: format!("{} (profile `{profile}`, target `{name}`)", self.path),
                params,
                password,
            }),
        })
    }

    /// A scalar field, with `env_var()` rendered; a failure is reported at
    /// the value.
    fn string(&self, v: &Spanned<Yaml>, diagnostics: &mut Vec<Diagnostic>) -> Option<String> {
        match self.render(v) {
            Ok(s) => Some(s),
            Err(message) => {
                diagnostics.push(
                    Diagnostic::new(Code::E0034, message)
                        .at(self.span(v))
                        .help("set the environment variable, or give env_var() a default: env_var('NAME', 'default')"),
                );
                None
            }
        }
    }

    fn render(&self, v: &Spanned<Yaml>) -> Result<String, String> {
        let Some(text) = v.value.scalar_text() else {
            return Err("this profile value must be a string or a number".into());
        };
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text);
        }
        render_profile_value(&text, self.vars)
    }
}

/// Renders a profile value: only `env_var()` and `var()` exist there.
fn render_profile_value(
    text: &str,
    vars: &BTreeMap<String, serde_json::Value>,
) -> Result<String, String> {
    render_value(text, vars, None)
}

/// Renders a value of dbt_project.yml or profiles.yml: `env_var()`,
/// `var()` and (in dbt_project.yml) `target`.
pub fn render_value(
    text: &str,
    vars: &BTreeMap<String, serde_json::Value>,
    target: Option<&serde_json::Value>,
) -> Result<String, String> {
    use minijinja::{Error, ErrorKind};
    let mut env = minijinja::Environment::new();
    super::filters::add_native_filters(&mut env);
    env.add_function(
        "env_var",
        |name: String, default: Option<String>| match std::env::var(&name) {
            Ok(v) => Ok(v),
            Err(_) => default.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("env_var `{name}` is not set and has no default"),
                )
            }),
        },
    );
    let vars = vars.clone();
    env.add_function(
        "var",
        // A `Rest`: `var('x', none)` has the default none.
        move |name: String, default: minijinja::value::Rest<minijinja::Value>| match vars.get(&name)
        {
            Some(v) => Ok(minijinja::Value::from(minijinja::value::Serde(v))),
            None => default.first().cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("var `{name}` is not defined"),
                )
            }),
        },
    );
    if let Some(target) = target {
        env.add_global(
            "target",
            minijinja::Value::from(minijinja::value::Serde(target)),
        );
    }
    env.render_str(text, ())
        .map(|s| s.trim().to_string())
        .map_err(|e| match e.detail() {
            Some(detail) => detail.to_string(),
            None => e.to_string(),
        })
}

/// The target as dbt's Jinja `target` variable.
pub fn target_json(target: &Target) -> serde_json::Value {
    serde_json::json!({
        "name": target.name,
        "profile_name": target.profile_name,
        "type": target.kind,
        "schema": target.schema,
        "database": target.database,
        "dbname": target.database,
        "user": target.user,
        "threads": target.threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str, flag: Option<&str>) -> (Option<Target>, Vec<Diagnostic>) {
        let vars = BTreeMap::new();
        let cx = Cx {
            path: Arc::from("profiles.yml"),
            text: Arc::from(text),
            vars: &vars,
        };
        let mut d = Vec::new();
        let t = cx.target(Some("p"), flag, &mut d);
        (t, d)
    }

    const PROFILES: &str = "p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: localhost\n      port: 5432\n      user: me\n      password: \"{{ env_var('STACKC_TEST_UNSET_PASSWORD') }}\"\n      dbname: db\n      schema: analytics\n      threads: 4\n    ci:\n      type: postgres\n      host: h\n      user: \"{{ env_var('STACKC_TEST_UNSET_USER', 'ci_user') }}\"\n      dbname: db\n      schema: ci\n";

    #[test]
    fn the_profile_target_is_read_without_the_password() {
        let (t, d) = target(PROFILES, None);
        assert!(d.is_empty(), "{d:?}");
        let t = t.unwrap();
        assert_eq!(
            (t.name.as_str(), t.schema.as_str(), t.threads),
            ("dev", "analytics", 4)
        );
        let c = t.connection.unwrap();
        assert!(c
            .conninfo()
            .unwrap_err()
            .contains("STACKC_TEST_UNSET_PASSWORD"));
        assert_eq!(c.params["port"], "5432");
    }

    #[test]
    fn the_target_flag_wins_and_env_var_defaults_apply() {
        let (t, d) = target(PROFILES, Some("ci"));
        assert!(d.is_empty(), "{d:?}");
        let t = t.unwrap();
        assert_eq!((t.schema.as_str(), t.user.as_str()), ("ci", "ci_user"));
        assert_eq!(
            t.connection.unwrap().conninfo().unwrap(),
            "dbname='db' host='h' user='ci_user'"
        );
    }

    #[test]
    fn an_unknown_target_names_the_known_ones() {
        let (t, d) = target(PROFILES, Some("prod"));
        assert!(t.is_none());
        assert_eq!(d[0].code, Code::E0036);
        assert!(d[0].help.as_deref().unwrap().contains("dev, ci"), "{d:?}");
    }
}
