// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title IJobAgency
/// @notice The JobAgency market's types, errors, events and calls: what clients (the Rust chain
/// client, the web UI, the tests) build against. docs/protocol.md is the specification (v2).
interface IJobAgency {
    struct Terms {
        address requester;
        uint64 salt;
        uint32 count;
        bytes32 specs;
        uint128 reward;
        uint128 collateral;
        uint8 replicas;
        uint8 quorum;
        uint32 minReputation;
        uint32 deliveryWindow;
        uint32 revealWindow;
        uint40 deadline;
    }

    enum Status {
        None,
        Open,
        Revealing,
        Accepted,
        NoConsensus,
        Expired,
        Cancelled
    }

    enum Phase {
        Empty,
        Claimed,
        Committed,
        Revealed
    }

    struct SlotView {
        address agent;
        Phase phase;
        uint256 deadline;
        /// The commitment while `Committed`, the result digest once `Revealed`.
        bytes32 sealedResult;
    }

    struct JobView {
        bytes32 id;
        Status status;
        uint256 held;
        uint256 committed;
        uint256 revealed;
        /// When reveals end; 0 until they are open.
        uint256 revealEnd;
        SlotView[] slots;
    }

    error UnknownJob(bytes32 job);
    error NotRequester();
    error BadBatch();
    error BadSpec(uint256 index);
    error DuplicateSpec(uint256 index);
    error ZeroReward();
    error ZeroAmount();
    error BadReplicas(uint256 replicas);
    error BadQuorum(uint256 quorum, uint256 replicas);
    error BadDeadline(uint256 deadline);
    error BadWindow();
    error WrongValue(uint256 expected, uint256 sent);
    error BatchExists(bytes32 batch);
    error JobEnded(bytes32 job, Status status);
    error JobClaimed(bytes32 job);
    error ClaimsClosed(bytes32 job);
    error ReputationTooLow(uint256 points, uint256 required);
    error AlreadyClaimed(bytes32 job, uint256 slot);
    error NoFreeSlot(bytes32 job);
    error InsufficientStake(uint256 needed, uint256 available);
    error InsufficientBalance(uint256 requested, uint256 available);
    error NotSlotHolder(bytes32 job, uint256 slot);
    error WrongMode(bytes32 job);
    error SlotLapsed(bytes32 job, uint256 slot);
    error CommitsClosed(bytes32 job);
    error RevealsNotOpen(bytes32 job);
    error RevealClosed(bytes32 job, uint256 revealEnd);
    error AlreadyRevealed(bytes32 job, uint256 slot);
    error NotCommitted(bytes32 job, uint256 slot);
    error BadReveal(bytes32 job, uint256 slot);
    error TooEarly(bytes32 job, uint256 until);
    error NotEvictable(bytes32 job, uint256 slot);
    error NotExpirable(bytes32 job);
    error NotLast(bytes32 job);
    error LengthMismatch();
    error TransferFailed();
    error Reentrancy();
    error AmountTooLarge();

