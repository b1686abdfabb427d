// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ISeedRegistry} from "../contracts/interfaces/ISeedRegistry.sol";
import {ReleaseRoot} from "../contracts/libraries/ReleaseRoot.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title FloorLedger
/// @notice Bench only (`script/GasBench.s.sol`): the work any write-once ledger must do per append — check the
/// writer, check the entry is new, store the root, log the entry.
contract FloorLedger {
    event ReleaseRecorded(
        bytes32 indexed commit, bytes32 indexed root, address indexed writer, uint32 rulesVersion
    );

    address public writer;
    mapping(bytes32 commit => bytes32 root) public rootOf;

    function setWriter(address writer_) external {
        require(writer == address(0));
        writer = writer_;
    }

    function record(bytes32 commit, bytes32 root, uint32 rulesVersion) external {
        require(msg.sender == writer && rootOf[commit] == bytes32(0));
        rootOf[commit] = root;
        emit ReleaseRecorded(commit, root, msg.sender, rulesVersion);
    }
}

/// @title BatchFloor
/// @notice Bench only: the floor under `attest_batch3_total` (three signed votes finalising a one-system
/// release in one transaction). It does only what issue #3 makes unavoidable and nothing else: behind an
/// ERC-1967 proxy, per vote an EIP-712 hash, a signature recovery, one read of the signer's registration
/// and of the system's, the `Attested` event with the fields verifiers need; per release the rule word,
/// the vote word and the leader digest (the two fresh slots that one-vote-per-builder and bit-identical
/// comparison need), `ReleaseFinalised` and the append to a separate write-once ledger. No revocation,
/// no disagreement handling, no multi-system logic, no views. Same calldata and selector as
/// `SeedRegistry.attestBatch`, so the same receipts-based report measures it (docs/benchmarks.md).
contract BatchFloor is EIP712 {
    bytes32 private constant VOTE_TYPEHASH = keccak256(
        "Vote(address signer,bytes32 commit,string system,bytes32 manifestDigest,bytes32 imageDigest,"
        "bytes32 statementDigest,uint64 deadline)"
    );

    FloorLedger private immutable _ledger;
    /// @dev Threshold (low byte) and rules version (next four bytes).
    uint256 private _rules;
    mapping(address signer => uint256) private _builderNumber;
    mapping(bytes32 systemId => bool) private _required;
    mapping(bytes32 commitAndSystem => uint256) private _voted;
    mapping(bytes32 commitAndSystem => bytes32) private _leader;

    constructor(FloorLedger ledger_) EIP712("BatchFloor", "1") {
        _ledger = ledger_;
    }

    function setUp(address[] calldata signers, string calldata system, uint8 threshold) external {
        require(_rules == 0);
        _rules = uint256(threshold) | (1 << 8);
        for (uint256 i; i < signers.length; ++i) {
            _builderNumber[signers[i]] = i + 1;
        }
        _required[keccak256(bytes(system))] = true;
    }

    function hashVote(ISeedRegistry.SignedVote calldata v) external view returns (bytes32) {
        return _hash(v, keccak256(bytes(v.system)));
    }

    function attestBatch(ISeedRegistry.SignedVote[] calldata votes) external {
        uint256 rules = _rules;
        for (uint256 i; i < votes.length; ++i) {
            ISeedRegistry.SignedVote calldata v = votes[i];
            require(block.timestamp <= v.deadline);
            bytes32 systemId = keccak256(bytes(v.system));
            (address signer, ECDSA.RecoverError err,) =
                ECDSA.tryRecoverCalldata(_hash(v, systemId), v.signature);
            require(err == ECDSA.RecoverError.NoError && signer == v.signer);
            uint256 number = _builderNumber[signer];
            require(number != 0 && _required[systemId]);

            bytes32 key = keccak256(abi.encode(v.commit, systemId));
            uint256 voted = _voted[key];
            uint256 bit = 1 << number;
            require(voted & bit == 0);
            if (voted == 0) _leader[key] = v.manifestDigest;
            else require(_leader[key] == v.manifestDigest);
            voted |= bit;
            _voted[key] = voted;
            _logAttested(v, systemId, number - 1);
            if (_popcount(voted) == rules & 0xff) _finalise(v, voted, uint32(rules >> 8));
        }
    }

    function _logAttested(ISeedRegistry.SignedVote calldata v, bytes32 systemId, uint256 builderId) private {
        emit ISeedRegistry.Attested(
            v.commit,
            systemId,
            v.signer,
            uint8(builderId),
            v.system,
            v.manifestDigest,
            v.imageDigest,
            v.statementDigest
        );
    }

    function _finalise(ISeedRegistry.SignedVote calldata v, uint256 voted, uint32 version) private {
        string[] memory systems = new string[](1);
        systems[0] = v.system;
        bytes32[] memory digests = new bytes32[](1);
        digests[0] = v.manifestDigest;
        uint64[] memory voters = new uint64[](1);
        voters[0] = uint64(voted >> 1);
        bytes32 root = ReleaseRoot.rootUnchecked(systems, digests);
        emit ISeedRegistry.ReleaseFinalised(v.commit, root, systems, digests, voters, version, false);
        _ledger.record(v.commit, root, version);
    }

    function _hash(ISeedRegistry.SignedVote calldata v, bytes32 systemId) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    VOTE_TYPEHASH,
                    v.signer,
                    v.commit,
                    systemId,
                    v.manifestDigest,
                    v.imageDigest,
                    v.statementDigest,
                    v.deadline
                )
            )
        );
    }

    function _popcount(uint256 x) private pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) {
            ++c;
        }
    }
}
