//! Counters and gauges, served as Prometheus text on `/metrics`, and
//! `/healthz`, by a deliberately tiny HTTP server (two fixed paths, GET
//! only, one request per connection).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::error::{KeeperError, Result};

/// The keeper's metrics; cheap to update from the loop.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Last block fully processed.
    pub cursor_block: AtomicU64,
    /// Newest final block seen.
    pub final_block: AtomicU64,
    /// Newest block seen.
    pub head_block: AtomicU64,
    /// Promotions completed.
    pub promotions: AtomicU64,
    /// Failed promotion attempts.
    pub promotion_failures: AtomicU64,
    /// Failed loop iterations (chain or database errors).
    pub loop_failures: AtomicU64,
    /// Promotions waiting.
    pub pending: AtomicU64,
    /// Promotions waiting after at least one failure (poisoned or faulty).
    pub failing: AtomicU64,
    /// Moving tags moved.
    pub moving_tags_moved: AtomicU64,
    /// Moving tags that could not be read or moved (each retried next pass).
    pub moving_tag_failures: AtomicU64,
    /// Moving tags failing after the last pass.
    pub moving_tags_failing: AtomicU64,
    /// Moving tags left on a later release proven from the chain after the
    /// last pass (another keeper is ahead of this one).
    pub moving_tags_held: AtomicU64,
    /// Verdicts found on a moving tag's image that the chain does not
    /// confirm (forged, from a dropped fork, or unreadable), ignored.
    pub unproven_verdicts: AtomicU64,
    /// Images read to check what closure they hold (each digest once).
    pub content_checks: AtomicU64,
    /// Counted voters' images a promotion refused because their content does
    /// not hold the finalised closure manifest.
    pub refused_images: AtomicU64,
    /// 1 while the keeper refuses to go on: the chain contradicts what it
    /// processed (a reorganisation deeper than its finality) or holds a
    /// release it cannot account for.
    pub halted: AtomicBool,
    /// Sum of the latencies from first seeing a release final to its
    /// promotion being done, milliseconds.
    pub latency_ms_sum: AtomicU64,
    /// Last such latency.
    pub latency_ms_last: AtomicU64,
    /// Whether the last loop iteration succeeded.
    pub healthy: AtomicBool,
}

impl Metrics {
    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let cursor = g(&self.cursor_block);
        let rows: [(&str, &str, &str, u64); 19] = [
            (
                "seed_keeper_cursor_block",
                "gauge",
                "Last block fully processed.",
                cursor,
            ),
            (
                "seed_keeper_final_block",
                "gauge",
                "Newest final block seen.",
                g(&self.final_block),
            ),
            (
                "seed_keeper_head_block",
                "gauge",
                "Newest block seen.",
                g(&self.head_block),
            ),
            (
                "seed_keeper_lag_blocks",
                "gauge",
                "Blocks between the chain head and the cursor (includes the finality depth).",
                g(&self.head_block).saturating_sub(cursor),
            ),
            (
                "seed_keeper_promotions_total",
                "counter",
                "Promotions completed.",
                g(&self.promotions),
            ),
            (
                "seed_keeper_promotion_failures_total",
                "counter",
                "Failed promotion attempts (each is retried later).",
                g(&self.promotion_failures),
            ),
            (
                "seed_keeper_loop_failures_total",
                "counter",
                "Failed loop iterations (RPC or database).",
                g(&self.loop_failures),
            ),
            (
                "seed_keeper_pending_promotions",
                "gauge",
                "Promotions waiting.",
                g(&self.pending),
            ),
            (
                "seed_keeper_failing_promotions",
                "gauge",
                "Promotions waiting after at least one failure.",
                g(&self.failing),
            ),
            (
                "seed_keeper_moving_tags_moved_total",
                "counter",
                "Moving tags moved.",
                g(&self.moving_tags_moved),
            ),
            (
                "seed_keeper_moving_tag_failures_total",
                "counter",
                "Moving tags that could not be read or moved (each is retried on the next pass).",
                g(&self.moving_tag_failures),
            ),
            (
                "seed_keeper_moving_tags_failing",
                "gauge",
                "Moving tags that could not be read or moved in the last pass.",
                g(&self.moving_tags_failing),
            ),
            (
                "seed_keeper_moving_tags_held",
                "gauge",
                "Moving tags left on a later release, proven from the chain, that this keeper has not promoted yet.",
                g(&self.moving_tags_held),
            ),
            (
                "seed_keeper_unproven_verdicts_total",
                "counter",
                "Verdicts on a moving tag's image that the chain does not confirm (ignored).",
                g(&self.unproven_verdicts),
            ),
            (
                "seed_keeper_content_checks_total",
                "counter",
                "Images read to check the closure they hold (each image digest once; the result is kept in the state file).",
                g(&self.content_checks),
            ),
            (
                "seed_keeper_refused_images_total",
                "counter",
                "Counted voters' images refused because their content does not hold the finalised closure manifest (each builder's image is named in the log and the release's verdict).",
                g(&self.refused_images),
            ),
            (
                "seed_keeper_halted",
                "gauge",
                "1 while the keeper refuses to go on (a reorganisation deeper than its finality, or a release it cannot account for): an operator must act.",
                u64::from(self.halted.load(Ordering::Relaxed)),
            ),
            (
                "seed_keeper_promotion_latency_ms_sum",
                "counter",
                "Sum of milliseconds from a release seen final to its promotion done.",
                g(&self.latency_ms_sum),
            ),
            (
                "seed_keeper_healthy",
                "gauge",
                "1 when the last loop iteration succeeded.",
                u64::from(self.healthy.load(Ordering::Relaxed)),
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
        out
    }
}

/// Serves `/metrics` and `/healthz` on `addr`; returns the bound address
/// (port 0 picks a free one) after binding, serving in a spawned task.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| KeeperError::Http {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| KeeperError::Http {
        addr: addr.to_string(),
        source,
    })?;
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                // Read up to the end of the request head: a client may send
                // the request line in several segments.
                let mut buf = [0u8; 2048];
                let mut n = 0;
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
                while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::time::timeout_at(deadline, socket.read(&mut buf[n..])).await {
                        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                        Ok(Ok(read)) => n += read,
                    }
                }
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("");
                let (status, body) = match path {
                    "/metrics" => ("200 OK", metrics.render()),
                    "/healthz" if metrics.healthy.load(Ordering::Relaxed) => {
                        ("200 OK", "ok\n".to_owned())
                    }
                    "/healthz" => ("503 Service Unavailable", "unhealthy\n".to_owned()),
                    _ => ("404 Not Found", "not found\n".to_owned()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok(local)
}
