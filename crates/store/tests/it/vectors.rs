//! Every row of the Kubo CID vectors, CIDv0 and CIDv1, through the importer and back.

use std::sync::Arc;

use agency_store::{BlockStore, ImportOptions, MemStore, cat, file_size, import, import_file};
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
            // The file path (parallel positioned reads) builds the same DAG.
            let from_file = import_file(&dir.join(&v.file), opts, None, |_| {})
                .await
                .unwrap();
            assert_eq!(from_file, hashed, "{} via import_file", v.file);

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
            // The root block states the file's size, one block read.
            let size = file_size(store.as_ref(), stored.root).await.unwrap();
            assert_eq!(size, v.bytes, "{} size from its root", v.file);
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

#[tokio::test]
async fn import_file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    let err = import_file(&missing, ImportOptions::default(), None, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.bin"), "{err}");
    // A path that opens but cannot be read (EIO at offset 0).
    let err = import_file(
        std::path::Path::new("/proc/self/mem"),
        ImportOptions::default(),
        None,
        |_| {},
    )
    .await;
    assert!(
        err.is_err(),
        "/proc/self/mem is not a file one can add: {err:?}"
    );
}

#[tokio::test]
async fn a_file_that_changes_while_added_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moving.bin");
    let write = |len: usize| std::fs::write(&path, crate::support::noise(len, 5)).unwrap();

    // It grows: the progress callback (run between hashing tasks) appends to it.
    write(3 << 20);
    let grow = || {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"more").unwrap();
    };
    let err = import_file(&path, ImportOptions::default(), None, |_| grow())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("changed size"), "{err}");

    // It shrinks: tasks started after the callback find the end early. (Four 1 MiB tasks are
    // in flight before the first callback, so the file must be longer than 4 MiB.)
    write(8 << 20);
    let shrink = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1 << 20)
            .unwrap()
    };
    let err = import_file(&path, ImportOptions::default(), None, |_| shrink())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("changed size"), "{err}");
    assert!(
        err.to_string().contains("moving.bin"),
        "names the file: {err}"
    );
}
