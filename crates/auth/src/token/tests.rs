//! Every way `verify` can refuse a token: shape, header, claims, subject and signature here,
//! the checks after the signature in `after_signature`.

use super::*;
use crate::client::Role;

const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"amount":"1"}"#;

struct Fixture {
    alice: ClientKey,
    registry: ClientRegistry,
}

fn fixture() -> Fixture {
    let alice = ClientKey::generate();
    let registry = ClientRegistry::new(vec![Client {
        id: "alice".parse().unwrap(),
        role: Role::Trader,
        key: alice.public_key(),
    }])
    .unwrap();
    Fixture { alice, registry }
}

fn claims() -> Claims {
    Claims::for_request(
        &"alice".parse().unwrap(),
        "POST",
        "/v1/requests?dry=1",
        BODY,
        NOW,
        30,
    )
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and payload text, properly signed by `key`.
fn forge(key: &ClientKey, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(signature.to_bytes()))
}

fn claims_json(edit: impl FnOnce(&mut Value)) -> String {
    let mut value = serde_json::to_value(claims()).unwrap();
    edit(&mut value);
    value.to_string()
}

impl Fixture {
    fn verify_at(&self, token: &str, now: i64) -> Result<Verified, AuthError> {
        let policy = TokenPolicy::default();
        verify(
            token,
            &self.registry,
            "POST",
            "/v1/requests?dry=1",
            BODY,
            now,
            &policy,
        )
    }

    /// Asserts the error's code, and that its message follows the house style and does not
    /// repeat the token or any of its parts.
    fn refuses(&self, token: &str, code: &str) -> AuthError {
        let err = self.verify_at(token, NOW).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        let message = err.message();
        assert!(!message.ends_with('.'), "{message}");
        assert!(
            message.starts_with(|c: char| !c.is_ascii_uppercase()),
            "{message}"
        );
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!message.contains(part), "{message}");
        }
        err
    }
}

#[test]
fn signed_token_verifies_and_names_its_request() {
    let f = fixture();
    let claims = claims();
    let token = sign_token(&f.alice, &claims);
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    assert_eq!(header, TOKEN_HEADER.as_bytes());
    let verified = f.verify_at(&token, NOW).unwrap();
    assert_eq!(verified.client.id.as_str(), "alice");
    assert_eq!(verified.claims, claims);
    assert_eq!(
        verified.request_id,
        RequestId::derive(&verified.client.id, &claims.jti)
    );
    let (client, again) = verify_signature_only(&token, &f.registry).unwrap();
    assert_eq!((client, again), (verified.client, claims));
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let f = fixture();
    let token = sign_token(&f.alice, &claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let evil = b64(claims_json(|c| c["path"] = "/v1/admin".into()));
    parts[1] = &evil;
    let err = f.refuses(&parts.join("."), "bad_signature");
    assert!(err.message().contains("`alice`"), "{err}");
}

#[test]
fn tampered_or_foreign_signature_is_a_bad_signature() {
    let f = fixture();
    let token = sign_token(&f.alice, &claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    f.refuses(&format!("{input}.{}", b64(&bytes)), "bad_signature");
    f.refuses(&format!("{input}.{}", b64(&bytes[..63])), "bad_signature");
    f.refuses(&format!("{input}."), "bad_signature");
    let mallory = ClientKey::generate();
    f.refuses(&sign_token(&mallory, &claims()), "bad_signature");
}

#[test]
fn only_eddsa_is_accepted() {
    let f = fixture();
    let payload = claims_json(|_| ());
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"ES256","typ":"JWT"}"#,
        r#"{"alg":"eddsa","typ":"JWT"}"#,
        r#"{"alg":"Ed25519","typ":"JWT"}"#,
        r#"{"alg":null,"typ":"JWT"}"#,
        r#"{"alg":["EdDSA"]}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        f.refuses(&forge(&f.alice, header, &payload), "unsupported_algorithm");
    }
    // The classic `alg: none` token has an empty signature.
    let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&payload));
    f.refuses(&none, "unsupported_algorithm");
    // Without `typ`, or with other fields, an EdDSA header is fine.
    for header in [
        r#"{"alg":"EdDSA"}"#,
        r#"{"typ":"JWT","alg":"EdDSA","kid":"k1"}"#,
    ] {
        f.verify_at(&forge(&f.alice, header, &payload), NOW)
            .unwrap();
    }
}

#[test]
fn odd_headers_are_malformed() {
    let f = fixture();
    let payload = claims_json(|_| ());
    for header in [
        r#"{"alg":"EdDSA","typ":"JWS"}"#,
        r#"{"alg":"EdDSA","typ":null}"#,
        r#"{"alg":"EdDSA","typ":"JWT","crit":["exp"]}"#,
        r#"{"alg":"EdDSA","crit":null}"#,
        r#"{"alg":"none","alg":"EdDSA"}"#,
        r#"{"alg":"EdDSA","alg":"EdDSA"}"#,
        r#"["EdDSA","JWT"]"#,
        "not json",
    ] {
        f.refuses(&forge(&f.alice, header, &payload), "malformed_token");
    }
}

