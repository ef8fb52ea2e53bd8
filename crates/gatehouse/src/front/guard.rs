//! The client connection as the proxy reads it: exactly one checked request
//! at a time.
//!
//! The front reads and checks each request head itself (see `front`), then
//! lets the proxy read that head and its body through [`Guarded`], which
//! stops at the end of the body as the checked framing defines it. Bytes
//! after it are held back until the proxy has answered, and are then read
//! by the front as the next head. So the proxy can never read the end of
//! one request differently from the front, and a request hidden in a body
//! can only ever be a body.

use bytes::{Buf, BytesMut};
use gatehouse_protocol::{ChunkedBody, Framing, Violation};
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Room kept free in the read buffer before each read of a head.
const READ_CHUNK: usize = 4096;

#[derive(Debug)]
enum Phase {
    /// Between requests: the front reads the next head; the proxy gets
    /// nothing (see `poll_hold`).
    Between,
    /// `remaining` bytes of the head (all buffered), then `body`.
    Head {
        remaining: usize,
        body: Body,
    },
    Body(Body),
    /// After a WebSocket handshake: bytes pass through as they come.
    Tunnel,
    /// The body broke the chunked grammar; every later read fails.
    Broken(Violation),
}

#[derive(Debug)]
enum Body {
    Length(u64),
    Chunked(Box<ChunkedBody>),
}

/// A client stream that hands the proxy one request at a time.
#[derive(Debug)]
pub struct Guarded {
    inner: Stream,
    /// Bytes read from the client that the proxy has not been given.
    buf: BytesMut,
    phase: Phase,
    /// The current request is a WebSocket handshake: after it, tunnel.
    tunnel_after: bool,
    /// The client closed its sending side.
    eof: bool,
    /// The current request's body, read ahead of the proxy so the WAF can
    /// inspect it before anything goes upstream (chunked: decoded).
    prefetched: Option<Vec<u8>>,
    /// `prefetch` ran for the request the next `begin` starts.
    prefetch_pending: bool,
}

/// How reading a body ahead ended.
#[derive(Debug)]
pub enum Prefetch {
    /// The whole body is buffered (and copied for inspection).
    Complete,
    /// Larger than the limit; nothing more was read.
    TooLarge,
    /// The chunked grammar broke.
    Invalid(Violation),
    /// The client closed or failed before the end.
    Closed,
}

impl Guarded {
    pub fn new(inner: Stream) -> Guarded {
        Guarded {
            inner,
            buf: BytesMut::new(),
            phase: Phase::Between,
            tunnel_after: false,
            eof: false,
            prefetched: None,
            prefetch_pending: false,
        }
    }

    /// The body read ahead for the current request, if any.
    pub fn prefetched(&self) -> Option<&[u8]> {
        self.prefetched.as_deref()
    }

    /// Reads the body of the request whose `head_len`-byte head is at the
    /// front of the buffer, up to `limit` bytes, keeping it buffered for
    /// the proxy and copying it for [`Guarded::prefetched`]. The caller
    /// bounds the time this may take.
    pub async fn prefetch(
        &mut self,
        head_len: usize,
        framing: Framing,
        limit: usize,
        max_trailer: usize,
    ) -> Prefetch {
        self.prefetched = None;
        self.prefetch_pending = true;
        match framing {
            Framing::None => {
                self.prefetched = Some(Vec::new());
                Prefetch::Complete
            }
            Framing::ContentLength(n) => {
                let Ok(n) = usize::try_from(n) else {
                    return Prefetch::TooLarge;
                };
                if n > limit {
                    return Prefetch::TooLarge;
                }
                while self.buf.len() < head_len + n {
                    match self.read_more().await {
                        Ok(0) | Err(_) => return Prefetch::Closed,
                        Ok(_) => {}
                    }
                }
                let body = self.buf.get(head_len..head_len + n).unwrap_or_default();
                self.prefetched = Some(body.to_vec());
                Prefetch::Complete
            }
            Framing::Chunked => {
                let mut scanner = ChunkedBody::new(max_trailer);
                let mut scanned = head_len;
                loop {
                    let fresh = self.buf.get(scanned..).unwrap_or_default();
                    match scanner.scan(fresh) {
                        Ok(used) => scanned += used,
                        Err(v) => return Prefetch::Invalid(v),
                    }
                    if scanner.is_done() {
                        break;
                    }
                    // Framing costs a few bytes per chunk: allow for it.
                    if scanned - head_len > limit.saturating_add(limit / 8 + 4096) {
                        return Prefetch::TooLarge;
                    }
                    match self.read_more().await {
                        Ok(0) | Err(_) => return Prefetch::Closed,
                        Ok(_) => {}
                    }
                }
                let raw = self.buf.get(head_len..scanned).unwrap_or_default();
                let body = decode_chunked(raw);
                if body.len() > limit {
                    return Prefetch::TooLarge;
                }
                self.prefetched = Some(body);
                Prefetch::Complete
            }
        }
    }

