//! The emulated SMSC, running: an SMPP 3.4 server on a loopback TCP
//! listener whose short codes live on the same emulated network as the
//! modems. What an ESME submits lands in the phones' inboxes; what a phone
//! sends to a short code reaches the ESME as deliver_sm.
//!
//! - [`center`]: binds, submits, receipts, the MO queue (pure).
//! - [`wire`]: framing, rusmpp's codec (pure).
//! - [`text`]: data_coding, UDH, the parts of a phone's text (pure).
//! - [`receipt`]: Appendix B receipts, SMPP time (pure).
//! - [`faults`]: the SMSC's fault kinds (pure data).
//!
//! This file is the shell: one task per connection (reads, writes in
//! order, each write when its delay is up), one ticker, the pure state
//! under the emulator's one lock, time from its [`Clock`](crate::clock::Clock).

pub mod center;
pub mod faults;
pub mod receipt;
pub mod text;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub use center::{ConnId, Out, Smsc, SmscConfig, SmscSettings, SmscStatus, SubmitRecord};
pub use faults::SmscFault;

use super::{lock, Emulator, EmulatorError};

/// How often the SMSC's timers are looked at (enquire_link, resends,
/// receipts due).
const TICK: Duration = Duration::from_millis(50);
/// Bytes read from a connection at a time.
const READ_CHUNK: usize = 4096;

/// How to run the emulated SMSC.
#[derive(Debug, Clone)]
pub struct SmscOptions {
    /// Loopback address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    pub config: SmscConfig,
    pub settings: SmscSettings,
}

/// Where the SMSC listens, as `--json` and `GET /smsc` tell it.
#[derive(Debug, Clone, Serialize)]
pub struct SmscInfo {
    pub address: SocketAddr,
    pub short_codes: Vec<String>,
}

enum Write {
    Bytes {
        bytes: Vec<u8>,
        due: Instant,
    },
    /// Close once what is queued is written.
    Close,
    /// Close now; what is queued is lost (a dropped line).
    Abort,
}

/// The connections' writers, by connection.
#[derive(Default)]
pub(super) struct Links {
    writers: Mutex<BTreeMap<ConnId, mpsc::UnboundedSender<Write>>>,
    pub(super) address: Mutex<Option<SocketAddr>>,
}

