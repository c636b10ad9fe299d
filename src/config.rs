//! The one configuration struct: a TOML file plus `SMSGATE_SECTION__KEY`
//! environment overrides (the `config` crate), defaults for everything, and a
//! validation that names the file, the key and the problem for every error.
//!
//! Owns parsing and checking only; it never opens ports, sockets or stores.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Prefix of environment overrides: `SMSGATE_HTTP__BIND=0.0.0.0:80`.
pub const ENV_PREFIX: &str = "SMSGATE";

/// Top-level sections a config file may contain.
const SECTIONS: &[&str] = &[
    "http", "store", "session", "modem", "smpp", "limits", "tariff", "numbers", "sms", "emulator",
    "mqtt",
];

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &[
    "numbers.fleet_prefixes",
    "numbers.fleet_numbers",
    "numbers.opt_out_words",
    "numbers.opt_in_words",
    "numbers.allowed_countries",
    "http.trusted_proxies",
    "mqtt.notify_to",
];

/// The whole configuration of one smsgate appliance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub store: StoreConfig,
    pub session: SessionConfig,
    /// One entry per modem (one short code each). Empty: the embedded
    /// emulated network is used.
    pub modem: Vec<ModemConfig>,
    /// One entry per SMPP bind to an operator's SMSC (its short codes join
    /// the pool beside the modems'). With binds and no modem, `serve` runs
    /// on the binds alone.
    pub smpp: Vec<SmppConfig>,
    pub limits: LimitsConfig,
    pub tariff: TariffConfig,
    pub numbers: NumbersConfig,
    /// The embedded emulated network (used when no modem is configured).
    pub emulator: EmulatorSection,
    pub sms: SmsConfig,
    /// `[mqtt]`: the broker smsgate publishes to and takes sends from;
    /// none without the section.
    pub mqtt: Option<MqttConfig>,
}

/// `[mqtt]`: sms2mqtt's topics and Home Assistant discovery on a broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port` or `mqtts://host:port` (TLS).
    pub url: String,
    /// The broker's user name; empty: connect without one.
    pub username: String,
    /// The broker's password for `username`.
    pub password: String,
    /// Empty: `smsgate-<hostname>`.
    pub client_id: String,
    /// Topic prefix (sms2mqtt's default).
    pub prefix: String,
    /// Home Assistant's discovery prefix; empty turns discovery off.
    pub discovery_prefix: String,
    /// A PEM CA bundle for `mqtts://` (empty: the system's roots).
    pub ca_file: String,
    /// MQTT protocol version: 5 or 3 (3.1.1).
    pub version: u8,
    /// Sends taken from `{prefix}/send` per minute (0: no limit).
    pub sends_per_minute: u32,
    /// Numbers Home Assistant's `notify` entity writes to.
    pub notify_to: Vec<String>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: "mqtt://127.0.0.1:1883".into(),
            username: String::new(),
            password: String::new(),
            client_id: String::new(),
            prefix: "sms2mqtt".into(),
            discovery_prefix: "homeassistant".into(),
            ca_file: String::new(),
            version: 5,
            sends_per_minute: 60,
            notify_to: Vec::new(),
        }
    }
}

impl MqttConfig {
    /// (TLS, host, port) of `url`.
    pub fn endpoint(&self) -> Result<(bool, String, u16), String> {
        let (tls, rest) = if let Some(r) = self.url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = self.url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(format!(
                "`{}` is not mqtt://host:port or mqtts://host:port",
                self.url
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("`{p}` is not a port"))?),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            return Err(format!("`{}` has no host", self.url));
        }
        Ok((tls, host.trim_matches(['[', ']']).to_string(), port))
    }
}

/// `[sms]`: what every SMS carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// TP-VP of every SMS: `"session"` (the session's idle timeout: a
    /// message that can no longer be answered inside its session is
    /// dropped by the network instead of delivered late) or a duration.
    pub validity: String,
    /// How long a multipart reply waits for its missing parts; then it is
    /// routed with a marker for each and charged for the parts received.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub reassembly_timeout: std::time::Duration,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            validity: "session".into(),
            reassembly_timeout: std::time::Duration::from_secs(10 * 60),
        }
    }
}

impl Config {
    /// TP-VP in minutes (rounded up) for `[sms] validity`; `None` when it
    /// is not a duration (reported by [`Config::validate`]).
    pub fn validity_minutes(&self) -> Option<u32> {
        let d = if self.sms.validity.trim().eq_ignore_ascii_case("session") {
            self.session.idle_timeout
        } else {
            humantime::parse_duration(self.sms.validity.trim()).ok()?
        };
        Some(u32::try_from(d.as_secs().div_ceil(60).max(1)).unwrap_or(u32::MAX))
    }
}

