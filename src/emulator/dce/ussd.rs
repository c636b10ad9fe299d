//! The emulated network's USSD service for one modem (3GPP TS 22.090,
//! driven through `AT+CUSD`, TS 27.007 §7.15): the scripts the network
//! answers from (a code, its reply, an optional menu), the open menu
//! session, and the log of what the modem asked.
//!
//! Pure: decides the answer to one request and when a session times out;
//! takes `now` (the emulator's time) as an argument. It knows nothing of
//! AT syntax or encodings on the wire: the DCE (`dce::cusd`) turns a
//! request line into text and an [`Answer`] into a `+CUSD:` line.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest USSD string: 160 octets (TS 24.080 §4.4.2, USSD-String), i.e.
/// 182 packed GSM 7-bit characters or 80 UCS-2 units (TS 23.038 §6.1.2.3).
pub const MAX_GSM7_CHARS: usize = 182;
pub const MAX_UCS2_UNITS: usize = 80;
/// Requests kept in the log (oldest dropped first).
const LOG_LIMIT: usize = 1000;
/// Deepest menu a script may nest.
const MAX_DEPTH: usize = 8;

/// The data coding scheme of a reply (TS 23.038 §5): `gsm7` is dcs 15
/// (default alphabet, language unspecified), `ucs2` dcs 72 (0x48, UCS-2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dcs {
    #[default]
    Gsm7,
    Ucs2,
}

impl Dcs {
    /// The `<dcs>` of `+CUSD`.
    pub fn code(self) -> u8 {
        match self {
            Dcs::Gsm7 => 15,
            Dcs::Ucs2 => 72,
        }
    }
}

/// What the network does with a code instead of answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UssdFault {
    /// `+CUSD: 4` (operation not supported).
    NotSupported,
    /// `+CUSD: 5` (network time out).
    NetworkTimeout,
    /// `+CME ERROR: 30` (no network service) at once, instead of `OK`.
    CmeError,
    /// `OK`, then nothing.
    NoAnswer,
}

/// One entry of a menu: the reply to choosing it, and its own sub-menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuEntry {
    pub reply: String,
    #[serde(default)]
    pub dcs: Dcs,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub menu: BTreeMap<String, MenuEntry>,
}

/// A code's script, as `PUT /modems/{id}/ussd` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub code: String,
    #[serde(default)]
    pub reply: String,
    #[serde(default)]
    pub dcs: Dcs,
    /// A non-empty menu makes the reply `m=1` (further action required).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub menu: BTreeMap<String, MenuEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<UssdFault>,
}

/// Why a script was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("code {0:?}: a USSD code is digits, '*' and '#', starting with '*' or '#'")]
    BadCode(String),
    #[error("{0}: a reply is needed (or a fault)")]
    EmptyReply(String),
    #[error("{at}: {problem}")]
    BadReply { at: String, problem: String },
    #[error("{0}: a menu choice is a non-empty string without quotes")]
    BadChoice(String),
    #[error("{0}: menus nest at most {MAX_DEPTH} deep")]
    TooDeep(String),
}

impl Script {
    fn entry(code: &str, reply: &str, dcs: Dcs) -> Script {
        Script {
            code: code.into(),
            reply: reply.into(),
            dcs,
            menu: BTreeMap::new(),
            fault: None,
        }
    }

    /// Checks what the modem could not send: a code it would not dial,
    /// a reply its coding cannot carry or that is too long for USSD.
    pub fn validate(&self) -> Result<(), ScriptError> {
        let c = &self.code;
        let code_ok = c.starts_with(['*', '#'])
            && c.len() <= 40
            && c.chars()
                .all(|ch| ch.is_ascii_digit() || ch == '*' || ch == '#');
        if !code_ok {
            return Err(ScriptError::BadCode(c.clone()));
        }
        if self.fault.is_some() && self.reply.is_empty() && self.menu.is_empty() {
            return Ok(());
        }
        check_reply(c, &self.reply, self.dcs)?;
        check_menu(c, &self.menu, 1)
    }

    /// The reply, coding and menu after the choices `path`.
    fn at(&self, path: &[String]) -> Option<(&str, Dcs, &BTreeMap<String, MenuEntry>)> {
        let mut here = (self.reply.as_str(), self.dcs, &self.menu);
        for choice in path {
            let e = here.2.get(choice)?;
            here = (e.reply.as_str(), e.dcs, &e.menu);
        }
        Some(here)
    }
}

fn check_reply(at: &str, reply: &str, dcs: Dcs) -> Result<(), ScriptError> {
    if reply.is_empty() {
        return Err(ScriptError::EmptyReply(at.into()));
    }
    let bad = |problem: String| ScriptError::BadReply {
        at: at.into(),
        problem,
    };
    match dcs {
        Dcs::Gsm7 => {
            let septets = crate::sms::gsm7::encode(reply)
                .map_err(|e| bad(format!("{e} (use \"dcs\": \"ucs2\")")))?;
            if septets.len() > MAX_GSM7_CHARS {
                return Err(bad(format!(
                    "{} GSM 7-bit characters, USSD carries {MAX_GSM7_CHARS}",
                    septets.len()
                )));
            }
        }
        Dcs::Ucs2 => {
            let units = reply.encode_utf16().count();
            if units > MAX_UCS2_UNITS {
                return Err(bad(format!(
                    "{units} UCS-2 units, USSD carries {MAX_UCS2_UNITS}"
                )));
            }
        }
    }
    Ok(())
}

