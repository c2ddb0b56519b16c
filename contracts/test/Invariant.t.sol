// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {TestBase} from "./Vm.sol";

/// Sends ether to a contract without calling it (SELFDESTRUCT in its creation transaction).
contract ForceSend {
    constructor(address payable to) payable {
        selfdestruct(to);
    }
}

/// Drives IJobAgency as requesters and agents would: honest agents (0-2 and 8-14, so r reaches
/// 15), a liar with random results (3), a colluding pair with one shared wrong result (4-5), an
/// agent that commits and never reveals (6), and a copier (7) that replays other agents'
/// commitments and, as a pending-transaction adversary, sends every delivery it sees pending
/// before its author (submit, revealLast, claimAndCommit, and v1's fused calls as raw calldata).
/// Batches hold up to 20 jobs, some gated by `minReputation`; agents also claim and submit in
/// batches. It also warps time, cancels, evicts, expires, settles, withdraws (to itself and to
/// others) and force-sends ether. Every settlement is
/// checked against an independent model of docs/protocol.md §3; a mismatch counts in
/// `violations` (handler reverts are ignored by the fuzzer, so nothing here reverts to fail).
contract Handler is TestBase {
    struct Ref {
        uint256 batch;
        uint256 index;
    }

    IJobAgency public immutable agency;
    address[2] public requesters = [address(0xE1), address(0xE2)];
    address[15] public agents;
    IJobAgency.Terms[] internal batches;
    Ref[] public jobs;

    uint256 public forced;
    uint256 public violations;
    string public firstViolation;
    uint256 public copiedReveals;
    mapping(bytes32 => uint256) public terminal;
    mapping(bytes32 => mapping(address => bytes32)) internal salts;
    mapping(bytes32 => mapping(address => bytes32)) internal committed;
    mapping(string => uint256) public calls;

    uint256 private constant SILENT = 6;
    uint256 private constant COPIER = 7;

    constructor(IJobAgency a) {
        agency = a;
        for (uint256 i; i < 15; ++i) {
            agents[i] = address(uint160(0xA0000 + i));
            vm.deal(agents[i], 1000 ether);
            vm.prank(agents[i]);
            agency.deposit{value: 10 ether}();
        }
        vm.deal(requesters[0], 1e9 ether);
        vm.deal(requesters[1], 1e9 ether);
    }

    // ------------------------------------------------------------ helpers

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function termsOf(uint256 k) public view returns (IJobAgency.Terms memory t, uint256 index) {
        Ref memory ref = jobs[k];
        return (batches[ref.batch], ref.index);
    }

    function idOf(IJobAgency.Terms memory t, uint256 index) internal pure returns (bytes32) {
        return bytes32((uint256(keccak256(abi.encode(t))) & ~uint256(0xffffffff)) | index);
    }

    function pick(uint256 seed) internal view returns (IJobAgency.Terms memory t, uint256 index, bytes32 id) {
        (t, index) = termsOf(seed % jobs.length);
        id = idOf(t, index);
    }

    function truth(bytes32 id) internal pure returns (bytes32) {
        return keccak256(abi.encode(id, "truth"));
    }

    /// The result agent `a` commits to job `id`, by its role.
    function resultOf(uint256 a, bytes32 id, uint256 seed) internal pure returns (bytes32) {
        if (a == 3) return keccak256(abi.encode(id, "lie", seed));
        if (a == 4 || a == 5) return keccak256(abi.encode(id, "collude"));
        return truth(id);
    }

    function balanceOf(address a) public view returns (uint256 b) {
        (b,,,,,) = agency.accountOf(a);
    }

    /// Reputation fees the model has seen burned (§6): a point must never be had for less.
    uint256 public feesBurnt;

    function feeOf(IJobAgency.Terms memory t) internal view returns (uint256) {
        (bool ok, bytes memory bps) = address(agency).staticcall(abi.encodeWithSignature("REPUTATION_FEE_BPS()"));
        require(ok, "REPUTATION_FEE_BPS");
        return uint256(t.reward) * abi.decode(bps, (uint256)) / 10_000;
    }

    /// Σ reputation points over every actor, in wei of the fees they stand for.
    function pointsWei() public view returns (uint256 total) {
        address[17] memory all = actors();
        for (uint256 i; i < ACTORS; ++i) {
            (,,,,, uint256 p) = agency.accountOf(all[i]);
            total += p * 1 gwei;
        }
    }

    function violate(string memory why) internal {
        if (violations == 0) firstViolation = why;
        ++violations;
    }

    uint256 internal constant ACTORS = 17;

    // Everyone whose internal balance a settlement may change: the agents, then the requesters.
    function actors() public view returns (address[17] memory all) {
        for (uint256 i; i < 15; ++i) {
            all[i] = agents[i];
        }
        all[15] = requesters[0];
        all[16] = requesters[1];
    }

    function isHonest(uint256 a) internal pure returns (bool) {
        return a < 3 || (a >= 8 && a < 15);
    }

    /// Index of the burned total in a snapshot, after the actors.
    uint256 internal constant BURNT = 17;

    function snapshot() internal view returns (uint256[18] memory b) {
        address[17] memory all = actors();
        for (uint256 i; i < ACTORS; ++i) {
            b[i] = balanceOf(all[i]);
        }
        b[BURNT] = agency.burned();
    }

    /// Compares every actor's balance change with `expected` (indexed like `actors()`), and the
    /// burned total's with `expected[BURNT]`.
    function expectDeltas(uint256[18] memory before, int256[18] memory expected, string memory what) internal {
        address[17] memory all = actors();
        for (uint256 i; i < ACTORS; ++i) {
            if (int256(balanceOf(all[i])) - int256(before[i]) != expected[i]) {
                violate(string.concat(what, ": wrong balance change for actor ", vm.toString(i)));
            }
        }
        if (int256(agency.burned()) - int256(before[BURNT]) != expected[BURNT]) {
            violate(string.concat(what, ": wrong amount burned"));
        }
    }

    function actorIndex(address a) internal view returns (uint256) {
        address[17] memory all = actors();
        for (uint256 i; i < ACTORS; ++i) {
            if (all[i] == a) return i;
        }
        revert("not an actor");
    }

    /// Records terminal states; a job whose terminal state changes is a violation.
    function observe(IJobAgency.Terms memory t, uint256 index) internal returns (IJobAgency.JobView memory v) {
        v = agency.jobOf(t, index);
        uint256 s = uint256(v.status);
        uint256 seen = terminal[v.id];
        if (seen != 0 && seen != s) violate("terminal state changed");
        if (s >= uint256(IJobAgency.Status.Accepted) && seen == 0) terminal[v.id] = s;
    }

    /// Checks the money a job's settlement moved against docs/protocol.md §3, from the slots
    /// as they stand after it (settled jobs keep their cells and revealed digests).
    function checkSettlement(IJobAgency.Terms memory t, uint256 index, uint256[18] memory before, bool wasTerminal)
        internal
    {
        IJobAgency.JobView memory v = observe(t, index);
        int256[18] memory d;
        if (wasTerminal || uint256(v.status) < uint256(IJobAgency.Status.Accepted)) {
            return expectDeltas(before, d, "no settlement");
        }
        uint256 req = actorIndex(t.requester);
        int256 coll = int256(uint256(t.collateral));
        int256 reward = int256(uint256(t.reward));
        if (v.status == IJobAgency.Status.Cancelled) {
            d[req] = reward;
        } else if (v.status == IJobAgency.Status.Expired) {
            d[req] = reward;
            for (uint256 i; i < v.slots.length; ++i) {
                if (v.slots[i].phase == IJobAgency.Phase.Claimed) d[BURNT] += coll;
                if (v.slots[i].phase == IJobAgency.Phase.Committed) d[actorIndex(v.slots[i].agent)] += coll;
            }
        } else if (t.replicas == 1) {
            uint256 fee = feeOf(t);
            feesBurnt += fee;
            d[actorIndex(v.slots[0].agent)] = reward - int256(fee) + coll;
            d[BURNT] = int256(fee);
        } else {
            _modelReplicated(t, v, d, req);
        }
        expectDeltas(before, d, "settlement");
    }

    function _modelReplicated(IJobAgency.Terms memory t, IJobAgency.JobView memory v, int256[18] memory d, uint256 req)
        internal
    {
        int256 coll = int256(uint256(t.collateral));
        // The winner: a digest revealed by >= quorum slots.
        bytes32 win;
        uint256 winners;
        uint256 held;
        uint256 honestRevealsOfTruth;
        for (uint256 i; i < v.slots.length; ++i) {
            if (v.slots[i].phase == IJobAgency.Phase.Empty) continue;
            ++held;
            if (v.slots[i].phase != IJobAgency.Phase.Revealed) continue;
            uint256 votes;
            for (uint256 k; k < v.slots.length; ++k) {
                if (v.slots[k].phase == IJobAgency.Phase.Revealed && v.slots[k].sealedResult == v.slots[i].sealedResult)
                {
                    ++votes;
                }
            }
            if (votes >= t.quorum) {
                win = v.slots[i].sealedResult;
                winners = votes;
            }
            uint256 a = actorIndex(v.slots[i].agent);
            if (isHonest(a) && v.slots[i].sealedResult == truth(v.id)) ++honestRevealsOfTruth;
        }
        if (v.status == IJobAgency.Status.NoConsensus) {
            if (winners != 0) violate("no consensus despite a quorum");
            int256 back = int256(uint256(t.reward));
            for (uint256 i; i < v.slots.length; ++i) {
                if (v.slots[i].phase == IJobAgency.Phase.Revealed) d[actorIndex(v.slots[i].agent)] += coll;
                else if (v.slots[i].phase != IJobAgency.Phase.Empty) d[BURNT] += coll;
            }
            d[req] += back;
            return;
        }
        if (winners == 0) return violate("accepted without a quorum");
        if (honestRevealsOfTruth >= t.quorum && win != truth(v.id)) violate("wrong result beat an honest quorum");
        // Winners share the reward less its reputation fee; the fee and every other held slot's
        // collateral are burned.
        uint256 fee = feeOf(t);
        feesBurnt += fee;
        d[BURNT] += coll * int256(held - winners) + int256(fee);
        int256 pot = int256(uint256(t.reward) - fee);
        int256 share = pot / int256(winners);
        int256 dust = pot - share * int256(winners);
        for (uint256 i; i < v.slots.length; ++i) {
            if (v.slots[i].phase != IJobAgency.Phase.Revealed || v.slots[i].sealedResult != win) continue;
            d[actorIndex(v.slots[i].agent)] += coll + share + dust;
            dust = 0;
        }
    }

    // ------------------------------------------------------------ requesters

    function post(uint256 seed, uint256 reward, uint256 collateral) external {
        uint8 r = [1, 2, 3, 3, 4, 5, 7, 15][seed % 8];
        uint8 q = r == 1 ? 1 : uint8(r / 2 + 1 + (seed >> 8) % (r - r / 2));
        uint256 n = (seed >> 80) % 4 == 0 ? bound(seed >> 16, 4, 20) : bound(seed >> 16, 1, 3);
        bytes32[] memory specs = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            specs[i] = keccak256(abi.encode(batches.length, i));
        }
        IJobAgency.Terms memory t = IJobAgency.Terms({
            requester: requesters[(seed >> 24) % 2],
            salt: uint64(batches.length),
            count: uint32(n),
            specs: keccak256(abi.encodePacked(specs)),
            reward: uint128(bound(reward, 1, 100 ether)),
            collateral: uint128(bound(collateral, 0, 1 ether)),
            replicas: r,
            quorum: q,
            minReputation: (seed >> 88) % 5 == 0 ? uint32(1 + (seed >> 96) % 2) : 0,
            deliveryWindow: uint32(bound(seed >> 32, 5 minutes, 1 hours)),
            revealWindow: uint32(bound(seed >> 48, 5 minutes, 1 hours)),
            deadline: uint40(block.timestamp + bound(seed >> 64, 60, 4 hours))
        });
        vm.prank(t.requester);
        agency.post{value: uint256(t.reward) * n}(t, specs);
        batches.push(t);
        for (uint256 i; i < n; ++i) {
            jobs.push(Ref(batches.length - 1, i));
        }
        calls["post"]++;
    }

    function cancel(uint256 seed) external {
        if (jobs.length == 0) return;
        (IJobAgency.Terms memory t, uint256 index,) = pick(seed);
        uint256[18] memory before = snapshot();
        bool was = uint256(agency.jobOf(t, index).status) >= uint256(IJobAgency.Status.Accepted);
        vm.prank(t.requester);
        try agency.cancel(t, index) {
            calls["cancel"]++;
        } catch {}
        checkSettlement(t, index, before, was);
    }

    // ------------------------------------------------------------ agents

    /// What a job must allow for the action that looks for it.
    enum Need {
        Anything,
        Claimable, // open, before its deadline: claims, submits, commits, releases
        Revealing // reveals are open
    }

    /// The first non-terminal job at or after `seed` (cyclically) that meets `need` and has a
    /// slot in `phase` held by an agent whose bit is set in `wanted`; `found` false if none.
    function findSlot(uint256 seed, IJobAgency.Phase phase, uint256 wanted, Need need)
        internal
        view
        returns (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot)
    {
        uint256 n = jobs.length;
        for (uint256 step; step < n; ++step) {
            k = (seed % n + step) % n;
            (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
            v = agency.jobOf(t, index);
            if (uint256(v.status) >= uint256(IJobAgency.Status.Accepted)) continue;
            if (need == Need.Revealing && v.status != IJobAgency.Status.Revealing) continue;
            if (need == Need.Claimable && (v.status != IJobAgency.Status.Open || block.timestamp > t.deadline)) {
                continue;
            }
            for (slot = 0; slot < v.slots.length; ++slot) {
                if (v.slots[slot].phase != phase) continue;
                if (phase == IJobAgency.Phase.Empty) return (true, k, v, slot);
                uint256 a = actorIndex(v.slots[slot].agent);
                if ((wanted >> a) & 1 == 1) return (true, k, v, slot);
            }
        }
    }

    uint256 private constant ANY = (1 << 15) - 1;
    uint256 private constant NOT_COPIER = ANY & ~(1 << COPIER);
    uint256 private constant REVEALERS = NOT_COPIER & ~(1 << SILENT); // these two never reveal

    /// An agent other than the copier, by seed.
    function notCopier(uint256 agentSeed) internal pure returns (uint256 a) {
        a = agentSeed % 14;
        if (a >= COPIER) ++a;
    }

    function claim(uint256 seed, uint256 agentSeed) external {
        (bool found, uint256 k,,) = findSlot(seed, IJobAgency.Phase.Empty, ANY, Need.Claimable);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        vm.prank(agents[notCopier(agentSeed)]);
        try agency.claim(t, index) {
            calls["claim"]++;
        } catch {}
    }

    function release(uint256 seed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot) =
            findSlot(seed, IJobAgency.Phase.Claimed, NOT_COPIER, Need.Claimable);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        address a = v.slots[slot].agent;
        uint256[18] memory before = snapshot();
        vm.prank(a);
        try agency.release(t, index, slot) {
            calls["release"]++;
            int256[18] memory d;
            // Half the collateral times the share of the window held (from the slot deadline).
            uint256 left = v.slots[slot].deadline - block.timestamp;
            uint256 held = left >= t.deliveryWindow ? 0 : t.deliveryWindow - left;
            int256 fee = int256(uint256(t.collateral) * held / (2 * uint256(t.deliveryWindow)));
            d[actorIndex(a)] = int256(uint256(t.collateral)) - fee;
            d[BURNT] = fee;
            expectDeltas(before, d, "release");
        } catch {}
    }

    /// A slot holder delivers: submit (r = 1) or commit its role's result (r > 1).
    function deliver(uint256 seed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot) =
            findSlot(seed, IJobAgency.Phase.Claimed, NOT_COPIER, Need.Claimable);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        uint256 a = actorIndex(v.slots[slot].agent);
        bytes32 result = resultOf(a, v.id, seed);
        if (t.replicas == 1) {
            uint256[18] memory before = snapshot();
            vm.prank(agents[a]);
            try agency.submit(t, index, slot, result) {
                calls["submit"]++;
            } catch {}
            checkSettlement(t, index, before, false);
        } else if (v.committed == t.replicas - 1 && (seed >> 128) & 1 == 1) {
            // The last open slot may deliver in the clear.
            vm.prank(agents[a]);
            try agency.revealLast(t, index, slot, result) {
                salts[v.id][agents[a]] = 0;
                calls["revealLast"]++;
            } catch {}
        } else {
            bytes32 salt = keccak256(abi.encode(seed, a, v.id));
            salts[v.id][agents[a]] = salt;
            committed[v.id][agents[a]] = result;
            bytes32 c = agency.commitmentOf(v.id, agents[a], result, salt);
            vm.prank(agents[a]);
            try agency.commit(t, index, slot, c) {
                calls["commit"]++;
            } catch {}
        }
    }

    /// The copier claims a slot and commits another agent's commitment, copied from the chain.
    function copyCommit(uint256 seed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot) =
            findSlot(seed, IJobAgency.Phase.Committed, NOT_COPIER, Need.Claimable);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        bytes32 copied = v.slots[slot].sealedResult;
        vm.startPrank(agents[COPIER]);
        try agency.claim(t, index) returns (uint256 mine) {
            try agency.commit(t, index, mine, copied) {
                calls["copyCommit"]++;
            } catch {}
        } catch {}
        vm.stopPrank();
    }

    function reveal(uint256 seed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot) =
            findSlot(seed, IJobAgency.Phase.Committed, REVEALERS, Need.Revealing);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        address a = v.slots[slot].agent;
        uint256[18] memory before = snapshot();
        vm.prank(a);
        try agency.reveal(t, index, slot, committed[v.id][a], salts[v.id][a]) {
            calls["reveal"]++;
        } catch {}
        checkSettlement(t, index, before, false);
    }

    /// The copier tries to open its copied commitment with another agent's revealed result and
    /// salt. It must never succeed.
    function copierReveal(uint256 seed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot) =
            findSlot(seed, IJobAgency.Phase.Committed, 1 << COPIER, Need.Revealing);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        for (uint256 i; i < v.slots.length; ++i) {
            if (v.slots[i].phase != IJobAgency.Phase.Revealed) continue;
            vm.prank(agents[COPIER]);
            try agency.reveal(t, index, slot, v.slots[i].sealedResult, salts[v.id][v.slots[i].agent]) {
                ++copiedReveals;
            } catch {}
            calls["copierReveal"]++;
        }
    }

    /// An agent claims, in one `claimMany`, every job of a batch it could claim (the first batch
    /// at or after `seed` with one); returns the batch's terms and how many it claimed.
    function claimBatch(uint256 seed, uint256 agentSeed) public returns (IJobAgency.Terms memory t, uint256 n) {
        address a = agents[notCopier(agentSeed)];
        for (uint256 step; step < batches.length && n == 0; ++step) {
            t = batches[(seed % batches.length + step) % batches.length];
            n = _claimBatch(t, a);
        }
    }

    function _claimBatch(IJobAgency.Terms memory t, address a) internal returns (uint256 n) {
        if (block.timestamp > t.deadline) return 0;
        uint256[] memory idx = new uint256[](t.count);
        for (uint256 i; i < t.count; ++i) {
            IJobAgency.JobView memory v = agency.jobOf(t, i);
            if (v.status != IJobAgency.Status.Open) continue;
            bool free;
            bool mine;
            for (uint256 k; k < v.slots.length; ++k) {
                if (v.slots[k].phase == IJobAgency.Phase.Empty) free = true;
                else if (v.slots[k].agent == a) mine = true;
            }
            if (free && !mine) idx[n++] = i;
        }
        if (n == 0) return 0;
        assembly ("memory-safe") {
            mstore(idx, n)
        }
        vm.prank(a);
        try agency.claimMany(t, idx) {
            calls["claimMany"]++;
        } catch {
            n = 0; // a stake or reputation it lacks
        }
    }

    /// An agent claims an r = 1 batch in one `claimMany` and submits what it holds of it in one
    /// `submitMany` (the first r = 1 batch at or after `seed` it can claim a job of).
    function submitBatch(uint256 seed, uint256 agentSeed) external {
        address a = agents[notCopier(agentSeed)];
        for (uint256 step; step < batches.length; ++step) {
            IJobAgency.Terms memory t = batches[(seed % batches.length + step) % batches.length];
            if (t.replicas == 1 && _claimBatch(t, a) != 0) {
                _submitBatch(t, a, seed);
                return;
            }
        }
    }

    function _submitBatch(IJobAgency.Terms memory t, address a, uint256 seed) internal {
        uint256[] memory idx = new uint256[](t.count);
        bytes32[] memory results = new bytes32[](t.count);
        uint256 n;
        for (uint256 i; i < t.count; ++i) {
            IJobAgency.JobView memory v = agency.jobOf(t, i);
            IJobAgency.SlotView memory slot = v.slots[0];
            if (v.status != IJobAgency.Status.Open || slot.phase != IJobAgency.Phase.Claimed) continue;
            if (block.timestamp > slot.deadline || slot.agent != a) continue;
            idx[n] = i;
            results[n++] = resultOf(actorIndex(a), v.id, seed);
        }
        if (n == 0) return violate("claimed by claimMany, but no slot held");
        assembly ("memory-safe") {
            mstore(idx, n)
            mstore(results, n)
        }
        uint256[18] memory before = snapshot();
        vm.prank(a);
        try agency.submitMany(t, idx, results) {
            calls["submitMany"]++;
            int256[18] memory d;
            uint256 fee = feeOf(t);
            feesBurnt += n * fee;
            d[actorIndex(a)] = int256(n) * (int256(uint256(t.reward) - fee) + int256(uint256(t.collateral)));
            d[BURNT] = int256(n * fee);
            expectDeltas(before, d, "submitMany");
            for (uint256 i; i < n; ++i) {
                observe(t, idx[i]);
            }
        } catch {
            violate("submitMany of held, live slots reverted");
        }
    }

    /// The pending-transaction adversary on deliveries in the clear: it sees a slot holder's
    /// `submit` or `revealLast` pending and sends the same call first, and it tries v1's fused
    /// calls (the digest before any slot) as raw calldata. None may go through.
    function frontRunDelivery(uint256 seed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot) =
            findSlot(seed, IJobAgency.Phase.Claimed, NOT_COPIER, Need.Claimable);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        bytes32 result = resultOf(actorIndex(v.slots[slot].agent), v.id, seed);
        bytes memory copy = t.replicas == 1
            ? abi.encodeCall(IJobAgency.submit, (t, index, slot, result))
            : abi.encodeCall(IJobAgency.revealLast, (t, index, slot, result));
        uint256[18] memory before = snapshot();
        vm.prank(agents[COPIER]);
        (bool ok,) = address(agency).call(copy);
        if (ok) violate("a copied delivery went through");
        string memory fused = t.replicas == 1 ? "claimAndSubmit" : "claimAndReveal";
        bytes4 sel = bytes4(
            keccak256(
                bytes(
                    string.concat(
                        fused,
                        "((address,uint64,uint32,bytes32,uint128,uint128,uint8,uint8,uint32,uint32,uint32,uint40),uint256,bytes32)"
                    )
                )
            )
        );
        vm.prank(agents[COPIER]);
        (ok,) = address(agency).call(abi.encodeWithSelector(sel, t, index, result));
        if (ok) violate("a fused claim-and-deliver went through");
        int256[18] memory none;
        expectDeltas(before, none, "front-run delivery");
        calls["frontRunDelivery"]++;
    }

    /// The pending-transaction adversary on `claimAndCommit`: it sends an honest agent's pending
    /// call first. It then holds a slot whose commitment names the other agent, which it can never
    /// reveal (the settlement model and `copierReveal` check it loses for it).
    function frontRunCommit(uint256 seed, uint256 agentSeed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v,) =
            findSlot(seed, IJobAgency.Phase.Empty, ANY, Need.Claimable);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        if (t.replicas == 1) return;
        uint256 a = notCopier(agentSeed);
        bytes32 result = resultOf(a, v.id, seed);
        bytes32 salt = keccak256(abi.encode(seed, a, v.id, "fused"));
        bytes32 c = agency.commitmentOf(v.id, agents[a], result, salt);
        vm.prank(agents[COPIER]);
        try agency.claimAndCommit(t, index, c) {
            calls["frontRunCommit"]++;
        } catch {}
        vm.prank(agents[a]);
        try agency.claimAndCommit(t, index, c) {
            salts[v.id][agents[a]] = salt;
            committed[v.id][agents[a]] = result;
            calls["claimAndCommit"]++;
        } catch {}
    }

    // ------------------------------------------------------------ anyone

    function evict(uint256 seed) external {
        (bool found, uint256 k, IJobAgency.JobView memory v, uint256 slot) =
            findSlot(seed, IJobAgency.Phase.Claimed, ANY, Need.Anything);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        uint256[18] memory before = snapshot();
        try agency.evict(t, index, slot) {
            calls["evict"]++;
            int256[18] memory d;
            d[BURNT] = int256(uint256(t.collateral));
            expectDeltas(before, d, "evict");
            if (v.slots[slot].deadline >= block.timestamp) violate("evicted before the slot deadline");
            if (block.timestamp > t.deadline) violate("evicted after the deadline");
        } catch {}
    }

    function expire(uint256 seed) external {
        if (jobs.length == 0) return;
        (IJobAgency.Terms memory t, uint256 index,) = pick(seed);
        uint256[18] memory before = snapshot();
        bool was = uint256(agency.jobOf(t, index).status) >= uint256(IJobAgency.Status.Accepted);
        try agency.expire(t, index) {
            calls["expire"]++;
        } catch {}
        checkSettlement(t, index, before, was);
    }

    function finalize(uint256 seed) external {
        (bool found, uint256 k,,) = findSlot(seed, IJobAgency.Phase.Revealed, ANY, Need.Revealing);
        if (!found) return;
        (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
        uint256[18] memory before = snapshot();
        try agency.finalize(t, index) {
            calls["finalize"]++;
        } catch {}
        checkSettlement(t, index, before, false);
    }

    function settleOne(uint256 seed) external {
        if (jobs.length == 0) return;
        (IJobAgency.Terms memory t, uint256 index,) = pick(seed);
        uint256[18] memory before = snapshot();
        bool was = uint256(agency.jobOf(t, index).status) >= uint256(IJobAgency.Status.Accepted);
        uint256[] memory idx = new uint256[](1);
        idx[0] = index;
        try agency.settle(t, idx) returns (uint256 n) {
            if (n == 1) calls["settle"]++;
        } catch {}
        checkSettlement(t, index, before, was);
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 20 minutes));
        calls["warp"]++;
    }

    function deposit(uint256 agentSeed, uint256 amount) external {
        address a = agents[agentSeed % 15];
        amount = bound(amount, 1, 5 ether);
        vm.prank(a);
        agency.deposit{value: amount}();
        calls["deposit"]++;
    }

    function withdraw(uint256 agentSeed, uint256 amount) external {
        address a = agents[agentSeed % 15];
        uint256 b = balanceOf(a);
        if (b == 0) return;
        amount = bound(amount, 1, b);
        // Half the time to another wallet (withdrawTo), which must get exactly the amount.
        address to = (agentSeed >> 8) & 1 == 1 ? address(uint160(0xB0000 + agentSeed % 3)) : a;
        uint256 before = to.balance;
        vm.prank(a);
        if (to == a) agency.withdraw(amount);
        else agency.withdrawTo(payable(to), amount);
        if (to.balance - before != amount) violate("withdraw sent a different amount");
        if (balanceOf(a) != b - amount) violate("withdraw debited a different amount");
        calls[to == a ? "withdraw" : "withdrawTo"]++;
    }

    function forceSend(uint256 amount) external {
        amount = bound(amount, 1, 1 ether);
        vm.deal(address(this), address(this).balance + amount);
        new ForceSend{value: amount}(payable(address(agency)));
        forced += amount;
        calls["forceSend"]++;
    }

    /// Drives every job to a terminal state, as anyone may once the deadlines have passed.
    function settleEverything() external {
        vm.warp(block.timestamp + 181 days);
        for (uint256 k; k < jobs.length; ++k) {
            (IJobAgency.Terms memory t, uint256 index) = termsOf(k);
            uint256[18] memory before = snapshot();
            bool was = uint256(agency.jobOf(t, index).status) >= uint256(IJobAgency.Status.Accepted);
            uint256[] memory idx = new uint256[](1);
            idx[0] = index;
            agency.settle(t, idx);
            checkSettlement(t, index, before, was);
        }
    }
}

