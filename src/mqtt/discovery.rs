//! Home Assistant MQTT discovery: retained config payloads that make the
//! modems and the gateway appear as entities with no YAML
//! (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery). Pure.
//!
//! - one device per modem, its sensors read from the retained
//!   `{prefix}/signal/{short_code}` state: signal (dBm), registration,
//!   operator, state, messages sent today, messages waiting, SIM storage
//!   used;
//! - one `smsgate` device with the last received text (from
//!   `{prefix}/received`) and a `notify` entity that sends to `[mqtt]
//!   notify_to` through `{prefix}/send`.
//!
//! Every entity's availability is `{prefix}/connected` (`1`/`0`, the last
//! will).

use serde_json::{json, Value};

/// The digits of a short code, for ids (`+18095550100` → `18095550100`).
pub fn code_id(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// (topic, retained payload) of every config for `codes`.
pub fn configs(
    discovery: &str,
    prefix: &str,
    codes: &[String],
    notify_to: &[String],
) -> Vec<(String, Value)> {
    let availability = json!({
        "availability_topic": format!("{prefix}/connected"),
        "payload_available": "1",
        "payload_not_available": "0",
    });
    let with = |mut v: Value| {
        if let (Some(o), Some(a)) = (v.as_object_mut(), availability.as_object()) {
            for (k, x) in a {
                o.insert(k.clone(), x.clone());
            }
        }
        v
    };
    let mut out = Vec::new();
    for code in codes {
        let id = code_id(code);
        let device = json!({
            "identifiers": [format!("smsgate_{id}")],
            "name": format!("smsgate modem {code}"),
            "manufacturer": "smsgate",
            "model": "GSM modem",
            "via_device": "smsgate",
        });
        let state = format!("{prefix}/signal/{id}");
        let sensors = [
            (
                "signal",
                "Signal",
                Some("signal_strength"),
                Some("dBm"),
                "{{ value_json.signal_dbm }}",
            ),
            (
                "registration",
                "Registration",
                None,
                None,
                "{{ value_json.registration }}",
            ),
            (
                "operator",
                "Operator",
                None,
                None,
                "{{ value_json.operator }}",
            ),
            ("state", "State", None, None, "{{ value_json.state }}"),
            (
                "sent_today",
                "Messages sent today",
                None,
                Some("messages"),
                "{{ value_json.sent_today }}",
            ),
            (
                "waiting",
                "Messages waiting",
                None,
                Some("messages"),
                "{{ value_json.queued }}",
            ),
            (
                "sim_storage",
                "SIM storage used",
                None,
                Some("messages"),
                "{{ value_json.storage_used }}",
            ),
        ];
        for (key, name, class, unit, template) in sensors {
            let mut c = json!({
                "name": name,
                "unique_id": format!("smsgate_{id}_{key}"),
                "object_id": format!("smsgate_{id}_{key}"),
                "state_topic": state,
                "value_template": template,
                "device": device,
            });
            if let Some(class) = class {
                c["device_class"] = json!(class);
                c["state_class"] = json!("measurement");
            }
            if let Some(unit) = unit {
                c["unit_of_measurement"] = json!(unit);
            }
            out.push((
                format!("{discovery}/sensor/smsgate_{id}/{key}/config"),
                with(c),
            ));
        }
    }
    let hub = json!({
        "identifiers": ["smsgate"],
        "name": "smsgate",
        "manufacturer": "smsgate",
        "model": "web-to-SMS gateway",
    });
    out.push((
        format!("{discovery}/sensor/smsgate/last_received/config"),
        with(json!({
            "name": "Last received SMS",
            "unique_id": "smsgate_last_received",
            "object_id": "smsgate_last_received",
            "state_topic": format!("{prefix}/received"),
            "value_template": "{{ value_json.text }}",
            "json_attributes_topic": format!("{prefix}/received"),
            "device": hub,
        })),
    ));
    // The notify entity writes `{"number", "text"}` to `{prefix}/send`.
    let numbers = notify_to.join(";");
    out.push((
        format!("{discovery}/notify/smsgate/send/config"),
        with(json!({
            "name": "Send SMS",
            "unique_id": "smsgate_send",
            "object_id": "smsgate_send",
            "command_topic": format!("{prefix}/send"),
            "command_template": format!("{{\"number\": \"{numbers}\", \"text\": {{{{ value | tojson }}}}}}"),
            "device": hub,
        })),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_modem_is_a_device_and_every_entity_follows_availability() {
        let c = configs(
            "homeassistant",
            "sms2mqtt",
            &["+18095550100".into(), "+18095550101".into()],
            &["+18095551234".into()],
        );
        assert_eq!(c.len(), 2 * 7 + 2);
        for (topic, v) in &c {
            assert!(
                topic.starts_with("homeassistant/") && topic.ends_with("/config"),
                "{topic}"
            );
            assert_eq!(v["availability_topic"], "sms2mqtt/connected");
            assert!(v["unique_id"].as_str().is_some());
        }
        let signal = &c[0].1;
        assert_eq!(signal["state_topic"], "sms2mqtt/signal/18095550100");
        assert_eq!(signal["device"]["identifiers"][0], "smsgate_18095550100");
        assert_eq!(signal["unit_of_measurement"], "dBm");
        let notify = &c.last().unwrap().1;
        assert_eq!(notify["command_topic"], "sms2mqtt/send");
        assert_eq!(
            notify["command_template"],
            "{\"number\": \"+18095551234\", \"text\": {{ value | tojson }}}"
        );
    }
}
