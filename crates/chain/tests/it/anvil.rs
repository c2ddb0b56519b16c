//! JobAgency deployed on anvil and driven through the client, as an agent and a requester would.

use std::time::Duration;

use agency_chain::bindings::JobAgency;
use agency_chain::bindings::JobAgency::JobAgencyErrors;
use agency_chain::events::{Cursor, StreamItem};
use agency_chain::{
    Agency, Batch, Call, ChainError, Event, JobStatus, SendConfig, Sender, TermsBuilder, protocol,
};
use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

const REWARD: u128 = 10_000_000_000_000_000; // 0.01 ether
const COLLATERAL: u128 = 2_000_000_000_000_000;

pub(crate) fn anvil() -> AnvilInstance {
    agency_chain::testing::anvil()
        .arg("--hardfork")
        .arg("cancun")
        .spawn()
}

pub(crate) fn provider(anvil: &AnvilInstance, account: usize) -> (DynProvider, Address) {
    let signer: PrivateKeySigner = anvil.keys()[account].clone().into();
    let address = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.endpoint_url())
        .erased();
    (provider, address)
}

/// A batch of one job with `replicas` replicas, posted by `requester`, its deadline an hour
/// after the latest block.
async fn terms(provider: &DynProvider, requester: Address, salt: u64, replicas: u8) -> Batch {
    let now = provider.get_block_number().await.expect("block number");
    let block = provider
        .get_block_by_number(now.into())
        .await
        .expect("block")
        .expect("latest block");
    let specs = vec![B256::repeat_byte(salt as u8 + 1)];
    TermsBuilder::new(requester, specs)
        .salt(salt)
        .reward(U256::from(REWARD))
        .collateral(U256::from(COLLATERAL))
        .replicas(replicas)
        .delivery_window(Duration::from_secs(600))
        .reveal_window(Duration::from_secs(300))
        .build(block.header.timestamp)
        .expect("valid terms")
}

#[tokio::test]
async fn r1_job_lifecycle_on_anvil() {
    let anvil = anvil();
    let (req_provider, requester) = provider(&anvil, 0);
    let (agent_provider, agent) = provider(&anvil, 1);
    let as_requester = Agency::deploy(req_provider.clone()).await.expect("deploy");
    let as_agent = Agency::at(as_requester.address(), agent_provider);

    let posted = terms(&req_provider, requester, 1, 1).await;
    let terms = posted.terms.clone();
    let batch = as_requester.post(&posted).await.expect("post");
    assert_eq!(batch, protocol::batch_id(&terms));
    let job = protocol::job_id(&terms, 0);
    assert_eq!(as_requester.job(&terms, 0).await.expect("job").id, job);

    as_agent
        .deposit(U256::from(COLLATERAL))
        .await
        .expect("deposit");
    let result = B256::repeat_byte(0x42);
    as_agent.claim(&terms, 0).await.expect("claim");
    let mined = as_agent.submit(&terms, 0, 0, result).await.expect("submit");
    let accepted = mined
        .events
        .iter()
        .find_map(|e| match e {
            Event::Accepted(a) => Some(a.clone()),
            _ => None,
        })
        .expect("an Accepted event");
    assert_eq!(
        (accepted.job, accepted.result, accepted.winners),
        (job, result, U256::from(1))
    );

    let view = as_agent.job(&terms, 0).await.expect("job");
    assert_eq!(view.status, JobStatus::Accepted);
    assert_eq!(view.slots[0].agent, agent);
    let account = as_agent.account(agent).await.expect("account");
    let fee = protocol::reputation_fee(terms.reward);
    assert!(fee > 0, "a reward this size pays a reputation fee");
    assert_eq!(
        account.balance,
        U256::from(COLLATERAL + REWARD - fee),
        "collateral back plus the reward less the reputation fee"
    );
    assert_eq!((account.agent, account.accepted), (1, 1));
    assert_eq!(account.points, protocol::points(&terms, 1));
    assert_eq!(
        as_agent.burned().await.expect("burned"),
        U256::from(fee),
        "the fee is burned"
    );
}

