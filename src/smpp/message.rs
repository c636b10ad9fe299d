//! What smsgate says and hears over SMPP 3.4, as plain data: an outgoing
//! message becomes its submit_sm PDUs, a deliver_sm becomes a phone's
//! message part or a delivery receipt, and a command_status becomes a
//! retry or a reason a person can read.
//!
//! Pure: no socket, no clock. The bind ([`super::bind`]) does the I/O.
//!
//! References: SMPP 3.4 (Issue 1.2, 1999): §4.4.1 submit_sm, §4.6.1
//! deliver_sm, §5.2.5 TON/NPI, §5.2.12 esm_class, §5.2.17
//! registered_delivery, §5.2.19 data_coding, §7.1 time formats, §5.1.3
//! command_status, §5.3.2 TLVs, Appendix B delivery receipt format.

use chrono::{DateTime, FixedOffset};
use rusmpp::pdus::{DeliverSm, SubmitSm};
use rusmpp::tlvs::{MessageSubmissionRequestTlvValue, TlvValue};
use rusmpp::types::{AnyOctetString, COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{
    DataCoding, EsmClass, MessagePayload, MessageState, Npi, RegisteredDelivery, Ton,
};
use rusmpp::CommandStatus;

use crate::config::SmppSplit;
use crate::modem::types::OutgoingSms;
use crate::sms::{gsm7, Address, Deliver, DeliveryStatus, Encoding, Udh, UserData};

/// esm_class bit 6 (§5.2.12): the short message begins with a UDH.
const ESM_UDHI: u8 = 0x40;
/// esm_class bits 5–2 (§5.2.12): what kind of deliver_sm this is.
const ESM_TYPE_MASK: u8 = 0x3C;
/// ...an SMSC delivery receipt.
const ESM_TYPE_RECEIPT: u8 = 0x04;
/// ...an intermediate delivery notification (SMPP 3.4 §5.2.12, 0x20).
const ESM_TYPE_INTERMEDIATE: u8 = 0x20;
/// data_coding values smsgate writes and reads (§5.2.19).
const DC_DEFAULT: u8 = 0x00;
const DC_IA5: u8 = 0x01;
const DC_LATIN1: u8 = 0x03;
const DC_UCS2: u8 = 0x08;

/// A number as SMPP addresses it: TON, NPI and digits (§5.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppAddress {
    pub ton: u8,
    pub npi: u8,
    pub digits: String,
}

/// How an address of this gateway goes on the wire: an E.164 number
/// (`+33612345678`, or digits longer than a short code) is international
/// ISDN (TON 1, NPI 1, digits without `+`); a short code (`2222`, at most
/// 8 digits, as operators' short codes are) is network-specific with an
/// unknown plan (TON 3, NPI 0) — Kannel's `source-addr-ton`/`-npi`
/// defaults make the same split for short numbers.
pub fn address(number: &str) -> SmppAddress {
    match number.strip_prefix('+') {
        Some(digits) => SmppAddress {
            ton: 1,
            npi: 1,
            digits: digits.to_string(),
        },
        None if number.len() <= 8 => SmppAddress {
            ton: 3,
            npi: 0,
            digits: number.to_string(),
        },
        None => SmppAddress {
            ton: 1,
            npi: 1,
            digits: number.to_string(),
        },
    }
}

/// A number heard on the wire, as the gateway writes numbers: TON 1 gets
/// its `+`; anything else stays as sent (a national number is normalised
/// later with the configured country, like a modem's).
pub fn number(ton: u8, digits: &str) -> String {
    let digits = digits.trim();
    if ton == 1 && !digits.starts_with('+') && !digits.is_empty() {
        format!("+{digits}")
    } else {
        digits.to_string()
    }
}

/// Whether short code `code` (as configured) is destination `dest` (as
/// the SMSC wrote it): the same digits, with or without a leading `+`.
pub fn same_code(code: &str, dest: &str) -> bool {
    code.trim_start_matches('+') == dest.trim_start_matches('+')
}

