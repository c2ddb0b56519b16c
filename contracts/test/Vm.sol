// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// The forge cheatcodes these tests use, declared here instead of depending on forge-std.
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function deal(address account, uint256 balance) external;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 selector) external;
    function expectRevert() external;
    function expectEmit(bool topic1, bool topic2, bool topic3, bool data, address emitter) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function assume(bool condition) external pure;
    function addr(uint256 privateKey) external pure returns (address);
    function label(address account, string calldata name) external;
    function chainId(uint256 newChainId) external;
    function etch(address target, bytes calldata code) external;
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
    function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);
    function toString(uint256 value) external pure returns (string memory);
    function snapshotGasLastCall(string calldata group, string calldata name) external returns (uint256 gasUsed);
    function snapshotValue(string calldata group, string calldata name, uint256 value) external;
    function envOr(string calldata name, bool defaultValue) external view returns (bool);
    function pauseGasMetering() external;
    function resumeGasMetering() external;
}

/// What every test contract here shares: the cheatcodes and assertions that revert with a message.
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Deploys JobAgency from the build output: the via-IR bytecode that ships, not a copy
    /// compiled with the tests' settings (forge's deployCode will not cross compiler profiles).
    function deployAgency() internal returns (address agency) {
        bytes memory code = vm.parseJsonBytes(vm.readFile("out/JobAgency.sol/JobAgency.json"), ".bytecode.object");
        assembly ("memory-safe") {
            agency := create(0, add(code, 0x20), mload(code))
        }
        if (agency == address(0)) revert("JobAgency deployment failed");
    }

    function fail(string memory why) internal pure {
        revert(why);
    }

    function assertTrue(bool ok, string memory why) internal pure {
        if (!ok) revert(why);
    }

    function assertEq(uint256 a, uint256 b, string memory why) internal pure {
        if (a != b) revert(string.concat(why, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(bytes memory a, bytes memory b, string memory why) internal pure {
        if (keccak256(a) != keccak256(b)) revert(why);
    }

    function assertEq(bytes32 a, bytes32 b, string memory why) internal pure {
        if (a != b) revert(why);
    }

    function assertEq(address a, address b, string memory why) internal pure {
        if (a != b) revert(why);
    }

    function assertLe(uint256 a, uint256 b, string memory why) internal pure {
        if (a > b) revert(string.concat(why, ": ", vm.toString(a), " > ", vm.toString(b)));
    }
}
