//! `AT+CUSD` of the emulated DCE (3GPP TS 27.007 §7.15): a USSD request
//! is answered `OK` at once and the network's reply comes later as an
//! unsolicited `+CUSD: <m>[,"<str>",<dcs>]`, as on real modems.
//!
//! The service's decisions (scripts, menu sessions, faults) are
//! [`super::ussd`]'s; this file turns AT parameters into a request, an
//! answer into its line (plain text, UCS-2 hex, or a Huawei's packed hex)
//! in the TE character set `+CSCS` chose,
//! and schedules it on the DCE's time.

use std::time::Duration;

use super::line::{self, Cmd, Form};
use super::ussd::{Answer, Dcs, Verdict};
use super::{Dce, Outcome, Step};
use crate::emulator::codec;

impl Dce {
    pub(super) fn execute_cusd(&mut self, cmd: &Cmd) -> Outcome {
        let v = match &cmd.form {
            Form::Test => return Outcome::Ok(vec!["+CUSD: (0-2)".into()]),
            Form::Read => return Outcome::Ok(vec![format!("+CUSD: {}", self.cusd_n)]),
            Form::Action => return Outcome::Ok(vec![]),
            Form::Set(v) => v,
        };
        let p = line::params(v);
        match p[0].parse::<u8>() {
            // "<n>=2: cancel session (not applicable to read command
            // response)" (TS 27.007 §7.15): the network hears no more.
            Ok(2) => {
                self.ussd.cancel();
                self.ussd_due.clear();
                return Outcome::Ok(vec![]);
            }
            Ok(n @ 0..=1) => self.cusd_n = n,
            _ => return Outcome::Cme(50),
        }
        let Some(raw) = p.get(1).filter(|s| !s.is_empty()) else {
            return Outcome::Ok(vec![]);
        };
        // <dcs> 0-15 are the GSM 7-bit language groups, 72 UCS-2
        // (TS 23.038 §5); anything else the emulated modem refuses.
        if let Some(d) = p.get(2) {
            if !matches!(d.parse::<u8>(), Ok(0..=15 | 72)) {
                return Outcome::Cme(50);
            }
        }
        if !self.pin_ok {
            return Outcome::Cme(11);
        }
        if !self.registered() {
            return Outcome::Cme(30);
        }
        let text = if self.model.ussd.packed_hex {
            // A Huawei takes the request as packed GSM 7-bit hex
            // (ModemManager src/plugins/huawei/mm-broadband-modem-huawei.c
            // packs it before AT+CUSD). Plain text such as "*123#" is not
            // hex: the stick cannot decode it and refuses the command
            // before anything reaches the network, so the answer is a
            // final +CME ERROR: 100 (TS 27.007 §9.2.1 "unknown") rather
            // than a +CUSD: 4 that only the network would send.
            match codec::gsm7_unpack_hex(raw) {
                Some(t) => t,
                None => return Outcome::Cme(100),
            }
        } else if self.cscs == "UCS2" {
            // The TE's character set is UCS-2: the string comes as UCS-2
            // hex (TS 27.007 §7.15 and TS 27.005 Annex A).
            match codec::ucs2_hex_to_string(raw) {
                Some(t) => t,
                None => return Outcome::Cme(100),
            }
        } else {
            raw.clone()
        };
        match self.ussd.request(&text, self.now) {
            Verdict::Cme(n) => Outcome::Cme(n),
            Verdict::Sent(answer) => {
                if let Some(a) = answer {
                    let due = self.now + Duration::from_millis(self.settings.ussd_delay_ms);
                    self.ussd_due.push((due, a));
                }
                Outcome::Ok(vec![])
            }
        }
    }

    /// The `+CUSD:` line of an answer. dcs 15 text goes out as it is,
    /// line breaks as CR LF inside the quotes (a SIM800 or Quectel menu
    /// spans lines; python-gsmmodem gsmmodem/modem.py reads a multi-line
    /// +CUSD up to the closing quote); a Huawei packs it as GSM 7-bit
    /// hex. dcs 72 is UCS-2 hex on every model.
    pub(super) fn cusd_line(&self, a: &Answer) -> String {
        let m = a.m;
        match &a.text {
            None => format!("+CUSD: {m}"),
            Some((text, Dcs::Gsm7)) if self.model.ussd.packed_hex => {
                let hex = codec::gsm7_packed_hex(text).unwrap_or_default();
                format!("+CUSD: {m},\"{hex}\",15")
            }
            // "if <dcs> indicates that 3GPP TS 23.038 7 bit default
            // alphabet is used: ME/TA converts GSM alphabet into current TE
            // character set" (TS 27.007 §7.15): under +CSCS="UCS2" that is
            // UCS-2 hex, still with dcs 15.
            Some((text, Dcs::Gsm7)) if self.cscs == "UCS2" => {
                format!("+CUSD: {m},\"{}\",15", codec::ucs2_hex(text))
            }
            Some((text, Dcs::Gsm7)) => {
                format!("+CUSD: {m},\"{}\",15", text.replace('\n', "\r\n"))
            }
            Some((text, Dcs::Ucs2)) => format!("+CUSD: {m},\"{}\",72", codec::ucs2_hex(text)),
        }
    }

    /// Time passes for USSD: answers whose delay is over go out, and a
    /// menu left unanswered for `ussd_timeout_ms` ends with `+CUSD: 2`.
    pub(super) fn ussd_tick(&mut self, now: Duration, step: &mut Step) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ussd_due)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.ussd_due = later;
        let timeout = Duration::from_millis(self.settings.ussd_timeout_ms);
        let expired = self.ussd.expire(now, timeout);
        for a in due.into_iter().map(|(_, a)| a).chain(expired) {
            if self.cusd_n != 0 {
                let line = self.cusd_line(&a);
                self.urc(&line, step);
            }
        }
    }
}
