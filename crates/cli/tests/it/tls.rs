//! `https://` endpoints: the dev chain behind a TLS-terminating proxy (Node's https with a
//! certificate from a test CA made by openssl). With the CA trusted (`SSL_CERT_FILE`), deploy,
//! a transaction and reads go through; without it, the certificate is refused.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::chain::{spawn_with_doc, start, stop};
use crate::{agency_cmd, stderr, stdout};

const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian's openssl package)");
    assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
}

/// A CA, and a server certificate it signs for localhost; returns (ca.pem, leaf.pem, leaf.key).
fn certificates(dir: &Path) -> (String, String, String) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=agency test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    let p = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    (p("ca.pem"), p("leaf.pem"), p("leaf.key"))
}

#[test]
fn https_rpc_urls_work_with_a_trusted_certificate_and_fail_without() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(tmp.path());
    let (mut chain, doc) = start(tmp.path(), &[]);
    let target = doc["url"].as_str().unwrap().to_owned();
    let mut proxy = Command::new("node");
    proxy
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls/proxy.mjs"))
        .args([&cert, &key, &target])
        .stdin(Stdio::null());
    let (mut proxy, proxied) = spawn_with_doc(proxy);
    let url = proxied["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://localhost:"), "{url}");

    let run = |trust: bool, args: &[&str]| {
        let mut cmd = agency_cmd(tmp.path());
        cmd.env("AGENCY_PRIVATE_KEY", KEY0)
            .args(["--json", "--rpc-url", &url])
            .args(args);
        if trust {
            cmd.env("SSL_CERT_FILE", &ca);
        } else {
            cmd.env_remove("SSL_CERT_FILE");
        }
        cmd.output().unwrap()
    };
    // Trusted: a deployment (a signed transaction and its receipt), then reads, over TLS.
    let o = run(true, &["deploy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let deployed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(deployed["chain_id"], 31337);
    let address = deployed["address"].as_str().unwrap().to_owned();
    let o = run(
        true,
        &["--agency", &address, "account", "deposit", "0.5eth"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let balance = || {
        let o = run(
            true,
            &[
                "--agency",
                &address,
                "account",
                "balance",
                "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["balance"].clone()
    };
    assert_eq!(balance(), "500000000000000000");

    // Not trusted: refused before anything is sent, and the error says why.
    let o = run(
        false,
        &["--agency", &address, "account", "deposit", "0.5eth"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("cannot reach the JSON-RPC endpoint"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert_eq!(
        balance(),
        "500000000000000000",
        "the refused deposit sent nothing"
    );

    let _ = proxy.kill();
    let _ = proxy.wait();
    stop(&mut chain);
}
