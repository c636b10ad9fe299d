//! `smsgate probe PORT [--json] [--baud N] [--ussd CODE]`: identify the
//! modem on a port (and, on request, send it one USSD code).
//!
//! Owns printing a [`ProbeReport`] (text, or one JSON line) and the exit
//! code; the probing itself is [`crate::modem::probe`].

use std::path::Path;

use crate::modem::probe::{probe_with, ProbeReport};
use crate::transcript::{RecordTo, Recorder};

/// Default line speed: what USB modems accept (and ignore).
pub const DEFAULT_BAUD: u32 = 115_200;

/// Probes `port`, prints the report on stdout and returns 0; or prints the
/// error on stderr and returns 1. With `record`, every byte of the
/// conversation goes to that transcript file too; with `ussd`, that code
/// is sent and its answer reported.
pub async fn run(
    port: &Path,
    json: bool,
    baud: u32,
    record: Option<&Path>,
    ussd: Option<&str>,
) -> i32 {
    let recorder = match record.map(|p| Recorder::open(RecordTo::file(p))) {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            eprintln!(
                "smsgate probe: cannot record to {}: {e}",
                record.unwrap_or(port).display()
            );
            return 1;
        }
    };
    match probe_with(port, baud, recorder, ussd).await {
        Ok(report) => {
            println!("{}", render(&report, json));
            0
        }
        Err(e) => {
            eprintln!("smsgate probe: {e}");
            1
        }
    }
}

/// The report as text lines, or as one JSON line.
pub fn render(report: &ProbeReport, json: bool) -> String {
    if json {
        serde_json::to_string(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    } else {
        report.to_string()
    }
}
