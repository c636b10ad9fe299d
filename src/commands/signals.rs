//! Ctrl-C and SIGTERM for the long-running commands, caught from the moment
//! [`Signals::install`] runs (so a signal that comes early is not lost to the
//! default action), and SIGHUP ([`Hangups`]), which would otherwise kill the
//! process.

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment this is created.
pub struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// Resolves on the first SIGINT or SIGTERM.
    pub async fn wait(mut self) {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.term) => {}
            _ = next(&mut self.int) => {}
        }
    }
}

/// SIGHUP (`systemctl reload`), caught from the moment this is created so an
/// early one does not terminate the process.
pub struct Hangups(Option<tokio::signal::unix::Signal>);

impl Hangups {
    pub fn install() -> Hangups {
        use tokio::signal::unix::{signal, SignalKind};
        Hangups(signal(SignalKind::hangup()).ok())
    }

    /// Resolves on the next SIGHUP (never, if it could not be caught).
    pub async fn next(&mut self) {
        match &mut self.0 {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
}
