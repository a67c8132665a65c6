//! Moving bytes between an engine and this process, or between two engines: a host's files
//! copied out, an image copied to another engine of the lab.

use futures::StreamExt;

use super::Engine;
use crate::errors::{Error, Result};

impl Engine {
    /// Copies `reference` from `source` to this engine (the engine's `save` streamed into
    /// `load`), unless this engine has it already.
    pub async fn copy_image_from(&self, source: &Engine, reference: &str) -> Result<()> {
        if self.docker.inspect_image(reference).await.is_ok() {
            return Ok(());
        }
        let context = format!(
            "copying image {reference} from engine {} to engine {}",
            source.name, self.name
        );
        let saved = source.docker.export_image(reference);
        let mut loaded = self.docker.import_image_stream(
            bollard::query_parameters::ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            saved.map(|chunk| chunk.map_err(std::io::Error::other)),
            None,
        );
        while let Some(step) = loaded.next().await {
            let step = step.map_err(Error::docker(context.clone()))?;
            if let Some(error) = step.error_detail.and_then(|d| d.message) {
                return Err(Error::InvalidSettings(format!("{context}: {error}")));
            }
        }
        self.docker
            .inspect_image(reference)
            .await
            .map(drop)
            .map_err(Error::docker(context))
    }

    /// Writes a tar archive of `path` in `container` (the engine's `docker cp` out) to `into`,
    /// at most `limit` bytes: a bigger one is an error rather than a full disk.
    pub async fn download(
        &self,
        container: &str,
        path: &str,
        into: &mut std::fs::File,
        limit: u64,
    ) -> Result<()> {
        use bollard::query_parameters::DownloadFromContainerOptions;
        use std::io::Write;
        let options = DownloadFromContainerOptions {
            path: path.to_string(),
        };
        let mut stream = self
            .docker
            .download_from_container(container, Some(options));
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(Error::docker(format!("copying {path} out of {container}")))?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(Error::InvalidSettings(format!(
                    "{path} in {container} is larger than {} MiB; not copied",
                    limit / (1024 * 1024)
                )));
            }
            into.write_all(&chunk).map_err(|source| Error::Io {
                action: "writing the archive of",
                path: path.into(),
                source,
            })?;
        }
        Ok(())
    }
}
