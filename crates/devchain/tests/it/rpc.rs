//! The JSON-RPC surface: what each method answers, and a clear error with the chain untouched
//! for every kind of bad input.

use agency_devchain::{DevChain, MAX_BATCH, MAX_BODY};
use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};

use crate::common::{self, rpc, send, signed, transfer};

/// Everything a refused request must leave alone.
#[derive(Debug, PartialEq)]
struct Observed {
    height: Value,
    balances: Vec<Value>,
    nonces: Vec<Value>,
}

fn observe(chain: &DevChain) -> Observed {
    let addresses: Vec<Address> = chain.accounts().iter().map(|a| a.address).take(3).collect();
    Observed {
        height: rpc(chain, "eth_blockNumber", json!([])).expect("height"),
        balances: addresses
            .iter()
            .map(|a| rpc(chain, "eth_getBalance", json!([a, "latest"])).expect("balance"))
            .collect(),
        nonces: addresses
            .iter()
            .map(|a| rpc(chain, "eth_getTransactionCount", json!([a, "pending"])).expect("nonce"))
            .collect(),
    }
}

fn error_of(chain: &DevChain, method: &str, params: Value) -> (i64, String) {
    let error = rpc(chain, method, params.clone()).expect_err(&format!("an error for {params}"));
    (
        error["code"].as_i64().expect("code"),
        error["message"].as_str().expect("message").to_owned(),
    )
}

#[test]
fn basic_methods_answer_like_anvil() {
    let chain = common::devchain();
    assert_eq!(rpc(&chain, "eth_chainId", json!([])), Ok(json!("0x7a69")));
    assert_eq!(rpc(&chain, "net_version", json!([])), Ok(json!("31337")));
    assert!(
        rpc(&chain, "web3_clientVersion", json!([]))
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("agency-devchain/")
    );
    assert_eq!(rpc(&chain, "eth_blockNumber", json!([])), Ok(json!("0x0")));
    // anvil's first dev account, from the well-known mnemonic, with 10,000 ether.
    let first = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    assert_eq!(
        rpc(&chain, "eth_accounts", json!([])).unwrap()[0],
        json!(first)
    );
    assert_eq!(
        rpc(&chain, "eth_getBalance", json!([first, "latest"])),
        Ok(json!("0x21e19e0c9bab2400000"))
    );
    assert_eq!(
        rpc(&chain, "eth_gasPrice", json!([])),
        Ok(json!("0x77359400")),
        "1 + 1 gwei, as anvil"
    );
    assert_eq!(
        rpc(&chain, "eth_maxPriorityFeePerGas", json!([])),
        Ok(json!("0x3b9aca00"))
    );
    let genesis = rpc(&chain, "eth_getBlockByNumber", json!(["earliest", false])).unwrap();
    assert_eq!(genesis["number"], "0x0");
    assert_eq!(genesis["baseFeePerGas"], "0x3b9aca00");
    assert_eq!(genesis["timestamp"], format!("{:#x}", common::GENESIS));
    assert_eq!(
        rpc(&chain, "eth_getBlockByNumber", json!(["0x5", false])),
        Ok(Value::Null)
    );
}

#[test]
fn transfers_mine_with_receipts_blocks_and_fee_history() {
    let chain = common::devchain();
    let alice = chain.accounts()[0].clone();
    let bob = chain.accounts()[1].address;
    let before = rpc(&chain, "eth_getBalance", json!([bob])).unwrap();
    let hash = rpc(
        &chain,
        "eth_sendRawTransaction",
        json!([signed(&alice.signer, transfer(0, bob, 1000))]),
    )
    .unwrap();
    let receipt = rpc(&chain, "eth_getTransactionReceipt", json!([hash])).unwrap();
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["gasUsed"], "0x5208");
    assert_eq!(receipt["blockNumber"], "0x1");
    assert_eq!(receipt["type"], "0x2");
    // Block 1 keeps the genesis base fee (as anvil); the tip is 1 gwei.
    assert_eq!(
        receipt["effectiveGasPrice"],
        format!("{:#x}", 2_000_000_000u64)
    );
    rpc(&chain, "evm_mine", json!([])).unwrap();
    rpc(&chain, "evm_mine", json!([])).unwrap();
    let base_fee = |n: &str| {
        rpc(&chain, "eth_getBlockByNumber", json!([n, false])).unwrap()["baseFeePerGas"].clone()
    };
    // Then EIP-1559: block 1 used 21,000 of 15M target (-12.47%), block 2 none (-12.5%).
    assert_eq!(
        (base_fee("0x2"), base_fee("0x3")),
        (
            json!(format!("{:#x}", 875_175_000u64)),
            json!(format!("{:#x}", 765_778_125u64))
        )
    );
    let after = rpc(&chain, "eth_getBalance", json!([bob])).unwrap();
    let parse =
        |v: &Value| U256::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(parse(&after) - parse(&before), U256::from(1000));
    let block = rpc(&chain, "eth_getBlockByNumber", json!(["0x1", true])).unwrap();
    assert_eq!(block["transactions"][0]["hash"], hash);
    assert_eq!(block["transactions"][0]["from"], json!(alice.address));
    assert_eq!(
        rpc(&chain, "eth_getBlockByHash", json!([block["hash"], false])).unwrap()["transactions"]
            [0],
        hash
    );
    let tx = rpc(&chain, "eth_getTransactionByHash", json!([hash])).unwrap();
    assert_eq!(tx["blockHash"], block["hash"]);
    let history = rpc(&chain, "eth_feeHistory", json!(["0x2", "0x1", [50.0]])).unwrap();
    assert_eq!(history["oldestBlock"], "0x0");
    assert_eq!(history["baseFeePerGas"].as_array().unwrap().len(), 3);
    assert_eq!(
        history["reward"][1][0], "0x3b9aca00",
        "block 1 paid a 1 gwei tip"
    );
}

