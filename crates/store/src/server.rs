//! The store's HTTP API: a Kubo RPC subset and a trustless gateway.
//!
//! RPC (POST only, as Kubo requires): `add`, `cat`, `block/get`, `block/put`, `block/stat`, `id`,
//! `version`; errors are Kubo's `{"Message", "Code", "Type"}` JSON. Gateway: `GET /ipfs/{cid}`
//! answers the file bytes, or with `Accept: application/vnd.ipld.raw` (`?format=raw`) the
//! block itself, or with `Accept: application/vnd.ipld.car` (`?format=car`) the DAG as a CAR.

use std::sync::Arc;

use agency_primitives::{Block, CODEC_DAG_PB, CODEC_RAW, Cid, parse_cid, sha256_multihash};
use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Multipart, Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::json;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::{BlockStore, ImportOptions, StoreError, cat, export_car, import};

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Seed of the peer ID reported by `id` (the store has no libp2p identity; this one is
    /// stable per seed so clients that parse it are satisfied).
    pub identity_seed: String,
    /// Largest block `block/put` accepts without `allow-big-block` (Kubo: 1 MiB).
    pub max_block_size: usize,
    /// The write routes (`add`, `block/put`): `None` leaves them out, so the store is
    /// read-only and they answer 403; `Some(n)` serves them, an `add` request's body being at
    /// most `n` bytes (413 beyond).
    pub writes: Option<u64>,
}

/// The largest `add` a store server takes by default: 1 GiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 1 << 30;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            identity_seed: "agency".into(),
            max_block_size: 1 << 20,
            writes: Some(DEFAULT_MAX_UPLOAD),
        }
    }
}

#[derive(Debug)]
struct AppState {
    store: Arc<dyn BlockStore>,
    peer_id: String,
    max_block_size: usize,
    max_upload: u64,
}

/// Builds the router over `store`.
pub fn router(store: Arc<dyn BlockStore>, config: ServerConfig) -> Router {
    let state = Arc::new(AppState {
        store,
        peer_id: peer_id(&config.identity_seed),
        max_block_size: config.max_block_size,
        max_upload: config.writes.unwrap_or(0),
    });
    let writes = match config.writes {
        Some(max_upload) => Router::new()
            .route("/api/v0/add", post(add))
            .route("/api/v0/block/put", post(block_put))
            .layer(DefaultBodyLimit::max(
                usize::try_from(max_upload).unwrap_or(usize::MAX),
            )),
        None => Router::new()
            .route("/api/v0/add", post(read_only))
            .route("/api/v0/block/put", post(read_only)),
    };
    Router::new()
        .merge(writes)
        .route("/api/v0/cat", post(cat_file))
        .route("/api/v0/block/get", post(block_get))
        .route("/api/v0/block/stat", post(block_stat))
        .route("/api/v0/id", post(id))
        .route("/api/v0/version", post(version))
        .route("/ipfs/{cid}", get(gateway))
        .route("/ipfs/{cid}/{*path}", get(gateway_path))
        .with_state(state)
}

async fn read_only() -> ApiError {
    ApiError(
        StatusCode::FORBIDDEN,
        "this store is read-only: its write API (add, block/put) is off (agency serve \
         --allow-writes turns it on)"
            .into(),
    )
}

/// A Kubo-style error answer.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = if self.0.is_client_error() { 1 } else { 0 };
        (
            self.0,
            Json(json!({"Message": self.1, "Code": code, "Type": "error"})),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Cid(_) | StoreError::InvalidArgument(_) | StoreError::Input(_) => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, e.to_string())
    }
}

type Params = Query<Vec<(String, String)>>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .0
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn flag(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    param(params, name)
        .map(|v| match v {
            "" | "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("invalid {name} value {other:?}"),
            )),
        })
        .transpose()
}

fn arg_cid(params: &Params) -> Result<Cid, ApiError> {
    let arg = param(params, "arg").ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "argument \"arg\" is required".into(),
        )
    })?;
    Ok(parse_cid(arg).map_err(StoreError::from)?)
}

