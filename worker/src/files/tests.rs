use super::*;

#[test]
fn ttl_setting_defaults_and_bounds() {
    assert_eq!(ttl_setting(None), Ok(DEFAULT_TTL_S));
    assert_eq!(ttl_setting(Some("600")), Ok(600));
    assert_eq!(ttl_setting(Some(" 60 ")), Ok(MIN_TTL_S));
    assert_eq!(ttl_setting(Some("604800")), Ok(MAX_TTL_S));
    for bad in ["59", "604801", "-1", "1h", "", "3600.5"] {
        let e = ttl_setting(Some(bad)).unwrap_err();
        assert!(e.contains("URL_TTL_SECONDS"), "{bad}: {e}");
    }
}

#[test]
fn ids_are_32_lowercase_hex() {
    assert!(is_id("0123456789abcdef0123456789abcdef"));
    for bad in [
        "",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
        "0123456789ABCDEF0123456789abcdef",
        "0123456789abcdef0123456789abcdeg",
        "../../etc/passwd/0123456789abcdef",
    ] {
        assert!(!is_id(bad), "{bad}");
    }
}

#[test]
fn message_binds_id_and_expiry() {
    let m = message("ab", 1700000000);
    assert_eq!(m, "imagegen-file-v1\nab\n1700000000");
    assert_ne!(message("ab", 1), message("ab", 2));
    assert_ne!(message("ab", 1), message("ac", 1));
}

#[test]
fn link_round_trips_through_its_query() {
    let sig = [7u8; SIG_BYTES];
    let path = link_path("0123456789abcdef0123456789abcdef", 1700000000, &sig);
    let (p, q) = path.split_once('?').unwrap();
    assert_eq!(p, "/v1/files/0123456789abcdef0123456789abcdef");
    assert_eq!(
        parse_query(q),
        Some(LinkQuery {
            exp: 1700000000,
            sig: sig.to_vec()
        })
    );
    // The leading `?` and either order.
    let sig_text = q.split("sig=").nth(1).unwrap();
    assert_eq!(
        parse_query(&format!("?sig={sig_text}&exp=5")).map(|l| l.exp),
        Some(5)
    );
}

#[test]
fn bad_queries_are_refused() {
    let sig = b64::encode_url(&[1u8; SIG_BYTES]);
    let short = b64::encode_url(&[1u8; 31]);
    let ones = b64::encode_url(&[0xffu8; SIG_BYTES]);
    assert!(parse_query(&format!("exp=1&sig={ones}")).is_some());
    for bad in [
        String::new(),
        format!("exp=1&sig={sig}&x=1"),
        format!("exp=1&exp=2&sig={sig}"),
        format!("sig={sig}"),
        "exp=1".to_string(),
        format!("exp=&sig={sig}"),
        format!("exp=-1&sig={sig}"),
        format!("exp=1e9&sig={sig}"),
        format!("exp=1234567890123&sig={sig}"),
        format!("exp=1&sig={short}"),
        format!("exp=1&sig={sig}="),
        format!("exp=1&sig={}", ones.replace('_', "/")),
        "exp=1&sig".to_string(),
    ] {
        assert_eq!(parse_query(&bad), None, "{bad}");
    }
}

#[test]
fn cache_control_counts_down() {
    assert_eq!(cache_control(1000, 400), "private, max-age=600");
    assert_eq!(cache_control(1000, 2000), "private, max-age=0");
}

#[test]
fn if_none_match() {
    let etag = "\"abc\"";
    assert!(etag_matches("\"abc\"", etag));
    assert!(etag_matches("W/\"abc\"", etag));
    assert!(etag_matches("\"x\", \"abc\"", etag));
    assert!(etag_matches("*", etag));
    assert!(!etag_matches("\"abd\"", etag));
    assert!(!etag_matches("abc", etag));
    assert!(!etag_matches("", etag));
}