    /// What has been read and not yet handed to the proxy.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Reads more of the next head; `Ok(0)` when the client closed.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.reserve(READ_CHUNK);
        }
        let n = self.inner.read_buf(&mut self.buf).await?;
        self.eof = n == 0;
        Ok(n)
    }

    /// Drops `n` buffered bytes the proxy must not see (a request the
    /// front answered itself).
    pub fn discard(&mut self, n: usize) {
        self.buf.advance(n.min(self.buf.len()));
    }

    /// Lets the proxy read the checked request at the front of the buffer:
    /// `head_len` bytes of head, then the body `framing` describes.
    pub fn begin(
        &mut self,
        head_len: usize,
        framing: Framing,
        websocket: bool,
        max_trailer: usize,
    ) {
        let body = match framing {
            Framing::None => Body::Length(0),
            Framing::ContentLength(n) => Body::Length(n),
            Framing::Chunked => Body::Chunked(Box::new(ChunkedBody::new(max_trailer))),
        };
        self.tunnel_after = websocket;
        // A body read ahead belongs to this request only if `prefetch` ran
        // for it, right before.
        if !std::mem::take(&mut self.prefetch_pending) {
            self.prefetched = None;
        }
        self.phase = Phase::Head {
            remaining: head_len,
            body,
        };
    }

    /// The proxy read the whole request, no more and no less: the next
    /// bytes are the next head.
    pub fn at_boundary(&self) -> bool {
        matches!(self.phase, Phase::Between)
    }

    /// Sends a response the front wrote itself, then closes the way nginx
    /// does ("lingering close"): stop sending, and read what the client is
    /// still sending for a moment, so unread bytes do not make the kernel
    /// reset the connection before the client has read the response.
    pub async fn respond_and_close(&mut self, response: &[u8]) {
        use tokio::io::AsyncWriteExt;
        const LINGER: Duration = Duration::from_secs(2);
        const LINGER_BYTES: usize = 256 * 1024;
        if self.inner.write_all(response).await.is_err() || self.inner.flush().await.is_err() {
            return;
        }
        if AsyncWriteExt::shutdown(&mut self.inner).await.is_err() || self.eof {
            return;
        }
        let mut drained = 0;
        let mut sink = [0u8; 4096];
        let drain = async {
            while drained < LINGER_BYTES {
                match self.inner.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }

    /// The current request was read to its end.
    fn finish_request(&mut self) {
        self.phase = if self.tunnel_after {
            Phase::Tunnel
        } else {
            Phase::Between
        };
    }

    /// Between requests the proxy only reads to learn whether the client
    /// went away. The end of the stream is passed on; bytes of a pipelined
    /// next request are kept for the front, and the read stays pending so
    /// the proxy finishes the current request first.
    fn poll_hold(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.eof {
            return Poll::Ready(Ok(()));
        }
        if !self.buf.is_empty() {
            return Poll::Pending;
        }
        let mut probe = [0u8; 1];
        let mut probe_buf = ReadBuf::new(&mut probe);
        match Pin::new(&mut self.inner).poll_read(cx, &mut probe_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => match probe_buf.filled() {
                [] => {
                    self.eof = true;
                    Poll::Ready(Ok(()))
                }
                first => {
                    self.buf.extend_from_slice(first);
                    Poll::Pending
                }
            },
        }
    }

    /// Reads at most `limit` bytes from the client straight into `out`;
    /// returns how many arrived (0: the client closed).
    fn poll_inner_into(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
        limit: usize,
    ) -> Poll<io::Result<usize>> {
        let dst = out.initialize_unfilled_to(limit.min(out.remaining()));
        let mut sub = ReadBuf::new(dst);
        match Pin::new(&mut self.inner).poll_read(cx, &mut sub) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                let n = sub.filled().len();
                out.advance(n);
                if n == 0 {
                    self.eof = true;
                }
                Poll::Ready(Ok(n))
            }
        }
    }

    /// One step of a body read: hands out buffered bytes first, then reads
    /// the client, never past the end of the body. `Ok(true)`: something
    /// was produced (or the stream ended) and the read can return.
    fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
        produced: bool,
    ) -> Poll<io::Result<bool>> {
        let Phase::Body(body) = &mut self.phase else {
            return Poll::Ready(Ok(produced));
        };
        match body {
            Body::Length(0) => {
                self.finish_request();
                Poll::Ready(Ok(false))
            }
            Body::Length(remaining) => {
                let allowed = usize::try_from(*remaining).unwrap_or(usize::MAX);
                let n = if !self.buf.is_empty() {
                    let n = allowed.min(self.buf.len()).min(out.remaining());
                    out.put_slice(self.buf.get(..n).unwrap_or_default());
                    self.buf.advance(n);
                    n
                } else if produced {
                    return Poll::Ready(Ok(true));
                } else {
                    let Poll::Ready(read) = self.poll_inner_into(cx, out, allowed) else {
                        return Poll::Pending;
                    };
                    match read? {
                        0 => return Poll::Ready(Ok(true)),
                        n => n,
                    }
                };
                if let Phase::Body(Body::Length(remaining)) = &mut self.phase {
                    *remaining -= n as u64;
                }
                Poll::Ready(Ok(true))
            }
            Body::Chunked(scanner) => {
                let start = out.filled().len();
                if !self.buf.is_empty() {
                    let take = self.buf.len().min(out.remaining());
                    let chunk = self.buf.get(..take).unwrap_or_default();
                    let used = match scanner.scan(chunk) {
                        Ok(used) => used,
                        Err(v) => return Poll::Ready(Err(self.break_body(v))),
                    };
                    out.put_slice(chunk.get(..used).unwrap_or_default());
                    self.buf.advance(used);
                } else if produced {
                    return Poll::Ready(Ok(true));
                } else {
                    let Poll::Ready(read) = self.poll_inner_into(cx, out, usize::MAX) else {
                        return Poll::Pending;
                    };
                    if read? == 0 {
                        return Poll::Ready(Ok(true));
                    }
                    let Phase::Body(Body::Chunked(scanner)) = &mut self.phase else {
                        return Poll::Ready(Ok(true));
                    };
                    let fresh = out.filled().get(start..).unwrap_or_default();
                    let used = match scanner.scan(fresh) {
                        Ok(used) => used,
                        Err(v) => return Poll::Ready(Err(self.break_body(v))),
                    };
                    // Bytes past the end of the body belong to the next
                    // request: take them back from the proxy's buffer.
                    if let Some(rest) = fresh.get(used..) {
                        self.buf.extend_from_slice(rest);
                    }
                    out.set_filled(start + used);
                }
                if let Phase::Body(Body::Chunked(scanner)) = &self.phase {
                    if scanner.is_done() {
                        self.finish_request();
                    }
                }
                Poll::Ready(Ok(true))
            }
        }
    }

    fn break_body(&mut self, v: Violation) -> io::Error {
        self.phase = Phase::Broken(v);
        io::Error::new(io::ErrorKind::InvalidData, v)
    }
}

