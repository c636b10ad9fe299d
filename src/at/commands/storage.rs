//! Message storage commands: `+CPMS` (3GPP TS 27.005 §3.2.2), `+CMGR`
//! (§3.4.3), `+CMGL` (§3.4.2) and `+CMGD` (§3.5.4), PDU mode.
//!
//! Owns: these command types and the parsers of their (header, PDU line)
//! responses. May not touch: PDU decoding (the `sms` module does that) or
//! the digester (which already paired each header with its PDU line).

use std::time::Duration;

use super::{prefixed_line, query, set, AtCommand, Param};
use super::{CMGD_TIMEOUT, CMGL_TIMEOUT, CMGR_TIMEOUT, CPMS_TIMEOUT};
use crate::at::error::AtError;
use crate::at::fields::{int, is_hex_line, opt_string, parse_err, split_params, strip_prefix};

/// `<stat>` in PDU mode (TS 27.005 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageStat {
    /// 0: received unread.
    ReceivedUnread,
    /// 1: received read.
    ReceivedRead,
    /// 2: stored unsent.
    StoredUnsent,
    /// 3: stored sent.
    StoredSent,
    /// 4: all (only as a `+CMGL` filter).
    All,
}

impl MessageStat {
    /// The PDU-mode code.
    pub fn code(self) -> u8 {
        match self {
            Self::ReceivedUnread => 0,
            Self::ReceivedRead => 1,
            Self::StoredUnsent => 2,
            Self::StoredSent => 3,
            Self::All => 4,
        }
    }

    /// From the PDU-mode code, or the text-mode name some firmware prints
    /// even in PDU mode (`"REC UNREAD"`).
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = crate::at::fields::unquote(raw.trim());
        Some(match raw.to_ascii_uppercase().as_str() {
            "0" | "REC UNREAD" => Self::ReceivedUnread,
            "1" | "REC READ" => Self::ReceivedRead,
            "2" | "STO UNSENT" => Self::StoredUnsent,
            "3" | "STO SENT" => Self::StoredSent,
            "4" | "ALL" => Self::All,
            _ => return None,
        })
    }
}

/// One stored message as `+CMGR`/`+CMGL` report it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredPdu {
    /// Storage index.
    pub index: u32,
    /// `<stat>`.
    pub stat: MessageStat,
    /// `<alpha>` (phonebook name), rarely present.
    pub alpha: Option<String>,
    /// `<length>`: TPDU octets.
    pub length: u16,
    /// The PDU, hex (SMSC part included).
    pub pdu: String,
}

/// Pairs each `prefix` header with the PDU line after it. `index_first`:
/// `+CMGL` headers start with `<index>`, `+CMGR` headers do not.
fn stored_pdus(
    lines: &[String],
    prefix: &str,
    read_index: Option<u32>,
) -> Result<Vec<StoredPdu>, AtError> {
    let mut out = Vec::new();
    let mut iter = lines.iter().peekable();
    while let Some(line) = iter.next() {
        let Some(rest) = strip_prefix(line, prefix) else {
            return Err(parse_err(line, "expected a header line"));
        };
        let p = split_params(rest);
        let (index, base) = match read_index {
            Some(i) => (i, 0),
            None => (int(&p, 0, line)?, 1),
        };
        let stat = p
            .get(base)
            .and_then(|raw| MessageStat::parse(raw))
            .ok_or_else(|| parse_err(line, "bad <stat>"))?;
        let pdu = iter
            .next_if(|l| is_hex_line(l))
            .ok_or_else(|| parse_err(line, "header without its PDU line"))?;
        out.push(StoredPdu {
            index,
            stat,
            alpha: opt_string(&p, base + 1),
            length: int(&p, base + 2, line)?,
            pdu: pdu.clone(),
        });
    }
    Ok(out)
}

/// `AT+CMGR=<index>` (TS 27.005 §3.4.3). `None` when the slot is empty
/// (some modems answer a bare `OK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMessage(pub u32);

impl AtCommand for ReadMessage {
    type Response = Option<StoredPdu>;
    const TIMEOUT: Duration = CMGR_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CMGR", &[Param::Int(index_param(self.0))])
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CMGR")
    }
    fn pdu_lines(&self) -> bool {
        true
    }
    fn parse(&self, lines: &[String]) -> Result<Option<StoredPdu>, AtError> {
        let mut all = stored_pdus(lines, "+CMGR", Some(self.0))?;
        if all.len() > 1 {
            return Err(AtError::Unexpected("several +CMGR messages".into()));
        }
        Ok(all.pop())
    }
}