/// A relative validity period (§7.1.2, `YYMMDDhhmmss000R`) of `minutes`.
pub fn relative_validity(minutes: u32) -> String {
    let total = u64::from(minutes) * 60;
    let days = total / 86_400;
    let rest = total % 86_400;
    let (years, days) = (days / 365, days % 365);
    let (months, days) = (days / 30, days % 30);
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}000R",
        years.min(99),
        months,
        days,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// One submit_sm of a message, before it gets a sequence number.
pub type Submit = SubmitSm;

/// What went wrong building submit_sm PDUs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("address `{0}` does not fit SMPP (at most 20 digits)")]
    Address(String),
    #[error("the text does not fit one SMPP PDU: {0}")]
    TooLong(String),
}

fn c_octet<const MIN: usize, const MAX: usize>(
    s: &str,
) -> Result<COctetString<MIN, MAX>, BuildError> {
    COctetString::from_string(s.to_string()).map_err(|_| BuildError::Address(s.to_string()))
}

/// The octets of a part's text in its alphabet: GSM 7-bit unpacked, one
/// septet per octet (data_coding 0, the SMSC default alphabet), or UCS-2
/// big-endian (data_coding 8).
fn octets(encoding: Encoding, text: &str) -> (u8, Vec<u8>) {
    match encoding {
        Encoding::Gsm7 => match gsm7::encode(text) {
            Ok(septets) => (DC_DEFAULT, septets),
            Err(_) => (DC_UCS2, ucs2(text)),
        },
        _ => (DC_UCS2, ucs2(text)),
    }
}

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

/// The submit_sm PDUs of `sms` from `short_code`: one per part, split as
/// the modem path splits (153 septets / 67 UCS-2 units per part), joined
/// by a UDH or SAR TLVs; or one PDU with `message_payload` (the SMSC
/// splits). Each asks for a delivery receipt (registered_delivery 1,
/// §5.2.17) and carries the validity period.
pub fn submits(
    short_code: &str,
    sms: &OutgoingSms,
    how: SmppSplit,
) -> Result<Vec<Submit>, BuildError> {
    let src = address(short_code);
    let dst = address(&sms.recipient);
    let source_addr = c_octet::<1, 21>(&src.digits)?;
    let destination_addr = c_octet::<1, 21>(&dst.digits)?;
    let validity = match sms.validity_minutes {
        Some(m) => EmptyOrFullCOctetString::from_string(relative_validity(m))
            .map_err(|e| BuildError::TooLong(format!("validity: {e:?}")))?,
        None => EmptyOrFullCOctetString::empty(),
    };
    let base = |esm: u8, dc: u8, short_message: &[u8]| -> Result<SubmitSm, BuildError> {
        Ok(SubmitSm::builder()
            .source_addr_ton(Ton::from(src.ton))
            .source_addr_npi(Npi::from(src.npi))
            .source_addr(source_addr.clone())
            .dest_addr_ton(Ton::from(dst.ton))
            .dest_addr_npi(Npi::from(dst.npi))
            .destination_addr(destination_addr.clone())
            .esm_class(EsmClass::from(esm))
            .validity_period(validity.clone())
            .registered_delivery(RegisteredDelivery::from(1u8))
            .data_coding(DataCoding::from(dc))
            .short_message(
                OctetString::from_slice(short_message)
                    .map_err(|e| BuildError::TooLong(format!("{e:?}")))?,
            )
            .build())
    };
    let parts = crate::sms::split(&sms.text);
    if parts.len() == 1 {
        let (dc, body) = octets(parts[0].encoding, &parts[0].text);
        return Ok(vec![base(0, dc, &body)?]);
    }
    if how == SmppSplit::Payload {
        let encoding = parts[0].encoding;
        let (dc, body) = octets(encoding, &sms.text);
        let mut pdu = base(0, dc, &[])?;
        pdu.push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
            MessagePayload::new(AnyOctetString::from_vec(body)),
        ));
        return Ok(vec![pdu]);
    }
    let total = u8::try_from(parts.len())
        .map_err(|_| BuildError::TooLong(format!("{} parts", parts.len())))?;
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let seq = i as u8 + 1;
        let (dc, body) = octets(part.encoding, &part.text);
        match how {
            SmppSplit::Sar => {
                let mut pdu = base(0, dc, &body)?;
                pdu.push_tlv(MessageSubmissionRequestTlvValue::SarMsgRefNum(u16::from(
                    sms.concat_ref,
                )));
                pdu.push_tlv(MessageSubmissionRequestTlvValue::SarTotalSegments(total));
                pdu.push_tlv(MessageSubmissionRequestTlvValue::SarSegmentSeqnum(seq));
                out.push(pdu);
            }
            _ => {
                let mut ud = Udh::concat(u16::from(sms.concat_ref), total, seq)
                    .to_bytes()
                    .map_err(|e| BuildError::TooLong(e.to_string()))?;
                ud.extend_from_slice(&body);
                out.push(base(ESM_UDHI, dc, &ud)?);
            }
        }
    }
    Ok(out)
}

