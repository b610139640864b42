//! The HTTP listener of `/metrics`: just enough HTTP/1.1 for a Prometheus scraper (one GET
//! per connection, answered and closed; other methods get 405, other paths 404). The request head is parsed by `httparse`; the
//! exposition is asked of the driver, which owns the broker, for each scrape, so the values
//! are read in one go between two inputs.
//!
//! The listener is for operators, not for the clients of the broker, yet it is bounded as
//! if hostile: a few scrapes at once, a request head of at most 8 KiB read within 10 s.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::metrics::CONTENT_TYPE;

/// A scrape waiting for the exposition text.
pub(crate) type Scrape = oneshot::Sender<String>;

/// Scrapes served at once; more connections are closed at once.
pub(crate) const MAX_SCRAPES: usize = 16;
/// The largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts scrapers until the task is aborted; `scrapes` goes to the driver.
pub(crate) async fn serve(listener: TcpListener, scrapes: mpsc::UnboundedSender<Scrape>) {
    let permits = Arc::new(Semaphore::new(MAX_SCRAPES));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!(%peer, "metrics listener: too many scrapes at once, connection closed");
            continue;
        };
        let scrapes = scrapes.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(error) = answer(stream, &scrapes).await {
                tracing::debug!(%peer, %error, "metrics listener: scrape failed");
            }
        });
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: TcpStream, scrapes: &mpsc::UnboundedSender<Scrape>) -> std::io::Result<()> {
    let response = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => return Ok(()),
        Ok(head) => match route(&head?) {
            Route::Metrics => match scrape(scrapes).await {
                Some(text) => response("200 OK", CONTENT_TYPE, &text),
                None => response("503 Service Unavailable", "text/plain", "the broker is stopping\n"),
            },
            Route::Error { status, why } => response(status, "text/plain", why),
        },
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Asks the driver for the exposition; `None` once it is gone.
async fn scrape(scrapes: &mpsc::UnboundedSender<Scrape>) -> Option<String> {
    let (reply, text) = oneshot::channel();
    scrapes.send(reply).ok()?;
    text.await.ok()
}

/// The bytes of the request up to the end of its head (or all there is, if shorter).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(head)
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// The exposition.
    Metrics,
    /// An error status and why, in words.
    Error { status: &'static str, why: &'static str },
}

fn route(head: &[u8]) -> Route {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let (method, path) = match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => (request.method.unwrap_or_default(), request.path.unwrap_or_default()),
        Ok(httparse::Status::Partial) => {
            return Route::Error { status: "400 Bad Request", why: "incomplete or too long request head\n" };
        }
        Err(_) => return Route::Error { status: "400 Bad Request", why: "not an HTTP/1.x request\n" },
    };
    let path = path.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return Route::Error { status: "404 Not Found", why: "the metrics are at /metrics\n" };
    }
    match method {
        "GET" => Route::Metrics,
        _ => Route::Error { status: "405 Method Not Allowed", why: "only GET\n" },
    }
}

fn response(status: &str, content_type: &str, body: &str) -> String {
    let allow = if status.starts_with("405") { "Allow: GET\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed_by_method_and_path() {
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Route::Metrics);
        assert_eq!(route(b"GET /metrics?name[]=x HTTP/1.0\r\n\r\n"), Route::Metrics);
        let status = |head: &[u8]| match route(head) {
            Route::Error { status, .. } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(status(b"POST /metrics HTTP/1.1\r\n\r\n"), "405 Method Not Allowed");
        assert_eq!(status(b"HEAD /metrics HTTP/1.1\r\n\r\n"), "405 Method Not Allowed");
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\n"), "400 Bad Request");
        assert_eq!(status(b"\x16\x03\x01\x02\x00"), "400 Bad Request");
        assert_eq!(status(b""), "400 Bad Request");
    }

    #[test]
    fn a_response_announces_its_length_and_closes() {
        let answer = response("200 OK", CONTENT_TYPE, "abc");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\nabc"), "{answer}");
        assert!(response("405 Method Not Allowed", "text/plain", "").contains("\r\nAllow: GET\r\n"));
    }
}
