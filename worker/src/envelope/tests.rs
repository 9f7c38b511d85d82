use super::*;
use aes_gcm::aead::{Aead as _, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use std::cell::Cell;

/// RustCrypto AES-256-GCM with a counter nonce (deterministic for vectors).
struct SoftAead {
    counter: Cell<u8>,
}

impl Aead for SoftAead {
    async fn seal(
        &self,
        key: &MasterKey,
        nonce: &[u8; 12],
        aad: &[u8],
        pt: &[u8],
    ) -> Result<Vec<u8>, String> {
        Aes256Gcm::new(key.bytes().into())
            .encrypt(Nonce::from_slice(nonce), Payload { msg: pt, aad })
            .map_err(|e| e.to_string())
    }
    async fn open(
        &self,
        key: &MasterKey,
        nonce: &[u8; 12],
        aad: &[u8],
        ct: &[u8],
    ) -> Result<Vec<u8>, String> {
        Aes256Gcm::new(key.bytes().into())
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|e| e.to_string())
    }
    fn nonce(&self) -> Result<[u8; 12], String> {
        self.counter.set(self.counter.get() + 1);
        Ok([self.counter.get(); 12])
    }
}

fn aead() -> SoftAead {
    SoftAead {
        counter: Cell::new(0),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn keys(active: &str) -> MasterKeys {
    let k1 = b64::encode(&[1u8; 32]);
    let k2 = b64::encode(&[2u8; 32]);
    MasterKeys::from_config(&format!(r#"{{"k1":"{k1}","k2":"{k2}"}}"#), active).unwrap()
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

/// The cipher itself against the AES-256-GCM vector of the GCM spec
/// (McGrew & Viega, test case 16).
#[test]
fn cipher_matches_the_gcm_test_vector() {
    let key = MasterKey(
        hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
            .try_into()
            .unwrap(),
    );
    let nonce: [u8; 12] = hex("cafebabefacedbaddecaf888").try_into().unwrap();
    let pt = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let expected = hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b");
    let sealed = run(aead().seal(&key, &nonce, &aad, &pt)).unwrap();
    assert_eq!(sealed, expected);
    assert_eq!(run(aead().open(&key, &nonce, &aad, &sealed)).unwrap(), pt);
}

/// A fixed record: the Worker's WebCrypto implementation must open it too
/// (the end-to-end tests store this exact value in KV).
#[test]
fn record_vector() {
    let k = keys("k1");
    let secret = Secret::new("sk-vector-0123456789");
    let rec = run(seal(
        &aead(),
        &k,
        "user-vector",
        ProviderName::Openai,
        &secret,
        "2026-11-26T00:00:00Z",
    ))
    .unwrap();
    assert_eq!(rec.nonce, b64::encode(&[1u8; 12]));
    assert_eq!(rec.last4, "6789");
    assert_eq!(
        serde_json::to_string(&rec).unwrap(),
        include_str!("../../tests/record-vector.json").trim(),
        "the stored test vector changed"
    );
    let opened = run(open(&aead(), &k, "user-vector", ProviderName::Openai, &rec)).unwrap();
    assert_eq!(opened.expose(), "sk-vector-0123456789");
}

#[test]
fn round_trip_and_fresh_nonces() {
    let k = keys("k1");
    let a = aead();
    let secret = Secret::new("sk-live-abcdefghijklmnop");
    let r1 = run(seal(&a, &k, "u1", ProviderName::Gemini, &secret, "t")).unwrap();
    let r2 = run(seal(&a, &k, "u1", ProviderName::Gemini, &secret, "t")).unwrap();
    assert_ne!(r1.nonce, r2.nonce);
    assert_ne!(r1.ct, r2.ct);
    assert!(!serde_json::to_string(&r1)
        .unwrap()
        .contains("abcdefghijklmnop"));
    assert_eq!(
        run(open(&a, &k, "u1", ProviderName::Gemini, &r1))
            .unwrap()
            .expose(),
        secret.expose()
    );
    let parsed = parse_record(&serde_json::to_string(&r1).unwrap()).unwrap();
    assert_eq!(parsed, r1);
}

#[test]
fn aad_swaps_are_rejected() {
    let k = keys("k1");
    let a = aead();
    let rec = run(seal(
        &a,
        &k,
        "alice",
        ProviderName::Openai,
        &Secret::new("sk-alice-key-000"),
        "t",
    ))
    .unwrap();
    assert_eq!(
        run(open(&a, &k, "bob", ProviderName::Openai, &rec)),
        Err(OpenError::Rejected)
    );
    assert_eq!(
        run(open(&a, &k, "alice", ProviderName::Gemini, &rec)),
        Err(OpenError::Rejected)
    );
    // Relabelling the record with another (existing) key id fails too.
    let relabelled = Record {
        kid: "k2".into(),
        ..rec.clone()
    };
    assert_eq!(
        run(open(&a, &k, "alice", ProviderName::Openai, &relabelled)),
        Err(OpenError::Rejected)
    );
    // Length prefixes: ("ab","c") and ("a","bc") differ.
    assert_ne!(
        aad("k", "ab", ProviderName::Mock),
        aad("k", "a", ProviderName::Mock)
    );
}

#[test]
fn tampering_is_rejected() {
    let k = keys("k1");
    let a = aead();
    let rec = run(seal(
        &a,
        &k,
        "u",
        ProviderName::Stability,
        &Secret::new("sk-stab-key-0000"),
        "t",
    ))
    .unwrap();
    let flip = |s: &str, i: usize| {
        let mut b = b64::decode(s).unwrap();
        b[i] ^= 1;
        b64::encode(&b)
    };
    let ct_len = b64::decode(&rec.ct).unwrap().len();
    for tampered in [
        Record {
            ct: flip(&rec.ct, 0),
            ..rec.clone()
        },
        Record {
            ct: flip(&rec.ct, ct_len - 1),
            ..rec.clone()
        }, // the tag
        Record {
            nonce: flip(&rec.nonce, 3),
            ..rec.clone()
        },
    ] {
        assert_eq!(
            run(open(&a, &k, "u", ProviderName::Stability, &tampered)),
            Err(OpenError::Rejected)
        );
    }
    let short_nonce = Record {
        nonce: b64::encode(&[0u8; 8]),
        ..rec.clone()
    };
    assert_eq!(
        run(open(&a, &k, "u", ProviderName::Stability, &short_nonce)),
        Err(OpenError::Malformed)
    );
    assert_eq!(parse_record("{\"v\":2}"), Err(OpenError::Malformed));
    assert_eq!(parse_record("not json"), Err(OpenError::Malformed));
}

#[test]
fn unknown_key_version_is_rejected() {
    let a = aead();
    let rec = run(seal(
        &a,
        &keys("k1"),
        "u",
        ProviderName::Openai,
        &Secret::new("sk-some-key-000"),
        "t",
    ))
    .unwrap();
    let only_k3 =
        MasterKeys::from_config(&format!(r#"{{"k3":"{}"}}"#, b64::encode(&[3u8; 32])), "k3")
            .unwrap();
    assert_eq!(
        run(open(&a, &only_k3, "u", ProviderName::Openai, &rec)),
        Err(OpenError::UnknownKeyVersion("k1".into()))
    );
}

#[test]
fn rotation_re_encrypts_with_the_active_key() {
    let a = aead();
    let old = keys("k1");
    let rec = run(seal(
        &a,
        &old,
        "u",
        ProviderName::Openai,
        &Secret::new("sk-rotate-me-000"),
        "t0",
    ))
    .unwrap();
    assert_eq!(rec.kid, "k1");
    let rotated = keys("k2");
    assert!(needs_rewrap(&rotated, &rec));
    let secret = run(open(&a, &rotated, "u", ProviderName::Openai, &rec)).unwrap();
    let rewrapped = run(seal(&a, &rotated, "u", ProviderName::Openai, &secret, "t1")).unwrap();
    assert_eq!(rewrapped.kid, "k2");
    assert!(!needs_rewrap(&rotated, &rewrapped));
    assert_eq!(
        run(open(&a, &rotated, "u", ProviderName::Openai, &rewrapped))
            .unwrap()
            .expose(),
        "sk-rotate-me-000"
    );
    // The new record no longer opens as k1 data.
    assert_eq!(
        run(open(
            &a,
            &old,
            "u",
            ProviderName::Openai,
            &Record {
                kid: "k1".into(),
                ..rewrapped
            }
        )),
        Err(OpenError::Rejected)
    );
}

#[test]
fn master_key_config_is_validated() {
    assert!(MasterKeys::from_config("[]", "k").is_err());
    assert!(MasterKeys::from_config(r#"{"k":"c2hvcnQ="}"#, "k").is_err());
    let ok = format!(r#"{{"k":"{}"}}"#, b64::encode(&[9u8; 32]));
    assert!(MasterKeys::from_config(&ok, "other").is_err());
    let keys = MasterKeys::from_config(&ok, "k").unwrap();
    assert!(!format!("{keys:?}").contains(&b64::encode(&[9u8; 32])));
}