/// `[emulator]`: the embedded network `serve` runs with no modem
/// configured. Its delays are a real network's, so that a person trying
/// the page sees what a deployment shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorSection {
    /// The modem model of every emulated modem (`firmware-config/models/`).
    pub model: String,
    /// Delivery reports arrive this long after the phone got the message.
    pub report_delay_ms: u64,
    /// Each part a phone sends arrives after a random delay up to this.
    pub mo_jitter_ms: u64,
    /// Delay of the network's answer to `AT+CMGS`.
    pub cmgs_latency_ms: u64,
    /// The development API key `dev` made at each start: its token (empty:
    /// a new random one, printed), its webhook URL and its Kannel-style MO
    /// URL, so an application under test can be pointed at the sandbox.
    pub dev_token: String,
    /// Where the `dev` key's signed webhooks go (empty: none).
    pub dev_webhook_url: String,
    /// The `dev` key's Kannel-style URL template for incoming SMS (empty:
    /// none).
    pub dev_mo_url: String,
    /// Also run an emulated SMPP SMSC (short codes 2222 and 2223) and bind
    /// to it, so the sandbox has operator short codes beside the modems'
    /// numbers.
    pub smsc: bool,
}

impl Default for EmulatorSection {
    fn default() -> Self {
        EmulatorSection {
            model: "generic".into(),
            report_delay_ms: 2_000,
            mo_jitter_ms: 500,
            cmgs_latency_ms: 300,
            dev_token: String::new(),
            dev_webhook_url: String::new(),
            dev_mo_url: String::new(),
            smsc: false,
        }
    }
}

