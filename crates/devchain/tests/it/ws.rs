//! WebSocket: requests, and eth_subscribe for new heads and logs.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, request: Value) {
    socket
        .send(Message::text(request.to_string()))
        .await
        .expect("send");
}

async fn next(socket: &mut Socket) -> Value {
    let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("a message within 10 s")
        .expect("the socket is open")
        .expect("a message");
    serde_json::from_str(message.to_text().expect("text")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_deliver_heads_and_matching_logs() {
    let chain = common::devchain();
    let url = common::serve(&chain).await.replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");

    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}),
    )
    .await;
    assert_eq!(next(&mut socket).await["result"], "0x7a69");

    let (provider, _) = common::in_process(&chain, 0);
    let agency = agency_chain::Agency::deploy(provider)
        .await
        .expect("deploy");
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": ["newHeads"]}),
    )
    .await;
    let heads = next(&mut socket).await["result"].clone();
    let deposited = format!("{:#x}", <agency_chain::bindings::JobAgency::Deposited as alloy::sol_types::SolEvent>::SIGNATURE_HASH);
    send(&mut socket, json!({"jsonrpc": "2.0", "id": 3, "method": "eth_subscribe", "params": ["logs", {"address": agency.address(), "topics": [deposited]}]})).await;
    let logs = next(&mut socket).await["result"].clone();
    assert_ne!(heads, logs);

    let (agent, address) = common::in_process(&chain, 1);
    let agent = agency_chain::Agency::at(agency.address(), agent);
    agent
        .deposit(alloy::primitives::U256::from(1000))
        .await
        .expect("deposit");

    let mut seen_head = None;
    let mut seen_log = None;
    while seen_head.is_none() || seen_log.is_none() {
        let note = next(&mut socket).await;
        assert_eq!(note["method"], "eth_subscription");
        let params = &note["params"];
        if params["subscription"] == heads {
            seen_head = Some(params["result"].clone());
        } else if params["subscription"] == logs {
            seen_log = Some(params["result"].clone());
        } else {
            panic!("a notification for an unknown subscription: {note}");
        }
    }
    let head = seen_head.unwrap();
    let log = seen_log.unwrap();
    assert_eq!(head["number"], "0x2");
    assert_eq!(log["blockHash"], head["hash"]);
    assert_eq!(log["topics"][0], deposited);
    assert_eq!(log["topics"][1], format!("0x{:0>64}", hex_of(address)));

    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": 4, "method": "eth_unsubscribe", "params": [heads]}),
    )
    .await;
    assert_eq!(next(&mut socket).await["result"], true);
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": 5, "method": "eth_unsubscribe", "params": [heads]}),
    )
    .await;
    assert_eq!(next(&mut socket).await["result"], false, "already gone");
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": 6, "method": "eth_subscribe", "params": ["syncing"]}),
    )
    .await;
    assert_eq!(next(&mut socket).await["error"]["code"], -32602);
    common::rpc(&chain, "evm_mine", json!([])).unwrap();
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber"}),
    )
    .await;
    // Nothing for the cancelled subscription arrives before the answer.
    assert_eq!(next(&mut socket).await["result"], "0x3");
}

fn hex_of(address: alloy::primitives::Address) -> String {
    format!("{address:x}").trim_start_matches("0x").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_dropped_by_a_revert_come_back_removed() {
    let chain = common::devchain();
    let url = common::serve(&chain).await.replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let (provider, _) = common::in_process(&chain, 0);
    let agency = agency_chain::Agency::deploy(provider)
        .await
        .expect("deploy");
    send(&mut socket, json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["logs", {"address": agency.address()}]})).await;
    let logs = next(&mut socket).await["result"].clone();
    let snapshot = common::rpc(&chain, "evm_snapshot", json!([])).unwrap();
    agency
        .deposit(alloy::primitives::U256::from(7))
        .await
        .expect("deposit");
    let added = next(&mut socket).await;
    assert_eq!(added["params"]["subscription"], logs);
    assert_eq!(added["params"]["result"]["removed"], false);
    assert_eq!(
        common::rpc(&chain, "evm_revert", json!([snapshot])),
        Ok(json!(true))
    );
    let removed = next(&mut socket).await;
    assert_eq!(removed["params"]["subscription"], logs);
    let (before, after) = (&added["params"]["result"], &removed["params"]["result"]);
    assert_eq!(after["removed"], true);
    for field in ["transactionHash", "blockHash", "logIndex", "topics", "data"] {
        assert_eq!(before[field], after[field], "{field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_cannot_hold_unbounded_subscriptions() {
    let chain = common::devchain();
    let url = common::serve(&chain).await.replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let max = agency_devchain::server::MAX_SUBSCRIPTIONS;
    let mut first = Value::Null;
    for id in 0..max {
        send(
            &mut socket,
            json!({"jsonrpc": "2.0", "id": id, "method": "eth_subscribe", "params": ["newHeads"]}),
        )
        .await;
        let answer = next(&mut socket).await;
        assert!(answer["result"].is_string(), "{answer}");
        if id == 0 {
            first = answer["result"].clone();
        }
    }
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": "over", "method": "eth_subscribe", "params": ["newHeads"]}),
    )
    .await;
    let refused = next(&mut socket).await;
    assert_eq!(refused["error"]["code"], -32005, "{refused}");
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": "un", "method": "eth_unsubscribe", "params": [first]}),
    )
    .await;
    assert_eq!(next(&mut socket).await["result"], true);
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "id": "room", "method": "eth_subscribe", "params": ["newHeads"]}),
    )
    .await;
    assert!(next(&mut socket).await["result"].is_string());
}
