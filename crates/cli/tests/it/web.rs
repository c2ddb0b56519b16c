//! The dapp in a real headless Chromium (playwright-core, web/tests/ui.mjs) against `agency dev`.

use std::path::Path;

use crate::dev::Dev;
use crate::{stderr, stdout};

#[test]
fn the_dapp_posts_follows_and_sandboxes_results_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);
    let web = dev.doc["web"].as_str().unwrap().to_owned();
    // Screenshots are kept as test artifacts.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/ui");
    let o = node("web/tests/ui.mjs", &[&web, shots.to_str().unwrap()]);
    assert!(stdout(&o).contains("ui ok"));
    assert!(shots.join("job-accepted.png").exists());
    dev.stop();
}

fn node(script: &str, args: &[&str]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = std::process::Command::new("node")
        .arg(root.join(script))
        .args(args)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{script} failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

#[test]
fn a_lying_agent_is_outvoted_and_the_job_page_shows_it_slashed() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--lying-workers", "1"]);
    let liar = dev.doc["lying_agents"][0].as_str().unwrap().to_owned();
    let (code, input) = crate::dev::add_job(tmp.path(), 4, 5);
    let done = dev.json(&["job", "post", &code, &input, "--replicas", "3", "--wait"]);
    assert_eq!(done["envelope"]["result"], serde_json::json!({"sum": 9}));
    let job = done["job"].as_str().unwrap().to_owned();
    let status = dev.json(&["job", "status", &job]);
    let slashed: Vec<&serde_json::Value> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "slashed")
        .collect();
    assert_eq!(slashed.len(), 1, "{status}");
    assert!(
        slashed[0]["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&format!("{liar} lost 0.01 eth, burned (wrong result)")),
        "{status}"
    );
    let account = dev.json(&["account", "balance", &liar]);
    assert_eq!(account["rejected"], 1);
    assert_eq!(
        account["balance"], "990000000000000000",
        "1 ether stake less the collateral"
    );

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/ui");
    let web = dev.doc["web"].as_str().unwrap().to_owned();
    let o = node(
        "web/tests/slashed.mjs",
        &[&web, shots.to_str().unwrap(), &job],
    );
    let seen: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(
        seen["slashed"].as_str().unwrap().contains("wrong result"),
        "{seen}"
    );
    dev.stop();
}

