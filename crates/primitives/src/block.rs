//! A block: bytes together with the CID that addresses them.

use bytes::Bytes;
use cid::Cid;

use crate::cids::{CidError, check_supported, sha256_multihash};

/// Bytes whose sha2-256 hash is known to match `cid`.
///
/// The only constructors hash the data ([`Block::new`], [`Block::new_v0`]) or check it against a
/// given CID ([`Block::verified`]), so a `Block` in hand is always consistent.
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    cid: Cid,
    data: Bytes,
}

/// Why bytes cannot form a block under a given CID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The CID itself is not supported.
    #[error(transparent)]
    Cid(#[from] CidError),
    /// The bytes hash to something other than the CID's digest.
    #[error("block {cid} failed verification: its bytes ({len} bytes) hash to a different digest")]
    HashMismatch { cid: Cid, len: usize },
}

impl Block {
    /// Hashes `data` and names it with a CIDv1 of the given codec.
    pub fn new(codec: u64, data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let cid = Cid::new_v1(codec, sha256_multihash(&data));
        Self { cid, data }
    }

    /// Hashes dag-pb `data` and names it with a CIDv0 (Kubo's default).
    pub fn new_v0(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let cid = Cid::new_v0(sha256_multihash(&data)).expect("a sha2-256 multihash makes a CIDv0");
        Self { cid, data }
    }

    /// Checks that `data` hashes to `cid`'s digest; the error names the CID otherwise.
    pub fn verified(cid: Cid, data: impl Into<Bytes>) -> Result<Self, BlockError> {
        check_supported(&cid)?;
        let data = data.into();
        if &sha256_multihash(&data) != cid.hash() {
            return Err(BlockError::HashMismatch {
                cid,
                len: data.len(),
            });
        }
        Ok(Self { cid, data })
    }

    /// Returns the block's CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// Returns the block's bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Splits the block into its CID and bytes.
    pub fn into_parts(self) -> (Cid, Bytes) {
        (self.cid, self.data)
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("cid", &self.cid.to_string())
            .field("len", &self.data.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CODEC_DAG_PB, CODEC_RAW};

    #[test]
    fn known_cids() {
        // Well-known Kubo CIDs of "hello world\n" (vectors/unixfs) and of the empty raw block.
        let raw = Block::new(CODEC_RAW, &b"hello world\n"[..]);
        assert_eq!(
            raw.cid().to_string(),
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
        );
        let empty = Block::new(CODEC_RAW, Bytes::new());
        assert_eq!(
            empty.cid().to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn verified_accepts_matching_and_rejects_other_bytes() {
        let b = Block::new(CODEC_DAG_PB, &b"abc"[..]);
        assert_eq!(Block::verified(*b.cid(), &b"abc"[..]).unwrap(), b);
        let err = Block::verified(*b.cid(), &b"abd"[..]).unwrap_err();
        assert_eq!(
            err,
            BlockError::HashMismatch {
                cid: *b.cid(),
                len: 3
            }
        );
        assert!(err.to_string().contains(&b.cid().to_string()));
    }

    #[test]
    fn v0_and_v1_share_the_digest() {
        let v0 = Block::new_v0(&b"node"[..]);
        let v1 = Block::new(CODEC_DAG_PB, &b"node"[..]);
        assert_eq!(v0.cid().hash(), v1.cid().hash());
        assert_eq!(v0.cid().version(), cid::Version::V0);
        assert!(v0.cid().to_string().starts_with("Qm"));
    }
}
