// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";
import {ReleaseRoot} from "../../../contracts/libraries/ReleaseRoot.sol";

/// @notice What a captured governance could upgrade the registry to when it wants its forgeries to look
/// real: the registry itself, storage and views intact, plus a backdoor that finalises any release with
/// any voter count. Its `ReleaseFinalised` event and ledger record agree with each other and with the
/// root of the leaves, in one transaction, exactly as an honest finalisation's do; only the voters it
/// names are made up.
contract ForgingRegistry is SeedRegistry {
    /// @notice Records `commit` as final with `systems`/`digests`, claiming `voters` for each system.
    function forgeFinalisation(
        bytes32 commit,
        string[] calldata systems,
        bytes32[] calldata digests,
        uint64[] calldata voters
    ) external {
        bytes32 root = ReleaseRoot.compute(systems, digests);
        uint32 version = this.rulesVersion();
        emit ReleaseFinalised(commit, root, systems, digests, voters, version, false);
        this.ledger().record(commit, root, version);
    }
}
