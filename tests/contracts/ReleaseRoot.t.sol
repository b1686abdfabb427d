// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {ReleaseRoot} from "../../contracts/libraries/ReleaseRoot.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice The release-root rule (docs/decisions.md, D-005), through the registry's `computeRoot` and the
/// library directly, against hashes written out byte by byte.
contract ReleaseRootTest is RegistryFixture {
    /// @dev The same vector is pinned by the Rust implementation (seed-core, release_root.rs).
    bytes32 internal constant PINNED_TWO_SYSTEM_ROOT =
        0x3d8c99c4f33e03c382b899129028fb180ea0d87c090a9bb931306965a84e8467;

    function setUp() public {
        _deploy(3, 2, _systems2(), 7);
    }

    function _two(string memory a, string memory b) internal pure returns (string[] memory s) {
        s = new string[](2);
        s[0] = a;
        s[1] = b;
    }

    function _three(string memory a, string memory b, string memory c)
        internal
        pure
        returns (string[] memory s)
    {
        s = new string[](3);
        s[0] = a;
        s[1] = b;
        s[2] = c;
    }

    function _ds(uint256 n) internal pure returns (bytes32[] memory d) {
        d = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            d[i] = bytes32(i + 1);
        }
    }

    function test_pinnedTwoSystemVector() public view {
        // leaf = keccak256(0x00 || u16be(len) || system || digest), spelled out byte by byte.
        bytes32 leafA = keccak256(abi.encodePacked(hex"00", hex"000d", "aarch64-linux", bytes32(uint256(1))));
        bytes32 leafX = keccak256(abi.encodePacked(hex"00", hex"000c", "x86_64-linux", bytes32(uint256(2))));
        bytes32 byHand = keccak256(abi.encodePacked(hex"01", leafA, leafX));

        bytes32 root = registry.computeRoot(_two(AARCH64_LINUX, X86_64_LINUX), _ds(2));
        assertEq(root, byHand, "computeRoot follows the byte layout");
        assertEq(root, PINNED_TWO_SYSTEM_ROOT, "the vector shared with seed-core");
    }

    function test_wrongPrefixesWouldNotMatch() public view {
        bytes32 root = registry.computeRoot(_two(AARCH64_LINUX, X86_64_LINUX), _ds(2));
        // Without the domain-separation prefixes, or with a one-byte length, the root differs.
        bytes32 noPrefix = keccak256(
            abi.encodePacked(
                keccak256(abi.encodePacked(hex"000d", "aarch64-linux", bytes32(uint256(1)))),
                keccak256(abi.encodePacked(hex"000c", "x86_64-linux", bytes32(uint256(2))))
            )
        );
        bytes32 shortLen = keccak256(
            abi.encodePacked(
                hex"01",
                keccak256(abi.encodePacked(hex"00", hex"0d", "aarch64-linux", bytes32(uint256(1)))),
                keccak256(abi.encodePacked(hex"00", hex"0c", "x86_64-linux", bytes32(uint256(2))))
            )
        );
        assertTrue(root != noPrefix && root != shortLen);
    }

    function test_singleLeafIsItsOwnRoot() public view {
        string[] memory s = new string[](1);
        s[0] = X86_64_LINUX;
        bytes32 leaf = keccak256(abi.encodePacked(hex"00", hex"000c", "x86_64-linux", bytes32(uint256(1))));
        assertEq(registry.computeRoot(s, _ds(1)), leaf);
    }

    function test_threeLeavesDuplicateTheLastNode() public view {
        string[] memory s = _three(AARCH64_DARWIN, AARCH64_LINUX, X86_64_LINUX);
        bytes32 l0 = keccak256(abi.encodePacked(hex"00", hex"000e", "aarch64-darwin", bytes32(uint256(1))));
        bytes32 l1 = keccak256(abi.encodePacked(hex"00", hex"000d", "aarch64-linux", bytes32(uint256(2))));
        bytes32 l2 = keccak256(abi.encodePacked(hex"00", hex"000c", "x86_64-linux", bytes32(uint256(3))));
        bytes32 expected = keccak256(
            abi.encodePacked(
                hex"01",
                keccak256(abi.encodePacked(hex"01", l0, l1)),
                keccak256(abi.encodePacked(hex"01", l2, l2))
            )
        );
        assertEq(registry.computeRoot(s, _ds(3)), expected);
        // Promoting the odd leaf unhashed (another common convention) gives a different root.
        bytes32 promoted =
            keccak256(abi.encodePacked(hex"01", keccak256(abi.encodePacked(hex"01", l0, l1)), l2));
        assertTrue(expected != promoted);
    }

    function test_fiveLeavesDuplicateOnEveryOddLevel() public pure {
        bytes32[] memory leaves = new bytes32[](5);
        for (uint256 i; i < 5; ++i) {
            leaves[i] = keccak256(abi.encode(i));
        }
        bytes32 a = _node(leaves[0], leaves[1]);
        bytes32 b = _node(leaves[2], leaves[3]);
        bytes32 c = _node(leaves[4], leaves[4]);
        bytes32 expected = _node(_node(a, b), _node(c, c));
        assertEq(ReleaseRoot.rootOfLeaves(leaves), expected);
    }

    function _node(bytes32 l, bytes32 r) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(hex"01", l, r));
    }

    function test_unsortedSystemsRevert() public {
        string[] memory s = _three("aarch64-darwin", "x86_64-linux", "x86_64-darwin");
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.SystemsNotSorted.selector, 2));
        registry.computeRoot(s, _ds(3));
    }

    function test_duplicateSystemsRevert() public {
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.SystemsNotSorted.selector, 1));
        registry.computeRoot(_two(X86_64_LINUX, X86_64_LINUX), _ds(2));
    }

    function test_prefixSortsFirst() public {
        registry.computeRoot(_two("x86", "x86_64-linux"), _ds(2));
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.SystemsNotSorted.selector, 1));
        registry.computeRoot(_two("x86_64-linux", "x86"), _ds(2));
    }

    function test_invalidInputsRevert() public {
        vm.expectRevert(ISeedRegistry.NoRequiredSystems.selector);
        registry.computeRoot(new string[](0), new bytes32[](0));

        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.LengthMismatch.selector, 2, 1));
        registry.computeRoot(_two(AARCH64_LINUX, X86_64_LINUX), _ds(1));

        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSystem.selector, ""));
        registry.computeRoot(_two("", X86_64_LINUX), _ds(2));

        string memory long = string(new bytes(256));
        string[] memory one = new string[](1);
        one[0] = long;
        vm.expectRevert(abi.encodeWithSelector(ISeedRegistry.InvalidSystem.selector, long));
        registry.computeRoot(one, _ds(1));

        bytes32[] memory zero = new bytes32[](2);
        vm.expectRevert(ISeedRegistry.InvalidDigest.selector);
        registry.computeRoot(_two(AARCH64_LINUX, X86_64_LINUX), zero);
    }

    function testFuzz_leafMatchesPackedEncoding(bytes memory system, bytes32 digest) public pure {
        vm.assume(system.length <= type(uint16).max);
        assertEq(
            ReleaseRoot.leaf(system, digest),
            keccak256(abi.encodePacked(bytes1(0x00), uint16(system.length), system, digest))
        );
    }

    function testFuzz_nodeMatchesPackedEncoding(bytes32 l, bytes32 r) public pure {
        assertEq(ReleaseRoot.node(l, r), _node(l, r));
    }

    function testFuzz_lessThanIsBytewise(bytes memory a, bytes memory b) public pure {
        bool expected;
        uint256 n = a.length < b.length ? a.length : b.length;
        bool decided;
        for (uint256 i; i < n && !decided; ++i) {
            if (a[i] != b[i]) {
                expected = uint8(a[i]) < uint8(b[i]);
                decided = true;
            }
        }
        if (!decided) expected = a.length < b.length;
        assertEq(ReleaseRoot.lessThan(a, b), expected);
    }
}