async fn add(
    State(st): State<Arc<AppState>>,
    params: Params,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let cid_version = match param(&params, "cid-version") {
        None => 0,
        Some(v) => v.parse().map_err(|_| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("invalid cid-version {v:?}"),
            )
        })?,
    };
    let opts = ImportOptions::from_kubo_flags(
        cid_version,
        flag(&params, "raw-leaves")?,
        param(&params, "chunker"),
    )?;
    let only_hash = flag(&params, "only-hash")?.unwrap_or(false);
    let too_large = format!(
        "the upload is larger than this store takes: at most {} bytes per add",
        st.max_upload
    );
    let bad_form = |e: axum::extract::multipart::MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError(StatusCode::PAYLOAD_TOO_LARGE, too_large.clone()),
        _ => ApiError(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let mut lines = String::new();
    while let Some(field) = form.next_field().await.map_err(bad_form)? {
        if field.content_type() == Some("application/x-directory") {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "directories are not supported: add files one by one, or import a CAR".into(),
            ));
        }
        let name = field
            .file_name()
            .or(field.name())
            .unwrap_or_default()
            .to_owned();
        // A body past the upload limit fails the field's stream; its status (413) is kept so
        // the answer says so instead of a failed import.
        let cut = std::sync::Mutex::new(None);
        let reader = StreamReader::new(field.map_err(|e| {
            let message = e.body_text();
            *cut.lock().expect("not poisoned") = Some(bad_form(e));
            std::io::Error::other(message)
        }));
        let store = (!only_hash).then_some(st.store.as_ref());
        let imported = import(reader, opts, store, |_| {}).await;
        if let Some(cut) = cut.lock().expect("not poisoned").take() {
            return Err(cut);
        }
        let summary = imported?;
        let root = summary.root.to_string();
        let name = if name.is_empty() { root.clone() } else { name };
        let line = json!({"Name": name, "Hash": root, "Size": summary.dag_size.to_string()});
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-chunked-output"), "1"),
        ],
        lines,
    )
        .into_response())
}

/// Starts a byte stream and waits for its first item, so that a missing or bad root becomes an
/// error status instead of a 200 with a broken body.
async fn start_stream(
    s: impl futures::Stream<Item = Result<Bytes, StoreError>> + Send + 'static,
) -> Result<Body, StoreError> {
    let mut s = Box::pin(s);
    let first = s.next().await.transpose()?;
    Ok(Body::from_stream(stream::iter(first.map(Ok)).chain(s)))
}

async fn cat_file(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let cid = arg_cid(&params)?;
    let body = start_stream(cat(st.store.clone(), cid)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], body).into_response())
}

async fn block_get(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let block = st.store.get(&arg_cid(&params)?).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], block.data().clone()).into_response())
}

async fn block_stat(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let cid = arg_cid(&params)?;
    let block = match st.store.get(&cid).await {
        Err(e) if e.is_not_found() => {
            return Err(ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("block was not found locally (offline): ipld: could not find {cid}"),
            ));
        }
        other => other?,
    };
    Ok(Json(json!({"Key": cid.to_string(), "Size": block.data().len()})).into_response())
}

async fn block_put(
    State(st): State<Arc<AppState>>,
    params: Params,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    // `format` is Kubo's legacy spelling: v0/protobuf mean a dag-pb CIDv0.
    let (codec, v0) = match (param(&params, "format"), param(&params, "cid-codec")) {
        (Some("v0" | "protobuf"), _) => (CODEC_DAG_PB, true),
        (Some("raw"), _) | (None, None | Some("raw")) => (CODEC_RAW, false),
        (None, Some("dag-pb")) => (CODEC_DAG_PB, false),
        (f, c) => {
            return Err(bad(format!(
                "unsupported block format {:?} (supported: raw, dag-pb)",
                f.or(c).unwrap_or("")
            )));
        }
    };
    if let Some(mh) = param(&params, "mhtype").filter(|m| *m != "sha2-256") {
        return Err(bad(format!(
            "unsupported hash {mh:?} (supported: sha2-256)"
        )));
    }
    if let Some(len) = param(&params, "mhlen").filter(|l| *l != "32" && *l != "-1") {
        return Err(bad(format!(
            "unsupported hash length {len} (sha2-256 is 32 bytes)"
        )));
    }
    let limit = if flag(&params, "allow-big-block")?.unwrap_or(false) {
        16 << 20
    } else {
        st.max_block_size
    };
    let mut field = form
        .next_field()
        .await
        .map_err(|e| bad(e.body_text()))?
        .ok_or_else(|| bad("block/put needs a file argument".into()))?;
    let mut data = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.body_text()))? {
        if data.len() + chunk.len() > limit {
            return Err(bad(format!(
                "produced block is over {limit} bytes: Kubo's block limit (pass allow-big-block=true to raise it)"
            )));
        }
        data.extend_from_slice(&chunk);
    }
    let block = if v0 {
        Block::new_v0(data)
    } else {
        Block::new(codec, data)
    };
    let (key, size) = (block.cid().to_string(), block.data().len());
    st.store.put(block).await?;
    Ok(Json(json!({"Key": key, "Size": size})).into_response())
}

