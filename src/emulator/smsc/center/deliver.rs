//! deliver_sm (SMPP 3.4 §4.6): a phone's text made into parts for the
//! ESME, the queue they wait in, and the ESME's answers (at least once:
//! an unanswered or refused deliver_sm goes again).

use chrono::{DateTime, FixedOffset};
use rusmpp::pdus::DeliverSm;
use rusmpp::tlvs::MessageDeliveryRequestTlvValue;
use rusmpp::types::{AnyOctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, MessagePayload, Npi, Ton};

use super::*;
use crate::emulator::network::{Network, PartOrder};
use crate::emulator::smsc::text;

impl Smsc {
    /// Phone `from` sent `text` to short code `to`: deliver_sm parts to
    /// the ESME, queued until a receiver takes them.
    pub fn mo(
        &mut self,
        from: &str,
        to: &str,
        text: &str,
        order: PartOrder,
        now: DateTime<FixedOffset>,
    ) -> Vec<Out> {
        let reference = self.next_mo_ref;
        self.next_mo_ref = match self.next_mo_ref.wrapping_add(1) {
            0 => 1,
            r => r,
        };
        let parts = text::mo_parts(text, reference, self.settings.mo_concat);
        let mut numbered: Vec<(u8, text::MoPart)> = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| ((i + 1) as u8, p))
            .collect();
        numbered = match order {
            PartOrder::InOrder => numbered,
            PartOrder::Reversed => numbered.into_iter().rev().collect(),
            PartOrder::Duplicated => {
                let mut v = numbered.clone();
                v.extend(numbered);
                v
            }
            PartOrder::LastLost => {
                if numbered.len() > 1 {
                    numbered.pop();
                }
                numbered
            }
        };
        let source = from.trim_start_matches('+').to_string();
        for (part, p) in numbered {
            let mut tlvs = Vec::new();
            if let Some((r, total, seq)) = p.sar {
                tlvs.push(MessageDeliveryRequestTlvValue::SarMsgRefNum(r));
                tlvs.push(MessageDeliveryRequestTlvValue::SarTotalSegments(total));
                tlvs.push(MessageDeliveryRequestTlvValue::SarSegmentSeqnum(seq));
            }
            if let Some(payload) = &p.payload {
                tlvs.push(MessageDeliveryRequestTlvValue::MessagePayload(
                    MessagePayload::new(AnyOctetString::from_slice(payload)),
                ));
            }
            let deliver = deliver_sm(
                (&source, Ton::International, Npi::Isdn),
                (to, Ton::NetworkSpecific, Npi::Unknown),
                p.esm_class,
                p.data_coding,
                &p.short_message,
                tlvs,
            );
            self.enqueue(
                Carried::Mo {
                    from: from.to_string(),
                    to: to.to_string(),
                    part,
                },
                deliver,
                now,
            );
        }
        let mut out = Vec::new();
        self.pump(now, &mut out);
        out
    }

    /// The answer to deliver_sm `seq` on `conn`.
    pub(super) fn delivered(
        &mut self,
        conn: ConnId,
        seq: u32,
        status: u32,
        net: &mut Network,
        now: DateTime<FixedOffset>,
    ) {
        let Some(key) = self
            .conns
            .get_mut(&conn)
            .and_then(|c| c.in_flight.remove(&seq))
        else {
            return;
        };
        let Some(i) = self.queue.iter().position(|p| p.key == key) else {
            return;
        };
        let what = match &self.queue[i].carried {
            Carried::Mo { from, part, .. } => format!("{from} part {part}"),
            Carried::Receipt { message_id } => format!("receipt {message_id}"),
        };
        if status == ROK || status == RX_P_APPN {
            self.queue.remove(i);
            let verb = if status == ROK { "taken" } else { "rejected" };
            net.note(
                now,
                "smsc",
                &conn.to_string(),
                &format!("smpp deliver_sm {verb}: {what}"),
            );
        } else {
            let p = &mut self.queue[i];
            p.on = None;
            p.due = now + ms(self.settings.deliver_timeout_ms);
            net.note(
                now,
                "smsc",
                &conn.to_string(),
                &format!("smpp deliver_sm refused ({status:#04x}), again later: {what}"),
            );
        }
    }

    pub(super) fn enqueue(
        &mut self,
        carried: Carried,
        deliver: DeliverSm,
        now: DateTime<FixedOffset>,
    ) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        self.queue.push(Pending {
            key,
            carried,
            deliver,
            due: now,
            attempts: 0,
            on: None,
        });
        key
    }
}

/// A deliver_sm from `source` to `dest` ((address, TON, NPI) each).
pub(super) fn deliver_sm(
    source: (&str, Ton, Npi),
    dest: (&str, Ton, Npi),
    esm_class: u8,
    data_coding: u8,
    short_message: &[u8],
    tlvs: Vec<MessageDeliveryRequestTlvValue>,
) -> DeliverSm {
    DeliverSm::builder()
        .source_addr_ton(source.1)
        .source_addr_npi(source.2)
        .source_addr(cstr::<1, 21>(source.0))
        .dest_addr_ton(dest.1)
        .dest_addr_npi(dest.2)
        .destination_addr(cstr::<1, 21>(dest.0))
        .esm_class(EsmClass::from(esm_class))
        .data_coding(DataCoding::from(data_coding))
        .short_message(OctetString::from_slice(short_message).unwrap_or_default())
        .tlvs(tlvs)
        .build()
}
