//! The market as deployments look: anvil (not our dev chain, not its chain id) and a store
//! server on one host, three agents and a requester each on a host of their own, all joined by
//! a switch. The hosts are network namespaces made by the test (`ip netns`, veth pairs into a
//! bridge in a namespace of its own), so nothing touches the machine's own network. One agent's
//! link is cut mid-job and restored: in time, it recovers and is paid; past its delivery
//! window, its slot is evicted while the others are paid; afterwards it works on. No wei is
//! lost: the contract holds exactly the accounts' balances at the end.
//!
//! Needs root and iproute2 (`ip`), as CI has.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{clean_cmd, stderr, stdout};

const AGENT: &str = env!("CARGO_BIN_EXE_agency");
const CHAIN_IP: &str = "10.77.0.1";
const CHAIN_ID: &str = "4242";
/// anvil's accounts 0 (the requester and deployer) to 3 (the agents).
const KEYS: [&str; 4] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];
const AGENCY: &str = "0x5fbdb2315678afecb367f032d93f642f64180aa3";

/// About three seconds of QuickJS busy loop: long enough to cut a link while it runs.
const SLOW: &str = "window.jsJobRun = function (input, options, cb) {
  var x = 0; for (var i = 0; i < 6e7; i++) { x = (x + i) % 7; } cb(null, x + input.n);
};";
const ADD: &str = "window.jsJobRun = function (input, options, cb) { cb(null, input.n + 1); };";

/// Hosts on one switch: each host a namespace with `eth0`, each plugged into a bridge in the
/// switch's namespace. Dropping it deletes them all (and so every link).
struct Net {
    prefix: String,
    hosts: Vec<String>,
}

fn ip(args: &[&str]) {
    let o = Command::new("ip")
        .args(args)
        .output()
        .expect("running ip (iproute2)");
    assert!(
        o.status.success(),
        "ip {}: {} (this test needs root and iproute2)",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Net {
    fn new(hosts: &[&str]) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "ag{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let net = Self {
            prefix,
            hosts: Vec::new(),
        };
        let sw = net.ns("sw");
        ip(&["netns", "add", &sw]);
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &sw, "link", "set", "br0", "up"]);
        let mut net = net;
        for (i, host) in hosts.iter().enumerate() {
            let ns = net.ns(host);
            ip(&["netns", "add", &ns]);
            net.hosts.push((*host).to_owned());
            let port = format!("p{i}");
            ip(&[
                "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &sw,
            ]);
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            let addr = format!("{}/24", net.addr(host));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        net
    }

    fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    fn addr(&self, host: &str) -> String {
        if host == "chain" {
            return CHAIN_IP.to_owned();
        }
        let i = self.hosts.iter().position(|h| h == host).expect("a host");
        format!("10.77.0.{}", 10 + i)
    }

    /// Unplugs `host` at the switch, as a pulled cable: its packets vanish, nothing answers.
    fn cut(&self, host: &str) {
        let i = self.hosts.iter().position(|h| h == host).expect("a host");
        ip(&[
            "-n",
            &self.ns("sw"),
            "link",
            "set",
            &format!("p{i}"),
            "down",
        ]);
    }

    fn restore(&self, host: &str) {
        let i = self.hosts.iter().position(|h| h == host).expect("a host");
        ip(&["-n", &self.ns("sw"), "link", "set", &format!("p{i}"), "up"]);
    }

    /// `program` run on `host`, with no inherited Agency settings and the data dir `dir`.
    fn cmd(&self, host: &str, program: &str, dir: &Path) -> Command {
        let mut cmd = clean_cmd("ip", dir);
        cmd.args(["netns", "exec", &self.ns(host), program]);
        cmd
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for host in self.hosts.iter().chain(["sw".to_owned()].iter()) {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("{}-{host}", self.prefix)])
                .status();
        }
    }
}

/// A process killed when dropped (a failing test leaves nothing running).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Market {
    // Fields drop in order: the processes first, then their hosts.
    _procs: Vec<Proc>,
    net: Net,
    dir: tempfile::TempDir,
    rpc: String,
    ipfs: String,
    /// Address of each agent, a1 to a3.
    agents: Vec<String>,
    requester: String,
    /// The agents' logs (stderr), shown when a wait fails.
    logs: Vec<PathBuf>,
}

impl Market {
    fn dir(&self, host: &str) -> PathBuf {
        let d = self.dir.path().join(host);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `agency --json ARGS` on `host` against this market, as account `key`; its JSON output.
    fn agency(&self, host: &str, key: usize, args: &[&str]) -> Value {
        let o = self
            .net
            .cmd(host, AGENT, &self.dir(host))
            .env("AGENCY_PRIVATE_KEY", KEYS[key])
            .args(["--json", "--chain", CHAIN_ID, "--rpc-url", &self.rpc])
            .args(["--agency", AGENCY, "--ipfs-api", &self.ipfs])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "agency {args:?} on {host}: {}",
            stderr(&o)
        );
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
    }

