//! Where to connect: a URL, a dbt profile, or libpq's `PG*` variables,
//! checked before anything is sent.

use std::time::Duration;

use postgres::config::SslMode;
use postgres::Config;

use super::dotenv::Env;
use super::{
    describe, error_chain, password_guesses, scrub, ConnectError, Target, DEFAULT_CONNECT_TIMEOUT,
};

pub(super) const SSLMODES: &str = "stackc supports sslmode=disable, prefer and require";

/// Resolves the connection settings in the documented order.
pub fn resolve(
    cli_url: Option<&str>,
    url_env: Option<&str>,
    env: &Env,
) -> Result<Target, ConnectError> {
    if cli_url.is_some_and(|u| u.trim().is_empty()) {
        return Err(ConnectError::Settings(
            "--database-url is empty: give a URL (postgres://user@host:port/db), or leave the \
             option out to use DATABASE_URL or the PG* variables"
                .into(),
        ));
    }
    let mut candidates: Vec<(String, Option<String>)> =
        vec![("--database-url".into(), cli_url.map(str::to_string))];
    if let Some(name) = url_env {
        candidates.push((name.to_string(), env.get(name)));
    }
    candidates.push(("DATABASE_URL".into(), env.get("DATABASE_URL")));
    for (origin, value) in candidates {
        if let Some(url) = value.filter(|v| !v.trim().is_empty()) {
            return from_url(&url, &origin, env);
        }
    }
    from_libpq_vars(env)
}

/// A dbt profile's target, as a libpq connection string; `origin` names the
/// profile and target in messages. Settings it leaves out come from the
/// `PG*` variables, as with a URL.
pub fn from_profile(conninfo: &str, origin: &str, env: &Env) -> Result<Target, ConnectError> {
    from_url(conninfo, origin, env)
}

/// The longest connection string accepted: far more than any real one,
/// and short enough that no message built from one floods a terminal.
pub(super) const MAX_URL_LEN: usize = 4096;

/// What makes a connection string unusable before it is parsed, in words
/// that never repeat its text (it may hold a password).
pub(super) fn url_problem(url: &str) -> Option<String> {
    if url.len() > MAX_URL_LEN {
        return Some(format!(
            "the connection string is {} bytes long; stackc accepts at most {MAX_URL_LEN}",
            url.len()
        ));
    }
    if let Some((i, c)) = url.chars().enumerate().find(|(_, c)| c.is_control()) {
        let what = match c {
            '\n' | '\r' => "a line break",
            '\t' => "a tab",
            _ => "a control character",
        };
        return Some(format!(
            "the connection string has {what} at character {}; remove it (was the value pasted with a newline?)",
            i + 1
        ));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        if !matches!(scheme, "postgres" | "postgresql") {
            let named = if !scheme.is_empty()
                && scheme.len() <= 20
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                format!("`{scheme}://` is not a PostgreSQL URL")
            } else {
                "this is not a PostgreSQL URL".to_string()
            };
            return Some(format!(
                "{named}; write postgres://user@host:port/db (or key=value settings)"
            ));
        }
    }
    None
}

pub(super) fn from_url(url: &str, origin: &str, env: &Env) -> Result<Target, ConnectError> {
    if let Some(problem) = url_problem(url) {
        return Err(ConnectError::Settings(format!("{origin}: {problem}")));
    }
    let mut secrets = password_guesses(url);
    let fail = |message: String, secrets: &[String]| {
        ConnectError::Settings(scrub(&format!("{origin}: {message}"), secrets))
    };
    if let Some(mode) = unsupported_sslmode(url) {
        return Err(fail(
            format!("sslmode={mode} is not supported; {SSLMODES}"),
            &secrets,
        ));
    }
    let mut config: Config = url
        .parse()
        .map_err(|e: postgres::Error| fail(error_chain(&e), &secrets))?;
    fill_from_libpq_vars(&mut config, url, env, &mut secrets).map_err(|m| fail(m, &secrets))?;
    finish(config, origin.to_string(), secrets)
}

