// Drives an Agency store server with kubo-rpc-client, Kubo's own JS client: add (Kubo defaults
// and CIDv1), cat, block put/get/stat, id, version. Every vector file's CID must equal Kubo's.
// Usage: node kubo-rpc-client.mjs API_URL VECTOR_DIR CIDS_TSV
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { create } from 'kubo-rpc-client'

const [url, dir, tsv] = process.argv.slice(2)
const ipfs = create({ url })
const rows = readFileSync(tsv, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'))

async function catAll (cid) {
  const parts = []
  for await (const p of ipfs.cat(cid)) parts.push(p)
  return Buffer.concat(parts)
}

let checks = 0
for (const [file, , v0, v1] of rows) {
  const data = readFileSync(join(dir, file))
  const a = await ipfs.add(data)
  assert.equal(a.cid.toString(), v0, `${file}: CIDv0`)
  const b = await ipfs.add(data, { cidVersion: 1 })
  assert.equal(b.cid.toString(), v1, `${file}: CIDv1 raw leaves`)
  assert.ok(Buffer.from(await catAll(a.cid)).equals(data), `${file}: cat`)
  checks += 3
}

const block = new TextEncoder().encode('a block from kubo-rpc-client')
const put = await ipfs.block.put(block)
const got = await ipfs.block.get(put)
assert.deepEqual(Buffer.from(got), Buffer.from(block), 'block round trip')
const stat = await ipfs.block.stat(put)
assert.equal(stat.size, block.length, 'block stat size')
checks += 2

const id = await ipfs.id()
assert.match(id.id.toString(), /^12D3KooW/, 'id')
const version = await ipfs.version()
assert.ok(version.version, 'version')
checks += 2

console.log(JSON.stringify({ ok: true, checks, block: put.toString(), id: id.id.toString(), version: version.version }))
