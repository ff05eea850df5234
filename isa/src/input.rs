//! Reading user files with a size limit.
//!
//! Every file hetsim reads (ELF programs, RON configurations and scenarios, `.npy` data, sweep
//! results) goes through [`read_limited`], so that naming `/dev/zero`, `/dev/urandom`, a FIFO fed
//! forever or a 50 GB file ends in an error naming the file and the limit instead of reading
//! until memory runs out. A regular file larger than the limit is refused from its size, before
//! any byte is read; any other file (a device, a FIFO, a pipe from process substitution) is read
//! up to `limit + 1` bytes and refused if it has that many. The file is opened without blocking,
//! so a FIFO nobody writes to reads as empty instead of hanging in `open`.
//!
//! The limits themselves belong to the readers (docs/robustness.md lists them):
//! [`crate::elf::ELF_LIMIT`] here, and the configuration and data limits of `hetsim-models`.

use std::io::{Error, ErrorKind, Read};
use std::path::Path;

/// Reads at most `limit` bytes of `path`; a file with more is an error of kind
/// [`ErrorKind::FileTooLarge`] whose message names the limit and `what` the file is meant to
/// be (for example "an ELF program"). The caller adds the path, as for any other I/O error.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(Error::new(ErrorKind::IsADirectory, "is a directory"));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(too_large(Some(meta.len()), limit, what));
    }
    let mut bytes = Vec::new();
    // A regular file's size is known: reserve it (a file that grows is still cut at the limit).
    if meta.is_file() {
        bytes.reserve_exact(usize::try_from(meta.len()).unwrap_or(0));
    }
    let mut reader = file.take(limit.saturating_add(1));
    loop {
        match reader.read_to_end(&mut bytes) {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A pipe or FIFO opened without blocking whose writer has not written yet.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    if bytes.len() as u64 > limit {
        return Err(too_large(None, limit, what));
    }
    Ok(bytes)
}

/// [`read_limited`] for text: the bytes must be UTF-8 (an [`ErrorKind::InvalidData`] error
/// otherwise, as `std::fs::read_to_string` gives).
pub fn read_limited_to_string(path: &Path, limit: u64, what: &str) -> std::io::Result<String> {
    let bytes = read_limited(path, limit, what)?;
    String::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// A limit for people: `64 MiB (67108864 bytes)`, or `999 bytes` when not a whole KiB, MiB or
/// GiB.
pub fn human_size(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{} {unit} ({bytes} bytes)", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

fn too_large(size: Option<u64>, limit: u64, what: &str) -> Error {
    let has = match size {
        Some(s) => format!("{s} bytes, more than"),
        None => "larger than".into(),
    };
    Error::new(
        ErrorKind::FileTooLarge,
        format!("{has} the {} hetsim reads as {what}", human_size(limit)),
    )
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hetsim-input-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&d);
        d
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let p = tmp("limit");
        std::fs::write(&p, vec![7u8; 1000]).unwrap();
        assert_eq!(read_limited(&p, 1000, "a test file").unwrap().len(), 1000);
        let e = read_limited(&p, 999, "a test file").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FileTooLarge);
        assert_eq!(
            e.to_string(),
            "1000 bytes, more than the 999 bytes hetsim reads as a test file"
        );
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn endless_devices_are_cut_at_the_limit() {
        let t = Instant::now();
        for dev in ["/dev/zero", "/dev/urandom"] {
            let e = read_limited(Path::new(dev), 1 << 20, "a test file").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::FileTooLarge, "{dev}");
            assert_eq!(
                e.to_string(),
                "larger than the 1 MiB (1048576 bytes) hetsim reads as a test file"
            );
        }
        assert!(t.elapsed() < Duration::from_secs(5));
        // /dev/null ends at once: an empty file.
        assert!(read_limited(Path::new("/dev/null"), 10, "x")
            .unwrap()
            .is_empty());
    }

    /// Runs `f` on a thread and fails the test if it takes more than 10 s (a hang).
    fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("reading the FIFO hung for 10 s")
    }

    fn fifo(name: &str) -> std::path::PathBuf {
        let p = tmp(name);
        let ok = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo {}", p.display());
        p
    }

    #[test]
    fn a_fifo_without_writer_reads_as_empty_instead_of_hanging() {
        let p = fifo("idle");
        let q = p.clone();
        let r = within_deadline(move || read_limited(&q, 100, "x").map(|b| b.len()));
        assert_eq!(r.unwrap(), 0);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn a_fifo_fed_forever_is_cut_at_the_limit_and_a_short_one_is_read() {
        let p = fifo("endless");
        let w = p.clone();
        // The writer opens (blocking until the reader has opened) and writes until the reader
        // closes its end (EPIPE).
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(&w).unwrap();
            let chunk = [b'x'; 4096];
            while f.write_all(&chunk).is_ok() {}
        });
        let q = p.clone();
        let e = within_deadline(move || {
            // Wait for the writer to be blocked in open, so the reader finds it there.
            std::thread::sleep(Duration::from_millis(50));
            read_limited(&q, 1 << 20, "x").unwrap_err()
        });
        assert_eq!(e.kind(), ErrorKind::FileTooLarge);
        writer.join().unwrap();
        // A writer that writes 10 bytes and closes: those bytes.
        let w = p.clone();
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&w).unwrap();
            std::io::Write::write_all(&mut f, b"0123456789").unwrap();
        });
        let q = p.clone();
        let r = within_deadline(move || {
            std::thread::sleep(Duration::from_millis(50));
            read_limited(&q, 10, "x")
        });
        writer.join().unwrap();
        assert_eq!(r.unwrap(), b"0123456789");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn directories_and_bad_text_are_errors() {
        let e = read_limited(Path::new("/"), 10, "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IsADirectory);
        let p = tmp("utf8");
        std::fs::write(&p, [0xffu8, 0xfe]).unwrap();
        let e = read_limited_to_string(&p, 10, "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(64 << 20), "64 MiB (67108864 bytes)");
        assert_eq!(human_size(1 << 30), "1 GiB (1073741824 bytes)");
        assert_eq!(human_size(3 << 10), "3 KiB (3072 bytes)");
        assert_eq!(human_size(1000), "1000 bytes");
        assert_eq!(human_size((64 << 20) + 1), "67108865 bytes");
    }
}
