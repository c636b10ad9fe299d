//! Kannel's URL escapes, for a key's `mo_url` (Kannel's `get-url` of an
//! `sms-service`) and a message's `dlr-url`: `%p` and the like replaced by
//! the message's fields as Kannel's `gw/urltrans.c`
//! (`urltrans_fill_escape_codes`) does:
//!
//! - values URL-encoded as `octstr_url_encode` does (Kannel ≥ 1.4.5
//!   trunk: `A-Za-z0-9-_.~` kept, a space becomes `+`, everything else
//!   `%XX` in upper case, so a number's `+` arrives as `%2B`);
//! - `%a` and `%r` are words, each encoded, joined by `+`;
//! - `%t` is `YYYY-MM-DD+HH:MM:SS` in UTC with a literal `+` (the user
//!   guide's `YYYY-MM-DD HH:MM` is not what the code writes);
//! - `%%` is `%`; an escape Kannel does not know, and a `%` at the end,
//!   are copied as they are; one it knows with no value here is empty.
//!
//! In a DLR, as in Kannel (`gw/dlr.c` `dlr_find` builds the report with
//! no swap), `%p` is the phone the message went to and `%P` the short code;
//! for an incoming SMS (`smsbox.c` `obey_request_thread` swaps) `%p` is the
//! phone that wrote and `%P` the short code. Pure functions.

use chrono::{DateTime, Utc};

use crate::gateway::api::{RecipientState, ReplyView};

/// The values the escapes of one callback stand for, by escape letter.
pub type Fields = Vec<(char, Value)>;

/// One escape's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// URL-encoded when put in.
    Encoded(String),
    /// Put in as it is (already URL-safe, or encoded by the maker).
    Raw(String),
}

/// The letters Kannel knows (`urltrans_fill_escape_codes`): one with no
/// value here is replaced by nothing, any other is copied.
const KNOWN: &str = "ksSrabepPqQtTiIdRFncCuBoOfmMvVDAeUyx";

/// `template` with its escapes replaced.
pub fn render(template: &str, fields: &Fields) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('%'),
            Some('%') => out.push('%'),
            Some(x) => match fields.iter().find(|(k, _)| *k == x) {
                Some((_, Value::Encoded(v))) => out.push_str(&encode(v)),
                Some((_, Value::Raw(v))) => out.push_str(v),
                None if KNOWN.contains(x) => {}
                None => {
                    out.push('%');
                    out.push(x);
                }
            },
        }
    }
    out
}

