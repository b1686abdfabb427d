// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ISeedRegistry} from "../contracts/interfaces/ISeedRegistry.sol";
import {BatchFloor, FloorLedger} from "./BatchFloor.sol";
import {Deployment, SeedDeployment} from "./Deploy.s.sol";
import {DeployConfig, DeployConfigs} from "./DeployConfig.sol";
import {EAS} from "@ethereum-attestation-service/eas-contracts/contracts/EAS.sol";
import {
    AttestationRequest,
    AttestationRequestData
} from "@ethereum-attestation-service/eas-contracts/contracts/IEAS.sol";
import {
    ISchemaRegistry,
    SchemaRegistry
} from "@ethereum-attestation-service/eas-contracts/contracts/SchemaRegistry.sol";
import {
    ISchemaResolver
} from "@ethereum-attestation-service/eas-contracts/contracts/resolver/ISchemaResolver.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Script} from "forge-std/Script.sol";

/// @title GasBench
/// @notice Broadcasts every benchmarked scenario to a real node, so the figures are receipts' `gasUsed`, not
/// simulations. `script/gas-bench` runs it against a fresh anvil and turns the receipts into
/// target/bench/gas.json; this script writes, in order, the label of each measured transaction to
/// target/bench/gas-labels.json (measured = calls to attest, attestBySig, attestBatch, finalise and EAS
/// attest).
///
/// Scenarios (docs/benchmarks.md):
/// - A: 3 builders, k = 2, 4 required systems. Genesis (unanimous, 12 direct votes), then release 2
///   (12 direct votes, builder by builder, the 8th finalises), then one `attestBySig` on release 3, then
///   release 4 finalised by one `finalise` carrying builders 0 and 1's signed votes (issue 17).
/// - B: 3 builders, k = 3, 1 required system. Genesis by 3 direct votes, then a release finalised by three
///   signed votes in one `attestBatch`, then another by the same three signed votes in one `finalise`.
/// - The same batch against `BatchFloor` (script/BatchFloor.sol): only the work issue #3 makes unavoidable,
///   measured as `attest_batch3_floor`.
/// - EAS 1.9.0 `attest` carrying the same five fields, deployed in the same run.
contract GasBench is Script, SeedDeployment {
    uint32 private constant BUILDERS = 3;
    string[] private labels;

    function run() external {
        _scenarioFourSystems();
        _scenarioBatch();
        _scenarioBatchFloor();
        _easBaseline();
        vm.writeJson(vm.serializeString("labels", "labels", labels), "target/bench/gas-labels.json");
    }

    function _scenarioFourSystems() private {
        string[] memory systems = new string[](4);
        systems[0] = "aarch64-darwin";
        systems[1] = "aarch64-linux";
        systems[2] = "x86_64-darwin";
        systems[3] = "x86_64-linux";
        ISeedRegistry registry = _deployRegistry(2, systems);

        _voteAll(registry, keccak256("genesis-a"), systems, "genesis");
        _voteAll(registry, keccak256("release-a2"), systems, "release_3x4");

        ISeedRegistry.SignedVote memory vote = _signedVote(registry, 0, keccak256("release-a3"), systems[0]);
        vm.broadcast(DeployConfigs.anvilKey(DeployConfigs.FIRST_BUILDER_ACCOUNT));
        registry.attestBySig(vote);
        labels.push("attest_by_sig");

        _finaliseBySignatures(registry, keccak256("release-a4"), systems, 2, "finalise_by_sig_3x4");
    }

    /// @dev Builders 0..n-1 sign every system; a relayer (not a builder) sends them in one `finalise`.
    function _finaliseBySignatures(
        ISeedRegistry registry,
        bytes32 commit,
        string[] memory systems,
        uint32 n,
        string memory label
    ) private {
        bytes32[] memory digests = new bytes32[](systems.length);
        ISeedRegistry.CompactVote[] memory votes = new ISeedRegistry.CompactVote[](systems.length * n);
        for (uint256 s; s < systems.length; ++s) {
            digests[s] = _digest("manifest", s);
            for (uint32 b; b < n; ++b) {
                ISeedRegistry.SignedVote memory v = _signedVote(registry, b, commit, systems[s]);
                v.manifestDigest = digests[s];
                (bytes32 r, bytes32 vs) = vm.signCompact(
                    DeployConfigs.anvilKey(DeployConfigs.FIRST_BUILDER_ACCOUNT + b), registry.hashVote(v)
                );
                // casting to 'uint8' is safe because the bench has at most 4 systems and 3 builders
                // forge-lint: disable-next-line(unsafe-typecast)
                votes[s * n + b] = ISeedRegistry.CompactVote(
                    uint8(s), uint8(b), v.deadline, v.imageDigest, v.statementDigest, r, vs
                );
            }
        }
        vm.broadcast(DeployConfigs.anvilKey(0));
        registry.finalise(commit, digests, votes);
        labels.push(label);
    }

    function _scenarioBatch() private {
        string[] memory systems = new string[](1);
        systems[0] = "x86_64-linux";
        ISeedRegistry registry = _deployRegistry(3, systems);
        _voteAll(registry, keccak256("genesis-b"), systems, "genesis");

        ISeedRegistry.SignedVote[] memory votes = new ISeedRegistry.SignedVote[](BUILDERS);
        for (uint32 b; b < BUILDERS; ++b) {
            votes[b] = _signedVote(registry, b, keccak256("release-b2"), systems[0]);
        }
        // A relayer (not a builder) pays.
        vm.broadcast(DeployConfigs.anvilKey(0));
        registry.attestBatch(votes);
        labels.push("attest_batch3_total");

        _finaliseBySignatures(registry, keccak256("release-b3"), systems, BUILDERS, "finalise_by_sig_1x3");
    }

    function _scenarioBatchFloor() private {
        address[] memory signers = new address[](BUILDERS);
        for (uint32 b; b < BUILDERS; ++b) {
            signers[b] = vm.addr(DeployConfigs.anvilKey(DeployConfigs.FIRST_BUILDER_ACCOUNT + b));
        }
        vm.startBroadcast(DeployConfigs.anvilKey(0));
        FloorLedger ledger = new FloorLedger();
        BatchFloor floor = BatchFloor(
            address(
                new ERC1967Proxy(
                    address(new BatchFloor(ledger)),
                    abi.encodeCall(BatchFloor.setUp, (signers, "x86_64-linux", 3))
                )
            )
        );
        ledger.setWriter(address(floor));
        vm.stopBroadcast();

        ISeedRegistry.SignedVote[] memory votes = new ISeedRegistry.SignedVote[](BUILDERS);
        for (uint32 b; b < BUILDERS; ++b) {
            votes[b] = _signedVote(ISeedRegistry(address(floor)), b, keccak256("release-b2"), "x86_64-linux");
        }
        vm.broadcast(DeployConfigs.anvilKey(0));
        floor.attestBatch(votes);
        labels.push("attest_batch3_floor");
    }

    function _easBaseline() private {
        vm.startBroadcast(DeployConfigs.anvilKey(0));
        SchemaRegistry schemas = new SchemaRegistry();
        EAS eas = new EAS(ISchemaRegistry(address(schemas)));
        bytes32 schema = schemas.register(
            "bytes32 commit,string system,bytes32 manifestDigest,bytes32 imageDigest,bytes32 statementDigest",
            ISchemaResolver(address(0)),
            false
        );
        eas.attest(
            AttestationRequest({
                schema: schema,
                data: AttestationRequestData({
                    recipient: address(0),
                    expirationTime: 0,
                    revocable: false,
                    refUID: bytes32(0),
                    data: abi.encode(
                        keccak256("release-eas"),
                        "x86_64-linux",
                        _digest("manifest", 0),
                        _digest("image", 0),
                        _digest("statement", 0)
                    ),
                    value: 0
                })
            })
        );
        vm.stopBroadcast();
        labels.push("eas_attest");
    }

    /// @dev A deployment like the real one (Safe, timelock, ledger, registry), with the bench's rules.
    function _deployRegistry(uint8 quorum, string[] memory systems) private returns (ISeedRegistry) {
        DeployConfig memory cfg = DeployConfigs.defaults();
        cfg.quorum = quorum;
        cfg.systems = systems;
        cfg.safeSaltNonce = uint256(keccak256(abi.encode(systems, quorum)));
        vm.startBroadcast(DeployConfigs.anvilKey(0));
        Deployment memory d = _deploy(cfg);
        vm.stopBroadcast();
        return ISeedRegistry(address(d.registry));
    }

    /// @dev Every builder votes every system, builder by builder, as each builder's CI job would.
    function _voteAll(ISeedRegistry registry, bytes32 commit, string[] memory systems, string memory label)
        private
    {
        for (uint32 b; b < BUILDERS; ++b) {
            vm.startBroadcast(DeployConfigs.anvilKey(DeployConfigs.FIRST_BUILDER_ACCOUNT + b));
            for (uint256 s; s < systems.length; ++s) {
                registry.attest(
                    commit, systems[s], _digest("manifest", s), _digest("image", b), _digest("statement", b)
                );
                labels.push(label);
            }
            vm.stopBroadcast();
        }
    }

    function _signedVote(ISeedRegistry registry, uint32 builderIndex, bytes32 commit, string memory system)
        private
        view
        returns (ISeedRegistry.SignedVote memory vote)
    {
        uint256 key = DeployConfigs.anvilKey(DeployConfigs.FIRST_BUILDER_ACCOUNT + builderIndex);
        vote = ISeedRegistry.SignedVote({
            signer: vm.addr(key),
            commit: commit,
            system: system,
            manifestDigest: _digest("manifest", 0),
            imageDigest: _digest("image", builderIndex),
            statementDigest: _digest("statement", builderIndex),
            deadline: uint64(block.timestamp + 1 days),
            signature: ""
        });
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, registry.hashVote(vote));
        vote.signature = abi.encodePacked(r, s, v);
    }

    function _digest(string memory kind, uint256 index) private pure returns (bytes32) {
        return keccak256(abi.encode(kind, index));
    }
}
