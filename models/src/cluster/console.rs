//! The cluster's console: what the cores print (the CONSOLE byte port, the `ecall` write host
//! call and HTIF `write` syscalls), collected line by line per core so that lines printed by
//! several cores at once never interleave, each finished line prefixed with `[core N] `.

/// Per-core line buffers and the finished, prefixed output.
#[derive(Debug, Default)]
pub(crate) struct Console {
    /// The line each core is printing (without its newline).
    pending: Vec<Vec<u8>>,
    /// Finished lines, prefixed, in the order they were finished.
    out: Vec<u8>,
}

impl Console {
    /// A console for `cores` cores.
    pub(crate) fn new(cores: usize) -> Console {
        Console {
            pending: vec![Vec::new(); cores],
            out: Vec::new(),
        }
    }

    /// Core `core` prints `bytes`; every `\n` finishes its line.
    pub(crate) fn write(&mut self, core: usize, bytes: &[u8]) {
        if core >= self.pending.len() {
            self.pending.resize(core + 1, Vec::new());
        }
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.pending[core]);
                self.emit(core, &line, true);
            } else {
                self.pending[core].push(b);
            }
        }
    }

    fn emit(&mut self, core: usize, line: &[u8], newline: bool) {
        self.out
            .extend_from_slice(format!("[core {core}] ").as_bytes());
        self.out.extend_from_slice(line);
        if newline {
            self.out.push(b'\n');
        }
    }

    /// Everything printed so far: the finished lines, then each core's unfinished line (with
    /// no newline added), in core order; the console is empty afterwards.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        for core in 0..self.pending.len() {
            let line = std::mem::take(&mut self.pending[core]);
            if !line.is_empty() {
                if self.out.last().is_some_and(|&b| b != b'\n') {
                    self.out.push(b'\n');
                }
                self.emit(core, &line, false);
            }
        }
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prefixed_and_never_interleave() {
        let mut c = Console::new(2);
        c.write(1, b"wor");
        c.write(0, b"hel");
        c.write(1, b"ld\nsec");
        c.write(0, b"lo\n");
        c.write(1, b"ond");
        c.write(0, b"tail");
        assert_eq!(
            String::from_utf8(c.take()).unwrap(),
            "[core 1] world\n[core 0] hello\n[core 0] tail\n[core 1] second"
        );
        assert!(c.take().is_empty());
        // A core index past the configured count still prints (never a panic).
        c.write(5, b"x\n");
        assert_eq!(c.take(), b"[core 5] x\n");
    }
}
