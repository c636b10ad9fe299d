//! The HTTP listener's accept loop, so that one client cannot take the
//! service: axum's `serve` accepts without bound and keeps idle
//! connections and unfinished headers for ever.
//!
//! - **Connection budget.** At most `[http] max_connections_per_client`
//!   open connections per client (an IPv4 address or an IPv6 /64, as the
//!   send quota counts them), and `max_connections` in all (by default
//!   the process's file limit less a reserve for the modems, the store and
//!   the admin). A connection over a cap gets `503` with `Retry-After: 1`
//!   and is closed; each refusal is counted
//!   (`smsgate_http_connections_refused_total`).
//! - **Timeouts.** A request's headers must arrive within `header_timeout`
//!   (hyper's header read timeout, which also bounds a kept-alive
//!   connection's wait for its next request). A connection on which no
//!   byte moves either way for `keepalive_timeout` is closed: a request
//!   body that stops coming, a client that stops reading its answer. A
//!   live stream writes a keep-alive comment every 15 s, so it stays (the
//!   configuration refuses a bound under 20 s). A request body must have
//!   come whole within `body_timeout` of its headers (else `408`, and the
//!   connection closes). A response write that cannot go on for
//!   `write_timeout` closes the connection: userland sees the write wait,
//!   and the kernel's `TCP_USER_TIMEOUT` (tcp(7)) gives up on data the
//!   client never acknowledges (a phone that left the network mid-stream).
//! - **Graceful shutdown.** On the shutdown token no connection is taken
//!   and every open one finishes its request (live streams end on the
//!   same token).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::limits::client_key;

/// The limits of `[http]` the listener keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnLimits {
    pub max_connections_per_client: usize,
    /// 0: from the file limit.
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub body_timeout: Duration,
    pub write_timeout: Duration,
    /// Live streams per session (tabs) and per client; 0: no bound.
    pub max_streams_per_session: usize,
    pub max_streams_per_client: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections_per_client: 32,
            max_connections: 0,
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_streams_per_session: 4,
            max_streams_per_client: 24,
        }
    }
}

/// Descriptors kept for everything but HTTP connections: modems, the
/// store's files, the emulator's pseudo-terminals, logs, admin checks.
const FD_RESERVE: u64 = 128;

/// Raises the soft file limit to the hard one (at most 65 536): systemd
/// starts services with 1 024, which would cap connections far below
/// what the per-client bound lets many clients hold.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            let want = lim.rlim_max.min(65_536);
            if want > lim.rlim_cur {
                lim.rlim_cur = want;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// `max_connections`, or what the file limit allows.
pub fn total_cap(limits: &ConnLimits) -> usize {
    if limits.max_connections > 0 {
        return limits.max_connections;
    }
    let mut lim = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 1024,
    };
    // SAFETY: getrlimit writes the struct it is given, nothing else.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        1024
    };
    (soft as u64).saturating_sub(FD_RESERVE).clamp(16, 1 << 20) as usize
}

/// Connections now, per client key; refusals so far.
#[derive(Default)]
pub struct ConnCounts {
    open: Mutex<HashMap<IpAddr, usize>>,
    total: AtomicUsize,
    /// The most connections open since memory was last given back.
    peak: AtomicUsize,
    /// Connections ended since memory was last given back after a burst.
    ended: AtomicUsize,
    pub refused: AtomicU64,
}

/// Past a crowd this large, once three quarters of it has gone, freed
/// heap is given back to the system (a flood's buffers would otherwise
/// stay as the process's high-water mark).
const TRIM_AFTER_PEAK: usize = 256;

/// After this many connections (a burst of sends, say: one each), freed
/// heap is given back once no connection has ended for [`QUIET`]. Many
/// requests in flight at once leave their buffers freed between the
/// sessions they created; glibc keeps those pages until trimmed.
const TRIM_AFTER_CONNECTIONS: usize = 64;
const QUIET: Duration = Duration::from_secs(1);

