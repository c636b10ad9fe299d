//! Unsolicited result codes (V.250 §5.7.3, 3GPP TS 27.005 §3.4.1 and
//! §3.4.2, TS 27.007 §7.2 / §10.1.20, Huawei E-series manual) as the typed
//! [`Urc`] enum.
//!
//! Owns: recognising a URC line and building the typed value, including the
//! two-line URCs `+CMT` and `+CDS` (header, then PDU line). May not touch:
//! the command in flight — the digester decides, before calling
//! [`recognise`], whether a line belongs to the response instead.

use super::fields::{int, opt_int, opt_string, split_params, strip_prefix};
use super::pin::PinStatus;
use super::registration::Registration;
use super::ussd::{parse_cusd, string_is_open};

/// An unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Urc {
    /// `+CMTI: <mem>,<index>`: a message was stored (TS 27.005 §3.4.1).
    MessageStored {
        /// Storage, e.g. `SM` or `ME`.
        mem: String,
        /// Index to read with `AT+CMGR`.
        index: u32,
    },
    /// `+CMT: [<alpha>],<length>` + PDU line: a message routed directly to
    /// the TE, not stored (TS 27.005 §3.4.1, PDU mode). Needs `+CNMA`.
    MessageReceived {
        /// `<alpha>`, if the modem prints one.
        alpha: Option<String>,
        /// TPDU length in octets.
        length: u16,
        /// The PDU, hex.
        pdu: String,
    },
    /// `+CDSI: <mem>,<index>`: a status report was stored (TS 27.005 §3.4.1).
    ReportStored {
        /// Storage.
        mem: String,
        /// Index.
        index: u32,
    },
    /// `+CDS: <length>` + PDU line: a status report routed directly to the
    /// TE (TS 27.005 §3.4.1, PDU mode).
    StatusReport {
        /// TPDU length in octets.
        length: u16,
        /// The PDU, hex.
        pdu: String,
    },
    /// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]` (TS 27.007 §7.2).
    Registration(Registration),
    /// `+CGREG: ...` (TS 27.007 §10.1.20).
    GprsRegistration(Registration),
    /// `RING` (V.250 §5.7.1, result code 2).
    Ring,
    /// `RDY`: the module finished booting (SIMCom, Quectel).
    Ready,
    /// `+CPIN: <code>` (TS 27.007 §8.3; sent unsolicited after boot).
    Pin(PinStatus),
    /// `+CFUN: <fun>` (TS 27.007 §8.2; sent unsolicited after boot).
    Functionality(u8),
    /// Huawei `^RSSI:<rssi>` (same scale as `+CSQ`).
    HuaweiRssi(u8),
    /// Huawei `^BOOT:...` (verbatim parameters).
    HuaweiBoot(String),
    /// Huawei `^MODE:<sys_mode>[,<sys_submode>]`.
    HuaweiMode {
        /// `<sys_mode>`.
        mode: u8,
        /// `<sys_submode>`.
        submode: Option<u8>,
    },
    /// Huawei `^DSFLOWRPT:...` (verbatim parameters).
    HuaweiDataFlow(String),
    /// `+CUSD: <m>[,<str>[,<dcs>]]`: a USSD answer or a network-initiated
    /// USSD (TS 27.007 §7.15). A `<str>` that spans several lines comes
    /// joined with `\n`. `text` is `<str>` as printed: decode it with
    /// [`crate::at::ussd::decode`] and `dcs`.
    Ussd {
        /// `<m>`: 0 done, 1 menu open, 2 ended by the network, 3 another
        /// local client answered, 4 not supported, 5 network time out.
        status: u8,
        /// `<str>`, without its quotes.
        text: Option<String>,
        /// `<dcs>` (TS 23.038 §5).
        dcs: Option<u8>,
    },
    /// Any other unsolicited line, verbatim.
    Other(String),
}

