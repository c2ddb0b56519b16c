//! The job spec: everything that decides a job's envelope, as one canonical JSON document.
//!
//! A spec is stored as a CIDv1 `raw` block of its RFC 8785 bytes; the contract binds the
//! sha2-256 digest of those bytes (docs/protocol.md §1), so a job id names exactly one spec.
//! Parsing refuses unknown fields and other versions: an agent that does not understand every
//! field of a spec must not run it, or it could compute a different job than its peers.

use cid::Cid;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Block, CODEC_RAW, Limits, Runtime, cids::check_supported};

/// The spec format this build writes and runs.
pub const SPEC_VERSION: u32 = 1;

/// The version of the QuickJS engine's semantics this build runs: the engine, the prelude and
/// the meters' units together, everything that decides a `quickjs` job's envelope besides the
/// spec. Agents run only `quickjs` jobs that name it, so agents of two releases never outvote
/// each other on a job whose envelope the release decides.
///
/// 1: v1 (fuel counted interrupt checks only). 2: native builtins, promise jobs and timers are
/// charged fuel for their work (docs/security.md, "Fuel measures work").
pub const ENGINE_VERSION: u32 = 2;

/// The engine a spec without an `engine` field was written for.
const FIRST_ENGINE: u32 = 1;

/// A job spec (design.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The spec format: [`SPEC_VERSION`].
    pub version: u32,
    /// The JsJob script, a UnixFS file.
    #[serde(with = "cid_text")]
    pub code: Cid,
    /// The input JSON, a UnixFS file.
    #[serde(with = "cid_text")]
    pub input: Cid,
    /// The options passed to `jsJobRun` (any JSON value; `{}` when absent).
    #[serde(default = "empty_object")]
    pub options: Value,
    /// Which executor runs the job.
    pub runtime: Runtime,
    /// The engine version a `quickjs` job is for ([`ENGINE_VERSION`]); 1 when absent.
    #[serde(default = "first_engine")]
    pub engine: u32,
    /// Deterministic limits every agent enforces.
    pub limits: Limits,
    /// Seed of `Math.random`, 64 hex digits.
    #[serde(with = "hex32")]
    pub seed: [u8; 32],
    /// What `Date.now()` returns, in milliseconds since the epoch.
    pub timestamp: i64,
}

fn first_engine() -> u32 {
    FIRST_ENGINE
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Why bytes are not a spec this build can run.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not JSON, or not the shape of a spec (an unknown field, a missing one, a bad CID).
    #[error("not a job spec: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A spec format this build does not know.
    #[error("job spec version {found} is not supported (this build runs version {SPEC_VERSION})")]
    Version { found: u32 },
}

impl JobSpec {
    /// A spec of `code` and `input` on QuickJS with default limits, options `{}`, seed zero and
    /// timestamp zero.
    pub fn new(code: Cid, input: Cid) -> Self {
        Self {
            version: SPEC_VERSION,
            code,
            input,
            options: empty_object(),
            runtime: Runtime::QuickJs,
            engine: ENGINE_VERSION,
            limits: Limits::default(),
            seed: [0; 32],
            timestamp: 0,
        }
    }

    /// The RFC 8785 bytes that are stored and hashed.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_jcs::to_vec(self).expect("a spec holds only JSON values")
    }

    /// The spec as the block that is stored (a CIDv1 `raw` of its canonical bytes).
    pub fn to_block(&self) -> Block {
        Block::new(CODEC_RAW, self.canonical_bytes())
    }

    /// Parses a spec read from the store (its bytes were verified against their CID). Any
    /// bytes that hash to the digest on chain are the spec; they need not be canonical.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SpecError> {
        let spec: Self = serde_json::from_slice(bytes)?;
        if spec.version != SPEC_VERSION {
            return Err(SpecError::Version {
                found: spec.version,
            });
        }
        Ok(spec)
    }
}

mod cid_text {
    use cid::Cid;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(cid: &Cid, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&cid.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        let text = String::deserialize(d)?;
        let cid = Cid::try_from(text.as_str()).map_err(D::Error::custom)?;
        super::check_supported(&cid).map_err(D::Error::custom)?;
        Ok(cid)
    }
}

/// Serde for 32-byte values as hex text: written as 64 digits, read by [`parse_hex32`].
pub mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes 64 lowercase hex digits.
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    /// Reads what [`parse_hex32`](super::parse_hex32) accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        super::parse_hex32(&text).map_err(D::Error::custom)
    }
}

/// Parses up to 64 hex digits (an optional `0x`), left-padded with zeros to 32 bytes.
pub fn parse_hex32(text: &str) -> Result<[u8; 32], String> {
    let t = text.trim().trim_start_matches("0x");
    if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("invalid value {text:?}: want 1 to 64 hex digits"));
    }
    let padded = format!("{t:0>64}");
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&padded[2 * i..2 * i + 2], 16).expect("checked hex");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_cid;

    fn spec() -> JobSpec {
        let code = parse_cid("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH").unwrap();
        let input =
            parse_cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").unwrap();
        let mut s = JobSpec::new(code, input);
        s.seed[31] = 7;
        s.timestamp = 1_767_225_600_000;
        s
    }

    #[test]
    fn canonical_bytes_round_trip_and_name_a_raw_block() {
        let s = spec();
        let bytes = s.canonical_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with(
                r#"{"code":"QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH","engine":2,"input":"bafkrei"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#""seed":"0000000000000000000000000000000000000000000000000000000000000007""#
        ));
        assert_eq!(JobSpec::from_bytes(&bytes).unwrap(), s);
        let block = s.to_block();
        assert_eq!(block.cid().codec(), CODEC_RAW);
        assert!(block.cid().to_string().starts_with("bafkrei"));
    }

    #[test]
    fn unknown_fields_other_versions_and_bad_cids_are_refused() {
        let mut v: Value = serde_json::from_slice(&spec().canonical_bytes()).unwrap();
        v["gpu"] = true.into();
        let err = JobSpec::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.to_string().contains("unknown field `gpu`"), "{err}");

        let mut v: Value = serde_json::from_slice(&spec().canonical_bytes()).unwrap();
        v["version"] = 2.into();
        let err = JobSpec::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(matches!(err, SpecError::Version { found: 2 }), "{err}");

        let mut v: Value = serde_json::from_slice(&spec().canonical_bytes()).unwrap();
        v["code"] = "not-a-cid".into();
        assert!(JobSpec::from_bytes(&serde_json::to_vec(&v).unwrap()).is_err());
        assert!(JobSpec::from_bytes(b"\xff").is_err());
    }

    #[test]
    fn a_spec_names_its_engine_and_one_without_is_for_the_first() {
        let v: Value = serde_json::from_slice(&spec().canonical_bytes()).unwrap();
        assert_eq!(v["engine"], ENGINE_VERSION);
        let mut old = v.clone();
        old.as_object_mut().unwrap().remove("engine");
        let parsed = JobSpec::from_bytes(&serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(parsed.engine, 1);
    }

    #[test]
    fn hex32_is_left_padded_and_checked() {
        assert_eq!(parse_hex32("0x01").unwrap()[31], 1);
        assert!(parse_hex32("").is_err());
        assert!(parse_hex32("zz").is_err());
        assert!(parse_hex32(&"1".repeat(65)).is_err());
    }
}