async fn id(State(st): State<Arc<AppState>>) -> Response {
    Json(json!({
        "ID": st.peer_id,
        "PublicKey": "",
        "Addresses": [],
        "AgentVersion": concat!("agency/", env!("CARGO_PKG_VERSION")),
        "ProtocolVersion": "ipfs/0.1.0",
        "Protocols": [],
    }))
    .into_response()
}

async fn version() -> Response {
    Json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Commit": "",
        "Repo": "",
        "System": format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
        "Golang": "",
    }))
    .into_response()
}

/// An ed25519-shaped peer ID (identity multihash of a libp2p public key protobuf) whose key
/// bytes are derived from `seed`.
fn peer_id(seed: &str) -> String {
    let key = sha256_multihash(seed.as_bytes());
    let mut bytes = vec![0x00, 36, 0x08, 0x01, 0x12, 32];
    bytes.extend_from_slice(key.digest());
    // Peer IDs are written as bare base58btc, without the multibase prefix 'z'.
    agency_primitives::multibase::encode(agency_primitives::multibase::Base::Base58Btc, bytes)[1..]
        .to_owned()
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    File,
    Raw,
    Car,
}

fn gateway_format(headers: &HeaderMap, params: &Params) -> Format {
    match param(params, "format") {
        Some("raw") => return Format::Raw,
        Some("car") => return Format::Car,
        _ => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/vnd.ipld.raw") {
        Format::Raw
    } else if accept.contains("application/vnd.ipld.car") {
        Format::Car
    } else {
        Format::File
    }
}

async fn gateway(
    State(st): State<Arc<AppState>>,
    Path(cid): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Response {
    let text = |status: StatusCode, msg: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            msg + "\n",
        )
            .into_response()
    };
    let cid = match parse_cid(&cid) {
        Ok(cid) => cid,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let format = gateway_format(&headers, &params);
    let result = match format {
        Format::Raw => st
            .store
            .get(&cid)
            .await
            .map(|b| ("application/vnd.ipld.raw", Body::from(b.data().clone()))),
        Format::File => start_stream(cat(st.store.clone(), cid))
            .await
            .map(|b| ("application/octet-stream", b)),
        Format::Car => match st.store.has(&cid).await {
            Ok(false) => Err(StoreError::NotFound {
                cid,
                backend: st.store.name(),
            }),
            Err(e) => Err(e),
            Ok(true) => {
                let (w, r) = tokio::io::duplex(256 << 10);
                let store = st.store.clone();
                tokio::spawn(async move {
                    if let Err(e) = export_car(store, cid, w).await {
                        tracing::warn!(%cid, error = %e, "CAR response cut short");
                    }
                });
                Ok((
                    "application/vnd.ipld.car; version=1",
                    Body::from_stream(ReaderStream::new(r)),
                ))
            }
        },
    };
    match result {
        Ok((content_type, body)) => {
            let suffix = match format {
                Format::File => "",
                Format::Raw => ".raw",
                Format::Car => ".car",
            };
            let mut resp = body.into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=29030400, immutable"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            // Content is whatever someone stored: opened as a page (the gateway may share an
            // origin with a web UI), it runs nothing and loads nothing.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            let etag = format!("\"{cid}{suffix}\"");
            h.insert(
                header::ETAG,
                HeaderValue::from_str(&etag).expect("CIDs are header-safe"),
            );
            let path = format!("/ipfs/{cid}");
            h.insert(
                "x-ipfs-path",
                HeaderValue::from_str(&path).expect("CIDs are header-safe"),
            );
            resp
        }
        Err(e) if e.is_not_found() => text(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ (StoreError::Unsupported { .. } | StoreError::Cid(_))) => {
            text(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn gateway_path(Path((cid, path)): Path<(String, String)>) -> Response {
    let msg = format!(
        "paths inside a DAG are not supported (/ipfs/{cid}/{path}): request the file's own CID\n"
    );
    (StatusCode::NOT_IMPLEMENTED, msg).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_has_the_ed25519_shape() {
        let id = peer_id("x");
        assert!(id.starts_with("12D3KooW"), "{id}");
        assert_eq!(id, peer_id("x"));
        assert_ne!(id, peer_id("y"));
    }
}