/// Kannel's `octstr_url_encode`.
pub fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 3);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%a`/`%r`: words, each encoded, joined by `+`.
fn words(w: &[&str]) -> Value {
    Value::Raw(w.iter().map(|w| encode(w)).collect::<Vec<_>>().join("+"))
}

/// `%q`: a leading `00` written as `+` (encoded), else as `%p`.
fn international(n: &str) -> Value {
    match n.strip_prefix("00") {
        Some(rest) => Value::Raw(format!("%2B{}", encode(rest))),
        None => Value::Encoded(n.to_string()),
    }
}

/// `%t`.
fn kannel_time(at: DateTime<Utc>) -> Value {
    Value::Raw(at.format("%Y-%m-%d+%H:%M:%S").to_string())
}

/// An incoming SMS, as a `get-url` sees it.
#[derive(Debug, Clone, Copy)]
pub struct Mo<'a> {
    /// The phone (`%p`).
    pub from: &'a str,
    /// The short code it wrote to (`%P`).
    pub to: &'a str,
    pub text: &'a str,
    pub at: DateTime<Utc>,
}

impl<'a> From<&'a ReplyView> for Mo<'a> {
    fn from(r: &'a ReplyView) -> Self {
        Mo {
            from: &r.from,
            to: &r.short_code,
            text: &r.text,
            at: r.received_at,
        }
    }
}

impl Mo<'_> {
    pub fn fields(&self) -> Fields {
        let w: Vec<&str> = self.text.split_whitespace().collect();
        use Value::{Encoded, Raw};
        vec![
            ('p', Encoded(self.from.to_string())),
            ('P', Encoded(self.to.to_string())),
            ('q', international(self.from)),
            ('Q', international(self.to)),
            ('a', words(&w)),
            ('b', Encoded(self.text.to_string())),
            (
                'k',
                Encoded(w.first().copied().unwrap_or_default().to_string()),
            ),
            (
                's',
                Encoded(w.get(1).copied().unwrap_or_default().to_string()),
            ),
            ('r', words(w.get(1..).unwrap_or_default())),
            ('t', kannel_time(self.at)),
            ('T', Raw(self.at.timestamp().to_string())),
            ('i', Encoded(self.to.to_string())),
            ('c', Raw("0".into())),
            ('C', Raw("UTF-8".into())),
        ]
    }
}

/// A status change of a message sent through `/cgi-bin/sendsms`, as its
/// `dlr-url` sees it.
#[derive(Debug, Clone, Copy)]
pub struct Dlr<'a> {
    pub status: RecipientState,
    /// The failure code (`undelivered`, `send_failed`, `ended_unsent`).
    pub reason: Option<&'a str>,
    /// The phone.
    pub to: &'a str,
    pub short_code: Option<&'a str>,
    pub message: &'a str,
    pub at: DateTime<Utc>,
}

/// Kannel's DLR types (`dlr-mask` bits, `%d`).
pub const DLR_DELIVERED: u8 = 1;
pub const DLR_UNDELIVERED: u8 = 2;
pub const DLR_BUFFERED: u8 = 4;
pub const DLR_SMSC_SUCCESS: u8 = 8;
pub const DLR_SMSC_FAIL: u8 = 16;

impl Dlr<'_> {
    /// The DLR type this change is (`None`: Kannel has none for it).
    pub fn value(&self) -> Option<u8> {
        match (self.status, self.reason) {
            (RecipientState::Delivered, _) => Some(DLR_DELIVERED),
            (RecipientState::Sent, _) => Some(DLR_SMSC_SUCCESS),
            (
                RecipientState::Queued
                | RecipientState::WaitingForModem
                | RecipientState::WaitingForCap,
                _,
            ) => Some(DLR_BUFFERED),
            (RecipientState::Failed, Some("undelivered")) => Some(DLR_UNDELIVERED),
            (RecipientState::Failed, _) => Some(DLR_SMSC_FAIL),
            _ => None,
        }
    }

    /// The escapes for DLR type `value`. `%A` is `ACK/` (8) or
    /// `NACK/reason` (16) as Kannel's bearerbox writes them; for 1, 2 and 4
    /// Kannel passes the SMSC's receipt text, for which smsgate writes the
    /// receipt's state word (`stat:DELIVRD`, `stat:UNDELIV`,
    /// `stat:BUFFRED`).
    pub fn fields(&self, value: u8) -> Fields {
        use Value::{Encoded, Raw};
        let answer = match value {
            DLR_DELIVERED => "stat:DELIVRD".to_string(),
            DLR_UNDELIVERED => "stat:UNDELIV".to_string(),
            DLR_BUFFERED => "stat:BUFFRED".to_string(),
            DLR_SMSC_SUCCESS => "ACK/".to_string(),
            _ => format!("NACK/{}", self.reason.unwrap_or("failed")),
        };
        let code = self.short_code.unwrap_or_default();
        vec![
            ('d', Raw(value.to_string())),
            ('A', Encoded(answer.clone())),
            ('b', Encoded(answer)),
            ('p', Encoded(self.to.to_string())),
            ('P', Encoded(code.to_string())),
            ('q', international(self.to)),
            ('Q', international(code)),
            ('t', kannel_time(self.at)),
            ('T', Raw(self.at.timestamp().to_string())),
            ('i', Encoded(code.to_string())),
            ('I', Encoded(self.message.to_string())),
            ('F', Encoded(self.message.to_string())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mo_escapes_as_kannel_writes_them() {
        let mo = Mo {
            from: "+18095551234",
            to: "2222",
            text: "Sí  voy a las 8&más",
            at: crate::gateway::t(0),
        };
        let url = render(
            "http://app/mo?from=%p&to=%P&text=%a&raw=%b&ts=%T&t=%t&kw=%k&q=%q&pct=%%&none=%n&unknown=%N&end=%",
            &mo.fields(),
        );
        assert_eq!(
            url,
            "http://app/mo?from=%2B18095551234&to=2222&text=S%C3%AD+voy+a+las+8%26m%C3%A1s\
             &raw=S%C3%AD++voy+a+las+8%26m%C3%A1s&ts=1795600800&t=2026-11-25+10:00:00&kw=S%C3%AD\
             &q=%2B18095551234&pct=%&none=&unknown=%N&end=%"
        );
    }

    /// The dlr-url courier builds (nyaruka/courier handlers/kannel:
    /// `…/status?uuid=…&status=%d`), playSMS's (`type=%d`), and the rest.
    #[test]
    fn dlr_escapes_name_the_phone_and_the_type() {
        let d = Dlr {
            status: RecipientState::Failed,
            reason: Some("send_failed"),
            to: "+18095551234",
            short_code: Some("2222"),
            message: "7",
            at: crate::gateway::t(0),
        };
        assert_eq!(d.value(), Some(DLR_SMSC_FAIL));
        assert_eq!(
            render(
                "http://c/status?uuid=u-1&status=%d&p=%p&P=%P&A=%A&I=%I",
                &d.fields(16)
            ),
            "http://c/status?uuid=u-1&status=16&p=%2B18095551234&P=2222&A=NACK%2Fsend_failed&I=7"
        );
        let sent = Dlr {
            status: RecipientState::Sent,
            reason: None,
            ..d
        };
        assert_eq!(sent.value(), Some(DLR_SMSC_SUCCESS));
        assert_eq!(render("%A", &sent.fields(8)), "ACK%2F");
        let undelivered = Dlr {
            reason: Some("undelivered"),
            ..d
        };
        assert_eq!(undelivered.value(), Some(DLR_UNDELIVERED));
        let delivered = Dlr {
            status: RecipientState::Delivered,
            reason: None,
            ..d
        };
        assert_eq!(delivered.value(), Some(DLR_DELIVERED));
        assert_eq!(
            render(
                "%p",
                &Dlr {
                    to: "0018095551234",
                    ..d
                }
                .fields(1)
            ),
            "0018095551234"
        );
        assert_eq!(
            render(
                "%q",
                &Dlr {
                    to: "0018095551234",
                    ..d
                }
                .fields(1)
            ),
            "%2B18095551234"
        );
    }
}
