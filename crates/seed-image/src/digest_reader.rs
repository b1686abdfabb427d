//! A reader that checks, as it reads, that a blob is the one its digest names.

use std::io::{self, Read};

use seed_core::Sha256Digest;
use sha2::{Digest, Sha256};

use crate::ContentError;

/// Hashes everything read through it; [`DigestReader::verify`] then says
/// whether the bytes were the blob the digest names. Content is checked on the
/// same pass as it is hashed, so a blob is read once.
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> DigestReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            read: 0,
        }
    }

    /// Reads what is left (a tar stream ends before its blob does: padding)
    /// and checks the digest. `what` names the blob in the error.
    pub fn verify(mut self, expected: &Sha256Digest, what: &str) -> Result<u64, ContentError> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| ContentError::io(what, e))?;
        let actual: [u8; 32] = self.hasher.finalize().into();
        if actual != expected.as_b256().0 {
            return Err(ContentError::DigestMismatch {
                what: what.to_owned(),
                expected: expected.to_string(),
                actual: format!("sha256:{}", hex::encode(actual)),
            });
        }
        Ok(self.read)
    }

    /// [`DigestReader::verify`] for a blob an image descriptor names: the
    /// bytes must also be as many as the descriptor says (a descriptor that
    /// misstates its blob makes the image invalid, whoever serves it).
    pub fn verify_blob(
        self,
        expected: &Sha256Digest,
        size: u64,
        what: &str,
    ) -> Result<(), ContentError> {
        let read = self.verify(expected, what)?;
        if read != size {
            return Err(ContentError::Limit {
                what: what.to_owned(),
                limit: format!("the blob is {read} bytes, not the {size} its descriptor says"),
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}
