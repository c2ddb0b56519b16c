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
