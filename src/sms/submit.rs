//! SMS-SUBMIT (3GPP TS 23.040 §9.2.2.2): a message from the phone to the
//! service centre. Encoded for `AT+CMGS`, decoded for the emulator and for
//! messages read back from storage.
//!
//! Owns the SMS-SUBMIT field layout and the validity period format
//! (§9.2.3.3, §9.2.3.12). Splitting a text lives in `split`.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::dcs::Encoding;
use super::error::PduError;
use super::reader::Reader;
use super::time::{decode_scts, encode_scts, relative_vp_from_minutes, relative_vp_minutes};
use super::user_data::UserData;

/// TP-MTI of SMS-SUBMIT (§9.2.3.1).
pub(crate) const MTI_SUBMIT: u8 = 0b01;

/// TP-VP in one of its formats (§9.2.3.3 TP-VPF, §9.2.3.12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validity {
    /// No TP-VP: the service centre's default.
    None,
    /// Relative format, in minutes (rounded up to the §9.2.3.12.1 scale).
    Relative(u32),
    /// Absolute format (§9.2.3.12.2).
    Absolute(DateTime<FixedOffset>),
    /// Enhanced format (§9.2.3.12.3), kept as its 7 octets.
    Enhanced([u8; 7]),
}

/// A decoded or to-be-encoded SMS-SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submit {
    /// TP-RD (§9.2.3.25).
    pub reject_duplicates: bool,
    pub validity: Validity,
    /// TP-SRR (§9.2.3.5).
    pub status_report_request: bool,
    /// TP-RP (§9.2.3.17).
    pub reply_path: bool,
    /// TP-MR (§9.2.3.6).
    pub message_ref: u8,
    /// TP-DA (§9.2.3.8).
    pub destination: Address,
    /// TP-PID (§9.2.3.9).
    pub pid: u8,
    /// TP-DCS (TS 23.038 §4).
    pub dcs: u8,
    pub user_data: UserData,
}

impl Submit {
    /// The alphabet selected by [`Submit::dcs`].
    pub fn encoding(&self) -> Encoding {
        Encoding::from_dcs(self.dcs)
    }

    /// Minutes of a relative validity period, if that is the format used.
    pub fn validity_minutes(&self) -> Option<u32> {
        match self.validity {
            Validity::Relative(m) => Some(m),
            _ => None,
        }
    }

    /// Reads the TPDU after the first octet `fo` (§9.2.2.2).
    pub(crate) fn decode_body(fo: u8, r: &mut Reader<'_>) -> Result<Self, PduError> {
        let message_ref = r.u8("message reference")?;
        let destination = Address::decode_tp(r, "destination address")?;
        let pid = r.u8("protocol identifier")?;
        let dcs = r.u8("data coding scheme")?;
        let validity = match (fo >> 3) & 0x03 {
            0b00 => Validity::None,
            0b10 => Validity::Relative(relative_vp_minutes(r.u8("validity period")?)),
            0b11 => Validity::Absolute(decode_scts(r.take(7, "validity period")?)?),
            _ => {
                let o = r.take(7, "validity period")?;
                Validity::Enhanced(<[u8; 7]>::try_from(o).unwrap_or_default())
            }
        };
        let user_data = UserData::decode(r, Encoding::from_dcs(dcs), fo & 0x40 != 0)?;
        Ok(Submit {
            reject_duplicates: fo & 0x04 != 0,
            validity,
            status_report_request: fo & 0x20 != 0,
            reply_path: fo & 0x80 != 0,
            message_ref,
            destination,
            pid,
            dcs,
            user_data,
        })
    }

    /// The TPDU octets (§9.2.2.2).
    pub(crate) fn encode_tpdu(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let vpf: u8 = match self.validity {
            Validity::None => 0b00,
            Validity::Enhanced(_) => 0b01,
            Validity::Relative(_) => 0b10,
            Validity::Absolute(_) => 0b11,
        };
        let mut fo = MTI_SUBMIT | (vpf << 3);
        if self.reject_duplicates {
            fo |= 0x04;
        }
        if self.status_report_request {
            fo |= 0x20;
        }
        if self.user_data.udh.is_some() {
            fo |= 0x40;
        }
        if self.reply_path {
            fo |= 0x80;
        }
        out.push(fo);
        out.push(self.message_ref);
        self.destination.encode_tp(out)?;
        out.push(self.pid);
        out.push(self.dcs);
        match &self.validity {
            Validity::None => {}
            Validity::Relative(m) => out.push(relative_vp_from_minutes(*m)),
            Validity::Absolute(t) => out.extend(encode_scts(t)?),
            Validity::Enhanced(o) => out.extend(o),
        }
        self.user_data.encode(self.encoding(), out)
    }
}
