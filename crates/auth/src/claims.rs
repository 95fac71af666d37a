//! The claims of a request token, the body digest they carry, and the request id derived
//! from them.

use std::fmt;
use std::str::FromStr;

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::client::ClientId;
use crate::error::{AuthError, AuthErrorKind};

/// The claims of a request token. Parsing ignores claims not listed here; `iat` and `exp` must
/// be JSON integers. A parsed `Claims` is unchecked: only [`crate::verify`] makes it trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The client id of the signer.
    pub sub: String,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, in seconds since the Unix epoch; at most the policy's lifetime after `iat`.
    pub exp: i64,
    /// A unique token id; the caller refuses a second use of the same `sub` and `jti`.
    pub jti: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// The request path and query, exactly as sent.
    pub path: String,
    /// Lower-case hex SHA-256 of the exact body bytes (of the empty string for no body).
    pub body_sha256: String,
}

impl Claims {
    /// Claims for one request by `sub`, issued at `now` and valid for `ttl_secs`, with a fresh
    /// random `jti` (16 bytes from the OS, in hex) and the method upper-cased.
    pub fn for_request(
        sub: &ClientId,
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
        ttl_secs: i64,
    ) -> Self {
        let mut jti = [0u8; 16];
        OsRng.fill_bytes(&mut jti);
        Self {
            sub: sub.as_str().to_owned(),
            iat: now,
            exp: now.saturating_add(ttl_secs),
            jti: hex::encode(jti),
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            body_sha256: body_sha256(body),
        }
    }
}

/// Lower-case hex SHA-256 of `body`.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Domain separator of [`RequestId::derive`].
const REQUEST_ID_DOMAIN: &[u8] = b"tessera/request/v1\0";

/// Names one authenticated request: the first 16 bytes of
/// `SHA-256("tessera/request/v1\0" || sub || "\0" || jti)`, shown as 32 lower-case hex
/// characters. The same `sub` and `jti` always give the same id, so it is the key a replay
/// store records.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId([u8; 16]);

impl RequestId {
    /// The id of the request `sub` signed with token id `jti`.
    pub fn derive(sub: &ClientId, jti: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(REQUEST_ID_DOMAIN)
            .chain_update(sub.as_str())
            .chain_update([0u8])
            .chain_update(jti)
            .finalize();
        let mut id = [0u8; 16];
        for (out, byte) in id.iter_mut().zip(digest) {
            *out = byte;
        }
        Self(id)
    }

    /// The id's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl FromStr for RequestId {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        let mut id = [0u8; 16];
        let lower = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !lower || hex::decode_to_slice(s, &mut id).is_err() {
            return Err(AuthError::new(
                AuthErrorKind::InvalidRequestId,
                format!(
                    "request id `{}` must be 32 lower-case hex characters",
                    s.escape_debug()
                ),
            ));
        }
        Ok(Self(id))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> ClientId {
        "alice".parse().unwrap()
    }

    #[test]
    fn body_digest_is_lower_case_hex_sha256() {
        assert_eq!(
            body_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            body_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn for_request_fills_every_claim() {
        let claims = Claims::for_request(&alice(), "post", "/v1/x?y=1", b"{}", 1_000, 30);
        assert_eq!(claims.sub, "alice");
        assert_eq!((claims.iat, claims.exp), (1_000, 1_030));
        assert_eq!(claims.method, "POST");
        assert_eq!(claims.path, "/v1/x?y=1");
        assert_eq!(claims.body_sha256, body_sha256(b"{}"));
        assert_eq!(claims.jti.len(), 32);
        assert!(claims.jti.bytes().all(|b| b.is_ascii_hexdigit()));
        let other = Claims::for_request(&alice(), "POST", "/v1/x?y=1", b"{}", 1_000, 30);
        assert_ne!(claims.jti, other.jti);
    }

    #[test]
    fn claims_parse_ignores_extra_claims_and_requires_integer_times() {
        let json = r#"{"sub":"alice","iat":1,"exp":2,"jti":"j","method":"GET","path":"/",
            "body_sha256":"00","aud":"x","nbf":0}"#;
        let claims: Claims = serde_json::from_str(json).unwrap();
        assert_eq!(claims.exp, 2);
        assert!(serde_json::from_str::<Claims>(&json.replace("\"exp\":2", "\"exp\":2.5")).is_err());
        assert!(
            serde_json::from_str::<Claims>(&json.replace("\"exp\":2", "\"exp\":\"2\"")).is_err()
        );
        assert!(serde_json::from_str::<Claims>(&json.replace("\"jti\":\"j\",", "")).is_err());
    }

    #[test]
    fn request_id_is_a_stable_function_of_sub_and_jti() {
        let id = RequestId::derive(&alice(), "j1");
        assert_eq!(id, RequestId::derive(&alice(), "j1"));
        assert_ne!(id, RequestId::derive(&alice(), "j2"));
        assert_ne!(id, RequestId::derive(&"bob".parse().unwrap(), "j1"));
        // Known answer: the first 16 bytes of SHA-256 over the documented input.
        let digest = Sha256::digest(b"tessera/request/v1\0alice\0j1");
        assert_eq!(id.to_string(), hex::encode(&digest[..16]));
    }

    #[test]
    fn request_id_text_form_is_strict() {
        let id = RequestId::derive(&alice(), "j1");
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<RequestId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<RequestId>(&json).unwrap(), id);
        for bad in [
            text.to_uppercase(),
            text[..30].to_owned(),
            format!("{text}00"),
            String::new(),
        ] {
            assert_eq!(
                bad.parse::<RequestId>().unwrap_err().code(),
                "invalid_request_id"
            );
        }
    }
}