    event JobsPosted(bytes32 indexed batch, address indexed requester, Terms terms, bytes32[] specs);
    event Claimed(bytes32 indexed job, address indexed agent, uint256 slot, uint256 deadline);
    event Released(bytes32 indexed job, address indexed agent, uint256 slot, uint256 burned);
    event Evicted(bytes32 indexed job, address indexed agent, uint256 slot);
    event Committed(bytes32 indexed job, address indexed agent, uint256 slot, bytes32 commitment);
    event RevealsOpened(bytes32 indexed job, uint256 revealEnd);
    event Revealed(bytes32 indexed job, address indexed agent, uint256 slot, bytes32 result);
    event Accepted(bytes32 indexed job, bytes32 result, uint256 winners);
    event NoConsensus(bytes32 indexed job);
    event Expired(bytes32 indexed job);
    event Cancelled(bytes32 indexed job);
    event Slashed(bytes32 indexed job, address indexed agent, uint256 amount, uint8 reason);
    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, address to, uint256 amount);

    receive() external payable;

    function MAX_REPLICAS() external view returns (uint256);
    function MAX_BATCH() external view returns (uint256);
    function MAX_DURATION() external view returns (uint256);
    function MIN_WINDOW() external view returns (uint256);
    function RELEASE_BURN_DIVISOR() external view returns (uint256);

    /// Posts `terms.count` jobs, one per spec digest, escrowing `reward` for each (§2).
    function post(Terms calldata t, bytes32[] calldata specDigests) external payable returns (bytes32);

    /// Cancels an open job no agent holds a slot of; the reward returns to the requester (§2).
    function cancel(Terms calldata t, uint256 index) external;

    /// Adds the sent ether to the sender's balance (free stake).
    function deposit() external payable;

    /// Sends `amount` of the caller's balance to the caller.
    function withdraw(uint256 amount) external;

    /// Sends `amount` of the caller's balance to `to`.
    function withdrawTo(address payable to, uint256 amount) external;

    /// Claims the first free slot of a job, locking `collateral` from the caller's balance.
    function claim(Terms calldata t, uint256 index) external returns (uint256 slot);

    /// Claims one slot in each of the given jobs of a batch.
    function claimMany(Terms calldata t, uint256[] calldata indices) external returns (uint256[] memory slots);

    /// Gives back a slot the caller claimed and cannot deliver (§2): a miss counted, and
    /// collateral back but the release fee, which is burned: `collateral / RELEASE_BURN_DIVISOR`
    /// times the share of the delivery window the slot was held.
    function release(Terms calldata t, uint256 index, uint256 slot) external;

    /// Delivers the result of an r = 1 job: the job is accepted and the caller paid.
    function submit(Terms calldata t, uint256 index, uint256 slot, bytes32 result) external;

    /// Submits results for several r = 1 jobs of a batch (each in slot 0).
    function submitMany(Terms calldata t, uint256[] calldata indices, bytes32[] calldata results) external;

    /// Commits a sealed result (r > 1), `commitmentOf(jobId, caller, result, salt)`.
    function commit(Terms calldata t, uint256 index, uint256 slot, bytes32 commitment) external;

    /// Claims and commits in one transaction (r > 1), for an agent that ran the job first.
    function claimAndCommit(Terms calldata t, uint256 index, bytes32 commitment) external returns (uint256 slot);

    /// Delivers the last open slot of an r > 1 job in the clear: with the other r − 1 slots
    /// committed, nobody is left who could copy the result, so it skips the commitment.
    function revealLast(Terms calldata t, uint256 index, uint256 slot, bytes32 result) external;

    /// Opens the caller's commitment; the last reveal finalizes the job.
    function reveal(Terms calldata t, uint256 index, uint256 slot, bytes32 result, bytes32 salt) external;

    /// Settles an r > 1 job whose reveals are over (§3).
    function finalize(Terms calldata t, uint256 index) external;

    /// Evicts a claimed slot whose deadline passed undelivered, while claims are open (until the
    /// deadline): it reopens, the holder is slashed.
    function evict(Terms calldata t, uint256 index, uint256 slot) external;

    /// Ends a job whose deadline passed without enough delivered work; refunds the requester.
    function expire(Terms calldata t, uint256 index) external;

    /// Finalizes or expires each given job where that is possible now, skipping the others.
    function settle(Terms calldata t, uint256[] calldata indices) external returns (uint256 settled);

    /// The id of the batch `t` posts (the keccak of its terms, low 32 bits cleared).
    function batchIdOf(Terms calldata t) external pure returns (bytes32);

    /// The id of job `index` of the batch `t` posts.
    function jobIdOf(Terms calldata t, uint256 index) external pure returns (bytes32);

    /// The commitment an agent stores for `result` (§5).
    function commitmentOf(bytes32 job, address agent, bytes32 result, bytes32 salt) external view returns (bytes32);

    /// An account: balance (free stake and earnings), agent number (0 before its first claim),
    /// its counters, and its reputation points: gwei burned as reputation fees on the rewards it
    /// won, less the gwei of its collateral burned by slashes (docs/protocol.md §6).
    function accountOf(address account)
        external
        view
        returns (uint256 balance, uint256 agent, uint256 accepted, uint256 rejected, uint256 missed, uint256 points);

    /// The address of agent number `agent` (0 for none).
    function agentAt(uint256 agent) external view returns (address);

    /// Wei burned so far: slashed collateral, release fees and reputation fees. It stays in the contract, owed to
    /// nobody (docs/protocol.md §8).
    function burned() external view returns (uint256);

    /// How many agents have claimed at least once.
    function agentCount() external view returns (uint256);

    /// A job's state. Lazy transitions (reveals opened by the deadline) show as they will apply.
    function jobOf(Terms calldata t, uint256 index) external view returns (JobView memory v);
}
