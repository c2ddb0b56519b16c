// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {Fixture} from "./Fixture.sol";

/// Gas per call and per job lifecycle (post → … → payout credited), steady state: agents have
/// claimed before (their agent numbers exist). Run with `forge test --isolate --mc GasTest` so
/// that each call is its own transaction (21,000 base and calldata included); the figures land
/// in snapshots/GasTest.json and BENCHMARKS.md.
contract GasTest is Fixture {
    bytes32 internal constant RESULT = keccak256("envelope");

    function setUp() public override {
        super.setUp();
        // Every agent finishes one job first, so no measured call pays a first-claim registration.
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(agents.length, 1, 1);
        post(t, specs);
        for (uint256 i; i < agents.length; ++i) {
            vm.prank(agents[i]);
            agency.claimAndSubmit(t, i, RESULT);
        }
    }

    function record(string memory name) internal returns (uint256 gasUsed) {
        gasUsed = vm.snapshotGasLastCall("call", name);
    }

    function test_gas_r1() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        uint256 total = record("post r1");
        vm.prank(agents[0]);
        agency.claim(t, 0);
        total += record("claim r1");
        vm.prank(agents[0]);
        agency.submit(t, 0, 0, RESULT);
        total += record("submit r1");
        vm.snapshotValue("lifecycle", "r1 post+claim+submit", total);
        assertLe(total, 150_000, "r1 lifecycle");
    }

    function test_gas_r1_fused() public {
        IJobAgency.Terms memory t = postOne(1, 1);
        uint256 total = record("post r1");
        vm.prank(agents[0]);
        agency.claimAndSubmit(t, 0, RESULT);
        total += record("claimAndSubmit r1");
        vm.snapshotValue("lifecycle", "r1 post+claimAndSubmit", total);
    }

    function test_gas_r1_batch100() public {
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(100, 1, 1);
        post(t, specs);
        uint256 total = record("post r1 x100");
        uint256[] memory idx = new uint256[](100);
        for (uint256 i; i < 100; ++i) {
            idx[i] = i;
        }
        vm.prank(agents[0]);
        agency.claimMany(t, idx);
        total += record("claimMany r1 x100");
        bytes32[] memory results = specsOf(100, 7);
        vm.prank(agents[0]);
        agency.submitMany(t, idx, results);
        total += record("submitMany r1 x100");
        vm.snapshotValue("lifecycle", "r1 batched x100, per job", total / 100);
    }

    function test_gas_r3() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 total = record("post r3");
        for (uint256 i; i < 3; ++i) {
            vm.prank(agents[i]);
            agency.claim(t, 0);
            total += record(string.concat("claim r3 #", vm.toString(i + 1)));
        }
        for (uint256 i; i < 2; ++i) {
            bytes32 c = agency.commitmentOf(id, agents[i], RESULT, saltOf(agents[i], 0));
            vm.prank(agents[i]);
            agency.commit(t, 0, i, c);
            total += record(string.concat("commit r3 #", vm.toString(i + 1)));
        }
        vm.prank(agents[2]);
        agency.revealLast(t, 0, 2, RESULT);
        total += record("revealLast r3 #3");
        for (uint256 i; i < 2; ++i) {
            revealAs(agents[i], t, 0, i, RESULT);
            total += record(string.concat("reveal r3 #", vm.toString(i + 1)));
        }
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        vm.snapshotValue("lifecycle", "r3 post+3 claim+2 commit+revealLast+2 reveal", total);
    }

    function test_gas_r3_fused() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 id = jobId(t, 0);
        uint256 total = record("post r3");
        for (uint256 i; i < 2; ++i) {
            bytes32 c = agency.commitmentOf(id, agents[i], RESULT, saltOf(agents[i], 0));
            vm.prank(agents[i]);
            agency.claimAndCommit(t, 0, c);
            total += record(string.concat("claimAndCommit r3 #", vm.toString(i + 1)));
        }
        vm.prank(agents[2]);
        agency.claimAndReveal(t, 0, RESULT);
        total += record("claimAndReveal r3 #3");
        for (uint256 i; i < 2; ++i) {
            revealAs(agents[i], t, 0, i, RESULT);
            total += record(string.concat("reveal r3 #", vm.toString(i + 1)));
        }
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        vm.snapshotValue("lifecycle", "r3 post+2 claimAndCommit+claimAndReveal+2 reveal", total);
    }
}
