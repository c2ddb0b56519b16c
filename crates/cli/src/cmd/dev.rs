//! `agency dev`: the whole market in one process, a [`DevStack`] (the dev chain with JobAgency
//! deployed, the content store, a few agents) with its servers and the web UI, over one data dir
//! that survives restarts.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agency_chain::SendConfig;
use agency_devchain::DevConfig;
use agency_devstack::{ChainKind, DevStack, DevStackConfig, DevStackError};
use agency_store::{BlockStore, FsStore};
use agency_worker::{WorkerConfig, WorkerHandle};
use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::opts::{GlobalOpts, ServeOpts, data_dir, eth, parse_amount};
use crate::output::Output;

/// Run the whole market on this machine, in one process.
///
/// Starts the embedded dev chain with JobAgency deployed, the content store (Kubo RPC subset
/// and trustless gateway over HTTP), agents staked from dev accounts 1 to N, and the web
/// server; prints the endpoints, the contract and the dev keys. Dev account 0 is yours: the
/// other commands use it by default against a dev chain (`agency job post code.js input.json
/// --wait`). Everything lives in the data dir, so a restart carries on where it stopped:
/// same chain, same jobs, agents resuming their work. Ctrl-C stops cleanly.
#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// Agents to run, on dev accounts 1 to N (the dev chain has 10 accounts; 0 is yours).
    #[arg(long, default_value_t = 3, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=9))]
    workers: u32,

    /// Where the chain, the store and the agents' journals live [default: $AGENCY_DATA_DIR,
    /// the directory the other commands use by default].
    #[arg(long, value_name = "DIR", conflicts_with = "ephemeral")]
    data_dir: Option<PathBuf>,

    /// Keep nothing: a temporary data dir, removed when the command stops.
    #[arg(long)]
    ephemeral: bool,

    /// First of three ports: JSON-RPC on P, the store's API and gateway on P+1, the web server
    /// on P+2 (0: any free ports).
    #[arg(long, default_value_t = 8545, value_name = "P")]
    port_base: u16,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    host: IpAddr,

    /// Stake each agent keeps deposited.
    #[arg(long, default_value = "1eth", value_name = "AMOUNT", value_parser = parse_amount)]
    stake: U256,

    /// Jobs each agent runs at once.
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,

    /// The agents run each job before claiming it and claim and deliver in one transaction
    /// (see `agency worker --run-first`).
    #[arg(long)]
    run_first: bool,

    /// How often the agents poll the chain, in milliseconds.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    poll_interval: u64,

    /// Make the last N agents lie: they run each job, then commit a result of their own. To
    /// watch the market catch and slash them (demos, tests).
    #[arg(long, default_value_t = 0, value_name = "N", hide = true)]
    lying_workers: u32,

    /// Run this shell command once the market is up, then stop and exit with its status. It
    /// sees AGENCY_RPC_URL, AGENCY_AGENCY, AGENCY_STORE and AGENCY_PRIVATE_KEY (dev account
    /// 0) set for this market, and `agency` on its PATH.
    #[arg(long, value_name = "COMMAND")]
    exec: Option<String>,

    #[command(flatten)]
    serve: ServeOpts,
}

impl DevArgs {
    /// Whether an `--exec` command owns the output.
    pub(crate) fn runs_command(&self) -> bool {
        self.exec.is_some()
    }
}

