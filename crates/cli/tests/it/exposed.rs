//! The servers as an attacker meets them: a web page on another site, a DNS-rebinding page,
//! slow and many clients against `agency dev`, and `agency serve` as a relay in front of a
//! node whose URL holds a key.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::dev::Dev;

/// One raw HTTP/1.1 request (`Connection: close`); returns the whole answer as text.
fn send(addr: &str, head: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{head}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut text = Vec::new();
    let _ = s.read_to_end(&mut text);
    String::from_utf8_lossy(&text).into_owned()
}

fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

fn addr(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches("/api/v0")
        .trim_end_matches('/')
        .to_owned()
}

/// A JSON-RPC POST with `extra` header lines.
fn rpc(addr: &str, extra: &str, body: &str) -> String {
    send(
        addr,
        &format!("POST / HTTP/1.1\r\nHost: {addr}{extra}"),
        body.as_bytes(),
    )
}

const SEND_TX: &str = r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction","params":[{"from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":"0x000000000000000000000000000000000000dEaD","value":"0xde0b6b3a7640000"}]}"#;
const BLOCK_NUMBER: &str = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;

fn block_number(addr: &str) -> String {
    let answer = rpc(addr, "\r\nContent-Type: application/json", BLOCK_NUMBER);
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    v["result"].as_str().unwrap().to_owned()
}

/// A Kubo `add` of `data` as a multipart form (what a cross-site `<form>` can send).
fn add(addr: &str, extra: &str, data: &[u8]) -> String {
    let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    send(
        addr,
        &format!(
            "POST /api/v0/add HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: multipart/form-data; boundary=XyZ{extra}"
        ),
        &body,
    )
}

#[test]
fn pages_of_other_sites_cannot_use_a_local_market() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "0"]);
    let chain = addr(&dev.url());
    let store = addr(dev.doc["store_api"].as_str().unwrap());
    let web = addr(dev.doc["web"].as_str().unwrap());
    let before = block_number(&chain);

    // A cross-site page's "simple" requests: text/plain, a form, or a body with no type, which
    // browsers send without a CORS preflight. Each is refused, on the chain's port and on the
    // web UI's /rpc, and dev account 0's ether does not move.
    for (target, path) in [(&chain, "/"), (&web, "/rpc")] {
        for content_type in [
            "\r\nContent-Type: text/plain",
            "\r\nContent-Type: application/x-www-form-urlencoded",
            "",
        ] {
            let answer = send(
                target,
                &format!(
                    "POST {path} HTTP/1.1\r\nHost: {target}\r\nOrigin: http://evil.example{content_type}"
                ),
                SEND_TX.as_bytes(),
            );
            let code = status(&answer);
            assert!(
                code == 415 || code == 403,
                "{target}{path} {content_type:?}: {answer}"
            );
        }
        // Even as application/json (after a preflight no answer grants), another origin is
        // refused.
        let answer = send(
            target,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: {target}\r\nOrigin: http://evil.example\r\n\
                 Content-Type: application/json"
            ),
            SEND_TX.as_bytes(),
        );
        assert_eq!(status(&answer), 403, "{answer}");
        assert!(
            answer.contains("evil.example may not use this server"),
            "{answer}"
        );
    }
    // A page that rebinds its own name to 127.0.0.1 is same-origin with itself; its Host names it.
    for target in [&chain, &store, &web] {
        let port = target.rsplit(':').next().unwrap();
        let answer = send(
            target,
            &format!(
                "POST / HTTP/1.1\r\nHost: rebind.evil.example:{port}\r\n\
                 Origin: http://rebind.evil.example:{port}\r\nContent-Type: application/json"
            ),
            SEND_TX.as_bytes(),
        );
        assert_eq!(status(&answer), 403, "{target}: {answer}");
        assert!(answer.contains("DNS-rebinding"), "{answer}");
    }
    // A WebSocket needs no CORS at all: the Origin check is what stops it.
    let answer = send(
        &chain,
        &format!(
            "GET / HTTP/1.1\r\nHost: {chain}\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
        ),
        b"",
    );
    assert_eq!(status(&answer), 403, "{answer}");
    // A cross-site form posting into the store.
    let answer = add(&store, "\r\nOrigin: http://evil.example", b"spam");
    assert_eq!(status(&answer), 403, "{answer}");
    assert_eq!(block_number(&chain), before, "nothing was mined");

    // The market's own page is served with the headers that keep other pages out of it, and
    // its same-origin calls work.
    let page = send(&web, &format!("GET / HTTP/1.1\r\nHost: {web}"), b"");
    assert_eq!(status(&page), 200);
    let lower = page.to_lowercase();
    for header in [
        "content-security-policy: default-src 'self'; script-src 'self';",
        "frame-ancestors 'none'",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
    ] {
        assert!(lower.contains(header), "{header} missing:\n{page}");
    }
    let own = send(
        &web,
        &format!(
            "POST /rpc HTTP/1.1\r\nHost: {web}\r\nOrigin: http://{web}\r\nContent-Type: application/json"
        ),
        BLOCK_NUMBER.as_bytes(),
    );
    assert_eq!(status(&own), 200, "{own}");
    let own = add(&web, &format!("\r\nOrigin: http://{web}"), b"mine");
    assert_eq!(status(&own), 200, "{own}");
    dev.stop();
}

