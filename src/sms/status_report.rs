//! SMS-STATUS-REPORT (3GPP TS 23.040 §9.2.2.3): the service centre telling
//! the sender what became of a submitted message. Decoded for delivery
//! reports, encoded for the modem emulator.
//!
//! Owns the status report layout, the optional TP-PI fields (§9.2.3.27) and
//! the classification of TP-ST (§9.2.3.15). Knows nothing of outboxes.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::dcs::Encoding;
use super::error::PduError;
use super::reader::Reader;
use super::time::{decode_scts, encode_scts};
use super::user_data::UserData;

/// TP-MTI of SMS-STATUS-REPORT (§9.2.3.1).
pub(crate) const MTI_STATUS_REPORT: u8 = 0b10;

/// What TP-ST (§9.2.3.15) says about the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// 0x00..=0x1F: short message transaction completed.
    Delivered,
    /// 0x20..=0x3F: temporary error, the service centre is still trying.
    Pending,
    /// 0x40..=0x5F (and reserved values): permanent error, no more attempts.
    FailedPermanent,
    /// 0x60..=0x7F: temporary error, the service centre gave up.
    FailedTemporary,
}

impl DeliveryStatus {
    /// Classifies a TP-ST octet (§9.2.3.15).
    pub fn from_status(st: u8) -> Self {
        match st {
            0x00..=0x1F => DeliveryStatus::Delivered,
            0x20..=0x3F => DeliveryStatus::Pending,
            0x60..=0x7F => DeliveryStatus::FailedTemporary,
            _ => DeliveryStatus::FailedPermanent,
        }
    }

    /// `delivered`, `pending` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::FailedPermanent | DeliveryStatus::FailedTemporary => "failed",
        }
    }
}

/// TP-PID, TP-DCS and user data, each present only when TP-PI says so.
type Optional = (Option<u8>, Option<u8>, Option<UserData>);

/// A decoded or to-be-encoded SMS-STATUS-REPORT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// TP-MMS inverted (§9.2.3.2): true when more messages are waiting.
    pub more_messages: bool,
    /// TP-SRQ (§9.2.3.26): reports on an SMS-COMMAND rather than a SUBMIT.
    pub command_report: bool,
    /// TP-MR of the SMS-SUBMIT this reports on (§9.2.3.6).
    pub message_ref: u8,
    /// TP-RA (§9.2.3.14).
    pub recipient: Address,
    /// TP-SCTS of the original message (§9.2.3.11).
    pub scts: DateTime<FixedOffset>,
    /// TP-DT (§9.2.3.13): when the status was reached.
    pub discharge_time: DateTime<FixedOffset>,
    /// TP-ST (§9.2.3.15).
    pub status: u8,
    /// TP-PID, present when TP-PI says so (§9.2.3.27).
    pub pid: Option<u8>,
    /// TP-DCS, present when TP-PI says so.
    pub dcs: Option<u8>,
    /// TP-UDL/TP-UD, present when TP-PI says so.
    pub user_data: Option<UserData>,
}

impl StatusReport {
    /// A bare report (no TP-PI) for message `message_ref`.
    pub fn new(
        message_ref: u8,
        recipient: Address,
        scts: DateTime<FixedOffset>,
        discharge_time: DateTime<FixedOffset>,
        status: u8,
    ) -> Self {
        StatusReport {
            more_messages: false,
            command_report: false,
            message_ref,
            recipient,
            scts,
            discharge_time,
            status,
            pid: None,
            dcs: None,
            user_data: None,
        }
    }

    pub fn classification(&self) -> DeliveryStatus {
        DeliveryStatus::from_status(self.status)
    }

    /// The alphabet of the optional user data (GSM 7-bit when no TP-DCS).
    pub fn encoding(&self) -> Encoding {
        Encoding::from_dcs(self.dcs.unwrap_or(0))
    }

    /// Reads the TPDU after the first octet `fo` (§9.2.2.3).
    pub(crate) fn decode_body(fo: u8, r: &mut Reader<'_>) -> Result<Self, PduError> {
        let message_ref = r.u8("message reference")?;
        let recipient = Address::decode_tp(r, "recipient address")?;
        let scts = decode_scts(r.take(7, "service centre time stamp")?)?;
        let discharge_time = decode_scts(r.take(7, "discharge time")?)?;
        let status = r.u8("status")?;
        let mut report = StatusReport {
            more_messages: fo & 0x04 == 0,
            command_report: fo & 0x20 != 0,
            ..StatusReport::new(message_ref, recipient, scts, discharge_time, status)
        };
        // TP-PI and what it announces are optional; many modems stop here,
        // and some pad with octets that do not parse. The report itself is
        // what matters, so a broken optional tail is dropped, not fatal.
        if let Ok(optional) = Self::decode_optional(fo, r) {
            (report.pid, report.dcs, report.user_data) = optional;
        }
        Ok(report)
    }

    /// TP-PI (§9.2.3.27) and the TP-PID, TP-DCS, TP-UDL/UD it announces.
    fn decode_optional(fo: u8, r: &mut Reader<'_>) -> Result<Optional, PduError> {
        if r.is_empty() {
            return Ok((None, None, None));
        }
        let mut pi = r.u8("parameter indicator")?;
        // Extension octets (bit 7) carry nothing defined yet.
        while pi & 0x80 != 0 && !r.is_empty() {
            pi = r.u8("parameter indicator")?;
        }
        let pid = (pi & 0x01 != 0)
            .then(|| r.u8("protocol identifier"))
            .transpose()?;
        let dcs = (pi & 0x02 != 0)
            .then(|| r.u8("data coding scheme"))
            .transpose()?;
        let encoding = Encoding::from_dcs(dcs.unwrap_or(0));
        let ud = (pi & 0x04 != 0)
            .then(|| UserData::decode(r, encoding, fo & 0x40 != 0))
            .transpose()?;
        Ok((pid, dcs, ud))
    }

    /// The TPDU octets (§9.2.2.3).
    pub(crate) fn encode_tpdu(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let mut fo = MTI_STATUS_REPORT;
        if !self.more_messages {
            fo |= 0x04;
        }
        if self.command_report {
            fo |= 0x20;
        }
        if self.user_data.as_ref().is_some_and(|u| u.udh.is_some()) {
            fo |= 0x40;
        }
        out.push(fo);
        out.push(self.message_ref);
        self.recipient.encode_tp(out)?;
        out.extend(encode_scts(&self.scts)?);
        out.extend(encode_scts(&self.discharge_time)?);
        out.push(self.status);
        let pi = u8::from(self.pid.is_some())
            | u8::from(self.dcs.is_some()) << 1
            | u8::from(self.user_data.is_some()) << 2;
        if pi != 0 {
            out.push(pi);
            if let Some(pid) = self.pid {
                out.push(pid);
            }
            if let Some(dcs) = self.dcs {
                out.push(dcs);
            }
            if let Some(ud) = &self.user_data {
                ud.encode(self.encoding(), out)?;
            }
        }
        Ok(())
    }
}
