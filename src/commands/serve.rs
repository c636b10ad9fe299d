//! `smsgate serve`: the gateway. Opens the store, starts the modems (or,
//! with none configured, the embedded emulated network with 3 modems and
//! the phone simulator at `/dev/phones`), the session supervisor and the
//! web server, and runs until SIGTERM or Ctrl-C, then ends live streams,
//! stops the modems and flushes the store. Under systemd it notifies
//! readiness, status and the watchdog ([`super::sd`]); SIGHUP re-reads the
//! configuration, applies the `[[modem]]` list and logs what would need a
//! restart ([`super::reload`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::signals::{Hangups, Signals};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::modem::driver::DriverConfig;
use crate::modem::pool::ModemPool;
use crate::modem::profile::Profile;
use crate::session::{CoreConfig, SessionCore, ShortCode};
use crate::store::Store;
use crate::web::{WebConfig, WebState};

/// Runs the gateway; returns the exit code.
pub async fn run(config_file: Option<&Path>) -> i32 {
    let signals = Signals::install();
    let mut hangups = Hangups::install();
    let cfg = match Config::load(config_file) {
        Ok(c) => c,
        Err(e) => {
            for p in &e.problems {
                eprintln!("{p}");
            }
            return 2;
        }
    };
    let core_cfg = match CoreConfig::from_config(&cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration: {e}");
            return 2;
        }
    };
    let dir = cfg.store.resolved_dir();
    let store = match Store::open(&dir, cfg.store.cache_bytes()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    tracing::info!(store = %dir.display(), "store open");

    // The modems: configured ones, or the embedded emulated network.
    let mut emulator = None;
    // The embedded emulated network runs only when no transport is
    // configured: neither a modem nor an SMPP bind.
    let mut binds = cfg.smpp.clone();
    let drivers: Vec<DriverConfig> = if cfg.modem.is_empty() && cfg.smpp.is_empty() {
        let emu = match Emulator::start(EmulatorConfig {
            modems: 3,
            fleet_prefixes: cfg.numbers.fleet_prefixes.clone(),
            settings: crate::emulator::dce::Settings {
                model: cfg.emulator.model.clone(),
                report_delay_ms: cfg.emulator.report_delay_ms,
                mo_jitter_ms: cfg.emulator.mo_jitter_ms,
                cmgs_latency_ms: cfg.emulator.cmgs_latency_ms,
                ..Default::default()
            },
            smpp: cfg
                .emulator
                .smsc
                .then(|| crate::emulator::smsc::SmscOptions {
                    listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    config: crate::emulator::smsc::SmscConfig {
                        // Message ids stay unique across restarts.
                        message_id_base: std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis() as u64)
                            .unwrap_or(0),
                        ..Default::default()
                    },
                    settings: Default::default(),
                }),
            ..EmulatorConfig::default()
        })
        .await
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("cannot start the emulated network: {e}");
                return 1;
            }
        };
        tracing::info!("no modem configured: running on the embedded emulated network");
        if let Some(smsc) = emu.smsc_info() {
            let codes: Vec<&str> = smsc.short_codes.iter().map(String::as_str).collect();
            binds.push(crate::config::SmppConfig::new(
                &smsc.address.ip().to_string(),
                smsc.address.port(),
                "smsgate",
                "secret",
                &codes,
            ));
        }
        let drivers = emu
            .modems()
            .iter()
            .map(|m| DriverConfig {
                health_interval: Duration::from_secs(10),
                sweep_interval: Duration::from_secs(10),
                ..DriverConfig::new(&m.number, &m.path.to_string_lossy())
            })
            .collect();
        emulator = Some(emu);
        drivers
    } else {
        match driver_configs(&cfg) {
            Ok(drivers) => drivers,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        }
    };
    let mut core_cfg = core_cfg;
    core_cfg.pool = drivers
        .iter()
        .map(|d| ShortCode(d.short_code.clone()))
        .chain(
            binds
                .iter()
                .flat_map(|b| b.short_codes.iter().map(|c| ShortCode(c.clone()))),
        )
        .collect();

    let (tx, rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(drivers, tx);
    pool.add_smpp(binds);
    let gateway = match crate::gateway::start(
        SessionCore::new(core_cfg),
        store.clone(),
        pool,
        rx,
        Arc::new(SystemClock),
        crate::gateway::supervisor::Settings {
            keep_records: cfg.store.keep_records(),
            validity_minutes: cfg.validity_minutes(),
            failover_after: cfg.session.failover_after(),
            reassembly_timeout: Some(cfg.sms.reassembly_timeout),
            mqtt: cfg.mqtt.is_some(),
            keepalive: crate::gateway::supervisor::KeepAlive::from_config(&cfg),
        },
    ) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };

    if emulator.is_none() {
        gateway.watch_balances(&cfg);
    }
    let mut state = WebState::new(Arc::new(gateway.clone()), WebConfig::from_config(&cfg));
    if let Some(emu) = &emulator {
        state.dev_phones = Some(crate::emulator::phones::router(emu.clone()));
    }
    let shutdown = state.shutdown.clone();
    if let (Some(m), Some(outbox)) = (&cfg.mqtt, gateway.mqtt_outbox()) {
        let ctx = crate::mqtt::Context {
            gateway: state.gateway.clone(),
            web: state.config.clone(),
            limiters: state.limiters.clone(),
            outbox,
        };
        if let Err(e) = crate::mqtt::start(m.clone(), ctx, shutdown.clone()) {
            eprintln!("[mqtt] {e}");
            return 2;
        }
    }
    let addr: SocketAddr = match cfg.http.bind.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("http.bind `{}` is not an address:port", cfg.http.bind);
            return 2;
        }
    };
    crate::web::listener::raise_fd_limit();
    // `[http] tls_cert`/`tls_key`: HTTPS on `bind`.
    let tls = if cfg.http.tls_cert.is_empty() {
        None
    } else {
        match crate::web::tls::TlsKeys::load(&cfg.http.tls_cert, &cfg.http.tls_key) {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("[http] TLS: {e}");
                return 2;
            }
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return 1;
        }
    };
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(%bound, "listening");
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("smsgate listening on {scheme}://{bound}");
    if emulator.is_some() {
        println!("phone simulator: http://{bound}/dev/phones");
        dev_key(&gateway, &cfg.emulator, &bound);
    }
    // Store open and HTTP listening: ready. The watchdog and STATUS= run
    // on the actix system itself, so a stuck system stops feeding them.
    super::sd::ready("listening");
    // Start-up (phone-number metadata, store recovery) leaves freed heap
    // behind; an idle appliance should not keep it.
    crate::memory::give_back_free_memory();
    let health = {
        let gateway = gateway.clone();
        actix::spawn(async move { super::sd::supervise(&gateway).await })
    };
    let reloads = {
        let file = config_file.map(Path::to_path_buf);
        let mut running = cfg.clone();
        let gateway = gateway.clone();
        // The embedded network's modems are not configured ones: a switch
        // between the two needs a restart.
        let live_modems = emulator.is_none();
        let tls = tls.clone();
        actix::spawn(async move {
            loop {
                hangups.next().await;
                // New connections get the certificate as it is on disk now;
                // open ones (live streams) go on.
                if let Some(keys) = &tls {
                    match keys.reload() {
                        Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                        Err(e) => tracing::warn!("SIGHUP: TLS certificate kept: {e}"),
                    }
                }
                let Some((new, changed)) =
                    super::reload::on_hangup(file.as_deref(), &running, live_modems)
                else {
                    continue;
                };
                if live_modems
                    && changed
                        .iter()
                        .any(|k| k == super::reload::MODEMS || k == super::reload::BINDS)
                {
                    if new.modem.is_empty() && new.smpp.is_empty() {
                        tracing::warn!(
                            "SIGHUP: no modem or bind left in the configuration: keeping the running ones"
                        );
                        continue;
                    }
                    match driver_configs(&new) {
                        Ok(drivers) => {
                            let done = gateway.reconfigure(drivers, new.smpp.clone()).await;
                            gateway.reconfigure_sims(&new).await;
                            tracing::info!(
                                added = ?done.added,
                                restarted = ?done.restarted,
                                removed = ?done.removed,
                                "SIGHUP: modems and binds applied"
                            );
                            running.modem = new.modem;
                            running.smpp = new.smpp;
                        }
                        Err(e) => tracing::warn!("SIGHUP: {e}; keeping the running modems"),
                    }
                }
            }
        })
    };
    let limits = state.config.conn.clone();
    let counts = state.conns.clone();
    let acceptor = match &tls {
        Some(keys) => match keys.acceptor() {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("[http] TLS: {e}");
                return 2;
            }
        },
        None => None,
    };
    // `[http] redirect_bind`: plain HTTP that points at HTTPS.
    let redirect = if cfg.http.redirect_bind.is_empty() || tls.is_none() {
        None
    } else {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(443);
        match tokio::net::TcpListener::bind(&cfg.http.redirect_bind).await {
            Ok(l) => {
                tracing::info!(bind = %cfg.http.redirect_bind, "redirecting plain HTTP to HTTPS");
                let (limits, counts, stop) = (limits.clone(), counts.clone(), shutdown.clone());
                Some(actix::spawn(async move {
                    let _ = crate::web::listener::serve(
                        l,
                        crate::web::redirect_app(port),
                        limits,
                        counts,
                        stop,
                        None,
                    )
                    .await;
                }))
            }
            Err(e) => {
                eprintln!("cannot listen on {}: {e}", cfg.http.redirect_bind);
                return 1;
            }
        }
    };
    let stop = shutdown.clone();
    let on_signal = actix::spawn(async move {
        signals.wait().await;
        tracing::info!("shutting down");
        super::sd::stopping();
        // No new connection; live SSE streams end, or graceful shutdown
        // would wait on them.
        stop.cancel();
    });
    // Connection caps and timeouts (crate::web::listener).
    // `[http] admin_bind`: the admin surface and `/metrics` on their own
    // address (plain HTTP: keep it on loopback or the LAN).
    let (public_app, admin_app) = crate::web::apps(state, !cfg.http.admin_bind.is_empty());
    let admin = if cfg.http.admin_bind.is_empty() {
        None
    } else {
        match tokio::net::TcpListener::bind(&cfg.http.admin_bind).await {
            Ok(l) => {
                let bound = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                println!("smsgate admin on http://{bound}");
                let (limits, counts, stop) = (limits.clone(), counts.clone(), shutdown.clone());
                Some(actix::spawn(async move {
                    let _ =
                        crate::web::listener::serve(l, admin_app, limits, counts, stop, None).await;
                }))
            }
            Err(e) => {
                eprintln!("cannot listen on {}: {e}", cfg.http.admin_bind);
                return 1;
            }
        }
    };
    let served = crate::web::listener::serve(
        listener,
        public_app,
        limits,
        counts,
        shutdown.clone(),
        acceptor,
    )
    .await;
    on_signal.abort();
    if let Some(r) = redirect {
        r.abort();
    }
    if let Some(a) = admin {
        a.abort();
    }
    if let Err(e) = served {
        tracing::error!(error = %e, "web server failed");
    }
    health.abort();
    reloads.abort();
    gateway.shutdown().await;
    if let Some(emu) = emulator {
        emu.shutdown();
    }
    match store.flush().await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// The drivers of the configured modems, each with its profile.
