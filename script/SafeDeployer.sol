// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {Vm} from "forge-std/Vm.sol";

/// @notice The slice of Safe 1.4.1 that deployment and governance use. The Safe itself is the published
/// npm artefact of safe-contracts 1.4.1 (built by Safe with solc 0.7.6); we never compile its sources.
interface ISafe {
    function setup(
        address[] calldata owners,
        uint256 threshold,
        address to,
        bytes calldata data,
        address fallbackHandler,
        address paymentToken,
        uint256 payment,
        address payable paymentReceiver
    ) external;

    function execTransaction(
        address to,
        uint256 value,
        bytes calldata data,
        uint8 operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address payable refundReceiver,
        bytes memory signatures
    ) external payable returns (bool success);

    function getTransactionHash(
        address to,
        uint256 value,
        bytes calldata data,
        uint8 operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address refundReceiver,
        uint256 nonce
    ) external view returns (bytes32);

    function approveHash(bytes32 hashToApprove) external;
    function approvedHashes(address owner, bytes32 hash) external view returns (uint256);
    function nonce() external view returns (uint256);
    function getThreshold() external view returns (uint256);
    function getOwners() external view returns (address[] memory);
    function isOwner(address owner) external view returns (bool);
    function VERSION() external view returns (string memory);
}

/// @notice Safe 1.4.1's proxy factory: `createProxyWithNonce` deploys a proxy and runs `setup` in the same
/// transaction, so nobody can front-run the Safe's initialisation.
interface ISafeProxyFactory {
    function createProxyWithNonce(address singleton, bytes memory initializer, uint256 saltNonce)
        external
        returns (address proxy);
}

/// @notice Addresses of the Safe 1.4.1 singleton, proxy factory and fallback handler.
struct SafeInfra {
    address singleton;
    address factory;
    address fallbackHandler;
}

/// @title SafeDeployer
/// @notice Deploys the real Safe 1.4.1 from its published hardhat artefacts (creation bytecode as shipped in the npm
/// package safe-contracts, `build/artifacts`), then Safe proxies with atomic `setup`. Used by
/// `script/Deploy.s.sol` and by the tests, so both run exactly the same bytecode.
library SafeDeployer {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    string internal constant ARTIFACTS =
        "node_modules/@safe-global/safe-contracts/build/artifacts/contracts/";
    string internal constant SINGLETON_ARTIFACT = "Safe.sol/Safe.json";
    string internal constant FACTORY_ARTIFACT = "proxies/SafeProxyFactory.sol/SafeProxyFactory.json";
    string internal constant FALLBACK_HANDLER_ARTIFACT =
        "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json";

    /// @notice The Safe version this helper deploys and the governance layer expects.
    string internal constant VERSION = "1.4.1";

    error SafeDeploymentFailed(string artifact);
    error SafeVersionMismatch(string found);

    /// @notice Deploys singleton, proxy factory and compatibility fallback handler with plain CREATE from the
    /// calling contract (under `vm.startBroadcast` that is the broadcasting account).
    function deployInfra() internal returns (SafeInfra memory infra) {
        infra.singleton = _create(SINGLETON_ARTIFACT);
        infra.factory = _create(FACTORY_ARTIFACT);
        infra.fallbackHandler = _create(FALLBACK_HANDLER_ARTIFACT);
        string memory version = ISafe(infra.singleton).VERSION();
        if (keccak256(bytes(version)) != keccak256(bytes(VERSION))) revert SafeVersionMismatch(version);
    }

    /// @notice Creates a Safe proxy owned by `owners` with `threshold`, initialised in the same transaction.
    function deploySafe(SafeInfra memory infra, address[] memory owners, uint256 threshold, uint256 saltNonce)
        internal
        returns (ISafe safe)
    {
        bytes memory initializer = abi.encodeCall(
            ISafe.setup,
            (owners, threshold, address(0), "", infra.fallbackHandler, address(0), 0, payable(address(0)))
        );
        safe = ISafe(
            ISafeProxyFactory(infra.factory).createProxyWithNonce(infra.singleton, initializer, saltNonce)
        );
    }

    function _create(string memory artifact) private returns (address deployed) {
        bytes memory code = VM.getCode(string.concat(ARTIFACTS, artifact));
        assembly ("memory-safe") {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        if (deployed == address(0) || deployed.code.length == 0) revert SafeDeploymentFailed(artifact);
    }
}

/// @notice One Safe signer: its address (for sorting) and key (for `vm.sign`). Test and demo use only.
struct SafeSigner {
    address addr;
    uint256 key;
}

/// @title SafeSigning
/// @notice Builds real Safe 1.4.1 signatures: ECDSA over `getTransactionHash` (the EIP-712 `SafeTx` digest),
/// concatenated in ascending owner order as `checkNSignatures` requires.
library SafeSigning {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint8 internal constant CALL = 0;

    /// @notice The SafeTx hash of a plain CALL (no refund, no gas price) at the Safe's current nonce.
    function txHash(ISafe safe, address to, bytes memory data) internal view returns (bytes32) {
        return safe.getTransactionHash(to, 0, data, CALL, 0, 0, 0, address(0), address(0), safe.nonce());
    }

    /// @notice Signs `hash` with every signer, sorted by signer address (the input order does not matter).
    function sign(SafeSigner[] memory signers, bytes32 hash) internal pure returns (bytes memory signatures) {
        SafeSigner[] memory sorted = sortByAddress(signers);
        for (uint256 i; i < sorted.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = VM.sign(sorted[i].key, hash);
            signatures = abi.encodePacked(signatures, r, s, v);
        }
    }

    /// @notice Signs and executes a CALL from `safe`; reverts with the Safe's own error when it refuses.
    function exec(ISafe safe, SafeSigner[] memory signers, address to, bytes memory data)
        internal
        returns (bool success)
    {
        bytes memory signatures = sign(signers, txHash(safe, to, data));
        return safe.execTransaction(to, 0, data, CALL, 0, 0, 0, address(0), payable(address(0)), signatures);
    }

    /// @notice Executes with caller-supplied signature bytes (for tests of malformed or unsorted signatures).
    function execWith(ISafe safe, address to, bytes memory data, bytes memory signatures)
        internal
        returns (bool success)
    {
        return safe.execTransaction(to, 0, data, CALL, 0, 0, 0, address(0), payable(address(0)), signatures);
    }

    function sortByAddress(SafeSigner[] memory signers) internal pure returns (SafeSigner[] memory sorted) {
        sorted = new SafeSigner[](signers.length);
        for (uint256 i; i < signers.length; ++i) {
            sorted[i] = signers[i];
        }
        for (uint256 i = 1; i < sorted.length; ++i) {
            SafeSigner memory cur = sorted[i];
            uint256 j = i;
            while (j > 0 && sorted[j - 1].addr > cur.addr) {
                sorted[j] = sorted[j - 1];
                --j;
            }
            sorted[j] = cur;
        }
    }
}
