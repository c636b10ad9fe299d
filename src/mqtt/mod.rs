//! smsgate on an MQTT broker, with sms2mqtt's topics (so automations built
//! on that bridge keep working) and Home Assistant discovery. Built on
//! rumqttc: MQTT 3.1.1 and 5, TLS through rustls, manual acknowledgements
//! (a send taken from the broker is acknowledged only once it is durable),
//! and an event loop we drive, so reconnecting is ours to pace.
//!
//! - `{prefix}/send` (in, QoS 1): `{"number": "+1809…;+1829…", "text"}`,
//!   sent as a conversation owned by MQTT (R1–R13; a number with a live
//!   MQTT conversation continues it on the same pair);
//! - `{prefix}/sent`, `{prefix}/status`, `{prefix}/received` (out, QoS 1):
//!   from the durable [`outbox::Outbox`], in order, after any outage;
//! - `{prefix}/connected` (retained, `1`/`0`, the last will) and
//!   `{prefix}/signal/{short_code}` (retained, each minute; the short
//!   code's letters and digits only: a `+` is a wildcard in MQTT topics);
//! - Home Assistant discovery ([`discovery`]).

pub mod discovery;
pub mod outbox;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::config::MqttConfig;
use crate::gateway::api::{ApiOwner, GatewayApi, RecipientState, SendRequest};
use crate::web::limits::Limiters;
use crate::web::WebConfig;
use crate::web::{checked_send, live_conversation, SendQuota};

pub use outbox::Outbox;

/// The owner of MQTT's conversations (not a valid key name, so no API key
/// can take it).
pub const OWNER: &str = "@mqtt";

/// How often the modems' state is looked at: published when it changed,
/// and at least every [`SIGNAL_EVERY`].
const SIGNAL_CHECK: Duration = Duration::from_secs(5);
/// The longest time between two publications of a modem's state.
const SIGNAL_EVERY: Duration = Duration::from_secs(60);
/// Longest wait between two connection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// A `{prefix}/send` payload.
#[derive(Debug, serde::Deserialize)]
struct SendPayload {
    number: String,
    text: String,
}

/// What the bridge needs of the gateway and the web layer's rules.
#[derive(Clone)]
pub struct Context {
    pub gateway: Arc<dyn GatewayApi>,
    pub web: WebConfig,
    pub limiters: Arc<Limiters>,
    pub outbox: Outbox,
}

/// A received publish, either version.
enum Incoming {
    V4(rumqttc::Publish),
    V5(rumqttc::v5::mqttbytes::v5::Publish),
}

impl Incoming {
    fn topic(&self) -> String {
        match self {
            Incoming::V4(p) => p.topic.clone(),
            Incoming::V5(p) => String::from_utf8_lossy(&p.topic).into_owned(),
        }
    }
    fn payload(&self) -> &[u8] {
        match self {
            Incoming::V4(p) => &p.payload,
            Incoming::V5(p) => &p.payload,
        }
    }
}

enum Ev {
    Connected,
    PubAck,
    Publish(Incoming),
    Lost(String),
    Other,
}

#[derive(Clone)]
enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

enum Loop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

