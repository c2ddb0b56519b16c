// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "../src/IJobAgency.sol";
import {Fixture} from "./Fixture.sol";

/// Withdraws, and when paid tries to withdraw again from inside the transfer.
contract ReentrantReceiver {
    IJobAgency internal immutable agency;
    bool public reentered;
    bytes public innerError;

    constructor(IJobAgency a) payable {
        agency = a;
        agency.deposit{value: msg.value}();
    }

    function attack(uint256 amount) external {
        agency.withdraw(amount);
    }

    receive() external payable {
        if (reentered) return;
        reentered = true;
        try agency.withdraw(msg.value) {}
        catch (bytes memory e) {
            innerError = e;
        }
    }
}

/// Can hold a balance in IJobAgency but refuses every ether transfer.
contract RevertingReceiver {
    IJobAgency internal immutable agency;

    constructor(IJobAgency a) payable {
        agency = a;
        agency.deposit{value: msg.value}();
    }

    function pull(uint256 amount) external {
        agency.withdraw(amount);
    }

    function pullTo(address payable to, uint256 amount) external {
        agency.withdrawTo(to, amount);
    }

    receive() external payable {
        revert("no thanks");
    }
}

contract AttackersTest is Fixture {
    function test_reentrantReceiverGetsOneWithdrawal() public {
        ReentrantReceiver r = new ReentrantReceiver{value: 2 ether}(agency);
        uint256 held = address(agency).balance;
        r.attack(1 ether);
        assertTrue(r.reentered(), "the receiver did try");
        assertEq(r.innerError(), abi.encodeWithSelector(IJobAgency.Reentrancy.selector), "guarded");
        assertEq(address(r).balance, 1 ether, "paid once");
        assertEq(balanceOf(address(r)), 1 ether, "debited once");
        assertEq(address(agency).balance, held - 1 ether, "one transfer left");
    }

    function test_revertingReceiverKeepsItsBalance() public {
        RevertingReceiver r = new RevertingReceiver{value: 1 ether}(agency);
        vm.expectRevert(IJobAgency.TransferFailed.selector);
        r.pull(1 ether);
        assertEq(balanceOf(address(r)), 1 ether, "nothing lost");
        address to = address(0xCAFE);
        r.pullTo(payable(to), 1 ether);
        assertEq(to.balance, 1 ether, "withdrawTo another address works");
        assertEq(balanceOf(address(r)), 0, "debited");
    }

    function test_revertingRequesterCannotBlockSettlement() public {
        // Payouts are credits, never transfers: a requester that rejects ether cannot stop an
        // expiry that refunds it.
        RevertingReceiver req = new RevertingReceiver{value: 1 wei}(agency);
        vm.deal(address(req), 1 ether);
        (IJobAgency.Terms memory t, bytes32[] memory specs) = termsOf(1, 1, 1);
        t.requester = address(req);
        vm.prank(address(req));
        agency.post{value: REWARD}(t, specs);
        vm.warp(t.deadline + 1);
        agency.expire(t, 0);
        assertEq(balanceOf(address(req)), 1 + uint256(REWARD), "refund credited");
    }

    function test_agentThatNeverRevealsIsSlashedAndJobEnds() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 good = keccak256("good");
        claimAndCommitAll(t, 0, results3(good, good, good));
        revealAs(agents[0], t, 0, 0, good);
        revealAs(agents[1], t, 0, 1, good);
        // agents[2] goes silent; anyone finalizes after the reveal window.
        vm.warp(agency.jobOf(t, 0).revealEnd + 1);
        vm.prank(address(0xD00D));
        agency.finalize(t, 0);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.Accepted), "accepted");
        assertEq(balanceOf(agents[2]), STAKE - COLLATERAL, "silent agent slashed");
        (,, uint256 missed) = counters(agents[2]);
        assertEq(missed, 1, "missed");
        assertEq(address(agency).balance, 6 * STAKE + REWARD, "solvent");
    }

    function test_silentMajorityCannotStrandTheJob() public {
        IJobAgency.Terms memory t = postOne(3, 2);
        bytes32 good = keccak256("good");
        claimAndCommitAll(t, 0, results3(good, good, good));
        revealAs(agents[0], t, 0, 0, good);
        vm.warp(agency.jobOf(t, 0).revealEnd + 1);
        agency.finalize(t, 0);
        assertEq(uint256(statusOf(t, 0)), uint256(IJobAgency.Status.NoConsensus), "no quorum");
        assertEq(balanceOf(requester), REWARD, "refund");
        assertEq(agency.burned(), 2 * uint256(COLLATERAL), "two slashes burned");
        assertEq(balanceOf(agents[0]), STAKE, "lone revealer spared");
    }
}
