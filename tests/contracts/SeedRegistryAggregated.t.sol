// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../../contracts/ReleaseLedger.sol";
import {SeedRegistry} from "../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {ReleaseRoot} from "../../contracts/libraries/ReleaseRoot.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice `finalise` (issue 17): a release finalised from signed votes in one call, under the same rules
/// as the vote-by-vote path, composing with it.
contract SeedRegistryAggregatedTest is RegistryFixture {
    bytes32 internal constant GENESIS = bytes32(uint256(0x9e));
    bytes32 internal constant C1 = bytes32(uint256(0xc1));
    uint64 internal deadline;
    address internal relayer = makeAddr("relayer");
    string[] internal systems;

    function setUp() public {
        _deploy(3, 2, _systems2(), 7);
        systems = _systems2();
        _genesis(3, GENESIS, systems);
        vm.warp(1_700_000_000);
        deadline = uint64(block.timestamp + 1 hours);
    }

    function _relay(bytes32 commit, bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes)
        internal
    {
        vm.prank(relayer);
        registry.finalise(commit, digests, votes);
    }

    function _expectRevert(
        bytes memory reason,
        bytes32 commit,
        bytes32[] memory digests,
        ISeedRegistry.CompactVote[] memory votes
    ) internal {
        vm.prank(relayer);
        vm.expectRevert(reason);
        registry.finalise(commit, digests, votes);
        assertFalse(registry.isFinalised(commit), "not finalised");
    }

    function test_finalisesWithTheEventsOfTheVotePath() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 2), C1, systems, deadline);
        uint64[] memory counted = new uint64[](2);
        counted[0] = 5;
        counted[1] = 5;
        bytes32 root = ReleaseRoot.compute(systems, digests);
        for (uint256 s; s < 2; ++s) {
            for (uint256 i; i < 2; ++i) {
                uint256 b = i * 2;
                vm.expectEmit(true, true, true, true, address(registry));
                emit ISeedRegistry.Attested(
                    C1,
                    keccak256(bytes(systems[s])),
                    builderAddrs[b],
                    uint8(b),
                    systems[s],
                    digests[s],
                    IMAGE,
                    STATEMENT
                );
            }
        }
        vm.expectEmit(true, true, true, true, address(registry));
        emit ISeedRegistry.ReleaseFinalised(C1, root, systems, digests, counted, 1, false);
        vm.roll(1234);
        _relay(C1, digests, votes);
        assertEq(ledger.rootOf(C1), root);
        assertEq(registry.finalisationStamp(C1), 1234, "stamped with its block");
        // Nothing per vote is stored: the events are the record.
        assertEq(registry.votedMask(C1, systems[0]), 0);
    }

    function test_aReleaseFinalisesOnce() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        _relay(C1, digests, votes);
        bytes memory already = abi.encodeWithSelector(ISeedRegistry.AlreadyFinalised.selector, C1);
        vm.prank(relayer);
        vm.expectRevert(already);
        registry.finalise(C1, digests, votes);
        vm.expectRevert(already);
        registry.finalise(C1, digests, _noVotes());
        // Late votes on the vote-by-vote path are recorded and never finalise again.
        vm.recordLogs();
        _attest(2, C1, systems[1], digests[1]);
        _attest(2, C1, systems[0], digests[0]);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != ISeedRegistry.ReleaseFinalised.selector, "finalised twice");
        }
        // A release the vote path finalised cannot be finalised again by signatures.
        _voteAll(_ids(0, 1), bytes32(uint256(0xc2)), systems);
        (digests, votes) = _compactVotes(_ids(2), bytes32(uint256(0xc2)), systems, deadline);
        vm.prank(relayer);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.AlreadyFinalised.selector, bytes32(uint256(0xc2)))
        );
        registry.finalise(bytes32(uint256(0xc2)), digests, votes);
    }

    function test_storedVotesCountOnce() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        // Builder 0's votes are stored already; only builder 1's are logged by the call.
        _attest(0, C1, systems[0], digests[0]);
        _attest(0, C1, systems[1], digests[1]);
        vm.recordLogs();
        _relay(C1, digests, votes);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 attested;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != ISeedRegistry.Attested.selector) continue;
            ++attested;
            assertEq(
                address(uint160(uint256(logs[i].topics[3]))), builderAddrs[1], "only the new voter logged"
            );
        }
        assertEq(attested, 2);
        // Stored votes alone are enough for a system: builder 1 signs only the second one.
        bytes32 c2 = bytes32(uint256(0xc2));
        (digests,) = _compactVotes(_ids(0), c2, systems, deadline);
        _attest(0, c2, systems[0], digests[0]);
        _attest(1, c2, systems[0], digests[0]);
        _attest(0, c2, systems[1], digests[1]);
        ISeedRegistry.CompactVote[] memory one = new ISeedRegistry.CompactVote[](1);
        one[0] = _compactVote(1, c2, 1, systems[1], digests[1], deadline);
        _relay(c2, digests, one);
        assertTrue(registry.isFinalised(c2));
    }

    function test_aStoredVoteForAnotherDigestIsAConflict() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        _attest(1, C1, systems[1], keccak256("another manifest"));
        _expectRevert(
            abi.encodeWithSelector(
                ISeedRegistry.ConflictingVote.selector, C1, keccak256(bytes(systems[1])), uint8(1)
            ),
            C1,
            digests,
            votes
        );
    }

    function test_fewerThanThresholdFails() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        ISeedRegistry.CompactVote[] memory three = new ISeedRegistry.CompactVote[](3);
        (three[0], three[1], three[2]) = (votes[0], votes[1], votes[2]);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, systems[1], digests[1]),
            C1,
            digests,
            three
        );
        // Votes for another digest do not count toward this one.
        ISeedRegistry.CompactVote[] memory mixed = _copyVotes(votes);
        mixed[3] = _compactVote(1, C1, 1, systems[1], keccak256("other"), deadline);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[1]),
            C1,
            digests,
            mixed
        );
    }

    function test_genesisNeedsEveryActiveBuilder() public {
        _deploy(3, 2, _systems2(), 7);
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, systems[0], digests[0]),
            C1,
            digests,
            votes
        );
        (digests, votes) = _compactVotes(_ids(0, 1, 2), C1, systems, deadline);
        uint64[] memory counted = new uint64[](2);
        counted[0] = 7;
        counted[1] = 7;
        vm.expectEmit(true, true, true, true, address(registry));
        emit ISeedRegistry.ReleaseFinalised(
            C1, ReleaseRoot.compute(systems, digests), systems, digests, counted, 1, true
        );
        _relay(C1, digests, votes);
        assertTrue(registry.genesisDone());
        assertEq(registry.threshold(), 2);
    }

    function test_revokedAndUnknownBuildersNeverCount() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        vm.prank(guardianAddr);
        registry.revokeBuilder(1);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, uint8(1)), C1, digests, votes
        );
        votes[1].builderId = 5;
        votes[3].builderId = 5;
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.UnknownBuilder.selector, uint8(5)), C1, digests, votes
        );
        // A stored vote of a builder revoked since does not count either.
        (digests, votes) = _compactVotes(_ids(2), C1, systems, deadline);
        _attest(0, C1, systems[0], digests[0]);
        _attest(0, C1, systems[1], digests[1]);
        vm.prank(guardianAddr);
        registry.revokeBuilder(0);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, systems[0], digests[0]),
            C1,
            digests,
            votes
        );
    }

    function test_replayOnAnotherChainRegistryOrBuilderFails() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        uint256 chain = block.chainid;
        vm.chainId(chain + 1);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]),
            C1,
            digests,
            votes
        );
        vm.chainId(chain);
        // Another registry with the same builders and rules refuses these votes.
        SeedRegistry other = _deploySibling(systems);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]));
        other.finalise(C1, digests, votes);
        // Builder 0's signature presented as builder 2's.
        ISeedRegistry.CompactVote[] memory swapped = _copyVotes(votes);
        swapped[1].builderId = 2;
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[2]),
            C1,
            digests,
            swapped
        );
        // Another commit.
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]),
            bytes32(uint256(0xc3)),
            digests,
            votes
        );
    }

    function test_tamperedFieldsFail() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        ISeedRegistry.CompactVote[] memory w = _copyVotes(votes);
        w[0].imageDigest = keccak256("other image");
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]), C1, digests, w
        );
        w = _copyVotes(votes);
        w[0].statementDigest = keccak256("other statement");
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]), C1, digests, w
        );
        w = _copyVotes(votes);
        w[0].deadline = deadline + 1;
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]), C1, digests, w
        );
        // A vote for system 0 presented as a vote for system 1.
        w = _copyVotes(votes);
        w[2] = _copyVote(votes[0]);
        w[2].systemIndex = 1;
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]), C1, digests, w
        );
        w = _copyVotes(votes);
        w[0].imageDigest = bytes32(0);
        _expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidDigest.selector), C1, digests, w);
        bytes32[] memory zero = new bytes32[](2);
        zero[1] = digests[1];
        _expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidDigest.selector), C1, zero, votes);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidCommit.selector), bytes32(0), digests, votes
        );
        bytes32[] memory short = new bytes32[](1);
        short[0] = digests[0];
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.LengthMismatch.selector, uint256(2), uint256(1)),
            C1,
            short,
            votes
        );
    }

    function test_expiredAndHighSSignaturesFail() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        vm.warp(deadline + 1);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.SignatureExpired.selector, deadline, uint256(deadline) + 1),
            C1,
            digests,
            votes
        );
        vm.warp(deadline); // inclusive
        // The malleable twin (s replaced by n - s) has its top bit set for all but a 2^-127 fraction of
        // signatures, so the compact form cannot carry it: one encoding per vote, as attestBySig's low-s rule
        // gives (and tryRecover still refuses any s above n / 2).
        uint256 s = uint256(votes[0].vs) & ((uint256(1) << 255) - 1);
        assertEq((SECP256K1_N - s) >> 255, 1, "the high-s twin does not fit in vs");
        ISeedRegistry.CompactVote[] memory w;
        // A garbage signature recovers nothing.
        w = _copyVotes(votes);
        w[0].r = bytes32(0);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]), C1, digests, w
        );
        _relay(C1, digests, votes);
        assertTrue(registry.isFinalised(C1));
    }

    function test_votesMustBeSortedAndDistinct() public {
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        // The same builder twice on one system.
        ISeedRegistry.CompactVote[] memory w = _copyVotes(votes);
        w[1] = w[0];
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.VotesNotSorted.selector, uint256(1)), C1, digests, w
        );
        // Builders descending.
        w = _copyVotes(votes);
        (w[0], w[1]) = (w[1], w[0]);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.VotesNotSorted.selector, uint256(1)), C1, digests, w
        );
        // Systems out of order: system 1's votes first.
        w = _copyVotes(votes);
        (w[0], w[1], w[2], w[3]) = (votes[2], votes[3], votes[0], votes[1]);
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, systems[0], digests[0]),
            C1,
            digests,
            w
        );
        // A system index beyond the required systems, after enough votes.
        w = new ISeedRegistry.CompactVote[](5);
        (w[0], w[1], w[2], w[3]) = (votes[0], votes[1], votes[2], votes[3]);
        w[4] = _copyVote(votes[3]);
        w[4].systemIndex = 2;
        _expectRevert(
            abi.encodeWithSelector(ISeedRegistry.VotesNotSorted.selector, uint256(4)), C1, digests, w
        );
    }

    /// @dev A copy, not an alias (memory structs are references).
    function _copyVote(ISeedRegistry.CompactVote memory v)
        internal
        pure
        returns (ISeedRegistry.CompactVote memory)
    {
        return ISeedRegistry.CompactVote(
            v.systemIndex, v.builderId, v.deadline, v.imageDigest, v.statementDigest, v.r, v.vs
        );
    }

    function _copyVotes(ISeedRegistry.CompactVote[] memory votes)
        internal
        pure
        returns (ISeedRegistry.CompactVote[] memory w)
    {
        w = new ISeedRegistry.CompactVote[](votes.length);
        for (uint256 i; i < votes.length; ++i) {
            w[i] = _copyVote(votes[i]);
        }
    }
}