pub(super) fn from_libpq_vars(env: &Env) -> Result<Target, ConnectError> {
    let any = ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"]
        .iter()
        .any(|k| env.get(k).is_some());
    if !any {
        return Err(ConnectError::Settings(
            "no database given: pass --database-url, set DATABASE_URL (or the variable named by \
             [connection] url_env in stackc.toml), or PGHOST/PGPORT/PGUSER/PGDATABASE, in the \
             environment or in the project's .env"
                .into(),
        ));
    }
    let mut config = Config::new();
    let mut secrets = Vec::new();
    fill_from_libpq_vars(&mut config, "", env, &mut secrets)
        .map_err(|m| ConnectError::Settings(scrub(&m, &secrets)))?;
    finish(config, "PG* variables".into(), secrets)
}

/// libpq's rule: a `PG*` variable supplies each setting the URL leaves out.
/// Written here because the `postgres` crate reads no environment variable
/// at all (its `Config` is only what it is given).
pub(super) fn fill_from_libpq_vars(
    config: &mut Config,
    raw: &str,
    env: &Env,
    secrets: &mut Vec<String>,
) -> Result<(), String> {
    if config.get_hosts().is_empty() {
        let hosts = env.get("PGHOST").unwrap_or_else(|| "localhost".into());
        for h in hosts.split(',') {
            config.host(h.trim());
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = env.get("PGPORT") {
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|_| "PGPORT must be a port number".to_string())?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        let user = env
            .get("PGUSER")
            .or_else(|| env.get("USER"))
            .or_else(|| env.get("LOGNAME"))
            .ok_or("no database user: set PGUSER or put the user in the URL")?;
        config.user(&user);
    }
    if config.get_password().is_none() {
        if let Some(password) = env.get("PGPASSWORD") {
            config.password(&password);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(db) = env.get("PGDATABASE") {
            config.dbname(&db);
        }
    }
    // An sslmode in the URL wins; Config cannot tell us whether there was
    // one, so look for it in the text.
    if !raw.contains("sslmode") {
        if let Some(mode) = env.get("PGSSLMODE") {
            let mode = match mode.as_str() {
                "disable" => SslMode::Disable,
                "prefer" => SslMode::Prefer,
                "require" => SslMode::Require,
                other => return Err(format!("PGSSLMODE={other} is not supported; {SSLMODES}")),
            };
            config.ssl_mode(mode);
        }
    }
    if config.get_connect_timeout().is_none() {
        let secs = match env.get("PGCONNECT_TIMEOUT") {
            Some(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| "PGCONNECT_TIMEOUT must be a number of seconds".to_string())?,
            None => DEFAULT_CONNECT_TIMEOUT,
        };
        config.connect_timeout(Duration::from_secs(secs.max(1)));
    }
    if config.get_application_name().is_none() {
        config.application_name("stackc");
    }
    if let Some(p) = config.get_password() {
        secrets.push(String::from_utf8_lossy(p).into_owned());
    }
    Ok(())
}

pub(super) fn finish(
    config: Config,
    origin: String,
    secrets: Vec<String>,
) -> Result<Target, ConnectError> {
    let display = describe(&config);
    Ok(Target {
        config,
        display,
        origin,
        secrets,
    })
}

pub(super) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

pub(super) fn unsupported_sslmode(raw: &str) -> Option<&str> {
    ["allow", "verify-ca", "verify-full"]
        .into_iter()
        .find(|m| raw.contains(&format!("sslmode={m}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use postgres::config::SslMode;

    use super::super::tests::map;
    #[allow(unused_imports)]
    use super::super::*;

    #[test]
    fn resolution_order() {
        let env = Env::from_maps(
            map(&[("MY_URL", "postgres://m@mine/db1")]),
            map(&[("DATABASE_URL", "postgres://d@dflt/db2"), ("PGHOST", "pg")]),
        );
        let t = resolve(Some("postgres://c@cli/db0"), Some("MY_URL"), &env).unwrap();
        assert_eq!(t.display, "postgres://c@cli:5432/db0");
        assert_eq!(t.origin, "--database-url");
        let t = resolve(None, Some("MY_URL"), &env).unwrap();
        assert_eq!(t.display, "postgres://m@mine:5432/db1");
        assert_eq!(t.origin, "MY_URL");
        let t = resolve(None, Some("UNSET_URL"), &env).unwrap();
        assert_eq!(t.display, "postgres://d@dflt:5432/db2");
        let env = Env::from_maps(
            map(&[
                ("PGHOST", "db.example"),
                ("PGPORT", "6543"),
                ("PGUSER", "app"),
            ]),
            map(&[("PGDATABASE", "analytics"), ("PGPASSWORD", "sekret")]),
        );
        let t = resolve(None, None, &env).unwrap();
        assert_eq!(t.display, "postgres://app@db.example:6543/analytics");
        assert_eq!(t.origin, "PG* variables");
        assert_eq!(t.scrub("bad sekret here"), "bad ******** here");
    }

    #[test]
    fn url_passwords_never_show() {
        let env = Env::from_maps(BTreeMap::new(), BTreeMap::new());
        let t = resolve(
            Some("postgres://app:s%40kret-xyz@db.example:5432/analytics?sslmode=require"),
            None,
            &env,
        )
        .unwrap();
        assert_eq!(t.display, "postgres://app@db.example:5432/analytics");
        assert!(!format!("{t:?}").contains("kret"));
        assert_eq!(t.scrub("x s@kret-xyz y"), "x ******** y");
        for bad in [
            "postgres://app:sekret-xyz@db.example:notaport/analytics",
            "postgres://app:sekret-xyz@db.example/analytics?sslmode=verify-full",
            "postgres://app:sekret-xyz@db.example/analytics?sslmode=bogus",
            "host=db user=app password=sekret-xyz bogus_option=1",
        ] {
            let e = resolve(Some(bad), None, &env).unwrap_err().to_string();
            assert!(!e.contains("sekret-xyz"), "{e}");
            assert!(
                e.starts_with("invalid connection settings: --database-url: "),
                "{e}"
            );
        }
    }

    #[test]
    fn libpq_variables_fill_what_a_url_leaves_out() {
        let env = Env::from_maps(
            map(&[
                ("PGPASSWORD", "pw"),
                ("PGSSLMODE", "disable"),
                ("PGUSER", "u"),
            ]),
            BTreeMap::new(),
        );
        let t = resolve(Some("postgres://db.example/analytics"), None, &env).unwrap();
        assert_eq!(t.display, "postgres://u@db.example:5432/analytics");
        assert_eq!(t.config.get_password(), Some(&b"pw"[..]));
        assert_eq!(t.config.get_ssl_mode(), SslMode::Disable);
        let t = resolve(
            Some("postgres://x@db.example/analytics?sslmode=require"),
            None,
            &env,
        )
        .unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        let env = Env::from_maps(
            map(&[
                ("PGHOST", "h"),
                ("PGSSLMODE", "verify-full"),
                ("PGUSER", "u"),
            ]),
            BTreeMap::new(),
        );
        let e = resolve(None, None, &env).unwrap_err().to_string();
        assert!(e.contains("verify-full is not supported"), "{e}");
    }

    #[test]
    fn unusable_urls_are_one_line_that_never_shows_the_password() {
        let env = Env::from_maps(BTreeMap::new(), BTreeMap::new());
        let long = format!("postgres://u:sekret-xyz@h/{}", "a".repeat(100_000));
        for (url, says) in [
            (
                "postgres://u:sekret-xyz@h/db\nx",
                "a line break at character 29",
            ),
            (long.as_str(), "100026 bytes long"),
            (
                "mysql://u:sekret-xyz@h/db",
                "`mysql://` is not a PostgreSQL URL",
            ),
            ("", "--database-url is empty"),
            ("  ", "--database-url is empty"),
        ] {
            let e = resolve(Some(url), None, &env).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
            assert!(e.len() < 300, "{e}");
            assert!(!e.contains("sekret"), "{e}");
        }
        // A long database name is shortened where the target is shown.
        let t = resolve(
            Some(&format!("postgres://u@h/{}", "d".repeat(500))),
            None,
            &env,
        )
        .unwrap();
        assert!(t.display.len() < 100, "{}", t.display);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%40b%2"), "a@b%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