#[test]
fn bad_transactions_are_refused_with_geths_wording_and_change_nothing() {
    let chain = common::devchain();
    let alice = chain.accounts()[0].signer.clone();
    let bob = chain.accounts()[1].address;
    send(&chain, &alice, transfer(0, bob, 1)).expect("a first good transfer");
    let before = observe(&chain);
    let broke = PrivateKeySigner::from_bytes(&[7u8; 32].into()).expect("key");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "malformed raw transaction",
            json!(["0x02f87083"]),
            "malformed transaction",
        ),
        ("not even hex", json!(["zz"]), "invalid params"),
        (
            "wrong chain id",
            json!([signed(
                &alice,
                alloy::consensus::TxEip1559 {
                    chain_id: 1,
                    ..transfer(1, bob, 1)
                }
            )]),
            "invalid chain id",
        ),
        (
            "nonce too low",
            json!([signed(&alice, transfer(0, bob, 2))]),
            "nonce too low",
        ),
        (
            "nonce too high",
            json!([signed(&alice, transfer(5, bob, 1))]),
            "nonce too high",
        ),
        (
            "insufficient funds",
            json!([signed(&broke, transfer(0, bob, 1))]),
            "insufficient funds for gas * price + value",
        ),
        (
            "gas limit too low",
            json!([signed(
                &alice,
                alloy::consensus::TxEip1559 {
                    gas_limit: 20_000,
                    ..transfer(1, bob, 1)
                }
            )]),
            "intrinsic gas too low",
        ),
        (
            "gas limit above the block's",
            json!([signed(
                &alice,
                alloy::consensus::TxEip1559 {
                    gas_limit: 31_000_000,
                    ..transfer(1, bob, 1)
                }
            )]),
            "gas limit",
        ),
        (
            "fee cap below the base fee",
            json!([signed(
                &alice,
                alloy::consensus::TxEip1559 {
                    max_fee_per_gas: 1,
                    max_priority_fee_per_gas: 1,
                    ..transfer(1, bob, 1)
                }
            )]),
            "less than block base fee",
        ),
        (
            "already known",
            json!([signed(&alice, transfer(0, bob, 1))]),
            "already known",
        ),
    ];
    for (case, params, wording) in cases {
        let (code, message) = error_of(&chain, "eth_sendRawTransaction", params);
        assert!(code == -32000 || code == -32602, "{case}: code {code}");
        assert!(
            message.contains(wording),
            "{case}: {message:?} should say {wording:?}"
        );
        assert_eq!(observe(&chain), before, "{case} changed the chain");
    }
}

