//! Every row of the Kubo CID vectors, CIDv0 and CIDv1, through the importer and back.

use std::sync::Arc;

use agency_store::{BlockStore, ImportOptions, MemStore, cat, import};
use futures::TryStreamExt;

use crate::support::vectors;

#[tokio::test]
async fn every_vector_matches_kubo() {
    let (rows, dir) = vectors();
    assert_eq!(rows.len(), 8, "cids.tsv rows");
    for v in rows {
        let data = std::fs::read(dir.join(&v.file)).unwrap();
        assert_eq!(data.len() as u64, v.bytes, "{} size", v.file);
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
            let hashed = import(&data[..], opts, None, |_| {}).await.unwrap();
            assert_eq!(&hashed.root.to_string(), want, "{} with {opts:?}", v.file);
            assert_eq!(hashed.size, v.bytes);

            // The same CID when stored, and the bytes come back.
            let store = Arc::new(MemStore::new());
            let stored = import(
                &data[..],
                opts,
                Some(store.as_ref() as &dyn BlockStore),
                |_| {},
            )
            .await
            .unwrap();
            assert_eq!(stored, hashed);
            // The vector files hold no repeated chunk, so every block is distinct.
            assert_eq!(store.len() as u64, stored.blocks, "{} blocks", v.file);
            let back: Vec<bytes::Bytes> =
                cat(store.clone(), stored.root).try_collect().await.unwrap();
            assert_eq!(back.concat(), data, "{} round trip", v.file);
        }
    }
}

#[tokio::test]
async fn progress_grows_to_the_file_size() {
    let (_, dir) = vectors();
    let data = std::fs::read(dir.join("5m.bin")).unwrap();
    let mut seen = Vec::new();
    import(&data[..], ImportOptions::default(), None, |n| seen.push(n))
        .await
        .unwrap();
    assert!(seen.len() >= 4, "about one report per MiB: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&5_000_000));
}
