//! Fixture tests: whole PDUs from published worked examples and real modem
//! traffic, each named after its source. Test-only module.

use super::*;

fn decode(hex: &str) -> (Option<Address>, Pdu) {
    decode_hex(hex, true).unwrap_or_else(|e| panic!("{hex}: {e}"))
}

fn deliver(hex: &str) -> (Option<Address>, Deliver) {
    match decode(hex) {
        (smsc, Pdu::Deliver(d)) => (smsc, d),
        other => panic!("not a deliver: {other:?}"),
    }
}

fn submit(hex: &str) -> (Option<Address>, Submit) {
    match decode(hex) {
        (smsc, Pdu::Submit(s)) => (smsc, s),
        other => panic!("not a submit: {other:?}"),
    }
}

fn status(hex: &str) -> StatusReport {
    match decode(hex) {
        (_, Pdu::StatusReport(s)) => s,
        other => panic!("not a status report: {other:?}"),
    }
}

/// Re-encoding a decoded PDU gives the same octets back.
fn reencodes(hex: &str, pdu: Pdu, smsc: Option<Address>) {
    let again = pdu.encode(smsc.as_ref()).unwrap();
    assert_eq!(again.hex, hex.to_uppercase());
}

#[test]
fn deliver_dreamfabric_hellohello() {
    // The classic SMS-DELIVER walk-through (dreamfabric.com/sms): SMSC
    // +27381000015, sender TON "subscriber" 27838890001, "hellohello".
    let hex = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";
    let (smsc, d) = deliver(hex);
    assert_eq!(smsc.as_ref().unwrap().to_string(), "+27381000015");
    assert_eq!(d.originator.number, "27838890001");
    assert_eq!(d.originator.kind, AddressKind::Unknown);
    assert_eq!(d.scts.to_rfc3339(), "1999-03-29T15:16:59+02:00");
    assert_eq!(d.encoding(), Encoding::Gsm7);
    assert_eq!(d.user_data.text.as_deref(), Some("hellohello"));
    assert!(!d.more_messages);
}

#[test]
fn deliver_python_gsmmodem_test2() {
    let hex = "06917228195339040B917228214365F700003130805120618005D4F29C2E03";
    let (smsc, d) = deliver(hex);
    assert_eq!(smsc.as_ref().unwrap().to_string(), "+2782913593");
    assert_eq!(d.originator.to_string(), "+27821234567");
    assert_eq!(d.scts.to_rfc3339(), "2013-03-08T15:02:16+02:00");
    assert_eq!(d.user_data.text.as_deref(), Some("Test2"));
    reencodes(hex, Pdu::Deliver(d), smsc);
}

#[test]
fn cmgr_developershome_tutorial_hong_kong() {
    // The +CMGR PDU of the developershome.com AT-command SMS tutorial.
    let hex = "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E";
    let (smsc, d) = deliver(hex);
    assert_eq!(smsc.as_ref().unwrap().to_string(), "+85290000000");
    assert_eq!(d.originator.to_string(), "+85291234567");
    assert_eq!(d.scts.to_rfc3339(), "2007-04-12T23:25:42+08:00");
    assert_eq!(
        d.user_data.text.as_deref(),
        Some("It is easy to read text messages via AT commands.")
    );
    reencodes(hex, Pdu::Deliver(d), smsc);
}

#[test]
fn deliver_python_gsmmodem_extension_table() {
    // '{' and '}' come from the extension table, 'é' from the default one.
    let hex = "06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910";
    let (_, d) = deliver(hex);
    assert_eq!(d.user_data.text.as_deref(), Some("@{tést}!"));
}

#[test]
fn deliver_vodacom_concat_udh_one_fill_bit() {
    // Real multipart operator message (python-gsmmodem fixture): 6-octet
    // UDH 050003C30101, so the text starts after 1 fill bit.
    let hex = "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20";
    let (smsc, d) = deliver(hex);
    assert_eq!(smsc.as_ref().unwrap().to_string(), "+2781191");
    assert_eq!(d.originator.to_string(), "2781188");
    let udh = d.user_data.udh.as_ref().unwrap();
    assert_eq!(
        udh.concat,
        Some(Concat {
            reference: 0xC3,
            total: 1,
            seq: 1
        })
    );
    assert_eq!(
        d.user_data.text.as_deref(),
        Some("Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. ")
    );
    // The operator set its fill bit to 1 (…0101 91…); TS 23.040 §9.2.3.24
    // says 0, which is what we write, so only that bit differs.
    let again = Pdu::Deliver(d).encode(smsc.as_ref()).unwrap();
    assert_eq!(again.hex, hex.replacen("C3010191", "C3010190", 1));
}

