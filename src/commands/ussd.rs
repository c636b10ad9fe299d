//! `smsgate ussd PORT CODE [--then ANSWER ...]`: send a USSD code (a
//! balance check, a bundle menu) through the modem on a port, offline like
//! `smsgate probe`, and print the network's answers.
//!
//! Owns the command's flow (open the port, wake the modem, pick the
//! profile's USSD encoding, answer menu steps in order, cancel a menu left
//! open) and its output: text, or one JSON line. The exchange itself is
//! [`crate::modem::ussd`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::at::commands::{Manufacturer, Model};
use crate::modem::conversation::Conversation;
use crate::modem::probe::{open_port, wake};
use crate::modem::profile::Profile;
use crate::modem::types::UssdAnswer;
use crate::modem::ussd::UssdSession;

/// What to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub port: PathBuf,
    /// The code, e.g. `*123#`.
    pub code: String,
    /// Answers to the menu steps, in order.
    pub then: Vec<String>,
    pub json: bool,
    /// A profile name; `None` picks one from `+CGMI`/`+CGMM`.
    pub profile: Option<String>,
    pub baud: u32,
    /// How long to wait for each `+CUSD:` answer.
    pub timeout: Duration,
}

/// One step of the dialogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What was sent: the code, then each answer.
    pub sent: String,
    #[serde(flatten)]
    pub answer: UssdAnswer,
}

/// Everything the command found, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub port: String,
    pub profile: String,
    pub steps: Vec<Step>,
    /// Why the dialogue stopped early.
    pub error: Option<String>,
}

/// Runs the dialogue and prints it; 0 when every step was answered, 1
/// otherwise (the error on stderr, and in the JSON line with `--json`).
pub async fn run(opts: &Options) -> i32 {
    let port = opts.port.display().to_string();
    let report = match dialogue(opts).await {
        Ok(report) => report,
        Err(error) => Report {
            port,
            profile: opts.profile.clone().unwrap_or_default(),
            steps: Vec::new(),
            error: Some(error),
        },
    };
    println!("{}", render(&report, opts.json));
    match &report.error {
        None => 0,
        Some(e) => {
            eprintln!("smsgate ussd: {e}");
            1
        }
    }
}

async fn dialogue(opts: &Options) -> Result<Report, String> {
    let port = opts.port.display().to_string();
    let mut conv = Conversation::new(open_port(&opts.port, opts.baud).map_err(|e| e.to_string())?);
    wake(&mut conv, &port).await.map_err(|e| e.to_string())?;
    // Numeric +CME ERROR codes (TS 27.007 §9.1) say why a request failed.
    let _ = conv.raw("AT+CMEE=1", Duration::from_secs(2)).await;
    let profile = pick_profile(&mut conv, opts.profile.as_deref()).await?;
    let mut session = UssdSession::new(profile.quirks.ussd_packed_hex, opts.timeout);
    let mut report = Report {
        port,
        profile: profile.name.clone(),
        steps: Vec::new(),
        error: None,
    };
    let sends = std::iter::once(&opts.code).chain(&opts.then);
    for (i, sent) in sends.enumerate() {
        if i > 0 && !session.is_open() {
            report.error = Some(format!(
                "the network closed the menu before the answer {sent:?}"
            ));
            break;
        }
        let answer = session
            .request(&mut conv, sent)
            .await
            .map_err(|e| format!("{}: {e}", report.port))?;
        match answer {
            Ok(answer) => report.steps.push(Step {
                sent: sent.clone(),
                answer,
            }),
            Err(e) => {
                report.error = Some(format!("{sent}: {e}"));
                break;
            }
        }
    }
    if session.is_open() {
        session
            .cancel(&mut conv)
            .await
            .map_err(|e| format!("{}: {e}", report.port))?;
    }
    Ok(report)
}

/// The named profile, or the one that fits the modem's `+CGMI`/`+CGMM`.
async fn pick_profile<P: AsyncRead + AsyncWrite + Unpin>(
    conv: &mut Conversation<P>,
    name: Option<&str>,
) -> Result<Profile, String> {
    if let Some(name) = name {
        return Profile::load(name, None).map_err(|e| e.to_string());
    }
    let maker = conv.exec(&Manufacturer).await.unwrap_or_default();
    let model = conv.exec(&Model).await.unwrap_or_default();
    Ok(Profile::best_fit(&maker, &model))
}

/// The dialogue as text (each step's answer under what was sent), or as
/// one JSON line.
pub fn render(report: &Report, json: bool) -> String {
    if json {
        return serde_json::to_string(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    }
    let mut out = Vec::new();
    for step in &report.steps {
        out.push(format!("> {}", step.sent));
        out.push(step.answer.reply.clone());
        if step.answer.session_open {
            out.push("(menu open: answer with --then)".into());
        }
    }
    if let Some(e) = &report.error {
        out.push(format!("error: {e}"));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_forms() {
        let report = Report {
            port: "/dev/ttyUSB2".into(),
            profile: "huawei".into(),
            steps: vec![Step {
                sent: "*100#".into(),
                answer: UssdAnswer {
                    reply: "1. Saldo\n2. Paquetes".into(),
                    session_open: true,
                    status: 1,
                },
            }],
            error: None,
        };
        assert_eq!(
            render(&report, false),
            "> *100#\n1. Saldo\n2. Paquetes\n(menu open: answer with --then)"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&report, true)).unwrap_or_default();
        assert_eq!(json["steps"][0]["reply"], "1. Saldo\n2. Paquetes");
        assert_eq!(json["steps"][0]["session_open"], true);
        assert_eq!(json["steps"][0]["sent"], "*100#");
        assert!(json["error"].is_null());
    }
}
