// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IJobAgency} from "./IJobAgency.sol";

/// @title JobAgency
/// @notice Agency's compute market (protocol v2): rewards in escrow, agent stakes, replicated
/// execution with commit–reveal, a deadline on every waiting state, pull payments. No result
/// digest is accepted from a sender that does not already hold its slot, and slashed collateral
/// is burned, so nobody profits from a slash they engineered.
/// @dev docs/protocol.md is the specification; "§n" below refers to its sections. Terms are not
/// stored: every job call passes them again and the contract rehashes them into the id (§1, §9).
/// Job state is packed into 64-bit cells, four to a storage word:
///   slot cell    bits 0-31 agent number, 32-55 deadline delay before terms.deadline,
///                56-59 phase, 60-63 status (r = 1 only: the job's one cell is its slot cell)
///   header cell  (r > 1) bits 0-7 slots held, 8-15 commits, 16-23 reveals,
///                24-47 commit-close delay before terms.deadline, 60-63 status
/// An r = 1 job is one cell; an r > 1 job starts on a word of its own: header, then r slots.
contract JobAgency is IJobAgency {
    uint256 public constant MAX_REPLICAS = 15;
    uint256 public constant MAX_BATCH = 1024;
    uint256 public constant MAX_DURATION = 90 days;
    uint256 public constant MIN_WINDOW = 60;
    /// A release burns `collateral / RELEASE_BURN_DIVISOR` times the share of the delivery window
    /// the slot was held (§2): holding a slot by releasing and claiming again costs half the
    /// collateral per window held, while an agent that gives a slot back soon after claiming it
    /// pays little.
    uint256 public constant RELEASE_BURN_DIVISOR = 2;
    /// An accepted job burns `REPUTATION_FEE_BPS` / 10,000 of its reward, and its winners gain one
    /// reputation point per `POINT` wei of it (§6): a point costs a burn, so a requester and an
    /// agent of one owner cannot farm reputation with rewards that come back to them.
    uint256 public constant REPUTATION_FEE_BPS = 100;
    uint256 public constant POINT = 1 gwei;

    /// Slash reasons in `Slashed` (§7).
    uint8 public constant SLASH_EVICTED = 0;
    uint8 public constant SLASH_UNDELIVERED = 1;
    uint8 public constant SLASH_NO_REVEAL = 2;
    uint8 public constant SLASH_WRONG_RESULT = 3;

    uint256 private constant MASK24 = (1 << 24) - 1;
    uint256 private constant MASK32 = (1 << 32) - 1;
    uint256 private constant MASK56 = (1 << 56) - 1;
    uint256 private constant MASK64 = (1 << 64) - 1;
    uint256 private constant MASK96 = (1 << 96) - 1;

    uint256 private constant OPEN = 1;
    uint256 private constant REVEALING = 2;
    uint256 private constant ACCEPTED = 3;
    uint256 private constant NO_CONSENSUS = 4;
    uint256 private constant EXPIRED = 5;
    uint256 private constant CANCELLED = 6;

    uint256 private constant EMPTY = 0;
    uint256 private constant CLAIMED = 1;
    uint256 private constant COMMITTED = 2;
    uint256 private constant REVEALED = 3;

    uint256 private constant STATUS_BITS = 0xF << 60;
    uint256 private constant PHASE_SHIFT = 56;

    // Account word: bits 0-95 balance, 96-127 agent number, then three 24-bit counters
    // (accepted, rejected, missed) and 56 bits of reputation points.
    uint256 private constant ID_SHIFT = 96;
    uint256 private constant ACCEPTED_SHIFT = 128;
    uint256 private constant REJECTED_SHIFT = 152;
    uint256 private constant MISSED_SHIFT = 176;
    uint256 private constant POINTS_SHIFT = 200;

    /// Cell words, keyed by batch id + word index (a batch id's low 32 bits are zero).
    mapping(uint256 => uint256) private _cells;
    /// Per committed slot, keyed by batch id + cell index: the commitment, then the revealed digest.
    mapping(uint256 => bytes32) private _sealed;
    mapping(address => uint256) private _accounts;
    mapping(uint256 => address) private _agentAt;
    uint256 private _agentCount;
    /// Wei burned: slashed collateral and release fees. It stays in the contract, owed to nobody.
    uint256 private _burned;
    bool private transient _locked;

    /// A job located: its id, its batch and its first cell.
    struct Job {
        uint256 batch;
        bytes32 id;
        uint256 base;
    }

    // ---------------------------------------------------------------- requesters

    /// Posts `terms.count` jobs, one per spec digest, escrowing `reward` for each (§2).
    // One branch per rule of §2: slither counts 19 paths, its limit is 11.
    // slither-disable-next-line cyclomatic-complexity
    function post(Terms calldata t, bytes32[] calldata specDigests) external payable returns (bytes32) {
        if (t.requester != msg.sender) revert NotRequester();
        uint256 n = t.count;
        if (n == 0 || n > MAX_BATCH || specDigests.length != n || keccak256(abi.encodePacked(specDigests)) != t.specs) {
            revert BadBatch();
        }
        uint256 batch = _batchOf(t);
        if (_cells[batch] != 0) revert BatchExists(bytes32(batch));
        for (uint256 i; i < n; ++i) {
            bytes32 d = specDigests[i];
            if (d == 0) revert BadSpec(i);
            // The batch's digests as a set in transient storage (EIP-1153), keyed by digest xor
            // batch id, so another batch posted in the same transaction has a set of its own.
            bool seen;
            // Inline assembly: transient storage has no Solidity syntax for a keyed set.
            // slither-disable-next-line assembly
            assembly ("memory-safe") {
                let key := xor(d, batch)
                seen := tload(key)
                tstore(key, 1)
            }
            if (seen) revert DuplicateSpec(i);
        }
        if (t.reward == 0) revert ZeroReward();
        if (uint256(t.reward) + t.collateral > MASK96) revert AmountTooLarge();
        uint256 r = t.replicas;
        if (r == 0 || r > MAX_REPLICAS) revert BadReplicas(r);
        if (r == 1 ? t.quorum != 1 : (uint256(t.quorum) * 2 <= r || t.quorum > r)) {
            revert BadQuorum(t.quorum, r);
        }
        if (t.deadline <= block.timestamp || t.deadline > block.timestamp + MAX_DURATION) {
            revert BadDeadline(t.deadline);
        }
        if (
            t.deliveryWindow < MIN_WINDOW || t.deliveryWindow > MAX_DURATION
                || (r > 1 && (t.revealWindow < MIN_WINDOW || t.revealWindow > MAX_DURATION))
        ) revert BadWindow();
        uint256 total = uint256(t.reward) * n;
        if (msg.value != total) revert WrongValue(total, msg.value);

        if (r == 1) {
            uint256 open4 = (OPEN << 60) | (OPEN << 124) | (OPEN << 188) | (OPEN << 252);
            uint256 full = n >> 2;
            for (uint256 w; w < full; ++w) {
                _cells[batch + w] = open4;
            }
            uint256 rest = n & 3;
            if (rest != 0) _cells[batch + full] = open4 >> ((4 - rest) << 6);
        } else {
            uint256 words = (r + 4) >> 2;
            for (uint256 k; k < n; ++k) {
                _cells[batch + k * words] = OPEN << 60;
            }
        }
        emit JobsPosted(bytes32(batch), msg.sender, t, specDigests);
        return bytes32(batch);
    }

    /// Cancels an open job no agent holds a slot of; the reward returns to the requester (§2).
    function cancel(Terms calldata t, uint256 index) external {
        Job memory j = _job(t, index);
        if (t.requester != msg.sender) revert NotRequester();
        uint256 head = _load(j.batch, j.base);
        uint256 status = head >> 60;
        if (status != OPEN && status != REVEALING) revert JobEnded(j.id, Status(status));
        bool held = t.replicas == 1 ? _phase(head) != EMPTY : (head & 0xFF) != 0;
        if (held) revert JobClaimed(j.id);
        _store(j.batch, j.base, (head & ~STATUS_BITS) | (CANCELLED << 60));
        _credit(t.requester, t.reward);
        emit Cancelled(j.id);
    }

    // ---------------------------------------------------------------- balances

    /// Adds the sent ether to the sender's balance (free stake).
    function deposit() external payable {
        _deposit();
    }

    receive() external payable {
        _deposit();
    }

    /// Sends `amount` of the caller's balance to the caller.
    function withdraw(uint256 amount) external {
        _withdraw(payable(msg.sender), amount);
    }

    /// Sends `amount` of the caller's balance to `to`.
    function withdrawTo(address payable to, uint256 amount) external {
        _withdraw(to, amount);
    }

    // ---------------------------------------------------------------- agents

    /// Claims the first free slot of a job, locking `collateral` from the caller's balance.
    function claim(Terms calldata t, uint256 index) external returns (uint256 slot) {
        uint256 acct = _agentAccount();
        (slot, acct) = _claim(t, _job(t, index), acct);
        _accounts[msg.sender] = acct;
    }

    /// Claims one slot in each of the given jobs of a batch.
    function claimMany(Terms calldata t, uint256[] calldata indices) external returns (uint256[] memory slots) {
        uint256 acct = _agentAccount();
        slots = new uint256[](indices.length);
        for (uint256 i; i < indices.length; ++i) {
            (slots[i], acct) = _claim(t, _job(t, indices[i]), acct);
        }
        _accounts[msg.sender] = acct;
    }

    /// Gives back a slot the caller claimed and cannot deliver (§2): a miss counted, and
    /// collateral back but the release fee (`_releaseFee`), which is burned.
    function release(Terms calldata t, uint256 index, uint256 slot) external {
        Job memory j = _job(t, index);
        uint256 head = _load(j.batch, j.base);
        uint256 acct = _accounts[msg.sender];
        uint256 ci = _slotCell(t, j, slot);
        uint256 c = _heldSlot(t, j, head, slot, ci, acct);
        _clearSlot(t, j, head, ci, c);
        uint256 fee = _releaseFee(t, c);
        if (fee != 0) _burned += fee;
        _accounts[msg.sender] = _bump(_add(acct, t.collateral - fee), MISSED_SHIFT);
        emit Released(j.id, msg.sender, slot, fee);
    }

    /// Delivers the result of an r = 1 job: the job is accepted and the caller paid.
    function submit(Terms calldata t, uint256 index, uint256 slot, bytes32 result) external {
        _accounts[msg.sender] = _submit(t, _job(t, index), slot, result, _accounts[msg.sender]);
        _burn(_reputationFee(t));
    }

    /// Submits results for several r = 1 jobs of a batch (each in slot 0).
    function submitMany(Terms calldata t, uint256[] calldata indices, bytes32[] calldata results) external {
        if (indices.length != results.length) revert LengthMismatch();
        uint256 acct = _accounts[msg.sender];
        for (uint256 i; i < indices.length; ++i) {
            acct = _submit(t, _job(t, indices[i]), 0, results[i], acct);
        }
        _accounts[msg.sender] = acct;
        _burn(_reputationFee(t) * indices.length);
    }

    /// Commits a sealed result (r > 1), `commitmentOf(jobId, caller, result, salt)`.
    function commit(Terms calldata t, uint256 index, uint256 slot, bytes32 commitment) external {
        _commit(t, _job(t, index), slot, commitment, _callerId());
    }

    /// Claims and commits in one transaction (r > 1), for an agent that ran the job first. Safe to
    /// fuse: the commitment names its sender, so a copy holds a slot it can never reveal.
    function claimAndCommit(Terms calldata t, uint256 index, bytes32 commitment) external returns (uint256 slot) {
        Job memory j = _job(t, index);
        uint256 acct;
        (slot, acct) = _claim(t, j, _agentAccount());
        _accounts[msg.sender] = acct;
        _commit(t, j, slot, commitment, (acct >> ID_SHIFT) & MASK32);
    }

    /// Delivers the last open slot of an r > 1 job in the clear: with the other r − 1 slots
    /// committed, nobody is left who could copy the result, so it skips the commitment.
    function revealLast(Terms calldata t, uint256 index, uint256 slot, bytes32 result) external {
        _revealLast(t, _job(t, index), slot, result, _callerId());
    }

    /// Opens the caller's commitment; the last reveal finalizes the job.
    function reveal(Terms calldata t, uint256 index, uint256 slot, bytes32 result, bytes32 salt) external {
        Job memory j = _job(t, index);
        (uint256 head, uint256 end) = _openReveals(t, j, _load(j.batch, j.base));
        if (block.timestamp > end) revert RevealClosed(j.id, end);
        if (slot >= t.replicas) revert NotCommitted(j.id, slot);
        uint256 ci = j.base + 1 + slot;
        uint256 c = _load(j.batch, ci);
        if ((c & MASK32) != _callerId() || (c & MASK32) == 0) {
            revert NotCommitted(j.id, slot);
        }
        uint256 phase = _phase(c);
        if (phase == REVEALED) revert AlreadyRevealed(j.id, slot);
        if (phase != COMMITTED) revert NotCommitted(j.id, slot);
        uint256 key = j.batch + ci;
        if (_sealed[key] != commitmentOf(j.id, msg.sender, result, salt)) revert BadReveal(j.id, slot);
        _sealed[key] = result;
        _store(j.batch, ci, _withPhase(c, REVEALED));
        head += 1 << 16;
        emit Revealed(j.id, msg.sender, slot, result);
        if (((head >> 16) & 0xFF) == ((head >> 8) & 0xFF)) {
            _finalize(t, j, head);
        } else {
            _store(j.batch, j.base, head);
        }
    }

    // ---------------------------------------------------------------- anyone

    /// Settles an r > 1 job whose reveals are over (§3).
    function finalize(Terms calldata t, uint256 index) external {
        Job memory j = _job(t, index);
        (uint256 head, uint256 end) = _openReveals(t, j, _load(j.batch, j.base));
        if (block.timestamp <= end && ((head >> 16) & 0xFF) < ((head >> 8) & 0xFF)) revert TooEarly(j.id, end);
        _finalize(t, j, head);
    }

    /// Evicts a claimed slot whose deadline passed undelivered, while claims are open: it reopens,
    /// the holder is slashed. After the deadline the job's settlement slashes it instead.
    function evict(Terms calldata t, uint256 index, uint256 slot) external {
        Job memory j = _job(t, index);
        uint256 head = _load(j.batch, j.base);
        _requireOpen(j, head);
        if (block.timestamp > t.deadline) revert ClaimsClosed(j.id);
        if (slot >= t.replicas) revert NotEvictable(j.id, slot);
        uint256 ci = _slotCell(t, j, slot);
        uint256 c = ci == j.base ? head : _load(j.batch, ci);
        if (_phase(c) != CLAIMED) revert NotEvictable(j.id, slot);
        uint256 slotDeadline = t.deadline - ((c >> 32) & MASK24);
        if (block.timestamp <= slotDeadline) revert TooEarly(j.id, slotDeadline);
        _clearSlot(t, j, head, ci, c);
        address agent = _agentAt[c & MASK32];
        _slash(j.id, t, agent, SLASH_EVICTED);
        _burn(t.collateral);
        emit Evicted(j.id, agent, slot);
    }

    /// Ends a job whose deadline passed without enough delivered work; refunds the requester.
    function expire(Terms calldata t, uint256 index) external {
        Job memory j = _job(t, index);
        _expire(t, j, _load(j.batch, j.base));
    }

    /// Finalizes or expires each given job where that is possible now, skipping the others.
    function settle(Terms calldata t, uint256[] calldata indices) external returns (uint256 settled) {
        for (uint256 i; i < indices.length; ++i) {
            Job memory j = _job(t, indices[i]);
            uint256 head = _load(j.batch, j.base);
            uint256 status = head >> 60;
            if (status != OPEN && status != REVEALING) continue;
            uint256 commits = (head >> 8) & 0xFF;
            if (status == OPEN) {
                if (block.timestamp <= t.deadline) continue;
                if (t.replicas == 1 || commits < t.quorum) {
                    _expire(t, j, head);
                    ++settled;
                    continue;
                }
            }
            (uint256 h, uint256 end) = _openReveals(t, j, head);
            if (block.timestamp <= end && ((h >> 16) & 0xFF) < commits) continue;
            _finalize(t, j, h);
            ++settled;
        }
    }

    // ---------------------------------------------------------------- views

    /// The id of the batch `t` posts (the keccak of its terms, low 32 bits cleared).
    function batchIdOf(Terms calldata t) external pure returns (bytes32) {
        return bytes32(_batchOf(t));
    }

    /// The id of job `index` of the batch `t` posts.
    function jobIdOf(Terms calldata t, uint256 index) external pure returns (bytes32) {
        return bytes32(_batchOf(t) | index);
    }

    /// The commitment an agent stores for `result` (§5).
    function commitmentOf(bytes32 job, address agent, bytes32 result, bytes32 salt) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), job, agent, result, salt));
    }

    /// An account: balance (free stake and earnings), agent number (0 before its first claim),
    /// its counters and its reputation points (§6).
    function accountOf(address account)
        external
        view
        returns (uint256 balance, uint256 agent, uint256 accepted, uint256 rejected, uint256 missed, uint256 points)
    {
        uint256 a = _accounts[account];
        return (
            a & MASK96,
            (a >> ID_SHIFT) & MASK32,
            (a >> ACCEPTED_SHIFT) & MASK24,
            (a >> REJECTED_SHIFT) & MASK24,
            (a >> MISSED_SHIFT) & MASK24,
            a >> POINTS_SHIFT
        );
    }

    /// The address of agent number `agent` (0 for none).
    function agentAt(uint256 agent) external view returns (address) {
        return _agentAt[agent];
    }

    /// Wei burned so far: slashed collateral, release fees and reputation fees (§8).
    function burned() external view returns (uint256) {
        return _burned;
    }

    /// How many agents have claimed at least once.
    function agentCount() external view returns (uint256) {
        return _agentCount;
    }

    /// A job's state. Lazy transitions (reveals opened by the deadline) show as they will apply.
    function jobOf(Terms calldata t, uint256 index) external view returns (JobView memory v) {
        Job memory j = _job(t, index);
        uint256 head = _load(j.batch, j.base);
        uint256 r = t.replicas;
        v.id = j.id;
        v.status = Status(head >> 60);
        v.slots = new SlotView[](r);
        if (r > 1) {
            v.held = head & 0xFF;
            v.committed = (head >> 8) & 0xFF;
            v.revealed = (head >> 16) & 0xFF;
            if (v.status == Status.Revealing) {
                v.revealEnd = t.deadline - ((head >> 24) & MASK24) + t.revealWindow;
            } else if (v.status == Status.Open && block.timestamp > t.deadline && v.committed >= t.quorum) {
                v.status = Status.Revealing;
                v.revealEnd = uint256(t.deadline) + t.revealWindow;
            }
        }
        for (uint256 i; i < r; ++i) {
            uint256 ci = _slotCell(t, j, i);
            uint256 c = _load(j.batch, ci);
            SlotView memory s = v.slots[i];
            s.agent = _agentAt[c & MASK32];
            s.phase = Phase(_phase(c));
            if (s.phase != Phase.Empty) s.deadline = t.deadline - ((c >> 32) & MASK24);
            s.sealedResult = _sealed[j.batch + ci];
            if (r == 1 && s.phase != Phase.Empty) v.held = 1;
        }
    }

    // ---------------------------------------------------------------- internals

    function _batchOf(Terms calldata t) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(t))) & ~MASK32;
    }

    function _job(Terms calldata t, uint256 index) private view returns (Job memory j) {
        j.batch = _batchOf(t);
        j.id = bytes32(j.batch | (index & MASK32));
        if (index >= t.count) revert UnknownJob(j.id);
        uint256 r = t.replicas;
        j.base = r == 1 ? index : index * (((r + 4) >> 2) << 2);
        if (_load(j.batch, j.base) >> 60 == 0) revert UnknownJob(j.id);
    }

    function _slotCell(Terms calldata t, Job memory j, uint256 slot) private pure returns (uint256) {
        return t.replicas == 1 ? j.base : j.base + 1 + slot;
    }

    function _load(uint256 batch, uint256 cell) private view returns (uint256) {
        return (_cells[batch + (cell >> 2)] >> ((cell & 3) << 6)) & MASK64;
    }

    function _store(uint256 batch, uint256 cell, uint256 value) private {
        uint256 key = batch + (cell >> 2);
        uint256 shift = (cell & 3) << 6;
        _cells[key] = (_cells[key] & ~(MASK64 << shift)) | (value << shift);
    }

    function _phase(uint256 cell) private pure returns (uint256) {
        return (cell >> PHASE_SHIFT) & 0xF;
    }

    function _withPhase(uint256 cell, uint256 phase) private pure returns (uint256) {
        return (cell & ~(uint256(0xF) << PHASE_SHIFT)) | (phase << PHASE_SHIFT);
    }

    function _requireOpen(Job memory j, uint256 head) private pure {
        uint256 status = head >> 60;
        if (status == REVEALING) revert CommitsClosed(j.id);
        if (status != OPEN) revert JobEnded(j.id, Status(status));
    }

    /// The caller's account word, with an agent number assigned on first use.
    function _agentAccount() private returns (uint256 acct) {
        acct = _accounts[msg.sender];
        if ((acct >> ID_SHIFT) & MASK32 == 0) {
            uint256 id = ++_agentCount;
            _agentAt[id] = msg.sender;
            acct |= id << ID_SHIFT;
        }
    }

    /// The caller's agent number (0 before its first claim).
    function _callerId() private view returns (uint256) {
        return (_accounts[msg.sender] >> ID_SHIFT) & MASK32;
    }

    // Every claim rule of §2 in one pass over the slots: slither counts 12 paths.
    // slither-disable-next-line cyclomatic-complexity
    function _claim(Terms calldata t, Job memory j, uint256 acct) private returns (uint256 slot, uint256) {
        uint256 head = _load(j.batch, j.base);
        _requireOpen(j, head);
        if (block.timestamp > t.deadline) revert ClaimsClosed(j.id);
        if (t.minReputation != 0) {
            uint256 points = acct >> POINTS_SHIFT;
            if (points < t.minReputation) revert ReputationTooLow(points, t.minReputation);
        }
        uint256 me = (acct >> ID_SHIFT) & MASK32;
        uint256 r = t.replicas;
        slot = type(uint256).max;
        for (uint256 i; i < r; ++i) {
            uint256 c = i == 0 && r == 1 ? head : _load(j.batch, j.base + 1 + i);
            if (_phase(c) == EMPTY) {
                if (slot == type(uint256).max) slot = i;
            } else if ((c & MASK32) == me) {
                revert AlreadyClaimed(j.id, i);
            }
        }
        if (slot == type(uint256).max) revert NoFreeSlot(j.id);
        uint256 balance = acct & MASK96;
        if (balance < t.collateral) revert InsufficientStake(t.collateral, balance);
        uint256 slotDeadline = block.timestamp + t.deliveryWindow;
        if (slotDeadline > t.deadline) slotDeadline = t.deadline;
        uint256 cell = me | ((t.deadline - slotDeadline) << 32) | (CLAIMED << PHASE_SHIFT);
        if (r == 1) {
            _store(j.batch, j.base, cell | (OPEN << 60));
        } else {
            _store(j.batch, j.base + 1 + slot, cell);
            _store(j.batch, j.base, head + 1);
        }
        emit Claimed(j.id, msg.sender, slot, slotDeadline);
        return (slot, acct - t.collateral);
    }

    /// Checks that the caller holds `slot` in phase Claimed, within its deadline; returns the cell.
    function _heldSlot(Terms calldata t, Job memory j, uint256 head, uint256 slot, uint256 ci, uint256 acct)
        private
        view
        returns (uint256 c)
    {
        _requireOpen(j, head);
        if (slot >= t.replicas) revert NotSlotHolder(j.id, slot);
        c = ci == j.base ? head : _load(j.batch, ci);
        uint256 me = (acct >> ID_SHIFT) & MASK32;
        if (_phase(c) != CLAIMED || (c & MASK32) != me || me == 0) revert NotSlotHolder(j.id, slot);
        if (block.timestamp > t.deadline - ((c >> 32) & MASK24)) revert SlotLapsed(j.id, slot);
    }

    function _clearSlot(Terms calldata t, Job memory j, uint256 head, uint256 ci, uint256 c) private {
        if (t.replicas == 1) {
            _store(j.batch, ci, c & STATUS_BITS);
        } else {
            _store(j.batch, ci, 0);
            _store(j.batch, j.base, head - 1);
        }
    }

    function _submit(Terms calldata t, Job memory j, uint256 slot, bytes32 result, uint256 acct)
        private
        returns (uint256)
    {
        if (t.replicas != 1) revert WrongMode(j.id);
        uint256 head = _load(j.batch, j.base);
        uint256 c = _heldSlot(t, j, head, slot, j.base, acct);
        _store(j.batch, j.base, (_withPhase(c, REVEALED) & ~STATUS_BITS) | (ACCEPTED << 60));
        emit Accepted(j.id, result, 1);
        uint256 fee = _reputationFee(t);
        return _gain(_bump(_add(acct, uint256(t.reward) - fee + t.collateral), ACCEPTED_SHIFT), fee / POINT);
    }

    function _commit(Terms calldata t, Job memory j, uint256 slot, bytes32 commitment, uint256 me) private {
        if (t.replicas == 1) revert WrongMode(j.id);
        uint256 head = _load(j.batch, j.base);
        if (block.timestamp > t.deadline) {
            _requireOpen(j, head);
            revert CommitsClosed(j.id);
        }
        uint256 ci = j.base + 1 + slot;
        uint256 c = _heldSlot(t, j, head, slot, ci, me << ID_SHIFT);
        _store(j.batch, ci, _withPhase(c, COMMITTED));
        _sealed[j.batch + ci] = commitment;
        head += 1 << 8;
        emit Committed(j.id, msg.sender, slot, commitment);
        if (((head >> 8) & 0xFF) == t.replicas) {
            head = (head & ~STATUS_BITS) | (REVEALING << 60) | ((t.deadline - block.timestamp) << 24);
            emit RevealsOpened(j.id, block.timestamp + t.revealWindow);
        }
        _store(j.batch, j.base, head);
    }

    function _revealLast(Terms calldata t, Job memory j, uint256 slot, bytes32 result, uint256 me) private {
        if (t.replicas == 1) revert WrongMode(j.id);
        uint256 head = _load(j.batch, j.base);
        if (block.timestamp > t.deadline) {
            _requireOpen(j, head);
            revert CommitsClosed(j.id);
        }
        uint256 ci = j.base + 1 + slot;
        uint256 c = _heldSlot(t, j, head, slot, ci, me << ID_SHIFT);
        // The caller's slot is Claimed, so r − 1 commits means every other slot is committed.
        if (((head >> 8) & 0xFF) != t.replicas - 1) revert NotLast(j.id);
        _store(j.batch, ci, _withPhase(c, REVEALED));
        _sealed[j.batch + ci] = result;
        head =
            ((head & ~STATUS_BITS) + (1 << 8) + (1 << 16)) | (REVEALING << 60) | ((t.deadline - block.timestamp) << 24);
        _store(j.batch, j.base, head);
        emit Revealed(j.id, msg.sender, slot, result);
        emit RevealsOpened(j.id, block.timestamp + t.revealWindow);
    }

    /// Returns the header as it is with reveals open, and when they end; reverts if they are not.
    function _openReveals(Terms calldata t, Job memory j, uint256 head) private view returns (uint256, uint256) {
        if (t.replicas == 1) revert WrongMode(j.id);
        uint256 status = head >> 60;
        if (status == REVEALING) return (head, t.deadline - ((head >> 24) & MASK24) + t.revealWindow);
        if (status != OPEN) revert JobEnded(j.id, Status(status));
        if (block.timestamp <= t.deadline || ((head >> 8) & 0xFF) < t.quorum) revert RevealsNotOpen(j.id);
        return ((head & ~STATUS_BITS) | (REVEALING << 60), uint256(t.deadline) + t.revealWindow);
    }

    function _expire(Terms calldata t, Job memory j, uint256 head) private {
        if (head >> 60 == REVEALING) revert NotExpirable(j.id);
        _requireOpen(j, head);
        if (block.timestamp <= t.deadline) revert TooEarly(j.id, t.deadline);
        uint256 r = t.replicas;
        if (r > 1 && ((head >> 8) & 0xFF) >= t.quorum) revert NotExpirable(j.id);
        uint256 slashed = 0;
        for (uint256 i; i < r; ++i) {
            uint256 c = r == 1 ? head : _load(j.batch, j.base + 1 + i);
            uint256 phase = _phase(c);
            if (phase == CLAIMED) {
                _slash(j.id, t, _agentAt[c & MASK32], SLASH_UNDELIVERED);
                slashed += t.collateral;
            } else if (phase == COMMITTED) {
                _credit(_agentAt[c & MASK32], t.collateral);
            }
        }
        _store(j.batch, j.base, (head & ~STATUS_BITS) | (EXPIRED << 60));
        _burn(slashed);
        _credit(t.requester, t.reward);
        emit Expired(j.id);
    }

    /// Tallies the reveals and pays out (§3). `head` has reveals open.
    function _finalize(Terms calldata t, Job memory j, uint256 head) private {
        uint256 r = t.replicas;
        uint256[] memory cells = new uint256[](r);
        bytes32[] memory digests = new bytes32[](r);
        for (uint256 i; i < r; ++i) {
            uint256 c = _load(j.batch, j.base + 1 + i);
            cells[i] = c;
            if (_phase(c) == REVEALED) digests[i] = _sealed[j.batch + j.base + 1 + i];
        }
        (bytes32 win, uint256 winners) = _tally(cells, digests, t.quorum);
        uint256 slashed = _slashLosers(t, j, cells, digests, win, winners);
        if (winners == 0) {
            _burn(slashed);
            _store(j.batch, j.base, (head & ~STATUS_BITS) | (NO_CONSENSUS << 60));
            _credit(t.requester, t.reward);
            emit NoConsensus(j.id);
            return;
        }
        uint256 fee = _reputationFee(t);
        _burn(slashed + fee);
        _payWinners(t, cells, digests, win, winners, t.reward - fee, fee / winners / POINT);
        _store(j.batch, j.base, (head & ~STATUS_BITS) | (ACCEPTED << 60));
        emit Accepted(j.id, win, winners);
    }

    /// Slashes every slot not on the winning side and returns the total; without a winner,
    /// revealers are spared and get their collateral back.
    function _slashLosers(
        Terms calldata t,
        Job memory j,
        uint256[] memory cells,
        bytes32[] memory digests,
        bytes32 win,
        uint256 winners
    ) private returns (uint256 slashed) {
        for (uint256 i; i < cells.length; ++i) {
            uint256 phase = _phase(cells[i]);
            if (phase == EMPTY) continue;
            address agent = _agentAt[cells[i] & MASK32];
            if (phase == REVEALED) {
                if (winners == 0) {
                    _credit(agent, t.collateral);
                    continue;
                }
                if (digests[i] == win) continue;
            }
            uint8 reason =
                phase == REVEALED ? SLASH_WRONG_RESULT : phase == COMMITTED ? SLASH_NO_REVEAL : SLASH_UNDELIVERED;
            _slash(j.id, t, agent, reason);
            slashed += t.collateral;
        }
    }

    /// Splits `pot` among the winners, each also getting its collateral back and `points`; the
    /// division's remainder goes to the first winner.
    function _payWinners(
        Terms calldata t,
        uint256[] memory cells,
        bytes32[] memory digests,
        bytes32 win,
        uint256 winners,
        uint256 pot,
        uint256 points
    ) private {
        uint256 share = pot / winners;
        // The division's remainder, on purpose.
        // slither-disable-next-line divide-before-multiply
        uint256 dust = pot - share * winners;
        for (uint256 i; i < cells.length; ++i) {
            if (_phase(cells[i]) != REVEALED || digests[i] != win) continue;
            address agent = _agentAt[cells[i] & MASK32];
            uint256 a = _add(_accounts[agent], uint256(t.collateral) + share + dust);
            _accounts[agent] = _gain(_bump(a, ACCEPTED_SHIFT), points);
            dust = 0;
        }
    }

    /// The digest revealed by at least `quorum` slots, and how many revealed it; (0, 0) if none.
    function _tally(uint256[] memory cells, bytes32[] memory digests, uint256 quorum)
        private
        pure
        returns (bytes32, uint256)
    {
        uint256 r = cells.length;
        for (uint256 i; i < r; ++i) {
            if (_phase(cells[i]) != REVEALED) continue;
            uint256 votes = 0;
            for (uint256 k = i; k < r; ++k) {
                if (_phase(cells[k]) == REVEALED && digests[k] == digests[i]) ++votes;
            }
            if (votes >= quorum) return (digests[i], votes);
        }
        return (0, 0);
    }

    /// What releasing slot cell `c` burns now: `collateral / RELEASE_BURN_DIVISOR` times the share
    /// of the delivery window elapsed, counted back from the slot deadline (`_heldSlot` checked
    /// that it has not passed).
    function _releaseFee(Terms calldata t, uint256 c) private view returns (uint256) {
        uint256 left = t.deadline - ((c >> 32) & MASK24) - block.timestamp;
        uint256 window = t.deliveryWindow;
        uint256 held = left >= window ? 0 : window - left;
        return uint256(t.collateral) * held / (RELEASE_BURN_DIVISOR * window);
    }

    /// The reputation fee an accepted job of `t` burns from its reward (§6).
    function _reputationFee(Terms calldata t) private pure returns (uint256) {
        return uint256(t.reward) * REPUTATION_FEE_BPS / 10_000;
    }

    /// Burns `amount`: slashed collateral (it already left its owner's balance at the claim) or
    /// reputation fees (kept back from the reward the winners are credited).
    function _burn(uint256 amount) private {
        // In `settle`'s loop the slot is warm after the first job: 100 gas a write.
        // slither-disable-next-line costly-loop
        if (amount != 0) _burned += amount;
    }

    /// Counts a slash against `agent` (its collateral already left its balance at the claim): a
    /// counter bumped and a point lost per `POINT` of the collateral burned (§6).
    function _slash(bytes32 job, Terms calldata t, address agent, uint8 reason) private {
        uint256 shift = reason == SLASH_WRONG_RESULT ? REJECTED_SHIFT : MISSED_SHIFT;
        uint256 a = _bump(_accounts[agent], shift);
        uint256 points = a >> POINTS_SHIFT;
        uint256 lost = t.collateral / POINT;
        _accounts[agent] = (a & ~(MASK56 << POINTS_SHIFT)) | ((points > lost ? points - lost : 0) << POINTS_SHIFT);
        emit Slashed(job, agent, t.collateral, reason);
    }

    /// Adds `points` to the account word's reputation, saturating.
    function _gain(uint256 acct, uint256 points) private pure returns (uint256) {
        uint256 sum = (acct >> POINTS_SHIFT) + points;
        return (acct & ~(MASK56 << POINTS_SHIFT)) | ((sum > MASK56 ? MASK56 : sum) << POINTS_SHIFT);
    }

    /// Adds `amount` to `account`'s balance.
    function _credit(address account, uint256 amount) private {
        _accounts[account] = _add(_accounts[account], amount);
    }

    function _add(uint256 acct, uint256 amount) private pure returns (uint256) {
        if ((acct & MASK96) + amount > MASK96) revert AmountTooLarge();
        return acct + amount;
    }

    /// Increments the 24-bit counter at `shift`, saturating.
    function _bump(uint256 acct, uint256 shift) private pure returns (uint256) {
        return (acct >> shift) & MASK24 == MASK24 ? acct : acct + (1 << shift);
    }

    function _deposit() private {
        if (msg.value == 0) revert ZeroAmount();
        _accounts[msg.sender] = _add(_accounts[msg.sender], msg.value);
        emit Deposited(msg.sender, msg.value);
    }

    function _withdraw(address payable to, uint256 amount) private {
        if (_locked) revert Reentrancy();
        _locked = true;
        uint256 acct = _accounts[msg.sender];
        uint256 balance = acct & MASK96;
        if (amount == 0) revert ZeroAmount();
        if (amount > balance) revert InsufficientBalance(amount, balance);
        _accounts[msg.sender] = acct - amount;
        emit Withdrawn(msg.sender, to, amount);
        // Every effect is above; the guard, reset below, keeps the recipient out of `_withdraw`.
        // slither-disable-next-line low-level-calls,reentrancy-eth
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
        _locked = false;
    }
}
