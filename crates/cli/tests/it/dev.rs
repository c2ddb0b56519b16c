//! `agency dev` and the requester's commands against it, as processes: the whole market in one
//! process, jobs posted and followed with `agency job`, accounts, restarts, and bad input.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::chain::cast;
use crate::worker::get;
use crate::{agency_cmd, stderr, stdout};

pub(crate) const ADD: &str = "window.jsJobRun = function (input, options, cb) {
  console.log('adding', input.a, 'and', input.b);
  cb(null, {sum: input.a + input.b});
};";

/// A running `agency dev` and what it printed.
pub(crate) struct Dev {
    pub(crate) child: Child,
    pub(crate) doc: Value,
    pub(crate) dir: PathBuf,
    log: PathBuf,
}

impl Dev {
    /// Starts `agency dev` on free ports with its data in `dir`.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Self {
        let log = dir.join(format!("dev-{}.log", unique()));
        let mut cmd = agency_cmd(dir);
        cmd.args(["--json", "dev", "--port-base", "0", "--data-dir"])
            .arg(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut text = String::new();
        let doc = loop {
            let Some(line) = lines.next() else {
                panic!(
                    "agency dev stopped before it was up:\n{}",
                    std::fs::read_to_string(&log).unwrap()
                );
            };
            text.push_str(&line.unwrap());
            if let Ok(doc) = serde_json::from_str::<Value>(&text) {
                break doc;
            }
        };
        Self {
            child,
            doc,
            dir: dir.to_owned(),
            log,
        }
    }

    pub(crate) fn url(&self) -> String {
        self.doc["rpc_url"].as_str().unwrap().to_owned()
    }