/// `AT+CMGL=<stat>` (TS 27.005 §3.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListMessages(pub MessageStat);

impl AtCommand for ListMessages {
    type Response = Vec<StoredPdu>;
    const TIMEOUT: Duration = CMGL_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CMGL", &[Param::Int(self.0.code().into())])
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CMGL")
    }
    fn pdu_lines(&self) -> bool {
        true
    }
    fn parse(&self, lines: &[String]) -> Result<Vec<StoredPdu>, AtError> {
        stored_pdus(lines, "+CMGL", None)
    }
}

/// `<delflag>` of `+CMGD` (TS 27.005 §3.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeleteFlag {
    /// 0: the message at `<index>` only.
    Index,
    /// 1: all read messages.
    Read,
    /// 2: all read and sent.
    ReadAndSent,
    /// 3: all read, sent and unsent.
    ReadSentUnsent,
    /// 4: everything.
    All,
}

/// `AT+CMGD=<index>[,<delflag>]` (TS 27.005 §3.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteMessage {
    /// Storage index.
    pub index: u32,
    /// What to delete; `Index` sends no `<delflag>`.
    pub flag: DeleteFlag,
}

impl AtCommand for DeleteMessage {
    type Response = ();
    const TIMEOUT: Duration = CMGD_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        let index = Param::Int(index_param(self.index));
        let flag = match self.flag {
            DeleteFlag::Index => return set("+CMGD", &[index]),
            DeleteFlag::Read => 1,
            DeleteFlag::ReadAndSent => 2,
            DeleteFlag::ReadSentUnsent => 3,
            DeleteFlag::All => 4,
        };
        set("+CMGD", &[index, Param::Int(flag)])
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

fn index_param(index: u32) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// One `<memN>,<usedN>,<totalN>` triple of `+CPMS` (TS 27.005 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemUsage {
    /// Storage name (`SM`, `ME`, `MT`); empty in the `+CPMS=` answer,
    /// which omits names.
    pub name: String,
    /// Messages stored.
    pub used: u32,
    /// Capacity.
    pub total: u32,
}

/// `+CPMS` answer: reading/deleting, writing/sending, and receiving
/// storages (TS 27.005 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageUsage {
    /// `<mem1>`: read and delete.
    pub mem1: MemUsage,
    /// `<mem2>`: write and send.
    pub mem2: Option<MemUsage>,
    /// `<mem3>`: where received messages go.
    pub mem3: Option<MemUsage>,
}

fn storage_usage(lines: &[String], named: bool) -> Result<StorageUsage, AtError> {
    let (line, rest) = prefixed_line(lines, "+CPMS")?;
    let p = split_params(rest);
    let width = if named { 3 } else { 2 };
    if p.len() < width || p.len() % width != 0 || p.len() > 3 * width {
        return Err(parse_err(line, "wrong number of +CPMS parameters"));
    }
    let triple = |k: usize| -> Result<Option<MemUsage>, AtError> {
        let base = k * width;
        if base >= p.len() {
            return Ok(None);
        }
        let (name, off) = if named {
            (opt_string(&p, base).unwrap_or_default(), 1)
        } else {
            (String::new(), 0)
        };
        Ok(Some(MemUsage {
            name,
            used: int(&p, base + off, line)?,
            total: int(&p, base + off + 1, line)?,
        }))
    };
    Ok(StorageUsage {
        mem1: triple(0)?.ok_or_else(|| parse_err(line, "no <mem1>"))?,
        mem2: triple(1)?,
        mem3: triple(2)?,
    })
}

/// `AT+CPMS?` (TS 27.005 §3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StorageQuery;

impl AtCommand for StorageQuery {
    type Response = StorageUsage;
    const TIMEOUT: Duration = CPMS_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        query("+CPMS")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CPMS")
    }
    fn parse(&self, lines: &[String]) -> Result<StorageUsage, AtError> {
        storage_usage(lines, true)
    }
}