#[test]
fn bad_claims_are_malformed() {
    let f = fixture();
    let good = claims_json(|_| ());
    let array = serde_json::to_string(
        &serde_json::to_value(claims())
            .unwrap()
            .as_object()
            .unwrap()
            .values()
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for payload in [
        claims_json(|c| c["iat"] = (NOW as f64 + 0.5).into()),
        claims_json(|c| c["exp"] = (NOW + 30).to_string().into()),
        claims_json(|c| {
            c.as_object_mut()
                .unwrap()
                .remove("body_sha256")
                .map(drop)
                .unwrap()
        }),
        good.replacen('{', r#"{"sub":"mallory","#, 1),
        array,
        "null".to_owned(),
    ] {
        f.refuses(&forge(&f.alice, TOKEN_HEADER, &payload), "malformed_token");
    }
    // Extra claims are ignored.
    let extra = good.replacen('{', r#"{"aud":"anyone","nbf":0,"#, 1);
    f.verify_at(&forge(&f.alice, TOKEN_HEADER, &extra), NOW)
        .unwrap();
}

#[test]
fn unknown_or_invalid_subject_is_an_unknown_client() {
    let f = fixture();
    let carol = claims_json(|c| c["sub"] = "carol".into());
    let err = f.refuses(&forge(&f.alice, TOKEN_HEADER, &carol), "unknown_client");
    assert_eq!(err.message(), "client `carol` is not registered");
    let invalid = claims_json(|c| c["sub"] = "Alice\n".into());
    let err = f.refuses(&forge(&f.alice, TOKEN_HEADER, &invalid), "unknown_client");
    assert!(!err.message().contains("Alice"), "{err}");
}

/// Sets the lowest unused bit of a base64url string whose last character carries 4 unused
/// bits (so ends in `A`, `Q`, `g` or `w`): same bytes under a lax decoder, refused by a strict one.
fn bump_last(b64: &str) -> String {
    let (head, last) = b64.split_at(b64.len() - 1);
    assert!(matches!(last, "A" | "Q" | "g" | "w"), "{b64}");
    let bumped = format!("{head}{}", char::from(last.as_bytes()[0] + 1));
    let lax = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    assert_eq!(
        lax.decode(&bumped).unwrap(),
        URL_SAFE_NO_PAD.decode(b64).unwrap()
    );
    assert!(URL_SAFE_NO_PAD.decode(&bumped).is_err());
    bumped
}

#[test]
fn shape_is_three_strict_base64url_parts() {
    let f = fixture();
    let token = sign_token(&f.alice, &claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    // 64 bytes take 86 characters: the last one carries 4 unused bits, which must be zero.
    let non_canonical = bump_last(signature);
    for bad in [
        String::new(),
        input.to_owned(),
        format!("{token}.{signature}"),
        format!("{token}."),
        format!("{input}.{non_canonical}"),
        format!("{input}.{signature}=="),
        format!("{}.{input}.{signature}", "eyJ"),
        token.replacen('e', "+", 1),
        format!(" {token}"),
        format!("{token}\n"),
        format!("{input}.{}", "A".repeat(MAX_TOKEN_LEN)),
    ] {
        f.refuses(&bad, "malformed_token");
    }
    // A header with non-zero trailing bits is refused the same way: 16 bytes take 22
    // characters, the last carrying 4 unused bits.
    let header = r#"{"alg":"EdDSA"} "#;
    let token = forge(&f.alice, header, &claims_json(|_| ()));
    f.verify_at(&token, NOW).unwrap();
    let (header_b64, rest) = token.split_once('.').unwrap();
    assert_eq!(header_b64.len(), 22);
    let header_bad = bump_last(header_b64);
    f.refuses(&format!("{header_bad}.{rest}"), "malformed_token");
}

#[test]
fn signature_only_check_skips_time_and_binding() {
    let f = fixture();
    let token = sign_token(&f.alice, &claims());
    assert_eq!(
        f.verify_at(&token, NOW + 3600).unwrap_err().code(),
        "token_expired"
    );
    verify_signature_only(&token, &f.registry).unwrap();
    let err = verify_signature_only(&sign_token(&ClientKey::generate(), &claims()), &f.registry)
        .unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn bearer_header_yields_the_token() {
    assert_eq!(bearer_token("Bearer a.b.c").unwrap(), "a.b.c");
    assert_eq!(bearer_token("bearer a.b.c").unwrap(), "a.b.c");
    for bad in [
        "",
        "Bearer",
        "Bearer ",
        "Basic a.b.c",
        "Bearer a b",
        "Bearer  a.b.c",
        "a.b.c",
    ] {
        assert_eq!(
            bearer_token(bad).unwrap_err().code(),
            "malformed_token",
            "{bad:?}"
        );
    }
}

#[test]
fn replayed_error_has_its_own_code() {
    assert_eq!(AuthError::replayed().code(), "token_replayed");
}

mod after_signature;
