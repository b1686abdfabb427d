//! Which builders' images a release may promote for one system, in the order
//! they are tried (docs/decisions.md, D-031): one rule, shared by the keeper
//! (what it tags), `seed-eth lock` (what a lock points at), `seed-eth verify`
//! and the keeper's proof of another keeper's verdict.

use std::collections::BTreeMap;

/// The images the *counted* voters (`voters`, the finalisation's bitmap)
/// attested with the finalised `manifest`, in the order a release tries them
/// (docs/decisions.md, D-031): the image the most of them attested first, a
/// tie going to the image of the lowest builder id. Each comes with the lowest
/// builder id that attested it. Votes are `(builder id, manifest digest,
/// image digest)`. The promoted image is the first whose content holds the
/// manifest (D-031, D-045); this order is what makes every keeper reach the
/// same choice from the same chain and registry.
pub fn image_candidates<M: PartialEq, I: Ord + Clone>(
    votes: impl IntoIterator<Item = (u8, M, I)>,
    manifest: &M,
    voters: u64,
) -> Vec<(u8, I)> {
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
    let mut ranked: Vec<(I, (usize, u8))> = by_image.into_iter().collect();
    // More votes first; among equals, the lowest builder first.
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
    ranked
        .into_iter()
        .map(|(image, (_, builder))| (builder, image))
        .collect()
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
        assert_eq!(image_candidates(votes, &"m", 0b110)[0], (1, "i1"));
        // Two of three share an image: it wins although builder 0 is lower.
        let votes = [v(0, "m", "i0"), v(1, "m", "i1"), v(2, "m", "i1")];
        assert_eq!(image_candidates(votes, &"m", 0b111)[0], (1, "i1"));
        // A voter not counted (revoked) is ignored.
        assert_eq!(image_candidates(votes, &"m", 0b001), vec![(0, "i0")]);
        assert!(image_candidates(votes, &"x", 0b111).is_empty());
        // Ids beyond the bitmap never count.
        assert!(image_candidates([v(64, "m", "i")], &"m", u64::MAX).is_empty());
    }

    #[test]
    fn candidates_come_in_the_order_a_release_tries_them() {
        let votes = [
            v(3, "m", "i3"),
            v(0, "m", "i0"),
            v(1, "m", "i1"),
            v(2, "m", "i1"),
            v(4, "m2", "i4"),
        ];
        assert_eq!(
            image_candidates(votes, &"m", 0b11111),
            vec![(1, "i1"), (0, "i0"), (3, "i3")]
        );
    }
}
