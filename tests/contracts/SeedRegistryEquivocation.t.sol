// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice `reportEquivocation` (issue 17): a builder that signed two digests for one (commit, system) is
/// proven to equivocate, and none of its votes counts toward that release on any path.
contract SeedRegistryEquivocationTest is RegistryFixture {
    bytes32 internal constant C1 = bytes32(uint256(0xc1));
    bytes32 internal constant X = keccak256("manifest X");
    bytes32 internal constant Y = keccak256("manifest Y");
    uint64 internal deadline;
    string[] internal systems;

    function setUp() public {
        _deploy(3, 2, _systems2(), 7);
        systems = _systems2();
        _genesis(3, bytes32(uint256(0x9e)), systems);
        vm.warp(1_700_000_000);
        deadline = uint64(block.timestamp + 1 hours);
    }

    /// @dev Builder 1's two votes on (C1, systems[0]): X and Y.
    function _report() internal {
        registry.reportEquivocation(
            _vote(1, C1, systems[0], X, deadline), _vote(1, C1, systems[0], Y, deadline)
        );
    }

    function test_reportRecordsTheEquivocationOnce() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit ISeedRegistry.Equivocation(C1, keccak256(bytes(systems[0])), 1, X, Y);
        vm.prank(stranger);
        _report();
        assertEq(registry.equivocators(C1), 2);
        assertEq(registry.equivocators(bytes32(uint256(0xc2))), 0, "only that release");
        vm.recordLogs();
        _report();
        assertEq(vm.getRecordedLogs().length, 0, "a second report is a no-op");
    }

    function test_evidenceMustBeTwoDigestsOfOneKeyCommitAndSystem() public {
        ISeedRegistry.SignedVote memory a = _vote(1, C1, systems[0], X, deadline);
        bytes memory notEquivocation = abi.encodeWithSelector(ISeedRegistry.NotEquivocation.selector);
        vm.expectRevert(notEquivocation);
        registry.reportEquivocation(a, _vote(1, C1, systems[0], X, deadline));
        vm.expectRevert(notEquivocation);
        registry.reportEquivocation(a, _vote(2, C1, systems[0], Y, deadline));
        vm.expectRevert(notEquivocation);
        registry.reportEquivocation(a, _vote(1, bytes32(uint256(0xc2)), systems[0], Y, deadline));
        vm.expectRevert(notEquivocation);
        registry.reportEquivocation(a, _vote(1, C1, systems[1], Y, deadline));
        // A forged second signature proves nothing.
        ISeedRegistry.SignedVote memory forged = _vote(1, C1, systems[0], Y, deadline);
        forged.signature = _sign(builderKeys[2], _hashVote(forged, address(registry), block.chainid));
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[1]));
        registry.reportEquivocation(a, forged);
        // Two real signatures of a key that is no builder's.
        ISeedRegistry.SignedVote memory o1 = _vote(5, C1, systems[0], X, deadline);
        ISeedRegistry.SignedVote memory o2 = _vote(5, C1, systems[0], Y, deadline);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, builderAddrs[5]));
        registry.reportEquivocation(o1, o2);
        assertEq(registry.equivocators(C1), 0);
    }

    function test_evidenceOutlivesDeadlinesAndKeyRotation() public {
        ISeedRegistry.SignedVote memory a = _vote(1, C1, systems[0], X, deadline);
        ISeedRegistry.SignedVote memory b = _vote(1, C1, systems[0], Y, deadline);
        vm.warp(deadline + 30 days);
        vm.prank(governance);
        registry.rotateBuilderKey(1, makeAddr("new key"));
        registry.reportEquivocation(a, b);
        assertEq(registry.equivocators(C1), 2);
    }

    function test_theVotePathStopsCountingAnEquivocator() public {
        // Builder 1's stored votes count until the report...
        _attest(1, C1, systems[0], X);
        _attest(1, C1, systems[1], X);
        _attest(0, C1, systems[0], X);
        assertTrue(registry.hasQuorum(C1, systems[0], X));
        _report();
        assertFalse(registry.hasQuorum(C1, systems[0], X), "no quorum without the equivocator");
        // ...and after it the vote that would have finalised the release does not.
        _attest(0, C1, systems[1], X);
        assertFalse(registry.isFinalised(C1), "finalised counting an equivocator");
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, systems[0], X));
        registry.finalise(C1, _pair(X, X), _noVotes());
        // Two honest builders finalise it, and only they are counted.
        uint64[] memory counted = new uint64[](2);
        counted[0] = 5;
        counted[1] = 5;
        vm.recordLogs();
        _attest(2, C1, systems[0], X);
        _attest(2, C1, systems[1], X);
        assertTrue(registry.isFinalised(C1));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bool seen;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != ISeedRegistry.ReleaseFinalised.selector) continue;
            (,, uint64[] memory voters,,) =
                abi.decode(logs[i].data, (string[], bytes32[], uint64[], uint32, bool));
            assertEq(abi.encode(voters), abi.encode(counted), "the equivocator is not counted");
            seen = true;
        }
        assertTrue(seen);
    }

    /// @notice An equivocator does not lower genesis's unanimity: genesis waits for every active builder
    /// and cannot count the equivocator, so it completes only once governance revokes it.
    function test_anEquivocatorAtGenesisBlocksItUntilRevoked() public {
        _deploy(3, 2, systems, 7);
        bytes32 genesis = bytes32(uint256(0x9e));
        registry.reportEquivocation(
            _vote(1, genesis, systems[0], X, deadline), _vote(1, genesis, systems[0], Y, deadline)
        );
        for (uint8 b; b < 3; ++b) {
            _attest(b, genesis, systems[0], X);
            _attest(b, genesis, systems[1], X);
        }
        assertFalse(registry.isFinalised(genesis), "genesis finalised without counting every active builder");
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, systems[0], X));
        registry.finalise(genesis, _pair(X, X), _noVotes());
        vm.prank(governance);
        registry.revokeBuilder(1);
        registry.finalise(genesis, _pair(X, X), _noVotes());
        assertTrue(registry.isFinalised(genesis));
        assertTrue(registry.genesisDone());
    }

    function test_anEquivocatorsLeaderVoteLeavesTheRightDigestFinal() public {
        // Builders 1 and 0 vote X first (X leads); builder 2 votes Y, then builder 1 is proven to equivocate.
        // Y with builders 0 and 2 is then the only quorate digest, and `finalise` takes it.
        _attest(1, C1, systems[0], X);
        _attest(2, C1, systems[0], Y);
        _attest(0, C1, systems[0], Y);
        _attest(0, C1, systems[1], X);
        _report();
        _attest(2, C1, systems[1], X);
        assertTrue(registry.isFinalised(C1), "finalised with Y on system 0");
        assertEq(ledger.rootOf(C1), registry.computeRoot(systems, _pair(Y, X)));
    }

    function test_theAggregatedPathRefusesAnEquivocator() public {
        _report();
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(0, 1), C1, systems, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISeedRegistry.ConflictingVote.selector, C1, keccak256(bytes(systems[0])), uint8(1)
            )
        );
        registry.finalise(C1, digests, votes);
        // Its stored votes do not count there either.
        _attest(1, C1, systems[0], digests[0]);
        _attest(1, C1, systems[1], digests[1]);
        (, votes) = _compactVotes(_ids(0), C1, systems, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.QuorumNotReached.selector, systems[0], digests[0])
        );
        registry.finalise(C1, digests, votes);
        (, votes) = _compactVotes(_ids(0, 2), C1, systems, deadline);
        registry.finalise(C1, digests, votes);
        assertTrue(registry.isFinalised(C1));
    }

    function _pair(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory r) {
        r = new bytes32[](2);
        (r[0], r[1]) = (a, b);
    }
}
