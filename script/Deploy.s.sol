// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../contracts/ReleaseLedger.sol";
import {SeedRegistry} from "../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../contracts/interfaces/ISeedRegistry.sol";
import {BuilderConfig, DeployConfig, DeployConfigs} from "./DeployConfig.sol";
import {ISafe, SafeDeployer, SafeInfra} from "./SafeDeployer.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {Script} from "forge-std/Script.sol";
import {Vm, VmSafe} from "forge-std/Vm.sol";
import {console} from "forge-std/console.sol";

/// @notice What one deployment produced.
struct Deployment {
    uint256 chainId;
    /// `block.number` when the deployment started: every deployment transaction is in a later block, so
    /// log scans may start here.
    uint256 deployedAtBlock;
    /// The account whose CREATEs deployed the contracts (the broadcaster in a script).
    address deployer;
    ISafe safe;
    /// Safe singleton, factory and fallback handler; all zero when an existing Safe was used.
    SafeInfra safeInfra;
    address[] safeOwners;
    uint256 safeThreshold;
    TimelockController timelock;
    ReleaseLedger ledger;
    /// The ERC-1967 proxy: the registry's address for everyone.
    SeedRegistry registry;
    address registryImplementation;
}

/// @title SeedDeployment
/// @notice The deployment logic, shared by `Deploy` (the forge script) and tests/contracts/Deploy.t.sol.
///
/// Order and wiring (docs/governance.md):
/// 1. Safe 1.4.1 singleton, proxy factory and fallback handler, then a Safe proxy set up atomically by the
///    factory (skipped when `cfg.safe` names an existing Safe).
/// 2. TimelockController(minDelay, proposers = [Safe], executors = [address(0)] (open), admin = address(0)):
///    the Safe is proposer and, by the constructor, canceller; no admin ever exists besides the timelock.
/// 3. ReleaseLedger(owner = timelock, writer = the registry proxy's address, computed in advance from the
///    deployer's nonce, so no EOA is ever the writer).
/// 4. SeedRegistry implementation (its constructor disables initialisers), then the ERC-1967 proxy whose
///    constructor runs `initialize` atomically: owner = timelock, guardian = Safe.
abstract contract SeedDeployment {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    string internal constant SOLC_VERSION = "0.8.29";
    string internal constant OPENZEPPELIN_VERSION = "5.7.0";

    error NotAContract(address account);
    error RegistryAddressMispredicted(address predicted, address actual);
    error WiringCheckFailed(string what);

    /// @notice Deploys and wires everything. Under `vm.startBroadcast` the broadcaster deploys; otherwise
    /// this contract does.
    function _deploy(DeployConfig memory cfg) internal returns (Deployment memory d) {
        d.chainId = block.chainid;
        d.deployedAtBlock = block.number;
        d.deployer = _creator();

        // 1. Safe
        if (cfg.safe == address(0)) {
            d.safeInfra = SafeDeployer.deployInfra();
            d.safe =
                SafeDeployer.deploySafe(d.safeInfra, cfg.safeOwners, cfg.safeThreshold, cfg.safeSaltNonce);
        } else {
            if (cfg.safe.code.length == 0) revert NotAContract(cfg.safe);
            d.safe = ISafe(cfg.safe);
        }
        d.safeOwners = d.safe.getOwners();
        d.safeThreshold = d.safe.getThreshold();

        // 2. Timelock: the Safe proposes (and cancels), anyone executes what is ready, nobody administers.
        address[] memory proposers = new address[](1);
        proposers[0] = address(d.safe);
        address[] memory executors = new address[](1);
        executors[0] = address(0);
        d.timelock = new TimelockController(cfg.timelockMinDelay, proposers, executors, address(0));

        // 3. Ledger, writing only through the registry proxy deployed two CREATEs later.
        uint256 nonce = VM.getNonce(d.deployer);
        address predictedRegistry = VM.computeCreateAddress(d.deployer, nonce + 2);
        d.ledger = new ReleaseLedger(address(d.timelock), predictedRegistry);

        // 4. Registry implementation and proxy, initialised in the proxy's constructor.
        d.registryImplementation = address(new SeedRegistry());
        bytes memory init = _registryInitData(cfg, address(d.timelock), address(d.safe), address(d.ledger));
        d.registry = SeedRegistry(address(new ERC1967Proxy(d.registryImplementation, init)));
        if (address(d.registry) != predictedRegistry) {
            revert RegistryAddressMispredicted(predictedRegistry, address(d.registry));
        }
    }

    /// @notice The calldata the proxy constructor delegates to the implementation.
    function _registryInitData(DeployConfig memory cfg, address owner, address guardian, address ledger)
        internal
        pure
        returns (bytes memory)
    {
        ISeedRegistry.Builder[] memory builders = new ISeedRegistry.Builder[](cfg.builders.length);
        for (uint256 i; i < cfg.builders.length; ++i) {
            BuilderConfig memory b = cfg.builders[i];
            builders[i] = ISeedRegistry.Builder({
                signer: b.signer,
                organisation: b.organisation,
                jurisdiction: b.jurisdiction,
                infrastructure: b.infrastructure,
                active: true
            });
        }
        return abi.encodeCall(
            SeedRegistry.initialize,
            (
                owner,
                guardian,
                IReleaseLedger(ledger),
                builders,
                cfg.quorum,
                cfg.systems,
                cfg.independencePolicy
            )
        );
    }

    /// @notice Re-reads the chain and reverts unless every permission sits where docs/governance.md says.
    function _checkWiring(Deployment memory d, DeployConfig memory cfg) internal view {
        TimelockController t = d.timelock;
        address safe = address(d.safe);
        _require(t.hasRole(t.PROPOSER_ROLE(), safe), "Safe is proposer");
        _require(t.hasRole(t.CANCELLER_ROLE(), safe), "Safe is canceller");
        _require(t.hasRole(t.EXECUTOR_ROLE(), address(0)), "execution is open");
        _require(t.hasRole(t.DEFAULT_ADMIN_ROLE(), address(t)), "timelock administers itself");
        _require(!t.hasRole(t.DEFAULT_ADMIN_ROLE(), d.deployer), "deployer is not timelock admin");
        _require(!t.hasRole(t.PROPOSER_ROLE(), d.deployer), "deployer is not proposer");
        _require(t.getMinDelay() == cfg.timelockMinDelay, "timelock delay");

        _require(d.ledger.owner() == address(t), "ledger owner is the timelock");
        _require(d.ledger.pendingOwner() == address(0), "no pending ledger owner");
        _require(d.ledger.writer() == address(d.registry), "ledger writer is the registry proxy");

        _require(d.registry.owner() == address(t), "registry owner is the timelock");
        _require(d.registry.guardian() == safe, "registry guardian is the Safe");
        _require(address(d.registry.ledger()) == address(d.ledger), "registry writes the ledger");
        _require(_implementationOf(address(d.registry)) == d.registryImplementation, "proxy implementation");
        _require(d.registry.builderCount() == cfg.builders.length, "builder count");
        _require(d.registry.quorum() == cfg.quorum, "quorum");

        _require(d.safeThreshold > 0 && d.safeThreshold <= d.safeOwners.length, "Safe threshold");
        for (uint256 i; i < d.safeOwners.length; ++i) {
            _require(
                d.safeOwners[i] != d.deployer || cfg.safe != address(0), "deployer does not own the Safe"
            );
        }
    }

    /// @notice The deployment file (docs/governance.md, "Deployment file"), read back from the chain.
    function _deploymentJson(Deployment memory d) internal returns (string memory json) {
        string memory contracts = "contracts";
        VM.serializeAddress(contracts, "ledger", address(d.ledger));
        VM.serializeAddress(contracts, "registry", address(d.registry));
        VM.serializeAddress(contracts, "registryImplementation", d.registryImplementation);
        VM.serializeAddress(contracts, "timelock", address(d.timelock));
        contracts = VM.serializeAddress(contracts, "safe", address(d.safe));

        string memory governance = "governance";
        VM.serializeAddress(governance, "safeOwners", d.safeOwners);
        VM.serializeUint(governance, "safeThreshold", d.safeThreshold);
        VM.serializeUint(governance, "timelockMinDelay", d.timelock.getMinDelay());
        governance = VM.serializeAddress(governance, "guardian", d.registry.guardian());

        string memory rules = "rules";
        VM.serializeUint(rules, "quorum", d.registry.quorum());
        VM.serializeString(rules, "systems", d.registry.requiredSystems());
        VM.serializeUint(rules, "independencePolicy", d.registry.independencePolicy());
        rules = VM.serializeString(rules, "builders", _buildersJson(d.registry));

        string memory versions = "versions";
        VM.serializeString(versions, "solc", SOLC_VERSION);
        VM.serializeString(versions, "seedRegistry", d.registry.VERSION());
        VM.serializeString(versions, "openzeppelin", OPENZEPPELIN_VERSION);
        versions = VM.serializeString(versions, "safe", d.safe.VERSION());

        string memory root = "deployment";
        VM.serializeUint(root, "chainId", d.chainId);
        VM.serializeUint(root, "deployedAtBlock", d.deployedAtBlock);
        VM.serializeString(root, "contracts", contracts);
        VM.serializeString(root, "governance", governance);
        VM.serializeString(root, "rules", rules);
        json = VM.serializeString(root, "versions", versions);
    }

    function _buildersJson(SeedRegistry registry) private returns (string[] memory out) {
        uint8 count = registry.builderCount();
        out = new string[](count);
        for (uint8 i; i < count; ++i) {
            ISeedRegistry.Builder memory b = registry.builder(i);
            string memory key = string.concat("builder", VM.toString(uint256(i)));
            VM.serializeAddress(key, "signer", b.signer);
            VM.serializeBytes32(key, "organisation", b.organisation);
            VM.serializeBytes32(key, "jurisdiction", b.jurisdiction);
            out[i] = VM.serializeBytes32(key, "infrastructure", b.infrastructure);
        }
    }

    function _implementationOf(address proxy) internal view returns (address) {
        return address(uint160(uint256(VM.load(proxy, ERC1967Utils.IMPLEMENTATION_SLOT))));
    }

    /// @dev Who executes our CREATEs: the broadcaster while broadcasting, else this contract.
    function _creator() private returns (address) {
        (VmSafe.CallerMode mode, address sender,) = VM.readCallers();
        if (mode == VmSafe.CallerMode.Broadcast || mode == VmSafe.CallerMode.RecurrentBroadcast) {
            return sender;
        }
        return address(this);
    }

    function _require(bool ok, string memory what) private pure {
        if (!ok) revert WiringCheckFailed(what);
    }
}

