// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {Fixture} from "./Fixture.sol";

/// One test per transition and per revert of docs/protocol.md §2.
contract PostTest is Fixture {
    function test_post_escrowsRewardAndOpensJobs() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(5, 1, 1);
        uint256 before = address(agency).balance;
        vm.recordLogs();
        bytes32 batch = post(t, specs);
        assertEq(address(agency).balance - before, uint256(REWARD) * 5, "escrow");
        assertEq(batch, agency.batchIdOf(t), "batch id");
        assertEq(uint256(batch) & 0xffffffff, 0, "low bits clear");
        for (uint256 i; i < 5; ++i) {
            IJobAgency.JobView memory v = agency.jobOf(t, i);
            assertEq(uint256(v.status), uint256(IJobAgency.Status.Open), "open");
            assertEq(v.id, bytes32(uint256(batch) | i), "job id");
        }
        vm.expectRevert(err(IJobAgency.UnknownJob.selector, bytes32(uint256(batch) | 5)));
        agency.jobOf(t, 5);
        assertEq(vm.getRecordedLogs()[0].topics[0], IJobAgency.JobsPosted.selector, "event");
    }

    function test_post_replicatedBatch() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(3, 5, 3);
        post(t, specs);
        for (uint256 i; i < 3; ++i) {
            assertEq(uint256(statusOf(t, i)), uint256(IJobAgency.Status.Open), "open");
            assertEq(agency.jobOf(t, i).slots.length, 5, "slots");
        }
    }

    function test_post_revertsNotRequester() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        vm.deal(agents[0], 1 ether);
        vm.prank(agents[0]);
        vm.expectRevert(IJobAgency.NotRequester.selector);
        agency.post{value: REWARD}(t, specs);
    }

    function expectPostRevert(IJobAgency.Terms memory t, bytes32[] memory specs, uint256 value, bytes memory e)
        internal
    {
        vm.prank(t.requester);
        vm.expectRevert(e);
        agency.post{value: value}(t, specs);
    }

    function test_post_revertsBadBatch() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(2, 1, 1);
        bytes memory e = abi.encodeWithSelector(IJobAgency.BadBatch.selector);
        bytes32[] memory one = new bytes32[](1);
        one[0] = specs[0];
        expectPostRevert(t, one, 2 * REWARD, e); // length mismatch
        t.specs = keccak256("other");
        expectPostRevert(t, specs, 2 * REWARD, e); // specs hash mismatch
        (t, specs) = termsOf(0, 1, 1);
        expectPostRevert(t, specs, 0, e); // empty
        (t, specs) = termsOf(1025, 1, 1);
        expectPostRevert(t, specs, 1025 * uint256(REWARD), e); // above MAX_BATCH
    }

    function test_post_revertsBadSpec() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(3, 1, 1);
        specs[2] = 0;
        t.specs = keccak256(abi.encodePacked(specs));
        expectPostRevert(t, specs, 3 * REWARD, abi.encodeWithSelector(IJobAgency.BadSpec.selector, 2));
    }

    function test_post_revertsZeroReward() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        t.reward = 0;
        expectPostRevert(t, specs, 0, abi.encodeWithSelector(IJobAgency.ZeroReward.selector));
    }

    function test_post_revertsBadReplicas() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 0, 1);
        expectPostRevert(t, specs, REWARD, abi.encodeWithSelector(IJobAgency.BadReplicas.selector, 0));
        t.replicas = 16;
        t.quorum = 9;
        expectPostRevert(t, specs, REWARD, abi.encodeWithSelector(IJobAgency.BadReplicas.selector, 16));
    }

    function test_post_revertsBadQuorum() public {
        uint8[2][5] memory bad = [[1, 2], [1, 0], [3, 1], [3, 4], [4, 2]];
        for (uint256 i; i < bad.length; ++i) {
            (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, bad[i][0], bad[i][1]);
            expectPostRevert(
                t, specs, REWARD, abi.encodeWithSelector(IJobAgency.BadQuorum.selector, bad[i][1], bad[i][0])
            );
        }
        // The boundaries that pass: a strict majority up to r.
        postOne(4, 3);
        postOne(4, 4);
        postOne(15, 8);
    }

    function test_post_revertsBadDeadline() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        uint40[3] memory bad =
            [uint40(block.timestamp), uint40(block.timestamp - 1), uint40(block.timestamp + 90 days + 1)];
        for (uint256 i; i < bad.length; ++i) {
            t.deadline = bad[i];
            expectPostRevert(t, specs, REWARD, abi.encodeWithSelector(IJobAgency.BadDeadline.selector, bad[i]));
        }
        t.deadline = uint40(block.timestamp + 90 days);
        post(t, specs);
    }

    function test_post_revertsBadWindow() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 3, 2);
        bytes memory e = abi.encodeWithSelector(IJobAgency.BadWindow.selector);
        t.deliveryWindow = 59;
        expectPostRevert(t, specs, REWARD, e);
        t.deliveryWindow = 90 days + 1;
        expectPostRevert(t, specs, REWARD, e);
        t.deliveryWindow = DELIVERY;
        t.revealWindow = 59;
        expectPostRevert(t, specs, REWARD, e);
        t.revealWindow = 90 days + 1;
        expectPostRevert(t, specs, REWARD, e);
        // r = 1 has no reveals: its reveal window is not checked.
        (t, specs) = termsOf(1, 1, 1);
        t.revealWindow = 0;
        post(t, specs);
    }

    function test_post_revertsWrongValue() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(2, 1, 1);
        expectPostRevert(t, specs, REWARD, abi.encodeWithSelector(IJobAgency.WrongValue.selector, 2 * REWARD, REWARD));
        expectPostRevert(
            t, specs, 3 * REWARD, abi.encodeWithSelector(IJobAgency.WrongValue.selector, 2 * REWARD, 3 * REWARD)
        );
    }

    function test_post_revertsBatchExists() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        bytes32 batch = post(t, specs);
        expectPostRevert(t, specs, REWARD, abi.encodeWithSelector(IJobAgency.BatchExists.selector, batch));
    }

    function test_post_revertsDuplicateSpec() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(4, 1, 1);
        specs[3] = specs[1];
        t.specs = keccak256(abi.encodePacked(specs));
        expectPostRevert(t, specs, 4 * uint256(REWARD), abi.encodeWithSelector(IJobAgency.DuplicateSpec.selector, 3));
        // Another batch with the same digests, in the same transaction, has a set of its own.
        (IJobAgency.Terms memory u, bytes32[] memory same) = termsOf(2, 1, 1);
        post(u, same);
        u.salt += 1000;
        post(u, same);
        assertEq(uint256(statusOf(u, 1)), uint256(IJobAgency.Status.Open), "posted");
    }

    function test_anyCall_revertsUnknownJob() public {
        (IJobAgency.Terms memory t,) = termsOf(1, 3, 2); // never posted
        bytes32 id = jobId(t, 0);
        bytes memory e = err(IJobAgency.UnknownJob.selector, id);
        vm.startPrank(agents[0]);
        vm.expectRevert(e);
        agency.claim(t, 0);
        vm.expectRevert(e);
        agency.commit(t, 0, 0, bytes32(0));
        vm.expectRevert(e);
        agency.reveal(t, 0, 0, bytes32(0), bytes32(0));
        vm.expectRevert(e);
        agency.finalize(t, 0);
        vm.expectRevert(e);
        agency.evict(t, 0, 0);
        vm.expectRevert(e);
        agency.expire(t, 0);
        vm.expectRevert(e);
        agency.release(t, 0, 0);
        vm.expectRevert(e);
        agency.claimAndCommit(t, 0, bytes32(0));
        vm.expectRevert(e);
        agency.revealLast(t, 0, 0, bytes32(0));
        uint256[] memory one = new uint256[](1);
        vm.expectRevert(e);
        agency.claimMany(t, one);
        vm.expectRevert(e);
        agency.submitMany(t, one, new bytes32[](1));
        vm.expectRevert(e);
        agency.jobOf(t, 0);
        vm.stopPrank();
        vm.prank(requester);
        vm.expectRevert(e);
        agency.cancel(t, 0);
        uint256[] memory idx = new uint256[](1);
        vm.expectRevert(e);
        agency.settle(t, idx);

        // A posted batch, but an index past its count.
        IJobAgency.Terms memory p = postOne(1, 1);
        e = err(IJobAgency.UnknownJob.selector, jobId(p, 1));
        vm.startPrank(agents[0]);
        vm.expectRevert(e);
        agency.claim(p, 1);
        vm.expectRevert(e);
        agency.submit(p, 1, 0, bytes32(uint256(1)));
        vm.stopPrank();
    }
}