fn check_menu(
    at: &str,
    menu: &BTreeMap<String, MenuEntry>,
    depth: usize,
) -> Result<(), ScriptError> {
    if !menu.is_empty() && depth > MAX_DEPTH {
        return Err(ScriptError::TooDeep(at.into()));
    }
    for (choice, e) in menu {
        let here = format!("{at} > {choice}");
        if choice.is_empty() || choice.len() > 40 || choice.contains(['"', '\r', '\n']) {
            return Err(ScriptError::BadChoice(here));
        }
        check_reply(&here, &e.reply, e.dcs)?;
        check_menu(&here, &e.menu, depth + 1)?;
    }
    Ok(())
}

/// The built-in scripts every modem starts with (and gets back on
/// `DELETE /modems/{id}/ussd`).
pub fn default_scripts() -> Vec<Script> {
    let balance = "Su balance es RD$45.50";
    let leaf = |reply: &str| MenuEntry {
        reply: reply.into(),
        dcs: Dcs::Gsm7,
        menu: BTreeMap::new(),
    };
    let bundles = MenuEntry {
        reply: "1. Datos 1GB\n2. Minutos".into(),
        dcs: Dcs::Gsm7,
        menu: BTreeMap::from([
            ("1".into(), leaf("Paquete de datos activado")),
            ("2".into(), leaf("Paquete de minutos activado")),
        ]),
    };
    let mut menu = Script::entry("*100#", "1. Saldo\n2. Paquetes", Dcs::Gsm7);
    menu.menu = BTreeMap::from([("1".into(), leaf(balance)), ("2".into(), bundles)]);
    vec![
        Script::entry("*123#", balance, Dcs::Gsm7),
        menu,
        // Cyrillic and the rouble sign are not GSM 7-bit: UCS-2.
        Script::entry("*124#", "Баланс: 45,50 ₽", Dcs::Ucs2),
    ]
}

/// An unsolicited `+CUSD: <m>[,<str>,<dcs>]` the network sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// TS 27.007 §7.15 `<m>`: 0 no further action, 1 further user action
    /// required, 2 terminated by network, 4 not supported, 5 time out.
    pub m: u8,
    pub text: Option<(String, Dcs)>,
}

impl Answer {
    fn bare(m: u8) -> Answer {
        Answer { m, text: None }
    }
}

/// What the modem does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `OK`, then the answer (if any) after the network's delay.
    Sent(Option<Answer>),
    /// `+CME ERROR: <n>` at once.
    Cme(u16),
}

/// One request the modem received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logged {
    /// The string as the network understood it (a Huawei's packed hex
    /// decoded).
    pub code: String,
    /// The top-level code of the menu this answered, if it was a choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The emulator's time when it came.
    #[serde(skip)]
    pub at: Duration,
}

/// An open menu: the code, the choices so far, since when it waits.
#[derive(Debug, Clone)]
struct Session {
    code: String,
    path: Vec<String>,
    since: Duration,
}

/// One modem's USSD service.
#[derive(Debug, Clone)]
pub struct Ussd {
    scripts: Vec<Script>,
    session: Option<Session>,
    log: Vec<Logged>,
}

impl Default for Ussd {
    fn default() -> Self {
        Ussd {
            scripts: default_scripts(),
            session: None,
            log: Vec::new(),
        }
    }
}

impl Ussd {
    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    pub fn log(&self) -> &[Logged] {
        &self.log
    }

    /// Sets or replaces the script of `script.code`.
    pub fn set(&mut self, script: Script) -> Result<(), ScriptError> {
        script.validate()?;
        if self.session.as_ref().is_some_and(|s| s.code == script.code) {
            self.session = None;
        }
        match self.scripts.iter_mut().find(|s| s.code == script.code) {
            Some(s) => *s = script,
            None => self.scripts.push(script),
        }
        Ok(())
    }

    /// Back to the default scripts, no session, an empty log.
    pub fn reset(&mut self) {
        *self = Ussd::default();
    }

    /// Whether a menu waits for the user.
    pub fn in_session(&self) -> bool {
        self.session.is_some()
    }

    /// `AT+CUSD=2`: the user ends the session (TS 27.007 §7.15, `<n>`=2
    /// "cancel session").
    pub fn cancel(&mut self) {
        self.session = None;
    }

