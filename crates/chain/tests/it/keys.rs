//! Keys from the places users keep them: a keystore written by another tool (foundry's cast).

use agency_chain::{KeyError, KeySource};
use alloy::signers::local::PrivateKeySigner;

#[test]
fn keystores_written_by_cast_decrypt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cast = format!(
        "{}/../../node_modules/.bin/cast",
        env!("CARGO_MANIFEST_DIR")
    );
    let key = "0x59c6995e998f97a71a0d2ce0d2b2d1bd5a2d1f2e8b2eb2b2d2f2e8b2eb2b2d2f";
    let status = std::process::Command::new(&cast)
        .args([
            "wallet",
            "import",
            "agent",
            "--private-key",
            key,
            "--unsafe-password",
            "hunter2",
        ])
        .arg("--keystore-dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running {cast}: {e} (run `npm ci`)"));
    assert!(status.success());
    let path = dir.path().join("agent");
    let want: PrivateKeySigner = key.parse().expect("key");
    let loaded = KeySource::Keystore {
        path: path.clone(),
        password: "hunter2".into(),
    }
    .load()
    .expect("decrypts");
    assert_eq!(loaded.address(), want.address());

    let wrong = KeySource::Keystore {
        path: path.clone(),
        password: "hunter3".into(),
    }
    .load()
    .expect_err("wrong password");
    assert!(
        matches!(&wrong, KeyError::Keystore { path: p, .. } if *p == path),
        "{wrong}"
    );
    assert!(!wrong.to_string().contains("hunter"), "{wrong}");
    let missing = KeySource::Keystore {
        path: dir.path().join("nobody"),
        password: "x".into(),
    }
    .load()
    .expect_err("no file");
    assert!(missing.to_string().contains("nobody"), "{missing}");
}
