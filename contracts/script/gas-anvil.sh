#!/usr/bin/env bash
# Cross-checks the forge gas figures against a real node: deploys the committed artifact on
# anvil and runs the lifecycles of test/Gas.t.sol with cast, printing each receipt's gasUsed.
# A warm-up job registers the agents first, as GasTest's setUp does (steady state).
# Usage: contracts/script/gas-anvil.sh   (after `npm ci`; PORT picks anvil's port, default 8645)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/node_modules/.bin
port=${PORT:-8645}
rpc=http://127.0.0.1:$port
"$bin/anvil" --port "$port" --silent --hardfork cancun &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null' EXIT
for _ in $(seq 100); do "$bin/cast" chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done

mapfile -t acct < <("$bin/cast" rpc eth_accounts --rpc-url "$rpc" | node -e 'JSON.parse(require("fs").readFileSync(0)).slice(0,4).forEach(a=>console.log(a))')
req=${acct[0]}
field() { node -e "const r=JSON.parse(require('fs').readFileSync(0)); console.log(r['$1'])"; }
# send FROM VALUE SIG ARGS... → prints gasUsed (decimal)
send() {
  local from=$1 value=$2; shift 2
  "$bin/cast" send --rpc-url "$rpc" --unlocked --from "$from" --value "$value" --json "$agency" "$@" |
    node -e 'const r=JSON.parse(require("fs").readFileSync(0)); if (r.status!=="0x1") {console.error("reverted", r.transactionHash); process.exit(1)} console.log(BigInt(r.gasUsed).toString())'
}
code=$(node -e 'console.log(require("./contracts/artifacts/JobAgency.json").bytecode.object)')
agency=$("$bin/cast" send --rpc-url "$rpc" --unlocked --from "$req" --json --create "$code" | field contractAddress)

TERMS='(address,uint64,uint32,bytes32,uint128,uint128,uint8,uint8,uint32,uint32,uint32,uint40)'
salt=0
# terms R Q N → sets $terms and $specs for a fresh batch of N jobs
terms() {
  local r=$1 q=$2 n=$3 packed=0x specs_list=()
  salt=$((salt + 1))
  for i in $(seq 1 "$n"); do
    local d; d=$("$bin/cast" keccak "spec-$salt-$i")
    specs_list+=("$d"); packed+=${d#0x}
  done
  local now; now=$("$bin/cast" block latest -f timestamp --rpc-url "$rpc")
  specs="[$(IFS=,; echo "${specs_list[*]}")]"
  terms="($req,$salt,$n,$("$bin/cast" keccak "$packed"),10000000000000000,2000000000000000,$r,$q,0,600,300,$((now + 3600)))"
}
reward=10000000000000000
for a in "${acct[@]:1:3}"; do send "$a" 1ether 'deposit()' >/dev/null; done
terms 1 1 3
send "$req" $((3 * reward)) "post($TERMS,bytes32[])" "$terms" "$specs" >/dev/null
for i in 0 1 2; do
  send "${acct[$((i + 1))]}" 0 "claim($TERMS,uint256)" "$terms" $i >/dev/null
  send "${acct[$((i + 1))]}" 0 "submit($TERMS,uint256,uint256,bytes32)" "$terms" $i 0 0x$(printf '%064x' 7) >/dev/null
done

result=0x$(printf '%064x' 42)
printf '%-44s %10s\n' "call (anvil receipts, steady state)" gasUsed
terms 1 1 1
p=$(send "$req" $reward "post($TERMS,bytes32[])" "$terms" "$specs")
c=$(send "${acct[1]}" 0 "claim($TERMS,uint256)" "$terms" 0)
s=$(send "${acct[1]}" 0 "submit($TERMS,uint256,uint256,bytes32)" "$terms" 0 0 "$result")
printf '%-44s %10s\n' "post r1" "$p" "claim r1" "$c" "submit r1" "$s" "= r1 post+claim+submit" $((p + c + s))
terms 3 2 1
sum=$(send "$req" $reward "post($TERMS,bytes32[])" "$terms" "$specs")
job=$("$bin/cast" call --rpc-url "$rpc" "$agency" "jobIdOf($TERMS,uint256)(bytes32)" "$terms" 0)
for i in 1 2; do
  c=$("$bin/cast" call --rpc-url "$rpc" "$agency" "commitmentOf(bytes32,address,bytes32,bytes32)(bytes32)" "$job" "${acct[$i]}" "$result" 0x$(printf '%064x' $i))
  g=$(send "${acct[$i]}" 0 "claimAndCommit($TERMS,uint256,bytes32)" "$terms" 0 "$c"); sum=$((sum + g))
  printf '%-44s %10s\n' "claimAndCommit r3 #$i" "$g"
done
g=$(send "${acct[3]}" 0 "claim($TERMS,uint256)" "$terms" 0); sum=$((sum + g))
printf '%-44s %10s\n' "claim r3 #3 (last)" "$g"
g=$(send "${acct[3]}" 0 "revealLast($TERMS,uint256,uint256,bytes32)" "$terms" 0 2 "$result"); sum=$((sum + g))
printf '%-44s %10s\n' "revealLast r3 #3" "$g"
for i in 1 2; do
  g=$(send "${acct[$i]}" 0 "reveal($TERMS,uint256,uint256,bytes32,bytes32)" "$terms" 0 $((i - 1)) "$result" 0x$(printf '%064x' $i)); sum=$((sum + g))
  printf '%-44s %10s\n' "reveal r3 #$i" "$g"
done
printf '%-44s %10s\n' "= r3 post+2 claimAndCommit+claim+revealLast+2 reveal" "$sum"
