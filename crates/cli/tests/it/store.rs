//! `agency store …` end to end through the binary.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{agency, agency_cmd, stderr, stdout};

#[test]
fn help_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["store", "--help"],
        &["store", "add", "--help"],
        &["store", "car", "--help"],
        &["store", "serve", "--help"],
    ] {
        let o = agency(dir.path(), args);
        assert!(o.status.success(), "{args:?}");
        insta::assert_snapshot!(args.join("_").replace("--", ""), stdout(&o));
    }
}

#[test]
fn add_prints_kubo_cids_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.txt");
    std::fs::write(&file, "hello world\n").unwrap();
    let f = file.to_str().unwrap();

    let o = agency(dir.path(), &["store", "add", f]);
    assert_eq!(
        stdout(&o),
        format!("added QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o {f}\n")
    );
    let o = agency(dir.path(), &["store", "add", "-Q", "--cid-version", "1", f]);
    assert_eq!(
        stdout(&o),
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4\n"
    );
    let o = agency(
        dir.path(),
        &[
            "store",
            "add",
            "--cid-version=1",
            "--raw-leaves=false",
            "-Q",
            f,
        ],
    );
    assert!(
        stdout(&o).starts_with("bafybei"),
        "dag-pb leaf under CIDv1: {}",
        stdout(&o)
    );

    let fresh = tempfile::tempdir().unwrap();
    let o = agency(
        fresh.path(),
        &["--json", "store", "add", "--only-hash", f, f],
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(
        v[0]["cid"],
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    assert_eq!(v[0]["bytes"], 12);
    assert_eq!(v[0]["dag_size"], 20);
    assert_eq!(v[0]["blocks"], 1);
    assert!(
        !fresh.path().join("store").exists(),
        "--only-hash stores nothing"
    );
}

#[test]
fn round_trip_through_files_and_car() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..3_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let file = dir.path().join("data.bin");
    std::fs::write(&file, &data).unwrap();
    let store_a = dir.path().join("a");
    let sa = store_a.to_str().unwrap();
    let o = agency(
        dir.path(),
        &["--store", sa, "store", "add", "-Q", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cid = stdout(&o).trim().to_owned();

    let o = agency(dir.path(), &["--store", sa, "store", "cat", &cid]);
    assert!(o.stdout == data, "cat returns the file");
    let out = dir.path().join("back.bin");
    let o = agency(
        dir.path(),
        &[
            "--store",
            sa,
            "store",
            "get",
            &cid,
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&out).unwrap() == data, "get writes the file");

    let car = dir.path().join("data.car");
    let o = agency(
        dir.path(),
        &[
            "--store",
            sa,
            "--json",
            "store",
            "car",
            "export",
            &cid,
            "-o",
            car.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["root"], cid.as_str());
    assert_eq!(v["blocks"], 13, "12 leaves and a root");

    let store_b = dir.path().join("b");
    let sb = store_b.to_str().unwrap();
    let o = agency(
        dir.path(),
        &[
            "--store",
            sb,
            "store",
            "car",
            "import",
            car.to_str().unwrap(),
        ],
    );
    assert_eq!(stdout(&o).trim(), cid);
    let o = agency(dir.path(), &["--store", sb, "store", "cat", &cid]);
    assert!(
        o.stdout == data,
        "the imported DAG reads back in another store"
    );
}

#[test]
fn serve_and_use_it_as_a_kubo_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = agency_cmd(dir.path())
        .args(["--json", "store", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut doc = String::new();
    let mut reader = BufReader::new(server.stdout.take().unwrap());
    while !doc.trim_end().ends_with('}') {
        reader.read_line(&mut doc).unwrap();
    }
    let url = serde_json::from_str::<Value>(&doc).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();

    let client = tempfile::tempdir().unwrap();
    let file = client.path().join("x.txt");
    std::fs::write(&file, "served over the Kubo RPC API\n").unwrap();
    let o = agency(
        client.path(),
        &[
            "--ipfs-api",
            &url,
            "store",
            "add",
            "-Q",
            file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cid = stdout(&o).trim().to_owned();
    let o = agency(client.path(), &["--ipfs-api", &url, "store", "cat", &cid]);
    assert_eq!(stdout(&o), "served over the Kubo RPC API\n");
    assert!(
        !client.path().join("store").exists(),
        "nothing stored locally with --ipfs-api"
    );
    // SIGTERM stops the server cleanly.
    let pid = server.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let hello = dir.path().join("hello.txt");
    std::fs::write(&hello, "hi\n").unwrap();
    let h = hello.to_str().unwrap();
    let d = dir.path().to_str().unwrap();
    let missing = dir.path().join("missing.txt");
    let m = missing.to_str().unwrap();
    let absent = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyaa";
    let cbor = "bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["store", "cat", "not-a-cid"],
            "invalid CID \"not-a-cid\"",
        ),
        (vec!["store", "cat", cbor], "unsupported codec 0x71"),
        (vec!["store", "cat", absent], "not found in disk store"),
        (vec!["store", "get", absent, "-o", "x"], "not found"),
        (vec!["store", "add", m], "cannot read"),
        (vec!["store", "add", d], "is a directory"),
        (vec!["store", "add", "/proc/self/mem"], "Input/output error"),
        (
            vec!["store", "add", "--chunker", "rabin", h],
            "invalid chunker",
        ),
        (
            vec!["store", "add", "--cid-version", "2", h],
            "invalid value '2'",
        ),
        (vec!["store", "car", "import", m], "missing.txt"),
        (vec!["store", "car", "import", h], "bad CAR file"),
        (
            vec!["--ipfs-api", "localhost:5001", "store", "cat", absent],
            "Kubo API URL",
        ),
        (
            vec!["--ipfs-api", "http://127.0.0.1:9", "store", "cat", absent],
            "cannot connect",
        ),
        (
            vec!["--store", "/proc/agency", "store", "add", h],
            "/proc/agency",
        ),
    ];
    for (args, needle) in cases {
        let started = Instant::now();
        let o = agency(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(needle),
            "{args:?}: want {needle:?} in {}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{args:?}: nothing on stdout");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
    // Nothing half-written: the failed get left no file, and the failed add of a directory
    // next to a good file stored neither.
    assert!(!dir.path().join("x").exists());
    let o = agency(
        dir.path(),
        &["--store", &format!("{d}/s"), "store", "add", h, d],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !dir.path().join("s/blocks").exists()
            || std::fs::read_dir(dir.path().join("s/blocks"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn json_errors_are_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = agency(dir.path(), &["--json", "store", "cat", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("invalid CID"), "{v}");
}
