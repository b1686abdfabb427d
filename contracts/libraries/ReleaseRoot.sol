// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ISeedRegistry} from "../interfaces/ISeedRegistry.sol";

/// @title ReleaseRoot
/// @notice The release root: one keccak256 Merkle root over the (system, manifest digest) pairs of a release
/// (docs/decisions.md, D-005; the Rust twin is `seed_core::release_root`).
///
/// - leaf = keccak256(0x00 || uint16 big-endian len(system) || system bytes || manifestDigest)
/// - node = keccak256(0x01 || left || right)
/// - leaves in strictly ascending bytewise order of system names (no duplicates)
/// - a level with an odd number of nodes pairs its last node with itself
/// - a single leaf is its own root
library ReleaseRoot {
    /// @notice Longest accepted system name, in bytes.
    uint256 internal constant MAX_SYSTEM_LENGTH = 255;

    /// @notice The leaf hash of `system` with `manifestDigest`.
    /// @dev Equal to keccak256(abi.encodePacked(bytes1(0x00), uint16(system.length), system, manifestDigest))
    /// (a test pins this); built in unallocated memory to avoid an allocation per leaf.
    function leaf(bytes memory system, bytes32 manifestDigest) internal pure returns (bytes32 h) {
        uint256 len = system.length;
        if (len > type(uint16).max) revert ISeedRegistry.InvalidSystem(string(system));
        assembly ("memory-safe") {
            let p := mload(0x40)
            // 0x00 || uint16 big-endian length: three bytes at p
            mstore(p, shl(232, len))
            mcopy(add(p, 3), add(system, 0x20), len)
            mstore(add(add(p, 3), len), manifestDigest)
            h := keccak256(p, add(len, 35))
        }
    }

    /// @notice The inner-node hash of two children: keccak256(0x01 || left || right).
    function node(bytes32 left, bytes32 right) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, shl(248, 1))
            mstore(add(p, 1), left)
            mstore(add(p, 0x21), right)
            h := keccak256(p, 0x41)
        }
    }

    /// @notice The root over `leaves` (already hashed, in order). Overwrites `leaves`.
    /// @dev `leaves` must not be empty; callers validate.
    function rootOfLeaves(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        while (n > 1) {
            uint256 half = (n + 1) / 2;
            for (uint256 i; i < half; ++i) {
                bytes32 left = leaves[2 * i];
                bytes32 right = 2 * i + 1 < n ? leaves[2 * i + 1] : left;
                leaves[i] = node(left, right);
            }
            n = half;
        }
        return leaves[0];
    }

    /// @notice The root over systems and digests that are known to be valid (sorted, non-empty).
    function rootUnchecked(string[] memory systems, bytes32[] memory manifestDigests)
        internal
        pure
        returns (bytes32)
    {
        bytes32[] memory leaves = new bytes32[](systems.length);
        for (uint256 i; i < systems.length; ++i) {
            leaves[i] = leaf(bytes(systems[i]), manifestDigests[i]);
        }
        return rootOfLeaves(leaves);
    }

    /// @notice Validates and computes the root, reverting with the registry's errors on bad input.
    function compute(string[] memory systems, bytes32[] memory manifestDigests)
        internal
        pure
        returns (bytes32)
    {
        if (systems.length != manifestDigests.length) {
            revert ISeedRegistry.LengthMismatch(systems.length, manifestDigests.length);
        }
        checkSystems(systems);
        for (uint256 i; i < manifestDigests.length; ++i) {
            if (manifestDigests[i] == bytes32(0)) revert ISeedRegistry.InvalidDigest();
        }
        return rootUnchecked(systems, manifestDigests);
    }

    /// @notice Reverts unless `systems` is non-empty, each name is 1..255 bytes, and the names are strictly
    /// ascending bytewise (which also excludes duplicates).
    function checkSystems(string[] memory systems) internal pure {
        if (systems.length == 0) revert ISeedRegistry.NoRequiredSystems();
        for (uint256 i; i < systems.length; ++i) {
            uint256 len = bytes(systems[i]).length;
            if (len == 0 || len > MAX_SYSTEM_LENGTH) revert ISeedRegistry.InvalidSystem(systems[i]);
            if (i > 0 && !lessThan(bytes(systems[i - 1]), bytes(systems[i]))) {
                revert ISeedRegistry.SystemsNotSorted(i);
            }
        }
    }

    /// @notice True when `a` sorts strictly before `b` bytewise (a proper prefix sorts first).
    function lessThan(bytes memory a, bytes memory b) internal pure returns (bool) {
        uint256 n = a.length < b.length ? a.length : b.length;
        for (uint256 i; i < n; ++i) {
            if (a[i] != b[i]) return uint8(a[i]) < uint8(b[i]);
        }
        return a.length < b.length;
    }
}
