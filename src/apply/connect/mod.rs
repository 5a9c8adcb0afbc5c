//! Where to connect, and connecting: `--database-url`, else the variable
//! named by `[connection] url_env`, else `DATABASE_URL`, else the libpq
//! variables. Every variable is read from the process environment first,
//! then from `DIR/.env`. As with libpq, `PG*` variables also fill in what a
//! URL leaves out.
//!
//! A password is never shown: the connection is described from its parsed
//! parts without the password, and every message is scrubbed of it too.

use std::fmt;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};

mod dotenv;
mod target;
mod tls;

pub use self::dotenv::{parse_dotenv, DotenvError, Env};
use self::target::percent_decode;
pub use self::target::{from_profile, resolve};
use self::tls::tls_connector;

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

/// Connects with TLS as the sslmode asks.
pub fn connect(target: &Target) -> Result<Client, ConnectError> {
    let fail = |message: String| ConnectError::Connect {
        target: target.display.clone(),
        message: target.scrub(&message),
    };
    let connector = if target.config.get_ssl_mode() == SslMode::Disable {
        None
    } else {
        Some(tls_connector().map_err(fail)?)
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
                Some(c) => config.connect(c),
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

    use std::collections::BTreeMap;
    pub(super) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
