//! The JSON-RPC server: HTTP POST and WebSocket on one path (`/`), as geth and anvil serve them.
//! WebSocket connections also take `eth_subscribe` (`newHeads`, `logs`) and `eth_unsubscribe`;
//! when `evm_revert` drops blocks, log subscribers get their logs again with `removed: true`.

use std::collections::HashMap;

use alloy::primitives::U256;
use alloy::rpc::types::Filter;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::error::RpcError;
use crate::rpc::{MAX_BODY, failure, rpc_header, success};
use crate::{BlockEvent, DevChain, filters};

/// The router: POST `/` answers JSON-RPC, GET `/` upgrades to a WebSocket. Bodies over
/// [`MAX_BODY`] get 413; a POST must say `Content-Type: application/json` (415 otherwise, as
/// geth answers), which a web page on another site can only send after a CORS preflight this
/// server does not grant.
pub fn router(chain: DevChain) -> Router {
    Router::new()
        .route("/", post(http).get(upgrade))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(chain)
}

/// Serves [`router`] on `listener` until the future is dropped.
pub async fn serve(chain: DevChain, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(chain)).await
}

/// Refuses a JSON-RPC POST that is not `application/json`: `text/plain`, forms and bodies
/// without a type are what a cross-site page may send without asking.
pub fn json_content(headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid content type, only application/json is supported\n",
        ))
    }
}

async fn http(State(chain): State<DevChain>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refusal) = json_content(&headers) {
        return refusal.into_response();
    }
    // The EVM runs here: off the async threads, so heavy calls cannot stall other clients.
    let answer = tokio::task::spawn_blocking(move || chain.handle(&body)).await;
    match answer {
        Ok(Some(answer)) => ([(header::CONTENT_TYPE, "application/json")], answer).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a JSON-RPC request panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn upgrade(State(chain): State<DevChain>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .max_message_size(MAX_BODY)
        .on_upgrade(move |socket| connection(socket, chain))
}

/// Outgoing messages are queued up to this many; a client that reads slower than blocks are
/// mined loses its subscriptions' oldest notifications, never the connection.
const OUTBOX: usize = 4096;

/// Subscriptions one WebSocket connection may hold at once (each is a task and a receiver of
/// every block).
pub const MAX_SUBSCRIPTIONS: usize = 128;

async fn connection(socket: WebSocket, chain: DevChain) {
    let (mut sink, mut incoming) = socket.split();
    let (outbox, mut outgoing) = mpsc::channel::<String>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    });
    let mut subscriptions = Subscriptions {
        chain: chain.clone(),
        live: HashMap::new(),
        next: 0,
    };
    while let Some(Ok(message)) = incoming.next().await {
        let body = match message {
            Message::Text(text) => Bytes::from(text),
            Message::Binary(bytes) => bytes,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let answer = match serde_json::from_slice::<Value>(&body) {
            Ok(request) if Subscriptions::is_for(&request) => {
                subscriptions.handle(request, &outbox)
            }
            // The EVM runs off the async threads, as for HTTP.
            Ok(request) => {
                let chain = chain.clone();
                tokio::task::spawn_blocking(move || chain.handle_value(request))
                    .await
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, "a JSON-RPC request panicked");
                        None
                    })
            }
            Err(error) => Some(failure(
                Value::Null,
                RpcError::new(RpcError::PARSE, format!("parse error: {error}")),
            )),
        };
        if let Some(answer) = answer
            && outbox.send(answer.to_string()).await.is_err()
        {
            break;
        }
    }
    for (_, task) in subscriptions.live.drain() {
        task.abort();
    }
    drop(outbox);
    let _ = writer.await;
}

struct Subscriptions {
    chain: DevChain,
    live: HashMap<U256, JoinHandle<()>>,
    next: u64,
}

enum Topic {
    NewHeads,
    Logs(Box<Filter>),
}

impl Subscriptions {
    fn is_for(request: &Value) -> bool {
        matches!(
            request.get("method").and_then(Value::as_str),
            Some("eth_subscribe" | "eth_unsubscribe")
        )
    }

    fn handle(&mut self, request: Value, outbox: &mpsc::Sender<String>) -> Option<Value> {
        let method = request.get("method").and_then(Value::as_str);
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let params = request.get("params").cloned().unwrap_or(Value::Null);
        let outcome = if method == Some("eth_subscribe") {
            self.subscribe(&params, outbox.clone())
        } else {
            self.unsubscribe(&params)
        };
        Some(match outcome {
            Ok(result) => success(id, result),
            Err(error) => failure(id, error),
        })
    }

    fn subscribe(
        &mut self,
        params: &Value,
        outbox: mpsc::Sender<String>,
    ) -> Result<Value, RpcError> {
        let topic = match params.get(0).and_then(Value::as_str) {
            Some("newHeads") => Topic::NewHeads,
            Some("logs") => {
                let filter = match params.get(1) {
                    None | Some(Value::Null) => Filter::default(),
                    Some(value) => serde_json::from_value(value.clone())
                        .map_err(|e| RpcError::invalid_params(format!("bad log filter: {e}")))?,
                };
                Topic::Logs(Box::new(filter))
            }
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "unsupported subscription {other:?}: this chain offers newHeads and logs"
                )));
            }
            None => return Err(RpcError::invalid_params("missing subscription name")),
        };
        if self.live.len() >= MAX_SUBSCRIPTIONS {
            return Err(RpcError::new(
                RpcError::LIMIT,
                format!(
                    "too many subscriptions on this connection: at most {MAX_SUBSCRIPTIONS} \
                     (eth_unsubscribe some first)"
                ),
            ));
        }
        self.next += 1;
        let id = U256::from(self.next);
        let blocks = self.chain.subscribe();
        self.live
            .insert(id, tokio::spawn(forward(blocks, topic, id, outbox)));
        Ok(json!(id))
    }

    fn unsubscribe(&mut self, params: &Value) -> Result<Value, RpcError> {
        let id: U256 = params
            .get(0)
            .cloned()
            .and_then(|id| serde_json::from_value(id).ok())
            .ok_or_else(|| RpcError::invalid_params("missing subscription id"))?;
        Ok(json!(
            self.live.remove(&id).inspect(|task| task.abort()).is_some()
        ))
    }
}

async fn forward(
    mut blocks: broadcast::Receiver<BlockEvent>,
    topic: Topic,
    id: U256,
    outbox: mpsc::Sender<String>,
) {
    loop {
        let (block, removed) = match blocks.recv().await {
            Ok(BlockEvent::Mined(block)) => (block, false),
            Ok(BlockEvent::Dropped(block)) => (block, true),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "a subscriber fell behind; blocks were skipped");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let results: Vec<Value> = match &topic {
            Topic::NewHeads if removed => Vec::new(),
            Topic::NewHeads => vec![json!(rpc_header(&block))],
            Topic::Logs(filter) => {
                let mut logs = Vec::new();
                if filter.matches_block_range(block.number()) {
                    filters::block_logs(&block, filter, &mut logs);
                }
                // A dropped block's logs go out again marked removed, newest first (geth's
                // order on a reorg).
                if removed {
                    logs.reverse();
                }
                logs.into_iter()
                    .map(|mut log| {
                        log.removed = removed;
                        json!(log)
                    })
                    .collect()
            }
        };
        for result in results {
            let note = json!({
                "jsonrpc": "2.0",
                "method": "eth_subscription",
                "params": {"subscription": id, "result": result},
            });
            if outbox.try_send(note.to_string()).is_err() && outbox.is_closed() {
                return;
            }
        }
    }
}
