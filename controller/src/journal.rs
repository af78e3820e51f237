//! The journal: where audit records become durable, and where they are read back after a
//! power cut.
//!
//! On disk (or in memory) a journal is a sequence of frames:
//! `len u32 LE ‖ CRC-32C(payload) u32 LE ‖ payload`, the payload a postcard-encoded
//! [`Record`]. Appends go to the end; [`Journal::sync`] makes everything appended durable
//! (`fsync`). A power cut can leave a *torn tail*: a last frame written in part. Recovery reads
//! frames from the start, stops at the first one that is short, too long, fails its CRC or does
//! not decode, truncates the journal there, and returns the records before it. So a journal cut
//! at any byte recovers to a prefix of what was written, which includes everything synced.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::audit::Record;

/// Largest frame payload accepted when reading back (a record is far smaller).
pub const MAX_RECORD: usize = 1 << 20;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// When appended records are made durable on their own, besides the syncs the driver asks for
/// whenever an acknowledgement waits (see the [controller's docs](crate::controller)): the
/// policy only decides how many records may share one sync, never whether something
/// acknowledged is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every record: one sync per record.
    Always,
    /// Group commit: after `n` records at the latest, sooner when an acknowledgement waits.
    /// A cut loses at most the records of the group not yet synced, none of which anybody was
    /// told about.
    Every(u32),
    /// Only when [`Journal::sync`] is called.
    Manual,
}

/// What recovery found.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// The intact records, in order.
    pub records: Vec<Record>,
    /// Bytes cut off the end (a torn or corrupt tail).
    pub truncated: u64,
}

/// A place records become durable. Implementations: [`FileJournal`], [`MemJournal`].
pub trait Journal {
    /// Appends a record; it is durable once [`Journal::synced`] covers it.
    fn append(&mut self, record: &Record) -> io::Result<()>;
    /// Makes everything appended durable.
    fn sync(&mut self) -> io::Result<()>;
    /// How many records are durable (appended and synced).
    fn synced(&self) -> u64;
    /// Reads the journal back from the start, truncating a torn tail.
    fn recover(&mut self) -> io::Result<Recovery>;
}

impl FsyncPolicy {
    /// Whether a sync is due with `appended` records written and `synced` of them durable.
    fn due(self, appended: u64, synced: u64) -> bool {
        match self {
            FsyncPolicy::Always => true,
            FsyncPolicy::Every(n) => appended - synced >= u64::from(n.max(1)),
            FsyncPolicy::Manual => false,
        }
    }
}

