//! Signing and verifying request tokens: compact JWS with `EdDSA` (Ed25519), bound to one
//! request's method, path and body.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SIGNATURE_LENGTH, Signature};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::claims::{Claims, RequestId, body_sha256};
use crate::client::{Client, ClientId, ClientRegistry};
use crate::error::{AuthError, AuthErrorKind};
use crate::key::ClientKey;

/// Longest token accepted, in bytes; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Longest `jti` accepted, in bytes.
pub const MAX_JTI_LEN: usize = 128;

/// The exact header bytes of every token this crate signs.
pub const TOKEN_HEADER: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

/// Lifetime and clock rules for [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Longest allowed `exp - iat`, in seconds. The contract with clients caps it at 60.
    pub max_lifetime_secs: i64,
    /// How far `iat` may be ahead of the server's clock, in seconds. It does not extend `exp`.
    pub clock_skew_secs: i64,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            max_lifetime_secs: 60,
            clock_skew_secs: 5,
        }
    }
}

/// A token that passed every check of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The registered client that signed it.
    pub client: Client,
    /// Its claims.
    pub claims: Claims,
    /// [`RequestId::derive`] of its `sub` and `jti`: the key for the caller's replay store.
    pub request_id: RequestId,
}

/// Signs `claims` with `key` as a compact JWS whose header is exactly [`TOKEN_HEADER`].
pub fn sign_token(key: &ClientKey, claims: &Claims) -> String {
    // Serializing strings and integers into memory cannot fail; were it ever to, the empty
    // payload would make a token that no verifier accepts.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(TOKEN_HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// The token of an `Authorization: Bearer <token>` header value (the scheme name is
/// case-insensitive, as HTTP requires).
pub fn bearer_token(authorization: &str) -> Result<&str, AuthError> {
    match authorization.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer")
                && !token.is_empty()
                && !token.contains(' ') =>
        {
            Ok(token)
        }
        _ => Err(malformed("authorization header must be `Bearer <token>`")),
    }
}

/// Checks a request token against the registry and the request it came with.
///
/// In order, each with its own error kind: the token's shape (`malformed_token`), its
/// algorithm (`unsupported_algorithm`), its claims and subject (`malformed_token`,
/// `unknown_client`), the signature (`bad_signature`), its lifetime
/// (`token_lifetime_too_long`), the time (`token_not_yet_valid`, `token_expired`), the binding to
/// `method`, `path` and `body` (`request_mismatch`), and the `jti` (`malformed_token`).
/// Replays are not detected here: the caller records [`Verified::request_id`] in its store.
pub fn verify(
    token: &str,
    registry: &ClientRegistry,
    method: &str,
    path: &str,
    body: &[u8],
    now: i64,
    policy: &TokenPolicy,
) -> Result<Verified, AuthError> {
    let (client, claims) = authenticate(token, registry)?;
    check_lifetime(&claims, policy)?;
    check_time(&claims, now, policy)?;
    check_binding(&claims, method, path, body)?;
    check_jti(&claims.jti)?;
    let request_id = RequestId::derive(&client.id, &claims.jti);
    Ok(Verified {
        client,
        claims,
        request_id,
    })
}

/// Checks only who signed a token: its shape, algorithm, subject, signature and `jti`, but not
/// its lifetime, the time or the request it is bound to. For re-checking a stored token.
pub fn verify_signature_only(
    token: &str,
    registry: &ClientRegistry,
) -> Result<(Client, Claims), AuthError> {
    let (client, claims) = authenticate(token, registry)?;
    check_jti(&claims.jti)?;
    Ok((client, claims))
}

/// Checks a stored token again: who signed it and the request it is bound to (`method`,
/// `path`, `body`), but not its lifetime or the time, which passed long ago. For approvals kept
/// as evidence and verified again when they are used.
pub fn verify_stored(
    token: &str,
    registry: &ClientRegistry,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(Client, Claims), AuthError> {
    let (client, claims) = authenticate(token, registry)?;
    check_binding(&claims, method, path, body)?;
    check_jti(&claims.jti)?;
    Ok((client, claims))
}

fn malformed(message: impl Into<String>) -> AuthError {
    AuthError::new(AuthErrorKind::MalformedToken, message)
}

/// The header fields we look at; others are ignored, repeated fields are refused by serde.
#[derive(Deserialize)]
struct Header {
    #[serde(default, deserialize_with = "some")]
    alg: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    typ: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `Some` whenever the field is there, even as `null` (plain `Option` would read that as absent).
fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// True whenever the field is there, whatever its value (even `null`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d)?;
    Ok(true)
}

/// Parses JSON that must be an object (serde would also take an array for a struct).
fn parse_object<'a, T: Deserialize<'a>>(json: &'a [u8], what: &str) -> Result<T, AuthError> {
    let not_object = || malformed(format!("token {what} is not a valid JSON object"));
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err(not_object());
    }
    serde_json::from_slice(json).map_err(|_| not_object())
}