/// `AT+CPMS=<mem1>[,<mem2>[,<mem3>]]` (TS 27.005 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStorage(Vec<String>);

impl SetStorage {
    /// One to three storage names of two upper-case letters (`SM`, `ME`,
    /// `MT`, `BM`, `SR`).
    pub fn new(mems: &[&str]) -> Result<Self, AtError> {
        let ok = |m: &&str| m.len() == 2 && m.bytes().all(|b| b.is_ascii_uppercase());
        if mems.is_empty() || mems.len() > 3 || !mems.iter().all(ok) {
            return Err(AtError::InvalidArgument(format!("bad storages {mems:?}")));
        }
        Ok(Self(mems.iter().map(|m| (*m).to_owned()).collect()))
    }
}

impl AtCommand for SetStorage {
    type Response = StorageUsage;
    const TIMEOUT: Duration = CPMS_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        let params: Vec<Param<'_>> = self.0.iter().map(|m| Param::Str(m)).collect();
        set("+CPMS", &params)
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CPMS")
    }
    fn parse(&self, lines: &[String]) -> Result<StorageUsage, AtError> {
        storage_usage(lines, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Huawei E173, `AT+CMGL=4` with two messages (captured).
    #[test]
    fn cmgl_response_huawei_e173() {
        let got = ListMessages(MessageStat::All).parse(&lines(&[
            "+CMGL: 0,1,,24",
            "07918190050000F0040B918190553412F40000621111713523040461F1980C",
            "+CMGL: 3,0,,22",
            "07918190050000F0040B918190553412F400006211117135330402C834",
        ]));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].index, got[0].stat, got[0].length),
            (0, MessageStat::ReceivedRead, 24)
        );
        assert_eq!(
            (got[1].index, got[1].stat),
            (3, MessageStat::ReceivedUnread)
        );
        assert_eq!(ListMessages(MessageStat::All).to_bytes(), b"AT+CMGL=4\r");
    }

    #[test]
    fn cmgl_header_without_pdu_is_an_error() {
        assert!(ListMessages(MessageStat::All)
            .parse(&lines(&["+CMGL: 0,1,,24"]))
            .is_err());
        assert_eq!(ListMessages(MessageStat::All).parse(&[]), Ok(vec![]));
    }

    /// SIMCom SIM800 manual §4.2.3 shape, with an `<alpha>`.
    #[test]
    fn cmgr_response_sim800() {
        let got = ReadMessage(5).parse(&lines(&[
            r#"+CMGR: 0,"Ana",24"#,
            "07918190050000F0040B918190553412F40000621111713523040461F1980C",
        ]));
        let got = got
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("empty"));
        assert_eq!(
            (got.index, got.alpha.as_deref(), got.length),
            (5, Some("Ana"), 24)
        );
        assert_eq!(ReadMessage(5).parse(&[]), Ok(None));
        assert_eq!(ReadMessage(5).to_bytes(), b"AT+CMGR=5\r");
    }

    #[test]
    fn cmgd_forms() {
        let one = DeleteMessage {
            index: 3,
            flag: DeleteFlag::Index,
        };
        assert_eq!(one.to_bytes(), b"AT+CMGD=3\r");
        let all = DeleteMessage {
            index: 1,
            flag: DeleteFlag::All,
        };
        assert_eq!(all.to_bytes(), b"AT+CMGD=1,4\r");
    }

    #[test]
    fn cpms_query_and_set_quectel_ec25() {
        let q = StorageQuery.parse(&lines(&[r#"+CPMS: "SM",3,50,"SM",3,50,"SM",3,50"#]));
        let q = q.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            q.mem1,
            MemUsage {
                name: "SM".into(),
                used: 3,
                total: 50
            }
        );
        assert_eq!(q.mem3.map(|m| m.total), Some(50));
        let set = SetStorage::new(&["SM", "SM", "SM"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.to_bytes(), b"AT+CPMS=\"SM\",\"SM\",\"SM\"\r");
        let s = set
            .parse(&lines(&["+CPMS: 3,50,3,50,3,50"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.mem1.used, s.mem2.map(|m| m.total)), (3, Some(50)));
        assert!(SetStorage::new(&["S\"M"]).is_err());
        assert!(StorageQuery.parse(&lines(&["+CPMS: \"SM\",3"])).is_err());
    }
}
