//! Modem models: the documented behaviour of real modem families, as data
//! the emulated DCE obeys — what a modem prints when it boots and when,
//! which commands it refuses, which unsolicited lines it keeps sending,
//! where it stores delivery reports and what it says about them.
//!
//! The models live as TOML in `firmware-config/models/` (built into the
//! binary), one file per family; every quirk cites its public source
//! beside it (a vendor manual, ModemManager's plugin, gammu, Kannel,
//! python-gsmmodem, an issue). They describe the modem, never the driver:
//! the emulator and the driver were written by the same people, so a
//! model is only worth what its sources are.
//!
//! Pure data and lookups: no clock, no I/O.

use serde::{Deserialize, Serialize};

/// One modem family's behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    pub description: String,
    /// `+CGMI` / `+CGMM` / `+CGMR` answers (the emulator's own otherwise).
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    /// The final result of a command the modem does not know.
    #[serde(default = "error_text")]
    pub unknown_command: String,
    /// Commands answered with a fixed final result instead of being run.
    #[serde(default)]
    pub refuse: Vec<Refusal>,
    /// Lines the modem keeps sending on its own.
    #[serde(default)]
    pub heartbeat: Option<Heartbeat>,
    /// What the modem prints after power-on or a restart, and when its SMS
    /// service is ready.
    #[serde(default)]
    pub boot: Boot,
    #[serde(default)]
    pub sms: SmsQuirks,
    /// The stick has a second AT port (Huawei's "modem" port beside its
    /// "PC UI" port): it answers commands but gets unsolicited lines only
    /// when `AT^PORTSEL=1` chose it. The emulator's first port is the one
    /// that gets them by default.
    #[serde(default)]
    pub second_port: bool,
    #[serde(default)]
    pub sim: SimQuirks,
    #[serde(default)]
    pub ussd: UssdQuirks,
}

fn error_text() -> String {
    "ERROR".into()
}

/// A command (as typed after `AT`, e.g. `^CURC=0`, `+CNMI=?`) and the
/// final result the modem gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub command: String,
    pub answer: String,
}

/// Unsolicited lines sent every `every_ms`, in turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub every_ms: u64,
    /// `{rssi}` is the modem's signal, `{imei8}` the last 8 IMEI digits.
    pub lines: Vec<String>,
    /// A command (as typed after `AT`) that stops them until the next
    /// restart; none when nothing stops them.
    #[serde(default)]
    pub stopped_by: Option<String>,
}

/// The boot sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    /// Whether the sequence also runs when the emulator starts (a modem
    /// just powered on); otherwise only after a restart.
    #[serde(default = "yes")]
    pub at_power_on: bool,
    /// Lines written after power-on or a restart, each `after_ms` from the
    /// start of the boot (`{cpin}`: `READY` or `SIM PIN`).
    #[serde(default = "default_boot_lines")]
    pub lines: Vec<BootLine>,
    /// SMS commands (`+CMGF`, `+CPMS`, `+CNMI`, `+CMG*`, `+CSCA`, `+CSMP`)
    /// fail until this long after the start of the boot.
    #[serde(default)]
    pub sms_ready_ms: u64,
    /// How they fail: `+CMS ERROR: <code>` (plain `ERROR` under
    /// `+CMEE=0`); no code means a plain `ERROR` always.
    #[serde(default)]
    pub not_ready_cms: Option<u16>,
}

impl Default for Boot {
    fn default() -> Self {
        Boot {
            at_power_on: true,
            lines: Vec::new(),
            sms_ready_ms: 0,
            not_ready_cms: None,
        }
    }
}

/// One line of the boot sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootLine {
    pub after_ms: u64,
    pub line: String,
}

fn default_boot_lines() -> Vec<BootLine> {
    Vec::new()
}

fn yes() -> bool {
    true
}

/// SMS storage and notification quirks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsQuirks {
    /// `<ds>` values of `+CNMI` the modem accepts.
    #[serde(default = "all_ds")]
    pub cnmi_ds: Vec<u8>,
    /// Where status reports are stored under `+CNMI` `<ds>=2` (`SR`); none:
    /// in the receive memory, like SMS.
    #[serde(default)]
    pub report_memory: Option<String>,
    /// The memory `+CDSI` names; none: the one the report is in.
    #[serde(default)]
    pub report_announce: Option<String>,
    /// Unsolicited lines written between `AT+CMGS=<n>` and the `> ` prompt.
    #[serde(default)]
    pub prompt_urcs: Vec<String>,
}

impl Default for SmsQuirks {
    fn default() -> Self {
        SmsQuirks {
            cnmi_ds: all_ds(),
            report_memory: None,
            report_announce: None,
            prompt_urcs: Vec::new(),
        }
    }
}

fn all_ds() -> Vec<u8> {
    vec![0, 1, 2]
}

