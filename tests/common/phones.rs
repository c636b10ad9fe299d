//! The embedded network's phones as `smsgate serve` shows them at
//! `/dev/phones`: what a phone received, and a phone writing to a short
//! code.

use serde_json::{json, Value};

/// The (from, text) of every complete SMS `phone` received.
pub fn inbox(url: &str, phone: &str) -> Vec<(String, String)> {
    complete(&format!("{url}/dev/phones/api/inbox/{phone}"))
}

/// The same from a separate `smsgate emulator`'s control API.
pub fn control_inbox(control: &str, phone: &str) -> Vec<(String, String)> {
    complete(&format!("{control}/phones/{phone}/inbox"))
}

fn complete(url: &str) -> Vec<(String, String)> {
    let v: Value = ureq::get(url).call().unwrap().into_json().unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|m| m["complete"] == true)
        .map(|m| {
            (
                m["from"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `from` sends `text` to the short code `to`.
pub fn phone_sends(url: &str, from: &str, to: &str, text: &str) {
    ureq::post(&format!("{url}/dev/phones/api/send"))
        .send_json(json!({"from": from, "to": to, "text": text}))
        .unwrap();
}
