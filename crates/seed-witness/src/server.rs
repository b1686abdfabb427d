//! The witness's HTTP service (hyper, HTTP/1.1 with keep-alive, as
//! tlog-witness recommends):
//!
//! - `POST /add-checkpoint`: tlog-witness submission;
//! - `GET /<sha256(origin) hex>/checkpoint`: the newest checkpoint held, with
//!   the log's signature and this witness's cosignature (monitoring);
//! - `GET /alarms`: every alarm, as JSON;
//! - `GET /healthz`, `GET /metrics` (Prometheus text).

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
};

use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::{
    note::MAX_NOTE_BYTES,
    proof::MAX_PROOF_HASHES,
    witness::{AddCheckpoint, AddError, Witness},
};

/// The largest add-checkpoint body: a note plus a full proof.
const MAX_BODY: usize = MAX_NOTE_BYTES + 64 * (MAX_PROOF_HASHES + 2);

/// The witness's counters, served on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Log polls that reconciled.
    pub polls: AtomicU64,
    /// Log polls that failed without an alarm (log unavailable).
    pub poll_failures: AtomicU64,
    /// Checkpoints cosigned (by polling, gossip or add-checkpoint).
    pub cosigned: AtomicU64,
    /// add-checkpoint requests answered, by any status.
    pub add_checkpoint_requests: AtomicU64,
    /// Gossip exchanges that failed without an alarm.
    pub gossip_failures: AtomicU64,
    /// Alarms raised since start (the state file holds all of them).
    pub alarms: AtomicU64,
    /// 1 while the last pass succeeded.
    pub healthy: AtomicBool,
}

impl Metrics {
    fn render(&self) -> String {
        let rows = [
            (
                "seed_witness_polls_total",
                "counter",
                "Log polls reconciled.",
                &self.polls,
            ),
            (
                "seed_witness_poll_failures_total",
                "counter",
                "Log polls that failed (log unavailable).",
                &self.poll_failures,
            ),
            (
                "seed_witness_cosigned_total",
                "counter",
                "Checkpoints cosigned.",
                &self.cosigned,
            ),
            (
                "seed_witness_add_checkpoint_requests_total",
                "counter",
                "add-checkpoint requests answered.",
                &self.add_checkpoint_requests,
            ),
            (
                "seed_witness_gossip_failures_total",
                "counter",
                "Gossip exchanges that failed without an alarm.",
                &self.gossip_failures,
            ),
            (
                "seed_witness_alarms_total",
                "counter",
                "Split views detected since start.",
                &self.alarms,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        let healthy = u8::from(self.healthy.load(Ordering::Relaxed));
        out.push_str(&format!(
            "# HELP seed_witness_healthy 1 when the last pass succeeded.\n\
             # TYPE seed_witness_healthy gauge\nseed_witness_healthy {healthy}\n"
        ));
        out
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Serves the witness on `addr` (port 0 picks one) in a spawned task;
/// returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    witness: Arc<Witness>,
    metrics: Arc<Metrics>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let (witness, metrics) = (witness.clone(), metrics.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (witness, metrics) = (witness.clone(), metrics.clone());
                    async move { Ok::<_, Infallible>(route(request, peer, &witness, &metrics).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(local)
}

async fn route(
    request: Request<Incoming>,
    peer: SocketAddr,
    witness: &Arc<Witness>,
    metrics: &Metrics,
) -> Response<Full<Bytes>> {
    let plain = "text/plain; charset=utf-8";
    let path = request.uri().path().to_owned();
    match (request.method(), path.as_str()) {
        (&Method::POST, "/add-checkpoint") => {
            metrics
                .add_checkpoint_requests
                .fetch_add(1, Ordering::Relaxed);
            let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => body.to_bytes(),
                Err(e) => return text(StatusCode::BAD_REQUEST, plain, format!("{e}\n")),
            };
            add_checkpoint(&body, peer, witness, metrics)
        }
        (&Method::GET, "/healthz") if metrics.healthy.load(Ordering::Relaxed) => {
            text(StatusCode::OK, plain, "ok\n".to_owned())
        }
        (&Method::GET, "/healthz") => text(
            StatusCode::SERVICE_UNAVAILABLE,
            plain,
            "unhealthy\n".to_owned(),
        ),
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        ),
        (&Method::GET, "/alarms") => match witness.store().alarms() {
            Ok(alarms) => text(
                StatusCode::OK,
                "application/json",
                serde_json::to_string_pretty(&alarms).unwrap_or_default(),
            ),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, plain, format!("{e}\n")),
        },
        (&Method::GET, _) => {
            let origin_hash = path
                .strip_prefix('/')
                .and_then(|rest| rest.strip_suffix("/checkpoint"))
                .filter(|hash| hash.len() == 64);
            let held = origin_hash.map(|hash| witness.held_by_origin_hash(hash));
            match held {
                Some(Ok(Some(note))) if witness.cosigner().is_some() => {
                    text(StatusCode::OK, plain, note)
                }
                Some(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, plain, format!("{e}\n")),
                _ => text(StatusCode::NOT_FOUND, plain, "not found\n".to_owned()),
            }
        }
        _ => text(StatusCode::NOT_FOUND, plain, "not found\n".to_owned()),
    }
}

fn add_checkpoint(
    body: &[u8],
    peer: SocketAddr,
    witness: &Arc<Witness>,
    metrics: &Metrics,
) -> Response<Full<Bytes>> {
    let plain = "text/plain; charset=utf-8";
    let request = match AddCheckpoint::parse(body) {
        Ok(request) => request,
        Err(e) => return text(StatusCode::BAD_REQUEST, plain, format!("{e}\n")),
    };
    let source = format!("add-checkpoint from {peer}");
    match witness.add_checkpoint(&request, &source) {
        Ok(lines) => {
            metrics.cosigned.fetch_add(1, Ordering::Relaxed);
            text(
                StatusCode::OK,
                plain,
                lines.iter().map(|line| line.line()).collect(),
            )
        }
        Err(AddError::Conflict(size)) => text(
            StatusCode::CONFLICT,
            "text/x.tlog.size",
            format!("{size}\n"),
        ),
        Err(error) => {
            if let AddError::Unprocessable { alarm, .. } = &error {
                if alarm.is_some() {
                    metrics.alarms.fetch_add(1, Ordering::Relaxed);
                } else {
                    // The client's proof failed, which proves nothing about
                    // the log: ask the log itself, which alarms if it cannot
                    // prove its own checkpoint consistent with ours.
                    let (witness, checkpoint) = (witness.clone(), request.checkpoint.clone());
                    tokio::spawn(async move {
                        let _ = witness.observe(&checkpoint, &source, false).await;
                    });
                }
            }
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            text(status, plain, format!("{error}\n"))
        }
    }
}