/// `[http]`: the web page, the APIs, and what one client may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address the web server listens on.
    pub bind: String,
    /// Bearer token of the admin API; the admin API refuses every request
    /// while it is unset.
    pub admin_token: Option<String>,
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` are believed; empty: none.
    pub trusted_proxies: Vec<String>,
    /// Open connections one client (address, or IPv6 /64) may hold; 0:
    /// no bound (a test harness that is many browsers at one address).
    pub max_connections_per_client: u32,
    /// Open connections in all; 0: the file limit less a reserve.
    pub max_connections: u32,
    /// A request's headers must arrive within this (and a kept-alive
    /// connection's next request).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub header_timeout: std::time::Duration,
    /// A connection that moves no byte either way for this long is closed
    /// (a stalled body, a client that stops reading); at least 20 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub keepalive_timeout: std::time::Duration,
    /// A request body must have come whole within this of its headers
    /// (a slow sender gets `408` and the connection closes).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub body_timeout: std::time::Duration,
    /// A response write that cannot go on for this long (the client does
    /// not read, or has left the network) closes the connection.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub write_timeout: std::time::Duration,
    /// Live streams per session (tabs); past it the oldest is told to
    /// `reconnect` and closed. 0: no bound.
    pub max_streams_per_session: u32,
    /// Live streams per client address (or IPv6 /64). 0: no bound.
    pub max_streams_per_client: u32,
    /// PEM certificate chain and private key: HTTPS on `bind` (reloaded
    /// on SIGHUP). Empty: plain HTTP.
    pub tls_cert: String,
    /// The PEM private key of `tls_cert`.
    pub tls_key: String,
    /// With TLS: an address serving plain HTTP that redirects to HTTPS.
    pub redirect_bind: String,
    /// An address of its own for `/admin`, its API and `/metrics` (a
    /// loopback or LAN address); empty: the same listener as the page.
    pub admin_bind: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            admin_token: None,
            trusted_proxies: Vec::new(),
            max_connections_per_client: 32,
            max_connections: 0,
            header_timeout: std::time::Duration::from_secs(10),
            keepalive_timeout: std::time::Duration::from_secs(60),
            body_timeout: std::time::Duration::from_secs(30),
            write_timeout: std::time::Duration::from_secs(30),
            max_streams_per_session: 4,
            max_streams_per_client: 24,
            tls_cert: String::new(),
            tls_key: String::new(),
            redirect_bind: String::new(),
            admin_bind: String::new(),
        }
    }
}

/// `[store]`: where sessions, the outbox, replies, charges and opt-outs
/// are kept on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory of the store. Unset: `$STATE_DIRECTORY` under systemd
    /// (`/var/lib/smsgate`), else `./smsgate-data`.
    pub dir: Option<PathBuf>,
    /// Memory sled may use to cache the store, in MiB (at least 1). The
    /// live state is held by the gateway itself; the cache only speeds up
    /// reads of records, so a small one costs little.
    pub cache_mib: u32,
    /// How long charge records and out-of-session replies are kept; older
    /// ones are dropped in the background. `0` keeps them for ever.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub keep_records: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            dir: None,
            cache_mib: 8,
            keep_records: Duration::from_secs(400 * 24 * 3600),
        }
    }
}

impl StoreConfig {
    /// How long ledger records are kept; `None` for ever.
    pub fn keep_records(&self) -> Option<chrono::Duration> {
        if self.keep_records.is_zero() {
            None
        } else {
            chrono::Duration::from_std(self.keep_records).ok()
        }
    }

    /// The sled cache size in bytes.
    pub fn cache_bytes(&self) -> u64 {
        u64::from(self.cache_mib.max(1)) * 1024 * 1024
    }

    /// The configured directory, or `/var/lib/smsgate` when running as root
    /// and `./smsgate-data` otherwise.
    pub fn resolved_dir(&self) -> PathBuf {
        if let Some(dir) = &self.dir {
            return dir.clone();
        }
        if is_root() {
            PathBuf::from("/var/lib/smsgate")
        } else {
            PathBuf::from("smsgate-data")
        }
    }
}

fn is_root() -> bool {
    // The effective uid of this process, read without unsafe code.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// `[session]`: how long a conversation lives and what ends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// R4: a session ends after this long without a sent or received message.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub idle_timeout: Duration,
    /// R6: how long a (number, short code) pair of an ended session stays
    /// retired.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub retired_cooldown: Duration,
    /// R7: text sent back to a phone that replies after its conversation
    /// ended; unset (the default) sends nothing.
    pub auto_reply: Option<String>,
    /// R5 refined: a conversation whose phone has seen nothing from its
    /// short code moves to a live one when that code's modem is down this
    /// long; `0` never moves it.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub failover_after: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(5 * 60),
            retired_cooldown: Duration::from_secs(24 * 3600),
            auto_reply: None,
            failover_after: Duration::from_secs(30),
        }
    }
}

impl SessionConfig {
    /// `failover_after`, `None` for never.
    pub fn failover_after(&self) -> Option<chrono::Duration> {
        (!self.failover_after.is_zero())
            .then(|| chrono::Duration::from_std(self.failover_after).ok())
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModemConfig {
    /// Serial device (`/dev/serial/by-id/...`, `/dev/ttyUSB0`, a
    /// pseudo-terminal path) or `auto` together with `imei`.
    pub port: String,
    /// The number phones see and reply to (E.164).
    pub short_code: String,
    /// A profile name from `firmware-config/profiles/`.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// Line speed of the serial port (USB modems accept and ignore it).
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Finds the modem among USB serial ports when `port = "auto"`.
    #[serde(default)]
    pub imei: Option<String>,
    /// SIM PIN, entered at initialisation when the SIM asks for it.
    #[serde(default)]
    pub pin: Option<String>,
    /// A file that records every byte of the serial line both ways, with
    /// timestamps, as JSON lines (`smsgate transcript show FILE` reads it;
    /// `smsgate emulator --replay FILE` plays it back). Empty: off.
    #[serde(default)]
    pub record: String,
    /// The recording rotates past this many MiB (`FILE.1`, `FILE.2` and
    /// `FILE.3` are kept).
    #[serde(default = "default_record_max_mib")]
    pub record_max_mib: u32,
    /// A USSD code whose answer tells the SIM's balance (`*123#`), asked
    /// once the modem is ready and then every `balance_every`. Empty: no
    /// balance watch.
    #[serde(default)]
    pub balance_ussd: String,
    /// A regular expression over the balance answer; its first group is
    /// the amount (by default the first number in the answer).
    #[serde(default = "default_balance_pattern")]
    pub balance_pattern: String,
    /// How often the balance is asked.
    #[serde(default = "default_balance_every", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub balance_every: Duration,
    /// Below this amount the balance is low (admin page, `/metrics`).
    /// Empty: never low.
    #[serde(default)]
    pub balance_warn: String,
    /// The decimal point of the amount: `.` (`,` separates thousands) or
    /// `,` (then `.` separates thousands).
    #[serde(default = "default_balance_decimal")]
    pub balance_decimal: String,
    /// SMS this SIM may send per calendar day, local time (0: no cap).
    /// A message counts when it is allocated to the SIM.
    #[serde(default)]
    pub max_per_day: u32,
    /// SMS this SIM may send per calendar month (0: no cap).
    #[serde(default)]
    pub max_per_month: u32,
    /// Distinct numbers this SIM may send to per calendar month (0: no
    /// cap).
    #[serde(default)]
    pub max_recipients_per_month: u32,
    /// A prepaid SIM that sent nothing this long sends one SMS to
    /// `keepalive_to`, so the operator does not deactivate it.
    #[serde(default = "default_keepalive_every", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub keepalive_every: Duration,
    /// The number the keep-alive SMS goes to (E.164 or national). Empty:
    /// no keep-alive.
    #[serde(default)]
    pub keepalive_to: String,
    /// The keep-alive SMS's text.
    #[serde(default = "default_keepalive_text")]
    pub keepalive_text: String,
}

