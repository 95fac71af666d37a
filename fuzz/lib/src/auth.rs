//! Request tokens: [`tessera_auth::verify`] (and its two variants for stored tokens) against a
//! fixed registry of two clients.
//!
//! A fuzzer cannot forge Ed25519 signatures, so random tokens stop at the signature check. The
//! first byte of the input therefore picks what the rest is:
//! - `0 (mod 3)`: a whole token, as text;
//! - `1 (mod 3)`: the claims JSON of a token that the target signs with the registered client's
//!   key under the standard header, so that every check after the signature runs;
//! - `2 (mod 3)`: `HEADER\nCLAIMS`, both JSON, signed the same way.
//!
//! Round trip: claims that verify, signed again by `sign_token`, verify to the same claims.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::Value;
use tessera_auth::{
    Client, ClientId, ClientKey, ClientPublicKey, ClientRegistry, RequestId, Role, TOKEN_HEADER,
    TokenPolicy, Verified, bearer_token, sign_token, verify, verify_signature_only, verify_stored,
};

use crate::split::{first_byte, split_once, text};

/// The registered client whose key signs the targets' tokens.
pub const CLIENT: &str = "fuzz-client";
/// The server's clock in every check: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;
/// The request a raw token is checked against.
pub const METHOD: &str = "POST";
/// See [`METHOD`].
pub const PATH: &str = "/v1/wallets/w-1/sign";

/// The secret of RFC 8410's example Ed25519 key (section 10.3), the client's key.
const SECRET: [u8; 32] = [
    0xd4, 0xee, 0x72, 0xdb, 0xf9, 0x13, 0x58, 0x4a, 0xd5, 0xb6, 0xd8, 0xf1, 0xf7, 0x69, 0xf8, 0xad,
    0x3a, 0xfe, 0x7c, 0x28, 0xcb, 0xf1, 0xd4, 0xfb, 0xe0, 0x97, 0xa8, 0x8f, 0x44, 0x75, 0x58, 0x42,
];
/// The same key as PKCS#8, the form `tessera_auth` reads.
const SECRET_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
    -----END PRIVATE KEY-----\n";

/// The client's key, for signing.
pub fn client_key() -> ClientKey {
    ClientKey::from_pkcs8_pem(SECRET_PEM).expect("RFC 8410 key")
}

/// The registry: the fuzzing client (a trader) and an approver with another key.
pub fn registry() -> ClientRegistry {
    let signing = SigningKey::from_bytes(&SECRET);
    let key = ClientPublicKey::from_bytes(&signing.verifying_key().to_bytes()).expect("key");
    assert_eq!(key, client_key().public_key());
    let other = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
    ClientRegistry::new(vec![
        Client {
            id: ClientId::new(CLIENT).expect("id"),
            role: Role::Trader,
            key,
        },
        Client {
            id: ClientId::new("fuzz-approver").expect("id"),
            role: Role::Approver,
            key: ClientPublicKey::from_bytes(&other).expect("key"),
        },
    ])
    .expect("registry")
}

/// A compact JWS of `header` and `payload` (any bytes) signed with the client's key.
pub fn sign_raw(header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    static SIGNER: OnceLock<SigningKey> = OnceLock::new();
    let signer = SIGNER.get_or_init(|| SigningKey::from_bytes(&SECRET));
    let signature = signer.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// [`registry`], built once: key decoding would otherwise cost more than the target.
fn fixed_registry() -> &'static ClientRegistry {
    static REGISTRY: OnceLock<ClientRegistry> = OnceLock::new();
    REGISTRY.get_or_init(registry)
}

/// The target.
pub fn jwt(data: &[u8]) {
    let registry = fixed_registry();
    let policy = TokenPolicy::default();
    let (mode, rest) = first_byte(data);
    let (token, claims_json) = match mode % 3 {
        0 => {
            let token = text(rest).into_owned();
            let _ = bearer_token(&token);
            (token, None)
        }
        1 => (sign_raw(TOKEN_HEADER.as_bytes(), rest), Some(rest)),
        _ => {
            let (header, payload) = split_once(rest, b'\n');
            (sign_raw(header, payload), Some(payload))
        }
    };
    // Check the token against the request its claims name, at the time they were issued, so
    // that the checks after the signature see claims that can pass.
    let claims: Value = claims_json
        .and_then(|c| serde_json::from_slice(c).ok())
        .unwrap_or(Value::Null);
    let method = claims["method"].as_str().unwrap_or(METHOD);
    let path = claims["path"].as_str().unwrap_or(PATH);
    let now = claims["iat"].as_i64().unwrap_or(NOW);
    for at in [now, now.saturating_add(59), NOW] {
        if let Ok(v) = verify(&token, registry, method, path, b"", at, &policy) {
            check_verified(&v, at, &policy, registry, method, path);
        }
    }
    let _ = verify_signature_only(&token, registry);
    let _ = verify_stored(&token, registry, method, path, b"");
}

fn check_verified(
    v: &Verified,
    now: i64,
    policy: &TokenPolicy,
    registry: &ClientRegistry,
    method: &str,
    path: &str,
) {
    let c = &v.claims;
    assert_eq!(c.sub, CLIENT, "only the fuzzing client's key signs");
    assert_eq!(v.request_id, RequestId::derive(&v.client.id, &c.jti));
    assert!(c.iat < c.exp && c.exp - c.iat <= policy.max_lifetime_secs);
    assert!(now < c.exp && c.iat <= now.saturating_add(policy.clock_skew_secs));
    assert_eq!((c.method.as_str(), c.path.as_str()), (method, path));
    let again = sign_token(&client_key(), c);
    let back = verify(&again, registry, method, path, b"", now, policy).expect("re-signed");
    assert_eq!(&back, v, "round trip through sign_token");
}
