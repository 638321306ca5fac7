//! A ring that outlives its process: the ring's own record of itself, kept
//! in its storage, and [`Ring::recover`] that finds it again.
//!
//! When the storage survives the process (a file mapped into memory on a
//! host, RAM the runtime does not zero on a device's warm reset), so can
//! the records: the storage begins with a header and a table of seals, and
//! the records follow, as the wire bytes they are (nothing is framed in
//! between, so the sender still writes straight from the ring).
//!
//! - **Header**: two slots (128 bytes each) written in turn, each with a
//!   generation and its own CRC. It holds the layout and the cursors that
//!   matter (the stored regions, the record count, the write end and the
//!   CRC of its block's bytes so far). A slot cut short by a kill or a
//!   reset fails its CRC, and the other slot, one step older, is used.
//! - **Seals**: the record area is cut into blocks (64 B to 4 KiB, about a
//!   32nd of the storage); the table holds, per block, how many of its bytes
//!   were written and their CRC, written once the write end leaves the
//!   block. The block the write end is in is sealed by the header itself.
//!   A seal is only ever written for a block that holds no stored record
//!   under the header in force, so a seal cut short is harmless.
//! - **Order**: a record's bytes are written first, then the seals, then the
//!   header: a record counts once the header that holds it is written,
//!   which happens before `push` returns. Room made by dropping records is
//!   written to the header before a new record may overwrite them.
//!
//! [`Ring::recover`] reads any bytes whatsoever and never panics: it takes
//! the newest valid header, checks every block that holds stored records,
//! and keeps the longest run of whole, intact records (a record counts only
//! when all its bytes and the newline before it pass their seals). Whatever
//! else the header counted is reported damaged. The worst case is an empty
//! ring and a count; the collector never receives bytes that were not
//! pushed as a record (but for a CRC-32 collision, 1 in 4 billion per
//! damaged block).

use crate::buffer::checksum;
use crate::buffer::ring::{find_nl, Ring, Storage};

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: [u8; 8] = *b"ALOOMARB";
const SLOT: usize = 128;
/// Both header slots.
const HEAD: usize = 2 * SLOT;
/// Bytes of a header slot its CRC covers.
const SLOT_BODY: usize = 92;
const MIN_BLOCK: usize = 64;
const MAX_BLOCK: usize = 4096;

/// Where the header, the seals and the records lie in a durable ring's
/// storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Block size (a power of two).
    pub block: usize,
    /// Blocks of the record area.
    pub blocks: usize,
    /// Offset of the record area.
    pub data: usize,
}

impl Layout {
    /// The layout a new ring takes in `len` bytes (`None`: too small for
    /// one block).
    pub(crate) fn fresh(len: usize) -> Option<Layout> {
        let mut block = MIN_BLOCK;
        while block < MAX_BLOCK && block * 32 < len {
            block *= 2;
        }
        let mut blocks = len.saturating_sub(HEAD) / (block + 8);
        loop {
            if blocks == 0 {
                return None;
            }
            match Layout::of(block, blocks) {
                Some(l) if l.total() <= len => return Some(l),
                _ => blocks -= 1,
            }
        }
    }

    fn of(block: usize, blocks: usize) -> Option<Layout> {
        let table = blocks.checked_mul(8)?.checked_add(HEAD)?;
        let data = table.checked_add(63)? & !63;
        blocks.checked_mul(block)?.checked_add(data)?;
        Some(Layout {
            block,
            blocks,
            data,
        })
    }

    /// Bytes of the record area.
    pub(crate) fn capacity(&self) -> usize {
        self.block * self.blocks
    }

    /// Bytes the layout spans.
    pub(crate) fn total(&self) -> usize {
        self.data + self.capacity()
    }
}

/// Smallest storage a durable ring can use (one block of records).
pub const MIN_STORAGE: usize = 384;

/// The durable ring's state: its layout, the header generation last
/// written, and the write end with the CRC of its block's bytes before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Journal {
    pub layout: Layout,
    pub gen: u64,
    pub w: usize,
    pub w_crc: u32,
}

/// What one header slot says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    gen: u64,
    block: usize,
    blocks: usize,
    a_start: usize,
    a_end: usize,
    b_end: usize,
    wrapped: bool,
    records: u64,
    w: usize,
    w_crc: u32,
}

