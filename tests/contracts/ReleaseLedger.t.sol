// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {ReleaseLedger} from "../../contracts/ReleaseLedger.sol";
import {IReleaseLedger} from "../../contracts/interfaces/IReleaseLedger.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Test} from "forge-std/Test.sol";

contract ReleaseLedgerTest is Test {
    ReleaseLedger internal ledger;
    address internal owner = makeAddr("timelock");
    address internal writer = makeAddr("registry");
    address internal stranger = makeAddr("stranger");

    bytes32 internal constant C1 = bytes32(uint256(0xc1));
    bytes32 internal constant C2 = bytes32(uint256(0xc2));
    bytes32 internal constant R1 = keccak256("root 1");
    bytes32 internal constant R2 = keccak256("root 2");

    function setUp() public {
        ledger = new ReleaseLedger(owner, writer);
    }

    function test_constructor_setsOwnerAndWriter() public {
        assertEq(ledger.owner(), owner);
        assertEq(ledger.writer(), writer);
        vm.expectEmit(true, true, false, false);
        emit IReleaseLedger.WriterChanged(address(0), writer);
        new ReleaseLedger(owner, writer);
    }

    function test_constructor_rejectsZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new ReleaseLedger(address(0), writer);
    }

    function test_constructor_zeroWriterMeansNobodyCanRecord() public {
        ReleaseLedger l = new ReleaseLedger(owner, address(0));
        assertEq(l.writer(), address(0));
        vm.prank(writer);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerUnauthorizedWriter.selector, writer));
        l.record(C1, R1, 1);
    }

    function test_record_storesRootAndEmitsEntry() public {
        vm.expectEmit(true, true, true, true);
        emit IReleaseLedger.ReleaseRecorded(C1, R1, writer, 7);
        vm.prank(writer);
        ledger.record(C1, R1, 7);
        assertEq(ledger.rootOf(C1), R1);
        assertEq(ledger.rootOf(C2), bytes32(0), "other commits untouched");

        vm.expectEmit(true, true, true, true);
        emit IReleaseLedger.ReleaseRecorded(C2, R2, writer, 8);
        vm.prank(writer);
        ledger.record(C2, R2, 8);
        assertEq(ledger.rootOf(C1), R1);
        assertEq(ledger.rootOf(C2), R2);
    }

    /// @notice An entry costs exactly one storage slot: recording writes nothing but the root.
    function test_record_writesOnlyTheRootSlot() public {
        vm.record();
        vm.prank(writer);
        ledger.record(C1, R1, 7);
        (, bytes32[] memory writes) = vm.accesses(address(ledger));
        assertEq(writes.length, 1, "one slot written");
        assertEq(vm.load(address(ledger), writes[0]), R1);
    }

    function test_record_onlyWriter() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerUnauthorizedWriter.selector, stranger));
        ledger.record(C1, R1, 1);
        // The owner is not a writer either.
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerUnauthorizedWriter.selector, owner));
        ledger.record(C1, R1, 1);
        assertEq(ledger.rootOf(C1), bytes32(0));
    }

    function test_record_isWriteOnce() public {
        vm.startPrank(writer);
        ledger.record(C1, R1, 1);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerAlreadyRecorded.selector, C1, R1));
        ledger.record(C1, R2, 2);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerAlreadyRecorded.selector, C1, R1));
        ledger.record(C1, R1, 1);
        vm.stopPrank();
        assertEq(ledger.rootOf(C1), R1);
    }

    function test_record_rejectsZeroCommitOrRoot() public {
        vm.startPrank(writer);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerInvalidEntry.selector, bytes32(0), R1));
        ledger.record(bytes32(0), R1, 1);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerInvalidEntry.selector, C1, bytes32(0)));
        ledger.record(C1, bytes32(0), 1);
        vm.stopPrank();
        assertEq(ledger.rootOf(C1), bytes32(0));
    }

    function test_setWriter_onlyOwner_andHandsOverAppendRight() public {
        address next = makeAddr("registry v2");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        ledger.setWriter(next);
        vm.prank(writer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, writer));
        ledger.setWriter(next);

        vm.expectEmit(true, true, false, false);
        emit IReleaseLedger.WriterChanged(writer, next);
        vm.prank(owner);
        ledger.setWriter(next);
        assertEq(ledger.writer(), next);

        vm.prank(writer);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerUnauthorizedWriter.selector, writer));
        ledger.record(C1, R1, 1);
        vm.prank(next);
        ledger.record(C1, R1, 1);
        assertEq(ledger.rootOf(C1), R1);
    }

    function test_setWriter_rejectsZero() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerInvalidWriter.selector, address(0)));
        ledger.setWriter(address(0));
        assertEq(ledger.writer(), writer);
    }

    function test_newWriterCannotOverwriteHistory() public {
        vm.prank(writer);
        ledger.record(C1, R1, 1);
        address next = makeAddr("registry v2");
        vm.prank(owner);
        ledger.setWriter(next);
        vm.prank(next);
        vm.expectRevert(abi.encodeWithSelector(IReleaseLedger.LedgerAlreadyRecorded.selector, C1, R1));
        ledger.record(C1, R2, 9);
        assertEq(ledger.rootOf(C1), R1);
    }

    function test_ownershipIsTwoStep() public {
        address next = makeAddr("new timelock");
        vm.prank(owner);
        ledger.transferOwnership(next);
        assertEq(ledger.owner(), owner, "not transferred until accepted");
        assertEq(ledger.pendingOwner(), next);
        vm.prank(next);
        ledger.acceptOwnership();
        assertEq(ledger.owner(), next);
    }

    function test_rootOfUnknownCommitIsZero() public view {
        assertEq(ledger.rootOf(C2), bytes32(0));
    }

    function testFuzz_recordRoundTrip(bytes32 commit, bytes32 root, uint32 version) public {
        vm.assume(commit != bytes32(0) && root != bytes32(0));
        vm.expectEmit(true, true, true, true);
        emit IReleaseLedger.ReleaseRecorded(commit, root, writer, version);
        vm.prank(writer);
        ledger.record(commit, root, version);
        assertEq(ledger.rootOf(commit), root);
    }
}
