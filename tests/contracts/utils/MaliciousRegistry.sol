// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IReleaseLedger} from "../../../contracts/interfaces/IReleaseLedger.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @notice What a captured governance could upgrade the registry to: a UUPS implementation that tries every
/// way of rewriting history. Its storage is the registry's (it runs behind the same proxy).
contract MaliciousRegistry is UUPSUpgradeable {
    bytes32 internal constant STORAGE_LOCATION =
        0xaa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100;

    error DelegateFailed();

    function _authorizeUpgrade(address) internal pure override {}

    /// @notice The ledger address from the registry's namespaced storage (second word).
    function ledgerAddress() public view returns (IReleaseLedger l) {
        bytes32 slot = bytes32(uint256(STORAGE_LOCATION) + 1);
        assembly ("memory-safe") {
            l := and(sload(slot), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @notice The registry's own view, kept so that clients checking the deployment still see a registry.
    function ledger() external view returns (IReleaseLedger) {
        return ledgerAddress();
    }

    /// @notice Re-records a release with another root (the writer is still this proxy).
    function rewrite(bytes32 commit, bytes32 root) external {
        ledgerAddress().record(commit, root, type(uint32).max);
    }

    /// @notice Tries to make itself the ledger's owner or to move the writer role.
    function seizeLedger() external {
        IReleaseLedger l = ledgerAddress();
        l.setWriter(address(this));
    }

    function transferLedgerOwnership(address to) external {
        // Ownable2Step's entry point on the ledger.
        (bool ok, bytes memory ret) =
            address(ledgerAddress()).call(abi.encodeWithSignature("transferOwnership(address)", to));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    /// @notice Overwrites any word of the proxy's own storage (the registry's votes, rules, anything).
    function scribble(bytes32 slot, bytes32 value) external {
        assembly ("memory-safe") {
            sstore(slot, value)
        }
    }

    /// @notice Delegatecalls arbitrary code in the proxy's context (still cannot reach the ledger's storage).
    function delegate(address target, bytes calldata data) external {
        (bool ok,) = target.delegatecall(data);
        if (!ok) revert DelegateFailed();
    }
}
