//! Message storage of an emulated modem: the SIM (`SM`) and the phone
//! memory (`ME`), each with a capacity, indices and message status
//! (3GPP TS 27.005 §3.1 `<stat>`, §3.2.2 `+CPMS`).
//!
//! Pure data; knows nothing of AT syntax or the network.

use serde::Serialize;

/// `<stat>` of a stored message (TS 27.005 §3.1), PDU-mode numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Stat {
    RecUnread = 0,
    RecRead = 1,
    StoUnsent = 2,
    StoSent = 3,
}

impl Stat {
    /// The text-mode name (`"REC UNREAD"`...).
    pub fn text(self) -> &'static str {
        match self {
            Stat::RecUnread => "REC UNREAD",
            Stat::RecRead => "REC READ",
            Stat::StoUnsent => "STO UNSENT",
            Stat::StoSent => "STO SENT",
        }
    }
}

/// What a stored PDU is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    Deliver,
    StatusReport,
}

/// One stored message: its PDU including the SMSC field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub index: u16,
    pub stat: Stat,
    pub kind: Kind,
    pub pdu: Vec<u8>,
}

/// One storage area (`SM` or `ME`). Indices start at 0 for `SM` like most
/// SIM-based modems and are reused after deletion (lowest free first).
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub name: &'static str,
    pub capacity: u16,
    pub first_index: u16,
    pub messages: Vec<Stored>,
}

impl Memory {
    pub fn new(name: &'static str, capacity: u16, first_index: u16) -> Self {
        Memory {
            name,
            capacity,
            first_index,
            messages: Vec::new(),
        }
    }

    pub fn used(&self) -> u16 {
        self.messages.len() as u16
    }

    pub fn is_full(&self) -> bool {
        self.used() >= self.capacity
    }

    /// Stores a PDU at the lowest free index; `None` when full.
    pub fn store(&mut self, kind: Kind, stat: Stat, pdu: Vec<u8>) -> Option<u16> {
        if self.is_full() {
            return None;
        }
        let index = (self.first_index..)
            .find(|i| self.messages.iter().all(|m| m.index != *i))
            .unwrap_or(self.first_index);
        self.messages.push(Stored {
            index,
            stat,
            kind,
            pdu,
        });
        self.messages.sort_by_key(|m| m.index);
        Some(index)
    }

    pub fn get_mut(&mut self, index: u16) -> Option<&mut Stored> {
        self.messages.iter_mut().find(|m| m.index == index)
    }

    /// `true` when `index` is a valid slot number of this memory.
    pub fn in_range(&self, index: u16) -> bool {
        index >= self.first_index && index < self.first_index + self.capacity
    }

    pub fn delete(&mut self, index: u16) -> bool {
        let before = self.messages.len();
        self.messages.retain(|m| m.index != index);
        before != self.messages.len()
    }

    /// `+CMGD` delete flags 1–4 (TS 27.005 §3.5.4).
    pub fn delete_by_flag(&mut self, flag: u8) {
        self.messages.retain(|m| match flag {
            1 => m.stat != Stat::RecRead,
            2 => !matches!(m.stat, Stat::RecRead | Stat::StoSent),
            3 => !matches!(m.stat, Stat::RecRead | Stat::StoSent | Stat::StoUnsent),
            4 => false,
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_reused_lowest_first_and_capacity_holds() {
        let mut m = Memory::new("SM", 3, 0);
        assert_eq!(m.store(Kind::Deliver, Stat::RecUnread, vec![1]), Some(0));
        assert_eq!(m.store(Kind::Deliver, Stat::RecUnread, vec![2]), Some(1));
        assert_eq!(m.store(Kind::Deliver, Stat::RecUnread, vec![3]), Some(2));
        assert_eq!(m.store(Kind::Deliver, Stat::RecUnread, vec![4]), None);
        assert!(m.delete(1));
        assert!(!m.delete(1));
        assert_eq!(m.store(Kind::Deliver, Stat::RecUnread, vec![5]), Some(1));
    }

    #[test]
    fn delete_flags_follow_27005() {
        let mut m = Memory::new("ME", 10, 1);
        for stat in [
            Stat::RecUnread,
            Stat::RecRead,
            Stat::StoUnsent,
            Stat::StoSent,
        ] {
            m.store(Kind::Deliver, stat, vec![]);
        }
        m.delete_by_flag(1);
        assert_eq!(m.used(), 3);
        m.delete_by_flag(2);
        assert_eq!(m.used(), 2);
        m.delete_by_flag(3);
        assert_eq!(m.used(), 1);
        assert_eq!(m.messages[0].stat, Stat::RecUnread);
        m.delete_by_flag(4);
        assert_eq!(m.used(), 0);
    }
}
