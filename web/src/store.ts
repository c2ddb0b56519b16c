// The content store through the server's Kubo RPC subset and trustless gateway (same origin).

/** Adds a file (UnixFS, Kubo's defaults); returns its CID. */
export async function add(name: string, bytes: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([bytes as BlobPart]), name);
  const res = await fetch("./api/v0/add", { method: "POST", body: form });
  if (!res.ok) throw new Error(`adding ${name}: ${res.status} ${await res.text()}`);
  const lines = (await res.text()).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]).Hash;
}

/** Stores `bytes` as a raw block (CIDv1, sha2-256); returns its CID. */
export async function putRaw(bytes: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append("data", new Blob([bytes as BlobPart]));
  const res = await fetch("./api/v0/block/put?cid-codec=raw&mhtype=sha2-256", {
    method: "POST",
    body: form,
  });
  if (!res.ok) throw new Error(`storing a block: ${res.status} ${await res.text()}`);
  return (await res.json()).Key;
}

/** The bytes of a raw block, hash-checked by the gateway's verifying store. */
export async function getRaw(cid: string): Promise<Uint8Array> {
  const res = await fetch(`./ipfs/${cid}?format=raw`);
  if (!res.ok) throw new Error(`fetching ${cid}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** The CIDv1 (raw codec, sha2-256) of a 32-byte digest given as 0x hex: `bafkrei…`. */
export function rawCid(digestHex: string): string {
  const digest = digestHex.slice(2).match(/../g)!.map((h) => parseInt(h, 16));
  const bytes = [0x01, 0x55, 0x12, 0x20, ...digest];
  let out = "b";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export async function sha256Hex(bytes: Uint8Array): Promise<`0x${string}`> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return `0x${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
