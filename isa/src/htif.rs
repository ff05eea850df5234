//! The HTIF syscall proxy: the magic-memory system calls of the common RISC-V golden model
//! (Spike's front-end server), as riscv-tests' and riscv-pk's `syscalls.c` make them.
//!
//! A program stores the address of a block of eight little-endian 64-bit words
//! `[number, arg0, arg1, arg2, ...]` to `tohost` (an even non-zero value; an odd value is the
//! exit convention and never comes here) and spins until `fromhost` is non-zero; the host
//! serves the call, writes the result to the block's first word and sets `fromhost` to 1; the
//! program clears `fromhost` and reads the result. Served: `write` (64) to fd 1 (stdout) or
//! 2 (stderr), returning the byte count, and `exit` (93). Everything the block names is
//! bounds-checked: a block or buffer outside memory is an [`HtifError`] naming the address.
//!
//! This module owns the decoding and serving of one block against any [`HtifMemory`]; the
//! runners (`machine::Machine`, the cluster model) watch `tohost`, put the bytes written on
//! their console and update `tohost`/`fromhost`.

/// Bytes of a syscall block: eight 64-bit words.
pub const BLOCK_BYTES: u32 = 64;
/// `write(fd, buf, len)`.
pub const SYS_WRITE: u64 = 64;
/// `exit(code)`.
pub const SYS_EXIT: u64 = 93;

/// Memory as the HTIF proxy sees it: byte ranges that either lie entirely in memory or not.
pub trait HtifMemory {
    /// The `len` bytes at `addr`, or `None` when any of them is outside memory.
    fn read(&mut self, addr: u32, len: u32) -> Option<Vec<u8>>;
    /// Writes `bytes` at `addr`; false (and nothing written) when any byte is outside memory.
    fn write(&mut self, addr: u32, bytes: &[u8]) -> bool;
}

impl HtifMemory for crate::mem::Memory {
    fn read(&mut self, addr: u32, len: u32) -> Option<Vec<u8>> {
        self.read_bytes(addr, len).ok()
    }
    fn write(&mut self, addr: u32, bytes: &[u8]) -> bool {
        self.write_bytes(addr, bytes).is_ok()
    }
}

/// A served system call, for the runner to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Syscall {
    /// `write`: these bytes go to stdout (fd 1) or stderr (fd 2); the block's result word
    /// already holds their count.
    Write {
        /// 1 (stdout) or 2 (stderr).
        fd: u32,
        /// The bytes written.
        bytes: Vec<u8>,
    },
    /// `exit` with this code (the low 32 bits of arg0).
    Exit(i32),
}

/// Why a syscall block could not be served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HtifError {
    /// The block's 64 bytes are not all in memory.
    #[error("the HTIF syscall block at {addr:#010x} (64 bytes) lies outside memory")]
    BlockOutside {
        /// The block's address (the value written to `tohost`).
        addr: u32,
    },
    /// A syscall number hetsim does not serve.
    #[error("HTIF syscall {number} (block at {addr:#010x}) is not served by hetsim; it serves 64 (write to fd 1 or 2) and 93 (exit)")]
    Unsupported {
        /// The syscall number (the block's first word).
        number: u64,
        /// The block's address.
        addr: u32,
    },
    /// `write` to a file descriptor other than 1 and 2.
    #[error(
        "HTIF syscall 64 (write) to fd {fd}: hetsim writes to fd 1 (stdout) and 2 (stderr) only"
    )]
    BadFd {
        /// The descriptor.
        fd: u64,
    },
    /// `write` of a buffer not entirely in memory.
    #[error("HTIF syscall 64 (write): the buffer at {addr:#x} of {len} bytes lies outside memory")]
    BufferOutside {
        /// The buffer's address (all 64 bits of arg1).
        addr: u64,
        /// Its length (arg2).
        len: u64,
    },
    /// The program has no `fromhost` symbol, so the answer could never reach it.
    #[error("the program has no `fromhost` symbol: hetsim cannot answer its HTIF syscalls (define `volatile uint64_t fromhost` beside `tohost`)")]
    NoFromhost,
    /// The program's `fromhost` word is outside memory.
    #[error("the program's `fromhost` word at {addr:#010x} lies outside memory")]
    FromhostOutside {
        /// The `fromhost` symbol's address.
        addr: u32,
    },
}

