//! What an image holds, for every command that checks image content
//! (`manifest`, `attest`, `verify`): read from a registry, a layout or a file
//! by seed-image, with its failures mapped to exit codes (docs/cli.md).

use seed_chain::ConfigFile;
use seed_image::{oci_layout, registry, squashfs, ContentError, ImageClosure};
use seed_nix::ImageRef;
use seed_oci::Repository;

use super::{chain::block_on, oci::registry_client};
use crate::{exit::ExitCode, output::Failure};

/// Where an image's content comes from.
pub enum Source<'a> {
    /// A squashfs seed file.
    Squashfs(&'a std::path::Path),
    /// An image in an OCI layout directory.
    Layout(&'a str),
    /// An image in a registry.
    Registry(&'a ImageRef),
}

/// Reads the closure of `source`. Content faults are `content_code` (exit 2
/// for `manifest`, where the input is wrong; exit 1 where a check failed);
/// a registry that cannot be reached is exit 3, a file that cannot be read 2.
pub fn closure_of(
    source: &Source<'_>,
    plain_http: &[String],
    file: &ConfigFile,
    content_code: ExitCode,
) -> Result<ImageClosure, Failure> {
    let result = match source {
        Source::Squashfs(path) => squashfs::closure_of_file(path, &path.display().to_string()),
        Source::Layout(layout) => oci_layout::LayoutRef::parse(layout)
            .and_then(|layout| oci_layout::image_closure(&layout))
            .map(|(_, closure)| closure),
        Source::Registry(image) => {
            let client = registry_client(plain_http, file)
                .map_err(|e| Failure::usage(eyre::Report::new(e)))?;
            let repo = Repository::from(*image);
            return block_on(async {
                registry::image_closure(&client, &repo, &image.digest())
                    .await
                    .map_err(|e| content_failure(e, content_code))
            });
        }
    };
    result.map_err(|error| match error {
        // A local file or layout whose bytes are not what its digests say
        // is the input at fault, not a network.
        ContentError::DigestMismatch { .. } => Failure {
            code: content_code,
            error: eyre::Report::new(error),
        },
        error => content_failure(error, content_code),
    })
}

/// The exit code of a content error: the registry failing or serving bytes
/// that are not the blob is exit 3 (retry), bad names, credentials, files or
/// a failed build exit 2, bad content `content_code`.
pub fn content_failure(error: ContentError, content_code: ExitCode) -> Failure {
    let code = match &error {
        ContentError::Registry(e) if e.is_transient() => ExitCode::Network,
        ContentError::Registry(seed_oci::OciError::DigestMismatch { .. }) => content_code,
        ContentError::Registry(_) | ContentError::Path { .. } | ContentError::Io { .. } => {
            ExitCode::Usage
        }
        ContentError::Build { .. } => ExitCode::Usage,
        // The registry served bytes that are not the blob.
        ContentError::DigestMismatch { .. } => ExitCode::Network,
        _ => content_code,
    };
    Failure {
        code,
        error: eyre::Report::new(error),
    }
}
