//! SMS-DELIVER (3GPP TS 23.040 §9.2.2.1): a message from the service centre
//! to the phone. Decoded for incoming texts, encoded for the modem emulator.
//!
//! Owns the SMS-DELIVER field layout only; addresses, time stamps and user
//! data are delegated to their modules.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::dcs::Encoding;
use super::error::PduError;
use super::reader::Reader;
use super::time::{decode_scts, encode_scts};
use super::user_data::UserData;

/// TP-MTI of SMS-DELIVER (§9.2.3.1).
pub(crate) const MTI_DELIVER: u8 = 0b00;

/// A decoded or to-be-encoded SMS-DELIVER.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliver {
    /// TP-MMS inverted (§9.2.3.2): true when more messages are waiting.
    pub more_messages: bool,
    /// TP-SRI (§9.2.3.4): the sender asked for a status report.
    pub status_report_indication: bool,
    /// TP-RP (§9.2.3.17).
    pub reply_path: bool,
    /// TP-OA (§9.2.3.7).
    pub originator: Address,
    /// TP-PID (§9.2.3.9).
    pub pid: u8,
    /// TP-DCS (TS 23.038 §4).
    pub dcs: u8,
    /// TP-SCTS (§9.2.3.11).
    pub scts: DateTime<FixedOffset>,
    pub user_data: UserData,
}

impl Deliver {
    /// A plain text delivery in the given encoding (PID 0).
    pub fn new(
        originator: Address,
        scts: DateTime<FixedOffset>,
        encoding: Encoding,
        user_data: UserData,
    ) -> Self {
        Deliver {
            more_messages: false,
            status_report_indication: false,
            reply_path: false,
            originator,
            pid: 0,
            dcs: encoding.dcs(),
            scts,
            user_data,
        }
    }

    /// The alphabet selected by [`Deliver::dcs`].
    pub fn encoding(&self) -> Encoding {
        Encoding::from_dcs(self.dcs)
    }

    /// Reads the TPDU after the first octet `fo` (§9.2.2.1).
    pub(crate) fn decode_body(fo: u8, r: &mut Reader<'_>) -> Result<Self, PduError> {
        let originator = Address::decode_tp(r, "originator address")?;
        let pid = r.u8("protocol identifier")?;
        let dcs = r.u8("data coding scheme")?;
        let scts = decode_scts(r.take(7, "service centre time stamp")?)?;
        let user_data = UserData::decode(r, Encoding::from_dcs(dcs), fo & 0x40 != 0)?;
        Ok(Deliver {
            more_messages: fo & 0x04 == 0,
            status_report_indication: fo & 0x20 != 0,
            reply_path: fo & 0x80 != 0,
            originator,
            pid,
            dcs,
            scts,
            user_data,
        })
    }

    /// The TPDU octets (§9.2.2.1).
    pub(crate) fn encode_tpdu(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let mut fo = MTI_DELIVER;
        if !self.more_messages {
            fo |= 0x04;
        }
        if self.status_report_indication {
            fo |= 0x20;
        }
        if self.user_data.udh.is_some() {
            fo |= 0x40;
        }
        if self.reply_path {
            fo |= 0x80;
        }
        out.push(fo);
        self.originator.encode_tp(out)?;
        out.push(self.pid);
        out.push(self.dcs);
        out.extend(encode_scts(&self.scts)?);
        self.user_data.encode(self.encoding(), out)
    }
}
