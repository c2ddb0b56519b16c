// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {Fixture} from "./Fixture.sol";

/// Holds a slot for as long as the job lives: before each slot deadline it releases and claims
/// again in one transaction, so nobody else ever sees the slot free (finding 3).
contract Squatter {
    IJobAgency internal immutable agency;

    constructor(IJobAgency a) payable {
        agency = a;
        agency.deposit{value: msg.value}();
    }

    function hold(IJobAgency.Terms calldata t, uint256 index) external returns (uint256) {
        return agency.claim(t, index);
    }

    function cycle(IJobAgency.Terms calldata t, uint256 index, uint256 slot) external returns (uint256) {
        agency.release(t, index, slot);
        return agency.claim(t, index);
    }
}

/// The review's findings against protocol v1 (issue 19), each in the attacker's shape: the
/// attacker does what the finding describes, and the test asserts it gains nothing or is refused.
/// Calls that v1 had and v2 removed are sent as raw calldata, as a copier replays a pending
/// transaction, so the same file runs against both versions.
contract FindingsTest is Fixture {
    bytes32 internal constant GOOD = keccak256("the true envelope");
    bytes32 internal constant BAD = keccak256("a wrong envelope");
    string internal constant TERMS =
        "(address,uint64,uint32,bytes32,uint128,uint128,uint8,uint8,uint32,uint32,uint32,uint40)";

    address internal thief = address(0x7E1F);

    function setUp() public override {
        super.setUp();
        vm.deal(thief, 10 ether);
        vm.prank(thief);
        agency.deposit{value: STAKE}();
    }

    /// Sends `data` to the contract as `from`; whether it went through.
    function send(address from, bytes memory data) internal returns (bool ok) {
        vm.prank(from);
        (ok,) = address(agency).call(data);
    }

    /// Calldata of v1's fused claim-and-deliver call `name` (`claimAndSubmit`, `claimAndReveal`),
    /// which carried the digest before its sender held a slot.
    function fusedData(string memory name, IJobAgency.Terms memory t, uint256 index, bytes32 result)
        internal
        pure
        returns (bytes memory)
    {
        bytes4 sel = bytes4(keccak256(bytes(string.concat(name, "(", TERMS, ",uint256,bytes32)"))));
        return abi.encodeWithSelector(sel, t, index, result);
    }

    /// Finding 1: a front-runner copies every delivery an honest agent may send and is never paid.
    function test_f1_frontRunnerCopyingDeliveriesIsNeverPaid() public {
        // r = 1. A digest may not travel before its sender holds the slot: the fused form an
        // agent that ran first would send is refused for whoever sends it.
        IJobAgency.Terms memory t = postOne(1, 1);
        send(thief, fusedData("claimAndSubmit", t, 0, GOOD));
        assertEq(balanceOf(thief), STAKE, "r = 1: the copier of a fused delivery gained");
        // The honest path: claim (no digest), then submit; a copy of the submit is refused.
        uint256 slot = claimAs(agents[0], t, 0);
        assertTrue(!send(thief, abi.encodeCall(agency.submit, (t, 0, slot, GOOD))), "copied submit refused");
        vm.prank(agents[0]);
        agency.submit(t, 0, slot, GOOD);
        assertEq(balanceOf(agents[0]), STAKE + netOf(REWARD), "the agent that did the work is paid");

        // r = 3, the last slot delivered in the clear.
        IJobAgency.Terms memory u = postOne(3, 2);
        claimAndCommitAll(u, 0, pair(GOOD));
        send(thief, fusedData("claimAndReveal", u, 0, GOOD));
        slot = claimAs(agents[2], u, 0);
        assertTrue(!send(thief, abi.encodeCall(agency.revealLast, (u, 0, slot, GOOD))), "copied revealLast refused");
        vm.prank(agents[2]);
        agency.revealLast(u, 0, slot, GOOD);
        revealAs(agents[0], u, 0, 0, GOOD);
        revealAs(agents[1], u, 0, 1, GOOD);
        assertEq(uint256(statusOf(u, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        assertLe(balanceOf(thief), STAKE, "r = 3: the copier of a last-slot delivery gained");
        (uint256 accepted,,) = counters(thief);
        assertEq(accepted, 0, "the copier earned no reputation");

        // r = 3, a copied claimAndCommit: the commitment names the agent that made it, so the
        // copier holds a slot it can never reveal, and loses its collateral.
        IJobAgency.Terms memory w = postOne(3, 2);
        claimAndCommitAll(w, 0, pair(GOOD));
        bytes32 c = agency.commitmentOf(jobId(w, 0), agents[2], GOOD, saltOf(agents[2], 0));
        assertTrue(send(thief, abi.encodeCall(agency.claimAndCommit, (w, 0, c))), "the copy lands first");
        assertTrue(!send(agents[2], abi.encodeCall(agency.claimAndCommit, (w, 0, c))), "the original finds no slot");
        vm.prank(thief);
        vm.expectRevert(err(IJobAgency.BadReveal.selector, jobId(w, 0), 2));
        agency.reveal(w, 0, 2, GOOD, saltOf(agents[2], 0));
        revealAs(agents[0], w, 0, 0, GOOD);
        revealAs(agents[1], w, 0, 1, GOOD);
        vm.warp(agency.jobOf(w, 0).revealEnd + 1);
        agency.finalize(w, 0);
        assertEq(balanceOf(thief), STAKE - COLLATERAL, "the copier lost its collateral");
    }

    /// Finding 2: the requester sees a pending delivery and cancels ahead of it. Under v2 a digest
    /// is only ever sent by an agent whose claim already landed, and a claimed job cannot be
    /// cancelled: the requester gets either the result (and pays) or its refund (and no digest).
    function test_f2_requesterCancellingAheadOfADeliveryGetsNoFreeResult() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        // The fused delivery is the only way a digest could travel before a claim landed.
        bytes memory fused = fusedData("claimAndSubmit", t, 0, GOOD);
        assertTrue(!send(agents[0], fused), "a digest travelled with no slot held");
        // The agent claims first; the cancel sent ahead of its submit is refused.
        uint256 slot = claimAs(agents[0], t, 0);
        vm.prank(requester);
        vm.expectRevert(err(IJobAgency.JobClaimed.selector, jobId(t, 0)));
        agency.cancel(t, 0);
        vm.prank(agents[0]);
        agency.submit(t, 0, slot, GOOD);
        assertEq(balanceOf(requester), 0, "no refund for a result delivered");
        assertEq(balanceOf(agents[0]), STAKE + netOf(REWARD), "the agent is paid");
    }

    /// Finding 3: a squatter that releases and re-claims before each slot deadline pays for every
    /// round it holds the slot.
    function test_f3_squattingWithReleasePaysEachRound() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        Squatter s = new Squatter{value: STAKE}(agency);
        uint256 slot = s.hold(t, 0);
        uint256 rounds;
        while (block.timestamp + DELIVERY - 1 < t.deadline) {
            vm.warp(block.timestamp + DELIVERY - 1);
            vm.prank(agents[0]);
            vm.expectRevert(err(IJobAgency.NoFreeSlot.selector, jobId(t, 0)));
            agency.claim(t, 0);
            slot = s.cycle(t, 0, slot);
            ++rounds;
        }
        assertTrue(rounds >= 6, "the squatter held the slot for the job's life");
        // Each round held the slot for all but a second of its window: it burned half the
        // collateral times that share.
        uint256 fee = uint256(COLLATERAL) * (DELIVERY - 1) / (2 * uint256(DELIVERY));
        assertLe(balanceOf(address(s)), STAKE - COLLATERAL - rounds * fee, "each round costs");
        assertTrue(rounds * fee * 10 >= 29 * uint256(COLLATERAL), "an hour's squatting burns 2.9 collaterals");
    }

    /// Finding 4: once the deadline has opened reveals, a non-committer cannot be evicted (which
    /// paid its collateral to the requester): it is settled with the job.
    function test_f4_noEvictOnceRevealsAreOpen() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAndCommitAll(t, 0, pair(GOOD));
        claimAs(agents[2], t, 0); // never commits
        vm.warp(uint256(t.deadline) + 1);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Revealing), "reveals open");
        vm.prank(requester);
        vm.expectRevert(err(IJobAgency.ClaimsClosed.selector, jobId(t, 0)));
        agency.evict(t, 0, 2);
        revealAs(agents[0], t, 0, 0, GOOD);
        revealAs(agents[1], t, 0, 1, GOOD);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        assertEq(balanceOf(requester), 0, "the requester gained nothing from the non-committer");
        assertEq(balanceOf(agents[2]), STAKE - COLLATERAL, "the non-committer is slashed");
    }

    /// Finding 5 (the money half): a requester whose own Sybils outvote an honest agent takes
    /// none of the honest agent's collateral. (That the wrong result stands is sortition's and
    /// escalation's part.)
    function test_f5_requesterRunSybilMajorityTakesNoHonestCollateral() public {
        address[2] memory ring = [agents[0], agents[1]];
        uint256 before = requester.balance + balanceOf(requester) + balanceOf(ring[0]) + balanceOf(ring[1]);
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAndCommitAll(t, 0, results3(BAD, BAD, GOOD));
        revealAs(ring[0], t, 0, 0, BAD);
        revealAs(ring[1], t, 0, 1, BAD);
        revealAs(agents[2], t, 0, 2, GOOD);
        uint256 afterwards = requester.balance + balanceOf(requester) + balanceOf(ring[0]) + balanceOf(ring[1]);
        assertLe(afterwards, before, "the ring profited from the honest agent's slash");
    }

    /// Finding 6: a Sybil requester posts 100 jobs at 1 wei with no collateral, and its Sybil agent
    /// runs them with `claimMany`/`submitMany`. In v1 that was score 100, enough for any gate of
    /// 100. In v2 a point is a gwei burned as reputation fee (§6): the farm earns no point and the
    /// gate stays shut.
    function test_f6_farmedReputationOpensNoGate() public {
        address farmer = agents[5];
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(100, 1, 1);
        t.requester = farmer;
        t.reward = 1;
        t.collateral = 0;
        post(t, specs);
        uint256[] memory idx = new uint256[](100);
        bytes32[] memory results = new bytes32[](100);
        for (uint256 i; i < 100; ++i) {
            idx[i] = i;
            results[i] = keccak256(abi.encode("farmed", i));
        }
        vm.prank(farmer);
        agency.claimMany(t, idx);
        vm.prank(farmer);
        agency.submitMany(t, idx, results);
        (uint256 accepted,,) = counters(farmer);
        assertEq(accepted, 100, "the farm ran");

        (IJobAgency.Terms memory g, bytes32[] memory gs) = termsOf(1, 1, 1);
        g.minReputation = 100;
        post(g, gs);
        bool opened = send(farmer, abi.encodeWithSelector(IJobAgency.claim.selector, g, 0));
        assertTrue(!opened, "100 farmed jobs opened a gate of 100");
    }

    /// Finding 6, the price: a ring that does reach a gate of 100 points has burned 100 gwei, and
    /// nothing of it comes back to the owner. Its requester and its agent together end poorer by
    /// exactly the fee, and the points never exceed what was burned.
    function test_f6_aPointCostsAGweiBurned() public {
        address farmer = agents[5];
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        t.requester = farmer;
        t.reward = 100 gwei * 10_000 / 100; // its 1% fee is 100 gwei
        t.collateral = 0;
        uint256 before = farmer.balance + balanceOf(farmer);
        uint256 burnedBefore = agency.burned();
        post(t, specs);
        deliverAs(farmer, t, 0, GOOD);
        assertEq(pointsOf(farmer), 100, "100 points");
        assertEq(agency.burned() - burnedBefore, 100 gwei, "burned");
        assertEq(before - (farmer.balance + balanceOf(farmer)), 100 gwei, "the ring paid the fee");

        (IJobAgency.Terms memory g, bytes32[] memory gs) = termsOf(1, 1, 1);
        g.minReputation = 100;
        post(g, gs);
        claimAs(farmer, g, 0);
        assertEq(uint256(agency.jobOf(g, 0).slots[0].phase), uint256(IJobAgency.Phase.Claimed), "the gate opened");
    }

    /// Finding 8: the same spec twice in one batch is refused, so one copy's public result cannot
    /// answer the other.
    function test_f8_duplicateSpecInABatchIsRefused() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(3, 1, 1);
        specs[2] = specs[0];
        t.specs = keccak256(abi.encodePacked(specs));
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobAgency.DuplicateSpec.selector, 2));
        agency.post{value: 3 * uint256(REWARD)}(t, specs);
    }

    function pair(bytes32 r) internal pure returns (bytes32[] memory rs) {
        rs = new bytes32[](2);
        rs[0] = r;
        rs[1] = r;
    }
}