/// What a deliver_sm carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A phone's message (one part), addressed to `short_code`.
    Mo {
        short_code: String,
        deliver: Deliver,
    },
    /// A delivery receipt for the submit_sm answered with `message_id`,
    /// sent from `short_code` to `recipient`.
    Receipt {
        short_code: String,
        recipient: String,
        message_id: String,
        status: DeliveryStatus,
        /// The state as the SMSC named it (`DELIVRD`, `UNDELIV`...).
        state: String,
        /// The receipt's `err:` code, when it has one.
        error: Option<String>,
    },
}

/// Why a deliver_sm could not be read; answered with a generic error so
/// the SMSC does not retry garbage for ever... and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("deliver_sm user data is shorter than its header: {0}")]
    BadUdh(String),
    #[error("delivery receipt without a message id")]
    NoMessageId,
    #[error("UCS-2 text with an odd number of octets")]
    OddUcs2,
}

/// The fields of a receipt's text (SMPP 3.4 Appendix B): `id:IIII sub:SSS
/// dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
/// err:E text:...`. Keys are matched without regard to case; missing
/// ones are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptText {
    pub id: Option<String>,
    pub stat: Option<String>,
    pub err: Option<String>,
}

/// Reads a receipt's text (Appendix B). Tolerates the variants SMSCs send
/// (Kannel's smsc_smpp.c reads `id:` and `stat:` the same forgiving way:
/// keys in any case, fields in any order, `text:` last and free).
pub fn receipt_text(text: &str) -> ReceiptText {
    let mut out = ReceiptText::default();
    let lower = text.to_ascii_lowercase();
    let field = |key: &str| -> Option<String> {
        let mut from = 0;
        while let Some(at) = lower[from..].find(key) {
            let start = from + at;
            // A key starts the text or follows a space (`submit date:`
            // must not match inside another word).
            if start == 0 || lower.as_bytes()[start - 1] == b' ' {
                let value = &text[start + key.len()..];
                let end = value.find(' ').unwrap_or(value.len());
                return Some(value[..end].to_string());
            }
            from = start + key.len();
        }
        None
    };
    out.id = field("id:").filter(|s| !s.is_empty());
    out.stat = field("stat:").map(|s| s.to_ascii_uppercase());
    out.err = field("err:");
    out
}

/// What a receipt's state means for the recipient, as a modem's TP-ST
/// would (TS 23.040 §9.2.3.15): DELIVRD delivered; ENROUTE, ACCEPTD and
/// UNKNOWN still on their way; EXPIRED the SMSC gave up; UNDELIV, DELETED
/// and REJECTD failed for good.
pub fn receipt_status(state: &str) -> DeliveryStatus {
    match state {
        "DELIVRD" => DeliveryStatus::Delivered,
        "EXPIRED" => DeliveryStatus::FailedTemporary,
        "UNDELIV" | "DELETED" | "REJECTD" => DeliveryStatus::FailedPermanent,
        _ => DeliveryStatus::Pending,
    }
}

fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Delivered => "DELIVRD",
        MessageState::Expired => "EXPIRED",
        MessageState::Deleted => "DELETED",
        MessageState::Undeliverable => "UNDELIV",
        MessageState::Accepted => "ACCEPTD",
        MessageState::Rejected => "REJECTD",
        MessageState::Enroute => "ENROUTE",
        _ => "UNKNOWN",
    }
}

fn text_of(dc: u8, body: &[u8]) -> Result<(Encoding, String), ReadError> {
    Ok(match dc {
        DC_UCS2 => {
            if body.len() % 2 != 0 {
                return Err(ReadError::OddUcs2);
            }
            let units: Vec<u16> = body
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            (Encoding::Ucs2, String::from_utf16_lossy(&units))
        }
        DC_LATIN1 => (
            Encoding::Ucs2,
            body.iter().map(|&b| char::from(b)).collect(),
        ),
        DC_IA5 => (
            Encoding::Gsm7,
            body.iter().map(|&b| char::from(b & 0x7F)).collect(),
        ),
        // 0: the SMSC default alphabet, GSM 7-bit unpacked (one septet per
        // octet) as operators' SMSCs and Kannel (`alt-charset`) use it.
        _ => (
            Encoding::Gsm7,
            gsm7::decode(&body.iter().map(|b| b & 0x7F).collect::<Vec<_>>()),
        ),
    })
}

/// Reads a deliver_sm received on a bind serving `short_codes` (the first
/// stands for a destination that is none of them), at `now`.
pub fn incoming(
    pdu: &DeliverSm,
    short_codes: &[String],
    now: DateTime<FixedOffset>,
) -> Result<Incoming, ReadError> {
    incoming_in_pool(pdu, short_codes, &|_| None, now)
}

/// The same on a bind that shares its SMSC account with other binds: an
/// SMSC hands a deliver_sm for any short code of the account to any of
/// its binds (the emulated SMSC does so round robin; operators' SMSCs do
/// too: "nothing in the protocol states deliver_sm messages should be sent
/// back to the same bind", farhadi/node-smpp#175; ksmppd#68: every bind of
/// the system id must be ready to take them), so a
/// destination that is another bind's short code is that code (`pool`
/// finds it), and only one that is no short code of the pool stands for
/// this bind's first.
pub fn incoming_in_pool(
    pdu: &DeliverSm,
    short_codes: &[String],
    pool: &dyn Fn(&str) -> Option<String>,
    now: DateTime<FixedOffset>,
) -> Result<Incoming, ReadError> {
    let esm = u8::from(pdu.esm_class);
    let dc = u8::from(pdu.data_coding);
    let dest = number(u8::from(pdu.dest_addr_ton), pdu.destination_addr.as_str());
    let short_code = short_codes
        .iter()
        .find(|c| same_code(c, &dest))
        .cloned()
        .or_else(|| pool(&dest))
        .or_else(|| short_codes.first().cloned())
        .unwrap_or(dest);
    let from = number(u8::from(pdu.source_addr_ton), pdu.source_addr.as_str());
    let mut body: Vec<u8> = pdu.short_message().as_ref().to_vec();
    let (mut sar_ref, mut sar_total, mut sar_seq) = (None, None, None);
    let (mut receipted, mut state) = (None, None);
    for tlv in pdu.tlvs() {
        match tlv.value() {
            Some(TlvValue::MessagePayload(p)) => body = p.value.as_ref().to_vec(),
            Some(TlvValue::SarMsgRefNum(r)) => sar_ref = Some(*r),
            Some(TlvValue::SarTotalSegments(t)) => sar_total = Some(*t),
            Some(TlvValue::SarSegmentSeqnum(s)) => sar_seq = Some(*s),
            Some(TlvValue::ReceiptedMessageId(id)) => receipted = Some(id.as_str().to_string()),
            Some(TlvValue::MessageState(s)) => state = Some(*s),
            _ => {}
        }
    }
    let kind = esm & ESM_TYPE_MASK;
    if kind == ESM_TYPE_RECEIPT || kind == ESM_TYPE_INTERMEDIATE {
        let text = String::from_utf8_lossy(&body).into_owned();
        let parsed = receipt_text(&text);
        // The TLVs (§5.3.2.12, §5.3.2.35) win over the text: the text's
        // format is only "vendor specific" (Appendix B).
        let message_id = receipted
            .filter(|s| !s.is_empty())
            .or(parsed.id)
            .ok_or(ReadError::NoMessageId)?;
        let state = state
            .map(|s| state_name(s).to_string())
            .or(parsed.stat)
            .unwrap_or_else(|| "UNKNOWN".to_string());
        return Ok(Incoming::Receipt {
            short_code,
            // A receipt goes from the recipient back to us (§4.6.1).
            recipient: from,
            message_id,
            status: receipt_status(&state),
            state,
            error: parsed.err,
        });
    }
    let mut udh = None;
    if esm & ESM_UDHI != 0 {
        let udhl = usize::from(
            *body
                .first()
                .ok_or_else(|| ReadError::BadUdh("empty".into()))?,
        );
        let header = body
            .get(1..=udhl)
            .ok_or_else(|| ReadError::BadUdh(format!("header of {udhl} octets")))?;
        udh = Some(Udh::parse(header).map_err(|e| ReadError::BadUdh(e.to_string()))?);
        body.drain(..=udhl);
    } else if let (Some(r), Some(t), Some(s)) = (sar_ref, sar_total, sar_seq) {
        udh = Some(Udh::concat(r, t, s));
    }
    let (encoding, text) = text_of(dc, &body)?;
    let originator = match from.strip_prefix('+') {
        Some(d) => Address::international(d),
        None => Address::national(&from),
    };
    let mut deliver = Deliver::new(
        originator,
        now,
        encoding,
        UserData {
            text: Some(text),
            data: Vec::new(),
            udh,
        },
    );
    deliver.status_report_indication = u8::from(pdu.registered_delivery) & 0x03 != 0;
    Ok(Incoming::Mo {
        short_code,
        deliver,
    })
}

