//! The buffer in a file ([`Builder::buffer_file`](crate::Builder::buffer_file)):
//! the ring's storage is the file, mapped into memory, so a process killed
//! at any instruction leaves every record `report` accepted in the page
//! cache, and the next process on the file recovers them
//! ([`Ring::recover`]). The sender thread syncs the file to its disk every
//! `sync_every` (power cuts); the reporting threads never wait for a disk.

use alooma_core::{FormatError, Recovery, Ring, Storage};
use memmap2::{MmapOptions, MmapRaw};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a buffer file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Another process (or SDK) holds the file.
    #[error("buffer file {0} is in use by another process")]
    Locked(PathBuf),
    /// The file holds a buffer this build cannot read (another format
    /// version); it is left as it is.
    #[error("buffer file {path}: {error}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: FormatError,
    },
    /// Opening, sizing, locking or mapping the file failed.
    #[error("buffer file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's error.
        error: io::Error,
    },
}

/// Where the native SDK's ring keeps its bytes: the heap, or a mapped file.
pub(crate) enum Store {
    Heap(Box<[u8]>),
    File(Mapped),
}

/// A file mapped into memory, locked for this process.
pub(crate) struct Mapped {
    map: Arc<MmapRaw>,
    /// Holds the lock (released when the file is closed).
    _file: File,
}

// The one place the SDK reads the mapping: a slice over it, so that the
// ring works on it as on memory (no copy, no system call per record).
#[allow(unsafe_code)]
impl Storage for Store {
    const PERSISTS: bool = true;

    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Store::Heap(b) => b,
            // SAFETY: the mapping is valid for `len` bytes while `map`
            // lives (it does, in `self`); only this ring reaches its bytes
            // (the file is locked against other SDKs, and the flusher only
            // passes the address to msync), and `&self` keeps `&mut` access
            // out for this borrow's life.
            Store::File(m) => unsafe { std::slice::from_raw_parts(m.map.as_ptr(), m.map.len()) },
        }
    }

    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Store::Heap(b) => b,
            // SAFETY: as in `bytes`, and `&mut self` makes this borrow the
            // only one.
            Store::File(m) => unsafe {
                std::slice::from_raw_parts_mut(m.map.as_mut_ptr(), m.map.len())
            },
        }
    }
}

/// Syncs a buffer file to its disk from the sender thread.
#[derive(Clone)]
pub(crate) struct Syncer(Arc<MmapRaw>);

impl Syncer {
    /// Writes the file's changed pages to its disk and waits for them.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Store {
    /// The syncer of a file store.
    pub(crate) fn syncer(&self) -> Option<Syncer> {
        match self {
            Store::Heap(_) => None,
            Store::File(m) => Some(Syncer(m.map.clone())),
        }
    }
}

/// Opens (or creates, at `size` bytes) the buffer file at `path`, locks it
/// and recovers the ring it holds. A file that holds a ring keeps the size
/// that ring was made with (a file extended or cut since is brought back to
/// it: what was cut off is counted damaged).
pub(crate) fn open(path: &Path, size: usize) -> Result<(Ring<Store>, Recovery), FileError> {
    let io_err = |error| FileError::Io {
        path: path.to_owned(),
        error,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err)?;
    lock(&file).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => FileError::Locked(path.to_owned()),
        _ => io_err(e),
    })?;
    let mut head = [0u8; 512];
    let got = read_prefix(&file, &mut head).map_err(io_err)?;
    let stored =
        Ring::<&mut [u8]>::stored_len(&head[..got]).map_err(|error| FileError::Format {
            path: path.to_owned(),
            error,
        })?;
    let want = stored.unwrap_or(size) as u64;
    let len = file.metadata().map_err(io_err)?.len();
    if len != want {
        file.set_len(want).map_err(io_err)?;
    }
    // Every block of the file allocated now: a full disk fails here, never
    // later as a fault on a page of the mapping.
    allocate(&file, want).map_err(io_err)?;
    let map = MmapOptions::new().map_raw(&file).map_err(io_err)?;
    let store = Store::File(Mapped {
        map: Arc::new(map),
        _file: file,
    });
    Ring::recover(store).map_err(|error| FileError::Format {
        path: path.to_owned(),
        error,
    })
}

fn read_prefix(mut file: &File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lock(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this `File` owns; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn lock(_: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn allocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fallocate on a descriptor this `File` owns.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) } {
        0 => Ok(()),
        // A file system without fallocate: the file keeps holes.
        libc::EOPNOTSUPP | libc::EINVAL => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

#[cfg(not(target_os = "linux"))]
fn allocate(_: &File, _: u64) -> io::Result<()> {
    Ok(())
}
