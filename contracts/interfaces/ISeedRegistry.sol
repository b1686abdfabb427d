// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IReleaseLedger} from "./IReleaseLedger.sol";

/// @title ISeedRegistry
/// @notice Builders, rules and votes of the Zero trust posture. A release (one source commit) finalises when
/// every required system has a manifest digest attested by `threshold()` distinct active builders; the
/// registry then appends the release root to the ledger.
///
/// Identifiers: `commit` is the git commit, a SHA-256 object id or a SHA-1 id left-aligned and zero-padded;
/// `system` is a Nix system name ("x86_64-linux"); `systemId = keccak256(bytes(system))`. Builders have
/// stable ids `0..63` assigned at registration and never reused, so vote bitmaps stay meaningful.
interface ISeedRegistry {
    /// @notice A registered builder. The three tags are opaque ids (e.g. keccak256 of a name).
    struct Builder {
        address signer;
        bytes32 organisation;
        bytes32 jurisdiction;
        bytes32 infrastructure;
        bool active;
    }

    /// @notice A builder's vote signed with EIP-712 for submission by anyone (a relayer).
    /// `signer` is the builder key that signed; it is part of the signed struct, so a signature cannot be
    /// replayed as another builder. `deadline` is a unix time after which the signature is refused.
    struct SignedVote {
        address signer;
        bytes32 commit;
        string system;
        bytes32 manifestDigest;
        bytes32 imageDigest;
        bytes32 statementDigest;
        uint64 deadline;
        bytes signature;
    }

    /// @notice A builder's signed `Vote` inside `finalise`, without the fields the call already names:
    /// the signer is builder `builderId`'s current key, the commit is the call's, and the system and manifest
    /// digest are the `systemIndex`-th required system and its digest in the call. The signature is the same
    /// EIP-712 signature `attestBySig` takes, in EIP-2098 compact form (`vs` = s with v - 27 in its top bit).
    struct CompactVote {
        uint8 systemIndex;
        uint8 builderId;
        uint64 deadline;
        bytes32 imageDigest;
        bytes32 statementDigest;
        bytes32 r;
        bytes32 vs;
    }

    // ---------------------------------------------------------------- events

    event BuilderAdded(
        uint8 indexed builderId,
        address indexed signer,
        bytes32 organisation,
        bytes32 jurisdiction,
        bytes32 infrastructure,
        uint32 rulesVersion
    );
    event BuilderRevoked(
        uint8 indexed builderId, address indexed signer, address indexed by, uint32 rulesVersion
    );
    event BuilderKeyRotated(
        uint8 indexed builderId,
        address indexed previousSigner,
        address indexed newSigner,
        uint32 rulesVersion
    );
    event BuilderTagsChanged(
        uint8 indexed builderId,
        bytes32 organisation,
        bytes32 jurisdiction,
        bytes32 infrastructure,
        uint32 rulesVersion
    );
    event QuorumChanged(uint8 previousQuorum, uint8 newQuorum, uint32 rulesVersion);
    event RequiredSystemsChanged(string[] systems, uint32 rulesVersion);
    event IndependencePolicyChanged(uint8 previousPolicy, uint8 newPolicy, uint32 rulesVersion);
    event GuardianChanged(address indexed previousGuardian, address indexed newGuardian);

