//! Where to connect, and connecting: `--database-url`, else the variable
//! named by `[connection] url_env`, else `DATABASE_URL`, else the libpq
//! variables. Every variable is read from the process environment first,
//! then from `DIR/.env`. As with libpq, `PG*` variables also fill in what a
//! URL leaves out.
//!
//! A password is never shown: the connection is described from its parsed
//! parts without the password, and every message is scrubbed of it too.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};

/// Environment lookups: the process environment wins over `.env`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `None`: the real process environment (a map in tests).
    process: Option<BTreeMap<String, String>>,
    dotenv: BTreeMap<String, String>,
}

impl Env {
    /// The process environment and `dir/.env` when there is one.
    pub fn load(dir: &Path) -> Result<Env, ConnectError> {
        let path = dir.join(".env");
        let dotenv = match std::fs::read_to_string(&path) {
            Ok(text) => parse_dotenv(&text).map_err(|e| {
                ConnectError::Settings(format!("cannot read {}: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(ConnectError::Settings(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        Ok(Env {
            process: None,
            dotenv,
        })
    }

    pub fn from_maps(process: BTreeMap<String, String>, dotenv: BTreeMap<String, String>) -> Env {
        Env {
            process: Some(process),
            dotenv,
        }
    }

    /// A variable's value; an empty value counts as unset, as in libpq.
    pub fn get(&self, key: &str) -> Option<String> {
        let process = match &self.process {
            Some(map) => map.get(key).cloned(),
            None => std::env::var(key).ok(),
        };
        process
            .filter(|v| !v.is_empty())
            .or_else(|| self.dotenv.get(key).cloned().filter(|v| !v.is_empty()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub message: &'static str,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the line's text: it may hold a password.
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses a `.env` file the way docker compose and dotenv read the common
/// cases: `KEY=value`, an optional `export `, `#` comments (whole lines, or
/// after whitespace in an unquoted value), `'single'` quotes taken
/// literally, `"double"` quotes with `\n`, `\t`, `\"`, `\\` escapes; quoted
/// values may span lines. No `${VAR}` expansion.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, DotenvError> {
    // Editors on Windows start a UTF-8 file with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = BTreeMap::new();
    let mut rest = text;
    let mut line = 1;
    while !rest.is_empty() {
        let (current, after) = rest.split_once('\n').unwrap_or((rest, ""));
        let trimmed = current.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            rest = after;
            line += 1;
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        let Some((key, value_start)) = body.split_once('=') else {
            return Err(DotenvError {
                line,
                message: "expected KEY=VALUE",
            });
        };
        let key = key.trim();
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_key {
            return Err(DotenvError {
                line,
                message: "a variable name is letters, digits and `_`",
            });
        }
        let value_start = value_start.trim_start();
        // Quoted values may run over several lines: read from the whole rest.
        let value_offset = value_start.as_ptr() as usize - rest.as_ptr() as usize;
        let from_value = &rest[value_offset..];
        let (value, consumed) = match from_value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let (value, len) = quoted_value(&from_value[1..], q).ok_or(DotenvError {
                    line,
                    message: "unterminated quoted value",
                })?;
                let used = &from_value[..1 + len];
                let tail = from_value[1 + len..]
                    .split_once('\n')
                    .map_or(&from_value[1 + len..], |(t, _)| t);
                let tail = tail.trim();
                if !tail.is_empty() && !tail.starts_with('#') {
                    return Err(DotenvError {
                        line,
                        message: "unexpected text after the closing quote",
                    });
                }
                (value, used.len() + tail.len())
            }
            _ => {
                let raw = from_value.split_once('\n').map_or(from_value, |(v, _)| v);
                let value = match raw.find(" #").or_else(|| raw.find("\t#")) {
                    Some(i) => &raw[..i],
                    None => raw,
                };
                (value.trim().to_string(), raw.len())
            }
        };
        out.insert(key.to_string(), value);
        let end = value_offset + consumed;
        line += rest[..end].matches('\n').count() + 1;
        rest = rest[end..].split_once('\n').map_or("", |(_, a)| a);
    }
    Ok(out)
}

/// The value up to the closing quote `q`, and how many bytes that took
/// (including the closing quote).
fn quoted_value(text: &str, q: char) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == q => return Some((value, i + 1)),
            '\\' if q == '"' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other)) => value.push(other),
                None => return None,
            },
            c => value.push(c),
        }
    }
    None
}

