//! An in-memory [`Journal`] with the same contract as the SQLite one, for unit tests of the
//! core and the hub. Nothing is durable; retention and cursors behave exactly as in
//! [`super::sqlite`] (both decide cursors with one shared function). Each journal has its
//! own random identity, as a new SQLite file does.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use super::{
    Entry, Housekeeper, Journal, JournalId, JournalReader, KindQuery, PruneOutcome, Record, Result,
    Retention, SeqRange, Snapshot, UnixMillis, cursor_in_range,
};

/// Snapshots kept, as the SQLite journal's default.
const SNAPSHOTS_KEPT: usize = 3;

#[derive(Debug, Default)]
struct State {
    /// Retained records, contiguous: `records[i].seq == pruned_through + 1 + i`.
    records: VecDeque<Record>,
    /// Records a retention class keeps below `pruned_through` (module doc of `journal`).
    islands: Vec<Record>,
    latest: u64,
    pruned_through: u64,
    /// Oldest first.
    snapshots: Vec<Snapshot>,
}

/// The in-memory journal (writer side).
#[derive(Debug)]
pub struct MemoryJournal {
    state: Arc<RwLock<State>>,
    identity: JournalId,
}

/// A reader of a [`MemoryJournal`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct MemoryReader {
    state: Arc<RwLock<State>>,
    identity: JournalId,
}

// A panic while a guard is held cannot leave `State` half-updated (every mutation below is
// completed before anything that could panic), so a poisoned lock is safe to use.
fn read(l: &RwLock<State>) -> RwLockReadGuard<'_, State> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write(l: &RwLock<State>) -> RwLockWriteGuard<'_, State> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl MemoryJournal {
    /// An empty journal with a new random identity.
    ///
    /// Panics if the OS has no random source: this journal is for tests, where that is a
    /// broken machine, not an input (use [`MemoryJournal::with_identity`] to avoid it).
    pub fn new() -> MemoryJournal {
        MemoryJournal::with_identity(
            JournalId::random().expect("OS random source for a test journal"),
        )
    }

    /// An empty journal with the given identity.
    pub fn with_identity(identity: JournalId) -> MemoryJournal {
        MemoryJournal {
            state: Arc::default(),
            identity,
        }
    }

    /// A concrete reader (the trait's [`Journal::reader`] gives a boxed one).
    pub fn memory_reader(&self) -> MemoryReader {
        MemoryReader {
            state: Arc::clone(&self.state),
            identity: self.identity,
        }
    }
}

impl Default for MemoryJournal {
    fn default() -> MemoryJournal {
        MemoryJournal::new()
    }
}

impl Journal for MemoryJournal {
    fn append(&mut self, entries: &[Entry]) -> Result<SeqRange> {
        let mut s = write(&self.state);
        let start = s.latest + 1;
        for (i, e) in entries.iter().enumerate() {
            s.records.push_back(Record {
                seq: start + i as u64,
                at: e.at,
                kind: e.kind.to_string(),
                payload: e.payload.clone(),
            });
        }
        s.latest += entries.len() as u64;
        Ok(SeqRange {
            start,
            end: s.latest + 1,
        })
    }

    fn latest_seq(&self) -> u64 {
        read(&self.state).latest
    }

    fn identity(&self) -> JournalId {
        self.identity
    }

    fn save_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<()> {
        let mut s = write(&self.state);
        if seq > s.latest {
            return Err(super::JournalError::SnapshotAhead {
                seq,
                latest: s.latest,
            });
        }
        s.snapshots.retain(|x| x.seq != seq);
        s.snapshots.push(Snapshot {
            seq,
            data: Bytes::copy_from_slice(data),
        });
        s.snapshots.sort_by_key(|x| x.seq);
        let excess = s.snapshots.len().saturating_sub(SNAPSHOTS_KEPT);
        s.snapshots.drain(..excess);
        Ok(())
    }

    fn prune_retention(&mut self, now: UnixMillis, retention: &Retention) -> Result<PruneOutcome> {
        let mut s = write(&self.state);
        let cutoff = now.saturating_sub(retention.window);
        let islands = s.islands.len();
        s.islands.retain(|r| retention.keeps(now, &r.kind, r.at));
        let mut deleted = (islands - s.islands.len()) as u64;
        // The oldest kept snapshot: every kept one can still be replayed from.
        let Some(snap) = s.snapshots.first().map(|x| x.seq) else {
            return Ok(PruneOutcome {
                deleted,
                oldest_available: s.pruned_through,
            });
        };
        while let Some(front) = s.records.front() {
            if front.seq > snap || front.at >= cutoff {
                break;
            }
            s.pruned_through = front.seq;
            if let Some(r) = s.records.pop_front() {
                if retention.keeps(now, &r.kind, r.at) {
                    s.islands.push(r);
                } else {
                    deleted += 1;
                }
            }
        }
        Ok(PruneOutcome {
            deleted,
            oldest_available: s.pruned_through,
        })
    }

    fn reader(&self) -> Result<Arc<dyn JournalReader>> {
        Ok(Arc::new(self.memory_reader()))
    }

    fn housekeeper(&self) -> Result<Box<dyn Housekeeper>> {
        Ok(Box::new(MemoryHousekeeper(MemoryJournal {
            state: Arc::clone(&self.state),
            identity: self.identity,
        })))
    }
}

