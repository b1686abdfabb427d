// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {Deploy, Deployment, SeedDeployment} from "../../script/Deploy.s.sol";
import {BuilderConfig, DeployConfig, DeployConfigs} from "../../script/DeployConfig.sol";
import {ISafe, SafeDeployer, SafeInfra} from "../../script/SafeDeployer.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {Test, Vm} from "forge-std/Test.sol";

/// @title DeployTest
/// @notice Runs the deployment logic of script/Deploy.s.sol in-process and checks every permission it wires.
contract DeployTest is Test, SeedDeployment {
    bytes32 internal constant ROLE_GRANTED = keccak256("RoleGranted(bytes32,address,address)");
    bytes32 internal constant ROLE_REVOKED = keccak256("RoleRevoked(bytes32,address,address)");
    bytes32 internal constant INITIALIZED = keccak256("Initialized(uint64)");
    /// @dev Safe proxies keep the singleton address in storage slot 0.
    bytes32 internal constant SAFE_SINGLETON_SLOT = bytes32(0);

    function _deployDefaults() internal returns (Deployment memory d, DeployConfig memory cfg) {
        cfg = DeployConfigs.defaults();
        d = _deploy(cfg);
    }

    /// @dev Every account the default configuration names, plus the deployer.
    function _knownEoas(Deployment memory d, DeployConfig memory cfg)
        internal
        pure
        returns (address[] memory eoas)
    {
        eoas = new address[](1 + cfg.safeOwners.length + cfg.builders.length);
        eoas[0] = d.deployer;
        for (uint256 i; i < cfg.safeOwners.length; ++i) {
            eoas[1 + i] = cfg.safeOwners[i];
        }
        for (uint256 i; i < cfg.builders.length; ++i) {
            eoas[1 + cfg.safeOwners.length + i] = cfg.builders[i].signer;
        }
    }

    // ------------------------------------------------------------ configuration

    function test_defaultConfig() public pure {
        DeployConfig memory cfg = DeployConfigs.defaults();
        assertEq(cfg.safe, address(0));
        assertEq(cfg.safeOwners.length, 3);
        assertEq(cfg.safeThreshold, 2);
        assertEq(cfg.timelockMinDelay, 1 days);
        assertEq(cfg.quorum, 2);
        assertEq(cfg.independencePolicy, 7);
        assertEq(cfg.systems.length, 2);
        assertEq(cfg.systems[0], "aarch64-linux");
        assertEq(cfg.systems[1], "x86_64-linux");
        assertEq(cfg.builders.length, 3);
        // Anvil's well-known accounts: 1..3 build, 4..6 own the Safe; nobody holds two roles.
        assertEq(cfg.builders[0].signer, 0x70997970C51812dc3A010C7d01b50e0d17dc79C8);
        assertEq(cfg.safeOwners[0], 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65);
        for (uint256 i; i < 3; ++i) {
            for (uint256 j; j < 3; ++j) {
                assertTrue(cfg.builders[i].signer != cfg.safeOwners[j]);
                if (i == j) continue;
                assertTrue(cfg.builders[i].organisation != cfg.builders[j].organisation);
                assertTrue(cfg.builders[i].jurisdiction != cfg.builders[j].jurisdiction);
                assertTrue(cfg.builders[i].infrastructure != cfg.builders[j].infrastructure);
            }
        }
        assertEq(cfg.builders[1].jurisdiction, keccak256("DE"));
    }

    function test_tagIdHashesNamesAndKeepsHexIds() public pure {
        assertEq(DeployConfigs.tagId("CH"), keccak256("CH"));
        bytes32 raw = keccak256("raw");
        assertEq(DeployConfigs.tagId(vm.toString(raw)), raw);
        // 0x-prefixed but not 32 bytes: a name like any other.
        assertEq(DeployConfigs.tagId("0x1234"), keccak256("0x1234"));
    }

    // ------------------------------------------------------------ wiring

    function test_wiring() public {
        (Deployment memory d, DeployConfig memory cfg) = _deployDefaults();
        _checkWiring(d, cfg);
        TimelockController t = d.timelock;
        address safe = address(d.safe);

        // Timelock: Safe proposes and cancels, execution is open, the delay is the configured one.
        assertTrue(t.hasRole(t.PROPOSER_ROLE(), safe));
        assertTrue(t.hasRole(t.CANCELLER_ROLE(), safe));
        assertTrue(t.hasRole(t.EXECUTOR_ROLE(), address(0)));
        assertFalse(t.hasRole(t.EXECUTOR_ROLE(), safe), "execution is open, not reserved");
        assertEq(t.getMinDelay(), 1 days);

        // Registry: owned by the timelock, guarded by the Safe, writing the ledger, configured rules.
        assertEq(d.registry.owner(), address(t));
        assertEq(d.registry.guardian(), safe);
        assertEq(address(d.registry.ledger()), address(d.ledger));
        assertEq(d.registry.quorum(), 2);
        assertEq(d.registry.threshold(), 3, "genesis needs every builder");
        assertFalse(d.registry.genesisDone());
        assertEq(d.registry.independencePolicy(), 7);
        assertEq(keccak256(abi.encode(d.registry.requiredSystems())), keccak256(abi.encode(cfg.systems)));
        assertEq(d.registry.builderCount(), 3);
        assertEq(d.registry.activeBuilderMask(), 7);
        for (uint8 i; i < 3; ++i) {
            ISeedRegistry.Builder memory b = d.registry.builder(i);
            assertEq(b.signer, cfg.builders[i].signer);
            assertEq(b.organisation, cfg.builders[i].organisation);
            assertEq(b.jurisdiction, cfg.builders[i].jurisdiction);
            assertEq(b.infrastructure, cfg.builders[i].infrastructure);
            assertTrue(b.active);
            assertEq(d.registry.builderIdOf(b.signer), i);
        }

        // Ledger: owned by the timelock (no pending transfer), written by the registry proxy only.
        assertEq(d.ledger.owner(), address(t));
        assertEq(d.ledger.pendingOwner(), address(0));
        assertEq(d.ledger.writer(), address(d.registry));
        assertGt(address(d.registry).code.length, 0, "the writer is a contract, not an EOA");

        // Safe: 2 of the three configured owners.
        assertEq(d.safe.getThreshold(), 2);
        address[] memory owners = d.safe.getOwners();
        assertEq(owners.length, 3);
        for (uint256 i; i < 3; ++i) {
            assertTrue(d.safe.isOwner(cfg.safeOwners[i]));
        }
        assertFalse(d.safe.isOwner(d.deployer));
    }

    function test_safeIsThePublishedSafe141() public {
        (Deployment memory d,) = _deployDefaults();
        string memory base = SafeDeployer.ARTIFACTS;
        assertEq(
            d.safeInfra.singleton.codehash,
            keccak256(vm.getDeployedCode(string.concat(base, SafeDeployer.SINGLETON_ARTIFACT)))
        );
        assertEq(
            d.safeInfra.factory.codehash,
            keccak256(vm.getDeployedCode(string.concat(base, SafeDeployer.FACTORY_ARTIFACT)))
        );
        assertEq(
            d.safeInfra.fallbackHandler.codehash,
            keccak256(vm.getDeployedCode(string.concat(base, SafeDeployer.FALLBACK_HANDLER_ARTIFACT)))
        );
        assertEq(d.safe.VERSION(), "1.4.1");
        assertEq(
            address(uint160(uint256(vm.load(address(d.safe), SAFE_SINGLETON_SLOT)))), d.safeInfra.singleton
        );
        // The Safe was set up in its creation transaction: a second setup is refused.
        vm.expectRevert(bytes("GS200"));
        d.safe.setup(new address[](1), 1, address(0), "", address(0), address(0), 0, payable(address(0)));
        // The singleton is locked (threshold 1, no owners), so it cannot be taken over either.
        address[] memory attacker = new address[](1);
        attacker[0] = address(this);
        vm.expectRevert(bytes("GS200"));
        ISafe(d.safeInfra.singleton)
            .setup(attacker, 1, address(0), "", address(0), address(0), 0, payable(address(0)));
    }

    /// @notice The complete list of role grants at deployment: exactly four, none to an EOA, and the only
    /// DEFAULT_ADMIN_ROLE holder is the timelock itself.
    function test_roleGrantsAtDeploymentAndNoEoaAdmin() public {
        vm.recordLogs();
        (Deployment memory d, DeployConfig memory cfg) = _deployDefaults();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        TimelockController t = d.timelock;

        bytes32[4] memory roles =
            [t.DEFAULT_ADMIN_ROLE(), t.PROPOSER_ROLE(), t.CANCELLER_ROLE(), t.EXECUTOR_ROLE()];
        address[4] memory holders = [address(t), address(d.safe), address(d.safe), address(0)];
        uint256 grants;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(t)) continue;
            assertTrue(logs[i].topics[0] != ROLE_REVOKED, "nothing granted and revoked again");
            if (logs[i].topics[0] != ROLE_GRANTED) continue;
            assertLt(grants, 4, "more than four role grants");
            assertEq(logs[i].topics[1], roles[grants]);
            assertEq(address(uint160(uint256(logs[i].topics[2]))), holders[grants]);
            ++grants;
        }
        assertEq(grants, 4);

        address[] memory eoas = _knownEoas(d, cfg);
        for (uint256 i; i < eoas.length; ++i) {
            assertFalse(t.hasRole(t.DEFAULT_ADMIN_ROLE(), eoas[i]));
            assertFalse(t.hasRole(t.PROPOSER_ROLE(), eoas[i]));
            assertFalse(t.hasRole(t.CANCELLER_ROLE(), eoas[i]));
        }
        assertFalse(t.hasRole(t.DEFAULT_ADMIN_ROLE(), address(this)));
        assertFalse(t.hasRole(t.DEFAULT_ADMIN_ROLE(), address(d.safe)));
        assertTrue(t.hasRole(t.DEFAULT_ADMIN_ROLE(), address(t)));
    }

    function test_ledgerWriterIsTheRegistryProxyFromTheStart() public {
        vm.recordLogs();
        (Deployment memory d,) = _deployDefaults();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        // The only WriterChanged event is the constructor's, and it already names the proxy.
        uint256 seen;
        for (uint256 i; i < logs.length; ++i) {
            if (
                logs[i].emitter != address(d.ledger)
                    || logs[i].topics[0] != IReleaseLedger.WriterChanged.selector
            ) {
                continue;
            }
            ++seen;
            assertEq(address(uint160(uint256(logs[i].topics[1]))), address(0));
            assertEq(address(uint160(uint256(logs[i].topics[2]))), address(d.registry));
        }
        assertEq(seen, 1);
        // The deployer cannot append.
        vm.prank(d.deployer);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerUnauthorizedWriter.selector, d.deployer));
        d.ledger.record(bytes32(uint256(1)), bytes32(uint256(2)), 1);
    }

    function test_implementationInitialisersDisabled() public {
        (Deployment memory d, DeployConfig memory cfg) = _deployDefaults();
        SeedRegistry impl = SeedRegistry(d.registryImplementation);
        assertTrue(address(impl) != address(d.registry));
        assertEq(_implementationOf(address(d.registry)), address(impl));

        bytes memory init = _registryInitData(cfg, address(this), address(this), address(d.ledger));
        (bool ok, bytes memory reason) = address(impl).call(init);
        assertFalse(ok, "the implementation must not be initialisable");
        assertEq(reason, abi.encodeWithSelector(Initializable.InvalidInitialization.selector));
        assertEq(impl.owner(), address(0));

        // Nor can it be upgraded (the CVE-2021-41264 path): UUPS entry points only work through a proxy.
        address other = address(new SeedRegistry());
        vm.expectRevert(UUPSUpgradeable.UUPSUnauthorizedCallContext.selector);
        impl.upgradeToAndCall(other, "");
    }

    function test_proxyInitialisedAtomically() public {
        vm.recordLogs();
        (Deployment memory d, DeployConfig memory cfg) = _deployDefaults();
        Vm.Log[] memory logs = vm.getRecordedLogs();

        // Initialized(1) was emitted by the proxy during the deployment, i.e. by the proxy's constructor.
        uint256 inits;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(d.registry) && logs[i].topics[0] == INITIALIZED) {
                ++inits;
                assertEq(abi.decode(logs[i].data, (uint64)), 1);
            }
        }
        assertEq(inits, 1);

        // Nobody can initialise it again, not even the deployer or the timelock.
        bytes memory init = _registryInitData(cfg, address(this), address(this), address(d.ledger));
        address[3] memory callers = [address(this), d.deployer, address(d.timelock)];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            (bool ok, bytes memory reason) = address(d.registry).call(init);
            assertFalse(ok);
            assertEq(reason, abi.encodeWithSelector(Initializable.InvalidInitialization.selector));
        }
        assertEq(d.registry.owner(), address(d.timelock));

        // And OpenZeppelin 5.6+ refuses a proxy without initialiser calldata in the first place.
        vm.expectRevert(ERC1967Proxy.ERC1967ProxyUninitialized.selector);
        new ERC1967Proxy(d.registryImplementation, "");
    }

    function test_wiringCheckCatchesAnAdminLeft() public {
        (Deployment memory d, DeployConfig memory cfg) = _deployDefaults();
        bytes32 adminRole = d.timelock.DEFAULT_ADMIN_ROLE();
        vm.prank(address(d.timelock));
        d.timelock.grantRole(adminRole, d.deployer);
        vm.expectRevert(abi.encodeWithSelector(WiringCheckFailed.selector, "deployer is not timelock admin"));
        this.checkWiringExternal(d, cfg);
    }

    function test_wiringCheckCatchesWrongWriter() public {
        (Deployment memory d, DeployConfig memory cfg) = _deployDefaults();
        vm.prank(address(d.timelock));
        d.ledger.setWriter(d.deployer);
        vm.expectRevert(
            abi.encodeWithSelector(WiringCheckFailed.selector, "ledger writer is the registry proxy")
        );
        this.checkWiringExternal(d, cfg);
    }

    function checkWiringExternal(Deployment memory d, DeployConfig memory cfg) external view {
        _checkWiring(d, cfg);
    }

    // ------------------------------------------------------------ existing Safe

    function test_existingSafeIsUsedAsIs() public {
        SafeInfra memory infra = SafeDeployer.deployInfra();
        address[] memory owners = new address[](2);
        owners[0] = makeAddr("org one signer");
        owners[1] = makeAddr("org two signer");
        ISafe existing = SafeDeployer.deploySafe(infra, owners, 2, 42);

        DeployConfig memory cfg = DeployConfigs.defaults();
        cfg.safe = address(existing);
        Deployment memory d = _deploy(cfg);
        _checkWiring(d, cfg);

        assertEq(address(d.safe), address(existing));
        assertEq(d.safeInfra.singleton, address(0), "no Safe contracts deployed");
        assertEq(d.safeOwners, owners);
        assertEq(d.safeThreshold, 2);
        assertTrue(d.timelock.hasRole(d.timelock.PROPOSER_ROLE(), address(existing)));
        assertEq(d.registry.guardian(), address(existing));
    }

    function test_existingSafeMustBeAContract() public {
        DeployConfig memory cfg = DeployConfigs.defaults();
        cfg.safe = makeAddr("not a safe");
        vm.expectRevert(abi.encodeWithSelector(NotAContract.selector, cfg.safe));
        this.deployExternal(cfg);
    }

    function deployExternal(DeployConfig memory cfg) external returns (Deployment memory) {
        return _deploy(cfg);
    }

    // ------------------------------------------------------------ the deployment file

    function test_deploymentJson() public {
        vm.roll(1234);
        (Deployment memory d, DeployConfig memory cfg) = _deployDefaults();
        string memory json = _deploymentJson(d);

        assertEq(vm.parseJsonUint(json, ".chainId"), block.chainid);
        assertEq(vm.parseJsonUint(json, ".deployedAtBlock"), 1234);
        assertEq(vm.parseJsonAddress(json, ".contracts.ledger"), address(d.ledger));
        assertEq(vm.parseJsonAddress(json, ".contracts.registry"), address(d.registry));
        assertEq(vm.parseJsonAddress(json, ".contracts.registryImplementation"), d.registryImplementation);
        assertEq(vm.parseJsonAddress(json, ".contracts.timelock"), address(d.timelock));
        assertEq(vm.parseJsonAddress(json, ".contracts.safe"), address(d.safe));

        assertEq(vm.parseJsonAddressArray(json, ".governance.safeOwners"), d.safe.getOwners());
        assertEq(vm.parseJsonUint(json, ".governance.safeThreshold"), 2);
        assertEq(vm.parseJsonUint(json, ".governance.timelockMinDelay"), 1 days);
        assertEq(vm.parseJsonAddress(json, ".governance.guardian"), address(d.safe));

        assertEq(vm.parseJsonUint(json, ".rules.quorum"), 2);
        assertEq(vm.parseJsonUint(json, ".rules.independencePolicy"), 7);
        string[] memory systems = vm.parseJsonStringArray(json, ".rules.systems");
        assertEq(systems.length, 2);
        assertEq(systems[0], "aarch64-linux");
        assertEq(systems[1], "x86_64-linux");
        for (uint256 i; i < 3; ++i) {
            string memory b = string.concat(".rules.builders[", vm.toString(i), "]");
            assertEq(vm.parseJsonAddress(json, string.concat(b, ".signer")), cfg.builders[i].signer);
            assertEq(
                vm.parseJsonBytes32(json, string.concat(b, ".organisation")), cfg.builders[i].organisation
            );
            assertEq(
                vm.parseJsonBytes32(json, string.concat(b, ".jurisdiction")), cfg.builders[i].jurisdiction
            );
            assertEq(
                vm.parseJsonBytes32(json, string.concat(b, ".infrastructure")), cfg.builders[i].infrastructure
            );
        }
        assertFalse(vm.keyExistsJson(json, ".rules.builders[3]"));

        assertEq(vm.parseJsonString(json, ".versions.solc"), "0.8.29");
        assertEq(vm.parseJsonString(json, ".versions.openzeppelin"), "5.7.0");
        assertEq(vm.parseJsonString(json, ".versions.safe"), "1.4.1");
        assertEq(vm.parseJsonString(json, ".versions.seedRegistry"), d.registry.VERSION());
    }

    /// @notice The script itself, broadcasting: the registry address predicted from the broadcaster's nonce
    /// must hold there too, and the deployment file must be written.
    function test_scriptRunsAndWritesDeploymentFile() public {
        string memory path = "deployments/test-script-run.json";
        vm.setEnv("DEPLOYMENT_FILE", path);
        Deploy script = new Deploy();
        Deployment memory d = script.run();
        vm.setEnv("DEPLOYMENT_FILE", "");

        assertTrue(d.deployer != address(script), "the broadcaster deployed, not the script contract");
        assertEq(d.ledger.writer(), address(d.registry));
        string memory json = vm.readFile(path);
        vm.removeFile(path);
        assertEq(vm.parseJsonAddress(json, ".contracts.registry"), address(d.registry));
        assertEq(vm.parseJsonAddress(json, ".contracts.timelock"), address(d.timelock));
    }
}