/// Reads the syscall block at `addr` and serves it: for `write`, checks and copies the buffer
/// and stores its length in the block's first word. Never panics, whatever memory holds.
pub fn serve(mem: &mut dyn HtifMemory, addr: u32) -> Result<Syscall, HtifError> {
    let block = mem
        .read(addr, BLOCK_BYTES)
        .filter(|b| b.len() == BLOCK_BYTES as usize)
        .ok_or(HtifError::BlockOutside { addr })?;
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&block[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    let number = word(0);
    match number {
        SYS_EXIT => Ok(Syscall::Exit(word(1) as u32 as i32)),
        SYS_WRITE => {
            let (fd, buf, len) = (word(1), word(2), word(3));
            if fd != 1 && fd != 2 {
                return Err(HtifError::BadFd { fd });
            }
            let outside = HtifError::BufferOutside { addr: buf, len };
            let (Ok(b), Ok(n)) = (u32::try_from(buf), u32::try_from(len)) else {
                return Err(outside);
            };
            if u64::from(b) + u64::from(n) > 1 << 32 {
                return Err(outside);
            }
            let bytes = if n == 0 {
                Vec::new()
            } else {
                mem.read(b, n).ok_or(outside)?
            };
            if !mem.write(addr, &len.to_le_bytes()) {
                return Err(HtifError::BlockOutside { addr });
            }
            Ok(Syscall::Write {
                fd: fd as u32,
                bytes,
            })
        }
        _ => Err(HtifError::Unsupported { number, addr }),
    }
}

/// Answers a served call: `fromhost` = 1 and `tohost` = 0 (both 64-bit words), as the
/// front-end server does. False when either word is outside memory.
pub fn acknowledge(mem: &mut dyn HtifMemory, tohost: u32, fromhost: u32) -> bool {
    mem.write(tohost, &0u64.to_le_bytes()) && mem.write(fromhost, &1u64.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::Memory;
    use rand::{Rng, SeedableRng};

    const BASE: u32 = 0x8000_0000;
    const SIZE: u32 = 0x1000;

    fn mem() -> Memory {
        let mut m = Memory::new();
        m.add_region("ram", BASE, SIZE).unwrap();
        m
    }

    fn block(m: &mut Memory, at: u32, words: [u64; 4]) {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        m.write_bytes(at, &bytes).unwrap();
    }

    #[test]
    fn write_returns_the_length_in_the_block() {
        let mut m = mem();
        m.write_bytes(BASE + 0x100, b"hello\n").unwrap();
        block(
            &mut m,
            BASE + 0x40,
            [SYS_WRITE, 1, u64::from(BASE) + 0x100, 6],
        );
        assert_eq!(
            serve(&mut m, BASE + 0x40),
            Ok(Syscall::Write {
                fd: 1,
                bytes: b"hello\n".to_vec()
            })
        );
        assert_eq!(m.read_bytes(BASE + 0x40, 8).unwrap(), 6u64.to_le_bytes());
        block(
            &mut m,
            BASE + 0x40,
            [SYS_WRITE, 2, u64::from(BASE) + 0x100, 0],
        );
        assert_eq!(
            serve(&mut m, BASE + 0x40),
            Ok(Syscall::Write {
                fd: 2,
                bytes: vec![]
            })
        );
        assert!(acknowledge(&mut m, BASE, BASE + 8));
        assert_eq!(m.read_bytes(BASE + 8, 8).unwrap(), 1u64.to_le_bytes());
    }

    #[test]
    fn exit_and_errors_name_the_number_and_address() {
        let mut m = mem();
        block(&mut m, BASE, [SYS_EXIT, 0xffff_ffff_ffff_fffd, 0, 0]);
        assert_eq!(serve(&mut m, BASE), Ok(Syscall::Exit(-3)));
        block(&mut m, BASE, [57, 0, 0, 0]);
        let e = serve(&mut m, BASE).unwrap_err();
        assert!(
            e.to_string()
                .contains("HTIF syscall 57 (block at 0x80000000)"),
            "{e}"
        );
        // The block's last byte one past the end of RAM.
        let e = serve(&mut m, BASE + SIZE - 63).unwrap_err();
        assert_eq!(
            e,
            HtifError::BlockOutside {
                addr: BASE + SIZE - 63
            }
        );
        assert!(e.to_string().contains("0x80000fc1"), "{e}");
        block(&mut m, BASE, [SYS_WRITE, 1, u64::from(BASE + SIZE - 2), 3]);
        let e = serve(&mut m, BASE).unwrap_err().to_string();
        assert!(e.contains("buffer at 0x80000ffe of 3 bytes"), "{e}");
        block(&mut m, BASE, [SYS_WRITE, 1, 1 << 40, 1]);
        assert!(serve(&mut m, BASE).is_err());
        block(&mut m, BASE, [SYS_WRITE, 1, u64::from(u32::MAX), u64::MAX]);
        assert!(serve(&mut m, BASE).is_err());
        block(&mut m, BASE, [SYS_WRITE, 3, u64::from(BASE), 1]);
        assert_eq!(serve(&mut m, BASE), Err(HtifError::BadFd { fd: 3 }));
    }

    /// Fuzz-style: 10^6 random blocks (random numbers, descriptors, buffers and lengths
    /// biased towards the edges of memory) at random addresses in and around memory. Serving
    /// never panics, succeeds exactly when the block and buffer are in memory, and a write
    /// returns the buffer's bytes.
    #[test]
    fn random_blocks_never_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
        let mut m = mem();
        let edge = |rng: &mut rand_chacha::ChaCha8Rng| -> u64 {
            match rng.random_range(0..5) {
                0 => rng.random(),
                1 => u64::from(rng.random::<u32>()),
                2 => u64::from(BASE) + rng.random_range(0..u64::from(SIZE) + 64),
                3 => u64::from(BASE + SIZE) - rng.random_range(0..80),
                _ => rng.random_range(0..100),
            }
        };
        for case in 0..1_000_000u32 {
            let number = match rng.random_range(0..4) {
                0 => SYS_WRITE,
                1 => SYS_EXIT,
                2 => rng.random_range(0..128),
                _ => rng.random(),
            };
            let fd = if rng.random_bool(0.8) {
                rng.random_range(1..3)
            } else {
                edge(&mut rng)
            };
            let (buf, len) = (edge(&mut rng), edge(&mut rng) % (u64::from(SIZE) * 2));
            let at = edge(&mut rng) as u32;
            let words = [number, fd, buf, len];
            let placed = m
                .write_bytes(
                    at,
                    &words
                        .iter()
                        .flat_map(|w| w.to_le_bytes())
                        .collect::<Vec<_>>(),
                )
                .is_ok()
                && u64::from(at) + 64 <= u64::from(BASE + SIZE);
            let r = serve(&mut m, at);
            if !placed {
                // Either not in memory, or it overlapped whatever was written before.
                if u64::from(at) < u64::from(BASE) || u64::from(at) + 64 > u64::from(BASE + SIZE) {
                    assert_eq!(r, Err(HtifError::BlockOutside { addr: at }), "case {case}");
                }
                continue;
            }
            let good_fd = fd == 1 || fd == 2;
            let inside = (len == 0 && buf <= u64::from(u32::MAX))
                || (buf >= u64::from(BASE)
                    && buf
                        .checked_add(len)
                        .is_some_and(|e| e <= u64::from(BASE + SIZE)));
            match (number, r) {
                (SYS_EXIT, r) => assert_eq!(r, Ok(Syscall::Exit(fd as u32 as i32))),
                (SYS_WRITE, Ok(Syscall::Write { fd: f, bytes })) => {
                    assert!(good_fd && inside, "case {case}");
                    assert_eq!(u64::from(f), fd, "case {case}");
                    assert_eq!(bytes.len() as u64, len, "case {case}");
                }
                (SYS_WRITE, Err(e)) => assert!(!good_fd || !inside, "case {case}: {e}"),
                (n, r) => assert_eq!(
                    r,
                    Err(HtifError::Unsupported {
                        number: n,
                        addr: at
                    })
                ),
            }
        }
    }
}