/// How a bind splits a text longer than one SMS (SMPP 3.4 §5.2.12
/// esm_class UDHI, §5.3.2.22–24 SAR TLVs, §5.3.2.32 message_payload).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SmppSplit {
    /// One submit_sm per part, each with a concatenation header (UDHI).
    #[default]
    Udh,
    /// One submit_sm per part, each with the SAR TLVs.
    Sar,
    /// One submit_sm carrying the whole text in `message_payload`: the
    /// SMSC splits it.
    Payload,
}

/// `[[smpp]]`: a transceiver bind to an operator's SMSC (SMPP 3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmppConfig {
    /// The SMSC's host name or address.
    pub host: String,
    /// The SMSC's port (2775 by custom).
    pub port: u16,
    /// The ESME's name the operator gave (at most 15 characters).
    pub system_id: String,
    /// Its password (at most 8 characters).
    pub password: String,
    /// Sent in the bind; most SMSCs want it empty.
    #[serde(default)]
    pub system_type: String,
    /// Source addresses this bind may use: each is a short code of the
    /// pool, as phones dial it (`2222`) or in E.164.
    pub short_codes: Vec<String>,
    /// TLS to the SMSC (the system's roots).
    #[serde(default)]
    pub tls: bool,
    /// submit_sm in flight at once.
    #[serde(default = "default_smpp_window")]
    pub window: u32,
    /// The SMSC's throughput agreement, submit_sm per second (0: no limit).
    #[serde(default)]
    pub max_per_second: u32,
    /// How long the line may stay quiet before an enquire_link.
    #[serde(default = "default_enquire_link", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub enquire_link: Duration,
    /// How a long text is split: `udh`, `sar` or `payload`.
    #[serde(default)]
    pub split: SmppSplit,
}

fn default_smpp_window() -> u32 {
    10
}

fn default_enquire_link() -> Duration {
    Duration::from_secs(30)
}

impl SmppConfig {
    /// A bind to `host:port` for `short_codes`, every other key at its
    /// default.
    pub fn new(
        host: &str,
        port: u16,
        system_id: &str,
        password: &str,
        short_codes: &[&str],
    ) -> Self {
        SmppConfig {
            host: host.into(),
            port,
            system_id: system_id.into(),
            password: password.into(),
            system_type: String::new(),
            short_codes: short_codes.iter().map(|c| c.to_string()).collect(),
            tls: false,
            window: default_smpp_window(),
            max_per_second: 0,
            enquire_link: default_enquire_link(),
            split: SmppSplit::Udh,
        }
    }
}

impl ModemConfig {
    /// A modem on `port` with the short code `short_code` and every other
    /// key at its default.
    pub fn new(port: &str, short_code: &str) -> Self {
        ModemConfig {
            port: port.into(),
            short_code: short_code.into(),
            profile: default_profile(),
            baud: default_baud(),
            imei: None,
            pin: None,
            record: String::new(),
            record_max_mib: default_record_max_mib(),
            balance_ussd: String::new(),
            balance_pattern: default_balance_pattern(),
            balance_every: default_balance_every(),
            balance_warn: String::new(),
            balance_decimal: default_balance_decimal(),
            max_per_day: 0,
            max_per_month: 0,
            max_recipients_per_month: 0,
            keepalive_every: default_keepalive_every(),
            keepalive_to: String::new(),
            keepalive_text: default_keepalive_text(),
        }
    }
}

fn default_balance_pattern() -> String {
    r"([0-9][0-9.,]*)".into()
}

fn default_balance_every() -> Duration {
    Duration::from_secs(6 * 3600)
}

fn default_balance_decimal() -> String {
    ".".into()
}

fn default_keepalive_every() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

fn default_keepalive_text() -> String {
    "keep-alive".into()
}

fn default_record_max_mib() -> u32 {
    16
}

fn default_profile() -> String {
    "generic".into()
}

fn default_baud() -> u32 {
    115_200
}

/// R13 abuse limits; 0 means no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sends one web client (address, or IPv6 /64) may make a minute.
    pub sends_per_minute_per_client: u32,
    /// Messages one phone number may be sent an hour, from everyone.
    pub sends_per_hour_per_recipient: u32,
    /// Recipients of one message.
    pub max_recipients: u32,
    /// SMS parts of one message (a longer text is refused).
    pub max_parts: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            sends_per_minute_per_client: 6,
            sends_per_hour_per_recipient: 20,
            max_recipients: 50,
            max_parts: 5,
        }
    }
}

/// R10 tariff of mobile-originated messages. Amounts are decimal strings and
/// never floats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TariffConfig {
    /// ISO 4217 code the charges are in.
    pub currency: String,
    /// What one reply SMS (one part) costs the phone, before taxes.
    pub mo_price: DecimalString,
    /// Taxes on `mo_price`, each `{ name = "ITBIS", rate = "0.18" }`.
    pub taxes: Vec<TaxConfig>,
}

