//! Reaching an engine: DOCKER_HOST's, or one a lab names (`--engine NAME=URL`), checked to
//! answer, and what it says about itself (where it runs, whether it remaps users).

use bollard::Docker;

use super::{Engine, PING_DEADLINE};
use crate::errors::{Error, Result};

impl Engine {
    /// Connects to the engine named by DOCKER_HOST (or the local default socket) and checks it
    /// answers, so that "no engine" is reported once, up front, with the fix.
    pub async fn connect() -> Result<Engine> {
        let endpoint = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        Engine::connect_to("default", &endpoint).await
    }

    /// Connects to the engine at `url` (`unix:///PATH`, `tcp://HOST:PORT`), called `name` in
    /// the lab, and checks it answers.
    pub async fn connect_to(name: &str, url: &str) -> Result<Engine> {
        let endpoint = url.to_string();
        // Never a credential in a message: the engine is named by its URL without them.
        let unreachable = |reason: String| Error::EngineUnreachable {
            endpoint: crate::domain::engine_url::shown(url),
            reason: crate::domain::engine_url::hide_in(&reason, url),
        };
        let docker = if let Some(path) = url.strip_prefix("unix://") {
            Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
        } else if url.starts_with("tcp://") || url.starts_with("http://") {
            Docker::connect_with_http(url, 120, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(unreachable(
                "not a unix:// or tcp:// URL (forward a remote engine's socket over SSH)".into(),
            ));
        }
        .map_err(|e| unreachable(e.to_string()))?;
        match tokio::time::timeout(PING_DEADLINE, docker.ping()).await {
            Ok(Ok(_)) => Ok(Engine {
                docker,
                endpoint,
                name: name.to_string(),
            }),
            Ok(Err(e)) => Err(unreachable(e.to_string())),
            Err(_) => Err(unreachable(format!(
                "no answer to a ping within {}s",
                PING_DEADLINE.as_secs()
            ))),
        }
    }

    /// Its name in the lab.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the engine runs on this machine (it calls itself by this machine's hostname), so
    /// that the machine's root can enter its containers' namespaces.
    pub async fn is_on_this_machine(&self) -> bool {
        let Ok(info) = self.docker.info().await else {
            return false;
        };
        let here = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        info.name.is_some_and(|name| name == here.trim())
    }

    /// Whether the engine maps a container's root to an unprivileged user of the machine
    /// (`userns-remap`, or a rootless engine): only then is root in a lab host not the machine's
    /// root. An engine that does not say counts as not remapping.
    pub async fn remaps_users(&self) -> bool {
        let Ok(info) = self.docker.info().await else {
            return false;
        };
        info.security_options
            .unwrap_or_default()
            .iter()
            .any(|option| option.contains("name=userns") || option.contains("name=rootless"))
    }
}
