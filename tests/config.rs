//! The configuration: TOML shape of SPEC "Configuration", defaults,
//! `SMSGATE_SECTION__KEY` overrides, and `smsgate config check` naming the
//! file, key and problem for every error.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use smsgate::config::{Config, ConfigError};

fn file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `smsgate config check` with no `SMSGATE_*` variable from the outside.
fn config_check(path: &std::path::Path) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsgate"));
    for (key, _) in std::env::vars() {
        if key.starts_with("SMSGATE_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["config", "check"]).arg(path).output().unwrap()
}

fn problems(err: ConfigError) -> Vec<(String, String)> {
    err.problems
        .into_iter()
        .map(|p| (p.key, p.message))
        .collect()
}

#[test]
fn defaults_match_the_spec() {
    let cfg = Config::load_with_env(None, env(&[])).unwrap();
    assert_eq!(cfg.http.bind, "127.0.0.1:8080");
    assert_eq!(cfg.http.admin_token, None);
    assert_eq!(cfg.session.idle_timeout, Duration::from_secs(300));
    assert_eq!(cfg.session.retired_cooldown, Duration::from_secs(86_400));
    assert!(cfg.modem.is_empty());
    assert_eq!(cfg.limits.sends_per_minute_per_client, 6);
    assert_eq!(cfg.limits.sends_per_hour_per_recipient, 20);
    assert_eq!(cfg.limits.max_recipients, 50);
    assert_eq!(cfg.limits.max_parts, 5);
    assert_eq!(cfg.tariff.currency, "DOP");
    assert_eq!(cfg.tariff.mo_price.parse().unwrap().to_string(), "1.00");
    assert_eq!(cfg.tariff.taxes[0].name, "ITBIS");
    assert_eq!(
        cfg.tariff.taxes[0].rate.parse().unwrap().to_string(),
        "0.18"
    );
    assert_eq!(cfg.numbers.country, "DO");
    assert_eq!(cfg.store.cache_mib, 8);
    assert_eq!(cfg.store.cache_bytes(), 8 * 1024 * 1024);
    assert_eq!(cfg.http.header_timeout, Duration::from_secs(10));
    assert_eq!(cfg.http.body_timeout, Duration::from_secs(30));
    assert_eq!(cfg.http.write_timeout, Duration::from_secs(30));
    assert_eq!(cfg.http.keepalive_timeout, Duration::from_secs(60));
    assert_eq!(
        cfg.store.keep_records(),
        Some(chrono::Duration::days(400)),
        "charges and late replies are kept 400 days"
    );
}

/// `[sms] validity` and `[emulator]`: from the file and the environment,
/// bad values named.
#[test]
fn sms_validity_and_the_embedded_network_are_configurable() {
    let cfg = Config::load_with_env(None, env(&[])).unwrap();
    assert_eq!(cfg.validity_minutes(), Some(5), "the idle timeout");
    assert_eq!(cfg.emulator.model, "generic");
    assert_eq!(cfg.emulator.report_delay_ms, 2_000, "a real network's pace");
    let f = file("[sms]\nvalidity = \"2h\"\n[emulator]\nmodel = \"huawei-e173\"\n");
    let cfg = Config::load_with_env(
        Some(f.path()),
        env(&[("SMSGATE_EMULATOR__REPORT_DELAY_MS", "0")]),
    )
    .unwrap();
    assert_eq!(cfg.validity_minutes(), Some(120));
    assert_eq!(cfg.emulator.model, "huawei-e173");
    assert_eq!(cfg.emulator.report_delay_ms, 0);
    let f = file("[sms]\nvalidity = \"later\"\n[emulator]\nmodel = \"nokia-3310\"\n");
    let keys: Vec<String> = problems(Config::load_with_env(Some(f.path()), env(&[])).unwrap_err())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(keys.iter().any(|k| k.contains("sms.validity")), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.contains("emulator.model")),
        "{keys:?}"
    );
}