fn driver_configs(cfg: &Config) -> Result<Vec<DriverConfig>, String> {
    cfg.modem
        .iter()
        .map(|m| {
            Profile::load(&m.profile, None)
                .map(|p| DriverConfig::from_config(m, &p))
                .map_err(|e| format!("modem {}: {e}", m.short_code))
        })
        .collect()
}

/// The SMS sandbox: on the embedded network, a development API key `dev`
/// made afresh at each start and printed with a ready `curl`.
fn dev_key(
    gateway: &crate::gateway::handle::GatewayHandle,
    emu: &crate::config::EmulatorSection,
    bound: &str,
) {
    use crate::gateway::api::GatewayApi;
    let keys = gateway.api_keys();
    let url = |u: &str| (!u.is_empty()).then(|| u.to_string());
    let req = crate::keys::KeyRequest {
        name: "dev".into(),
        webhook_url: url(&emu.dev_webhook_url),
        mo_url: url(&emu.dev_mo_url),
    };
    let token = url(&emu.dev_token);
    let made = keys
        .revoke("dev")
        .map_err(crate::keys::KeyError::from)
        .and_then(|_| keys.add_with_token(&req, token.as_deref(), chrono::Utc::now()))
        .and_then(|k| keys.flush().map(|()| k).map_err(Into::into));
    match made {
        Ok(k) => {
            println!("development API key: dev {}", k.token);
            println!("  webhook secret: {}", k.webhook_secret);
            println!(
                "  curl -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n    -d '{{\"to\": [\"+18095551234\"], \"text\": \"hola\"}}' http://{bound}/api/v1/conversations",
                k.token
            );
            println!(
                "  curl 'http://{bound}/cgi-bin/sendsms?username=dev&password={}&to=%2B18095551234&text=hola'",
                k.token
            );
        }
        Err(e) => tracing::error!(error = %e, "cannot make the development API key"),
    }
}
