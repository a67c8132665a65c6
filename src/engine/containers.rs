//! Looking at containers outside a run's own flow: a lab's hosts by label (for `ls`, `login` and
//! `verify`), and a command's output in a throwaway container of an image (`images list`).

use std::time::Duration;

use bollard;
use bollard::query_parameters::RemoveContainerOptions;

use super::{run_labels, Engine, RUN_LABEL};
use crate::errors::{Error, Result};

impl Engine {
    /// The hosts of run `run_id` on the engine: (host name, container name, state), by host name.
    pub async fn hosts_of(&self, run_id: &str) -> Result<Vec<(String, String, String)>> {
        let (containers, _) = self.labelled(format!("{RUN_LABEL}={run_id}")).await?;
        let mut hosts: Vec<(String, String, String)> = containers
            .into_iter()
            .filter_map(|c| {
                // Containers of a run that are not hosts (a lab's name claim) carry no host label.
                let host = c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("journal-lab.host").cloned())?;
                let name = c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string();
                let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                Some((host, name, state))
            })
            .collect();
        hosts.sort();
        Ok(hosts)
    }

    /// What `command` prints in a throwaway container of `image` (no network, no systemd):
    /// labelled as a run of this process, removed afterwards, bounded by `deadline`.
    /// What a container printed (stdout and stderr), as text; empty if the engine will not say.
    pub async fn output_log(&self, id: &str) -> String {
        use bollard::query_parameters::LogsOptions;
        use futures::StreamExt;
        let mut logs = self.docker.logs(
            id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let mut text = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&chunk.to_string());
        }
        text
    }

    pub async fn output_of(
        &self,
        image: &str,
        command: &[&str],
        deadline: Duration,
    ) -> Result<String> {
        use bollard::models::{ContainerCreateBody, HostConfig};
        use bollard::query_parameters::WaitContainerOptions;
        use futures::StreamExt;
        let run_id = format!("probe-{}", std::process::id());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(command.iter().map(|c| c.to_string()).collect()),
            labels: Some(run_labels(&run_id, false).into_iter().collect()),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let what = format!("`{}` in {image}", command.join(" "));
        let id = self
            .docker
            .create_container(None, body)
            .await
            .map_err(Error::docker(format!("creating a container for {what}")))?
            .id;
        let result = async {
            self.docker
                .start_container(&id, None)
                .await
                .map_err(Error::docker(format!("starting {what}")))?;
            let mut waited = self.docker.wait_container(
                &id,
                Some(WaitContainerOptions {
                    condition: "not-running".into(),
                }),
            );
            let _ = tokio::time::timeout(deadline, waited.next()).await;
            Ok(self.output_log(&id).await)
        }
        .await;
        let _ = self
            .docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await;
        result
    }
}
