use super::*;
use rusmpp::tlvs::MessageDeliveryRequestTlvValue;

fn sms(to: &str, text: &str) -> OutgoingSms {
    OutgoingSms {
        message_id: 1,
        recipient: to.into(),
        text: text.into(),
        concat_ref: 42,
        validity_minutes: Some(24 * 60),
        withdraw: Default::default(),
    }
}

fn now() -> DateTime<FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+00:00").unwrap()
}

#[test]
fn a_short_code_is_network_specific_and_a_phone_international() {
    assert_eq!(
        address("2222"),
        SmppAddress {
            ton: 3,
            npi: 0,
            digits: "2222".into()
        }
    );
    assert_eq!(
        address("+33612345678"),
        SmppAddress {
            ton: 1,
            npi: 1,
            digits: "33612345678".into()
        }
    );
    assert_eq!(number(1, "33612345678"), "+33612345678");
    assert_eq!(number(0, "0612345678"), "0612345678");
}

#[test]
fn a_relative_validity_period_counts_days_hours_and_minutes() {
    // SMPP 3.4 §7.1.2: YYMMDDhhmmss tnn R
    assert_eq!(relative_validity(24 * 60), "000001000000000R");
    assert_eq!(relative_validity(90), "000000013000000R");
    assert_eq!(relative_validity(0), "000000000000000R");
}

#[test]
fn a_gsm_text_goes_unpacked_with_data_coding_0() {
    let pdus = submits(
        "2222",
        &sms("+33612345678", "Hello {world} €"),
        SmppSplit::Udh,
    )
    .unwrap();
    assert_eq!(pdus.len(), 1);
    let p = &pdus[0];
    assert_eq!(u8::from(p.data_coding), 0);
    assert_eq!(u8::from(p.esm_class), 0);
    assert_eq!(p.source_addr.as_str(), "2222");
    assert_eq!(u8::from(p.source_addr_ton), 3);
    assert_eq!(p.destination_addr.as_str(), "33612345678");
    assert_eq!(u8::from(p.dest_addr_ton), 1);
    assert_eq!(u8::from(p.dest_addr_npi), 1);
    assert_eq!(u8::from(p.registered_delivery) & 1, 1);
    assert_eq!(p.validity_period.as_ref(), b"000001000000000R\0");
    // One septet per octet; `{` `}` `€` take an escape each.
    let body = p.short_message().as_ref();
    assert_eq!(body.len(), "Hello {world} €".chars().count() + 3);
    assert_eq!(&body[..6], b"Hello ");
    assert_eq!(&body[6..8], &[0x1B, 0x28]);
    assert_eq!(gsm7::decode(body), "Hello {world} €");
}

#[test]
fn a_non_gsm_text_goes_as_ucs2_with_data_coding_8() {
    let pdus = submits("2222", &sms("+33612345678", "Привет 👋"), SmppSplit::Udh).unwrap();
    assert_eq!(pdus.len(), 1);
    assert_eq!(u8::from(pdus[0].data_coding), 8);
    let body = pdus[0].short_message().as_ref();
    assert_eq!(body, ucs2("Привет 👋").as_slice());
}

#[test]
fn a_long_text_is_split_by_udh_sar_or_payload() {
    let text = "x".repeat(400);
    let udh = submits("2222", &sms("+33612345678", &text), SmppSplit::Udh).unwrap();
    assert_eq!(udh.len(), 3);
    for (i, p) in udh.iter().enumerate() {
        assert_eq!(u8::from(p.esm_class) & 0x40, 0x40);
        let body = p.short_message().as_ref();
        assert_eq!(&body[..6], &[5, 0, 3, 42, 3, i as u8 + 1]);
        assert!(body.len() <= 6 + 153);
    }
    let sar = submits("2222", &sms("+33612345678", &text), SmppSplit::Sar).unwrap();
    assert_eq!(sar.len(), 3);
    let tags: Vec<_> = sar[2].tlvs().iter().map(|t| t.value().cloned()).collect();
    assert!(tags.contains(&Some(TlvValue::SarMsgRefNum(42))));
    assert!(tags.contains(&Some(TlvValue::SarTotalSegments(3))));
    assert!(tags.contains(&Some(TlvValue::SarSegmentSeqnum(3))));
    assert_eq!(u8::from(sar[0].esm_class), 0);
    let payload = submits("2222", &sms("+33612345678", &text), SmppSplit::Payload).unwrap();
    assert_eq!(payload.len(), 1);
    assert!(payload[0].short_message().as_ref().is_empty());
    assert!(matches!(
        payload[0].tlvs()[0].value(),
        Some(TlvValue::MessagePayload(p)) if p.value.as_ref().len() == 400
    ));
}

