//! The dev chain driven by a client we did not write: foundry's `cast` (npm
//! `@foundry-rs/cast-linux-amd64`) over HTTP.

use agency_chain::Agency;

use crate::common;

async fn cast(url: &str, args: &[&str]) -> String {
    let bin = format!(
        "{}/../../node_modules/.bin/cast",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(
        std::path::Path::new(&bin).exists(),
        "{bin} is missing: run `npm ci` at the repository root"
    );
    let output = tokio::process::Command::new(&bin)
        .args(args)
        .args(["--rpc-url", url])
        .output()
        .await
        .expect("run cast");
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success(),
        "cast {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_sends_calls_and_reads_logs() {
    let chain = common::devchain();
    let url = common::serve(&chain).await;
    let (provider, _) = common::in_process(&chain, 0);
    let agency = Agency::deploy(provider)
        .await
        .expect("deploy")
        .address()
        .to_string();
    let key = format!(
        "0x{}",
        alloy::primitives::hex::encode(chain.accounts()[1].signer.to_bytes())
    );
    let agent = chain.accounts()[1].address.to_string();

    assert_eq!(cast(&url, &["chain-id"]).await, "31337");
    assert_eq!(cast(&url, &["block-number"]).await, "1");
    let receipt = cast(
        &url,
        &[
            "send",
            "--private-key",
            &key,
            &agency,
            "deposit()",
            "--value",
            "0.5ether",
            "--json",
        ],
    )
    .await;
    let receipt: serde_json::Value = serde_json::from_str(&receipt).expect("receipt JSON");
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        cast(&url, &["call", &agency, "agentCount()(uint256)"]).await,
        "0"
    );
    let account = cast(
        &url,
        &[
            "call",
            &agency,
            "accountOf(address)(uint256,uint256,uint256,uint256,uint256,uint256)",
            &agent,
        ],
    )
    .await;
    assert!(account.starts_with("500000000000000000"), "{account}");
    let logs = cast(
        &url,
        &[
            "logs",
            "--address",
            &agency,
            "Deposited(address indexed,uint256)",
            "--json",
        ],
    )
    .await;
    let logs: serde_json::Value = serde_json::from_str(&logs).expect("logs JSON");
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "{logs}");
    assert_eq!(logs[0]["transactionHash"], receipt["transactionHash"]);
    // A custom error comes back decodable: cast names it from the selector.
    let bin = format!(
        "{}/../../node_modules/.bin/cast",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = tokio::process::Command::new(&bin)
        .args([
            "send",
            "--private-key",
            &key,
            &agency,
            "withdraw(uint256)",
            "1000000000000000000",
            "--rpc-url",
            &url,
        ])
        .output()
        .await
        .expect("run cast");
    assert!(
        !output.status.success(),
        "withdrawing more than the balance must fail"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("execution reverted"), "{stderr}");
    assert_eq!(
        cast(&url, &["nonce", &agent]).await,
        "1",
        "the refused send left no transaction"
    );
    // eth_sendTransaction: the node signs for its dev accounts.
    let requester = chain.accounts()[2].address.to_string();
    let unlocked = cast(
        &url,
        &[
            "send",
            "--unlocked",
            "--from",
            &requester,
            &agency,
            "deposit()",
            "--value",
            "1wei",
            "--json",
        ],
    )
    .await;
    let unlocked: serde_json::Value = serde_json::from_str(&unlocked).expect("receipt JSON");
    assert_eq!(
        (unlocked["status"].as_str(), unlocked["from"].as_str()),
        (Some("0x1"), Some(requester.to_lowercase().as_str()))
    );
    let balance = cast(&url, &["balance", &agent]).await;
    assert!(
        balance.starts_with("99994"),
        "10,000 ether less 0.5 and gas: {balance}"
    );
}