impl Urc {
    /// Whether this line says the modem (re)started, so that its settings
    /// (PDU mode, storage, notices) are gone and it must be initialised
    /// again. Only lines that mean a restart count; a heartbeat never does:
    ///
    /// - `RDY`: Quectel, SIMCom (ModemManager reprobes on it,
    ///   `src/plugins/quectel/mm-shared-quectel.c`, commit fcd393a6);
    /// - an unsolicited `+CPIN: READY`: the SIM was initialised again;
    /// - `SMS Ready` (SIMCom; TinyGSM re-runs init on it,
    ///   `TinyGsmClientSIM7000.h`, `handleURCs`), `+QIND: SMS DONE`
    ///   (Quectel), `+WIND: 3` (Wavecom: "ready after a reset"), a
    ///   `^SYSSTART` (Huawei modules: sent once at start-up).
    ///
    /// Not `^BOOT`: Huawei sticks repeat it mid-session (gammu issues #138,
    /// #393); ModemManager (`mm-broadband-modem-huawei.c`), gammu
    /// (`libgammu/protocol/at/at.c`) and chan_dongle all ignore it.
    pub fn is_restart(&self) -> bool {
        match self {
            Urc::Ready | Urc::Pin(PinStatus::Ready) => true,
            Urc::Other(line) => {
                let l = line.trim();
                l.eq_ignore_ascii_case("SMS Ready")
                    || l.eq_ignore_ascii_case("^SYSSTART")
                    || l.eq_ignore_ascii_case("+QIND: SMS DONE")
                    || l.replace(' ', "").eq_ignore_ascii_case("+WIND:3")
            }
            _ => false,
        }
    }
}

/// The header of a two-line URC, waiting for its PDU line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PduUrcHeader {
    Cmt { alpha: Option<String>, length: u16 },
    Cds { length: u16 },
}

impl PduUrcHeader {
    /// The complete URC once the PDU line arrived.
    pub(crate) fn complete(self, pdu: String) -> Urc {
        match self {
            Self::Cmt { alpha, length } => Urc::MessageReceived { alpha, length, pdu },
            Self::Cds { length } => Urc::StatusReport { length, pdu },
        }
    }
}

/// What [`recognise`] made of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recognised {
    /// A complete URC.
    Urc(Urc),
    /// The header of `+CMT`/`+CDS`; the next line is its PDU.
    NeedsPdu(PduUrcHeader),
    /// A `+CUSD:` whose quoted string goes on in the next lines.
    UssdContinues,
    /// Not a URC.
    No,
}

/// Known unsolicited lines without a typed variant (SIMCom, Quectel,
/// Huawei); they become [`Urc::Other`] even while a command is in flight.
const KNOWN_OTHER: &[&str] = &[
    "Call Ready",
    "SMS Ready",
    "NORMAL POWER DOWN",
    "UNDER-VOLTAGE POWER DOWN",
    "UNDER-VOLTAGE WARNNING",
    "OVER-VOLTAGE WARNNING",
    "+CLIP:",
    "+CRING:",
    "+CGEV:",
    "+CEREG:",
    "+QIND:",
    "+QUSIM:",
    "+CPINR:",
    "^SRVST:",
    "^SIMST:",
    "^HCSQ:",
    "^SYSSTART",
    "^CEND:",
    "^ORIG:",
    "^CONF:",
    "^CONN:",
    "^STIN:",
    "^SMMEMFULL:",
    // Wavecom boot indications (+WIND: <event>), ZTE status lines.
    "+WIND:",
    "+ZPASR:",
    "+ZDONR:",
    "+ZUSIMR:",
    "+ZEND",
    "+ZPSTM",
];

/// Recognises an unsolicited line. With `unknown_prefixed`, any other
/// `+NAME:`/`^NAME:` line is taken as [`Urc::Other`] too (right while a
/// command with a different response prefix is in flight, or when nothing
/// is in flight).
pub(crate) fn recognise(line: &str, unknown_prefixed: bool) -> Recognised {
    if let Some(rec) = recognise_typed(line) {
        return rec;
    }
    let known = KNOWN_OTHER.iter().any(|k| {
        line.get(..k.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(k))
    });
    let prefixed = (line.starts_with('+') || line.starts_with('^')) && line.contains(':');
    if known || (unknown_prefixed && prefixed) {
        Recognised::Urc(Urc::Other(line.to_owned()))
    } else {
        Recognised::No
    }
}

