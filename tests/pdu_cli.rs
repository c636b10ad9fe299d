//! `smsgate pdu decode|encode` from the outside: runs the built binary and
//! checks the JSON schema, the exit codes and an encode/decode round trip.

use std::process::{Command, Output};

use serde_json::Value;

fn smsgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(args)
        .output()
        .expect("run smsgate")
}

fn decode(hex: &str) -> Value {
    let out = smsgate(&["pdu", "decode", hex]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.trim_end().lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn decodes_a_deliver() {
    // dreamfabric.com SMS-DELIVER walk-through.
    let v = decode("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37");
    assert_eq!(v["type"], "sms-deliver");
    assert_eq!(v["smsc"], "+27381000015");
    assert_eq!(v["from"], "27838890001");
    assert_eq!(v["address_type"], "unknown");
    assert_eq!(v["timestamp"], "1999-03-29T15:16:59+02:00");
    assert_eq!(v["pid"], 0);
    assert_eq!(v["dcs"], 0);
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["udh"], Value::Null);
    assert_eq!(v["text"], "hellohello");
    for absent in ["to", "recipient", "message_ref", "status", "data_hex"] {
        assert!(v.get(absent).is_none(), "{absent} must be omitted");
    }
}

#[test]
fn decodes_a_concatenated_deliver() {
    let v = decode("0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20");
    assert_eq!(v["udh"]["concat"]["ref"], 0xC3);
    assert_eq!(v["udh"]["concat"]["part"], 1);
    assert_eq!(v["udh"]["concat"]["total"], 1);
}

#[test]
fn decodes_a_submit() {
    // diafaan.com SMS-SUBMIT with a report request and 3 days' validity.
    let v = decode("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701");
    assert_eq!(v["type"], "sms-submit");
    assert_eq!(v["to"], "+31628870634");
    assert_eq!(v["address_type"], "international");
    assert_eq!(v["message_ref"], 13);
    assert_eq!(v["status_report_request"], true);
    assert_eq!(v["validity_minutes"], 3 * 24 * 60);
    assert_eq!(v["text"], "www.diafaan.com");
    assert!(v.get("from").is_none() && v.get("timestamp").is_none());
}

#[test]
fn decodes_an_8bit_submit() {
    let v = decode("0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421");
    assert_eq!(v["encoding"], "8bit");
    assert_eq!(v["text"], Value::Null);
    assert_eq!(v["data_hex"], "48656C6C6F20776F726C6421");
}

#[test]
fn decodes_a_status_report() {
    let v = decode("0006D60B911326880736F4111011719551401110117195714000");
    assert_eq!(v["type"], "sms-status-report");
    assert_eq!(v["smsc"], Value::Null);
    assert_eq!(v["recipient"], "+31628870634");
    assert_eq!(v["message_ref"], 214);
    assert_eq!(v["status"], 0);
    assert_eq!(v["status_text"], "delivered");
    assert_eq!(v["timestamp"], "2011-01-11T17:59:15+01:00");
    assert_eq!(v["discharge_time"], "2011-01-11T17:59:17+01:00");
}

#[test]
fn encode_then_decode_round_trips() {
    let text = "¡Hola! Mensaje largo con emoji 😀 y acentos: á é í ó ú. ".repeat(3);
    let out = smsgate(&[
        "pdu",
        "encode",
        "--to",
        "+18095551234",
        "--text",
        &text,
        "--report",
        "--smsc",
        "+18090000000",
        "--reference",
        "77",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parts: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parts = parts.as_array().unwrap();
    assert!(parts.len() > 1);
    let mut joined = String::new();
    for (i, p) in parts.iter().enumerate() {
        let hex = p["pdu"].as_str().unwrap();
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        // "07" + 7 octets of SMSC field precede the TPDU.
        assert_eq!(
            p["tpdu_length"].as_u64().unwrap() as usize,
            hex.len() / 2 - 8
        );
        let v = decode(hex);
        assert_eq!(v["type"], "sms-submit");
        assert_eq!(v["smsc"], "+18090000000");
        assert_eq!(v["to"], "+18095551234");
        assert_eq!(v["status_report_request"], true);
        assert_eq!(v["encoding"], "ucs2");
        assert_eq!(v["udh"]["concat"]["ref"], 77);
        assert_eq!(v["udh"]["concat"]["part"], i + 1);
        assert_eq!(v["udh"]["concat"]["total"], parts.len());
        joined.push_str(v["text"].as_str().unwrap());
    }
    assert_eq!(joined, text);
}

#[test]
fn bad_hex_exits_2_with_a_message() {
    let out = smsgate(&["pdu", "decode", "07ZZ"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad hex"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn truncated_pdu_exits_2_with_a_message() {
    let out = smsgate(&[
        "pdu",
        "decode",
        "07917283010010F5040BC87238880900F100009930",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated at octet 21"), "{err}");
}

#[test]
fn bad_recipient_exits_2() {
    let out = smsgate(&["pdu", "encode", "--to", "+1809x", "--text", "hola"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad address"));
}
