//! A block store backed by a Kubo node's HTTP RPC API.

use std::time::Duration;

use agency_primitives::{Block, CODEC_DAG_PB, CODEC_RAW, Cid, parse_cid};
use async_trait::async_trait;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::{BlockStore, ImportOptions, StoreError};

const BACKEND: &str = "kubo";

/// A Kubo node reached through its RPC API (`/api/v0/…`), by default `http://127.0.0.1:5001`.
///
/// Uses `block/get`, `block/put`, `block/stat` and `add`. Every block read is verified against
/// its CID, so a node that returns wrong bytes gives [`StoreError::Corrupt`]. Every call has a
/// timeout: Kubo searches the network for a block it lacks and may never answer.
#[derive(Debug, Clone)]
pub struct KuboStore {
    client: reqwest::Client,
    base: String,
    timeout: Duration,
    offline: bool,
}

#[derive(Deserialize)]
struct KuboError {
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize)]
struct BlockStat {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Deserialize)]
struct AddLine {
    #[serde(rename = "Hash")]
    hash: Option<String>,
    #[serde(rename = "Size")]
    size: Option<String>,
}

impl KuboStore {
    /// Default time allowed for one block call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Connects to the RPC API at `url` (`http://host:port`, no path). Nothing is sent yet.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let base = url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base).map_err(|e| {
            StoreError::InvalidArgument(format!("invalid Kubo API URL {url:?}: {e}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(StoreError::InvalidArgument(format!(
                "invalid Kubo API URL {url:?}: use http:// (or https:// behind a TLS proxy)"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StoreError::InvalidArgument(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            base,
            timeout: Self::DEFAULT_TIMEOUT,
            offline: false,
        })
    }

    /// Sets the time allowed for one block call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Asks Kubo to answer from its own blocks only (`offline=true`), never from the network.
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Returns the API base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        cmd: &str,
        query: &[(&str, String)],
        form: Option<Form>,
        timeout: Option<Duration>,
        what: impl Fn() -> String,
    ) -> Result<reqwest::Response, StoreError> {
        let url = format!("{}/api/v0/{cmd}", self.base);
        let mut req = self.client.post(&url).query(query);
        if let Some(form) = form {
            req = req.multipart(form);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&url, e, &what))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<KuboError>(&body)
            .map(|e| e.message)
            .unwrap_or(body);
        Err(StoreError::Remote {
            backend: BACKEND,
            url,
            message: format!("{} failed with HTTP {status}: {message}", what()),
            retryable: status.is_server_error() && !message.contains("not found"),
        })
    }

    fn transport_error(
        &self,
        url: &str,
        e: reqwest::Error,
        what: &dyn Fn() -> String,
    ) -> StoreError {
        if e.is_timeout() {
            StoreError::Timeout {
                backend: BACKEND,
                what: what(),
                after: self.timeout,
            }
        } else {
            let kind = if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            StoreError::Remote {
                backend: BACKEND,
                url: url.to_owned(),
                message: format!("{kind} ({}): {e}", what()),
                retryable: true,
            }
        }
    }

    fn block_query(&self, cid: &Cid) -> Vec<(&'static str, String)> {
        let mut q = vec![("arg", cid.to_string())];
        if self.offline {
            q.push(("offline", "true".into()));
        }
        q
    }

    /// Adds a file with Kubo's own importer and pins it; returns Kubo's root CID and DAG size.
    /// Callers that need Agency's guarantee compare it with a local [`import`](crate::import).
    pub async fn add<R: AsyncRead + Send + 'static>(
        &self,
        reader: R,
        name: &str,
        opts: ImportOptions,
    ) -> Result<(Cid, u64), StoreError> {
        let body = reqwest::Body::wrap_stream(ReaderStream::with_capacity(reader, 1 << 20));
        let form = Form::new().part("file", Part::stream(body).file_name(name.to_owned()));
        let query = [
            ("cid-version", opts.cid_version.to_string()),
            ("raw-leaves", opts.raw_leaves.to_string()),
            ("chunker", format!("size-{}", opts.chunk_size)),
            ("pin", "true".into()),
            ("progress", "false".into()),
        ];
        let resp = self
            .call("add", &query, Some(form), None, || format!("add {name}"))
            .await?;
        let url = self.base.clone();
        let body = resp
            .text()
            .await
            .map_err(|e| self.transport_error(&url, e, &|| "add".into()))?;
        let last = body
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<AddLine>(l).ok())
            .find(|l| l.hash.is_some())
            .ok_or_else(|| StoreError::Remote {
                backend: BACKEND,
                url: url.clone(),
                message: format!("add returned no hash: {body:.200}"),
                retryable: false,
            })?;
        let cid = parse_cid(last.hash.as_deref().unwrap_or_default())?;
        let size = last.size.and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok((cid, size))
    }
}

#[async_trait]
impl BlockStore for KuboStore {
    async fn get(&self, cid: &Cid) -> Result<Block, StoreError> {
        let what = || format!("block/get {cid}");
        let resp = self
            .call(
                "block/get",
                &self.block_query(cid),
                None,
                Some(self.timeout),
                what,
            )
            .await;
        let resp = match resp {
            Err(StoreError::Remote { message, .. }) if message.contains("not found") => {
                return Err(StoreError::NotFound {
                    cid: *cid,
                    backend: BACKEND,
                });
            }
            other => other?,
        };
        let data = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&self.base, e, &what))?;
        Block::verified(*cid, data).map_err(|e| StoreError::from_block(BACKEND, e))
    }

    async fn put(&self, block: Block) -> Result<(), StoreError> {
        let cid = *block.cid();
        let codec = match cid.codec() {
            CODEC_DAG_PB => "dag-pb",
            CODEC_RAW => "raw",
            _ => unreachable!("blocks only carry dag-pb or raw CIDs"),
        };
        let mut query = vec![
            ("cid-codec", codec.to_owned()),
            ("mhtype", "sha2-256".into()),
            ("mhlen", "32".into()),
            ("pin", "false".into()),
        ];
        if block.data().len() > 1 << 20 {
            query.push(("allow-big-block", "true".into()));
        }
        let form = Form::new().part(
            "file",
            Part::bytes(block.data().to_vec()).file_name("block"),
        );
        let what = || format!("block/put {cid}");
        let resp = self
            .call("block/put", &query, Some(form), Some(self.timeout), what)
            .await?;
        let stat: BlockStat = resp
            .json()
            .await
            .map_err(|e| self.transport_error(&self.base, e, &what))?;
        let stored = parse_cid(&stat.key)?;
        if stored.hash() != cid.hash() {
            return Err(StoreError::Remote {
                backend: BACKEND,
                url: self.base.clone(),
                message: format!("block/put stored {stored} but the block is {cid}"),
                retryable: false,
            });
        }
        Ok(())
    }

    async fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        let query = [("arg", cid.to_string()), ("offline", "true".into())];
        let what = || format!("block/stat {cid}");
        match self
            .call("block/stat", &query, None, Some(self.timeout), what)
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Remote { message, .. }) if message.contains("not found") => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn name(&self) -> &'static str {
        BACKEND
    }
}
