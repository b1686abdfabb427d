// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../../contracts/ReleaseLedger.sol";
import {SeedRegistry} from "../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {Deployment, SeedDeployment} from "../../script/Deploy.s.sol";
import {BuilderConfig, DeployConfig, DeployConfigs} from "../../script/DeployConfig.sol";
import {ISafe, SafeSigner, SafeSigning} from "../../script/SafeDeployer.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IERC1967} from "@openzeppelin/contracts/interfaces/IERC1967.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {Test} from "forge-std/Test.sol";

/// @notice A registry upgrade candidate: same storage, one extra function.
contract SeedRegistryGovernanceV2 is SeedRegistry {
    function upgradeMarker() external pure returns (string memory) {
        return "v2";
    }
}

/// @title GovernanceTest
/// @notice Trust property 6 on the real deployment (script/Deploy.s.sol): a real Safe 1.4.1 with real ECDSA
/// signatures proposes to a real TimelockController that owns the registry and the ledger.
contract GovernanceTest is Test, SeedDeployment {
    using SafeSigning for ISafe;

    ISafe internal safe;
    TimelockController internal timelock;
    ReleaseLedger internal ledger;
    SeedRegistry internal registry;
    address internal deployer;
    uint256 internal delay;

    SafeSigner[3] internal owners;
    uint256[3] internal builderKeys;
    address[3] internal builders;
    address internal stranger = makeAddr("stranger");
    uint256 internal strangerKey;

    string internal constant AARCH64 = "aarch64-linux";
    string internal constant X86_64 = "x86_64-linux";
    bytes32 internal constant GENESIS = bytes32(uint256(0xc0ffee01));
    bytes32 internal constant NEXT = bytes32(uint256(0xc0ffee02));

    function setUp() public {
        DeployConfig memory cfg = DeployConfigs.defaults();
        Deployment memory d = _deploy(cfg);
        _checkWiring(d, cfg);
        safe = d.safe;
        timelock = d.timelock;
        ledger = d.ledger;
        registry = d.registry;
        deployer = d.deployer;
        delay = cfg.timelockMinDelay;
        for (uint32 i; i < 3; ++i) {
            uint256 key = DeployConfigs.anvilKey(DeployConfigs.FIRST_SAFE_OWNER_ACCOUNT + i);
            owners[i] = SafeSigner({addr: vm.addr(key), key: key});
            builderKeys[i] = DeployConfigs.anvilKey(DeployConfigs.FIRST_BUILDER_ACCOUNT + i);
            builders[i] = vm.addr(builderKeys[i]);
        }
        (, strangerKey) = makeAddrAndKey("stranger");
    }

    // ------------------------------------------------------------ helpers

    function _signers(uint256 a, uint256 b) internal view returns (SafeSigner[] memory s) {
        s = new SafeSigner[](2);
        s[0] = owners[a];
        s[1] = owners[b];
    }

    /// @dev Safe (owners 0 and 2) -> timelock.schedule(target, 0, data, 0, salt, minDelay).
    function _schedule(address target, bytes memory data, bytes32 salt) internal returns (bytes32 id) {
        bytes memory call =
            abi.encodeCall(TimelockController.schedule, (target, 0, data, bytes32(0), salt, delay));
        assertTrue(safe.exec(_signers(0, 2), address(timelock), call));
        id = timelock.hashOperation(target, 0, data, bytes32(0), salt);
    }

    /// @dev Executes as an arbitrary account: the executor role is open.
    function _execute(address target, bytes memory data, bytes32 salt) internal {
        vm.prank(stranger);
        timelock.execute(target, 0, data, bytes32(0), salt);
    }

    function _govern(address target, bytes memory data, bytes32 salt) internal {
        _schedule(target, data, salt);
        vm.warp(block.timestamp + delay);
        _execute(target, data, salt);
    }

    /// @dev Signs first (the signing helpers make calls), then expects the Safe to refuse with `reason`.
    function _expectSafeRevert(
        SafeSigner[] memory signers,
        address to,
        bytes memory data,
        bytes memory reason
    ) internal {
        bytes memory sigs = SafeSigning.sign(signers, safe.txHash(to, data));
        uint256 nonceBefore = safe.nonce();
        vm.expectRevert(reason);
        safe.execWith(to, data, sigs);
        assertEq(safe.nonce(), nonceBefore, "a refused Safe transaction consumes no nonce");
    }

    function _ready() internal pure returns (bytes32) {
        return bytes32(uint256(1) << uint8(TimelockController.OperationState.Ready));
    }

    function _attest(uint256 builder, bytes32 commit, string memory system, bytes32 manifest) internal {
        vm.prank(builders[builder]);
        registry.attest(commit, system, manifest, keccak256(abi.encode("image", manifest)), keccak256("stmt"));
    }

    function _manifest(string memory system, bytes32 commit) internal pure returns (bytes32) {
        return keccak256(abi.encode("manifest", system, commit));
    }

    /// @dev All three builders attest both systems: genesis (unanimity) finalises.
    function _genesis() internal {
        for (uint256 b; b < 3; ++b) {
            _attest(b, GENESIS, AARCH64, _manifest(AARCH64, GENESIS));
            _attest(b, GENESIS, X86_64, _manifest(X86_64, GENESIS));
        }
        assertTrue(registry.isFinalised(GENESIS));
        assertTrue(registry.genesisDone());
    }

    // ------------------------------------------------------------ Safe -> timelock -> registry

    function test_ruleChangeExecutesOnlyAfterDelay() public {
        bytes memory data = abi.encodeCall(ISeedRegistry.setQuorum, (3));
        bytes32 salt = keccak256("quorum-3");
        uint256 nonceBefore = safe.nonce();

        bytes32 id = timelock.hashOperation(address(registry), 0, data, bytes32(0), salt);
        vm.expectEmit(true, true, false, true, address(timelock));
        emit TimelockController.CallScheduled(id, 0, address(registry), 0, data, bytes32(0), delay);
        assertEq(_schedule(address(registry), data, salt), id);

        assertEq(safe.nonce(), nonceBefore + 1, "the Safe executed exactly one transaction");
        assertEq(uint8(timelock.getOperationState(id)), uint8(TimelockController.OperationState.Waiting));
        assertEq(timelock.getTimestamp(id), block.timestamp + delay);

        // One second early: refused with the exact state error, and nothing changed.
        vm.warp(block.timestamp + delay - 1);
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockUnexpectedOperationState.selector, id, _ready())
        );
        _execute(address(registry), data, salt);
        assertEq(registry.quorum(), 2);

        vm.warp(block.timestamp + 1);
        assertEq(registry.quorum(), 2, "a ready operation does nothing until executed");
        _execute(address(registry), data, salt);
        assertEq(registry.quorum(), 3);
        assertTrue(timelock.isOperationDone(id));

        // Done operations cannot run twice.
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockUnexpectedOperationState.selector, id, _ready())
        );
        _execute(address(registry), data, salt);
    }

    function test_safeCancelsPendingOperation() public {
        bytes memory data = abi.encodeCall(ISeedRegistry.setQuorum, (1));
        bytes32 salt = keccak256("quorum-1");
        bytes32 id = _schedule(address(registry), data, salt);
        assertTrue(timelock.isOperationPending(id));

        vm.expectEmit(true, false, false, false, address(timelock));
        emit TimelockController.Cancelled(id);
        assertTrue(
            safe.exec(_signers(1, 2), address(timelock), abi.encodeCall(TimelockController.cancel, (id)))
        );
        assertEq(uint8(timelock.getOperationState(id)), uint8(TimelockController.OperationState.Unset));

        vm.warp(block.timestamp + delay + 1);
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockUnexpectedOperationState.selector, id, _ready())
        );
        _execute(address(registry), data, salt);
        assertEq(registry.quorum(), 2, "a cancelled rule change never applies");
    }

    function test_safeOwnerAloneCannotScheduleOrCancel() public {
        bytes memory data = abi.encodeCall(ISeedRegistry.setQuorum, (1));
        bytes32 proposerRole = timelock.PROPOSER_ROLE();
        bytes32 cancellerRole = timelock.CANCELLER_ROLE();
        vm.prank(owners[0].addr);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, owners[0].addr, proposerRole
            )
        );
        timelock.schedule(address(registry), 0, data, bytes32(0), bytes32(0), delay);

        bytes32 id = _schedule(address(registry), data, bytes32(0));
        vm.prank(owners[0].addr);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, owners[0].addr, cancellerRole
            )
        );
        timelock.cancel(id);
        assertTrue(timelock.isOperationPending(id));
    }

    function test_proposalShorterThanMinDelayRejected() public {
        bytes memory data = abi.encodeCall(ISeedRegistry.setQuorum, (1));
        vm.prank(address(safe));
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockInsufficientDelay.selector, delay - 1, delay)
        );
        timelock.schedule(address(registry), 0, data, bytes32(0), bytes32(0), delay - 1);

        // Through the Safe the inner revert surfaces as GS013 and the Safe nonce is not consumed.
        bytes memory call = abi.encodeCall(
            TimelockController.schedule, (address(registry), 0, data, bytes32(0), bytes32(0), 0)
        );
        _expectSafeRevert(_signers(0, 1), address(timelock), call, bytes("GS013"));
    }

    // ------------------------------------------------------------ the Safe's own checks

    function test_safeRejectsNonOwnerSignature() public {
        bytes memory call = abi.encodeCall(TimelockController.cancel, (bytes32(uint256(1))));
        SafeSigner[] memory signers = new SafeSigner[](2);
        signers[0] = owners[0];
        signers[1] = SafeSigner({addr: stranger, key: strangerKey});
        bytes memory sigs = SafeSigning.sign(signers, safe.txHash(address(timelock), call));
        vm.expectRevert(bytes("GS026"));
        safe.execWith(address(timelock), call, sigs);
    }

    function test_safeRejectsOneOfThree() public {
        bytes32 id = _schedule(address(registry), abi.encodeCall(ISeedRegistry.setQuorum, (1)), bytes32(0));
        bytes memory call = abi.encodeCall(TimelockController.cancel, (id));
        SafeSigner[] memory one = new SafeSigner[](1);
        one[0] = owners[1];
        bytes memory sig = SafeSigning.sign(one, safe.txHash(address(timelock), call));
        vm.expectRevert(bytes("GS020"));
        safe.execWith(address(timelock), call, sig);

        // The same owner's signature twice is not two signatures.
        vm.expectRevert(bytes("GS026"));
        safe.execWith(address(timelock), call, bytes.concat(sig, sig));
        assertTrue(timelock.isOperationPending(id), "nothing was cancelled");
    }

    function test_safeRejectsUnsortedAndReplayedSignatures() public {
        bytes memory call = abi.encodeCall(TimelockController.cancel, (bytes32(uint256(1))));
        bytes32 hash = safe.txHash(address(timelock), call);
        SafeSigner[] memory sorted = SafeSigning.sortByAddress(_signers(0, 1));
        (uint8 v0, bytes32 r0, bytes32 s0) = vm.sign(sorted[0].key, hash);
        (uint8 v1, bytes32 r1, bytes32 s1) = vm.sign(sorted[1].key, hash);
        vm.expectRevert(bytes("GS026"));
        safe.execWith(address(timelock), call, abi.encodePacked(r1, s1, v1, r0, s0, v0));

        // A valid set of signatures is bound to the Safe nonce: it executes once, then never again.
        bytes32 id = _schedule(address(registry), abi.encodeCall(ISeedRegistry.setQuorum, (1)), bytes32(0));
        bytes memory cancel = abi.encodeCall(TimelockController.cancel, (id));
        bytes memory sigs = SafeSigning.sign(_signers(0, 1), safe.txHash(address(timelock), cancel));
        assertTrue(safe.execWith(address(timelock), cancel, sigs));
        vm.expectRevert(bytes("GS026"));
        safe.execWith(address(timelock), cancel, sigs);
    }

    // ------------------------------------------------------------ the timelock governs itself

    function test_updateDelayIsItselfDelayed() public {
        vm.prank(address(safe));
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockUnauthorizedCaller.selector, address(safe))
        );
        timelock.updateDelay(1);

        bytes memory data = abi.encodeCall(TimelockController.updateDelay, (delay * 2));
        bytes32 salt = keccak256("double-delay");
        bytes32 id = _schedule(address(timelock), data, salt);
        vm.warp(block.timestamp + delay - 1);
        assertEq(timelock.getMinDelay(), delay, "the old delay holds while the change waits");
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockUnexpectedOperationState.selector, id, _ready())
        );
        _execute(address(timelock), data, salt);

        vm.warp(block.timestamp + 1);
        vm.expectEmit(false, false, false, true, address(timelock));
        emit TimelockController.MinDelayChange(delay, delay * 2);
        _execute(address(timelock), data, salt);
        assertEq(timelock.getMinDelay(), delay * 2);

        // The longer delay binds every later proposal.
        vm.prank(address(safe));
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockInsufficientDelay.selector, delay, delay * 2)
        );
        timelock.schedule(address(registry), 0, "", bytes32(0), bytes32(0), delay);
    }

    function test_roleChangesOnTheTimelockAreDelayed() public {
        address newProposer = makeAddr("new proposer Safe");
        bytes32 proposerRole = timelock.PROPOSER_ROLE();
        bytes32 adminRole = timelock.DEFAULT_ADMIN_ROLE();
        bytes memory data = abi.encodeCall(IAccessControl.grantRole, (proposerRole, newProposer));

        // Nobody, not even the Safe, can grant timelock roles directly: only the timelock administers itself.
        vm.prank(address(safe));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(safe), adminRole
            )
        );
        timelock.grantRole(proposerRole, newProposer);

        _schedule(address(timelock), data, bytes32(0));
        vm.warp(block.timestamp + delay - 1);
        assertFalse(timelock.hasRole(proposerRole, newProposer));
        vm.warp(block.timestamp + 1);
        _execute(address(timelock), data, bytes32(0));
        assertTrue(timelock.hasRole(proposerRole, newProposer));
    }

    // ------------------------------------------------------------ rule changes

    function test_ruleChangesApplyOnlyAfterExecution() public {
        _genesis();
        (address newSigner, uint256 newKey) = makeAddrAndKey("builder four");
        string[] memory systems = new string[](3);
        systems[0] = "aarch64-darwin";
        systems[1] = AARCH64;
        systems[2] = X86_64;

        address[] memory targets = new address[](3);
        targets[0] = targets[1] = targets[2] = address(registry);
        uint256[] memory values = new uint256[](3);
        bytes[] memory payloads = new bytes[](3);
        payloads[0] = abi.encodeCall(
            ISeedRegistry.addBuilder,
            (newSigner, keccak256("delta-builders"), keccak256("JP"), keccak256("ovh"))
        );
        payloads[1] = abi.encodeCall(ISeedRegistry.setQuorum, (3));
        payloads[2] = abi.encodeCall(ISeedRegistry.setRequiredSystems, (systems));
        bytes32 salt = keccak256("rules-v2");
        bytes memory call = abi.encodeCall(
            TimelockController.scheduleBatch, (targets, values, payloads, bytes32(0), salt, delay)
        );
        assertTrue(safe.exec(_signers(0, 1), address(timelock), call));

        uint32 versionBefore = registry.rulesVersion();
        vm.warp(block.timestamp + delay);
        // Ready but not executed: nothing has changed.
        assertEq(registry.builderCount(), 3);
        assertEq(registry.quorum(), 2);
        assertEq(registry.requiredSystems().length, 2);
        assertEq(registry.rulesVersion(), versionBefore);
        vm.prank(newSigner);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.UnknownSigner.selector, newSigner));
        registry.attest(NEXT, AARCH64, _manifest(AARCH64, NEXT), bytes32(uint256(1)), bytes32(uint256(1)));

        vm.prank(stranger);
        timelock.executeBatch(targets, values, payloads, bytes32(0), salt);

        assertEq(registry.builderCount(), 4);
        assertEq(registry.builderIdOf(newSigner), 3);
        assertEq(registry.quorum(), 3);
        assertEq(registry.threshold(), 3);
        assertEq(keccak256(abi.encode(registry.requiredSystems())), keccak256(abi.encode(systems)));
        assertGt(registry.rulesVersion(), versionBefore);
        newKey; // the new builder can now vote
        _attestAs(newSigner, NEXT, AARCH64);
    }

    function _attestAs(address signer, bytes32 commit, string memory system) internal {
        vm.prank(signer);
        registry.attest(commit, system, _manifest(system, commit), bytes32(uint256(1)), bytes32(uint256(1)));
        assertTrue(registry.votedMask(commit, system) & (uint64(1) << registry.builderIdOf(signer)) != 0);
    }

    function test_eoasCannotChangeRulesOrWriter() public {
        address[4] memory eoas = [owners[0].addr, deployer, builders[0], stranger];
        for (uint256 i; i < eoas.length; ++i) {
            address eoa = eoas[i];
            bytes memory unauthorized =
                abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, eoa);
            vm.startPrank(eoa);
            vm.expectRevert(unauthorized);
            registry.setQuorum(1);
            vm.expectRevert(unauthorized);
            registry.addBuilder(eoa, keccak256("o"), keccak256("j"), keccak256("i"));
            vm.expectRevert(unauthorized);
            registry.setRequiredSystems(new string[](1));
            vm.expectRevert(unauthorized);
            registry.setIndependencePolicy(0);
            vm.expectRevert(unauthorized);
            registry.setGuardian(eoa);
            vm.expectRevert(unauthorized);
            registry.rotateBuilderKey(0, eoa);
            vm.expectRevert(unauthorized);
            registry.setBuilderTags(0, keccak256("o"), keccak256("j"), keccak256("i"));
            vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.NotGovernanceOrGuardian.selector, eoa));
            registry.revokeBuilder(0);
            vm.expectRevert(unauthorized);
            ledger.setWriter(eoa);
            vm.expectRevert(unauthorized);
            ledger.transferOwnership(eoa);
            vm.stopPrank();
        }
        assertEq(ledger.writer(), address(registry));
        assertEq(registry.quorum(), 2);
    }

    function test_ledgerWriterChangesOnlyThroughGovernance() public {
        address successor = makeAddr("registry v2 proxy");
        bytes memory data = abi.encodeCall(IReleaseLedger.setWriter, (successor));
        _schedule(address(ledger), data, bytes32(0));
        vm.warp(block.timestamp + delay - 1);
        assertEq(ledger.writer(), address(registry));
        vm.warp(block.timestamp + 1);
        vm.expectEmit(true, true, false, false, address(ledger));
        emit IReleaseLedger.WriterChanged(address(registry), successor);
        _execute(address(ledger), data, bytes32(0));
        assertEq(ledger.writer(), successor);
    }

    // ------------------------------------------------------------ the guardian fast path

    function test_guardianRevokesImmediatelyAndWeightLeavesPendingRelease() public {
        _genesis();
        // Builders 0 and 1 agree on aarch64 (quorum 2 reached); only builder 0 has voted x86_64 so far.
        _attest(0, NEXT, AARCH64, _manifest(AARCH64, NEXT));
        _attest(1, NEXT, AARCH64, _manifest(AARCH64, NEXT));
        _attest(0, NEXT, X86_64, _manifest(X86_64, NEXT));
        assertTrue(registry.hasQuorum(NEXT, AARCH64, _manifest(AARCH64, NEXT)));

        uint256 t0 = block.timestamp;
        vm.expectEmit(true, true, true, false, address(registry));
        emit ISeedRegistry.BuilderRevoked(0, builders[0], address(safe), 0);
        assertTrue(
            safe.exec(_signers(1, 2), address(registry), abi.encodeCall(ISeedRegistry.revokeBuilder, (0)))
        );
        assertEq(block.timestamp, t0, "no delay on the guardian path");

        assertFalse(registry.builder(0).active);
        assertFalse(
            registry.hasQuorum(NEXT, AARCH64, _manifest(AARCH64, NEXT)), "revoked weight no longer counts"
        );
        assertEq(registry.votersFor(NEXT, AARCH64, _manifest(AARCH64, NEXT)), 3, "the votes stay on record");

        // Builder 1 completing x86_64 is not enough any more: builder 0's x86_64 vote is gone too.
        _attest(1, NEXT, X86_64, _manifest(X86_64, NEXT));
        assertFalse(registry.isFinalised(NEXT));
        vm.prank(builders[0]);
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.BuilderNotActive.selector, 0));
        registry.attest(NEXT, X86_64, _manifest(X86_64, NEXT), bytes32(uint256(1)), bytes32(uint256(1)));

        // A second active builder restores quorum with active weight only.
        _attest(2, NEXT, AARCH64, _manifest(AARCH64, NEXT));
        _attest(2, NEXT, X86_64, _manifest(X86_64, NEXT));
        assertTrue(registry.isFinalised(NEXT));
        assertTrue(ledger.rootOf(NEXT) != bytes32(0));
    }

    function test_guardianCannotAddPower() public {
        bytes[] memory calls = new bytes[](5);
        calls[0] = abi.encodeCall(
            ISeedRegistry.addBuilder, (stranger, keccak256("o"), keccak256("j"), keccak256("i"))
        );
        calls[1] = abi.encodeCall(ISeedRegistry.setQuorum, (1));
        calls[2] = abi.encodeCall(ISeedRegistry.rotateBuilderKey, (0, stranger));
        calls[3] = abi.encodeCall(ISeedRegistry.setGuardian, (stranger));
        calls[4] =
            abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (address(new SeedRegistryGovernanceV2()), ""));
        SafeSigner[] memory signers = _signers(0, 1);
        for (uint256 i; i < calls.length; ++i) {
            // The registry refuses the Safe (GS013 wraps the inner revert); the Safe must go through the delay.
            _expectSafeRevert(signers, address(registry), calls[i], bytes("GS013"));
            vm.prank(address(safe));
            (bool ok, bytes memory reason) = address(registry).call(calls[i]);
            assertFalse(ok);
            assertEq(
                reason, abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(safe))
            );
        }
        _expectSafeRevert(
            signers, address(ledger), abi.encodeCall(IReleaseLedger.setWriter, (stranger)), bytes("GS013")
        );
        assertEq(registry.quorum(), 2);
        assertEq(registry.builderCount(), 3);
        assertEq(registry.guardian(), address(safe));
    }

    function test_revocationThroughTimelockAlsoWorks() public {
        bytes memory data = abi.encodeCall(ISeedRegistry.revokeBuilder, (2));
        _schedule(address(registry), data, bytes32(0));
        assertTrue(registry.builder(2).active);
        vm.warp(block.timestamp + delay);
        _execute(address(registry), data, bytes32(0));
        assertFalse(registry.builder(2).active);
    }

    // ------------------------------------------------------------ upgrades

    function test_upgradeThroughSafeAndTimelockPreservesState() public {
        _genesis();
        bytes32 genesisRoot = ledger.rootOf(GENESIS);
        _attest(0, NEXT, AARCH64, _manifest(AARCH64, NEXT));
        uint32 version = registry.rulesVersion();
        uint64 active = registry.activeBuilderMask();
        address oldImpl = _implementationOf(address(registry));

        address v2 = address(new SeedRegistryGovernanceV2());
        bytes memory data = abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (v2, ""));
        bytes32 id = _schedule(address(registry), data, keccak256("upgrade-v2"));
        vm.warp(block.timestamp + delay - 1);
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockUnexpectedOperationState.selector, id, _ready())
        );
        _execute(address(registry), data, keccak256("upgrade-v2"));
        assertEq(_implementationOf(address(registry)), oldImpl);

        vm.warp(block.timestamp + 1);
        vm.expectEmit(true, false, false, false, address(registry));
        emit IERC1967.Upgraded(v2);
        _execute(address(registry), data, keccak256("upgrade-v2"));

        assertEq(_implementationOf(address(registry)), v2);
        assertEq(SeedRegistryGovernanceV2(address(registry)).upgradeMarker(), "v2");
        // State survives: ownership, rules, builders, votes, finalised history.
        assertEq(registry.owner(), address(timelock));
        assertEq(registry.guardian(), address(safe));
        assertEq(address(registry.ledger()), address(ledger));
        assertEq(registry.quorum(), 2);
        assertEq(registry.rulesVersion(), version);
        assertEq(registry.activeBuilderMask(), active);
        assertEq(registry.builder(1).signer, builders[1]);
        assertTrue(registry.genesisDone());
        assertTrue(registry.isFinalised(GENESIS));
        assertEq(ledger.rootOf(GENESIS), genesisRoot);
        assertEq(registry.votersFor(NEXT, AARCH64, _manifest(AARCH64, NEXT)), 1);

        // The upgraded registry keeps counting and still writes to the ledger.
        _attest(1, NEXT, AARCH64, _manifest(AARCH64, NEXT));
        _attest(0, NEXT, X86_64, _manifest(X86_64, NEXT));
        _attest(1, NEXT, X86_64, _manifest(X86_64, NEXT));
        assertTrue(registry.isFinalised(NEXT));
        assertEq(ledger.rootOf(GENESIS), genesisRoot, "the genesis entry survives the upgrade");
    }

    function test_directUpgradeRejected() public {
        address v2 = address(new SeedRegistryGovernanceV2());
        address[4] memory callers = [owners[0].addr, deployer, builders[0], address(safe)];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, callers[i]));
            registry.upgradeToAndCall(v2, "");
        }
        // Through the Safe without the timelock: refused as well.
        _expectSafeRevert(
            _signers(0, 1),
            address(registry),
            abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (v2, "")),
            bytes("GS013")
        );

        // The implementation itself cannot be upgraded (or used) outside the proxy.
        address impl = _implementationOf(address(registry));
        vm.prank(address(timelock));
        vm.expectRevert(UUPSUpgradeable.UUPSUnauthorizedCallContext.selector);
        SeedRegistry(impl).upgradeToAndCall(v2, "");
        assertEq(_implementationOf(address(registry)), impl);
    }
}
