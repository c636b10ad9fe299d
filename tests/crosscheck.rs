//! Cross-check of the PDU codec against two independent implementations,
//! python-gsmmodem-new and python-gammu (see tests/crosscheck/).
//!
//! 1. Vectors they produced (committed in tests/fixtures/crosscheck/) decode
//!    in `smsgate pdu decode` to the same fields.
//! 2. PDUs that `smsgate pdu encode` produces decode to the same text,
//!    number and concatenation header in both peers. This half needs the
//!    peers' Python venv (made by scripts/test); it fails under CI (`CI`
//!    set to `true`, `1` or `yes`) when the venv is missing, and is
//!    skipped with a note otherwise.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::require_tool;
use serde_json::Value;

fn smsgate(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(args)
        .output()
        .expect("run smsgate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "smsgate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), value)
}

/// Every key of `expected` is in `actual` with the same value (recursively).
fn assert_subset(name: &str, expected: &Value, actual: &Value, path: &str) {
    match expected {
        Value::Object(map) => {
            for (k, v) in map {
                let got = actual.get(k).unwrap_or(&Value::Null);
                assert_subset(name, v, got, &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(expected, actual, "{name}: field {path}"),
    }
}

#[test]
fn peer_vectors_decode_to_the_same_fields() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crosscheck/vectors.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 50, "too few vectors: {}", vectors.len());
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let (_, decoded) = smsgate(&["pdu", "decode", v["pdu"].as_str().unwrap()]);
        assert_subset(name, &v["expected"], &decoded, "");
    }
}

/// Texts smsgate encodes for the peers to decode.
const TEXTS: &[&str] = &[
    "Hola, te escribo desde la web",
    "¿Cómo estás? Aquí está tu respuesta, María.",
    "Nos vemos 👍🏽 a las 8 🎉",
    "Ñandú ñoño Ü ü Ä é è ù ì ò Ç Ø ø Å å ß É",
    "Ctrl-Z \u{1a} and ESC \u{1b} stay text",
    "Precio: 5€ [oferta] {hoy} ~ \\ ^ |",
];

fn long_texts() -> Vec<String> {
    vec![
        "Mensaje largo ".repeat(30),
        "canción ".repeat(30),
        "🙂".repeat(80),
        format!("{}€{}", "x".repeat(152), "y".repeat(200)),
    ]
}

/// GSM 7-bit extension characters (€ [ ] { } ~ \ ^ |) that libGammu's PDU
/// decoder miscounts (it reads past the user data after an escape): for
/// texts with them only python-gsmmodem-new is held to the exact text.
fn has_gsm_extension(text: &str) -> bool {
    text.chars().any(|c| "€[]{}~\\^|\u{c}".contains(c))
}

fn peer_python() -> Option<PathBuf> {
    let path = std::env::var_os("XCHECK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/xcheck-venv/bin/python")
        });
    path.exists().then_some(path)
}

#[test]
fn smsgate_pdus_decode_correctly_in_both_peers() {
    let Some(python) = require_tool(
        "the python-gammu/python-gsmmodem-new venv",
        peer_python(),
        "scripts/test makes target/xcheck-venv",
    ) else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/crosscheck/peers.py");
    let mut texts: Vec<String> = TEXTS.iter().map(|s| s.to_string()).collect();
    texts.extend(long_texts());

    let mut requests = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        for (to, report) in [("+18095551234", true), ("8095551234", false)] {
            let reference = (i + 1).to_string();
            let mut args = vec![
                "pdu",
                "encode",
                "--to",
                to,
                "--text",
                text,
                "--reference",
                &reference,
            ];
            if report {
                args.push("--report");
            }
            let (_, parts) = smsgate(&args);
            let parts = parts.as_array().expect("an array of parts").clone();
            requests.push((text.clone(), to.to_string(), parts));
        }
    }

    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the peers' decoder");
    {
        let stdin = child.stdin.as_mut().unwrap();
        for (_, _, parts) in &requests {
            for p in parts {
                writeln!(stdin, "{}", serde_json::json!({"pdu": p["pdu"]})).unwrap();
            }
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "peers.py failed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut answers = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap());

    for (text, to, parts) in &requests {
        let total = parts.len();
        let mut joined = std::collections::BTreeMap::<&str, String>::new();
        for (i, part) in parts.iter().enumerate() {
            let answer = answers.next().expect("one answer per PDU");
            // AT+CMGS takes the TPDU length: the PDU minus its SMSC field.
            let pdu = part["pdu"].as_str().unwrap();
            let smsc_octets = usize::from_str_radix(&pdu[..2], 16).unwrap() + 1;
            assert_eq!(
                part["tpdu_length"].as_u64().unwrap() as usize,
                pdu.len() / 2 - smsc_octets
            );
            for peer in ["gsmmodem", "gammu"] {
                let d = &answer[peer];
                assert!(
                    d.get("error").is_none(),
                    "{peer} cannot decode {pdu} ({text:?}): {d}"
                );
                assert_eq!(d["type"], "sms-submit", "{peer}: {text:?}");
                assert_eq!(d["number"], to.as_str(), "{peer}: {text:?}");
                if total > 1 {
                    assert_eq!(d["concat"]["part"], i + 1, "{peer}: {text:?}");
                    assert_eq!(d["concat"]["total"], total, "{peer}: {text:?}");
                } else {
                    assert!(d["concat"].is_null(), "{peer}: {text:?}");
                }
                joined
                    .entry(peer)
                    .or_default()
                    .push_str(d["text"].as_str().unwrap_or(""));
            }
        }
        assert_eq!(
            &joined["gsmmodem"], text,
            "python-gsmmodem-new reads another text"
        );
        if !has_gsm_extension(text) {
            assert_eq!(&joined["gammu"], text, "python-gammu reads another text");
        }
    }
}