#[test]
fn submit_diafaan_relative_validity() {
    let hex = "07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701";
    let (smsc, s) = submit(hex);
    assert_eq!(smsc.as_ref().unwrap().to_string(), "+31624000000");
    assert_eq!(s.destination.to_string(), "+31628870634");
    assert_eq!(s.message_ref, 0x0D);
    assert!(s.status_report_request);
    assert_eq!(s.validity_minutes(), Some(3 * 24 * 60));
    assert_eq!(s.user_data.text.as_deref(), Some("www.diafaan.com"));
    reencodes(hex, Pdu::Submit(s), smsc);
}

#[test]
fn submit_python_gsmmodem_ucs2_japanese() {
    let hex = "07914346466554F601000B914316565811F9000806304253F68449";
    let (_, s) = submit(hex);
    assert_eq!(s.destination.to_string(), "+34616585119");
    assert_eq!(s.encoding(), Encoding::Ucs2);
    assert_eq!(s.user_data.text.as_deref(), Some("あ叶葉"));
}

#[test]
fn submit_python_gsmmodem_ucs2_udl_too_long() {
    // UDL says 160 octets (impossible for UCS-2); the data is read anyway.
    let hex = "0041010C910661345542F60008A0050003000301306F3044";
    let (smsc, s) = submit(hex);
    assert_eq!(smsc, None);
    assert_eq!(s.destination.to_string(), "+60164355246");
    assert_eq!(s.user_data.udh.unwrap().concat.unwrap().total, 3);
    assert_eq!(s.user_data.text.as_deref(), Some("はい"));
}

#[test]
fn submit_python_gsmmodem_8bit_data() {
    let hex = "0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421";
    let (_, s) = submit(hex);
    assert_eq!(s.encoding(), Encoding::Eightbit);
    assert_eq!(s.user_data.text, None);
    assert_eq!(s.user_data.data, b"Hello world!");
}

#[test]
fn submit_python_gsmmodem_absolute_validity() {
    let hex =
        "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301";
    let (smsc, s) = submit(hex);
    match &s.validity {
        Validity::Absolute(t) => assert_eq!(t.to_rfc3339(), "2013-07-10T13:39:00+02:00"),
        v => panic!("{v:?}"),
    }
    assert_eq!(s.user_data.text.as_deref(), Some("Timestamp validity test"));
    reencodes(hex, Pdu::Submit(s), smsc);
}

#[test]
fn submit_python_gsmmodem_national_numbers() {
    // National (TON 010) SMSC and destination, report requested, 3 days.
    let hex =
        "04A12143F5310D0AA110624521430000A91BD4F29C0E6A97E7F3F0B9AC03B1DFE3301BE4AEB7C565F91C";
    let (smsc, s) = submit(hex);
    assert_eq!(smsc, Some(Address::national("12345")));
    assert_eq!(s.destination, Address::national("0126541234"));
    assert_eq!(
        s.user_data.text.as_deref(),
        Some("Test message: local numbers")
    );
    reencodes(hex, Pdu::Submit(s), smsc);
}

#[test]
fn submit_python_gsmmodem_lorem_three_parts() {
    // python-gsmmodem's concatenated encoding (reject-duplicates on, so its
    // first octet is 45 where ours is 41); everything else must match.
    let text = "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit esse cillum doloe eu fugiat nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum";
    let theirs = [
        "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD",
        "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939C89D9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC66BFE5A0B41B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA",
        "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079DA4D07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C1EA7C32072795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
    ];
    let ours = encode_submit("+15125551234", text, &SubmitOptions::default(), 0).unwrap();
    assert_eq!(ours.len(), 3);
    let mut joined = String::new();
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        let (_, s) = submit(t);
        joined.push_str(s.user_data.text.as_deref().unwrap());
        let expected = format!("0041{:02X}{}", i, &t[6..]);
        assert_eq!(o.hex, expected, "part {}", i + 1);
    }
    assert_eq!(joined, text);
}

#[test]
fn status_report_python_gsmmodem_delivered() {
    let hex = "0006D60B911326880736F4111011719551401110117195714000";
    let r = status(hex);
    assert_eq!(r.message_ref, 214);
    assert_eq!(r.recipient.to_string(), "+31628870634");
    assert_eq!(r.scts.to_rfc3339(), "2011-01-11T17:59:15+01:00");
    assert_eq!(r.discharge_time.to_rfc3339(), "2011-01-11T17:59:17+01:00");
    assert_eq!(r.status, 0);
    assert_eq!(r.classification(), DeliveryStatus::Delivered);
    reencodes(hex, Pdu::StatusReport(r), None);
}