contract CancelTest is Fixture {
    function test_cancel_refundsRequester() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        vm.prank(requester);
        agency.cancel(t, 0);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Cancelled), "cancelled");
        assertEq(balanceOf(requester), REWARD, "refund credited");
        vm.prank(requester);
        agency.withdraw(REWARD);
        assertEq(balanceOf(requester), 0, "withdrawn");
    }

    function test_cancel_afterEvictionLeavesNoHolder() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        claimAs(agents[0], t, 0);
        vm.warp(block.timestamp + DELIVERY + 1);
        agency.evict(t, 0, 0);
        vm.prank(requester);
        agency.cancel(t, 0);
        assertEq(balanceOf(requester), REWARD, "refund; the slash is burned");
        assertEq(agency.burned(), COLLATERAL, "burned");
    }

    function test_cancel_reverts() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        vm.prank(agents[0]);
        vm.expectRevert(IJobAgency.NotRequester.selector);
        agency.cancel(t, 0);

        claimAs(agents[0], t, 0);
        vm.prank(requester);
        vm.expectRevert(err(IJobAgency.JobClaimed.selector, jobId(t, 0)));
        agency.cancel(t, 0);

        IJobAgency.Terms memory r3 = postOne(3, 2);
        claimAs(agents[0], r3, 0);
        vm.prank(requester);
        vm.expectRevert(err(IJobAgency.JobClaimed.selector, jobId(r3, 0)));
        agency.cancel(r3, 0);

        IJobAgency.Terms memory once = postOne(1, 1);
        vm.startPrank(requester);
        agency.cancel(once, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IJobAgency.JobEnded.selector, jobId(once, 0), IJobAgency.Status.Cancelled)
        );
        agency.cancel(once, 0);
        vm.stopPrank();
    }
}

contract BalanceTest is Fixture {
    function test_depositAndWithdraw() public {
        address a = agents[0];
        vm.prank(a);
        (bool ok,) = address(agency).call{value: 1 ether}("");
        assertTrue(ok, "plain transfer deposits");
        assertEq(balanceOf(a), STAKE + 1 ether, "balance");
        uint256 before = a.balance;
        vm.prank(a);
        agency.withdraw(0.5 ether);
        assertEq(a.balance - before, 0.5 ether, "sent");
        address to = address(0xB0B);
        vm.prank(a);
        agency.withdrawTo(payable(to), 0.25 ether);
        assertEq(to.balance, 0.25 ether, "sent elsewhere");
        assertEq(balanceOf(a), STAKE + 0.25 ether, "left");
    }

    function test_balance_reverts() public {
        address a = agents[0];
        vm.startPrank(a);
        vm.expectRevert(abi.encodeWithSelector(IJobAgency.InsufficientBalance.selector, STAKE + 1, STAKE));
        agency.withdraw(STAKE + 1);
        vm.expectRevert(IJobAgency.ZeroAmount.selector);
        agency.withdraw(0);
        vm.expectRevert(IJobAgency.ZeroAmount.selector);
        agency.deposit{value: 0}();
        vm.stopPrank();
        assertEq(balanceOf(a), STAKE, "untouched");
    }

    function test_withdraw_cannotTakeLockedCollateral() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        address a = agents[0];
        claimAs(a, t, 0);
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(IJobAgency.InsufficientBalance.selector, STAKE, STAKE - COLLATERAL));
        agency.withdraw(STAKE);
    }
}