fn recognise_typed(line: &str) -> Option<Recognised> {
    let urc = |u| Some(Recognised::Urc(u));
    let upper = line.to_ascii_uppercase();
    match upper.as_str() {
        "RING" => return urc(Urc::Ring),
        "RDY" => return urc(Urc::Ready),
        _ => {}
    }
    if let Some(rest) = strip_prefix(line, "+CMTI") {
        return urc(stored(rest, line, false));
    }
    if let Some(rest) = strip_prefix(line, "+CDSI") {
        return urc(stored(rest, line, true));
    }
    if let Some(rest) = strip_prefix(line, "+CMT") {
        let p = split_params(rest);
        return Some(match (p.len(), int::<u16>(&p, 1, line)) {
            (2, Ok(length)) => Recognised::NeedsPdu(PduUrcHeader::Cmt {
                alpha: opt_string(&p, 0),
                length,
            }),
            _ => Recognised::Urc(Urc::Other(line.to_owned())),
        });
    }
    if let Some(rest) = strip_prefix(line, "+CDS") {
        let p = split_params(rest);
        return Some(match (p.len(), int::<u16>(&p, 0, line)) {
            (1, Ok(length)) => Recognised::NeedsPdu(PduUrcHeader::Cds { length }),
            _ => Recognised::Urc(Urc::Other(line.to_owned())),
        });
    }
    if strip_prefix(line, "+CUSD").is_some() {
        if string_is_open(line) {
            return Some(Recognised::UssdContinues);
        }
        return urc(ussd(line));
    }
    if let Some(rest) = strip_prefix(line, "+CREG") {
        return urc(Registration::parse(rest, line)
            .map(Urc::Registration)
            .unwrap_or_else(|_| Urc::Other(line.to_owned())));
    }
    if let Some(rest) = strip_prefix(line, "+CGREG") {
        return urc(Registration::parse(rest, line)
            .map(Urc::GprsRegistration)
            .unwrap_or_else(|_| Urc::Other(line.to_owned())));
    }
    if let Some(rest) = strip_prefix(line, "+CPIN") {
        return urc(Urc::Pin(PinStatus::parse(rest)));
    }
    if let Some(rest) = strip_prefix(line, "+CFUN") {
        return urc(rest
            .trim()
            .parse()
            .map(Urc::Functionality)
            .unwrap_or_else(|_| Urc::Other(line.to_owned())));
    }
    if let Some(rest) = strip_prefix(line, "^RSSI") {
        return urc(rest
            .trim()
            .parse()
            .map(Urc::HuaweiRssi)
            .unwrap_or_else(|_| Urc::Other(line.to_owned())));
    }
    if let Some(rest) = strip_prefix(line, "^BOOT") {
        return urc(Urc::HuaweiBoot(rest.to_owned()));
    }
    if let Some(rest) = strip_prefix(line, "^DSFLOWRPT") {
        return urc(Urc::HuaweiDataFlow(rest.to_owned()));
    }
    if let Some(rest) = strip_prefix(line, "^MODE") {
        let p = split_params(rest);
        let mode = int::<u8>(&p, 0, line);
        let submode = opt_int::<u8>(&p, 1, line);
        return urc(match (mode, submode) {
            (Ok(mode), Ok(submode)) => Urc::HuaweiMode { mode, submode },
            _ => Urc::Other(line.to_owned()),
        });
    }
    None
}

/// The typed `+CUSD:` of a whole (possibly joined) line, or the line
/// verbatim when its parameters are not `<m>[,<str>[,<dcs>]]`.
pub(crate) fn ussd(line: &str) -> Urc {
    match parse_cusd(line) {
        Some((status, text, dcs)) => Urc::Ussd { status, text, dcs },
        None => Urc::Other(line.to_owned()),
    }
}

