//! How a serving command bounds its clients (`agency dev`, `serve`, `store serve`, `chain`):
//! the options behind [`agency_devstack::http::Bounds`].

use std::time::Duration;

use agency_devstack::http::{Bounds, Guard};
use clap::Args;

use super::parse_duration;

/// Limits on each client of the servers this command runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server Options")]
pub(crate) struct ServeOpts {
    /// Time a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) header_timeout: Duration,

    /// Time a client has to send a whole request and have it answered (answers may stream for
    /// longer). A request body may also pause at most --header-timeout between two pieces.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) request_timeout: Duration,

    /// Connections each server keeps open at once; more wait to be accepted.
    #[arg(long, default_value_t = 512, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub(crate) max_connections: u32,

    /// A web page origin (https://app.example) allowed to call these servers from a browser,
    /// with CORS; repeatable, `*` for every page. Without it only the servers' own pages may:
    /// a request another site's page sends is refused.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub(crate) cors_origins: Vec<String>,

    /// A host name these servers answer besides their IP addresses and localhost (the name
    /// clients or a reverse proxy use, as geth's --http.vhosts); repeatable, `*` for any. Other
    /// names are refused: a page that points its own name at this machine (DNS rebinding)
    /// would use one.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub(crate) allowed_hosts: Vec<String>,
}

fn parse_origin(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let bare = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"));
    if t == "*" || bare.is_some_and(|host| !host.is_empty() && !host.contains('/')) {
        return Ok(t.to_owned());
    }
    Err(format!(
        "{text:?} is not an origin: a scheme and a host, as https://app.example or \
         http://localhost:3000 (no path), or * for every page"
    ))
}

impl ServeOpts {
    pub(crate) fn bounds(&self) -> Bounds {
        Bounds {
            header_timeout: self.header_timeout,
            body_timeout: self.header_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections as usize,
        }
    }

    pub(crate) fn guard(&self) -> Guard {
        Guard {
            origins: self.cors_origins.clone(),
            hosts: self.allowed_hosts.clone(),
        }
    }

    /// Serves `app` on `listener` with these bounds and guard until `stop` is cancelled.
    pub(crate) async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        stop: &tokio_util::sync::CancellationToken,
    ) -> std::io::Result<()> {
        let shutdown = stop.clone().cancelled_owned();
        agency_devstack::http::serve(listener, app, &self.bounds(), &self.guard(), shutdown).await
    }
}
