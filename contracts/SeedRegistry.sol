// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IReleaseLedger} from "./interfaces/IReleaseLedger.sol";
import {ISeedRegistry} from "./interfaces/ISeedRegistry.sol";
import {ReleaseRoot} from "./libraries/ReleaseRoot.sol";
import {
    Ownable2StepUpgradeable
} from "@openzeppelin/contracts-upgradeable/access/Ownable2StepUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {
    EIP712Upgradeable
} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title SeedRegistry
/// @notice Builders, rules and votes of the Zero trust posture. A release (one source commit) finalises in
/// the vote that gives the last required system a manifest digest with `threshold()` distinct active voters;
/// that vote computes the release root and appends it to the write-once `ReleaseLedger`.
/// @dev UUPS implementation behind an ERC-1967 proxy; all state lives in one ERC-7201 namespaced struct.
/// Owner (Ownable2Step) = the governance timelock; it authorises upgrades and every rule change. The guardian
/// may only revoke builders. Storage layout and gas design: docs/contracts-notes.md.
contract SeedRegistry is
    ISeedRegistry,
    Initializable,
    UUPSUpgradeable,
    Ownable2StepUpgradeable,
    EIP712Upgradeable
{
    // ------------------------------------------------------------------ constants

    /// @notice Version of this implementation (deployment files record it).
    string public constant VERSION = "1.1.0";
    /// @notice EIP-712 type hash of a builder vote.
    bytes32 public constant VOTE_TYPEHASH = keccak256(
        "Vote(address signer,bytes32 commit,string system,bytes32 manifestDigest,bytes32 imageDigest,"
        "bytes32 statementDigest,uint64 deadline)"
    );
    /// @notice Builder ids are 0..63 over the registry's lifetime (votes are 64-bit bitmaps).
    uint8 internal constant MAX_BUILDERS = 64;
    /// @notice At most this many required systems (their numbers are packed into the rules word).
    uint256 internal constant MAX_REQUIRED_SYSTEMS = 15;
    /// @notice Independence policy bits: organisation, jurisdiction, infrastructure.
    uint8 internal constant TAG_ORGANISATION = 1;
    uint8 internal constant TAG_JURISDICTION = 2;
    uint8 internal constant TAG_INFRASTRUCTURE = 4;

    /// @dev keccak256(abi.encode(uint256(keccak256("seed-eth.storage.SeedRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 internal constant STORAGE_LOCATION =
        0xaa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100;

    uint8 private constant ALL_TAGS = 7;
    /// @dev Marks a signer record whose key was rotated away: it can never vote or be registered again.
    uint256 private constant RETIRED = 1 << 8;

    // Vote words: per (commit, group) one word holding three 80-bit lanes; the system with number n uses
    // group (n - 1) / 3 and lane (n - 1) % 3. A lane is the voted bitmap (bits 0..63) and flags (64..79).
    uint256 private constant SYSTEMS_PER_WORD = 3;
    uint256 private constant LANE_BITS = 80;
    uint256 private constant LANE_MASK = (1 << 80) - 1;
    uint256 private constant MASK64 = (1 << 64) - 1;
    /// @dev Packed vote (see `_vote`): the digest is the lane's leader.
    uint256 private constant IS_LEADER = 1 << 40;
    /// @dev Lane flag: some builder voted a digest other than the leader; leader voters are in `leaderVoters`.
    uint256 private constant SPLIT = 1;
    /// @dev Lane flag: `altDigest` holds a non-leader digest that reached quorum.
    uint256 private constant ALT = 2;
    /// @dev Word flag: the release is final (set in every word of its required systems).
    uint256 private constant FINAL = 1 << 255;
    /// @dev Vote words per release: 255 system numbers, three per word.
    uint256 private constant GROUPS = 85;
    /// @dev The finalisation stamp (D-050): the number of the block that finalised the release modulo 2^29,
    /// written with FINAL into every word of it at finalisation, in bits 226..254 (lane 2's unused flag bits
    /// and the spare bits below FINAL). Lane flags are read and written back whole, so later votes keep it.
    /// Zero: no stamp (finalised before stamps existed, or at a multiple of 2^29).
    uint256 private constant STAMP_SHIFT = 226;
    uint256 private constant STAMP_MASK = 0x1fffffff;

    // The rules word: active mask (bits 0..63), quorum k (64..71), independence policy (72..79), genesis done
    // (bit 80), some equivocation reported (bit 81), builder count (88..95), rules version (96..127), number of
    // required systems (128..135), then the number of the i-th required system (names ascending) at bits
    // 136 + 8i, up to 15 systems.
    uint256 private constant QUORUM_SHIFT = 64;
    uint256 private constant POLICY_SHIFT = 72;
    uint256 private constant GENESIS_BIT = 1 << 80;
    /// @dev Set by the first `reportEquivocation`: until then no release has equivocators, and finalising reads
    /// none (a cold slot per release saved). Not a rule: it does not bump the rules version.
    uint256 private constant EQUIVOCATION_SEEN = 1 << 81;
    uint256 private constant COUNT_SHIFT = 88;
    uint256 private constant VERSION_SHIFT = 96;
    uint256 private constant COUNT_SYSTEMS_SHIFT = 128;
    uint256 private constant SYSTEMS_SHIFT = 136;

    uint256 private constant _LACKING = 0;
    uint256 private constant _ALL_QUORATE = 1;
    uint256 private constant _FINAL = 2;

    // ------------------------------------------------------------------ storage

    /// @custom:storage-location erc7201:seed-eth.storage.SeedRegistry
    struct RegistryStorage {
        // The rule set, packed in one word (see the rules-word constants): one cold read per vote.
        uint256 rules;
        IReleaseLedger ledger;
        // System numbers 1..systemNumberCount are assigned (packs with `ledger`).
        uint8 systemNumberCount;
        address guardian;
        // signer => (builderId + 1) | RETIRED; 0 = never registered.
        mapping(address signer => uint256) signerRecord;
        mapping(uint256 builderId => BuilderRecord) builders;
        // keccak256(bytes(system)) => permanent system number (1..255, low byte; 0 = never required) and, in
        // the next byte, its index in the required list when last set (checked against the rules word).
        mapping(bytes32 systemId => uint16) systemNumber;
        mapping(uint256 systemNumber => string) systemName;
        // All votes on a release, by commit.
        mapping(bytes32 commit => Release) releases;
    }

    /// @dev The votes on one release (one keccak locates them all). Arrays are indexed by system number
    /// (1..255; index 0 is unused) or by vote-word group.
    struct Release {
        // Vote words: see the vote-word constants above.
        uint256[GROUPS] votes;
        // The first digest voted on each system: its leader.
        bytes32[256] leaderDigest;
        // Voters of the leader, kept only once the lane is SPLIT (otherwise they are the lane's voted bitmap).
        uint64[256] leaderVoters;
        // A non-leader digest that reached quorum without finalising the release (rare: k below a majority,
        // or the leader's voters were revoked).
        bytes32[256] altDigest;
        // Voters of each non-leader digest, by system number.
        mapping(bytes32 digest => uint64[256]) otherVoters;
        // Builders proven to have equivocated on this release (`reportEquivocation`): never counted in it.
        uint64 equivocators;
    }

    /// @dev One required system of a release in `finalise`, and the rules it is counted by.
    struct Ballot {
        bytes32 commit;
        bytes32 systemId;
        bytes32 digest;
        uint256 rules;
        // The EIP-712 domain separator, computed once per call rather than per vote.
        bytes32 domain;
        // The release's equivocators: their votes are refused.
        uint64 equivocators;
        // The system's `Attested` data (`_attestedData`), filled in per vote.
        uint256 data;
    }

    /// @dev A builder's key and independence tags; whether it is active lives in the rules' active mask.
    struct BuilderRecord {
        address signer;
        bytes32 organisation;
        bytes32 jurisdiction;
        bytes32 infrastructure;
    }

    /// @notice The ledger passed to `initialize` is not a contract.
    error InvalidLedger(address ledger);

    // ------------------------------------------------------------------ construction

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Sets up the registry; run by the ERC-1967 proxy constructor, atomically with deployment.
    /// @param owner_ The governance timelock (Ownable2Step owner: upgrades and rule changes).
    /// @param guardian_ May revoke builders without the timelock delay; zero disables the fast path.
    /// @param ledger_ The write-once ledger this registry appends to (its writer must be this proxy).
    /// @param builders_ Initial builders in id order; `active` must be true.
    /// @param quorum_ k, with 1 <= k <= number of builders.
    /// @param systems_ Required systems, strictly ascending bytewise.
    /// @param independencePolicy_ TAG_* bits that must be pairwise distinct among active builders.
    /// @dev EIP712Upgradeable's initializer only stores name and version, which `_EIP712Name` and
    /// `_EIP712Version` return as constants, so it is deliberately not called.
    /// @custom:oz-upgrades-unsafe-allow missing-initializer-call
    function initialize(
        address owner_,
        address guardian_,
        IReleaseLedger ledger_,
        Builder[] calldata builders_,
        uint8 quorum_,
        string[] calldata systems_,
        uint8 independencePolicy_
    ) external initializer {
        __Ownable_init(owner_);
        __Ownable2Step_init();
        if (address(ledger_).code.length == 0) revert InvalidLedger(address(ledger_));

        RegistryStorage storage $ = _s();
        $.ledger = ledger_;
        $.guardian = guardian_;
        emit GuardianChanged(address(0), guardian_);

        uint256 rw = uint256(1) << VERSION_SHIFT; // rules version 1
        if (independencePolicy_ > ALL_TAGS) revert InvalidIndependencePolicy(independencePolicy_);
        rw |= uint256(independencePolicy_) << POLICY_SHIFT;
        emit IndependencePolicyChanged(0, independencePolicy_, 1);

        for (uint256 i; i < builders_.length; ++i) {
            Builder calldata b = builders_[i];
            // casting to 'uint8' is safe because _addBuilder reverts beyond 64 builders
            // forge-lint: disable-next-line(unsafe-typecast)
            if (!b.active) revert BuilderNotActive(uint8(i));
            (rw,) = _addBuilder($, rw, b.signer, b.organisation, b.jurisdiction, b.infrastructure);
        }
        _checkQuorum(rw, quorum_);
        rw |= uint256(quorum_) << QUORUM_SHIFT;
        emit QuorumChanged(0, quorum_, 1);
        $.rules = _setSystems($, rw, systems_);
    }

    // ------------------------------------------------------------------ votes

    /// @notice Votes as the calling builder. Re-submitting an identical vote is a no-op; a different
    /// manifest digest for the same (commit, system) reverts with `ConflictingVote`.
    /// @param commit The release (source commit id); not zero.
    /// @param system A required Nix system name.
    /// @param manifestDigest Closure-manifest digest: what quorum compares; not zero.
    /// @param imageDigest The builder's image digest (recorded in the event only); not zero.
    /// @param statementDigest Digest of the builder's signed in-toto statement (event only); not zero.
    function attest(
        bytes32 commit,
        string calldata system,
        bytes32 manifestDigest,
        bytes32 imageDigest,
        bytes32 statementDigest
    ) external {
        _checkVoteFields(commit, manifestDigest, imageDigest, statementDigest);
        bytes32 systemId = _idOf(system);
        uint256 ctx = _locate(_s(), msg.sender, systemId, system);
        uint256 data = _attestedData(system, manifestDigest, imageDigest, statementDigest);
        _vote(msg.sender, commit, systemId, manifestDigest, ctx, data);
    }

    /// @notice Submits one builder-signed vote (EIP-712); anyone may relay it.
    /// @param vote The vote and its 65-byte signature by `vote.signer` (low-s only).
    function attestBySig(SignedVote calldata vote) external {
        _attestSigned(vote);
    }

    /// @notice Submits several builder-signed votes in one transaction; any invalid vote reverts the batch
    /// (identical re-submissions are no-ops, so a retried batch is safe).
    /// @param votes The signed votes, processed in order.
    function attestBatch(SignedVote[] calldata votes) external {
        if (votes.length == 0) revert EmptyBatch();
        for (uint256 i; i < votes.length; ++i) {
            _attestSigned(votes[i]);
        }
    }

    /// @notice Finalises `commit` from its stored votes and builders' signed votes, in one call (D-055).
    /// Permissionless: the votes carry the builders' authority. With no signed votes it finalises a release
    /// whose stored votes already have quorum but no vote triggered it (a revocation before genesis, a lower k
    /// or a smaller system set made it quorate). Nothing is stored per signed vote: each emits the same
    /// `Attested` event as `attestBySig`, and the release is flagged final and stamped in one vote word.
    /// @param commit The release; not final.
    /// @param manifestDigests The digest per required system, in `requiredSystems()` order.
    /// @param votes Signed votes sorted by (system index, builder id): for each system, with the release's
    /// stored votes for its digest, at least `threshold()` distinct active builders.
    function finalise(bytes32 commit, bytes32[] calldata manifestDigests, CompactVote[] calldata votes)
        external
    {
        (RegistryStorage storage $, Release storage rel, uint256 rw) =
            _openRelease(commit, manifestDigests.length);
        (string[] memory names, uint64[] memory counted) =
            _countAllSigned(rel, rw, commit, manifestDigests, votes);
        // One word carries the final flag and the stamp (`finalisationStamp` reads the first stamped word; the
        // vote path and `finalise` consult the ledger before finalising a word without the flag).
        if ($.ledger.rootOf(commit) != bytes32(0)) revert AlreadyFinalised(commit);
        (uint256 g,) = _slotOf(_systemAt(rw, 0));
        rel.votes[g] |= FINAL | _stamp();
        _record($, rw, commit, names, manifestDigests, counted);
    }

    /// @dev The release of `commit` with the rules it is judged by, for `finalise`.
    function _openRelease(bytes32 commit, uint256 digests)
        private
        view
        returns (RegistryStorage storage $, Release storage rel, uint256 rw)
    {
        if (commit == bytes32(0)) revert InvalidCommit();
        $ = _s();
        rel = $.releases[commit];
        rw = $.rules;
        uint256 count = _systemCountOf(rw);
        if (digests != count) revert LengthMismatch(count, digests);
    }

    /// @dev The stored votes on system number `n` of a release: the voters of `digest` (none for zero) and
    /// every builder that voted on the system. Reverts if the release is flagged final.
    function _storedVotes(Release storage rel, bytes32 commit, uint256 n, bytes32 digest)
        private
        view
        returns (uint256 voters, uint256 voted)
    {
        (uint256 g, uint256 shift) = _slotOf(n);
        uint256 word = rel.votes[g];
        if (word & FINAL != 0) revert AlreadyFinalised(commit);
        uint256 lane = word >> shift;
        voted = lane & MASK64;
        if (voted == 0 || digest == bytes32(0)) return (0, voted);
        voters = digest == rel.leaderDigest[n] ? _leaderVotersOf(rel, n, lane) : rel.otherVoters[digest][n];
    }

    /// @dev For `finalise`: each required system's name and counted voters; reverts unless each has
    /// quorum and every vote was counted in order.
    function _countAllSigned(
        Release storage rel,
        uint256 rw,
        bytes32 commit,
        bytes32[] calldata manifestDigests,
        CompactVote[] calldata votes
    ) private returns (string[] memory names, uint64[] memory counted) {
        names = new string[](manifestDigests.length);
        counted = new uint64[](manifestDigests.length);
        Ballot memory ballot = Ballot(commit, 0, 0, rw, _domainSeparatorV4(), _equivocatorsOf(rel, rw), 0);
        uint256 next = 0; // the first vote not yet counted
        for (uint256 i; i < names.length; ++i) {
            names[i] = _s().systemName[_systemAt(rw, i)];
            ballot.systemId = keccak256(bytes(names[i]));
            ballot.digest = manifestDigests[i];
            ballot.data = _attestedData(names[i], manifestDigests[i]);
            uint256 voters;
            (voters, next) = _countSigned(rel, ballot, i, votes, next);
            if (!_quorate(voters, rw, _thresholdOf(rw))) {
                revert QuorumNotReached(names[i], manifestDigests[i]);
            }
            // casting to 'uint64' is safe because voter bitmaps have 64 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            counted[i] = uint64(voters & rw);
        }
        if (next != votes.length) revert VotesNotSorted(next);
    }

    /// @dev Counts the signed votes on the `i`-th required system (those from `next` on with its index) on
    /// top of its stored voters of the ballot's digest; emits `Attested` for each vote not stored already.
    /// Returns the voters and the first vote of a later system.
    function _countSigned(
        Release storage rel,
        Ballot memory ballot,
        uint256 i,
        CompactVote[] calldata votes,
        uint256 next
    ) private returns (uint256 voters, uint256) {
        if (ballot.digest == bytes32(0)) revert InvalidDigest();
        uint256 voted;
        (voters, voted) = _storedVotes(rel, ballot.commit, _systemAt(ballot.rules, i), ballot.digest);
        voters &= ~uint256(ballot.equivocators);
        uint256 signed; // builders signing this system in the call: ids must ascend
        for (; next < votes.length && votes[next].systemIndex == i; ++next) {
            CompactVote calldata v = votes[next];
            uint256 bit = uint256(1) << v.builderId;
            if (signed >= bit) revert VotesNotSorted(next);
            signed |= bit;
            address signer = _compactSigner(ballot, v);
            if (voters & bit != 0) continue; // stored already: counted once, logged once
            if ((voted | ballot.equivocators) & bit != 0) {
                revert ConflictingVote(ballot.commit, ballot.systemId, v.builderId);
            }
            voters |= bit;
            _logSigned(ballot, signer, v);
        }
        return (voters, next);
    }

    /// @dev `emit Attested` for a compact vote on the ballot, signed by `signer`.
    function _logSigned(Ballot memory ballot, address signer, CompactVote calldata v) private {
        uint256 p = ballot.data;
        bytes32 imageDigest = v.imageDigest;
        bytes32 statementDigest = v.statementDigest;
        assembly ("memory-safe") {
            mstore(add(p, 0x60), imageDigest)
            mstore(add(p, 0x80), statementDigest)
        }
        _logAttested(p, v.builderId, ballot.commit, ballot.systemId, signer);
    }

    /// @dev Authenticates a compact vote on the ballot: its builder is active and signed it with its current
    /// key before the deadline, low-s. Returns that key.
    function _compactSigner(Ballot memory ballot, CompactVote calldata v)
        private
        view
        returns (address signer)
    {
        _requireActive(ballot.rules, v.builderId);
        if (v.imageDigest == bytes32(0) || v.statementDigest == bytes32(0)) revert InvalidDigest();
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > v.deadline) revert SignatureExpired(v.deadline, block.timestamp);
        signer = _s().builders[v.builderId].signer;
        bytes32 hash = MessageHashUtils.toTypedDataHash(
            ballot.domain,
            _voteStructHash(
                signer,
                ballot.commit,
                ballot.systemId,
                ballot.digest,
                v.imageDigest,
                v.statementDigest,
                v.deadline
            )
        );
        // slither-disable-next-line unused-return
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, v.r, v.vs);
        if (err != ECDSA.RecoverError.NoError || recovered != signer) revert InvalidSignature(signer);
    }

    /// @notice Proves that a builder signed two different manifest digests for one (commit, system): from
    /// then on none of its votes counts toward that release, stored or signed (D-055). Permissionless: the two
    /// signatures are the proof. Deadlines do not matter (evidence does not expire); a key rotated away still
    /// answers for what it signed. Reporting a builder already excluded from the release is a no-op.
    /// @param first A signed vote.
    /// @param second A vote by the same key on the same commit and system, for another manifest digest.
    function reportEquivocation(SignedVote calldata first, SignedVote calldata second) external {
        bytes32 systemId = _idOf(first.system);
        if (
            first.signer != second.signer || first.commit != second.commit || systemId != _idOf(second.system)
                || first.manifestDigest == second.manifestDigest
        ) revert NotEquivocation();
        _requireSignedBy(first, systemId);
        _requireSignedBy(second, systemId);
        RegistryStorage storage $ = _s();
        uint256 record = $.signerRecord[first.signer];
        if (record == 0) revert UnknownSigner(first.signer);
        // casting to 'uint8' is safe because records hold builderId + 1 <= 64 in their low byte
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 id = uint8(record - 1);
        Release storage rel = $.releases[first.commit];
        uint64 bit = uint64(1) << id;
        if (rel.equivocators & bit != 0) return;
        rel.equivocators |= bit;
        $.rules |= EQUIVOCATION_SEEN;
        emit Equivocation(first.commit, systemId, id, first.manifestDigest, second.manifestDigest);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Registers a builder; enforces the independence policy against every active builder.
    /// @param signer The builder's key; not zero, never registered before.
    /// @param organisation Organisation tag (opaque id).
    /// @param jurisdiction Jurisdiction tag (opaque id).
    /// @param infrastructure Infrastructure tag (opaque id).
    /// @return builderId The new builder's permanent id.
    function addBuilder(address signer, bytes32 organisation, bytes32 jurisdiction, bytes32 infrastructure)
        external
        onlyOwner
        returns (uint8 builderId)
    {
        RegistryStorage storage $ = _s();
        uint256 rw;
        (rw, builderId) =
            _addBuilder($, _bumpVersion($.rules), signer, organisation, jurisdiction, infrastructure);
        $.rules = rw;
    }

    /// @notice Deactivates a builder at once, removing its weight from every pending release. Callable by
    /// governance (the timelock) and by the guardian. Permanent: the id and key are never reused.
    /// @dev Allowed even when it leaves k above the number of active builders: releases then stall rather
    /// than finalise with less agreement than governance asked for (safety over liveness).
    /// @param builderId The builder to revoke; must be active.
    function revokeBuilder(uint8 builderId) external {
        RegistryStorage storage $ = _s();
        if (msg.sender != owner() && msg.sender != $.guardian) revert NotGovernanceOrGuardian(msg.sender);
        uint256 rw = $.rules;
        _requireActive(rw, builderId);
        rw = _bumpVersion(rw & ~(uint256(1) << builderId));
        $.rules = rw;
        emit BuilderRevoked(builderId, $.builders[builderId].signer, msg.sender, _rulesVersionOf(rw));
    }

    /// @notice Replaces a builder's signing key; the builder keeps its id and its earlier votes. The old key
    /// is retired for good (it can neither vote nor be registered again).
    /// @param builderId An active builder.
    /// @param newSigner The new key; not zero, never registered before.
    function rotateBuilderKey(uint8 builderId, address newSigner) external onlyOwner {
        RegistryStorage storage $ = _s();
        uint256 rw = $.rules;
        _requireActive(rw, builderId);
        _requireFreshSigner($, newSigner);
        address previous = $.builders[builderId].signer;
        $.signerRecord[previous] = RETIRED | (uint256(builderId) + 1);
        $.signerRecord[newSigner] = uint256(builderId) + 1;
        $.builders[builderId].signer = newSigner;
        rw = _bumpVersion(rw);
        $.rules = rw;
        emit BuilderKeyRotated(builderId, previous, newSigner, _rulesVersionOf(rw));
    }

    /// @notice Changes a builder's independence tags; enforces the policy.
    /// @param builderId An active builder.
    /// @param organisation New organisation tag.
    /// @param jurisdiction New jurisdiction tag.
    /// @param infrastructure New infrastructure tag.
    function setBuilderTags(
        uint8 builderId,
        bytes32 organisation,
        bytes32 jurisdiction,
        bytes32 infrastructure
    ) external onlyOwner {
        RegistryStorage storage $ = _s();
        uint256 rw = $.rules;
        _requireActive(rw, builderId);
        _checkIndependence(
            $, _activeOf(rw), _policyOf(rw), builderId, organisation, jurisdiction, infrastructure
        );
        BuilderRecord storage b = $.builders[builderId];
        b.organisation = organisation;
        b.jurisdiction = jurisdiction;
        b.infrastructure = infrastructure;
        rw = _bumpVersion(rw);
        $.rules = rw;
        emit BuilderTagsChanged(builderId, organisation, jurisdiction, infrastructure, _rulesVersionOf(rw));
    }

    /// @notice Sets k; requires 1 <= k <= active builders.
    /// @param quorum_ The new k (used after genesis; genesis needs every active builder).
    function setQuorum(uint8 quorum_) external onlyOwner {
        RegistryStorage storage $ = _s();
        uint256 rw = $.rules;
        _checkQuorum(rw, quorum_);
        uint8 previous = _quorumOf(rw);
        rw = _bumpVersion((rw & ~(uint256(0xff) << QUORUM_SHIFT)) | (uint256(quorum_) << QUORUM_SHIFT));
        $.rules = rw;
        emit QuorumChanged(previous, quorum_, _rulesVersionOf(rw));
    }

    /// @notice Sets the systems every release must cover; strictly ascending (bytewise), no duplicates,
    /// 1..255 bytes each, 1..15 systems. Pending releases are then judged against the new set.
    /// @param systems The required systems.
    function setRequiredSystems(string[] calldata systems) external onlyOwner {
        RegistryStorage storage $ = _s();
        $.rules = _setSystems($, _bumpVersion($.rules), systems);
    }

    /// @notice Sets which tags must be pairwise distinct among active builders (bit 0 organisation,
    /// bit 1 jurisdiction, bit 2 infrastructure); checked against the current active builders.
    /// @param policy The TAG_* bits.
    function setIndependencePolicy(uint8 policy) external onlyOwner {
        if (policy > ALL_TAGS) revert InvalidIndependencePolicy(policy);
        RegistryStorage storage $ = _s();
        uint256 rw = $.rules;
        uint64 active = _activeOf(rw);
        uint256 count = _builderCountOf(rw);
        for (uint256 id; id < count; ++id) {
            if ((active >> id) & 1 == 0) continue;
            BuilderRecord storage b = $.builders[id];
            // Each builder is checked against lower ids only, so each pair is checked once.
            uint64 lower = active & uint64((uint256(1) << id) - 1);
            // casting to 'uint8' is safe because id < builderCount <= 64
            // forge-lint: disable-next-line(unsafe-typecast)
            _checkIndependence($, lower, policy, uint8(id), b.organisation, b.jurisdiction, b.infrastructure);
        }
        uint8 previous = _policyOf(rw);
        rw = _bumpVersion((rw & ~(uint256(0xff) << POLICY_SHIFT)) | (uint256(policy) << POLICY_SHIFT));
        $.rules = rw;
        emit IndependencePolicyChanged(previous, policy, _rulesVersionOf(rw));
    }

    /// @notice Sets the address allowed to revoke builders without the timelock delay.
    /// @param guardian_ The new guardian; zero disables the fast path.
    function setGuardian(address guardian_) external onlyOwner {
        RegistryStorage storage $ = _s();
        emit GuardianChanged($.guardian, guardian_);
        $.guardian = guardian_;
    }

    // ------------------------------------------------------------------ views

    /// @notice The ledger this registry appends to.
    function ledger() external view returns (IReleaseLedger) {
        return _s().ledger;
    }

    /// @notice The address allowed to revoke builders without the timelock delay.
    function guardian() external view returns (address) {
        return _s().guardian;
    }

    /// @notice Version of the rule set; bumped by every change to builders, quorum, systems or policy.
    function rulesVersion() external view returns (uint32) {
        return _rulesVersionOf(_s().rules);
    }

    /// @notice k: votes needed per system after genesis.
    function quorum() external view returns (uint8) {
        return _quorumOf(_s().rules);
    }

    /// @notice Votes needed per system for the next release: all active builders before genesis, else k.
    function threshold() external view returns (uint8) {
        // casting to 'uint8' is safe because the threshold is at most 64
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(_thresholdOf(_s().rules));
    }

    /// @notice Whether a release has been finalised (after which the threshold is k).
    function genesisDone() external view returns (bool) {
        return _s().rules & GENESIS_BIT != 0;
    }

    /// @notice TAG_* bits that must be pairwise distinct among active builders.
    function independencePolicy() external view returns (uint8) {
        return _policyOf(_s().rules);
    }

    /// @notice The required systems, ascending: the leaves of every release root, in order.
    function requiredSystems() external view returns (string[] memory systems) {
        RegistryStorage storage $ = _s();
        uint256 rw = $.rules;
        systems = new string[](_systemCountOf(rw));
        for (uint256 i; i < systems.length; ++i) {
            systems[i] = $.systemName[_systemAt(rw, i)];
        }
    }

    /// @notice Number of builder ids assigned so far (active or revoked).
    function builderCount() external view returns (uint8) {
        return _builderCountOf(_s().rules);
    }

    /// @notice A builder by id; reverts with `UnknownBuilder` for an unassigned id.
    function builder(uint8 builderId) external view returns (Builder memory) {
        RegistryStorage storage $ = _s();
        uint256 rw = $.rules;
        if (builderId >= _builderCountOf(rw)) revert UnknownBuilder(builderId);
        BuilderRecord storage b = $.builders[builderId];
        return Builder({
            signer: b.signer,
            organisation: b.organisation,
            jurisdiction: b.jurisdiction,
            infrastructure: b.infrastructure,
            active: (rw >> builderId) & 1 == 1
        });
    }

    /// @notice The id of the builder whose current key is `signer`; reverts with `UnknownSigner`.
    function builderIdOf(address signer) external view returns (uint8) {
        return _builderIdOf(_s(), signer);
    }

    /// @notice Bitmap of active builders.
    function activeBuilderMask() external view returns (uint64) {
        return uint64(_s().rules);
    }

    /// @notice Bitmap of builders that voted (any digest) on (commit, system).
    function votedMask(bytes32 commit, string calldata system) external view returns (uint64) {
        RegistryStorage storage $ = _s();
        uint256 n = $.systemNumber[_idOf(system)] & 0xff;
        if (n == 0) return 0;
        (uint256 g, uint256 shift) = _slotOf(n);
        // casting to 'uint64' is safe because it extracts the lane's 64-bit voted bitmap
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64($.releases[commit].votes[g] >> shift);
    }

    /// @notice Bitmap of builders that voted `manifestDigest` on (commit, system), active or not.
    function votersFor(bytes32 commit, string calldata system, bytes32 manifestDigest)
        public
        view
        returns (uint64)
    {
        RegistryStorage storage $ = _s();
        uint256 n = $.systemNumber[_idOf(system)] & 0xff;
        if (n == 0 || manifestDigest == bytes32(0)) return 0;
        Release storage rel = $.releases[commit];
        if (rel.leaderDigest[n] == manifestDigest) {
            (uint256 g, uint256 shift) = _slotOf(n);
            // casting to 'uint64' is safe because voter bitmaps have 64 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            return uint64(_leaderVotersOf(rel, n, rel.votes[g] >> shift));
        }
        return rel.otherVoters[manifestDigest][n];
    }

    /// @notice True when `manifestDigest` has `threshold()` active voters on (commit, system), equivocators
    /// not counted.
    function hasQuorum(bytes32 commit, string calldata system, bytes32 manifestDigest)
        external
        view
        returns (bool)
    {
        RegistryStorage storage $ = _s();
        uint256 rw = $.rules;
        uint256 voters = votersFor(commit, system, manifestDigest) & ~uint256($.releases[commit].equivocators);
        return _quorate(voters, rw, _thresholdOf(rw));
    }

    /// @notice Builders proven to have equivocated on `commit` (`reportEquivocation`), whose votes do not count.
    function equivocators(bytes32 commit) external view returns (uint64) {
        return _s().releases[commit].equivocators;
    }

    /// @notice Whether the release has an entry in the ledger.
    function isFinalised(bytes32 commit) external view returns (bool) {
        return _s().ledger.rootOf(commit) != bytes32(0);
    }

    /// @notice The number of the block that finalised `commit`, modulo 2^29 (D-050), so that verifiers read
    /// its events from that block instead of scanning history: the latest block at or before the head with
    /// this remainder, or 2^29 blocks earlier for a release that old. Zero when it is not final, or was
    /// finalised before this implementation (or at a multiple of 2^29): then its events must be searched.
    function finalisationStamp(bytes32 commit) external view returns (uint32 stamp) {
        Release storage rel = _s().releases[commit];
        // The words written when it finalised carry the stamp (a word first voted later is flagged final
        // without one). In assembly to keep the registry small: the words are `votes`, the first member.
        assembly ("memory-safe") {
            for { let g := 0 } lt(g, GROUPS) { g := add(g, 1) } {
                stamp := and(shr(STAMP_SHIFT, sload(add(rel.slot, g))), STAMP_MASK)
                if stamp { break }
            }
        }
    }

    /// @notice The EIP-712 digest a builder signs for `vote` (its `signature` field is ignored).
    function hashVote(SignedVote calldata vote) external view returns (bytes32) {
        return _hashVote(vote, keccak256(bytes(vote.system)));
    }

    /// @notice The release root of sorted `systems` with their `manifestDigests` (the same rule as on-chain).
    function computeRoot(string[] calldata systems, bytes32[] calldata manifestDigests)
        external
        pure
        returns (bytes32)
    {
        return ReleaseRoot.compute(systems, manifestDigests);
    }

    // ------------------------------------------------------------------ internals: votes

    function _attestSigned(SignedVote calldata v) private {
        _checkVoteFields(v.commit, v.manifestDigest, v.imageDigest, v.statementDigest);
        // A deadline is a coarse expiry (hours or days); validator influence over the timestamp is irrelevant.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > v.deadline) revert SignatureExpired(v.deadline, block.timestamp);
        bytes32 systemId = _idOf(v.system);
        _requireSignedBy(v, systemId);
        uint256 ctx = _locate(_s(), v.signer, systemId, v.system);
        uint256 data = _attestedData(v.system, v.manifestDigest, v.imageDigest, v.statementDigest);
        _vote(v.signer, v.commit, systemId, v.manifestDigest, ctx, data);
    }

    /// @dev Reverts unless `v.signature` is `v.signer`'s EIP-712 signature of the vote (low-s).
    function _requireSignedBy(SignedVote calldata v, bytes32 systemId) private view {
        // The third value only details `err`, which already decides.
        // slither-disable-next-line unused-return
        (address recovered, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(_hashVote(v, systemId), v.signature);
        if (err != ECDSA.RecoverError.NoError || recovered != v.signer) revert InvalidSignature(v.signer);
    }

    function _checkVoteFields(
        bytes32 commit,
        bytes32 manifestDigest,
        bytes32 imageDigest,
        bytes32 statementDigest
    ) private pure {
        if (commit == bytes32(0)) revert InvalidCommit();
        if (manifestDigest == bytes32(0) || imageDigest == bytes32(0) || statementDigest == bytes32(0)) {
            revert InvalidDigest();
        }
    }

    /// @dev Records one vote already authenticated as `signer`'s, then finalises the release if this vote
    /// completes it. `ctx` comes from `_locate` and `data` from `_attestedData`.
    ///
    /// The vote travels as one packed word (`res`) rather than a memory struct, which keeps the hot path
    /// short: bits 0..7 builder id, 8..15 system number, 16..23 index among the required systems, 24..39
    /// lane flags after the vote, bit 40 "digest is the leader", 64..127 the lane's voted bitmap before the
    /// vote, 128..191 voters of the digest before the vote, 192..255 voters of the digest after it.
    function _vote(
        address signer,
        bytes32 commit,
        bytes32 systemId,
        bytes32 digest,
        uint256 ctx,
        uint256 data
    ) private {
        (Release storage rel, uint256 word, uint256 res) = _count(_s(), ctx, digest, commit, systemId);
        if (res == 0) return; // identical re-submission: no double count, no event

        _logAttested(data, res, commit, systemId, signer);
        // A digest that some earlier voter did not vote.
        if ((res >> 64) & ~(res >> 128) & MASK64 != 0) {
            // casting to 'uint8' is safe because the low byte of `res` is the builder id
            // forge-lint: disable-next-line(unsafe-typecast)
            emit Disagreement(commit, systemId, uint8(res), digest);
        }
        _settle(rel, _s().rules, word, res, commit, systemId, digest);
    }

    /// @dev Allocates and fills the data of `Attested` except the builder id: (builderId, string offset,
    /// manifest, image, statement, system length, system bytes zero-padded). Returns its memory address.
    function _attestedData(
        string calldata system,
        bytes32 manifestDigest,
        bytes32 imageDigest,
        bytes32 statementDigest
    ) private pure returns (uint256 p) {
        assembly ("memory-safe") {
            p := mload(0x40)
            let padded := and(add(system.length, 31), not(31))
            mstore(0x40, add(p, add(0xc0, padded)))
            mstore(add(p, 0x20), 0xa0)
            mstore(add(p, 0x40), manifestDigest)
            mstore(add(p, 0x60), imageDigest)
            mstore(add(p, 0x80), statementDigest)
            mstore(add(p, add(0xa0, padded)), 0) // zero the padding of the last data word
            mstore(add(p, 0xa0), system.length)
            calldatacopy(add(p, 0xc0), system.offset, system.length)
        }
    }

    /// @dev The data of `Attested` for a system read from storage, image and statement digests left for each
    /// vote to fill in (`_logSigned`). Returns its memory address.
    function _attestedData(string memory system, bytes32 manifestDigest) private pure returns (uint256 p) {
        assembly ("memory-safe") {
            let length := mload(system)
            p := mload(0x40)
            let padded := and(add(length, 31), not(31))
            mstore(0x40, add(p, add(0xc0, padded)))
            mstore(add(p, 0x20), 0xa0)
            mstore(add(p, 0x40), manifestDigest)
            mstore(add(p, add(0xa0, padded)), 0) // zero the padding of the last data word
            mstore(add(p, 0xa0), length)
            mcopy(add(p, 0xc0), add(system, 0x20), length)
        }
    }

    /// @dev `emit Attested(commit, systemId, signer, builderId, ...)` with the data from `_attestedData`.
    function _logAttested(uint256 p, uint256 res, bytes32 commit, bytes32 systemId, address signer) private {
        bytes32 topic = Attested.selector;
        assembly ("memory-safe") {
            mstore(p, and(res, 0xff))
            log4(p, add(0xc0, and(add(mload(add(p, 0xa0)), 31), not(31))), topic, commit, systemId, signer)
        }
    }

    /// @dev keccak256 of a calldata string, without allocating memory.
    function _idOf(string calldata s) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, s.offset, s.length)
            h := keccak256(p, s.length)
        }
    }

    /// @dev Authorises the vote: `signer` is the current key of an active builder and `systemId` a required
    /// system. Returns builder id | system number << 8 | index among the required systems << 16.
    function _locate(RegistryStorage storage $, address signer, bytes32 systemId, string calldata system)
        private
        view
        returns (uint256)
    {
        uint256 rw = $.rules;
        uint256 id = _builderIdOf($, signer);
        // casting to 'uint8' is safe because builder ids are below 64
        // forge-lint: disable-next-line(unsafe-typecast)
        if ((rw >> id) & 1 == 0) revert BuilderNotActive(uint8(id));
        // The system's entry caches its index in the required list; it is only trusted if the rules word
        // agrees (entries of systems no longer required keep stale indices).
        uint256 entry = $.systemNumber[systemId];
        uint256 number = entry & 0xff;
        uint256 index = entry >> 8;
        if (number == 0 || index >= _systemCountOf(rw) || _systemAt(rw, index) != number) {
            revert UnknownSystem(system);
        }
        return id | (number << 8) | (index << 16);
    }

    /// @dev Reads the vote word of the release and adds the vote to the digest's voters (storage writes other
    /// than the word itself happen here). Returns the release, the word as read and the packed vote (see
    /// `_vote`), or `res == 0` for an identical re-submission; reverts `ConflictingVote` if the builder voted
    /// another digest.
    function _count(RegistryStorage storage $, uint256 ctx, bytes32 digest, bytes32 commit, bytes32 systemId)
        private
        returns (Release storage rel, uint256 word, uint256 res)
    {
        rel = $.releases[commit];
        uint256 n = (ctx >> 8) & 0xff;
        uint256 voted;
        uint256 flags;
        {
            (uint256 g, uint256 shift) = _slotOf(n);
            word = rel.votes[g];
            uint256 lane = word >> shift;
            voted = lane & MASK64;
            flags = (lane >> 64) & 0xffff;
        }
        uint256 bit = uint256(1) << (ctx & 0xff);
        uint256 before = 0;
        res = ctx | (voted << 64);
        if (voted == 0) {
            rel.leaderDigest[n] = digest;
            res |= IS_LEADER;
        } else if (rel.leaderDigest[n] == digest) {
            before = flags & SPLIT != 0 ? rel.leaderVoters[n] : voted;
            res |= IS_LEADER;
        }
        if (res & IS_LEADER == 0) before = rel.otherVoters[digest][n];
        if (before & bit != 0) return (rel, word, 0);
        // casting to 'uint8' is safe because the low byte of `ctx` is the builder id
        // forge-lint: disable-next-line(unsafe-typecast)
        if (voted & bit != 0) revert ConflictingVote(commit, systemId, uint8(ctx));

        uint256 voters = before | bit;
        if (res & IS_LEADER != 0) {
            // casting to 'uint64' is safe because voter bitmaps have 64 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            if (flags & SPLIT != 0) rel.leaderVoters[n] = uint64(voters);
        } else {
            if (flags & SPLIT == 0) {
                // First disagreement: everyone who voted so far voted the leader.
                // forge-lint: disable-next-line(unsafe-typecast)
                rel.leaderVoters[n] = uint64(voted);
                flags |= SPLIT;
            }
            // forge-lint: disable-next-line(unsafe-typecast)
            rel.otherVoters[digest][n] = uint64(voters);
        }
        res |= (flags << 24) | (before << 128) | (voters << 192);
    }

    /// @dev Writes the vote word and decides what the vote completes: nothing, the system's quorum, or the
    /// release. Late votes (the release is final) are recorded and never re-finalise.
    function _settle(
        Release storage rel,
        uint256 rw,
        uint256 word,
        uint256 res,
        bytes32 commit,
        bytes32 systemId,
        bytes32 digest
    ) private {
        uint256 thr = _thresholdOf(rw);
        uint256 status = _LACKING;
        uint256 counting = rw;
        bool quorate = word & FINAL == 0 && _quorate(res >> 192, rw, thr);
        if (quorate) {
            // First without equivocators (they only ever remove voters, so this rules out most votes
            // cheaply), then, before finalising, with them.
            status = _scanOthers(rel, rw, word, res, thr);
            if (status == _ALL_QUORATE) {
                counting = _countingRules(rel, rw);
                if (_s().ledger.rootOf(commit) != bytes32(0)) {
                    status = _FINAL;
                } else if (
                    counting != rw
                        && !(_quorate(res >> 192, counting, thr)
                            && _scanOthers(rel, counting, word, res, thr) == _ALL_QUORATE)
                ) {
                    status = _LACKING;
                }
            }
        }
        if (status != _LACKING) {
            word |= FINAL;
        } else if (quorate && !_quorate((res >> 128) & MASK64, rw, thr)) {
            // This vote made the system quorate without completing the release.
            if (res & IS_LEADER == 0) {
                rel.altDigest[(res >> 8) & 0xff] = digest;
                res |= ALT << 24;
            }
            // casting to 'uint64' is safe because voter bitmaps have 64 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            emit SystemQuorumReached(commit, systemId, digest, uint64((res >> 192) & rw));
        }
        _writeLane(rel, word, res);
        if (status == _ALL_QUORATE) _finaliseVote(rel, rw, counting, commit, digest, res);
    }

    /// @dev Stores the vote word with the ballot's lane updated (builder added to the voted bitmap, flags).
    function _writeLane(Release storage rel, uint256 word, uint256 res) private {
        (uint256 g, uint256 shift) = _slotOf((res >> 8) & 0xff);
        uint256 lane = ((res >> 64) & MASK64) | (uint256(1) << (res & 0xff)) | (((res >> 24) & 0xffff) << 64);
        rel.votes[g] = (word & ~(LANE_MASK << shift)) | (lane << shift);
    }

    /// @dev Whether every required system other than the ballot's has a quorate digest (`_ALL_QUORATE`), one
    /// lacks it (`_LACKING`), or the release carries the final flag (`_FINAL`). Starts after the ballot's
    /// system and wraps around (votes tend to arrive in system order, so the first system checked is the one
    /// most likely to lack quorum), and stops at the first lacking system. Voters count by `rw`'s active mask
    /// (`_countingRules`) against threshold `thr`.
    function _scanOthers(Release storage rel, uint256 rw, uint256 word, uint256 res, uint256 thr)
        private
        view
        returns (uint256)
    {
        uint256 count = _systemCountOf(rw);
        uint256 i = (res >> 16) & 0xff;
        (uint256 ownGroup,) = _slotOf((res >> 8) & 0xff);
        for (uint256 k = 1; k < count; ++k) {
            i = i + 1 == count ? 0 : i + 1;
            uint256 n = _systemAt(rw, i);
            uint256 lane;
            {
                (uint256 g, uint256 shift) = _slotOf(n);
                uint256 w = g == ownGroup ? word : rel.votes[g];
                if (w & FINAL != 0) return _FINAL;
                lane = w >> shift;
            }
            (bool ok,,) = _systemQuorum(rel, n, lane, rw, thr);
            if (!ok) return _LACKING;
        }
        return _ALL_QUORATE;
    }

    /// @dev Whether system `n` of a release has a quorate digest, given its lane: the leader, else the
    /// alternative digest; returns that digest's voters and whether it is the alternative. `rw`'s active
    /// mask decides who counts (see `_countingRules`); `thr` is the threshold.
    function _systemQuorum(Release storage rel, uint256 n, uint256 lane, uint256 rw, uint256 thr)
        private
        view
        returns (bool ok, bool alt, uint256 voters)
    {
        voters = _leaderVotersOf(rel, n, lane);
        if (_quorate(voters, rw, thr)) return (true, false, voters);
        if ((lane >> 64) & ALT == 0) return (false, false, voters);
        voters = rel.otherVoters[rel.altDigest[n]][n];
        return (_quorate(voters, rw, thr), true, voters);
    }

    /// @dev The vote completed the release: collects each system's quorate digest and counted voters (the
    /// storage it reads is warm from the scan) and finalises. `counting` is `_countingRules(rel, rw)`.
    function _finaliseVote(
        Release storage rel,
        uint256 rw,
        uint256 counting,
        bytes32 commit,
        bytes32 digest,
        uint256 res
    ) private {
        uint256 count = _systemCountOf(rw);
        bytes32[] memory digests = new bytes32[](count);
        uint64[] memory counted = new uint64[](count);
        uint256 own = (res >> 16) & 0xff;
        uint256 thr = _thresholdOf(rw);
        for (uint256 i; i < count; ++i) {
            uint256 voters;
            if (i == own) {
                digests[i] = digest;
                voters = res >> 192;
            } else {
                (digests[i], voters) = _quorateDigest(rel, _systemAt(rw, i), counting, thr);
            }
            // casting to 'uint64' is safe because voter bitmaps have 64 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            counted[i] = uint64(voters & counting);
        }
        (uint256 ownGroup,) = _slotOf((res >> 8) & 0xff);
        _finalise(_s(), rel, rw, commit, digests, counted, ownGroup);
    }

    /// @dev The quorate digest of system `n` of a release (known to have one) and its voters, counted by `rw`
    /// (see `_systemQuorum`).
    function _quorateDigest(Release storage rel, uint256 n, uint256 rw, uint256 thr)
        private
        view
        returns (bytes32 digest, uint256 voters)
    {
        (uint256 g, uint256 shift) = _slotOf(n);
        bool alt;
        (, alt, voters) = _systemQuorum(rel, n, rel.votes[g] >> shift, rw, thr);
        digest = alt ? rel.altDigest[n] : rel.leaderDigest[n];
    }

    /// @dev Flags every vote word of the release final and stamps it with this block (`ownGroup`, the
    /// ballot's word, was flagged and written just before), then records the release.
    function _finalise(
        RegistryStorage storage $,
        Release storage rel,
        uint256 rw,
        bytes32 commit,
        bytes32[] memory digests,
        uint64[] memory counted,
        uint256 ownGroup
    ) private {
        uint256 stamp = _stamp();
        // The ballot's word, written just before in this call (a dirty slot): add the stamp. In assembly to
        // keep the registry small; `votes` is the first member of `Release`.
        assembly ("memory-safe") {
            let slot := add(rel.slot, ownGroup)
            sstore(slot, or(sload(slot), stamp))
        }
        string[] memory names = new string[](digests.length);
        for (uint256 i; i < names.length; ++i) {
            uint256 n = _systemAt(rw, i);
            names[i] = $.systemName[n];
            (uint256 g,) = _slotOf(n);
            if (g == ownGroup) continue;
            uint256 word = rel.votes[g];
            if (word & FINAL == 0) rel.votes[g] = word | FINAL | stamp;
        }
        _record($, rw, commit, names, digests, counted);
    }

    /// @dev The finalisation stamp of this block, in place in a vote word (D-050).
    function _stamp() private view returns (uint256) {
        return (block.number & STAMP_MASK) << STAMP_SHIFT;
    }

    /// @dev Computes the release root, completes genesis, emits `ReleaseFinalised` and, last, appends the
    /// root to the ledger (checks-effects-interactions). `names` are the required systems, ascending.
    function _record(
        RegistryStorage storage $,
        uint256 rw,
        bytes32 commit,
        string[] memory names,
        bytes32[] memory digests,
        uint64[] memory counted
    ) private {
        bytes32 root = ReleaseRoot.rootUnchecked(names, digests);
        bool genesis = rw & GENESIS_BIT == 0;
        if (genesis) $.rules = rw | GENESIS_BIT;
        uint32 version = _rulesVersionOf(rw);
        emit ReleaseFinalised(commit, root, names, digests, counted, version, genesis);
        $.ledger.record(commit, root, version);
    }

    function _hashVote(SignedVote calldata v, bytes32 systemId) private view returns (bytes32) {
        return _hashTypedDataV4(
            _voteStructHash(
                v.signer, v.commit, systemId, v.manifestDigest, v.imageDigest, v.statementDigest, v.deadline
            )
        );
    }

    /// @dev The EIP-712 struct hash of a `Vote` (the system by its id, as EIP-712 encodes strings):
    /// `keccak256(abi.encode(VOTE_TYPEHASH, signer, ...))`, encoded in scratch memory past the free memory
    /// pointer (nothing is allocated: `finalise` hashes a vote per signature).
    function _voteStructHash(
        address signer,
        bytes32 commit,
        bytes32 systemId,
        bytes32 manifestDigest,
        bytes32 imageDigest,
        bytes32 statementDigest,
        uint64 deadline
    ) private pure returns (bytes32 h) {
        bytes32 typehash = VOTE_TYPEHASH;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, typehash)
            mstore(add(p, 0x20), and(signer, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(p, 0x40), commit)
            mstore(add(p, 0x60), systemId)
            mstore(add(p, 0x80), manifestDigest)
            mstore(add(p, 0xa0), imageDigest)
            mstore(add(p, 0xc0), statementDigest)
            mstore(add(p, 0xe0), and(deadline, 0xffffffffffffffff))
            h := keccak256(p, 0x100)
        }
    }

    /// @dev The release's equivocators, read only once some equivocation was ever reported.
    function _equivocatorsOf(Release storage rel, uint256 rw) private view returns (uint64) {
        return rw & EQUIVOCATION_SEEN == 0 ? 0 : rel.equivocators;
    }

    /// @dev The rules word with the release's equivocators taken out of its active mask: whose votes count
    /// in the release. Only for counting voters (`_quorate`): never for the threshold (an equivocator does not
    /// lower genesis's unanimity, `_thresholdOf` reads the real word) and never stored.
    function _countingRules(Release storage rel, uint256 rw) private view returns (uint256) {
        return rw & ~uint256(_equivocatorsOf(rel, rw));
    }

    /// @dev Voters of the leader digest of system number `n` of a release, given the lane of its vote word.
    function _leaderVotersOf(Release storage rel, uint256 n, uint256 lane) private view returns (uint256) {
        return (lane >> 64) & SPLIT != 0 ? rel.leaderVoters[n] : lane & MASK64;
    }

    /// @dev Vote word index and lane offset of system `number` (>= 1).
    function _slotOf(uint256 number) private pure returns (uint256 group, uint256 shift) {
        unchecked {
            group = (number - 1) / SYSTEMS_PER_WORD;
            shift = LANE_BITS * ((number - 1) % SYSTEMS_PER_WORD);
        }
    }

    // ------------------------------------------------------------------ internals: rules

    function _addBuilder(
        RegistryStorage storage $,
        uint256 rw,
        address signer,
        bytes32 organisation,
        bytes32 jurisdiction,
        bytes32 infrastructure
    ) private returns (uint256, uint8 id) {
        id = _builderCountOf(rw);
        if (id >= MAX_BUILDERS) revert TooManyBuilders();
        _requireFreshSigner($, signer);
        _checkIndependence($, _activeOf(rw), _policyOf(rw), id, organisation, jurisdiction, infrastructure);
        $.builders[id] = BuilderRecord(signer, organisation, jurisdiction, infrastructure);
        $.signerRecord[signer] = uint256(id) + 1;
        // One more builder (the count cannot overflow: it is below 64), active.
        rw = (rw + (uint256(1) << COUNT_SHIFT)) | (uint256(1) << id);
        emit BuilderAdded(id, signer, organisation, jurisdiction, infrastructure, _rulesVersionOf(rw));
        return (rw, id);
    }

    /// @dev Reverts unless builder `id`'s tags are non-zero and distinct from those of every builder in
    /// `others` (excluding `id` itself) for each tag the policy names. A zero tag is reported as a conflict
    /// of the builder with itself.
    function _checkIndependence(
        RegistryStorage storage $,
        uint64 others,
        uint8 policy,
        uint8 id,
        bytes32 organisation,
        bytes32 jurisdiction,
        bytes32 infrastructure
    ) private view {
        if (policy == 0) return;
        _checkTagNonZero(policy, TAG_ORGANISATION, organisation, id);
        _checkTagNonZero(policy, TAG_JURISDICTION, jurisdiction, id);
        _checkTagNonZero(policy, TAG_INFRASTRUCTURE, infrastructure, id);
        others &= ~(uint64(1) << id);
        for (uint8 j; others >> j != 0; ++j) {
            if ((others >> j) & 1 == 0) continue;
            BuilderRecord storage o = $.builders[j];
            if (policy & TAG_ORGANISATION != 0 && o.organisation == organisation) {
                revert IndependenceViolation(id, j, TAG_ORGANISATION);
            }
            if (policy & TAG_JURISDICTION != 0 && o.jurisdiction == jurisdiction) {
                revert IndependenceViolation(id, j, TAG_JURISDICTION);
            }
            if (policy & TAG_INFRASTRUCTURE != 0 && o.infrastructure == infrastructure) {
                revert IndependenceViolation(id, j, TAG_INFRASTRUCTURE);
            }
        }
    }

    function _checkTagNonZero(uint8 policy, uint8 tag, bytes32 value, uint8 id) private pure {
        if (policy & tag != 0 && value == bytes32(0)) revert IndependenceViolation(id, id, tag);
    }

    function _checkQuorum(uint256 rw, uint8 quorum_) private pure {
        // casting to 'uint8' is safe because a popcount of 64 bits is at most 64
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 active = uint8(_popcount(uint64(rw)));
        if (quorum_ == 0 || quorum_ > active) revert QuorumOutOfRange(quorum_, active);
    }

    /// @dev Validates `systems`, assigns permanent numbers to names never required before, returns `rw` with
    /// the numbers packed in and emits `RequiredSystemsChanged` with its rules version.
    function _setSystems(RegistryStorage storage $, uint256 rw, string[] calldata systems)
        private
        returns (uint256)
    {
        uint256 count = systems.length;
        if (count > MAX_REQUIRED_SYSTEMS) revert TooManySystems();
        ReleaseRoot.checkSystems(systems);
        uint256 packed = 0;
        uint256 assigned = $.systemNumberCount;
        for (uint256 i; i < count; ++i) {
            bytes32 systemId = keccak256(bytes(systems[i]));
            uint256 n = $.systemNumber[systemId] & 0xff;
            if (n == 0) {
                if (assigned == type(uint8).max) revert TooManySystems();
                n = ++assigned;
                $.systemName[n] = systems[i];
            }
            // casting to 'uint16' is safe because n < 256 and i < 16
            // forge-lint: disable-next-line(unsafe-typecast)
            $.systemNumber[systemId] = uint16(n | (i << 8));
            packed |= n << (8 * i);
        }
        // casting to 'uint8' is safe because at most 255 numbers are assigned
        // forge-lint: disable-next-line(unsafe-typecast)
        $.systemNumberCount = uint8(assigned);
        rw = (rw & type(uint128).max) | (count << COUNT_SYSTEMS_SHIFT) | (packed << SYSTEMS_SHIFT);
        emit RequiredSystemsChanged(systems, _rulesVersionOf(rw));
        return rw;
    }

    function _requireActive(uint256 rw, uint8 builderId) private pure {
        if (builderId >= _builderCountOf(rw)) revert UnknownBuilder(builderId);
        if ((rw >> builderId) & 1 == 0) revert BuilderNotActive(builderId);
    }

    function _requireFreshSigner(RegistryStorage storage $, address signer) private view {
        if (signer == address(0)) revert InvalidSigner(signer);
        if ($.signerRecord[signer] != 0) revert SignerAlreadyRegistered(signer);
    }

    function _builderIdOf(RegistryStorage storage $, address signer) private view returns (uint8) {
        uint256 rec = $.signerRecord[signer];
        if (rec == 0 || rec & RETIRED != 0) revert UnknownSigner(signer);
        // casting to 'uint8' is safe because records hold builderId + 1 <= 64 below the RETIRED bit
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(rec - 1);
    }

    // ------------------------------------------------------------------ internals: rules word

    function _activeOf(uint256 rw) private pure returns (uint64) {
        // casting to 'uint64' is safe because it extracts the 64-bit active mask
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(rw);
    }

    function _quorumOf(uint256 rw) private pure returns (uint8) {
        // casting to 'uint8' is safe because it extracts the 8-bit quorum field
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(rw >> QUORUM_SHIFT);
    }

    function _policyOf(uint256 rw) private pure returns (uint8) {
        // casting to 'uint8' is safe because it extracts the 8-bit policy field
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(rw >> POLICY_SHIFT);
    }

    function _builderCountOf(uint256 rw) private pure returns (uint8) {
        // casting to 'uint8' is safe because it extracts the 8-bit builder count field
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(rw >> COUNT_SHIFT);
    }

    /// @dev Increments the rules version (it would take 2^32 rule changes to carry into the next field).
    function _bumpVersion(uint256 rw) private pure returns (uint256) {
        unchecked {
            return rw + (uint256(1) << VERSION_SHIFT);
        }
    }

    /// @dev The number of the i-th required system, from the rules word.
    function _systemAt(uint256 rw, uint256 i) private pure returns (uint256) {
        unchecked {
            return (rw >> (SYSTEMS_SHIFT + 8 * i)) & 0xff;
        }
    }

    function _systemCountOf(uint256 rw) private pure returns (uint256) {
        return (rw >> COUNT_SYSTEMS_SHIFT) & 0xff;
    }

    function _rulesVersionOf(uint256 rw) private pure returns (uint32) {
        // casting to 'uint32' is safe because it extracts the 32-bit rules version field
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(rw >> VERSION_SHIFT);
    }

    // ------------------------------------------------------------------ internals: arithmetic and plumbing

    /// @dev Votes needed, from the rules word: every active builder before genesis (unanimity), k afterwards.
    function _thresholdOf(uint256 rw) private pure returns (uint256) {
        // casting to 'uint64' is safe because it extracts the 64-bit active mask
        // forge-lint: disable-next-line(unsafe-typecast)
        return rw & GENESIS_BIT != 0 ? _quorumOf(rw) : _popcount(uint64(rw));
    }

    /// @dev At least `thr` of `voters` are active (`rw` is the rules word: its low 64 bits are the active
    /// mask). A zero threshold (no active builder) never passes.
    function _quorate(uint256 voters, uint256 rw, uint256 thr) private pure returns (bool) {
        return thr != 0 && _popcount(voters & rw & MASK64) >= thr;
    }

    /// @dev Number of set bits of a 64-bit value.
    function _popcount(uint256 x) private pure returns (uint256 c) {
        assembly ("memory-safe") {
            x := sub(x, and(shr(1, x), 0x5555555555555555))
            x := add(and(x, 0x3333333333333333), and(shr(2, x), 0x3333333333333333))
            x := and(add(x, shr(4, x)), 0x0f0f0f0f0f0f0f0f)
            c := shr(56, and(mul(x, 0x0101010101010101), 0xffffffffffffffff))
        }
    }

    /// @dev Only the owner (the timelock) upgrades.
    function _authorizeUpgrade(address) internal override onlyOwner {}

    /// @dev EIP-712 name and version are constants (no storage read per signature).
    function _EIP712Name() internal pure override returns (string memory) {
        return "SeedRegistry";
    }

    function _EIP712Version() internal pure override returns (string memory) {
        return "1";
    }

    function _s() private pure returns (RegistryStorage storage $) {
        assembly ("memory-safe") {
            $.slot := STORAGE_LOCATION
        }
    }
}
