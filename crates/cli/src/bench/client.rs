//! An API client as a trading bot is one: blocking calls on one kept-alive HTTP/1.1 connection,
//! a fresh token for every request (the CLI's own [`build_request`]), and the time from sending
//! the request to the last byte of the answer.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::Value;

use crate::CliError;
use crate::client::http::{
    ApiCall, MAX_RESPONSE_BYTES, REQUEST_TIMEOUT, build_request, cause, now_unix, send_error,
};
use crate::client::{Connection, Target};

/// One answer of the API.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub body: Value,
    /// From sending the request (its token already made) to the last byte of the answer.
    pub latency: Duration,
}

/// A client of the API: who it is, and its connection. Each thread needs its own.
#[derive(Debug)]
pub struct ApiClient {
    target: Target,
    runtime: tokio::runtime::Runtime,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    /// A client for `conn` (the API and the client's key from its flags or its `dev.json`).
    pub(crate) fn new(conn: &Connection) -> Result<ApiClient, CliError> {
        let target = Target::resolve(conn, crate::client::DEFAULT_CLIENT)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1)
            .build(connector);
        Ok(ApiClient {
            target,
            runtime,
            http,
        })
    }

    /// `POST path` with `body` as JSON, signed by this client. Only a transport failure is an
    /// error; any status is an [`Answer`].
    pub fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Answer, CliError> {
        let call = ApiCall::post_json(path, body)?;
        let request = build_request(&self.target, &call, now_unix()?)?.map(Full::new);
        let api = &self.target.api;
        let http = &self.http;
        self.runtime.block_on(async {
            let start = Instant::now();
            let exchange = async {
                let response = http
                    .request(request)
                    .await
                    .map_err(|e| send_error(api, &e))?;
                let status = response.status().as_u16();
                let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                    .collect()
                    .await
                    .map_err(|e| {
                        CliError::new(format!(
                            "reading the response from `{api}` failed: {}",
                            cause(e.as_ref())
                        ))
                    })?
                    .to_bytes();
                Ok::<_, CliError>((status, bytes))
            };
            let (status, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .map_err(|_| {
                    CliError::new(format!(
                        "no response from `{api}` within {} s",
                        REQUEST_TIMEOUT.as_secs()
                    ))
                })??;
            let latency = start.elapsed();
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            Ok(Answer {
                status,
                body,
                latency,
            })
        })
    }
}