#[tokio::test]
async fn reverts_decode_to_the_contracts_errors() {
    let anvil = anvil();
    let (req_provider, requester) = provider(&anvil, 0);
    let (agent_provider, _) = provider(&anvil, 1);
    let as_requester = Agency::deploy(req_provider.clone()).await.expect("deploy");
    let as_agent = Agency::at(as_requester.address(), agent_provider);
    let posted = terms(&req_provider, requester, 2, 3).await;
    let terms = posted.terms.clone();

    // Not posted yet: every call on the job names it.
    let err = as_agent.claim(&terms, 0).await.expect_err("unknown job");
    match err.revert() {
        Some(JobAgencyErrors::UnknownJob(e)) => assert_eq!(e.job, protocol::job_id(&terms, 0)),
        other => panic!("expected UnknownJob, got {other:?} from {err}"),
    }
    assert!(!err.is_retryable(), "a revert is final");

    as_requester.post(&posted).await.expect("post");
    let err = as_agent.claim(&terms, 0).await.expect_err("no stake");
    match err.revert() {
        Some(JobAgencyErrors::InsufficientStake(e)) => {
            assert_eq!(
                (e.needed, e.available),
                (U256::from(COLLATERAL), U256::ZERO)
            );
        }
        other => panic!("expected InsufficientStake, got {other:?} from {err}"),
    }
    let err = as_requester.post(&posted).await.expect_err("posted twice");
    assert!(
        matches!(err.revert(), Some(JobAgencyErrors::BatchExists(_))),
        "{err}"
    );
    assert!(matches!(err, ChainError::Reverted { call: "post", .. }));
}

#[tokio::test]
async fn an_unreachable_node_is_retryable() {
    // A port nothing listens on: bind one, then drop the listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let signer = PrivateKeySigner::random();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(format!("http://127.0.0.1:{port}").parse().expect("url"))
        .erased();
    let agency = Agency::at(Address::repeat_byte(1), provider);
    let err = agency
        .account(Address::ZERO)
        .await
        .expect_err("nothing listens");
    assert!(
        err.is_retryable(),
        "connection refused is retryable: {err:?}"
    );
}