impl ConnCounts {
    /// Takes a slot for `client`, or `None` over a cap.
    fn take(self: &Arc<Self>, client: IpAddr, per_client: usize, total: usize) -> Option<Slot> {
        let key = client_key(client);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.get(&key).copied().unwrap_or(0);
        if n >= per_client || self.total.load(Ordering::SeqCst) >= total {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        open.insert(key, n + 1);
        let now = self.total.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        Some(Slot {
            counts: self.clone(),
            key,
        })
    }

    /// Open connections in all.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

/// One connection's place in the counts, given back when dropped.
struct Slot {
    counts: Arc<ConnCounts>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
        let now = self.counts.total.fetch_sub(1, Ordering::SeqCst) - 1;
        drop(open);
        if self.counts.ended.fetch_add(1, Ordering::Relaxed) + 1 == TRIM_AFTER_CONNECTIONS {
            trim_when_quiet(self.counts.clone());
        }
        let peak = self.counts.peak.load(Ordering::Relaxed);
        if peak >= TRIM_AFTER_PEAK
            && now <= peak / 4
            && self
                .counts
                .peak
                .compare_exchange(peak, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            crate::memory::give_back_free_memory();
        }
    }
}

/// Gives freed heap back once no connection has ended for [`QUIET`]: one
/// waiter per burst, which wakes once a second while the burst lasts.
fn trim_when_quiet(counts: Arc<ConnCounts>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            let seen = counts.ended.load(Ordering::Relaxed);
            tokio::time::sleep(QUIET).await;
            if counts.ended.load(Ordering::Relaxed) == seen {
                break;
            }
        }
        counts.ended.store(0, Ordering::Relaxed);
        crate::memory::give_back_free_memory();
    });
}

/// A stream that records when a byte last moved either way, and since
/// when a write has been waiting.
struct Watched<S> {
    inner: S,
    marks: Arc<Marks>,
    start: tokio::time::Instant,
}

/// Milliseconds since the connection's start.
#[derive(Default)]
struct Marks {
    /// A byte last moved.
    last: AtomicU64,
    /// A write began to wait, plus 1; 0: no write waits.
    write_waits: AtomicU64,
}

