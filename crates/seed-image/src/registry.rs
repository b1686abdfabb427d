//! The closure of an image in a registry, every blob's digest checked on the
//! same pass as its content is hashed.
//!
//! Blobs stream from the registry (async) into the readers (blocking) through
//! a bounded channel, so a seed of several GB is never in memory: tar layers
//! go straight into [`Layers`]; a squashfs blob is written to an unnamed
//! temporary file as it is hashed, because squashfs needs random access.

use std::io::{self, BufReader, Read, Seek};

use seed_core::Sha256Digest;
use seed_oci::{OciError, RegistryClient, Repository};
use tokio::sync::mpsc::{channel, Receiver};

use crate::{
    format::{Compression, ImageFormat, Layer},
    layers::Layers,
    squashfs, ContentError, DigestReader, ImageClosure,
};

/// How many chunks may wait between the download and the reader.
const CHANNEL_CHUNKS: usize = 16;

/// The closure held by the image `repo@digest`.
pub async fn image_closure(
    client: &RegistryClient,
    repo: &Repository,
    digest: &Sha256Digest,
) -> Result<ImageClosure, ContentError> {
    let what = format!("image {repo}@{digest}");
    let manifest = client.pull_manifest(repo, digest).await.map_err(|error| {
        image_fault(error, |what, reason| ContentError::UnsupportedFormat {
            what,
            reason,
        })
    })?;
    let fields = manifest.fields().map_err(|error| {
        image_fault(error, |what, reason| ContentError::UnsupportedFormat {
            what,
            reason,
        })
    })?;
    let format = ImageFormat::of(&fields, &what)?;
    match format {
        ImageFormat::Squashfs(layer) => {
            let name = layer_name(&layer, &what);
            let copying = name.clone();
            let spool = read_blob(client, repo, &layer, name.clone(), move |blob| {
                let mut spool =
                    tempfile::tempfile().map_err(|e| ContentError::io("a temporary file", e))?;
                io::copy(blob, &mut spool).map_err(|e| ContentError::io(copying, e))?;
                Ok(spool)
            })
            .await?;
            let hashing = name.clone();
            blocking(&hashing, move || {
                let mut spool = spool;
                spool
                    .rewind()
                    .map_err(|e| ContentError::io("a temporary file", e))?;
                squashfs::closure_of_reader(BufReader::new(spool), &name)
            })
            .await
        }
        ImageFormat::TarLayers(layers) => {
            let mut reader = Layers::new();
            for (layer, compression) in layers {
                reader = add_layer(client, repo, reader, layer, compression, &what).await?;
            }
            reader.finish()
        }
    }
}

async fn add_layer(
    client: &RegistryClient,
    repo: &Repository,
    mut reader: Layers,
    layer: Layer,
    compression: Compression,
    what: &str,
) -> Result<Layers, ContentError> {
    let name = layer_name(&layer, what);
    let done = read_blob(client, repo, &layer, name.clone(), move |blob| {
        reader.add(blob, compression, &name)?;
        Ok(reader)
    })
    .await?;
    Ok(done)
}

fn layer_name(layer: &Layer, what: &str) -> String {
    format!("layer {} of {what}", layer.digest)
}

/// Streams the blob of `layer` into `consume` (run on a blocking thread),
/// then checks that what was read, up to the blob's end, hashes to the
/// layer's digest and has its size. `consume`'s result counts only then.
async fn read_blob<T: Send + 'static>(
    client: &RegistryClient,
    repo: &Repository,
    layer: &Layer,
    name: String,
    consume: impl FnOnce(&mut DigestReader<ChannelReader>) -> Result<T, ContentError> + Send + 'static,
) -> Result<T, ContentError> {
    let blob_fault = |error| image_fault(error, |what, limit| ContentError::Limit { what, limit });
    let mut blob = client
        .open_blob(repo, &layer.digest, layer.descriptor.size)
        .await
        .map_err(blob_fault)?;
    let (sender, receiver) = channel(CHANNEL_CHUNKS);
    let digest = layer.digest;
    let size = layer.descriptor.size;
    let blob_name = name.clone();
    let reading = tokio::task::spawn_blocking(move || {
        let mut reader = DigestReader::new(ChannelReader {
            receiver,
            chunk: bytes::Bytes::new(),
        });
        let consumed = consume(&mut reader);
        // Check the digest even when `consume` failed: a corrupt blob is the
        // better explanation for a parse error than the parse error itself.
        let verified = reader.verify_blob(&digest, size, &name);
        match (consumed, verified) {
            (_, Err(mismatch)) => Err(mismatch),
            (consumed, Ok(())) => consumed,
        }
    });
    // A download that fails part-way is the registry's fault (often
    // transient), whatever the truncated content then looked like.
    let mut failure = None;
    while let Some(chunk) = blob.next_chunk().await {
        match chunk {
            Ok(bytes) => {
                // A closed channel: the reader stopped early (an error it reports).
                if sender.send(Ok(bytes)).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                let _ = sender.send(Err(())).await;
                failure = Some(error);
                break;
            }
        }
    }
    drop(sender);
    let result = reading.await.map_err(|e| joined(e, &blob_name))?;
    match (result, failure) {
        (Err(_), Some(error)) => Err(blob_fault(error)),
        (result, _) => result,
    }
}

/// A registry error in the image's terms. `Invalid` means that what the
/// registry holds under a digest is not what the image's manifest says it is
/// (unparseable, not a manifest, bigger than its descriptor): a property of
/// the image that every reader sees alike, so the image is refused (`fault`
/// says how) rather than retried forever. Everything else is the registry's
/// fault, and may pass.
fn image_fault(
    error: OciError,
    fault: impl FnOnce(String, String) -> ContentError,
) -> ContentError {
    match error {
        OciError::Invalid { what, reason } => fault(what, reason),
        other => ContentError::Registry(other),
    }
}

/// A blocking task's end: a panic is a reader bug the image set off, so the
/// image is refused (as every keeper would); a cancellation is the machine's.
fn joined(error: tokio::task::JoinError, what: &str) -> ContentError {
    if error.is_panic() {
        ContentError::ReaderPanic {
            what: what.to_owned(),
        }
    } else {
        ContentError::Build {
            reason: format!("the reading thread of {what} was cancelled: {error}"),
        }
    }
}

/// Runs blocking work (hashing a squashfs) off the async runtime.
async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, ContentError> + Send + 'static,
) -> Result<T, ContentError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| joined(e, what))?
}

/// Reads the chunks a download sends; a failed download is an I/O error.
struct ChannelReader {
    receiver: Receiver<Result<bytes::Bytes, ()>>,
    chunk: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.receiver.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(())) => return Err(io::Error::other("the download failed")),
                // The sender is gone: the blob ended.
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_panic_refuses_the_image() {
        let panicked = tokio::task::spawn_blocking(|| panic!("a reader bug"))
            .await
            .unwrap_err();
        let error = joined(panicked, "layer sha256:… of image x");
        assert!(
            matches!(error, ContentError::ReaderPanic { .. }),
            "{error:?}"
        );
        assert!(error.is_content_fault());
    }
}