contract ClaimTest is Fixture {
    function test_claim_locksCollateral() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        vm.expectEmit(true, true, false, true, address(agency));
        emit IJobAgency.Claimed(jobId(t, 0), agents[0], 0, block.timestamp + DELIVERY);
        uint256 slot = claimAs(agents[0], t, 0);
        assertEq(slot, 0, "first slot");
        assertEq(claimAs(agents[1], t, 0), 1, "second slot");
        assertEq(balanceOf(agents[0]), STAKE - COLLATERAL, "locked");
        IJobAgency.JobView memory v = agency.jobOf(t, 0);
        assertEq(v.held, 2, "held");
        assertEq(v.slots[1].agent, agents[1], "holder");
        assertEq(uint256(v.slots[1].phase), uint256(IJobAgency.Phase.Claimed), "phase");
        assertEq(v.slots[1].deadline, block.timestamp + DELIVERY, "slot deadline");
        (, uint256 number,,,,) = agency.accountOf(agents[1]);
        assertEq(agency.agentAt(number), agents[1], "agent number");
    }

    function test_claim_slotDeadlineCappedByJobDeadline() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        vm.warp(t.deadline - 30);
        claimAs(agents[0], t, 0);
        assertEq(agency.jobOf(t, 0).slots[0].deadline, t.deadline, "capped");
    }

    function test_claim_reverts() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        claimAs(agents[0], t, 0);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.AlreadyClaimed.selector, id, 0));
        agency.claim(t, 0);

        claimAs(agents[1], t, 0);
        claimAs(agents[2], t, 0);
        vm.prank(agents[3]);
        vm.expectRevert(err(IJobAgency.NoFreeSlot.selector, id));
        agency.claim(t, 0);

        IJobAgency.Terms memory late = postOne(1, 1);
        vm.warp(late.deadline + 1);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.ClaimsClosed.selector, jobId(late, 0)));
        agency.claim(late, 0);
    }

    function test_claim_revertsInsufficientStake() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        address poor = address(0x9009);
        vm.deal(poor, 1 ether);
        vm.startPrank(poor);
        agency.deposit{value: COLLATERAL - 1}();
        vm.expectRevert(abi.encodeWithSelector(IJobAgency.InsufficientStake.selector, COLLATERAL, COLLATERAL - 1));
        agency.claim(t, 0);
        agency.deposit{value: 1}();
        agency.claim(t, 0);
        vm.stopPrank();
        assertEq(balanceOf(poor), 0, "all locked");
    }

    function test_claim_revertsOnEndedOrRevealingJob() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        deliverAs(agents[0], t, 0, keccak256("r"));
        vm.prank(agents[1]);
        vm.expectRevert(abi.encodeWithSelector(IJobAgency.JobEnded.selector, jobId(t, 0), IJobAgency.Status.Accepted));
        agency.claim(t, 0);

        IJobAgency.Terms memory r2 = postOne(2, 2);
        bytes32 res = keccak256("r");
        for (uint256 i; i < 2; ++i) {
            commitAs(agents[i], r2, 0, claimAs(agents[i], r2, 0), res);
        }
        vm.prank(agents[2]);
        vm.expectRevert(err(IJobAgency.CommitsClosed.selector, jobId(r2, 0)));
        agency.claim(r2, 0);
    }

    function test_claimMany_oneSlotEach() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(6, 1, 1);
        post(t, specs);
        uint256[] memory idx = new uint256[](6);
        for (uint256 i; i < 6; ++i) {
            idx[i] = i;
        }
        vm.prank(agents[0]);
        agency.claimMany(t, idx);
        assertEq(balanceOf(agents[0]), STAKE - 6 * uint256(COLLATERAL), "six locked");
        bytes32[] memory rs = specsOf(6, 99);
        vm.prank(agents[0]);
        agency.submitMany(t, idx, rs);
        assertEq(balanceOf(agents[0]), STAKE + 6 * netOf(REWARD), "six paid");
        (uint256 accepted,,) = counters(agents[0]);
        assertEq(accepted, 6, "six accepted");
        for (uint256 i; i < 6; ++i) {
            assertEq(uint256(statusOf(t, i)), uint256(IJobAgency.Status.Accepted), "accepted");
        }
        vm.prank(agents[0]);
        vm.expectRevert(IJobAgency.LengthMismatch.selector);
        agency.submitMany(t, idx, new bytes32[](5));
    }
}

