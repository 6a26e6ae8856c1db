//! Accepting connections as a service must: a cap on how many are served at once, a deadline
//! for a request's headers (which also ends idle keep-alive connections) and for its body, an
//! open-files limit raised at start, and a drain on shutdown. `axum::serve` has none of these
//! knobs: it holds a silent socket forever and, out of descriptors, logs once a second while
//! `/healthz` goes unanswered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Descriptors kept back from connections: the database pool, attachments being read or
/// written, webhook calls and the log.
const RESERVED_FILES: u64 = 256;
/// Connections beyond the cap that are still served, one request each on a short deadline, so
/// a health check or a person gets an answer while idle sockets hold the regular places.
const OVERFLOW: usize = 64;
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long in-flight requests (and open live-update streams) get to finish on shutdown.
const DRAIN: Duration = Duration::from_secs(20);
/// Repeated accept errors and "at the cap" are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// Reading a request's headers; also how long a keep-alive connection may sit idle.
    pub header_timeout: Duration,
    /// Reading a request's body.
    pub body_timeout: Duration,
}

/// Raises the open-files soft limit to the hard limit and returns the connection cap that
/// leaves room for everything else the process opens.
pub fn connection_cap(wanted: usize) -> usize {
    let files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024)
        }
    };
    let room = files.saturating_sub(RESERVED_FILES + OVERFLOW as u64).max(16);
    let cap = wanted.min(usize::try_from(room).unwrap_or(usize::MAX));
    tracing::info!(open_files = files, max_connections = cap, "connection limits");
    cap
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    let regular = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW));
    let graceful = GracefulShutdown::new();
    let mut last_log: Option<Instant> = None;
    let mut noisy = |what: &str, err: Option<&std::io::Error>| {
        if last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            last_log = Some(Instant::now());
            match err {
                Some(e) => tracing::warn!(error = %e, "{what}"),
                None => tracing::warn!(max = limits.max_connections, "{what}"),
            }
        }
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was taken: wait a
                    // moment for some to close rather than spin.
                    noisy("accepting a connection failed", Some(&e));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (permit, header_timeout, keep_alive) = match regular.clone().try_acquire_owned() {
            Ok(p) => (p, limits.header_timeout, true),
            Err(_) => match overflow.clone().try_acquire_owned() {
                Ok(p) => {
                    noisy("connection limit reached: new connections get one request each", None);
                    (p, OVERFLOW_HEADER_TIMEOUT, false)
                }
                Err(_) => {
                    noisy("connection limit and overflow reached: closing new connections", None);
                    drop(stream);
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            (header_timeout, keep_alive),
            graceful.watcher(),
            permit,
        ));
    }
    drop(listener);
    tracing::info!(connections = graceful.count(), "draining connections");
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain period; closing them");
    }
    Ok(())
}

/// Serves one connection to its end, holding its place under the cap until then.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    (header_timeout, keep_alive): (Duration, bool),
    watcher: Watcher,
    permit: OwnedSemaphorePermit,
) {
    // Handlers read the peer address as axum's `ConnectInfo`.
    let svc = TowerToHyperService::new(router.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    }));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(keep_alive)
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = watcher.watch(conn).await {
        // Timeouts and resets are the client's doing: worth a trace, not a warning.
        tracing::debug!(error = %e, "connection ended");
    }
    drop(permit);
}