impl Head {
    fn write(&self, out: &mut [u8]) {
        let mut b = [0u8; SLOT_BODY + 4];
        b[..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(self.block as u32).to_le_bytes());
        let words = [
            self.gen,
            self.blocks as u64,
            (self.block * self.blocks) as u64,
            self.a_start as u64,
            self.a_end as u64,
            self.b_end as u64,
            self.wrapped as u64,
            self.records,
            self.w as u64,
        ];
        for (i, w) in words.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&w.to_le_bytes());
        }
        b[88..92].copy_from_slice(&self.w_crc.to_le_bytes());
        let crc = checksum::update(0, &b[..SLOT_BODY]);
        b[SLOT_BODY..].copy_from_slice(&crc.to_le_bytes());
        out[..b.len()].copy_from_slice(&b);
    }

    /// The slot's header when it is whole; `Err(version)` for a whole slot
    /// of another format version.
    fn read(b: &[u8]) -> Option<Result<Head, u32>> {
        let b = b.get(..SLOT_BODY + 4)?;
        if b[..8] != MAGIC || u32_at(b, SLOT_BODY)? != checksum::update(0, &b[..SLOT_BODY]) {
            return None;
        }
        let version = u32_at(b, 8)?;
        if version != FORMAT_VERSION {
            return Some(Err(version));
        }
        let w = |i: usize| u64_at(b, 16 + 8 * i).and_then(|v| usize::try_from(v).ok());
        Some(Ok(Head {
            gen: u64_at(b, 16)?,
            block: u32_at(b, 12)? as usize,
            blocks: w(1)?,
            a_start: w(3)?,
            a_end: w(4)?,
            b_end: w(5)?,
            wrapped: u64_at(b, 64)? == 1,
            records: u64_at(b, 72)?,
            w: w(8)?,
            w_crc: u32_at(b, 88)?,
        }))
        .filter(|h| match h {
            Ok(h) => u64_at(b, 32) == Some((h.block as u64).wrapping_mul(h.blocks as u64)),
            Err(_) => true,
        })
    }

    /// True when the cursors make sense for `layout`.
    fn consistent(&self, layout: &Layout) -> bool {
        let cap = layout.capacity();
        let floor = self.a_start & !(layout.block - 1);
        let end = if self.wrapped { self.b_end } else { self.a_end };
        self.a_start <= self.a_end
            && self.a_end <= cap
            && (!self.wrapped || (self.b_end > 0 && self.b_end <= floor))
            && (self.wrapped || self.b_end == 0)
            && self.w == end
            && (self.records == 0) == (self.a_start == self.a_end && !self.wrapped)
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// What [`Ring::recover`] found in the storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Blank storage (all zero bytes): a new ring.
    Blank,
    /// A ring's header: its records were checked and recovered.
    Ring,
    /// Neither a valid header nor blank storage: whatever it held is lost,
    /// and the ring starts empty (`damaged_bytes` counts the record area).
    Damaged,
}

/// What [`Ring::recover`] recovered, and what it could not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// What the storage held.
    pub found: Found,
    /// Records recovered: whole and intact, in the ring to be sent before
    /// any new one ([`RingStats::recovered`](crate::RingStats::recovered)).
    /// Records that were in flight when the process ended may already be at
    /// the collector: they may arrive twice.
    pub records: u64,
    /// Records the ring held that are not recovered: torn (the process or
    /// the power ended while they were written back), damaged, or cut off
    /// from the longest intact run by damage.
    pub damaged: u64,
    /// Bytes of stored records not recovered (with [`Found::Damaged`]: the
    /// whole record area, as nothing says how much of it was in use).
    pub damaged_bytes: u64,
}

/// Why a storage cannot hold a durable ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Too small for the header, the seals and one block of records.
    #[error("{len} bytes cannot hold a durable ring (at least {MIN_STORAGE})")]
    TooSmall {
        /// The storage's length.
        len: usize,
    },
    /// A ring of another format version: this build cannot read its records
    /// and will not overwrite them.
    #[error("the ring's storage holds format version {found}; this build reads version {FORMAT_VERSION} (send its records with the build that wrote it, or remove it)")]
    Version {
        /// The version found.
        found: u32,
    },
}

