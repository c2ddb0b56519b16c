// Drives the dev chain with viem (a client and wallet library we did not write), over HTTP and
// WebSocket: reads, viem-signed transactions, a contract deploy, a custom-error revert decoded
// by viem from our revert data, logs, fee estimation and a WebSocket event subscription.
// Usage: node viem.mjs http://127.0.0.1:PORT  → prints a JSON summary, exits non-zero on failure.
import { readFileSync } from 'node:fs'
import { createPublicClient, createWalletClient, defineChain, http, webSocket, parseEther, BaseError, ContractFunctionRevertedError } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

const url = process.argv[2]
const artifact = JSON.parse(readFileSync(new URL('../../../../contracts/artifacts/JobAgency.json', import.meta.url)))
const abi = artifact.abi
const bytecode = artifact.bytecode?.object ?? artifact.bytecode
const chain = defineChain({ id: 31337, name: 'agency dev', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [url] } } })
// anvil's well-known dev keys: the same mnemonic.
const requester = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const agent = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')

const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`) }
const pub = createPublicClient({ chain, transport: http(url) })
const wallet = createWalletClient({ chain, transport: http(url), account: requester })
const agentWallet = createWalletClient({ chain, transport: http(url), account: agent })
const out = {}

out.chainId = await pub.getChainId()
check(out.chainId === 31337, 'chain id')
check((await pub.getBalance({ address: agent.address })) === parseEther('10000'), 'dev balance')
const fees = await pub.estimateFeesPerGas()
check(fees.maxFeePerGas > 0n && fees.maxPriorityFeePerGas > 0n, 'fee estimate')

const transfer = await wallet.sendTransaction({ to: agent.address, value: parseEther('1') })
const transferReceipt = await pub.waitForTransactionReceipt({ hash: transfer })
check(transferReceipt.status === 'success' && transferReceipt.gasUsed === 21000n, 'transfer receipt')

const deploy = await wallet.deployContract({ abi, bytecode })
const deployed = await pub.waitForTransactionReceipt({ hash: deploy })
check(deployed.status === 'success' && deployed.contractAddress, 'deploy')
const address = deployed.contractAddress

// WebSocket: watch Deposited events while depositing.
const ws = createPublicClient({ chain, transport: webSocket(url.replace('http', 'ws')) })
const seen = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no Deposited event over WebSocket')), 10000)
  const stop = ws.watchContractEvent({ address, abi, eventName: 'Deposited', onLogs: (logs) => { clearTimeout(timer); stop(); resolve(logs[0]) } })
})
await new Promise((r) => setTimeout(r, 200)) // let the subscription start
const deposit = await agentWallet.writeContract({ address, abi, functionName: 'deposit', value: parseEther('0.5') })
check((await pub.waitForTransactionReceipt({ hash: deposit })).status === 'success', 'deposit')
const event = await seen
check(event.args.account === agent.address && event.args.amount === parseEther('0.5'), 'event over WebSocket')
out.websocketEvent = true

const [balance] = await pub.readContract({ address, abi, functionName: 'accountOf', args: [agent.address] })
check(balance === parseEther('0.5'), 'accountOf')
const logs = await pub.getContractEvents({ address, abi, eventName: 'Deposited', fromBlock: 0n })
check(logs.length === 1 && logs[0].transactionHash === deposit, 'getContractEvents')

try {
  await pub.simulateContract({ address, abi, functionName: 'withdraw', args: [parseEther('5')], account: agent })
  throw new Error('withdrawing more than the balance was not refused')
} catch (error) {
  const revert = error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionRevertedError)
  check(revert && revert.data?.errorName === 'InsufficientBalance', `custom error decoded: ${error.shortMessage}`)
  out.revertDecoded = revert.data.errorName
}
await ws.transport.getRpcClient().then((client) => client.close())
out.ok = true
console.log(JSON.stringify(out))
process.exit(0)
