//! `agency chain`: the dev chain as a node, driven by foundry's `cast`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use crate::{agency, agency_cmd, stderr};

pub(crate) fn cast(url: &str, args: &[&str]) -> String {
    let bin = concat!(env!("CARGO_MANIFEST_DIR"), "/../../node_modules/.bin/cast");
    assert!(
        Path::new(bin).exists(),
        "{bin} is missing: run `npm ci` at the repository root"
    );
    // The URL right after the subcommand: `send --create CODE` takes what follows as its own.
    let o = std::process::Command::new(bin)
        .arg(args[0])
        .args(["--rpc-url", url])
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cast {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// Starts `agency chain` and reads the JSON document it prints first.
pub(crate) fn start(data_dir: &Path, args: &[&str]) -> (Child, serde_json::Value) {
    let mut cmd = agency_cmd(data_dir);
    cmd.args(["--json", "chain", "--listen", "127.0.0.1:0"])
        .args(args);
    spawn_with_doc(cmd)
}

/// Spawns `cmd` with piped output and reads the JSON document it prints first on stdout.
#[expect(
    clippy::zombie_processes,
    reason = "the caller stops the process and waits for it"
)]
pub(crate) fn spawn_with_doc(mut cmd: std::process::Command) -> (Child, serde_json::Value) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    loop {
        let line = lines
            .next()
            .expect("the command printed its start document")
            .unwrap();
        text.push_str(&line);
        if let Ok(doc) = serde_json::from_str(&text) {
            return (child, doc);
        }
    }
}

pub(crate) fn stop(child: &mut Child) {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success(), "SIGTERM stops it cleanly");
}

#[test]
fn serves_dev_accounts_and_keeps_blocks_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, doc) = start(dir.path(), &[]);
    let url = doc["url"].as_str().unwrap().to_owned();
    assert_eq!(doc["chain_id"], 31337);
    assert_eq!(doc["accounts"].as_array().unwrap().len(), 10);
    assert_eq!(
        doc["accounts"][0]["address"],
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    );
    let key = doc["accounts"][0]["private_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cast(&url, &["block-number"]), "0");
    let bob = doc["accounts"][1]["address"].as_str().unwrap().to_owned();
    cast(
        &url,
        &["send", "--private-key", &key, &bob, "--value", "1ether"],
    );
    assert_eq!(
        cast(&url, &["balance", &bob, "--ether"]),
        "10001.000000000000000000"
    );
    stop(&mut node);

    let (mut node, doc) = start(dir.path(), &[]);
    let url = doc["url"].as_str().unwrap().to_owned();
    assert_eq!(doc["block"], 1, "the data dir kept the block");
    assert_eq!(
        cast(&url, &["balance", &bob, "--ether"]),
        "10001.000000000000000000"
    );
    stop(&mut node);
}

#[test]
fn bad_options_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let o = agency(dir.path(), &["chain", "--chain-id", "0", "--ephemeral"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the chain id must not be 0"),
        "{}",
        stderr(&o)
    );
    let o = agency(dir.path(), &["chain", "--balance", "lots", "--ephemeral"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not an amount of ether"),
        "{}",
        stderr(&o)
    );
    // A data dir holding another chain is refused, not overwritten.
    let (mut node, _) = start(dir.path(), &[]);
    stop(&mut node);
    let o = agency(
        dir.path(),
        &["chain", "--chain-id", "5", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds chain 31337, not chain 5"),
        "{}",
        stderr(&o)
    );
}