/// What to do about a submit_sm answered with `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// The SMSC is busy (ESME_RTHROTTLED, ESME_RMSGQFUL): pause the bind
    /// and send it again later, uncounted.
    Later,
    /// Something that may pass (a system error, a failed submit): the
    /// gateway tries the message again after its retry pause.
    Transient(String),
    /// The message can never go this way.
    Permanent(String),
}

/// Reads a submit_sm_resp's command_status (§5.1.3).
pub fn verdict(status: CommandStatus) -> Verdict {
    let code = u32::from(status);
    let reason = |what: &str| format!("{what} (SMPP status 0x{code:08X})");
    match status {
        CommandStatus::EsmeRok => Verdict::Accepted,
        CommandStatus::EsmeRthrottled | CommandStatus::EsmeRmsgqful => Verdict::Later,
        CommandStatus::EsmeRsyserr => Verdict::Transient(reason("the SMSC had a system error")),
        CommandStatus::EsmeRsubmitfail => {
            Verdict::Transient(reason("the SMSC could not take the message"))
        }
        CommandStatus::EsmeRinvdstadr => {
            Verdict::Permanent(reason("the operator refused the destination number"))
        }
        CommandStatus::EsmeRinvsrcadr => {
            Verdict::Permanent(reason("the operator refused the short code as sender"))
        }
        CommandStatus::EsmeRinvmsglen => {
            Verdict::Permanent(reason("the operator refused the message length"))
        }
        CommandStatus::EsmeRinvdcs => {
            Verdict::Permanent(reason("the operator refused the alphabet"))
        }
        CommandStatus::EsmeRinvesmclass => {
            Verdict::Permanent(reason("the operator refused the message class"))
        }
        CommandStatus::EsmeRinvexpiry => {
            Verdict::Permanent(reason("the operator refused the validity period"))
        }
        CommandStatus::EsmeRinvbndsts => Verdict::Transient(reason("the bind was not ready")),
        _ => Verdict::Permanent(reason("the operator refused the message")),
    }
}

#[cfg(test)]
mod tests;
