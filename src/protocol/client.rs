//! The host-side HTTPS client: posts catalog requests to journal-remote's `/upload` at a port the
//! lab published on 127.0.0.1, under the server's own name (resolved to that address, so the
//! certificate's SAN check is real), with a client certificate of our choosing or none.
//!
//! It sends to 127.0.0.1 and nowhere else: the address is fixed here, proxies from the
//! environment are ignored and redirects are not followed.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::catalog::{Request, Transfer};

/// The only address the client sends to.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Longest answer kept from the server.
const ANSWER_LIMIT: usize = 300;

/// What the client trusts and presents.
#[derive(Clone)]
pub struct Tls {
    /// The CA that issued the server's certificate (the only root the client trusts).
    pub ca_pem: String,
    /// Certificate and private key, PEM, one after the other; None: no client certificate.
    pub identity: Option<String>,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the host-side protocol client: {0}")]
pub struct ClientError(String);

/// What came of one request (or of a set of idle connections), as observed by the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The start of the server's answer.
    pub answer: String,
    /// What went wrong on the way, if anything (TLS, a closed connection, the deadline).
    pub error: Option<String>,
    pub millis: u64,
    /// Bytes of body handed to the connection.
    pub bytes: u64,
    /// Idle connections: how many were opened, and the statuses seen, as `status×count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
}

pub struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    /// A client for `https://<server_name>:<port>/upload`, `server_name` resolving to 127.0.0.1.
    pub fn new(server_name: &str, port: u16, tls: &Tls) -> Result<Client, ClientError> {
        let error = |what: &str, e: reqwest::Error| ClientError(format!("{what}: {}", chain(&e)));
        let ca = reqwest::Certificate::from_pem(tls.ca_pem.as_bytes())
            .map_err(|e| error("reading the CA certificate", e))?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .resolve(server_name, SocketAddr::from((LOOPBACK, port)))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .http1_only()
            // Every request on a connection of its own: idle ones must be distinct connections,
            // and a send must not inherit a connection a malformed one left in a bad state.
            .pool_max_idle_per_host(0)
            .connect_timeout(Duration::from_secs(10));
        if let Some(pem) = &tls.identity {
            let identity = reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|e| error("reading the client certificate", e))?;
            builder = builder.identity(identity);
        }
        Ok(Client {
            http: builder.build().map_err(|e| error("TLS setup", e))?,
            url: format!("https://{server_name}:{port}/upload"),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `request`, giving up after `deadline` (past its own pacing).
    pub async fn send(&self, request: &Request, deadline: Duration) -> Outcome {
        let start = Instant::now();
        let mut outcome = match &request.transfer {
            Transfer::Idle { connections, hold } => {
                self.idle(request, *connections, *hold, deadline).await
            }
            Transfer::Drip(pace) => self.post(request, deadline + *pace, Some(*pace)).await,
            _ => self.post(request, deadline, None).await,
        };
        outcome.millis = start.elapsed().as_millis() as u64;
        outcome
    }

    /// One POST of the request's body, delivered as the request says.
    async fn post(&self, request: &Request, deadline: Duration, drip: Option<Duration>) -> Outcome {
        let body = request.body.clone();
        let len = body.len() as u64;
        let mut builder = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, request.content_type);
        if let Some(encoding) = request.encoding {
            builder = builder.header(reqwest::header::CONTENT_ENCODING, encoding.name());
        }
        builder = match (&request.transfer, drip) {
            (_, Some(pace)) => builder
                .header(reqwest::header::CONTENT_LENGTH, len)
                .body(reqwest::Body::wrap_stream(dripped(body, pace))),
            (Transfer::Chunked(size), _) => {
                let chunks: Vec<Result<Bytes, std::io::Error>> = body
                    .chunks(*size)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                builder.body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            }
            (Transfer::Announced(extra), _) => {
                let once = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(body))]);
                builder
                    .header(reqwest::header::CONTENT_LENGTH, len + extra)
                    .body(reqwest::Body::wrap_stream(once))
            }
            _ => builder.body(body),
        };
        let mut outcome = Outcome {
            bytes: len,
            ..Outcome::default()
        };
        match tokio::time::timeout(deadline, async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, response.text().await.unwrap_or_default()))
        })
        .await
        {
            Ok(Ok((status, answer))) => {
                outcome.status = Some(status);
                outcome.answer = answer.trim().chars().take(ANSWER_LIMIT).collect();
            }
            Ok(Err(e)) => outcome.error = Some(chain(&e)),
            Err(_) => {
                outcome.error = Some(format!(
                    "no answer within {}s (deadline)",
                    deadline.as_secs()
                ))
            }
        }
        outcome
    }

    /// `connections` requests that send their headers and then nothing, held for `hold`, then
    /// dropped; the outcome counts the answers that came anyway.
    async fn idle(
        &self,
        request: &Request,
        connections: u32,
        hold: Duration,
        deadline: Duration,
    ) -> Outcome {
        let held = (0..connections).map(|_| {
            let body = futures::stream::once(async move {
                tokio::time::sleep(hold).await;
                Err::<Bytes, std::io::Error>(std::io::Error::other("held, then dropped"))
            });
            let call = self
                .http
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, request.content_type)
                .body(reqwest::Body::wrap_stream(body))
                .send();
            async move {
                match tokio::time::timeout(hold + deadline, call).await {
                    Ok(Ok(response)) => Ok(response.status().as_u16()),
                    Ok(Err(e)) => Err(root_cause(&e)),
                    Err(_) => Err("no answer within the deadline".to_string()),
                }
            }
        });
        let results = futures::future::join_all(held).await;
        let mut tally = std::collections::BTreeMap::<String, u32>::new();
        for result in &results {
            let key = match result {
                Ok(status) => format!("HTTP {status}"),
                Err(e) => e.clone(),
            };
            *tally.entry(key).or_default() += 1;
        }
        Outcome {
            status: None,
            answer: tally
                .iter()
                .map(|(k, n)| format!("{n}× {k}"))
                .collect::<Vec<_>>()
                .join("; "),
            connections: Some(connections),
            ..Outcome::default()
        }
    }
}

/// The body one byte a second for `pace`, then the rest at once.
fn dripped(
    body: Vec<u8>,
    pace: Duration,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let slow = (pace.as_secs() as usize).min(body.len());
    let rest = Bytes::copy_from_slice(&body[slow..]);
    let bytes: Vec<u8> = body[..slow].to_vec();
    futures::stream::iter(bytes)
        .then(|b| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(Bytes::from(vec![b]))
        })
        .chain(futures::stream::iter([Ok(rest)]))
}

/// An error and its causes, one after the other (reqwest's own message says little).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        source = cause.source();
    }
    text
}

/// The innermost cause: for a tally of many connections, the words that differ.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
