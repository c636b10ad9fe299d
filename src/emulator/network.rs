//! The virtual GSM network: phones with inboxes, modems known by their
//! subscriber numbers, and the rules that carry SMS between them (3GPP TS
//! 23.040 §3: submit from a modem, deliver to a phone or another modem,
//! status reports back; fleet/VPN numbers cannot send to short codes).
//!
//! Pure: PDUs and `now` in, events out. It never touches a port; the
//! runtime hands [`NetEvent`]s to the modems' DCEs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::codec;
use super::dce::storage::Kind;

/// TP-ST values the network reports (TS 23.040 §9.2.3.15).
const ST_DELIVERED: u8 = 0x00;
const ST_UNKNOWN_SUBSCRIBER: u8 = 0x46; // permanent: "incompatible destination"-class

/// Something the network hands to a modem or to the emulated SMSC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A PDU (with SMSC field) arrives at modem `modem`.
    ToModem {
        modem: usize,
        kind: Kind,
        pdu: Vec<u8>,
    },
    /// A phone's text to one of the SMSC's short codes: the SMSC hands it
    /// to the ESME bound for that code (`emulator::smsc`), in parts of its
    /// own making, in `order`.
    ToSmsc {
        from: String,
        to: String,
        text: String,
        order: PartOrder,
    },
}

/// What became of a part the SMSC submitted to a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmscOutcome {
    Delivered,
    /// The number is malformed or unknown to the network.
    UnknownSubscriber,
}

/// The order in which a phone's multipart text reaches the modem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOrder {
    #[default]
    InOrder,
    Reversed,
    /// Every part twice, the second copy after all the others.
    Duplicated,
    /// The last part is lost in the network (it happens: a handset's
    /// multipart text whose last SMS never reaches the SMSC).
    LastLost,
}

/// Why the network refused a phone's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendRefused {
    #[error("{0} is not a short code of this network")]
    NoSuchShortCode(String),
    #[error("{0} is on a fleet/VPN plan and cannot send to short codes")]
    FleetNumber(String),
    #[error("cannot encode the text: {0}")]
    Encoding(String),
}

/// One SMS part as a phone received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedPart {
    pub from: String,
    pub received_at: DateTime<FixedOffset>,
    pub text: String,
    /// (reference, total, sequence) of a concatenated message.
    pub concat: Option<(u16, u8, u8)>,
    pub status_report_requested: bool,
}

/// A message in a phone's inbox, reassembled from its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxMessage {
    pub from: String,
    pub text: String,
    /// When its last part arrived.
    pub received_at: DateTime<FixedOffset>,
    pub parts: u8,
    /// False while parts are missing (their place shows as `[…]`).
    pub complete: bool,
}

/// One thing that happened on the network, for tests and debugging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub at: DateTime<FixedOffset>,
    pub from: String,
    pub to: String,
    pub what: String,
}

/// Longest text a phone may send to the SMSC (255 parts of 67 UCS-2
/// characters is the protocol's bound; a handset stops far earlier).
const MAX_SMSC_TEXT: usize = 255 * 67;

/// (sender, concatenation reference, total parts) of a multipart message.
type GroupKey = (String, u16, u8);

#[derive(Debug, Default)]
struct Phone {
    inbox: Vec<ReceivedPart>,
}

/// The network's state.
#[derive(Debug)]
pub struct Network {
    modems: Vec<String>,
    phones: BTreeMap<String, Phone>,
    fleet_prefixes: Vec<String>,
    unknown: BTreeSet<String>,
    /// The emulated SMSC's short codes (`emulator::smsc`), if it runs.
    smsc_codes: Vec<String>,
    smsc: String,
    next_concat_ref: u8,
    records: Vec<Record>,
}

impl Network {
    pub fn new(modem_numbers: Vec<String>, smsc: String) -> Self {
        Network {
            modems: modem_numbers,
            phones: BTreeMap::new(),
            fleet_prefixes: Vec::new(),
            unknown: BTreeSet::new(),
            smsc_codes: Vec::new(),
            smsc,
            next_concat_ref: 1,
            records: Vec::new(),
        }
    }

    /// Numbers on fleet/VPN plans: they receive but cannot send to short codes.
    pub fn set_fleet_prefixes(&mut self, prefixes: Vec<String>) {
        self.fleet_prefixes = prefixes;
    }

    /// Numbers the network does not know: messages to them fail.
    pub fn add_unknown_number(&mut self, number: &str) {
        self.unknown.insert(normalize(number));
    }

