//! The `Modem` actor: a thin actix shell around one driver task. It owns
//! the send queue, forwards `SendSms` to the driver, answers `GetStatus`,
//! and restarts the driver task if it ever panics (an actix Supervisor
//! would not: a panicking actor is simply gone), so a bug never leaves a
//! dead modem behind.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::driver::{self, DriverConfig, SendQueue, SendRequest};
use super::types::{ModemEvent, ModemStatus, OutgoingSms, SendOutcome, SharedStatus};

/// Pause before a panicked driver is started again.
const RESTART_DELAY: Duration = Duration::from_millis(500);
/// Queue bound per modem; beyond it sends are refused (the outbox keeps them).
const QUEUE_CAPACITY: usize = 10_000;

/// Send one SMS through this modem. Resolves when the network accepted or
/// refused it; a modem that is down makes it wait.
#[derive(Message)]
#[rtype(result = "SendOutcome")]
pub struct SendSms(pub OutgoingSms);

/// The modem's status.
#[derive(Message)]
#[rtype(result = "ModemStatus")]
pub struct GetStatus;

/// What runs a modem: [`driver::run`], or a stand-in in tests.
pub type Runner = Arc<
    dyn Fn(
        DriverConfig,
        SendQueue,
        mpsc::UnboundedSender<ModemEvent>,
        SharedStatus,
    ) -> futures_util::future::LocalBoxFuture<'static, ()>,
>;

/// One GSM modem.
pub struct Modem {
    runner: Runner,
    cfg: DriverConfig,
    sender: mpsc::Sender<SendRequest>,
    queue: SendQueue,
    events: mpsc::UnboundedSender<ModemEvent>,
    status: SharedStatus,
    driver: Option<tokio::task::AbortHandle>,
}

impl Modem {
    pub fn new(
        cfg: DriverConfig,
        events: mpsc::UnboundedSender<ModemEvent>,
        status: SharedStatus,
    ) -> Self {
        let runner: Runner = Arc::new(|cfg, queue, events, status| {
            Box::pin(driver::run(cfg, queue, events, status))
        });
        Self::with_runner(runner, cfg, events, status)
    }

    /// A modem run by `runner` (tests use it to prove restarts).
    pub fn with_runner(
        runner: Runner,
        cfg: DriverConfig,
        events: mpsc::UnboundedSender<ModemEvent>,
        status: SharedStatus,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        Modem {
            runner,
            cfg,
            sender,
            queue: Arc::new(Mutex::new(receiver)),
            events,
            status,
            driver: None,
        }
    }

    pub fn status_handle(&self) -> SharedStatus {
        self.status.clone()
    }

    fn spawn_driver(&mut self, ctx: &mut Context<Self>) {
        let task = tokio::task::spawn_local((self.runner)(
            self.cfg.clone(),
            self.queue.clone(),
            self.events.clone(),
            self.status.clone(),
        ));
        self.driver = Some(task.abort_handle());
        ctx.spawn(
            task.into_actor(self)
                .map(|result, act, ctx| match result {
                    Err(e) if e.is_panic() => {
                        tracing::error!(modem = %act.cfg.short_code, "modem driver panicked; restarting it");
                        act.status.update(|s| s.restarts += 1);
                        ctx.run_later(RESTART_DELAY, |act, ctx| act.spawn_driver(ctx));
                    }
                    _ => ctx.stop(),
                }),
        );
    }
}

impl Actor for Modem {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.spawn_driver(ctx);
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        // The driver owns the port: ending it closes the port (serial ports
        // open exclusively, so a successor could not open it otherwise).
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
        Running::Stop
    }
}

/// Stops the modem and closes its port.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopModem;

impl Handler<StopModem> for Modem {
    type Result = ();

    fn handle(&mut self, _: StopModem, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<SendSms> for Modem {
    type Result = ResponseFuture<SendOutcome>;

    fn handle(&mut self, msg: SendSms, _ctx: &mut Self::Context) -> Self::Result {
        let sender = self.sender.clone();
        let status = self.status.clone();
        Box::pin(async move {
            let (reply, outcome) = oneshot::channel();
            status.enqueued();
            if sender
                .send(SendRequest { sms: msg.0, reply })
                .await
                .is_err()
            {
                status.dequeued();
                return SendOutcome::Failed {
                    reason: "the modem is shutting down".into(),
                    permanent: false,
                };
            }
            outcome.await.unwrap_or(SendOutcome::Failed {
                // The driver restarted while sending: the caller retries.
                reason: "the modem restarted during the send".into(),
                permanent: false,
            })
        })
    }
}

impl Handler<GetStatus> for Modem {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.status.get())
    }
}
