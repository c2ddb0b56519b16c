//! Our chain client (crates/chain) against the dev chain over HTTP: the Sender's nonces and the
//! event stream's confirmations and reorg reports, on a chain rewound with evm_revert.

use agency_chain::bindings::IJobAgency::Terms;
use agency_chain::bindings::JobAgency;
use agency_chain::events::{Cursor, EventStream, StreamItem};
use agency_chain::{Agency, Batch, SendConfig, Sender, protocol};
use alloy::primitives::{B256, U256, aliases::U40};
use alloy::providers::{DynProvider, Provider};

use crate::common;

async fn terms(provider: &DynProvider, requester: alloy::primitives::Address, salt: u64) -> Batch {
    let block = provider
        .get_block_by_number(Default::default())
        .await
        .expect("block")
        .expect("latest");
    let specs = vec![B256::repeat_byte(salt as u8)];
    let terms = Terms {
        requester,
        salt,
        count: 1,
        specs: protocol::specs_hash(&specs),
        reward: 1_000_000,
        collateral: 0,
        replicas: 1,
        quorum: 1,
        minReputation: 0,
        deliveryWindow: 600,
        revealWindow: 300,
        deadline: U40::from(block.header.timestamp + 3600),
    };
    Batch { terms, specs }
}

fn posted(items: &[StreamItem]) -> Vec<(bool, B256)> {
    items
        .iter()
        .filter_map(|item| match item {
            StreamItem::Added(event) => match &event.event {
                JobAgency::JobAgencyEvents::JobsPosted(posted) => Some((true, posted.batch)),
                _ => None,
            },
            StreamItem::Removed(event) => match &event.event {
                JobAgency::JobAgencyEvents::JobsPosted(posted) => Some((false, posted.batch)),
                _ => None,
            },
        })
        .collect()
}

async fn mine(provider: &DynProvider, blocks: u64) {
    for _ in 0..blocks {
        let _: String = provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_sees_confirmations_and_a_reorg() {
    let chain = common::devchain();
    let url = common::serve(&chain).await;
    let (provider, requester) = common::http(&url, &chain, 0);
    let address = Agency::deploy(provider.clone())
        .await
        .expect("deploy")
        .address();
    let signer = chain.accounts()[0].signer.clone();
    let agency = Agency::with_sender(
        address,
        Sender::connect(url.parse().expect("url"), signer, SendConfig::default()),
    );
    let mut stream = EventStream::new(provider.clone(), address, Cursor::from_block(0), 2);

    let first = terms(&provider, requester, 10).await;
    let batch1 = agency.post(&first).await.expect("post");
    assert_eq!(
        posted(&stream.poll().await.expect("poll")),
        [],
        "not 2 blocks deep yet"
    );
    mine(&provider, 2).await;
    assert_eq!(
        posted(&stream.poll().await.expect("poll")),
        [(true, batch1)]
    );

    let snapshot: U256 = provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("snapshot");
    let second = terms(&provider, requester, 11).await;
    let batch2 = agency.post(&second).await.expect("post");
    mine(&provider, 2).await;
    assert_eq!(
        posted(&stream.poll().await.expect("poll")),
        [(true, batch2)]
    );
    let reverted: bool = provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("revert");
    assert!(reverted);
    let third = terms(&provider, requester, 12).await;
    let batch3 = agency
        .post(&third)
        .await
        .expect("post after the rewind (the Sender reads the nonce)");
    mine(&provider, 3).await;
    assert_eq!(
        posted(&stream.poll().await.expect("poll")),
        [(false, batch2), (true, batch3)],
        "removal first, then the new chain"
    );
}
