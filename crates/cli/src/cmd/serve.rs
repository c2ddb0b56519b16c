//! `agency serve`: the web UI for any chain and store (what `agency dev` serves for its own),
//! safe to put in front of a node whose URL holds a provider's key.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Args;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::connect::{Signer, connect};
use crate::opts::{GlobalOpts, ServeOpts};
use crate::output::Output;

/// Serve the web UI for the chain, contract and store the global options name.
///
/// The page talks to one origin: this server answers `/rpc` by relaying JSON-RPC reads (and
/// signed transactions, `eth_sendRawTransaction`) to --rpc-url, and serves the store's gateway
/// and read API from --store or --ipfs-api. Nothing else is relayed: no node-side signing, no
/// admin or test methods, and no error names the node's URL, so a provider's key in it stays
/// here. The store's write API, which the post form and the browser agent need, is off unless
/// --allow-writes turns it on. Wallets: an injected EIP-1193 wallet (MetaMask); no keys are
/// served.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8547", value_name = "ADDR")]
    listen: SocketAddr,

    /// Serve the store's write API (`add`, `block/put`), which posting from the page and the
    /// browser agent need. Anyone who reaches this server can then fill the store.
    #[arg(long)]
    allow_writes: bool,

    /// With --allow-writes: the largest upload taken, in bytes (413 beyond).
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES", requires = "allow_writes")]
    max_upload: u64,

    #[command(flatten)]
    serve: ServeOpts,
}

/// The JSON-RPC methods `/rpc` relays: what the web UI and a wallet need to read the chain and
/// send a transaction they signed. Anything else (`eth_sendTransaction`, `evm_*`, `debug_*`,
/// `admin_*`, `personal_*`) is refused here.
pub(crate) const RELAYED: &[&str] = &[
    "eth_blockNumber",
    "eth_call",
    "eth_chainId",
    "eth_estimateGas",
    "eth_feeHistory",
    "eth_gasPrice",
    "eth_getBalance",
    "eth_getBlockByHash",
    "eth_getBlockByNumber",
    "eth_getCode",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_getLogs",
    "eth_getStorageAt",
    "eth_getTransactionByHash",
    "eth_getTransactionCount",
    "eth_getTransactionReceipt",
    "eth_maxPriorityFeePerGas",
    "eth_newBlockFilter",
    "eth_newFilter",
    "eth_sendRawTransaction",
    "eth_syncing",
    "eth_uninstallFilter",
    "net_version",
    "web3_clientVersion",
];

pub(crate) async fn run(
    args: ServeArgs,
    g: &GlobalOpts,
    out: Output,
    stop: &CancellationToken,
) -> Result<()> {
    let conn = connect(&g.chain, Signer::None, false).await?;
    let writes = args.allow_writes.then_some(args.max_upload);
    let store_app = g.store.http_router(g.store.open()?, writes);
    let upstream = conn.url.clone();
    let client = agency_chain::http_client(agency_chain::RPC_TIMEOUT);
    let rpc = axum::Router::new()
        .route(
            "/",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (client, upstream) = (client.clone(), upstream.clone());
                async move { relay(&client, upstream, &headers, body).await }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            agency_devchain::MAX_BODY,
        ));
    let config = crate::web::config(conn.agency.address(), conn.chain_id, json!([]));
    let app = crate::web::router(config, rpc, store_app);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    if out.json {
        out.json(&json!({
            "url": url,
            "rpc_url": conn.url.as_str(),
            "agency": conn.agency.address(),
            "store_writes": args.allow_writes,
        }));
    } else {
        out.line(&url);
        out.notice(format_args!(
            "serving the web UI for {} on chain {} ({}), store {} (Ctrl-C stops)",
            conn.agency.address(),
            conn.chain_id,
            conn.url,
            if args.allow_writes {
                "read-write"
            } else {
                "read-only: posting from the page needs --allow-writes"
            }
        ));
    }
    args.serve
        .serve(listener, app, stop)
        .await
        .context("the web server failed")?;
    Ok(())
}

/// A JSON-RPC answer of errors only: one for a request, one per request of a batch.
fn refuse(request: &Value, code: i64, message: &str) -> Response {
    // Ids are echoed as JSON-RPC allows them (number, string, null), anything else as null.
    let error = |r: &Value| {
        let id = match r.get("id") {
            Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
            _ => Value::Null,
        };
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
    };
    let body = match request {
        Value::Array(batch) => Value::Array(batch.iter().map(error).collect()),
        single => error(single),
    };
    axum::Json(body).into_response()
}

/// Relays one JSON-RPC body to the node, and its answer back, when every method in it is
/// [`RELAYED`].
async fn relay(
    client: &reqwest::Client,
    upstream: reqwest::Url,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = agency_devchain::server::json_content(headers) {
        return refusal.into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse(&Value::Null, -32700, "parse error: the body is not JSON");
    };
    let requests = match &request {
        Value::Array(batch) if batch.len() > agency_devchain::MAX_BATCH => {
            let message = format!(
                "batch too large: {} requests, at most {}",
                batch.len(),
                agency_devchain::MAX_BATCH
            );
            return refuse(&Value::Null, -32600, &message);
        }
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    // One fixed-size message, whatever the batch holds (naming every refused method in every
    // answer would grow the answer with the square of the batch).
    let refused = requests
        .iter()
        .map(|r| r.get("method").and_then(Value::as_str).unwrap_or(""))
        .find(|m| !RELAYED.contains(m));
    if let Some(first) = refused {
        let shown: String = first.chars().take(64).collect();
        let message = format!(
            "method not relayed by agency serve: {shown:?} (it relays chain reads and \
             eth_sendRawTransaction only; a batch holding such a method is refused whole)"
        );
        return refuse(&request, -32601, &message);
    }
    // The node gets exactly what was checked: the parsed request, written again (a parser
    // that read duplicate keys differently cannot disagree with this check).
    let checked = serde_json::to_vec(&request).expect("JSON values serialize");
    let sent = client
        .post(upstream)
        .header(header::CONTENT_TYPE, "application/json")
        .body(checked)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await;
    // The node's URL may hold a provider's key: errors are logged here, never answered.
    let answer = match sent {
        Ok(res) => {
            let status =
                StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            res.bytes().await.map(|bytes| (status, bytes))
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok((status, bytes)) => {
            (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "relaying a JSON-RPC request to the node failed");
            let what = if e.is_timeout() {
                "the node did not answer in time"
            } else {
                "the node could not be reached"
            };
            (
                StatusCode::BAD_GATEWAY,
                format!("{what}; this server's log says more\n"),
            )
                .into_response()
        }
    }
}
