// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {TestBase} from "./Vm.sol";

/// A deployed JobAgency, a requester and six staked agents, and helpers to post and drive jobs.
abstract contract Fixture is TestBase {
    IJobAgency internal agency;
    address internal requester = address(0xA11CE);
    address[] internal agents;

    uint256 internal constant T0 = 1_800_000_000;
    uint128 internal constant REWARD = 0.01 ether;
    uint128 internal constant COLLATERAL = 0.002 ether;
    uint256 internal constant STAKE = 1 ether;
    uint32 internal constant DELIVERY = 10 minutes;
    uint32 internal constant REVEAL = 5 minutes;
    uint40 internal constant DURATION = 1 hours;

    uint64 private nextSalt = 1;

    function setUp() public virtual {
        vm.warp(T0);
        agency = IJobAgency(payable(deployAgency()));
        vm.deal(requester, 1000 ether);
        for (uint256 i = 1; i <= 6; ++i) {
            address a = address(uint160(0xA6E47 * 16 + i));
            agents.push(a);
            vm.deal(a, 10 ether);
            vm.prank(a);
            agency.deposit{value: STAKE}();
        }
    }

    function specsOf(uint256 n, uint256 seed) internal pure returns (bytes32[] memory specs) {
        specs = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            specs[i] = keccak256(abi.encode("spec", seed, i));
        }
    }

    /// Terms for `n` jobs with `r` replicas and quorum `q`, with this fixture's amounts and windows.
    function termsOf(uint256 n, uint8 r, uint8 q) internal returns (IJobAgency.Terms memory t, bytes32[] memory specs) {
        specs = specsOf(n, nextSalt);
        t = IJobAgency.Terms({
            requester: requester,
            salt: nextSalt++,
            count: uint32(n),
            specs: keccak256(abi.encodePacked(specs)),
            reward: REWARD,
            collateral: COLLATERAL,
            replicas: r,
            quorum: q,
            minReputation: 0,
            deliveryWindow: DELIVERY,
            revealWindow: REVEAL,
            deadline: uint40(block.timestamp) + DURATION
        });
    }

    function post(IJobAgency.Terms memory t, bytes32[] memory specs) internal returns (bytes32 batch) {
        vm.prank(t.requester);
        batch = agency.post{value: uint256(t.reward) * t.count}(t, specs);
    }

    function postOne(uint8 r, uint8 q) internal returns (IJobAgency.Terms memory t) {
        bytes32[] memory specs;
        (t, specs) = termsOf(1, r, q);
        post(t, specs);
    }

    /// The job id, computed here (docs/protocol.md §1) rather than by a call, so it neither
    /// trusts the contract nor consumes a pending `vm.prank`.
    function jobId(IJobAgency.Terms memory t, uint256 index) internal pure returns (bytes32) {
        return bytes32((uint256(keccak256(abi.encode(t))) & ~uint256(0xffffffff)) | index);
    }

    function balanceOf(address a) internal view returns (uint256 b) {
        (b,,,,,) = agency.accountOf(a);
    }

    function counters(address a) internal view returns (uint256 accepted, uint256 rejected, uint256 missed) {
        (,, accepted, rejected, missed,) = agency.accountOf(a);
    }

    /// What winners share of `reward`: the reward less the reputation fee it burns (§6).
    function netOf(uint256 reward) internal view returns (uint256) {
        return reward - feeOf(reward);
    }

    /// The reputation fee an accepted job with `reward` burns, by the contract's own constant.
    function feeOf(uint256 reward) internal view returns (uint256) {
        (bool ok, bytes memory bps) = address(agency).staticcall(abi.encodeWithSignature("REPUTATION_FEE_BPS()"));
        require(ok, "REPUTATION_FEE_BPS");
        return reward * abi.decode(bps, (uint256)) / 10_000;
    }

    function pointsOf(address a) internal view returns (uint256 p) {
        (,,,,, p) = agency.accountOf(a);
    }

    function statusOf(IJobAgency.Terms memory t, uint256 index) internal view returns (IJobAgency.Status) {
        return agency.jobOf(t, index).status;
    }

    function claimAs(address a, IJobAgency.Terms memory t, uint256 index) internal returns (uint256 slot) {
        vm.prank(a);
        slot = agency.claim(t, index);
    }

    /// `a` claims job `index` (r = 1) and submits `result`: the honest delivery, two calls.
    function deliverAs(address a, IJobAgency.Terms memory t, uint256 index, bytes32 result) internal {
        uint256 slot = claimAs(a, t, index);
        vm.prank(a);
        agency.submit(t, index, slot, result);
    }

    function saltOf(address a, uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", a, index));
    }

    function commitAs(address a, IJobAgency.Terms memory t, uint256 index, uint256 slot, bytes32 result) internal {
        bytes32 c = agency.commitmentOf(jobId(t, index), a, result, saltOf(a, index));
        vm.prank(a);
        agency.commit(t, index, slot, c);
    }

    function revealAs(address a, IJobAgency.Terms memory t, uint256 index, uint256 slot, bytes32 result) internal {
        vm.prank(a);
        agency.reveal(t, index, slot, result, saltOf(a, index));
    }

    /// Agents 0..r-1 claim and commit `results[i]` to job `index`.
    function claimAndCommitAll(IJobAgency.Terms memory t, uint256 index, bytes32[] memory results) internal {
        for (uint256 i; i < results.length; ++i) {
            uint256 slot = claimAs(agents[i], t, index);
            commitAs(agents[i], t, index, slot, results[i]);
        }
    }

    function results3(bytes32 a, bytes32 b, bytes32 c) internal pure returns (bytes32[] memory rs) {
        rs = new bytes32[](3);
        rs[0] = a;
        rs[1] = b;
        rs[2] = c;
    }

    function err(bytes4 selector, bytes32 job) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, job);
    }

    function err(bytes4 selector, bytes32 job, uint256 x) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, job, x);
    }
}
