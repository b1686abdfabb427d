// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../../contracts/ReleaseLedger.sol";
import {SeedRegistry} from "../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {MaliciousRegistry} from "./utils/MaliciousRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {SeedRegistryV2} from "./utils/SeedRegistryV2.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";

/// @notice UUPS upgrades: who may upgrade, what survives, and why even a hostile upgrade cannot touch
/// finalised releases (trust property 5).
contract SeedRegistryUpgradeTest is RegistryFixture {
    bytes32 internal constant GENESIS = bytes32(uint256(0x9e));
    bytes32 internal constant C1 = bytes32(uint256(0xc1));
    bytes32 internal constant C2 = bytes32(uint256(0xc2));

    function setUp() public {
        _deploy(3, 2, _systems2(), 7);
        _genesis(3, GENESIS, _systems2());
        _voteAll(_ids(0, 1), C1, _systems2()); // a second final release
        _attest(0, C2, AARCH64_LINUX, _digest(AARCH64_LINUX, uint256(C2))); // and a pending one
    }

    function _implementationOf(address proxy) internal view returns (address) {
        return address(uint160(uint256(vm.load(proxy, ERC1967Utils.IMPLEMENTATION_SLOT))));
    }

    // ------------------------------------------------------------------ initialisation

    function test_implementationCannotBeInitialised() public {
        vm.expectRevert(bytes4(keccak256("InvalidInitialization()")));
        implementation.initialize(
            stranger, stranger, IReleaseLedger(address(ledger)), _builderStructs(3), 1, _systems1(), 0
        );
        assertEq(implementation.owner(), address(0));
    }

    function test_implementationCannotBeUpgradedDirectly() public {
        SeedRegistryV2 v2 = new SeedRegistryV2();
        vm.prank(governance);
        vm.expectRevert(UUPSUpgradeable.UUPSUnauthorizedCallContext.selector);
        implementation.upgradeToAndCall(address(v2), "");
    }

    // ------------------------------------------------------------------ authorisation

    function test_onlyOwnerUpgrades() public {
        SeedRegistryV2 v2 = new SeedRegistryV2();
        address[3] memory others = [stranger, guardianAddr, builderAddrs[0]];
        for (uint256 i; i < others.length; ++i) {
            vm.prank(others[i]);
            vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, others[i]));
            registry.upgradeToAndCall(address(v2), "");
        }
        assertEq(_implementationOf(address(registry)), address(implementation));
        vm.prank(governance);
        registry.upgradeToAndCall(address(v2), "");
        assertEq(_implementationOf(address(registry)), address(v2));
    }

    function test_upgradeToNonUupsContractIsRefused() public {
        vm.prank(governance);
        vm.expectRevert(
            abi.encodeWithSelector(ERC1967Utils.ERC1967InvalidImplementation.selector, address(ledger))
        );
        registry.upgradeToAndCall(address(ledger), "");
    }

    // ------------------------------------------------------------------ state preservation

    function test_v2PreservesStateAndAddsTail() public {
        bytes32 genesisRoot = ledger.rootOf(GENESIS);
        bytes32 c1Root = ledger.rootOf(C1);
        uint32 version = registry.rulesVersion();
        string[] memory systems = registry.requiredSystems();

        SeedRegistryV2 v2impl = new SeedRegistryV2();
        vm.roll(4242);
        vm.prank(governance);
        registry.upgradeToAndCall(address(v2impl), abi.encodeCall(SeedRegistryV2.initializeV2, ("v2 note")));
        SeedRegistryV2 v2 = SeedRegistryV2(address(registry));

        // v1 state reads back unchanged.
        assertEq(v2.owner(), governance);
        assertEq(v2.guardian(), guardianAddr);
        assertEq(address(v2.ledger()), address(ledger));
        assertEq(v2.ledgerViaV2(), address(ledger));
        assertEq(v2.rulesVersion(), version);
        assertEq(v2.quorum(), 2);
        assertTrue(v2.genesisDone());
        assertEq(v2.builderCount(), 3);
        assertEq(v2.builderIdOf(builderAddrs[2]), 2);
        assertEq(v2.requiredSystems().length, systems.length);
        assertEq(v2.requiredSystems()[1], systems[1]);
        assertEq(v2.votedMask(C2, AARCH64_LINUX), 1);
        assertEq(ledger.rootOf(GENESIS), genesisRoot);
        assertEq(ledger.rootOf(C1), c1Root);
        // The tail is new and initialised once.
        (uint256 at, string memory note) = v2.migration();
        assertEq(at, 4242);
        assertEq(note, "v2 note");
        assertEq(v2.implementationVersion(), 2);
        vm.expectRevert(bytes4(keccak256("InvalidInitialization()")));
        v2.initializeV2("again");

        // The pending release continues where v1 left it.
        _attest(1, C2, AARCH64_LINUX, _digest(AARCH64_LINUX, uint256(C2)));
        assertFalse(v2.isFinalised(C2));
        _attest(0, C2, X86_64_LINUX, _digest(X86_64_LINUX, uint256(C2)));
        _attest(1, C2, X86_64_LINUX, _digest(X86_64_LINUX, uint256(C2)));
        assertTrue(v2.isFinalised(C2));
        // Signatures stay valid: the EIP-712 domain is the proxy's.
        ISeedRegistry.SignedVote memory sv =
            _vote(2, C2, X86_64_LINUX, _digest(X86_64_LINUX, uint256(C2)), 1e12);
        v2.attestBySig(sv);
        assertEq(v2.votedMask(C2, X86_64_LINUX), 7);
    }

    /// @notice Issue 17 ships as an upgrade of a registry running the 1.0.0 implementation (frozen in
    /// tests/contracts/fixtures): every rule, builder, stored vote, stamp and ledger entry reads back the
    /// same, and a release left pending by 1.0.0 is finalised by signed votes on top of its stored ones.
    function test_upgradeFrom1_0_0PreservesStateAndFinalisesPendingReleasesBySignature() public {
        address v1 = deployCode("tests/contracts/fixtures/SeedRegistry-1.0.0.json");
        _deployImplementation(v1, 3, 2, _systems2(), 7);
        assertEq(registry.VERSION(), "1.0.0");
        vm.roll(100);
        _genesis(3, GENESIS, _systems2());
        vm.roll(200);
        _voteAll(_ids(0, 1), C1, _systems2());
        bytes32 d0 = _digest(AARCH64_LINUX, uint256(C2));
        bytes32 d1 = _digest(X86_64_LINUX, uint256(C2));
        _attest(0, C2, AARCH64_LINUX, d0);
        _attest(0, C2, X86_64_LINUX, d1);
        bytes32 genesisRoot = ledger.rootOf(GENESIS);
        bytes32 c1Root = ledger.rootOf(C1);
        uint32 stamp = registry.finalisationStamp(C1);
        uint32 version = registry.rulesVersion();
        assertEq(stamp, 200);

        SeedRegistry current = new SeedRegistry();
        vm.prank(governance);
        registry.upgradeToAndCall(address(current), "");
        assertEq(_implementationOf(address(registry)), address(current));
        assertEq(registry.VERSION(), "1.1.0");
        assertEq(registry.owner(), governance);
        assertEq(registry.guardian(), guardianAddr);
        assertEq(address(registry.ledger()), address(ledger));
        assertEq(registry.rulesVersion(), version);
        assertEq(registry.threshold(), 2);
        assertEq(registry.builderCount(), 3);
        assertEq(registry.builderIdOf(builderAddrs[2]), 2);
        assertEq(registry.votersFor(C2, AARCH64_LINUX, d0), 1);
        assertEq(registry.finalisationStamp(C1), stamp);
        assertEq(registry.finalisationStamp(GENESIS), 100);
        assertEq(ledger.rootOf(GENESIS), genesisRoot);
        assertEq(ledger.rootOf(C1), c1Root);
        assertEq(registry.equivocators(C2), 0, "the new member reads zero for old releases");

        // Builder 1's signatures complete the release builder 0 left pending under 1.0.0.
        (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes) =
            _compactVotes(_ids(1), C2, _systems2(), uint64(block.timestamp + 1 hours));
        assertEq(digests[0], d0);
        vm.roll(300);
        registry.finalise(C2, digests, votes);
        assertEq(ledger.rootOf(C2), registry.computeRoot(_systems2(), digests));
        assertEq(registry.finalisationStamp(C2), 300);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.AlreadyFinalised.selector, C1));
        registry.finalise(C1, digests, _noVotes());
    }

    /// @notice The v2 tail lies after every v1 field of the namespace (slot + 8), so it overlaps nothing.
    function test_v2TailSlot() public {
        SeedRegistryV2 v2 = new SeedRegistryV2();
        vm.prank(governance);
        registry.upgradeToAndCall(address(v2), abi.encodeCall(SeedRegistryV2.initializeV2, ("x")));
        bytes32 base = 0xaa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100;
        assertEq(uint256(vm.load(address(registry), bytes32(uint256(base) + 8))), block.number);
        assertEq(
            uint256(vm.load(address(registry), bytes32(uint256(base) + 7))), 0, "mapping root slot is empty"
        );
    }

    // ------------------------------------------------------------------ a hostile upgrade

    function test_maliciousUpgradeCannotRewriteHistory() public {
        bytes32 genesisRoot = ledger.rootOf(GENESIS);
        bytes32 c1Root = ledger.rootOf(C1);
        assertTrue(genesisRoot != bytes32(0) && c1Root != bytes32(0));

        MaliciousRegistry evil = new MaliciousRegistry();
        vm.prank(governance);
        registry.upgradeToAndCall(address(evil), "");
        MaliciousRegistry m = MaliciousRegistry(address(registry));
        assertEq(address(m.ledgerAddress()), address(ledger));

        // 1. Re-record a finalised release.
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerAlreadyRecorded.selector, C1, c1Root));
        m.rewrite(C1, keccak256("forged"));
        vm.expectRevert(
            abi.encodeWithSelector(IReleaseLedger.LedgerAlreadyRecorded.selector, GENESIS, genesisRoot)
        );
        m.rewrite(GENESIS, keccak256("forged"));

        // 2. Take the ledger: neither the writer role nor ownership can be moved by the writer.
        vm.expectRevert(
            abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(registry))
        );
        m.seizeLedger();
        vm.expectRevert(
            abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(registry))
        );
        m.transferLedgerOwnership(address(registry));

        // History is intact.
        assertEq(ledger.rootOf(GENESIS), genesisRoot);
        assertEq(ledger.rootOf(C1), c1Root);
        assertEq(ledger.writer(), address(registry));
        assertEq(ledger.owner(), governance);

        // What a hostile rule contract *can* do is record new releases: that is bounded by the timelock
        // delay before the upgrade and by governance, who can hand the writer role elsewhere.
        m.rewrite(bytes32(uint256(0xbad)), keccak256("new but bogus"));
        assertEq(ledger.rootOf(bytes32(uint256(0xbad))), keccak256("new but bogus"));

        // 3. Wipe the registry's own storage: votes, rules, everything it can reach.
        bytes32 base = 0xaa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100;
        for (uint256 i; i < 9; ++i) {
            m.scribble(bytes32(uint256(base) + i), bytes32(type(uint256).max));
        }
        m.scribble(ERC1967Utils.ADMIN_SLOT, bytes32(uint256(uint160(stranger))));

        // 4. Run arbitrary code in the proxy's context.
        m.delegate(address(new Scribbler()), abi.encodeCall(Scribbler.scribbleEverything, ()));

        assertEq(ledger.rootOf(GENESIS), genesisRoot);
        assertEq(ledger.rootOf(C1), c1Root);
        assertEq(ledger.rootOf(bytes32(uint256(0xbad))), keccak256("new but bogus"));

        vm.prank(governance);
        ledger.setWriter(makeAddr("repaired registry"));
        vm.prank(address(registry));
        vm.expectRevert(
            abi.encodeWithSelector(IReleaseLedger.LedgerUnauthorizedWriter.selector, address(registry))
        );
        ledger.record(bytes32(uint256(0xbad2)), keccak256("blocked"), 0);
    }

    function test_ownerCanRecoverFromABadImplementation() public {
        // A v2 with a broken vote path can be replaced by governance; finalised history never depended on it.
        SeedRegistryV2 v2 = new SeedRegistryV2();
        vm.startPrank(governance);
        registry.upgradeToAndCall(address(v2), "");
        registry.upgradeToAndCall(address(implementation), "");
        vm.stopPrank();
        assertEq(_implementationOf(address(registry)), address(implementation));
        assertTrue(registry.isFinalised(C1));
    }
}

/// @notice Delegatecalled by the malicious implementation: writes a spread of slots.
contract Scribbler {
    function scribbleEverything() external {
        for (uint256 i; i < 32; ++i) {
            bytes32 slot = keccak256(abi.encode(i));
            assembly ("memory-safe") {
                sstore(slot, not(0))
                sstore(i, not(0))
            }
        }
    }
}
