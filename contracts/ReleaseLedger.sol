// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IReleaseLedger} from "./interfaces/IReleaseLedger.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title ReleaseLedger
/// @notice The write-once record of finalised seed releases (trust property 5). Not upgradeable and not
/// behind a proxy: there is no code path that overwrites or deletes an entry, so neither the writer (the
/// registry proxy), nor the owner (the governance timelock), nor a malicious upgrade of the registry can
/// change a release once it is recorded. Governance controls only who may append next.
/// @dev Storage: Ownable's `_owner` (slot 0), Ownable2Step's `_pendingOwner` (slot 1), `_writer` (slot 2),
/// then one slot per entry: its root. The finalisation block and rules version live in the entry's
/// `ReleaseRecorded` log, which is as immutable as storage (D-025).
contract ReleaseLedger is IReleaseLedger, Ownable2Step {
    /// @dev The contract allowed to append entries.
    address private _writer;
    /// @dev Release roots by commit; zero means "not recorded".
    mapping(bytes32 commit => bytes32 root) private _roots;

    /// @param owner_ The governance timelock: the only account that may replace the writer.
    /// @param initialWriter The registry proxy (its address may be computed before it is deployed). The
    /// zero address is accepted and means "no writer yet": nothing can be appended until the owner sets one.
    // slither-disable-next-line missing-zero-check
    constructor(address owner_, address initialWriter) Ownable(owner_) {
        _writer = initialWriter;
        emit WriterChanged(address(0), initialWriter);
    }

    /// @notice Appends the entry for `commit`. Only the writer; reverts if the commit has an entry.
    /// @dev The block carrying the `ReleaseRecorded` log is the entry's finalisation block.
    /// @param commit The release (source commit id); must not be zero.
    /// @param root The release root; must not be zero.
    /// @param rulesVersion The registry's rule-set version that finalised the release.
    function record(bytes32 commit, bytes32 root, uint32 rulesVersion) external {
        address writer_ = _writer;
        if (msg.sender != writer_) revert LedgerUnauthorizedWriter(msg.sender);
        if (commit == bytes32(0) || root == bytes32(0)) revert LedgerInvalidEntry(commit, root);
        bytes32 existing = _roots[commit];
        if (existing != bytes32(0)) revert LedgerAlreadyRecorded(commit, existing);

        _roots[commit] = root;
        emit ReleaseRecorded(commit, root, writer_, rulesVersion);
    }

    /// @notice Replaces the writer. Only the owner (the governance timelock).
    /// @param newWriter The new writer; must not be the zero address.
    function setWriter(address newWriter) external onlyOwner {
        if (newWriter == address(0)) revert LedgerInvalidWriter(newWriter);
        emit WriterChanged(_writer, newWriter);
        _writer = newWriter;
    }

    /// @notice The contract allowed to append entries.
    /// @return The current writer (zero when none has been set).
    function writer() external view returns (address) {
        return _writer;
    }

    /// @notice The release root for `commit`, or zero when the release is not recorded.
    /// @param commit The release.
    /// @return The recorded root.
    function rootOf(bytes32 commit) external view returns (bytes32) {
        return _roots[commit];
    }
}