#[test]
fn a_receipt_text_is_read_in_any_case_and_order() {
    let r = receipt_text(
        "id:0123abc sub:001 dlvrd:001 submit date:2612011000 done date:2612011001 stat:DELIVRD err:000 text:Hello",
    );
    assert_eq!(r.id.as_deref(), Some("0123abc"));
    assert_eq!(r.stat.as_deref(), Some("DELIVRD"));
    assert_eq!(r.err.as_deref(), Some("000"));
    let r = receipt_text("ID:77 Stat:undeliv Err:001");
    assert_eq!(r.id.as_deref(), Some("77"));
    assert_eq!(r.stat.as_deref(), Some("UNDELIV"));
    assert_eq!(receipt_status("DELIVRD"), DeliveryStatus::Delivered);
    assert_eq!(receipt_status("UNDELIV"), DeliveryStatus::FailedPermanent);
    assert_eq!(receipt_status("REJECTD"), DeliveryStatus::FailedPermanent);
    assert_eq!(receipt_status("EXPIRED"), DeliveryStatus::FailedTemporary);
    assert_eq!(receipt_status("ENROUTE"), DeliveryStatus::Pending);
}

fn deliver(esm: u8, dc: u8, body: &[u8]) -> DeliverSm {
    DeliverSm::builder()
        .source_addr_ton(Ton::International)
        .source_addr_npi(Npi::Isdn)
        .source_addr(COctetString::from_string("33612345678".into()).unwrap())
        .dest_addr_ton(Ton::NetworkSpecific)
        .destination_addr(COctetString::from_string("2223".into()).unwrap())
        .esm_class(EsmClass::from(esm))
        .data_coding(DataCoding::from(dc))
        .short_message(OctetString::from_slice(body).unwrap())
        .build()
}

