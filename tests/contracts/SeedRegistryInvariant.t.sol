// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {RegistryHandler} from "./utils/RegistryHandler.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";

/// @notice Trust properties 1, 3, 5 under random sequences of votes and rule changes (runs and depth from
/// foundry.toml [invariant]).
contract SeedRegistryInvariantTest is RegistryFixture {
    RegistryHandler internal handler;

    bytes32 internal constant GOOD = keccak256("good manifest");
    bytes32 internal constant BAD = keccak256("bad manifest");

    function setUp() public {
        _deploy(3, 2, _systems2(), 7);
        // Genesis (unanimity, covered by the unit tests) happens here, so random runs mostly exercise k-of-n.
        _genesis(3, bytes32(uint256(0x9e)), _systems2());
        uint256[] memory keys = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            keys[i] = builderKeys[i];
        }
        handler = new RegistryHandler(registry, ledger, governance, guardianAddr, keys);
        targetContract(address(handler));
        // Votes are listed several times so that random sequences finalise releases often.
        bytes4[] memory selectors = new bytes4[](14);
        selectors[0] = RegistryHandler.attest.selector;
        selectors[1] = RegistryHandler.attest.selector;
        selectors[2] = RegistryHandler.attest.selector;
        selectors[3] = RegistryHandler.attestBySig.selector;
        selectors[4] = RegistryHandler.attestBySig.selector;
        selectors[5] = RegistryHandler.revoke.selector;
        selectors[6] = RegistryHandler.addBuilder.selector;
        selectors[7] = RegistryHandler.rotate.selector;
        selectors[8] = RegistryHandler.setQuorum.selector;
        selectors[9] = RegistryHandler.toggleSystems.selector;
        selectors[10] = RegistryHandler.finalise.selector;
        selectors[11] = RegistryHandler.finaliseSigned.selector;
        selectors[12] = RegistryHandler.finaliseSigned.selector;
        selectors[13] = RegistryHandler.reportEquivocation.selector;
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice Finalised => for every required system, at least the threshold of distinct builders, active
    /// at finalisation, voted the identical manifest digest; each release is finalised once; no builder's
    /// vote was ever silently replaced by a different digest.
    function invariant_finalisedReleasesHadQuorum() public view {
        assertEq(handler.unjustifiedFinalisations(), 0, "finalised without quorum");
        assertEq(handler.conflictingVotesAccepted(), 0, "a builder changed its vote");
        for (uint256 i; i < handler.commitCount(); ++i) {
            bytes32 c = handler.commitAt(i);
            if (ledger.rootOf(c) != bytes32(0)) {
                assertEq(handler.timesFinalised(c), 1, "entry without one finalisation");
            }
        }
    }

    /// @notice Ledger entries never change once written, and nothing writes the ledger except observed
    /// finalisations (the handler matches every `ReleaseRecorded` log to a checked `ReleaseFinalised`).
    function invariant_ledgerEntriesNeverChange() public view {
        uint256 n = handler.finalisedCount();
        for (uint256 i; i < n; ++i) {
            (bytes32 c, bytes32 root,) = handler.finalisedAt(i);
            assertTrue(root != bytes32(0));
            assertEq(ledger.rootOf(c), root);
        }
    }

    /// @notice Every finalised release is stamped with the block that finalised it, whatever voted after
    /// it (D-050: verifiers read its events from that block).
    function invariant_finalisedReleasesNameTheirBlock() public view {
        uint256 n = handler.finalisedCount();
        for (uint256 i; i < n; ++i) {
            (bytes32 c,, uint256 blockNumber) = handler.finalisedAt(i);
            assertEq(registry.finalisationStamp(c), blockNumber % (uint256(1) << 29));
        }
    }

    /// @notice No vote from an unregistered or retired key is ever accepted or counted: every voter bit
    /// belongs to a registered builder whose own key cast that vote.
    function invariant_noUnregisteredVoteCounted() public view {
        assertEq(handler.outsiderVotesAccepted(), 0, "an outsider's vote was accepted");
        uint256 count = registry.builderCount();
        string[] memory systems = handler.systemsInPlay();
        for (uint256 i; i < handler.commitCount(); ++i) {
            bytes32 c = handler.commitAt(i);
            for (uint256 j; j < systems.length; ++j) {
                uint64 voted = registry.votedMask(c, systems[j]);
                assertEq(voted >> count, 0, "a bit beyond the registered builders");
                assertEq(
                    registry.votersFor(c, systems[j], GOOD) | registry.votersFor(c, systems[j], BAD),
                    voted,
                    "voters are exactly the voted set"
                );
                assertEq(registry.votersFor(c, systems[j], GOOD) & registry.votersFor(c, systems[j], BAD), 0);
                for (uint256 b; b < count; ++b) {
                    bool ghost =
                        handler.ghostVote(handler.ghostKey(c, keccak256(bytes(systems[j])), b)) != bytes32(0);
                    bytes32 gk = handler.ghostKey(c, keccak256(bytes(systems[j])), b);
                    // Votes `finalise` counted from signatures are not stored (D-055).
                    bool stored = ghost && !handler.ghostUnstored(gk);
                    assertEq((voted >> b) & 1 == 1, stored, "a counted vote the handler never saw accepted");
                }
            }
        }
    }

    /// @notice The handler is not vacuous: a fixed sequence of its actions finalises two releases through the
    /// same checks the invariants rely on.
    function test_handlerFinalisesAndChecks() public {
        // Seeds: builder b is `who = 4b + 1`; `s = 1` is aarch64-linux and `s = 6` x86_64-linux; `d = 1` GOOD.
        for (uint256 c; c < 2; ++c) {
            for (uint256 b; b < 3; ++b) {
                handler.attest(4 * b + 1, c, 1, 1);
                handler.attestBySig(4 * b + 1, c, 6, 1);
            }
        }
        assertEq(handler.finalisationsSeen(), 2);
        assertEq(handler.unjustifiedFinalisations(), 0);
        assertEq(handler.finalisedCount(), 2);
        // Strangers are rejected, and the handler notices nothing wrong.
        handler.attest(0, 2, 1, 1);
        handler.attestBySig(4, 2, 6, 1);
        assertEq(handler.outsiderVotesAccepted(), 0);
        // The third release from signed votes in one call: an outsider's signature among them is refused,
        // then the builders' own finalise it.
        handler.finaliseSigned(2, 0);
        assertEq(handler.finalisationsSeen(), 2);
        handler.finaliseSigned(2, 1);
        assertEq(handler.finalisationsSeen(), 3);
        assertEq(handler.unjustifiedFinalisations(), 0);
        assertEq(handler.outsiderVotesAccepted(), 0);
        invariant_finalisedReleasesHadQuorum();
        invariant_ledgerEntriesNeverChange();
        invariant_noUnregisteredVoteCounted();
    }
}
