//! The two protobuf messages of a UnixFS file DAG, encoded byte-for-byte as Kubo does.
//!
//! dag-pb `PBNode { Links (2), Data (1) }` is written links first (the canonical dag-pb order);
//! `PBLink { Hash (1), Name (2), Tsize (3) }` always carries the empty name, as Kubo's importer
//! does. UnixFS `Data { Type (1), Data (2), filesize (3), blocksizes (4) }` is proto2 with
//! unpacked repeated varints. Hand-written because the messages are tiny and their exact bytes
//! decide every CID.

use agency_primitives::Cid;
use bytes::{Buf, Bytes};

/// UnixFS node types (the `Type` enum of unixfs.proto).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataType {
    Raw,
    Directory,
    File,
    Metadata,
    Symlink,
    HamtShard,
}

impl DataType {
    fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Raw,
            1 => Self::Directory,
            2 => Self::File,
            3 => Self::Metadata,
            4 => Self::Symlink,
            5 => Self::HamtShard,
            _ => return None,
        })
    }

    fn code(self) -> u64 {
        match self {
            Self::Raw => 0,
            Self::Directory => 1,
            Self::File => 2,
            Self::Metadata => 3,
            Self::Symlink => 4,
            Self::HamtShard => 5,
        }
    }
}

/// A decoded dag-pb link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PbLink {
    pub(crate) cid: Cid,
    pub(crate) tsize: Option<u64>,
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PbNode {
    pub(crate) links: Vec<PbLink>,
    pub(crate) data: Option<Bytes>,
}

/// A decoded UnixFS `Data` message (the fields a file reader needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnixFsData {
    pub(crate) kind: DataType,
    pub(crate) data: Option<Bytes>,
    pub(crate) filesize: Option<u64>,
    pub(crate) blocksizes: Vec<u64>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    put_varint(out, field << 3);
    put_varint(out, v);
}

/// Returns the bytes that frame a chunk of `len` bytes in a leaf: a dag-pb node whose Data is
/// UnixFS `{Type: File, Data: chunk, filesize}`. The leaf is `prefix ++ chunk ++ suffix`, so a
/// reader can fill the chunk in place. The Data field is left out for an empty chunk, as Kubo
/// does for the empty file.
pub(crate) fn file_leaf_frame(len: usize) -> (Vec<u8>, Vec<u8>) {
    let len64 = len as u64;
    let data_field = if len == 0 {
        0
    } else {
        1 + varint_len(len64) + len
    };
    let unixfs_len = 2 + data_field + 1 + varint_len(len64);
    let mut prefix = Vec::with_capacity(16);
    put_varint(&mut prefix, 1 << 3 | 2);
    put_varint(&mut prefix, unixfs_len as u64);
    put_varint_field(&mut prefix, 1, DataType::File.code());
    if len > 0 {
        put_varint(&mut prefix, 2 << 3 | 2);
        put_varint(&mut prefix, len64);
    }
    let mut suffix = Vec::with_capacity(11);
    put_varint_field(&mut suffix, 3, len64);
    (prefix, suffix)
}

/// Encodes the leaf of `chunk` (see [`file_leaf_frame`]).
pub(crate) fn encode_file_leaf(chunk: &[u8]) -> Vec<u8> {
    let (mut out, suffix) = file_leaf_frame(chunk.len());
    out.reserve_exact(chunk.len() + suffix.len());
    out.extend_from_slice(chunk);
    out.extend_from_slice(&suffix);
    out
}

/// Encodes an internal file node over `links` (child CID, child Tsize, child file bytes).
pub(crate) fn encode_file_node(links: &[(Cid, u64, u64)]) -> Vec<u8> {
    let mut unixfs = Vec::with_capacity(8 + links.len() * 5);
    put_varint_field(&mut unixfs, 1, DataType::File.code());
    put_varint_field(&mut unixfs, 3, links.iter().map(|l| l.2).sum());
    for (_, _, size) in links {
        put_varint_field(&mut unixfs, 4, *size);
    }
    let mut out = Vec::with_capacity(unixfs.len() + links.len() * 48 + 8);
    let mut link = Vec::with_capacity(48);
    for (cid, tsize, _) in links {
        link.clear();
        put_bytes_field(&mut link, 1, &cid.to_bytes());
        put_bytes_field(&mut link, 2, b"");
        put_varint_field(&mut link, 3, *tsize);
        put_bytes_field(&mut out, 2, &link);
    }
    put_bytes_field(&mut out, 1, &unixfs);
    out
}

/// A protobuf reader over one message's bytes.
struct Reader {
    buf: Bytes,
}

impl Reader {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            if !self.buf.has_remaining() {
                return Err("truncated varint".into());
            }
            let b = self.buf.get_u8();
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits".into());
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn bytes(&mut self) -> Result<Bytes, String> {
        let len = self.varint()?;
        if len > self.buf.remaining() as u64 {
            return Err(format!("field of {len} bytes overruns the message"));
        }
        Ok(self.buf.split_to(len as usize))
    }

    /// Returns the next (field number, wire type), or `None` at the end.
    fn key(&mut self) -> Result<Option<(u64, u64)>, String> {
        if !self.buf.has_remaining() {
            return Ok(None);
        }
        let key = self.varint()?;
        Ok(Some((key >> 3, key & 7)))
    }

