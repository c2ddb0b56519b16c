//! State in the data dir: stop, reopen, and every block, balance and job is there.

use std::io::Write;

use agency_devchain::{DevChain, DevConfig, OpenError};
use serde_json::{Value, json};

use crate::common::{self, rpc, send, transfer};

fn open(dir: &std::path::Path) -> DevChain {
    DevChain::open(DevConfig {
        data_dir: Some(dir.to_owned()),
        ..common::config()
    })
    .expect("open")
}

/// What must survive a restart: every block, the accounts, a contract's code and storage.
fn snapshot(chain: &DevChain, contract: &Value) -> Vec<Value> {
    let height = chain.block_number();
    let mut seen: Vec<Value> = (0..=height)
        .map(|n| {
            rpc(
                chain,
                "eth_getBlockByNumber",
                json!([format!("{n:#x}"), true]),
            )
            .expect("block")
        })
        .collect();
    for account in chain.accounts().iter().take(3) {
        seen.push(rpc(chain, "eth_getBalance", json!([account.address])).expect("balance"));
        seen.push(rpc(chain, "eth_getTransactionCount", json!([account.address])).expect("nonce"));
    }
    seen.push(rpc(chain, "eth_getCode", json!([contract])).expect("code"));
    seen.push(rpc(chain, "eth_getStorageAt", json!([contract, "0x0"])).expect("storage"));
    seen
}

#[tokio::test]
async fn a_market_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (before, contract, job_status) = {
        let chain = open(dir.path());
        let (provider, _) = common::in_process(&chain, 0);
        let agency = agency_chain::Agency::deploy(provider)
            .await
            .expect("deploy");
        let alice = chain.accounts()[0].signer.clone();
        let bob = chain.accounts()[1].address;
        rpc(&chain, "evm_increaseTime", json!([86_400])).unwrap();
        send(&chain, &alice, transfer(1, bob, 5)).unwrap();
        let contract = json!(agency.address());
        let status = rpc(&chain, "eth_getStorageAt", json!([contract, "0x0"])).unwrap();
        (snapshot(&chain, &contract), contract, status)
    };
    let chain = open(dir.path());
    assert_eq!(chain.block_number(), 2);
    assert_eq!(
        snapshot(&chain, &contract),
        before,
        "the same chain after a restart"
    );
    assert_eq!(
        rpc(&chain, "eth_getStorageAt", json!([contract, "0x0"])).unwrap(),
        job_status
    );
    // It carries on: the clock keeps its offset, nonces continue.
    let alice = chain.accounts()[0].signer.clone();
    send(&chain, &alice, transfer(2, alice.address(), 1)).expect("the next nonce");
    let latest = rpc(&chain, "eth_getBlockByNumber", json!(["latest", false])).unwrap();
    let timestamp = u64::from_str_radix(
        latest["timestamp"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert!(
        timestamp >= common::GENESIS + 86_400,
        "time travel survives: {timestamp}"
    );
}

#[test]
fn revert_cuts_the_journal_and_a_torn_line_is_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let chain = open(dir.path());
        let alice = chain.accounts()[0].signer.clone();
        let bob = chain.accounts()[1].address;
        send(&chain, &alice, transfer(0, bob, 1)).unwrap();
        let snapshot = rpc(&chain, "evm_snapshot", json!([])).unwrap();
        for nonce in 1..4 {
            send(&chain, &alice, transfer(nonce, bob, 1)).unwrap();
        }
        assert_eq!(chain.block_number(), 4);
        assert_eq!(
            rpc(&chain, "evm_revert", json!([snapshot])),
            Ok(json!(true))
        );
    }
    assert_eq!(
        open(dir.path()).block_number(),
        1,
        "reverted blocks stay reverted"
    );
    // A crash in the middle of writing a block line: the torn line is dropped, the rest kept.
    let journal = dir.path().join("chain.jsonl");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap()
        .write_all(b"{\"number\":2,\"time")
        .unwrap();
    let chain = open(dir.path());
    assert_eq!(chain.block_number(), 1);
    let alice = chain.accounts()[0].signer.clone();
    send(&chain, &alice, transfer(1, alice.address(), 1)).unwrap();
    drop(chain);
    assert_eq!(open(dir.path()).block_number(), 2);
}

#[test]
fn a_journal_from_another_chain_or_damaged_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let chain = open(dir.path());
        let alice = chain.accounts()[0].signer.clone();
        send(&chain, &alice, transfer(0, alice.address(), 1)).unwrap();
    }
    let other = DevChain::open(DevConfig {
        data_dir: Some(dir.path().to_owned()),
        chain_id: 1,
        ..common::config()
    });
    assert!(
        matches!(
            other,
            Err(OpenError::OtherChain {
                found: 31337,
                wanted: 1,
                ..
            })
        ),
        "{other:?}"
    );

    let fewer = DevChain::open(DevConfig {
        data_dir: Some(dir.path().to_owned()),
        accounts: 3,
        ..common::config()
    });
    assert!(
        matches!(fewer, Err(OpenError::OtherGenesis { .. })),
        "{fewer:?}"
    );

    let journal = dir.path().join("chain.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    // A block whose recorded hash does not match what replaying it gives.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut block: Value = serde_json::from_str(&lines[1]).unwrap();
    block["hash"] = json!(format!("0x{}", "11".repeat(32)));
    lines[1] = block.to_string();
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
    let error = open_err(dir.path());
    assert!(
        matches!(error, OpenError::Diverged { number: 1, .. }),
        "{error}"
    );

    std::fs::write(&journal, format!("{}\nnot json\n", lines[0])).unwrap();
    let error = open_err(dir.path());
    assert!(
        matches!(error, OpenError::Corrupt { line: 2, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("damaged at line 2"), "{error}");
}

fn open_err(dir: &std::path::Path) -> OpenError {
    DevChain::open(DevConfig {
        data_dir: Some(dir.to_owned()),
        ..common::config()
    })
    .expect_err("refused")
}