    /// The network's answer to `text`, sent at `now`. Inside an open menu
    /// a string that does not start with `*` or `#` is the user's choice;
    /// anything else is a new top-level request (the old session ends).
    /// A choice the menu lacks gets the same menu again (`m=1`): real
    /// operators repeat the menu rather than hang up, and the session
    /// stays open for another try.
    pub fn request(&mut self, text: &str, now: Duration) -> Verdict {
        let choice = !text.starts_with(['*', '#']);
        let open = self.session.take().filter(|_| choice);
        if self.log.len() >= LOG_LIMIT {
            self.log.remove(0);
        }
        self.log.push(Logged {
            code: text.to_string(),
            session: open.as_ref().map(|s| s.code.clone()),
            at: now,
        });
        if let Some(mut s) = open {
            let Some(script) = self.scripts.iter().find(|sc| sc.code == s.code) else {
                return Verdict::Sent(Some(Answer::bare(2)));
            };
            let here = script.at(&s.path);
            let next = here.and_then(|(_, _, menu)| menu.get(text));
            let (reply, dcs, more) = match next {
                Some(e) => {
                    s.path.push(text.to_string());
                    (e.reply.clone(), e.dcs, !e.menu.is_empty())
                }
                None => match here {
                    Some((reply, dcs, _)) => (reply.to_string(), dcs, true),
                    None => return Verdict::Sent(Some(Answer::bare(2))),
                },
            };
            if more {
                s.since = now;
                self.session = Some(s);
            }
            return Verdict::Sent(Some(Answer {
                m: u8::from(more),
                text: Some((reply, dcs)),
            }));
        }
        let Some(script) = self.scripts.iter().find(|s| s.code == text) else {
            return Verdict::Sent(Some(Answer::bare(4)));
        };
        match script.fault {
            Some(UssdFault::NotSupported) => return Verdict::Sent(Some(Answer::bare(4))),
            Some(UssdFault::NetworkTimeout) => return Verdict::Sent(Some(Answer::bare(5))),
            Some(UssdFault::CmeError) => return Verdict::Cme(30),
            Some(UssdFault::NoAnswer) => return Verdict::Sent(None),
            None => {}
        }
        let more = !script.menu.is_empty();
        let answer = Answer {
            m: u8::from(more),
            text: Some((script.reply.clone(), script.dcs)),
        };
        if more {
            self.session = Some(Session {
                code: script.code.clone(),
                path: Vec::new(),
                since: now,
            });
        }
        Verdict::Sent(Some(answer))
    }

    /// Ends a menu left unanswered for `timeout`: the network releases it
    /// and the modem says `+CUSD: 2` (terminated by network).
    pub fn expire(&mut self, now: Duration, timeout: Duration) -> Option<Answer> {
        let s = self.session.as_ref()?;
        if now.saturating_sub(s.since) < timeout {
            return None;
        }
        self.session = None;
        Some(Answer::bare(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: Verdict) -> (u8, String) {
        match v {
            Verdict::Sent(Some(Answer {
                m,
                text: Some((t, _)),
            })) => (m, t),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_validate() {
        for s in default_scripts() {
            s.validate().unwrap();
        }
    }

    #[test]
    fn menu_walks_two_levels_and_a_new_code_ends_it() {
        let mut u = Ussd::default();
        let t = Duration::ZERO;
        assert_eq!(text(u.request("*100#", t)).0, 1);
        assert_eq!(
            text(u.request("2", t)),
            (1, "1. Datos 1GB\n2. Minutos".into())
        );
        assert_eq!(
            text(u.request("9", t)),
            (1, "1. Datos 1GB\n2. Minutos".into())
        );
        assert_eq!(
            text(u.request("2", t)),
            (0, "Paquete de minutos activado".into())
        );
        assert!(!u.in_session());
        u.request("*100#", t);
        assert_eq!(
            text(u.request("*123#", t)),
            (0, "Su balance es RD$45.50".into())
        );
        assert!(!u.in_session());
        assert_eq!(u.log()[1].session.as_deref(), Some("*100#"));
    }

    #[test]
    fn an_unanswered_menu_expires() {
        let mut u = Ussd::default();
        u.request("*100#", Duration::from_secs(1));
        let timeout = Duration::from_secs(60);
        assert_eq!(u.expire(Duration::from_secs(60), timeout), None);
        assert_eq!(
            u.expire(Duration::from_secs(61), timeout),
            Some(Answer::bare(2))
        );
        assert!(!u.in_session());
    }

    #[test]
    fn bad_scripts_are_refused() {
        let mut u = Ussd::default();
        let mut s = Script::entry("123", "x", Dcs::Gsm7);
        assert!(matches!(u.set(s.clone()), Err(ScriptError::BadCode(_))));
        s.code = "*1#".into();
        s.reply = "Баланс".into();
        assert!(matches!(
            u.set(s.clone()),
            Err(ScriptError::BadReply { .. })
        ));
        s.reply = String::new();
        assert!(matches!(u.set(s.clone()), Err(ScriptError::EmptyReply(_))));
        s.fault = Some(UssdFault::NoAnswer);
        u.set(s).unwrap();
        assert_eq!(u.request("*1#", Duration::ZERO), Verdict::Sent(None));
    }
}