fn posted(items: &[StreamItem]) -> Vec<(bool, B256)> {
    items
        .iter()
        .filter_map(|item| match item {
            StreamItem::Added(e) => match &e.event {
                JobAgency::JobAgencyEvents::JobsPosted(p) => Some((true, p.batch)),
                _ => None,
            },
            StreamItem::Removed(e) => match &e.event {
                JobAgency::JobAgencyEvents::JobsPosted(p) => Some((false, p.batch)),
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

#[tokio::test]
async fn event_stream_confirms_resumes_and_reports_reorgs() {
    let anvil = anvil();
    let (provider, requester) = provider(&anvil, 0);
    // Posts go through a Sender: alloy's default nonce filler caches nonces, and after the
    // rewind below the chain wants an older one; the Sender asks the chain every time.
    let address = Agency::deploy(provider.clone())
        .await
        .expect("deploy")
        .address();
    let signer: PrivateKeySigner = anvil.keys()[0].clone().into();
    let agency = Agency::with_sender(
        address,
        Sender::connect(anvil.endpoint_url(), signer, SendConfig::default()),
    );
    let mut stream = agency.events(Cursor::from_block(0), 2);

    let first = terms(&provider, requester, 10, 1).await;
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
    assert_eq!(
        posted(&stream.poll().await.expect("poll")),
        [],
        "delivered once"
    );

    // A second job, then a reorg that drops it: the chain goes back before its block and mines
    // other blocks at the same heights.
    let snapshot: U256 = provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("snapshot");
    let second = terms(&provider, requester, 11, 1).await;
    let batch2 = agency.post(&second).await.expect("post");
    mine(&provider, 2).await;
    assert_eq!(
        posted(&stream.poll().await.expect("poll")),
        [(true, batch2)]
    );
    let saved = stream.cursor().clone();

    let reverted: bool = provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("revert");
    assert!(reverted);
    let third = terms(&provider, requester, 12, 1).await;
    let batch3 = agency.post(&third).await.expect("post");
    mine(&provider, 3).await;
    let items = stream.poll().await.expect("poll");
    assert_eq!(
        posted(&items),
        [(false, batch2), (true, batch3)],
        "removal first, then the new chain"
    );

    // A stream resumed from the cursor saved before the reorg sees the same.
    let mut resumed = agency.events(saved, 2);
    assert_eq!(
        posted(&resumed.poll().await.expect("poll")),
        [(false, batch2), (true, batch3)]
    );
    assert_eq!(resumed.cursor(), stream.cursor());
}

#[tokio::test]
async fn any_call_goes_through_send() {
    // An r = 3 job driven with the generic path: claim, commit, then a reveal refused for a
    // wrong salt, decoded.
    let anvil = anvil();
    let (req_provider, requester) = provider(&anvil, 0);
    let (agent_provider, agent) = provider(&anvil, 1);
    let as_requester = Agency::deploy(req_provider.clone()).await.expect("deploy");
    let as_agent = Agency::at(as_requester.address(), agent_provider.clone());
    let posted = terms(&req_provider, requester, 20, 3).await;
    let terms = posted.terms.clone();
    as_requester.post(&posted).await.expect("post");
    as_agent
        .deposit(U256::from(COLLATERAL))
        .await
        .expect("deposit");
    as_agent.claim(&terms, 0).await.expect("claim");

    let job = protocol::job_id(&terms, 0);
    let chain_id = as_agent.chain_id().await.expect("chain id");
    let (result, salt) = (B256::repeat_byte(7), B256::repeat_byte(9));
    let sealed = protocol::commitment(chain_id, as_agent.address(), job, agent, result, salt);
    let on_chain = JobAgency::new(as_agent.address(), agent_provider)
        .commitmentOf(job, agent, result, salt)
        .call()
        .await
        .expect("commitmentOf");
    assert_eq!(sealed, on_chain, "the Rust commitment is the contract's");
    let commit = Call::Commit {
        terms: terms.clone(),
        index: 0,
        slot: 0,
        commitment: sealed,
    };
    as_agent.send(commit).await.expect("commit");
    assert_eq!(
        as_agent.job(&terms, 0).await.expect("job").slots[0].sealed,
        sealed
    );

    let reveal = Call::Reveal {
        terms: terms.clone(),
        index: 0,
        slot: 0,
        result,
        salt,
    };
    let err = as_agent
        .send(reveal)
        .await
        .expect_err("reveals are not open yet");
    assert!(
        matches!(err.revert(), Some(JobAgencyErrors::RevealsNotOpen(_))),
        "{err}"
    );
}

#[tokio::test]
async fn the_payout_rule_is_the_contracts_split() {
    // r = 3, quorum 2, slot 1 lies: the two winners share the reward less its 1% reputation fee
    // (10,000 wei), the first winner takes the odd wei, the liar's collateral and the fee are
    // burned; what `protocol::winners` and `protocol::burned`
    // say is what the balances get.
    let anvil = anvil();
    let (req_provider, requester) = provider(&anvil, 0);
    let as_requester = Agency::deploy(req_provider.clone()).await.expect("deploy");
    let head = as_requester.head().await.expect("head");
    let posted = TermsBuilder::new(requester, vec![B256::repeat_byte(5)])
        .reward(U256::from(1_000_011u64))
        .collateral(U256::from(7u64))
        .replicas(3)
        .build(head.timestamp)
        .expect("valid terms");
    let terms = posted.terms.clone();
    as_requester.post(&posted).await.expect("post");
    let job = posted.job_id(0);
    let chain_id = as_requester.chain_id().await.expect("chain id");

    let mut agents = Vec::new();
    for account in 1..=3 {
        let (p, address) = provider(&anvil, account);
        let agent = Agency::at(as_requester.address(), p);
        agent.deposit(U256::from(7u64)).await.expect("deposit");
        agent.claim(&terms, 0).await.expect("claim");
        agents.push((agent, address));
    }
    let honest = B256::repeat_byte(0xaa);
    let digests = [honest, B256::repeat_byte(0xbb), honest];
    let salt = B256::repeat_byte(1);
    for (slot, (agent, address)) in agents.iter().enumerate() {
        let commitment = protocol::commitment(
            chain_id,
            agent.address(),
            job,
            *address,
            digests[slot],
            salt,
        );
        agent
            .send(Call::Commit {
                terms: terms.clone(),
                index: 0,
                slot: slot as u8,
                commitment,
            })
            .await
            .expect("commit");
    }
    for (slot, (agent, _)) in agents.iter().enumerate() {
        agent
            .send(Call::Reveal {
                terms: terms.clone(),
                index: 0,
                slot: slot as u8,
                result: digests[slot],
                salt,
            })
            .await
            .expect("reveal");
    }
    let view = as_requester.job(&terms, 0).await.expect("job");
    assert_eq!(view.status, JobStatus::Accepted);
    let winners = protocol::winners(&terms, &view);
    assert_eq!(
        winners,
        [
            (agents[0].1, U256::from(495_006u64)),
            (agents[2].1, U256::from(495_005u64))
        ]
    );
    for (agent, address) in &agents {
        let balance = agent.account(*address).await.expect("account").balance;
        let credited = protocol::earned(&terms, &view, *address).map(|e| e + U256::from(7u64));
        assert_eq!(balance, credited.unwrap_or_default(), "{address}");
    }
    assert_eq!(
        as_requester.burned().await.expect("burned"),
        protocol::burned(&terms, &view)
    );
    assert_eq!(protocol::burned(&terms, &view), U256::from(7u64 + 10_000));
}
