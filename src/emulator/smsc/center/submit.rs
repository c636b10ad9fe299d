//! submit_sm (SMPP 3.4 §4.4): the checks a real SMSC makes, the part
//! carried to the phone, the answer, and the delivery receipt asked for
//! (§5.2.17, Appendix B).

use chrono::{DateTime, FixedOffset};
use rusmpp::pdus::{SubmitSm, SubmitSmResp};
use rusmpp::tlvs::{MessageDeliveryRequestTlvValue, TlvValue};
use rusmpp::values::MessageState;
use rusmpp::{Command, CommandId, CommandStatus};

use super::deliver::deliver_sm;
use super::*;
use crate::emulator::network::{normalize, Network, SmscOutcome};
use crate::emulator::smsc::receipt::{self, FinalState};
use crate::emulator::smsc::text::{self, TextError, ESM_RECEIPT, ESM_UDHI};
use crate::emulator::smsc::wire;

impl Smsc {
    pub(super) fn submit(
        &mut self,
        conn: ConnId,
        seq: u32,
        s: &SubmitSm,
        net: &mut Network,
        now: DateTime<FixedOffset>,
        out: &mut Vec<Out>,
    ) {
        let mut record = SubmitRecord {
            at: now,
            message_id: String::new(),
            status: ROK,
            source: s.source_addr.as_str().to_string(),
            source_ton: s.source_addr_ton.into(),
            destination: s.destination_addr.as_str().to_string(),
            dest_ton: s.dest_addr_ton.into(),
            dest_npi: s.dest_addr_npi.into(),
            esm_class: s.esm_class.into(),
            data_coding: s.data_coding.into(),
            registered_delivery: s.registered_delivery.into(),
            validity_period: c_field(&s.validity_period),
            text: String::new(),
            concat: None,
            outcome: None,
        };
        match self.check_submit(s, &mut record, now) {
            Ok((expiry, to)) => {
                let id = format!("{:x}", self.config.message_id_base + self.next_message);
                self.next_message += 1;
                record.message_id = id.clone();
                let outcome = if expiry.is_some_and(|e| e <= now) {
                    net.note(now, &record.source, &to, "smpp submit expired");
                    FinalState::Expired
                } else {
                    let wants = record.registered_delivery & 0x03 != 0;
                    match net.smsc_submit(
                        &record.source,
                        &to,
                        &record.text,
                        record.concat,
                        wants,
                        now,
                    ) {
                        SmscOutcome::Delivered => FinalState::Delivered,
                        SmscOutcome::UnknownSubscriber => FinalState::Undeliverable,
                    }
                };
                record.outcome = Some(outcome);
                let resp = SubmitSmResp::new(cstr::<1, 65>(&id), Vec::new());
                self.send(conn, Command::new(CommandStatus::EsmeRok, seq, resp), out);
                // registered_delivery bits 1-0 (§5.2.17): 01 a receipt
                // whatever the outcome, 10 only on failure.
                let receipt = match record.registered_delivery & 0x03 {
                    1 => true,
                    2 => outcome != FinalState::Delivered,
                    _ => false,
                };
                if receipt {
                    self.queue_receipt(s, &record, outcome, now);
                }
            }
            Err(status) => {
                record.status = status;
                net.note(
                    now,
                    &record.source,
                    &record.destination,
                    &format!("smpp submit refused ({status:#04x})"),
                );
                // §4.4.2: no body when command_status is not zero.
                self.send_raw(
                    conn,
                    wire::header_only(CommandId::SubmitSmResp.into(), status, seq),
                    out,
                );
            }
        }
        if self.submits.len() >= SUBMIT_LOG_LIMIT {
            self.submits.pop_front();
        }
        self.submits.push_back(record);
    }

