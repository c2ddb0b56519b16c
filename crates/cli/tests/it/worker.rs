//! `agency worker` as a process: on `agency chain`, killed with SIGKILL mid-job and restarted.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::chain::{cast, spawn_with_doc, start, stop};
use crate::{agency, agency_cmd, stderr, stdout};

/// Where JobAgency lands when dev account 0 deploys it first.
const AGENCY: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const TERMS: &str =
    "(address,uint64,uint32,bytes32,uint128,uint128,uint8,uint8,uint32,uint32,uint32,uint40)";

/// About three seconds of QuickJS busy loop, well inside the default fuel.
const SLOW: &str = "window.jsJobRun = function (input, options, cb) {
  var x = 0; for (var i = 0; i < 6e7; i++) { x = (x + i) % 7; } cb(null, x + input.n);
};";

fn deploy(url: &str, key: &str) {
    let artifact: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../contracts/artifacts/JobAgency.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let code = artifact["bytecode"]["object"]
        .as_str()
        .or_else(|| artifact["bytecode"].as_str())
        .unwrap()
        .to_owned();
    cast(url, &["send", "--private-key", key, "--create", &code]);
    assert_ne!(cast(url, &["code", AGENCY]), "0x", "deployed at {AGENCY}");
}

/// Adds `text` to the store in `dir`; returns the CID `store add` prints.
fn add(dir: &Path, name: &str, text: &str, raw: bool) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let mut args = vec!["--json", "store", "add"];
    if raw {
        args.extend(["--cid-version", "1", "--raw-leaves"]);
    }
    args.push(&path);
    let o = agency(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    doc[0]["cid"].as_str().unwrap().to_owned()
}

/// Starts `agency worker` as dev account 1; returns it and its metrics URL.
pub(crate) fn worker(dir: &Path, url: &str, key: &str) -> (Child, String) {
    let mut cmd = agency_cmd(dir);
    cmd.env("AGENCY_PRIVATE_KEY", key)
        .args(["--json", "-v", "--rpc-url", url, "worker"])
        .args(["--metrics", "127.0.0.1:0", "--poll-interval", "50"]);
    let (child, doc) = spawn_with_doc(cmd);
    (child, doc["metrics"].as_str().unwrap().to_owned())
}

/// GETs `url` (http://host:port/path) and returns the body.
pub(crate) fn get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