/// The market's invariants (docs/protocol.md §1, §3, §8) under random sequences of calls.
contract InvariantTest is TestBase {
    IJobAgency internal agency;
    Handler internal handler;

    function setUp() public {
        vm.warp(1_800_000_000);
        agency = IJobAgency(payable(deployAgency()));
        handler = new Handler(agency);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    /// Everything but the end-of-run sweep, weighted toward the work that moves jobs forward.
    function targetSelectors() public view returns (FuzzSelector[] memory s) {
        bytes4[28] memory all = [
            Handler.post.selector,
            Handler.post.selector,
            Handler.claim.selector,
            Handler.claim.selector,
            Handler.claim.selector,
            Handler.claim.selector,
            Handler.deliver.selector,
            Handler.deliver.selector,
            Handler.deliver.selector,
            Handler.reveal.selector,
            Handler.reveal.selector,
            Handler.reveal.selector,
            Handler.copyCommit.selector,
            Handler.copierReveal.selector,
            Handler.cancel.selector,
            Handler.release.selector,
            Handler.evict.selector,
            Handler.expire.selector,
            Handler.finalize.selector,
            Handler.settleOne.selector,
            Handler.warp.selector,
            Handler.warp.selector,
            Handler.forceSend.selector,
            Handler.withdraw.selector,
            Handler.claimBatch.selector,
            Handler.submitBatch.selector,
            Handler.frontRunDelivery.selector,
            Handler.frontRunCommit.selector
        ];
        s = new FuzzSelector[](1);
        s[0].addr = address(handler);
        s[0].selectors = new bytes4[](29);
        for (uint256 i; i < 28; ++i) {
            s[0].selectors[i] = all[i];
        }
        s[0].selectors[28] = Handler.deposit.selector;
    }

    /// One campaign checks every property after each call (forge runs a campaign per invariant
    /// function, so separate functions would triple the time for the same coverage):
    /// - solvency: the ether held equals Σ balances + Σ locked collateral + Σ escrowed rewards
    ///   + the burned total (+ ether forced in without a call);
    /// - every settlement so far moved exactly the money §3 says, terminal states never changed,
    ///   no wrong result beat an honest quorum;
    /// - no copied commitment was ever revealed;
    /// - reputation was never had for less than its burn: Σ points × 1 gwei ≤ Σ reputation fees
    ///   burned (§6), whatever the Sybil requesters and agents did.
    function invariant_market() public view {
        assertEq(address(agency).balance, owed() + agency.burned() + handler.forced(), "solvency: contract balance");
        if (handler.violations() != 0) fail(handler.firstViolation());
        assertEq(handler.copiedReveals(), 0, "copied commitment revealed");
        assertLe(handler.pointsWei(), handler.feesBurnt(), "reputation cheaper than its burn");
    }

    /// The handler's actions are not dead code: 800 calls drawn from the fuzzer's selector table
    /// (the same weights) with a fixed seed reach every kind of effect at least once, and the
    /// market's invariants hold after them.
    function test_everyHandlerActionTakesEffect() public {
        FuzzSelector[] memory table = targetSelectors();
        bytes4[] memory sels = table[0].selectors;
        uint256 x = 0x5eed;
        for (uint256 i; i < 800; ++i) {
            x = uint256(keccak256(abi.encode(x, i)));
            bytes4 sel = sels[x % sels.length];
            (bool ok,) = address(handler).call(abi.encodeWithSelector(sel, x >> 8, x >> 16, x >> 24));
            assertTrue(
                ok,
                string.concat(
                    "handler action ", vm.toString(uint256(uint32(sel))), " reverted at call ", vm.toString(i)
                )
            );
        }
        string[19] memory effects = [
            "post",
            "claim",
            "claimMany",
            "submit",
            "submitMany",
            "commit",
            "claimAndCommit",
            "revealLast",
            "reveal",
            "copyCommit",
            "frontRunDelivery",
            "frontRunCommit",
            "release",
            "evict",
            "expire",
            "finalize",
            "cancel",
            "withdraw",
            "withdrawTo"
        ];
        for (uint256 i; i < effects.length; ++i) {
            assertTrue(handler.calls(effects[i]) > 0, string.concat("never took effect: ", effects[i]));
        }
        assertTrue(handler.pointsWei() > 0, "no reputation was earned, so its bound was never tested");
        invariant_market();
        afterInvariant();
    }

    /// At the end of each run: every job can be driven to a terminal state by anyone, after
    /// which the contract holds exactly the internal balances (and any forced ether).
    function afterInvariant() public {
        handler.settleEverything();
        for (uint256 k; k < handler.jobCount(); ++k) {
            (IJobAgency.Terms memory t, uint256 index) = handler.termsOf(k);
            uint256 s = uint256(agency.jobOf(t, index).status);
            assertTrue(s >= uint256(IJobAgency.Status.Accepted), "job left non-terminal");
        }
        if (handler.violations() != 0) fail(handler.firstViolation());
        uint256 total;
        address[17] memory all = handler.actors();
        for (uint256 i; i < all.length; ++i) {
            total += handler.balanceOf(all[i]);
        }
        assertEq(address(agency).balance, total + agency.burned() + handler.forced(), "after settling everything");
    }

    function owed() internal view returns (uint256 total) {
        address[17] memory all = handler.actors();
        for (uint256 i; i < all.length; ++i) {
            total += handler.balanceOf(all[i]);
        }
        for (uint256 k; k < handler.jobCount(); ++k) {
            (IJobAgency.Terms memory t, uint256 index) = handler.termsOf(k);
            IJobAgency.JobView memory v = agency.jobOf(t, index);
            if (uint256(v.status) >= uint256(IJobAgency.Status.Accepted)) continue;
            total += t.reward;
            for (uint256 i; i < v.slots.length; ++i) {
                if (v.slots[i].phase != IJobAgency.Phase.Empty) total += t.collateral;
            }
        }
    }
}
