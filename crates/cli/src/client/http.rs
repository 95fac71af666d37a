//! One authenticated HTTP/1.1 exchange with the API: the request and its token, the response
//! read in full, and transport failures turned into sentences.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tessera_auth::{Claims, sign_token};

use super::target::{ApiUrl, Target};
use crate::CliError;

/// Lifetime of each request token, in seconds (the servers accept at most 60).
const TOKEN_TTL_SECS: i64 = 30;

/// How long one exchange may take from connecting to the last body byte. Creating a wallet runs
/// a distributed key generation across the signers, hence the generous bound.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest response body read, in bytes.
pub(crate) const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// One API call: method, path and query, and the exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiCall {
    /// `GET` or `POST`.
    pub(super) method: Method,
    /// The path and query, starting with `/`, exactly as sent and signed.
    pub(super) path: String,
    /// The body, exactly as sent and hashed; empty for `GET`.
    pub(super) body: Bytes,
}

impl ApiCall {
    /// A `GET` of `path`.
    pub(super) fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            body: Bytes::new(),
        }
    }

    /// A `POST` of `body`, as JSON, to `path`.
    pub(crate) fn post_json<T: Serialize>(
        path: impl Into<String>,
        body: &T,
    ) -> Result<Self, CliError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| CliError::new(format!("cannot encode the request body: {e}")))?;
        Ok(Self {
            method: Method::POST,
            path: path.into(),
            body: Bytes::from(body),
        })
    }
}

/// A response: its status and its whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reply {
    /// The HTTP status.
    pub(super) status: StatusCode,
    /// The body bytes, unchanged.
    pub(super) body: Bytes,
}

/// Builds the HTTP request for `call`, with a fresh token over exactly the method, path and body
/// that the request carries, issued at `now` (seconds since the Unix epoch).
pub(crate) fn build_request(
    target: &Target,
    call: &ApiCall,
    now: i64,
) -> Result<Request<Bytes>, CliError> {
    let claims = Claims::for_request(
        &target.client,
        call.method.as_str(),
        &call.path,
        &call.body,
        now,
        TOKEN_TTL_SECS,
    );
    let token = sign_token(&target.key, &claims);
    let mut builder = Request::builder()
        .method(call.method.clone())
        .uri(target.api.join(&call.path))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(ACCEPT, "application/json")
        .header(
            USER_AGENT,
            concat!("tessera-cli/", env!("CARGO_PKG_VERSION")),
        );
    if call.method == Method::POST {
        builder = builder.header(CONTENT_TYPE, "application/json");
    }
    builder.body(call.body.clone()).map_err(|e| {
        CliError::new(format!(
            "cannot build a request for `{}`: {e}",
            call.path.escape_debug()
        ))
    })
}

/// Sends `call` once, on a current-thread runtime of its own, and reads the whole response.
/// Any status comes back as a [`Reply`]; only transport failures are errors.
pub(super) fn exchange(target: &Target, call: &ApiCall) -> Result<Reply, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(send(target, call))
}

async fn send(target: &Target, call: &ApiCall) -> Result<Reply, CliError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = build_request(target, call, now_unix()?)?.map(Full::new);
    let api = &target.api;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| send_error(api, &e))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                CliError::new(format!(
                    "reading the response from `{api}` failed: {}",
                    cause(e.as_ref())
                ))
            })?
            .to_bytes();
        Ok(Reply { status, body })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            CliError::new(format!(
                "no response from `{api}` within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))
        })?
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> Result<i64, CliError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CliError::new("the system clock is set before 1970"))?
        .as_secs();
    i64::try_from(secs).map_err(|_| CliError::new("the system clock is out of range"))
}

pub(crate) fn send_error(api: &ApiUrl, e: &hyper_util::client::legacy::Error) -> CliError {
    if e.is_connect() {
        CliError::new(format!(
            "cannot reach the api at `{api}`: {}; is a dev cluster running? start one with `tessera dev`",
            cause(e)
        ))
    } else {
        CliError::new(format!("request to `{api}` failed: {}", cause(e)))
    }
}

