//! The dev chain driven by viem (npm), a client and wallet library we did not write:
//! `tests/interop/viem.mjs` signs with viem's own accounts, deploys JobAgency, decodes a custom
//! error from our revert data and watches an event over WebSocket.

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viem_reads_sends_decodes_reverts_and_subscribes() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    assert!(
        std::path::Path::new(&format!("{root}/node_modules/viem")).exists(),
        "viem is missing: run `npm ci` at the repository root"
    );
    let chain = common::devchain();
    let url = common::serve(&chain).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/viem.mjs");
    let output = tokio::process::Command::new("node")
        .arg(script)
        .arg(&url)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "viem.mjs failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["revertDecoded"], "InsufficientBalance");
    assert_eq!(summary["websocketEvent"], true);
    assert!(
        chain.block_number() >= 3,
        "viem's transactions were mined here"
    );
}
