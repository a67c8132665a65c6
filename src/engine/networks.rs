//! Removing a run's network, and telling a network the engine will not let go of from one that
//! is still in use. Docker 20.10, after forced container removals under load, can keep an
//! endpoint of a container it has already removed: the network then lists no container, every
//! removal answers "has active endpoints", `network disconnect -f` answers "endpoint not found",
//! and only restarting the engine frees it. Such a network holds nothing of the run; it is
//! reported as stale (which, why, and the fix) instead of failing the run or `clean`.

use std::time::{Duration, Instant};

use bollard::errors::Error as DockerError;

use super::Engine;
use crate::errors::{Error, Result};

/// How long a network may answer "active endpoints" while listing no container before it is
/// judged stale: the engine updates its endpoint count within a moment of a removal (under
/// load, well under a second, measured), so a few seconds tell a stale endpoint from a late one.
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// How long a network may stay in use (with containers listed on it) before removing it fails.
pub const REMOVAL_DEADLINE: Duration = Duration::from_secs(30);

/// What became of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// The engine keeps a stale endpoint on it (see the module's comment): the reason, in words.
    Stale(String),
}

/// What the fix is, for people: said wherever a stale network is reported.
pub const STALE_FIX: &str =
    "it is the engine's own stale state (Docker 20.10 after forced removals) and holds no \
     container: leave it, or restart the engine to free it (`systemctl restart docker`)";

/// Tries to remove a network until it is gone, detaching what it lists between tries; a network
/// that says it is in use while listing nothing for [`STALE_AFTER`] is [`Removal::Stale`].
/// `remove` answers None when the network is gone, or the engine's "in use" message; `detach`
/// detaches what the network lists and says how many containers that was.
pub async fn remove_until_gone<R, RF, D, DF>(
    name: &str,
    mut remove: R,
    mut detach: D,
    deadline: Duration,
    stale_after: Duration,
) -> Result<Removal>
where
    R: FnMut() -> RF,
    RF: std::future::Future<Output = Result<Option<String>>>,
    D: FnMut() -> DF,
    DF: std::future::Future<Output = usize>,
{
    let start = Instant::now();
    let mut empty_since: Option<Instant> = None;
    let mut delay = Duration::from_millis(50);
    loop {
        let Some(message) = remove().await? else {
            return Ok(Removal::Removed);
        };
        let listed = detach().await;
        if listed > 0 {
            empty_since = None;
        } else if empty_since.get_or_insert_with(Instant::now).elapsed() >= stale_after {
            return Ok(Removal::Stale(format!(
                "the engine answers \"{message}\" but lists no container on network {name}"
            )));
        }
        if start.elapsed() >= deadline {
            return Err(Error::Timeout {
                what: format!("network {name} to have no endpoints left, to remove it"),
                waited: start.elapsed(),
                last_seen: format!("{message}; {listed} container(s) still listed on it"),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

impl Engine {
    /// Removes a run's network (see [`remove_until_gone`]) by its id: Docker 20.10 keeps two
    /// networks of one name, and then refuses to remove either by the name ("ambiguous").
    pub async fn remove_network(&self, id: &str, name: &str) -> Result<Removal> {
        remove_until_gone(
            name,
            || async move {
                match self.docker.remove_network(id).await {
                    Ok(())
                    | Err(DockerError::DockerResponseServerError {
                        status_code: 404, ..
                    }) => Ok(None),
                    Err(DockerError::DockerResponseServerError {
                        status_code: 403,
                        message,
                    }) if message.contains("active endpoints") => Ok(Some(message)),
                    Err(e) => Err(Error::docker(format!("removing network {name}"))(e)),
                }
            },
            || self.detach_listed(name),
            REMOVAL_DEADLINE,
            STALE_AFTER,
        )
        .await
    }

    /// Force-disconnects every container still listed on network `name` (best effort; every
    /// container of a run's network was the run's and is gone or going); how many it listed.
    async fn detach_listed(&self, name: &str) -> usize {
        let Ok(network) = self.docker.inspect_network(name, None).await else {
            return 0;
        };
        let listed = network.containers.unwrap_or_default();
        let count = listed.len();
        for (id, endpoint) in listed {
            let target = endpoint.name.unwrap_or(id);
            let _ = self.set_connected(&target, name, false).await;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const IN_USE: &str = "error while removing network: network jl-x id 1234 has active endpoints";

    /// The engine's answers, one per try: Some(containers listed) while "in use", None once gone.
    async fn against(answers: &[Option<usize>], deadline: Duration) -> Result<Removal> {
        let tries = AtomicUsize::new(0);
        let answer = |n: usize| answers[n.min(answers.len() - 1)];
        remove_until_gone(
            "jl-x",
            || {
                let n = tries.fetch_add(1, Ordering::SeqCst);
                async move { Ok(answer(n).map(|_| IN_USE.to_string())) }
            },
            || {
                let n = tries.load(Ordering::SeqCst) - 1;
                async move { answer(n).unwrap_or(0) }
            },
            deadline,
            Duration::from_millis(120),
        )
        .await
    }

    #[tokio::test]
    async fn a_network_whose_containers_leave_is_removed() {
        assert_eq!(
            against(&[None], Duration::from_secs(5)).await.unwrap(),
            Removal::Removed
        );
        // Late endpoints, then the engine lets go.
        let late = [Some(2), Some(1), Some(0), None];
        assert_eq!(
            against(&late, Duration::from_secs(5)).await.unwrap(),
            Removal::Removed
        );
    }

    #[tokio::test]
    async fn in_use_with_no_container_listed_is_stale_and_not_an_error() {
        let removal = against(&[Some(0)], Duration::from_secs(5)).await.unwrap();
        let Removal::Stale(reason) = removal else {
            panic!("{removal:?}")
        };
        assert!(
            reason.contains("has active endpoints") && reason.contains("jl-x"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn containers_that_never_leave_are_a_timeout_that_says_so() {
        let err = against(&[Some(3)], Duration::from_millis(300))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("network jl-x") && text.contains("3 container(s)"),
            "{text}"
        );
    }
}