/// One HTTP/1.0 request; returns the whole answer.
fn http(url: &str, method: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn serve_gives_the_ui_for_any_node_and_store_on_one_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "0"]);
    let store = dev.store_url();
    let (mut server, doc) = dev.serve(&dev.url(), &[]);
    let url = doc["url"].as_str().unwrap().to_owned();

    let page = http(&format!("{url}/"), "GET", "");
    assert!(page.contains("<title>Agency</title>"), "{page}");
    assert!(http(&format!("{url}/app.js"), "GET", "").starts_with("HTTP/1.0 200"));
    let config = http(&format!("{url}/api/config"), "GET", "");
    assert!(
        config.contains(r#""agency":"0x5fbdb2315678afecb367f032d93f642f64180aa3""#)
            && config.contains(r#""dev_accounts":[]"#),
        "no keys are served: {config}"
    );
    // JSON-RPC forwarded to the node.
    let answer = http(
        &format!("{url}/rpc"),
        "POST",
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#,
    );
    assert!(answer.contains(r#""result":"0x7a69""#), "{answer}");
    // The store's gateway: a block added through the market's store comes back here.
    let o = dev.agency(&[
        "store",
        "add",
        "-Q",
        "--ipfs-api",
        &store,
        "--cid-version",
        "1",
        &crate::dev::add_job(tmp.path(), 1, 1).1,
    ]);
    let cid = stdout(&o).trim().to_owned();
    let block = http(&format!("{url}/ipfs/{cid}"), "GET", "");
    assert!(block.ends_with(r#"{"a": 1, "b": 1}"#), "{block}");
    crate::chain::stop(&mut server);
    dev.stop();
}

/// The fixtures whose envelopes differ between the browser agent (V8 in a Web Worker) and
/// QuickJS, and why (docs/browser-agent.md). Every other fixture must match byte for byte.
const ENGINES_DIFFER: &[&str] = &[
    "infinite-loop", // no fuel in the browser: the wall-clock cap ends it, which is no result
    "memory-bomb",   // V8's own message and kind (threw "Invalid string length")
    "return-error",  // stacks: V8's frames and columns, not QuickJS's
    "syntax-error",  // V8's message and stack
    "throw-directly", // stacks
    "throw-in-timer", // stacks
];

/// Jobs that attack the tab's runner (the review froze it or forged its report with each).
const HOSTILE: &[(&str, &str)] = &[
    // Serialization replaced or poisoned after the host started.
    (
        "hostile-tojson",
        "Object.prototype.toJSON = function () { return 'forged'; };\n\
         window.jsJobRun = function (input, options, cb) { cb(null, {a: 1}); };",
    ),
    (
        "hostile-stringify",
        "JSON.stringify = function () { return '{\"result\":\"forged\"}'; };\n\
         window.jsJobRun = function (input, options, cb) { cb(null, {a: 1}); };",
    ),
    (
        "hostile-push",
        "Array.prototype.push = function () { return 0; };\n\
         window.jsJobRun = function (input, options, cb) { console.log('kept'); cb(null, 1); };",
    ),
    // A getter on Object.prototype that would make a failure look like a success.
    (
        "hostile-getter",
        "Object.defineProperty(Object.prototype, 'ok', { get() { return '{\"result\":1,\"details\":null}'; } });\n\
         window.jsJobRun = function (input, options, cb) { cb('real failure'); };",
    ),
    // The report channel, reached to forge a report.
    (
        "hostile-post",
        "window.jsJobRun = function (input, options, cb) {\n\
           var forged = '{\"outcome\":{\"ok\":\"{\\\\\"result\\\\\":\\\\\"forged\\\\\",\\\\\"details\\\\\":null}\"},\"logs\":[]}';\n\
           if (typeof post === 'function') post(forged);\n\
           if (typeof postMessage === 'function') postMessage(forged);\n\
           cb(null, {post: typeof post, postMessage: typeof postMessage});\n\
         };",
    ),
    // Reaching out from the worker: a nested worker, fetch, import() of a same-origin page.
    (
        "hostile-reach",
        "window.jsJobRun = function (input, options, cb) {\n\
           var got = [];\n\
           try { new Worker('data:,1'); got.push('worker'); } catch (e) {}\n\
           try { fetch('/rpc'); got.push('fetch'); } catch (e) {}\n\
           var p;\n\
           try { p = import('/api/dev'); } catch (e) { p = null; }\n\
           if (!p) return cb(null, {got: got, imported: false});\n\
           p.then(function () { cb(null, {got: got, imported: true}); },\n\
                  function () { cb(null, {got: got, imported: false}); });\n\
         };",
    ),
    // A patched Promise that would swap the host's report on its way out.
    (
        "hostile-then",
        "var realThen = Promise.prototype.then;\n\
         Promise.prototype.constructor = Object;\n\
         Promise.prototype.then = function (ok, err) {\n\
           return realThen.call(this, function (v) {\n\
             if (typeof v === 'string' && v.indexOf('{\"outcome\"') === 0)\n\
               v = '{\"outcome\":{\"ok\":\"{\\\\\"result\\\\\":\\\\\"forged\\\\\",\\\\\"details\\\\\":null}\"},\"logs\":[]}';\n\
             return ok(v);\n\
           }, err);\n\
         };\n\
         window.jsJobRun = function (input, options, cb) { cb(null, {real: true}); };",
    ),
    // A lone surrogate: V8 takes it, the native runner's JSON reader does not.
    (
        "hostile-surrogate",
        "window.jsJobRun = function (input, options, cb) { cb(null, {s: 'x\\ud800y'}); };",
    ),
];

#[test]
fn a_browser_tab_earns_as_an_agent_with_quickjs_identical_envelopes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "2"]);
    let vectors = root.join("crates/runner/tests/vectors/jsjob");
    let mut fixtures = serde_json::Map::new();
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&vectors).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "js") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            fixtures.insert(name.clone(), std::fs::read_to_string(&path).unwrap().into());
            files.insert(name, path);
        }
    }
    // Jobs that attack the tab's runner: each must settle in the tab (not run into the cap)
    // with the envelope the native runner gives.
    for (name, code) in HOSTILE {
        let path = tmp.path().join(format!("{name}.js"));
        std::fs::write(&path, code).unwrap();
        fixtures.insert((*name).to_owned(), (*code).into());
        files.insert((*name).to_owned(), path);
    }
    let fixtures_file = tmp.path().join("fixtures.json");
    std::fs::write(
        &fixtures_file,
        serde_json::Value::Object(fixtures.clone()).to_string(),
    )
    .unwrap();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/ui");
    let web = dev.doc["web"].as_str().unwrap().to_owned();
    let o = node(
        "web/tests/agent.mjs",
        &[
            &web,
            shots.to_str().unwrap(),
            fixtures_file.to_str().unwrap(),
        ],
    );
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let agent = report["agent"].as_str().unwrap().to_owned();
    let account = dev.json(&["account", "balance", &agent]);
    assert_eq!(account["accepted"], 1, "{account}");

    let input = tmp.path().join("n21.json");
    std::fs::write(&input, r#"{"n": 21}"#).unwrap();
    let mut differ = Vec::new();
    for (name, path) in &files {
        let o = crate::agency(
            tmp.path(),
            &[
                "run",
                path.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
            ],
        );
        let native = stdout(&o).trim().to_owned();
        let browser = report["fixtures"][name].as_str().unwrap();
        if HOSTILE.iter().any(|(n, _)| n == name) {
            assert_eq!(
                browser, native,
                "{name}: the tab's runner was not the native one's twin"
            );
        }
        if native != browser {
            eprintln!("{name}:\n  quickjs {native}\n  browser {browser}");
            differ.push(name.clone());
        }
    }
    differ.sort();
    assert_eq!(differ, ENGINES_DIFFER, "the fixtures where engines differ");
    dev.stop();
}
