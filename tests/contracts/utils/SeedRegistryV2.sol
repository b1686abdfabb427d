// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../../contracts/interfaces/IReleaseLedger.sol";

/// @notice An upgrade candidate for tests: the same namespaced struct with two fields appended at its tail,
/// a reinitializer that sets them, and new functions. Everything v1 stored must read back unchanged.
contract SeedRegistryV2 is SeedRegistry {
    /// @dev The v1 struct, field for field, plus the v2 tail.
    /// @custom:storage-location erc7201:seed-eth.storage.SeedRegistry
    struct RegistryStorageV2 {
        uint256 rules;
        IReleaseLedger ledger;
        uint8 systemNumberCount;
        address guardian;
        mapping(address signer => uint256) signerRecord;
        mapping(uint256 builderId => BuilderRecord) builders;
        mapping(bytes32 systemId => uint16) systemNumber;
        mapping(uint256 systemNumber => string) systemName;
        mapping(bytes32 commit => Release) releases;
        // v2 tail
        uint256 migratedAt;
        string note;
    }

    error AlreadyMigrated();

    /// @notice Runs once, through `upgradeToAndCall`.
    function initializeV2(string calldata note_) external reinitializer(2) {
        RegistryStorageV2 storage $ = _v2();
        $.migratedAt = block.number;
        $.note = note_;
    }

    /// @notice The v2 tail.
    function migration() external view returns (uint256 migratedAt, string memory note) {
        RegistryStorageV2 storage $ = _v2();
        return ($.migratedAt, $.note);
    }

    /// @notice Reads a v1 field through the v2 struct (proves the prefix layout is unchanged).
    function ledgerViaV2() external view returns (address) {
        return address(_v2().ledger);
    }

    function implementationVersion() external pure returns (uint256) {
        return 2;
    }

    function _v2() private pure returns (RegistryStorageV2 storage $) {
        assembly ("memory-safe") {
            $.slot := STORAGE_LOCATION
        }
    }
}
