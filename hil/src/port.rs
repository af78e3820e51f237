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
    path: Option<String>,
    baud: u32,
    /// Holds the other end of a PTY open (reads would fail while nobody has it open).
    _keep: Option<serialport::TTYPort>,
}

fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()
}

impl Port {
    /// Opens `path` at `baud` (8N1, no flow control, not exclusive: a port that comes back
    /// can be reopened while another handle still holds it).
    pub fn open(path: &str, baud: u32) -> io::Result<Port> {
        let rt = runtime()?;
        let stream = {
            let _guard = rt.enter();
            tokio_serial::new(path, baud).exclusive(false).open_native_async().map_err(io::Error::from)?
        };
        Ok(Port { rt, stream: Some(stream), path: Some(path.to_string()), baud, _keep: None })
    }

    /// A new PTY: the port on its master side, and the path of its slave side for the other
    /// party to open (the slave is also held open here, so the master reads nothing until then).
    pub fn pty() -> io::Result<(Port, String)> {
        let (master, mut slave) = serialport::TTYPort::pair().map_err(io::Error::from)?;
        slave.set_exclusive(false).map_err(io::Error::from)?;
        let path = serialport::SerialPort::name(&slave)
            .ok_or_else(|| io::Error::other("the PTY slave has no name"))?;
        let rt = runtime()?;
        let stream = {
            let _guard = rt.enter();
            SerialStream::try_from(master).map_err(io::Error::from)?
        };
        Ok((Port { rt, stream: Some(stream), path: None, baud: 0, _keep: Some(slave) }, path))
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
            return match stream.try_read(&mut buf) {
                Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the port closed")),
                Ok(n) => {
                    buf.truncate(n);
                    Ok(Some(buf))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                Err(e) => Err(e),
            };
        };
        let result =
            self.rt.block_on(async { tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await });
        match result {
            Err(_elapsed) => Ok(None),
            Ok(Ok(0)) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the port closed")),
            Ok(Ok(n)) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Ok(Err(e)) => Err(e),
        }
    }

    /// Closes the port (a PTY master: the other side sees it gone).
    pub fn close(&mut self) {
        self.stream = None;
        self._keep = None;
    }

    /// Opens the same path again (after the device went away and came back).
    pub fn reopen(&mut self) -> io::Result<()> {
        let path = self.path.clone().ok_or_else(|| io::Error::other("a PTY master cannot be reopened"))?;
        self.stream = None;
        let stream = {
            let _guard = self.rt.enter();
            tokio_serial::new(&path, self.baud)
                .exclusive(false)
                .open_native_async()
                .map_err(io::Error::from)?
        };
        self.stream = Some(stream);
        Ok(())
    }
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
