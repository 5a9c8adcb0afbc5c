//! `stackc docs --serve`: the generated site over HTTP on 127.0.0.1, with
//! the standard library only.
//!
//! The server answers from the files it was handed (the ones `stackc docs`
//! just wrote), looked up by exact name: no request path ever reaches the
//! file system, so `..`, encoded slashes or links lead nowhere. Only `GET`
//! is answered; every wait on a client is bounded.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take to send its request, or to read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request head longer than this is refused (a browser's is < 2 KiB).
const MAX_HEAD: usize = 16 * 1024;

/// The site's files by URL path without the leading `/` (`index.html`).
pub type Files = BTreeMap<String, Vec<u8>>;

/// Answers requests on `listener` until the process ends; each connection
/// gets a thread, so a slow client delays nobody else.
pub fn serve(listener: TcpListener, files: Files) -> io::Result<()> {
    let files = Arc::new(files);
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // A connection that failed before it was accepted (reset by
            // the client) is that client's problem, not the server's.
            continue;
        };
        let files = Arc::clone(&files);
        std::thread::spawn(move || {
            let _ = answer(stream, &files);
        });
    }
    Ok(())
}

/// What a request gets: status, content type, body.
#[derive(Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The answer to the request whose head is `head` (request line and
/// headers, without the blank line).
pub fn respond(head: &str, files: &Files) -> Response {
    let text = |status, message: &str| Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: format!("{message}\n").into_bytes(),
    };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return text(400, "bad request");
    };
    if !version.starts_with("HTTP/1.") {
        return text(400, "bad request");
    }
    if method != "GET" {
        return text(405, "only GET is served");
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let Some(name) = path.strip_prefix('/') else {
        return text(400, "bad request");
    };
    let name = if name.is_empty() { "index.html" } else { name };
    match files.get(name) {
        Some(body) => Response {
            status: 200,
            content_type: content_type(name),
            body: body.clone(),
        },
        None => text(404, "not found"),
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

fn answer(mut stream: TcpStream, files: &Files) -> io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let response = loop {
        if let Some(end) = find(&head, b"\r\n\r\n") {
            break respond(&String::from_utf8_lossy(&head[..end]), files);
        }
        if head.len() > MAX_HEAD {
            break Response {
                status: 431,
                content_type: "text/plain; charset=utf-8",
                body: b"request head too large\n".to_vec(),
            };
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    if response.status == 405 {
        out.push_str("Allow: GET\r\n");
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        [("index.html".to_string(), b"<html>".to_vec())]
            .into_iter()
            .collect()
    }

    fn status(request_line: &str) -> u16 {
        respond(&format!("{request_line}\r\nHost: x"), &files()).status
    }

    #[test]
    fn the_index_is_served_at_the_root_and_by_name() {
        let r = respond("GET / HTTP/1.1\r\nHost: x", &files());
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "text/html; charset=utf-8");
        assert_eq!(r.body, b"<html>");
        assert_eq!(status("GET /index.html?x=1 HTTP/1.1"), 200);
        assert_eq!(status("GET /#node=a HTTP/1.0"), 200);
    }

    #[test]
    fn no_path_reaches_anything_but_the_files() {
        for path in [
            "/../index.html",
            "/..%2findex.html",
            "/%2e%2e/etc/passwd",
            "//etc/passwd",
            "/index.html/",
            "/./index.html",
            "/Cargo.toml",
        ] {
            assert_eq!(status(&format!("GET {path} HTTP/1.1")), 404, "{path}");
        }
        assert_eq!(status("GET index.html HTTP/1.1"), 400);
        assert_eq!(status("GET http://x/ HTTP/1.1"), 400);
    }

    #[test]
    fn only_get_is_answered() {
        for method in ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"] {
            assert_eq!(status(&format!("{method} / HTTP/1.1")), 405);
        }
        assert_eq!(status("GET /"), 400);
        assert_eq!(status("GET / SPDY/3"), 400);
        assert_eq!(status(""), 400);
    }
}
