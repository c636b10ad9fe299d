//! The `Modem` actor: a thin actix shell around one driver task. It owns
//! the send and USSD queues, forwards `SendSms` and `Ussd` to the driver,
//! answers `GetStatus`,
//! and restarts the driver task if it ever panics (an actix Supervisor
//! would not: a panicking actor is simply gone), so a bug never leaves a
//! dead modem behind.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::driver::{self, DriverConfig, Queues, SendQueue, SendRequest, UssdJob};
use super::types::{
    ModemEvent, ModemState, ModemStatus, OutgoingSms, SendOutcome, SharedStatus, UssdAnswer,
    UssdError,
};

/// Pause before a panicked driver is started again.
const RESTART_DELAY: Duration = Duration::from_millis(500);
/// Queue bound per modem; beyond it sends are refused (the outbox keeps them).
const QUEUE_CAPACITY: usize = 10_000;

/// Send one SMS through this modem. Resolves when the network accepted or
/// refused it; a modem that is down makes it wait.
#[derive(Message)]
#[rtype(result = "SendOutcome")]
pub struct SendSms(pub OutgoingSms);

/// USSD requests waiting for the driver; beyond it a request is refused
/// at once (a person waits for each one).
const USSD_QUEUE: usize = 8;
/// The longest a USSD request is waited for: a send in progress (up to
/// its `+CMGS` timeout), then the exchange itself.
const USSD_WAIT: Duration = Duration::from_secs(180);

/// Sends a USSD code (`*123#`), or the answer to the open menu, through
/// this modem. Fails at once when the modem is not up.
#[derive(Message)]
#[rtype(result = "Result<UssdAnswer, UssdError>")]
pub struct Ussd(pub String);

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
    ussd: mpsc::Sender<UssdJob>,
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
        let (sender, sends) = mpsc::channel(QUEUE_CAPACITY);
        let (ussd, ussd_jobs) = mpsc::channel(USSD_QUEUE);
        Modem {
            runner,
            cfg,
            sender,
            ussd,
            queue: Arc::new(Mutex::new(Queues {
                sends,
                ussd: ussd_jobs,
            })),
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

impl Handler<Ussd> for Modem {
    type Result = ResponseFuture<Result<UssdAnswer, UssdError>>;

    fn handle(&mut self, msg: Ussd, _ctx: &mut Self::Context) -> Self::Result {
        let jobs = self.ussd.clone();
        let status = self.status.clone();
        Box::pin(async move {
            let state = status.get().state;
            if state != ModemState::Up {
                return Err(UssdError::NotReady(format!("the modem is {state:?}")));
            }
            let (reply, answer) = oneshot::channel();
            jobs.try_send(UssdJob { code: msg.0, reply })
                .map_err(|_| UssdError::NotReady("too many USSD requests waiting".into()))?;
            match tokio::time::timeout(USSD_WAIT, answer).await {
                Ok(Ok(answer)) => answer,
                // The driver restarted while serving it.
                Ok(Err(_)) => Err(UssdError::NotReady("the modem restarted".into())),
                Err(_) => Err(UssdError::NoAnswer),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modem(runner: Runner) -> (Addr<Modem>, SharedStatus) {
        let cfg = DriverConfig::new("1234", "/dev/null");
        let status = SharedStatus::new(ModemStatus::new("1234", "/dev/null"));
        let (events, _) = mpsc::unbounded_channel();
        let addr = Modem::with_runner(runner, cfg, events, status.clone()).start();
        (addr, status)
    }

    /// A modem that is not up refuses USSD at once, without queueing it.
    #[actix::test]
    async fn ussd_on_a_modem_not_up_fails_at_once() {
        let runner: Runner = Arc::new(|_, _, _, _| Box::pin(std::future::pending()));
        let (addr, _) = modem(runner);
        let answer = tokio::time::timeout(Duration::from_secs(1), addr.send(Ussd("*123#".into())))
            .await
            .ok()
            .and_then(Result::ok);
        assert!(
            matches!(answer, Some(Err(UssdError::NotReady(_)))),
            "{answer:?}"
        );
    }

    /// A request reaches the driver's USSD queue and its answer comes back.
    #[actix::test]
    async fn ussd_goes_through_the_driver_queue() {
        let runner: Runner = Arc::new(|_, queue, _, status| {
            Box::pin(async move {
                status.update(|s| s.state = ModemState::Up);
                let job = queue.lock().await.ussd.recv().await;
                if let Some(job) = job {
                    let _ = job.reply.send(Ok(UssdAnswer {
                        reply: format!("answer to {}", job.code),
                        session_open: false,
                        status: 0,
                    }));
                }
                std::future::pending::<()>().await;
            })
        });
        let (addr, status) = modem(runner);
        while status.get().state != ModemState::Up {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let answer = addr.send(Ussd("*123#".into())).await.ok();
        assert_eq!(
            answer.and_then(Result::ok).map(|a| a.reply),
            Some("answer to *123#".into())
        );
    }
}
