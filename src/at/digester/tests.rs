//! Fixture tests of the digester: real modem transcripts (Huawei E173 and
//! E3131, SIMCom SIM800, Quectel EC25, manual examples), each fed whole
//! and byte by byte.

use super::*;
use crate::at::commands::{
    AtCommand, IdentificationInfo, ListMessages, MessageStat, PduHex, ReadMessage,
    RegistrationQuery, SendPdu, SignalQualityQuery,
};
use crate::at::registration::{RegStatus, Registration};
use crate::at::{CmsError, PinStatus};

/// Feeds `input` whole and byte by byte; both must give the same events.
fn run(in_flight: Option<InFlight>, input: &[u8]) -> Vec<Event> {
    let whole = collect(in_flight.clone(), std::iter::once(input));
    let bytewise = collect(in_flight, input.chunks(1));
    assert_eq!(whole, bytewise, "chunking changed the events");
    whole
}

fn collect<'a>(in_flight: Option<InFlight>, chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Event> {
    let mut d = Digester::new();
    if let Some(f) = in_flight {
        d.expect(f);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(ev) = d.next_event() {
            out.push(ev);
        }
    }
    out
}

fn response(lines: &[&str], result: FinalResult) -> Event {
    Event::Response(Response {
        lines: lines.iter().map(|s| s.to_string()).collect(),
        result,
    })
}

const PDU_A: &str = "07918190050000F0040B918190553412F40000621111713523040461F1980C";
const PDU_B: &str = "07918190050000F0040B918190553412F400006211117135330402C834";

#[test]
fn csq_with_echo_crcrlf_sim800() {
    let ev = run(
        Some(SignalQualityQuery.in_flight()),
        b"AT+CSQ\r\r\n+CSQ: 21,0\r\n\r\nOK\r\n",
    );
    assert_eq!(ev, vec![response(&["+CSQ: 21,0"], FinalResult::Ok)]);
}

#[test]
fn ati_huawei_e173_with_rssi_mode_boot_noise() {
    let input = b"ATI\r\r\nManufacturer: huawei\r\n\r\n^RSSI:14\r\nModel: E173\r\n\
        ^BOOT:20952851,0,0,0,72\r\nRevision: 11.126.85.00.209\r\n^MODE:5,4\r\n\
        IMEI: 351234567890123\r\n+GCAP: +CGSM,+DS,+ES\r\n\r\nOK\r\n";
    let ev = run(Some(IdentificationInfo.in_flight()), input);
    assert_eq!(
        ev,
        vec![
            Event::Urc(Urc::HuaweiRssi(14)),
            Event::Urc(Urc::HuaweiBoot("20952851,0,0,0,72".into())),
            Event::Urc(Urc::HuaweiMode {
                mode: 5,
                submode: Some(4)
            }),
            response(
                &[
                    "Manufacturer: huawei",
                    "Model: E173",
                    "Revision: 11.126.85.00.209",
                    "IMEI: 351234567890123",
                    "+GCAP: +CGSM,+DS,+ES",
                ],
                FinalResult::Ok
            ),
        ]
    );
}

#[test]
fn cmgl_response_huawei_e173_with_cmti_in_the_middle() {
    let input = format!(
        "AT+CMGL=4\r\r\n+CMGL: 0,1,,24\r\n{PDU_A}\r\n+CMTI: \"SM\",3\r\n\
         +CMGL: 3,0,,22\r\n^RSSI:17\r\n{PDU_B}\r\n\r\nOK\r\n"
    );
    let cmd = ListMessages(MessageStat::All);
    let ev = run(Some(cmd.in_flight()), input.as_bytes());
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(
        ev[0],
        Event::Urc(Urc::MessageStored {
            mem: "SM".into(),
            index: 3
        })
    );
    assert_eq!(ev[1], Event::Urc(Urc::HuaweiRssi(17)));
    let Some(Event::Response(r)) = ev.get(2).cloned() else {
        panic!("{ev:?}")
    };
    let list = cmd.parse_response(r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.iter().map(|m| m.index).collect::<Vec<_>>(), vec![0, 3]);
    assert_eq!(list[1].pdu, PDU_B);
}

