//! Shared test helpers: vector files, an in-process server, mounts for disk-failure tests.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, OnceLock},
};

use agency_store::{BlockStore, server};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// One row of vectors/unixfs/cids.tsv.
#[derive(Debug, Clone)]
pub struct Vector {
    pub file: String,
    pub bytes: u64,
    pub v0: String,
    pub v1_raw_leaves: String,
}

/// The UnixFS vectors (copied from shared/vectors/unixfs) and a folder with their input files,
/// written once per test run by the vectors' own gen.py.
pub fn vectors() -> &'static (Vec<Vector>, PathBuf) {
    static V: OnceLock<(Vec<Vector>, PathBuf)> = OnceLock::new();
    V.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/unixfs");
        let rows = std::fs::read_to_string(dir.join("cids.tsv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Vector {
                    file: f[0].into(),
                    bytes: f[1].parse().unwrap(),
                    v0: f[2].into(),
                    v1_raw_leaves: f[3].into(),
                }
            })
            .collect();
        let out =
            std::env::temp_dir().join(format!("agency-unixfs-vectors-{}", std::process::id()));
        let status = Command::new("python3")
            .arg(dir.join("gen.py"))
            .arg(&out)
            .status()
            .expect("python3 runs gen.py");
        assert!(status.success(), "gen.py failed");
        (rows, out)
    })
}

/// Serves the store API over `store` on 127.0.0.1 (port 0); returns its base URL.
pub async fn serve(store: Arc<dyn BlockStore>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = server::router(store, server::ServerConfig::default());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A tmpfs mounted for one test, unmounted on drop. Disk-failure tests need it because root
/// (as in CI) ignores permission bits, so only a read-only or full filesystem makes writes fail.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs failed (these tests need root, as in CI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir)
    }

    pub fn remount_read_only(&self) {
        let st = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Deterministic pseudo-random bytes.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 56) as u8
        })
        .collect()
}