contract ReleaseEvictTest is Fixture {
    function test_release_burnsTheFeeReturnsTheRestCountsMiss() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        // Given back at once: nothing burned.
        uint256 slot = claimAs(agents[0], t, 0);
        vm.prank(agents[0]);
        agency.release(t, 0, slot);
        assertEq(balanceOf(agents[0]), STAKE, "all collateral back");
        // Held for half its window: a quarter of the collateral burned (half of half).
        slot = claimAs(agents[0], t, 0);
        vm.warp(block.timestamp + DELIVERY / 2);
        uint256 fee = COLLATERAL / 4;
        vm.prank(agents[0]);
        vm.expectEmit(true, true, false, true, address(agency));
        emit IJobAgency.Released(jobId(t, 0), agents[0], slot, fee);
        agency.release(t, 0, slot);
        assertEq(balanceOf(agents[0]), STAKE - fee, "collateral back but the fee");
        assertEq(agency.burned(), fee, "the fee is burned");
        (,, uint256 missed) = counters(agents[0]);
        assertEq(missed, 2, "a miss each");
        assertEq(agency.jobOf(t, 0).held, 0, "slot free");
        assertEq(claimAs(agents[1], t, 0), 0, "reopened");
    }

    function test_release_reverts() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        claimAs(agents[0], t, 0);
        vm.prank(agents[1]);
        vm.expectRevert(err(IJobAgency.NotSlotHolder.selector, jobId(t, 0), 0));
        agency.release(t, 0, 0);
        vm.warp(block.timestamp + DELIVERY + 1);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.SlotLapsed.selector, jobId(t, 0), 0));
        agency.release(t, 0, 0);
    }

    function test_evict_burnsTheSlashAndReopens() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAs(agents[0], t, 0);
        uint256 slot = claimAs(agents[1], t, 0);
        vm.warp(block.timestamp + DELIVERY + 1);
        vm.expectEmit(true, true, false, true, address(agency));
        emit IJobAgency.Slashed(jobId(t, 0), agents[1], COLLATERAL, 0);
        agency.evict(t, 0, slot);
        assertEq(balanceOf(agents[1]), STAKE - COLLATERAL, "slashed");
        assertEq(balanceOf(requester), 0, "nothing to the requester");
        assertEq(agency.burned(), COLLATERAL, "burned");
        (,, uint256 missed) = counters(agents[1]);
        assertEq(missed, 1, "miss");
        assertEq(claimAs(agents[2], t, 0), slot, "slot reopened");
    }

    function test_evict_reverts() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 slot = claimAs(agents[0], t, 0);
        vm.expectRevert(err(IJobAgency.TooEarly.selector, id, block.timestamp + DELIVERY));
        agency.evict(t, 0, slot);
        vm.expectRevert(err(IJobAgency.NotEvictable.selector, id, 1));
        agency.evict(t, 0, 1); // empty
        vm.expectRevert(err(IJobAgency.NotEvictable.selector, id, 3));
        agency.evict(t, 0, 3); // out of range
        commitAs(agents[0], t, 0, slot, keccak256("r"));
        vm.warp(block.timestamp + DELIVERY + 1);
        vm.expectRevert(err(IJobAgency.NotEvictable.selector, id, slot));
        agency.evict(t, 0, slot); // delivered

        IJobAgency.Terms memory done = postOne(1, 1);
        deliverAs(agents[0], done, 0, keccak256("r"));
        vm.expectRevert(
            abi.encodeWithSelector(IJobAgency.JobEnded.selector, jobId(done, 0), IJobAgency.Status.Accepted)
        );
        agency.evict(done, 0, 0);
    }
}

contract SubmitTest is Fixture {
    function test_submit_paysAgent() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        claimAs(agents[0], t, 0);
        bytes32 result = keccak256("envelope");
        vm.expectEmit(true, false, false, true, address(agency));
        emit IJobAgency.Accepted(jobId(t, 0), result, 1);
        vm.prank(agents[0]);
        agency.submit(t, 0, 0, result);
        assertEq(balanceOf(agents[0]), STAKE + netOf(REWARD), "reward and collateral");
        (uint256 accepted,,) = counters(agents[0]);
        assertEq(accepted, 1, "accepted");
        IJobAgency.JobView memory v = agency.jobOf(t, 0);
        assertEq(uint256(v.status), uint256(IJobAgency.Status.Accepted), "status");
        assertEq(v.slots[0].agent, agents[0], "winner kept");
    }

    function test_submit_reverts() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        bytes32 id = jobId(t, 0);
        bytes32 res = keccak256("r");
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.NotSlotHolder.selector, id, 0));
        agency.submit(t, 0, 0, res); // nobody claimed
        claimAs(agents[0], t, 0);
        vm.prank(agents[1]);
        vm.expectRevert(err(IJobAgency.NotSlotHolder.selector, id, 0));
        agency.submit(t, 0, 0, res);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.NotSlotHolder.selector, id, 1));
        agency.submit(t, 0, 1, res);
        vm.warp(block.timestamp + DELIVERY + 1);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.SlotLapsed.selector, id, 0));
        agency.submit(t, 0, 0, res);

        IJobAgency.Terms memory r3 = postOne(3, 2);
        claimAs(agents[0], r3, 0);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.WrongMode.selector, jobId(r3, 0)));
        agency.submit(r3, 0, 0, res);

        IJobAgency.Terms memory twice = postOne(1, 1);
        deliverAs(agents[0], twice, 0, res);
        vm.startPrank(agents[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IJobAgency.JobEnded.selector, jobId(twice, 0), IJobAgency.Status.Accepted)
        );
        agency.submit(twice, 0, 0, res);
        vm.stopPrank();
    }
}

