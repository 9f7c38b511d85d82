//! No panics on any input, for the Worker's parsers: JWT, key envelope,
//! router, generation request, config, base64. 10,000 cases per target.
#![cfg(not(target_arch = "wasm32"))]

use imagegen::ProviderName;
use imagegen_worker::envelope::{self, Aead, MasterKey, MasterKeys};
use imagegen_worker::jwt::{self, Alg, AuthError, JwtPolicy, Verifier};
use imagegen_worker::{api, b64, config, images};
use proptest::prelude::*;

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Accepts every signature, so fuzzed tokens reach the claim checks too.
struct AcceptAll;
impl Verifier for AcceptAll {
    async fn verify(&self, _: Alg, _: Option<&str>, _: &[u8], _: &[u8]) -> Result<(), AuthError> {
        Ok(())
    }
}

/// A cipher that rejects everything (the record decoder runs before it).
struct Refuse;
impl Aead for Refuse {
    async fn seal(
        &self,
        _: &MasterKey,
        _: &[u8; 12],
        _: &[u8],
        _: &[u8],
    ) -> Result<Vec<u8>, String> {
        Err("no".into())
    }
    async fn open(
        &self,
        _: &MasterKey,
        _: &[u8; 12],
        _: &[u8],
        _: &[u8],
    ) -> Result<Vec<u8>, String> {
        Err("no".into())
    }
    fn nonce(&self) -> Result<[u8; 12], String> {
        Err("no".into())
    }
}

fn policy() -> JwtPolicy {
    JwtPolicy {
        hs256: true,
        jwks: true,
        audience: "authenticated".into(),
        issuer: Some("iss".into()),
        leeway_s: 60.0,
    }
}

fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        "[{}\\[\\]\":,a-z0-9 ]{0,80}",
        Just(r#"{"prompt":"x","n":3,"model":"gemini/x"}"#.to_string()),
        Just(r#"{"providers":[{"provider":"openai","model":"m"}],"defaults":{"n":2}}"#.to_string()),
        Just(
            r#"{"v":1,"kid":"k1","nonce":"AAAA","ct":"AAAA","last4":"1234","updatedAt":"t"}"#
                .to_string()
        ),
    ]
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn jwt_survives_arbitrary_tokens(header in prop::option::of("\\PC{0,40}"), parts in prop::collection::vec("[A-Za-z0-9_=+/-]{0,40}", 0..5), claims in json_text()) {
        let _ = futures_executor::block_on(jwt::authenticate(header.as_deref(), &policy(), &AcceptAll, 1_788_000_000.0));
        let token = parts.join(".");
        let _ = futures_executor::block_on(jwt::authenticate(Some(&format!("Bearer {token}")), &policy(), &AcceptAll, 0.0));
        // Well-formed base64 around arbitrary JSON reaches the claim checks.
        let forged = format!("{}.{}.{}", b64::encode_url(br#"{"alg":"HS256"}"#), b64::encode_url(claims.as_bytes()), b64::encode_url(b"sig"));
        if let Ok(user) = futures_executor::block_on(jwt::authenticate(Some(&format!("Bearer {forged}")), &policy(), &AcceptAll, 0.0)) {
            prop_assert!(!user.is_empty());
        }
    }

    #[test]
    fn envelope_decoder_survives_arbitrary_records(text in json_text(), user in "\\PC{0,20}") {
        let keys = MasterKeys::from_config(&format!(r#"{{"k1":"{}"}}"#, b64::encode(&[1u8; 32])), "k1").unwrap();
        if let Ok(record) = envelope::parse_record(&text) {
            prop_assert!(futures_executor::block_on(envelope::open(&Refuse, &keys, &user, ProviderName::Openai, &record)).is_err());
        }
        let _ = MasterKeys::from_config(&text, &user);
    }

    #[test]
    fn router_and_request_parsers_survive_arbitrary_input(method in "[A-Z]{0,8}", path in "\\PC{0,40}", body in json_text(), bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        if let Err(e) = api::route(&method, &path) {
            prop_assert!([404u16, 405].contains(&e.status));
        }
        for b in [body.as_bytes(), &bytes[..]] {
            if let Err(e) = images::parse_request(b, None) {
                prop_assert_eq!(e.status, 400);
                prop_assert!(e.param.is_some());
            }
            if let Err(e) = config::parse(b) {
                prop_assert_eq!(e.status, 400);
            }
            let _ = images::parse_model(std::str::from_utf8(b).ok());
        }
        let _ = b64::decode(&path);
        let _ = api::caller_request_id(Some(&path));
        let _ = api::kv_user(&path);
        let envelope = api::ApiError::invalid("x", path.clone()).body();
        let parsed: serde_json::Value = serde_json::from_str(&envelope).unwrap();
        prop_assert!(parsed["error"]["message"].is_string());
    }
}
