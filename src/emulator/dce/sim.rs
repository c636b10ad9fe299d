//! The SIM's identity as the emulated DCE tells it: the ICCID through
//! `AT+CCID` and the vendors' own commands (as the model says), and
//! `AT+CRSM` READ BINARY of EF_ICCID (3GPP TS 27.007 §8.18), the way
//! ModemManager's src/mm-base-sim.c reads it
//! (`AT+CRSM=176,12258,0,0,10`). `AT+CIMI` stays with the other
//! identification commands.

use super::line::{self, Cmd, Form};
use super::{Dce, Outcome};
use crate::emulator::codec;

/// READ BINARY (TS 51.011 §9.2.3 / TS 27.007 §8.18 `<command>` 176).
const READ_BINARY: u16 = 176;
/// EF_ICCID, file 2FE2 (TS 51.011 §10.1.1).
const EF_ICCID: u16 = 0x2FE2;

impl Dce {
    /// The answer when `cmd` reads the SIM's identity, `None` otherwise.
    pub(super) fn execute_sim(&mut self, cmd: &Cmd) -> Option<Outcome> {
        if let Some(template) = self.model.sim.iccid_answer(&cmd.typed()) {
            let id = &self.identity.iccid;
            let line = template
                .replace("{iccid_bcd}", &codec::iccid_swapped(id))
                .replace("{iccid}", id);
            return Some(Outcome::Ok(vec![line]));
        }
        match (cmd.name.as_str(), &cmd.form) {
            ("+CRSM", Form::Test) => Some(Outcome::Ok(vec![])),
            ("+CRSM", Form::Set(v)) => Some(self.crsm(v)),
            _ => None,
        }
    }

    /// `+CRSM: <sw1>,<sw2>[,"<response>"]`: 144,0 ("90 00", normal
    /// ending) with the bytes asked, 148,4 ("94 04", file not found) for
    /// other files, 109,0 ("6D 00", unknown instruction) for other
    /// commands (TS 51.011 §9.4).
    fn crsm(&self, v: &str) -> Outcome {
        let p: Vec<Option<u16>> = line::params(v).iter().map(|s| s.parse().ok()).collect();
        let (Some(Some(command)), Some(Some(file))) = (p.first(), p.get(1)) else {
            return Outcome::Cme(50);
        };
        if *command != READ_BINARY {
            return Outcome::Ok(vec!["+CRSM: 109,0".into()]);
        }
        if *file != EF_ICCID {
            return Outcome::Ok(vec!["+CRSM: 148,4".into()]);
        }
        let arg = |i: usize| p.get(i).copied().flatten().unwrap_or(0) as usize;
        let data = codec::iccid_swapped(&self.identity.iccid);
        let bytes = data.len() / 2;
        let offset = (arg(2) << 8 | arg(3)).min(bytes);
        let len = match arg(4) {
            0 => bytes - offset,
            n => n.min(bytes - offset),
        };
        let hex = &data[offset * 2..(offset + len) * 2];
        Outcome::Ok(vec![format!("+CRSM: 144,0,\"{hex}\"")])
    }
}
