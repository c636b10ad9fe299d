//! Modem profiles: what differs between vendors (init lines, `+CNMI`,
//! storage, quirks) kept as data in `firmware-config/profiles/*.toml`,
//! embedded in the binary and loadable from a directory.
//!
//! Owns the profile schema, its validation and the choice of a profile for a
//! `+CGMI`/`+CGMM` pair. May not touch ports or run AT commands: the modem
//! driver reads these fields and does the talking.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Name of the profile used when no vendor profile fits.
pub const GENERIC: &str = "generic";

/// The profiles shipped inside the binary: (name, TOML text). The first
/// vendor profile that fits wins, so order them from specific to general.
const BUILTIN: &[(&str, &str)] = &[
    (
        "huawei",
        include_str!("../../firmware-config/profiles/huawei.toml"),
    ),
    (
        "simcom",
        include_str!("../../firmware-config/profiles/simcom.toml"),
    ),
    (
        "quectel",
        include_str!("../../firmware-config/profiles/quectel.toml"),
    ),
    (
        GENERIC,
        include_str!("../../firmware-config/profiles/generic.toml"),
    ),
];

/// How to drive one family of modems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The name `[[modem]] profile = ...` refers to (the file's stem).
    pub name: String,
    /// One line for people.
    pub description: String,
    /// Case-insensitive substrings of `+CGMI` (TS 27.007 §5.1); empty fits
    /// any manufacturer.
    #[serde(default)]
    pub match_manufacturer: Vec<String>,
    /// Case-insensitive substrings of `+CGMM` (TS 27.007 §5.2); empty fits
    /// any model.
    #[serde(default)]
    pub match_model: Vec<String>,
    /// Command lines run in order after `ATZ` (V.250 §6.1.1).
    pub init: Vec<String>,
    /// Parameters of `AT+CNMI=` (TS 27.005 §3.4.1).
    #[serde(default = "default_cnmi")]
    pub cnmi: String,
    /// `<mem1>` = `<mem2>` = `<mem3>` of `AT+CPMS=` (TS 27.005 §3.2.2).
    #[serde(default = "default_storage")]
    pub storage: String,
    #[serde(default)]
    pub quirks: Quirks,
}

/// Behaviour of a modem family that the driver must allow for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// Vendor URCs (Huawei `^RSSI`, `^MODE`, `^DSFLOWRPT`) are expected and
    /// not a sign of a broken line.
    pub urc_noise: bool,
    /// URCs arrive on one of the modem's ports only (Quectel
    /// `AT+QURCCFG="urcport"`, Huawei `AT^PORTSEL`): on another port no
    /// `+CMTI`/`+CDSI` ever comes, so the driver looks for stored messages
    /// and reports every [`URC_PORT_SWEEP`] instead of every minute.
    pub urc_port_only: bool,
    /// How long to wait for the `+CMGS` result.
    pub cmgs_timeout_s: u64,
    /// How long to wait for `+CREG: 1|5` after start.
    pub registration_timeout_s: u64,
    /// Pause after the PIN is accepted before SMS commands (the SIM loads
    /// its files first; SIM800 answers `+CMS ERROR: 302` until "SMS Ready").
    pub post_pin_delay_ms: u64,
    /// USSD strings go both ways as GSM 7-bit packed into octets and
    /// printed as hex (`*100#` → `AA180C3602`), whatever `+CSCS` says:
    /// Huawei firmware (ModemManager `src/plugins/huawei/
    /// mm-broadband-modem-huawei.c`, `huawei_modem_3gpp_ussd_encode` and
    /// `..._decode`; gammu's phone feature `F_ENCODED_USSD`: "USSD prompts
    /// and responses are encoded like PDU in SMS").
    pub ussd_packed_hex: bool,
}

/// How often a modem whose URCs may go to another port is swept for
/// stored messages: a reply reaches its page within this even when the
/// configured port never hears `+CMTI`.
pub const URC_PORT_SWEEP: std::time::Duration = std::time::Duration::from_secs(10);

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            urc_noise: false,
            urc_port_only: false,
            cmgs_timeout_s: 120,
            registration_timeout_s: 60,
            post_pin_delay_ms: 0,
            ussd_packed_hex: false,
        }
    }
}

fn default_cnmi() -> String {
    "2,1,0,2,0".into()
}

fn default_storage() -> String {
    "SM".into()
}

