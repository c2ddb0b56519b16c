// Node baseline for the store benchmark: ipfs-unixfs-importer with Kubo's parameters (CIDv0 with
// dag-pb leaves, or with `v1` CIDv1 with raw leaves; 262144-byte chunks, balanced layout of 174
// links) into a memory blockstore, reading FILE as a stream. Prints the root CID and the best and
// median MB/s of RUNS runs.
// Usage: node unixfs-importer.mjs FILE [RUNS] [v0|v1]
import { createReadStream, statSync } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { MemoryBlockstore } from 'blockstore-core/memory'

const [file, runs = '5', mode = 'v0'] = process.argv.slice(2)
const v1 = mode === 'v1'
const len = statSync(file).size
const rates = []
let root
for (let i = 0; i < Number(runs); i++) {
  const blockstore = new MemoryBlockstore()
  const started = process.hrtime.bigint()
  for await (const entry of importer([{ content: createReadStream(file, { highWaterMark: 1 << 20 }) }], blockstore, {
    cidVersion: v1 ? 1 : 0,
    rawLeaves: v1,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: 262144 }),
    layout: balanced({ maxChildrenPerNode: 174 })
  })) root = entry.cid.toString()
  const secs = Number(process.hrtime.bigint() - started) / 1e9
  rates.push(len / secs / 1e6)
}
rates.sort((a, b) => a - b)
console.log(JSON.stringify({ root, best: Math.round(rates.at(-1)), median: Math.round(rates[Math.floor(rates.length / 2)]) }))