fn stored(rest: &str, line: &str, report: bool) -> Urc {
    let p = split_params(rest);
    let mem = opt_string(&p, 0).unwrap_or_default();
    match int::<u32>(&p, 1, line) {
        Ok(index) if p.len() == 2 && report => Urc::ReportStored { mem, index },
        Ok(index) if p.len() == 2 => Urc::MessageStored { mem, index },
        _ => Urc::Other(line.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::registration::RegStatus;

    /// Restart signals of each family count; heartbeats and status lines
    /// never do (`huawei_boot_is_a_heartbeat_not_a_restart`).
    #[test]
    fn restart_signals_versus_heartbeats() {
        for line in [
            "RDY",
            "+CPIN: READY",
            "SMS Ready",
            "^SYSSTART",
            "+QIND: SMS DONE",
            "+WIND: 3",
        ] {
            assert!(urc(line).is_restart(), "{line}");
        }
        for line in [
            "^BOOT:35323129,0,0,0,75",
            "^RSSI:17",
            "^MODE:5,4",
            "^DSFLOWRPT:00000124,00000082,00000EA6,0000000000012325,000000000022771D,0000BB80,0001F400",
            "^SRVST:2",
            "+QIND: PB DONE",
            "+QUSIM: 1",
            "Call Ready",
            "+ZUSIMR:2",
            "+ZPASR: \"UMTS\"",
            "+ZEND",
            "+WIND: 4",
            "+CPIN: SIM PIN",
        ] {
            assert!(!urc(line).is_restart(), "{line}");
        }
    }

    fn urc(line: &str) -> Urc {
        match recognise(line, false) {
            Recognised::Urc(u) => u,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn cmti_sim800() {
        assert_eq!(
            urc(r#"+CMTI: "SM",3"#),
            Urc::MessageStored {
                mem: "SM".into(),
                index: 3
            }
        );
        assert_eq!(
            urc(r#"+CDSI: "SM",12"#),
            Urc::ReportStored {
                mem: "SM".into(),
                index: 12
            }
        );
    }

    #[test]
    fn cmt_and_cds_need_their_pdu_line() {
        assert_eq!(
            recognise("+CMT: ,24", false),
            Recognised::NeedsPdu(PduUrcHeader::Cmt {
                alpha: None,
                length: 24
            })
        );
        assert_eq!(
            recognise("+CDS: 25", false),
            Recognised::NeedsPdu(PduUrcHeader::Cds { length: 25 })
        );
    }

    #[test]
    fn huawei_e173_noise() {
        assert_eq!(urc("^RSSI:14"), Urc::HuaweiRssi(14));
        assert_eq!(
            urc("^MODE:5,4"),
            Urc::HuaweiMode {
                mode: 5,
                submode: Some(4)
            }
        );
        assert_eq!(
            urc("^MODE:0"),
            Urc::HuaweiMode {
                mode: 0,
                submode: None
            }
        );
        assert_eq!(
            urc("^BOOT:20952851,0,0,0,72"),
            Urc::HuaweiBoot("20952851,0,0,0,72".into())
        );
        assert!(matches!(
            urc("^DSFLOWRPT:0000240E,00000000,00000000,0000000000000000,0000000000000000,0003E800,0003E800"),
            Urc::HuaweiDataFlow(_)
        ));
    }

    #[test]
    fn boot_lines_simcom_sim800() {
        assert_eq!(urc("RDY"), Urc::Ready);
        assert_eq!(urc("+CFUN: 1"), Urc::Functionality(1));
        assert_eq!(urc("+CPIN: READY"), Urc::Pin(PinStatus::Ready));
        assert_eq!(urc("Call Ready"), Urc::Other("Call Ready".into()));
        assert_eq!(urc("RING"), Urc::Ring);
    }

    #[test]
    fn creg_urc_forms() {
        let Urc::Registration(r) = urc("+CREG: 1") else {
            panic!()
        };
        assert_eq!(r.stat, RegStatus::Home);
        let Urc::GprsRegistration(r) = urc(r#"+CGREG: 5,"00C3","A1B2",2"#) else {
            panic!()
        };
        assert_eq!((r.stat, r.act), (RegStatus::Roaming, Some(2)));
    }

    /// TS 27.007 §7.15 forms: with and without `<str>`/`<dcs>`.
    #[test]
    fn cusd_forms() {
        assert_eq!(
            urc(r#"+CUSD: 0,"Su saldo es RD$ 25.00",15"#),
            Urc::Ussd {
                status: 0,
                text: Some("Su saldo es RD$ 25.00".into()),
                dcs: Some(15)
            }
        );
        assert_eq!(
            urc("+CUSD: 4"),
            Urc::Ussd {
                status: 4,
                text: None,
                dcs: None
            }
        );
        assert_eq!(urc("+CUSD: what"), Urc::Other("+CUSD: what".into()));
        assert_eq!(
            recognise(r#"+CUSD: 1,"1. Saldo"#, false),
            Recognised::UssdContinues
        );
    }

    #[test]
    fn unknown_lines() {
        assert_eq!(recognise("+FOO: 1", false), Recognised::No);
        assert_eq!(
            recognise("+FOO: 1", true),
            Recognised::Urc(Urc::Other("+FOO: 1".into()))
        );
        assert_eq!(recognise("huawei", true), Recognised::No);
        assert_eq!(urc("+CMTI: garbage"), Urc::Other("+CMTI: garbage".into()));
    }
}
