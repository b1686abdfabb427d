// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../../contracts/interfaces/IReleaseLedger.sol";
import {ReleaseRoot} from "../../../contracts/libraries/ReleaseRoot.sol";

/// @notice What a captured governance could upgrade the registry to when it wants its forgeries to look
/// real: the registry itself, storage and views intact, plus a backdoor that finalises any release with
/// any voter count. Its `ReleaseFinalised` event and ledger record agree with each other and with the
/// root of the leaves, in one transaction, exactly as an honest finalisation's do; only the voters it
/// names are made up.
contract ForgingRegistry is SeedRegistry {
    /// @notice Records `commit` as final with `systems`/`digests`, claiming `voters` for each system, under
    /// rules `version` in `ledger_` (the caller reads both from the registry: passing them keeps this
    /// fixture under EIP-170).
    function forgeFinalisation(
        bytes32 commit,
        string[] calldata systems,
        bytes32[] calldata digests,
        uint64[] calldata voters,
        uint32 version,
        IReleaseLedger ledger_
    ) external {
        bytes32 root = ReleaseRoot.compute(systems, digests);
        emit ReleaseFinalised(commit, root, systems, digests, voters, version, false);
        ledger_.record(commit, root, version);
    }
}
