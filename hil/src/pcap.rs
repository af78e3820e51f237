//! Frames on the line as a pcap file for Wireshark (`hil run --pcap`, `hil sniff --pcap`), read
//! with the dissector in `hil/wireshark/key_automat.lua`.
//!
//! Link type `USER0` (147). Each packet is one byte of direction and kind, then:
//! - bit 0 clear: towards the board (host or plant side sending); set: from the board;
//! - bit 1 clear: the raw frame (COBS decoded: header, payload, CRC — PROTOCOL.md §2.2);
//!   set: wire bytes that did not decode to a frame, as they came.
//!
//! Timestamps are the wall clock's: a pcap is the record of a real line, not of the simulation.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

/// The first byte's bit for frames from the board.
pub const FROM_BOARD: u8 = 0b01;
/// The first byte's bit for bytes that are no frame.
pub const UNDECODED: u8 = 0b10;

/// A pcap file being written; shared by the runs of a suite (one file per `hil run`).
#[derive(Debug)]
pub struct Capture {
    writer: Option<PcapWriter<BufWriter<File>>>,
    /// The first write error: the capture stops there, and the run says so at its end.
    error: Option<String>,
    packets: u64,
}

/// A capture many boxes write to.
pub type SharedCapture = Arc<Mutex<Capture>>;

impl Capture {
    /// Creates `path` and writes the pcap header.
    pub fn create(path: &Path) -> Result<Capture, String> {
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let header = PcapHeader { datalink: DataLink::USER0, ..PcapHeader::default() };
        let writer = PcapWriter::with_header(BufWriter::new(file), header)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Capture { writer: Some(writer), error: None, packets: 0 })
    }

    /// Records one chunk of wire bytes (a whole frame with its delimiter, as the line carried
    /// it): decoded when it decodes, else as it came.
    pub fn wire(&mut self, from_board: bool, wire: &[u8]) {
        let body = wire.strip_suffix(&[0]).unwrap_or(wire);
        let raw = cobs::decode_vec(body).ok().filter(|raw| firmware_proto::frame::parse(raw).is_ok());
        let mut flags = if from_board { FROM_BOARD } else { 0 };
        let data = match raw {
            Some(raw) => raw,
            None => {
                flags |= UNDECODED;
                wire.to_vec()
            }
        };
        self.packet(flags, &data);
    }

    fn packet(&mut self, flags: u8, data: &[u8]) {
        let Some(writer) = self.writer.as_mut() else { return };
        let mut bytes = Vec::with_capacity(data.len() + 1);
        bytes.push(flags);
        bytes.extend_from_slice(data);
        let at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        match writer.write_packet(&PcapPacket::new(at, len, &bytes)) {
            Ok(_) => self.packets += 1,
            Err(e) => {
                self.error = Some(e.to_string());
                self.writer = None;
            }
        }
    }

    /// Flushes the file; the number of packets written, or why the capture failed.
    pub fn finish(&mut self) -> Result<u64, String> {
        if let Some(writer) = self.writer.take() {
            use std::io::Write as _;
            let mut file = writer.into_writer();
            if let Err(e) = file.flush() {
                self.error.get_or_insert(e.to_string());
            }
        }
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(self.packets),
        }
    }
}

/// Records into a shared capture, if there is one (a poisoned lock loses the packet).
pub fn record(capture: Option<&SharedCapture>, from_board: bool, wire: &[u8]) {
    if let Some(c) = capture
        && let Ok(mut c) = c.lock()
    {
        c.wire(from_board, wire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_go_in_decoded_and_garbage_as_it_came() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.pcap");
        let mut c = Capture::create(&path).expect("created");
        let header = firmware_proto::frame::Header {
            channel: firmware_proto::frame::Channel::Plant,
            flags: firmware_proto::frame::Flags::DATA,
            stream: 5,
            seq: 1,
            base: 1,
            ack_stream: 0,
            ack: 0,
        };
        let mut wire = [0u8; firmware_proto::frame::MAX_WIRE];
        let n = firmware_proto::frame::encode(&header, &[3], &mut wire).expect("encodes");
        c.wire(true, &wire[..n]);
        c.wire(false, b"\x01\x02garbage\x00");
        assert_eq!(c.finish(), Ok(2));
        let bytes = std::fs::read(&path).expect("read");
        let mut reader = pcap_file::pcap::PcapReader::new(bytes.as_slice()).expect("a pcap");
        assert_eq!(reader.header().datalink, DataLink::USER0);
        let first = reader.next_packet().expect("one").expect("ok");
        assert_eq!(first.data[0], FROM_BOARD);
        assert!(firmware_proto::frame::parse(&first.data[1..]).is_ok(), "the raw frame");
        let second = reader.next_packet().expect("two").expect("ok");
        assert_eq!(&second.data[..], b"\x02\x01\x02garbage\x00");
    }
}
