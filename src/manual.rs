//! `smsgate.toml(5)`: the configuration's manual page, made from the
//! configuration's own structure ([`crate::config::Config`]'s JSON schema,
//! whose descriptions are the fields' doc comments) and its defaults, so
//! that a key cannot be added without it showing here, nor without words:
//! [`undocumented`] names every key whose doc comment is missing, and a
//! test keeps that list empty.

use roff::{bold, italic, roman, Roff};
use serde_json::Value;

use crate::config::Config;

/// One key of the configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// Dotted, as `config check` names it: `http.bind`,
    /// `modem[].port`, `tariff.taxes[].rate`.
    pub key: String,
    /// `string`, `integer`, `boolean`, `duration`, `list of strings`...
    pub kind: String,
    /// The default as TOML, when the key has one.
    pub default: Option<String>,
    /// It must be given (a `[[modem]]` entry's port, say).
    pub required: bool,
    pub doc: String,
}

/// A section (`[http]`, `[[modem]]`) and its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: String,
    /// Written `[[name]]`: a list of tables.
    pub list: bool,
    pub doc: String,
    pub keys: Vec<Key>,
}

/// Every section of the configuration, in the schema's order.
pub fn sections() -> Vec<Section> {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(Value::Null);
    let defaults = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let mut out = Vec::new();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return out;
    };
    for (name, prop) in props {
        let (target, list) = resolve(prop, &defs);
        let doc = description(prop)
            .or_else(|| description(&target))
            .unwrap_or_default();
        let mut keys = Vec::new();
        let prefix = if list {
            format!("{name}[]")
        } else {
            name.clone()
        };
        let section_defaults = if list {
            Value::Null
        } else {
            defaults.get(name).cloned().unwrap_or(Value::Null)
        };
        collect(&target, &defs, &prefix, &section_defaults, &mut keys);
        out.push(Section {
            name: name.clone(),
            list,
            doc,
            keys,
        });
    }
    out
}

/// Keys (and sections) without words: each should have a doc comment.
pub fn undocumented() -> Vec<String> {
    let mut missing = Vec::new();
    for s in sections() {
        if s.doc.trim().is_empty() {
            missing.push(format!("[{}]", s.name));
        }
        for k in s.keys {
            if k.doc.trim().is_empty() {
                missing.push(k.key);
            }
        }
    }
    missing
}

/// The keys of an object schema, recursing into lists of tables.
fn collect(obj: &Value, defs: &Value, prefix: &str, defaults: &Value, out: &mut Vec<Key>) {
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in props {
        let key = format!("{prefix}.{name}");
        let must = required.contains(&name.as_str());
        let (target, list) = resolve(prop, defs);
        let doc = description(prop)
            .or_else(|| description(&target))
            .unwrap_or_default();
        let default = defaults.get(name).and_then(toml_text);
        if target.get("properties").is_some() {
            // A list of tables (`[[tariff.taxes]]`): its own keys follow.
            out.push(Key {
                key: key.clone(),
                kind: if list { "list of tables" } else { "table" }.into(),
                default,
                required: must,
                doc,
            });
            let sub = if list { format!("{key}[]") } else { key };
            collect(&target, defs, &sub, &Value::Null, out);
            continue;
        }
        out.push(Key {
            key,
            kind: kind(prop, defs),
            default,
            required: must,
            doc,
        });
    }
}

/// Follows `$ref`, `Option` (`anyOf` with null) and arrays to the schema
/// that has the properties; whether it was an array.
fn resolve(prop: &Value, defs: &Value) -> (Value, bool) {
    let mut v = prop.clone();
    let mut list = false;
    for _ in 0..8 {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            v = defs.get(name).cloned().unwrap_or(Value::Null);
            continue;
        }
        if let Some(any) = v.get("anyOf").and_then(Value::as_array) {
            if let Some(x) = any.iter().find(|x| x.get("type") != Some(&"null".into())) {
                v = x.clone();
                continue;
            }
        }
        if v.get("type") == Some(&"array".into()) {
            if let Some(items) = v.get("items") {
                let (inner, _) = resolve(items, defs);
                if inner.get("properties").is_some() {
                    list = true;
                    v = inner;
                }
            }
        }
        break;
    }
    (v, list)
}

/// A schema's description as one line of plain text: no rule numbers of
/// the service's specification (`R13: `), no Markdown code marks.
fn description(v: &Value) -> Option<String> {
    let d = v.get("description").and_then(Value::as_str)?;
    let mut text = d.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(rest) = text.strip_prefix('R') {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            let after = rest[digits..].trim_start_matches(':').trim_start();
            text = after.to_string();
        }
    }
    let text = text.replace('`', "");
    (!text.is_empty()).then_some(text)
}