/// @title Deploy
/// @notice `script/foundry forge script script/Deploy.s.sol --rpc-url <url> --broadcast --private-key <key>`
/// deploys Safe (or uses `SAFE_ADDRESS`), timelock, ledger and registry in one broadcast, checks the wiring
/// and writes `deployments/<chainId>.json` (or `DEPLOYMENT_FILE`; a dry run without `--broadcast` only prints
/// it unless `DEPLOYMENT_FILE` is set). Configuration: docs/governance.md.
contract Deploy is Script, SeedDeployment {
    function run() external returns (Deployment memory d) {
        DeployConfig memory cfg = DeployConfigs.fromEnv();
        vm.startBroadcast();
        d = _deploy(cfg);
        vm.stopBroadcast();
        _checkWiring(d, cfg);

        string memory json = _deploymentJson(d);
        string memory path = vm.envOr("DEPLOYMENT_FILE", string(""));
        if (bytes(path).length == 0) {
            // A dry run (no --broadcast) must not overwrite the file of a real deployment.
            if (
                !vm.isContext(VmSafe.ForgeContext.ScriptBroadcast)
                    && !vm.isContext(VmSafe.ForgeContext.ScriptResume)
            ) {
                console.log("dry run, deployment file not written:");
                console.log(json);
                return d;
            }
            path = string.concat("deployments/", vm.toString(block.chainid), ".json");
        }
        // forge writes this during its local simulation, before it sends the transactions: if forge then
        // exits non-zero, the file names contracts that do not exist (docs/governance.md).
        vm.writeJson(json, path);
    }
}
