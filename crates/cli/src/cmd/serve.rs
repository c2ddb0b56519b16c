//! `agency serve`: the web UI for any chain and store (what `agency dev` serves for its own).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::connect::{Signer, connect};
use crate::opts::GlobalOpts;
use crate::output::Output;

/// Serve the web UI for the chain, contract and store the global options name.
///
/// The page talks to one origin: this server answers `/rpc` by forwarding JSON-RPC requests to
/// --rpc-url, and serves the store's Kubo RPC subset and gateway from --store or --ipfs-api.
/// Wallets: an injected EIP-1193 wallet (MetaMask); no keys are served.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8547", value_name = "ADDR")]
    listen: SocketAddr,
}

pub(crate) async fn run(
    args: ServeArgs,
    g: &GlobalOpts,
    out: Output,
    stop: &CancellationToken,
) -> Result<()> {
    let conn = connect(&g.chain, Signer::None, false).await?;
    let store_app = g.store.http_router(g.store.open()?);
    let upstream = conn.url.clone();
    let client = agency_chain::http_client(agency_chain::RPC_TIMEOUT);
    let rpc = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: Bytes| {
            let (client, upstream) = (client.clone(), upstream.clone());
            async move { forward(&client, upstream, body).await }
        }),
    );
    let config = crate::web::config(conn.agency.address(), conn.chain_id, json!([]));
    let app = crate::web::router(config, rpc, store_app);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    if out.json {
        out.json(
            &json!({"url": url, "rpc_url": conn.url.as_str(), "agency": conn.agency.address()}),
        );
    } else {
        out.line(&url);
        out.notice(format_args!(
            "serving the web UI for {} on chain {} ({}) (Ctrl-C stops)",
            conn.agency.address(),
            conn.chain_id,
            conn.url
        ));
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await
        .context("the web server failed")?;
    Ok(())
}

/// Forwards one JSON-RPC body to the node and its answer back.
async fn forward(
    client: &reqwest::Client,
    upstream: reqwest::Url,
    body: Bytes,
) -> axum::response::Response {
    let sent = client
        .post(upstream)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await;
    match sent {
        Ok(res) => {
            let status =
                StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            match res.bytes().await {
                Ok(bytes) => {
                    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
                }
                Err(e) => (
                    StatusCode::BAD_GATEWAY,
                    format!("reading the node's answer: {e}"),
                )
                    .into_response(),
            }
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!("the node did not answer: {e}"),
        )
            .into_response(),
    }
}