/// How the modem tells its SIM's ICCID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimQuirks {
    /// The answer line to `AT+CCID` (`{iccid}`: the digits; `{iccid_bcd}`:
    /// as EF_ICCID stores them, nibble-swapped and `F`-padded); empty: the
    /// modem does not know the command.
    #[serde(default = "ccid_line")]
    pub ccid: String,
    /// Vendor ICCID commands (as typed after `AT`, e.g. `+QCCID`,
    /// `^ICCID?`) and their answer lines, with the same placeholders.
    #[serde(default)]
    pub iccid_commands: Vec<Refusal>,
}

impl Default for SimQuirks {
    fn default() -> Self {
        SimQuirks {
            ccid: ccid_line(),
            iccid_commands: Vec::new(),
        }
    }
}

fn ccid_line() -> String {
    "+CCID: {iccid}".into()
}

/// How the modem carries USSD strings in `AT+CUSD`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UssdQuirks {
    /// Requests and dcs-15 answers are packed GSM 7-bit in hex, not text
    /// (Huawei).
    #[serde(default)]
    pub packed_hex: bool,
}

impl SimQuirks {
    /// The answer template for a command typed as `text` (after `AT`).
    pub fn iccid_answer(&self, text: &str) -> Option<&str> {
        if text.eq_ignore_ascii_case("+CCID") || text.eq_ignore_ascii_case("+CCID?") {
            return Some(self.ccid.as_str()).filter(|c| !c.is_empty());
        }
        self.iccid_commands
            .iter()
            .find(|r| r.command.eq_ignore_ascii_case(text))
            .map(|r| r.answer.as_str())
    }
}

/// The built-in models: (name, TOML).
const BUILTIN: &[(&str, &str)] = &[
    (
        "generic",
        include_str!("../../firmware-config/models/generic.toml"),
    ),
    (
        "huawei-e173",
        include_str!("../../firmware-config/models/huawei-e173.toml"),
    ),
    (
        "quectel-ec25",
        include_str!("../../firmware-config/models/quectel-ec25.toml"),
    ),
    (
        "simcom-sim800",
        include_str!("../../firmware-config/models/simcom-sim800.toml"),
    ),
    (
        "zte-mf",
        include_str!("../../firmware-config/models/zte-mf.toml"),
    ),
    (
        "wavecom",
        include_str!("../../firmware-config/models/wavecom.toml"),
    ),
];

/// Errors of model lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("no modem model {name:?}; known: {known}")]
    Unknown { name: String, known: String },
    #[error("model {name}: {problem}")]
    Bad { name: String, problem: String },
}

impl Model {
    /// The names of the built-in models.
    pub fn names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in model by name.
    pub fn builtin(name: &str) -> Result<Model, ModelError> {
        let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) else {
            return Err(ModelError::Unknown {
                name: name.to_string(),
                known: Self::names().join(", "),
            });
        };
        let model: Model = toml::from_str(text).map_err(|e| ModelError::Bad {
            name: name.to_string(),
            problem: e.to_string(),
        })?;
        if model.name != name {
            return Err(ModelError::Bad {
                name: name.to_string(),
                problem: format!("the file names itself {:?}", model.name),
            });
        }
        Ok(model)
    }

    /// Today's emulated modem.
    pub fn generic() -> Model {
        Self::builtin("generic").expect("the generic model is built in and valid")
    }

    /// The refusal for a command typed as `text` (after `AT`), if any.
    pub fn refusal(&self, text: &str) -> Option<&str> {
        self.refuse
            .iter()
            .find(|r| r.command.eq_ignore_ascii_case(text))
            .map(|r| r.answer.as_str())
    }
}

impl Heartbeat {
    /// Line number `seq` (in turn), with its placeholders filled.
    pub fn line(&self, seq: usize, rssi: u8, imei: &str) -> Option<String> {
        if self.lines.is_empty() {
            return None;
        }
        let imei8 = &imei[imei.len().saturating_sub(8)..];
        Some(
            self.lines[seq % self.lines.len()]
                .replace("{rssi}", &rssi.to_string())
                .replace("{imei8}", imei8),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in model parses and names itself as its file does.
    #[test]
    fn every_builtin_model_loads() {
        for name in Model::names() {
            let m = Model::builtin(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!m.description.is_empty(), "{name}");
        }
        assert!(Model::names().len() >= 6);
        assert!(matches!(
            Model::builtin("nokia-3310"),
            Err(ModelError::Unknown { .. })
        ));
    }

    #[test]
    fn heartbeat_lines_take_turns_and_fill_placeholders() {
        let h = Heartbeat {
            every_ms: 1000,
            lines: vec!["^RSSI:{rssi}".into(), "^BOOT:{imei8},0,0,0,75".into()],
            stopped_by: None,
        };
        assert_eq!(h.line(0, 17, "359853035323129").unwrap(), "^RSSI:17");
        assert_eq!(
            h.line(1, 17, "359853035323129").unwrap(),
            "^BOOT:35323129,0,0,0,75"
        );
        assert_eq!(h.line(2, 9, "1").unwrap(), "^RSSI:9");
    }

    #[test]
    fn refusals_match_the_typed_command_in_any_case() {
        let m = Model::builtin("huawei-e173").unwrap();
        assert!(m.refusal("^curc=0").is_some());
        assert!(m.refusal("+CMGF=0").is_none());
    }
}
