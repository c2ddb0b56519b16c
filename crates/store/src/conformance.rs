//! The conformance suite every [`BlockStore`] implementation runs.
//!
//! Call [`run`] from a backend's tests with a fresh, empty store. Checks that need a way to
//! damage stored bytes (corruption detection) are per-backend tests, since only the backend
//! knows where its bytes live.
#![allow(
    clippy::unwrap_used,
    reason = "a test suite: a panic is its failure report"
)]

use std::sync::Arc;

use agency_primitives::{Block, CODEC_DAG_PB, CODEC_RAW, Cid, sha256_multihash};
use bytes::Bytes;
use futures::TryStreamExt;

use crate::{BlockStore, ImportOptions, StoreError, cat, import};

/// Runs every check against `store`, panicking with the backend's name on the first failure.
pub async fn run(store: Arc<dyn BlockStore>) {
    let name = store.name();
    put_get_has(store.as_ref(), name).await;
    missing_block(store.as_ref(), name).await;
    v0_and_v1_address_one_block(store.as_ref(), name).await;
    large_block(store.as_ref(), name).await;
    file_round_trip(store, name).await;
}

async fn put_get_has(store: &dyn BlockStore, name: &str) {
    let block = Block::new(CODEC_RAW, Bytes::from_static(b"conformance: put, get, has"));
    assert!(
        !store.has(block.cid()).await.unwrap(),
        "{name}: has() before put"
    );
    store
        .put(block.clone())
        .await
        .unwrap_or_else(|e| panic!("{name}: put: {e}"));
    store
        .put(block.clone())
        .await
        .unwrap_or_else(|e| panic!("{name}: second put must succeed: {e}"));
    assert!(
        store.has(block.cid()).await.unwrap(),
        "{name}: has() after put"
    );
    let got = store
        .get(block.cid())
        .await
        .unwrap_or_else(|e| panic!("{name}: get: {e}"));
    assert_eq!(got, block, "{name}: get returns the bytes put");
    let empty = Block::new(CODEC_RAW, Bytes::new());
    store
        .put(empty.clone())
        .await
        .unwrap_or_else(|e| panic!("{name}: put empty block: {e}"));
    assert_eq!(
        store.get(empty.cid()).await.unwrap(),
        empty,
        "{name}: empty block"
    );
}

async fn missing_block(store: &dyn BlockStore, name: &str) {
    let absent = Cid::new_v1(CODEC_RAW, sha256_multihash(b"conformance: never stored"));
    assert!(
        !store.has(&absent).await.unwrap(),
        "{name}: has() of an absent block"
    );
    match store.get(&absent).await {
        Err(StoreError::NotFound { cid, .. }) => {
            assert_eq!(cid, absent, "{name}: NotFound names the CID")
        }
        other => panic!("{name}: get of an absent block gave {other:?}, want NotFound"),
    }
}

async fn v0_and_v1_address_one_block(store: &dyn BlockStore, name: &str) {
    let v0 = Block::new_v0(Bytes::from_static(b"\x0a\x02\x08\x02"));
    store.put(v0.clone()).await.unwrap();
    let v1 = Cid::new_v1(CODEC_DAG_PB, *v0.cid().hash());
    let got = store
        .get(&v1)
        .await
        .unwrap_or_else(|e| panic!("{name}: get by CIDv1 of a CIDv0 block: {e}"));
    assert_eq!(
        got.data(),
        v0.data(),
        "{name}: same bytes under either CID version"
    );
    assert_eq!(
        got.cid(),
        &v1,
        "{name}: the block carries the CID asked for"
    );
}

async fn large_block(store: &dyn BlockStore, name: &str) {
    let data: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let block = Block::new(CODEC_RAW, data);
    store
        .put(block.clone())
        .await
        .unwrap_or_else(|e| panic!("{name}: put 1 MiB block: {e}"));
    assert_eq!(
        store.get(block.cid()).await.unwrap(),
        block,
        "{name}: 1 MiB block"
    );
}

async fn file_round_trip(store: Arc<dyn BlockStore>, name: &str) {
    let data: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    for opts in [
        ImportOptions {
            chunk_size: 4096,
            ..ImportOptions::default()
        },
        ImportOptions {
            cid_version: 1,
            raw_leaves: true,
            chunk_size: 1000,
        },
    ] {
        let summary = import(&data[..], opts, Some(store.as_ref()), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{name}: import {opts:?}: {e}"));
        let back: Vec<Bytes> = cat(store.clone(), summary.root)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{name}: cat {}: {e}", summary.root));
        assert_eq!(back.concat(), data, "{name}: file round trip with {opts:?}");
    }
}
