//! What can go wrong with an operator's SMSC, as data the control API
//! accepts (`POST /smsc/faults`) and the SMSC core obeys.
//!
//! Pure data and bookkeeping.

use serde::{Deserialize, Serialize};

/// One fault, as `POST /smsc/faults` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SmscFault {
    /// The SMSC sends `unbind` on every bind and closes each once it is
    /// answered (or after a grace period).
    Unbind,
    /// The next `count` (default 1) submit_sm are answered ESME_RTHROTTLED
    /// (0x58).
    Throttle {
        #[serde(default = "one")]
        count: u32,
    },
    /// The next `count` (default 1) submit_sm are answered ESME_RMSGQFUL
    /// (0x14).
    QueueFull {
        #[serde(default = "one")]
        count: u32,
    },
    /// Every PDU the SMSC writes leaves `delay_ms` after it was due (a
    /// slow SMSC: responses, and the receipts behind them, in order).
    Slow { delay_ms: u64 },
    /// Every TCP connection is closed at once, without unbind.
    Drop,
    /// Binds are refused with ESME_RBINDFAIL (0x0D) while active.
    RefuseBinds,
}

fn one() -> u32 {
    1
}

/// The faults in force.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActiveSmscFaults {
    pub list: Vec<SmscFault>,
}

impl ActiveSmscFaults {
    /// Keeps a lasting fault (one of each kind); one-shot faults (unbind,
    /// drop) are acted on by the caller and not kept.
    pub fn add(&mut self, fault: SmscFault) {
        if matches!(fault, SmscFault::Unbind | SmscFault::Drop) {
            return;
        }
        self.list
            .retain(|f| std::mem::discriminant(f) != std::mem::discriminant(&fault));
        self.list.push(fault);
    }

    /// The error status for this submit_sm, counting it down.
    pub fn take_submit_error(&mut self) -> Option<u32> {
        let mut status = None;
        for f in &mut self.list {
            let (code, count) = match f {
                SmscFault::Throttle { count } => (0x58, count),
                SmscFault::QueueFull { count } => (0x14, count),
                _ => continue,
            };
            if *count > 0 {
                *count -= 1;
                status = Some(code);
                break;
            }
        }
        self.list.retain(|f| {
            !matches!(
                f,
                SmscFault::Throttle { count: 0 } | SmscFault::QueueFull { count: 0 }
            )
        });
        status
    }

    /// How long every outgoing PDU is held back.
    pub fn delay_ms(&self) -> u64 {
        self.list
            .iter()
            .find_map(|f| match f {
                SmscFault::Slow { delay_ms } => Some(*delay_ms),
                _ => None,
            })
            .unwrap_or(0)
    }

    pub fn refuse_binds(&self) -> bool {
        self.list.contains(&SmscFault::RefuseBinds)
    }
}