/// Steps 1 to 4 of [`verify`]: shape, header, claims and subject, signature.
fn authenticate(token: &str, registry: &ClientRegistry) -> Result<(Client, Claims), AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(format!(
            "token is longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("token must have three parts separated by `.`"));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| malformed(format!("token {what} is not unpadded base64url")))
    };
    let header_json = decode(header_b64, "header")?;
    let payload_json = decode(payload_b64, "payload")?;
    let signature = decode(signature_b64, "signature")?;

    let header: Header = parse_object(&header_json, "header")?;
    if header.alg != Some(Value::from("EdDSA")) {
        return Err(AuthError::new(
            AuthErrorKind::UnsupportedAlgorithm,
            "token algorithm must be `EdDSA`",
        ));
    }
    if header.typ.is_some_and(|typ| typ != "JWT") {
        return Err(malformed("token `typ` must be `JWT` when present"));
    }
    if header.crit {
        return Err(malformed("token header `crit` is not supported"));
    }

    let claims: Claims = parse_object(&payload_json, "claims")?;
    let unknown = |message: String| AuthError::new(AuthErrorKind::UnknownClient, message);
    let sub = ClientId::new(&claims.sub)
        .map_err(|_| unknown("token subject is not a valid client id".to_owned()))?;
    let client = registry
        .get(&sub)
        .ok_or_else(|| unknown(format!("client `{sub}` is not registered")))?;

    let bad_signature = || {
        AuthError::new(
            AuthErrorKind::BadSignature,
            format!("token signature does not verify under the key of client `{sub}`"),
        )
    };
    let signature: [u8; SIGNATURE_LENGTH] = signature
        .as_slice()
        .try_into()
        .map_err(|_| bad_signature())?;
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or_else(bad_signature)?;
    client
        .key
        .verifying_key()
        .verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| bad_signature())?;
    Ok((client.clone(), claims))
}

fn check_lifetime(claims: &Claims, policy: &TokenPolicy) -> Result<(), AuthError> {
    if claims.exp <= claims.iat {
        return Err(malformed("token `exp` must be after its `iat`"));
    }
    let max = policy.max_lifetime_secs;
    match claims.exp.checked_sub(claims.iat) {
        Some(lifetime) if lifetime <= max => Ok(()),
        lifetime => Err(AuthError::new(
            AuthErrorKind::TokenLifetimeTooLong,
            match lifetime {
                Some(secs) => {
                    format!("token lifetime of {secs} s is longer than the {max} s allowed")
                }
                None => format!("token lifetime is longer than the {max} s allowed"),
            },
        )),
    }
}

fn check_time(claims: &Claims, now: i64, policy: &TokenPolicy) -> Result<(), AuthError> {
    if claims.iat > now.saturating_add(policy.clock_skew_secs) {
        return Err(AuthError::new(
            AuthErrorKind::TokenNotYetValid,
            format!(
                "token was issued more than {} s in the future",
                policy.clock_skew_secs
            ),
        ));
    }
    if now >= claims.exp {
        return Err(AuthError::new(
            AuthErrorKind::TokenExpired,
            "token has expired",
        ));
    }
    Ok(())
}

fn check_binding(claims: &Claims, method: &str, path: &str, body: &[u8]) -> Result<(), AuthError> {
    let differs = if claims.method != method {
        "method"
    } else if claims.path != path {
        "path"
    } else if claims.body_sha256 != body_sha256(body) {
        "body"
    } else {
        return Ok(());
    };
    Err(AuthError::new(
        AuthErrorKind::RequestMismatch,
        format!("token was signed for a different request {differs}"),
    ))
}

fn check_jti(jti: &str) -> Result<(), AuthError> {
    if jti.is_empty() || jti.len() > MAX_JTI_LEN || !jti.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(malformed(format!(
            "token `jti` must be 1 to {MAX_JTI_LEN} printable ascii characters without spaces"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