/// The data of a chunked body already checked by `ChunkedBody`: sizes,
/// extensions and trailers dropped. Stops at anything unexpected rather
/// than guessing.
fn decode_chunked(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let line = raw.get(..eol).unwrap_or_default();
        let digits: Vec<u8> = line
            .iter()
            .copied()
            .take_while(u8::is_ascii_hexdigit)
            .collect();
        let size = std::str::from_utf8(&digits)
            .ok()
            .and_then(|d| usize::from_str_radix(d, 16).ok());
        let Some(size) = size else {
            return out;
        };
        if size == 0 {
            return out;
        }
        let data_start = eol + 2;
        let Some(data) = raw.get(data_start..data_start.saturating_add(size)) else {
            return out;
        };
        out.extend_from_slice(data);
        raw = raw.get(data_start + size + 2..).unwrap_or_default();
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut produced = false;
        loop {
            match &mut this.phase {
                Phase::Broken(v) => {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, *v)))
                }
                Phase::Between if produced => return Poll::Ready(Ok(())),
                Phase::Between => return this.poll_hold(cx),
                Phase::Tunnel if produced => return Poll::Ready(Ok(())),
                Phase::Tunnel if !this.buf.is_empty() => {
                    let n = this.buf.len().min(out.remaining());
                    out.put_slice(this.buf.get(..n).unwrap_or_default());
                    this.buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Phase::Tunnel => return Pin::new(&mut this.inner).poll_read(cx, out),
                Phase::Head { remaining, .. } => {
                    // The front buffered the whole head before `begin`.
                    let n = (*remaining).min(this.buf.len()).min(out.remaining());
                    out.put_slice(this.buf.get(..n).unwrap_or_default());
                    this.buf.advance(n);
                    *remaining -= n;
                    produced |= n > 0;
                    if *remaining > 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let done = std::mem::replace(&mut this.phase, Phase::Between);
                    if let Phase::Head { body, .. } = done {
                        this.phase = Phase::Body(body);
                    }
                }
                Phase::Body(_) => {
                    if out.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    match this.poll_body(cx, out, produced) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(true)) => return Poll::Ready(Ok(())),
                        // The body is complete; what follows is decided
                        // by the new phase.
                        Poll::Ready(Ok(false)) => {}
                    }
                }
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[async_trait::async_trait]
impl Shutdown for Guarded {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(&mut *self.inner).await
    }
}

impl UniqueID for Guarded {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Guarded {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Guarded {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for Guarded {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for Guarded {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

/// Peeking would show bytes the proxy is not meant to read yet.
impl Peek for Guarded {}
