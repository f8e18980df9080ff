use super::*;

#[test]
fn status_knobs_take_names_and_hex() {
    assert_eq!(
        parse_knob("tunnel=E_PROXY_RAP_ACCESSDENIED"),
        Ok(Knob::Tunnel(Status(0x8007_59DA)))
    );
    assert_eq!(
        parse_knob("handshake=0x800759E9"),
        Ok(Knob::Handshake(Status(0x8007_59E9)))
    );
    assert_eq!(
        parse_knob("tunnel-auth=E_PROXY_NAP_ACCESSDENIED"),
        Ok(Knob::TunnelAuth(Status(0x8007_59DB)))
    );
    assert_eq!(
        parse_knob("channel=0x59dd"),
        Ok(Knob::Channel(Status(0x59DD)))
    );
}

#[test]
fn other_knobs_parse() {
    assert_eq!(parse_knob("auth=final-401"), Ok(Knob::AuthFinal401));
    assert_eq!(parse_knob("close=out-headers"), Ok(Knob::CloseOutHeaders));
    assert_eq!(parse_knob("close=out-preamble"), Ok(Knob::CloseOutPreamble));
    assert_eq!(
        parse_knob("close=out-body:120"),
        Ok(Knob::CloseOutBody(120))
    );
    assert_eq!(
        parse_knob("service-message=Maintenance at 18:00"),
        Ok(Knob::ServiceMessage("Maintenance at 18:00".into()))
    );
    assert_eq!(
        parse_knob("cert=wrong-name"),
        Ok(Knob::Cert(BadCert::WrongName))
    );
}

#[test]
fn bad_values_name_the_knob_and_the_choices() {
    let cases = [
        ("tunnel=E_NOPE", "tunnel=E_NOPE", "E_PROXY_RAP_ACCESSDENIED"),
        ("channel=0xZZ", "channel=0xZZ", "hex"),
        ("auth=final-403", "auth=final-403", "final-401"),
        (
            "close=out-body:lots",
            "close=out-body:lots",
            "number of bytes",
        ),
        ("close=in-headers", "close=in-headers", "out-preamble"),
        ("cert=revoked", "cert=revoked", "self-signed"),
        ("speed=slow", "\"speed\"", "tunnel-auth=STATUS"),
        ("tunnel", "\"tunnel\"", "KNOB=VALUE"),
        ("service-message=", "service-message", "empty"),
    ];
    for (input, names, lists) in cases {
        let e = parse_knob(input).unwrap_err();
        assert!(e.contains(names), "{input}: {e}");
        assert!(e.contains(lists), "{input}: {e}");
    }
}

#[test]
fn plan_combines_knobs_and_refuses_duplicates() {
    let knobs: Vec<Knob> = [
        "tunnel=E_PROXY_RAP_ACCESSDENIED",
        "close=out-body:10",
        "auth=final-401",
    ]
    .iter()
    .map(|k| parse_knob(k).unwrap())
    .collect();
    let p = FailPlan::from_knobs(&knobs).unwrap();
    assert_eq!(p.tunnel, Some(Status(0x8007_59DA)));
    assert_eq!(p.close, Some(CloseAt::OutBody(10)));
    assert!(p.auth_final_401);
    assert_eq!(p.describe().len(), 3);
    let twice = [Knob::CloseOutHeaders, Knob::CloseOutPreamble];
    let e = FailPlan::from_knobs(&twice).unwrap_err();
    assert!(e.contains("close"), "{e}");
}