    /// The short codes the emulated SMSC serves: phones can send to them.
    pub fn set_smsc_codes(&mut self, codes: Vec<String>) {
        self.smsc_codes = codes;
    }

    pub fn modem_numbers(&self) -> &[String] {
        &self.modems
    }

    pub fn phone_numbers(&self) -> Vec<String> {
        self.phones.keys().cloned().collect()
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    fn modem_of(&self, number: &str) -> Option<usize> {
        let n = normalize(number);
        self.modems.iter().position(|m| normalize(m) == n)
    }

    fn is_fleet(&self, number: &str) -> bool {
        let n = normalize(number);
        self.fleet_prefixes
            .iter()
            .any(|p| n.starts_with(&normalize(p)))
    }

    /// Whether a number can receive: well-formed and not marked unknown.
    fn reachable(&self, number: &str) -> bool {
        let n = normalize(number);
        let digits = n.trim_start_matches('+');
        digits.len() >= 7
            && digits.len() <= 15
            && digits.chars().all(|c| c.is_ascii_digit())
            && !self.unknown.contains(&n)
    }

    /// Modem `modem` sent an SMS-SUBMIT (TPDU, message reference `mr`).
    pub fn submit(
        &mut self,
        modem: usize,
        tpdu: &[u8],
        mr: u8,
        now: DateTime<FixedOffset>,
    ) -> Vec<NetEvent> {
        let mut events = Vec::new();
        let Some(origin) = self.modems.get(modem).cloned() else {
            return events;
        };
        let Ok(submit) = codec::decode_submit(tpdu) else {
            return events;
        };
        let dest = normalize(&submit.destination.to_string());
        let report = submit.status_report_request;
        let status = if let Some(target) = self.modem_of(&dest) {
            if let Ok(pdu) = codec::deliver_from_submit(&submit, &origin, now, &self.smsc) {
                events.push(NetEvent::ToModem {
                    modem: target,
                    kind: Kind::Deliver,
                    pdu,
                });
            }
            self.record(now, &origin, &dest, "sms modem to modem");
            ST_DELIVERED
        } else if self.reachable(&dest) {
            let part = ReceivedPart {
                from: origin.clone(),
                received_at: now,
                text: codec::text_of(&submit.user_data),
                concat: codec::concat_of(&submit.user_data),
                status_report_requested: report,
            };
            self.phones
                .entry(dest.clone())
                .or_default()
                .inbox
                .push(part);
            self.record(now, &origin, &dest, "sms delivered to phone");
            ST_DELIVERED
        } else {
            self.record(now, &origin, &dest, "sms to unknown subscriber");
            ST_UNKNOWN_SUBSCRIBER
        };
        if report {
            if let Ok(pdu) = codec::status_report(mr, &dest, now, now, status, &self.smsc) {
                events.push(NetEvent::ToModem {
                    modem,
                    kind: Kind::StatusReport,
                    pdu,
                });
            }
        }
        events
    }

    /// Phone `from` sends `text` to short code `to`.
    pub fn phone_send(
        &mut self,
        from: &str,
        to: &str,
        text: &str,
        order: PartOrder,
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<NetEvent>, SendRefused> {
        let from = normalize(from);
        let smsc_code = self.smsc_codes.iter().any(|c| c == to.trim());
        let modem = self.modem_of(to);
        if modem.is_none() && !smsc_code {
            return Err(SendRefused::NoSuchShortCode(to.to_string()));
        }
        if self.is_fleet(&from) {
            self.record(now, &from, to, "refused: fleet number to short code");
            return Err(SendRefused::FleetNumber(from));
        }
        let Some(modem) = modem else {
            if text.chars().count() > MAX_SMSC_TEXT {
                return Err(SendRefused::Encoding(format!(
                    "longer than {MAX_SMSC_TEXT} characters"
                )));
            }
            self.phones.entry(from.clone()).or_default();
            self.record(now, &from, to, "sms from phone to the smsc");
            return Ok(vec![NetEvent::ToSmsc {
                from,
                to: to.trim().to_string(),
                text: text.to_string(),
                order,
            }]);
        };
        let reference = self.next_concat_ref;
        self.next_concat_ref = self.next_concat_ref.wrapping_add(1).max(1);
        let pdus = codec::phone_delivers(&from, text, reference, now, &self.smsc)
            .map_err(SendRefused::Encoding)?;
        self.phones.entry(from.clone()).or_default();
        let mut ordered: Vec<Vec<u8>> = match order {
            PartOrder::InOrder => pdus,
            PartOrder::Reversed => pdus.into_iter().rev().collect(),
            PartOrder::Duplicated => {
                let mut v = pdus.clone();
                v.extend(pdus);
                v
            }
            PartOrder::LastLost => {
                let mut v = pdus;
                if v.len() > 1 {
                    v.pop();
                }
                v
            }
        };
        self.record(
            now,
            &from,
            to,
            &format!("sms from phone ({} pdu)", ordered.len()),
        );
        Ok(ordered
            .drain(..)
            .map(|pdu| NetEvent::ToModem {
                modem,
                kind: Kind::Deliver,
                pdu,
            })
            .collect())
    }

    /// The SMSC (short code `from`) delivers one part to phone `to`. The
    /// part lands in the inbox like a modem's, reassembled by `concat`.
    pub fn smsc_submit(
        &mut self,
        from: &str,
        to: &str,
        text: &str,
        concat: Option<(u16, u8, u8)>,
        report: bool,
        now: DateTime<FixedOffset>,
    ) -> SmscOutcome {
        let dest = normalize(to);
        if !self.reachable(&dest) {
            self.record(now, from, &dest, "smpp submit to unknown subscriber");
            return SmscOutcome::UnknownSubscriber;
        }
        self.phones
            .entry(dest.clone())
            .or_default()
            .inbox
            .push(ReceivedPart {
                from: from.to_string(),
                received_at: now,
                text: text.to_string(),
                concat,
                status_report_requested: report,
            });
        self.record(now, from, &dest, "smpp submit delivered to phone");
        SmscOutcome::Delivered
    }

    /// Notes SMSC traffic (binds, faults, deliveries to the ESME) in the
    /// records.
    pub fn note(&mut self, at: DateTime<FixedOffset>, from: &str, to: &str, what: &str) {
        self.record(at, from, to, what);
    }

    /// What phone `number` received, reassembled.
    pub fn inbox(&self, number: &str) -> Vec<InboxMessage> {
        let Some(phone) = self.phones.get(&normalize(number)) else {
            return Vec::new();
        };
        let mut out: Vec<InboxMessage> = Vec::new();
        // (from, ref, total) -> index in `out` and the parts seen.
        let mut groups: BTreeMap<GroupKey, (usize, BTreeMap<u8, String>)> = BTreeMap::new();
        for p in &phone.inbox {
            match p.concat {
                None => out.push(InboxMessage {
                    from: p.from.clone(),
                    text: p.text.clone(),
                    received_at: p.received_at,
                    parts: 1,
                    complete: true,
                }),
                Some((r, total, seq)) => {
                    let key = (p.from.clone(), r, total);
                    let entry = groups.entry(key).or_insert_with(|| {
                        out.push(InboxMessage {
                            from: p.from.clone(),
                            text: String::new(),
                            received_at: p.received_at,
                            parts: total,
                            complete: false,
                        });
                        (out.len() - 1, BTreeMap::new())
                    });
                    entry.1.insert(seq, p.text.clone());
                    let m = &mut out[entry.0];
                    m.received_at = p.received_at;
                    m.complete = (1..=total).all(|s| entry.1.contains_key(&s));
                    m.text = (1..=total)
                        .map(|s| entry.1.get(&s).cloned().unwrap_or_else(|| "[…]".into()))
                        .collect();
                }
            }
        }
        out
    }

    /// Every part phone `number` received, as the network carried it.
    pub fn inbox_parts(&self, number: &str) -> Vec<ReceivedPart> {
        self.phones
            .get(&normalize(number))
            .map(|p| p.inbox.clone())
            .unwrap_or_default()
    }

    fn record(&mut self, at: DateTime<FixedOffset>, from: &str, to: &str, what: &str) {
        self.records.push(Record {
            at,
            from: from.to_string(),
            to: to.to_string(),
            what: what.to_string(),
        });
    }
}

/// The network's canonical form of a number: E.164 with `+`. The emulated
/// network is a North American Numbering Plan one (the Dominican Republic's
/// 809/829/849 are NANP area codes): a 10-digit national number gets `+1`.
pub fn normalize(number: &str) -> String {
    let digits: String = number.chars().filter(|c| c.is_ascii_digit()).collect();
    if number.trim_start().starts_with('+') {
        format!("+{digits}")
    } else if digits.len() == 10 {
        format!("+1{digits}")
    } else if digits.len() == 11 && digits.starts_with('1') {
        format!("+{digits}")
    } else {
        digits
    }
}

#[cfg(test)]
mod tests;
