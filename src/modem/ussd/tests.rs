//! USSD sessions over a scripted modem on an in-memory pipe: each step is
//! the command line the modem must receive and what it answers.

use std::time::Duration;

use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

type Script = Vec<(&'static str, Vec<u8>)>;

/// Plays `script` as the modem: reads each command line (up to its CR),
/// checks it, writes the answer. Returns the pipe so it stays open.
async fn modem(mut port: DuplexStream, script: Script) -> DuplexStream {
    for (expected, answer) in script {
        let mut got = Vec::new();
        while !got.ends_with(b"\r") {
            let mut buf = [0u8; 256];
            let n = port.read(&mut buf).await.unwrap_or(0);
            assert!(n > 0, "the pipe closed while waiting for {expected}");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(String::from_utf8_lossy(&got), format!("{expected}\r"));
        port.write_all(&answer).await.unwrap_or_default();
    }
    port
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

async fn one(
    session: &mut UssdSession,
    code: &str,
    script: Script,
) -> (Result<UssdAnswer, UssdError>, Conversation<DuplexStream>) {
    let (port, far) = duplex(4096);
    let mut conv = Conversation::new(port);
    let (result, _far) = tokio::join!(session.request(&mut conv, code), modem(far, script));
    (result.unwrap_or_else(|e| panic!("link: {e}")), conv)
}

fn session() -> UssdSession {
    UssdSession::new(false, Duration::from_secs(5))
}

const OK: &str = "\r\nOK\r\n";

#[tokio::test]
async fn plain_reply_dcs_15() {
    let mut s = session();
    let (answer, _) = one(
        &mut s,
        "*123#",
        vec![(
            r#"AT+CUSD=1,"*123#",15"#,
            b("\r\nOK\r\n\r\n+CUSD: 0,\"Su saldo es RD$ 25.00\",15\r\n"),
        )],
    )
    .await;
    assert_eq!(
        answer,
        Ok(UssdAnswer {
            reply: "Su saldo es RD$ 25.00".into(),
            session_open: false,
            status: 0
        })
    );
    assert!(!s.is_open());
}

/// The `+CUSD:` before the `OK` (python-gsmmodem `sendUssd`: "some
/// modems issue the +CUSD response before the acknowledgment OK").
#[tokio::test]
async fn cusd_before_ok_is_the_answer() {
    let mut s = session();
    let (answer, _) = one(
        &mut s,
        "*123#",
        vec![(
            r#"AT+CUSD=1,"*123#",15"#,
            b("\r\n+CUSD: 0,\"Saldo 5\",15\r\n\r\nOK\r\n"),
        )],
    )
    .await;
    assert_eq!(answer.map(|a| a.reply), Ok("Saldo 5".into()));
}

#[tokio::test]
async fn multi_line_menu_stays_open() {
    let mut s = session();
    let (answer, _) = one(
        &mut s,
        "*100#",
        vec![(
            r#"AT+CUSD=1,"*100#",15"#,
            b("\r\nOK\r\n\r\n+CUSD: 1,\"1. Saldo\r\n2. Paquetes\",15\r\n"),
        )],
    )
    .await;
    assert_eq!(
        answer,
        Ok(UssdAnswer {
            reply: "1. Saldo\n2. Paquetes".into(),
            session_open: true,
            status: 1
        })
    );
    assert!(s.is_open());
    let left = s
        .expires_at()
        .map(|t| t.saturating_duration_since(tokio::time::Instant::now()));
    assert!(left.is_some_and(|d| d > Duration::from_secs(55) && d <= USSD_SESSION_TIMEOUT));
}

#[tokio::test]
async fn ucs2_dcs_72() {
    let mut s = session();
    let (answer, _) = one(
        &mut s,
        "*123#",
        vec![(
            r#"AT+CUSD=1,"*123#",15"#,
            b("\r\nOK\r\n\r\n+CUSD: 0,\"00530061006C0064006F002020AC\",72\r\n"),
        )],
    )
    .await;
    assert_eq!(answer.map(|a| a.reply), Ok("Saldo €".into()));
}

/// Huawei: the request and the dcs 15 answer are packed GSM 7-bit hex
/// (ModemManager `mm-broadband-modem-huawei.c`).
#[tokio::test]
async fn huawei_packed_both_ways() {
    let mut s = UssdSession::new(true, Duration::from_secs(5));
    let reply = crate::at::ussd::encode_request("Saldo: 25.00", true).unwrap_or_default();
    let (answer, _) = one(
        &mut s,
        "*123#",
        vec![(
            r#"AT+CUSD=1,"AA986C3602",15"#,
            format!("\r\nOK\r\n\r\n+CUSD: 0,\"{reply}\",15\r\n").into_bytes(),
        )],
    )
    .await;
    assert_eq!(answer.map(|a| a.reply), Ok("Saldo: 25.00".into()));
}

/// A menu, then its answer sent inside the session: no cancel between.
#[tokio::test]
async fn menu_in_two_steps() {
    let mut s = session();
    let (port, far) = duplex(4096);
    let mut conv = Conversation::new(port);
    let script = vec![
        (
            r#"AT+CUSD=1,"*100#",15"#,
            b("\r\nOK\r\n\r\n+CUSD: 1,\"1. Saldo\r\n2. Salir\",15\r\n"),
        ),
        (
            r#"AT+CUSD=1,"1",15"#,
            b("\r\nOK\r\n\r\n+CUSD: 0,\"Saldo: RD$ 25.00\",15\r\n"),
        ),
    ];
    let steps = async {
        let first = s.request(&mut conv, "*100#").await;
        let second = s.request(&mut conv, "1").await;
        (first, second)
    };
    let ((first, second), _far) = tokio::join!(steps, modem(far, script));
    assert_eq!(
        first.ok().and_then(Result::ok).map(|a| a.session_open),
        Some(true)
    );
    let second = second.ok().and_then(Result::ok);
    assert_eq!(
        second,
        Some(UssdAnswer {
            reply: "Saldo: RD$ 25.00".into(),
            session_open: false,
            status: 0
        })
    );
    assert!(!s.is_open());
}

/// `*100#` opens a menu, then `*123#` is asked: the modem says
/// `second` to the second request. The reply the second request gets.
async fn second_code_after_a_menu(second: &str) -> Option<String> {
    let mut s = session();
    let (port, far) = duplex(4096);
    let mut conv = Conversation::new(port);
    let script = vec![
        (
            r#"AT+CUSD=1,"*100#",15"#,
            b("\r\nOK\r\n\r\n+CUSD: 1,\"1. Saldo\",15\r\n"),
        ),
        ("AT+CUSD=2", b(OK)),
        (r#"AT+CUSD=1,"*123#",15"#, b(second)),
    ];
    let steps = async {
        let _ = s.request(&mut conv, "*100#").await;
        s.request(&mut conv, "*123#").await
    };
    let (answer, _far) = tokio::join!(steps, modem(far, script));
    answer.ok().and_then(Result::ok).map(|a| a.reply)
}

/// A new top-level code while a menu is open cancels the menu first.
#[tokio::test]
async fn new_code_cancels_the_open_menu_first() {
    assert_eq!(
        second_code_after_a_menu("\r\nOK\r\n\r\n+CUSD: 0,\"Saldo 5\",15\r\n").await,
        Some("Saldo 5".into())
    );
}

/// The `+CUSD: 2` a modem prints for the menu it was told to cancel is
/// not taken as the answer to the new code.
#[tokio::test]
async fn the_release_notice_of_the_cancelled_menu_is_not_the_answer() {
    assert_eq!(
        second_code_after_a_menu("\r\nOK\r\n\r\n+CUSD: 2\r\n\r\n+CUSD: 0,\"Saldo 5\",15\r\n").await,
        Some("Saldo 5".into())
    );
}

/// No `+CUSD:` in time: no answer, and the session is cancelled.
#[tokio::test]
async fn no_cusd_in_time_cancels() {
    let mut s = UssdSession::new(false, Duration::from_millis(200));
    let (answer, _) = one(
        &mut s,
        "*123#",
        vec![(r#"AT+CUSD=1,"*123#",15"#, b(OK)), ("AT+CUSD=2", b(OK))],
    )
    .await;
    assert_eq!(answer, Err(UssdError::NoAnswer));
    assert!(!s.is_open());
}

#[tokio::test]
async fn cusd_4_is_not_supported() {
    let mut s = session();
    let (answer, _) = one(
        &mut s,
        "*999#",
        vec![(r#"AT+CUSD=1,"*999#",15"#, b("\r\nOK\r\n\r\n+CUSD: 4\r\n"))],
    )
    .await;
    assert_eq!(answer, Err(UssdError::NotSupported));
    let (answer, _) = one(
        &mut s,
        "*999#",
        vec![(r#"AT+CUSD=1,"*999#",15"#, b("\r\nOK\r\n\r\n+CUSD: 5\r\n"))],
    )
    .await;
    assert_eq!(answer, Err(UssdError::NetworkTimeout));
}

/// `+CME ERROR: 30` (no network service) refuses the request at once.
#[tokio::test]
async fn cme_error_is_refused() {
    let mut s = session();
    let (answer, _) = one(
        &mut s,
        "*123#",
        vec![(r#"AT+CUSD=1,"*123#",15"#, b("\r\n+CME ERROR: 30\r\n"))],
    )
    .await;
    assert!(
        matches!(&answer, Err(UssdError::Refused(why)) if why.contains("+CME ERROR")),
        "{answer:?}"
    );
}

/// A `+CMTI` that arrives while the answer is awaited stays in the
/// conversation for the driver, after the answer came.
#[tokio::test]
async fn cmti_while_waiting_is_kept() {
    let mut s = session();
    let (answer, mut conv) = one(
        &mut s,
        "*123#",
        vec![(
            r#"AT+CUSD=1,"*123#",15"#,
            b("\r\nOK\r\n\r\n+CMTI: \"SM\",5\r\n\r\n+CUSD: 0,\"Saldo 5\",15\r\n"),
        )],
    )
    .await;
    assert_eq!(answer.map(|a| a.reply), Ok("Saldo 5".into()));
    assert_eq!(
        conv.take_urcs(),
        vec![Urc::MessageStored {
            mem: "SM".into(),
            index: 5
        }]
    );
}

/// An answer that does not fit its dcs is garbled, naming the raw text.
#[tokio::test]
async fn undecodable_answer_is_garbled() {
    let mut s = session();
    let (answer, _) = one(
        &mut s,
        "*123#",
        vec![(
            r#"AT+CUSD=1,"*123#",15"#,
            b("\r\nOK\r\n\r\n+CUSD: 0,\"00Z1\",72\r\n"),
        )],
    )
    .await;
    assert_eq!(answer, Err(UssdError::Garbled("00Z1".into())));
}

/// Invalid codes never reach the modem (the script is empty: any write
/// would fail the test's expectations by timing out on `OK`).
#[tokio::test]
async fn invalid_codes_are_refused_before_the_modem() {
    let mut s = session();
    for bad in ["", "*12a#", "abc", &"1".repeat(161)] {
        let (answer, _) = one(&mut s, bad, vec![]).await;
        assert!(
            matches!(answer, Err(UssdError::Invalid(_))),
            "{bad:?}: {answer:?}"
        );
    }
}

#[test]
fn classify_codes_and_answers() {
    assert_eq!(
        classify("*123#", false),
        Ok(Step::New {
            cancel_first: false
        })
    );
    assert_eq!(
        classify("#100#", true),
        Ok(Step::New { cancel_first: true })
    );
    assert_eq!(classify("1", true), Ok(Step::Continue));
    assert_eq!(classify("Si", true), Ok(Step::Continue));
    assert_eq!(
        classify("100", false),
        Ok(Step::New {
            cancel_first: false
        })
    );
    assert!(classify("Si", false).is_err());
    assert!(classify("*1 2#", false).is_err());
}

#[test]
fn unsolicited_end_closes_the_session() {
    let mut s = session();
    s.open_since = Some(tokio::time::Instant::now());
    s.on_unsolicited(1);
    assert!(s.is_open());
    s.on_unsolicited(2);
    assert!(!s.is_open());
}