/// Trust in one block's bytes: the header's seal below the write end (in
/// the write end's block), the table's seal elsewhere.
struct Seals<'a> {
    data: &'a [u8],
    table: &'a [u8],
    block: usize,
    w: usize,
    w_ok: bool,
    /// The last block whose table seal was checked, and its trusted end.
    cached: Option<(usize, usize)>,
}

impl Seals<'_> {
    /// End of the bytes the table's seal of block `j` vouches for (its
    /// start when the seal does not hold).
    fn table_end(&mut self, j: usize) -> usize {
        if let Some((k, end)) = self.cached {
            if k == j {
                return end;
            }
        }
        let start = j * self.block;
        let fill = u32_at(self.table, 8 * j).map_or(usize::MAX, |f| f as usize);
        let crc = u32_at(self.table, 8 * j + 4);
        let end = match (
            fill <= self.block,
            self.data.get(start..start.saturating_add(fill)),
        ) {
            (true, Some(b)) if Some(checksum::update(0, b)) == crc => start + fill,
            _ => start,
        };
        self.cached = Some((j, end));
        end
    }

    /// True when every byte of `[lo, hi)` passes its seal.
    fn trusted(&mut self, lo: usize, hi: usize) -> bool {
        let mut at = lo;
        while at < hi {
            let j = at / self.block;
            let block_end = ((j + 1) * self.block).min(hi);
            let w_block = self.w / self.block == j;
            if w_block && at < self.w {
                if !self.w_ok {
                    return false;
                }
                at = self.w.min(block_end);
                continue;
            }
            if self.table_end(j) < block_end {
                return false;
            }
            at = block_end;
        }
        true
    }
}

/// The longest run of intact records found so far, in stream order:
/// (range index, offset) of its first byte and of its end, and its records.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    start: (usize, usize),
    end: (usize, usize),
    records: u64,
    bytes: usize,
}

/// Finds the longest run of intact records in the live `ranges` (stream
/// order; the second is empty unless the ring wrapped).
fn longest_run(seals: &mut Seals<'_>, ranges: [(usize, usize); 2]) -> Run {
    let (mut best, mut cur) = (Run::default(), None::<Run>);
    for (r, &(lo, hi)) in ranges.iter().enumerate() {
        let mut pos = lo;
        // The newline before a record (or the range's start, which the
        // header vouches for) must be intact too.
        let mut clean_start = true;
        while pos < hi {
            let Some(i) = seals.data.get(pos..hi).and_then(find_nl) else {
                break; // a torn tail: no newline before the range ends
            };
            let end = pos + i + 1;
            let good = clean_start && seals.trusted(pos, end);
            if good {
                let run = cur.get_or_insert(Run {
                    start: (r, pos),
                    ..Run::default()
                });
                run.end = (r, end);
                run.records += 1;
                run.bytes += end - pos;
                if run.records > best.records {
                    best = *run;
                }
            } else {
                cur = None;
            }
            clean_start = seals.trusted(end - 1, end);
            pos = end;
        }
        if pos < hi {
            cur = None;
        }
    }
    best
}

impl<S: Storage> Ring<S> {
    /// A new, empty durable ring over `storage`, whatever it held: the
    /// first start of a device, say, whose RAM holds noise after power-on.
    /// Use [`recover`](Self::recover) where the storage may hold records.
    pub fn format(mut storage: S) -> Result<Self, FormatError> {
        const { assert!(S::PERSISTS, "this storage cannot outlive its process") };
        let len = storage.bytes().len();
        let layout = Layout::fresh(len).ok_or(FormatError::TooSmall { len })?;
        storage.bytes_mut()[..HEAD].fill(0);
        let mut ring = Ring::with_storage(storage);
        ring.journal = Some(Journal {
            layout,
            gen: 0,
            w: 0,
            w_crc: 0,
        });
        ring.jot();
        Ok(ring)
    }

