//! A serial port (tokio-serial), with its own single-threaded tokio runtime so that callers
//! stay synchronous: the simulator's event loop blocks on a port only when it has to wait for
//! the board. PTY pairs stand in for real ports in tests and for `hil virtual-board`.

use std::io;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio_serial::{SerialPortBuilderExt, SerialStream};

/// An open serial port.
#[derive(Debug)]
pub struct Port {
    rt: Runtime,
    stream: Option<SerialStream>,
    /// A second port for the plant link, when the links have one each.
    second: Option<SerialStream>,
    path: Option<String>,
    second_path: Option<String>,
    baud: u32,
    /// Holds the other ends of PTYs open (reads would fail while nobody has them open).
    _keep: Vec<serialport::TTYPort>,
}

fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()
}

/// Opens `path` at `baud` on `rt` (8N1, no flow control, not exclusive: a port that comes
/// back can be reopened while another handle still holds it).
fn open_on(rt: &Runtime, path: &str, baud: u32) -> io::Result<SerialStream> {
    let _guard = rt.enter();
    tokio_serial::new(path, baud).exclusive(false).open_native_async().map_err(io::Error::from)
}

/// What a read into `buf` gave: the bytes; `None` when nothing was there (a non-blocking read
/// that would block); end of file or an error: the port is gone.
fn got(read: io::Result<usize>, mut buf: Vec<u8>) -> io::Result<Option<Vec<u8>>> {
    match read {
        Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the port closed")),
        Ok(n) => {
            buf.truncate(n);
            Ok(Some(buf))
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

impl Port {
    /// Opens `path` at `baud` (see [`open_on`]).
    pub fn open(path: &str, baud: u32) -> io::Result<Port> {
        let rt = runtime()?;
        let stream = open_on(&rt, path, baud)?;
        Ok(Port {
            rt,
            stream: Some(stream),
            second: None,
            path: Some(path.to_string()),
            second_path: None,
            baud,
            _keep: Vec::new(),
        })
    }

    /// A new PTY: the port on its master side, and the path of its slave side for the other
    /// party to open (the slave is also held open here, so the master reads nothing until then).
    pub fn pty() -> io::Result<(Port, String)> {
        let rt = runtime()?;
        let (stream, slave, path) = pty_on(&rt)?;
        let port = Port {
            rt,
            stream: Some(stream),
            second: None,
            path: None,
            second_path: None,
            baud: 0,
            _keep: vec![slave],
        };
        Ok((port, path))
    }

    /// Adds a second PTY for the plant link; its slave's path.
    pub fn add_pty(&mut self) -> io::Result<String> {
        let (stream, slave, path) = pty_on(&self.rt)?;
        self.second = Some(stream);
        self._keep.push(slave);
        Ok(path)
    }

    /// Opens a second port for the plant link.
    pub fn open_second(&mut self, path: &str) -> io::Result<()> {
        let stream = open_on(&self.rt, path, self.baud)?;
        self.second = Some(stream);
        self.second_path = Some(path.to_string());
        Ok(())
    }

    /// Whether the plant link has a port of its own.
    pub fn has_second(&self) -> bool {
        self.second.is_some()
    }

    /// Writes all of `bytes` to the second port (the first when there is none).
    pub fn write_second(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.second.as_mut() {
            Some(stream) => self.rt.block_on(stream.write_all(bytes)),
            None => self.write(bytes),
        }
    }

    /// Like [`read`](Self::read), from whichever port has bytes first; `true` marks the second.
    pub fn read_any(&mut self, deadline: Option<Instant>) -> io::Result<Option<(bool, Vec<u8>)>> {
        if self.second.is_none() {
            return Ok(self.read(deadline)?.map(|b| (false, b)));
        }
        if let Some(bytes) = self.read(None)? {
            return Ok(Some((false, bytes)));
        }
        let (Some(a), Some(b)) = (self.stream.as_mut(), self.second.as_mut()) else { return Err(closed()) };
        let mut buf_a = vec![0u8; 4096];
        let mut buf_b = vec![0u8; 4096];
        let Some(deadline) = deadline else {
            return Ok(got(b.try_read(&mut buf_b), buf_b)?.map(|bytes| (true, bytes)));
        };
        let first = self.rt.block_on(async {
            tokio::select! {
                r = a.read(&mut buf_a) => Some((false, r)),
                r = b.read(&mut buf_b) => Some((true, r)),
                () = tokio::time::sleep_until(deadline.into()) => None,
            }
        });
        match first {
            None => Ok(None),
            Some((second, read)) => {
                Ok(got(read, if second { buf_b } else { buf_a })?.map(|bytes| (second, bytes)))
            }
        }
    }

    /// The device path, when opened by path.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// Writes all of `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.stream.as_mut().ok_or_else(closed)?;
        // No flush: on a tty it is `tcdrain`, which waits for the line (a PTY's reader) and
        // would add its latency to every frame; the driver sends what is written.
        self.rt.block_on(stream.write_all(bytes))
    }

    /// Reads what arrives before `deadline` (`None`: only what is there now). `Ok(None)`: nothing
    /// came; an error or end of file: the port is gone.
    pub fn read(&mut self, deadline: Option<Instant>) -> io::Result<Option<Vec<u8>>> {
        let stream = self.stream.as_mut().ok_or_else(closed)?;
        let mut buf = vec![0u8; 4096];
        let Some(deadline) = deadline else {
            // Only what is there: a plain non-blocking read (a zero timeout would still wait for
            // the runtime's next millisecond tick).
            return got(stream.try_read(&mut buf), buf);
        };
        let result =
            self.rt.block_on(async { tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await });
        match result {
            Err(_elapsed) => Ok(None),
            Ok(read) => got(read, buf),
        }
    }

    /// Closes the port (a PTY master: the other side sees it gone).
    pub fn close(&mut self) {
        self.stream = None;
        self.second = None;
        self._keep.clear();
    }

    /// Opens the same path again (after the device went away and came back).
    pub fn reopen(&mut self) -> io::Result<()> {
        let path = self.path.clone().ok_or_else(|| io::Error::other("a PTY master cannot be reopened"))?;
        self.stream = None;
        self.stream = Some(open_on(&self.rt, &path, self.baud)?);
        if let Some(second) = self.second_path.clone() {
            self.second = None;
            self.open_second(&second)?;
        }
        Ok(())
    }
}

/// A new PTY pair registered with `rt`: the master as a stream, the slave held, its path.
fn pty_on(rt: &Runtime) -> io::Result<(SerialStream, serialport::TTYPort, String)> {
    let (master, mut slave) = serialport::TTYPort::pair().map_err(io::Error::from)?;
    slave.set_exclusive(false).map_err(io::Error::from)?;
    let path =
        serialport::SerialPort::name(&slave).ok_or_else(|| io::Error::other("the PTY slave has no name"))?;
    let stream = {
        let _guard = rt.enter();
        SerialStream::try_from(master).map_err(io::Error::from)?
    };
    Ok((stream, slave, path))
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the port is closed")
}

/// The serial ports of this machine: name and kind.
pub fn list() -> io::Result<Vec<(String, String)>> {
    let ports = tokio_serial::available_ports().map_err(io::Error::from)?;
    Ok(ports
        .into_iter()
        .map(|p| {
            let kind = match p.port_type {
                tokio_serial::SerialPortType::UsbPort(u) => format!(
                    "USB {:04x}:{:04x}{}",
                    u.vid,
                    u.pid,
                    u.product.map(|p| format!(" {p}")).unwrap_or_default()
                ),
                tokio_serial::SerialPortType::PciPort => "PCI".into(),
                tokio_serial::SerialPortType::BluetoothPort => "Bluetooth".into(),
                tokio_serial::SerialPortType::Unknown => "unknown".into(),
            };
            (p.port_name, kind)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_pty_carries_bytes_both_ways_and_reports_its_loss() {
        let (mut master, path) = Port::pty().expect("pty");
        let mut slave = Port::open(&path, 115_200).expect("open the slave");
        master.write(b"hello\x00").expect("write");
        let got = slave.read(Some(Instant::now() + Duration::from_secs(2))).expect("read").expect("bytes");
        assert_eq!(got, b"hello\x00");
        slave.write(b"back").expect("write");
        let got = master.read(Some(Instant::now() + Duration::from_secs(2))).expect("read").expect("bytes");
        assert_eq!(got, b"back");
        assert_eq!(slave.read(None).expect("nothing pending"), None);
        master.close();
        assert!(slave.read(Some(Instant::now() + Duration::from_secs(2))).is_err(), "the loss shows");
    }
}