/// A short type name for the page.
fn kind(prop: &Value, defs: &Value) -> String {
    let (v, _) = resolve(prop, defs);
    let ty = |v: &Value| -> String {
        match v.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("value")
                .to_string(),
            _ => "value".into(),
        }
    };
    match ty(&v).as_str() {
        "array" => {
            let item = v
                .get("items")
                .map(|i| resolve(i, defs).0)
                .unwrap_or(Value::Null);
            format!("list of {}s", ty(&item))
        }
        t => t.to_string(),
    }
}

/// A default as it is written in TOML (`"127.0.0.1:8080"`, `32`,
/// `["BAJA", "STOP"]`); durations are already text.
fn toml_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Object(_) => None,
        other => {
            let t = toml::Value::try_from(other).ok()?;
            Some(t.to_string())
        }
    }
}

/// The page, in roff, for `man 5 smsgate.toml`.
pub fn config_page(version: &str, date: &str) -> String {
    let mut r = Roff::new();
    r.control(
        "TH",
        [
            "SMSGATE.TOML",
            "5",
            date,
            &format!("smsgate {version}"),
            "File Formats",
        ],
    );
    r.control("SH", ["NAME"]);
    r.text([roman(
        "smsgate.toml - configuration of the smsgate web-to-SMS gateway",
    )]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([
        bold("/etc/smsgate/config.toml"),
        roman(", or the file given to "),
        bold("smsgate serve --config"),
        roman("."),
    ]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "A TOML file of sections. Every key has the default shown (or none when unset), \
         except the keys marked required. \
         Any key can also be set in the environment as SMSGATE_SECTION__KEY \
         (two underscores between section and key), e.g. SMSGATE_HTTP__BIND=0.0.0.0:8080; \
         the environment wins over the file. Durations are written as text: \"10s\", \"5m\", \"24h\". \
         Check a file with ",
    )]);
    r.text([bold("smsgate config check FILE"), roman(".")]);
    for s in sections() {
        let title = if s.list {
            format!("[[{}]]", s.name)
        } else {
            format!("[{}]", s.name)
        };
        r.control("SH", [title.as_str()]);
        r.text([roman(s.doc.clone())]);
        for k in &s.keys {
            r.control("TP", [] as [&str; 0]);
            let mut head = vec![bold(k.key.clone()), roman(" ("), italic(k.kind.clone())];
            if k.required {
                head.push(roman(", required"));
            } else if let Some(d) = &k.default {
                head.push(roman(", default "));
                head.push(bold(d.clone()));
            }
            head.push(roman(")"));
            r.text(head);
            r.text([roman(k.doc.clone())]);
        }
    }
    r.control("SH", ["FILES"]);
    r.text([
        bold("/etc/smsgate/config.toml"),
        roman(" (the package's, mode 0640: it holds the admin token); "),
        bold("/usr/share/doc/smsgate/examples/smsgate.example.toml"),
        roman(" (every key, commented)."),
    ]);
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("smsgate(1), smsgate-serve(1), smsgate-config(1)")]);
    r.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_the_configuration_is_on_the_page_with_words() {
        assert_eq!(
            undocumented(),
            Vec::<String>::new(),
            "keys without a doc comment"
        );
        let page = config_page("0.0.0", "2026-01-01");
        for s in sections() {
            for k in s.keys {
                assert!(page.contains(&k.key), "{} missing from the page", k.key);
            }
        }
        let keys: Vec<String> = sections()
            .into_iter()
            .flat_map(|s| s.keys.into_iter().map(|k| k.key))
            .collect();
        for k in [
            "http.bind",
            "http.body_timeout",
            "modem[].port",
            "tariff.taxes[].rate",
            "numbers.fleet_ranges[].from",
            "mqtt.url",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} not among {keys:?}");
        }
    }

    #[test]
    fn defaults_are_shown_as_toml() {
        let all: Vec<Key> = sections().into_iter().flat_map(|s| s.keys).collect();
        let get = |k: &str| all.iter().find(|x| x.key == k).cloned().unwrap();
        assert_eq!(
            get("http.bind").default.as_deref(),
            Some("\"127.0.0.1:8080\"")
        );
        assert_eq!(
            get("http.header_timeout").default.as_deref(),
            Some("\"10s\"")
        );
        assert_eq!(get("http.header_timeout").kind, "string");
        assert_eq!(
            get("http.max_connections_per_client").default.as_deref(),
            Some("32")
        );
        assert_eq!(get("http.admin_token").default, None);
        assert!(get("modem[].port").required);
        assert!(!get("http.bind").required);
    }
}
