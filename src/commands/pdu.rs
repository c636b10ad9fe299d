//! `smsgate pdu decode|encode`: the codec from the command line, for
//! technicians and for checking the codec against other implementations.
//!
//! Output is JSON on stdout (one object for `decode`, one array for
//! `encode`); errors go to stderr with exit code 2. Owns only the JSON
//! schema; all SMS knowledge lives in [`crate::sms`].

use serde_json::{json, Map, Value};

use crate::sms::{
    decode_hex, encode_submit, Address, Deliver, Encoding, Pdu, StatusReport, Submit,
    SubmitOptions, UserData,
};

/// Exit code for bad input (bad hex, truncated PDU, unencodable text).
const EXIT_BAD_INPUT: i32 = 2;

/// Decodes `hex` and prints one JSON object. Returns the exit code.
pub fn decode(hex: &str, with_smsc: bool) -> i32 {
    match decode_hex(hex, with_smsc) {
        Ok((smsc, pdu)) => {
            println!("{}", Value::Object(to_json(smsc.as_ref(), &pdu)));
            0
        }
        Err(e) => {
            eprintln!("pdu decode: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// Encodes `text` for `to` and prints a JSON array, one object per part.
pub fn encode(to: &str, text: &str, report: bool, smsc: Option<&str>, reference: u8) -> i32 {
    let opts = SubmitOptions {
        status_report: report,
        validity: None,
        message_ref: 0,
        smsc: smsc.map(str::to_string),
    };
    match encode_submit(to, text, &opts, reference) {
        Ok(parts) => {
            let arr: Vec<Value> = parts
                .iter()
                .map(|p| json!({"pdu": p.hex, "tpdu_length": p.tpdu_length}))
                .collect();
            println!("{}", Value::Array(arr));
            0
        }
        Err(e) => {
            eprintln!("pdu encode: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// The fixed decode schema; keys that do not apply to a type are left out.
fn to_json(smsc: Option<&Address>, pdu: &Pdu) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("smsc".into(), json!(smsc.map(|a| a.to_string())));
    match pdu {
        Pdu::Deliver(d) => deliver_json(d, &mut m),
        Pdu::Submit(s) => submit_json(s, &mut m),
        Pdu::StatusReport(r) => status_report_json(r, &mut m),
    }
    m
}

fn address_json(key: &str, a: &Address, m: &mut Map<String, Value>) {
    m.insert(key.into(), json!(a.to_string()));
    m.insert("address_type".into(), json!(a.kind.as_str()));
}

fn user_data_json(dcs: u8, ud: &UserData, m: &mut Map<String, Value>) {
    let encoding = Encoding::from_dcs(dcs);
    m.insert("dcs".into(), json!(dcs));
    m.insert("encoding".into(), json!(encoding.as_str()));
    let udh = ud.udh.as_ref().map(|u| {
        json!({"concat": u.concat.map(|c| json!({
            "ref": c.reference, "part": c.seq, "total": c.total
        }))})
    });
    m.insert("udh".into(), json!(udh));
    m.insert("text".into(), json!(ud.text));
    if encoding == Encoding::Eightbit {
        m.insert("data_hex".into(), json!(hex::encode_upper(&ud.data)));
    }
}

fn deliver_json(d: &Deliver, m: &mut Map<String, Value>) {
    m.insert("type".into(), json!("sms-deliver"));
    address_json("from", &d.originator, m);
    m.insert("timestamp".into(), json!(d.scts.to_rfc3339()));
    m.insert("pid".into(), json!(d.pid));
    user_data_json(d.dcs, &d.user_data, m);
}

fn submit_json(s: &Submit, m: &mut Map<String, Value>) {
    m.insert("type".into(), json!("sms-submit"));
    address_json("to", &s.destination, m);
    m.insert("message_ref".into(), json!(s.message_ref));
    m.insert(
        "status_report_request".into(),
        json!(s.status_report_request),
    );
    m.insert("validity_minutes".into(), json!(s.validity_minutes()));
    m.insert("pid".into(), json!(s.pid));
    user_data_json(s.dcs, &s.user_data, m);
}

fn status_report_json(r: &StatusReport, m: &mut Map<String, Value>) {
    m.insert("type".into(), json!("sms-status-report"));
    address_json("recipient", &r.recipient, m);
    m.insert("timestamp".into(), json!(r.scts.to_rfc3339()));
    m.insert(
        "discharge_time".into(),
        json!(r.discharge_time.to_rfc3339()),
    );
    m.insert("message_ref".into(), json!(r.message_ref));
    m.insert("status".into(), json!(r.status));
    m.insert("status_text".into(), json!(r.classification().as_str()));
    if let Some(pid) = r.pid {
        m.insert("pid".into(), json!(pid));
    }
    match &r.user_data {
        Some(ud) => user_data_json(r.dcs.unwrap_or(0), ud, m),
        None => {
            if let Some(dcs) = r.dcs {
                m.insert("dcs".into(), json!(dcs));
                m.insert("encoding".into(), json!(Encoding::from_dcs(dcs).as_str()));
            }
            m.insert("udh".into(), Value::Null);
            m.insert("text".into(), Value::Null);
        }
    }
}
