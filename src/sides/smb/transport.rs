//! Our own TCP transport for the `smb` crate: `TCP_NODELAY` and one write per frame.
//!
//! The crate's stock `TcpTransport` (0.12.1) writes the 4-byte direct-TCP frame header and the SMB
//! message in separate writes and leaves Nagle's algorithm on. The server acknowledges the lone
//! header late (delayed ACK), Nagle holds the body back until that ACK, and every request stalls
//! about 40 ms: a 10,000-file listing took 40 s instead of 0.4 s. This transport builds each frame
//! (header and every body buffer) in one buffer, sends it with a single `write_all`, and sets
//! `TCP_NODELAY` so nothing waits on an ACK. It is handed to `Connection::from_transport` already
//! connected, so the crate never opens a socket of its own.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use smb::transport::{IoVec, SmbTransport, SmbTransportRead, SmbTransportWrite, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Direct-TCP framing (MS-SMB2 2.1): a zero byte, then the message length in 24 bits big-endian.
const FRAME_HEADER_LEN: usize = 4;
const MAX_FRAME_LEN: usize = 0x00FF_FFFF;
/// Big enough to take most responses (directory pages, small reads) in one syscall.
const READ_BUFFER: usize = 64 * 1024;

/// A connected TCP stream split into halves, as the crate's worker wants them.
pub struct NoDelayTransport {
    reader: Option<BufReader<OwnedReadHalf>>,
    writer: Option<OwnedWriteHalf>,
    peer: Option<SocketAddr>,
    connect_timeout: Duration,
    /// Reused frame buffer, so a 1 MiB write does not allocate a fresh megabyte each time.
    frame: Vec<u8>,
}

impl std::fmt::Debug for NoDelayTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoDelayTransport")
            .field("peer", &self.peer)
            .field("connected", &(self.reader.is_some() || self.writer.is_some()))
            .finish()
    }
}

impl NoDelayTransport {
    /// A transport not yet connected; `SmbTransport::connect` opens it.
    pub fn new(connect_timeout: Duration) -> Self {
        Self { reader: None, writer: None, peer: None, connect_timeout, frame: Vec::new() }
    }

    /// Connects to `addr` within `connect_timeout`, with `TCP_NODELAY` set.
    pub async fn connect_to(addr: SocketAddr, connect_timeout: Duration) -> io::Result<Self> {
        let mut transport = Self::new(connect_timeout);
        transport.open(addr).await?;
        Ok(transport)
    }

    async fn open(&mut self, addr: SocketAddr) -> io::Result<()> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        self.reader = Some(BufReader::with_capacity(READ_BUFFER, r));
        self.writer = Some(w);
        self.peer = Some(addr);
        Ok(())
    }

    async fn write_frame(&mut self, data: &IoVec) -> Result<(), TransportError> {
        let len = data.total_size();
        if len > MAX_FRAME_LEN {
            return Err(TransportError::InvalidMessage);
        }
        let writer = self.writer.as_mut().ok_or(TransportError::NotConnected)?;
        self.frame.clear();
        self.frame.reserve(FRAME_HEADER_LEN + len);
        // len <= 0xFFFFFF, so the top byte of the u32 is the zero type byte of the frame.
        self.frame.extend_from_slice(&(len as u32).to_be_bytes());
        for buf in data.iter() {
            self.frame.extend_from_slice(buf);
        }
        writer.write_all(&self.frame).await.map_err(map_io)?;
        // Do not keep a large write's buffer alive for the connection's lifetime.
        if self.frame.capacity() > 4 * READ_BUFFER {
            self.frame = Vec::new();
        }
        Ok(())
    }
}

/// End-of-stream and resets become `NotConnected`, which the crate's worker treats as a closed
/// connection (it then fails every waiting request instead of hanging).
fn map_io(e: io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe => TransportError::NotConnected,
        _ => TransportError::IoError(e),
    }
}

impl SmbTransport for NoDelayTransport {
    fn connect<'a>(
        &'a mut self,
        _server_name: &'a str,
        address: SocketAddr,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        async move {
            if self.writer.is_some() {
                return Err(TransportError::AlreadyConnected);
            }
            self.open(address).await.map_err(|e| match e.kind() {
                io::ErrorKind::TimedOut => TransportError::Timeout(self.connect_timeout),
                _ => TransportError::IoError(e),
            })
        }
        .boxed()
    }

    fn default_port(&self) -> u16 {
        445
    }

    fn split(self: Box<Self>) -> Result<(Box<dyn SmbTransportRead>, Box<dyn SmbTransportWrite>), TransportError> {
        let this = *self;
        let read_half = NoDelayTransport {
            reader: this.reader,
            writer: None,
            peer: this.peer,
            connect_timeout: this.connect_timeout,
            frame: Vec::new(),
        };
        let write_half = NoDelayTransport {
            reader: None,
            writer: this.writer,
            peer: this.peer,
            connect_timeout: this.connect_timeout,
            frame: this.frame,
        };
        Ok((Box::new(read_half), Box::new(write_half)))
    }

    fn remote_address(&self) -> Result<SocketAddr, TransportError> {
        self.peer.ok_or(TransportError::NotConnected)
    }
}

impl SmbTransportWrite for NoDelayTransport {
    fn send_raw<'a>(&'a mut self, buf: &'a [u8]) -> BoxFuture<'a, Result<(), TransportError>> {
        async move {
            let writer = self.writer.as_mut().ok_or(TransportError::NotConnected)?;
            writer.write_all(buf).await.map_err(map_io)
        }
        .boxed()
    }

    /// The point of this transport: header and body leave in one write.
    fn send<'a>(&'a mut self, data: &'a IoVec) -> BoxFuture<'a, Result<(), TransportError>> {
        self.write_frame(data).boxed()
    }
}

impl SmbTransportRead for NoDelayTransport {
    fn receive_exact<'a>(&'a mut self, out_buf: &'a mut [u8]) -> BoxFuture<'a, Result<(), TransportError>> {
        async move {
            let reader = self.reader.as_mut().ok_or(TransportError::NotConnected)?;
            reader.read_exact(out_buf).await.map_err(map_io)?;
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_frame_arrives_as_header_and_body_in_one_piece() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.expect("accept");
            let mut got = vec![0u8; 4 + 7];
            sock.read_exact(&mut got).await.expect("read");
            // Echo one frame back for the receive side.
            sock.write_all(&[0, 0, 0, 3, b'x', b'y', b'z']).await.expect("write");
            got
        });
        let transport = NoDelayTransport::connect_to(addr, Duration::from_secs(5)).await.expect("connect");
        assert_eq!(transport.remote_address().expect("peer"), addr);
        let (mut r, mut w) = Box::new(transport).split().expect("split");
        let body = IoVec::from(vec![b"abc".to_vec(), b"defg".to_vec()]);
        w.send(&body).await.expect("send");
        let echoed = r.receive().await.expect("receive");
        assert_eq!(echoed, b"xyz");
        let got = server.await.expect("join");
        assert_eq!(got, [0, 0, 0, 7, b'a', b'b', b'c', b'd', b'e', b'f', b'g']);
    }

    #[tokio::test]
    async fn a_closed_peer_reads_as_not_connected() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.expect("accept");
            drop(sock);
        });
        let transport = NoDelayTransport::connect_to(addr, Duration::from_secs(5)).await.expect("connect");
        server.await.expect("join");
        let (mut r, _w) = Box::new(transport).split().expect("split");
        let err = r.receive().await.expect_err("closed");
        assert!(matches!(err, TransportError::NotConnected), "{err:?}");
    }
}
