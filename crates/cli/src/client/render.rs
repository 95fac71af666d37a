//! What a command prints: the API's JSON body unchanged (`--json`), or short `key: value` lines
//! for people; and API errors as one sentence.

use std::io::{self, Write};

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::http::Reply;
use crate::CliError;

/// The API's error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// Prints `reply` and turns an error status into an error. With `json`, a JSON body is printed
/// unchanged on one line, an error body too (so that scripts can read its code) before the
/// error is returned; otherwise `human` prints the parsed body of a success.
pub(super) fn finish(
    reply: &Reply,
    json: bool,
    out: &mut dyn Write,
    human: impl FnOnce(&Value, &mut dyn Write) -> io::Result<()>,
) -> Result<(), CliError> {
    let parsed = serde_json::from_slice::<Value>(&reply.body);
    if !reply.status.is_success() {
        if json && parsed.is_ok() {
            write_json_line(out, &reply.body)?;
        }
        return Err(api_error(reply.status, &reply.body));
    }
    let Ok(value) = parsed else {
        return Err(CliError::new(format!(
            "the api answered {} with a body that is not json",
            reply.status.as_u16()
        )));
    };
    if json {
        write_json_line(out, &reply.body)?;
    } else {
        human(&value, out)?;
    }
    Ok(())
}

/// `api error 409 idempotency_conflict: <message>`, from an error status and its body.
pub(super) fn api_error(status: StatusCode, body: &[u8]) -> CliError {
    let status = status.as_u16();
    if let Ok(b) = serde_json::from_slice::<ErrorBody>(body) {
        return CliError::new(format!(
            "api error {status} {}: {}",
            clean(&b.error.code),
            clean(&b.error.message)
        ));
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(200).collect();
    if text.is_empty() {
        CliError::new(format!("api error {status} without an error body"))
    } else {
        CliError::new(format!("api error {status}: {}", clean(&text)))
    }
}

/// Writes a JSON body and a newline. The body is written byte for byte unless it spans lines,
/// in which case the whitespace between tokens is dropped.
fn write_json_line(out: &mut dyn Write, body: &[u8]) -> io::Result<()> {
    let body = body.trim_ascii();
    if body.contains(&b'\n') || body.contains(&b'\r') {
        out.write_all(&minify(body))?;
    } else {
        out.write_all(body)?;
    }
    out.write_all(b"\n")
}

/// `json` without whitespace outside strings (valid JSON has no raw newline inside one).
fn minify(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

/// Text from the server, with control characters escaped so it cannot move the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A field as text: strings without quotes, `-` when absent or null, other values as JSON.
fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => clean(s),
        None | Some(Value::Null) => "-".to_owned(),
        Some(other) => clean(&other.to_string()),
    }
}

pub(super) fn line(out: &mut dyn Write, key: &str, v: &Value) -> io::Result<()> {
    writeln!(out, "{key}: {}", text(v, key))
}

/// `line`, only when the field is present and not null.
pub(super) fn optional_line(out: &mut dyn Write, key: &str, v: &Value) -> io::Result<()> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(_) => line(out, key, v),
    }
}

/// One wallet: id, name, scheme, public key, and `threshold: t of n`. `signers` may be a count
/// or a list of signer ids, which is then printed too.
pub(super) fn wallet(v: &Value, out: &mut dyn Write) -> io::Result<()> {
    for key in ["id", "name", "scheme", "public_key"] {
        line(out, key, v)?;
    }
    optional_line(out, "chain", v)?;
    optional_line(out, "address", v)?;
    let threshold = text(v, "threshold");
    match v.get("signers") {
        Some(Value::Array(ids)) => {
            writeln!(out, "threshold: {threshold} of {}", ids.len())?;
            let ids: Vec<String> = ids
                .iter()
                .map(|id| match id {
                    Value::String(s) => clean(s),
                    other => clean(&other.to_string()),
                })
                .collect();
            writeln!(out, "signers: {}", ids.join(", "))
        }
        Some(Value::Number(n)) => writeln!(out, "threshold: {threshold} of {n}"),
        _ => writeln!(out, "threshold: {threshold}"),
    }
}

/// The wallet list: each wallet as [`wallet`] prints it, separated by empty lines.
pub(super) fn wallet_list(v: &Value, out: &mut dyn Write) -> io::Result<()> {
    let wallets = v
        .get("wallets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if wallets.is_empty() {
        return writeln!(out, "no wallets");
    }
    for (i, w) in wallets.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        wallet(w, out)?;
    }
    Ok(())
}

/// A signing result, and the idempotency key it was asked with (to retry it).
pub(super) fn signature(v: &Value, idempotency_key: &str, out: &mut dyn Write) -> io::Result<()> {
    for key in ["request_id", "status", "signature_hex"] {
        line(out, key, v)?;
    }
    writeln!(out, "idempotency_key: {}", clean(idempotency_key))
}

