//! The HTTP transport itself: content type, notifications, the body limit.

use agency_devchain::MAX_BODY;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_answers_json_refuses_big_bodies_and_leaves_notifications_unanswered() {
    let chain = common::devchain();
    let url = common::serve(&chain).await;
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let answer = post(br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#.to_vec())
        .await
        .expect("post");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert_eq!(
        answer.json::<serde_json::Value>().await.expect("JSON")["result"],
        "0x0"
    );

    let note = post(br#"{"jsonrpc":"2.0","method":"evm_mine"}"#.to_vec())
        .await
        .expect("post");
    assert_eq!(note.status(), 204, "a notification is run and not answered");
    assert_eq!(chain.block_number(), 1, "the notification ran");

    let garbage = post(b"{not json".to_vec()).await.expect("post");
    assert_eq!(garbage.status(), 200, "JSON-RPC errors travel in a 200");
    assert_eq!(
        garbage.json::<serde_json::Value>().await.expect("JSON")["error"]["code"],
        -32700
    );

    let huge = post(vec![b' '; MAX_BODY + 1]).await.expect("post");
    assert_eq!(
        huge.status(),
        413,
        "bodies over {MAX_BODY} bytes are refused"
    );
    assert_eq!(chain.block_number(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_simple_post_is_refused_before_it_runs() {
    let chain = common::devchain();
    let url = common::serve(&chain).await;
    let client = reqwest::Client::new();
    // What a page on any site may send without a CORS preflight: text/plain, a form, no type.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut post = client
            .post(&url)
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"evm_mine"}"#);
        if let Some(content_type) = content_type {
            post = post.header("content-type", content_type);
        }
        let answer = post.send().await.expect("post");
        assert_eq!(answer.status(), 415, "{content_type:?}");
    }
    assert_eq!(chain.block_number(), 0, "nothing was mined");
    let answer = client
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"evm_mine"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 200);
    assert_eq!(chain.block_number(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_calls_burn_at_most_a_block_of_gas_and_leave_the_async_threads_free() {
    let chain = common::devchain();
    // The chain's router beside another route on the same two async threads, as `agency dev`
    // serves the web page beside /rpc.
    let app = agency_devchain::server::router(chain.clone())
        .route("/ping", axum::routing::get(|| async { "pong" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Init code whose call loops until out of gas: JUMPDEST PUSH1 0 JUMP. It gets the block's
    // gas; a caller asking for more is refused.
    let call = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"eth_call",
        "params":[{"data": "0x5b600056"}]});
    let client = reqwest::Client::new();
    let greedy = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"eth_call",
        "params":[{"data": "0x5b600056", "gas": "0xffffffffffffffff"}]});
    let answer_to = |request: &serde_json::Value| {
        let post = client.post(&url).json(request).send();
        async move {
            let answer = post.await.expect("post");
            answer.json::<serde_json::Value>().await.expect("JSON")
        }
    };
    let answer = answer_to(&greedy).await;
    assert_eq!(
        answer["error"]["message"], "gas limit exceeds the block gas limit",
        "{answer}"
    );
    let answer = answer_to(&call).await;
    let message = answer["error"]["message"].as_str().expect("an error");
    assert!(
        message.contains(&format!(
            "({})",
            agency_devchain::DevConfig::default().gas_limit
        )),
        "{message}"
    );
    // Four batches of such calls, more than there are async threads: the page is still
    // answered while they run (before, each batch held an async thread until it was done).
    let batch: Vec<_> = (0..2).map(|_| call.clone()).collect();
    let heavy: Vec<_> = (0..4)
        .map(|_| tokio::spawn(client.post(&url).json(&batch).send()))
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let ping = client.get(format!("{url}/ping")).send().await.expect("get");
    assert_eq!(ping.text().await.expect("text"), "pong");
    // Each batch takes about 2 s here; before, the page waited until all but one were done
    // (6.8 s, 3 of 4 finished).
    assert!(
        !heavy.iter().any(tokio::task::JoinHandle::is_finished),
        "the page was answered only after heavy calls were done"
    );
    for h in heavy {
        assert_eq!(h.await.expect("joined").expect("post").status(), 200);
    }
}
