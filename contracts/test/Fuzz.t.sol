// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {Fixture} from "./Fixture.sol";

/// Fuzz tests over amounts, replica counts, quorums and timing.
contract FuzzTest is Fixture {
    bytes32 internal constant GOOD = keccak256("good");
    bytes32 internal constant BAD = keccak256("bad");

    function setUp() public override {
        super.setUp();
        // Fifteen agents, enough for the largest r.
        for (uint256 i = agents.length + 1; i <= 15; ++i) {
            address a = address(uint160(0xA6E47 * 16 + i));
            agents.push(a);
            vm.deal(a, 10 ether);
            vm.prank(a);
            agency.deposit{value: STAKE}();
        }
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function totalBalances() internal view returns (uint256 total) {
        for (uint256 i; i < agents.length; ++i) {
            total += balanceOf(agents[i]);
        }
        total += balanceOf(requester);
    }

    /// Any r, quorum, liars (who share one wrong result), silent agents and amounts: the
    /// settlement pays exactly as §3 says and every wei of reward and collateral is accounted for.
    function testFuzz_replicatedSettlement(
        uint256 rSeed,
        uint256 qSeed,
        uint256 liars,
        uint256 silent,
        uint128 reward,
        uint128 collateral
    ) public {
        uint8 r = uint8(bound(rSeed, 2, 15));
        uint8 q = uint8(bound(qSeed, r / 2 + 1, r));
        reward = uint128(bound(reward, 1, 1000 ether));
        collateral = uint128(bound(collateral, 0, STAKE));
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, r, q);
        t.reward = reward;
        t.collateral = collateral;
        vm.deal(requester, uint256(reward) + 1 ether);
        uint256 before = totalBalances();
        post(t, specs);

        bytes32[] memory results = new bytes32[](r);
        for (uint256 i; i < r; ++i) {
            results[i] = (liars >> i) & 1 == 1 ? BAD : GOOD;
        }
        claimAndCommitAll(t, 0, results);
        uint256 good;
        uint256 bad;
        for (uint256 i; i < r; ++i) {
            if ((silent >> i) & 1 == 1) continue;
            revealAs(agents[i], t, 0, i, results[i]);
            if (results[i] == GOOD) ++good;
            else ++bad;
        }
        if (statusOf(t, 0) == IJobAgency.Status.Revealing) {
            vm.warp(block.timestamp + REVEAL + 1);
            agency.finalize(t, 0);
        }

        checkModel(t, results, silent, good, bad, before);
    }

    struct Outcome {
        bytes32 win;
        uint256 winners;
        uint256 share;
        uint256 dust;
        uint256 refund;
    }

    /// Checks balances after settlement against docs/protocol.md §3, computed here.
    function checkModel(
        IJobAgency.Terms memory t,
        bytes32[] memory results,
        uint256 silent,
        uint256 good,
        uint256 bad,
        uint256 before
    ) internal view {
        Outcome memory o;
        o.win = good >= t.quorum ? GOOD : bad >= t.quorum ? BAD : bytes32(0);
        o.winners = o.win == GOOD ? good : o.win == BAD ? bad : 0;
        IJobAgency.Status want = o.winners == 0 ? IJobAgency.Status.NoConsensus : IJobAgency.Status.Accepted;
        assertEq(uint256(statusOf(t, 0)), uint256(want), "status");
        uint256 burnt;
        if (o.winners != 0) {
            // Winners share the reward; every other slot's collateral is burned (§3).
            // Winners share the reward less its reputation fee, which is burned (§6).
            uint256 pot = netOf(t.reward);
            o.share = pot / o.winners;
            o.dust = pot - o.share * o.winners;
            burnt = uint256(t.collateral) * (t.replicas - o.winners) + feeOf(t.reward);
        }
        o.refund = t.reward;
        for (uint256 i; i < t.replicas; ++i) {
            bool revealed = (silent >> i) & 1 == 0;
            uint256 expected = STAKE - t.collateral;
            if (o.winners == 0) {
                if (revealed) expected += t.collateral;
                else burnt += t.collateral;
            } else if (revealed && results[i] == o.win) {
                expected += uint256(t.collateral) + o.share + o.dust;
                o.dust = 0;
            }
            assertEq(balanceOf(agents[i]), expected, "agent balance");
        }
        assertEq(balanceOf(requester), o.winners == 0 ? o.refund : 0, "requester");
        assertEq(agency.burned(), burnt, "burned");
        assertEq(totalBalances() + burnt, before + t.reward, "conservation");
        assertEq(address(agency).balance, totalBalances() + burnt, "solvency");
    }

    /// An r = 1 job under any claim and delivery timing: delivered in time it pays; late, the
    /// submit fails and anyone can evict or expire, refunding the requester.
    function testFuzz_r1Timing(uint256 claimAfter, uint256 deliverAfter, uint32 window, uint40 duration) public {
        window = uint32(bound(window, 60, 90 days));
        duration = uint40(bound(duration, 1, 90 days));
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        t.deliveryWindow = window;
        t.deadline = uint40(block.timestamp) + duration;
        post(t, specs);
        bytes32 id = jobId(t, 0);

        vm.warp(block.timestamp + bound(claimAfter, 0, uint256(duration) + 10));
        if (block.timestamp > t.deadline) {
            vm.prank(agents[0]);
            vm.expectRevert(err(IJobAgency.ClaimsClosed.selector, id));
            agency.claim(t, 0);
            agency.expire(t, 0);
            assertEq(balanceOf(requester), REWARD, "refund");
            return;
        }
        claimAs(agents[0], t, 0);
        uint256 slotDeadline = block.timestamp + window < t.deadline ? block.timestamp + window : t.deadline;
        assertEq(agency.jobOf(t, 0).slots[0].deadline, slotDeadline, "slot deadline");
        vm.warp(block.timestamp + bound(deliverAfter, 0, uint256(window) + 10));
        if (block.timestamp <= slotDeadline) {
            vm.prank(agents[0]);
            agency.submit(t, 0, 0, GOOD);
            assertEq(balanceOf(agents[0]), STAKE + netOf(REWARD), "paid");
        } else {
            vm.prank(agents[0]);
            vm.expectRevert(err(IJobAgency.SlotLapsed.selector, id, 0));
            agency.submit(t, 0, 0, GOOD);
            if (block.timestamp <= t.deadline) {
                agency.evict(t, 0, 0);
            } else {
                // Claims closed: no eviction; the expiry slashes it.
                vm.expectRevert(err(IJobAgency.ClaimsClosed.selector, id));
                agency.evict(t, 0, 0);
                agency.expire(t, 0);
                assertEq(balanceOf(requester), REWARD, "refund");
            }
            assertEq(balanceOf(agents[0]), STAKE - COLLATERAL, "slashed");
            assertEq(agency.burned(), COLLATERAL, "the slash is burned");
        }
    }

    /// Posting accepts exactly the terms §2 allows.
    function testFuzz_postValidation(uint8 r, uint8 q, uint256 deadlineIn, uint32 delivery, uint32 revealW) public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, r, q);
        deadlineIn = bound(deadlineIn, 0, 100 days);
        t.deadline = uint40(block.timestamp + deadlineIn);
        t.deliveryWindow = delivery;
        t.revealWindow = revealW;
        bytes memory e;
        if (r == 0 || r > 15) {
            e = abi.encodeWithSelector(IJobAgency.BadReplicas.selector, r);
        } else if (r == 1 ? q != 1 : (uint256(q) * 2 <= r || q > r)) {
            e = abi.encodeWithSelector(IJobAgency.BadQuorum.selector, q, r);
        } else if (deadlineIn == 0 || deadlineIn > 90 days) {
            e = abi.encodeWithSelector(IJobAgency.BadDeadline.selector, t.deadline);
        } else if (delivery < 60 || delivery > 90 days || (r > 1 && (revealW < 60 || revealW > 90 days))) {
            e = abi.encodeWithSelector(IJobAgency.BadWindow.selector);
        }
        vm.prank(requester);
        if (e.length != 0) vm.expectRevert(e);
        agency.post{value: REWARD}(t, specs);
        if (e.length == 0) assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Open), "posted");
    }

    /// Deposits and withdrawals of any size move exactly that much.
    function testFuzz_depositWithdraw(uint96 amount, uint96 take) public {
        address a = agents[0];
        amount = uint96(bound(amount, 1, 5 ether));
        vm.prank(a);
        agency.deposit{value: amount}();
        uint256 have = STAKE + amount;
        uint256 before = a.balance;
        vm.prank(a);
        if (take == 0) {
            vm.expectRevert(IJobAgency.ZeroAmount.selector);
        } else if (take > have) {
            vm.expectRevert(abi.encodeWithSelector(IJobAgency.InsufficientBalance.selector, take, have));
        }
        agency.withdraw(take);
        bool ok = take != 0 && take <= have;
        assertEq(a.balance - before, ok ? take : 0, "sent");
        assertEq(balanceOf(a), ok ? have - take : have, "left");
    }
}