/// `[store] keep_records`: a duration, or `0` for ever; from the file or
/// the environment.
#[test]
fn keep_records_is_a_duration_and_zero_keeps_for_ever() {
    let f = file("[store]\nkeep_records = \"0\"\n");
    let cfg = Config::load_with_env(Some(f.path()), env(&[])).unwrap();
    assert_eq!(cfg.store.keep_records(), None);
    let cfg = Config::load_with_env(None, env(&[("SMSGATE_STORE__KEEP_RECORDS", "30d")])).unwrap();
    assert_eq!(cfg.store.keep_records(), Some(chrono::Duration::days(30)));
    let f = file("[store]\nkeep_records = \"soon\"\n");
    let err = Config::load_with_env(Some(f.path()), env(&[])).unwrap_err();
    assert!(
        problems(err)
            .iter()
            .any(|(k, _)| k.contains("keep_records")),
        "a bad duration names its key"
    );
}

#[test]
fn the_spec_example_loads() {
    let f = file(
        r#"
[http]
bind = "127.0.0.1:8080"
admin_token = "0123456789abcdef0123"

[store]
dir = "/var/lib/smsgate"

[session]
idle_timeout = "5m"
retired_cooldown = "24h"

[[modem]]
port = "/dev/serial/by-id/usb-HUAWEI_E173"
short_code = "+18095550100"
profile = "generic"
baud = 115200

[[modem]]
port = "/dev/pts/7"
short_code = "+18095550101"

[limits]
sends_per_minute_per_client = 6
sends_per_hour_per_recipient = 20
max_recipients = 50
max_parts = 5

[tariff]
currency = "DOP"
mo_price = "1.00"
taxes = [{ name = "ITBIS", rate = "0.18" }]

[numbers]
country = "DO"
fleet_prefixes = ["+1809200"]
"#,
    );
    let cfg = Config::load_with_env(Some(f.path()), env(&[])).unwrap();
    assert_eq!(cfg.modem.len(), 2);
    assert_eq!(cfg.modem[1].profile, "generic");
    assert_eq!(cfg.modem[1].baud, 115_200);
    assert_eq!(cfg.store.resolved_dir(), PathBuf::from("/var/lib/smsgate"));
    assert_eq!(cfg.numbers.fleet_prefixes, vec!["+1809200".to_string()]);
}

#[test]
fn the_shipped_example_file_is_valid() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("smsgate.example.toml");
    let cfg = Config::load_with_env(Some(&path), env(&[])).unwrap();
    assert_eq!(cfg, Config::default());
}