    /// The durable ring held in `storage`, with what was recovered: the
    /// newest valid header, and of the records it holds the longest run
    /// of whole, intact ones (the format: `core/src/buffer/durable.rs`). Blank storage
    /// gives a new ring. Damage never fails this: it is counted in
    /// [`Recovery`] (the worst case is an empty ring). It fails only when
    /// the storage is too small, or holds a ring of another format
    /// version (whose records this build cannot read and will not destroy).
    pub fn recover(storage: S) -> Result<(Self, Recovery), FormatError> {
        const { assert!(S::PERSISTS, "this storage cannot outlive its process") };
        let len = storage.bytes().len();
        let fresh = Layout::fresh(len).ok_or(FormatError::TooSmall { len })?;
        let bytes = storage.bytes();
        let mut best: Option<Head> = None;
        let mut other_version = None;
        for slot in [&bytes[..SLOT], &bytes[SLOT..HEAD]] {
            match Head::read(slot) {
                Some(Ok(h)) => {
                    let fits = h.block.is_power_of_two()
                        && (MIN_BLOCK..=MAX_BLOCK).contains(&h.block)
                        && Layout::of(h.block, h.blocks)
                            .is_some_and(|l| l.total() <= len && h.consistent(&l));
                    if fits && best.is_none_or(|b| h.gen > b.gen) {
                        best = Some(h);
                    }
                }
                Some(Err(v)) => other_version = Some(v),
                None => {}
            }
        }
        let head = match (best, other_version) {
            (Some(h), _) => h,
            (None, Some(found)) => return Err(FormatError::Version { found }),
            (None, None) => {
                let blank = bytes.iter().all(|&b| b == 0);
                let damaged_bytes = if blank { 0 } else { fresh.capacity() as u64 };
                let mut ring = Ring::format(storage)?;
                let found = if blank { Found::Blank } else { Found::Damaged };
                if !blank {
                    ring.recovery = Some((0, 0, damaged_bytes));
                    ring.note_recovered = true;
                }
                return Ok((
                    ring,
                    Recovery {
                        found,
                        records: 0,
                        damaged: 0,
                        damaged_bytes,
                    },
                ));
            }
        };
        let layout = Layout::of(head.block, head.blocks).unwrap_or(fresh);
        let data = &bytes[layout.data..layout.total()];
        let table = &bytes[HEAD..HEAD + 8 * layout.blocks];
        let w_start = head.w & !(layout.block - 1);
        let w_ok = data
            .get(w_start..head.w)
            .is_some_and(|b| checksum::update(0, b) == head.w_crc);
        let mut seals = Seals {
            data,
            table,
            block: layout.block,
            w: head.w,
            w_ok,
            cached: None,
        };
        let ranges = [
            (head.a_start, head.a_end),
            (0, if head.wrapped { head.b_end } else { 0 }),
        ];
        let run = longest_run(&mut seals, ranges);
        let live = (head.a_end - head.a_start) + ranges[1].1;
        let mut ring = Ring::with_storage(storage);
        ring.journal = Some(Journal {
            layout,
            gen: head.gen,
            w: head.w,
            w_crc: head.w_crc,
        });
        if run.records > 0 {
            let (s, e) = (run.start, run.end);
            ring.a_start = s.1;
            if s.0 == e.0 {
                ring.a_end = e.1;
            } else {
                ring.a_end = ranges[0].1;
                ring.wrapped = true;
                ring.b_end = e.1;
            }
            ring.records = run.records as usize;
        }
        ring.stats.recovered = run.records;
        let rec = Recovery {
            found: Found::Ring,
            records: run.records,
            damaged: head.records.saturating_sub(run.records),
            damaged_bytes: (live - run.bytes) as u64,
        };
        if rec.records + rec.damaged + rec.damaged_bytes > 0 {
            ring.recovery = Some((rec.records, rec.damaged, rec.damaged_bytes));
            ring.note_recovered = true;
        }
        // The write end may have moved back over damage: its block's CRC
        // is taken again from the bytes.
        ring.jot();
        Ok((ring, rec))
    }

    /// The length of the storage the ring in `head` (the storage's first
    /// bytes, at least 256) was made for: `Ok(None)` when they hold no
    /// valid header. For a host that sizes a file before mapping it.
    pub fn stored_len(head: &[u8]) -> Result<Option<usize>, FormatError> {
        let mut best: Option<Head> = None;
        let mut other = None;
        for at in [0, SLOT] {
            match head.get(at..at + SLOT).and_then(Head::read) {
                Some(Ok(h)) if best.is_none_or(|b| h.gen > b.gen) => best = Some(h),
                Some(Err(v)) => other = Some(v),
                _ => {}
            }
        }
        match (best, other) {
            (Some(h), _) => Ok(Layout::of(h.block, h.blocks)
                .filter(|_| h.block.is_power_of_two() && (MIN_BLOCK..=MAX_BLOCK).contains(&h.block))
                .map(|l| l.total())),
            (None, Some(found)) => Err(FormatError::Version { found }),
            (None, None) => Ok(None),
        }
    }

