//! The one rig of "the gateway on the emulated network", in-process: an
//! [`Emulator`] with N modems, a driver configuration per modem, and the
//! real gateway (`smsgate::gateway::start` over a [`ModemPool`]) on a store
//! in a temporary directory, handed out once every modem is up.
//!
//! ```ignore
//! let rig = Rig::start(Setup::new(3)).await;
//! rig.gw.send(None, request, client).await?;
//! rig.emu.phone_send(PHONE, &rig.codes[0], "hola", PartOrder::InOrder)?;
//! // A restart on the same store, the network running on:
//! let net = rig.stop().await;
//! let rig = net.start_gateway().await?;
//! rig.shutdown().await;
//! ```
//!
//! [`Network`] alone is the emulator and its driver configurations, for
//! suites that drive a [`ModemPool`] of their own (hil-tests).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smsgate::clock::SystemClock;
use smsgate::config::{Config, ModemConfig};
use smsgate::emulator::dce::Settings;
use smsgate::emulator::{Emulator, EmulatorConfig, ModemInfo};
use smsgate::gateway::api::GatewayApi;
use smsgate::gateway::handle::GatewayHandle;
use smsgate::modem::driver::DriverConfig;
use smsgate::modem::pool::ModemPool;
use smsgate::modem::profile::Profile;
use smsgate::modem::types::ModemState;
use smsgate::session::{CoreConfig, SessionCore, ShortCode};
use smsgate::store::{Store, DEFAULT_CACHE_BYTES};
use tokio::sync::mpsc;

/// How the modems' drivers are configured.
#[derive(Clone, Copy)]
pub enum Drivers {
    /// Short health checks, sweeps and reconnect backoffs: faults are
    /// noticed and recovered from in test time.
    Quick,
    /// [`DriverConfig::new`]'s defaults (the generic profile's timings).
    Defaults,
    /// As on an appliance: the generic profile loaded from
    /// firmware-config/, the modems opened through stable links (as with
    /// `/dev/serial/by-id`).
    Appliance,
    /// Made by this function from each emulated modem.
    Custom(fn(&ModemInfo) -> DriverConfig),
}

/// What a rig is made of.
pub struct Setup {
    /// Emulated modems, each with its own SIM number (short code).
    pub modems: usize,
    pub drivers: Drivers,
    /// The gateway's configuration (session, limits, tariff...); its pool
    /// of short codes is the emulated modems'.
    pub config: Config,
    /// Bound on the modems coming up (liveness, never a measurement).
    pub within: Duration,
    /// The emulated modems' settings: model, delays, capacities.
    pub emulator: Settings,
    /// The supervisor's settings (failover, validity, record keeping).
    pub gateway: smsgate::gateway::supervisor::Settings,
}

impl Setup {
    /// `modems` modems, [`Drivers::Quick`], the default configuration.
    pub fn new(modems: usize) -> Setup {
        Setup {
            modems,
            drivers: Drivers::Quick,
            config: Config::default(),
            within: Duration::from_secs(30),
            emulator: Settings::default(),
            gateway: Default::default(),
        }
    }
}

/// The emulated network without a gateway: a fresh one, or a [`Rig`]'s
/// after [`Rig::stop`].
pub struct Network {
    pub emu: Emulator,
    /// One driver configuration per modem, in modem order.
    pub drivers: Vec<DriverConfig>,
    /// The modems' SIM numbers (the short codes), in modem order.
    pub codes: Vec<String>,
    /// Holds the store (`store/`) and the modems' links (`by-id/`).
    pub dir: tempfile::TempDir,
    setup: Setup,
}

