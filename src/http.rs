//! The HTTP endpoint on `metrics_listen`: `/metrics` (Prometheus text
//! format) and `/health` (JSON, or plain text with `?format=text`).
//!
//! The daemon-health metrics are rendered by metrics-exporter-prometheus;
//! the per-queue and per-consumer families are appended from the monitor's
//! snapshots ([`crate::exposition`]). No request ever queries PostgreSQL.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::{Handle, exposition, health};

/// How often the exporter's histograms are compacted between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A client has this long to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Error opening the endpoint.
#[derive(Debug, thiserror::Error)]
#[error("listening for metrics on {addr}: {source}")]
pub struct BindError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// Opens the listening socket, so that a port in use is a startup error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })
}

/// What the endpoint serves from.
#[derive(Debug)]
pub struct Endpoint {
    prometheus: PrometheusHandle,
    daemon: Handle,
}

impl Endpoint {
    /// An endpoint over the process's recorder and a daemon.
    pub fn new(prometheus: PrometheusHandle, daemon: Handle) -> Self {
        Endpoint { prometheus, daemon }
    }

    /// The `/metrics` body.
    pub fn metrics_text(&self) -> String {
        let mut text = self.prometheus.render();
        text.push_str(&exposition::render(
            &self.daemon.snapshots(),
            &self.daemon.config(),
        ));
        text
    }

    /// The daemon's health now.
    pub fn health(&self) -> health::Report {
        health::assess(
            &self.daemon.status(),
            &self.daemon.snapshots(),
            self.daemon.discovered(),
            &self.daemon.config(),
            Instant::now(),
        )
    }

    fn respond(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut resp = reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        let text_wanted = req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "format=text"));
        match req.uri().path() {
            "/metrics" => reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics_text(),
            ),
            "/health" => {
                let report = self.health();
                let status = if report.is_ok() {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                if text_wanted {
                    reply(status, "text/plain; charset=utf-8", report.to_text())
                } else {
                    reply(status, "application/json", report.to_json())
                }
            }
            "/" => reply(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "pgqd: /metrics, /health, /health?format=text\n",
            ),
            _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
        }
    }
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Serves the endpoint until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, endpoint: Arc<Endpoint>, shutdown: CancellationToken) {
    let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
    upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = upkeep.tick() => endpoint.prometheus.run_upkeep(),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let endpoint = endpoint.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let resp = endpoint.respond(&req);
                            async move { Ok::<_, Infallible>(resp) }
                        });
                        let conn = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            _ = shutdown.cancelled() => {}
                            r = conn => if let Err(e) = r {
                                debug!(%peer, "metrics connection: {e}");
                            }
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors, typically: back off briefly.
                    warn!("accepting a metrics connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Error starting the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The recorder could not be installed.
    #[error(transparent)]
    Recorder(#[from] crate::metrics::MetricsError),
    /// The address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// Installs the recorder, binds `addr` and serves the endpoint for `daemon`
/// in the background until `shutdown`; returns the bound address (useful
/// with port 0).
pub async fn start(
    addr: SocketAddr,
    daemon: Handle,
    shutdown: CancellationToken,
) -> Result<SocketAddr, StartError> {
    let prometheus = crate::metrics::install()?;
    let listener = bind(addr).await?;
    let local = listener
        .local_addr()
        .map_err(|source| BindError { addr, source })?;
    let endpoint = Arc::new(Endpoint::new(prometheus, daemon));
    tokio::spawn(serve(listener, endpoint, shutdown));
    Ok(local)
}
