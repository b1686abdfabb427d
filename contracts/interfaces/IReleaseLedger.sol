// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

/// @title IReleaseLedger
/// @notice The write-once record of finalised seed releases. Not upgradeable: once an entry is recorded
/// nothing (no writer, no owner, no upgrade of any other contract) can change or remove it.
/// @dev An entry is the release root in storage plus its `ReleaseRecorded` log: the block that carries
/// the log is the finalisation block, and the log carries the rules version. Both are as immutable as
/// storage, so only the root, which contracts and `eth_call` need, pays for a storage slot
/// (docs/decisions.md, D-025).
interface IReleaseLedger {
    /// @notice Emitted once per release, when it is recorded. With the root in storage, this is the entry.
    /// @param commit The release's source commit.
    /// @param root Release root: keccak256 Merkle root over the release's (system, manifest digest) leaves.
    /// @param writer The contract that recorded it (the registry at the time).
    /// @param rulesVersion Version of the registry's rule set that finalised the release.
    event ReleaseRecorded(
        bytes32 indexed commit, bytes32 indexed root, address indexed writer, uint32 rulesVersion
    );

    /// @notice Emitted when governance hands the append permission to another contract.
    event WriterChanged(address indexed previousWriter, address indexed newWriter);

    /// @notice The caller is not the current writer.
    error LedgerUnauthorizedWriter(address caller);
    /// @notice The release already has an entry; entries are write-once.
    error LedgerAlreadyRecorded(bytes32 commit, bytes32 existingRoot);
    /// @notice A zero commit or zero root cannot be recorded.
    error LedgerInvalidEntry(bytes32 commit, bytes32 root);
    /// @notice The writer cannot be the zero address.
    error LedgerInvalidWriter(address writer);

    /// @notice Appends the entry for `commit`. Only the writer; reverts if the commit has an entry.
    function record(bytes32 commit, bytes32 root, uint32 rulesVersion) external;

    /// @notice Replaces the writer. Only the owner (the governance timelock).
    function setWriter(address newWriter) external;

    /// @notice The contract allowed to append entries.
    function writer() external view returns (address);

    /// @notice The release root for `commit`, or zero when the release is not recorded.
    function rootOf(bytes32 commit) external view returns (bytes32);
}