#[test]
fn environment_overrides_file_values() {
    let f = file("[session]\nidle_timeout = \"5m\"\n[limits]\nmax_recipients = 50\n");
    let cfg = Config::load_with_env(
        Some(f.path()),
        env(&[
            ("SMSGATE_SESSION__IDLE_TIMEOUT", "3s"),
            ("SMSGATE_LIMITS__MAX_RECIPIENTS", "10"),
            ("SMSGATE_HTTP__ADMIN_TOKEN", "a-very-long-admin-token"),
            ("SMSGATE_NUMBERS__FLEET_PREFIXES", "+1809200,+1829300"),
            ("SMSGATE_TARIFF__MO_PRICE", "1.50"),
            ("UNRELATED_VARIABLE", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.session.idle_timeout, Duration::from_secs(3));
    assert_eq!(cfg.limits.max_recipients, 10);
    assert_eq!(
        cfg.http.admin_token.as_deref(),
        Some("a-very-long-admin-token")
    );
    assert_eq!(cfg.numbers.fleet_prefixes, vec!["+1809200", "+1829300"]);
    assert_eq!(cfg.tariff.mo_price.parse().unwrap().to_string(), "1.5");
}

#[test]
fn every_error_names_its_key_and_problem() {
    let f = file(
        r#"
[http]
colour = "blue"
[session]
idle_timeout = "5 parsecs"
[limits]
max_recipients = "many"
[tariff]
mo_price = "one peso"
[[modem]]
short_code = "+18095550100"
[[modem]]
port = "/dev/ttyUSB1"
short_code = "+18095550101"
[[modem]]
port = "/dev/ttyUSB2"
short_code = "+18095550101"
[bogus]
x = 1
"#,
    );
    let err = Config::load_with_env(Some(f.path()), env(&[])).unwrap_err();
    let source = f.path().display().to_string();
    assert!(err.problems.iter().all(|p| p.source == source), "{err}");
    let found = problems(err);
    let has = |key: &str, needle: &str| {
        assert!(
            found.iter().any(|(k, m)| k == key && m.contains(needle)),
            "no problem `{needle}` at `{key}` in {found:?}"
        )
    };
    has("bogus", "unknown section");
    has("http.colour", "unknown field");
    has("session.idle_timeout", "duration");
    has("limits.max_recipients", "integer");
    has("tariff.mo_price", "not a decimal");
    has("modem[0].port", "missing field");
    has("modem[2].short_code", "used by another modem");
}

#[test]
fn a_bad_override_is_blamed_on_the_variable() {
    let err =
        Config::load_with_env(None, env(&[("SMSGATE_SESSION__IDLE_TIMEOUT", "soon")])).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(
        err.problems[0].source,
        "environment SMSGATE_SESSION__IDLE_TIMEOUT"
    );
    assert_eq!(err.problems[0].key, "session.idle_timeout");
}

#[test]
fn meaning_is_checked_not_only_shape() {
    let f = file(
        r#"
[http]
bind = "not-an-address"
admin_token = "short"
body_timeout = "0s"
write_timeout = "0s"
[store]
cache_mib = 0
[session]
idle_timeout = "0s"
[limits]
max_parts = 300
[numbers]
country = "Dominicana"
[[modem]]
port = "auto"
short_code = "call me"
"#,
    );
    let found = problems(Config::load_with_env(Some(f.path()), env(&[])).unwrap_err());
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "http.bind",
        "http.admin_token",
        "http.body_timeout",
        "http.write_timeout",
        "session.idle_timeout",
        "store.cache_mib",
        "limits.max_parts",
        "numbers.country",
        "modem[0].imei",
        "modem[0].short_code",
    ] {
        assert!(keys.contains(&key), "{key} not reported in {found:?}");
    }
}

#[test]
fn a_missing_file_and_bad_syntax_are_errors() {
    let missing = Config::load_with_env(Some("/nonexistent/smsgate.toml".as_ref()), env(&[]));
    assert!(missing.unwrap_err().to_string().contains("file not found"));
    let f = file("[http\nbind = 1\n");
    let err = Config::load_with_env(Some(f.path()), env(&[])).unwrap_err();
    assert!(err.to_string().contains("TOML parse error"), "{err}");
}

#[test]
fn config_check_command_exits_non_zero_and_names_file_key_problem() {
    let f = file("[session]\nidle_timeout = \"later\"\n");
    let out = config_check(f.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: session.idle_timeout: ", f.path().display())),
        "{stderr}"
    );

    let ok = file("[session]\nidle_timeout = \"90s\"\n");
    let out = config_check(ok.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn serve_refuses_a_bad_configuration_and_says_why() {
    let f = file("[session]\nidle_timeout = \"later\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("serve")
        .arg("--config")
        .arg(f.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("session.idle_timeout"), "{stderr}");
}

#[test]
fn probe_is_built_and_names_a_missing_port() {
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["probe", "/dev/smsgate-no-such-port"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("not available"), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn modem_profile_must_name_a_known_profile() {
    let f = file(
        "[[modem]]\nport = \"/dev/ttyUSB0\"\nshort_code = \"+18095550100\"\nprofile = \"huawei\"\n\n\
         [[modem]]\nport = \"auto\"\nimei = \"356938035643809\"\nshort_code = \"+18095550101\"\nprofile = \"nokia\"\n",
    );
    let err = Config::load_with_env(Some(f.path()), env(&[])).unwrap_err();
    let got = problems(err);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "modem[1].profile");
    assert!(got[0].1.contains("unknown profile `nokia`"), "{got:?}");
    assert!(
        got[0].1.contains("huawei, simcom, quectel, generic"),
        "{got:?}"
    );
}

#[test]
fn session_rule_keys_reach_the_session_core() {
    let f = file(
        r#"
[session]
auto_reply = "La conversación terminó"
[numbers]
fleet_ranges = [{ from = "8095550100", to = "8095550199" }]
fleet_numbers = ["8295551111"]
opt_out_words = ["PARAR"]
"#,
    );
    let cfg = Config::load_with_env(Some(f.path()), env(&[])).unwrap();
    let core = smsgate::session::CoreConfig::from_config(&cfg).unwrap();
    assert_eq!(core.auto_reply.as_deref(), Some("La conversación terminó"));
    assert_eq!(core.opt_out.stop, vec!["PARAR".to_string()]);
    let n = |s: &str| smsgate::session::normalize(s, "DO").unwrap();
    assert!(core.fleet.contains(&n("8095550150")));
    assert!(core.fleet.contains(&n("8295551111")));
    assert!(!core.fleet.contains(&n("8095550200")));
}

#[test]
fn smsgate_config_naming_the_file_is_no_override() {
    let cfg = Config::load_with_env(None, env(&[("SMSGATE_CONFIG", "/etc/smsgate/config.toml")]));
    assert!(cfg.is_ok(), "{cfg:?}");
}

#[test]
fn an_smpp_bind_needs_only_its_address_credentials_and_short_codes() {
    let f = file(
        r#"
[[smpp]]
host = "127.0.0.1"
port = 2775
system_id = "smsgate"
password = "secret"
short_codes = ["2222", "2223"]
"#,
    );
    let cfg = Config::load_with_env(Some(f.path()), env(&[])).unwrap();
    assert!(cfg.modem.is_empty());
    let b = &cfg.smpp[0];
    assert_eq!((b.host.as_str(), b.port), ("127.0.0.1", 2775));
    assert_eq!(b.short_codes, ["2222", "2223"]);
    assert_eq!(b.system_type, "");
    assert!(!b.tls);
    assert_eq!(b.window, 10);
    assert_eq!(b.max_per_second, 0);
    assert_eq!(b.enquire_link, Duration::from_secs(30));
    assert_eq!(b.split, smsgate::config::SmppSplit::Udh);
}

#[test]
fn an_smpp_bind_with_bad_keys_names_each_problem() {
    // A bad `split` stops the bind's parsing, so it is checked on its own.
    let bind = r#"
[[modem]]
port = "/dev/ttyUSB0"
short_code = "+18095550100"

[[smpp]]
host = ""
port = 2775
system_id = "a-system-id-far-too-long"
password = "secret-too-long"
short_codes = ["+18095550100", "22x2"]
window = 0
"#;
    let f = file(&format!("{bind}split = \"pieces\"\n"));
    let got = problems(Config::load_with_env(Some(f.path()), env(&[])).unwrap_err());
    assert!(
        got.iter()
            .any(|(k, m)| k == "smpp[0].split" && m.contains("pieces")),
        "{got:?}"
    );
    let g = file(bind);
    let got = problems(Config::load_with_env(Some(g.path()), env(&[])).unwrap_err());
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "smpp[0].host",
        "smpp[0].system_id",
        "smpp[0].password",
        "smpp[0].window",
    ] {
        assert!(keys.contains(&key), "{key} missing from {got:?}");
    }
    assert!(
        got.iter()
            .any(|(k, m)| k == "smpp[0].short_codes" && m.contains("used by another")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|(k, m)| k == "smpp[0].short_codes" && m.contains("`22x2`")),
        "{got:?}"
    );
}