impl Emulator {
    /// Binds the SMSC's listener and starts its tasks.
    pub(super) async fn serve_smsc(&self, addr: SocketAddr) -> Result<SocketAddr, EmulatorError> {
        if !addr.ip().is_loopback() {
            return Err(EmulatorError::Smsc(format!(
                "the SMSC serves loopback addresses only, not {addr}"
            )));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| EmulatorError::Smsc(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| EmulatorError::Smsc(e.to_string()))?;
        *lock(&self.inner.smsc.address) = Some(bound);
        let e = self.clone();
        let accept = tokio::spawn(async move { e.accept_smpp(listener).await });
        let e = self.clone();
        let ticker = tokio::spawn(async move { e.tick_smsc().await });
        lock(&self.inner.tasks).extend([accept, ticker]);
        Ok(bound)
    }

    /// Where the SMSC listens and its short codes; `None` without one.
    pub fn smsc_info(&self) -> Option<SmscInfo> {
        let address = (*lock(&self.inner.smsc.address))?;
        let st = lock(&self.inner.state);
        let smsc = st.smsc.as_ref()?;
        Some(SmscInfo {
            address,
            short_codes: smsc.short_codes().to_vec(),
        })
    }

    /// Binds, queue, faults and settings of the SMSC.
    pub fn smsc_status(&self) -> Option<SmscStatus> {
        lock(&self.inner.state).smsc.as_ref().map(Smsc::status)
    }

    /// Every submit_sm the SMSC answered, oldest first.
    pub fn smsc_submits(&self) -> Option<Vec<SubmitRecord>> {
        lock(&self.inner.state).smsc.as_ref().map(Smsc::submits)
    }

    pub fn smsc_inject(&self, fault: SmscFault) -> Result<(), EmulatorError> {
        let now = self.inner.clock.now_fixed();
        let mut st = lock(&self.inner.state);
        let super::State { network, smsc, .. } = &mut *st;
        let smsc = smsc.as_mut().ok_or(EmulatorError::NoSmsc)?;
        let outs = smsc.inject(fault, network, now);
        self.apply_smsc(outs);
        Ok(())
    }

    pub fn smsc_clear_faults(&self) -> Result<(), EmulatorError> {
        let mut st = lock(&self.inner.state);
        st.smsc
            .as_mut()
            .ok_or(EmulatorError::NoSmsc)?
            .clear_faults();
        Ok(())
    }

    pub fn smsc_settings(&self) -> Result<SmscSettings, EmulatorError> {
        let st = lock(&self.inner.state);
        Ok(st
            .smsc
            .as_ref()
            .ok_or(EmulatorError::NoSmsc)?
            .settings()
            .clone())
    }

    pub fn set_smsc_settings(&self, settings: SmscSettings) -> Result<(), EmulatorError> {
        let mut st = lock(&self.inner.state);
        st.smsc
            .as_mut()
            .ok_or(EmulatorError::NoSmsc)?
            .set_settings(settings);
        Ok(())
    }

    /// Carries out what the SMSC core returned.
    pub(super) fn apply_smsc(&self, outs: Vec<Out>) {
        if outs.is_empty() {
            return;
        }
        let mut writers = lock(&self.inner.smsc.writers);
        let now = Instant::now();
        for out in outs {
            match out {
                Out::Send { conn, bytes, delay } => {
                    if let Some(w) = writers.get(&conn) {
                        let _ = w.send(Write::Bytes {
                            bytes,
                            due: now + delay,
                        });
                    }
                }
                Out::Close { conn, at_once } => {
                    if let Some(w) = writers.remove(&conn) {
                        let _ = w.send(if at_once { Write::Abort } else { Write::Close });
                    }
                }
            }
        }
    }

    async fn accept_smpp(&self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let now = self.inner.clock.now_fixed();
                    let (tx, rx) = mpsc::unbounded_channel();
                    let conn = {
                        let mut st = lock(&self.inner.state);
                        let Some(smsc) = st.smsc.as_mut() else { return };
                        let conn = smsc.connect(now);
                        st.network
                            .note(now, &peer.to_string(), "smsc", "smpp connection");
                        conn
                    };
                    lock(&self.inner.smsc.writers).insert(conn, tx);
                    let e = self.clone();
                    let task = tokio::spawn(async move { e.run_smpp(conn, stream, rx).await });
                    lock(&self.inner.tasks).push(task);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "emulator: SMSC accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// One connection: what it reads goes to the core; what the core
    /// writes leaves in order, each piece when its delay is up.
    async fn run_smpp(
        &self,
        conn: ConnId,
        mut stream: TcpStream,
        mut writes: mpsc::UnboundedReceiver<Write>,
    ) {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut queued: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        let mut closing = false;
        loop {
            if closing && queued.is_empty() {
                break;
            }
            let next_due = queued.front().map(|(due, _)| *due);
            tokio::select! {
                n = stream.read(&mut buf), if !closing => match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let now = self.inner.clock.now_fixed();
                        let outs = {
                            let mut st = lock(&self.inner.state);
                            let super::State { network, smsc, .. } = &mut *st;
                            match smsc.as_mut() {
                                Some(s) => s.input(conn, &buf[..n], network, now),
                                None => Vec::new(),
                            }
                        };
                        self.apply_smsc(outs);
                    }
                },
                w = writes.recv() => match w {
                    Some(Write::Bytes { bytes, due }) => queued.push_back((due, bytes)),
                    Some(Write::Close) | None => closing = true,
                    Some(Write::Abort) => break,
                },
                () = sleep_until(next_due) => {
                    if let Some((_, bytes)) = queued.pop_front() {
                        if stream.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        let _ = stream.shutdown().await;
        lock(&self.inner.smsc.writers).remove(&conn);
        let now = self.inner.clock.now_fixed();
        let mut st = lock(&self.inner.state);
        let super::State { network, smsc, .. } = &mut *st;
        if let Some(s) = smsc.as_mut() {
            s.disconnect(conn, network, now);
        }
    }

    async fn tick_smsc(&self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = self.inner.clock.now_fixed();
            let outs = {
                let mut st = lock(&self.inner.state);
                let super::State { network, smsc, .. } = &mut *st;
                match smsc.as_mut() {
                    Some(s) => s.tick(network, now),
                    None => return,
                }
            };
            self.apply_smsc(outs);
        }
    }
}

/// Sleeps until `due`; never returns without one.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