/// Runs the market; returns the exit status (the `--exec` command's, or 0).
pub(crate) async fn run(
    args: DevArgs,
    g: &GlobalOpts,
    out: Output,
    stop: &CancellationToken,
) -> Result<u8> {
    let started = Instant::now();
    let temp = if args.ephemeral {
        Some(tempfile::tempdir().context("creating a temporary data dir")?)
    } else {
        None
    };
    let dir = match (&temp, &args.data_dir) {
        (Some(t), _) => t.path().to_owned(),
        (None, Some(d)) => d.clone(),
        (None, None) => data_dir(),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))?;

    // Ports first: a clash is the most likely failure, and it should cost nothing.
    let port = |offset: u16| -> Result<SocketAddr> {
        if args.port_base == 0 {
            return Ok(SocketAddr::new(args.host, 0));
        }
        let p = args
            .port_base
            .checked_add(offset)
            .context("--port-base is too high (three ports are needed)")?;
        Ok(SocketAddr::new(args.host, p))
    };
    let rpc_listener = bind(port(0)?, "JSON-RPC").await?;
    let store_listener = bind(port(1)?, "the store").await?;
    let web_listener = bind(port(2)?, "the web server").await?;
    let rpc_url = format!("http://{}", rpc_listener.local_addr()?);
    let store_url = format!("http://{}", store_listener.local_addr()?);
    let web_url = format!("http://{}", web_listener.local_addr()?);

    let (store, store_dir): (Arc<dyn BlockStore>, Option<PathBuf>) =
        if g.store.ipfs_api.is_some() || g.store.store.is_some() {
            (g.store.open()?, g.store.store.clone())
        } else {
            let d = dir.join("store");
            (Arc::new(FsStore::open(&d)?), Some(d))
        };
    let config = DevStackConfig {
        chain: ChainKind::Dev(DevConfig {
            data_dir: temp.is_none().then(|| dir.join("chain")),
            ..DevConfig::default()
        }),
        data_dir: Some(dir.clone()),
        store: Some(store),
        agents: args.workers,
        liars: args.lying_workers,
        executor: Some(Arc::new(crate::exec::agent_job_process()?)),
        worker: WorkerConfig {
            concurrency: args.concurrency as usize,
            stake: args.stake,
            poll_interval: Duration::from_millis(args.poll_interval.max(5)),
            confirmations: 0,
            from_block: 0,
            run_first: args.run_first,
            ..WorkerConfig::default()
        },
        send: SendConfig::default(),
        wait_poll: Duration::from_millis(20),
    };
    let mut stack = DevStack::start(config).await.map_err(|e| match e {
        DevStackError::Reused => anyhow::Error::new(e)
            .context("starting the market: pass another --data-dir (or --ephemeral)"),
        e => anyhow::Error::new(e).context("starting the market"),
    })?;
    let agency = stack.agency_address();
    let accounts = stack.accounts().to_vec();
    let requester = accounts[0].signer.clone();

    let key = |s: &PrivateKeySigner| format!("0x{}", alloy::hex::encode(s.to_bytes()));
    let summary = json!({
        "rpc_url": rpc_url,
        "ws_url": rpc_url.replace("http://", "ws://"),
        "chain_id": stack.chain_id(),
        "agency": agency,
        "store_api": format!("{store_url}/api/v0"),
        "gateway": format!("{store_url}/ipfs"),
        "web": web_url,
        "data_dir": temp.is_none().then_some(&dir),
        "store_dir": store_dir,
        "requester": {"address": requester.address(), "private_key": key(&requester)},
        "agents": stack.agents().iter().map(WorkerHandle::agent).collect::<Vec<_>>(),
        "lying_agents": stack.liars(),
        "accounts": accounts.iter().map(|a| json!({
            "address": a.address, "private_key": key(&a.signer)
        })).collect::<Vec<_>>(),
    });
    let web_config = crate::web::config(agency, stack.chain_id(), summary["accounts"].clone());
    let identity = store_dir
        .as_ref()
        .map_or_else(|| "agency-dev".to_owned(), |d| d.display().to_string());
    let chain_app = stack
        .chain_router()
        .expect("agency dev runs the embedded chain");
    let store_app = stack.store_router(&identity);
    let dev_doc = summary.clone();
    let web_app = crate::web::router(web_config, chain_app.clone(), store_app.clone()).route(
        "/api/dev",
        axum::routing::get(move || async move { axum::Json(dev_doc) }),
    );
    let (bounds, guard) = (args.serve.bounds(), args.serve.guard());
    stack.serve(rpc_listener, chain_app, &bounds, &guard);
    stack.serve(store_listener, store_app, &bounds, &guard);
    stack.serve(web_listener, web_app, &bounds, &guard);
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "market up"
    );

    // An agent stops by itself only on an error: then the market stops too.
    let agent_stopped = async {
        match stack.agents() {
            [] => std::future::pending().await,
            agents => {
                futures::future::select_all(agents.iter().map(|a| Box::pin(a.stopped()))).await;
            }
        }
    };
    let status = match &args.exec {
        Some(command) => {
            out.notice(format_args!(
                "agency dev: chain {rpc_url}, contract {agency}, store {store_url}, {} agents; \
                 running: {command}",
                stack.agents().len()
            ));
            let child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .envs(exec_env(&summary, store_dir.as_deref(), g)?)
                .env_remove("AGENCY_KEYSTORE")
                .kill_on_drop(true)
                .spawn()
                .context("starting the --exec command")?;
            tokio::select! {
                status = wait_child(child) => status?,
                () = stop.cancelled() => 130,
                () = agent_stopped => 2,
            }
        }
        None => {
            print_summary(&summary, agency, &accounts, args.stake, out);
            tokio::select! {
                () = stop.cancelled() => {}
                () = agent_stopped => {}
            }
            0
        }
    };

    if args.exec.is_none() {
        out.notice("stopping: agents finish what is in flight");
    }
    let stopped = stack.stop().await;
    drop(temp);
    stopped?;
    Ok(status)
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} for {what} (another `agency dev`, `agency chain` or anvil \
             running? pick other ports with --port-base)"
        )
    })
}

