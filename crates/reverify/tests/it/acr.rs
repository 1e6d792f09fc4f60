use reverify::acr::Acr;

#[test]
fn wire_values_round_trip_and_order_weakest_first() {
    let wire: Vec<&str> = Acr::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        wire,
        [
            "urn:reverify:acr:1fa",
            "urn:reverify:acr:2fa",
            "urn:reverify:acr:mfa",
            "phr"
        ]
    );
    for acr in Acr::ALL {
        assert_eq!(acr.as_str().parse::<Acr>(), Ok(acr));
        assert_eq!(acr.to_string(), acr.as_str());
    }
    for bad in ["", "PHR", " phr", "urn:reverify:acr:3fa", "0", "phrh"] {
        assert!(bad.parse::<Acr>().is_err(), "{bad:?} is not an acr value");
    }
}

#[test]
fn a_stronger_authentication_satisfies_a_weaker_request_only() {
    assert!(Acr::PhishingResistant.satisfies(Acr::FirstFactor));
    assert!(Acr::MultiFactor.satisfies(Acr::SecondFactor));
    assert!(Acr::SecondFactor.satisfies(Acr::SecondFactor));
    assert!(!Acr::SecondFactor.satisfies(Acr::MultiFactor));
    assert!(!Acr::MultiFactor.satisfies(Acr::PhishingResistant));
    assert!(!Acr::FirstFactor.satisfies(Acr::SecondFactor));
}
