//! Reading a tiled log (C2SP tlog-tiles, as Rekor v2 serves it) as a witness
//! needs it. A tiled log serves no proofs: it serves its newest signed
//! checkpoint and the hash tiles of its tree. A consistency proof to a tree
//! it signed is built from those tiles by `tlog_tiles` (Cloudflare's port of
//! Go's sumdb/tlog, the reference the format comes from), which first
//! authenticates every tile it reads against that tree's root. The proof is
//! then verified like any other ([`crate::proof`]).
//!
//! A log that cannot serve the tiles of a tree it signed (a 4xx), or serves
//! tiles that do not hash to that tree's root, cannot prove the tree:
//! [`LogError::Refused`], which the witness turns into an alarm. A 5xx, a
//! timeout or a malformed tile is only [`LogError::Unavailable`].

use std::{cell::RefCell, collections::HashMap};

use tlog_tiles::{prove_tree, Error as TlogError, Hash, Tile, TileHashReader, TileReader};

use crate::log::{get, http_client, LogError};

/// The tile height C2SP tlog-tiles fixes: 256 hashes per full tile.
const TILE_HEIGHT: u8 = 8;

/// Bytes of one hash in a tile.
const HASH_BYTES: usize = 32;

/// A tiled log's read API under `prefix` (`<prefix>/checkpoint`,
/// `<prefix>/tile/<L>/<N>[.p/<W>]`); for Rekor v2, the log's URL with
/// `/api/v2`.
#[derive(Debug, Clone)]
pub struct TiledLog {
    prefix: String,
    http: reqwest::Client,
}

impl TiledLog {
    /// The tiled log served under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
            http: http_client(),
        }
    }

    /// Its URL prefix.
    pub fn url(&self) -> &str {
        &self.prefix
    }

    /// Its newest signed checkpoint (`GET <prefix>/checkpoint`).
    pub async fn checkpoint(&self) -> Result<Vec<u8>, LogError> {
        get(&self.http, &format!("{}/checkpoint", self.prefix)).await
    }

    /// The consistency proof from `old` leaves to the tree of `new` leaves
    /// whose root is `new_root`, built from tiles authenticated against
    /// that root.
    pub async fn consistency(
        &self,
        old: u64,
        new: u64,
        new_root: [u8; 32],
    ) -> Result<Vec<[u8; 32]>, LogError> {
        let refused = |reason: String| LogError::Refused {
            url: self.prefix.clone(),
            reason,
        };
        if old == 0 || old > new {
            return Err(refused(format!(
                "no consistency proof from size {old} to size {new}"
            )));
        }
        // tlog_tiles reads synchronously: a first pass names the tiles the
        // proof needs, they are fetched, and a second pass builds it.
        let wanted = {
            let wanted = Tiles::default();
            match prove_tree(new, old, &TileHashReader::new(new, Hash(new_root), &wanted)) {
                Err(TlogError::InvalidTile) => {}
                Ok(proof) => return Ok(proof.into_iter().map(|hash| hash.0).collect()),
                Err(error) => return Err(refused(error.to_string())),
            }
            wanted.requested.into_inner()
        };
        let mut data = HashMap::new();
        for tile in wanted {
            let hashes = self.fetch(&tile).await?;
            data.insert(tile, hashes);
        }
        let fetched = Tiles {
            data,
            requested: RefCell::default(),
        };
        let reader = TileHashReader::new(new, Hash(new_root), &fetched);
        match prove_tree(new, old, &reader) {
            Ok(proof) => Ok(proof.into_iter().map(|hash| hash.0).collect()),
            Err(TlogError::InconsistentTile) => Err(refused(format!(
                "its tiles do not hash to the root of the tree of size {new} it signed"
            ))),
            Err(error) => Err(refused(format!(
                "no proof from size {old} to size {new}: {error}"
            ))),
        }
    }

    /// One tile's hashes. A log may drop a partial tile once the full one
    /// exists (tlog-tiles), so a partial tile that is gone is read from
    /// the full tile's prefix.
    async fn fetch(&self, tile: &Tile) -> Result<Vec<u8>, LogError> {
        let width = tile.width() as usize;
        let url = format!("{}/{}", self.prefix, c2sp_path(tile));
        let data = match get(&self.http, &url).await {
            Err(LogError::Refused { .. }) if width < 1 << TILE_HEIGHT => {
                let full = Tile::new(
                    TILE_HEIGHT,
                    tile.level(),
                    tile.level_index(),
                    1 << TILE_HEIGHT,
                    false,
                );
                let mut data =
                    get(&self.http, &format!("{}/{}", self.prefix, c2sp_path(&full))).await?;
                data.truncate(width * HASH_BYTES);
                data
            }
            other => other?,
        };
        if data.len() != width * HASH_BYTES {
            return Err(LogError::Unavailable {
                url,
                reason: format!(
                    "the tile has {} bytes, not {} hashes of {HASH_BYTES}",
                    data.len(),
                    width
                ),
            });
        }
        Ok(data)
    }
}

/// A tile's path as C2SP tlog-tiles writes it. `tlog_tiles` writes Go
/// sumdb's, which carries the height (`tile/8/L/N`); tlog-tiles fixes the
/// height at 8 and drops it (`tile/L/N`).
fn c2sp_path(tile: &Tile) -> String {
    let sumdb = tile.path();
    let prefix = format!("tile/{TILE_HEIGHT}/");
    format!("tile/{}", sumdb.strip_prefix(&prefix).unwrap_or(&sumdb))
}

/// Tiles for `TileHashReader`: those fetched, and those it asked for that
/// were not (it asks for all of one read at once).
#[derive(Default)]
struct Tiles {
    data: HashMap<Tile, Vec<u8>>,
    requested: RefCell<Vec<Tile>>,
}

impl TileReader for Tiles {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
        let found: Option<Vec<Vec<u8>>> = tiles
            .iter()
            .map(|tile| self.data.get(tile).cloned())
            .collect();
        found.ok_or_else(|| {
            self.requested.borrow_mut().extend_from_slice(tiles);
            TlogError::InvalidTile
        })
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_c2sp_paths() {
        assert_eq!(c2sp_path(&Tile::new(8, 0, 0, 256, false)), "tile/0/000");
        assert_eq!(
            c2sp_path(&Tile::new(8, 1, 1_234_067, 7, false)),
            "tile/1/x001/x234/067.p/7"
        );
    }
}