/// Open descriptors of process `pid`.
fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Seconds until the server closes `s` (reads until end of stream), at most 20.
fn closed_after(mut s: TcpStream) -> (f64, String) {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    (
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

#[test]
fn slow_and_many_clients_are_cut_off_and_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(
        tmp.path(),
        &[
            "--workers",
            "0",
            "--header-timeout",
            "1s",
            "--max-connections",
            "16",
        ],
    );
    let chain = addr(&dev.url());
    let store = addr(dev.doc["store_api"].as_str().unwrap());

    // Headers sent a byte now and then and never finished: cut at the header timeout.
    let mut slow = TcpStream::connect(&chain).unwrap();
    write!(slow, "POST / HTTP/1.1\r\nHost: {chain}\r\nContent-Ty").unwrap();
    let (seconds, _) = closed_after(slow);
    assert!(seconds < 5.0, "slow headers held for {seconds} s");

    // A body that stops halfway: cut (408) once it pauses longer than the timeout.
    let mut slow = TcpStream::connect(&store).unwrap();
    write!(
        slow,
        "POST /api/v0/add HTTP/1.1\r\nHost: {store}\r\nContent-Type: multipart/form-data; \
         boundary=XyZ\r\nContent-Length: 100000\r\n\r\n--XyZ\r\n"
    )
    .unwrap();
    let (seconds, answer) = closed_after(slow);
    assert!(
        seconds < 5.0,
        "a stalled body held for {seconds} s: {answer}"
    );

    // An idle keep-alive connection gets the same time to send its next request.
    let mut idle = TcpStream::connect(&chain).unwrap();
    write!(
        idle,
        "POST / HTTP/1.1\r\nHost: {chain}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BLOCK_NUMBER}",
        BLOCK_NUMBER.len()
    )
    .unwrap();
    let (seconds, answer) = closed_after(idle);
    assert!(answer.contains("\"result\""), "{answer}");
    assert!(seconds < 5.0, "an idle connection held for {seconds} s");

    // 400 half-open connections (the review exhausted a 1,024-descriptor store with 1,100):
    // the server holds at most 16, the rest wait in the kernel's backlog and are cut in turn.
    let pid = dev.child.id();
    let base = descriptors(pid);
    let held: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect(&store).ok())
        .collect();
    assert!(held.len() > 300, "only {} connections opened", held.len());
    std::thread::sleep(Duration::from_millis(500));
    let during = descriptors(pid);
    assert!(
        during <= base + 16 + 4,
        "{during} descriptors open with 400 half-open clients (was {base}; at most 16 more)"
    );
    drop(held);
    // And the server still answers once they are gone.
    let started = Instant::now();
    let answer = send(
        &chain,
        &format!("POST / HTTP/1.1\r\nHost: {chain}\r\nContent-Type: application/json"),
        BLOCK_NUMBER.as_bytes(),
    );
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(30));
    dev.stop();
}

