// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../../../contracts/ReleaseLedger.sol";
import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../../contracts/interfaces/ISeedRegistry.sol";
import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Drives the registry with random votes (direct and signed, from builders, strangers and retired
/// keys), revocations, additions, key rotations, quorum and system-set changes and `finalise` calls, and
/// keeps an independent record of every accepted vote. Whenever the ledger gains an entry it checks, from
/// that record alone, that the release deserved it.
contract RegistryHandler is Test {
    SeedRegistry public registry;
    ReleaseLedger public ledger;
    address internal governance;
    address internal guardian;

    uint256 internal constant MAX_BUILDERS = 5;
    uint256[] internal keys; // current key of builder id i
    uint256[] internal outsiders; // keys that must never be counted: strangers and retired builder keys
    uint256 internal nextKey = 0x5eed0000;

    bytes32[3] internal commits = [bytes32(uint256(0xc0)), bytes32(uint256(0xc1)), bytes32(uint256(0xc2))];
    bytes32 internal constant GOOD = keccak256("good manifest");
    bytes32 internal constant BAD = keccak256("bad manifest");
    string[] internal allSystems;
    bool internal wideSet;

    // ---- ghost state
    /// @dev keccak(commit, systemId, builderId) => the digest the builder's accepted vote carried.
    mapping(bytes32 => bytes32) public ghostVote;
    /// @dev Votes counted by `finalise` from signatures, which the registry does not store (D-055).
    mapping(bytes32 => bool) public ghostUnstored;
    /// @dev Builders proven to have equivocated, by commit.
    mapping(bytes32 => uint64) public ghostEquivocators;
    uint256 public outsiderVotesAccepted;
    uint256 public conflictingVotesAccepted;
    uint256 public unjustifiedFinalisations;
    uint256 public finalisationsSeen;
    bytes32[] internal finalisedCommits;
    /// @dev The ledger root of each finalised release, as read right after its finalisation.
    mapping(bytes32 => bytes32) internal rootSnapshots;
    /// @dev The block each release was finalised in.
    mapping(bytes32 => uint256) internal blockSnapshots;
    mapping(bytes32 => uint256) public timesFinalised;
    uint256 public calls;

    bytes32 internal constant FINALISED_TOPIC =
        keccak256("ReleaseFinalised(bytes32,bytes32,string[],bytes32[],uint64[],uint32,bool)");
    bytes32 internal constant RECORDED_TOPIC = keccak256("ReleaseRecorded(bytes32,bytes32,address,uint32)");

    constructor(
        SeedRegistry registry_,
        ReleaseLedger ledger_,
        address governance_,
        address guardian_,
        uint256[] memory keys_
    ) {
        registry = registry_;
        ledger = ledger_;
        governance = governance_;
        guardian = guardian_;
        keys = keys_;
        for (uint256 i; i < 3; ++i) {
            outsiders.push(uint256(keccak256(abi.encode("outsider", i))) % 1e70 + 1);
        }
        allSystems.push("aarch64-linux");
        allSystems.push("riscv64-linux");
        allSystems.push("x86_64-linux");
    }

    // ------------------------------------------------------------------ views for the invariants

    function finalisedCount() external view returns (uint256) {
        return finalisedCommits.length;
    }

    function finalisedAt(uint256 i)
        external
        view
        returns (bytes32 commit, bytes32 root, uint256 blockNumber)
    {
        commit = finalisedCommits[i];
        root = rootSnapshots[commit];
        blockNumber = blockSnapshots[commit];
    }

    function commitCount() external pure returns (uint256) {
        return 3;
    }

    function commitAt(uint256 i) external view returns (bytes32) {
        return commits[i];
    }

    function systemsInPlay() external view returns (string[] memory) {
        return allSystems;
    }

    function ghostKey(bytes32 commit, bytes32 systemId, uint256 builderId) public pure returns (bytes32) {
        return keccak256(abi.encode(commit, systemId, builderId));
    }

    // ------------------------------------------------------------------ actions

    function attest(uint256 who, uint256 c, uint256 s, uint256 d) external {
        (uint256 key, bool outsider) = _pickKey(who);
        _vote(key, outsider, c, s, d, false);
    }

    function attestBySig(uint256 who, uint256 c, uint256 s, uint256 d) external {
        (uint256 key, bool outsider) = _pickKey(who);
        _vote(key, outsider, c, s, d, true);
    }

    function revoke(uint256 b) external {
        ++calls;
        // Rarely: revocations are permanent and would otherwise soon leave nobody to vote.
        if (b % 3 != 0) return;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 id = uint8((b / 3) % keys.length);
        if ((registry.activeBuilderMask() >> id) & 1 == 0) return;
        vm.prank(guardian);
        registry.revokeBuilder(id);
    }

    function addBuilder(uint256 seed) external {
        ++calls;
        if (keys.length >= MAX_BUILDERS) return;
        uint256 key = nextKey++;
        bytes32 tag = keccak256(abi.encode("tag", key, seed));
        vm.prank(governance);
        registry.addBuilder(vm.addr(key), tag, keccak256(abi.encode(tag, 1)), keccak256(abi.encode(tag, 2)));
        keys.push(key);
    }

    function rotate(uint256 b) external {
        ++calls;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 id = uint8(b % keys.length);
        if ((registry.activeBuilderMask() >> id) & 1 == 0) return;
        uint256 fresh = nextKey++;
        vm.prank(governance);
        registry.rotateBuilderKey(id, vm.addr(fresh));
        outsiders.push(keys[id]); // the retired key must never count again
        keys[id] = fresh;
    }

    function setQuorum(uint256 k) external {
        ++calls;
        uint256 active = _popcount(registry.activeBuilderMask());
        if (active == 0) return;
        vm.prank(governance);
        // forge-lint: disable-next-line(unsafe-typecast)
        registry.setQuorum(uint8(k % active + 1));
    }

    function toggleSystems() external {
        ++calls;
        wideSet = !wideSet;
        string[] memory s;
        if (wideSet) {
            s = allSystems;
        } else {
            s = new string[](2);
            s[0] = allSystems[0];
            s[1] = allSystems[2];
        }
        vm.prank(governance);
        registry.setRequiredSystems(s);
    }

    /// @notice A relayer finalises a release from every current builder's signed GOOD votes (one in
    /// four calls slips in an outsider's signature as some builder's), on top of the stored votes.
    function finaliseSigned(uint256 c, uint256 who) external {
        ++calls;
        vm.roll(block.number + 1);
        bytes32 commit = commits[c % 3];
        string[] memory req = registry.requiredSystems();
        uint256 n = keys.length;
        ISeedRegistry.CompactVote[] memory votes = new ISeedRegistry.CompactVote[](req.length * n);
        bytes32[] memory ghostKeys = new bytes32[](req.length * n);
        bytes32[] memory digests = new bytes32[](req.length);
        bool outsider = who % 4 == 0;
        for (uint256 i; i < req.length; ++i) {
            digests[i] = GOOD;
            for (uint256 b; b < n; ++b) {
                uint256 key =
                    outsider && b == (who / 4) % n ? outsiders[(who / 4) % outsiders.length] : keys[b];
                votes[i * n + b] = _compactVote(key, b, commit, i, req[i]);
                ghostKeys[i * n + b] = ghostKey(commit, keccak256(bytes(req[i])), b);
            }
        }
        bytes32[] memory previous = new bytes32[](ghostKeys.length);
        for (uint256 j; j < ghostKeys.length; ++j) {
            previous[j] = ghostVote[ghostKeys[j]];
        }
        bool ok = _observe(
            commit,
            address(this),
            abi.encodeCall(ISeedRegistry.finalise, (commit, digests, votes)),
            Pending({outsider: outsider, key: bytes32(0), digest: GOOD, unstored: ghostKeys})
        );
        if (!ok) return;
        for (uint256 j; j < ghostKeys.length; ++j) {
            if (previous[j] != bytes32(0) && previous[j] != GOOD) ++conflictingVotesAccepted;
        }
    }

    /// @notice Anyone proves that a builder signed GOOD and BAD for one system of a release.
    function reportEquivocation(uint256 b, uint256 c, uint256 s) external {
        ++calls;
        uint256 id = b % keys.length;
        bytes32 commit = commits[c % 3];
        string memory system = _pickSystem(s);
        registry.reportEquivocation(
            _signedVote(keys[id], commit, system, GOOD), _signedVote(keys[id], commit, system, BAD)
        );
        ghostEquivocators[commit] |= uint64(1) << id;
    }

    function _compactVote(uint256 key, uint256 builderId, bytes32 commit, uint256 index, string memory system)
        internal
        view
        returns (ISeedRegistry.CompactVote memory c)
    {
        ISeedRegistry.SignedVote memory v = _signedVote(key, commit, system, GOOD);
        (bytes32 r, bytes32 vs) = vm.signCompact(key, registry.hashVote(v));
        // forge-lint: disable-next-line(unsafe-typecast)
        c = ISeedRegistry.CompactVote(
            uint8(index), uint8(builderId), v.deadline, v.imageDigest, v.statementDigest, r, vs
        );
    }

    /// @notice Anyone calls `finalise` with the best-supported digest per system.
    function finalise(uint256 c) external {
        ++calls;
        bytes32 commit = commits[c % 3];
        string[] memory req = registry.requiredSystems();
        bytes32[] memory ds = new bytes32[](req.length);
        for (uint256 i; i < req.length; ++i) {
            ds[i] = registry.hasQuorum(commit, req[i], GOOD) ? GOOD : BAD;
        }
        _observe(
            commit,
            address(this),
            abi.encodeCall(ISeedRegistry.finalise, (commit, ds, new ISeedRegistry.CompactVote[](0))),
            Pending({outsider: false, key: bytes32(0), digest: bytes32(0), unstored: new bytes32[](0)})
        );
    }

    // ------------------------------------------------------------------ internals

    /// @dev One call in four comes from an outsider (stranger or retired key), the rest from builders.
    function _pickKey(uint256 who) internal view returns (uint256 key, bool outsider) {
        if (who % 4 == 0) return (outsiders[(who / 4) % outsiders.length], true);
        return (keys[(who / 4) % keys.length], false);
    }

    /// @dev Mostly a required system; sometimes riscv64-linux, which is required only in the wide set.
    function _pickSystem(uint256 s) internal view returns (string memory) {
        if (s % 5 == 0) return allSystems[1];
        return (s / 5) % 2 == 0 ? allSystems[0] : allSystems[2];
    }

    function _vote(uint256 key, bool outsider, uint256 c, uint256 s, uint256 d, bool signed) internal {
        ++calls;
        // Each vote in its own block, so each finalisation names a distinct one.
        vm.roll(block.number + 1);
        bytes32 commit = commits[c % 3];
        string memory system = _pickSystem(s);
        // Mostly agreeing builders, with some disagreement.
        bytes32 digest = d % 5 == 0 ? BAD : GOOD;
        address signer = vm.addr(key);
        bytes memory call =
            signed ? _signedCall(key, commit, system, digest) : _directCall(key, commit, system, digest);
        address from = signed ? address(this) : signer;

        // What the vote may legitimately do, judged before it runs.
        bytes32 gk;
        bytes32 previous;
        if (!outsider) {
            gk = ghostKey(commit, keccak256(bytes(system)), registry.builderIdOf(signer));
            previous = ghostVote[gk];
        }
        Pending memory p = Pending({outsider: outsider, key: gk, digest: digest, unstored: new bytes32[](0)});
        bool ok = _observe(commit, from, call, p);
        // A vote counted from a signature is not stored, so a later vote of the builder is recorded even
        // for another digest: the release is final by then and cannot change (D-055). Stored votes never
        // change.
        bool counted = ghostUnstored[gk];
        if (ok && !outsider && !counted && previous != bytes32(0) && previous != digest) {
            ++conflictingVotesAccepted;
        }
        if (ok && !outsider && counted) {
            // From now on the stored vote is the one later votes must agree with.
            ghostUnstored[gk] = false;
            ghostVote[gk] = digest;
        }
    }

    function _signedCall(uint256 key, bytes32 commit, string memory system, bytes32 digest)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeCall(ISeedRegistry.attestBySig, (_signedVote(key, commit, system, digest)));
    }

    function _signedVote(uint256 key, bytes32 commit, string memory system, bytes32 digest)
        internal
        view
        returns (ISeedRegistry.SignedVote memory v)
    {
        v = ISeedRegistry.SignedVote({
            signer: vm.addr(key),
            commit: commit,
            system: system,
            manifestDigest: digest,
            imageDigest: keccak256(abi.encode("image", key)),
            statementDigest: keccak256(abi.encode("statement", key, commit)),
            deadline: uint64(block.timestamp + 1 days),
            signature: ""
        });
        (uint8 sv, bytes32 r, bytes32 ss) = vm.sign(key, registry.hashVote(v));
        v.signature = abi.encodePacked(r, ss, sv);
    }

    function _directCall(uint256 key, bytes32 commit, string memory system, bytes32 digest)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeCall(
            ISeedRegistry.attest,
            (commit, system, digest, keccak256(abi.encode("image", key)), keccak256("statement"))
        );
    }

    /// @dev The vote under way: recorded in the ghost as soon as the registry accepts it, before any
    /// finalisation it caused is checked (the triggering vote is part of the evidence).
    struct Pending {
        bool outsider;
        bytes32 key;
        bytes32 digest;
        // Votes `finalise` counts from signatures without storing them, all for `digest`.
        bytes32[] unstored;
    }

    /// @dev Runs `call` from `from` and checks every finalisation it caused against the ghost record.
    function _observe(bytes32 commit, address from, bytes memory call, Pending memory p)
        internal
        returns (bool ok)
    {
        uint64 activeBefore = registry.activeBuilderMask();
        uint256 thresholdBefore = registry.threshold();
        vm.recordLogs();
        vm.prank(from);
        (ok,) = address(registry).call(call);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        if (!ok) return false;
        if (p.outsider) ++outsiderVotesAccepted;
        else if (p.key != bytes32(0) && ghostVote[p.key] == bytes32(0)) ghostVote[p.key] = p.digest;
        for (uint256 i; !p.outsider && i < p.unstored.length; ++i) {
            if (ghostVote[p.unstored[i]] != bytes32(0)) continue;
            ghostVote[p.unstored[i]] = p.digest;
            ghostUnstored[p.unstored[i]] = true;
        }
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(registry) || logs[i].topics[0] != FINALISED_TOPIC) continue;
            _checkFinalisation(commit, logs[i], activeBefore, thresholdBefore);
        }
        // Every ledger append must be one of the finalisations just checked.
        if (
            _countLogs(logs, address(ledger), RECORDED_TOPIC)
                != _countLogs(logs, address(registry), FINALISED_TOPIC)
        ) {
            ++unjustifiedFinalisations;
        }
    }

    function _countLogs(Vm.Log[] memory logs, address emitter, bytes32 topic)
        internal
        pure
        returns (uint256 n)
    {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == emitter && logs[i].topics[0] == topic) ++n;
        }
    }

    function _checkFinalisation(
        bytes32 commit,
        Vm.Log memory log,
        uint64 activeBefore,
        uint256 thresholdBefore
    ) internal {
        ++finalisationsSeen;
        bytes32 root = log.topics[2];
        (string[] memory systems, bytes32[] memory digests, uint64[] memory voters,,) =
            abi.decode(log.data, (string[], bytes32[], uint64[], uint32, bool));
        bool justified = bytes32(log.topics[1]) == commit && thresholdBefore > 0
            && systems.length == digests.length && voters.length == digests.length
            && ledger.rootOf(commit) == root && registry.computeRoot(systems, digests) == root
            && timesFinalised[commit] == 0;
        justified =
            justified && _systemsJustified(commit, systems, digests, voters, activeBefore, thresholdBefore);
        if (!justified) ++unjustifiedFinalisations;
        ++timesFinalised[commit];
        finalisedCommits.push(commit);
        rootSnapshots[commit] = ledger.rootOf(commit);
        blockSnapshots[commit] = block.number;
    }

    /// @dev The systems are the required set, and for each, the counted voters are active, at least the
    /// threshold, and each voted exactly that digest (per the ghost record, which only registered keys write).
    function _systemsJustified(
        bytes32 commit,
        string[] memory systems,
        bytes32[] memory digests,
        uint64[] memory voters,
        uint64 activeBefore,
        uint256 thresholdBefore
    ) internal view returns (bool) {
        string[] memory req = registry.requiredSystems();
        if (req.length != systems.length) return false;
        for (uint256 i; i < systems.length; ++i) {
            bytes32 sid = keccak256(bytes(systems[i]));
            if (keccak256(bytes(req[i])) != sid) return false;
            uint64 v = voters[i];
            if ((v & ~activeBefore) != 0 || _popcount(v) < thresholdBefore) return false;
            if (v & ghostEquivocators[commit] != 0) return false;
            for (uint256 b; b < 64; ++b) {
                if ((v >> b) & 1 == 1 && ghostVote[ghostKey(commit, sid, b)] != digests[i]) return false;
            }
        }
        return true;
    }

    function _popcount(uint64 x) internal pure returns (uint256 n) {
        for (; x != 0; x &= x - 1) {
            ++n;
        }
    }
}
