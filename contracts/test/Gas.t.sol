// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {Fixture} from "./Fixture.sol";

/// Gas per call and per job lifecycle (post → … → payout credited), steady state: agents have
/// claimed before (their agent numbers exist). `make contracts-gas` runs it with `--isolate`, so
/// that each call is its own transaction (21,000 base and calldata included), and with
/// AGENCY_GAS_SNAPSHOT=true; the figures land in snapshots/*.json and BENCHMARKS.md. A plain
/// `forge test` runs the same calls without recording (its figures would lack the base costs).
contract GasTest is Fixture {
    bytes32 internal constant RESULT = keccak256("envelope");

    function setUp() public override {
        super.setUp();
        recording = vm.envOr("AGENCY_GAS_SNAPSHOT", false);
        // Every agent finishes one job first, so no measured call pays a first-claim registration.
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(agents.length, 1, 1);
        post(t, specs);
        for (uint256 i; i < agents.length; ++i) {
            vm.prank(agents[i]);
            agency.claim(t, i);
            vm.prank(agents[i]);
            agency.submit(t, i, 0, RESULT);
        }
    }

    bool internal recording;

    function record(string memory name) internal returns (uint256 gasUsed) {
        if (recording) gasUsed = vm.snapshotGasLastCall("call", name);
    }

    function recordLifecycle(string memory name, uint256 value) internal {
        if (recording) vm.snapshotValue("lifecycle", name, value);
    }

    function test_gas_r1() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        uint256 sum = record("post r1");
        vm.prank(agents[0]);
        agency.claim(t, 0);
        sum += record("claim r1");
        vm.prank(agents[0]);
        agency.submit(t, 0, 0, RESULT);
        sum += record("submit r1");
        recordLifecycle("r1 post+claim+submit", sum);
        if (recording) assertLe(sum, 150_000, "r1 lifecycle");
    }

    function test_gas_r1_batch100() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(100, 1, 1);
        post(t, specs);
        uint256 sum = record("post r1 x100");
        uint256[] memory idx = new uint256[](100);
        for (uint256 i; i < 100; ++i) {
            idx[i] = i;
        }
        vm.prank(agents[0]);
        agency.claimMany(t, idx);
        sum += record("claimMany r1 x100");
        bytes32[] memory results = specsOf(100, 7);
        vm.prank(agents[0]);
        agency.submitMany(t, idx, results);
        sum += record("submitMany r1 x100");
        recordLifecycle("r1 batched x100, per job", sum / 100);
    }

    function test_gas_r3() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 sum = record("post r3");
        for (uint256 i; i < 3; ++i) {
            vm.prank(agents[i]);
            agency.claim(t, 0);
            sum += record(string.concat("claim r3 #", vm.toString(i + 1)));
        }
        for (uint256 i; i < 2; ++i) {
            bytes32 c = agency.commitmentOf(id, agents[i], RESULT, saltOf(agents[i], 0));
            vm.prank(agents[i]);
            agency.commit(t, 0, i, c);
            sum += record(string.concat("commit r3 #", vm.toString(i + 1)));
        }
        vm.prank(agents[2]);
        agency.revealLast(t, 0, 2, RESULT);
        sum += record("revealLast r3 #3");
        for (uint256 i; i < 2; ++i) {
            revealAs(agents[i], t, 0, i, RESULT);
            sum += record(string.concat("reveal r3 #", vm.toString(i + 1)));
        }
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        recordLifecycle("r3 post+3 claim+2 commit+revealLast+2 reveal", sum);
    }

    /// The path of agents that run first: the fused claim for the slots before the last, then the
    /// last slot claimed and delivered in the clear (a digest never travels before its claim).
    function test_gas_r3_fused() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 sum = record("post r3");
        for (uint256 i; i < 2; ++i) {
            bytes32 c = agency.commitmentOf(id, agents[i], RESULT, saltOf(agents[i], 0));
            vm.prank(agents[i]);
            agency.claimAndCommit(t, 0, c);
            sum += record(string.concat("claimAndCommit r3 #", vm.toString(i + 1)));
        }
        vm.prank(agents[2]);
        agency.claim(t, 0);
        sum += record("claim r3 #3 (last)");
        vm.prank(agents[2]);
        agency.revealLast(t, 0, 2, RESULT);
        sum += record("revealLast r3 #3 (after claimAndCommit)");
        for (uint256 i; i < 2; ++i) {
            revealAs(agents[i], t, 0, i, RESULT);
            sum += record(string.concat("reveal r3 #", vm.toString(i + 1)));
        }
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        recordLifecycle("r3 post+2 claimAndCommit+claim+revealLast+2 reveal", sum);
    }
}
