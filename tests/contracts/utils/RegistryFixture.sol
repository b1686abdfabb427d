// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../../../contracts/ReleaseLedger.sol";
import {SeedRegistry} from "../../../contracts/SeedRegistry.sol";
import {IReleaseLedger} from "../../../contracts/interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "../../../contracts/interfaces/ISeedRegistry.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Test} from "forge-std/Test.sol";

/// @notice A ledger and a registry proxy wired the way script/Deploy.s.sol wires them, with `governance`
/// standing in for the timelock and `guardianAddr` for the Safe. Builders have deterministic keys and
/// pairwise-distinct tags.
abstract contract RegistryFixture is Test {
    ReleaseLedger internal ledger;
    SeedRegistry internal registry;
    SeedRegistry internal implementation;

    address internal governance = makeAddr("governance");
    address internal guardianAddr = makeAddr("guardian");
    address internal stranger = makeAddr("stranger");

    uint256 internal constant MAX_FIXTURE_BUILDERS = 8;
    uint256[] internal builderKeys;
    address[] internal builderAddrs;

    string internal constant AARCH64_DARWIN = "aarch64-darwin";
    string internal constant AARCH64_LINUX = "aarch64-linux";
    string internal constant X86_64_DARWIN = "x86_64-darwin";
    string internal constant X86_64_LINUX = "x86_64-linux";

    bytes32 internal constant IMAGE = keccak256("image");
    bytes32 internal constant STATEMENT = keccak256("statement");

    bytes32 internal constant VOTE_TYPEHASH = keccak256(
        "Vote(address signer,bytes32 commit,string system,bytes32 manifestDigest,bytes32 imageDigest,"
        "bytes32 statementDigest,uint64 deadline)"
    );

    function _makeKeys(uint256 n) internal {
        delete builderKeys;
        delete builderAddrs;
        for (uint256 i; i < n; ++i) {
            uint256 key = uint256(keccak256(abi.encode("seed-eth builder", i))) % (SECP256K1_N - 1) + 1;
            builderKeys.push(key);
            builderAddrs.push(vm.addr(key));
        }
    }

    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function _tags(uint256 i) internal pure returns (bytes32 org, bytes32 jur, bytes32 infra) {
        org = keccak256(abi.encode("org", i));
        jur = keccak256(abi.encode("jurisdiction", i));
        infra = keccak256(abi.encode("infrastructure", i));
    }

    function _builderStructs(uint256 n) internal view returns (ISeedRegistry.Builder[] memory bs) {
        bs = new ISeedRegistry.Builder[](n);
        for (uint256 i; i < n; ++i) {
            (bytes32 org, bytes32 jur, bytes32 infra) = _tags(i);
            bs[i] = ISeedRegistry.Builder(builderAddrs[i], org, jur, infra, true);
        }
    }

    function _systems1() internal pure returns (string[] memory s) {
        s = new string[](1);
        s[0] = X86_64_LINUX;
    }

    function _systems2() internal pure returns (string[] memory s) {
        s = new string[](2);
        s[0] = AARCH64_LINUX;
        s[1] = X86_64_LINUX;
    }

    function _systems4() internal pure returns (string[] memory s) {
        s = new string[](4);
        s[0] = AARCH64_DARWIN;
        s[1] = AARCH64_LINUX;
        s[2] = X86_64_DARWIN;
        s[3] = X86_64_LINUX;
    }

    /// @notice Deploys ledger (writer unset), implementation and proxy (initialised in its constructor),
    /// then lets governance hand the ledger's writer role to the proxy.
    function _deploy(uint256 nBuilders, uint8 k, string[] memory systems, uint8 policy) internal {
        _deployImplementation(address(new SeedRegistry()), nBuilders, k, systems, policy);
    }

    /// @notice The same with a given implementation (e.g. an earlier release's, for upgrade tests).
    function _deployImplementation(
        address implementation_,
        uint256 nBuilders,
        uint8 k,
        string[] memory systems,
        uint8 policy
    ) internal {
        _makeKeys(MAX_FIXTURE_BUILDERS);
        ledger = new ReleaseLedger(governance, address(0));
        implementation = SeedRegistry(implementation_);
        bytes memory init = abi.encodeCall(
            SeedRegistry.initialize,
            (
                governance,
                guardianAddr,
                IReleaseLedger(address(ledger)),
                _builderStructs(nBuilders),
                k,
                systems,
                policy
            )
        );
        registry = SeedRegistry(address(new ERC1967Proxy(address(implementation), init)));
        vm.prank(governance);
        ledger.setWriter(address(registry));
    }

    /// @notice A second registry with its own ledger, the same builders (3, k = 2, policy 7) and `systems`, on
    /// the same chain: e.g. a staging deployment, against which signed votes must not replay.
    function _deploySibling(string[] memory systems) internal returns (SeedRegistry other) {
        ReleaseLedger otherLedger = new ReleaseLedger(governance, address(0));
        bytes memory init = abi.encodeCall(
            SeedRegistry.initialize,
            (
                governance,
                guardianAddr,
                IReleaseLedger(address(otherLedger)),
                _builderStructs(3),
                2,
                systems,
                7
            )
        );
        other = SeedRegistry(address(new ERC1967Proxy(address(implementation), init)));
        vm.prank(governance);
        otherLedger.setWriter(address(other));
    }

    // ------------------------------------------------------------------ votes

    function _digest(string memory tag, uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode(tag, i));
    }

    function _attest(uint256 b, bytes32 commit, string memory system, bytes32 manifest) internal {
        vm.prank(builderAddrs[b]);
        registry.attest(commit, system, manifest, IMAGE, STATEMENT);
    }

    function _vote(uint256 b, bytes32 commit, string memory system, bytes32 manifest, uint64 deadline)
        internal
        view
        returns (ISeedRegistry.SignedVote memory v)
    {
        v = ISeedRegistry.SignedVote({
            signer: builderAddrs[b],
            commit: commit,
            system: system,
            manifestDigest: manifest,
            imageDigest: IMAGE,
            statementDigest: STATEMENT,
            deadline: deadline,
            signature: ""
        });
        v.signature = _sign(builderKeys[b], _hashVote(v, address(registry), block.chainid));
    }

    /// @notice No signed votes: `finalise` then counts only the stored ones.
    function _noVotes() internal pure returns (ISeedRegistry.CompactVote[] memory) {
        return new ISeedRegistry.CompactVote[](0);
    }

    /// @notice Builder `b`'s vote as `finalise` takes it: the same EIP-712 signature, compact.
    function _compactVote(
        uint256 b,
        bytes32 commit,
        uint256 systemIndex,
        string memory system,
        bytes32 manifest,
        uint64 deadline
    ) internal view returns (ISeedRegistry.CompactVote memory c) {
        ISeedRegistry.SignedVote memory v = _vote(b, commit, system, manifest, deadline);
        (bytes32 r, bytes32 vs) =
            vm.signCompact(builderKeys[b], _hashVote(v, address(registry), block.chainid));
        c = ISeedRegistry.CompactVote(uint8(systemIndex), uint8(b), deadline, IMAGE, STATEMENT, r, vs);
    }

    /// @notice The votes of builders `bs` (ascending) on every system of `systems` for `finalise`, each
    /// system's digest being `_digest(system, uint256(commit))` as in `_voteAll`; and those digests.
    function _compactVotes(uint256[] memory bs, bytes32 commit, string[] memory systems, uint64 deadline)
        internal
        view
        returns (bytes32[] memory digests, ISeedRegistry.CompactVote[] memory votes)
    {
        digests = new bytes32[](systems.length);
        votes = new ISeedRegistry.CompactVote[](systems.length * bs.length);
        for (uint256 s; s < systems.length; ++s) {
            digests[s] = _digest(systems[s], uint256(commit));
            for (uint256 i; i < bs.length; ++i) {
                votes[s * bs.length + i] = _compactVote(bs[i], commit, s, systems[s], digests[s], deadline);
            }
        }
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @notice The EIP-712 digest computed independently of the contract (name "SeedRegistry", version "1").
    function _hashVote(ISeedRegistry.SignedVote memory v, address verifyingContract, uint256 chainId)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("SeedRegistry"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                VOTE_TYPEHASH,
                v.signer,
                v.commit,
                keccak256(bytes(v.system)),
                v.manifestDigest,
                v.imageDigest,
                v.statementDigest,
                v.deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    /// @notice Every builder in `bs` votes `manifest(system)` on every system of `systems`.
    function _voteAll(uint256[] memory bs, bytes32 commit, string[] memory systems) internal {
        for (uint256 i; i < bs.length; ++i) {
            for (uint256 j; j < systems.length; ++j) {
                _attest(bs[i], commit, systems[j], _digest(systems[j], uint256(commit)));
            }
        }
    }

    function _ids(uint256 a) internal pure returns (uint256[] memory r) {
        r = new uint256[](1);
        r[0] = a;
    }

    function _ids(uint256 a, uint256 b) internal pure returns (uint256[] memory r) {
        r = new uint256[](2);
        r[0] = a;
        r[1] = b;
    }

    function _ids(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory r) {
        r = new uint256[](3);
        r[0] = a;
        r[1] = b;
        r[2] = c;
    }

    /// @notice Finalises a genesis release for `commit` with builders 0..n-1 (unanimity).
    function _genesis(uint256 n, bytes32 commit, string[] memory systems) internal {
        uint256[] memory bs = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            bs[i] = i;
        }
        _voteAll(bs, commit, systems);
        assertTrue(registry.isFinalised(commit), "genesis finalised");
        assertTrue(registry.genesisDone(), "genesis done");
    }
}
