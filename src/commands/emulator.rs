//! `smsgate emulator`: the emulated GSM network on its own. Prints each
//! modem's number and pseudo-terminal (one JSON line with `--json`), then
//! serves the control API on loopback until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::json;

use super::signals::Signals;
use crate::emulator::dce::Settings;
use crate::emulator::{Emulator, EmulatorConfig};

/// Options of the subcommand.
pub struct Options {
    pub modems: usize,
    pub control: String,
    pub json: bool,
    pub link_dir: Option<PathBuf>,
    /// Knobs every modem starts with.
    pub settings: Settings,
    pub fleet_prefixes: Vec<String>,
    /// Modem 0 answers from this recording (a transcript).
    pub replay: Option<PathBuf>,
}

/// Runs until a signal; returns the exit code.
pub async fn run(opts: Options) -> i32 {
    let addr: SocketAddr = match opts.control.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!(
                "emulator: --control `{}` is not an address:port",
                opts.control
            );
            return 2;
        }
    };
    if !addr.ip().is_loopback() {
        eprintln!("emulator: the control API serves loopback addresses only, not {addr}");
        return 2;
    }
    if opts.modems == 0 || opts.modems > 64 {
        eprintln!("emulator: --modems must be between 1 and 64");
        return 2;
    }
    let config = EmulatorConfig {
        modems: opts.modems,
        link_dir: opts.link_dir,
        settings: opts.settings,
        fleet_prefixes: opts.fleet_prefixes,
        ..EmulatorConfig::default()
    };
    // Signals are caught from here on, before anything is printed.
    let signals = Signals::install();
    let emulator = match Emulator::start(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("emulator: {e}");
            return 1;
        }
    };
    if let Some(file) = &opts.replay {
        if let Err(e) = emulator.replay(0, file) {
            eprintln!("emulator: {e}");
            emulator.shutdown();
            return 2;
        }
    }
    let bound = match emulator.serve_control(addr).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("emulator: cannot serve the control API on {addr}: {e}");
            emulator.shutdown();
            return 1;
        }
    };
    let modems = emulator.modems();
    if opts.json {
        println!(
            "{}",
            json!({ "modems": modems, "control": format!("http://{bound}") })
        );
    } else {
        for m in &modems {
            let link = m
                .link
                .as_ref()
                .map(|l| format!(" (link {})", l.display()))
                .unwrap_or_default();
            println!(
                "modem {}: {} on {}{}",
                m.id,
                m.number,
                m.path.display(),
                link
            );
            if let Some(second) = &m.second_path {
                let link = m
                    .second_link
                    .as_ref()
                    .map(|l| format!(" (link {})", l.display()))
                    .unwrap_or_default();
                println!(
                    "modem {}: its second AT port (no unsolicited lines) on {}{}",
                    m.id,
                    second.display(),
                    link
                );
            }
        }
        println!("control API: http://{bound}");
    }
    signals.wait().await;
    emulator.shutdown();
    0
}
