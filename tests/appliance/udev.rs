//! The udev rules (Debian 12's udev 252 has no `udevadm verify`: a small
//! parser checks the syntax) and the Raspberry Pi snippets.

use crate::repo;

/// One udev rule line: comma-separated `KEY op "value"` pairs, KEY
/// optionally with `{attribute}`.
fn check_udev_line(line: &str) -> Result<Vec<(String, String, String)>, String> {
    const OPS: [&str; 7] = ["==", "!=", "+=", "-=", ":=", "=", ""];
    let mut pairs = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '{' || c == '}'))
            .ok_or_else(|| format!("no operator after {rest:?}"))?;
        let key = &rest[..key_end];
        if key.is_empty() || key.starts_with('{') || key.matches('{').count() > 1 {
            return Err(format!("bad key in {rest:?}"));
        }
        if key.contains('{') != key.ends_with('}') {
            return Err(format!("unclosed attribute in key {key:?}"));
        }
        rest = &rest[key_end..];
        let op = OPS
            .iter()
            .find(|op| !op.is_empty() && rest.starts_with(**op))
            .ok_or_else(|| format!("no operator after {key}"))?;
        rest = &rest[op.len()..];
        let body = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("value of {key} is not quoted"))?;
        let close = body
            .find('"')
            .ok_or_else(|| format!("value of {key} not closed"))?;
        let value = &body[..close];
        rest = body[close + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
            if rest.is_empty() {
                return Err("trailing comma".into());
            }
        } else if !rest.is_empty() {
            return Err(format!("expected `,` before {rest:?}"));
        }
        let base = key.split('{').next().unwrap();
        const KEYS: [&str; 17] = [
            "ACTION",
            "SUBSYSTEM",
            "KERNEL",
            "ENV",
            "ATTR",
            "ATTRS",
            "DRIVERS",
            "SYMLINK",
            "GROUP",
            "MODE",
            "OWNER",
            "RUN",
            "GOTO",
            "LABEL",
            "TAG",
            "IMPORT",
            "NAME",
        ];
        if !KEYS.contains(&base) {
            return Err(format!("unknown key {base}"));
        }
        pairs.push((key.to_string(), op.to_string(), value.to_string()));
    }
    Ok(pairs)
}

#[test]
fn udev_rules_are_well_formed_and_do_what_the_docs_say() {
    let text = std::fs::read_to_string(repo("firmware-config/udev/90-smsgate.rules")).unwrap();
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        assert!(!line.ends_with('\\'), "line {}: no continuations", n + 1);
        match check_udev_line(line) {
            Ok(pairs) => rules.push(pairs),
            Err(e) => panic!("90-smsgate.rules line {}: {e}\n{line}", n + 1),
        }
    }
    let has = |key: &str, op: &str, value: &str| {
        rules
            .iter()
            .flatten()
            .any(|(k, o, v)| k == key && o == op && v.contains(value))
    };
    assert!(has(
        "SYMLINK",
        "+=",
        "smsgate/modem-$env{ID_SERIAL_SHORT}-if$env{ID_USB_INTERFACE_NUM}"
    ));
    assert!(has("ENV{ID_MM_DEVICE_IGNORE}", "=", "1"));
    assert!(has("GROUP", "=", "dialout"));
    assert!(has("MODE", "=", "0660"));
    assert!(has("ATTR{idProduct}", "==", "1f01"));
    assert!(has("ATTR{idProduct}", "==", "14fe"));
    assert!(has("RUN", "+=", "usb_modeswitch"));
    // Every GOTO has its LABEL.
    for (_, _, target) in rules.iter().flatten().filter(|(k, _, _)| k == "GOTO") {
        assert!(has("LABEL", "=", target), "GOTO {target} without LABEL");
    }
    // The checker itself rejects what udev rejects.
    assert!(check_udev_line("KERNEL==ttyUSB0").is_err());
    assert!(check_udev_line("KERNEL==\"ttyUSB0\" GROUP=\"x\"").is_err());
    assert!(check_udev_line("KERNEL==\"ttyUSB0\",").is_err());
    assert!(check_udev_line("FOO=\"x\"").is_err());
}

#[test]
fn raspberry_pi_snippets_free_the_pl011_uart() {
    let config = std::fs::read_to_string(repo("firmware-config/rpi/config.txt")).unwrap();
    let active: Vec<&str> = config
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(active, ["enable_uart=1", "dtoverlay=disable-bt"]);
    let cmdline = std::fs::read_to_string(repo("firmware-config/rpi/cmdline.txt.md")).unwrap();
    assert!(cmdline.contains("console=serial0,115200"));
}