#[test]
fn malformed_requests_get_the_standard_codes() {
    let chain = common::devchain();
    let before = observe(&chain);
    let answer = |body: &str| -> Value {
        serde_json::from_slice(&chain.handle(body.as_bytes()).expect("an answer")).expect("JSON")
    };
    let parse = answer("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":");
    assert_eq!(
        (parse["error"]["code"].clone(), parse["id"].clone()),
        (json!(-32700), Value::Null)
    );
    for (body, code) in [
        ("42", -32600),
        ("[]", -32600),
        (r#"{"jsonrpc":"2.0","id":1}"#, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#, -32600),
        (
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_nope","params":[]}"#,
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12"]}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{"address":"0x12"}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[]}"#,
            -32602,
        ),
    ] {
        assert_eq!(answer(body)["error"]["code"], code, "{body}");
    }
    let unknown = answer(r#"{"jsonrpc":"2.0","id":"x","method":"eth_nope"}"#);
    assert_eq!(unknown["id"], "x");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("eth_nope")
    );

    // Batches: answered item by item, in order; a notification gets no answer.
    let batch = answer(
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_chainId"},7,{"jsonrpc":"2.0","id":2,"method":"eth_nope"}]"#,
    );
    let batch = batch.as_array().expect("an array");
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[0]["result"], "0x7a69");
    assert_eq!(batch[1]["error"]["code"], -32600);
    assert_eq!(batch[2]["error"]["code"], -32601);
    assert_eq!(
        chain.handle(br#"{"jsonrpc":"2.0","method":"eth_chainId"}"#),
        None,
        "a notification"
    );

    let huge: Vec<Value> = (0..=MAX_BATCH)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId"}))
        .collect();
    let huge = answer(&Value::Array(huge).to_string());
    assert_eq!(huge["error"]["code"], -32600);
    assert!(
        huge["error"]["message"]
            .as_str()
            .unwrap()
            .contains("batch too large")
    );

    let oversized = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["{}"]}}"#,
        "a".repeat(MAX_BODY)
    );
    let oversized = answer(&oversized);
    assert_eq!(oversized["error"]["code"], -32600);
    assert!(
        oversized["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large")
    );
    assert_eq!(observe(&chain), before);
}

#[test]
fn historical_state_is_refused_not_faked() {
    let chain = common::devchain();
    let alice = chain.accounts()[0].signer.clone();
    let bob = chain.accounts()[1].address;
    send(&chain, &alice, transfer(0, bob, 1)).unwrap();
    let (code, message) = error_of(&chain, "eth_getBalance", json!([bob, "0x0"]));
    assert_eq!(code, -32000);
    assert!(
        message.contains("historical state is not kept"),
        "{message}"
    );
    assert!(
        rpc(&chain, "eth_getBalance", json!([bob, "0x1"])).is_ok(),
        "the latest block by number"
    );
    let (_, message) = error_of(&chain, "eth_getBalance", json!([bob, "0x9"]));
    assert!(message.contains("not found"), "{message}");
}