impl<S> Watched<S> {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
    fn touch(&self) {
        self.marks.last.store(self.now(), Ordering::Relaxed);
    }
    /// Notes whether a write could go on.
    fn write_waits(&self, pending: bool) {
        let w = &self.marks.write_waits;
        if !pending {
            w.store(0, Ordering::Relaxed);
        } else if w.load(Ordering::Relaxed) == 0 {
            w.store(self.now() + 1, Ordering::Relaxed);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        self.write_waits(r.is_pending());
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        self.write_waits(r.is_pending());
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.write_waits(r.is_pending());
        r
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The answer to a connection over a cap.
const OVER_CAP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: application/json\r\nContent-Length: 79\r\nConnection: close\r\n\r\n\
{\"error\":\"too_many_connections\",\"message\":\"too many connections; try again\"}\n";

/// Serves `app` on `listener` within `limits` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    counts: Arc<ConnCounts>,
    shutdown: CancellationToken,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let total = total_cap(&limits);
    tracing::info!(
        per_client = limits.max_connections_per_client,
        total,
        "HTTP connection limits"
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => {
                    backoff = Duration::from_millis(10);
                    x
                }
                Err(e) => {
                    // EMFILE and the like: wait a little rather than spin
                    // (and never log it in a loop).
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let per_client = match limits.max_connections_per_client {
            0 => usize::MAX,
            n => n,
        };
        let Some(slot) = counts.take(peer.ip(), per_client, total) else {
            tokio::spawn(async move {
                let mut stream = stream;
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), stream.write_all(OVER_CAP)).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Data the client does not acknowledge for `write_timeout` ends
        // the connection in the kernel (tcp(7) TCP_USER_TIMEOUT).
        let _ = socket2::SockRef::from(&stream).set_tcp_user_timeout(Some(limits.write_timeout));
        let (app, limits, tls) = (app.clone(), limits.clone(), tls.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            // Each branch boxes its own future: the task then holds only
            // the one it runs, not room for the larger TLS one on every
            // plain connection.
            match tls {
                None => Box::pin(serve_conn(stream, peer, app, &limits, watcher, false)).await,
                Some(acceptor) => {
                    // The handshake is bounded like a request's headers.
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => {
                            Box::pin(serve_conn(tls, peer, app, &limits, watcher, true)).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    // Every open connection finishes what it was doing.
    graceful.shutdown().await;
    Ok(())
}

/// Bytes a connection buffers each way: hyper's smallest bound. A
/// request head longer than this is refused (`431`), and neither buffer
/// grows past it (hyper's default lets each reach ~400 KiB and keeps them
/// for the connection's life).
const MAX_BUF: usize = 8192;

/// HTTP/1.1 with the header timeout and bounded buffers. Responses are
/// written from a queue of the body's own chunks (`writev`), not copied
/// into the connection's head buffer: a large answer (a page, a script)
/// would otherwise leave that buffer grown for as long as the browser
/// keeps the connection, which is often a live stream's.
fn http1_builder(limits: &ConnLimits) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_BUF)
        .writev(true);
    builder
}

/// One connection: HTTP/1.1 with the header timeout, closed after
/// `keepalive_timeout` without a byte moving or a write waiting
/// `write_timeout`; request bodies bounded by `body_timeout`.
async fn serve_conn<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: &ConnLimits,
    watcher: hyper_util::server::graceful::Watcher,
    via_tls: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let marks = Arc::new(Marks::default());
    let io = Watched {
        inner: stream,
        marks: marks.clone(),
        start: tokio::time::Instant::now(),
    };
    let start = io.start;
    let body_timeout = limits.body_timeout;
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            if via_tls {
                req.extensions_mut().insert(super::tls::ViaTls);
            }
            let app = app.clone();
            async move {
                use tower::ServiceExt;
                let req = req.map(|body| {
                    if http_body::Body::is_end_stream(&body) {
                        axum::body::Body::new(body)
                    } else {
                        axum::body::Body::new(Deadline::new(body, body_timeout))
                    }
                });
                app.oneshot(req).await
            }
        });
    let builder = http1_builder(limits);
    let conn = watcher.watch(builder.serve_connection(TokioIo::new(io), service));
    tokio::pin!(conn);
    let idle = limits.keepalive_timeout;
    let write = limits.write_timeout;
    let since = |ms: u64| start.elapsed().saturating_sub(Duration::from_millis(ms));
    loop {
        let quiet_for = since(marks.last.load(Ordering::Relaxed));
        let waits = marks.write_waits.load(Ordering::Relaxed);
        let write_waits_for = (waits > 0).then(|| since(waits - 1));
        if quiet_for >= idle {
            tracing::debug!(%peer, "idle connection closed");
            return;
        }
        if write_waits_for.is_some_and(|w| w >= write) {
            tracing::debug!(%peer, "connection closed: the client does not take its answer");
            return;
        }
        let next = match write_waits_for {
            Some(w) => (idle - quiet_for).min(write - w),
            // A write may begin to wait at any moment: look again within
            // `write_timeout`.
            None => (idle - quiet_for).min(write),
        };
        tokio::select! {
            r = &mut conn => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = tokio::time::sleep(next) => {}
        }
    }
}

/// A request body that must come whole by a deadline: a client sending
/// a byte now and then (slowloris) cannot hold a request open.
struct Deadline {
    inner: hyper::body::Incoming,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: hyper::body::Incoming, timeout: Duration) -> Self {
        Deadline {
            inner,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

/// The error of a body that did not come in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(Duration);

impl http_body::Body for Deadline {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(BodyTimedOut(self.timeout).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each connection may buffer is set, not hyper's default: its
    /// buffers are the largest part of an open live stream's memory.
    #[test]
    fn connections_buffer_at_most_max_buf_each_way() {
        let builder = format!("{:?}", http1_builder(&ConnLimits::default()));
        assert!(
            builder.contains(&format!("max_buf_size: Some({MAX_BUF})")),
            "{builder}"
        );
        assert!(builder.contains("h1_writev: Some(true)"), "{builder}");
    }
}