contract CommitRevealTest is Fixture {
    bytes32 internal constant GOOD = keccak256("good");
    bytes32 internal constant BAD = keccak256("bad");

    function test_commit_lastCommitOpensReveals() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        for (uint256 i; i < 2; ++i) {
            commitAs(agents[i], t, 0, claimAs(agents[i], t, 0), GOOD);
        }
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Open), "still open");
        uint256 slot = claimAs(agents[2], t, 0);
        vm.warp(block.timestamp + 7);
        vm.expectEmit(true, false, false, true, address(agency));
        emit IJobAgency.RevealsOpened(id, block.timestamp + REVEAL);
        commitAs(agents[2], t, 0, slot, GOOD);
        IJobAgency.JobView memory v = agency.jobOf(t, 0);
        assertEq(uint256(v.status), uint256(IJobAgency.Status.Revealing), "revealing");
        assertEq(v.revealEnd, block.timestamp + REVEAL, "reveal end");
        assertEq(v.committed, 3, "commits");
    }

    function test_commit_reverts() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 slot = claimAs(agents[0], t, 0);
        vm.prank(agents[1]);
        vm.expectRevert(err(IJobAgency.NotSlotHolder.selector, id, slot));
        agency.commit(t, 0, slot, GOOD);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.NotSlotHolder.selector, id, 3));
        agency.commit(t, 0, 3, GOOD);
        vm.warp(block.timestamp + DELIVERY + 1);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.SlotLapsed.selector, id, slot));
        agency.commit(t, 0, slot, GOOD);

        // Commits close at the deadline ...
        IJobAgency.Terms memory late = postOne(3, 2);
        slot = claimAs(agents[0], late, 0);
        vm.warp(late.deadline + 1);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.CommitsClosed.selector, jobId(late, 0)));
        agency.commit(late, 0, slot, GOOD);

        // ... and when all r are in.
        IJobAgency.Terms memory full = postOne(2, 2);
        commitAs(agents[0], full, 0, claimAs(agents[0], full, 0), GOOD);
        commitAs(agents[1], full, 0, claimAs(agents[1], full, 0), GOOD);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.CommitsClosed.selector, jobId(full, 0)));
        agency.commit(full, 0, 0, GOOD);

        IJobAgency.Terms memory one = postOne(1, 1);
        claimAs(agents[0], one, 0);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.WrongMode.selector, jobId(one, 0)));
        agency.commit(one, 0, 0, GOOD);
    }

    function test_reveal_allAgreeFinalizesOnLastReveal() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAndCommitAll(t, 0, results3(GOOD, GOOD, GOOD));
        revealAs(agents[0], t, 0, 0, GOOD);
        revealAs(agents[1], t, 0, 1, GOOD);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Revealing), "waiting");
        vm.expectEmit(true, false, false, true, address(agency));
        emit IJobAgency.Accepted(jobId(t, 0), GOOD, 3);
        revealAs(agents[2], t, 0, 2, GOOD);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        uint256 share = netOf(REWARD) / 3;
        assertEq(balanceOf(agents[0]), STAKE + share + (netOf(REWARD) - 3 * share), "first winner takes the dust");
        assertEq(balanceOf(agents[1]), STAKE + share, "share");
        assertEq(balanceOf(agents[2]), STAKE + share, "share");
        assertEq(address(agency).balance, 6 * STAKE + REWARD, "all accounted");
    }

    function test_reveal_liarSlashedAndBurned() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAndCommitAll(t, 0, results3(GOOD, BAD, GOOD));
        revealAs(agents[0], t, 0, 0, GOOD);
        revealAs(agents[1], t, 0, 1, BAD);
        revealAs(agents[2], t, 0, 2, GOOD);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        uint256 share = netOf(REWARD) / 2;
        assertEq(balanceOf(agents[0]), STAKE + share, "winner");
        assertEq(balanceOf(agents[2]), STAKE + share, "winner");
        assertEq(balanceOf(agents[1]), STAKE - COLLATERAL, "liar slashed");
        (, uint256 rejected,) = counters(agents[1]);
        assertEq(rejected, 1, "rejected");
    }

    function test_reveal_noConsensusRefundsRequester() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAndCommitAll(t, 0, results3(GOOD, BAD, keccak256("other")));
        revealAs(agents[0], t, 0, 0, GOOD);
        revealAs(agents[1], t, 0, 1, BAD);
        vm.expectEmit(true, false, false, false, address(agency));
        emit IJobAgency.NoConsensus(jobId(t, 0));
        revealAs(agents[2], t, 0, 2, keccak256("other"));
        assertEq(balanceOf(requester), REWARD, "refund");
        for (uint256 i; i < 3; ++i) {
            assertEq(balanceOf(agents[i]), STAKE, "revealers spared");
        }
    }

    function test_reveal_reverts() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 s0 = claimAs(agents[0], t, 0);
        commitAs(agents[0], t, 0, s0, GOOD);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.RevealsNotOpen.selector, id));
        agency.reveal(t, 0, s0, GOOD, saltOf(agents[0], 0));
        uint256 s1 = claimAs(agents[1], t, 0);
        uint256 s2 = claimAs(agents[2], t, 0);
        commitAs(agents[2], t, 0, s2, GOOD);
        // agents[1] never commits; the deadline opens reveals with 2 commits >= quorum.
        vm.warp(t.deadline + 1);
        vm.prank(agents[1]);
        vm.expectRevert(err(IJobAgency.NotCommitted.selector, id, s1));
        agency.reveal(t, 0, s1, GOOD, bytes32(0)); // reveal without a commit
        vm.prank(agents[3]);
        vm.expectRevert(err(IJobAgency.NotCommitted.selector, id, s0));
        agency.reveal(t, 0, s0, GOOD, saltOf(agents[0], 0)); // someone else's slot
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.BadReveal.selector, id, s0));
        agency.reveal(t, 0, s0, GOOD, keccak256("wrong salt"));
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.BadReveal.selector, id, s0));
        agency.reveal(t, 0, s0, BAD, saltOf(agents[0], 0)); // another result
        revealAs(agents[0], t, 0, s0, GOOD);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.AlreadyRevealed.selector, id, s0));
        agency.reveal(t, 0, s0, GOOD, saltOf(agents[0], 0));
        vm.warp(uint256(t.deadline) + REVEAL + 1);
        vm.prank(agents[2]);
        vm.expectRevert(err(IJobAgency.RevealClosed.selector, id, uint256(t.deadline) + REVEAL));
        agency.reveal(t, 0, s2, GOOD, saltOf(agents[2], 0));

        IJobAgency.Terms memory one = postOne(1, 1);
        vm.expectRevert(err(IJobAgency.WrongMode.selector, jobId(one, 0)));
        agency.reveal(one, 0, 0, GOOD, bytes32(0));
    }

    function test_reveal_copiedCommitmentNeverReveals() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 s0 = claimAs(agents[0], t, 0);
        bytes32 honest = agency.commitmentOf(id, agents[0], GOOD, saltOf(agents[0], 0));
        vm.prank(agents[0]);
        agency.commit(t, 0, s0, honest);
        uint256 s1 = claimAs(agents[1], t, 0);
        vm.prank(agents[1]);
        agency.commit(t, 0, s1, honest); // copied from the chain
        commitAs(agents[2], t, 0, claimAs(agents[2], t, 0), GOOD);
        revealAs(agents[0], t, 0, s0, GOOD); // the salt is now public too
        vm.prank(agents[1]);
        vm.expectRevert(err(IJobAgency.BadReveal.selector, id, s1));
        agency.reveal(t, 0, s1, GOOD, saltOf(agents[0], 0));
        revealAs(agents[2], t, 0, 2, GOOD);
        vm.warp(block.timestamp + REVEAL + 1);
        agency.finalize(t, 0);
        assertEq(balanceOf(agents[1]), STAKE - COLLATERAL, "copier slashed");
        (,, uint256 missed) = counters(agents[1]);
        assertEq(missed, 1, "missed");
    }

    function test_finalize_afterRevealWindowSlashesSilentAgent() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAndCommitAll(t, 0, results3(GOOD, GOOD, GOOD));
        revealAs(agents[0], t, 0, 0, GOOD);
        revealAs(agents[1], t, 0, 1, GOOD);
        uint256 end = agency.jobOf(t, 0).revealEnd;
        vm.expectRevert(err(IJobAgency.TooEarly.selector, jobId(t, 0), end));
        agency.finalize(t, 0);
        vm.warp(end + 1);
        agency.finalize(t, 0);
        uint256 share = netOf(REWARD) / 2;
        assertEq(balanceOf(agents[0]), STAKE + share, "winner");
        assertEq(balanceOf(agents[2]), STAKE - COLLATERAL, "silent slashed");
        vm.expectRevert(abi.encodeWithSelector(IJobAgency.JobEnded.selector, jobId(t, 0), IJobAgency.Status.Accepted));
        agency.finalize(t, 0); // a second finalize
    }

    function test_finalize_deadlineOpenedRevealsSlashNonCommitter() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        commitAs(agents[0], t, 0, claimAs(agents[0], t, 0), GOOD);
        commitAs(agents[1], t, 0, claimAs(agents[1], t, 0), GOOD);
        claimAs(agents[2], t, 0); // never commits
        vm.expectRevert(err(IJobAgency.RevealsNotOpen.selector, jobId(t, 0)));
        agency.finalize(t, 0);
        vm.warp(t.deadline + 1);
        IJobAgency.JobView memory v = agency.jobOf(t, 0);
        assertEq(uint256(v.status), uint256(IJobAgency.Status.Revealing), "lazily revealing");
        assertEq(v.revealEnd, uint256(t.deadline) + REVEAL, "reveal end");
        revealAs(agents[0], t, 0, 0, GOOD);
        revealAs(agents[1], t, 0, 1, GOOD); // every committer revealed: finalizes now
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        assertEq(balanceOf(agents[2]), STAKE - COLLATERAL, "non-committer slashed");
        uint256 share = netOf(REWARD) / 2;
        assertEq(balanceOf(agents[1]), STAKE + share, "winner");
    }

    function test_finalize_nobodyRevealsIsNoConsensus() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        claimAndCommitAll(t, 0, results3(GOOD, GOOD, GOOD));
        vm.warp(block.timestamp + REVEAL + 1);
        agency.finalize(t, 0);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.NoConsensus), "no consensus");
        assertEq(balanceOf(requester), REWARD, "refund; the slashes are burned");
        assertEq(agency.burned(), 3 * uint256(COLLATERAL), "burned");
        IJobAgency.Terms memory one = postOne(1, 1);
        vm.expectRevert(err(IJobAgency.WrongMode.selector, jobId(one, 0)));
        agency.finalize(one, 0);
    }

    function test_revealLast_deliversTheLastSlotInTheClear() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        commitAs(agents[0], t, 0, claimAs(agents[0], t, 0), GOOD);
        uint256 s1 = claimAs(agents[1], t, 0);
        uint256 s2 = claimAs(agents[2], t, 0);
        vm.prank(agents[2]);
        vm.expectRevert(err(IJobAgency.NotLast.selector, id));
        agency.revealLast(t, 0, s2, GOOD); // agents[1] has not committed yet
        commitAs(agents[1], t, 0, s1, BAD);
        vm.expectEmit(true, true, false, true, address(agency));
        emit IJobAgency.Revealed(id, agents[2], s2, GOOD);
        vm.prank(agents[2]);
        agency.revealLast(t, 0, s2, GOOD);
        IJobAgency.JobView memory v = agency.jobOf(t, 0);
        assertEq(uint256(v.status), uint256(IJobAgency.Status.Revealing), "reveals open");
        assertEq(v.committed, 3, "counts as delivered");
        assertEq(v.revealed, 1, "and revealed");
        assertEq(v.revealEnd, block.timestamp + REVEAL, "reveal end");
        revealAs(agents[0], t, 0, 0, GOOD);
        revealAs(agents[1], t, 0, s1, BAD);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        assertEq(balanceOf(agents[1]), STAKE - COLLATERAL, "liar slashed");
        assertEq(balanceOf(agents[2]), STAKE + netOf(REWARD) / 2, "last deliverer paid");
    }

    function test_revealLast_reverts() public {
        IJobAgency.Terms memory one = postOne(1, 1);
        claimAs(agents[0], one, 0);
        vm.prank(agents[0]);
        vm.expectRevert(err(IJobAgency.WrongMode.selector, jobId(one, 0)));
        agency.revealLast(one, 0, 0, GOOD);

        IJobAgency.Terms memory t = postOne(2, 2);
        bytes32 id = jobId(t, 0);
        commitAs(agents[0], t, 0, claimAs(agents[0], t, 0), GOOD);
        uint256 s1 = claimAs(agents[1], t, 0);
        vm.prank(agents[2]);
        vm.expectRevert(err(IJobAgency.NotSlotHolder.selector, id, s1));
        agency.revealLast(t, 0, s1, GOOD);
        vm.warp(t.deadline + 1);
        vm.prank(agents[1]);
        vm.expectRevert(err(IJobAgency.CommitsClosed.selector, id));
        agency.revealLast(t, 0, s1, GOOD);
    }

    function test_claimAndCommit_fused() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        for (uint256 i; i < 3; ++i) {
            bytes32 c = agency.commitmentOf(id, agents[i], GOOD, saltOf(agents[i], 0));
            vm.prank(agents[i]);
            uint256 slot = agency.claimAndCommit(t, 0, c);
            assertEq(slot, i, "slot");
        }
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Revealing), "revealing");
        for (uint256 i; i < 3; ++i) {
            revealAs(agents[i], t, 0, i, GOOD);
        }
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
    }
}

