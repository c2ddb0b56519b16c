//! The HTTP API driven over real HTTP: RPC subset and gateway, including bad requests.

use std::sync::Arc;

use agency_primitives::{Block, CODEC_RAW};
use agency_store::{BlockStore, MemStore};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::support::{noise, serve};

async fn api() -> (Arc<MemStore>, String, reqwest::Client) {
    let store = Arc::new(MemStore::new());
    let url = serve(store.clone()).await;
    (store, url, reqwest::Client::new())
}

fn file(data: Vec<u8>, name: &str) -> Form {
    Form::new().part("file", Part::bytes(data).file_name(name.to_owned()))
}

#[tokio::test]
async fn add_then_cat_and_gateway() {
    let (_, url, http) = api().await;
    let resp = http
        .post(format!("{url}/api/v0/add"))
        .multipart(file(b"hello world\n".to_vec(), "hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let line: Value = serde_json::from_str(resp.text().await.unwrap().trim()).unwrap();
    assert_eq!(
        line["Hash"],
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    assert_eq!(line["Name"], "hello.txt");
    assert_eq!(line["Size"], "20");

    let cat = http
        .post(format!(
            "{url}/api/v0/cat?arg={}",
            line["Hash"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(cat.bytes().await.unwrap(), &b"hello world\n"[..]);

    let gw = http
        .get(format!(
            "{url}/ipfs/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(gw.status(), 200);
    assert_eq!(
        gw.headers()["etag"],
        "\"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\""
    );
    assert_eq!(gw.bytes().await.unwrap(), &b"hello world\n"[..]);
}

#[tokio::test]
async fn add_with_kubo_flags() {
    let (_, url, http) = api().await;
    let q = "cid-version=1&chunker=size-262144";
    let resp = http
        .post(format!("{url}/api/v0/add?{q}"))
        .multipart(file(b"hello world\n".to_vec(), "h"))
        .send()
        .await
        .unwrap();
    let line: Value = serde_json::from_str(resp.text().await.unwrap().trim()).unwrap();
    assert_eq!(
        line["Hash"],
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
    );

    let resp = http
        .post(format!("{url}/api/v0/add?chunker=rabin"))
        .multipart(file(vec![1], "h"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["Message"].as_str().unwrap().contains("invalid chunker"),
        "{err}"
    );
    assert_eq!(err["Type"], "error");
}

#[tokio::test]
async fn add_refuses_directories() {
    let (store, url, http) = api().await;
    let dir = Part::bytes(Vec::new())
        .file_name("d")
        .mime_str("application/x-directory")
        .unwrap();
    let resp = http
        .post(format!("{url}/api/v0/add"))
        .multipart(Form::new().part("file", dir))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("directories are not supported")
    );
    assert!(store.is_empty());
}

#[tokio::test]
async fn gateway_raw_and_car() {
    let (store, url, http) = api().await;
    let data = noise(600_000, 3);
    let s = agency_store::import(
        &data[..],
        Default::default(),
        Some(store.as_ref() as &dyn BlockStore),
        |_| {},
    )
    .await
    .unwrap();
    let root = s.root;

    let raw = http
        .get(format!("{url}/ipfs/{root}"))
        .header("accept", "application/vnd.ipld.raw")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-type"], "application/vnd.ipld.raw");
    let bytes = raw.bytes().await.unwrap();
    assert_eq!(
        Block::verified(root, bytes).unwrap().cid(),
        &root,
        "the raw answer is the root block"
    );

    let car = http
        .get(format!("{url}/ipfs/{root}?format=car"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        car.headers()["content-type"],
        "application/vnd.ipld.car; version=1"
    );
    let car = car.bytes().await.unwrap();
    let target = MemStore::new();
    let summary = agency_store::import_car(&car[..], &target).await.unwrap();
    assert_eq!(summary.roots, vec![root]);
    assert_eq!(summary.blocks, s.blocks);

    let head = http
        .head(format!("{url}/ipfs/{root}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn gateway_bad_requests() {
    let (_, url, http) = api().await;
    let missing = Block::new(CODEC_RAW, &b"nope"[..]);
    for (path, status, needle) in [
        (format!("/ipfs/{}", missing.cid()), 404, "not found"),
        (
            format!("/ipfs/{}?format=car", missing.cid()),
            404,
            "not found",
        ),
        ("/ipfs/not-a-cid".to_owned(), 400, "invalid CID"),
        (format!("/ipfs/{}/a/b", missing.cid()), 501, "not supported"),
    ] {
        let resp = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), status, "{path}");
        assert!(resp.text().await.unwrap().contains(needle), "{path}");
    }
}

#[tokio::test]
async fn block_put_get_stat_and_limits() {
    let (_, url, http) = api().await;
    let put = |q: &'static str, data: Vec<u8>| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(format!("{url}/api/v0/block/put?{q}"))
                .multipart(file(data, "b"))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = put("cid-codec=raw", b"abc".to_vec()).await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["Key"],
        Block::new(CODEC_RAW, &b"abc"[..]).cid().to_string()
    );
    assert_eq!(v["Size"], 3);

    let got = http
        .post(format!(
            "{url}/api/v0/block/get?arg={}",
            v["Key"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap(), &b"abc"[..]);
    let stat = http
        .post(format!(
            "{url}/api/v0/block/stat?arg={}",
            v["Key"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stat.json::<Value>().await.unwrap()["Size"], 3);

    let resp = put("", vec![0; (1 << 20) + 1]).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("allow-big-block"));
    assert_eq!(
        put("allow-big-block=true", vec![0; (1 << 20) + 1])
            .await
            .status(),
        200
    );

    for q in ["cid-codec=dag-cbor", "mhtype=blake3", "format=cbor"] {
        let resp = put(q, b"x".to_vec()).await;
        assert_eq!(resp.status(), 400, "{q}");
    }
    for (cmd, arg) in [("block/get", "Qmbad"), ("cat", "zzz"), ("block/stat", "")] {
        let resp = http
            .post(format!("{url}/api/v0/{cmd}?arg={arg}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{cmd} {arg}");
        assert!(
            resp.json::<Value>().await.unwrap()["Message"]
                .as_str()
                .unwrap()
                .contains("invalid CID")
        );
    }
    let missing = Block::new(CODEC_RAW, &b"never"[..]);
    let resp = http
        .post(format!("{url}/api/v0/block/get?arg={}", missing.cid()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.text().await.unwrap().contains("not found"));
    // Kubo's RPC is POST only.
    let resp = http
        .get(format!("{url}/api/v0/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn id_and_version() {
    let (_, url, http) = api().await;
    let id: Value = http
        .post(format!("{url}/api/v0/id"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(id["ID"].as_str().unwrap().starts_with("12D3KooW"));
    let v: Value = http
        .post(format!("{url}/api/v0/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
}