/// The same store, written from another thread.
struct MemoryHousekeeper(MemoryJournal);

impl Housekeeper for MemoryHousekeeper {
    fn save_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<()> {
        self.0.save_snapshot(seq, data)
    }

    fn prune_retention(&mut self, now: UnixMillis, retention: &Retention) -> Result<PruneOutcome> {
        self.0.prune_retention(now, retention)
    }
}

impl JournalReader for MemoryReader {
    fn read_kind(&self, query: &KindQuery<'_>) -> Result<Vec<Record>> {
        let s = read(&self.state);
        let mut out: Vec<Record> = s
            .islands
            .iter()
            .chain(&s.records)
            .filter(|r| query.selects(r))
            .cloned()
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse((r.at, r.seq)));
        out.truncate(query.limit);
        Ok(out)
    }

    fn read_after(&self, cursor: u64, limit: usize) -> Result<Vec<Record>> {
        let s = read(&self.state);
        cursor_in_range(cursor, s.latest, s.pruned_through)?;
        // In range, so `cursor - pruned_through` indexes the record after the cursor.
        let skip = usize::try_from(cursor - s.pruned_through).unwrap_or(usize::MAX);
        Ok(s.records.iter().skip(skip).take(limit).cloned().collect())
    }

    fn latest_seq(&self) -> Result<u64> {
        Ok(read(&self.state).latest)
    }

    fn identity(&self) -> JournalId {
        self.identity
    }

    fn oldest_seq(&self) -> Result<Option<u64>> {
        Ok(read(&self.state).records.front().map(|r| r.seq))
    }

    fn check_cursor(&self, cursor: u64) -> Result<()> {
        let s = read(&self.state);
        cursor_in_range(cursor, s.latest, s.pruned_through)
    }

    fn latest_snapshot(&self) -> Result<Option<Snapshot>> {
        Ok(read(&self.state).snapshots.last().cloned())
    }

    fn snapshots(&self) -> Result<Vec<u64>> {
        Ok(read(&self.state)
            .snapshots
            .iter()
            .rev()
            .map(|x| x.seq)
            .collect())
    }

    fn snapshot(&self, seq: u64) -> Result<Option<Snapshot>> {
        Ok(read(&self.state)
            .snapshots
            .iter()
            .find(|x| x.seq == seq)
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::journal::CursorError;

    fn entries(n: usize, at: i64) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry::new(UnixMillis(at), "test", vec![i as u8]))
            .collect()
    }

    #[test]
    fn append_read_prune() {
        let mut j = MemoryJournal::new();
        let r = j.memory_reader();
        assert_eq!(
            j.append(&entries(3, 100)).unwrap(),
            SeqRange { start: 1, end: 4 }
        );
        assert_eq!(j.append(&[]).unwrap(), SeqRange { start: 4, end: 4 });
        assert_eq!(
            j.append(&entries(3, 200)).unwrap(),
            SeqRange { start: 4, end: 7 }
        );
        let seqs: Vec<u64> = r.read_after(2, 3).unwrap().iter().map(|x| x.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);

        // No snapshot: nothing pruned.
        assert_eq!(
            j.prune(UnixMillis(10_000), Duration::ZERO).unwrap().deleted,
            0
        );
        j.save_snapshot(5, b"state").unwrap();
        // Window keeps everything at or after t=150: records 1..=3 go.
        let out = j.prune(UnixMillis(1150), Duration::from_secs(1)).unwrap();
        assert_eq!((out.deleted, out.oldest_available), (3, 3));
        assert_eq!(r.oldest_seq().unwrap(), Some(4));
        assert_eq!(
            r.read_after(2, 10).unwrap_err().cursor(),
            Some(CursorError::OutOfRange {
                cursor: 2,
                oldest_available: 3
            })
        );
        assert_eq!(r.read_after(3, 10).unwrap().len(), 3);
        // Window past everything: snapshot bound (5) holds.
        let out = j.prune(UnixMillis(1_000_000), Duration::ZERO).unwrap();
        assert_eq!((out.deleted, out.oldest_available), (2, 5));
        assert_eq!(r.oldest_seq().unwrap(), Some(6));
        assert_eq!(j.append(&entries(1, 300)).unwrap().start, 7);
    }

    #[test]
    fn each_journal_has_its_own_identity_shared_by_its_readers() {
        let (a, b) = (MemoryJournal::new(), MemoryJournal::new());
        assert_ne!(a.identity(), b.identity());
        assert_eq!(a.reader().unwrap().identity(), a.identity());
        let id = JournalId::from_bytes([7; 16]);
        assert_eq!(
            MemoryJournal::with_identity(id).memory_reader().identity(),
            id
        );
    }

    #[test]
    fn snapshot_ahead_refused_and_few_kept() {
        let mut j = MemoryJournal::new();
        j.append(&entries(10, 0)).unwrap();
        assert!(j.save_snapshot(11, b"x").is_err());
        for s in 1..=5 {
            j.save_snapshot(s, &[s as u8]).unwrap();
        }
        let r = j.memory_reader();
        assert_eq!(r.latest_snapshot().unwrap().unwrap().seq, 5);
        assert_eq!(read(&j.state).snapshots.len(), SNAPSHOTS_KEPT);
    }
}
