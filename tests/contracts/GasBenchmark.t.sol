// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ISeedRegistry} from "../../contracts/interfaces/ISeedRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {console} from "forge-std/console.sol";

/// @notice A call to this contract costs at least 21,000 gas only when forge runs calls as transactions.
contract GasProbe {
    event Ping();

    function ping() external {
        emit Ping();
    }
}

/// @title GasBenchmark
/// @notice The gas goals of issue 3, measured per transaction. Run with `--isolate` so that every call from
/// the test is its own transaction (cold accounts and slots, committed storage, 21,000 base gas and calldata
/// included): `script/foundry forge test --isolate --match-contract GasBenchmark -vv`. The budgets are asserted
/// only under `--isolate`; without it forge runs the whole test as one transaction and the numbers are
/// meaningless (everything is warm), so the test then checks behaviour only.
contract GasBenchmark is RegistryFixture {
    uint256 internal constant ATTEST_MIDDLE_BUDGET = 55_000;
    uint256 internal constant BATCH3_BUDGET = 140_000;
    uint256 internal constant RELEASE_3X4_BUDGET = 800_000;

    bytes32 internal constant GENESIS = bytes32(uint256(0x6e6e));
    bytes32 internal constant RELEASE = bytes32(uint256(0xabcdef));

    bool internal isolated;
    GasProbe internal gasProbe;

    function setUp() public {
        gasProbe = new GasProbe();
    }

    /// @dev Under --isolate a top-level call from a test is a transaction, so its gas includes the 21,000
    /// base cost (forge does not isolate calls made in setUp).
    function _detectIsolation() internal {
        gasProbe.ping();
        isolated = vm.lastCallGas().gasTotalUsed >= 21_000;
        console.log("isolated", isolated);
    }

    function _gas() internal view returns (uint256) {
        return vm.lastCallGas().gasTotalUsed;
    }

    function _report(string memory name, uint256 value) internal pure {
        console.log(name, value);
    }

    /// @notice 3 builders, k = 2, 4 required systems, after genesis: all 12 votes of one release, builder
    /// by builder. attest_first, attest_middle (median of the 11 non-finalising votes), attest_finalising and
    /// release_3x4_total.
    function test_gas_release3x4_builderMajor() public {
        _detectIsolation();
        _deploy(3, 2, _systems4(), 7);
        _genesis(3, GENESIS, _systems4());
        string[] memory systems = _systems4();

        uint256[] memory nonFinal = new uint256[](11);
        uint256 nNonFinal;
        uint256 total;
        uint256 finalising;
        for (uint256 b; b < 3; ++b) {
            for (uint256 s; s < 4; ++s) {
                bool wasFinal = registry.isFinalised(RELEASE);
                _attest(b, RELEASE, systems[s], _digest(systems[s], 7));
                uint256 g = _gas();
                total += g;
                if (!wasFinal && registry.isFinalised(RELEASE)) finalising = g;
                else nonFinal[nNonFinal++] = g;
                if (b == 0 && s == 0) _report("attest_first", g);
                console.log("vote builder/system/gas", b * 10 + s, g);
            }
        }
        assertTrue(registry.isFinalised(RELEASE), "release finalised");
        assertEq(nNonFinal, 11, "exactly one vote finalised");
        uint256 middle = _median(nNonFinal, nonFinal);
        _report("attest_middle", middle);
        _report("attest_finalising", finalising);
        _report("release_3x4_total", total);
        if (isolated) {
            assertLe(middle, ATTEST_MIDDLE_BUDGET, "attest_middle budget");
            assertLe(total, RELEASE_3X4_BUDGET, "release_3x4_total budget");
        }
    }

    /// @notice The same release, system by system (A, B, C on the first system, then the next).
    function test_gas_release3x4_systemMajor() public {
        _detectIsolation();
        _deploy(3, 2, _systems4(), 7);
        _genesis(3, GENESIS, _systems4());
        string[] memory systems = _systems4();

        uint256[] memory nonFinal = new uint256[](11);
        uint256 nNonFinal;
        uint256 total;
        uint256 finalising;
        for (uint256 s; s < 4; ++s) {
            for (uint256 b; b < 3; ++b) {
                bool wasFinal = registry.isFinalised(RELEASE);
                _attest(b, RELEASE, systems[s], _digest(systems[s], 7));
                uint256 g = _gas();
                total += g;
                if (!wasFinal && registry.isFinalised(RELEASE)) finalising = g;
                else nonFinal[nNonFinal++] = g;
            }
        }
        assertTrue(registry.isFinalised(RELEASE), "release finalised");
        uint256 middle = _median(nNonFinal, nonFinal);
        _report("system-major attest_middle", middle);
        _report("system-major attest_finalising", finalising);
        _report("system-major release_3x4_total", total);
        if (isolated) {
            assertLe(middle, ATTEST_MIDDLE_BUDGET, "attest_middle budget");
            assertLe(total, RELEASE_3X4_BUDGET, "release_3x4_total budget");
        }
    }

    /// @notice One relayed EIP-712 vote: the first vote on a (commit, system) and a later one.
    function test_gas_attestBySig() public {
        _detectIsolation();
        _deploy(3, 2, _systems4(), 7);
        _genesis(3, GENESIS, _systems4());
        uint64 deadline = uint64(block.timestamp + 1 hours);
        registry.attestBySig(_vote(0, RELEASE, X86_64_LINUX, _digest("m", 1), deadline));
        _report("attest_by_sig (first vote)", _gas());
        registry.attestBySig(_vote(1, RELEASE, X86_64_LINUX, _digest("m", 1), deadline));
        _report("attest_by_sig (quorum, not final)", _gas());
        registry.attestBySig(_vote(2, RELEASE, X86_64_LINUX, _digest("m", 1), deadline));
        _report("attest_by_sig (third)", _gas());
        assertEq(registry.votersFor(RELEASE, X86_64_LINUX, _digest("m", 1)), 7);
    }

    /// @notice Three signed votes finalising a 1-system release in one transaction (3 builders, k = 2,
    /// after genesis): the second vote finalises, the third is a late confirmation.
    function test_gas_batch3_k2() public {
        _detectIsolation();
        _deploy(3, 2, _systems1(), 7);
        _genesis(3, GENESIS, _systems1());
        uint256 g = _batch3();
        _report("attest_batch3_total (k=2)", g);
        if (isolated) assertLe(g, BATCH3_BUDGET, "attest_batch3_total budget");
    }

    /// @notice The same with k = 3, so the third vote finalises.
    function test_gas_batch3_k3() public {
        _detectIsolation();
        _deploy(3, 3, _systems1(), 7);
        _genesis(3, GENESIS, _systems1());
        uint256 g = _batch3();
        _report("attest_batch3_total (k=3)", g);
        if (isolated) assertLe(g, BATCH3_BUDGET, "attest_batch3_total budget");
    }

    /// @notice The same as the genesis release (first ledger entry, unanimity).
    function test_gas_batch3_genesis() public {
        _detectIsolation();
        _deploy(3, 2, _systems1(), 7);
        uint256 g = _batch3();
        _report("attest_batch3_total (genesis)", g);
    }

    function _batch3() internal returns (uint256 g) {
        uint64 deadline = uint64(block.timestamp + 1 hours);
        ISeedRegistry.SignedVote[] memory votes = new ISeedRegistry.SignedVote[](3);
        for (uint256 i; i < 3; ++i) {
            votes[i] = _vote(i, RELEASE, X86_64_LINUX, _digest("m", 1), deadline);
        }
        registry.attestBatch(votes);
        g = _gas();
        assertTrue(registry.isFinalised(RELEASE), "batch finalised the release");
        assertEq(registry.votedMask(RELEASE, X86_64_LINUX), 7, "all three votes recorded");
    }

    function _median(uint256 n, uint256[] memory xs) internal pure returns (uint256) {
        for (uint256 i = 1; i < n; ++i) {
            uint256 x = xs[i];
            uint256 j = i;
            while (j > 0 && xs[j - 1] > x) {
                xs[j] = xs[j - 1];
                --j;
            }
            xs[j] = x;
        }
        return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
    }
}