contract ExpireSettleTest is Fixture {
    function test_expire_unclaimedRefunds() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        vm.expectRevert(err(IJobAgency.TooEarly.selector, jobId(t, 0), t.deadline));
        agency.expire(t, 0);
        vm.warp(t.deadline + 1);
        agency.expire(t, 0);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Expired), "expired");
        assertEq(balanceOf(requester), REWARD, "refund");
        vm.expectRevert(abi.encodeWithSelector(IJobAgency.JobEnded.selector, jobId(t, 0), IJobAgency.Status.Expired));
        agency.expire(t, 0);
    }

    function test_expire_slashesUndeliveredClaim() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        vm.warp(t.deadline - 60);
        claimAs(agents[0], t, 0);
        vm.warp(t.deadline + 1);
        agency.expire(t, 0);
        assertEq(balanceOf(requester), REWARD, "refund; the slash is burned");
        assertEq(agency.burned(), COLLATERAL, "burned");
        assertEq(balanceOf(agents[0]), STAKE - COLLATERAL, "slashed");
    }

    function test_expire_tooFewCommitsReturnsCommittersCollateral() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        commitAs(agents[0], t, 0, claimAs(agents[0], t, 0), keccak256("r"));
        claimAs(agents[1], t, 0);
        vm.warp(t.deadline + 1);
        agency.expire(t, 0);
        assertEq(balanceOf(agents[0]), STAKE, "committer whole");
        assertEq(balanceOf(agents[1]), STAKE - COLLATERAL, "claimer slashed");
        assertEq(balanceOf(requester), REWARD, "refund; the slash is burned");
        assertEq(agency.burned(), COLLATERAL, "burned");
    }

    function test_expire_revertsNotExpirable() public {
        // Enough commits at the deadline: the job goes to reveals instead.
        IJobAgency.Terms memory t = postOne(3, 2);
        commitAs(agents[0], t, 0, claimAs(agents[0], t, 0), keccak256("r"));
        commitAs(agents[1], t, 0, claimAs(agents[1], t, 0), keccak256("r"));
        vm.warp(t.deadline + 1);
        vm.expectRevert(err(IJobAgency.NotExpirable.selector, jobId(t, 0)));
        agency.expire(t, 0);

        // Every commit in: reveals are open, even past the deadline.
        IJobAgency.Terms memory full = postOne(2, 2);
        commitAs(agents[0], full, 0, claimAs(agents[0], full, 0), keccak256("r"));
        commitAs(agents[1], full, 0, claimAs(agents[1], full, 0), keccak256("r"));
        vm.warp(full.deadline + 1);
        vm.expectRevert(err(IJobAgency.NotExpirable.selector, jobId(full, 0)));
        agency.expire(full, 0);
    }

    function test_cancel_revealingJobIsClaimed() public {
        IJobAgency.Terms memory t = postOne(2, 2);
        commitAs(agents[0], t, 0, claimAs(agents[0], t, 0), keccak256("r"));
        commitAs(agents[1], t, 0, claimAs(agents[1], t, 0), keccak256("r"));
        vm.prank(requester);
        vm.expectRevert(err(IJobAgency.JobClaimed.selector, jobId(t, 0)));
        agency.cancel(t, 0);
    }

    function test_reputation_pointsAreTheFeeBurnedAndASlashTakesThem() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        deliverAs(agents[0], t, 0, keccak256("good"));
        uint256 points = feeOf(REWARD) / 1 gwei;
        assertEq(pointsOf(agents[0]), points, "r = 1: the whole fee");
        assertEq(agency.burned(), feeOf(REWARD), "the fee is burned");

        IJobAgency.Terms memory r3 = postOne(3, 2);
        claimAndCommitAll(r3, 0, results3(keccak256("good"), keccak256("good"), keccak256("bad")));
        revealAs(agents[0], r3, 0, 0, keccak256("good"));
        revealAs(agents[1], r3, 0, 1, keccak256("good"));
        revealAs(agents[2], r3, 0, 2, keccak256("bad"));
        assertEq(pointsOf(agents[0]), points + points / 2, "r = 3: winners share the fee");
        assertEq(pointsOf(agents[1]), points / 2, "r = 3: winners share the fee");
        assertEq(pointsOf(agents[2]), 0, "the liar gains none");

        // COLLATERAL is 2,000,000 gwei, far more than agent 0's points: a slash takes them all.
        IJobAgency.Terms memory lazy = postOne(1, 1);
        claimAs(agents[0], lazy, 0);
        vm.warp(lazy.deadline + 1);
        agency.expire(lazy, 0);
        assertEq(pointsOf(agents[0]), 0, "a slash takes a point per gwei of collateral, down to zero");
        (uint256 accepted,, uint256 missed) = counters(agents[0]);
        assertEq(accepted, 2, "counters still count");
        assertEq(missed, 1, "counters still count");
    }

    /// A gate compares points (the gwei its holder burned as fees, §6): one short is refused.
    function test_claim_minimumReputation() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        t.minReputation = uint32(feeOf(REWARD) / 1 gwei) + 1;
        post(t, specs);
        deliverAs(agents[1], postOne(1, 1), 0, keccak256("good"));
        vm.prank(agents[1]);
        vm.expectRevert(
            abi.encodeWithSelector(IJobAgency.ReputationTooLow.selector, t.minReputation - 1, t.minReputation)
        );
        agency.claim(t, 0);
        deliverAs(agents[1], postOne(1, 1), 0, keccak256("good"));
        claimAs(agents[1], t, 0);
    }

    function test_post_refusesAmountsPastTheBalanceWidth() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        t.collateral = uint128(1 << 96);
        vm.deal(requester, 1000 ether);
        vm.prank(requester);
        vm.expectRevert(IJobAgency.AmountTooLarge.selector);
        agency.post{value: REWARD}(t, specs);
    }

    function test_settle_batchSkipsWhatCannotSettle() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(4, 1, 1);
        post(t, specs);
        deliverAs(agents[0], t, 0, keccak256("r")); // 0: accepted already
        claimAs(agents[1], t, 1); // 1: lazy claim, slashed at expiry
        uint256[] memory idx = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            idx[i] = i;
        }
        assertEq(agency.settle(t, idx), 0, "too early for all");
        vm.warp(t.deadline + 1);
        assertEq(agency.settle(t, idx), 3, "three expired");
        assertEq(agency.settle(t, idx), 0, "nothing twice");
        assertEq(balanceOf(requester), 3 * uint256(REWARD), "refunds");
        assertEq(
            agency.burned(), COLLATERAL + feeOf(REWARD), "the lazy claim's slash and the accepted job's fee are burned"
        );

        IJobAgency.Terms memory r3 = postOne(3, 2);
        claimAndCommitAll(r3, 0, new bytes32[](2));
        uint256[] memory zero = new uint256[](1);
        assertEq(agency.settle(r3, zero), 0, "open");
        vm.warp(r3.deadline + 1);
        assertEq(agency.settle(r3, zero), 0, "reveals open");
        vm.warp(uint256(r3.deadline) + REVEAL + 1);
        assertEq(agency.settle(r3, zero), 1, "finalized");
        assertEq(uint256(statusOf(r3, 0)), uint256(IJobAgency.Status.NoConsensus), "nobody revealed");
    }
}

