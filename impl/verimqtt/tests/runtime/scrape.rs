//! Scraping `/metrics` as Prometheus does: an HTTP GET over a plain `TcpStream`, the
//! exposition checked line by line against the text format (HELP and TYPE before the
//! samples of each metric, valid names, numbers) and read into samples.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An HTTP response: the status code, the head and the body.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `request` (the whole request, head and all) and reads the response until the
/// server closes the connection.
pub fn request(addr: SocketAddr, request: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {response:?}"));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    Response { status, head: head.to_owned(), body: body.to_owned() }
}

/// `GET path`, as a scraper sends it.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain\r\n\r\n"))
}

/// Scrapes `/metrics` and returns its samples by series (name and labels, as written).
pub fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let response = get(addr, "/metrics");
    assert_eq!(response.status, 200, "{}", response.head);
    assert!(response.head.contains("Content-Type: text/plain; version=0.0.4"), "{}", response.head);
    let length: usize = header(&response.head, "Content-Length").parse().unwrap();
    assert_eq!(length, response.body.len());
    parse(&response.body)
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(": ")).unwrap_or_else(|| panic!("{name}?"))
}

/// The samples of an exposition, after checking its form.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut types: BTreeMap<&str, &str> = BTreeMap::new();
    let mut helped = Vec::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            helped.push(help.split_once(' ').unwrap().0);
        } else if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declaration.split_once(' ').unwrap();
            assert!(helped.last() == Some(&name), "TYPE {name} without its HELP just before");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(types.insert(name, kind).is_none(), "{name} declared twice");
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && name.starts_with("verimqtt_"),
                "{name}"
            );
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).filter(|family| types.get(family) == Some(&"histogram")))
                .unwrap_or(name);
            assert!(types.contains_key(family), "{line}: no TYPE before it");
            if name.ends_with("_total") {
                assert_eq!(types[family], "counter", "{name}");
            }
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}: not a number"));
            assert!(samples.insert(series.to_owned(), value).is_none(), "{series} twice");
        }
    }
    samples
}