    /// A durable ring's header generation: it changes with every change
    /// of the stored records (0 for a ring in memory). For a host that syncs
    /// the storage only when something changed.
    pub fn journal_gen(&self) -> u64 {
        self.journal().map_or(0, |j| j.gen)
    }

    /// True for a durable ring ([`format`](Self::format),
    /// [`recover`](Self::recover)).
    pub fn is_durable(&self) -> bool {
        self.journal().is_some()
    }

    /// The write end: where the next record goes when it follows the last.
    fn write_end(&self) -> usize {
        if self.records == 0 {
            0
        } else if self.wrapped {
            self.b_end
        } else {
            self.a_end
        }
    }

    /// A durable ring's records grew by `[start, start + n)` of the record
    /// area: seals the blocks they complete, then writes the header.
    pub(crate) fn jot_commit(&mut self, start: usize, n: usize) {
        let Some(mut j) = self.journal else { return };
        let block = j.layout.block;
        let table = HEAD;
        let (head, data) = self.buf.bytes_mut()[..j.layout.total()].split_at_mut(j.layout.data);
        if start != j.w {
            // The write end jumped (to the start, after a wrap): the block
            // it left is sealed as far as it got.
            seal(
                head,
                table,
                j.w / block,
                j.w % block,
                j.w_crc,
                j.layout.blocks,
            );
            let bs = start & !(block - 1);
            j.w_crc = checksum::update(0, &data[bs..start]);
            j.w = start;
        }
        let end = start + n;
        while j.w < end {
            let block_end = (j.w / block + 1) * block;
            let to = block_end.min(end);
            j.w_crc = checksum::update(j.w_crc, &data[j.w..to]);
            j.w = to;
            if to == block_end {
                seal(head, table, to / block - 1, block, j.w_crc, j.layout.blocks);
                j.w_crc = 0;
            }
        }
        self.journal = Some(j);
        self.jot();
    }

    /// Writes a durable ring's header for its current cursors (in the slot
    /// the previous header did not use).
    pub(crate) fn jot(&mut self) {
        let Some(mut j) = self.journal else { return };
        let w = self.write_end();
        if w != j.w {
            // Moved other than by writing (emptied, or back over damage).
            let bs = w & !(j.layout.block - 1);
            j.w_crc = checksum::update(0, &self.buf.bytes()[j.layout.data + bs..j.layout.data + w]);
            j.w = w;
        }
        j.gen += 1;
        let head = Head {
            gen: j.gen,
            block: j.layout.block,
            blocks: j.layout.blocks,
            a_start: if self.records == 0 { 0 } else { self.a_start },
            a_end: if self.records == 0 { 0 } else { self.a_end },
            b_end: if self.wrapped { self.b_end } else { 0 },
            wrapped: self.wrapped && self.records > 0,
            records: self.records as u64,
            w: j.w,
            w_crc: j.w_crc,
        };
        self.journal = Some(j);
        // The records and seals this header vouches for are written before
        // it, in program order (what a killed process leaves behind).
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        let at = (j.gen % 2) as usize * SLOT;
        head.write(&mut self.buf.bytes_mut()[at..at + SLOT]);
    }

    /// The block size of a durable ring's seals (the granularity at which
    /// the free space before the oldest record can be reused), 1 otherwise.
    #[inline]
    pub(crate) fn seal_block(&self) -> usize {
        match self.journal() {
            Some(j) => j.layout.block,
            None => 1,
        }
    }
}

/// Writes the table seal of block `j`: its first `fill` bytes have CRC `crc`.
fn seal(head: &mut [u8], table: usize, j: usize, fill: usize, crc: u32, blocks: usize) {
    if j >= blocks {
        return;
    }
    let at = table + 8 * j;
    head[at..at + 4].copy_from_slice(&(fill as u32).to_le_bytes());
    head[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
}
