//! CID parsing and the codecs and hash Agency supports.

use cid::{Cid, multihash::Multihash};
use sha2::{Digest, Sha256};

/// Multicodec code of dag-pb (UnixFS nodes).
pub const CODEC_DAG_PB: u64 = 0x70;
/// Multicodec code of raw bytes (raw leaves, job specs).
pub const CODEC_RAW: u64 = 0x55;
/// Multihash code of sha2-256, the only hash Agency accepts.
pub const MULTIHASH_SHA2_256: u64 = 0x12;

/// Why a string or CID is not one Agency can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidError {
    /// The text does not parse as a CID at all.
    #[error("invalid CID {text:?}: {reason}")]
    Malformed { text: String, reason: String },
    /// The CID parses but names a codec other than dag-pb or raw.
    #[error("unsupported codec 0x{codec:x} in CID {cid} (supported: dag-pb 0x70, raw 0x55)")]
    UnsupportedCodec { cid: Cid, codec: u64 },
    /// The CID parses but uses a hash other than sha2-256.
    #[error("unsupported hash 0x{code:x} in CID {cid} (supported: sha2-256 0x12)")]
    UnsupportedHash { cid: Cid, code: u64 },
}

/// Parses `text` as a CID and checks that Agency supports its codec and hash.
pub fn parse_cid(text: &str) -> Result<Cid, CidError> {
    let trimmed = text.trim();
    let cid = Cid::try_from(trimmed).map_err(|e| CidError::Malformed {
        text: trimmed.to_owned(),
        reason: e.to_string(),
    })?;
    check_supported(&cid)?;
    Ok(cid)
}

/// Checks that `cid` uses dag-pb or raw and sha2-256 with a full 32-byte digest.
pub(crate) fn check_supported(cid: &Cid) -> Result<(), CidError> {
    if cid.codec() != CODEC_DAG_PB && cid.codec() != CODEC_RAW {
        return Err(CidError::UnsupportedCodec {
            cid: *cid,
            codec: cid.codec(),
        });
    }
    let mh = cid.hash();
    if mh.code() != MULTIHASH_SHA2_256 || mh.size() != 32 {
        return Err(CidError::UnsupportedHash {
            cid: *cid,
            code: mh.code(),
        });
    }
    Ok(())
}

/// Returns the sha2-256 multihash of `data`.
pub fn sha256_multihash(data: &[u8]) -> Multihash<64> {
    let digest = Sha256::digest(data);
    Multihash::wrap(MULTIHASH_SHA2_256, &digest).expect("a 32-byte digest fits a 64-byte multihash")
}

/// The CIDv1 `raw` block named by a sha2-256 `digest`: how a job spec or result envelope is
/// found from the digest the contract holds.
pub fn raw_cid(digest: [u8; 32]) -> Cid {
    let mh = Multihash::wrap(MULTIHASH_SHA2_256, &digest).expect("a 32-byte digest fits");
    Cid::new_v1(CODEC_RAW, mh)
}

/// The 32-byte sha2-256 digest inside `cid`, if it has one (every CID Agency supports does).
pub fn digest_of(cid: &Cid) -> Option<[u8; 32]> {
    let mh = cid.hash();
    (mh.code() == MULTIHASH_SHA2_256)
        .then(|| mh.digest().try_into().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v0_and_v1() {
        let v0 = parse_cid("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o").unwrap();
        assert_eq!(v0.codec(), CODEC_DAG_PB);
        let v1 =
            parse_cid(" bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4\n").unwrap();
        assert_eq!(v1.codec(), CODEC_RAW);
        assert_eq!(v1.hash(), &sha256_multihash(b"hello world\n"));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "Qm",
            "not-a-cid",
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2deve!!",
        ] {
            let err = parse_cid(bad).unwrap_err();
            assert!(matches!(err, CidError::Malformed { .. }), "{bad}: {err}");
            assert!(err.to_string().starts_with("invalid CID"), "{err}");
        }
    }

    #[test]
    fn rejects_unsupported_codec_and_hash() {
        // dag-cbor (0x71) with sha2-256.
        let cbor = Cid::new_v1(0x71, sha256_multihash(b"x"));
        let err = parse_cid(&cbor.to_string()).unwrap_err();
        assert!(
            matches!(err, CidError::UnsupportedCodec { codec: 0x71, .. }),
            "{err}"
        );
        // raw with an identity multihash (0x00).
        let ident = Cid::new_v1(CODEC_RAW, Multihash::wrap(0x00, b"abc").unwrap());
        let err = parse_cid(&ident.to_string()).unwrap_err();
        assert!(
            matches!(err, CidError::UnsupportedHash { code: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("sha2-256"));
    }
}