#[test]
fn cmgr_response_pdu_line_follows_quectel_ec25() {
    let input = format!("+CMGR: 0,,24\r\n{PDU_A}\r\n\r\nOK\r\n");
    let cmd = ReadMessage(2);
    let ev = run(Some(cmd.in_flight()), input.as_bytes());
    assert_eq!(
        ev,
        vec![response(&["+CMGR: 0,,24", PDU_A], FinalResult::Ok)]
    );
}

#[test]
fn cmgs_prompt_then_creg_urc_simcom_sim800() {
    let pdu = PduHex::parse("0011000B916407281553F80000AA0AE8329BFD4697D9EC37");
    let cmd = SendPdu::new(pdu.unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let mut input = b"AT+CMGS=23\r\r\n> \r\n+CREG: 1\r\n".to_vec();
    input.extend_from_slice(&cmd.body());
    input.extend_from_slice(b"\r\n+CMGS: 12\r\n\r\nOK\r\n");
    let ev = run(Some(cmd.in_flight()), &input);
    let reg = Registration {
        n: None,
        stat: RegStatus::Home,
        lac: None,
        ci: None,
        act: None,
    };
    assert_eq!(
        ev,
        vec![
            Event::Prompt,
            Event::Urc(Urc::Registration(reg)),
            response(&["+CMGS: 12"], FinalResult::Ok),
        ]
    );
}

#[test]
fn urc_inside_cmgs_prompt_simcom() {
    // The prompt arrives with no line end; the URC follows on the same line
    // position, before the driver wrote anything.
    let cmd = SendPdu::new(PduHex::from_octets(&[0, 1, 2])).unwrap_or_else(|e| panic!("{e}"));
    let ev = run(Some(cmd.in_flight()), b"\r\n> +CMTI: \"SM\",1\r\n");
    assert_eq!(
        ev,
        vec![
            Event::Prompt,
            Event::Urc(Urc::MessageStored {
                mem: "SM".into(),
                index: 1
            })
        ]
    );
}

#[test]
fn cmgs_rejected_before_prompt_huawei_e3131() {
    let cmd = SendPdu::new(PduHex::from_octets(&[0, 1, 2])).unwrap_or_else(|e| panic!("{e}"));
    let ev = run(Some(cmd.in_flight()), b"AT+CMGS=2\r\r\n+CMS ERROR: 331\r\n");
    assert_eq!(
        ev,
        vec![response(&[], FinalResult::Cms(CmsError::NoNetworkService))]
    );
}

#[test]
fn prompt_without_space_is_still_a_prompt() {
    let cmd = SendPdu::new(PduHex::from_octets(&[0, 1, 2])).unwrap_or_else(|e| panic!("{e}"));
    let ev = run(
        Some(cmd.in_flight()),
        b"\r\n>0001021A\r\n+CMGS: 7\r\nOK\r\n",
    );
    assert_eq!(
        ev,
        vec![Event::Prompt, response(&["+CMGS: 7"], FinalResult::Ok)]
    );
}

#[test]
fn creg_is_a_response_when_queried_and_a_urc_otherwise() {
    let ev = run(
        Some(RegistrationQuery.in_flight()),
        b"\r\n+CREG: 1,1\r\n\r\nOK\r\n",
    );
    assert_eq!(ev, vec![response(&["+CREG: 1,1"], FinalResult::Ok)]);
    let ev = run(None, b"\r\n+CREG: 1,1\r\n");
    let reg = Registration {
        n: Some(1),
        stat: RegStatus::Home,
        lac: None,
        ci: None,
        act: None,
    };
    assert_eq!(ev, vec![Event::Urc(Urc::Registration(reg))]);
    let ev = run(
        Some(SignalQualityQuery.in_flight()),
        b"+CREG: 5\r\n+CSQ: 9,99\r\nOK\r\n",
    );
    assert!(
        matches!(ev.first(), Some(Event::Urc(Urc::Registration(_)))),
        "{ev:?}"
    );
}

#[test]
fn cmt_two_line_urc_quectel_ec25() {
    let input = format!("\r\n+CMT: ,24\r\n{PDU_A}\r\n");
    let ev = run(None, input.as_bytes());
    assert_eq!(
        ev,
        vec![Event::Urc(Urc::MessageReceived {
            alpha: None,
            length: 24,
            pdu: PDU_A.into()
        })]
    );
}

#[test]
fn cds_two_line_urc_sim800() {
    let pdu = "07919730071111F106420A91907135553290101161457400901011614574000";
    let input = format!("\r\n+CDS: 25\r\n{pdu}0\r\n");
    let ev = run(None, input.as_bytes());
    assert_eq!(
        ev,
        vec![Event::Urc(Urc::StatusReport {
            length: 25,
            pdu: format!("{pdu}0")
        })]
    );
}

#[test]
fn cmt_inside_a_response_keeps_both_apart() {
    let input = format!("+CMT: \"\",24\r\n{PDU_A}\r\n+CSQ: 10,0\r\nOK\r\n");
    let ev = run(Some(SignalQualityQuery.in_flight()), input.as_bytes());
    assert!(
        matches!(ev.first(), Some(Event::Urc(Urc::MessageReceived { .. }))),
        "{ev:?}"
    );
    assert_eq!(ev.get(1), Some(&response(&["+CSQ: 10,0"], FinalResult::Ok)));
}

#[test]
fn garbage_then_ok_after_power_up_huawei_e3131() {
    let ev = run(
        Some(InFlight::new(b"AT\r")),
        b"\xff\xfe\x80\r\n\0\0\r\nAT\r\r\nOK\r\n",
    );
    assert_eq!(
        ev,
        vec![
            Event::Garbage(b"\xff\xfe\x80".to_vec()),
            Event::Garbage(b"\0\0".to_vec()),
            response(&[], FinalResult::Ok),
        ]
    );
}

#[test]
fn boot_sequence_sim800_bare_lf_and_bare_cr() {
    let ev = run(
        None,
        b"RDY\n+CFUN: 1\r+CPIN: READY\r\n\r\nCall Ready\r\nSMS Ready\r\n",
    );
    assert_eq!(
        ev,
        vec![
            Event::Urc(Urc::Ready),
            Event::Urc(Urc::Functionality(1)),
            Event::Urc(Urc::Pin(PinStatus::Ready)),
            Event::Urc(Urc::Other("Call Ready".into())),
            Event::Urc(Urc::Other("SMS Ready".into())),
        ]
    );
}

#[test]
fn late_ok_after_timeout_is_stray() {
    let mut d = Digester::new();
    d.expect(SignalQualityQuery.in_flight());
    d.feed(b"AT+CSQ\r\r\n+CSQ: 5,");
    d.command_done();
    d.feed(b"0\r\nOK\r\n");
    assert_eq!(
        d.next_event(),
        Some(Event::Urc(Urc::Other("+CSQ: 5,0".into())))
    );
    assert_eq!(d.next_event(), Some(Event::Stray(FinalResult::Ok)));
    assert_eq!(d.next_event(), None);
    assert!(!d.is_busy());
}

#[test]
fn command_not_support_huawei_e173() {
    let ev = run(
        Some(InFlight::new(b"AT^FOO\r")),
        b"\r\nCOMMAND NOT SUPPORT\r\n",
    );
    assert_eq!(ev, vec![response(&[], FinalResult::CommandNotSupported)]);
}

#[test]
fn endless_line_is_bounded_and_reported() {
    let mut input = vec![b'A'; MAX_LINE * 2 + 10];
    input.extend_from_slice(b"\r\nRING\r\n");
    let ev = run(None, &input);
    assert_eq!(
        ev,
        vec![Event::Garbage(vec![b'A'; MAX_LINE]), Event::Urc(Urc::Ring),]
    );
    let mut d = Digester::new();
    for _ in 0..100 {
        d.feed(&[b'x'; 1000]);
    }
    assert!(d.buf.len() < MAX_LINE);
}

#[test]
fn response_lines_are_bounded() {
    let mut d = Digester::new();
    d.expect(InFlight::new(b"ATI\r"));
    for _ in 0..(MAX_RESPONSE_LINES + 5) {
        d.feed(b"line\r\n");
    }
    d.feed(b"OK\r\n");
    let mut garbage = 0;
    let mut lines = 0;
    while let Some(ev) = d.next_event() {
        match ev {
            Event::Garbage(_) => garbage += 1,
            Event::Response(r) => lines = r.lines.len(),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((garbage, lines), (5, MAX_RESPONSE_LINES));
}

#[test]
fn boot_urcs_quectel_ec25_during_a_query() {
    let input = b"\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n+CSQ: 18,99\r\n\
        +QIND: PB DONE\r\n\r\nOK\r\n\r\n+CMTI: \"ME\",0\r\n";
    let ev = run(Some(SignalQualityQuery.in_flight()), input);
    assert_eq!(
        ev,
        vec![
            Event::Urc(Urc::Pin(PinStatus::Ready)),
            Event::Urc(Urc::Other("+QIND: SMS DONE".into())),
            Event::Urc(Urc::Other("+QIND: PB DONE".into())),
            response(&["+CSQ: 18,99"], FinalResult::Ok),
            Event::Urc(Urc::MessageStored {
                mem: "ME".into(),
                index: 0
            }),
        ]
    );
}

#[test]
fn cme_error_verbose_sim800_cmee2() {
    let ev = run(
        Some(crate::at::commands::PinQuery.in_flight()),
        b"AT+CPIN?\r\r\n+CME ERROR: SIM not inserted\r\n",
    );
    assert_eq!(
        ev,
        vec![response(
            &[],
            FinalResult::Cme(crate::at::CmeError::SimNotInserted)
        )]
    );
}

/// The whole driver loop, as the `Modem` actor runs it: expect, write,
/// feed what the modem (here a SIMCom SIM800 transcript) answers, route
/// events, parse the typed answer.
#[test]
fn driver_walkthrough_sim800_send_then_receive() {
    let mut d = Digester::new();
    let mut urcs = Vec::new();
    let mut wire = Vec::new();

    // 1. Send: expect + write the command; the modem prompts.
    let pdu = PduHex::parse("0011000B916407281553F80000AA0AE8329BFD4697D9EC37");
    let send =
        SendPdu::new(pdu.unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    d.expect(send.in_flight());
    wire.extend_from_slice(&send.to_bytes());
    d.feed(b"AT+CMGS=23\r\r\n> ");
    assert_eq!(d.next_event(), Some(Event::Prompt));
    // 2. On the prompt the driver writes the body; the modem echoes it.
    wire.extend_from_slice(&send.body());
    d.feed(&send.body());
    d.feed(b"\r\n\r\n+CMTI: \"SM\",4\r\n\r\n+CMGS: 12\r\n\r\nOK\r\n");
    let mut mr = None;
    while let Some(ev) = d.next_event() {
        match ev {
            Event::Urc(u) => urcs.push(u),
            Event::Response(r) => mr = Some(send.parse_response(r)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(mr, Some(Ok(12)));
    assert_eq!(
        urcs,
        vec![Urc::MessageStored {
            mem: "SM".into(),
            index: 4
        }]
    );
    assert_eq!(wire.iter().filter(|b| **b == 0x1A).count(), 1);

    // 3. The URC said index 4: read it.
    let read = ReadMessage(4);
    d.expect(read.in_flight());
    d.feed(format!("AT+CMGR=4\r\r\n+CMGR: 0,,24\r\n{PDU_A}\r\n\r\nOK\r\n").as_bytes());
    let Some(Event::Response(r)) = d.next_event() else {
        panic!("no response")
    };
    let msg = read.parse_response(r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(msg.map(|m| (m.index, m.pdu)), Some((4, PDU_A.to_string())));
    assert!(!d.is_busy());
}

/// Captured from a Huawei E3131 (`tests/fixtures/at/`): `AT+CMGL=4` with
/// `^BOOT`, `^RSSI`, `^DSFLOWRPT` and `^MODE` interleaved.
#[test]
fn cmgl_response_huawei_e3131_fixture_file() {
    let input = include_bytes!("../../../tests/fixtures/at/huawei_e3131_cmgl_with_noise.txt");
    let cmd = ListMessages(MessageStat::All);
    let ev = run(Some(cmd.in_flight()), input);
    let urcs = ev.iter().filter(|e| matches!(e, Event::Urc(_))).count();
    assert_eq!(urcs, 4, "{ev:?}");
    assert!(matches!(
        ev.last(),
        Some(Event::Urc(Urc::HuaweiMode { .. }))
    ));
    let Some(Event::Response(r)) = ev.iter().find(|e| matches!(e, Event::Response(_))).cloned()
    else {
        panic!("no response in {ev:?}")
    };
    let list = cmd.parse_response(r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].pdu.as_str(), list[1].length), (PDU_A, 22));
}

fn ussd(status: u8, text: Option<&str>, dcs: Option<u8>) -> Event {
    Event::Urc(Urc::Ussd {
        status,
        text: text.map(str::to_owned),
        dcs,
    })
}

/// `AT+CUSD=1` answers `OK` at once; the `+CUSD:` comes on its own later
/// (TS 27.007 §7.15).
#[test]
fn cusd_after_ok_sim800() {
    use crate::at::commands::UssdRequest;
    let cmd = UssdRequest::new("*123#", false).unwrap_or_else(|e| panic!("{e}"));
    let ev = run(
        Some(cmd.in_flight()),
        b"AT+CUSD=1,\"*123#\",15\r\r\nOK\r\n\r\n+CUSD: 0,\"Su saldo es RD$ 25.00\",15\r\n",
    );
    assert_eq!(
        ev,
        vec![
            response(&[], FinalResult::Ok),
            ussd(0, Some("Su saldo es RD$ 25.00"), Some(15)),
        ]
    );
}

/// A menu whose text spans lines (python-gsmmodem issue #20): the lines
/// are read until the quoted string closes, and joined with `\n`; a URC
/// before and after stays separate.
#[test]
fn cusd_menu_over_several_lines() {
    let ev = run(
        None,
        b"\r\n+CMTI: \"SM\",1\r\n\r\n+CUSD: 1,\"1. Saldo\r\n2. Paquetes\r\n3. Salir\",15\r\n\
          \r\n+CMTI: \"SM\",2\r\n",
    );
    assert_eq!(
        ev,
        vec![
            Event::Urc(Urc::MessageStored {
                mem: "SM".into(),
                index: 1
            }),
            ussd(1, Some("1. Saldo\n2. Paquetes\n3. Salir"), Some(15)),
            Event::Urc(Urc::MessageStored {
                mem: "SM".into(),
                index: 2
            }),
        ]
    );
}

/// While a command is in flight, a multi-line `+CUSD:` is still a URC and
/// its lines never become the command's information lines.
#[test]
fn multi_line_cusd_during_a_command() {
    let ev = run(
        Some(SignalQualityQuery.in_flight()),
        b"+CUSD: 1,\"1. Saldo\r\n2. Salir\",15\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
    );
    assert_eq!(
        ev,
        vec![
            ussd(1, Some("1. Saldo\n2. Salir"), Some(15)),
            response(&["+CSQ: 20,99"], FinalResult::Ok),
        ]
    );
}

/// A `+CUSD:` string that never closes does not swallow the next final
/// result: it is handed over verbatim and the `OK` ends the command.
#[test]
fn unclosed_cusd_string_gives_way_to_the_final_result() {
    let ev = run(
        Some(InFlight::new(b"AT+CUSD=2\r")),
        b"+CUSD: 1,\"broken\r\nmore\r\nOK\r\n",
    );
    assert_eq!(
        ev,
        vec![
            Event::Urc(Urc::Other("+CUSD: 1,\"broken\nmore".into())),
            response(&[], FinalResult::Ok),
        ]
    );
}

/// Status-only forms and UCS-2 (dcs 72): the text is kept as printed.
#[test]
fn cusd_status_only_and_ucs2_hex() {
    let ev = run(
        None,
        b"+CUSD: 4\r\n+CUSD: 2\r\n+CUSD: 0,\"00410042\",72\r\n",
    );
    assert_eq!(
        ev,
        vec![
            ussd(4, None, None),
            ussd(2, None, None),
            ussd(0, Some("00410042"), Some(72)),
        ]
    );
}
