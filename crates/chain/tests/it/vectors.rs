//! The protocol's hashes against `contracts/vectors/`, computed by an independent keccak and ABI
//! encoder (contracts/script/vectors.mjs); the forge tests read the same files.

use agency_chain::bindings::IJobAgency::Terms;
use agency_chain::protocol;
use alloy::primitives::{Address, B256, U256, aliases::U40};
use serde_json::Value;

fn vectors(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../contracts/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let json: Value = serde_json::from_str(&text).expect("vector file is JSON");
    json["vectors"].as_array().expect("a vectors array").clone()
}

fn num(v: &Value) -> U256 {
    match v {
        Value::Number(n) => U256::from(n.as_u64().expect("an unsigned integer")),
        Value::String(s) => s.parse().expect("a decimal string"),
        other => panic!("not a number: {other}"),
    }
}

fn b256(v: &Value) -> B256 {
    v.as_str()
        .expect("hex string")
        .parse()
        .expect("32 bytes of hex")
}

fn address(v: &Value) -> Address {
    v.as_str().expect("hex string").parse().expect("an address")
}

#[test]
fn commitments_match_vectors() {
    let vs = vectors("commitments.json");
    assert_eq!(vs.len(), 6);
    for v in vs {
        let got = protocol::commitment(
            num(&v["chainId"]).to::<u64>(),
            address(&v["agency"]),
            b256(&v["job"]),
            address(&v["agent"]),
            b256(&v["result"]),
            b256(&v["salt"]),
        );
        assert_eq!(got, b256(&v["commitment"]), "vector {v}");
    }
}

#[test]
fn job_ids_match_vectors() {
    let vs = vectors("job-ids.json");
    assert_eq!(vs.len(), 3);
    for v in vs {
        let specs: Vec<B256> = v["specDigests"]
            .as_array()
            .expect("digests")
            .iter()
            .map(b256)
            .collect();
        assert_eq!(
            protocol::specs_hash(&specs),
            b256(&v["specs"]),
            "specs hash"
        );
        let terms = Terms {
            requester: address(&v["requester"]),
            salt: num(&v["salt"]).to(),
            count: num(&v["count"]).to(),
            specs: b256(&v["specs"]),
            reward: num(&v["reward"]).to(),
            collateral: num(&v["collateral"]).to(),
            replicas: num(&v["replicas"]).to(),
            quorum: num(&v["quorum"]).to(),
            minReputation: num(&v["minReputation"]).to(),
            deliveryWindow: num(&v["deliveryWindow"]).to(),
            revealWindow: num(&v["revealWindow"]).to(),
            deadline: U40::from(num(&v["deadline"]).to::<u64>()),
        };
        assert_eq!(protocol::batch_id(&terms), b256(&v["batchId"]), "batch id");
        let last = terms.count - 1;
        let job = protocol::job_id(&terms, last);
        assert_eq!(job, b256(&v["lastJobId"]), "job id");
        assert_eq!(
            protocol::split_job_id(job),
            (b256(&v["batchId"]), last),
            "split"
        );
    }
}
