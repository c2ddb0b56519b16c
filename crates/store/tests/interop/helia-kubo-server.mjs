// A Kubo-RPC-shaped test server whose blocks are computed and served by Helia (@helia/unixfs
// over blockstore-core): an IPFS implementation Agency did not write. Only this thin HTTP layer
// is ours. Like Kubo, a block/get for a block it lacks waits forever (Kubo would search the
// network) unless offline=true is passed; then it answers "not found" at once.
// Usage: node helia-kubo-server.mjs   (prints "listening http://127.0.0.1:PORT")
import http from 'node:http'
import { Readable } from 'node:stream'
import { unixfs } from '@helia/unixfs'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

const blockstore = new MemoryBlockstore()
const fs = unixfs({ blockstore })
const CODECS = { raw: 0x55, 'dag-pb': 0x70 }

async function collect (iterable) {
  const parts = []
  for await (const p of iterable) parts.push(p)
  return Buffer.concat(parts)
}

async function formFile (req, url) {
  const request = new Request(url, { method: 'POST', headers: req.headers, body: Readable.toWeb(req), duplex: 'half' })
  const form = await request.formData()
  const file = [...form.values()].find((v) => typeof v !== 'string')
  return { name: file?.name ?? '', bytes: new Uint8Array(await file.arrayBuffer()) }
}

function fail (res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ Message: message, Code: 0, Type: 'error' }))
}

async function has (cid) {
  try { return await blockstore.has(cid) } catch { return false }
}

const handlers = {
  async add (req, res, q, url) {
    const { name, bytes } = await formFile(req, url)
    const cidVersion = Number(q.get('cid-version') ?? 0)
    const rawLeaves = q.has('raw-leaves') ? q.get('raw-leaves') === 'true' : cidVersion === 1
    const chunkSize = Number((q.get('chunker') ?? 'size-262144').replace('size-', ''))
    const cid = await fs.addBytes(bytes, {
      cidVersion,
      rawLeaves,
      chunker: fixedSize({ chunkSize }),
      layout: balanced({ maxChildrenPerNode: 174 }),
      reduceSingleLeafToSelf: true
    })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ Name: name, Hash: cid.toString(), Size: String(bytes.length) }) + '\n')
  },
  async cat (req, res, q) {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(await collect(fs.cat(CID.parse(q.get('arg')))))
  },
  async 'block/get' (req, res, q) {
    const cid = CID.parse(q.get('arg'))
    if (!(await has(cid))) {
      if (q.get('offline') === 'true') return fail(res, 500, `block was not found locally (offline): ipld: could not find ${cid}`)
      return // like Kubo searching the network: no answer
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(await collect(blockstore.get(cid)))
  },
  async 'block/stat' (req, res, q) {
    const cid = CID.parse(q.get('arg'))
    if (!(await has(cid))) return fail(res, 500, `block was not found locally (offline): ipld: could not find ${cid}`)
    const bytes = await collect(blockstore.get(cid))
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ Key: cid.toString(), Size: bytes.length }))
  },
  async 'block/put' (req, res, q, url) {
    const { bytes } = await formFile(req, url)
    const codec = CODECS[q.get('cid-codec') ?? 'raw']
    if (codec === undefined) return fail(res, 400, 'unsupported codec')
    const cid = CID.createV1(codec, await sha256.digest(bytes))
    await blockstore.put(cid, bytes)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ Key: cid.toString(), Size: bytes.length }))
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1')
  const handler = handlers[url.pathname.replace('/api/v0/', '')]
  if (req.method !== 'POST' || !handler) return fail(res, 404, `no such command ${url.pathname}`)
  try {
    await handler(req, res, url.searchParams, url)
  } catch (e) {
    fail(res, 500, String(e?.message ?? e))
  }
})
server.listen(0, '127.0.0.1', () => console.log(`listening http://127.0.0.1:${server.address().port}`))
