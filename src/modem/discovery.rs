//! Finding a modem again by its IMEI (`[[modem]] port = "auto"` with
//! `imei = "..."`), whatever name the kernel gave its ttyUSB port this boot.
//!
//! Owns listing candidate USB serial ports and asking each `AT+CGSN`
//! (3GPP TS 27.007 §5.4). May not touch a port beyond that question: each is
//! opened exclusively, briefly, and closed again.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::conversation::Conversation;
use super::probe::{open_port, wake, ProbeError};
use crate::at::commands::Imei;

/// The longest one candidate may take to wake and tell its IMEI.
pub const PER_PORT_TIMEOUT: Duration = Duration::from_secs(4);

/// Why no port could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("no serial port to search for the modem with IMEI {imei} (no ttyUSB/ttyACM device: is it plugged in?)")]
    NoCandidates { imei: String },
    #[error("no modem with IMEI {imei}; tried {}", Tried(.tried))]
    NotFound { imei: String, tried: Vec<Attempt> },
}

/// One candidate port and what it turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub path: PathBuf,
    /// `IMEI 35...`, `busy`, `does not exist`, `no answer to AT`...
    pub outcome: String,
}

struct Tried<'a>(&'a [Attempt]);

impl fmt::Display for Tried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} ({})", a.path.display(), a.outcome)?;
        }
        Ok(())
    }
}

/// Opens each candidate in turn, asks `AT+CGSN`, and returns the first
/// whose IMEI is `imei`. Busy ports, silent ports and ports that vanished
/// are skipped, each within [`PER_PORT_TIMEOUT`].
pub async fn find_by_imei(
    imei: &str,
    baud: u32,
    candidates: Vec<PathBuf>,
) -> Result<PathBuf, DiscoveryError> {
    if candidates.is_empty() {
        return Err(DiscoveryError::NoCandidates {
            imei: imei.to_string(),
        });
    }
    let mut tried = Vec::new();
    for path in candidates {
        let outcome = match tokio::time::timeout(PER_PORT_TIMEOUT, read_imei(&path, baud)).await {
            Ok(Ok(Some(found))) if same_imei(&found, imei) => return Ok(path),
            Ok(Ok(Some(found))) => format!("IMEI {found}"),
            Ok(Ok(None)) => "no IMEI".to_string(),
            Ok(Err(e)) => e.short().to_string(),
            Err(_elapsed) => "no answer in time".to_string(),
        };
        tracing::debug!(path = %path.display(), %outcome, "discovery: not this port");
        tried.push(Attempt { path, outcome });
    }
    Err(DiscoveryError::NotFound {
        imei: imei.to_string(),
        tried,
    })
}

async fn read_imei(path: &Path, baud: u32) -> Result<Option<String>, ProbeError> {
    let port = path.display().to_string();
    let mut conv = Conversation::new(open_port(path, baud)?);
    wake(&mut conv, &port).await?;
    Ok(conv.exec(&Imei).await.ok())
}

/// IMEIs are equal when their digits are, or when one side leaves out the
/// Luhn check digit (14 digits, as some labels print it).
pub fn same_imei(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (a, b) = (digits(a), digits(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || (a.len() == 14 && b.starts_with(&a)) || (b.len() == 14 && a.starts_with(&b))
}

/// A USB serial port as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    path: PathBuf,
    /// (VID, PID, serial number, interface) for USB ports.
    usb: Option<(u16, u16, String, Option<u8>)>,
}

/// Serial ports that may be a modem, USB ones first: ttyUSB* and ttyACM*
/// from `tokio_serial::available_ports()` (sysfs), sorted by VID, PID,
/// serial number and interface so a modem's ports keep their order even
/// after the kernel renumbers them.
pub fn usb_serial_candidates() -> Vec<PathBuf> {
    // serialport panics when /sys/class/tty is missing (containers).
    if !Path::new("/sys/class/tty").is_dir() {
        return Vec::new();
    }
    let ports = match tokio_serial::available_ports() {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list serial ports");
            return Vec::new();
        }
    };
    let mut found: Vec<Candidate> = ports
        .into_iter()
        .filter(|p| p.port_name.contains("ttyUSB") || p.port_name.contains("ttyACM"))
        .map(|p| {
            let usb = match &p.port_type {
                tokio_serial::SerialPortType::UsbPort(u) => Some((
                    u.vid,
                    u.pid,
                    u.serial_number.clone().unwrap_or_default(),
                    usb_interface(&p.port_name),
                )),
                _ => None,
            };
            Candidate {
                path: PathBuf::from(p.port_name),
                usb,
            }
        })
        .collect();
    found.sort_by(candidate_order);
    found.into_iter().map(|c| c.path).collect()
}

fn candidate_order(a: &Candidate, b: &Candidate) -> Ordering {
    match (&a.usb, &b.usb) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.path.cmp(&b.path)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.path.cmp(&b.path),
    }
}

/// `bInterfaceNumber` of the USB interface behind `/dev/ttyXXX`: sysfs's
/// `device` link is the interface (ttyACM) or a child of it (ttyUSB).
fn usb_interface(port_name: &str) -> Option<u8> {
    let name = Path::new(port_name).file_name()?;
    let device = Path::new("/sys/class/tty")
        .join(name)
        .join("device")
        .canonicalize()
        .ok()?;
    let number = [Some(device.as_path()), device.parent()]
        .into_iter()
        .flatten()
        .find_map(|dir| std::fs::read_to_string(dir.join("bInterfaceNumber")).ok())?;
    u8::from_str_radix(number.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imei_with_or_without_check_digit_matches() {
        assert!(same_imei("356938035643809", "356938035643809"));
        assert!(same_imei("35693803564380", "356938035643809"));
        assert!(same_imei("35-693803-564380-9", "356938035643809"));
        assert!(!same_imei("356938035643809", "356938035643817"));
        assert!(!same_imei("", ""));
    }

    #[test]
    fn usb_ports_sort_first_by_vid_pid_serial_interface() {
        let usb = |p: &str, pid: u16, iface: u8| Candidate {
            path: p.into(),
            usb: Some((0x12d1, pid, "S1".into(), Some(iface))),
        };
        let plain = Candidate {
            path: "/dev/ttyACM9".into(),
            usb: None,
        };
        let mut v = [
            plain,
            usb("/dev/ttyUSB0", 0x1506, 2),
            usb("/dev/ttyUSB5", 0x1001, 0),
            usb("/dev/ttyUSB1", 0x1506, 0),
        ];
        v.sort_by(candidate_order);
        let names: Vec<_> = v.iter().map(|c| c.path.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "/dev/ttyUSB5",
                "/dev/ttyUSB1",
                "/dev/ttyUSB0",
                "/dev/ttyACM9"
            ]
        );
    }

    #[test]
    fn not_found_lists_what_was_tried() {
        let e = DiscoveryError::NotFound {
            imei: "1".into(),
            tried: vec![
                Attempt {
                    path: "/dev/a".into(),
                    outcome: "busy".into(),
                },
                Attempt {
                    path: "/dev/b".into(),
                    outcome: "IMEI 2".into(),
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "no modem with IMEI 1; tried /dev/a (busy), /dev/b (IMEI 2)"
        );
    }
}
