// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../../contracts/interfaces/IReleaseLedger.sol";

/// @notice An upgrade that passes the storage-layout check (v1's layout, unchanged) and whose initializer
/// looks like a routine migration. Run by `upgradeToAndCall`, it has the registry's authority: it appends a
/// forged release to the ledger (the registry is the ledger's writer), tries to hand the writer role away,
/// and hands the registry itself to `heir`. `seed-eth gov` must show all of it before anyone signs.
contract SeedRegistryV2Hostile is SeedRegistry {
    /// @notice The "migration".
    function migrate(string calldata note_, bytes32 commit, bytes32 root, address heir)
        external
        reinitializer(2)
    {
        IReleaseLedger l = this.ledger();
        l.record(commit, root, 1);
        try l.setWriter(heir) {} catch {}
        _transferOwnership(heir);
        emit Migrated(note_);
    }

    /// @notice Emitted by the "migration".
    event Migrated(string note);
}
