//! RFC 9470 challenges: what we send, and parsing what servers send.

use reverify::{Challenge, Level, MODERATE, Policy, STRICT_MFA, StepUpChallenge};

#[test]
fn the_challenge_round_trips_for_every_policy() {
    let policies = [
        STRICT_MFA,
        MODERATE,
        Policy::custom(Level::FirstFactor, 0.5).unwrap(),
    ];
    for policy in policies {
        let sent = StepUpChallenge::for_policy(&policy);
        let parsed = StepUpChallenge::from_www_authenticate(&sent.to_string()).unwrap();
        assert_eq!(parsed, sent);
        assert_eq!(parsed.max_age, Some(policy.max_age_seconds()));
        assert_eq!(parsed.acr_values, [policy.level().as_str()]);
    }
}

#[test]
fn parses_rfc_9470_examples_and_mixed_headers() {
    let rfc = r#"Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR""#;
    let c = StepUpChallenge::from_www_authenticate(rfc).unwrap();
    assert_eq!(c.acr_values, ["myACR"]);
    assert_eq!(c.max_age, None);
    assert_eq!(
        c.error_description.as_deref(),
        Some("A different authentication level is required")
    );

    let mixed = r#"Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGCNwICCqKCAUAEggE8TlRMTVNTUAABAAAAl4II4gAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==, Basic realm="a, b", BEARER Error = "insufficient_user_authentication" , MAX_AGE=5, acr_values="urn:a urn:b""#;
    let c = StepUpChallenge::from_www_authenticate(mixed).unwrap();
    assert_eq!(c.max_age, Some(5));
    assert_eq!(c.acr_values, ["urn:a", "urn:b"]);
    let all = Challenge::parse_all(mixed).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].scheme, "negotiate");
    assert!(all[0].token68.as_deref().unwrap().ends_with("Dw=="));
    assert_eq!(all[1].param("realm"), Some("a, b"));
}

#[test]
fn other_errors_are_not_step_up_challenges() {
    for header in [
        r#"Bearer error="invalid_token""#,
        "Bearer",
        r#"Basic realm="x""#,
        r#"Foo error="insufficient_user_authentication""#,
        "",
    ] {
        assert_eq!(
            StepUpChallenge::from_www_authenticate(header),
            None,
            "{header}"
        );
    }
}

#[test]
fn malformed_headers_are_rejected_not_misread() {
    for header in [
        r#"Bearer error="unterminated"#,
        r#"Bearer a=1 b=2"#,
        "Bearer =",
    ] {
        assert_eq!(
            StepUpChallenge::from_www_authenticate(header),
            None,
            "{header}"
        );
    }
}

#[test]
fn descriptions_are_escaped() {
    let c = StepUpChallenge {
        max_age: Some(1),
        acr_values: vec![],
        error_description: Some(r#"say "hi" \ bye"#.into()),
    };
    let header = c.to_string();
    assert_eq!(
        header,
        r#"Bearer error="insufficient_user_authentication", error_description="say \"hi\" \\ bye", max_age=1"#
    );
    assert_eq!(StepUpChallenge::from_www_authenticate(&header).unwrap(), c);
}
