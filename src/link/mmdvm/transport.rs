//! The two byte docs/transports.md an MMDVM modem is reached over: a serial port, or UDP.
//!
//! Serial: `tokio_serial::new(path, baud).open_native_async()` (default features off, so no
//! libudev; docs/performance.md §2b). MMDVMHost asserts RTS when it opens the port
//! (docs/transports.md §1, `CUARTController::setRaw`); we set DTR and RTS too, but a failure there is
//! only logged, because ptys refuse them with ENOTTY (docs/transports.md §4.3, 6) and so do some
//! USB adapters.
//!
//! UDP: MMDVMHost's `Protocol=udp` modem transport (g4klx/MMDVMHost:UDPController.cpp) carries
//! the same byte stream as the serial line: each write is one datagram to the modem address,
//! and every datagram *from* the modem address is appended to a receive buffer that the frame
//! reader consumes as if it were serial, so a frame may in principle span datagrams. Datagrams
//! from any other address are dropped (counted in [`LinkCounters::unauthenticated`]).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio_serial::{SerialPort, SerialPortBuilderExt, SerialStream};

use crate::link::LinkCounters;

/// Where the modem is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortSpec {
    /// A serial device (or a pty, or a symlink to one), 8N1 at `baud`.
    Serial { path: PathBuf, baud: u32 },
    /// MMDVMHost's UDP modem transport: bind `local`, talk to `remote`.
    Udp {
        local: SocketAddr,
        remote: SocketAddr,
    },
}

impl core::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PortSpec::Serial { path, baud } => write!(f, "{} at {baud} baud", path.display()),
            PortSpec::Udp { local, remote } => write!(f, "udp {local} -> {remote}"),
        }
    }
}

/// How long one write may take before the port counts as dead (a wedged USB adapter).
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// An open connection to the modem.
#[derive(Debug)]
pub(crate) enum Transport {
    Serial(SerialStream),
    Udp {
        socket: UdpSocket,
        remote: SocketAddr,
    },
}

impl Transport {
    /// Open the port. DTR/RTS failures are logged, not returned.
    pub(crate) async fn open(spec: &PortSpec) -> io::Result<Transport> {
        match spec {
            PortSpec::Serial { path, baud } => {
                let mut port = tokio_serial::new(path.to_string_lossy(), *baud)
                    .open_native_async()
                    .map_err(io::Error::from)?;
                if let Err(e) = port.write_data_terminal_ready(true) {
                    tracing::debug!(port = %path.display(), error = %e, "cannot set DTR; going on");
                }
                if let Err(e) = port.write_request_to_send(true) {
                    tracing::debug!(port = %path.display(), error = %e, "cannot set RTS; going on");
                }
                Ok(Transport::Serial(port))
            }
            PortSpec::Udp { local, remote } => {
                let socket = UdpSocket::bind(local).await?;
                Ok(Transport::Udp {
                    socket,
                    remote: *remote,
                })
            }
        }
    }

    /// Read some octets. Cancel-safe (a `select!` branch). End of file is an error: the modem
    /// side closed.
    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        counters: &LinkCounters,
    ) -> io::Result<usize> {
        match self {
            Transport::Serial(port) => {
                let n = port.read(buf).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "serial port closed",
                    ));
                }
                Ok(n)
            }
            Transport::Udp { socket, remote } => loop {
                let (n, from) = socket.recv_from(buf).await?;
                if from == *remote {
                    return Ok(n);
                }
                LinkCounters::bump(&counters.unauthenticated);
                tracing::debug!(%from, "datagram from an address that is not the modem; dropped");
            },
        }
    }

    /// Write one whole frame (one datagram over UDP).
    pub(crate) async fn write(&mut self, frame: &[u8]) -> io::Result<()> {
        let fut = async {
            match self {
                Transport::Serial(port) => {
                    port.write_all(frame).await?;
                    port.flush().await
                }
                Transport::Udp { socket, remote } => {
                    socket.send_to(frame, *remote).await.map(|_| ())
                }
            }
        };
        match tokio::time::timeout(WRITE_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "write to the modem timed out",
            )),
        }
    }
}