    /// Starts `agency serve ARGS` on a free port for this market's store, in front of the node
    /// at `rpc_url`; returns it and the document it prints.
    pub(crate) fn serve(&self, rpc_url: &str, args: &[&str]) -> (Child, Value) {
        let mut cmd = agency_cmd(&self.dir);
        cmd.args([
            "--json",
            "--rpc-url",
            rpc_url,
            "--ipfs-api",
            &self.store_url(),
        ])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args);
        crate::chain::spawn_with_doc(cmd)
    }

    /// The store's server (`--ipfs-api` takes it): its API URL without `/api/v0`.
    pub(crate) fn store_url(&self) -> String {
        self.doc["store_api"]
            .as_str()
            .unwrap()
            .trim_end_matches("/api/v0")
            .to_owned()
    }

    /// Runs `agency ARGS` against this market (its RPC URL; its store through the data dir).
    pub(crate) fn agency(&self, args: &[&str]) -> std::process::Output {
        agency_cmd(&self.dir)
            .args(["--rpc-url", &self.url()])
            .args(args)
            .output()
            .unwrap()
    }

    /// Like [`Dev::agency`] with `--json`; asserts success and parses stdout.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let o = agency_cmd(&self.dir)
            .args(["--json", "--rpc-url", &self.url()])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "agency {args:?}: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
    }

    /// Stops it with SIGTERM; asserts a clean exit; returns what it logged.
    pub(crate) fn stop(mut self) -> String {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        let log = std::fs::read_to_string(&self.log).unwrap();
        assert!(status.success(), "agency dev stopped with {status}:\n{log}");
        log
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Writes the adding job and an input into `dir`; returns their paths.
pub(crate) fn add_job(dir: &Path, a: i64, b: i64) -> (String, String) {
    let code = dir.join("add.js");
    std::fs::write(&code, ADD).unwrap();
    let input = dir.join(format!("input-{a}-{b}.json"));
    std::fs::write(&input, format!(r#"{{"a": {a}, "b": {b}}}"#)).unwrap();
    (
        code.to_str().unwrap().to_owned(),
        input.to_str().unwrap().to_owned(),
    )
}

#[test]
fn a_job_posted_to_agency_dev_is_run_verified_and_paid_and_the_market_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);
    let doc = &dev.doc;
    assert_eq!(doc["agency"], "0x5fbdb2315678afecb367f032d93f642f64180aa3");
    assert_eq!(doc["chain_id"], 31337);
    assert_eq!(doc["agents"].as_array().unwrap().len(), 3);
    let me = doc["requester"]["address"].as_str().unwrap().to_owned();
    assert_eq!(me, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    // The web server answers with the same document.
    let page = get(&format!("{}/api/dev", doc["web"].as_str().unwrap()));
    assert!(page.starts_with("HTTP/1.0 200"), "{page}");
    assert!(page.contains(r#""agency":"0x5fbdb2315678afecb367f032d93f642f64180aa3""#));

    // r = 3: three agents claim, commit, reveal and agree.
    let (code, input) = add_job(tmp.path(), 2, 3);
    let started = Instant::now();
    let o = dev.agency(&[
        "job",
        "post",
        &code,
        &input,
        "--replicas",
        "3",
        "--reward",
        "0.03eth",
        "--wait",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"details\":null,\"logs\":[{\"level\":\"log\",\"message\":\"adding 2 and 3\"}],\"ok\":true,\"result\":{\"sum\":5}}\n"
    );
    let progress = stderr(&o);
    for step in ["posted job 0x", "acting as dev account 0", "accepted"] {
        assert!(progress.contains(step), "no {step:?} in:\n{progress}");
    }
    eprintln!(
        "r = 3 job accepted {:?} after the post began",
        started.elapsed()
    );
    let job = progress
        .split("posted job ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();

    let status = dev.json(&["job", "status", &job]);
    assert_eq!(status["status"], "accepted");
    assert_eq!(status["replicas"], 3);
    assert_eq!(status["requester"], me);
    let phases: Vec<&str> = status["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["revealed"; 3]);
    let events: Vec<&str> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"posted"));
    assert_eq!(events.last(), Some(&"accepted"));
    for e in ["claimed", "committed", "revealed"] {
        assert_eq!(events.iter().filter(|x| **x == e).count(), 3, "{events:?}");
    }

    let result = dev.json(&["job", "result", &job]);
    assert_eq!(result["envelope"]["result"], json!({"sum": 5}));
    assert_eq!(result["result"], status["result"]);
    let o = dev.agency(&["job", "logs", &job]);
    assert_eq!(stdout(&o), "log: adding 2 and 3\n");

    // Each agent earned a third of the reward less its 1% reputation fee: balance = 1 ether of
    // stake + 0.0099 ether; the fee of 0.0003 ether is 300,000 gwei burned, 100,000 points each.
    for agent in doc["agents"].as_array().unwrap() {
        let account = dev.json(&["account", "balance", agent.as_str().unwrap()]);
        assert_eq!(account["balance"], "1009900000000000000", "{account}");
        assert_eq!(account["accepted"], 1);
        assert_eq!(account["points"], 100_000);
    }

    // Stop, start again on the same data dir: same chain, same contract, the job still there,
    // and the agents pick up new work.
    let log = dev.stop();
    assert!(log.contains("market up"), "{log}");
    let dev = Dev::start(tmp.path(), &[]);
    assert_eq!(
        dev.doc["agency"],
        "0x5fbdb2315678afecb367f032d93f642f64180aa3"
    );
    let list = dev.json(&["job", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["job"], job);
    assert_eq!(list[0]["status"], "accepted");
    let (code, input) = add_job(tmp.path(), 40, 2);
    let done = dev.json(&["job", "post", &code, &input, "--wait"]);
    assert_eq!(done["status"], "accepted");
    assert_eq!(done["envelope"]["result"], json!({"sum": 42}));
    let list = dev.json(&["job", "list", "--mine", "--state", "accepted"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(dev.json(&["job", "list", "--state", "open"]), json!([]));
    dev.stop();
}

#[test]
fn exec_runs_a_command_against_the_market_and_exits_with_its_status() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, input) = add_job(tmp.path(), 1, 1);
    let script = format!(
        "test -n \"$AGENCY_PRIVATE_KEY\" && agency job post {code} {input} --wait > {out} && exit 7",
        out = tmp.path().join("out.json").display()
    );
    let o = agency_cmd(tmp.path())
        .args(["dev", "--ephemeral", "--port-base", "0", "--exec", &script])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let envelope = std::fs::read_to_string(tmp.path().join("out.json")).unwrap();
    assert!(envelope.contains(r#""result":{"sum":2}"#), "{envelope}");
    // Nothing kept: --ephemeral wrote no chain, store or journals into the data dir.
    assert!(!tmp.path().join("chain").exists());
    assert!(!tmp.path().join("store").exists());

    let o = agency_cmd(tmp.path())
        .args(["dev", "--ephemeral", "--port-base", "0", "--exec", "true"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn requesters_cancel_unclaimed_jobs_and_move_their_balance() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "1"]);
    let (code, input) = add_job(tmp.path(), 1, 2);
    let me = dev.doc["requester"]["address"].as_str().unwrap().to_owned();

    // Nobody has the reputation this job asks for, so it stays open until cancelled.
    let posted = dev.json(&[
        "job",
        "post",
        &code,
        &input,
        "--min-reputation",
        "50",
        "--reward",
        "0.2eth",
    ]);
    let job = posted["job"].as_str().unwrap().to_owned();
    assert_eq!(posted["reward"], "200000000000000000");
    assert_eq!(dev.json(&["job", "status", &job])["status"], "open");

    // Only the requester may cancel: dev account 2 is refused before anything is sent.
    let key2 = dev.doc["accounts"][2]["private_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let o = dev.agency(&["--private-key", &key2, "job", "cancel", &job]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("only its requester may cancel it"),
        "{}",
        stderr(&o)
    );

    let cancelled = dev.json(&["job", "cancel", &job]);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["refund"], "200000000000000000");
    let account = dev.json(&["account", "balance"]);
    assert_eq!(account["address"], me);
    assert_eq!(account["balance"], "200000000000000000");
    // A second cancel: the contract's refusal, decoded.
    let o = dev.agency(&["job", "cancel", &job]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("JobEnded"), "{}", stderr(&o));
    // A job that ended has no result.
    let o = dev.agency(&["job", "result", &job]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is cancelled: it ended without a result"),
        "{}",
        stderr(&o)
    );

    let deposit = dev.json(&["account", "deposit", "0.05eth"]);
    assert_eq!(deposit["balance"], "250000000000000000");
    let o = dev.agency(&["account", "withdraw", "1eth"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot withdraw 1 ETH"),
        "{}",
        stderr(&o)
    );
    let wallet_before: u128 = dev.json(&["account", "balance"])["wallet"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let withdrawn = dev.json(&["account", "withdraw"]);
    assert_eq!(withdrawn["amount"], "250000000000000000");
    assert_eq!(withdrawn["balance"], "0");
    let wallet_after: u128 = dev.json(&["account", "balance"])["wallet"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let gained = wallet_after - wallet_before;
    assert!(
        gained > 249_000_000_000_000_000 && gained < 250_000_000_000_000_000,
        "the wallet got the 0.25 ether less gas: {gained}"
    );
    dev.stop();
}

#[test]
fn waiting_past_the_deadline_settles_the_job_and_refunds_the_requester() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "1"]);
    let (code, input) = add_job(tmp.path(), 1, 2);
    let url = dev.url();
    // No agent qualifies; the clock jumps past the deadline while --wait follows the job.
    let mut waiting = agency_cmd(&dev.dir)
        .args(["--rpc-url", &url, "job", "post", &code, &input])
        .args(["--min-reputation", "50", "--deadline", "2m", "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    cast(&url, &["rpc", "evm_increaseTime", "300"]);
    cast(&url, &["rpc", "evm_mine"]);
    let o = wait_with_timeout(&mut waiting, Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(err.contains("settled the job"), "{err}");
    assert!(err.contains("ended expired: no result"), "{err}");
    let account = dev.json(&["account", "balance"]);
    assert_eq!(
        account["balance"], "10000000000000000",
        "the reward came back"
    );
    dev.stop();
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = std::process::Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out.stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut out.stderr)
        .unwrap();
    out
}

#[test]
fn bad_input_fails_fast_with_a_clear_message_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "0"]);
    let url = dev.url();
    let (code, input) = add_job(tmp.path(), 1, 2);
    let not_json = tmp.path().join("bad.json");
    std::fs::write(&not_json, "{nope").unwrap();
    let not_json = not_json.to_str().unwrap();
    let unknown = format!("0x{}", "ab".repeat(32));
    // A CID of bytes never added: `--only-hash` stores nothing.
    let absent = tmp.path().join("absent.json");
    std::fs::write(&absent, "[1, 2, 3]").unwrap();
    let o = dev.agency(&[
        "store",
        "add",
        "--only-hash",
        "-Q",
        absent.to_str().unwrap(),
    ]);
    let absent_cid = stdout(&o).trim().to_owned();
    assert!(absent_cid.starts_with("Qm"), "{absent_cid}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["job", "status", &unknown], "it was never posted there"),
        (vec!["job", "result", &unknown], "it was never posted there"),
        (vec!["job", "cancel", &unknown], "it was never posted there"),
        (vec!["job", "status", "0x12"], "is not a job id"),
        (
            vec!["job", "post", "missing.js", &input],
            "no such file, and not a CID",
        ),
        (
            vec!["job", "post", &code, "QmNotACid"],
            "no such file, and not a CID",
        ),
        (vec!["job", "post", &code, &absent_cid], "is not in the"),
        (vec!["job", "post", &code, not_json], "is not JSON"),
        (
            vec!["job", "post", &code, &input, "--reward", "1btc"],
            "unknown unit",
        ),
        (
            vec!["job", "post", &code, &input, "--reward", "0.5wei"],
            "is not an amount",
        ),
        (
            vec!["job", "post", &code, &input, "--deadline", "10s"],
            "between 1m and 90 days",
        ),
        (
            vec!["job", "post", &code, &input, "--deadline", "soon"],
            "is not a duration",
        ),
        (
            vec![
                "job",
                "post",
                &code,
                &input,
                "--replicas",
                "3",
                "--quorum",
                "1",
            ],
            "must be a majority",
        ),
        (
            vec!["job", "post", &code, &input, "--replicas", "16"],
            "16 is not in 1..=15",
        ),
        (
            vec!["job", "post", &code, &input, "--runtime", "node"],
            "unknown runtime",
        ),
        // Limits no agent accepts by default (0 would mean "no limit" to QuickJS): refused
        // before anything is paid, not left unclaimed until the deadline.
        (
            vec!["job", "post", &code, &input, "--memory", "0"],
            "memory 0 is below the least allowed",
        ),
        (
            vec!["job", "post", &code, &input, "--stack", "100000000"],
            "stack 100000000 is above the most accepted",
        ),
        (
            vec!["job", "post", &code, &input, "--output-limit", "2000000000"],
            "output 2000000000 is above the most accepted",
        ),
        (vec!["account", "deposit", "lots"], "unknown unit \"lots\""),
        (vec!["account", "deposit", "1.2.3eth"], "is not an amount"),
        (
            vec!["account", "withdraw", "1eth", "--to", "nobody"],
            "invalid value",
        ),
        (
            vec![
                "--agency",
                "0x000000000000000000000000000000000000dEaD",
                "job",
                "list",
            ],
            "no contract at 0x000000000000000000000000000000000000dEaD",
        ),
        (
            vec!["--chain", "1", "job", "list"],
            "wrong chain: the node at",
        ),
        (
            vec!["--private-key", "0x12", "account", "balance"],
            "private key",
        ),
    ];
    for (args, message) in cases {
        let started = Instant::now();
        let o = dev.agency(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "agency {args:?}: {err}");
        assert!(
            err.contains(message),
            "agency {args:?}: no {message:?} in {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "agency {args:?} was slow"
        );
    }
    // Nothing was posted by any of them.
    assert_eq!(dev.json(&["job", "list"]), json!([]));

    // A node that is not there.
    let started = Instant::now();
    let o = agency_cmd(tmp.path())
        .args(["--rpc-url", "http://127.0.0.1:9", "job", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot reach the JSON-RPC endpoint"),
        "{}",
        stderr(&o)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Ports taken: a clear message before anything starts.
    let rpc = url.trim_start_matches("http://127.0.0.1:").to_owned();
    let o = agency_cmd(tmp.path())
        .args(["dev", "--ephemeral", "--port-base", &rpc])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot listen on"), "{}", stderr(&o));
    dev.stop();
}

/// Replaces the values of `keys` (anywhere in `v`) that change from run to run.
fn redact(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if keys.contains(&k.as_str()) {
                    *x = Value::String(format!("<{k}>"));
                } else {
                    redact(x, keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| redact(x, keys)),
        _ => {}
    }
}

#[test]
fn json_output_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    // One agent, so who holds which slot and which block holds what is fixed.
    let dev = Dev::start(tmp.path(), &["--workers", "1"]);
    let (code, input) = add_job(tmp.path(), 20, 22);
    let volatile = [
        "job",
        "tx",
        "deadline",
        "data_dir",
        "store_dir",
        "rpc_url",
        "ws_url",
        "web",
        "store_api",
        "gateway",
        "wallet",
    ];
    let fixed = ["--seed", "0x07", "--timestamp", "1767225600"];
    let mut posted = dev.json(&[&["job", "post", &code, &input, "--wait"][..], &fixed].concat());
    let job = posted["job"].as_str().unwrap().to_owned();
    redact(&mut posted, &volatile);
    insta::assert_snapshot!(
        "job_post_wait_json",
        serde_json::to_string_pretty(&posted).unwrap()
    );

    let mut status = dev.json(&["job", "status", &job]);
    redact(&mut status, &volatile);
    insta::assert_snapshot!(
        "job_status_json",
        serde_json::to_string_pretty(&status).unwrap()
    );

    let mut list = dev.json(&["job", "list"]);
    redact(&mut list, &volatile);
    insta::assert_snapshot!(
        "job_list_json",
        serde_json::to_string_pretty(&list).unwrap()
    );

    let logs = dev.json(&["job", "logs", &job]);
    insta::assert_snapshot!(
        "job_logs_json",
        serde_json::to_string_pretty(&logs).unwrap()
    );

    let agent = dev.doc["agents"][0].as_str().unwrap().to_owned();
    let mut account = dev.json(&["account", "balance", &agent]);
    redact(&mut account, &volatile);
    insta::assert_snapshot!(
        "account_balance_json",
        serde_json::to_string_pretty(&account).unwrap()
    );

    let mut doc = dev.doc.clone();
    redact(&mut doc, &volatile);
    insta::assert_snapshot!("dev_json", serde_json::to_string_pretty(&doc).unwrap());
    dev.stop();
}

#[test]
fn help_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("dev_help", &["dev", "--help"][..]),
        ("job_help", &["job", "--help"]),
        ("job_post_help", &["job", "post", "--help"]),
        ("job_list_help", &["job", "list", "--help"]),
        ("account_help", &["account", "--help"]),
        ("account_withdraw_help", &["account", "withdraw", "--help"]),
        ("deploy_help", &["deploy", "--help"]),
        ("serve_help", &["serve", "--help"]),
        ("bench_help", &["bench", "--help"]),
    ] {
        let o = crate::agency(tmp.path(), args);
        assert!(o.status.success(), "{}", stderr(&o));
        insta::assert_snapshot!(name, stdout(&o));
    }
}

#[test]
fn deploy_post_and_work_on_anvil() {
    // The real-engine path: anvil instead of the dev chain, `agency deploy` for the contract,
    // an `agency worker` process, and the requester's commands, all over HTTP.
    let anvil = agency_chain::testing::anvil().spawn();
    let url = anvil.endpoint();
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = agency_cmd(tmp.path())
            .args(["--json", "--rpc-url", &url])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "agency {args:?}: {}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()
    };
    let deployed = run(&["deploy"]);
    assert_eq!(
        deployed["address"],
        "0x5fbdb2315678afecb367f032d93f642f64180aa3"
    );
    assert_eq!(
        deployed["deployer"],
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    );
    // A second deploy is another contract (nonce 1), which --agency selects.
    let second = run(&["deploy"]);
    assert_eq!(
        second["address"],
        "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"
    );
    assert_eq!(
        run(&[
            "--agency",
            "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
            "job",
            "list"
        ]),
        json!([])
    );

    let key1 = format!("0x{}", alloy::hex::encode(anvil.keys()[1].to_bytes()));
    let (mut agent, metrics) = crate::worker::worker(tmp.path(), &url, &key1);
    let (code, input) = add_job(tmp.path(), 5, 6);
    let done = run(&["job", "post", &code, &input, "--wait"]);
    assert_eq!(done["status"], "accepted");
    assert_eq!(done["envelope"]["result"], json!({"sum": 11}));
    crate::worker::wait_for(&metrics, "agency_worker_jobs_succeeded_total 1");
    let account = run(&["account", "balance", &anvil.addresses()[1].to_string()]);
    assert_eq!(account["accepted"], 1);
    crate::chain::stop(&mut agent);
}

#[test]
fn a_chain_holding_another_contract_is_refused_with_the_fix() {
    // A data dir whose chain has other code where JobAgency would be (dev account 0's first
    // contract), as a data dir made by a release of another protocol version has: `agency dev`
    // refuses to start on it, and requester commands refuse the contract, each naming the fix.
    let tmp = tempfile::tempdir().unwrap();
    let (mut node, doc) = crate::chain::start(tmp.path(), &[]);
    let url = doc["url"].as_str().unwrap().to_owned();
    let key = doc["accounts"][0]["private_key"]
        .as_str()
        .unwrap()
        .to_owned();
    // Init code returning a 10-byte runtime (`return 42`): not JobAgency.
    cast(
        &url,
        &[
            "send",
            "--private-key",
            &key,
            "--create",
            "0x600a600c600039600a6000f3602a60005260206000f3",
        ],
    );
    let o = agency_cmd(tmp.path())
        .args(["--rpc-url", &url, "job", "list"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("is not the JobAgency this release speaks (protocol v2")
            && err.contains("agency deploy")
            && err.contains("--data-dir"),
        "{err}"
    );
    crate::chain::stop(&mut node);

    let o = agency_cmd(tmp.path())
        .args(["dev", "--port-base", "0", "--data-dir"])
        .arg(tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success(), "agency dev started on it");
    let err = stderr(&o);
    assert!(
        err.contains("holds another JobAgency")
            && err.contains("protocol v2")
            && err.contains("Start on a fresh data dir"),
        "{err}"
    );
}
