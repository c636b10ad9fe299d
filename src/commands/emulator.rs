//! `smsgate emulator`: the emulated GSM network on its own. Prints each
//! modem's number and pseudo-terminal, and the emulated SMSC's address
//! with `--smsc` (one JSON line with `--json`), then serves the control
//! API on loopback until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::json;

use super::signals::Signals;
use crate::emulator::dce::Settings;
use crate::emulator::smsc::{SmscConfig, SmscOptions, SmscSettings};
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
    /// Also serve the emulated SMSC.
    pub smsc: Option<SmscArgs>,
}

/// The `--smsc*` options.
pub struct SmscArgs {
    pub address: String,
    pub short_codes: Vec<String>,
    pub system_id: String,
    pub password: String,
    /// `udh`, `sar` or `payload`.
    pub mo_concat: String,
}

/// The SMSC's options from the command line, or what is wrong with them.
fn smsc_options(args: &SmscArgs) -> Result<SmscOptions, String> {
    let listen: SocketAddr = args
        .address
        .parse()
        .map_err(|_| format!("--smsc `{}` is not an address:port", args.address))?;
    if !listen.ip().is_loopback() {
        return Err(format!(
            "the SMSC serves loopback addresses only, not {listen}"
        ));
    }
    let short_codes: Vec<String> = args
        .short_codes
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if short_codes.is_empty()
        || short_codes
            .iter()
            .any(|c| c.len() > 20 || !c.chars().all(|d| d.is_ascii_digit()))
    {
        return Err("--smsc-short-codes takes numbers, e.g. 2222,2223".into());
    }
    // SMPP 3.4 §4.1.1: system_id up to 15 characters, password up to 8.
    if args.system_id.is_empty() || args.system_id.len() > 15 {
        return Err("--smsc-system-id takes 1 to 15 characters".into());
    }
    if args.password.len() > 8 {
        return Err("--smsc-password takes at most 8 characters".into());
    }
    let mo_concat = args
        .mo_concat
        .parse()
        .map_err(|e| format!("--smsc-mo-concat: {e}"))?;
    let message_id_base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
        << 8;
    Ok(SmscOptions {
        listen,
        config: SmscConfig {
            short_codes,
            system_id: args.system_id.clone(),
            password: args.password.clone(),
            message_id_base,
        },
        settings: SmscSettings {
            mo_concat,
            ..SmscSettings::default()
        },
    })
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
    let smpp = match opts.smsc.as_ref().map(smsc_options).transpose() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("emulator: {e}");
            return 2;
        }
    };
    if (opts.modems == 0 && smpp.is_none()) || opts.modems > 64 {
        eprintln!("emulator: --modems must be between 1 and 64 (0 with --smsc)");
        return 2;
    }
    let config = EmulatorConfig {
        modems: opts.modems,
        link_dir: opts.link_dir,
        settings: opts.settings,
        fleet_prefixes: opts.fleet_prefixes,
        smpp,
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
    let smsc = emulator.smsc_info();
    if opts.json {
        let mut line = json!({ "modems": modems, "control": format!("http://{bound}") });
        if let Some(s) = &smsc {
            line["smsc"] = json!(s);
        }
        println!("{line}");
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
        if let Some(s) = &smsc {
            println!(
                "smsc: SMPP 3.4 on {} (short codes {})",
                s.address,
                s.short_codes.join(", ")
            );
        }
        println!("control API: http://{bound}");
    }
    signals.wait().await;
    emulator.shutdown();
    0
}
