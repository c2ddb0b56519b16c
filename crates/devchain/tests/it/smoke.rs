use agency_chain::bindings::IJobAgency::Terms;
use agency_chain::{Agency, Batch, JobStatus, protocol};
use alloy::primitives::{B256, U256, aliases::U40};
use alloy::providers::Provider;

use crate::common::{self, GENESIS};

#[tokio::test]
async fn r1_job_in_process() {
    let chain = common::devchain();
    let (requester_provider, requester) = common::in_process(&chain, 0);
    let (agent_provider, _) = common::in_process(&chain, 1);
    let as_requester = Agency::deploy(requester_provider.clone())
        .await
        .expect("deploy");
    let as_agent = Agency::at(as_requester.address(), agent_provider);
    let specs = vec![B256::repeat_byte(1)];
    let terms = Terms {
        requester,
        salt: 1,
        count: 1,
        specs: protocol::specs_hash(&specs),
        reward: 10_000_000_000_000_000,
        collateral: 2_000_000_000_000_000,
        replicas: 1,
        quorum: 1,
        minReputation: 0,
        deliveryWindow: 600,
        revealWindow: 300,
        deadline: U40::from(GENESIS + 86_400 * 30),
    };
    let batch = Batch {
        terms: terms.clone(),
        specs,
    };
    as_requester.post(&batch).await.expect("post");
    as_agent
        .deposit(U256::from(2_000_000_000_000_000u128))
        .await
        .expect("deposit");
    as_agent.claim(&terms, 0).await.expect("claim");
    as_agent
        .submit(&terms, 0, 0, B256::repeat_byte(0x42))
        .await
        .expect("submit");
    assert_eq!(
        as_agent.job(&terms, 0).await.expect("job").status,
        JobStatus::Accepted
    );
    assert_eq!(
        requester_provider.get_block_number().await.expect("number"),
        5
    );
}
