// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../../contracts/ReleaseLedger.sol";
import {SeedRegistry} from "../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice EIP-712 votes relayed by anyone (trust property 4: bound to chain, contract and builder).
contract SeedRegistrySignaturesTest is RegistryFixture {
    bytes32 internal constant C1 = bytes32(uint256(0xc1));
    bytes32 internal constant X = keccak256("manifest X");
    uint64 internal deadline;
    address internal relayer = makeAddr("relayer");

    function setUp() public {
        _deploy(3, 2, _systems1(), 7);
        vm.warp(1_700_000_000);
        deadline = uint64(block.timestamp + 1 hours);
    }

    function _relay(ISeedRegistry.SignedVote memory v) internal {
        vm.prank(relayer);
        registry.attestBySig(v);
    }

    function test_hashVote_matchesIndependentEip712() public view {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        assertEq(registry.hashVote(v), _hashVote(v, address(registry), block.chainid));
        assertEq(registry.VOTE_TYPEHASH(), VOTE_TYPEHASH);
        // The signature field is not part of the digest.
        ISeedRegistry.SignedVote memory w = v;
        w.signature = hex"00";
        assertEq(registry.hashVote(w), registry.hashVote(v));
    }

    function test_attestBySig_relayedVoteCountsForTheSigner() public {
        ISeedRegistry.SignedVote memory v = _vote(1, C1, X86_64_LINUX, X, deadline);
        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.Attested(
            C1, keccak256(bytes(X86_64_LINUX)), builderAddrs[1], 1, X86_64_LINUX, X, IMAGE, STATEMENT
        );
        _relay(v);
        assertEq(registry.votersFor(C1, X86_64_LINUX, X), 2);
    }

    function test_attestBySig_replayIsANoOp() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        _relay(v);
        vm.recordLogs();
        _relay(v);
        vm.prank(builderAddrs[0]);
        registry.attestBySig(v);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(registry.votersFor(C1, X86_64_LINUX, X), 1);
    }

    function test_attestBySig_replayOnAnotherChainFails() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        vm.chainId(block.chainid + 1);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]));
        registry.attestBySig(v);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 0);
    }

    function test_attestBySig_signedForAnotherChainFails() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        v.signature = _sign(builderKeys[0], _hashVote(v, address(registry), 10));
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]));
        registry.attestBySig(v);
    }

    function test_attestBySig_replayOnAnotherRegistryFails() public {
        // A second deployment with the same builders (e.g. a staging registry on the same chain).
        SeedRegistry other = _deploySibling(_systems1());
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]));
        other.attestBySig(v);
        // ...and a vote signed for the other registry does not count here.
        v.signature = _sign(builderKeys[0], _hashVote(v, address(other), block.chainid));
        vm.prank(relayer);
        other.attestBySig(v);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[0]));
        registry.attestBySig(v);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 0);
        assertEq(other.votedMask(C1, X86_64_LINUX), 1);
    }

    function test_attestBySig_cannotBeReplayedAsAnotherBuilder() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        v.signer = builderAddrs[1];
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[1]));
        registry.attestBySig(v);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 0);
    }

    function test_attestBySig_tamperedFieldsFail() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        ISeedRegistry.SignedVote memory w;

        w = _copy(v);
        w.manifestDigest = keccak256("other");
        _expectInvalid(w, builderAddrs[0]);
        w = _copy(v);
        w.imageDigest = keccak256("other");
        _expectInvalid(w, builderAddrs[0]);
        w = _copy(v);
        w.statementDigest = keccak256("other");
        _expectInvalid(w, builderAddrs[0]);
        w = _copy(v);
        w.commit = bytes32(uint256(0xc2));
        _expectInvalid(w, builderAddrs[0]);
        w = _copy(v);
        w.deadline = deadline + 1;
        _expectInvalid(w, builderAddrs[0]);

        vm.prank(governance);
        string[] memory two = _systems2();
        registry.setRequiredSystems(two);
        w = _copy(v);
        w.system = AARCH64_LINUX;
        _expectInvalid(w, builderAddrs[0]);
    }

    function _copy(ISeedRegistry.SignedVote memory v)
        internal
        pure
        returns (ISeedRegistry.SignedVote memory w)
    {
        w = ISeedRegistry.SignedVote(
            v.signer,
            v.commit,
            v.system,
            v.manifestDigest,
            v.imageDigest,
            v.statementDigest,
            v.deadline,
            v.signature
        );
    }

    function _expectInvalid(ISeedRegistry.SignedVote memory v, address expected) internal {
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, expected));
        registry.attestBySig(v);
    }

    function test_attestBySig_deadlineIsInclusive() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        vm.warp(deadline);
        _relay(v);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 1);
    }

    function test_attestBySig_expired() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        vm.warp(uint256(deadline) + 1);
        vm.prank(relayer);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.SignatureExpired.selector, deadline, uint256(deadline) + 1)
        );
        registry.attestBySig(v);
    }

    function test_attestBySig_malleableHighSIsRejected() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(builderKeys[0], registry.hashVote(v));
        // (r, n - s, v ^ 1) is the other valid secp256k1 signature of the same digest by the same key.
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flipped = sv == 27 ? 28 : 27;
        assertEq(
            ecrecover(registry.hashVote(v), flipped, r, highS),
            builderAddrs[0],
            "precondition: ecrecover accepts it"
        );
        v.signature = abi.encodePacked(r, highS, flipped);
        _expectInvalid(v, builderAddrs[0]);
        // The canonical form is accepted.
        v.signature = abi.encodePacked(r, s, sv);
        _relay(v);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 1);
    }

    function test_attestBySig_badSignatureEncodings() public {
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(builderKeys[0], registry.hashVote(v));
        // ERC-2098 compact (64-byte) signatures are not accepted.
        uint256 vs = uint256(s) | (uint256(sv - 27) << 255);
        v.signature = abi.encodePacked(r, bytes32(vs));
        _expectInvalid(v, builderAddrs[0]);
        v.signature = "";
        _expectInvalid(v, builderAddrs[0]);
        v.signature = abi.encodePacked(r, s, uint8(29));
        _expectInvalid(v, builderAddrs[0]);
        // A zero signer with a garbage signature (ecrecover returns zero) is refused.
        v.signer = address(0);
        v.signature = abi.encodePacked(bytes32(0), bytes32(0), uint8(27));
        _expectInvalid(v, address(0));
    }

    function test_attestBySig_validSignatureOfUnregisteredKey() public {
        uint256 key = 0xbad;
        ISeedRegistry.SignedVote memory v = _vote(0, C1, X86_64_LINUX, X, deadline);
        v.signer = vm.addr(key);
        v.signature = _sign(key, _hashVote(v, address(registry), block.chainid));
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, vm.addr(key)));
        registry.attestBySig(v);
    }

    function test_attestBySig_revokedBuilderAndUnknownSystem() public {
        ISeedRegistry.SignedVote memory v = _vote(2, C1, X86_64_LINUX, X, deadline);
        vm.prank(guardianAddr);
        registry.revokeBuilder(2);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, 2));
        registry.attestBySig(v);

        ISeedRegistry.SignedVote memory u = _vote(0, C1, "riscv64-linux", X, deadline);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSystem.selector, "riscv64-linux"));
        registry.attestBySig(u);

        ISeedRegistry.SignedVote memory z = _vote(0, bytes32(0), X86_64_LINUX, X, deadline);
        vm.prank(relayer);
        vm.expectRevert(ISeedRegistry.InvalidCommit.selector);
        registry.attestBySig(z);
    }

    // ------------------------------------------------------------------ batches

    function _batch(uint256 n, bytes32 commit) internal view returns (ISeedRegistry.SignedVote[] memory vs) {
        vs = new ISeedRegistry.SignedVote[](n);
        for (uint256 i; i < n; ++i) {
            vs[i] = _vote(i, commit, X86_64_LINUX, X, deadline);
        }
    }

    function test_attestBatch_finalisesInOneTransaction() public {
        vm.prank(relayer);
        registry.attestBatch(_batch(3, C1));
        assertTrue(registry.isFinalised(C1), "genesis: all three in one batch");
        assertEq(registry.votedMask(C1, X86_64_LINUX), 7);
        bytes32[] memory d = new bytes32[](1);
        d[0] = X;
        assertEq(ledger.rootOf(C1), registry.computeRoot(_systems1(), d));
    }

    function test_attestBatch_retryIsIdempotent() public {
        ISeedRegistry.SignedVote[] memory vs = _batch(3, C1);
        vm.prank(relayer);
        registry.attestBatch(vs);
        bytes32 root = ledger.rootOf(C1);
        vm.recordLogs();
        vm.prank(relayer);
        registry.attestBatch(vs);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(ledger.rootOf(C1), root);
    }

    function test_attestBatch_oneBadVoteRevertsAll() public {
        ISeedRegistry.SignedVote[] memory vs = _batch(3, C1);
        vs[2].manifestDigest = keccak256("tampered");
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSignature.selector, builderAddrs[2]));
        registry.attestBatch(vs);
        assertEq(registry.votedMask(C1, X86_64_LINUX), 0, "nothing recorded");
    }

    function test_attestBatch_conflictInsideBatchReverts() public {
        ISeedRegistry.SignedVote[] memory vs = new ISeedRegistry.SignedVote[](2);
        vs[0] = _vote(0, C1, X86_64_LINUX, X, deadline);
        vs[1] = _vote(0, C1, X86_64_LINUX, keccak256("Y"), deadline);
        vm.prank(relayer);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISeedRegistry.ConflictingVote.selector, C1, keccak256(bytes(X86_64_LINUX)), 0
            )
        );
        registry.attestBatch(vs);
    }

    function test_attestBatch_empty() public {
        vm.prank(relayer);
        vm.expectRevert(ISeedRegistry.EmptyBatch.selector);
        registry.attestBatch(new ISeedRegistry.SignedVote[](0));
    }

    function test_attestBatch_mixesCommitsAndLateVotes() public {
        ISeedRegistry.SignedVote[] memory vs = new ISeedRegistry.SignedVote[](5);
        ISeedRegistry.SignedVote[] memory g = _batch(3, C1);
        vs[0] = g[0];
        vs[1] = g[1];
        vs[2] = g[2];
        vs[3] = _vote(0, bytes32(uint256(0xc2)), X86_64_LINUX, X, deadline);
        vs[4] = _vote(1, bytes32(uint256(0xc2)), X86_64_LINUX, X, deadline);
        vm.recordLogs();
        vm.prank(relayer);
        registry.attestBatch(vs);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 attested;
        uint256 recorded;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(registry) && logs[i].topics[0] == ISeedRegistry.Attested.selector) ++attested;
            if (
                logs[i].emitter == address(ledger)
                    && logs[i].topics[0] == IReleaseLedger.ReleaseRecorded.selector
            ) {
                ++recorded;
            }
        }
        assertEq(attested, 5);
        assertEq(recorded, 2, "two ledger entries");
        assertTrue(registry.isFinalised(C1));
        assertTrue(
            registry.isFinalised(bytes32(uint256(0xc2))), "k = 2 after the genesis earlier in the batch"
        );
    }
}
