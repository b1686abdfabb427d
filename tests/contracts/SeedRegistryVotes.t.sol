// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Votes, quorum, disagreement, genesis, late votes and finalisation (trust properties 1, 2, 3, 7).
contract SeedRegistryVotesTest is RegistryFixture {
    bytes32 internal constant GENESIS = bytes32(uint256(0x9e));
    bytes32 internal constant C1 = bytes32(uint256(0xc1));
    bytes32 internal constant C2 = bytes32(uint256(0xc2));

    bytes32 internal constant X = keccak256("manifest X");
    /// @dev SeedRegistry's ERC-7201 namespace (its STORAGE_LOCATION).
    bytes32 internal constant REGISTRY_STORAGE =
        0xaa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100;
    bytes32 internal constant Y = keccak256("manifest Y");

    function setUp() public {
        _deploy(4, 2, _systems2(), 7);
    }

    function _sid(string memory s) internal pure returns (bytes32) {
        return keccak256(bytes(s));
    }

    function _pair(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory d) {
        d = new bytes32[](2);
        d[0] = a;
        d[1] = b;
    }

    /// @dev Genesis with the four builders on GENESIS, so later releases need k = 2.
    function _postGenesis() internal {
        _genesis(4, GENESIS, _systems2());
    }

    // ------------------------------------------------------------------ attest basics

    function test_attest_recordsVoteAndEmits() public {
        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.Attested(
            C1, _sid(X86_64_LINUX), builderAddrs[2], 2, X86_64_LINUX, X, IMAGE, STATEMENT
        );
        _attest(2, C1, X86_64_LINUX, X);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 4);
        assertEq(registry.votersFor(C1, X86_64_LINUX, X), 4);
        assertEq(registry.votersFor(C1, X86_64_LINUX, Y), 0);
        assertEq(registry.votedMask(C1, AARCH64_LINUX), 0, "votes are per system");
        assertEq(registry.votedMask(C2, X86_64_LINUX), 0, "votes are per commit");
        assertFalse(registry.isFinalised(C1));
    }

    function test_attest_rejectsZeroFields() public {
        vm.startPrank(builderAddrs[0]);
        vm.expectRevert(ISeedRegistry.InvalidCommit.selector);
        registry.attest(bytes32(0), X86_64_LINUX, X, IMAGE, STATEMENT);
        vm.expectRevert(ISeedRegistry.InvalidDigest.selector);
        registry.attest(C1, X86_64_LINUX, bytes32(0), IMAGE, STATEMENT);
        vm.expectRevert(ISeedRegistry.InvalidDigest.selector);
        registry.attest(C1, X86_64_LINUX, X, bytes32(0), STATEMENT);
        vm.expectRevert(ISeedRegistry.InvalidDigest.selector);
        registry.attest(C1, X86_64_LINUX, X, IMAGE, bytes32(0));
        vm.stopPrank();
        assertEq(registry.votedMask(C1, X86_64_LINUX), 0);
    }

    function test_attest_unregisteredSigner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, stranger));
        registry.attest(C1, X86_64_LINUX, X, IMAGE, STATEMENT);
        // The guardian and governance are not builders either.
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, governance));
        registry.attest(C1, X86_64_LINUX, X, IMAGE, STATEMENT);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 0);
    }

    function test_attest_revokedBuilder() public {
        vm.prank(guardianAddr);
        registry.revokeBuilder(1);
        vm.prank(builderAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, 1));
        registry.attest(C1, X86_64_LINUX, X, IMAGE, STATEMENT);
    }

    function test_attest_rotatedKey() public {
        address fresh = vm.addr(0xf4e5);
        _attest(1, C1, X86_64_LINUX, X);
        vm.prank(governance);
        registry.rotateBuilderKey(1, fresh);
        vm.prank(builderAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, builderAddrs[1]));
        registry.attest(C1, AARCH64_LINUX, X, IMAGE, STATEMENT);
        // The new key is the same builder: its earlier vote stands and a different digest still conflicts.
        vm.prank(fresh);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.ConflictingVote.selector, C1, _sid(X86_64_LINUX), 1)
        );
        registry.attest(C1, X86_64_LINUX, Y, IMAGE, STATEMENT);
        vm.prank(fresh);
        registry.attest(C1, AARCH64_LINUX, X, IMAGE, STATEMENT);
        assertEq(registry.votedMask(C1, AARCH64_LINUX), 2);
    }

    function test_attest_unknownSystem() public {
        vm.prank(builderAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSystem.selector, "x86_64-freebsd"));
        registry.attest(C1, "x86_64-freebsd", X, IMAGE, STATEMENT);
        // Case and bytes matter.
        vm.prank(builderAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSystem.selector, "X86_64-linux"));
        registry.attest(C1, "X86_64-linux", X, IMAGE, STATEMENT);
        // A system that was required once but is not any more.
        vm.prank(governance);
        registry.setRequiredSystems(_systems1());
        vm.prank(builderAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSystem.selector, AARCH64_LINUX));
        registry.attest(C1, AARCH64_LINUX, X, IMAGE, STATEMENT);
    }

    // ------------------------------------------------------------------ one vote per builder

    function test_identicalResubmissionIsSilentNoOp() public {
        _attest(0, C1, X86_64_LINUX, X);
        vm.recordLogs();
        _attest(0, C1, X86_64_LINUX, X);
        assertEq(vm.getRecordedLogs().length, 0, "no event");
        assertEq(registry.votersFor(C1, X86_64_LINUX, X), 1, "no double count");
        // Image and statement digests are not part of the vote's identity.
        vm.prank(builderAddrs[0]);
        registry.attest(C1, X86_64_LINUX, X, keccak256("other image"), keccak256("other statement"));
        assertEq(registry.votersFor(C1, X86_64_LINUX, X), 1);
    }

    function test_conflictingVoteReverts() public {
        _attest(0, C1, X86_64_LINUX, X);
        vm.prank(builderAddrs[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.ConflictingVote.selector, C1, _sid(X86_64_LINUX), 0)
        );
        registry.attest(C1, X86_64_LINUX, Y, IMAGE, STATEMENT);
        // Also when the first vote was for a non-leader digest.
        _attest(1, C1, X86_64_LINUX, Y);
        vm.prank(builderAddrs[1]);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.ConflictingVote.selector, C1, _sid(X86_64_LINUX), 1)
        );
        registry.attest(C1, X86_64_LINUX, X, IMAGE, STATEMENT);
        vm.prank(builderAddrs[1]);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.ConflictingVote.selector, C1, _sid(X86_64_LINUX), 1)
        );
        registry.attest(C1, X86_64_LINUX, keccak256("Z"), IMAGE, STATEMENT);
        assertEq(registry.votersFor(C1, X86_64_LINUX, X), 1);
        assertEq(registry.votersFor(C1, X86_64_LINUX, Y), 2);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 3);
    }

    function test_disagreementIsVisible() public {
        _attest(0, C1, X86_64_LINUX, X);
        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.Disagreement(C1, _sid(X86_64_LINUX), 1, Y);
        _attest(1, C1, X86_64_LINUX, Y);
        // Voting X again is also a disagreement with builder 1.
        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.Disagreement(C1, _sid(X86_64_LINUX), 2, X);
        _attest(2, C1, X86_64_LINUX, X);
        assertEq(registry.votersFor(C1, X86_64_LINUX, X), 5);
        assertEq(registry.votersFor(C1, X86_64_LINUX, Y), 2);
    }

    function test_agreementEmitsNoDisagreement() public {
        _attest(0, C1, X86_64_LINUX, X);
        vm.recordLogs();
        _attest(1, C1, X86_64_LINUX, X);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != ISeedRegistry.Disagreement.selector);
        }
    }

    // ------------------------------------------------------------------ genesis (property 7)

    function test_genesisNeedsEveryActiveBuilder() public {
        uint256[] memory three = _ids(0, 1, 2);
        _voteAll(three, C1, _systems2());
        assertFalse(registry.isFinalised(C1), "3 of 4 is not unanimity");
        assertEq(registry.threshold(), 4);

        bytes32 a = _digest(AARCH64_LINUX, uint256(C1));
        bytes32 x = _digest(X86_64_LINUX, uint256(C1));
        _attest(3, C1, AARCH64_LINUX, a);
        assertFalse(registry.isFinalised(C1));

        bytes32 root = registry.computeRoot(_systems2(), _pair(a, x));
        uint64[] memory voters = new uint64[](2);
        voters[0] = 15;
        voters[1] = 15;
        vm.expectEmit(true, true, false, true, address(registry));
        emit ISeedRegistry.ReleaseFinalised(C1, root, _systems2(), _pair(a, x), voters, 1, true);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IReleaseLedger.ReleaseRecorded(C1, root, address(registry), 1);
        _attest(3, C1, X86_64_LINUX, x);

        assertTrue(registry.isFinalised(C1));
        assertTrue(registry.genesisDone());
        assertEq(registry.threshold(), 2, "k applies after genesis");
        assertEq(ledger.rootOf(C1), root);
    }

    function test_genesisCountsOnlyActiveBuilders() public {
        vm.prank(guardianAddr);
        registry.revokeBuilder(3);
        _voteAll(_ids(0, 1, 2), C1, _systems2());
        assertTrue(registry.isFinalised(C1), "unanimity of the active builders");
    }

    function test_revokedVotesStopCountingBeforeGenesis() public {
        // Builder 3 votes, then is revoked: genesis needs 0, 1, 2 and builder 3's vote is not among them.
        _voteAll(_ids(3), C1, _systems2());
        vm.prank(guardianAddr);
        registry.revokeBuilder(3);
        _voteAll(_ids(0, 1), C1, _systems2());
        assertFalse(registry.isFinalised(C1));
        _voteAll(_ids(2), C1, _systems2());
        assertTrue(registry.isFinalised(C1));
    }

    // ------------------------------------------------------------------ quorum after genesis (property 1)

    function test_postGenesis_kDistinctBuildersFinalise() public {
        _postGenesis();
        _attest(0, C1, AARCH64_LINUX, X);
        _attest(0, C1, X86_64_LINUX, Y);
        assertFalse(registry.isFinalised(C1), "one builder cannot finalise");
        vm.expectEmit(true, true, false, true);
        emit ISeedRegistry.SystemQuorumReached(C1, _sid(AARCH64_LINUX), X, 3);
        _attest(1, C1, AARCH64_LINUX, X);
        assertFalse(registry.isFinalised(C1), "every required system needs quorum");
        assertTrue(registry.hasQuorum(C1, AARCH64_LINUX, X));
        _attest(1, C1, X86_64_LINUX, Y);
        assertTrue(registry.isFinalised(C1));
        assertEq(ledger.rootOf(C1), registry.computeRoot(_systems2(), _pair(X, Y)));
    }

    function test_postGenesis_quorumComparesManifestDigestNotImage() public {
        _postGenesis();
        vm.prank(builderAddrs[0]);
        registry.attest(C1, X86_64_LINUX, X, keccak256("image A"), keccak256("statement A"));
        vm.prank(builderAddrs[1]);
        registry.attest(C1, X86_64_LINUX, X, keccak256("image B"), keccak256("statement B"));
        assertTrue(registry.hasQuorum(C1, X86_64_LINUX, X), "different images, same manifest: quorum");
        // Same image, different manifests: no quorum.
        vm.prank(builderAddrs[0]);
        registry.attest(C2, X86_64_LINUX, X, IMAGE, STATEMENT);
        vm.prank(builderAddrs[1]);
        registry.attest(C2, X86_64_LINUX, Y, IMAGE, STATEMENT);
        assertFalse(registry.hasQuorum(C2, X86_64_LINUX, X));
        assertFalse(registry.hasQuorum(C2, X86_64_LINUX, Y));
    }

    function test_postGenesis_disagreeingDigestsDoNotAddUp() public {
        _postGenesis();
        _attest(0, C1, X86_64_LINUX, X);
        _attest(1, C1, X86_64_LINUX, Y);
        _attest(0, C1, AARCH64_LINUX, X);
        _attest(1, C1, AARCH64_LINUX, X);
        assertFalse(registry.isFinalised(C1), "two votes, two digests: no quorum");
        _attest(2, C1, X86_64_LINUX, Y);
        assertTrue(registry.isFinalised(C1));
        assertEq(ledger.rootOf(C1), registry.computeRoot(_systems2(), _pair(X, Y)), "the quorate digest wins");
    }

    function test_revocationRemovesWeightFromPendingRelease() public {
        _postGenesis();
        _attest(0, C1, AARCH64_LINUX, X);
        _attest(1, C1, AARCH64_LINUX, X);
        assertTrue(registry.hasQuorum(C1, AARCH64_LINUX, X));
        vm.prank(guardianAddr);
        registry.revokeBuilder(1);
        assertFalse(registry.hasQuorum(C1, AARCH64_LINUX, X), "weight removed at once");
        _attest(0, C1, X86_64_LINUX, Y);
        _attest(2, C1, X86_64_LINUX, Y);
        assertFalse(registry.isFinalised(C1), "the revoked vote no longer completes aarch64-linux");
        _attest(3, C1, AARCH64_LINUX, X);
        assertTrue(registry.isFinalised(C1));
    }

    /// @notice The leader digest loses quorum to a revocation; another digest then reaches quorum and is the
    /// one finalised.
    function test_alternativeDigestReachesQuorum() public {
        _postGenesis();
        _attest(0, C1, AARCH64_LINUX, X);
        _attest(1, C1, AARCH64_LINUX, X);
        vm.prank(guardianAddr);
        registry.revokeBuilder(1);
        _attest(2, C1, AARCH64_LINUX, Y);
        vm.expectEmit(true, true, false, true);
        emit ISeedRegistry.SystemQuorumReached(C1, _sid(AARCH64_LINUX), Y, 12);
        _attest(3, C1, AARCH64_LINUX, Y);
        assertFalse(registry.isFinalised(C1));
        _attest(2, C1, X86_64_LINUX, X);
        _attest(3, C1, X86_64_LINUX, X);
        assertTrue(registry.isFinalised(C1));
        assertEq(ledger.rootOf(C1), registry.computeRoot(_systems2(), _pair(Y, X)), "Y finalised for aarch64");
    }

    /// @notice With k = 1 two digests can both be quorate; the first to reach quorum (the leader) is used.
    function test_lowQuorumPrefersLeader() public {
        _postGenesis();
        vm.prank(governance);
        registry.setQuorum(1);
        _attest(0, C1, AARCH64_LINUX, X);
        _attest(1, C1, AARCH64_LINUX, Y);
        assertTrue(registry.hasQuorum(C1, AARCH64_LINUX, X) && registry.hasQuorum(C1, AARCH64_LINUX, Y));
        bytes32 root = registry.computeRoot(_systems2(), _pair(X, Y));
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IReleaseLedger.ReleaseRecorded(C1, root, address(registry), 2);
        _attest(2, C1, X86_64_LINUX, Y);
        assertEq(ledger.rootOf(C1), root);
    }

    // ------------------------------------------------------------------ late votes and finalising twice

    function test_lateVotesAreRecordedButNeverRefinalise() public {
        _postGenesis();
        _voteAll(_ids(0, 1), C1, _systems2());
        assertTrue(registry.isFinalised(C1));
        bytes32 rootBefore = ledger.rootOf(C1);

        vm.roll(block.number + 10);
        vm.recordLogs();
        bytes32 a = _digest(AARCH64_LINUX, uint256(C1));
        _attest(2, C1, AARCH64_LINUX, a);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "only Attested");
        assertEq(logs[0].topics[0], ISeedRegistry.Attested.selector);
        assertEq(registry.votersFor(C1, AARCH64_LINUX, a), 7, "the late confirmation is recorded");

        // A late disagreeing vote is recorded and visible, but changes nothing final.
        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.Disagreement(C1, _sid(X86_64_LINUX), 3, Y);
        _attest(3, C1, X86_64_LINUX, Y);
        _attest(2, C1, X86_64_LINUX, Y);
        assertEq(registry.votersFor(C1, X86_64_LINUX, Y), 12, "a quorate late digest...");
        assertEq(ledger.rootOf(C1), rootBefore, "...cannot replace the finalised one");
        // And conflicting votes stay rejected after finalisation.
        vm.prank(builderAddrs[2]);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.ConflictingVote.selector, C1, _sid(AARCH64_LINUX), 2)
        );
        registry.attest(C1, AARCH64_LINUX, Y, IMAGE, STATEMENT);
    }

    function test_finaliseTwiceIsImpossible() public {
        _postGenesis();
        _voteAll(_ids(0, 1), C1, _systems2());
        bytes32[] memory ds = _pair(_digest(AARCH64_LINUX, uint256(C1)), _digest(X86_64_LINUX, uint256(C1)));
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.AlreadyFinalised.selector, C1));
        registry.finalise(C1, ds, _noVotes());
        // The registry cannot write the ledger twice either.
        bytes32 root = ledger.rootOf(C1);
        vm.prank(address(registry));
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerAlreadyRecorded.selector, C1, root));
        ledger.record(C1, keccak256("other"), 9);
    }

    /// @notice A commit finalised under one system set stays final when the set changes completely: late
    /// votes on the new systems reach quorum but never record a second entry.
    function test_lateVotesAfterSystemSetChange() public {
        _deploy(3, 2, _systems4(), 7);
        string[] memory first = new string[](1);
        first[0] = AARCH64_DARWIN; // system number 1
        string[] memory second = new string[](1);
        second[0] = X86_64_LINUX; // system number 4: another vote word
        vm.prank(governance);
        registry.setRequiredSystems(first);
        _voteAll(_ids(0, 1, 2), C1, first);
        assertTrue(registry.isFinalised(C1));
        bytes32 root = ledger.rootOf(C1);
        vm.prank(governance);
        registry.setRequiredSystems(second);
        _voteAll(_ids(0, 1), C1, second);
        assertEq(registry.votersFor(C1, X86_64_LINUX, _digest(X86_64_LINUX, uint256(C1))), 3);
        assertEq(ledger.rootOf(C1), root);
    }

    // ------------------------------------------------------------------ finalise()

    /// @notice Genesis stalls when a builder stops answering; revoking it makes the release quorate without a
    /// vote, and anyone may then finalise it.
    function test_finalise_afterRevocationWithoutAVote() public {
        _voteAll(_ids(0, 1, 2), C1, _systems2());
        vm.prank(guardianAddr);
        registry.revokeBuilder(3);
        assertFalse(registry.isFinalised(C1), "no vote triggered it");
        bytes32 a = _digest(AARCH64_LINUX, uint256(C1));
        bytes32 x = _digest(X86_64_LINUX, uint256(C1));

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, X86_64_LINUX, Y));
        registry.finalise(C1, _pair(a, Y), _noVotes());

        uint64[] memory voters = new uint64[](2);
        voters[0] = 7;
        voters[1] = 7;
        vm.expectEmit(true, true, false, true);
        emit ISeedRegistry.ReleaseFinalised(
            C1, registry.computeRoot(_systems2(), _pair(a, x)), _systems2(), _pair(a, x), voters, 2, true
        );
        vm.prank(stranger);
        registry.finalise(C1, _pair(a, x), _noVotes());
        assertTrue(registry.isFinalised(C1));
        assertTrue(registry.genesisDone());

        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.AlreadyFinalised.selector, C1));
        registry.finalise(C1, _pair(a, x), _noVotes());
        // Late votes after a finalise() are recorded and do not re-finalise.
        _attest(0, C1, AARCH64_LINUX, a);
    }

    function test_finalise_checksItsInput() public {
        _postGenesis();
        bytes32[] memory one = new bytes32[](1);
        vm.expectRevert(ISeedRegistry.InvalidCommit.selector);
        registry.finalise(bytes32(0), _pair(X, Y), _noVotes());
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.LengthMismatch.selector, 2, 1));
        registry.finalise(C1, one, _noVotes());
        vm.expectRevert(ISeedRegistry.InvalidDigest.selector);
        registry.finalise(C1, _pair(bytes32(0), Y), _noVotes());
        _attest(0, C1, AARCH64_LINUX, X);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, AARCH64_LINUX, X));
        registry.finalise(C1, _pair(X, Y), _noVotes());
        assertFalse(registry.isFinalised(C1));
    }

    /// @notice A lower k makes a pending release quorate; `finalise` publishes it with the new rules version.
    function test_finalise_afterQuorumLowered() public {
        _postGenesis();
        vm.prank(governance);
        registry.setQuorum(3);
        _voteAll(_ids(0, 1), C1, _systems2());
        assertFalse(registry.isFinalised(C1));
        vm.prank(governance);
        registry.setQuorum(2);
        bytes32[] memory digests =
            _pair(_digest(AARCH64_LINUX, uint256(C1)), _digest(X86_64_LINUX, uint256(C1)));
        bytes32 root = registry.computeRoot(_systems2(), digests);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IReleaseLedger.ReleaseRecorded(C1, root, address(registry), 3);
        registry.finalise(C1, digests, _noVotes());
        assertEq(ledger.rootOf(C1), root);
    }

    // ------------------------------------------------------------------ the finalisation stamp (D-050)

    /// @dev Makes five systems required: they span two vote words (three systems per word).
    function _requireFiveSystems() internal returns (string[] memory five) {
        five = new string[](5);
        five[0] = "a-sys";
        five[1] = "b-sys";
        five[2] = "c-sys";
        five[3] = "d-sys";
        five[4] = "e-sys";
        vm.prank(governance);
        registry.setRequiredSystems(five);
    }

    /// @dev The stamp a release finalised in `blockNumber` carries.
    function _stampOf(uint256 blockNumber) internal pure returns (uint32) {
        return uint32(blockNumber % (uint256(1) << 29));
    }

    /// @notice Every word of a final release is stamped with the finalising block (modulo 2^29), so
    /// verifiers read its events from one block; the stamp survives late votes, disagreements and
    /// alternative digests in every lane, which keep working around it.
    function test_finalisationStamp_namesTheFinalisingBlockAndSurvivesLateVotes() public {
        string[] memory five = _requireFiveSystems();
        _genesis(4, GENESIS, five);
        // A block number beyond the stamp's 29 bits (Arbitrum's are there in a few years).
        uint256 finalising = (uint256(1) << 35) + 12_345;
        vm.roll(finalising - 100);
        _attest(0, C1, five[0], X);
        assertEq(registry.finalisationStamp(C1), 0, "not final");
        vm.roll(finalising);
        for (uint256 j; j < 5; ++j) {
            if (j != 0) _attest(0, C1, five[j], X);
            _attest(1, C1, five[j], X);
        }
        assertTrue(registry.isFinalised(C1));
        assertEq(registry.finalisationStamp(C1), _stampOf(finalising));
        assertEq(registry.finalisationStamp(C1), 12_345);

        // Late disagreeing votes in each lane of both words split every lane and give another digest a
        // quorum: bitmaps and flags read as before, and the stamp stays.
        vm.roll(finalising + 2);
        for (uint256 j; j < 5; ++j) {
            _attest(2, C1, five[j], Y);
            _attest(3, C1, five[j], Y);
            assertEq(registry.votedMask(C1, five[j]), 15, five[j]);
            assertEq(registry.votersFor(C1, five[j], X), 3, five[j]);
            assertEq(registry.votersFor(C1, five[j], Y), 12, five[j]);
            assertTrue(registry.hasQuorum(C1, five[j], Y));
        }
        assertEq(registry.finalisationStamp(C1), _stampOf(finalising));
        assertEq(registry.finalisationStamp(C2), 0, "per release");
    }

    /// @notice `finalise` (no finalising ballot) stamps the release too.
    function test_finalisationStamp_withoutAFinalisingVote() public {
        _voteAll(_ids(0, 1, 2), C1, _systems2());
        vm.prank(guardianAddr);
        registry.revokeBuilder(3);
        vm.roll(123_456);
        registry.finalise(
            C1, _pair(_digest(AARCH64_LINUX, uint256(C1)), _digest(X86_64_LINUX, uint256(C1))), _noVotes()
        );
        assertEq(registry.finalisationStamp(C1), 123_456);
    }

    /// @notice A release finalised before stamps existed (its words FINAL, with zeros where the stamp
    /// goes) reads as zero, which tells verifiers to search for its events.
    function test_finalisationStamp_unstampedReleaseIsZero() public {
        _postGenesis();
        vm.roll(777);
        _voteAll(_ids(0, 1), C1, _systems2());
        assertEq(registry.finalisationStamp(C1), 777);
        // The release's first vote word: slot 0 of its `Release`, at key C1 of `releases` (member 7).
        bytes32 base = keccak256(abi.encode(C1, uint256(REGISTRY_STORAGE) + 7));
        uint256 word = uint256(vm.load(address(registry), base));
        uint256 stampBits = ((uint256(1) << 29) - 1) << 226;
        vm.store(address(registry), base, bytes32(word & ~stampBits));
        assertEq(registry.finalisationStamp(C1), 0);
        assertEq(registry.votedMask(C1, AARCH64_LINUX), 3, "the bitmaps are untouched");
    }

    // ------------------------------------------------------------------ threshold edge cases

    function test_noActiveBuildersNothingFinalises() public {
        vm.startPrank(governance);
        for (uint8 i; i < 4; ++i) {
            registry.revokeBuilder(i);
        }
        vm.stopPrank();
        assertEq(registry.threshold(), 0);
        assertFalse(registry.hasQuorum(C1, X86_64_LINUX, X), "a zero threshold never passes");
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, AARCH64_LINUX, X));
        registry.finalise(C1, _pair(X, Y), _noVotes());
    }

    function test_moreSystemsThanOneVoteWord() public {
        // Five systems span two vote words (three systems per word).
        string[] memory five = _requireFiveSystems();
        _voteAll(_ids(0, 1, 2), C1, five);
        assertFalse(registry.isFinalised(C1));
        for (uint256 j; j < 4; ++j) {
            _attest(3, C1, five[j], _digest(five[j], uint256(C1)));
        }
        assertFalse(registry.isFinalised(C1));
        _attest(3, C1, five[4], _digest(five[4], uint256(C1)));
        assertTrue(registry.isFinalised(C1));
        bytes32[] memory ds = new bytes32[](5);
        for (uint256 j; j < 5; ++j) {
            ds[j] = _digest(five[j], uint256(C1));
        }
        assertEq(ledger.rootOf(C1), registry.computeRoot(five, ds));
        // Late votes in either word are recognised as late.
        vm.prank(governance);
        registry.setQuorum(1);
        _attest(3, C2, five[0], X);
        assertTrue(registry.hasQuorum(C2, five[0], X));
        assertFalse(registry.isFinalised(C2), "the other four systems lack quorum");
    }
}
