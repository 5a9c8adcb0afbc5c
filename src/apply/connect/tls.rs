//! The TLS connector, built off the main thread while the project compiles.

use postgres::config::SslMode;

use super::{error_chain, Target};

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
pub struct TlsSetup(pub(super) std::thread::JoinHandle<Result<native_tls::TlsConnector, String>>);

/// Starts building the TLS connector a target will need (none for
/// `sslmode=disable`).
pub fn tls_in_background(target: &Target) -> Option<TlsSetup> {
    (target.config.get_ssl_mode() != SslMode::Disable)
        .then(|| TlsSetup(std::thread::spawn(tls_connector)))
}

/// Like libpq without a root certificate, `prefer` and `require` encrypt
/// but do not verify the server's certificate.
pub(super) fn tls_connector() -> Result<native_tls::TlsConnector, String> {
    native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .map_err(|e| format!("cannot set up TLS: {}", error_chain(&e)))
}
