//! Interoperability with an independent JWT implementation, the `jsonwebtoken` crate (whose
//! Ed25519 is ring's, not ed25519-dalek's): tokens it signs with a key file we wrote pass our
//! `verify`, and tokens from our `sign_token` pass its decoder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;
use sha2::{Digest, Sha256};
use tessera_auth::{
    Claims, Client, ClientKey, ClientRegistry, RequestId, Role, TokenPolicy, sign_token, verify,
};

const METHOD: &str = "POST";
const PATH: &str = "/v1/wallets/hot-eth/transfers?dry_run=false";
const BODY: &[u8] = br#"{"to":"0x00000000000000000000000000000000000000aa","amount":"1"}"#;

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs).unwrap()
}

/// A fresh key written with `write_pem_file`, and a registry holding its public key as `alice`.
fn key_file(dir: &Path) -> (Vec<u8>, ClientKey, ClientRegistry) {
    let path = dir.join("alice.pem");
    ClientKey::generate().write_pem_file(&path).unwrap();
    let pem = std::fs::read(&path).unwrap();
    assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
    let key = ClientKey::read_pem_file(&path).unwrap();
    let registry = ClientRegistry::new(vec![Client {
        id: "alice".parse().unwrap(),
        role: Role::Trader,
        key: key.public_key(),
    }])
    .unwrap();
    (pem, key, registry)
}

/// The contract's claims, built by hand rather than with `Claims::for_request`.
fn contract_claims(iat: i64) -> serde_json::Value {
    json!({
        "sub": "alice",
        "iat": iat,
        "exp": iat + 60,
        "jti": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "method": METHOD,
        "path": PATH,
        "body_sha256": hex::encode(Sha256::digest(BODY)),
    })
}

#[test]
fn token_signed_by_jsonwebtoken_with_the_contract_header_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, _key, registry) = key_file(dir.path());
    let encoding_key = EncodingKey::from_ed_pem(&pem).unwrap();
    let iat = now();
    let claims = contract_claims(iat);
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &encoding_key, Algorithm::EdDSA)
            .unwrap();
    let token = format!("{signing_input}.{signature}");

    let policy = TokenPolicy::default();
    let verified = verify(&token, &registry, METHOD, PATH, BODY, iat, &policy).unwrap();
    assert_eq!(verified.client.id.as_str(), "alice");
    assert_eq!(verified.claims.jti, claims["jti"]);
    assert_eq!(
        verified.request_id,
        RequestId::derive(&verified.client.id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    );
    // The same token bound to another body is refused.
    let err = verify(&token, &registry, METHOD, PATH, b"{}", iat, &policy).unwrap_err();
    assert_eq!(err.code(), "request_mismatch");
}

#[test]
fn token_encoded_by_jsonwebtoken_with_its_own_header_verifies() {
    // jsonwebtoken writes `{"typ":"JWT","alg":"EdDSA"}`: same fields, other order.
    let dir = tempfile::tempdir().unwrap();
    let (pem, _key, registry) = key_file(dir.path());
    let encoding_key = EncodingKey::from_ed_pem(&pem).unwrap();
    let iat = now();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &contract_claims(iat),
        &encoding_key,
    )
    .unwrap();
    let policy = TokenPolicy::default();
    verify(&token, &registry, METHOD, PATH, BODY, iat + 59, &policy).unwrap();
    let err = verify(&token, &registry, METHOD, PATH, BODY, iat + 60, &policy).unwrap_err();
    assert_eq!(err.code(), "token_expired");
}

#[test]
fn token_from_sign_token_verifies_with_jsonwebtoken() {
    let dir = tempfile::tempdir().unwrap();
    let (_pem, key, _registry) = key_file(dir.path());
    let claims = Claims::for_request(&"alice".parse().unwrap(), METHOD, PATH, BODY, now(), 60);
    let token = sign_token(&key, &claims);

    let public_pem = key.public_key().to_spki_pem();
    assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let decoding_key = DecodingKey::from_ed_pem(public_pem.as_bytes()).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let validation = Validation::new(Algorithm::EdDSA);
    let decoded = jsonwebtoken::decode::<Claims>(&token, &decoding_key, &validation).unwrap();
    assert_eq!(decoded.claims, claims);

    // Its decoder refuses the token under another client's key.
    let other = ClientKey::generate().public_key().to_spki_pem();
    let other_key = DecodingKey::from_ed_pem(other.as_bytes()).unwrap();
    assert!(jsonwebtoken::decode::<Claims>(&token, &other_key, &validation).is_err());
}