pub(crate) fn wait_for(metrics: &str, line: &str) {
    let start = Instant::now();
    loop {
        let text = get(metrics);
        if text.contains(line) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {line:?} in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_worker_killed_mid_job_resumes_from_its_journal_and_is_paid() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, doc) = start(dir.path(), &["--ephemeral"]);
    let url = doc["url"].as_str().unwrap().to_owned();
    let key = |i: usize| {
        doc["accounts"][i]["private_key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let address = |i: usize| doc["accounts"][i]["address"].as_str().unwrap().to_owned();
    deploy(&url, &key(0));

    let code = add(dir.path(), "job.js", SLOW, false);
    let input = add(dir.path(), "input.json", r#"{"n": 100}"#, false);
    let spec = format!(
        r#"{{"version":1,"code":"{code}","input":"{input}","options":{{}},"runtime":"quickjs","engine":2,"limits":{{"fuel":100000,"memory":67108864,"stack":524288,"output":1048576}},"seed":"07","timestamp":0}}"#
    );
    let spec_cid = add(dir.path(), "spec.json", &spec, true);
    let digest = format!("0x{}", sha256_hex(spec.as_bytes()));
    assert!(spec_cid.starts_with("bafkrei"), "{spec_cid}");

    let (mut agent, metrics) = worker(dir.path(), &url, &key(1));
    let now: u64 = cast(&url, &["block", "latest", "--field", "timestamp"])
        .parse()
        .unwrap();
    let specs = alloy::primitives::keccak256(alloy::hex::decode(&digest).unwrap()).to_string();
    let terms = format!(
        "({},1,1,{specs},1000000000000000,100000000000000,1,1,0,120,120,{})",
        address(0),
        now + 600
    );
    cast(
        &url,
        &[
            "send",
            "--private-key",
            &key(0),
            AGENCY,
            &format!("post({TERMS},bytes32[])"),
            &terms,
            &format!("[{digest}]"),
            "--value",
            "1000000000000000",
        ],
    );

    // Claimed and running: kill it dead.
    wait_for(&metrics, "agency_worker_jobs_claimed_total 1");
    agent.kill().unwrap();
    agent.wait().unwrap();
    // The data dir defaults to $AGENCY_DATA_DIR/worker-<address>.
    let data = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("worker-0x")
        })
        .expect("the worker's data dir");
    let journal = std::fs::read_to_string(data.join("worker.jsonl"));
    assert!(
        journal.unwrap().contains(r#""phase":"working""#),
        "the journal holds the claim"
    );

    let (mut agent, metrics) = worker(dir.path(), &url, &key(1));
    wait_for(&metrics, "agency_worker_jobs_succeeded_total 1");
    let account = cast(
        &url,
        &[
            "call",
            AGENCY,
            "accountOf(address)(uint256,uint256,uint256,uint256,uint256,uint256)",
            &address(1),
        ],
    );
    let fields: Vec<&str> = account
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    // The 0.1 ether stake (the collateral locked at the restart counted as staked: no top-up)
    // plus the 0.001 ether reward less its 1% reputation fee; accepted 1, rejected 0, missed 0;
    // the fee's 10,000 gwei are 10,000 points.
    assert_eq!(
        fields,
        ["100990000000000000", "1", "1", "0", "0", "10000"],
        "{account}"
    );

    // SIGTERM: a clean stop.
    std::process::Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    let status = agent.wait().unwrap();
    let mut err = String::new();
    agent
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("resuming"),
        "the second start resumed the job:\n{err}"
    );
    stop(&mut node);
}

#[test]
fn bad_setups_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let dev_key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    let cases: [(&[&str], Option<&str>, &str); 7] = [
        (
            &["--rpc-url", "ftp://rpc.example", "worker"],
            Some(dev_key),
            "unsupported scheme \"ftp\" (use http or https)",
        ),
        (
            &["--rpc-url", "not a url", "worker"],
            Some(dev_key),
            "is not a URL",
        ),
        (&["worker"], None, "no account: set AGENCY_PRIVATE_KEY"),
        (&["worker"], Some("0x1234"), "not 32 bytes of hex"),
        (
            &["--rpc-url", "http://127.0.0.1:9", "worker"],
            Some(dev_key),
            "cannot reach the JSON-RPC endpoint",
        ),
        (
            &["worker", "--stake", "1btc"],
            Some(dev_key),
            "unknown unit",
        ),
        (
            &["worker", "--runtimes", "gpu"],
            Some(dev_key),
            "runtime \"gpu\" is not available",
        ),
    ];
    for (args, key, message) in cases {
        let mut cmd = agency_cmd(dir.path());
        if let Some(k) = key {
            cmd.env("AGENCY_PRIVATE_KEY", k);
        }
        let start = Instant::now();
        let o = cmd.args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            start.elapsed()
        );
    }
    // A chain without the contract.
    let (mut node, doc) = start(dir.path(), &["--ephemeral"]);
    let url = doc["url"].as_str().unwrap();
    let o = agency_cmd(dir.path())
        .env("AGENCY_PRIVATE_KEY", dev_key)
        .args(["--rpc-url", url, "worker"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("no contract at 0x5FbDB2315678afecb367f032d93F642f64180aa3 on chain 31337"),
        "{}",
        stderr(&o)
    );
    stop(&mut node);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn help_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let o = agency(dir.path(), &["worker", "--help"]);
    insta::assert_snapshot!("worker_help", stdout(&o));
}