contract VectorTest is Fixture {
    function test_commitmentVectors() public {
        string memory json = vm.readFile("vectors/commitments.json");
        for (uint256 i; i < 6; ++i) {
            string memory k = string.concat(".vectors[", vm.toString(i), "].");
            vm.chainId(vm.parseJsonUint(json, string.concat(k, "chainId")));
            address where = vm.parseJsonAddress(json, string.concat(k, "agency"));
            IJobAgency a = IJobAgency(payable(where));
            vm.etch(where, address(agency).code);
            bytes32 got = a.commitmentOf(
                vm.parseJsonBytes32(json, string.concat(k, "job")),
                vm.parseJsonAddress(json, string.concat(k, "agent")),
                vm.parseJsonBytes32(json, string.concat(k, "result")),
                vm.parseJsonBytes32(json, string.concat(k, "salt"))
            );
            assertEq(got, vm.parseJsonBytes32(json, string.concat(k, "commitment")), "commitment");
        }
    }

    function test_jobIdVectors() public view {
        string memory json = vm.readFile("vectors/job-ids.json");
        for (uint256 i; i < 3; ++i) {
            string memory k = string.concat(".vectors[", vm.toString(i), "].");
            IJobAgency.Terms memory t = IJobAgency.Terms({
                requester: vm.parseJsonAddress(json, string.concat(k, "requester")),
                salt: uint64(vm.parseJsonUint(json, string.concat(k, "salt"))),
                count: uint32(vm.parseJsonUint(json, string.concat(k, "count"))),
                specs: vm.parseJsonBytes32(json, string.concat(k, "specs")),
                reward: uint128(vm.parseJsonUint(json, string.concat(k, "reward"))),
                collateral: uint128(vm.parseJsonUint(json, string.concat(k, "collateral"))),
                replicas: uint8(vm.parseJsonUint(json, string.concat(k, "replicas"))),
                quorum: uint8(vm.parseJsonUint(json, string.concat(k, "quorum"))),
                minReputation: uint32(vm.parseJsonUint(json, string.concat(k, "minReputation"))),
                deliveryWindow: uint32(vm.parseJsonUint(json, string.concat(k, "deliveryWindow"))),
                revealWindow: uint32(vm.parseJsonUint(json, string.concat(k, "revealWindow"))),
                deadline: uint40(vm.parseJsonUint(json, string.concat(k, "deadline")))
            });
            assertEq(agency.batchIdOf(t), vm.parseJsonBytes32(json, string.concat(k, "batchId")), "batch id");
            assertEq(agency.jobIdOf(t, t.count - 1), vm.parseJsonBytes32(json, string.concat(k, "lastJobId")), "job id");
        }
    }
}
