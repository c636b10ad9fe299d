//! The `smsgate` command: parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The version, the commit and the build date (see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SMSGATE_COMMIT"),
    ", built ",
    env!("SMSGATE_BUILD_DATE"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "smsgate",
    version = VERSION,
    about = "Web-to-SMS gateway with live two-way conversations",
    long_about = "Web-to-SMS gateway with live two-way conversations: anyone on the web \
writes one message to many phones, the phones get an ordinary SMS from a short code \
(a USB GSM modem's SIM), and their replies appear live in the sender's page until \
five quiet minutes end the conversation. Configuration: smsgate.toml(5)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the gateway (web page, API, modems). With no modem configured it
    /// runs on the embedded emulated GSM network.
    Serve {
        /// TOML configuration file.
        #[arg(long, short, env = "SMSGATE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run the emulated GSM network on its own: modems on pseudo-terminals
    /// and a control API for playing the phones.
    Emulator {
        /// Number of emulated modems (default 3; 1 with --replay).
        #[arg(long)]
        modems: Option<usize>,
        /// Modem 0 answers each command as this recording (a transcript:
        /// `probe --record`, `[[modem]] record`) answered it; what the
        /// recording lacks, the emulated modem answers.
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
        /// Loopback address of the control API.
        #[arg(long, default_value = "127.0.0.1:8081")]
        control: String,
        /// Print the modems as one JSON line.
        #[arg(long)]
        json: bool,
        /// Keep a stable symlink per modem in this directory.
        #[arg(long)]
        link_dir: Option<PathBuf>,
        /// Delay before every final result, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Delay before the `+CMGS` result (a real radio: 1000-5000).
        #[arg(long, default_value_t = 0)]
        cmgs_latency_ms: u64,
        /// Serial pacing in baud (0: none; 115200 like a USB modem).
        #[arg(long, default_value_t = 0)]
        baud: u32,
        /// Capacity of each modem's SIM storage.
        #[arg(long, default_value_t = 30)]
        sim_capacity: u16,
        /// SIM PIN every modem asks for.
        #[arg(long)]
        pin: Option<String>,
        /// Fleet/VPN prefix: such phones cannot send to short codes
        /// (repeatable).
        #[arg(long = "fleet-prefix")]
        fleet_prefixes: Vec<String>,
        /// The documented behaviour of a real modem family, for every
        /// modem: generic, huawei-e173, quectel-ec25, simcom-sim800,
        /// zte-mf, wavecom (firmware-config/models/).
        #[arg(long, default_value = "generic")]
        model: String,
        /// The model's heartbeat period in milliseconds (0: the model's).
        #[arg(long, default_value_t = 0)]
        heartbeat_ms: u64,
        /// Delivery reports reach the modem this long after the phone got
        /// the message.
        #[arg(long, default_value_t = 0)]
        report_delay_ms: u64,
        /// Each SMS part a phone sends reaches the modem after a random
        /// delay of up to this long.
        #[arg(long, default_value_t = 0)]
        mo_jitter_ms: u64,
        /// Also serve an emulated SMSC (SMPP 3.4) on this loopback
        /// address (port 0: any free port); `--modems 0` is then allowed.
        #[arg(long, value_name = "ADDR")]
        smsc: Option<String>,
        /// The SMSC's short codes (comma-separated).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "2222,2223",
            requires = "smsc"
        )]
        smsc_short_codes: Vec<String>,
        /// The system_id an ESME binds with.
        #[arg(long, default_value = "smsgate", requires = "smsc")]
        smsc_system_id: String,
        /// The password an ESME binds with.
        #[arg(long, default_value = "secret", requires = "smsc")]
        smsc_password: String,
        /// How a phone's long text reaches the ESME: udh, sar or payload.
        #[arg(long, default_value = "udh", requires = "smsc")]
        smsc_mo_concat: String,
    },
    /// Identify a modem on a serial port (maker, model, IMEI, SIM, signal...).
    Probe {
        /// Serial port, e.g. /dev/ttyUSB0.
        port: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Line speed.
        #[arg(long, default_value_t = smsgate::commands::probe::DEFAULT_BAUD)]
        baud: u32,
        /// Record every byte of the conversation both ways, with times,
        /// to FILE (JSON lines; read it with `smsgate transcript show`).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// With --record: replace phone numbers, IMEI/IMSI/ICCID and SMS
        /// texts in the recording with placeholders of the same shape.
        #[arg(long, requires = "record")]
        redact: bool,
        /// Also send this USSD code (e.g. `*123#`) and report the network's
        /// answer; a menu it opens is cancelled.
        #[arg(long, value_name = "CODE")]
        ussd: Option<String>,
    },
    /// Send a USSD code (balance, bundles) through the modem on a serial
    /// port and print the network's answer; `--then` answers menu steps.
    /// Offline, like `probe`: stop the service holding the port first.
    Ussd {
        /// Serial port, e.g. /dev/ttyUSB0.
        port: String,
        /// The USSD code, e.g. `*123#`.
        code: String,
        /// Answer the next menu step with ANSWER (repeatable, in order).
        #[arg(long = "then", value_name = "ANSWER")]
        then: Vec<String>,
        /// Print one JSON object: {"port", "profile", "steps": [{"sent",
        /// "reply", "session_open", "status"}], "error"}.
        #[arg(long)]
        json: bool,
        /// Modem profile for the USSD encoding (e.g. `huawei`: packed
        /// GSM 7-bit hex); default: picked from the modem's maker and model.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Line speed.
        #[arg(long, default_value_t = smsgate::commands::probe::DEFAULT_BAUD)]
        baud: u32,
        /// Seconds to wait for each answer of the network.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        timeout: u64,
    },
    /// Read a recording of a modem's serial line.
    Transcript {
        #[command(subcommand)]
        command: TranscriptCommand,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Encode and decode SMS PDUs (3GPP TS 23.040).
    Pdu(PduArgs),
    /// Offline backup and restore of the store (stop smsgate first).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// API keys of programs, offline (stop smsgate first; online:
    /// /admin/api/keys).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check this box for the usual field faults and say what to do about
    /// each (ports, ModemManager, dialout, modems, power, clock, store,
    /// disk, service). Exit code: 0 all ok, 1 a warning, 2 an error.
    Doctor {
        /// Print one JSON object: {"checks": [{"id", "status", "message", "fix"}]}.
        #[arg(long)]
        json: bool,
        /// TOML configuration file (default: /etc/smsgate/config.toml if it
        /// exists, else the defaults).
        #[arg(long, short, env = "SMSGATE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print the shell completion script for SHELL on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages into DIR: smsgate(1), one page per
    /// subcommand, and smsgate.toml(5).
    Man {
        /// Output directory (made if missing).
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a key; its token and webhook secret are printed this once.
    Add {
        /// The key's name (letters, digits, `-`, `_`), e.g. `crm`.
        name: String,
        /// Where its webhooks go.
        #[arg(long)]
        webhook_url: Option<String>,
        /// Kannel get-url style template for incoming SMS.
        #[arg(long)]
        mo_url: Option<String>,
        #[command(flatten)]
        at: StoreAt,
    },
    /// List the keys (no secrets).
    List {
        #[command(flatten)]
        at: StoreAt,
    },
    /// Revoke a key: its token stops working.
    Revoke {
        /// The key's name.
        name: String,
        #[command(flatten)]
        at: StoreAt,
    },
}

#[derive(Subcommand)]
enum TranscriptCommand {
    /// Show a transcript: each line with its time and direction,
    /// unsolicited result codes marked, PDUs decoded.
    Show {
        /// The transcript (`probe --record`, `[[modem]] record`,
        /// `HIL_RECORD`, the emulator's transcript API).
        file: PathBuf,
        /// Colour the output.
        #[arg(long, value_enum, default_value = "auto")]
        color: smsgate::commands::transcript::Color,
    },
    /// Write a copy of a transcript with phone numbers, IMEI/IMSI/ICCID
    /// and SMS texts replaced by placeholders of the same shape (PDUs
    /// re-encoded at the same lengths), fit to publish.
    Redact {
        /// The transcript to read.
        input: PathBuf,
        /// Where to write the redacted copy.
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Write every record of the store to FILE as JSON lines.
    Export {
        /// The JSON-lines file to write.
        file: PathBuf,
        #[command(flatten)]
        at: StoreAt,
    },
    /// Load FILE (made by `store export`) into a new, empty store.
    Import {
        /// The JSON-lines file `store export` wrote.
        file: PathBuf,
        #[command(flatten)]
        at: StoreAt,
    },
}

#[derive(Args)]
struct StoreAt {
    /// TOML configuration file naming the store (`store.dir`).
    #[arg(long, short, env = "SMSGATE_CONFIG")]
    config: Option<PathBuf>,
    /// The store directory (overrides the configuration).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and say what is wrong.
    Check {
        /// TOML file; without it, the defaults plus environment overrides.
        file: Option<PathBuf>,
    },
}

#[derive(Args)]
struct PduArgs {
    #[command(subcommand)]
    command: PduCommand,
}

#[derive(Subcommand)]
enum PduCommand {
    /// Decode one PDU (hex, with its leading SMSC field) into JSON.
    Decode {
        /// The PDU in hex, as `AT+CMGR`/`AT+CMGL` print it.
        hex: String,
        /// The PDU has no leading SMSC address field (a bare TPDU).
        #[arg(long)]
        no_smsc: bool,
    },
    /// Encode a text as SMS-SUBMIT PDUs (one per part) ready for `AT+CMGS`.
    Encode {
        /// Recipient number (international with `+`, or national).
        #[arg(long)]
        to: String,
        /// Message text (any Unicode).
        #[arg(long)]
        text: String,
        /// Request a delivery report.
        #[arg(long)]
        report: bool,
        /// SMSC number to put in the leading address field (default `00`:
        /// the SIM's SMSC).
        #[arg(long)]
        smsc: Option<String>,
        /// Concatenation reference for multipart texts (default 0).
        #[arg(long, default_value_t = 0)]
        reference: u8,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            smsgate::logging::init();
            let code =
                actix::System::new().block_on(smsgate::commands::serve::run(config.as_deref()));
            ExitCode::from(code as u8)
        }
        Command::Emulator {
            modems,
            control,
            json,
            link_dir,
            latency_ms,
            cmgs_latency_ms,
            baud,
            sim_capacity,
            pin,
            fleet_prefixes,
            model,
            heartbeat_ms,
            report_delay_ms,
            mo_jitter_ms,
            replay,
            smsc,
            smsc_short_codes,
            smsc_system_id,
            smsc_password,
            smsc_mo_concat,
        } => {
            smsgate::logging::init();
            let Some(rt) = runtime() else {
                return ExitCode::FAILURE;
            };
            let code = rt.block_on(smsgate::commands::emulator::run(
                smsgate::commands::emulator::Options {
                    modems: modems.unwrap_or(if replay.is_some() { 1 } else { 3 }),
                    replay,
                    control,
                    json,
                    link_dir,
                    settings: smsgate::emulator::dce::Settings {
                        latency_ms,
                        cmgs_latency_ms,
                        baud,
                        sm_capacity: sim_capacity,
                        pin,
                        model,
                        heartbeat_ms,
                        report_delay_ms,
                        mo_jitter_ms,
                        ..Default::default()
                    },
                    fleet_prefixes,
                    smsc: smsc.map(|address| smsgate::commands::emulator::SmscArgs {
                        address,
                        short_codes: smsc_short_codes,
                        system_id: smsc_system_id,
                        password: smsc_password,
                        mo_concat: smsc_mo_concat,
                    }),
                },
            ));
            ExitCode::from(code as u8)
        }
        Command::Transcript {
            command: TranscriptCommand::Show { file, color },
        } => ExitCode::from(smsgate::commands::transcript::show(&file, color) as u8),
        Command::Transcript {
            command: TranscriptCommand::Redact { input, output },
        } => ExitCode::from(smsgate::commands::transcript::redact_file(&input, &output) as u8),
        Command::Probe {
            port,
            json,
            baud,
            record,
            redact,
            ussd,
        } => {
            // No logging set-up: stdout carries the report (one JSON line
            // with --json) and nothing else.
            let Some(rt) = runtime() else {
                return ExitCode::FAILURE;
            };
            let code = rt.block_on(smsgate::commands::probe::run(
                std::path::Path::new(&port),
                json,
                baud,
                record.as_deref(),
                ussd.as_deref(),
            ));
            if let (true, Some(file)) = (redact, &record) {
                let r = smsgate::commands::transcript::redact_file(file, file);
                if r != 0 {
                    return ExitCode::from(r as u8);
                }
            }
            ExitCode::from(code as u8)
        }
        Command::Ussd {
            port,
            code,
            then,
            json,
            profile,
            baud,
            timeout,
        } => {
            // No logging set-up: stdout carries the answer and nothing else.
            let Some(rt) = runtime() else {
                return ExitCode::FAILURE;
            };
            let code = rt.block_on(smsgate::commands::ussd::run(
                &smsgate::commands::ussd::Options {
                    port: PathBuf::from(port),
                    code,
                    then,
                    json,
                    profile,
                    baud,
                    timeout: std::time::Duration::from_secs(timeout.max(1)),
                },
            ));
            ExitCode::from(code as u8)
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            smsgate::logging::init();
            ExitCode::from(smsgate::commands::config_check::run(file.as_deref()) as u8)
        }
        Command::Store { command } => {
            use smsgate::commands::store::{run, Direction};
            let (direction, file, at) = match command {
                StoreCommand::Export { file, at } => (Direction::Export, file, at),
                StoreCommand::Import { file, at } => (Direction::Import, file, at),
            };
            ExitCode::from(run(direction, &file, at.config.as_deref(), at.dir) as u8)
        }
        Command::Keys { command } => {
            use smsgate::commands::keys::{run, KeysCommand as K};
            let (command, at) = match command {
                KeysCommand::Add {
                    name,
                    webhook_url,
                    mo_url,
                    at,
                } => (
                    K::Add(smsgate::keys::KeyRequest {
                        name,
                        webhook_url,
                        mo_url,
                    }),
                    at,
                ),
                KeysCommand::List { at } => (K::List, at),
                KeysCommand::Revoke { name, at } => (K::Revoke(name), at),
            };
            ExitCode::from(run(command, at.config.as_deref(), at.dir) as u8)
        }
        Command::Doctor { json, config } => {
            // No logging set-up: stdout carries the report and nothing else.
            ExitCode::from(smsgate::commands::doctor::run(json, config.as_deref()) as u8)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "smsgate", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { dir } => match write_manual(&dir) {
            Ok(n) => {
                println!("{n} manual pages in {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("smsgate man: {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Command::Pdu(args) => match args.command {
            PduCommand::Decode { hex, no_smsc } => {
                ExitCode::from(smsgate::commands::pdu::decode(&hex, !no_smsc) as u8)
            }
            PduCommand::Encode {
                to,
                text,
                report,
                smsc,
                reference,
            } => ExitCode::from(smsgate::commands::pdu::encode(
                &to,
                &text,
                report,
                smsc.as_deref(),
                reference,
            ) as u8),
        },
    }
}

/// smsgate(1), a page per subcommand (`smsgate-serve(1)`...), and
/// smsgate.toml(5) into `dir`; how many pages.
/// A tokio runtime for a command, or `None` (said on stderr).
fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new()
        .map_err(|e| eprintln!("smsgate: cannot start the runtime: {e}"))
        .ok()
}

fn write_manual(dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let date = env!("SMSGATE_BUILD_DATE");
    let mut n = 0;
    // clap_mangen's generate_to writes the pages but sets no date or
    // manual name: render each page here to give them.
    fn pages(
        cmd: &clap::Command,
        prefix: &str,
        date: &str,
        dir: &std::path::Path,
        n: &mut usize,
    ) -> std::io::Result<()> {
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        let cmd = cmd
            .clone()
            .name(name.clone())
            .bin_name(name.replace('-', " "));
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .title(name.to_uppercase())
            .date(date)
            .source(format!("smsgate {}", env!("CARGO_PKG_VERSION")))
            .manual("smsgate manual")
            .render(&mut buf)?;
        std::fs::write(dir.join(format!("{name}.1")), buf)?;
        *n += 1;
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub, &name, date, dir, n)?;
        }
        Ok(())
    }
    pages(&cmd, "", date, dir, &mut n)?;
    std::fs::write(
        dir.join("smsgate.toml.5"),
        smsgate::manual::config_page(env!("CARGO_PKG_VERSION"), date),
    )?;
    Ok(n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every subcommand and every argument says what it is: the manual
    /// pages and `--help` are made from these words.
    #[test]
    fn every_subcommand_and_argument_is_documented() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "smsgate", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }

    #[test]
    fn the_manual_has_a_page_per_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let n = write_manual(dir.path()).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(n, names.len());
        for page in [
            "smsgate.1",
            "smsgate-serve.1",
            "smsgate-config-check.1",
            "smsgate-keys-add.1",
            "smsgate-store-export.1",
            "smsgate.toml.5",
        ] {
            assert!(names.iter().any(|x| x == page), "{page} not in {names:?}");
        }
        let serve = std::fs::read_to_string(dir.path().join("smsgate-serve.1")).unwrap();
        assert!(serve.contains("SMSGATE_CONFIG"), "{serve}");
    }
}
