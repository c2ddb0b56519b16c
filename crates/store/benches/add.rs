//! `cargo bench -p agency-store --bench add [-- FILE]`: UnixFS add throughput.
//!
//! Imports FILE (default: 100 MiB of pseudo-random bytes written to a temp file) five times per
//! configuration and prints the best and median MB/s (1 MB = 10^6 bytes). scripts/bench-store.sh
//! runs this beside `sha256sum` and Node's ipfs-unixfs-importer on the same file.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark binary"
)]

use std::{path::PathBuf, sync::Arc, time::Instant};

use agency_store::{BlockStore, FsStore, ImportOptions, MemStore, import, import_file};

// The allocator the `agency` binary uses, so the figures are the ones users see.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 5;

fn main() {
    let file = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let file = file.unwrap_or_else(|| {
        let path = tmp.path().join("100MiB.bin");
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let data: Vec<u8> = (0..100usize << 20)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect();
        std::fs::write(&path, data).unwrap();
        path
    });
    let len = std::fs::metadata(&file).unwrap().len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("file: {} ({len} bytes), {RUNS} runs each", file.display());
    println!(
        "{:<44} {:>10} {:>10}",
        "configuration", "best MB/s", "median"
    );
    let v0 = ImportOptions::default();
    let v1 = ImportOptions::from_kubo_flags(1, None, None).unwrap();
    for (name, opts, target, stream) in [
        ("only-hash, CIDv0 (Kubo defaults)", v0, Target::None, false),
        (
            "only-hash, CIDv0, as a stream (stdin path)",
            v0,
            Target::None,
            true,
        ),
        ("only-hash, CIDv1 raw leaves", v1, Target::None, false),
        ("memory store, CIDv0", v0, Target::Mem, false),
        (
            "disk store (durable, one flush per 8 MiB), CIDv0",
            v0,
            Target::Disk,
            false,
        ),
    ] {
        let mut rates: Vec<f64> = (0..RUNS)
            .map(|run| {
                let store: Option<Arc<dyn BlockStore>> = match target {
                    Target::None => None,
                    Target::Mem => Some(Arc::new(MemStore::new())),
                    Target::Disk => Some(Arc::new(
                        FsStore::open(tmp.path().join(format!("store-{run}"))).unwrap(),
                    )),
                };
                let started = Instant::now();
                let summary = rt.block_on(async {
                    if stream {
                        let reader = tokio::fs::File::open(&file).await.unwrap();
                        import(reader, opts, store.as_deref(), |_| {})
                            .await
                            .unwrap()
                    } else {
                        import_file(&file, opts, store.as_deref(), |_| {})
                            .await
                            .unwrap()
                    }
                });
                let secs = started.elapsed().as_secs_f64();
                assert_eq!(summary.size, len);
                len as f64 / secs / 1e6
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        println!(
            "{name:<44} {:>10.0} {:>10.0}",
            rates[RUNS - 1],
            rates[RUNS / 2]
        );
    }
}

#[derive(Clone, Copy)]
enum Target {
    None,
    Mem,
    Disk,
}
