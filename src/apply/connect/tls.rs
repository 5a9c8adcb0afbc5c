//! TLS for `sslmode=prefer|require`: encrypted, not verified, as libpq does
//! without a root certificate.
//!
//! The OpenSSL context is built by hand rather than through
//! `SslConnector::builder` (which postgres-openssl and native-tls both use):
//! that builder loads the system's CA bundle, 20-80 ms of parsing per
//! connector, for certificates these modes never check. A context without
//! verify paths loads no bundle and needs no process-wide `SSL_CERT_FILE`.
//! Add the bundle here, not globally, if `verify-ca`/`verify-full` are ever
//! supported.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ssl::{self, Ssl, SslContext, SslMethod, SslVerifyMode, SslVersion};
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error_chain;

/// The connector for `prefer` and `require`. Built when connecting: with
/// no CA bundle to load it takes about 2 ms with OpenSSL's start-up, 0.2 ms
/// after, too little to overlap with the compile on a thread of its own.
pub(super) fn tls_connector() -> Result<Unverified, String> {
    unverified_context()
        .map(Unverified)
        .map_err(|e| format!("cannot set up TLS: {}", error_chain(&e)))
}

fn unverified_context() -> Result<SslContext, ErrorStack> {
    let mut context = SslContext::builder(SslMethod::tls_client())?;
    // No verify paths, so no CA bundle: nothing is verified against one.
    context.set_verify(SslVerifyMode::NONE);
    // libpq's default `ssl_min_protocol_version` since PostgreSQL 13.
    context.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    // A write that would block is retried from the caller's next buffer,
    // which may have moved, and poll_write may write part of it.
    context.set_mode(
        ssl::SslMode::AUTO_RETRY
            | ssl::SslMode::ACCEPT_MOVING_WRITE_BUFFER
            | ssl::SslMode::ENABLE_PARTIAL_WRITE,
    );
    // As libpq 17 offers on every TLS connection; PostgreSQL 17 requires it
    // for `sslnegotiation=direct`, and earlier servers ignore it.
    context.set_alpn_protos(b"\x0apostgresql")?;
    // Whole records per socket read instead of header, then body: half the
    // system calls (what a buffered reader under the stream would do).
    context.set_read_ahead(true);
    Ok(context.build())
}

/// Connects without verifying the server's certificate or name.
#[derive(Clone)]
pub struct Unverified(SslContext);

impl<S> MakeTlsConnect<S> for Unverified
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Encrypted<S>;
    type TlsConnect = Handshake;
    type Error = ErrorStack;

    fn make_tls_connect(&mut self, host: &str) -> Result<Handshake, ErrorStack> {
        let mut ssl = Ssl::new(&self.0)?;
        // Server name indication for a host name, never an address (as
        // libpq's `sslsni=1`): a server behind a proxy may route by it.
        if host.parse::<IpAddr>().is_err() {
            ssl.set_hostname(host)?;
        }
        Ok(Handshake(ssl))
    }
}

/// One connection's TLS handshake, not yet run.
pub struct Handshake(Ssl);

type HandshakeFuture<S> = Pin<Box<dyn Future<Output = Result<Encrypted<S>, ssl::Error>> + Send>>;

impl<S> TlsConnect<S> for Handshake
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Encrypted<S>;
    type Error = ssl::Error;
    type Future = HandshakeFuture<S>;

    fn connect(self, stream: S) -> HandshakeFuture<S> {
        Box::pin(async move {
            let mut stream = tokio_openssl::SslStream::new(self.0, stream)?;
            Pin::new(&mut stream).connect().await?;
            Ok(Encrypted(stream))
        })
    }
}