#[test]
fn a_phone_message_becomes_a_deliver_part_for_its_short_code() {
    let codes = vec!["2222".to_string(), "2223".to_string()];
    let septets = gsm7::encode("Oui {merci}").unwrap();
    match incoming(&deliver(0, 0, &septets), &codes, now()).unwrap() {
        Incoming::Mo {
            short_code,
            deliver,
        } => {
            assert_eq!(short_code, "2223");
            assert_eq!(deliver.originator.to_string(), "+33612345678");
            assert_eq!(deliver.user_data.text.as_deref(), Some("Oui {merci}"));
            assert!(deliver.user_data.udh.is_none());
        }
        other => panic!("{other:?}"),
    }
    // UCS-2 with a UDH: part 2 of 3, reference 7.
    let mut body = vec![5, 0, 3, 7, 3, 2];
    body.extend(ucs2("да"));
    match incoming(&deliver(0x40, 8, &body), &codes, now()).unwrap() {
        Incoming::Mo { deliver, .. } => {
            assert_eq!(deliver.user_data.text.as_deref(), Some("да"));
            let c = deliver.user_data.udh.unwrap().concat.unwrap();
            assert_eq!((c.reference, c.total, c.seq), (7, 3, 2));
        }
        other => panic!("{other:?}"),
    }
    // SAR TLVs.
    let mut pdu = deliver(0, 0, &gsm7::encode("abc").unwrap());
    pdu.push_tlv(MessageDeliveryRequestTlvValue::SarMsgRefNum(300));
    pdu.push_tlv(MessageDeliveryRequestTlvValue::SarTotalSegments(2));
    pdu.push_tlv(MessageDeliveryRequestTlvValue::SarSegmentSeqnum(1));
    match incoming(&pdu, &codes, now()).unwrap() {
        Incoming::Mo { deliver, .. } => {
            let c = deliver.user_data.udh.unwrap().concat.unwrap();
            assert_eq!((c.reference, c.total, c.seq), (300, 2, 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_receipt_finds_its_message_id_from_the_tlvs_or_the_text() {
    let codes = vec!["2222".to_string()];
    let text = b"id:abc123 sub:001 dlvrd:001 submit date:2612011000 done date:2612011001 stat:UNDELIV err:001 text:x";
    match incoming(&deliver(0x04, 0, text), &codes, now()).unwrap() {
        Incoming::Receipt {
            message_id,
            status,
            recipient,
            error,
            ..
        } => {
            assert_eq!(message_id, "abc123");
            assert_eq!(status, DeliveryStatus::FailedPermanent);
            assert_eq!(recipient, "+33612345678");
            assert_eq!(error.as_deref(), Some("001"));
        }
        other => panic!("{other:?}"),
    }
    let mut pdu = deliver(0x04, 0, b"stat:UNDELIV");
    pdu.push_tlv(MessageDeliveryRequestTlvValue::ReceiptedMessageId(
        COctetString::from_string("XYZ".into()).unwrap(),
    ));
    pdu.push_tlv(MessageDeliveryRequestTlvValue::MessageState(
        MessageState::Delivered,
    ));
    match incoming(&pdu, &codes, now()).unwrap() {
        Incoming::Receipt {
            message_id, status, ..
        } => {
            assert_eq!(message_id, "XYZ");
            assert_eq!(status, DeliveryStatus::Delivered);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        incoming(&deliver(0x04, 0, b"stat:DELIVRD"), &codes, now()),
        Err(ReadError::NoMessageId)
    );
}

#[test]
fn garbage_in_a_deliver_sm_is_an_error_not_a_panic() {
    let codes = vec!["2222".to_string()];
    assert!(incoming(&deliver(0x40, 0, &[]), &codes, now()).is_err());
    assert!(incoming(&deliver(0x40, 0, &[9, 0, 3]), &codes, now()).is_err());
    assert!(incoming(&deliver(0, 8, &[0, 65, 0]), &codes, now()).is_err());
}

#[test]
fn busy_answers_wait_and_refusals_fail_with_a_reason() {
    assert_eq!(verdict(CommandStatus::EsmeRok), Verdict::Accepted);
    assert_eq!(verdict(CommandStatus::EsmeRthrottled), Verdict::Later);
    assert_eq!(verdict(CommandStatus::EsmeRmsgqful), Verdict::Later);
    assert!(matches!(
        verdict(CommandStatus::EsmeRsyserr),
        Verdict::Transient(_)
    ));
    match verdict(CommandStatus::EsmeRinvdstadr) {
        Verdict::Permanent(r) => {
            assert!(r.contains("destination") && r.contains("0x0000000B"), "{r}")
        }
        other => panic!("{other:?}"),
    }
}

/// An SMSC hands a deliver_sm for any short code of the account to any of
/// its binds: one for 2223 that arrives on the bind of 2222 is 2223's when
/// the pool has 2223; only a destination no bind serves stands for this
/// bind's first code.
#[test]
fn a_phone_message_for_another_binds_code_keeps_its_code() {
    let mine = vec!["2222".to_string()];
    let pool = |dest: &str| {
        ["2222", "2223"]
            .iter()
            .find(|c| same_code(c, dest))
            .map(|c| c.to_string())
    };
    let pdu = deliver(0, 0, &gsm7::encode("hola").unwrap());
    match incoming_in_pool(&pdu, &mine, &pool, now()).unwrap() {
        Incoming::Mo { short_code, .. } => assert_eq!(short_code, "2223"),
        other => panic!("{other:?}"),
    }
    match incoming_in_pool(&pdu, &mine, &|_| None, now()).unwrap() {
        Incoming::Mo { short_code, .. } => assert_eq!(short_code, "2222"),
        other => panic!("{other:?}"),
    }
}
