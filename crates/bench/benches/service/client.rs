//! An API client as a trading bot would be: one kept-alive HTTP connection, and a fresh token
//! for every request, signed with the client's key over the method, path and body.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tessera_auth::{Claims, ClientId, ClientKey, sign_token};

/// Lifetime of each token, in seconds (the API accepts at most 60).
const TOKEN_TTL_SECS: i64 = 30;

pub struct Client {
    api: String,
    id: ClientId,
    key: ClientKey,
    agent: ureq::Agent,
}

/// One answer and how long it took.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// From sending the request to the last byte of the answer.
    pub latency: Duration,
}

impl Client {
    /// Client `id` of the API at `api`, with its PKCS#8 key file.
    pub fn new(api: &str, id: &str, key_file: &Path) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Client {
            api: api.to_owned(),
            id: ClientId::new(id).expect("client id"),
            key: ClientKey::read_pem_file(key_file).expect("client key"),
            agent,
        }
    }

    /// `POST path` with a JSON body. The token is made before the clock starts.
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        let body = serde_json::to_vec(body).expect("JSON body");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let claims = Claims::for_request(
            &self.id,
            "POST",
            path,
            &body,
            i64::try_from(now).expect("clock in range"),
            TOKEN_TTL_SECS,
        );
        let authorization = format!("Bearer {}", sign_token(&self.key, &claims));
        let url = format!("{}{path}", self.api);
        let start = Instant::now();
        let mut response = self
            .agent
            .post(&url)
            .header("Authorization", &authorization)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let bytes = response
            .body_mut()
            .read_to_vec()
            .unwrap_or_else(|e| panic!("POST {path}: reading the answer: {e}"));
        let latency = start.elapsed();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status: response.status().as_u16(),
            body,
            latency,
        }
    }
}