impl Client {
    /// QoS 1 for the outbox's publications: with one in flight at a time,
    /// the next `PUBACK` is its own. Retained state (connected, signal,
    /// discovery) goes at QoS 0: it is published again anyway, and takes
    /// no `PUBACK` that could be mistaken for the outbox's.
    async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
        acked: bool,
    ) -> Result<(), String> {
        match self {
            Client::V4(c) => {
                let qos = if acked {
                    rumqttc::QoS::AtLeastOnce
                } else {
                    rumqttc::QoS::AtMostOnce
                };
                c.publish(topic, qos, retain, payload)
                    .await
                    .map_err(|e| e.to_string())
            }
            Client::V5(c) => {
                use rumqttc::v5::mqttbytes::QoS;
                let qos = if acked {
                    QoS::AtLeastOnce
                } else {
                    QoS::AtMostOnce
                };
                c.publish(topic, qos, retain, payload)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    async fn subscribe(&self, topic: &str) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .subscribe(topic, rumqttc::QoS::AtLeastOnce)
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .subscribe(topic, rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    async fn ack(&self, p: &Incoming) -> Result<(), String> {
        match (self, p) {
            (Client::V4(c), Incoming::V4(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            (Client::V5(c), Incoming::V5(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            _ => Err("mixed protocol versions".into()),
        }
    }
}

impl Loop {
    async fn poll(&mut self) -> Ev {
        match self {
            Loop::V4(l) => {
                use rumqttc::{Event, Packet};
                match l.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => Ev::Connected,
                    Ok(Event::Incoming(Packet::PubAck(_))) => Ev::PubAck,
                    Ok(Event::Incoming(Packet::Publish(p))) => Ev::Publish(Incoming::V4(p)),
                    Ok(_) => Ev::Other,
                    Err(e) => Ev::Lost(e.to_string()),
                }
            }
            Loop::V5(l) => {
                use rumqttc::v5::mqttbytes::v5::Packet;
                use rumqttc::v5::Event;
                match l.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => Ev::Connected,
                    Ok(Event::Incoming(Packet::PubAck(_))) => Ev::PubAck,
                    Ok(Event::Incoming(Packet::Publish(p))) => Ev::Publish(Incoming::V5(p)),
                    Ok(_) => Ev::Other,
                    Err(e) => Ev::Lost(e.to_string()),
                }
            }
        }
    }
}

/// The TLS client configuration for `mqtts://`: `ca_file`'s certificates,
/// or the system's roots.
fn tls(cfg: &MqttConfig) -> Result<rumqttc::TlsConfiguration, String> {
    let mut roots = rustls::RootCertStore::empty();
    if cfg.ca_file.is_empty() {
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(c);
        }
    } else {
        let pem = std::fs::read(&cfg.ca_file).map_err(|e| format!("{}: {e}", cfg.ca_file))?;
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots
                .add(c.map_err(|e| format!("{}: {e}", cfg.ca_file))?)
                .map_err(|e| format!("{}: {e}", cfg.ca_file))?;
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate to check the broker with".into());
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(rumqttc::TlsConfiguration::Rustls(Arc::new(config)))
}

fn client_id(cfg: &MqttConfig) -> String {
    if !cfg.client_id.is_empty() {
        return cfg.client_id.clone();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("smsgate-{host}")
}

/// Connects (lazily: the event loop dials) with the last will set.
fn connect(cfg: &MqttConfig) -> Result<(Client, Loop), String> {
    let (secure, host, port) = cfg.endpoint()?;
    let will_topic = format!("{}/connected", cfg.prefix);
    let transport = if secure {
        Some(rumqttc::Transport::tls_with_config(tls(cfg)?))
    } else {
        None
    };
    if cfg.version == 3 {
        let mut o = rumqttc::MqttOptions::new(client_id(cfg), host, port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_manual_acks(true)
            .set_clean_session(false)
            .set_last_will(rumqttc::LastWill::new(
                will_topic,
                "0",
                rumqttc::QoS::AtLeastOnce,
                true,
            ));
        if !cfg.username.is_empty() {
            o.set_credentials(&cfg.username, &cfg.password);
        }
        if let Some(t) = transport {
            o.set_transport(t);
        }
        let (c, l) = rumqttc::AsyncClient::new(o, 64);
        Ok((Client::V4(c), Loop::V4(Box::new(l))))
    } else {
        use rumqttc::v5::mqttbytes::v5::LastWill;
        let mut o = rumqttc::v5::MqttOptions::new(client_id(cfg), host, port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_manual_acks(true)
            .set_clean_start(false)
            // Keep the session (and unacknowledged sends) a day.
            .set_session_expiry_interval(Some(24 * 3600))
            .set_last_will(LastWill::new(
                will_topic,
                "0",
                rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                true,
                None,
            ));
        if !cfg.username.is_empty() {
            o.set_credentials(&cfg.username, &cfg.password);
        }
        if let Some(t) = transport {
            o.set_transport(t);
        }
        let (c, l) = rumqttc::v5::AsyncClient::new(o, 64);
        Ok((Client::V5(c), Loop::V5(Box::new(l))))
    }
}

/// Starts the bridge; it runs until `stop` is cancelled.
pub fn start(cfg: MqttConfig, ctx: Context, stop: CancellationToken) -> Result<(), String> {
    let (client, eventloop) = connect(&cfg)?;
    tracing::info!(url = %cfg.url, version = cfg.version, prefix = %cfg.prefix, "MQTT bridge starting");
    let limiter = NonZeroU32::new(cfg.sends_per_minute)
        .map(|n| Arc::new(RateLimiter::direct(Quota::per_minute(n))));
    tokio::spawn(run(cfg, ctx, client, eventloop, limiter, stop));
    Ok(())
}

async fn run(
    cfg: MqttConfig,
    ctx: Context,
    client: Client,
    mut eventloop: Loop,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    stop: CancellationToken,
) {
    let prefix = cfg.prefix.clone();
    let send_topic = format!("{prefix}/send");
    let mut connected = false;
    // The outbox entry published and not acknowledged yet.
    let mut in_flight: Option<String> = None;
    let mut backoff = Duration::from_millis(500);
    let mut signal = tokio::time::interval(SIGNAL_CHECK);
    let mut signals = Signals::default();
    loop {
        // Publish the outbox's head when nothing is in flight.
        if connected && in_flight.is_none() {
            match ctx.outbox.head() {
                Ok(Some((key, p))) => {
                    let topic = format!("{prefix}/{}", p.topic);
                    if client
                        .publish(&topic, p.payload.into_bytes(), false, true)
                        .await
                        .is_ok()
                    {
                        in_flight = Some(key);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot read the MQTT outbox"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = client.publish(&format!("{prefix}/connected"), b"0".to_vec(), true, false).await;
                // Let the event loop write it.
                let _ = tokio::time::timeout(Duration::from_millis(500), eventloop.poll()).await;
                return;
            }
            ev = eventloop.poll() => match ev {
                Ev::Connected => {
                    tracing::info!(url = %cfg.url, "MQTT broker connected");
                    connected = true;
                    backoff = Duration::from_millis(500);
                    in_flight = None; // published again: at least once
                    let _ = client.subscribe(&send_topic).await;
                    let _ = client.publish(&format!("{prefix}/connected"), b"1".to_vec(), true, false).await;
                    publish_discovery(&cfg, &ctx, &client).await;
                    signals.last.clear(); // every modem again
                    publish_signal(&cfg, &ctx, &client, &mut signals).await;
                }
                Ev::PubAck => {
                    if let Some(key) = in_flight.take() {
                        if let Err(e) = ctx.outbox.done(&key) {
                            tracing::error!(error = %e, "cannot update the MQTT outbox");
                        }
                    }
                }
                Ev::Publish(p) if p.topic() == send_topic => {
                    let (ctx, client, limiter) = (ctx.clone(), client.clone(), limiter.clone());
                    tokio::spawn(async move {
                        take_send(&ctx, &p, limiter.as_deref()).await;
                        // Durable (the send's flush, or the error's): now
                        // the broker may forget it.
                        if ctx.outbox.flush().await.is_ok() {
                            let _ = client.ack(&p).await;
                        }
                    });
                }
                Ev::Publish(p) => {
                    let _ = client.ack(&p).await;
                }
                Ev::Lost(why) => {
                    if connected {
                        tracing::warn!(error = %why, "MQTT broker lost; reconnecting");
                    } else {
                        tracing::debug!(error = %why, "MQTT broker unreachable");
                    }
                    connected = false;
                    in_flight = None;
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(RECONNECT_MAX);
                }
                Ev::Other => {}
            },
            _ = ctx.outbox.pushed(), if connected && in_flight.is_none() => {}
            _ = signal.tick(), if connected => {
                publish_signal(&cfg, &ctx, &client, &mut signals).await;
            }
        }
    }
}

async fn publish_discovery(cfg: &MqttConfig, ctx: &Context, client: &Client) {
    if cfg.discovery_prefix.is_empty() {
        return;
    }
    let codes: Vec<String> = ctx
        .gateway
        .modems()
        .await
        .into_iter()
        .map(|m| m.short_code)
        .collect();
    for (topic, payload) in
        discovery::configs(&cfg.discovery_prefix, &cfg.prefix, &codes, &cfg.notify_to)
    {
        let _ = client
            .publish(&topic, payload.to_string().into_bytes(), true, false)
            .await;
    }
}

/// What was last published of each modem.
#[derive(Default)]
struct Signals {
    /// Short code → (state published, when).
    last: HashMap<String, (Value, std::time::Instant)>,
    /// Short code → (day, `sent` at its start).
    day_base: HashMap<String, (chrono::NaiveDate, u64)>,
}

/// `{prefix}/signal/{short_code}` (retained) for each modem whose state
/// changed, or was last published [`SIGNAL_EVERY`] ago.
async fn publish_signal(cfg: &MqttConfig, ctx: &Context, client: &Client, signals: &mut Signals) {
    let today = chrono::Local::now().date_naive();
    for m in ctx.gateway.modems().await {
        let base = signals
            .day_base
            .entry(m.short_code.clone())
            .or_insert((today, m.sent));
        if base.0 != today {
            *base = (today, m.sent);
        }
        let state = json!({
            "short_code": m.short_code,
            "state": serde_json::to_value(m.state).unwrap_or(Value::Null),
            "signal_dbm": m.signal_dbm,
            "rssi": m.rssi,
            "registration": m.registration,
            "operator": m.operator,
            "sent": m.sent,
            "received": m.received,
            "sent_today": m.sent.saturating_sub(base.1),
            "queued": m.queued,
            "storage_used": m.storage_used,
            "storage_total": m.storage_total,
        });
        if signals
            .last
            .get(&m.short_code)
            .is_some_and(|(v, at)| *v == state && at.elapsed() < SIGNAL_EVERY)
        {
            continue;
        }
        let mut payload = state.clone();
        payload["datetime"] = json!(Utc::now());
        let published = client
            .publish(
                &format!(
                    "{}/signal/{}",
                    cfg.prefix,
                    discovery::code_id(&m.short_code)
                ),
                payload.to_string().into_bytes(),
                true,
                false,
            )
            .await;
        if published.is_ok() {
            signals
                .last
                .insert(m.short_code.clone(), (state, std::time::Instant::now()));
        }
    }
}

/// One `{prefix}/send`: parsed, limited, sent per number (continuing a
/// number's live MQTT conversation), or answered with an error on
/// `{prefix}/sent`. Never panics on what a broker hands over.
async fn take_send(ctx: &Context, p: &Incoming, limiter: Option<&DefaultDirectRateLimiter>) {
    let error = |number: &str, text: &str, reason: &str| {
        json!({
            "result": "error",
            "datetime": Utc::now(),
            "number": number,
            "text": text,
            "reason": reason,
        })
    };
    let push = |v: Value| {
        if let Err(e) = ctx.outbox.push("sent", v) {
            tracing::error!(error = %e, "cannot queue an MQTT answer");
        }
    };
    let req: SendPayload = match serde_json::from_slice(p.payload()) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "a {{prefix}}/send payload is not {{\"number\", \"text\"}}");
            push(error("", "", &format!("invalid_payload: {e}")));
            return;
        }
    };
    if limiter.is_some_and(|l| l.check().is_err()) {
        push(error(&req.number, &req.text, "rate_limited"));
        return;
    }
    let numbers: Vec<String> = req
        .number
        .split([';', ','])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if numbers.is_empty() {
        push(error(&req.number, &req.text, "no_recipient"));
        return;
    }
    // Each number continues its live MQTT conversation, or joins one new.
    let mut groups: Vec<(Option<String>, Vec<String>)> = vec![(None, Vec::new())];
    for n in numbers {
        let live = live_conversation(&*ctx.gateway, &ctx.web.country, OWNER, &n, None).await;
        match groups.iter_mut().find(|(c, _)| *c == live) {
            Some((_, v)) => v.push(n),
            None => groups.push((live, vec![n])),
        }
    }
    for (session, to) in groups.into_iter().filter(|(_, to)| !to.is_empty()) {
        let send = SendRequest {
            to: to.clone(),
            text: req.text.clone(),
            owner: Some(ApiOwner {
                key: OWNER.into(),
                wait_turn: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let answer = checked_send(
            &*ctx.gateway,
            &ctx.web,
            &ctx.limiters,
            session,
            send,
            SendQuota::Caller,
        )
        .await;
        match answer {
            Ok(a) => {
                for r in a
                    .recipients
                    .iter()
                    .filter(|r| r.status == RecipientState::Refused)
                {
                    let reason = r.reason.map(|x| x.as_str()).unwrap_or("refused");
                    push(error(&r.to, &req.text, reason));
                }
            }
            Err(e) if e.recipients.is_empty() => {
                for n in &to {
                    push(error(n, &req.text, e.reason));
                }
            }
            Err(e) => {
                for r in &e.recipients {
                    let reason = r.reason.map(|x| x.as_str()).unwrap_or(e.reason);
                    push(error(&r.to, &req.text, reason));
                }
            }
        }
    }
}
