//! The SMS commands of the emulated DCE (3GPP TS 27.005 §3): message format,
//! service centre, storage, new-message indications, send, read, list and
//! delete, in PDU and text mode; and the arrival of messages from the network.

use std::time::Duration;

use super::line::{self, Cmd, Form};
use super::storage::{Kind, Memory, Stat};
use super::{Dce, Effect, Outcome, PromptFor, Step};
use crate::emulator::codec;

/// Why the DCE cannot take a message from the network now; the network
/// keeps it and tries again after [`Effect::StorageFreed`] or later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The receive storage is full: like a real SIM, `+CMTI` stops.
    StorageFull,
    /// The modem is off the network (no PIN, `+CFUN=0`, deregistered).
    Unavailable,
}

impl Dce {
    fn memory(&mut self, name: &str) -> &mut Memory {
        match name {
            "ME" => &mut self.me,
            "SR" => &mut self.sr,
            _ => &mut self.sm,
        }
    }

    fn memory_ref(&self, name: &str) -> &Memory {
        match name {
            "ME" => &self.me,
            "SR" => &self.sr,
            _ => &self.sm,
        }
    }

    /// Whether the model keeps status reports in an `SR` memory of their
    /// own (then `+CPMS` offers it for reading).
    fn has_sr(&self) -> bool {
        self.model.sms.report_memory.as_deref() == Some("SR")
    }

    fn sms_ready(&self) -> Option<Outcome> {
        (!self.pin_ok).then_some(Outcome::Cms(311))
    }

    /// Before the model's SMS service is up (SIMCom's `SMS Ready`,
    /// Quectel's `+QIND: SMS DONE`), SMS commands fail as it documents.
    fn sms_not_up(&self, name: &str) -> Option<Outcome> {
        let sms = matches!(
            name,
            "+CMGF" | "+CPMS" | "+CNMI" | "+CSCA" | "+CSMP" | "+CSMS"
        ) || name.starts_with("+CMG");
        (sms && !self.sms_up).then_some(match self.model.boot.not_ready_cms {
            Some(code) => Outcome::Cms(code),
            None => Outcome::Error,
        })
    }

