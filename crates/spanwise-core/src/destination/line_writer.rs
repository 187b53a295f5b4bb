//! Writing whole lines to the trace file, with the faults of a disk handled (see
//! [`LineWriter`]), and the counts of what was written and what failed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(super) struct Counters {
    pub(super) written: AtomicU64,
    pub(super) failed: AtomicU64,
}

/// Whole lines, buffered and written to the file in one go per batch, with the faults of a disk
/// handled: a write that fails (a full disk) fails the traces of its buffer, counted exactly; a
/// file whose path no longer leads to it (the directory removed, replaced, or the file swapped
/// for another) is opened again at its path before the next write, creating the directory, so
/// that writing resumes by itself when the fault clears. A fault is reported once on stderr
/// when it starts, and once when writing resumes, not once per trace.
pub(super) struct LineWriter<'a> {
    file: Option<File>,
    path: &'a Path,
    counters: &'a Counters,
    buf: Vec<u8>,
    /// Traces whose lines are in `buf`.
    pending: u64,
    /// Traces not written since the fault began (`None`: no fault).
    fault: Option<u64>,
    /// A failed write may have left part of a line in the file: the next write starts with a
    /// newline, so that the piece is a line of its own (which readers skip and report) and
    /// the next trace's line is whole.
    pub(super) torn: bool,
    failed_since_flush: u64,
}

/// Lines are buffered up to this many bytes before they are written.
const WRITE_BYTES: usize = 1 << 16;
/// The most room the buffer keeps once its lines are written.
const KEEP_BYTES: usize = 4 << 20;

impl<'a> LineWriter<'a> {
    pub(super) fn new(file: File, path: &'a Path, counters: &'a Counters) -> LineWriter<'a> {
        LineWriter {
            file: Some(file),
            path,
            counters,
            buf: Vec::with_capacity(WRITE_BYTES),
            pending: 0,
            fault: None,
            torn: false,
            failed_since_flush: 0,
        }
    }

    /// Appends the line `write` writes (without its newline) to the buffer; a line that
    /// could not be written is taken out again and counted as failed.
    pub(super) fn write_line(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), crate::Error>,
    ) {
        let at = self.buf.len();
        match write(&mut self.buf) {
            Ok(()) => {
                self.buf.push(b'\n');
                self.pending += 1;
                if self.buf.len() >= WRITE_BYTES {
                    self.commit();
                }
            }
            Err(e) => {
                self.buf.truncate(at);
                self.failed(1, &format!("a trace could not be serialized: {e}"));
            }
        }
    }

    /// Writes the buffered lines.
    pub(super) fn commit(&mut self) {
        if self.pending == 0 {
            return;
        }
        let result = self.write_buf();
        let n = std::mem::take(&mut self.pending);
        self.buf.clear();
        // Room for large traces is kept (growing it again for each one cost a copy of it),
        // up to a bound: a line far larger than usual is not kept for the rest of the process.
        if self.buf.capacity() > KEEP_BYTES {
            self.buf = Vec::with_capacity(WRITE_BYTES);
        }
        match result {
            Ok(()) => {
                self.counters.written.fetch_add(n, Ordering::Relaxed);
                if let Some(lost) = self.fault.take() {
                    crate::warning::warn(&format!(
                        "writing traces to {} again ({lost} traces could not be written)",
                        self.path.display()
                    ));
                }
            }
            Err(e) => self.failed(
                n,
                &format!("cannot write traces to {}: {e}", self.path.display()),
            ),
        }
    }

    fn failed(&mut self, n: u64, message: &str) {
        self.counters.failed.fetch_add(n, Ordering::Relaxed);
        self.failed_since_flush += n;
        match &mut self.fault {
            Some(lost) => *lost += n,
            None => {
                self.fault = Some(n);
                crate::warning::warn(&format!(
                    "{message}; traces are counted in spanwise::stats() as failed until writing resumes"
                ));
            }
        }
    }

    pub(super) fn take_failed_since_flush(&mut self) -> u64 {
        std::mem::take(&mut self.failed_since_flush)
    }

    /// Writes `buf` to the file (after the newline that ends a torn piece, if any).
    fn write_buf(&mut self) -> std::io::Result<()> {
        self.reopen_if_moved()?;
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("the trace file is not open"));
        };
        if self.torn {
            file.write_all(b"\n")?;
            self.torn = false;
        }
        write_counting(file, &self.buf, &mut self.torn)
    }

    /// Makes `file` the file at the path: the open one while its path still leads to it, else
    /// the file at the path, opened (and its directory created) again.
    fn reopen_if_moved(&mut self) -> std::io::Result<()> {
        let current = self.file.as_ref().is_some_and(|f| still_at(f, self.path));
        if !current {
            self.file = None;
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path)?;
            self.torn = false;
            self.file = Some(file);
        }
        Ok(())
    }
}

/// Whether the file at `path` ends without a newline (a torn last line).
pub(super) fn ends_torn(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

/// `write_all`, noting in `torn` whether a failure came after part of `buf` was written.
fn write_counting(file: &mut File, mut buf: &[u8], torn: &mut bool) -> std::io::Result<()> {
    while !buf.is_empty() {
        match file.write(buf) {
            Ok(0) => {
                *torn = true;
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            Ok(n) => {
                *torn = true;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    *torn = false;
    Ok(())
}

/// Whether `path` still leads to the open `file` (same device and inode).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}
