//! CAR export and import, including truncated and tampered files.

use std::sync::Arc;

use agency_store::{
    BlockStore, FsStore, ImportOptions, MemStore, StoreError, cat, export_car, import, import_car,
    import_car_file, scan_car,
};
use futures::TryStreamExt;

use crate::support::noise;

async fn file_in_store(len: usize) -> (Arc<MemStore>, agency_store::ImportSummary, Vec<u8>) {
    let store = Arc::new(MemStore::new());
    let data = noise(len, 7);
    let opts = ImportOptions {
        chunk_size: 1024,
        ..ImportOptions::default()
    };
    let s = import(
        &data[..],
        opts,
        Some(store.as_ref() as &dyn BlockStore),
        |_| {},
    )
    .await
    .unwrap();
    (store, s, data)
}

async fn car_bytes(store: Arc<MemStore>, root: agency_store::Cid) -> Vec<u8> {
    let mut out = Vec::new();
    export_car(store, root, &mut out).await.unwrap();
    out
}

#[tokio::test]
async fn round_trip_into_another_store() {
    // 200 leaves: two levels of internal nodes.
    let (store, s, data) = file_in_store(200 * 1024).await;
    let car = car_bytes(store.clone(), s.root).await;
    let target = Arc::new(MemStore::new());
    let summary = import_car(&car[..], target.as_ref()).await.unwrap();
    assert_eq!(summary.roots, vec![s.root]);
    assert_eq!(summary.blocks, s.blocks);
    assert_eq!(target.len(), store.len());
    let back: Vec<bytes::Bytes> = cat(target, s.root).try_collect().await.unwrap();
    assert_eq!(back.concat(), data);
}

#[tokio::test]
async fn repeated_blocks_are_written_once() {
    let store = Arc::new(MemStore::new());
    let zeros = vec![0u8; 10 * 1024];
    let opts = ImportOptions {
        chunk_size: 1024,
        ..ImportOptions::default()
    };
    let s = import(
        &zeros[..],
        opts,
        Some(store.as_ref() as &dyn BlockStore),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.blocks, 11, "ten leaves and a root were produced");
    let car = car_bytes(store, s.root).await;
    let (summary, missing) = scan_car(&car[..]).await.unwrap();
    assert_eq!(summary.blocks, 2, "the ten identical leaves are one block");
    assert!(missing.is_empty());
}

#[tokio::test]
async fn truncated_car_is_rejected_at_every_cut() {
    let (store, s, _) = file_in_store(5 * 1024).await;
    let car = car_bytes(store, s.root).await;
    // Cuts inside the header, inside a block, and exactly at a block boundary (which parses
    // cleanly, since CARv1 has no trailer) all fail, and the last kind says what is missing.
    // The last section: varint(1069), a CIDv0 (34 bytes), a leaf of 1024 bytes + 11 of framing.
    let last_block = 2 + 34 + 1024 + 11;
    for cut in [
        0,
        5,
        30,
        car.len() / 2,
        car.len() - last_block,
        car.len() - 1,
    ] {
        let err = import_car(&car[..cut], &MemStore::new()).await.unwrap_err();
        assert!(matches!(err, StoreError::Car { .. }), "cut {cut}: {err:?}");
    }
    let (summary, missing) = scan_car(&car[..car.len() - last_block]).await.unwrap();
    assert_eq!(
        summary.blocks,
        s.blocks - 1,
        "the cut at the boundary parses"
    );
    assert_eq!(missing.len(), 1);
    let err = import_car(&car[..car.len() - last_block], &MemStore::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("truncated or incomplete"), "{err}");
    assert!(
        err.to_string().contains(&missing[0].to_string()),
        "names the missing block: {err}"
    );
}

#[tokio::test]
async fn tampered_block_is_rejected_naming_it_and_nothing_is_written() {
    let (store, s, _) = file_in_store(5 * 1024).await;
    let mut car = car_bytes(store, s.root).await;
    let n = car.len();
    car[n - 10] ^= 0xff; // inside the last leaf's data
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.car");
    std::fs::write(&path, &car).unwrap();
    let target = FsStore::open(dir.path().join("store")).unwrap();
    let err = import_car_file(&path, &target).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("failed verification"), "{msg}");
    assert!(
        msg.contains("bafy") || msg.contains("Qm"),
        "names the CID: {msg}"
    );
    let written = std::fs::read_dir(dir.path().join("store/blocks"))
        .unwrap()
        .count();
    assert_eq!(written, 0, "a bad CAR file writes nothing");
}

#[tokio::test]
async fn not_a_car_is_a_clear_error() {
    let err = scan_car(&b"hello, I am not a CAR file"[..])
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("bad CAR file"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = import_car_file(&dir.path().join("missing.car"), &MemStore::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.car"), "{err}");
}

#[tokio::test]
async fn export_of_a_missing_root_fails() {
    let store = Arc::new(MemStore::new());
    let cid = *agency_primitives::Block::new(agency_primitives::CODEC_RAW, &b"x"[..]).cid();
    let err = export_car(store, cid, Vec::new()).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}