#[test]
fn time_travel_snapshots_and_manual_mining() {
    let chain = common::devchain();
    let alice = chain.accounts()[0].signer.clone();
    let bob = chain.accounts()[1].address;
    let timestamp = |tag: &str| -> u64 {
        let block = rpc(&chain, "eth_getBlockByNumber", json!([tag, false])).unwrap();
        u64::from_str_radix(
            block["timestamp"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap()
    };
    rpc(
        &chain,
        "evm_setNextBlockTimestamp",
        json!([common::GENESIS + 1000]),
    )
    .unwrap();
    assert_eq!(rpc(&chain, "evm_mine", json!([])), Ok(json!("0x0")));
    assert_eq!(timestamp("latest"), common::GENESIS + 1000);
    rpc(&chain, "evm_increaseTime", json!([3600])).unwrap();
    rpc(&chain, "evm_mine", json!([])).unwrap();
    let after = timestamp("latest");
    assert!(
        (common::GENESIS + 4600..common::GENESIS + 4700).contains(&after),
        "{after}"
    );
    let (_, message) = error_of(
        &chain,
        "evm_setNextBlockTimestamp",
        json!([common::GENESIS]),
    );
    assert!(
        message.contains("earlier than the latest block"),
        "{message}"
    );

    let snapshot = rpc(&chain, "evm_snapshot", json!([])).unwrap();
    send(&chain, &alice, transfer(0, bob, 1)).unwrap();
    assert_eq!(rpc(&chain, "eth_blockNumber", json!([])), Ok(json!("0x3")));
    assert_eq!(
        rpc(&chain, "evm_revert", json!([snapshot])),
        Ok(json!(true))
    );
    assert_eq!(rpc(&chain, "eth_blockNumber", json!([])), Ok(json!("0x2")));
    assert_eq!(
        rpc(
            &chain,
            "eth_getTransactionCount",
            json!([chain.accounts()[0].address, "latest"])
        ),
        Ok(json!("0x0"))
    );
    assert_eq!(
        rpc(&chain, "evm_revert", json!([snapshot])),
        Ok(json!(false)),
        "a snapshot is used once"
    );

    // Automine off: transactions wait in the pool (a pending nonce counts them), a higher fee
    // replaces one, and evm_mine takes them all into one block.
    rpc(&chain, "evm_setAutomine", json!([false])).unwrap();
    let first = send(&chain, &alice, transfer(0, bob, 1)).unwrap();
    assert_eq!(
        rpc(&chain, "eth_getTransactionReceipt", json!([first])),
        Ok(Value::Null)
    );
    assert_eq!(
        rpc(&chain, "eth_getTransactionByHash", json!([first])).unwrap()["blockHash"],
        Value::Null
    );
    send(&chain, &alice, transfer(1, bob, 1)).unwrap();
    assert_eq!(
        rpc(
            &chain,
            "eth_getTransactionCount",
            json!([chain.accounts()[0].address, "pending"])
        ),
        Ok(json!("0x2"))
    );
    let (_, message) = error_of(
        &chain,
        "eth_sendRawTransaction",
        json!([signed(
            &alice,
            alloy::consensus::TxEip1559 {
                max_fee_per_gas: 10_500_000_000,
                ..transfer(1, bob, 2)
            }
        )]),
    );
    assert_eq!(message, "replacement transaction underpriced");
    let bumped = send(
        &chain,
        &alice,
        alloy::consensus::TxEip1559 {
            max_fee_per_gas: 11_000_000_000,
            max_priority_fee_per_gas: 1_100_000_000,
            ..transfer(1, bob, 2)
        },
    )
    .unwrap();
    rpc(&chain, "evm_mine", json!([])).unwrap();
    let block = rpc(&chain, "eth_getBlockByNumber", json!(["latest", false])).unwrap();
    assert_eq!(block["transactions"], json!([first, bumped]));
}

#[test]
fn filters_report_new_blocks_and_logs_once() {
    let chain = common::devchain();
    let alice = chain.accounts()[0].signer.clone();
    let bob = chain.accounts()[1].address;
    let blocks = rpc(&chain, "eth_newBlockFilter", json!([])).unwrap();
    let logs = rpc(&chain, "eth_newFilter", json!([{}])).unwrap();
    assert_eq!(
        rpc(&chain, "eth_getFilterChanges", json!([blocks])),
        Ok(json!([]))
    );
    send(&chain, &alice, transfer(0, bob, 1)).unwrap();
    send(&chain, &alice, transfer(1, bob, 1)).unwrap();
    let changes = rpc(&chain, "eth_getFilterChanges", json!([blocks])).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 2);
    assert_eq!(
        rpc(&chain, "eth_getFilterChanges", json!([blocks])),
        Ok(json!([])),
        "reported once"
    );
    assert_eq!(
        rpc(&chain, "eth_getFilterChanges", json!([logs])),
        Ok(json!([])),
        "transfers log nothing"
    );
    assert_eq!(
        rpc(&chain, "eth_uninstallFilter", json!([blocks])),
        Ok(json!(true))
    );
    let (_, message) = error_of(&chain, "eth_getFilterChanges", json!([blocks]));
    assert_eq!(message, "filter not found");
}

#[test]
fn send_transaction_signs_for_dev_accounts_only() {
    let chain = common::devchain();
    let alice = chain.accounts()[0].address;
    let bob = chain.accounts()[1].address;
    let hash = rpc(
        &chain,
        "eth_sendTransaction",
        json!([{"from": alice, "to": bob, "value": "0x1"}]),
    )
    .unwrap();
    let receipt = rpc(&chain, "eth_getTransactionReceipt", json!([hash])).unwrap();
    assert_eq!(
        (receipt["status"].clone(), receipt["from"].clone()),
        (json!("0x1"), json!(alice))
    );
    assert_eq!(receipt["gasUsed"], "0x5208", "estimated, not guessed");
    let before = observe(&chain);
    let stranger = "0x000000000000000000000000000000000000dead";
    let (code, message) = error_of(
        &chain,
        "eth_sendTransaction",
        json!([{"from": stranger, "to": bob, "value": "0x1"}]),
    );
    assert_eq!(code, -32000);
    assert!(message.contains("not a dev account"), "{message}");
    let (code, _) = error_of(&chain, "eth_sendTransaction", json!([{"to": bob}]));
    assert_eq!(code, -32602, "no sender");
    assert_eq!(observe(&chain), before);
}

#[test]
fn calls_and_estimates_report_reverts_in_the_standard_shape() {
    let chain = common::devchain();
    let alice = chain.accounts()[0].address;
    // Init code that reverts with Error("no"): the revert data comes back in `data`, code 3.
    let reverting = "0x6308c379a060e01b60005260206004526002602452616e6f60f01b60445260646000fd";
    for method in ["eth_call", "eth_estimateGas"] {
        let error =
            rpc(&chain, method, json!([{"from": alice, "data": reverting}])).expect_err(method);
        assert_eq!(error["code"], 3, "{method}: {error}");
        assert_eq!(error["message"], "execution reverted: no", "{method}");
        assert!(
            error["data"].as_str().unwrap().starts_with("0x08c379a0"),
            "{method}: {error}"
        );
    }
    // Code that returns 32 bytes: eth_call gives them back.
    let returning = "0x602a60005260206000f3";
    assert_eq!(
        rpc(&chain, "eth_call", json!([{"data": returning}])),
        Ok(json!(format!("0x{:064x}", 42)))
    );
    let estimate = rpc(
        &chain,
        "eth_estimateGas",
        json!([{"from": alice, "data": returning, "chainId": "0x7a69"}]),
    )
    .unwrap();
    let estimate =
        u64::from_str_radix(estimate.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let hash = rpc(
        &chain,
        "eth_sendTransaction",
        json!([{"from": alice, "data": returning, "gas": format!("{estimate:#x}")}]),
    )
    .unwrap();
    let receipt = rpc(&chain, "eth_getTransactionReceipt", json!([hash])).unwrap();
    let used = u64::from_str_radix(
        receipt["gasUsed"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert_eq!(receipt["status"], "0x1", "the estimate is enough");
    assert!(
        used <= estimate && estimate * 1000 <= used * 1016,
        "within 1.6%: used {used}, estimated {estimate}"
    );
}

#[tokio::test]
async fn a_block_time_mines_what_is_pending_together() {
    let config = agency_devchain::DevConfig {
        block_time: Some(std::time::Duration::from_millis(300)),
        ..common::config()
    };
    let chain = DevChain::open(config).expect("open");
    let alice = chain.accounts()[0].signer.clone();
    let bob = chain.accounts()[1].address;
    let first = send(&chain, &alice, transfer(0, bob, 1)).unwrap();
    let second = send(&chain, &alice, transfer(1, bob, 1)).unwrap();
    assert_eq!(
        rpc(&chain, "eth_getTransactionReceipt", json!([first])),
        Ok(Value::Null),
        "pending until the tick"
    );
    // A refused transaction is refused at once, even though nothing is mined yet.
    let (_, message) = error_of(
        &chain,
        "eth_sendRawTransaction",
        json!([signed(&alice, transfer(5, bob, 1))]),
    );
    assert!(message.contains("nonce too high"), "{message}");
    let mut waited = 0;
    while rpc(&chain, "eth_getTransactionReceipt", json!([second]))
        .unwrap()
        .is_null()
    {
        assert!(waited < 50, "mined within 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let a = rpc(&chain, "eth_getTransactionReceipt", json!([first])).unwrap();
    let b = rpc(&chain, "eth_getTransactionReceipt", json!([second])).unwrap();
    assert_eq!(a["blockNumber"], b["blockNumber"], "one block for both");
    assert_eq!(
        (a["transactionIndex"].clone(), b["transactionIndex"].clone()),
        (json!("0x0"), json!("0x1"))
    );
    assert_eq!(b["cumulativeGasUsed"], "0xa410");
    // No runtime, no miner: a clear error rather than a chain that never mines.
    let error = std::thread::spawn(|| {
        DevChain::open(agency_devchain::DevConfig {
            block_time: Some(std::time::Duration::from_secs(1)),
            ..common::config()
        })
        .expect_err("no runtime")
    })
    .join()
    .unwrap();
    assert!(
        error.to_string().contains("needs a tokio runtime"),
        "{error}"
    );
}

#[test]
fn filters_are_capped_and_a_full_table_is_refused_not_grown() {
    let chain = common::devchain();
    let first = rpc(&chain, "eth_newBlockFilter", json!([])).unwrap();
    for _ in 1..agency_devchain::MAX_FILTERS {
        rpc(&chain, "eth_newFilter", json!([{}])).unwrap();
    }
    let error = rpc(&chain, "eth_newFilter", json!([{}])).unwrap_err();
    assert_eq!(error["code"], -32005, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("too many filters"),
        "{error}"
    );
    assert!(rpc(&chain, "eth_newBlockFilter", json!([])).is_err());
    // Uninstalling one makes room again, and the filters already installed still work.
    assert_eq!(
        rpc(&chain, "eth_uninstallFilter", json!([first])),
        Ok(json!(true))
    );
    let again = rpc(&chain, "eth_newBlockFilter", json!([])).unwrap();
    rpc(&chain, "evm_mine", json!([])).unwrap();
    let changes = rpc(&chain, "eth_getFilterChanges", json!([again])).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 1);
}
