//! Pure SMS codec (3GPP TS 23.040 / 23.038): PDUs in both directions, the
//! GSM 7-bit and UCS-2 alphabets, concatenation headers, the splitter and
//! the multipart assembler.
//!
//! Sans-IO: bytes and values in, typed values out. No I/O, no clock, no
//! async runtime; callers pass `now` where time matters. May not touch the
//! AT layer, the store or the network.

mod address;
mod assembler;
mod compose;
mod dcs;
mod deliver;
mod error;
pub mod gsm7;
pub use gsm7::septet_cost;
mod pdu;
mod reader;
mod split;
mod status_report;
mod submit;
mod time;
mod udh;
mod user_data;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod fixtures_modemmanager;
#[cfg(test)]
mod proptests;

pub use address::{Address, AddressKind};
pub use assembler::{Assembled, Assembler, IncomingPart, MISSING_MARKER};
pub use compose::{deliver_parts, encode_submit, SubmitOptions};
pub use dcs::Encoding;
pub use deliver::Deliver;
pub use error::PduError;
pub use pdu::{
    decode_hex, decode_pdu, encode_deliver, encode_status_report, parse_hex, EncodedPdu, Pdu,
};
pub use split::{
    choose_encoding, measure, split, Part, TextInfo, MULTI_SEPTETS, MULTI_UCS2_UNITS,
    SINGLE_SEPTETS, SINGLE_UCS2_UNITS,
};
pub use status_report::{DeliveryStatus, StatusReport};
pub use submit::{Submit, Validity};
pub use time::{decode_scts, encode_scts, relative_vp_minutes};
pub use udh::{Concat, InformationElement, Udh};
pub use user_data::UserData;