    /// Posts `code` with input `{"n": n}` at r = 3 from the requester's host; returns the id.
    fn post(&self, code: &str, n: u32, deadline: &str) -> String {
        let dir = self.dir("req");
        let code_path = dir.join(format!("job-{n}.js"));
        std::fs::write(&code_path, code).unwrap();
        let input = dir.join(format!("input-{n}.json"));
        std::fs::write(&input, format!(r#"{{"n": {n}}}"#)).unwrap();
        let posted = self.agency(
            "req",
            0,
            &[
                "job",
                "post",
                code_path.to_str().unwrap(),
                input.to_str().unwrap(),
                "--replicas",
                "3",
                "--reward",
                "0.003eth",
                "--delivery-window",
                "60s",
                "--reveal-window",
                "60s",
                "--deadline",
                deadline,
            ],
        );
        posted["job"].as_str().unwrap().to_owned()
    }

    fn status(&self, job: &str) -> Value {
        self.agency("req", 0, &["job", "status", job])
    }

    /// Waits until `ready(status)`, warping the chain's clock `warp` seconds every 2 s if
    /// asked; returns the status.
    fn until(
        &self,
        job: &str,
        what: &str,
        warp: Option<u64>,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        let mut warped = Instant::now();
        loop {
            let s = self.status(job);
            if ready(&s) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "{what}: not after 90 s: {s:#}\n{}",
                self.agent_logs()
            );
            if let Some(secs) = warp
                && warped.elapsed() > Duration::from_secs(2)
            {
                self.cast(&["rpc", "evm_increaseTime", &secs.to_string()]);
                self.cast(&["rpc", "evm_mine"]);
                warped = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `cast ARGS --rpc-url RPC` from the requester's host.
    fn cast(&self, args: &[&str]) -> String {
        let cast = concat!(env!("CARGO_MANIFEST_DIR"), "/../../node_modules/.bin/cast");
        let o = self
            .net
            .cmd("req", cast, &self.dir("req"))
            .args(args)
            .args(["--rpc-url", &self.rpc])
            .output()
            .unwrap();
        assert!(o.status.success(), "cast {args:?}: {}", stderr(&o));
        stdout(&o).trim().to_owned()
    }

    /// The last lines each agent logged.
    fn agent_logs(&self) -> String {
        let mut text = String::new();
        for log in &self.logs {
            let all = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = all.lines().collect();
            text.push_str(&format!("--- {}\n", log.display()));
            for line in &lines[lines.len().saturating_sub(20)..] {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }

    fn balance(&self, account: &str) -> u128 {
        let doc = self.agency("req", 0, &["account", "balance", account]);
        doc["balance"].as_str().unwrap().parse().unwrap()
    }
}

fn phases(status: &Value) -> Vec<String> {
    status["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap().to_owned())
        .collect()
}

fn events(status: &Value, name: &str) -> Vec<String> {
    status["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == name)
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect()
}

/// Reads `child`'s stdout up to its start document (the one JSON document it prints first).
fn started(mut child: Child) -> (Proc, Value) {
    use std::io::BufRead;
    let out = child.stdout.take().unwrap();
    let proc = Proc(child);
    let mut lines = std::io::BufReader::new(out).lines();
    let mut text = String::new();
    loop {
        let line = lines.next().expect("a start document").unwrap();
        text.push_str(&line);
        if let Ok(doc) = serde_json::from_str(&text) {
            // Keep draining stdout so the process never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (proc, doc);
        }
    }
}

fn start() -> Market {
    let anvil = agency_chain::testing::anvil_bin();
    let net = Net::new(&["chain", "a1", "a2", "a3", "req"]);
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Vec::new();
    let rpc = format!("http://{CHAIN_IP}:8545");
    let ipfs = format!("http://{CHAIN_IP}:5001");
    // The chain host: anvil with a chain id of its own and a block a second (so agents wait
    // for a confirmation, as on a public chain), and the store server.
    let node = net
        .cmd("chain", anvil.to_str().unwrap(), dir.path())
        .args(["--host", CHAIN_IP, "--port", "8545", "--chain-id", CHAIN_ID])
        .args(["--block-time", "1", "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    procs.push(Proc(node));
    let store_dir = dir.path().join("chain-store");
    let (store, doc) = started(
        net.cmd("chain", AGENT, dir.path())
            .args([
                "--json",
                "--store",
                store_dir.to_str().unwrap(),
                "store",
                "serve",
            ])
            .args(["--listen", &format!("{CHAIN_IP}:5001")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert_eq!(doc["url"], format!("http://{CHAIN_IP}:5001"));
    procs.push(store);
    let mut market = Market {
        net,
        dir,
        rpc,
        ipfs,
        agents: Vec::new(),
        requester: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".to_owned(),
        _procs: Vec::new(),
        logs: Vec::new(),
    };
    // The requester's host reaches the node once anvil is up; then deploys.
    let t = Instant::now();
    let deployed = loop {
        let o = market
            .net
            .cmd("req", AGENT, &market.dir("req"))
            .env("AGENCY_PRIVATE_KEY", KEYS[0])
            .args([
                "--json",
                "--chain",
                CHAIN_ID,
                "--rpc-url",
                &market.rpc,
                "deploy",
            ])
            .output()
            .unwrap();
        if o.status.success() {
            break serde_json::from_str::<Value>(&stdout(&o)).unwrap();
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "deploy: {}",
            stderr(&o)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(deployed["address"], AGENCY);
    for (i, host) in ["a1", "a2", "a3"].into_iter().enumerate() {
        let log = market.dir.path().join(format!("{host}.log"));
        let stderr = std::fs::File::create(&log).unwrap();
        market.logs.push(log);
        let (agent, doc) = started(
            market
                .net
                .cmd(host, AGENT, &market.dir(host))
                .env("AGENCY_PRIVATE_KEY", KEYS[i + 1])
                .args(["--json", "--chain", CHAIN_ID, "--rpc-url", &market.rpc])
                .args(["--agency", AGENCY, "--ipfs-api", &market.ipfs, "worker"])
                .args(["--stake", "0.1eth", "--poll-interval", "100"])
                .args(["--confirmations", "1", "--from-block", "0"])
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .unwrap(),
        );
        market
            .agents
            .push(doc["agent"].as_str().unwrap().to_lowercase());
        procs.push(agent);
    }
    market._procs = procs;
    market
}

#[test]
fn agents_on_their_own_hosts_survive_a_cut_link_and_lose_nothing() {
    let m = start();
    let a3 = m.agents[2].clone();

    // 1. The link comes back in time: a3 delivers late and is paid like the others.
    let job = m.post(SLOW, 1, "1h");
    m.until(&job, "three claims", None, |s| {
        phases(s).iter().all(|p| p != "empty")
    });
    m.net.cut("a3");
    let s = m.until(&job, "two commitments", None, |s| {
        phases(s).iter().filter(|p| *p == "committed").count() == 2
    });
    assert!(
        !events(&s, "committed")
            .iter()
            .any(|d| d.to_lowercase().contains(&a3)),
        "a3 is cut off, it cannot have committed: {s:#}"
    );
    std::thread::sleep(Duration::from_secs(4)); // a3 finishes its run, cut off
    m.net.restore("a3");
    let s = m.until(&job, "accepted with a3", None, |s| {
        s["status"] == "accepted"
    });
    let revealed = events(&s, "revealed");
    assert_eq!(revealed.len(), 3, "{s:#}");
    assert!(
        revealed.iter().any(|d| d.to_lowercase().contains(&a3)),
        "{s:#}"
    );
    assert!(events(&s, "slashed").is_empty(), "{s:#}");

    // 2. The link stays down past the delivery window and the job's deadline (the clock is
    //    warped): the two others' commitments are a quorum, so reveals open at the deadline,
    //    they settle the job between them, and a3's collateral pays for its miss.
    let job = m.post(SLOW, 2, "5m");
    m.until(&job, "three claims", None, |s| {
        phases(s).iter().all(|p| p != "empty")
    });
    m.net.cut("a3");
    m.until(&job, "two commitments", None, |s| {
        phases(s).iter().filter(|p| *p == "committed").count() == 2
    });
    let s = m.until(&job, "settled without a3", Some(100), |s| {
        s["status"] != "open" && s["status"] != "revealing"
    });
    assert_eq!(s["status"], "accepted", "{s:#}");
    let revealed = events(&s, "revealed");
    assert_eq!(revealed.len(), 2, "{s:#}");
    assert!(
        !revealed.iter().any(|d| d.to_lowercase().contains(&a3)),
        "{s:#}"
    );
    let slashed = events(&s, "slashed");
    assert_eq!(slashed.len(), 1, "{s:#}");
    assert!(slashed[0].to_lowercase().contains(&a3), "{s:#}");
    m.net.restore("a3");

    // 3. a3 works on: a quick job needs all three agents, and gets them.
    let job = m.post(ADD, 3, "1h");
    let s = m.until(&job, "accepted after the cut", None, |s| {
        s["status"] == "accepted"
    });
    assert!(
        events(&s, "revealed")
            .iter()
            .any(|d| d.to_lowercase().contains(&a3)),
        "{s:#}"
    );

    // Nothing lost: every job is over, so the contract holds exactly the accounts' balances
    // and what it burned (release fees, slashes, reputation fees).
    let held: u128 = m.cast(&["balance", AGENCY]).parse().unwrap();
    let burned = m.cast(&["call", AGENCY, "burned()(uint256)"]);
    let burned: u128 = burned.split_whitespace().next().unwrap().parse().unwrap();
    let mut owed = m.balance(&m.requester) + burned;
    for agent in &m.agents {
        owed += m.balance(agent);
    }
    assert_eq!(
        held, owed,
        "the contract's ether against the balances it owes"
    );
    for agent in &m.agents[..2] {
        let account = m.agency("req", 0, &["account", "balance", agent]);
        assert_eq!(account["accepted"], 3, "{account:#}");
    }
    let account = m.agency("req", 0, &["account", "balance", &a3]);
    assert_eq!(account["accepted"], 2, "{account:#}");
}