    /// @notice One builder's vote, with everything an off-chain verifier needs.
    event Attested(
        bytes32 indexed commit,
        bytes32 indexed systemId,
        address indexed signer,
        uint8 builderId,
        string system,
        bytes32 manifestDigest,
        bytes32 imageDigest,
        bytes32 statementDigest
    );
    /// @notice A vote whose manifest digest differs from a digest an earlier voter attested.
    event Disagreement(
        bytes32 indexed commit, bytes32 indexed systemId, uint8 indexed builderId, bytes32 manifestDigest
    );
    /// @notice Builder `builderId` signed both digests for (commit, system): proof that it equivocated. None of
    /// its votes counts toward the release from then on.
    event Equivocation(
        bytes32 indexed commit,
        bytes32 indexed systemId,
        uint8 indexed builderId,
        bytes32 firstDigest,
        bytes32 secondDigest
    );
    /// @notice `manifestDigest` reached the threshold for (commit, system); `voters` is the builder bitmap.
    event SystemQuorumReached(
        bytes32 indexed commit, bytes32 indexed systemId, bytes32 manifestDigest, uint64 voters
    );
    /// @notice The release is final and its root is in the ledger. `systems` are sorted ascending and
    /// `manifestDigests[i]` belongs to `systems[i]`: exactly the leaves of `root`.
    event ReleaseFinalised(
        bytes32 indexed commit,
        bytes32 indexed root,
        string[] systems,
        bytes32[] manifestDigests,
        uint64[] voters,
        uint32 rulesVersion,
        bool genesis
    );

    // ---------------------------------------------------------------- errors

    error UnknownSigner(address signer);
    error BuilderNotActive(uint8 builderId);
    error UnknownBuilder(uint8 builderId);
    error TooManyBuilders();
    error SignerAlreadyRegistered(address signer);
    error InvalidSigner(address signer);
    error IndependenceViolation(uint8 builderId, uint8 conflictingBuilderId, uint8 tag);
    error InvalidIndependencePolicy(uint8 policy);
    error QuorumOutOfRange(uint8 quorum, uint8 activeBuilders);
    error InvalidSystem(string system);
    error SystemsNotSorted(uint256 index);
    error NoRequiredSystems();
    error UnknownSystem(string system);
    error InvalidDigest();
    error InvalidCommit();
    error ConflictingVote(bytes32 commit, bytes32 systemId, uint8 builderId);
    error SignatureExpired(uint64 deadline, uint256 timestamp);
    error InvalidSignature(address expectedSigner);
    error EmptyBatch();
    error NotGovernanceOrGuardian(address caller);
    /// @notice More required systems than fit the packed rule set, or no system number left to assign.
    error TooManySystems();
    /// @notice `systems` and `manifestDigests` differ in length.
    error LengthMismatch(uint256 systems, uint256 manifestDigests);
    /// @notice `finalise`: `manifestDigest` does not have `threshold()` active voters for `system`.
    error QuorumNotReached(string system, bytes32 manifestDigest);
    /// @notice `finalise`: the release already has a ledger entry.
    error AlreadyFinalised(bytes32 commit);
    /// @notice `finalise`: vote `index` is out of order (votes are sorted by system index, then builder
    /// id, each pair at most once) or names no required system.
    error VotesNotSorted(uint256 index);
    /// @notice `reportEquivocation`: the two votes are not one key's votes for two digests of one
    /// (commit, system).
    error NotEquivocation();

    // ---------------------------------------------------------------- builder votes

    /// @notice Votes as the calling builder. Re-submitting an identical vote is a no-op; a different
    /// manifest digest for the same (commit, system) reverts with `ConflictingVote`.
    function attest(
        bytes32 commit,
        string calldata system,
        bytes32 manifestDigest,
        bytes32 imageDigest,
        bytes32 statementDigest
    ) external;

    /// @notice Submits one builder-signed vote (EIP-712); anyone may relay it.
    function attestBySig(SignedVote calldata vote) external;

    /// @notice Submits several builder-signed votes in one transaction.
    function attestBatch(SignedVote[] calldata votes) external;

    /// @notice Finalises `commit` from its stored votes and builders' signed votes in one call, storing no
    /// signed vote: the `Attested` events and `ReleaseFinalised` are the record, as on the vote-by-vote path.
    /// With no signed votes it publishes a release that stored votes made quorate without a vote triggering
    /// it (a revocation before genesis, a lower k or a smaller system set). `manifestDigests[i]` is the
    /// digest for `requiredSystems()[i]`; each needs `threshold()` distinct active builders counting the
    /// release's stored votes for it and the signed `votes`, sorted by (system index, builder id). A builder
    /// whose stored vote on that system is another digest is refused (`ConflictingVote`); one whose stored
    /// vote is the same digest counts once.
    function finalise(bytes32 commit, bytes32[] calldata manifestDigests, CompactVote[] calldata votes)
        external;

