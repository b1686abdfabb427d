// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";

/// @notice An upgrade candidate with a broken storage layout, for the tests of
/// `seed-eth gov propose upgrade-registry`: it redeclares the registry's ERC-7201 namespace with a field
/// inserted before the existing ones, so every v1 field would be read from the wrong slot. The client must
/// refuse to propose it.
contract GovRegistryIncompatible is SeedRegistry {
    /// @custom:storage-location erc7201:seed-eth.storage.SeedRegistry
    struct BrokenStorage {
        uint256 inserted;
        uint256 rules;
    }

    /// @notice Reads the inserted field (which would alias v1's rules word).
    function inserted() external view returns (uint256) {
        BrokenStorage storage $;
        assembly ("memory-safe") {
            $.slot := STORAGE_LOCATION
        }
        return $.inserted;
    }
}