/// Where an apply connects, described without the password.
#[derive(Clone)]
pub struct Target {
    config: Config,
    /// `postgres://user@host:port/db`, never with a password.
    pub display: String,
    /// Where the settings came from (`--database-url`, `DATABASE_URL`, ...).
    pub origin: String,
    /// Every form of the password seen, to scrub messages with.
    secrets: Vec<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("display", &self.display)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Removes the password from a message (belt and braces: messages are
    /// built without it, but a server or library message might echo it).
    pub fn scrub(&self, message: &str) -> String {
        scrub(message, &self.secrets)
    }
}

fn scrub(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "********");
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The settings cannot be used (bad URL, unsupported sslmode, no user).
    Settings(String),
    /// The server could not be reached or refused us.
    Connect { target: String, message: String },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Settings(m) => write!(f, "invalid connection settings: {m}"),
            ConnectError::Connect { target, message } => {
                write!(f, "cannot connect to {target}: {message}")
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// Seconds a connection may take, TCP connect and startup handshake
/// together, unless `connect_timeout` or `PGCONNECT_TIMEOUT` says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 10;

const SSLMODES: &str = "stackc supports sslmode=disable, prefer and require";

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
const MAX_URL_LEN: usize = 4096;

/// What makes a connection string unusable before it is parsed, in words
/// that never repeat its text (it may hold a password).
fn url_problem(url: &str) -> Option<String> {
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

fn from_url(url: &str, origin: &str, env: &Env) -> Result<Target, ConnectError> {
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

fn from_libpq_vars(env: &Env) -> Result<Target, ConnectError> {
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
fn fill_from_libpq_vars(
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

fn finish(config: Config, origin: String, secrets: Vec<String>) -> Result<Target, ConnectError> {
    let display = describe(&config);
    Ok(Target {
        config,
        display,
        origin,
        secrets,
    })
}

/// `postgres://user@host:port/db`, from the parsed parts: no password.
pub fn describe(config: &Config) -> String {
    let user = config.get_user().unwrap_or("");
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    format!(
        "postgres://{}@{}/{}",
        shorten(user),
        shorten(&hosts.join(",")),
        shorten(db)
    )
}

/// A part of a described target, cut at 64 characters with an ellipsis:
/// PostgreSQL itself truncates names at 63 bytes.
fn shorten(part: &str) -> String {
    match part.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &part[..i]),
        None => part.to_string(),
    }
}

/// The password as it may appear in the raw setting (URL userinfo, or a
/// `password=` key), raw and percent-decoded, for scrubbing messages about
/// a setting that could not be parsed.
fn password_guesses(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, rest)) = raw.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                out.push(password.to_string());
                out.push(percent_decode(password));
            }
        }
    }
    for part in raw.split(['&', ' ', '?']) {
        if let Some(password) = part.trim().strip_prefix("password=") {
            let password = password.trim_matches('\'');
            out.push(password.to_string());
            out.push(percent_decode(password));
        }
    }
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    // Longest first, so that a password containing another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn unsupported_sslmode(raw: &str) -> Option<&str> {
    ["allow", "verify-ca", "verify-full"]
        .into_iter()
        .find(|m| raw.contains(&format!("sslmode={m}")))
}

/// A library error with its causes, on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    message
}

/// Tells OpenSSL not to load the system's CA bundle in this process.
///
/// Why: stackc's `prefer` and `require` never verify the server's
/// certificate (libpq's meaning without a root certificate), so the bundle
/// is never consulted, yet native-tls loads it twice when it builds a
/// connector: ~40 ms, most of a no-op apply. OpenSSL and native-tls both
/// take the bundle's path from `SSL_CERT_FILE`/`SSL_CERT_DIR`; pointing them
/// at nothing makes building a connector cost ~1 ms. A value the
/// environment already has is replaced too: stackc's connections never
/// verify against it, and this process starts no other program.
///
/// Call it only while the process has a single thread (changing the
/// environment races with threads reading it): the CLI calls it first
/// thing in `apply` and `test`. Remove it if certificate verification
/// (`verify-ca`, `verify-full`) is ever added.
pub fn skip_system_ca_bundle() {
    for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        std::env::set_var(var, "/dev/null");
    }
}

/// A TLS connector being built, in the background while the project
/// compiles (it costs ~1 ms after [`skip_system_ca_bundle`], ~40 ms
/// without).
pub struct TlsSetup(std::thread::JoinHandle<Result<native_tls::TlsConnector, String>>);

/// Starts building the TLS connector a target will need (none for
/// `sslmode=disable`).
pub fn tls_in_background(target: &Target) -> Option<TlsSetup> {
    (target.config.get_ssl_mode() != SslMode::Disable)
        .then(|| TlsSetup(std::thread::spawn(tls_connector)))
}

/// Like libpq without a root certificate, `prefer` and `require` encrypt
/// but do not verify the server's certificate.
fn tls_connector() -> Result<native_tls::TlsConnector, String> {
    native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .map_err(|e| format!("cannot set up TLS: {}", error_chain(&e)))
}

