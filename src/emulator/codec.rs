//! The emulator's use of the SMS codec: turning what a modem sends into what
//! a phone reads, and what a phone sends into PDUs a modem stores. Thin glue
//! over [`crate::sms`]; no state.

use chrono::{DateTime, FixedOffset};

use crate::sms::{
    self, Address, Deliver, Pdu, PduError, StatusReport, Submit, SubmitOptions, UserData,
};

/// Decodes a bare SMS-SUBMIT TPDU (no SMSC field).
pub fn decode_submit(tpdu: &[u8]) -> Result<Submit, PduError> {
    match sms::decode_pdu(tpdu, false)?.1 {
        Pdu::Submit(s) => Ok(s),
        _ => Err(PduError::UnsupportedMessageType(0)),
    }
}

/// Overwrites TP-MR (the second octet of an SMS-SUBMIT): the modem numbers
/// what it sends, whatever the DTE put there (TS 23.040 §9.2.3.6).
pub fn with_message_ref(mut tpdu: Vec<u8>, mr: u8) -> Vec<u8> {
    if let Some(b) = tpdu.get_mut(1) {
        *b = mr;
    }
    tpdu
}

/// The TPDU of a text-mode `AT+CMGS="DA"` with the `+CSMP` settings
/// (first octet, validity, PID, DCS). Text mode sends one SMS: a text that
/// needs more than one part is refused.
pub fn text_mode_submit(da: &str, text: &str, csmp: [u8; 4]) -> Result<Vec<u8>, PduError> {
    let opts = SubmitOptions {
        status_report: csmp[0] & 0x20 != 0,
        validity: (csmp[0] & 0x18 == 0x10).then(|| sms::relative_vp_minutes(csmp[1])),
        message_ref: 0,
        smsc: None,
    };
    let parts = sms::encode_submit(da, text, &opts, 0)?;
    if parts.len() != 1 {
        return Err(PduError::TooManyParts(parts.len()));
    }
    let bytes = sms::parse_hex(&parts[0].hex)?;
    let start = bytes.len() - parts[0].tpdu_length;
    Ok(bytes[start..].to_vec())
}