    /// The checks of a submit_sm, in the order a real SMSC makes them;
    /// fills the record's text and concatenation. Ok: the expiry and the
    /// destination in the network's form.
    fn check_submit(
        &mut self,
        s: &SubmitSm,
        record: &mut SubmitRecord,
        now: DateTime<FixedOffset>,
    ) -> Result<(Option<DateTime<FixedOffset>>, String), u32> {
        if let Some(status) = self.faults.take_submit_error() {
            return Err(status);
        }
        if !self.config.short_codes.contains(&record.source) {
            return Err(RINVSRCADR);
        }
        let to = destination(&record.destination, record.dest_ton).ok_or(RINVDSTADR)?;
        let expiry = receipt::expiry(&record.validity_period, now).map_err(|_| RINVEXPIRY)?;
        let mut sar = (None, None, None);
        let mut payload = None;
        for tlv in s.tlvs() {
            match tlv.value() {
                Some(TlvValue::SarMsgRefNum(r)) => sar.0 = Some(*r),
                Some(TlvValue::SarTotalSegments(t)) => sar.1 = Some(*t),
                Some(TlvValue::SarSegmentSeqnum(q)) => sar.2 = Some(*q),
                Some(TlvValue::MessagePayload(p)) => payload = Some(p.value.to_vec()),
                _ => {}
            }
        }
        let udhi = record.esm_class & ESM_UDHI != 0;
        let octets: Vec<u8> = match payload {
            // §5.3.2.32: short_message and message_payload never together.
            Some(_) if s.sm_length() > 0 => return Err(RTLVNOTALLWD),
            Some(p) => p,
            None => s.short_message().to_vec(),
        };
        let decoded = text::decode(record.data_coding, udhi, &octets).map_err(|e| match e {
            TextError::ShortHeader(_) | TextError::BadHeader(_) => RINVESMCLASS,
            TextError::OddUcs2 | TextError::NotSeptet(_) => RINVMSGLEN,
        })?;
        record.text = decoded.text;
        record.concat = match (sar, decoded.concat) {
            ((None, None, None), c) => c,
            // SAR beside a header, or SAR incomplete/out of range.
            ((Some(_), Some(_), Some(_)), Some(_)) => return Err(RINVTLVVAL),
            ((Some(r), Some(total), Some(q)), None) if total > 0 && q > 0 && q <= total => {
                Some((r, total, q))
            }
            _ => return Err(RINVTLVVAL),
        };
        Ok((expiry, to))
    }

    fn queue_receipt(
        &mut self,
        s: &SubmitSm,
        record: &SubmitRecord,
        outcome: FinalState,
        now: DateTime<FixedOffset>,
    ) {
        let done = now + ms(self.settings.receipt_delay_ms);
        let body = receipt::receipt_text(&record.message_id, outcome, now, done, &record.text);
        // Appendix B's text is ASCII; a character GSM lacks shows as '?'.
        let sm: Vec<u8> = body
            .chars()
            .flat_map(|c| text::text_to_gsm_unpacked(&c.to_string()).unwrap_or_else(|| vec![b'?']))
            .collect();
        // The receipt comes from the handset the message went to, to the
        // short code that sent it (§4.6.1: source and destination swapped).
        let deliver = deliver_sm(
            (
                s.destination_addr.as_str(),
                s.dest_addr_ton,
                s.dest_addr_npi,
            ),
            (s.source_addr.as_str(), s.source_addr_ton, s.source_addr_npi),
            ESM_RECEIPT,
            text::DC_DEFAULT,
            &sm,
            vec![
                MessageDeliveryRequestTlvValue::ReceiptedMessageId(cstr::<1, 65>(
                    &record.message_id,
                )),
                MessageDeliveryRequestTlvValue::MessageState(MessageState::from(
                    outcome.message_state(),
                )),
            ],
        );
        let key = self.enqueue(
            Carried::Receipt {
                message_id: record.message_id.clone(),
            },
            deliver,
            now,
        );
        if let Some(p) = self.queue.iter_mut().find(|p| p.key == key) {
            p.due = done;
        }
    }
}

/// A C-octet field's text without its NUL.
fn c_field(bytes: &[u8]) -> String {
    let b = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    String::from_utf8_lossy(b).into_owned()
}

/// The destination in the network's form: TON 1 (international) is E.164
/// without `+`; any other TON is read as the network reads a dialled
/// number (a national 10-digit number gets +1). `None` when it is not a
/// number.
fn destination(addr: &str, ton: u8) -> Option<String> {
    let digits = addr.strip_prefix('+').unwrap_or(addr);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(if ton == 1 {
        format!("+{digits}")
    } else {
        normalize(addr)
    })
}
