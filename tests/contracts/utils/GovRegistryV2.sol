// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";

/// @notice A storage-compatible upgrade candidate for `seed-eth gov propose upgrade-registry` tests: it
/// inherits the v1 namespace unchanged and keeps its own state in a new ERC-7201 namespace, so it stays
/// compatible whatever v1's struct holds.
contract GovRegistryV2 is SeedRegistry {
    /// @custom:storage-location erc7201:seed-eth.storage.GovRegistryV2
    struct GovV2Storage {
        uint256 migratedAtBlock;
        string note;
    }

    // keccak256(abi.encode(uint256(keccak256("seed-eth.storage.GovRegistryV2")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant GOV_V2_LOCATION =
        0x744aa566a05665e1ffc55ee4503b2009c116c6a402d71ba9bdc0ad900e758c00;

    /// @notice Runs once, through `upgradeToAndCall`.
    /// @param note_ Free text recorded with the migration.
    function initializeGovV2(string calldata note_) external reinitializer(2) {
        GovV2Storage storage $ = _v2();
        $.migratedAtBlock = block.number;
        $.note = note_;
    }

    /// @notice The state the v2 initializer recorded.
    function govMigration() external view returns (uint256 migratedAtBlock, string memory note) {
        GovV2Storage storage $ = _v2();
        return ($.migratedAtBlock, $.note);
    }

    /// @notice Distinguishes the upgraded implementation.
    function govVersion() external pure returns (uint256) {
        return 2;
    }

    function _v2() private pure returns (GovV2Storage storage $) {
        assembly ("memory-safe") {
            $.slot := GOV_V2_LOCATION
        }
    }
}