    pub(super) fn execute_sms(&mut self, cmd: &Cmd, step: &mut Step) -> Outcome {
        let set = match &cmd.form {
            Form::Set(v) => Some(v.clone()),
            _ => None,
        };
        let p = set.as_deref().map(line::params).unwrap_or_default();
        let n = |i: usize| p.get(i).and_then(|s| s.parse::<u16>().ok());
        if let Some(not_yet) = self.sms_not_up(&cmd.name) {
            return not_yet;
        }
        match (cmd.name.as_str(), &cmd.form) {
            ("+CMGF", Form::Read) => Outcome::Ok(vec![format!("+CMGF: {}", self.cmgf)]),
            ("+CMGF", Form::Test) => Outcome::Ok(vec!["+CMGF: (0,1)".into()]),
            ("+CMGF", Form::Set(_)) => match n(0) {
                Some(m @ 0..=1) => {
                    self.cmgf = m as u8;
                    Outcome::Ok(vec![])
                }
                _ => Outcome::Error,
            },
            ("+CSMS", Form::Read) => Outcome::Ok(vec!["+CSMS: 0,1,1,1".into()]),
            ("+CSMS", Form::Test) => Outcome::Ok(vec!["+CSMS: (0,1)".into()]),
            ("+CSMS", Form::Set(_)) => Outcome::Ok(vec!["+CSMS: 1,1,1".into()]),
            ("+CNMA", _) => Outcome::Ok(vec![]),
            ("+CSCA", Form::Read) => Outcome::Ok(vec![format!(
                "+CSCA: \"{}\",{}",
                self.identity.smsc,
                if self.identity.smsc.starts_with('+') {
                    145
                } else {
                    129
                }
            )]),
            ("+CSCA", Form::Set(_)) => match p.first() {
                Some(s) if !s.is_empty() => {
                    self.identity.smsc = s.clone();
                    Outcome::Ok(vec![])
                }
                _ => Outcome::Cms(304),
            },
            ("+CSCA", Form::Test) => Outcome::Ok(vec![]),
            ("+CSMP", Form::Read) => Outcome::Ok(vec![format!(
                "+CSMP: {},{},{},{}",
                self.csmp[0], self.csmp[1], self.csmp[2], self.csmp[3]
            )]),
            ("+CSMP", Form::Set(_)) => {
                for (i, v) in p.iter().enumerate().take(4) {
                    if v.is_empty() {
                        continue;
                    }
                    match v.parse::<u8>() {
                        Ok(x) => self.csmp[i] = x,
                        Err(_) => return Outcome::Cms(304),
                    }
                }
                Outcome::Ok(vec![])
            }
            ("+CSMP", Form::Test) => Outcome::Ok(vec![]),
            ("+CPMS", Form::Test) => Outcome::Ok(vec![if self.has_sr() {
                "+CPMS: (\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")".into()
            } else {
                "+CPMS: (\"SM\",\"ME\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")".into()
            }]),
            ("+CPMS", Form::Read) => {
                if let Some(e) = self.sms_ready() {
                    return e;
                }
                let parts: Vec<String> = self
                    .mems
                    .iter()
                    .map(|m| {
                        let mem = self.memory_ref(m);
                        format!("\"{}\",{},{}", m, mem.used(), mem.capacity)
                    })
                    .collect();
                Outcome::Ok(vec![format!("+CPMS: {}", parts.join(","))])
            }
            ("+CPMS", Form::Set(_)) => {
                if let Some(e) = self.sms_ready() {
                    return e;
                }
                let mut mems = self.mems;
                for (i, m) in p.iter().enumerate().take(3) {
                    match m.to_uppercase().as_str() {
                        "SM" => mems[i] = "SM",
                        "ME" | "MT" => mems[i] = "ME",
                        // SR is for reading (mem1) only (Telit HE863 AT
                        // manual: mem2/mem3 take SM or ME).
                        "SR" if i == 0 && self.has_sr() => mems[i] = "SR",
                        "" => {}
                        _ => return Outcome::Cms(302),
                    }
                }
                self.mems = mems;
                let parts: Vec<String> = self
                    .mems
                    .iter()
                    .map(|m| {
                        let mem = self.memory_ref(m);
                        format!("{},{}", mem.used(), mem.capacity)
                    })
                    .collect();
                Outcome::Ok(vec![format!("+CPMS: {}", parts.join(","))])
            }
            ("+CNMI", Form::Read) => {
                let c = self.cnmi;
                Outcome::Ok(vec![format!(
                    "+CNMI: {},{},{},{},{}",
                    c.mode, c.mt, c.bm, c.ds, c.bfr
                )])
            }
            ("+CNMI", Form::Test) => {
                let ds: Vec<String> = self.model.sms.cnmi_ds.iter().map(u8::to_string).collect();
                Outcome::Ok(vec![format!(
                    "+CNMI: (0-3),(0-3),(0-3),({}),(0,1)",
                    ds.join(",")
                )])
            }
            ("+CNMI", Form::Set(_)) => {
                let mut c = self.cnmi;
                let limits = [3u16, 3, 3, 2, 1];
                for (i, v) in p.iter().enumerate().take(5) {
                    if v.is_empty() {
                        continue;
                    }
                    match v.parse::<u16>() {
                        Ok(x) if x <= limits[i] => match i {
                            0 => c.mode = x as u8,
                            1 => c.mt = x as u8,
                            2 => c.bm = x as u8,
                            3 => c.ds = x as u8,
                            _ => c.bfr = x as u8,
                        },
                        _ => return Outcome::Cms(303),
                    }
                }
                if !self.model.sms.cnmi_ds.contains(&c.ds) {
                    return Outcome::Cms(303);
                }
                self.cnmi = c;
                Outcome::Ok(vec![])
            }
            ("+CMGS", Form::Set(v)) => {
                if let Some(e) = self.sms_ready() {
                    return e;
                }
                let target = if self.cmgf == 0 {
                    match v.trim().parse::<usize>() {
                        Ok(len) if (7..=164).contains(&len) => PromptFor::Pdu(len),
                        _ => return Outcome::Cms(304),
                    }
                } else {
                    match p.first() {
                        Some(da) if !da.is_empty() => PromptFor::Text(da.clone()),
                        _ => return Outcome::Cms(304),
                    }
                };
                self.mode = super::Mode::Prompt(target);
                for urc in &self.model.sms.prompt_urcs {
                    step.write(Duration::ZERO, format!("\r\n{urc}\r\n").into_bytes());
                }
                step.write(Duration::ZERO, b"\r\n> ".to_vec());
                if self.faults.urc_in_prompt() {
                    step.write(Duration::ZERO, b"\r\n+CREG: 1\r\n^RSSI:18\r\n".to_vec());
                }
                Outcome::Prompt
            }
            ("+CMGS", Form::Test) => Outcome::Ok(vec![]),
            ("+CMGR", Form::Set(_)) => {
                if let Some(e) = self.sms_ready() {
                    return e;
                }
                let Some(index) = n(0) else {
                    return Outcome::Cms(321);
                };
                let cmgf = self.cmgf;
                let mem = self.mems[0];
                let memory = self.memory(mem);
                if !memory.in_range(index) {
                    return Outcome::Cms(321);
                }
                let Some(m) = memory.get_mut(index) else {
                    // An empty slot: most modems answer OK with no data.
                    return Outcome::Ok(vec![]);
                };
                let stat = m.stat;
                if m.stat == Stat::RecUnread {
                    m.stat = Stat::RecRead;
                }
                let m = m.clone();
                Outcome::Ok(show(&m, stat, cmgf, "+CMGR", None))
            }
            ("+CMGL", Form::Test) => Outcome::Ok(vec![if self.cmgf == 0 {
                "+CMGL: (0-4)".into()
            } else {
                "+CMGL: (\"REC UNREAD\",\"REC READ\",\"STO UNSENT\",\"STO SENT\",\"ALL\")".into()
            }]),
            ("+CMGL", Form::Set(_) | Form::Action) => {
                if let Some(e) = self.sms_ready() {
                    return e;
                }
                let which = p.first().cloned().unwrap_or_default().to_uppercase();
                let filter: Option<Stat> = match (self.cmgf, which.as_str()) {
                    (0, "0") | (1, "REC UNREAD") | (1, "") => Some(Stat::RecUnread),
                    (0, "1") | (1, "REC READ") => Some(Stat::RecRead),
                    (0, "2") | (1, "STO UNSENT") => Some(Stat::StoUnsent),
                    (0, "3") | (1, "STO SENT") => Some(Stat::StoSent),
                    (0, "4") | (1, "ALL") => None,
                    (0, "") => Some(Stat::RecUnread),
                    _ => return Outcome::Cms(302),
                };
                let cmgf = self.cmgf;
                let mem = self.mems[0];
                let memory = self.memory(mem);
                let mut lines = Vec::new();
                for m in memory.messages.iter_mut() {
                    if filter.is_some_and(|f| f != m.stat) {
                        continue;
                    }
                    let stat = m.stat;
                    if m.stat == Stat::RecUnread {
                        m.stat = Stat::RecRead;
                    }
                    lines.extend(show(m, stat, cmgf, "+CMGL", Some(m.index)));
                }
                Outcome::Ok(lines)
            }
            ("+CMGD", Form::Test) => {
                let mem = self.mems[0];
                let m = self.memory(mem);
                let used: Vec<String> = m.messages.iter().map(|m| m.index.to_string()).collect();
                Outcome::Ok(vec![format!("+CMGD: ({}),(0-4)", used.join(","))])
            }
            ("+CMGD", Form::Set(_)) => {
                if let Some(e) = self.sms_ready() {
                    return e;
                }
                let flag = n(1).unwrap_or(0);
                let mem = self.mems[0];
                let memory = self.memory(mem);
                match (n(0), flag) {
                    (_, 1..=4) => memory.delete_by_flag(flag as u8),
                    (Some(i), 0) if memory.in_range(i) => {
                        memory.delete(i);
                    }
                    _ => return Outcome::Cms(321),
                }
                step.effects.push(Effect::StorageFreed);
                Outcome::Ok(vec![])
            }
            _ => Outcome::Final(self.model.unknown_command.clone()),
        }
    }

    /// The body of `AT+CMGS` ended with Ctrl-Z.
    pub(super) fn finish_cmgs(
        &mut self,
        target: PromptFor,
        body: &[u8],
        step: &mut Step,
    ) -> Outcome {
        let tpdu = match target {
            PromptFor::Pdu(len) => {
                let text: String = String::from_utf8_lossy(body)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let Ok(bytes) = hex::decode(&text) else {
                    return Outcome::Cms(304);
                };
                // The PDU starts with the SMSC field; `len` counts the rest.
                let Some(&smsc_len) = bytes.first() else {
                    return Outcome::Cms(304);
                };
                let tpdu_start = 1 + smsc_len as usize;
                if bytes.len() != tpdu_start + len {
                    return Outcome::Cms(304);
                }
                bytes[tpdu_start..].to_vec()
            }
            PromptFor::Text(da) => {
                let text = String::from_utf8_lossy(body).to_string();
                let text = if self.cscs == "UCS2" {
                    match codec::ucs2_hex_to_string(&text) {
                        Some(t) => t,
                        None => return Outcome::Cms(304),
                    }
                } else {
                    text
                };
                match codec::text_mode_submit(&da, &text, self.csmp) {
                    Ok(t) => t,
                    Err(_) => return Outcome::Cms(304),
                }
            }
        };
        if codec::decode_submit(&tpdu).is_err() {
            return Outcome::Cms(304);
        }
        if let Some(code) = self.faults.take_cms_error() {
            return Outcome::Cms(code);
        }
        if !self.registered() {
            return Outcome::Cms(331);
        }
        let mr = self.next_message_ref();
        let tpdu = codec::with_message_ref(tpdu, mr);
        step.effects.push(Effect::Submit { tpdu, mr });
        Outcome::Ok(vec![format!("+CMGS: {mr}")])
    }

    /// A message arrives from the network: an SMS-DELIVER or an
    /// SMS-STATUS-REPORT, as a PDU with its SMSC field.
    pub fn arrive(&mut self, kind: Kind, pdu: &[u8]) -> Result<Step, Held> {
        if !self.pin_ok || !self.registered() {
            return Err(Held::Unavailable);
        }
        let mut step = Step::default();
        let c = self.cnmi;
        let tpdu_len = pdu
            .len()
            .saturating_sub(1 + *pdu.first().unwrap_or(&0) as usize);
        let hexpdu = hex::encode_upper(pdu);
        let direct = c.mode > 0
            && match kind {
                Kind::Deliver => c.mt == 2,
                Kind::StatusReport => c.ds == 1,
            };
        if direct {
            // +CMT / +CDS: the message goes straight to the DTE (§3.4.1).
            let urc = match (kind, self.cmgf) {
                (Kind::Deliver, 0) => format!("+CMT: ,{tpdu_len}\r\n{hexpdu}"),
                (Kind::StatusReport, 0) => format!("+CDS: {tpdu_len}\r\n{hexpdu}"),
                (Kind::Deliver, _) => {
                    let v = codec::text_view(pdu).ok_or(Held::Unavailable)?;
                    format!("+CMT: \"{}\",,\"{}\"\r\n{}", v.address, v.scts, v.text)
                }
                (Kind::StatusReport, _) => {
                    let v = codec::text_view(pdu).ok_or(Held::Unavailable)?;
                    format!(
                        "+CDS: 6,{},\"{}\",{},\"{}\",\"{}\",{}",
                        v.message_ref, v.address, v.toa, v.scts, v.discharge, v.status
                    )
                }
            };
            self.urc(&urc, &mut step);
            return Ok(step);
        }
        if kind == Kind::StatusReport && c.ds == 0 {
            // Not asked for: the modem discards it.
            return Ok(step);
        }
        // Reports may go to a memory of their own, and be announced under
        // another name (the model's documented quirk).
        let (mem_name, announce) = match (kind, &self.model.sms.report_memory) {
            (Kind::StatusReport, Some(m)) => {
                let m = if m == "SR" { "SR" } else { self.mems[2] };
                let a = self.model.sms.report_announce.clone();
                (m, a.unwrap_or_else(|| m.to_string()))
            }
            _ => (self.mems[2], self.mems[2].to_string()),
        };
        let memory = self.memory(mem_name);
        let index = memory
            .store(kind, Stat::RecUnread, pdu.to_vec())
            .ok_or(Held::StorageFull)?;
        let indicate = c.mode > 0
            && match kind {
                Kind::Deliver => matches!(c.mt, 1..=3),
                Kind::StatusReport => c.ds == 2,
            };
        if indicate {
            let name = if kind == Kind::Deliver {
                "+CMTI"
            } else {
                "+CDSI"
            };
            self.urc(&format!("{name}: \"{announce}\",{index}"), &mut step);
        }
        Ok(step)
    }
}

