//! UnixFS files: an importer that reproduces Kubo's CIDs and a verifying streaming exporter.

mod exporter;
mod importer;
pub(crate) mod pb;

pub use exporter::{DagWalker, cat, file_size};
pub use importer::{
    DEFAULT_CHUNK_SIZE, FileBuilder, ImportOptions, ImportSummary, MAX_CHUNK_SIZE, MAX_LINKS,
    import, import_file, make_leaf,
};
