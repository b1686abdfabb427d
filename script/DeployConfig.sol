// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {Vm} from "forge-std/Vm.sol";

/// @notice One builder to register at deployment. Tags are opaque `bytes32` ids.
struct BuilderConfig {
    address signer;
    bytes32 organisation;
    bytes32 jurisdiction;
    bytes32 infrastructure;
}

/// @notice Everything `script/Deploy.s.sol` needs. See docs/governance.md for the environment variables.
struct DeployConfig {
    /// An existing Safe to use as proposer, canceller and guardian; zero deploys a new Safe.
    address safe;
    /// Owners and threshold of the Safe to deploy (ignored when `safe` is set).
    address[] safeOwners;
    uint256 safeThreshold;
    /// Salt of `createProxyWithNonce`; change it to deploy a second Safe with the same owners.
    uint256 safeSaltNonce;
    /// TimelockController minimum delay, seconds.
    uint256 timelockMinDelay;
    BuilderConfig[] builders;
    uint8 quorum;
    /// Required systems, strictly ascending bytewise.
    string[] systems;
    /// Bit 0 organisation, bit 1 jurisdiction, bit 2 infrastructure must be pairwise distinct.
    uint8 independencePolicy;
}

/// @title DeployConfigs
/// @notice Deployment configuration: local defaults on anvil's well-known accounts, overridable from the
/// environment. Tags given as names are hashed (`keccak256(bytes(name))`); a 32-byte `0x` hex value is taken
/// as the id itself.
library DeployConfigs {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @notice The mnemonic anvil and hardhat use for their default accounts. Never use it on a real chain.
    string internal constant ANVIL_MNEMONIC = "test test test test test test test test test test test junk";

    /// Anvil account 0 deploys; 1..3 are the builders; 4..6 own the Safe.
    uint32 internal constant FIRST_BUILDER_ACCOUNT = 1;
    uint32 internal constant FIRST_SAFE_OWNER_ACCOUNT = 4;
    uint256 internal constant DEFAULT_BUILDERS = 3;
    uint256 internal constant DEFAULT_SAFE_OWNERS = 3;
    uint256 internal constant DEFAULT_SAFE_THRESHOLD = 2;
    uint256 internal constant DEFAULT_MIN_DELAY = 1 days;
    uint8 internal constant DEFAULT_QUORUM = 2;
    uint8 internal constant POLICY_ALL_DISTINCT = 7;

    error ConfigLengthMismatch(string variable, uint256 expected, uint256 found);
    error ConfigOutOfRange(string variable, uint256 value);

    /// @notice The anvil account `index` of the default mnemonic: its private key.
    function anvilKey(uint32 index) internal pure returns (uint256) {
        return VM.deriveKey(ANVIL_MNEMONIC, index);
    }

    function anvilAddress(uint32 index) internal pure returns (address) {
        return VM.addr(anvilKey(index));
    }

    /// @notice The local default configuration (no environment involved): three builders on anvil accounts
    /// 1..3 from different organisations, jurisdictions and infrastructure, k = 2, systems aarch64-linux and
    /// x86_64-linux, all three tags independent, a 2-of-3 Safe on anvil accounts 4..6, a one-day delay.
    function defaults() internal pure returns (DeployConfig memory cfg) {
        cfg.safeOwners = new address[](DEFAULT_SAFE_OWNERS);
        for (uint32 i; i < DEFAULT_SAFE_OWNERS; ++i) {
            cfg.safeOwners[i] = anvilAddress(FIRST_SAFE_OWNER_ACCOUNT + i);
        }
        cfg.safeThreshold = DEFAULT_SAFE_THRESHOLD;
        cfg.timelockMinDelay = DEFAULT_MIN_DELAY;

        string[3] memory orgs = ["alpha-builders", "beta-builders", "gamma-builders"];
        string[3] memory jurisdictions = ["CH", "DE", "US"];
        string[3] memory infrastructures = ["github-actions", "gitlab-saas", "self-hosted"];
        cfg.builders = new BuilderConfig[](DEFAULT_BUILDERS);
        for (uint32 i; i < DEFAULT_BUILDERS; ++i) {
            cfg.builders[i] = BuilderConfig({
                signer: anvilAddress(FIRST_BUILDER_ACCOUNT + i),
                organisation: tagId(orgs[i]),
                jurisdiction: tagId(jurisdictions[i]),
                infrastructure: tagId(infrastructures[i])
            });
        }
        cfg.quorum = DEFAULT_QUORUM;
        cfg.systems = new string[](2);
        cfg.systems[0] = "aarch64-linux";
        cfg.systems[1] = "x86_64-linux";
        cfg.independencePolicy = POLICY_ALL_DISTINCT;
    }

    /// @notice `defaults()` with every value the environment sets replaced (docs/governance.md).
    function fromEnv() internal view returns (DeployConfig memory cfg) {
        cfg = defaults();
        cfg.safe = VM.envOr("SAFE_ADDRESS", address(0));
        cfg.safeOwners = VM.envOr("SAFE_OWNERS", ",", cfg.safeOwners);
        cfg.safeThreshold = VM.envOr("SAFE_THRESHOLD", cfg.safeThreshold);
        cfg.safeSaltNonce = VM.envOr("SAFE_SALT_NONCE", uint256(0));
        cfg.timelockMinDelay = VM.envOr("TIMELOCK_MIN_DELAY", cfg.timelockMinDelay);
        cfg.quorum = _uint8("QUORUM", cfg.quorum);
        cfg.independencePolicy = _uint8("INDEPENDENCE_POLICY", cfg.independencePolicy);
        cfg.systems = VM.envOr("REQUIRED_SYSTEMS", ",", cfg.systems);
        cfg.builders = _buildersFromEnv(cfg.builders);
    }

    /// @notice The id of a tag: `value` itself when it is a 32-byte 0x-hex string, else keccak256 of it.
    function tagId(string memory value) internal pure returns (bytes32) {
        bytes memory raw = bytes(value);
        if (raw.length == 66 && raw[0] == "0" && (raw[1] == "x" || raw[1] == "X")) {
            return VM.parseBytes32(value);
        }
        return keccak256(raw);
    }

    function _uint8(string memory name, uint8 fallbackValue) private view returns (uint8) {
        uint256 value = VM.envOr(name, uint256(fallbackValue));
        if (value > type(uint8).max) revert ConfigOutOfRange(name, value);
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(value);
    }

    /// @dev Builders come from four parallel comma-separated lists; the signer list decides the count, and
    /// the three tag lists must then all be given with the same length.
    function _buildersFromEnv(BuilderConfig[] memory fallbackBuilders)
        private
        view
        returns (BuilderConfig[] memory)
    {
        address[] memory signers = VM.envOr("BUILDER_SIGNERS", ",", new address[](0));
        if (signers.length == 0) return fallbackBuilders;
        string[] memory orgs = _tagList("BUILDER_ORGANISATIONS", signers.length);
        string[] memory jurisdictions = _tagList("BUILDER_JURISDICTIONS", signers.length);
        string[] memory infrastructures = _tagList("BUILDER_INFRASTRUCTURES", signers.length);
        BuilderConfig[] memory builders = new BuilderConfig[](signers.length);
        for (uint256 i; i < signers.length; ++i) {
            builders[i] = BuilderConfig({
                signer: signers[i],
                organisation: tagId(orgs[i]),
                jurisdiction: tagId(jurisdictions[i]),
                infrastructure: tagId(infrastructures[i])
            });
        }
        return builders;
    }

    function _tagList(string memory name, uint256 expected) private view returns (string[] memory list) {
        list = VM.envOr(name, ",", new string[](0));
        if (list.length != expected) revert ConfigLengthMismatch(name, expected, list.length);
    }
}