#[test]
fn status_report_with_broken_optional_tail_keeps_the_report() {
    // python-gsmmodem's report plus a TP-PI announcing user data that is
    // not there: the status still comes through.
    let r = status("0006D60B911326880736F411101171955140111011719571400004");
    assert_eq!(r.classification(), DeliveryStatus::Delivered);
    assert_eq!(r.user_data, None);
}

#[test]
fn status_report_zte_semi_invalid_address() {
    // Captured from a ZTE modem: the recipient address holds a 0xB nibble.
    let hex = "0297F1061C0F910B487228297020F5317062419272803170624192138000";
    let r = status(hex);
    assert_eq!(r.message_ref, 28);
    assert_eq!(r.recipient.number, "#08427829207025");
    assert_eq!(r.scts.to_rfc3339(), "2013-07-26T14:29:27+02:00");
    assert_eq!(r.discharge_time.to_rfc3339(), "2013-07-26T14:29:31+02:00");
}

#[test]
fn status_report_classification_3gpp_23040_9_2_3_15() {
    let cases = [
        (0x00, DeliveryStatus::Delivered, "delivered"),
        (0x02, DeliveryStatus::Delivered, "delivered"),
        (0x20, DeliveryStatus::Pending, "pending"),
        (0x30, DeliveryStatus::Pending, "pending"),
        (0x41, DeliveryStatus::FailedPermanent, "failed"),
        (0x62, DeliveryStatus::FailedTemporary, "failed"),
        (0x80, DeliveryStatus::FailedPermanent, "failed"),
    ];
    for (st, class, text) in cases {
        assert_eq!(DeliveryStatus::from_status(st), class, "{st:#04x}");
        assert_eq!(class.as_str(), text);
    }
}

#[test]
fn status_report_with_parameter_indicator_round_trips() {
    let t = decode_scts(&[0x52, 0x11, 0x01, 0x51, 0, 0, 0x69]).unwrap();
    let mut r = StatusReport::new(5, Address::international("18095551234"), t, t, 0x46);
    r.pid = Some(0);
    r.dcs = Some(0);
    r.user_data = Some(UserData::text("gone"));
    let enc = encode_status_report(&r, Some(&Address::international("18090000000"))).unwrap();
    let (smsc, pdu) = decode_hex(&enc.hex, true).unwrap();
    assert_eq!(smsc.unwrap().to_string(), "+18090000000");
    assert_eq!(pdu, Pdu::StatusReport(r));
}

#[test]
fn deliver_for_the_emulator_round_trips_in_every_encoding() {
    let t = decode_scts(&[0x52, 0x11, 0x01, 0x51, 0, 0, 0x69]).unwrap();
    let from = Address::parse("Claro").unwrap();
    let long = "Hola ¿cómo estás? 😀 ".repeat(12);
    let parts = deliver_parts(&from, &long, t, 9).unwrap();
    assert!(parts.len() > 1);
    let mut text = String::new();
    for p in &parts {
        let enc = encode_deliver(p, None).unwrap();
        let (_, Pdu::Deliver(d)) = decode_hex(&enc.hex, true).unwrap() else {
            panic!("not a deliver")
        };
        assert_eq!(&d, p);
        text.push_str(d.user_data.text.as_deref().unwrap());
    }
    assert_eq!(text, long);
    let data = Deliver::new(
        Address::national("8095551234"),
        t,
        Encoding::Eightbit,
        UserData {
            text: None,
            data: vec![0x1A, 0x1B, 0],
            udh: None,
        },
    );
    let enc = encode_deliver(&data, None).unwrap();
    assert_eq!(decode_hex(&enc.hex, true).unwrap().1, Pdu::Deliver(data));
}

#[test]
fn errors_are_clear() {
    assert!(matches!(decode_hex("zz", true), Err(PduError::BadHex(_))));
    assert!(matches!(decode_hex("123", true), Err(PduError::BadHex(_))));
    assert!(matches!(decode_hex("", true), Err(PduError::BadHex(_))));
    // The dreamfabric deliver cut inside its time stamp.
    let cut = decode_hex("07917283010010F5040BC87238880900F100009930", true).unwrap_err();
    assert_eq!(
        cut.to_string(),
        "PDU truncated at octet 21: missing service centre time stamp"
    );
    assert_eq!(
        decode_hex("0003", true).unwrap_err(),
        PduError::UnsupportedMessageType(3)
    );
}
