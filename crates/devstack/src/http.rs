//! How every Agency listener serves HTTP: `agency dev`'s three, `agency serve`, `agency store
//! serve`, `agency chain` and an agent's metrics all go through [`serve`], so none of them can
//! forget a bound or the guard.
//!
//! - **Bounded** ([`Bounds`]): a client must send a request's headers within
//!   `header_timeout` (an idle keep-alive connection gets the same time to start its next
//!   request), its body with no gap longer than `body_timeout`, and the whole request within
//!   `request_timeout`; at most `max_connections` connections are open at once, and the rest
//!   wait in the kernel's backlog, so half-open sockets cannot exhaust the process's
//!   descriptors.
//! - **Guarded** ([`Guard`]): a web page on another site cannot use the listener. A request
//!   that can change something (any method but GET and HEAD, and every WebSocket handshake)
//!   and carries an `Origin` must come from the listener's own origin or one the operator
//!   listed (which also get CORS answers); a listener answers only `Host` names that cannot
//!   be rebound by DNS (IP literals, `localhost`) and the names the operator lists (as geth's
//!   `--http.vhosts`). Every answer carries `X-Content-Type-Options: nosniff`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// What a listener allows one client.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// To send a request's headers, counted from the connection's start or the end of its last
    /// answer (so it is also the idle timeout of a keep-alive connection).
    pub header_timeout: Duration,
    /// The longest gap between two pieces of a request body.
    pub body_timeout: Duration,
    /// To send a whole request and have it answered (the answer's body may stream longer: a
    /// large file from the gateway).
    pub request_timeout: Duration,
    /// Connections open at once; further ones wait to be accepted.
    pub max_connections: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
            max_connections: 512,
        }
    }
}

/// How long a stopping server waits for open requests before it closes their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Which web pages may use a listener, beyond its own origin, and by which names.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Origins (`https://app.example`) whose pages may call this listener; they get CORS
    /// answers. `*` allows every page.
    pub origins: Vec<String>,
    /// Host names the listener answers besides IP literals and `localhost` (geth's
    /// `--http.vhosts`): the names clients and a reverse proxy use for it. `*` answers any.
    pub hosts: Vec<String>,
}

/// Serves `app` on `listener`, [bounded](Bounds) and [guarded](Guard), until `shutdown`
/// completes; then stops accepting and lets open requests finish (upgraded connections such as
/// WebSockets are the app's to end).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: &Bounds,
    guard: &Guard,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let app = guard
        .apply(app, local)
        .layer(RequestBodyTimeoutLayer::new(bounds.body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            bounds.request_timeout,
        ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(bounds.header_timeout)
        .keep_alive(true);
    let permits = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let (stopping, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of descriptors or memory: wait instead of spinning; a connection
                    // that failed during accept is the client's problem.
                    if !is_connection_error(&e) {
                        tracing::warn!(error = %e, %local, "accepting a connection failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.wait_for(|s| *s) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stopping.send(true);
    // Open requests get a grace period; a client that stopped reading its answer does not hold
    // the shutdown.
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(%local, open = connections.len(), "closing connections still open after the grace period");
        connections.abort_all();
    }
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

impl Guard {
    fn apply(&self, app: Router, local: SocketAddr) -> Router {
        let check = Arc::new(Check {
            local,
            any_host: self.hosts.iter().any(|h| h == "*"),
            hosts: self.hosts.iter().map(|h| name_of(h)).collect(),
            any_origin: self.origins.iter().any(|o| o == "*"),
            origins: self.origins.clone(),
        });
        let app = if self.origins.is_empty() {
            app
        } else {
            let allow = if check.any_origin {
                AllowOrigin::any()
            } else {
                AllowOrigin::list(
                    self.origins
                        .iter()
                        .filter_map(|o| HeaderValue::from_str(o).ok()),
                )
            };
            app.layer(
                CorsLayer::new()
                    .allow_origin(allow)
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers([header::CONTENT_TYPE, header::ACCEPT]),
            )
        };
        app.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let check = check.clone();
                async move {
                    if let Err(refusal) = check.admit(&req) {
                        return (StatusCode::FORBIDDEN, refusal).into_response();
                    }
                    let mut res = next.run(req).await;
                    res.headers_mut().insert(
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    );
                    res
                }
            },
        ))
    }
}

struct Check {
    local: SocketAddr,
    any_host: bool,
    hosts: Vec<String>,
    any_origin: bool,
    origins: Vec<String>,
}

impl Check {
    fn admit(&self, req: &Request) -> Result<(), String> {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if !self.any_host
            && let Some(host) = host
            && !rebind_proof(host)
            && !self.hosts.contains(&name_of(host))
        {
            return Err(format!(
                "refused: this server answers requests for its IP addresses and localhost, \
                 not for {host:?} (a DNS-rebinding page would look like this); use \
                 http://{}/ or let the name in with --allowed-host\n",
                self.local
            ));
        }
        // Reads change nothing and a page cannot read another origin's answer without CORS;
        // a sandboxed frame's images (`Origin: null`) must load. A WebSocket is the exception:
        // its handshake is a GET, and it needs no CORS to talk.
        let upgrade = req.headers().contains_key(header::UPGRADE);
        if matches!(*req.method(), Method::GET | Method::HEAD) && !upgrade {
            return Ok(());
        }
        let Some(origin) = req.headers().get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("");
        let same = host.is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        });
        if same || self.any_origin || self.origins.iter().any(|o| o == origin) {
            return Ok(());
        }
        Err(format!(
            "refused: the web page at {origin} may not use this server (only its own pages, \
             and the origins its operator lists, may)\n"
        ))
    }
}

/// A `Host`'s name: no port, no trailing dot, lower case.
fn name_of(host: &str) -> String {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A `Host` whose name DNS cannot point elsewhere: an IP literal, `localhost` or a name under
/// it (browsers resolve those to loopback themselves).
fn rebind_proof(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        return rest
            .split(']')
            .next()
            .is_some_and(|ip| ip.parse::<IpAddr>().is_ok());
    }
    let name = name_of(host);
    name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::{name_of, rebind_proof};

    #[test]
    fn only_names_dns_cannot_rebind_pass() {
        for ok in [
            "127.0.0.1:8545",
            "127.0.0.1",
            "localhost:8547",
            "LOCALHOST",
            "app.localhost:1",
            "[::1]:8545",
            "10.0.0.2:80",
        ] {
            assert!(rebind_proof(ok), "{ok}");
        }
        assert_eq!(name_of("Agency.Example.:8547"), "agency.example");
        assert_eq!(name_of("agency.example"), "agency.example");
        for bad in [
            "evil.example:8545",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8545",
            "[evil]:1",
            "",
        ] {
            assert!(!rebind_proof(bad), "{bad}");
        }
    }
}
