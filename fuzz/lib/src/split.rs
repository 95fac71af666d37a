//! How a target cuts one fuzz input into the several arguments its decoder takes. The shapes are
//! plain text where the decoder reads text, so that seeds stay readable and mutations of them
//! stay meaningful.

use std::borrow::Cow;

/// An API request written as `METHOD PATH\nBODY`: the first line holds the method and the path,
/// separated by the first space; everything after the first newline is the body.
#[derive(Debug)]
pub struct HttpInput<'a> {
    /// The method (the first line up to its first space, lossy UTF-8).
    pub method: String,
    /// The path (the rest of the first line).
    pub path: String,
    /// The body, as bytes.
    pub body: &'a [u8],
}

impl<'a> HttpInput<'a> {
    /// Splits `data`; every input splits into something.
    pub fn split(data: &'a [u8]) -> Self {
        let (head, body) = split_once(data, b'\n');
        let head = String::from_utf8_lossy(head);
        let (method, path) = head.split_once(' ').unwrap_or((&head, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            body,
        }
    }

    /// The input that splits into `method`, `path` and `body`.
    pub fn join(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!("{method} {path}\n").into_bytes();
        out.extend_from_slice(body);
        out
    }
}

/// `data` before and after the first `sep` (all of it and nothing when there is none).
pub fn split_once(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => {
            let (head, rest) = data.split_at(i);
            (head, rest.get(1..).unwrap_or_default())
        }
        None => (data, &[]),
    }
}

/// `data` as text, replacing what is not UTF-8.
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The first byte of `data` as a selector, and the rest.
pub fn first_byte(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) => (b, rest),
        None => (0, &[]),
    }
}