/// Connects with TLS as the sslmode asks, with the connector from
/// [`tls_in_background`] when there is one.
pub fn connect(target: &Target, tls: Option<TlsSetup>) -> Result<Client, ConnectError> {
    let fail = |message: String| ConnectError::Connect {
        target: target.display.clone(),
        message: target.scrub(&message),
    };
    let connector = if target.config.get_ssl_mode() == SslMode::Disable {
        None
    } else {
        let connector = match tls {
            Some(TlsSetup(handle)) => handle
                .join()
                .unwrap_or_else(|_| Err("cannot set up TLS: the setup thread failed".into())),
            None => tls_connector(),
        }
        .map_err(fail)?;
        Some(connector)
    };
    // The postgres crate bounds only the TCP connect by connect_timeout; a
    // server that accepts and never answers the startup handshake would
    // hold it forever. The whole connect runs on a thread of its own and is
    // given up after the timeout (per host, as libpq counts it); the thread
    // is left behind blocked, and the process ends soon after.
    let per_host = target
        .config
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(DEFAULT_CONNECT_TIMEOUT));
    let hosts = u32::try_from(target.config.get_hosts().len().max(1)).unwrap_or(u32::MAX);
    let limit = per_host.saturating_mul(hosts);
    let config = target.config.clone();
    let (send, receive) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("stackc-connect".into())
        .spawn(move || {
            let result = match connector {
                None => config.connect(NoTls),
                Some(c) => config.connect(postgres_native_tls::MakeTlsConnector::new(c)),
            };
            // The receiver is gone only when the wait gave up already.
            let _ = send.send(result);
        });
    if let Err(e) = spawned {
        return Err(fail(format!("cannot start connecting: {e}")));
    }
    let result = match receive.recv_timeout(limit) {
        Ok(result) => result,
        Err(_) => {
            return Err(fail(format!(
                "no answer within {} s (connect_timeout); the server accepted the connection but did not complete the startup handshake. Set another limit with connect_timeout=SECS in the URL or PGCONNECT_TIMEOUT",
                limit.as_secs()
            )))
        }
    };
    result.map_err(|e| {
        fail(match e.as_db_error() {
            // The server's own words: `password authentication failed for user "app"`.
            Some(db) => db.message().to_string(),
            None => error_chain(&e),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dotenv_reads_the_common_forms() {
        let text = "# comment\n\nexport A=1\nB = two words  # trailing comment\nC='lit $X \\n'\nD=\"line\\nnext \\\"q\\\"\"\nE=\nF=x#not-a-comment\nG=\"multi\nline\"\nH=after\n";
        let env = parse_dotenv(text).unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "lit $X \\n");
        assert_eq!(env["D"], "line\nnext \"q\"");
        assert_eq!(env["E"], "");
        assert_eq!(env["F"], "x#not-a-comment");
        assert_eq!(env["G"], "multi\nline");
        assert_eq!(env["H"], "after");
        assert_eq!(env.len(), 8);
    }

    #[test]
    fn dotenv_may_start_with_a_byte_order_mark() {
        let env = parse_dotenv("\u{feff}DATABASE_URL=postgres://a@h/x\n").unwrap();
        assert_eq!(env["DATABASE_URL"], "postgres://a@h/x");
    }

    #[test]
    fn dotenv_errors_name_the_line_but_never_the_value() {
        let e = parse_dotenv("A=1\nPASSWORD sekret\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("sekret"));
        let e = parse_dotenv("A=1\nB=\"sekret\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("sekret"));
        let e = parse_dotenv("A=1\nB=\"x\"\nC=\"two\nlines\" junk\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse_dotenv("1A=x\n").is_err());
    }

    #[test]
    fn the_process_environment_wins_over_dotenv() {
        let env = Env::from_maps(
            map(&[("DATABASE_URL", "postgres://a@h1/x"), ("EMPTY", "")]),
            map(&[("DATABASE_URL", "postgres://b@h2/y"), ("EMPTY", "fromfile")]),
        );
        assert_eq!(env.get("DATABASE_URL").unwrap(), "postgres://a@h1/x");
        assert_eq!(env.get("EMPTY").unwrap(), "fromfile");
        assert_eq!(env.get("MISSING"), None);
    }

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
    fn nothing_configured_is_one_clear_error() {
        let env = Env::from_maps(map(&[("USER", "me")]), BTreeMap::new());
        let e = resolve(None, Some("DATABASE_URL"), &env).unwrap_err();
        assert!(e.to_string().contains("--database-url"), "{e}");
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
    fn a_server_that_never_answers_is_given_up_after_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, then holds the connection without a word, for 30 s at most.
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(1).collect();
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        let env = Env::from_maps(BTreeMap::new(), BTreeMap::new());
        let url = format!("postgres://u@127.0.0.1:{port}/db?connect_timeout=1&sslmode=disable");
        let target = resolve(Some(&url), None, &env).unwrap();
        let started = std::time::Instant::now();
        let Err(e) = connect(&target, None) else {
            panic!("connected to a server that never answers")
        };
        let e = e.to_string();
        assert!(started.elapsed() < Duration::from_secs(10), "{e}");
        assert!(e.contains("no answer within 1 s"), "{e}");
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