/// Why a profile could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown modem profile `{name}` (known: {known}{})", dir_note(.dir))]
    Unknown {
        name: String,
        known: String,
        dir: Option<PathBuf>,
    },
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {field}: {message}")]
    Invalid {
        file: String,
        /// Dotted key of the offending field (`quirks.cmgs_timeout_s`), or
        /// `(syntax)`.
        field: String,
        message: String,
    },
}

fn dir_note(dir: &Option<PathBuf>) -> String {
    match dir {
        Some(d) => format!("; no {} either", d.display()),
        None => String::new(),
    }
}

impl Profile {
    /// The built-in profile of that name.
    pub fn builtin(name: &str) -> Option<Profile> {
        let (file, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Profile::parse(text, &format!("(built-in) {file}.toml")).ok()
    }

    /// Every built-in profile, vendor profiles first, `generic` last.
    pub fn builtins() -> Vec<Profile> {
        BUILTIN
            .iter()
            .filter_map(|(name, _)| Profile::builtin(name))
            .collect()
    }

    /// `dir/<name>.toml` if `dir` has it, else the built-in profile.
    pub fn load(name: &str, dir: Option<&Path>) -> Result<Profile, ProfileError> {
        let safe = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if let (Some(dir), true) = (dir, safe) {
            let file = dir.join(format!("{name}.toml"));
            match std::fs::read_to_string(&file) {
                Ok(text) => return Profile::parse(&text, &file.display().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ProfileError::Io {
                        file: file.display().to_string(),
                        source,
                    })
                }
            }
        }
        Profile::builtin(name).ok_or_else(|| ProfileError::Unknown {
            name: name.to_string(),
            known: BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
            dir: dir.map(Path::to_path_buf),
        })
    }