impl Default for TariffConfig {
    fn default() -> Self {
        Self {
            currency: "DOP".into(),
            mo_price: DecimalString("1.00".into()),
            taxes: vec![TaxConfig {
                name: "ITBIS".into(),
                rate: DecimalString("0.18".into()),
            }],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxConfig {
    /// The tax's name, as charges show it.
    pub name: String,
    /// Its rate, a decimal fraction of the price (`"0.18"`: 18 %).
    pub rate: DecimalString,
}

/// A decimal amount written as a string (`"1.00"`). A bare TOML number is
/// accepted too and kept as its shortest decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct DecimalString(pub String);

impl DecimalString {
    pub fn parse(&self) -> Result<rust_decimal::Decimal, String> {
        rust_decimal::Decimal::from_str(self.0.trim())
            .map_err(|_| format!("`{}` is not a decimal number", self.0))
    }
}

impl<'de> Deserialize<'de> for DecimalString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = DecimalString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal number such as \"1.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(DecimalString(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(DecimalString(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(DecimalString(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Shortest text that reads back as the same number: 0.18 -> "0.18".
                Ok(DecimalString(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[numbers]`: which numbers the page accepts, fleet numbers that
/// cannot reply, and the words that opt a phone out and in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NumbersConfig {
    /// ISO 3166 country whose national numbers the form accepts.
    pub country: String,
    /// R9: numbers starting with one of these prefixes (E.164, or national)
    /// are on fleet/VPN plans: they receive but cannot reply.
    pub fleet_prefixes: Vec<String>,
    /// R9: inclusive ranges of fleet numbers.
    pub fleet_ranges: Vec<FleetRange>,
    /// R9: single fleet numbers.
    pub fleet_numbers: Vec<String>,
    /// R12: replies that opt a number out (case- and accent-insensitive).
    pub opt_out_words: Vec<String>,
    /// R12: replies that lift an opt-out.
    pub opt_in_words: Vec<String>,
    /// R12: sent back to a phone that opted out; `{word}` is the first
    /// opt-in word (what undoes it). Empty: no confirmation.
    pub opt_out_reply: String,
    /// R12: sent back to a phone that opted in again; `{word}` is the
    /// first opt-out word.
    pub opt_in_reply: String,
    /// ISO 3166 countries whose numbers may receive web messages (empty:
    /// `country` alone). Anyone on the web can make the box send, at the
    /// SIM owner's expense.
    pub allowed_countries: Vec<String>,
}

/// An inclusive range of numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetRange {
    /// The first number of the range.
    pub from: String,
    /// The last number of the range.
    pub to: String,
}

impl Default for NumbersConfig {
    fn default() -> Self {
        Self {
            country: "DO".into(),
            fleet_prefixes: Vec::new(),
            fleet_ranges: Vec::new(),
            fleet_numbers: Vec::new(),
            opt_out_words: vec!["BAJA".into(), "STOP".into()],
            opt_in_words: vec!["ALTA".into(), "START".into()],
            opt_out_reply: crate::session::DEFAULT_OPT_OUT_REPLY.into(),
            opt_in_reply: crate::session::DEFAULT_OPT_IN_REPLY.into(),
            allowed_countries: Vec::new(),
        }
    }
}

/// A trusted proxy entry: a CIDR (`10.0.0.0/8`) or a single address.
pub fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let t = text.trim();
    t.parse::<ipnet::IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is not an address or a CIDR (10.0.0.0/8)"))
}

/// One problem found in a configuration: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, or `environment` for an override, or `defaults`.
    pub source: String,
    /// Dotted key, e.g. `session.idle_timeout` or `modem[0].port`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}: {}", self.source, self.key, self.message)
    }
}

/// Every problem found while loading a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Loads `file` (if any) with environment overrides from the process
    /// environment, then validates the result.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Like [`Config::load`] but with an explicit environment, so tests do
    /// not have to mutate the process environment.
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let source = file
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "defaults".to_string());
        let env: config::Map<String, String> = env
            .into_iter()
            // Only SMSGATE_SECTION__KEY: others (SMSGATE_CONFIG) are not keys.
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}_")) && k.contains("__"))
            .collect();
        // `SMSGATE_HTTP__BIND` overrides `http.bind`: problems under an
        // overridden key are blamed on the variable, not on the file.
        let overrides: Vec<(String, String)> = env
            .keys()
            .map(|var| {
                let dotted = var[ENV_PREFIX.len() + 1..]
                    .to_lowercase()
                    .replace("__", ".");
                (dotted, var.clone())
            })
            .collect();
        let problem = |key: &str, message: String| {
            let (key, message) = match missing_field(&message) {
                Some(field) => (join_key(key, &field), "missing field".to_string()),
                None => (key.to_string(), message),
            };
            let source = overrides
                .iter()
                .find(|(dotted, _)| key == *dotted || key.starts_with(&format!("{dotted}.")))
                .map(|(_, var)| format!("environment {var}"))
                .unwrap_or_else(|| source.clone());
            Problem {
                source,
                key,
                message,
            }
        };
        let mut environment = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .list_separator(",")
            .try_parsing(true)
            .source(Some(env));
        for key in LIST_KEYS {
            environment = environment.with_list_parse_key(key);
        }

        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError {
                    problems: vec![problem("(file)", "file not found".into())],
                });
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let raw = builder
            .add_source(environment)
            .build()
            .map_err(|e| ConfigError {
                problems: vec![problem("(syntax)", clean_message(&e.to_string()))],
            })?;

        let mut problems = Vec::new();
        let root: config::Map<String, config::Value> =
            raw.clone().try_deserialize().map_err(|e| ConfigError {
                problems: vec![problem("(syntax)", clean_message(&e.to_string()))],
            })?;
        for key in root.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                problems.push(problem(
                    key,
                    format!("unknown section (expected one of: {})", SECTIONS.join(", ")),
                ));
            }
        }

        let mut cfg = Config::default();
        section(&raw, "http", &mut cfg.http, &mut problems, &problem);
        section(&raw, "store", &mut cfg.store, &mut problems, &problem);
        section(&raw, "session", &mut cfg.session, &mut problems, &problem);
        section(&raw, "limits", &mut cfg.limits, &mut problems, &problem);
        section(&raw, "tariff", &mut cfg.tariff, &mut problems, &problem);
        section(&raw, "numbers", &mut cfg.numbers, &mut problems, &problem);
        section(&raw, "sms", &mut cfg.sms, &mut problems, &problem);
        section(&raw, "emulator", &mut cfg.emulator, &mut problems, &problem);
        if root.contains_key("mqtt") {
            let mut mqtt = MqttConfig::default();
            section(&raw, "mqtt", &mut mqtt, &mut problems, &problem);
            cfg.mqtt = Some(mqtt);
        }
        // Index in the file of each modem that parsed, so later problems
        // name the right `[[modem]]` even when an earlier one failed.
        let mut modem_index = Vec::new();
        if let Ok(modems) = raw.get_array("modem") {
            for (i, value) in modems.into_iter().enumerate() {
                let key = format!("modem[{i}]");
                match deserialize_at::<ModemConfig>(value) {
                    Ok(m) => {
                        cfg.modem.push(m);
                        modem_index.push(i);
                    }
                    Err((path, message)) => problems.push(problem(&join_key(&key, &path), message)),
                }
            }
        } else if root.contains_key("modem") {
            problems.push(problem(
                "modem",
                "must be an array of tables ([[modem]])".into(),
            ));
        }
        if let Ok(binds) = raw.get_array("smpp") {
            for (i, value) in binds.into_iter().enumerate() {
                let key = format!("smpp[{i}]");
                match deserialize_at::<SmppConfig>(value) {
                    Ok(b) => cfg.smpp.push(b),
                    Err((path, message)) => problems.push(problem(&join_key(&key, &path), message)),
                }
            }
        } else if root.contains_key("smpp") {
            problems.push(problem(
                "smpp",
                "must be an array of tables ([[smpp]])".into(),
            ));
        }

        for (key, message) in cfg.validate() {
            let key = match key
                .strip_prefix("modem[")
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(i, rest)| Some((modem_index.get(i.parse::<usize>().ok()?)?, rest)))
            {
                Some((i, rest)) => format!("modem[{i}]{rest}"),
                None => key,
            };
            problems.push(problem(&key, message));
        }
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Checks of meaning (not of shape): returns (key, message) pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.http.bind.parse::<SocketAddr>().is_err() {
            out.push((
                "http.bind".into(),
                format!("`{}` is not an address:port", self.http.bind),
            ));
        }
        if let Some(t) = &self.http.admin_token {
            if t.len() < 16 {
                out.push((
                    "http.admin_token".into(),
                    "must be at least 16 characters".into(),
                ));
            }
        }
        if self.http.tls_cert.is_empty() != self.http.tls_key.is_empty() {
            out.push((
                "http.tls_cert".into(),
                "tls_cert and tls_key go together".into(),
            ));
        }
        if !self.http.redirect_bind.is_empty() {
            if self.http.tls_cert.is_empty() {
                out.push((
                    "http.redirect_bind".into(),
                    "redirects to HTTPS: needs tls_cert and tls_key".into(),
                ));
            }
            if self.http.redirect_bind.parse::<SocketAddr>().is_err() {
                out.push((
                    "http.redirect_bind".into(),
                    format!("`{}` is not an address:port", self.http.redirect_bind),
                ));
            }
        }
        if !self.http.admin_bind.is_empty() && self.http.admin_bind.parse::<SocketAddr>().is_err() {
            out.push((
                "http.admin_bind".into(),
                format!("`{}` is not an address:port", self.http.admin_bind),
            ));
        }
        for (key, d) in [
            ("http.header_timeout", self.http.header_timeout),
            ("http.body_timeout", self.http.body_timeout),
            ("http.write_timeout", self.http.write_timeout),
        ] {
            if d.is_zero() {
                out.push((key.into(), "must be more than 0".into()));
            }
        }
        if self.http.keepalive_timeout < std::time::Duration::from_secs(20) {
            out.push((
                "http.keepalive_timeout".into(),
                "must be at least 20s (a live stream writes every 15 s)".into(),
            ));
        }
        if self.store.cache_mib == 0 {
            out.push(("store.cache_mib".into(), "must be at least 1".into()));
        }
        if self.validity_minutes().is_none() {
            out.push((
                "sms.validity".into(),
                format!(
                    "`{}` is neither \"session\" nor a duration",
                    self.sms.validity
                ),
            ));
        }
        if let Err(e) = crate::emulator::model::Model::builtin(&self.emulator.model) {
            out.push(("emulator.model".into(), e.to_string()));
        }
        if let Some(m) = &self.mqtt {
            if let Err(e) = m.endpoint() {
                out.push(("mqtt.url".into(), e));
            }
            if m.version != 3 && m.version != 5 {
                out.push(("mqtt.version".into(), "must be 3 (3.1.1) or 5".into()));
            }
            if m.prefix.is_empty() || m.prefix.contains(['+', '#']) {
                out.push((
                    "mqtt.prefix".into(),
                    "must be a topic without wildcards".into(),
                ));
            }
        }
        if self.session.idle_timeout.is_zero() {
            out.push(("session.idle_timeout".into(), "must be more than 0".into()));
        }
        if self.limits.max_parts > 255 {
            out.push((
                "limits.max_parts".into(),
                "at most 255 parts fit a concatenated SMS".into(),
            ));
        }
        if let Err(e) = self.tariff.mo_price.parse() {
            out.push(("tariff.mo_price".into(), e));
        }
        for (i, t) in self.tariff.taxes.iter().enumerate() {
            if let Err(e) = t.rate.parse() {
                out.push((format!("tariff.taxes[{i}].rate"), e));
            }
        }
        if self.tariff.currency.len() != 3
            || !self.tariff.currency.chars().all(|c| c.is_ascii_uppercase())
        {
            out.push((
                "tariff.currency".into(),
                format!("`{}` is not an ISO 4217 code", self.tariff.currency),
            ));
        }
        if self.numbers.country.len() != 2
            || !self.numbers.country.chars().all(|c| c.is_ascii_uppercase())
        {
            out.push((
                "numbers.country".into(),
                format!("`{}` is not an ISO 3166 code", self.numbers.country),
            ));
        }
        for (i, p) in self.http.trusted_proxies.iter().enumerate() {
            if let Err(e) = parse_net(p) {
                out.push((format!("http.trusted_proxies[{i}]"), e));
            }
        }
        for (i, c) in self.numbers.allowed_countries.iter().enumerate() {
            if crate::session::calling_code(c).is_err() {
                out.push((
                    format!("numbers.allowed_countries[{i}]"),
                    format!("`{c}` is not an ISO 3166 code"),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, m) in self.modem.iter().enumerate() {
            if m.port.trim().is_empty() {
                out.push((format!("modem[{i}].port"), "must not be empty".into()));
            }
            if m.port == "auto" && m.imei.is_none() {
                out.push((
                    format!("modem[{i}].imei"),
                    "is required when port = \"auto\"".into(),
                ));
            }
            let digits = m.short_code.strip_prefix('+').unwrap_or(&m.short_code);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 15
            {
                out.push((
                    format!("modem[{i}].short_code"),
                    format!("`{}` is not a phone number", m.short_code),
                ));
            } else if !seen.insert(m.short_code.clone()) {
                out.push((
                    format!("modem[{i}].short_code"),
                    format!("`{}` is used by another modem", m.short_code),
                ));
            }
            if crate::modem::profile::Profile::builtin(&m.profile).is_none() {
                out.push((
                    format!("modem[{i}].profile"),
                    format!(
                        "unknown profile `{}` (known: {})",
                        m.profile,
                        crate::modem::profile::Profile::builtin_names().join(", ")
                    ),
                ));
            }
            if m.baud == 0 {
                out.push((format!("modem[{i}].baud"), "must be more than 0".into()));
            }
            if let Err(e) = crate::gateway::balance::BalanceRule::from_modem(m) {
                out.push((format!("modem[{i}].{}", e.0), e.1));
            }
            if !m.keepalive_to.trim().is_empty() {
                if m.keepalive_every.is_zero() {
                    out.push((
                        format!("modem[{i}].keepalive_every"),
                        "must be more than 0".into(),
                    ));
                }
                if m.keepalive_text.trim().is_empty() {
                    out.push((
                        format!("modem[{i}].keepalive_text"),
                        "must not be empty".into(),
                    ));
                }
                match crate::session::normalize(&m.keepalive_to, &self.numbers.country) {
                    Ok(n) if self.modem.iter().any(|o| o.short_code == n.0) => out.push((
                        format!("modem[{i}].keepalive_to"),
                        "is a short code of this gateway".into(),
                    )),
                    Ok(_) => {}
                    Err(e) => out.push((
                        format!("modem[{i}].keepalive_to"),
                        format!("`{}`: {e}", m.keepalive_to),
                    )),
                }
            }
        }
        for (i, b) in self.smpp.iter().enumerate() {
            if b.host.trim().is_empty() {
                out.push((format!("smpp[{i}].host"), "must not be empty".into()));
            }
            if b.port == 0 {
                out.push((format!("smpp[{i}].port"), "must be more than 0".into()));
            }
            // SMPP 3.4 §4.1.1: system_id is a C-Octet String of at most 16
            // octets, password at most 9, system_type at most 13.
            for (key, value, max) in [
                ("system_id", &b.system_id, 15),
                ("password", &b.password, 8),
                ("system_type", &b.system_type, 12),
            ] {
                if value.len() > max || !value.is_ascii() {
                    out.push((
                        format!("smpp[{i}].{key}"),
                        format!("must be at most {max} ASCII characters (SMPP 3.4 §4.1.1)"),
                    ));
                }
            }
            if b.system_id.is_empty() {
                out.push((format!("smpp[{i}].system_id"), "must not be empty".into()));
            }
            if b.short_codes.is_empty() {
                out.push((
                    format!("smpp[{i}].short_codes"),
                    "must name at least one short code".into(),
                ));
            }
            for code in &b.short_codes {
                let digits = code.strip_prefix('+').unwrap_or(code);
                if digits.is_empty()
                    || !digits.chars().all(|c| c.is_ascii_digit())
                    || digits.len() > 15
                {
                    out.push((
                        format!("smpp[{i}].short_codes"),
                        format!("`{code}` is not a short code or phone number"),
                    ));
                } else if !seen.insert(code.clone()) {
                    out.push((
                        format!("smpp[{i}].short_codes"),
                        format!("`{code}` is used by another modem or bind"),
                    ));
                }
            }
            if b.window == 0 {
                out.push((format!("smpp[{i}].window"), "must be more than 0".into()));
            }
            if b.enquire_link < Duration::from_secs(1) {
                out.push((
                    format!("smpp[{i}].enquire_link"),
                    "must be at least 1s".into(),
                ));
            }
        }
        out
    }
}

fn section<T, F>(
    raw: &config::Config,
    name: &str,
    target: &mut T,
    problems: &mut Vec<Problem>,
    problem: &F,
) where
    T: serde::de::DeserializeOwned,
    F: Fn(&str, String) -> Problem,
{
    let value = match raw.get::<config::Value>(name) {
        Ok(v) => v,
        Err(config::ConfigError::NotFound(_)) => return,
        Err(e) => {
            problems.push(problem(name, clean_message(&e.to_string())));
            return;
        }
    };
    match deserialize_at::<T>(value) {
        Ok(v) => *target = v,
        Err((path, message)) => problems.push(problem(&join_key(name, &path), message)),
    }
}

/// Deserializes `value`, reporting the path of the failing field inside it.
fn deserialize_at<T: serde::de::DeserializeOwned>(
    value: config::Value,
) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, clean_message(&e.into_inner().to_string()))
    })
}

fn join_key(base: &str, path: &str) -> String {
    if path.is_empty() {
        base.to_string()
    } else if path.starts_with('[') {
        format!("{base}{path}")
    } else {
        format!("{base}.{path}")
    }
}

/// The field named by a "missing field" message, if it is one.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field ")?;
    Some(rest.trim_matches(|c| c == '`' || c == '"').to_string())
}

/// The `config` crate appends the key and the file, which every [`Problem`]
/// reports on its own.
fn clean_message(s: &str) -> String {
    let s = match s.find(" for key `") {
        Some(i) => &s[..i],
        None => s,
    };
    let s = match s.rfind(" in ") {
        Some(i) if s[i..].contains('/') || s[i..].ends_with(".toml") => &s[..i],
        _ => s,
    };
    s.replace("missing configuration field", "missing field")
}