#[test]
fn agency_serve_relays_reads_only_and_never_names_its_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "0"]);
    let chain = addr(&dev.url());
    // A provider's URL with its key in it.
    let secret = "s3cr3t-api-key";
    let node = format!("http://{secret}@{chain}/");
    let (mut server, doc) = dev.serve(&node, &[]);
    let web = addr(doc["url"].as_str().unwrap());
    let relay = |body: &str| {
        let answer = send(
            &web,
            &format!("POST /rpc HTTP/1.1\r\nHost: {web}\r\nContent-Type: application/json"),
            body.as_bytes(),
        );
        (status(&answer), answer)
    };
    let before = block_number(&chain);

    let (code, answer) = relay(BLOCK_NUMBER);
    assert_eq!(code, 200);
    assert!(answer.contains("\"result\""), "reads are relayed: {answer}");
    for refused in [
        SEND_TX.to_owned(),
        r#"{"jsonrpc":"2.0","id":7,"method":"evm_snapshot","params":[]}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":7,"method":"evm_increaseTime","params":[86400]}"#.to_owned(),
        // A read in a batch does not carry a write through.
        format!(r#"[{BLOCK_NUMBER},{{"jsonrpc":"2.0","id":2,"method":"evm_mine","params":[]}}]"#),
    ] {
        let (code, answer) = relay(&refused);
        assert_eq!(code, 200, "{answer}");
        assert!(answer.contains("not relayed by agency serve"), "{answer}");
        assert!(!answer.contains("\"result\""), "{answer}");
    }
    assert_eq!(block_number(&chain), before, "nothing was mined or warped");
    // A batch of 5,000 refused requests (about 10 KB) gets an answer that grows with the
    // batch, not with its square; a batch over the node's limit is refused unsent.
    let zeros = format!("[{}]", vec!["0"; 5000].join(","));
    let (code, answer) = relay(&zeros);
    assert_eq!(code, 200);
    assert!(answer.len() < 5000 * 300, "{} bytes answered", answer.len());
    let big = format!("[{}]", vec![BLOCK_NUMBER; 1001].join(","));
    let (_, answer) = relay(&big);
    assert!(answer.contains("batch too large"), "{answer}");
    let answer = send(
        &web,
        &format!("POST /rpc HTTP/1.1\r\nHost: {web}\r\nContent-Type: text/plain"),
        BLOCK_NUMBER.as_bytes(),
    );
    assert_eq!(status(&answer), 415, "{answer}");

    // The store is read-only unless the operator says otherwise.
    let answer = add(&web, "", b"spam");
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(answer.contains("--allow-writes"), "{answer}");

    // The node goes away: the visitor learns that, not where the node is.
    dev.stop();
    let (code, answer) = relay(BLOCK_NUMBER);
    assert_eq!(code, 502, "{answer}");
    let port = chain.rsplit(':').next().unwrap();
    assert!(
        !answer.contains(secret) && !answer.contains(port),
        "the answer names the node: {answer}"
    );
    crate::chain::stop(&mut server);
}

#[test]
fn agency_serve_takes_uploads_only_when_allowed_and_only_up_to_its_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &["--workers", "0"]);
    let (mut server, doc) = dev.serve(
        &dev.url(),
        &[
            "--allow-writes",
            "--max-upload",
            "4096",
            "--cors-origin",
            "https://app.example",
            "--allowed-host",
            "agency.internal",
        ],
    );
    assert_eq!(doc["store_writes"], true);
    let web = addr(doc["url"].as_str().unwrap());

    let answer = add(&web, "", &[7u8; 1000]);
    assert_eq!(status(&answer), 200, "{answer}");
    // The name the operator lets in is answered; another is not.
    let port = web.rsplit(':').next().unwrap();
    for (name, expected) in [("agency.internal", 200), ("other.internal", 403)] {
        let answer = send(
            &web,
            &format!("GET /api/config HTTP/1.1\r\nHost: {name}:{port}"),
            b"",
        );
        assert_eq!(status(&answer), expected, "{name}: {answer}");
    }
    let answer = add(&web, "", &[7u8; 10_000]);
    assert_eq!(status(&answer), 413, "{answer}");

    // The listed origin gets CORS answers; another is still refused.
    let preflight = send(
        &web,
        &format!(
            "OPTIONS /rpc HTTP/1.1\r\nHost: {web}\r\nOrigin: https://app.example\r\n\
             Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type"
        ),
        b"",
    );
    assert!(
        preflight
            .to_lowercase()
            .contains("access-control-allow-origin: https://app.example"),
        "{preflight}"
    );
    let answer = send(
        &web,
        &format!(
            "POST /rpc HTTP/1.1\r\nHost: {web}\r\nOrigin: https://other.example\r\n\
             Content-Type: application/json"
        ),
        BLOCK_NUMBER.as_bytes(),
    );
    assert_eq!(status(&answer), 403, "{answer}");
    crate::chain::stop(&mut server);
    dev.stop();
}