/// A request's record; `error` prints as `error: code: message`.
pub(super) fn request(v: &Value, out: &mut dyn Write) -> io::Result<()> {
    for key in ["request_id", "kind", "status", "wallet_id", "client"] {
        line(out, key, v)?;
    }
    optional_line(out, "idempotency_key", v)?;
    optional_line(out, "signature_hex", v)?;
    match v.get("error") {
        None | Some(Value::Null) => {}
        Some(e) => writeln!(out, "error: {}: {}", text(e, "code"), text(e, "message"))?,
    }
    line(out, "created_at", v)?;
    line(out, "updated_at", v)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn render(
        r: &Reply,
        json: bool,
        human: fn(&Value, &mut dyn Write) -> io::Result<()>,
    ) -> (String, Result<(), CliError>) {
        let mut out = Vec::new();
        let result = finish(r, json, &mut out, human);
        (String::from_utf8(out).unwrap(), result)
    }

    const WALLET: &str = r#"{"id":"w-1f","name":"hot-1","scheme":"frost-ed25519","public_key":"ab12","threshold":2,"signers":3}"#;

    #[test]
    fn json_prints_the_body_unchanged() {
        let (out, r) = render(&reply(201, WALLET), true, wallet);
        r.unwrap();
        assert_eq!(out, format!("{WALLET}\n"));
    }

    #[test]
    fn json_spanning_lines_is_put_on_one_line() {
        let body = "{\n  \"name\": \"a b\\\" \\\\\",\n  \"n\": [1, 2]\n}\n";
        let (out, r) = render(&reply(200, body), true, wallet);
        r.unwrap();
        assert_eq!(out, "{\"name\":\"a b\\\" \\\\\",\"n\":[1,2]}\n");
    }

    #[test]
    fn wallet_prints_key_value_lines() {
        let (out, r) = render(&reply(201, WALLET), false, wallet);
        r.unwrap();
        assert_eq!(
            out,
            "id: w-1f\nname: hot-1\nscheme: frost-ed25519\npublic_key: ab12\nthreshold: 2 of 3\n"
        );
        let listed = r#"{"id":"w-2","name":"n","scheme":"s","public_key":"k","threshold":2,"signers":["s-1","s-2","s-3"]}"#;
        let (out, _) = render(&reply(200, listed), false, wallet);
        assert!(
            out.ends_with("threshold: 2 of 3\nsigners: s-1, s-2, s-3\n"),
            "{out}"
        );
    }

    #[test]
    fn wallet_list_separates_wallets() {
        let body = format!(r#"{{"wallets":[{WALLET},{WALLET}]}}"#);
        let (out, r) = render(&reply(200, &body), false, wallet_list);
        r.unwrap();
        assert_eq!(out.matches("id: w-1f\n").count(), 2);
        assert!(out.contains("2 of 3\n\nid: w-1f"), "{out}");
        let (out, _) = render(&reply(200, r#"{"wallets":[]}"#), false, wallet_list);
        assert_eq!(out, "no wallets\n");
    }

    #[test]
    fn request_prints_optional_fields_only_when_present() {
        let body = r#"{"request_id":"r1","kind":"sign","status":"failed","wallet_id":"w-1","client":"trader","error":{"code":"policy_denied","message":"over limit"},"created_at":"2025-01-01T00:00:00Z","updated_at":1}"#;
        let (out, r) = render(&reply(200, body), false, request);
        r.unwrap();
        assert_eq!(
            out,
            "request_id: r1\nkind: sign\nstatus: failed\nwallet_id: w-1\nclient: trader\nerror: policy_denied: over limit\ncreated_at: 2025-01-01T00:00:00Z\nupdated_at: 1\n"
        );
    }

    #[test]
    fn signature_shows_the_idempotency_key() {
        let body = r#"{"request_id":"r1","status":"signed","signature_hex":"aa"}"#;
        let mut out = Vec::new();
        finish(&reply(200, body), false, &mut out, |v, o| {
            signature(v, "k-7", o)
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "request_id: r1\nstatus: signed\nsignature_hex: aa\nidempotency_key: k-7\n"
        );
    }

    #[test]
    fn api_errors_are_one_sentence() {
        let body = r#"{"error":{"code":"idempotency_conflict","message":"key `k` was used\nfor another body"}}"#;
        let (out, r) = render(&reply(409, body), false, wallet);
        assert_eq!(out, "");
        assert_eq!(
            r.unwrap_err().message(),
            "api error 409 idempotency_conflict: key `k` was used\\nfor another body"
        );
        // With --json the error body is printed too, for scripts.
        let (out, r) = render(&reply(409, body), true, wallet);
        assert_eq!(out, format!("{body}\n"));
        assert!(r.is_err());
        let (out, r) = render(&reply(502, "bad gateway"), true, wallet);
        assert_eq!(out, "");
        assert_eq!(r.unwrap_err().message(), "api error 502: bad gateway");
        let (_, r) = render(&reply(500, ""), false, wallet);
        assert_eq!(
            r.unwrap_err().message(),
            "api error 500 without an error body"
        );
    }

    #[test]
    fn a_success_that_is_not_json_is_an_error() {
        let (out, r) = render(&reply(200, "ok"), true, wallet);
        assert_eq!(out, "");
        assert_eq!(
            r.unwrap_err().message(),
            "the api answered 200 with a body that is not json"
        );
    }
}