/// The `+CMGR`/`+CMGL` lines of one stored message.
fn show(
    m: &super::storage::Stored,
    stat: Stat,
    cmgf: u8,
    name: &str,
    index: Option<u16>,
) -> Vec<String> {
    let idx = index.map(|i| format!("{i},")).unwrap_or_default();
    if cmgf == 0 {
        let tpdu_len = m
            .pdu
            .len()
            .saturating_sub(1 + *m.pdu.first().unwrap_or(&0) as usize);
        return vec![
            format!("{name}: {idx}{},,{tpdu_len}", stat as u8),
            hex::encode_upper(&m.pdu),
        ];
    }
    match codec::text_view(&m.pdu) {
        Some(v) if m.kind == Kind::Deliver => vec![
            format!(
                "{name}: {idx}\"{}\",\"{}\",,\"{}\"",
                stat.text(),
                v.address,
                v.scts
            ),
            v.text,
        ],
        Some(v) => vec![format!(
            "{name}: {idx}\"{}\",6,{},\"{}\",{},\"{}\",\"{}\",{}",
            stat.text(),
            v.message_ref,
            v.address,
            v.toa,
            v.scts,
            v.discharge,
            v.status
        )],
        None => vec![
            format!("{name}: {idx}\"{}\",\"\",,\"\"", stat.text()),
            String::new(),
        ],
    }
}