/// An encrypted connection to the server.
pub struct Encrypted<S>(tokio_openssl::SslStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Encrypted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Encrypted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Encrypted<S> {
    /// `tls-server-end-point` (RFC 5929), so SCRAM can bind the password
    /// exchange to this connection (`channel_binding=prefer|require`).
    fn channel_binding(&self) -> ChannelBinding {
        server_end_point(self.0.ssl())
            .map(ChannelBinding::tls_server_end_point)
            .unwrap_or_else(ChannelBinding::none)
    }
}

/// The hash of the server's certificate, with the hash its signature uses
/// (SHA-256 in place of MD5 and SHA-1, as RFC 5929 says). None when the
/// signature names no single hash (RSA-PSS, Ed25519): no binding then.
fn server_end_point(ssl: &ssl::SslRef) -> Option<Vec<u8>> {
    let cert = ssl.peer_certificate()?;
    let algorithms = cert
        .signature_algorithm()
        .object()
        .nid()
        .signature_algorithms()?;
    let digest = match algorithms.digest {
        Nid::MD5 | Nid::SHA1 => MessageDigest::sha256(),
        nid => MessageDigest::from_nid(nid)?,
    };
    cert.digest(digest).ok().map(|bytes| bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use openssl::ssl::NameType;

    use super::*;

    fn handshake(host: &str) -> Handshake {
        let mut connector = tls_connector().unwrap();
        MakeTlsConnect::<postgres::Socket>::make_tls_connect(&mut connector, host).unwrap()
    }

    #[test]
    fn a_connection_verifies_nothing() {
        assert_eq!(handshake("db.example").0.verify_mode(), SslVerifyMode::NONE);
    }

    /// A server with a fresh self-signed certificate signed with `digest`,
    /// on one end of a socket pair; returns the certificate and the client's
    /// end, handshake done.
    fn handshake_with(digest: MessageDigest) -> (openssl::x509::X509, ssl::SslStream<UnixStream>) {
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::{X509Name, X509};

        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509Name::builder().unwrap();
        name.append_entry_by_text("CN", "db.example").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        let now = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
        let later = openssl::asn1::Asn1Time::days_from_now(1).unwrap();
        cert.set_not_before(&now).unwrap();
        cert.set_not_after(&later).unwrap();
        cert.sign(&key, digest).unwrap();
        let cert = cert.build();

        let mut server = ssl::SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        server.set_private_key(&key).unwrap();
        server.set_certificate(&cert).unwrap();
        server.set_alpn_select_callback(|_, offered| {
            ssl::select_next_proto(b"\x0apostgresql", offered).ok_or(ssl::AlpnError::NOACK)
        });
        let server = server.build();
        let (client_end, server_end) = UnixStream::pair().unwrap();
        let accepting = std::thread::spawn(move || server.accept(server_end).map(|_| ()).is_ok());
        let client = Ssl::new(&unverified_context().unwrap())
            .unwrap()
            .connect(client_end)
            .unwrap();
        assert!(accepting.join().unwrap());
        (cert, client)
    }

    #[test]
    fn channel_binding_hashes_the_certificate_as_rfc_5929_says() {
        let (cert, client) = handshake_with(MessageDigest::sha384());
        let expected = cert.digest(MessageDigest::sha384()).unwrap().to_vec();
        assert_eq!(server_end_point(client.ssl()), Some(expected));
        // SHA-1 gives way to SHA-256.
        let (cert, client) = handshake_with(MessageDigest::sha1());
        let expected = cert.digest(MessageDigest::sha256()).unwrap().to_vec();
        assert_eq!(server_end_point(client.ssl()), Some(expected));
    }

    #[test]
    fn the_postgresql_protocol_is_offered_by_alpn() {
        let (_, client) = handshake_with(MessageDigest::sha256());
        assert_eq!(
            client.ssl().selected_alpn_protocol(),
            Some(&b"postgresql"[..])
        );
    }

    #[test]
    fn a_host_name_is_sent_as_server_name_and_an_address_is_not() {
        let named = handshake("db.example");
        assert_eq!(named.0.servername(NameType::HOST_NAME), Some("db.example"));
        for address in ["127.0.0.1", "::1"] {
            assert_eq!(handshake(address).0.servername(NameType::HOST_NAME), None);
        }
    }
}
