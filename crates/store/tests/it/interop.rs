//! Interop with IPFS code Agency did not write (npm packages installed by `npm ci` at the repo
//! root; `make test` and .ci/run do that): kubo-rpc-client drives our server; our Kubo backend
//! drives a Kubo-RPC-shaped server over Helia; CAR files round-trip through ipfs-car.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use agency_store::{
    BlockStore, ImportOptions, KuboStore, MemStore, StoreError, cat, conformance, export_car,
    import, import_car_file,
};
use futures::TryStreamExt;

use crate::support::{repo_root, serve, vectors};

fn node_modules() -> PathBuf {
    let nm = repo_root().join("node_modules");
    assert!(
        nm.join("kubo-rpc-client").exists() && nm.join("ipfs-car").exists(),
        "interop tests need the npm packages: run `npm ci` at the repository root (`make test` does)"
    );
    nm
}

fn interop_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn kubo_rpc_client_drives_our_server() {
    node_modules();
    let url = serve(Arc::new(MemStore::new())).await;
    let (_, dir) = vectors();
    let tsv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/unixfs/cids.tsv");
    let out = tokio::process::Command::new("node")
        .arg(interop_script("kubo-rpc-client.mjs"))
        .args([url.as_str(), dir.to_str().unwrap(), tsv.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubo-rpc-client run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["checks"], 28, "{report}");
}

/// The Helia-backed Kubo-shaped server, killed on drop.
struct Helia {
    child: Child,
    url: String,
}

impl Helia {
    fn start() -> Self {
        node_modules();
        let mut child = Command::new("node")
            .arg(interop_script("helia-kubo-server.mjs"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("helia server said {line:?}"))
            .to_owned();
        Helia { child, url }
    }
}

impl Drop for Helia {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn our_kubo_backend_against_helia() {
    let helia = Helia::start();
    let kubo = Arc::new(KuboStore::new(&helia.url).unwrap().with_offline(true));
    conformance::run(kubo.clone()).await;

    // Helia's importer, given Kubo's parameters, computes the vectors' CIDs; we read each file
    // back block by block from Helia, verifying every block.
    let (rows, dir) = vectors();
    for v in rows {
        for (opts, want) in [
            (
                ImportOptions::from_kubo_flags(0, None, None).unwrap(),
                &v.v0,
            ),
            (
                ImportOptions::from_kubo_flags(1, None, None).unwrap(),
                &v.v1_raw_leaves,
            ),
        ] {
            let file = tokio::fs::File::open(dir.join(&v.file)).await.unwrap();
            let (root, _) = kubo.add(file, &v.file, opts).await.unwrap();
            assert_eq!(
                &root.to_string(),
                want,
                "helia's CID for {} {opts:?}",
                v.file
            );
            let back: Vec<bytes::Bytes> = cat(kubo.clone(), root).try_collect().await.unwrap();
            assert_eq!(
                back.concat(),
                std::fs::read(dir.join(&v.file)).unwrap(),
                "{} via block/get",
                v.file
            );
        }
    }

    // Blocks we write with block/put, Helia reads back as a file.
    let data = crate::support::noise(700_000, 9);
    let s = import(
        &data[..],
        ImportOptions::from_kubo_flags(1, None, None).unwrap(),
        Some(kubo.as_ref() as &dyn BlockStore),
        |_| {},
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/api/v0/cat?arg={}", helia.url, s.root))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.bytes().await.unwrap(),
        &data[..],
        "helia reads what our importer wrote"
    );

    // Without offline=true a missing block is searched for forever, as in Kubo: we time out.
    let patient = KuboStore::new(&helia.url)
        .unwrap()
        .with_timeout(Duration::from_millis(500));
    let missing =
        *agency_primitives::Block::new(agency_primitives::CODEC_RAW, &b"nobody has this"[..]).cid();
    let err = patient.get(&missing).await.unwrap_err();
    assert!(matches!(err, StoreError::Timeout { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn car_files_round_trip_with_ipfs_car() {
    let bin = node_modules().join(".bin/ipfs-car");
    let (_, dir) = vectors();
    let src = dir.join("20m.bin");
    let data = std::fs::read(&src).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // ipfs-car's fixed parameters: CIDv1, raw leaves, 1 MiB chunks, up to 1024 links. 20 MB is
    // 20 chunks, under both link limits, so our importer with size-1048576 builds the same DAG.
    let opts = ImportOptions {
        cid_version: 1,
        raw_leaves: true,
        chunk_size: 1 << 20,
    };

    // ipfs-car pack → our import → our cat.
    let theirs = tmp.path().join("theirs.car");
    let st = Command::new(&bin)
        .args(["pack", "--no-wrap", "-o"])
        .arg(&theirs)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let store = Arc::new(MemStore::new());
    let summary = import_car_file(&theirs, store.as_ref()).await.unwrap();
    let ours = import(&data[..], opts, None, |_| {}).await.unwrap();
    assert_eq!(
        summary.roots,
        vec![ours.root],
        "ipfs-car's root equals ours with its parameters"
    );
    let back: Vec<bytes::Bytes> = cat(store.clone(), ours.root).try_collect().await.unwrap();
    assert_eq!(back.concat(), data);

    // Our export (Kubo's default parameters) → ipfs-car roots and unpack.
    let kubo_default = import(
        &data[..],
        ImportOptions::default(),
        Some(store.as_ref() as &dyn BlockStore),
        |_| {},
    )
    .await
    .unwrap();
    let car_path = tmp.path().join("ours.car");
    let file = tokio::fs::File::create(&car_path).await.unwrap();
    export_car(store.clone(), kubo_default.root, file)
        .await
        .unwrap();
    let roots = Command::new(&bin)
        .arg("roots")
        .arg(&car_path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&roots.stdout).trim(),
        kubo_default.root.to_string()
    );
    let unpacked = tmp.path().join("unpacked.bin");
    let st = Command::new(&bin)
        .arg("unpack")
        .arg(&car_path)
        .arg("--output")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read(&unpacked).unwrap(),
        data,
        "ipfs-car unpacks our CAR to the same bytes"
    );
}
