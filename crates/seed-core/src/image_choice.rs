//! Which builder's image a release promotes for one system (docs/decisions.md,
//! D-031): one rule, shared by the keeper (what it tags), `seed-eth lock`
//! (what a lock points at) and the keeper's proof of another keeper's verdict.

use std::collections::BTreeMap;

/// Among the votes of the *counted* voters (`voters`, the finalisation's
/// bitmap) for the finalised `manifest`, the image digest the most of them
/// attested; a tie goes to the image of the lowest builder id. Returns that
/// builder and the image, or `None` without any such vote. Votes are
/// `(builder id, manifest digest, image digest)`.
pub fn promoted_image<M: PartialEq, I: Ord + Clone>(
    votes: impl IntoIterator<Item = (u8, M, I)>,
    manifest: &M,
    voters: u64,
) -> Option<(u8, I)> {
    // image -> (count, lowest builder)
    let mut by_image: BTreeMap<I, (usize, u8)> = BTreeMap::new();
    for (builder, voted, image) in votes {
        if voted != *manifest || builder >= 64 || voters & (1u64 << builder) == 0 {
            continue;
        }
        let entry = by_image.entry(image).or_insert((0, builder));
        entry.0 += 1;
        entry.1 = entry.1.min(builder);
    }
    by_image
        .into_iter()
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
        .map(|(image, (_, builder))| (builder, image))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(
        builder: u8,
        manifest: &'static str,
        image: &'static str,
    ) -> (u8, &'static str, &'static str) {
        (builder, manifest, image)
    }

    #[test]
    fn the_plurality_image_of_counted_voters_wins_ties_to_the_lowest_builder() {
        // Builder 0 voted another manifest; 1 and 2 agree on the manifest
        // with different images: tie, lowest builder (1) wins.
        let votes = [v(0, "m2", "i0"), v(1, "m", "i1"), v(2, "m", "i2")];
        assert_eq!(promoted_image(votes, &"m", 0b110), Some((1, "i1")));
        // Two of three share an image: it wins although builder 0 is lower.
        let votes = [v(0, "m", "i0"), v(1, "m", "i1"), v(2, "m", "i1")];
        assert_eq!(promoted_image(votes, &"m", 0b111), Some((1, "i1")));
        // A voter not counted (revoked) is ignored.
        assert_eq!(promoted_image(votes, &"m", 0b001), Some((0, "i0")));
        assert_eq!(promoted_image(votes, &"x", 0b111), None);
        // Ids beyond the bitmap never count.
        assert_eq!(promoted_image([v(64, "m", "i")], &"m", u64::MAX), None);
    }
}
