//! Per-listener connection limits (issue 19, item 9). Every listener (OTLP/gRPC, OTLP/HTTP,
//! REST) accepts at most `--max-connections` connections at once; the rest wait in the
//! kernel's accept backlog, which costs the process no descriptor, so a flood of idle sockets
//! on one port can neither exhaust the descriptor limit nor starve the other listeners. A
//! connection has `--header-read-timeout-seconds` to send its first request's headers (HTTP/1,
//! also between keep-alive requests) or the HTTP/2 preface (gRPC, h2c) before it is closed,
//! which returns its slot. `axum::serve` offers neither, so the HTTP listeners are served
//! here with hyper-util's builder, as `axum::serve` itself does.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tower::ServiceExt;

/// Each listener's limits (`serve --max-connections`, `--header-read-timeout-seconds`).
#[derive(Debug, Clone, Copy)]
pub struct ListenLimits {
    /// Connections each listener holds open at once; more wait in the kernel's backlog.
    pub max_connections: u32,
    /// Seconds a connection may take to send a request's headers or the HTTP/2 preface.
    pub header_read_timeout_seconds: u64,
}

impl Default for ListenLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_read_timeout_seconds: 30,
        }
    }
}

impl ListenLimits {
    fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_seconds)
    }
}

/// Waits for a free slot, then for a connection. Accept errors (EMFILE, a reset before
/// accept) are retried after a pause, as `axum::serve` does, instead of ending the listener.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, OwnedSemaphorePermit) {
    let permit = slots.clone().acquire_owned().await.expect("never closed");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return (stream, permit),
            Err(err) => {
                tracing::debug!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves an axum router on `listener` until `shutdown`, then lets open connections finish
/// (graceful: in-flight requests complete, idle ones close); returns when all are closed.
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    limits: ListenLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout());
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, permit) = tokio::select! {
            accepted = accept(&listener, &slots) => accepted,
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let builder = builder.clone();
        let mut stopped = stopped.clone();
        let timeout = limits.header_timeout();
        tokio::spawn(async move {
            let _slot = permit;
            // hyper's header timeout starts only once it knows the protocol; until the first
            // request reaches the service, this deadline covers the preface and version sniff.
            let started = Arc::new(AtomicBool::new(false));
            let flag = started.clone();
            let service = tower::service_fn(move |request| {
                flag.store(true, Ordering::Relaxed);
                router.clone().oneshot(request)
            });
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            tokio::pin!(conn);
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut armed = true;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => return,
                    () = &mut deadline, if armed => {
                        if !started.load(Ordering::Relaxed) {
                            return; // dropping the connection closes the socket
                        }
                        armed = false;
                    }
                    _ = stopped.wait_for(|s| *s) => break,
                }
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot: when all are back, every connection has closed.
    let _ = slots.acquire_many(limits.max_connections).await;
    Ok(())
}

/// The gRPC listener's connections for `tonic`'s `serve_with_incoming_shutdown`, under the
/// same cap, each closed if the HTTP/2 preface has not arrived within the header timeout.
pub fn grpc_incoming(
    listener: TcpListener,
    limits: ListenLimits,
) -> ReceiverStream<io::Result<Limited>> {
    let (tx, rx) = mpsc::channel(1);
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    tokio::spawn(async move {
        loop {
            let (stream, slot) = tokio::select! {
                accepted = accept(&listener, &slots) => accepted,
                () = tx.closed() => return,
            };
            let conn = Limited {
                stream,
                _slot: slot,
                preface_left: PREFACE_LEN,
                deadline: Box::pin(tokio::time::sleep(limits.header_timeout())),
            };
            if tx.send(Ok(conn)).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

/// Length of the HTTP/2 client preface (`PRI * HTTP/2.0…`).
const PREFACE_LEN: usize = 24;

/// A gRPC connection: holds its listener slot until dropped, and fails its reads once the
/// header timeout passes before the preface has been read.
pub struct Limited {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    preface_left: usize,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl tonic::transport::server::Connected for Limited {
    type ConnectInfo = <TcpStream as tonic::transport::server::Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                let read = buf.filled().len() - before;
                this.preface_left = this.preface_left.saturating_sub(read);
                Poll::Ready(result)
            }
            // Polling the deadline registers this task's waker with the timer as well.
            Poll::Pending
                if this.preface_left > 0 && this.deadline.as_mut().poll(cx).is_ready() =>
            {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no HTTP/2 preface within the header read timeout",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