    /// Parses and checks one profile; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
        let invalid = |field: &str, message: String| ProfileError::Invalid {
            file: file.to_string(),
            field: field.to_string(),
            message,
        };
        let de = toml::Deserializer::new(text);
        let profile: Profile = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_string();
            match missing_field(&message) {
                Some(f) if path == "." => invalid(&f, "missing field".into()),
                Some(f) => invalid(&format!("{path}.{f}"), "missing field".into()),
                None if path == "." => invalid("(syntax)", message),
                None => invalid(&path, message),
            }
        })?;
        if let Some((field, message)) = profile.problem() {
            return Err(invalid(field, message));
        }
        Ok(profile)
    }

    /// The first field whose value the driver could not use safely.
    fn problem(&self) -> Option<(&'static str, String)> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Some(("name", "letters, digits, `-` and `_` only".into()));
        }
        // A control character in an init line could end the command early
        // or open an SMS prompt (Ctrl-Z, ESC): refuse it.
        if let Some(bad) = self
            .init
            .iter()
            .find(|l| !l.to_ascii_uppercase().starts_with("AT") || l.chars().any(char::is_control))
        {
            return Some((
                "init",
                format!("`{bad}` is not one AT command line (must start with AT, no control characters)"),
            ));
        }
        let cnmi_ok = !self.cnmi.is_empty()
            && self.cnmi.split(',').count() <= 5
            && self
                .cnmi
                .split(',')
                .all(|p| p.is_empty() || p.chars().all(|c| c.is_ascii_digit()));
        if !cnmi_ok {
            return Some((
                "cnmi",
                format!("`{}` is not <mode>,<mt>,<bm>,<ds>,<bfr>", self.cnmi),
            ));
        }
        if self.storage.len() != 2 || !self.storage.chars().all(|c| c.is_ascii_uppercase()) {
            return Some((
                "storage",
                format!("`{}` is not a storage name such as SM or ME", self.storage),
            ));
        }
        if self.quirks.cmgs_timeout_s == 0 {
            return Some(("quirks.cmgs_timeout_s", "must be more than 0".into()));
        }
        if self.quirks.registration_timeout_s == 0 {
            return Some((
                "quirks.registration_timeout_s",
                "must be more than 0".into(),
            ));
        }
        None
    }

    /// Whether this profile is meant for a modem that answers `+CGMI` with
    /// `manufacturer` and `+CGMM` with `model`.
    pub fn fits(&self, manufacturer: &str, model: &str) -> bool {
        let any = |patterns: &[String], text: &str| {
            let text = text.to_lowercase();
            patterns.is_empty()
                || patterns
                    .iter()
                    .any(|p| text.contains(p.to_lowercase().trim()))
        };
        any(&self.match_manufacturer, manufacturer) && any(&self.match_model, model)
    }

    /// The first built-in vendor profile that fits, else `generic`.
    pub fn best_fit(manufacturer: &str, model: &str) -> Profile {
        let all = Profile::builtins();
        all.iter()
            .find(|p| !p.match_manufacturer.is_empty() && p.fits(manufacturer, model))
            .or_else(|| all.iter().find(|p| p.name == GENERIC))
            .cloned()
            .unwrap_or_else(Profile::fallback)
    }

    /// The names of the built-in profiles.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A generic profile in code, used only if the embedded file were broken
    /// (the unit tests make sure it is not).
    fn fallback() -> Profile {
        Profile {
            name: GENERIC.into(),
            description: "Any 3GPP TS 27.005/27.007 modem".into(),
            match_manufacturer: Vec::new(),
            match_model: Vec::new(),
            init: vec!["ATE0".into(), "AT+CMEE=1".into()],
            cnmi: default_cnmi(),
            storage: default_storage(),
            quirks: Quirks::default(),
        }
    }
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field ")?;
    Some(rest.trim_matches(|c| c == '`' || c == '"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_is_named_after_its_file() {
        for (name, text) in BUILTIN {
            let p = Profile::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, *name);
            assert!(p.init.iter().any(|l| l == "ATE0"), "{name}");
        }
        assert_eq!(Profile::builtins().len(), BUILTIN.len());
    }

    #[test]
    fn huawei_e173_gets_the_huawei_profile() {
        assert_eq!(Profile::best_fit("huawei", "E173").name, "huawei");
        assert_eq!(Profile::best_fit("HUAWEI", "E3131").name, "huawei");
        let huawei = Profile::builtin("huawei").unwrap_or_else(|| panic!("huawei"));
        assert!(huawei.fits("Huawei Technologies", "E173"));
        assert!(huawei.init.iter().any(|l| l == "AT^CURC=0"));
        assert!(huawei.quirks.urc_noise);
        assert!(huawei.quirks.ussd_packed_hex);
        assert!(!Profile::builtin("simcom").is_some_and(|p| p.quirks.ussd_packed_hex));
    }

    #[test]
    fn vendor_profiles_match_their_cgmi_answers() {
        assert_eq!(
            Profile::best_fit("SIMCOM_Ltd", "SIMCOM_SIM800L").name,
            "simcom"
        );
        assert_eq!(
            Profile::best_fit("SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H").name,
            "simcom"
        );
        assert_eq!(Profile::best_fit("Quectel", "EC25").name, "quectel");
        assert_eq!(
            Profile::builtin("quectel").map(|p| p.storage),
            Some("ME".into())
        );
    }

    #[test]
    fn unknown_modems_fall_back_to_generic() {
        assert_eq!(
            Profile::best_fit("smsgate", "Emulated GSM modem").name,
            GENERIC
        );
        assert_eq!(Profile::best_fit("", "").name, GENERIC);
        let huawei = Profile::builtin("huawei").unwrap_or_else(|| panic!("huawei"));
        assert!(!huawei.fits("ZTE CORPORATION", "MF190"));
    }

    #[test]
    fn unknown_field_error_names_file_and_field() {
        let text =
            "name = \"x\"\ndescription = \"d\"\ninit = [\"ATE0\"]\n[quirks]\ncmgs_timout_s = 5\n";
        let err = Profile::parse(text, "x.toml").err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.starts_with("x.toml: quirks"), "{err}");
        assert!(err.contains("cmgs_timout_s"), "{err}");
    }

    #[test]
    fn wrong_type_and_missing_field_are_named() {
        let err = Profile::parse("name = \"x\"\ndescription = 3\ninit = []\n", "x.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("x.toml: description: "), "{err}");
        let err = Profile::parse("name = \"x\"\ninit = []\n", "x.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(err, "x.toml: description: missing field");
    }

    #[test]
    fn init_line_with_ctrl_z_is_refused() {
        let text = "name = \"x\"\ndescription = \"d\"\ninit = [\"AT+CMGS=1\\u001a\"]\n";
        let err = Profile::parse(text, "x.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("x.toml: init: "), "{err}");
    }

    #[test]
    fn directory_profile_wins_over_builtin_and_unknown_is_clear() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let custom = "name = \"huawei\"\ndescription = \"site copy\"\ninit = [\"ATE0\"]\n";
        std::fs::write(dir.path().join("huawei.toml"), custom).unwrap_or_else(|e| panic!("{e}"));
        let p = Profile::load("huawei", Some(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.description, "site copy");
        let p = Profile::load("simcom", Some(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.quirks.post_pin_delay_ms, 3000);
        let err = Profile::load("nokia", None).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown modem profile `nokia` (known: huawei, simcom, quectel, generic)")
        );
    }
}