/// The most telling part of an error chain: the kind of the first I/O error in it (`connection
/// refused`), or else the innermost error's message.
pub(crate) fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    loop {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io.kind().to_string();
        }
        match current.source() {
            Some(next) => current = next,
            None => return current.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tessera_auth::{Client as Registered, ClientId, ClientKey, ClientRegistry, Role};
    use tessera_auth::{TokenPolicy, bearer_token, verify};

    use super::*;

    fn target(api: &str) -> Target {
        Target {
            api: api.parse().unwrap(),
            client: ClientId::new("trader").unwrap(),
            key: ClientKey::generate(),
        }
    }

    fn registry(t: &Target) -> ClientRegistry {
        ClientRegistry::new(vec![Registered {
            id: t.client.clone(),
            role: Role::Trader,
            key: t.key.public_key(),
        }])
        .unwrap()
    }

    fn token(req: &Request<Bytes>) -> &str {
        let header = req.headers().get(AUTHORIZATION).unwrap().to_str().unwrap();
        bearer_token(header).unwrap()
    }

    #[test]
    fn token_binds_the_exact_path_and_body_sent() {
        let t = target("http://127.0.0.1:8700");
        let call = ApiCall::post_json(
            "/v1/wallets/w-1/sign?x=1",
            &tessera_wire::SignRequest {
                payload_hex: Some("00ff".into()),
                typed_data: None,
                message_hex: None,
                idempotency_key: "k-1".into(),
            },
        )
        .unwrap();
        let req = build_request(&t, &call, 1_700_000_000).unwrap();
        assert_eq!(
            req.uri().to_string(),
            "http://127.0.0.1:8700/v1/wallets/w-1/sign?x=1"
        );
        let sent_path = req.uri().path_and_query().unwrap().as_str();
        let v = verify(
            token(&req),
            &registry(&t),
            req.method().as_str(),
            sent_path,
            req.body(),
            1_700_000_001,
            &TokenPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.claims.path, "/v1/wallets/w-1/sign?x=1");
        assert_eq!(v.claims.exp - v.claims.iat, TOKEN_TTL_SECS);
        assert_eq!(
            req.body().as_ref(),
            br#"{"payload_hex":"00ff","idempotency_key":"k-1"}"#
        );
        assert_eq!(req.headers().get(CONTENT_TYPE).unwrap(), "application/json");
        // Any other body or path is refused.
        let other = verify(
            token(&req),
            &registry(&t),
            "POST",
            sent_path,
            b"{}",
            1_700_000_001,
            &TokenPolicy::default(),
        );
        assert_eq!(other.unwrap_err().code(), "request_mismatch");
    }

    #[test]
    fn every_request_gets_a_fresh_token() {
        let t = target("http://127.0.0.1:8700");
        let call = ApiCall::get("/v1/wallets");
        let a = build_request(&t, &call, 1_700_000_000).unwrap();
        let b = build_request(&t, &call, 1_700_000_000).unwrap();
        assert_ne!(token(&a), token(&b));
        assert!(a.headers().get(CONTENT_TYPE).is_none());
        assert!(a.body().is_empty());
        let v = verify(
            token(&a),
            &registry(&t),
            "GET",
            "/v1/wallets",
            b"",
            1_700_000_000,
            &TokenPolicy::default(),
        );
        assert!(v.is_ok(), "{v:?}");
    }

    #[test]
    fn unreachable_api_names_the_url_and_suggests_tessera_dev() {
        // A port that was just free: nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let err = exchange(&target(&url), &ApiCall::get("/v1/wallets")).unwrap_err();
        assert_eq!(
            err.message(),
            format!(
                "cannot reach the api at `{url}`: connection refused; is a dev cluster running? start one with `tessera dev`"
            )
        );
    }
}