fn frame(record: &Record) -> io::Result<Vec<u8>> {
    let payload = postcard::to_stdvec(record).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&CRC.checksum(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Parses frames from the start of `bytes`; returns the records and how many bytes they span.
fn parse(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else { break };
        if CRC.checksum(payload) != crc {
            break;
        }
        let Ok(record) = postcard::from_bytes::<Record>(payload) else { break };
        records.push(record);
        at += 8 + len;
    }
    (records, at)
}

/// A journal in a file.
#[derive(Debug)]
pub struct FileJournal {
    path: PathBuf,
    file: File,
    policy: FsyncPolicy,
    appended: u64,
    synced: u64,
}

impl FileJournal {
    /// Opens (or creates) the journal at `path`. Call [`Journal::recover`] before appending.
    pub fn open(path: impl AsRef<Path>, policy: FsyncPolicy) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        Ok(FileJournal { path, file, policy, appended: 0, synced: 0 })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Journal for FileJournal {
    fn append(&mut self, record: &Record) -> io::Result<()> {
        self.file.write_all(&frame(record)?)?;
        self.appended += 1;
        if self.policy.due(self.appended, self.synced) { self.sync() } else { Ok(()) }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.synced = self.appended;
        Ok(())
    }

    fn synced(&self) -> u64 {
        self.synced
    }

    fn recover(&mut self) -> io::Result<Recovery> {
        let mut bytes = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut bytes)?;
        let (records, good) = parse(&bytes);
        let truncated = (bytes.len() - good) as u64;
        if truncated > 0 {
            self.file.set_len(good as u64)?;
            self.file.sync_all()?;
        }
        self.appended = records.len() as u64;
        self.synced = self.appended;
        Ok(Recovery { records, truncated })
    }
}

/// A journal in memory that loses what was not synced when the power is cut, as a disk would:
/// the simulator's journal.
#[derive(Clone, Debug)]
pub struct MemJournal {
    bytes: Vec<u8>,
    policy: FsyncPolicy,
    synced_len: usize,
    appended: u64,
    synced: u64,
}

impl MemJournal {
    /// An empty journal.
    pub fn new(policy: FsyncPolicy) -> Self {
        MemJournal { bytes: Vec::new(), policy, synced_len: 0, appended: 0, synced: 0 }
    }

    /// A journal holding `bytes`, as a disk holds them after a cut: call [`Journal::recover`].
    pub fn from_bytes(bytes: Vec<u8>, policy: FsyncPolicy) -> Self {
        MemJournal { synced_len: bytes.len(), bytes, policy, appended: 0, synced: 0 }
    }

    /// The bytes as they are (synced or not).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes made durable.
    pub fn synced_len(&self) -> usize {
        self.synced_len
    }

    /// The power goes: everything after the synced bytes is lost except `survive` bytes of it,
    /// which were on their way to the disk (a torn tail when they end inside a frame).
    pub fn power_cut(&mut self, survive: usize) {
        let keep = (self.synced_len + survive).min(self.bytes.len());
        self.bytes.truncate(keep);
    }

    /// Cuts the journal at `len` bytes (for crash-point tests).
    pub fn cut_at(&mut self, len: usize) {
        self.bytes.truncate(len);
        self.synced_len = self.synced_len.min(len);
    }
}

impl Journal for MemJournal {
    fn append(&mut self, record: &Record) -> io::Result<()> {
        self.bytes.extend_from_slice(&frame(record)?);
        self.appended += 1;
        if self.policy.due(self.appended, self.synced) { self.sync() } else { Ok(()) }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.synced_len = self.bytes.len();
        self.synced = self.appended;
        Ok(())
    }

    fn synced(&self) -> u64 {
        self.synced
    }

    fn recover(&mut self) -> io::Result<Recovery> {
        let (records, good) = parse(&self.bytes);
        let truncated = (self.bytes.len() - good) as u64;
        self.bytes.truncate(good);
        self.synced_len = good;
        self.appended = records.len() as u64;
        self.synced = self.appended;
        Ok(Recovery { records, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Chain;
    use crate::event::Event;
    use jiff::Timestamp;
    use proptest::prelude::*;

    fn records(n: u64) -> Vec<Record> {
        let mut chain = Chain::default();
        (0..n)
            .map(|i| {
                chain.append(
                    Timestamp::from_second(1_800_000_000 + i as i64).expect("valid"),
                    Event::ControllerStarted { replayed: i },
                )
            })
            .collect()
    }

    #[test]
    fn file_journal_round_trips_and_truncates_a_torn_tail() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.bin");
        let rs = records(5);
        {
            let mut j = FileJournal::open(&path, FsyncPolicy::Always).expect("opens");
            assert!(j.recover().expect("recovers").records.is_empty());
            for r in &rs {
                j.append(r).expect("appends");
            }
            assert_eq!(j.synced(), 5);
        }
        // Tear the last record in half.
        let len = std::fs::metadata(&path).expect("exists").len();
        let f = OpenOptions::new().write(true).open(&path).expect("opens");
        f.set_len(len - 7).expect("truncates");
        let mut j = FileJournal::open(&path, FsyncPolicy::Always).expect("opens");
        let rec = j.recover().expect("recovers");
        assert_eq!(rec.records, rs[..4]);
        assert!(rec.truncated > 0);
        assert_eq!(std::fs::metadata(&path).expect("exists").len(), len - rec.truncated - 7);
        // Appending goes on after the cut.
        j.append(&rs[4]).expect("appends");
        let again =
            FileJournal::open(&path, FsyncPolicy::Always).expect("opens").recover().expect("recovers");
        assert_eq!(again.records, rs);
    }

    proptest! {
        #[test]
        fn a_cut_at_any_byte_recovers_a_prefix_holding_everything_synced(
            n in 1u64..20,
            sync_every in 1u32..5,
            cut_frac in 0.0f64..=1.0,
        ) {
            let rs = records(n);
            let mut j = MemJournal::new(FsyncPolicy::Every(sync_every));
            for r in &rs {
                j.append(r).expect("appends");
            }
            let synced = j.synced() as usize;
            let synced_len = j.synced_len();
            let cut = synced_len + ((j.bytes().len() - synced_len) as f64 * cut_frac) as usize;
            j.cut_at(cut);
            let rec = j.recover().expect("recovers");
            prop_assert!(rec.records.len() >= synced, "lost a synced record");
            prop_assert_eq!(&rec.records[..], &rs[..rec.records.len()]);
            prop_assert!(crate::audit::verify_chain(&rec.records).is_ok());
        }

        #[test]
        fn garbage_tails_are_cut(n in 0u64..8, garbage in proptest::collection::vec(any::<u8>(), 0..64)) {
            let rs = records(n);
            let mut j = MemJournal::new(FsyncPolicy::Always);
            for r in &rs {
                j.append(r).expect("appends");
            }
            j.bytes.extend_from_slice(&garbage);
            let rec = j.recover().expect("recovers");
            prop_assert_eq!(&rec.records[..rs.len()], &rs[..]);
        }
    }
}
