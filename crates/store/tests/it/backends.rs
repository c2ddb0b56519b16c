//! The conformance suite against every backend, and each backend's failure modes.

use std::{sync::Arc, time::Duration};

use agency_primitives::{Block, CODEC_DAG_PB, CODEC_RAW, Cid};
use agency_store::{
    BlockStore, FsStore, ImportOptions, KuboStore, MemStore, StoreError, conformance, import,
};
use bytes::Bytes;
use cid::multihash::Multihash;

use crate::support::{Tmpfs, noise, serve};

#[tokio::test]
async fn conformance_memory() {
    conformance::run(Arc::new(MemStore::new())).await;
}

#[tokio::test]
async fn conformance_disk() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(Arc::new(FsStore::open(dir.path()).unwrap())).await;
}

#[tokio::test]
async fn conformance_kubo_client_against_our_server() {
    let url = serve(Arc::new(MemStore::new())).await;
    conformance::run(Arc::new(KuboStore::new(&url).unwrap())).await;
}

#[tokio::test]
async fn disk_detects_a_corrupt_block_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let block = Block::new(CODEC_RAW, Bytes::from_static(b"precious"));
    store.put(block.clone()).await.unwrap();
    std::fs::write(store.block_path(block.cid()), b"precioux").unwrap();
    let err = store.get(block.cid()).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&block.cid().to_string()),
        "names the CID: {err}"
    );
    // A truncated file (a torn write from before atomic writes) is caught the same way.
    std::fs::write(store.block_path(block.cid()), b"").unwrap();
    assert!(matches!(
        store.get(block.cid()).await,
        Err(StoreError::Corrupt { .. })
    ));
}

#[tokio::test]
async fn disk_cleans_interrupted_writes_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(FsStore::open(dir.path()).unwrap());
    let torn = dir.path().join("tmp/12345-0");
    std::fs::write(&torn, b"half a blo").unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    assert!(!torn.exists(), "leftover temp file removed");
    assert_eq!(
        std::fs::read_dir(store.root().join("blocks"))
            .unwrap()
            .count(),
        0,
        "nothing visible"
    );
}

#[tokio::test]
async fn remote_returning_wrong_bytes_is_an_error_naming_the_cid() {
    let block = Block::new(CODEC_RAW, Bytes::from_static(b"the real bytes"));
    let liar = lying_server().await;
    let kubo = KuboStore::new(&liar).unwrap();
    let err = kubo.get(block.cid()).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                backend: "kubo",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&block.cid().to_string()), "{err}");
}

/// A Kubo-shaped server that answers every block/get with the same wrong bytes.
async fn lying_server() -> String {
    use axum::{Router, routing::post};
    let app = Router::new().route(
        "/api/v0/block/get",
        post(|| async { "not the bytes you asked for" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn remote_that_never_answers_times_out() {
    // Accepts connections and never responds, like Kubo searching the network for a block.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let kubo = KuboStore::new(&url)
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let cid = *Block::new(CODEC_RAW, Bytes::from_static(b"absent")).cid();
    let started = std::time::Instant::now();
    let err = kubo.get(&cid).await.unwrap_err();
    assert!(matches!(err, StoreError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the timeout"
    );
    assert!(err.to_string().contains(&cid.to_string()), "{err}");
}

#[tokio::test]
async fn unreachable_remote_is_a_retryable_error() {
    // Bind then drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubo = KuboStore::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let err = kubo
        .has(Block::new(CODEC_RAW, Bytes::new()).cid())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test]
async fn bad_kubo_urls_are_refused() {
    for bad in ["localhost:5001", "ftp://x", "file:///tmp/x", ""] {
        let err = KuboStore::new(bad).unwrap_err();
        assert!(err.to_string().contains("Kubo API URL"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn read_only_data_dir_is_a_clear_error_and_writes_nothing() {
    let fs = Tmpfs::mount("4m");
    let store = FsStore::open(&fs.0).unwrap();
    fs.remount_read_only();
    let data = noise(100_000, 1);
    let err = import(
        &data[..],
        ImportOptions::default(),
        Some(&store as &dyn BlockStore),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Read-only file system"), "{err}");
    assert!(
        err.to_string().contains(fs.0.to_str().unwrap()),
        "names the path: {err}"
    );
    // A data dir that cannot even be created.
    let err = FsStore::open(fs.0.join("sub")).unwrap_err();
    assert!(err.to_string().contains("Read-only file system"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn full_data_dir_is_a_clear_error_and_leaves_no_partial_block() {
    let fs = Tmpfs::mount("512k");
    let store = FsStore::open(&fs.0).unwrap();
    let data = noise(2_000_000, 2);
    let opts = ImportOptions {
        chunk_size: 100_000,
        ..ImportOptions::default()
    };
    let err = import(&data[..], opts, Some(&store as &dyn BlockStore), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("No space left on device"), "{err}");
    // Every block file present is whole (hash-verified), and no temp file is left behind.
    assert_eq!(
        std::fs::read_dir(fs.0.join("tmp")).unwrap().count(),
        0,
        "temp file removed"
    );
    let mut whole = 0;
    for shard in std::fs::read_dir(fs.0.join("blocks")).unwrap() {
        for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            // File names are the hex multihash: rebuild the CID and let the store verify it.
            let name = f.unwrap().file_name().into_string().unwrap();
            let mh: Vec<u8> = (0..name.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&name[i..i + 2], 16).unwrap())
                .collect();
            let cid = Cid::new_v1(CODEC_DAG_PB, Multihash::from_bytes(&mh).unwrap());
            store
                .get(&cid)
                .await
                .unwrap_or_else(|e| panic!("block file {name} is not whole: {e}"));
            whole += 1;
        }
    }
    assert!(whole <= 5, "{whole} blocks cannot fit in 512 KiB");

    // Single puts succeed until the disk is full; each one that succeeded reads back whole.
    let fs = Tmpfs::mount("512k");
    let store = FsStore::open(&fs.0).unwrap();
    let mut stored = Vec::new();
    let err = loop {
        let block = Block::new(CODEC_RAW, noise(100_000, 10 + stored.len() as u64));
        match store.put(block.clone()).await {
            Ok(()) => stored.push(block),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(
        (3..=5).contains(&stored.len()),
        "{} blocks of 100 kB fit in 512 KiB",
        stored.len()
    );
    for block in stored {
        assert_eq!(store.get(block.cid()).await.unwrap(), block);
    }
    assert_eq!(
        std::fs::read_dir(fs.0.join("tmp")).unwrap().count(),
        0,
        "temp file removed"
    );
}
