//! Fixture tests on real traffic collected in ModemManager's
//! `src/tests/test-sms-part-3gpp.c`, each named after its origin. Test-only.

use chrono::{TimeZone, Utc};

use super::*;

fn deliver(hex: &str) -> (Option<Address>, Deliver) {
    match decode_hex(hex, true) {
        Ok((smsc, Pdu::Deliver(d))) => (smsc, d),
        other => panic!("not a deliver: {other:?}"),
    }
}

#[test]
fn deliver_modemmanager_pdu1_extension_characters() {
    let hex = "07912104442961F4040B916171957291F80000112082110505\
               0A6AC8B2BC7C9A83C220F6DB7D2ECB41EDF27C1E3E97411BDE06754FD3D1A0F9BB5D0695F1F4B29B5C2683C6E8B03C3CA697E5F34D6AE303D1D1F2F7DD0D4ABB59A0797D8C0685E7A00028EC26832A960B28EC2683BE6050780EBA97D96C17";
    let hex = hex.replace(' ', "");
    let (smsc, d) = deliver(&hex);
    assert_eq!(smsc.unwrap().to_string(), "+12404492164");
    assert_eq!(d.originator.to_string(), "+16175927198");
    assert_eq!(d.scts.to_rfc3339(), "2011-02-28T11:50:50-05:00");
    assert_eq!(
        d.user_data.text.as_deref(),
        Some(
            "Here's a longer message [{with some extended characters}] \
             thrown in, such as £ and ΩΠΨ and §¿ as well."
        )
    );
}

#[test]
fn deliver_modemmanager_pdu2_alphanumeric_ucs2() {
    let hex = "07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442";
    let (smsc, d) = deliver(hex);
    assert_eq!(smsc.unwrap().to_string(), "+79037011111");
    assert_eq!(d.originator.number, "InternetSMS");
    assert_eq!(d.originator.kind, AddressKind::Alphanumeric);
    assert_eq!(d.scts.to_rfc3339(), "2011-03-29T19:20:04+04:00");
    assert_eq!(d.user_data.text.as_deref(), Some("тест"));
}

#[test]
fn deliver_modemmanager_sfr_dcs_group_f_160_septets() {
    let hex = "0791330609109 3F0040485810000F1116042318051 80A0\
               49B7F90D9A1AA5A01668F8769BD3E4B29B9E2EB359A03FC85D06A9C3ED707A0EA2CBC3EE79BB4CA7CBCBA05643617DA7C76990FD4D979741EE77DD5E0ED741ED371D442E83E0E1F9BC0CD281E677D9B84C06C1DF7539E85C9097E520FB9B2E2F83C6EF369C5E064D8D52D0BC2E07DDEF77D7DC2C7799E5A0771D040FCB41F402BB0047BFDD6550B80ECAD966";
    let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    let (smsc, d) = deliver(&hex);
    assert_eq!(smsc.unwrap().to_string(), "+33609001390");
    assert_eq!(d.originator.number, "1800");
    assert_eq!(d.dcs, 0xF1);
    assert_eq!(d.scts.to_rfc3339(), "2011-06-24T13:08:15+02:00");
    assert_eq!(
        d.user_data.text.as_deref(),
        Some(
            "Info SFR - Confidentiel, à ne jamais transmettre -\r\n\
             Voici votre nouveau mot de passe : sw2ced pour gérer \
             votre compte SFR sur www.sfr.fr ou par téléphone au 963"
        )
    );
}

#[test]
fn deliver_modemmanager_insufficient_data_is_truncated() {
    // UDL says 11 septets (10 octets) but only 9 follow.
    let hex = "07912143658709F1040B918100551512F2000011101021436500\
               0BE8329BFD4697D9EC37";
    let hex = hex.replace(' ', "");
    assert!(matches!(
        decode_hex(&hex, true),
        Err(PduError::Truncated {
            what: "user data",
            ..
        })
    ));
}