    fn skip(&mut self, wire: u64) -> Result<(), String> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.advance(8),
            2 => self.bytes().map(drop),
            5 => self.advance(4),
            w => Err(format!("unsupported wire type {w}")),
        }
    }

    fn advance(&mut self, n: usize) -> Result<(), String> {
        if self.buf.remaining() < n {
            return Err("truncated fixed-width field".into());
        }
        self.buf.advance(n);
        Ok(())
    }
}

/// Decodes a dag-pb node strictly: only the fields of the dag-pb spec, with their wire types.
pub(crate) fn decode_node(bytes: &Bytes) -> Result<PbNode, String> {
    let mut r = Reader { buf: bytes.clone() };
    let mut node = PbNode {
        links: Vec::new(),
        data: None,
    };
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 2) if node.data.is_none() => node.data = Some(r.bytes()?),
            (2, 2) => node.links.push(decode_link(r.bytes()?)?),
            _ => {
                return Err(format!(
                    "unexpected dag-pb field {field} (wire type {wire})"
                ));
            }
        }
    }
    Ok(node)
}

fn decode_link(bytes: Bytes) -> Result<PbLink, String> {
    let mut r = Reader { buf: bytes };
    let (mut cid, mut tsize) = (None, None);
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 2) => {
                let raw = r.bytes()?;
                cid = Some(Cid::try_from(&raw[..]).map_err(|e| format!("bad link hash: {e}"))?);
            }
            (2, 2) => drop(r.bytes()?),
            (3, 0) => tsize = Some(r.varint()?),
            _ => {
                return Err(format!(
                    "unexpected dag-pb link field {field} (wire type {wire})"
                ));
            }
        }
    }
    Ok(PbLink {
        cid: cid.ok_or("link without a hash")?,
        tsize,
    })
}

/// Decodes a UnixFS `Data` message, skipping fields a file reader does not need (mode, mtime…).
pub(crate) fn decode_unixfs(bytes: &Bytes) -> Result<UnixFsData, String> {
    let mut r = Reader { buf: bytes.clone() };
    let mut kind = None;
    let (mut data, mut filesize, mut blocksizes) = (None, None, Vec::new());
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 0) => {
                let code = r.varint()?;
                kind =
                    Some(DataType::from_code(code).ok_or(format!("unknown unixfs type {code}"))?);
            }
            (2, 2) => data = Some(r.bytes()?),
            (3, 0) => filesize = Some(r.varint()?),
            (4, 0) => blocksizes.push(r.varint()?),
            (4, 2) => {
                let mut packed = Reader { buf: r.bytes()? };
                while packed.buf.has_remaining() {
                    blocksizes.push(packed.varint()?);
                }
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(UnixFsData {
        kind: kind.ok_or("unixfs data without a type")?,
        data,
        filesize,
        blocksizes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agency_primitives::{Block, CODEC_RAW};

    #[test]
    fn hello_leaf_matches_kubo_bytes() {
        let enc = encode_file_leaf(b"hello world\n");
        let mut want = vec![0x0a, 0x12, 0x08, 0x02, 0x12, 0x0c];
        want.extend_from_slice(b"hello world\n");
        want.extend_from_slice(&[0x18, 0x0c]);
        assert_eq!(enc, want);
        assert_eq!(
            encode_file_leaf(b""),
            vec![0x0a, 0x04, 0x08, 0x02, 0x18, 0x00]
        );
    }

    #[test]
    fn node_round_trip() {
        let a = Block::new(CODEC_RAW, &b"a"[..]);
        let b = Block::new_v0(&b"b"[..]);
        let enc = Bytes::from(encode_file_node(&[(*a.cid(), 1, 1), (*b.cid(), 300, 200)]));
        let node = decode_node(&enc).unwrap();
        assert_eq!(node.links.len(), 2);
        assert_eq!(
            node.links[0],
            PbLink {
                cid: *a.cid(),
                tsize: Some(1)
            }
        );
        assert_eq!(
            node.links[1],
            PbLink {
                cid: *b.cid(),
                tsize: Some(300)
            }
        );
        let fs = decode_unixfs(node.data.as_ref().unwrap()).unwrap();
        assert_eq!(fs.kind, DataType::File);
        assert_eq!(fs.filesize, Some(201));
        assert_eq!(fs.blocksizes, vec![1, 200]);
        assert_eq!(fs.data, None);
    }

    #[test]
    fn rejects_malformed_nodes() {
        for bad in [
            &[0x0a, 0x05, 0x01][..],       // data field overruns
            &[0x08, 0x01][..],             // varint field 1: not dag-pb
            &[0x12, 0x02, 0x18, 0x01][..], // link without a hash
            &[0x0a][..],                   // truncated length
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ][..],
        ] {
            assert!(
                decode_node(&Bytes::copy_from_slice(bad)).is_err(),
                "{bad:x?}"
            );
        }
        assert!(
            decode_unixfs(&Bytes::from_static(&[0x18, 0x01])).is_err(),
            "no type"
        );
        assert!(
            decode_unixfs(&Bytes::from_static(&[0x08, 0x09])).is_err(),
            "unknown type"
        );
    }
}