    /// @notice Proves, with two signed votes, that a builder signed two manifest digests for one
    /// (commit, system); none of its votes counts toward that release from then on.
    function reportEquivocation(SignedVote calldata first, SignedVote calldata second) external;

    // ---------------------------------------------------------------- governance

    /// @notice Registers a builder; enforces the independence policy against every active builder.
    function addBuilder(address signer, bytes32 organisation, bytes32 jurisdiction, bytes32 infrastructure)
        external
        returns (uint8 builderId);

    /// @notice Deactivates a builder at once, removing its weight from every pending release. Callable by
    /// governance (the timelock) and by the guardian (the fast path: it only removes power).
    function revokeBuilder(uint8 builderId) external;

    /// @notice Replaces a builder's signing key; the builder keeps its id and its earlier votes.
    function rotateBuilderKey(uint8 builderId, address newSigner) external;

    /// @notice Changes a builder's independence tags; enforces the policy.
    function setBuilderTags(
        uint8 builderId,
        bytes32 organisation,
        bytes32 jurisdiction,
        bytes32 infrastructure
    ) external;

    /// @notice Sets k; requires 1 <= k <= active builders.
    function setQuorum(uint8 newQuorum) external;

    /// @notice Sets the systems every release must cover; strictly ascending (bytewise), no duplicates.
    function setRequiredSystems(string[] calldata systems) external;

    /// @notice Sets which tags must be pairwise distinct among active builders (bit 0 organisation,
    /// bit 1 jurisdiction, bit 2 infrastructure); checked against the current builders.
    function setIndependencePolicy(uint8 policy) external;

    /// @notice Sets the address allowed to revoke builders without the timelock delay.
    function setGuardian(address newGuardian) external;

    // ---------------------------------------------------------------- views

    function ledger() external view returns (IReleaseLedger);
    function guardian() external view returns (address);
    function rulesVersion() external view returns (uint32);
    function quorum() external view returns (uint8);
    /// @notice Votes needed per system for the next release: all active builders before genesis, else k.
    function threshold() external view returns (uint8);
    function genesisDone() external view returns (bool);
    function independencePolicy() external view returns (uint8);
    function requiredSystems() external view returns (string[] memory);
    function builderCount() external view returns (uint8);
    function builder(uint8 builderId) external view returns (Builder memory);
    /// @notice The id of the builder whose current key is `signer`; reverts with `UnknownSigner`.
    function builderIdOf(address signer) external view returns (uint8);
    function activeBuilderMask() external view returns (uint64);
    /// @notice Bitmap of builders that voted (any digest) on (commit, system).
    function votedMask(bytes32 commit, string calldata system) external view returns (uint64);
    /// @notice Bitmap of builders that voted `manifestDigest` on (commit, system), active or not.
    function votersFor(bytes32 commit, string calldata system, bytes32 manifestDigest)
        external
        view
        returns (uint64);
    /// @notice True when `manifestDigest` has `threshold()` active voters on (commit, system), equivocators
    /// not counted.
    function hasQuorum(bytes32 commit, string calldata system, bytes32 manifestDigest)
        external
        view
        returns (bool);
    /// @notice Builders proven to have equivocated on `commit`, whose votes do not count toward it.
    function equivocators(bytes32 commit) external view returns (uint64);
    function isFinalised(bytes32 commit) external view returns (bool);
    /// @notice The block that finalised `commit`, modulo 2^29; zero when not final, or not stamped (D-050).
    function finalisationStamp(bytes32 commit) external view returns (uint32);
    /// @notice The EIP-712 digest a builder signs for `vote` (its `signature` field is ignored).
    function hashVote(SignedVote calldata vote) external view returns (bytes32);
    /// @notice The release root of sorted `systems` with their `manifestDigests` (the same rule as on-chain).
    function computeRoot(string[] calldata systems, bytes32[] calldata manifestDigests)
        external
        pure
        returns (bytes32);
}
