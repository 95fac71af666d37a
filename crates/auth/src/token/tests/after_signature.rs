//! The checks after the signature (lifetime, time, binding, `jti`), and the order of all checks.

use super::*;

#[test]
fn lifetime_is_at_most_sixty_seconds() {
    let f = fixture();
    let with_exp = |exp: i64| {
        forge(
            &f.alice,
            TOKEN_HEADER,
            &claims_json(|c| c["exp"] = exp.into()),
        )
    };
    f.verify_at(&with_exp(NOW + 60), NOW).unwrap();
    let err = f.refuses(&with_exp(NOW + 61), "token_lifetime_too_long");
    assert_eq!(
        err.message(),
        "token lifetime of 61 s is longer than the 60 s allowed"
    );
    f.refuses(&with_exp(i64::MAX), "token_lifetime_too_long");
    f.refuses(&with_exp(NOW), "malformed_token");
    f.refuses(&with_exp(NOW - 1), "malformed_token");
    let extreme = claims_json(|c| {
        c["iat"] = i64::MIN.into();
        c["exp"] = i64::MAX.into();
    });
    f.refuses(
        &forge(&f.alice, TOKEN_HEADER, &extreme),
        "token_lifetime_too_long",
    );
}

#[test]
fn expiry_allows_no_skew() {
    let f = fixture();
    let token = sign_token(&f.alice, &claims());
    f.verify_at(&token, NOW + 29).unwrap();
    for now in [NOW + 30, NOW + 31, i64::MAX] {
        let err = f.verify_at(&token, now).unwrap_err();
        assert_eq!(err.code(), "token_expired");
    }
}

#[test]
fn issue_time_may_run_ahead_by_the_skew_only() {
    let f = fixture();
    let token = sign_token(&f.alice, &claims());
    f.verify_at(&token, NOW - 5).unwrap();
    for now in [NOW - 6, i64::MIN] {
        let err = f.verify_at(&token, now).unwrap_err();
        assert_eq!(err.code(), "token_not_yet_valid");
    }
}

#[test]
fn token_is_bound_to_method_path_and_body() {
    let f = fixture();
    let token = sign_token(&f.alice, &claims());
    let policy = TokenPolicy::default();
    let check = |method: &str, path: &str, body: &[u8]| {
        verify(&token, &f.registry, method, path, body, NOW, &policy).unwrap_err()
    };
    for (err, which) in [
        (check("PUT", "/v1/requests?dry=1", BODY), "method"),
        (check("post", "/v1/requests?dry=1", BODY), "method"),
        (check("POST", "/v1/requests?dry=0", BODY), "path"),
        (check("POST", "/v1/requests", BODY), "path"),
        (check("POST", "/v1/requests?dry=1", b"{}"), "body"),
        (check("POST", "/v1/requests?dry=1", b""), "body"),
    ] {
        assert_eq!(err.code(), "request_mismatch");
        assert_eq!(
            err.message(),
            format!("token was signed for a different request {which}")
        );
    }
}

#[test]
fn empty_body_binds_to_the_digest_of_nothing() {
    let f = fixture();
    let claims = Claims::for_request(&"alice".parse().unwrap(), "get", "/v1/x", b"", NOW, 10);
    let token = sign_token(&f.alice, &claims);
    let policy = TokenPolicy::default();
    verify(&token, &f.registry, "GET", "/v1/x", b"", NOW, &policy).unwrap();
}

#[test]
fn jti_must_be_short_printable_ascii() {
    let f = fixture();
    let with_jti = |jti: &str| {
        forge(
            &f.alice,
            TOKEN_HEADER,
            &claims_json(|c| c["jti"] = jti.into()),
        )
    };
    f.verify_at(&with_jti(&"~".repeat(MAX_JTI_LEN)), NOW)
        .unwrap();
    for jti in ["", "a b", "tab\t", "é", &"x".repeat(MAX_JTI_LEN + 1)] {
        f.refuses(&with_jti(jti), "malformed_token");
        let err = verify_signature_only(&with_jti(jti), &f.registry).unwrap_err();
        assert_eq!(err.code(), "malformed_token");
    }
}

#[test]
fn checks_run_in_the_documented_order() {
    let f = fixture();
    let mallory = ClientKey::generate();
    // Wrong algorithm beats unknown client; unknown client beats bad signature.
    let carol = claims_json(|c| c["sub"] = "carol".into());
    f.refuses(
        &forge(&mallory, r#"{"alg":"HS256"}"#, &carol),
        "unsupported_algorithm",
    );
    f.refuses(&forge(&mallory, TOKEN_HEADER, &carol), "unknown_client");
    // A bad signature beats every time and binding check.
    let long_lived = claims_json(|c| c["exp"] = (NOW + 3600).into());
    f.refuses(&forge(&mallory, TOKEN_HEADER, &long_lived), "bad_signature");
    // Lifetime beats time; time beats binding; binding beats jti.
    let token = forge(&f.alice, TOKEN_HEADER, &long_lived);
    assert_eq!(
        f.verify_at(&token, NOW + 7200).unwrap_err().code(),
        "token_lifetime_too_long"
    );
    let token = sign_token(&f.alice, &claims());
    let policy = TokenPolicy::default();
    let err = verify(&token, &f.registry, "GET", "/", b"", NOW + 30, &policy).unwrap_err();
    assert_eq!(err.code(), "token_expired");
    let bad_jti = claims_json(|c| {
        c["jti"] = "".into();
        c["method"] = "GET".into();
    });
    f.refuses(&forge(&f.alice, TOKEN_HEADER, &bad_jti), "request_mismatch");
}
