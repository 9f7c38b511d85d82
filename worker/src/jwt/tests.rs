use super::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
const NOW: f64 = 1_788_000_000.0;

struct SoftHmac;
impl Verifier for SoftHmac {
    async fn verify(
        &self,
        alg: Alg,
        _kid: Option<&str>,
        input: &[u8],
        sig: &[u8],
    ) -> Result<(), AuthError> {
        if alg != Alg::Hs256 {
            return Err(AuthError::UnknownKey);
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(input);
        mac.verify_slice(sig).map_err(|_| AuthError::BadSignature)
    }
}

fn policy() -> JwtPolicy {
    JwtPolicy {
        hs256: true,
        jwks: false,
        audience: "authenticated".into(),
        issuer: None,
        leeway_s: 60.0,
    }
}

fn sign(header: &str, claims: serde_json::Value) -> String {
    let h = b64::encode_url(header.as_bytes());
    let p = b64::encode_url(claims.to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", b64::encode_url(&mac.finalize().into_bytes()))
}

fn good_claims() -> serde_json::Value {
    serde_json::json!({"sub": "user-1", "aud": "authenticated", "exp": NOW + 3600.0, "role": "authenticated"})
}

fn run(header: Option<&str>, p: &JwtPolicy) -> Result<String, AuthError> {
    futures_executor::block_on(authenticate(header, p, &SoftHmac, NOW))
}

fn with(claims: serde_json::Value) -> Result<String, AuthError> {
    let t = sign(r#"{"alg":"HS256","typ":"JWT"}"#, claims);
    run(Some(&format!("Bearer {t}")), &policy())
}

#[test]
fn accepts_a_good_token() {
    assert_eq!(with(good_claims()), Ok("user-1".into()));
    let mut c = good_claims();
    c["aud"] = serde_json::json!(["other", "authenticated"]);
    assert_eq!(with(c), Ok("user-1".into()));
}

#[test]
fn refuses_bad_headers_and_shapes() {
    assert_eq!(run(None, &policy()), Err(AuthError::Missing));
    assert_eq!(run(Some("Basic abc"), &policy()), Err(AuthError::Missing));
    assert_eq!(run(Some("Bearer "), &policy()), Err(AuthError::Missing));
    assert!(matches!(
        run(Some("Bearer a.b"), &policy()),
        Err(AuthError::Malformed(_))
    ));
    assert!(matches!(
        run(Some("Bearer a.b.c.d"), &policy()),
        Err(AuthError::Malformed(_))
    ));
    assert!(matches!(
        run(Some("Bearer !!.b.c"), &policy()),
        Err(AuthError::Malformed(_))
    ));
    let not_json = format!("{}.e30.c2ln", b64::encode_url(b"nope"));
    assert!(matches!(
        run(Some(&format!("Bearer {not_json}")), &policy()),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn pins_the_algorithm() {
    let none = format!(
        "{}.{}.",
        b64::encode_url(br#"{"alg":"none"}"#),
        b64::encode_url(good_claims().to_string().as_bytes())
    );
    assert!(matches!(
        run(Some(&format!("Bearer {none}")), &policy()),
        Err(AuthError::Algorithm(_))
    ));
    let hs512 = sign(r#"{"alg":"HS512"}"#, good_claims());
    assert_eq!(
        run(Some(&format!("Bearer {hs512}")), &policy()),
        Err(AuthError::Algorithm("HS512".into()))
    );
    // RS256 is refused when no JWKS is configured, and HS256 when no secret is.
    let rs = sign(r#"{"alg":"RS256","kid":"k"}"#, good_claims());
    assert!(matches!(
        run(Some(&format!("Bearer {rs}")), &policy()),
        Err(AuthError::Algorithm(_))
    ));
    let jwks_only = JwtPolicy {
        hs256: false,
        jwks: true,
        ..policy()
    };
    let hs = sign(r#"{"alg":"HS256"}"#, good_claims());
    assert!(matches!(
        run(Some(&format!("Bearer {hs}")), &jwks_only),
        Err(AuthError::Algorithm(_))
    ));
    // RS256 without a kid cannot be looked up.
    assert_eq!(
        run(
            Some(&format!(
                "Bearer {}",
                sign(r#"{"alg":"RS256"}"#, good_claims())
            )),
            &jwks_only
        ),
        Err(AuthError::UnknownKey)
    );
}

#[test]
fn checks_the_signature_before_the_claims() {
    let t = sign(r#"{"alg":"HS256"}"#, good_claims());
    let (rest, _) = t.rsplit_once('.').unwrap();
    let forged = format!("{rest}.{}", b64::encode_url(&[0u8; 32]));
    assert_eq!(
        run(Some(&format!("Bearer {forged}")), &policy()),
        Err(AuthError::BadSignature)
    );
    // A changed payload breaks the signature.
    let other = sign(r#"{"alg":"HS256"}"#, serde_json::json!({"sub": "admin"}));
    let sig = t.rsplit_once('.').unwrap().1;
    let (other_rest, _) = other.rsplit_once('.').unwrap();
    assert_eq!(
        run(Some(&format!("Bearer {other_rest}.{sig}")), &policy()),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn checks_time_claims_with_leeway() {
    let mut c = good_claims();
    c["exp"] = serde_json::json!(NOW - 61.0);
    assert_eq!(with(c.clone()), Err(AuthError::Expired));
    c["exp"] = serde_json::json!(NOW - 59.0);
    assert!(with(c.clone()).is_ok(), "inside the leeway");
    c["exp"] = serde_json::json!("soon");
    assert_eq!(with(c.clone()), Err(AuthError::MissingClaim("exp")));
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(with(c), Err(AuthError::MissingClaim("exp")));
    let mut c = good_claims();
    c["nbf"] = serde_json::json!(NOW + 120.0);
    assert_eq!(with(c.clone()), Err(AuthError::NotYetValid));
    c["nbf"] = serde_json::json!(NOW + 30.0);
    assert!(with(c).is_ok());
}

#[test]
fn checks_audience_issuer_and_subject() {
    let mut c = good_claims();
    c["aud"] = serde_json::json!("anon");
    assert_eq!(with(c.clone()), Err(AuthError::Audience));
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(with(c), Err(AuthError::Audience));
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("sub");
    assert_eq!(with(c.clone()), Err(AuthError::MissingClaim("sub")));
    c["sub"] = serde_json::json!(42);
    assert_eq!(with(c), Err(AuthError::MissingClaim("sub")));
    let with_issuer = JwtPolicy {
        issuer: Some("https://x.supabase.co/auth/v1".into()),
        ..policy()
    };
    let t = sign(r#"{"alg":"HS256"}"#, good_claims());
    assert_eq!(
        run(Some(&format!("Bearer {t}")), &with_issuer),
        Err(AuthError::Issuer)
    );
    let mut c = good_claims();
    c["iss"] = serde_json::json!("https://x.supabase.co/auth/v1");
    let t = sign(r#"{"alg":"HS256"}"#, c);
    assert!(run(Some(&format!("Bearer {t}")), &with_issuer).is_ok());
}

#[test]
fn only_the_one_canonical_spelling_is_accepted() {
    let t = sign(r#"{"alg":"HS256","typ":"JWT"}"#, good_claims());
    assert!(run(Some(&format!("Bearer {t}")), &policy()).is_ok());
    let (h, rest) = t.split_once('.').unwrap();
    let (p, sig) = rest.split_once('.').unwrap();
    let malformed = |token: String| {
        assert!(
            matches!(
                run(Some(&format!("Bearer {token}")), &policy()),
                Err(AuthError::Malformed(_))
            ),
            "{token}"
        );
    };
    // Padding on any part.
    malformed(format!("{h}=.{p}.{sig}"));
    malformed(format!("{h}.{p}.{sig}="));
    // The standard alphabet instead of the url-safe one.
    let std_sig = sig.replace('-', "+").replace('_', "/");
    let std_sig = if std_sig == sig {
        format!("{}+", &sig[..sig.len() - 1])
    } else {
        std_sig
    };
    malformed(format!("{h}.{p}.{std_sig}"));
    // A flipped unused bit in the last character decodes to the same
    // bytes (a 32-byte HMAC leaves 2 unused bits).
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    let flipped = alphabet.chars().nth(index ^ 1).unwrap();
    let same_bytes = format!("{}{flipped}", &sig[..sig.len() - 1]);
    assert_eq!(
        b64::decode(&same_bytes),
        b64::decode(sig),
        "the lenient decoder reads both the same"
    );
    malformed(format!("{h}.{p}.{same_bytes}"));
}

#[test]
fn header_and_payload_must_be_objects() {
    // serde would read the struct from an array of its fields.
    let array_header = sign(r#"["HS256"]"#, good_claims());
    assert!(matches!(
        run(Some(&format!("Bearer {array_header}")), &policy()),
        Err(AuthError::Malformed(_))
    ));
    let c = good_claims();
    let as_array = serde_json::json!([c["sub"], c["exp"], null, c["aud"], null]);
    let array_payload = sign(r#"{"alg":"HS256"}"#, as_array);
    assert!(matches!(
        run(Some(&format!("Bearer {array_payload}")), &policy()),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn messages_never_echo_the_token() {
    let t = sign(r#"{"alg":"HS512"}"#, good_claims());
    let e = run(Some(&format!("Bearer {t}")), &policy()).unwrap_err();
    assert!(!e.to_string().contains(&t));
}