/// The environment of the `--exec` command: this market's endpoints and dev account 0.
fn exec_env(
    summary: &Value,
    store_dir: Option<&Path>,
    g: &GlobalOpts,
) -> Result<Vec<(String, String)>> {
    let exe = std::env::current_exe().context("finding the agency executable")?;
    let bin = exe
        .parent()
        .context("the agency executable has no directory")?;
    let path = match std::env::var_os("PATH") {
        Some(p) => {
            let mut dirs = vec![bin.to_owned()];
            dirs.extend(std::env::split_paths(&p));
            std::env::join_paths(dirs)?.to_string_lossy().into_owned()
        }
        None => bin.display().to_string(),
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut env = vec![
        ("PATH".to_owned(), path),
        ("AGENCY_RPC_URL".to_owned(), text(&summary["rpc_url"])),
        ("AGENCY_AGENCY".to_owned(), text(&summary["agency"])),
        (
            "AGENCY_PRIVATE_KEY".to_owned(),
            text(&summary["requester"]["private_key"]),
        ),
    ];
    match (&g.store.ipfs_api, store_dir) {
        (Some(api), _) => env.push(("AGENCY_IPFS_API".to_owned(), api.clone())),
        (None, Some(dir)) => env.push(("AGENCY_STORE".to_owned(), dir.display().to_string())),
        (None, None) => {}
    }
    Ok(env)
}

async fn wait_child(mut child: tokio::process::Child) -> Result<u8> {
    let status = child
        .wait()
        .await
        .context("waiting for the --exec command")?;
    Ok(match status.code() {
        Some(0) => 0,
        Some(code) => u8::try_from(code).unwrap_or(1).max(1),
        None => 1, // killed by a signal
    })
}

fn print_summary(
    summary: &Value,
    agency: Address,
    accounts: &[agency_devchain::DevAccount],
    stake: U256,
    out: Output,
) {
    if out.json {
        out.json(summary);
        return;
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let agents = summary["agents"].as_array().map_or(0, Vec::len);
    out.line("Dev accounts (test keys from a public mnemonic: never send real value to them)");
    for (i, a) in accounts.iter().enumerate() {
        let role = match i {
            0 => "  requester (yours)".to_owned(),
            i if i <= agents => format!("  agent, staking {}", eth(stake)),
            _ => String::new(),
        };
        out.line(format_args!(
            "({i}) {}  0x{}{role}",
            a.address,
            alloy::hex::encode(a.signer.to_bytes())
        ));
    }
    out.line("");
    out.line(format_args!(
        "JSON-RPC    {}  (chain id {})",
        text(&summary["rpc_url"]),
        summary["chain_id"]
    ));
    out.line(format_args!("JobAgency   {agency}"));
    out.line(format_args!(
        "Store API   {}  (Kubo RPC subset)",
        text(&summary["store_api"])
    ));
    out.line(format_args!(
        "Gateway     {}/{{cid}}",
        text(&summary["gateway"])
    ));
    out.line(format_args!("Web         {}", text(&summary["web"])));
    match summary["data_dir"].as_str() {
        Some(dir) => out.line(format_args!("Data dir    {dir}")),
        None => out.line("Data dir    none (--ephemeral)"),
    }
    out.line("");
    out.notice(format_args!(
        "the market is up with {agents} agents (Ctrl-C stops). Try:\n  agency job post \
         examples/sudoku/solve.js examples/sudoku/puzzle.json --wait"
    ));
    if summary["store_dir"]
        .as_str()
        .is_some_and(|d| Path::new(d) != crate::opts::data_dir().join("store"))
    {
        out.notice(format_args!(
            "(from another shell, point the other commands at this store: AGENCY_STORE={} or \
             --ipfs-api {})",
            text(&summary["store_dir"]),
            text(&summary["store_api"]).trim_end_matches("/api/v0")
        ));
    }
}
