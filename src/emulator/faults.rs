//! Fault injection for emulated modems: what can go wrong with a real USB
//! modem, as data the control API accepts and the DCE and transport obey.
//!
//! Pure data and bookkeeping; the DCE asks "is this fault active?", the
//! transport handles the faults that concern the port (unplug, noise).

use serde::{Deserialize, Serialize};

/// One fault, as `POST /modems/{id}/faults` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The modem swallows every command and answers nothing.
    NoAnswer,
    /// `bytes` garbage bytes precede each of the next `count` results
    /// (every result while active when `count` is absent).
    Garbage {
        #[serde(default = "default_garbage_bytes")]
        bytes: usize,
        #[serde(default)]
        count: Option<u32>,
    },
    /// The next `count` (default 1) `AT+CMGS` end in `+CMS ERROR: code`.
    CmsError {
        code: u16,
        #[serde(default)]
        count: Option<u32>,
    },
    /// The pseudo-terminal disappears for `duration_ms`, then comes back at
    /// the same link path (and a new pts path).
    Unplug {
        #[serde(default = "default_unplug_ms")]
        duration_ms: u64,
    },
    /// The modem restarts: settings reset, and it prints its model's boot
    /// sequence (generic: `RDY`, `+CFUN: 1`, `+CPIN: READY`).
    Reboot,
    /// Huawei-style URC noise (`^RSSI`, `^MODE`, `^DSFLOWRPT`) every
    /// `interval_ms`.
    UrcNoise {
        #[serde(default = "default_noise_ms")]
        interval_ms: u64,
    },
    /// A URC is written right after each `> ` prompt, before the result.
    UrcInPrompt,
    /// The modem loses the network (`+CREG: 2`); sends fail with
    /// `+CMS ERROR: 331` and incoming SMS wait in the network.
    Deregister,
    /// The SIM answers busy (`+CME ERROR: 14`, `+CMS ERROR: 314`).
    SimBusy,
    /// New-message notices (`+CMTI`, `+CDSI`) are lost, as some modems
    /// lose them under load: messages are stored but never announced.
    DropNotices,
}

fn default_garbage_bytes() -> usize {
    16
}
fn default_unplug_ms() -> u64 {
    2000
}
fn default_noise_ms() -> u64 {
    500
}

/// The faults active on one modem.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActiveFaults {
    pub list: Vec<Fault>,
}

impl ActiveFaults {
    /// Adds a fault (one-shot faults such as reboot and unplug are not kept).
    pub fn add(&mut self, fault: Fault) {
        match fault {
            Fault::Reboot | Fault::Unplug { .. } => {}
            f => {
                self.list
                    .retain(|x| std::mem::discriminant(x) != std::mem::discriminant(&f));
                self.list.push(f);
            }
        }
    }

    pub fn no_answer(&self) -> bool {
        self.list.contains(&Fault::NoAnswer)
    }

    pub fn sim_busy(&self) -> bool {
        self.list.contains(&Fault::SimBusy)
    }

    pub fn drop_notices(&self) -> bool {
        self.list.contains(&Fault::DropNotices)
    }

    pub fn urc_in_prompt(&self) -> bool {
        self.list.contains(&Fault::UrcInPrompt)
    }

    pub fn noise_interval_ms(&self) -> Option<u64> {
        self.list.iter().find_map(|f| match f {
            Fault::UrcNoise { interval_ms } => Some(*interval_ms),
            _ => None,
        })
    }

    /// Garbage to put before the next result, if the fault is active.
    pub fn garbage(&mut self, seq: &mut u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut exhausted = false;
        for f in self.list.iter_mut() {
            if let Fault::Garbage { bytes, count } = f {
                for _ in 0..*bytes {
                    // A fixed pseudo-random sequence (xorshift): repeatable runs.
                    *seq ^= *seq << 13;
                    *seq ^= *seq >> 17;
                    *seq ^= *seq << 5;
                    *seq = seq.wrapping_add(0x9E37_79B9);
                    out.push((*seq >> 24) as u8);
                }
                if let Some(c) = count {
                    *c = c.saturating_sub(1);
                    exhausted = *c == 0;
                }
            }
        }
        if exhausted {
            self.list.retain(|f| !matches!(f, Fault::Garbage { .. }));
        }
        out
    }

    /// The `+CMS ERROR` code for this `AT+CMGS`, if the fault is active.
    pub fn take_cms_error(&mut self) -> Option<u16> {
        let mut result = None;
        let mut exhausted = false;
        for f in self.list.iter_mut() {
            if let Fault::CmsError { code, count } = f {
                result = Some(*code);
                let left = count.unwrap_or(1).saturating_sub(1);
                *count = Some(left);
                exhausted = left == 0;
            }
        }
        if exhausted {
            self.list.retain(|f| !matches!(f, Fault::CmsError { .. }));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_from_json() {
        let f: Fault =
            serde_json::from_str(r#"{"kind":"cms_error","code":500,"count":2}"#).unwrap();
        assert_eq!(
            f,
            Fault::CmsError {
                code: 500,
                count: Some(2)
            }
        );
        let f: Fault = serde_json::from_str(r#"{"kind":"unplug"}"#).unwrap();
        assert_eq!(f, Fault::Unplug { duration_ms: 2000 });
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"meteor"}"#).is_err());
    }

    #[test]
    fn cms_error_counts_down_and_clears() {
        let mut a = ActiveFaults::default();
        a.add(Fault::CmsError {
            code: 332,
            count: Some(2),
        });
        assert_eq!(a.take_cms_error(), Some(332));
        assert_eq!(a.take_cms_error(), Some(332));
        assert_eq!(a.take_cms_error(), None);
    }

    #[test]
    fn garbage_is_repeatable_and_counted() {
        let mut a = ActiveFaults::default();
        a.add(Fault::Garbage {
            bytes: 8,
            count: Some(1),
        });
        let mut seq = 1;
        let g = a.garbage(&mut seq);
        assert_eq!(g.len(), 8);
        assert!(a.garbage(&mut seq).is_empty());
        let mut b = ActiveFaults::default();
        b.add(Fault::Garbage {
            bytes: 8,
            count: None,
        });
        let mut seq2 = 1;
        assert_eq!(b.garbage(&mut seq2), g);
    }
}