#[test]
fn deliver_modemmanager_kpn_16bit_concat_reference() {
    // KPN NL welcome message: 7-octet UDH with IEI 0x08 (no fill bits).
    let hex = "07911356131313F64004850120390011609232239180A006080400100201D7327BFD6EB340E232\
               1BF46E83EA7790F59D1E97DBE1341B442F83C465763D3DA797E56537C81D0ECB41AB59CC1693C1\
               6031D96C064241E5656838AF03A96230982A269BCD462917C8FA4E8FCBED709A0D7ABBE9F6B0FB\
               5C7683D27350984D4FABC9A0B33C4C4FCF5D20EBFB2D079DCB62793DBD06D9C36E50FB2D4E97D9\
               A0B49B5E96BBCB";
    let (smsc, d) = deliver(hex);
    assert_eq!(smsc.unwrap().to_string(), "+31653131316");
    assert_eq!(d.originator.number, "1002");
    assert_eq!(d.scts.to_rfc3339(), "2011-06-29T23:32:19+02:00");
    let concat = d.user_data.udh.as_ref().unwrap().concat.unwrap();
    assert_eq!((concat.reference, concat.total, concat.seq), (0x0010, 2, 1));
    assert_eq!(
        d.user_data.text.as_deref(),
        Some(
            "Welkom, bel om uw Voicemail te beluisteren naar +31612001233 \
             (PrePay: *100*1233#). Voicemail ontvangen is altijd gratis. \
             Voor gebruik van mobiel interne"
        )
    );
}

const MULTIPART_1: &str =
    "07912160130320F5440B916171056429F5000021405291650569A00500034C0201A9E8F41C949E\
    83C2207B599E07B1DFEE33885E9ED341E4F23C7D7697C920FA1B54C697E5E3F4BC0C6AD7D9F434\
    081E96D341E3303C2C4EB3D3F4BC0B94A483E6E8779D4D06CDD1EF3BA80E0785E7A0B7BB0C6A97\
    E7F3F0B9CC02B9DF7450780EA2DFDF2C50780EA2A3CBA0BA9B5C96B3F369F71954768FDFE4B4FB\
    0C9297E1F2F2BCECA6CF41";
const MULTIPART_2: &str =
    "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D4447\
    9741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10";

#[test]
fn deliver_modemmanager_multipart_reassembles_in_any_order() {
    let (_, first) = deliver(MULTIPART_1);
    let (_, second) = deliver(MULTIPART_2);
    assert_eq!(first.scts.to_rfc3339(), "2012-04-25T19:56:50-04:00");
    let now = Utc.with_ymd_and_hms(2012, 4, 25, 23, 57, 0).unwrap();
    let mut a = Assembler::new(std::time::Duration::from_secs(300));
    assert!(a.push(IncomingPart::from(&second), now).is_none());
    assert!(a.push(IncomingPart::from(&second), now).is_none());
    let m = a.push(IncomingPart::from(&first), now).unwrap();
    assert_eq!(m.sender.to_string(), "+16175046925");
    assert!(!m.incomplete);
    assert_eq!(m.timestamp, Some(first.scts));
    assert_eq!(
        m.text,
        "This is a very long test designed to exercise multi part capability. It should \
         show up as one message, not as two, as the underlying encoding represents \
         that the parts are related to one another. "
    );
    // A late duplicate of a finished message does not start a new one.
    assert!(a.push(IncomingPart::from(&first), now).is_none());
    assert_eq!(a.pending_len(), 0);
}

#[test]
fn submit_modemmanager_stored_by_us_ucs2() {
    let hex = "002100098136397339F70008224F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60";
    let (smsc, Pdu::Submit(s)) = decode_hex(hex, true).unwrap() else {
        panic!("not a submit")
    };
    assert_eq!(smsc, None);
    assert_eq!(s.destination.number, "639337937");
    assert!(s.status_report_request);
    assert_eq!(s.validity, Validity::None);
    assert_eq!(
        s.user_data.text.as_deref(),
        Some("你好你好你好你好你好你好你好你好你")
    );
    let again = Pdu::Submit(s).encode(None).unwrap();
    assert_eq!(again.hex, hex);
}

#[test]
fn status_report_modemmanager_not_stored_pending() {
    let hex = "07914356060013F1065A098136397339F7219011700463802190117004638030";
    let (smsc, Pdu::StatusReport(r)) = decode_hex(hex, true).unwrap() else {
        panic!("not a status report")
    };
    assert_eq!(smsc.unwrap().to_string(), "+34656000311");
    assert_eq!(r.message_ref, 0x5A);
    assert_eq!(r.recipient.number, "639337937");
    assert_eq!(r.scts.to_rfc3339(), "2012-09-11T07:40:36+02:00");
    assert_eq!(r.status, 0x30);
    assert_eq!(r.classification(), DeliveryStatus::Pending);
}
