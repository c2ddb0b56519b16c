//! JobAgency deployed on anvil and driven through the client, as an agent and a requester would.

use agency_chain::bindings::IJobAgency::Terms;
use agency_chain::bindings::JobAgency;
use agency_chain::bindings::JobAgency::JobAgencyErrors;
use agency_chain::events::{Cursor, EventStream, StreamItem};
use agency_chain::{Agency, ChainError, SendConfig, Sender, protocol};
use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, B256, U256, aliases::U40};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;

const REWARD: u128 = 10_000_000_000_000_000; // 0.01 ether
const COLLATERAL: u128 = 2_000_000_000_000_000;

pub(crate) fn anvil() -> AnvilInstance {
    let bin = format!(
        "{}/../../node_modules/.bin/anvil",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(
        std::path::Path::new(&bin).exists(),
        "{bin} is missing: run `npm ci` at the repository root"
    );
    Anvil::at(bin).arg("--hardfork").arg("cancun").spawn()
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

async fn terms(
    provider: &DynProvider,
    requester: Address,
    salt: u64,
    replicas: u8,
) -> (Terms, Vec<B256>) {
    let now = provider.get_block_number().await.expect("block number");
    let block = provider
        .get_block_by_number(now.into())
        .await
        .expect("block")
        .expect("latest block");
    let specs = vec![B256::repeat_byte(salt as u8 + 1)];
    let terms = Terms {
        requester,
        salt,
        count: 1,
        specs: protocol::specs_hash(&specs),
        reward: REWARD,
        collateral: COLLATERAL,
        replicas,
        quorum: replicas / 2 + 1,
        minReputation: 0,
        deliveryWindow: 600,
        revealWindow: 300,
        deadline: U40::from(block.header.timestamp + 3600),
    };
    (terms, specs)
}

#[tokio::test]
async fn r1_job_lifecycle_on_anvil() {
    let anvil = anvil();
    let (req_provider, requester) = provider(&anvil, 0);
    let (agent_provider, agent) = provider(&anvil, 1);
    let as_requester = Agency::deploy(req_provider.clone()).await.expect("deploy");
    let as_agent = Agency::at(as_requester.address(), agent_provider);

    let (terms, specs) = terms(&req_provider, requester, 1, 1).await;
    let batch = as_requester.post(&terms, &specs).await.expect("post");
    assert_eq!(batch, protocol::batch_id(&terms));
    let job = protocol::job_id(&terms, 0);
    assert_eq!(as_requester.job(&terms, 0).await.expect("job").id, job);

    as_agent
        .deposit(U256::from(COLLATERAL))
        .await
        .expect("deposit");
    let result = B256::repeat_byte(0x42);
    let receipt = as_agent
        .claim_and_submit(&terms, 0, result)
        .await
        .expect("claimAndSubmit");
    let accepted = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| JobAgency::Accepted::decode_log(&log.inner).ok())
        .expect("an Accepted event");
    assert_eq!(
        (accepted.job, accepted.result, accepted.winners),
        (job, result, U256::from(1))
    );

    let view = as_agent.job(&terms, 0).await.expect("job");
    assert_eq!(view.status, 3, "Accepted");
    assert_eq!(view.slots[0].agent, agent);
    let account = as_agent.account(agent).await.expect("account");
    assert_eq!(
        account.balance,
        U256::from(COLLATERAL + REWARD),
        "collateral back plus the reward"
    );
    assert_eq!((account.agent, account.accepted), (1, 1));
}

#[tokio::test]
async fn reverts_decode_to_the_contracts_errors() {
    let anvil = anvil();
    let (req_provider, requester) = provider(&anvil, 0);
    let (agent_provider, _) = provider(&anvil, 1);
    let as_requester = Agency::deploy(req_provider.clone()).await.expect("deploy");
    let as_agent = Agency::at(as_requester.address(), agent_provider);
    let (terms, specs) = terms(&req_provider, requester, 2, 3).await;

    // Not posted yet: every call on the job names it.
    let err = as_agent.claim(&terms, 0).await.expect_err("unknown job");
    match err.revert() {
        Some(JobAgencyErrors::UnknownJob(e)) => assert_eq!(e.job, protocol::job_id(&terms, 0)),
        other => panic!("expected UnknownJob, got {other:?} from {err}"),
    }
    assert!(!err.is_retryable(), "a revert is final");

    as_requester.post(&terms, &specs).await.expect("post");
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
    let err = as_requester
        .post(&terms, &specs)
        .await
        .expect_err("posted twice");
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
    let mut stream = EventStream::new(provider.clone(), agency.address(), Cursor::from_block(0), 2);

    let (first, specs) = terms(&provider, requester, 10, 1).await;
    let batch1 = agency.post(&first, &specs).await.expect("post");
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
    let (second, specs2) = terms(&provider, requester, 11, 1).await;
    let batch2 = agency.post(&second, &specs2).await.expect("post");
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
    let (third, specs3) = terms(&provider, requester, 12, 1).await;
    let batch3 = agency.post(&third, &specs3).await.expect("post");
    mine(&provider, 3).await;
    let items = stream.poll().await.expect("poll");
    assert_eq!(
        posted(&items),
        [(false, batch2), (true, batch3)],
        "removal first, then the new chain"
    );

    // A stream resumed from the cursor saved before the reorg sees the same.
    let mut resumed = EventStream::new(provider.clone(), agency.address(), saved, 2);
    assert_eq!(
        posted(&resumed.poll().await.expect("poll")),
        [(false, batch2), (true, batch3)]
    );
    assert_eq!(resumed.cursor(), stream.cursor());
}

#[tokio::test]
async fn any_call_goes_through_transact() {
    // An r = 3 job driven with the generic path: claim, commit, then a reveal refused for a
    // wrong salt, decoded.
    let anvil = anvil();
    let (req_provider, requester) = provider(&anvil, 0);
    let (agent_provider, agent) = provider(&anvil, 1);
    let as_requester = Agency::deploy(req_provider.clone()).await.expect("deploy");
    let as_agent = Agency::at(as_requester.address(), agent_provider.clone());
    let (terms, specs) = terms(&req_provider, requester, 20, 3).await;
    as_requester.post(&terms, &specs).await.expect("post");
    as_agent
        .deposit(U256::from(COLLATERAL))
        .await
        .expect("deposit");
    as_agent.claim(&terms, 0).await.expect("claim");

    let job = protocol::job_id(&terms, 0);
    let chain_id = agent_provider.get_chain_id().await.expect("chain id");
    let (result, salt) = (B256::repeat_byte(7), B256::repeat_byte(9));
    let sealed = protocol::commitment(chain_id, as_agent.address(), job, agent, result, salt);
    let c = as_agent.contract();
    let on_chain = c
        .commitmentOf(job, agent, result, salt)
        .call()
        .await
        .expect("commitmentOf");
    assert_eq!(sealed, on_chain, "the Rust commitment is the contract's");
    let commit = c
        .commit(terms.clone(), U256::ZERO, U256::ZERO, sealed)
        .into_transaction_request();
    as_agent.transact("commit", commit).await.expect("commit");
    assert_eq!(
        as_agent.job(&terms, 0).await.expect("job").slots[0].sealedResult,
        sealed
    );

    let reveal = c
        .reveal(terms.clone(), U256::ZERO, U256::ZERO, result, salt)
        .into_transaction_request();
    let err = as_agent
        .transact("reveal", reveal)
        .await
        .expect_err("reveals are not open yet");
    assert!(
        matches!(err.revert(), Some(JobAgencyErrors::RevealsNotOpen(_))),
        "{err}"
    );
}
