// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Initialisation, governance entry points and views of the registry.
contract SeedRegistryRulesTest is RegistryFixture {
    bytes32 internal constant C1 = bytes32(uint256(0xc1));

    function setUp() public {
        _deploy(3, 2, _systems4(), 7);
    }

    function _expectUnauthorized(address caller) internal {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
    }

    function _initData(ISeedRegistry.Builder[] memory bs, uint8 k, string[] memory systems, uint8 policy)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeCall(
            SeedRegistry.initialize,
            (governance, guardianAddr, IReleaseLedger(address(ledger)), bs, k, systems, policy)
        );
    }

    function _expectInitRevert(bytes memory init, bytes memory err) internal {
        vm.expectRevert(err);
        new ERC1967Proxy(address(implementation), init);
    }

    // ------------------------------------------------------------------ initialize

    function test_initialize_setsEverything() public view {
        assertEq(registry.owner(), governance);
        assertEq(registry.guardian(), guardianAddr);
        assertEq(address(registry.ledger()), address(ledger));
        assertEq(registry.builderCount(), 3);
        assertEq(registry.activeBuilderMask(), 7);
        assertEq(registry.quorum(), 2);
        assertEq(registry.threshold(), 3, "genesis needs every active builder");
        assertFalse(registry.genesisDone());
        assertEq(registry.independencePolicy(), 7);
        assertEq(registry.rulesVersion(), 1);
        string[] memory s = registry.requiredSystems();
        assertEq(s.length, 4);
        assertEq(s[0], AARCH64_DARWIN);
        assertEq(s[3], X86_64_LINUX);
        for (uint8 i; i < 3; ++i) {
            ISeedRegistry.Builder memory b = registry.builder(i);
            (bytes32 org, bytes32 jur, bytes32 infra) = _tags(i);
            assertEq(b.signer, builderAddrs[i]);
            assertEq(b.organisation, org);
            assertEq(b.jurisdiction, jur);
            assertEq(b.infrastructure, infra);
            assertTrue(b.active);
            assertEq(registry.builderIdOf(builderAddrs[i]), i);
        }
        assertEq(registry.VERSION(), "1.1.0");
    }

    function test_initialize_emitsTheInitialRules() public {
        vm.recordLogs();
        new ERC1967Proxy(address(implementation), _initData(_builderStructs(2), 1, _systems2(), 7));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 added;
        bool quorumSeen;
        bool systemsSeen;
        bool policySeen;
        bool guardianSeen;
        for (uint256 i; i < logs.length; ++i) {
            bytes32 t = logs[i].topics[0];
            if (t == ISeedRegistry.BuilderAdded.selector) {
                (,,, uint32 version) = abi.decode(logs[i].data, (bytes32, bytes32, bytes32, uint32));
                assertEq(version, 1);
                ++added;
            } else if (t == ISeedRegistry.QuorumChanged.selector) {
                (uint8 prev, uint8 k, uint32 version) = abi.decode(logs[i].data, (uint8, uint8, uint32));
                assertEq(prev, 0);
                assertEq(k, 1);
                assertEq(version, 1);
                quorumSeen = true;
            } else if (t == ISeedRegistry.RequiredSystemsChanged.selector) {
                (string[] memory s, uint32 version) = abi.decode(logs[i].data, (string[], uint32));
                assertEq(s.length, 2);
                assertEq(version, 1);
                systemsSeen = true;
            } else if (t == ISeedRegistry.IndependencePolicyChanged.selector) {
                policySeen = true;
            } else if (t == ISeedRegistry.GuardianChanged.selector) {
                guardianSeen = true;
            }
        }
        assertEq(added, 2);
        assertTrue(quorumSeen && systemsSeen && policySeen && guardianSeen);
    }

    function test_initialize_cannotRunTwice() public {
        vm.expectRevert(bytes4(keccak256("InvalidInitialization()")));
        registry.initialize(
            governance, guardianAddr, IReleaseLedger(address(ledger)), _builderStructs(3), 2, _systems4(), 7
        );
    }

    function test_initialize_rejectsBadLedger() public {
        _expectInitRevert(
            abi.encodeCall(
                SeedRegistry.initialize,
                (governance, guardianAddr, IReleaseLedger(address(0)), _builderStructs(3), 2, _systems4(), 7)
            ),
            abi.encodeWithSelector(SeedRegistry.InvalidLedger.selector, address(0))
        );
        _expectInitRevert(
            abi.encodeCall(
                SeedRegistry.initialize,
                (governance, guardianAddr, IReleaseLedger(stranger), _builderStructs(3), 2, _systems4(), 7)
            ),
            abi.encodeWithSelector(SeedRegistry.InvalidLedger.selector, stranger)
        );
    }

    function test_initialize_rejectsZeroOwner() public {
        _expectInitRevert(
            abi.encodeCall(
                SeedRegistry.initialize,
                (
                    address(0),
                    guardianAddr,
                    IReleaseLedger(address(ledger)),
                    _builderStructs(3),
                    2,
                    _systems4(),
                    7
                )
            ),
            abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0))
        );
    }

    function test_initialize_rejectsBadBuilders() public {
        ISeedRegistry.Builder[] memory bs = _builderStructs(3);
        bs[1].active = false;
        _expectInitRevert(
            _initData(bs, 2, _systems4(), 7),
            abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, 1)
        );

        bs = _builderStructs(3);
        bs[2].signer = bs[0].signer;
        _expectInitRevert(
            _initData(bs, 2, _systems4(), 0),
            abi.encodeWithSelector(ISeedRegistry.SignerAlreadyRegistered.selector, bs[0].signer)
        );

        bs = _builderStructs(3);
        bs[1].signer = address(0);
        _expectInitRevert(
            _initData(bs, 2, _systems4(), 7),
            abi.encodeWithSelector(ISeedRegistry.InvalidSigner.selector, address(0))
        );

        bs = _builderStructs(3);
        bs[2].jurisdiction = bs[0].jurisdiction;
        _expectInitRevert(
            _initData(bs, 2, _systems4(), 7),
            abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 2, 0, 2)
        );
    }

    function test_initialize_rejectsBadQuorumPolicyAndSystems() public {
        _expectInitRevert(
            _initData(_builderStructs(3), 0, _systems4(), 7),
            abi.encodeWithSelector(ISeedRegistry.QuorumOutOfRange.selector, 0, 3)
        );
        _expectInitRevert(
            _initData(_builderStructs(3), 4, _systems4(), 7),
            abi.encodeWithSelector(ISeedRegistry.QuorumOutOfRange.selector, 4, 3)
        );
        _expectInitRevert(
            _initData(_builderStructs(0), 1, _systems4(), 7),
            abi.encodeWithSelector(ISeedRegistry.QuorumOutOfRange.selector, 1, 0)
        );
        _expectInitRevert(
            _initData(_builderStructs(3), 2, _systems4(), 8),
            abi.encodeWithSelector(ISeedRegistry.InvalidIndependencePolicy.selector, 8)
        );
        _expectInitRevert(
            _initData(_builderStructs(3), 2, new string[](0), 7),
            abi.encodeWithSelector(ISeedRegistry.NoRequiredSystems.selector)
        );
        string[] memory unsorted = new string[](2);
        unsorted[0] = X86_64_LINUX;
        unsorted[1] = AARCH64_LINUX;
        _expectInitRevert(
            _initData(_builderStructs(3), 2, unsorted, 7),
            abi.encodeWithSelector(ISeedRegistry.SystemsNotSorted.selector, 1)
        );
    }

    function test_initialize_tooManyBuilders() public {
        // Policy 0, so tags may repeat; 65 builders do not fit 64-bit vote bitmaps.
        ISeedRegistry.Builder[] memory bs = new ISeedRegistry.Builder[](65);
        for (uint256 i; i < 65; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            bs[i] = ISeedRegistry.Builder(address(uint160(0x1000 + i)), 0, 0, 0, true);
        }
        _expectInitRevert(
            _initData(bs, 1, _systems1(), 0), abi.encodeWithSelector(ISeedRegistry.TooManyBuilders.selector)
        );
        ISeedRegistry.Builder[] memory max = new ISeedRegistry.Builder[](64);
        for (uint256 i; i < 64; ++i) {
            max[i] = bs[i];
        }
        SeedRegistry r = SeedRegistry(
            address(new ERC1967Proxy(address(implementation), _initData(max, 1, _systems1(), 0)))
        );
        assertEq(r.builderCount(), 64);
        assertEq(r.activeBuilderMask(), type(uint64).max);
        assertEq(r.builderIdOf(address(uint160(0x1000 + 63))), 63);
    }

    // ------------------------------------------------------------------ addBuilder

    function test_addBuilder_assignsNextIdAndBumpsRules() public {
        (bytes32 org, bytes32 jur, bytes32 infra) = _tags(3);
        vm.expectEmit(true, true, false, true);
        emit ISeedRegistry.BuilderAdded(3, builderAddrs[3], org, jur, infra, 2);
        vm.prank(governance);
        uint8 id = registry.addBuilder(builderAddrs[3], org, jur, infra);
        assertEq(id, 3);
        assertEq(registry.builderCount(), 4);
        assertEq(registry.activeBuilderMask(), 15);
        assertEq(registry.rulesVersion(), 2);
        assertEq(registry.builderIdOf(builderAddrs[3]), 3);
        assertEq(registry.threshold(), 4, "genesis unanimity includes the new builder");
    }

    function test_addBuilder_onlyOwner() public {
        (bytes32 org, bytes32 jur, bytes32 infra) = _tags(3);
        _expectUnauthorized(guardianAddr);
        vm.prank(guardianAddr);
        registry.addBuilder(builderAddrs[3], org, jur, infra);
        _expectUnauthorized(builderAddrs[0]);
        vm.prank(builderAddrs[0]);
        registry.addBuilder(builderAddrs[3], org, jur, infra);
        assertEq(registry.builderCount(), 3);
    }

    function test_addBuilder_rejectsBadSigners() public {
        (bytes32 org, bytes32 jur, bytes32 infra) = _tags(3);
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSigner.selector, address(0)));
        registry.addBuilder(address(0), org, jur, infra);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.SignerAlreadyRegistered.selector, builderAddrs[1])
        );
        registry.addBuilder(builderAddrs[1], org, jur, infra);
        // A revoked builder's key stays registered: it cannot come back as a new builder.
        registry.revokeBuilder(1);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.SignerAlreadyRegistered.selector, builderAddrs[1])
        );
        registry.addBuilder(builderAddrs[1], org, jur, infra);
        vm.stopPrank();
    }

    function test_addBuilder_enforcesEachIndependenceTag() public {
        (bytes32 org, bytes32 jur, bytes32 infra) = _tags(3);
        (bytes32 org1, bytes32 jur1, bytes32 infra1) = _tags(1);
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 3, 1, 1));
        registry.addBuilder(builderAddrs[3], org1, jur, infra);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 3, 1, 2));
        registry.addBuilder(builderAddrs[3], org, jur1, infra);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 3, 1, 4));
        registry.addBuilder(builderAddrs[3], org, jur, infra1);
        // Zero tags are invalid when the policy requires the tag.
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 3, 3, 1));
        registry.addBuilder(builderAddrs[3], bytes32(0), jur, infra);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 3, 3, 4));
        registry.addBuilder(builderAddrs[3], org, jur, bytes32(0));
        vm.stopPrank();
        assertEq(registry.builderCount(), 3);
    }

    function test_addBuilder_independenceIgnoresRevokedAndUnrequiredTags() public {
        (bytes32 org1, bytes32 jur1, bytes32 infra1) = _tags(1);
        vm.startPrank(governance);
        registry.revokeBuilder(1);
        // Builder 1 is revoked: its tags no longer block anyone.
        uint8 id = registry.addBuilder(builderAddrs[3], org1, jur1, infra1);
        assertEq(id, 3);
        // With only the organisation required, a shared jurisdiction and a zero infrastructure are fine.
        registry.setIndependencePolicy(1);
        (bytes32 org4,,) = _tags(4);
        (, bytes32 jur0,) = _tags(0);
        registry.addBuilder(builderAddrs[4], org4, jur0, bytes32(0));
        vm.stopPrank();
        assertEq(registry.builderCount(), 5);
    }

    function test_addBuilder_tooManyBuilders() public {
        vm.startPrank(governance);
        registry.setIndependencePolicy(0);
        for (uint256 i = 3; i < 64; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            registry.addBuilder(address(uint160(0x5000 + i)), 0, 0, 0);
        }
        assertEq(registry.builderCount(), 64);
        vm.expectRevert(ISeedRegistry.TooManyBuilders.selector);
        registry.addBuilder(address(uint160(0x9999)), 0, 0, 0);
        // Revoking does not free an id: ids are never reused.
        registry.revokeBuilder(5);
        vm.expectRevert(ISeedRegistry.TooManyBuilders.selector);
        registry.addBuilder(address(uint160(0x9999)), 0, 0, 0);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ revokeBuilder

    function test_revokeBuilder_byGovernanceOrGuardian() public {
        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.BuilderRevoked(1, builderAddrs[1], guardianAddr, 2);
        vm.prank(guardianAddr);
        registry.revokeBuilder(1);
        assertEq(registry.activeBuilderMask(), 5);
        assertFalse(registry.builder(1).active);
        assertEq(registry.rulesVersion(), 2);
        assertEq(registry.threshold(), 2, "genesis unanimity is over active builders");

        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.BuilderRevoked(2, builderAddrs[2], governance, 3);
        vm.prank(governance);
        registry.revokeBuilder(2);
        assertEq(registry.activeBuilderMask(), 1);
    }

    function test_revokeBuilder_rejectsOthers() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.NotGovernanceOrGuardian.selector, stranger));
        registry.revokeBuilder(1);
        vm.prank(builderAddrs[1]);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.NotGovernanceOrGuardian.selector, builderAddrs[1])
        );
        registry.revokeBuilder(1);
        assertEq(registry.activeBuilderMask(), 7);
    }

    function test_revokeBuilder_unknownOrInactive() public {
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownBuilder.selector, 3));
        registry.revokeBuilder(3);
        registry.revokeBuilder(0);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, 0));
        registry.revokeBuilder(0);
        vm.stopPrank();
    }

    function test_revokeBuilder_allowedEvenBelowQuorum() public {
        // k = 2 of 3; revoking two builders leaves k above the active count: allowed (security over
        // liveness), and nothing can then finalise.
        vm.startPrank(governance);
        registry.revokeBuilder(0);
        registry.revokeBuilder(1);
        vm.stopPrank();
        assertEq(registry.quorum(), 2);
        assertEq(registry.activeBuilderMask(), 4);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumOutOfRange.selector, 2, 1));
        registry.setQuorum(2);
    }

    function test_guardianZeroDisablesFastPath() public {
        vm.expectEmit(true, true, false, false);
        emit ISeedRegistry.GuardianChanged(guardianAddr, address(0));
        vm.prank(governance);
        registry.setGuardian(address(0));
        assertEq(registry.guardian(), address(0));
        vm.prank(guardianAddr);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.NotGovernanceOrGuardian.selector, guardianAddr));
        registry.revokeBuilder(0);
    }

    function test_setGuardian_onlyOwner() public {
        _expectUnauthorized(guardianAddr);
        vm.prank(guardianAddr);
        registry.setGuardian(stranger);
        vm.prank(governance);
        registry.setGuardian(stranger);
        assertEq(registry.guardian(), stranger);
        assertEq(registry.rulesVersion(), 1, "the guardian is not a rule");
    }

    // ------------------------------------------------------------------ rotateBuilderKey

    function test_rotateBuilderKey_keepsIdAndRetiresOldKey() public {
        address fresh = makeAddr("fresh key");
        vm.expectEmit(true, true, true, true);
        emit ISeedRegistry.BuilderKeyRotated(1, builderAddrs[1], fresh, 2);
        vm.prank(governance);
        registry.rotateBuilderKey(1, fresh);
        assertEq(registry.builder(1).signer, fresh);
        assertEq(registry.builderIdOf(fresh), 1);
        assertEq(registry.rulesVersion(), 2);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, builderAddrs[1]));
        registry.builderIdOf(builderAddrs[1]);

        // The retired key can be registered neither as a new builder nor as another rotation target.
        (bytes32 org, bytes32 jur, bytes32 infra) = _tags(5);
        vm.startPrank(governance);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.SignerAlreadyRegistered.selector, builderAddrs[1])
        );
        registry.addBuilder(builderAddrs[1], org, jur, infra);
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.SignerAlreadyRegistered.selector, builderAddrs[1])
        );
        registry.rotateBuilderKey(2, builderAddrs[1]);
        vm.stopPrank();
    }

    function test_rotateBuilderKey_errors() public {
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownBuilder.selector, 9));
        registry.rotateBuilderKey(9, stranger);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSigner.selector, address(0)));
        registry.rotateBuilderKey(0, address(0));
        vm.expectRevert(
            abi.encodeWithSelector(ISeedRegistry.SignerAlreadyRegistered.selector, builderAddrs[2])
        );
        registry.rotateBuilderKey(0, builderAddrs[2]);
        registry.revokeBuilder(0);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, 0));
        registry.rotateBuilderKey(0, stranger);
        vm.stopPrank();
        _expectUnauthorized(guardianAddr);
        vm.prank(guardianAddr);
        registry.rotateBuilderKey(1, stranger);
    }

    // ------------------------------------------------------------------ setBuilderTags

    function test_setBuilderTags_enforcesPolicy() public {
        (bytes32 org5, bytes32 jur5, bytes32 infra5) = _tags(5);
        (bytes32 org0,,) = _tags(0);
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 1, 0, 1));
        registry.setBuilderTags(1, org0, jur5, infra5);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 1, 1, 2));
        registry.setBuilderTags(1, org5, bytes32(0), infra5);

        vm.expectEmit(true, false, false, true);
        emit ISeedRegistry.BuilderTagsChanged(1, org5, jur5, infra5, 2);
        registry.setBuilderTags(1, org5, jur5, infra5);
        // Keeping one's own tags is not a conflict with oneself.
        registry.setBuilderTags(1, org5, jur5, infra5);
        vm.stopPrank();
        ISeedRegistry.Builder memory b = registry.builder(1);
        assertEq(b.organisation, org5);
        assertEq(b.jurisdiction, jur5);
        assertEq(b.infrastructure, infra5);
        assertEq(registry.rulesVersion(), 3);
    }

    function test_setBuilderTags_errors() public {
        (bytes32 org5, bytes32 jur5, bytes32 infra5) = _tags(5);
        _expectUnauthorized(stranger);
        vm.prank(stranger);
        registry.setBuilderTags(1, org5, jur5, infra5);
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownBuilder.selector, 7));
        registry.setBuilderTags(7, org5, jur5, infra5);
        registry.revokeBuilder(1);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, 1));
        registry.setBuilderTags(1, org5, jur5, infra5);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ setQuorum

    function test_setQuorum_range() public {
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumOutOfRange.selector, 0, 3));
        registry.setQuorum(0);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.QuorumOutOfRange.selector, 4, 3));
        registry.setQuorum(4);
        vm.expectEmit(false, false, false, true);
        emit ISeedRegistry.QuorumChanged(2, 3, 2);
        registry.setQuorum(3);
        assertEq(registry.quorum(), 3);
        registry.setQuorum(1);
        vm.stopPrank();
        assertEq(registry.quorum(), 1);
        assertEq(registry.rulesVersion(), 3);
        assertEq(registry.threshold(), 3, "k does not apply before genesis");
        _expectUnauthorized(guardianAddr);
        vm.prank(guardianAddr);
        registry.setQuorum(2);
    }

    // ------------------------------------------------------------------ setRequiredSystems

    function test_setRequiredSystems_replacesTheSet() public {
        string[] memory s = new string[](3);
        s[0] = "i686-linux";
        s[1] = "riscv64-linux";
        s[2] = X86_64_LINUX;
        vm.expectEmit(false, false, false, true);
        emit ISeedRegistry.RequiredSystemsChanged(s, 2);
        vm.prank(governance);
        registry.setRequiredSystems(s);
        string[] memory got = registry.requiredSystems();
        assertEq(got.length, 3);
        assertEq(got[0], "i686-linux");
        assertEq(got[1], "riscv64-linux");
        assertEq(got[2], X86_64_LINUX);
        assertEq(registry.rulesVersion(), 2);

        vm.prank(builderAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSystem.selector, AARCH64_DARWIN));
        registry.attest(C1, AARCH64_DARWIN, _digest("m", 1), IMAGE, STATEMENT);
        _attest(0, C1, "riscv64-linux", _digest("m", 1));
        assertEq(registry.votedMask(C1, "riscv64-linux"), 1);
    }

    function test_setRequiredSystems_validates() public {
        vm.startPrank(governance);
        vm.expectRevert(ISeedRegistry.NoRequiredSystems.selector);
        registry.setRequiredSystems(new string[](0));

        string[] memory dup = new string[](2);
        dup[0] = X86_64_LINUX;
        dup[1] = X86_64_LINUX;
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.SystemsNotSorted.selector, 1));
        registry.setRequiredSystems(dup);

        string[] memory empty = new string[](1);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSystem.selector, ""));
        registry.setRequiredSystems(empty);

        string[] memory tooLong = new string[](1);
        tooLong[0] = string(new bytes(256));
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSystem.selector, tooLong[0]));
        registry.setRequiredSystems(tooLong);

        string[] memory sixteen = new string[](16);
        for (uint256 i; i < 16; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            sixteen[i] = string(abi.encodePacked("sys-", bytes1(uint8(0x61 + i))));
        }
        vm.expectRevert(ISeedRegistry.TooManySystems.selector);
        registry.setRequiredSystems(sixteen);
        string[] memory fifteen = new string[](15);
        for (uint256 i; i < 15; ++i) {
            fifteen[i] = sixteen[i];
        }
        registry.setRequiredSystems(fifteen);
        assertEq(registry.requiredSystems().length, 15);
        // A 255-byte name is the longest accepted.
        string[] memory longest = new string[](1);
        longest[0] = string(new bytes(255));
        registry.setRequiredSystems(longest);
        vm.stopPrank();
        assertEq(bytes(registry.requiredSystems()[0]).length, 255);
        _expectUnauthorized(stranger);
        vm.prank(stranger);
        registry.setRequiredSystems(_systems1());
    }

    /// @notice Systems get permanent numbers: removing a system and adding it back keeps its votes.
    function test_setRequiredSystems_votesSurviveRemovalAndReturn() public {
        _attest(0, C1, X86_64_LINUX, _digest("m", 1));
        vm.startPrank(governance);
        registry.setRequiredSystems(_systems2());
        registry.setRequiredSystems(_systems1());
        vm.stopPrank();
        assertEq(registry.votedMask(C1, X86_64_LINUX), 1);
        assertEq(registry.votersFor(C1, X86_64_LINUX, _digest("m", 1)), 1);
    }

    /// @notice System numbers are assigned for life (255 of them); a 256th distinct name is refused.
    function test_setRequiredSystems_systemNumbersRunOut() public {
        vm.startPrank(governance);
        // 4 numbers are taken by the initial set; assign 251 more in batches of 15 and fewer.
        uint256 assigned = 4;
        uint256 next;
        while (assigned < 255) {
            uint256 n = 255 - assigned < 15 ? 255 - assigned : 15;
            string[] memory s = new string[](n);
            for (uint256 i; i < n; ++i) {
                // forge-lint: disable-next-line(unsafe-typecast)
                s[i] = string(abi.encodePacked("s", bytes2(uint16(next++))));
            }
            registry.setRequiredSystems(s);
            assigned += n;
        }
        string[] memory one = new string[](1);
        one[0] = "one-too-many";
        vm.expectRevert(ISeedRegistry.TooManySystems.selector);
        registry.setRequiredSystems(one);
        // Known names can still be required again.
        registry.setRequiredSystems(_systems4());
        vm.stopPrank();
        assertEq(registry.requiredSystems().length, 4);
    }

    // ------------------------------------------------------------------ setIndependencePolicy

    function test_setIndependencePolicy_checksCurrentBuilders() public {
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidIndependencePolicy.selector, 8));
        registry.setIndependencePolicy(8);

        registry.setIndependencePolicy(0);
        (bytes32 org1,,) = _tags(1);
        registry.addBuilder(builderAddrs[3], org1, bytes32(0), bytes32(0));
        // Builder 3 shares builder 1's organisation and has zero tags: no policy that needs either holds.
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 3, 1, 1));
        registry.setIndependencePolicy(1);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.IndependenceViolation.selector, 3, 3, 2));
        registry.setIndependencePolicy(2);

        vm.expectEmit(false, false, false, true);
        emit ISeedRegistry.IndependencePolicyChanged(0, 0, 4);
        registry.setIndependencePolicy(0);
        // Once builder 1 is revoked, only the zero tags of builder 3 are in the way of the organisation rule.
        registry.revokeBuilder(1);
        registry.setIndependencePolicy(1);
        vm.stopPrank();
        assertEq(registry.independencePolicy(), 1);
        _expectUnauthorized(guardianAddr);
        vm.prank(guardianAddr);
        registry.setIndependencePolicy(0);
    }

    // ------------------------------------------------------------------ views and storage layout

    function test_views_unknownBuilderAndSigner() public {
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownBuilder.selector, 3));
        registry.builder(3);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, stranger));
        registry.builderIdOf(stranger);
        assertEq(registry.votedMask(C1, "not-a-system"), 0);
        assertEq(registry.votersFor(C1, X86_64_LINUX, bytes32(0)), 0);
        assertFalse(registry.hasQuorum(C1, X86_64_LINUX, _digest("m", 1)));
        assertFalse(registry.isFinalised(C1));
    }

    function test_erc7201Location() public view {
        bytes32 expected = keccak256(abi.encode(uint256(keccak256("seed-eth.storage.SeedRegistry")) - 1))
            & ~bytes32(uint256(0xff));
        assertEq(expected, 0xaa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100);
        // The first word of the namespace is the packed rule set: active mask 0b111, k = 2, policy 7,
        // no genesis, 3 builders, rules version 1, 4 systems numbered 1..4.
        uint256 rules = uint256(vm.load(address(registry), expected));
        // forge-lint: disable-start(unsafe-typecast)
        assertEq(uint64(rules), 7, "active mask");
        assertEq(uint8(rules >> 64), 2, "quorum");
        assertEq(uint8(rules >> 72), 7, "policy");
        assertEq(uint8(rules >> 80), 0, "genesis");
        assertEq(uint8(rules >> 88), 3, "builder count");
        assertEq(uint32(rules >> 96), 1, "rules version");
        assertEq(uint8(rules >> 128), 4, "system count");
        assertEq(uint32(rules >> 136), 0x04030201, "system numbers");
        // forge-lint: disable-end(unsafe-typecast)
        // Nothing lives in the proxy's sequential slots.
        assertEq(vm.load(address(registry), bytes32(0)), bytes32(0));
        // The implementation's own namespace is untouched (its initialisers are disabled).
        assertEq(vm.load(address(implementation), expected), bytes32(0));
    }

    function test_eip712Domain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) =
            registry.eip712Domain();
        assertEq(name, "SeedRegistry");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(registry));
    }

    function test_ownershipIsTwoStep() public {
        address next = makeAddr("next timelock");
        vm.prank(governance);
        registry.transferOwnership(next);
        assertEq(registry.owner(), governance);
        assertEq(registry.pendingOwner(), next);
        vm.prank(next);
        registry.acceptOwnership();
        assertEq(registry.owner(), next);
        vm.prank(next);
        registry.setQuorum(3);
        _expectUnauthorized(governance);
        vm.prank(governance);
        registry.setQuorum(2);
    }
}