impl Network {
    /// Starts an emulator with `setup.modems` modems and configures a
    /// driver for each.
    pub async fn start(setup: Setup) -> Result<Network, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        // Stable links (as `/dev/serial/by-id`) for every modem: a replugged
        // modem gets a new pseudo-terminal, and another test's may get its
        // old number.
        let links = Some(dir.path().join("by-id"));
        let emu = Emulator::start(EmulatorConfig {
            modems: setup.modems,
            link_dir: links,
            settings: setup.emulator.clone(),
            ..EmulatorConfig::default()
        })
        .await
        .map_err(|e| format!("start the emulator: {e}"))?;
        let modems = emu.modems();
        let drivers: Vec<DriverConfig> = match setup.drivers {
            Drivers::Quick => modems.iter().map(quick).collect(),
            Drivers::Defaults => modems
                .iter()
                .map(|m| DriverConfig::new(&m.number, &m.path.to_string_lossy()))
                .collect(),
            Drivers::Appliance => {
                let profile = Profile::load("generic", None).map_err(|e| e.to_string())?;
                modems.iter().map(|m| appliance(m, &profile)).collect()
            }
            Drivers::Custom(make) => modems.iter().map(make).collect(),
        };
        let codes = drivers.iter().map(|d| d.short_code.clone()).collect();
        Ok(Network {
            emu,
            drivers,
            codes,
            dir,
            setup,
        })
    }

    /// Where the gateway's store lives.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Starts the real gateway on the modems and the store (what an
    /// earlier gateway left in it is restored) and waits until every
    /// modem is up.
    pub async fn start_gateway(self) -> Result<Rig, String> {
        let store = Store::open(&self.store_dir(), DEFAULT_CACHE_BYTES)
            .map_err(|e| format!("open the store: {e}"))?;
        let mut core = CoreConfig::from_config(&self.setup.config).map_err(|e| e.to_string())?;
        core.pool = self.codes.iter().map(|c| ShortCode(c.clone())).collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let pool = ModemPool::start(self.drivers.clone(), tx);
        let gw = smsgate::gateway::start(
            SessionCore::new(core),
            store.clone(),
            pool,
            rx,
            Arc::new(SystemClock),
            self.setup.gateway.clone(),
        )
        .map_err(|e| format!("start the gateway: {e}"))?;
        let up = super::try_eventually_async("every modem up", self.setup.within, async || {
            let modems = gw.modems().await;
            modems
                .iter()
                .all(|s| s.state == ModemState::Up)
                .then_some(())
        })
        .await;
        if let Err(e) = up {
            gw.shutdown().await;
            return Err(e);
        }
        Ok(Rig {
            emu: self.emu,
            gw,
            store,
            codes: self.codes,
            dir: self.dir,
            drivers: self.drivers,
            setup: self.setup,
        })
    }
}

/// The gateway on its own emulated network, every modem up.
pub struct Rig {
    pub emu: Emulator,
    pub gw: GatewayHandle,
    /// The gateway's store (a handle on the same database).
    pub store: Store,
    /// The modems' SIM numbers (the short codes), in modem order.
    pub codes: Vec<String>,
    /// Holds the store (`store/`) and the modems' links (`by-id/`).
    pub dir: tempfile::TempDir,
    drivers: Vec<DriverConfig>,
    setup: Setup,
}

impl Rig {
    /// Starts a rig; panics when it cannot.
    pub async fn start(setup: Setup) -> Rig {
        Rig::try_start(setup)
            .await
            .unwrap_or_else(|e| panic!("start the rig: {e}"))
    }

    /// Starts a rig, or says why it could not.
    pub async fn try_start(setup: Setup) -> Result<Rig, String> {
        Network::start(setup).await?.start_gateway().await
    }

    /// Where the gateway's store lives.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Shuts the gateway down (saved, flushed, modems stopped) and lets go
    /// of its store; the emulated network runs on, so
    /// [`Network::start_gateway`] starts it again on the same store.
    pub async fn stop(self) -> Network {
        self.gw.shutdown().await;
        drop(self.gw);
        drop(self.store);
        Network {
            emu: self.emu,
            drivers: self.drivers,
            codes: self.codes,
            dir: self.dir,
            setup: self.setup,
        }
    }

    /// Shuts the gateway and the emulated network down.
    pub async fn shutdown(&self) {
        self.gw.shutdown().await;
        self.emu.shutdown();
    }
}

/// [`Drivers::Quick`].
fn quick(m: &ModemInfo) -> DriverConfig {
    DriverConfig {
        health_interval: Duration::from_millis(500),
        sweep_interval: Duration::from_secs(1),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        ..DriverConfig::new(&m.number, &m.path.to_string_lossy())
    }
}

/// [`Drivers::Appliance`].
fn appliance(m: &ModemInfo, profile: &Profile) -> DriverConfig {
    let port = m.link.as_ref().unwrap_or(&m.path);
    let modem = ModemConfig {
        profile: profile.name.clone(),
        ..ModemConfig::new(&port.to_string_lossy(), &m.number)
    };
    DriverConfig::from_config(&modem, profile)
}
