//! Which content store a command uses.

use std::path::PathBuf;
use std::sync::Arc;

use agency_store::{BlockStore, FsStore, KuboStore};
use anyhow::Result;
use clap::Args;

use super::data_dir;

/// Which content store to use.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub(crate) struct StoreOpts {
    /// Directory of the embedded block store [default: $AGENCY_DATA_DIR/store, where the data dir
    /// defaults to $XDG_DATA_HOME/agency or ~/.local/share/agency].
    #[arg(long, global = true, env = "AGENCY_STORE", value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    /// Use a Kubo node's RPC API instead of the embedded store (e.g. http://127.0.0.1:5001).
    #[arg(
        long,
        global = true,
        env = "AGENCY_IPFS_API",
        value_name = "URL",
        conflicts_with = "store"
    )]
    pub(crate) ipfs_api: Option<String>,
}

impl StoreOpts {
    /// Opens the configured store: a Kubo node's RPC API, or the embedded one.
    pub(crate) fn open(&self) -> Result<Arc<dyn BlockStore>> {
        Ok(match &self.ipfs_api {
            Some(url) => Arc::new(KuboStore::new(url)?),
            None => Arc::new(FsStore::open(self.store_dir())?),
        })
    }

    /// The store's HTTP API (Kubo RPC subset and gateway) over `store`, which these options
    /// opened; its peer identity is derived from where the store is. `writes`: see
    /// [`agency_store::server::ServerConfig::writes`].
    pub(crate) fn http_router(
        &self,
        store: Arc<dyn BlockStore>,
        writes: Option<u64>,
    ) -> axum::Router {
        let identity = match &self.ipfs_api {
            Some(url) => url.clone(),
            None => self.store_dir().display().to_string(),
        };
        agency_devstack::store_router(store, &identity, writes)
    }

    /// Returns the embedded store's directory.
    pub(crate) fn store_dir(&self) -> PathBuf {
        self.store
            .clone()
            .unwrap_or_else(|| data_dir().join("store"))
    }
}