/// Text from `+CSCS="UCS2"` hex.
pub fn ucs2_hex_to_string(hex: &str) -> Option<String> {
    let bytes = hex::decode(hex.trim()).ok()?;
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// The fields text mode shows of a stored PDU (TS 27.005 §3.4.1).
pub struct TextView {
    pub address: String,
    /// Type of address: 145 international, 129 otherwise.
    pub toa: u8,
    /// `yy/MM/dd,hh:mm:ss±zz` (zz in quarter hours).
    pub scts: String,
    pub text: String,
    pub message_ref: u8,
    pub discharge: String,
    pub status: u8,
}

fn text_time(t: &DateTime<FixedOffset>) -> String {
    let q = t.offset().local_minus_utc() / 900;
    format!(
        "{}{}{:02}",
        t.format("%y/%m/%d,%H:%M:%S"),
        if q < 0 { '-' } else { '+' },
        q.abs()
    )
}

/// Decodes a stored PDU (with SMSC field) for text mode.
pub fn text_view(pdu: &[u8]) -> Option<TextView> {
    let (_, pdu) = sms::decode_pdu(pdu, true).ok()?;
    Some(match pdu {
        Pdu::Deliver(d) => TextView {
            toa: toa(&d.originator),
            address: d.originator.to_string(),
            scts: text_time(&d.scts),
            text: text_of(&d.user_data),
            message_ref: 0,
            discharge: String::new(),
            status: 0,
        },
        Pdu::StatusReport(r) => TextView {
            toa: toa(&r.recipient),
            address: r.recipient.to_string(),
            scts: text_time(&r.scts),
            text: String::new(),
            message_ref: r.message_ref,
            discharge: text_time(&r.discharge_time),
            status: r.status,
        },
        Pdu::Submit(s) => TextView {
            toa: toa(&s.destination),
            address: s.destination.to_string(),
            scts: String::new(),
            text: text_of(&s.user_data),
            message_ref: s.message_ref,
            discharge: String::new(),
            status: 0,
        },
    })
}

fn toa(a: &Address) -> u8 {
    if a.to_string().starts_with('+') {
        145
    } else {
        129
    }
}

/// The text of user data; 8-bit data shows as hex.
pub fn text_of(ud: &UserData) -> String {
    ud.text
        .clone()
        .unwrap_or_else(|| hex::encode_upper(&ud.data))
}

/// (reference, total, sequence) of a concatenated part.
pub fn concat_of(ud: &UserData) -> Option<(u16, u8, u8)> {
    let c = ud.udh.as_ref()?.concat.as_ref()?;
    Some((c.reference, c.total, c.seq))
}

fn smsc_address(smsc: &str) -> Result<Address, PduError> {
    Address::parse(smsc)
}

fn bytes_of(encoded: sms::EncodedPdu) -> Result<Vec<u8>, PduError> {
    sms::parse_hex(&encoded.hex)
}

/// The SMS-DELIVER a modem receives when another modem sent `submit`.
pub fn deliver_from_submit(
    submit: &Submit,
    origin: &str,
    now: DateTime<FixedOffset>,
    smsc: &str,
) -> Result<Vec<u8>, PduError> {
    let mut d = Deliver::new(
        Address::parse(origin)?,
        now,
        submit.encoding(),
        submit.user_data.clone(),
    );
    d.pid = submit.pid;
    d.dcs = submit.dcs;
    d.status_report_indication = submit.status_report_request;
    bytes_of(sms::encode_deliver(&d, Some(&smsc_address(smsc)?))?)
}

/// The SMS-STATUS-REPORT for message `mr` to `recipient`.
pub fn status_report(
    mr: u8,
    recipient: &str,
    scts: DateTime<FixedOffset>,
    discharge: DateTime<FixedOffset>,
    status: u8,
    smsc: &str,
) -> Result<Vec<u8>, PduError> {
    let r = StatusReport::new(mr, Address::parse(recipient)?, scts, discharge, status);
    bytes_of(sms::encode_status_report(&r, Some(&smsc_address(smsc)?))?)
}

/// The SMS-DELIVER PDUs (with SMSC field) of a text a phone sends.
pub fn phone_delivers(
    from: &str,
    text: &str,
    concat_ref: u8,
    now: DateTime<FixedOffset>,
    smsc: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let from = Address::parse(from).map_err(|e| e.to_string())?;
    let smsc = smsc_address(smsc).map_err(|e| e.to_string())?;
    sms::deliver_parts(&from, text, now, concat_ref)
        .map_err(|e| e.to_string())?
        .iter()
        .map(|d| {
            sms::encode_deliver(d, Some(&smsc))
                .and_then(bytes_of)
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// UCS-2 big-endian hex of `text`, four hex digits per UTF-16 unit (how
/// `+CUSD` shows a dcs-72 string, TS 27.007 §7.15: "ME/TA converts each
/// 16-bit character into four IRA character long hexadecimal number").
pub fn ucs2_hex(text: &str) -> String {
    text.encode_utf16().map(|u| format!("{u:04X}")).collect()
}

/// Packed GSM 7-bit in hex, as a Huawei stick wants and gives USSD
/// strings (ModemManager src/plugins/huawei/mm-broadband-modem-huawei.c,
/// encode/decode of USSD: `mm_charset_gsm_pack` then hex). Seven spare bits
/// at the end get a CR so they are not read as `@` (TS 23.038 §6.1.2.3.1).
/// `None` for text outside the GSM alphabet.
pub fn gsm7_packed_hex(text: &str) -> Option<String> {
    let mut septets = sms::gsm7::encode(text).ok()?;
    if septets.len() % 8 == 7 {
        septets.push(b'\r');
    }
    Some(hex::encode_upper(sms::gsm7::pack(&septets, 0)))
}

/// The text of packed GSM 7-bit hex (the inverse of [`gsm7_packed_hex`]):
/// `None` when it is not hex. A last septet filling a whole octet's spare
/// bits is padding when it is CR or `@` (TS 23.038 §6.1.2.3.1).
pub fn gsm7_unpack_hex(hex_text: &str) -> Option<String> {
    let octets = hex::decode(hex_text.trim()).ok()?;
    let count = octets.len() * 8 / 7;
    let mut septets = sms::gsm7::unpack(&octets, count);
    if count % 8 == 0 && matches!(septets.last(), Some(b'\r' | 0)) {
        septets.pop();
    }
    Some(sms::gsm7::decode(&septets))
}

/// An ICCID as a SIM stores it in EF_ICCID (TS 31.102 §4.1.1 / TS 51.011
/// §10.1.1): BCD with the digits of each octet swapped, padded with `F`
/// to 20 nibbles. `8918020000000001000` → `981820000000001000F0`.
pub fn iccid_swapped(iccid: &str) -> String {
    let mut digits: Vec<char> = iccid.chars().collect();
    while digits.len() < 20 || digits.len() % 2 != 0 {
        digits.push('F');
    }
    digits.chunks(2).flat_map(|p| [p[1], p[0]]).collect()
}
