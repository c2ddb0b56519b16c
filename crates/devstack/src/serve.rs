//! The stack's servers: the chain's JSON-RPC, the store's API and gateway, and whatever app the
//! caller serves over them (`agency dev`'s web UI), each on a listener the caller bound.

use std::sync::Arc;

use agency_store::BlockStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::DevStack;

/// The running servers; stopped gracefully with the stack.
#[derive(Debug)]
pub(crate) struct Servers {
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
}

impl Default for Servers {
    fn default() -> Self {
        Self {
            tasks: JoinSet::new(),
            stop: watch::channel(false).0,
        }
    }
}

impl Servers {
    pub(crate) async fn stop(&mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

impl DevStack {
    /// The chain's JSON-RPC (HTTP and WebSocket), when it is the embedded dev chain.
    pub fn chain_router(&self) -> Option<axum::Router> {
        self.dev_chain()
            .map(|chain| agency_devchain::server::router(chain.clone()))
    }

    /// The store's Kubo RPC subset and trustless gateway; `identity` seeds its peer id.
    pub fn store_router(&self, identity: &str) -> axum::Router {
        store_router(
            self.store.clone(),
            identity,
            Some(agency_store::server::DEFAULT_MAX_UPLOAD),
        )
    }

    /// Serves `app` on `listener` until the stack stops, [bounded and guarded](crate::http).
    pub fn serve(
        &mut self,
        listener: TcpListener,
        app: axum::Router,
        bounds: &crate::http::Bounds,
        guard: &crate::http::Guard,
    ) {
        let mut stopped = self.servers.stop.subscribe();
        let (bounds, guard) = (bounds.clone(), guard.clone());
        self.servers.tasks.spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = crate::http::serve(listener, app, &bounds, &guard, shutdown).await {
                tracing::error!(error = %e, "a server stopped");
            }
        });
    }
}

/// The store's HTTP API over `store`, its peer id seeded by `identity`; `writes` as in
/// [`agency_store::server::ServerConfig::writes`].
pub fn store_router(
    store: Arc<dyn BlockStore>,
    identity: &str,
    writes: Option<u64>,
) -> axum::Router {
    agency_store::server::router(
        store,
        agency_store::server::ServerConfig {
            identity_seed: identity.to_owned(),
            writes,
            ..Default::default()
        },
    )
}
