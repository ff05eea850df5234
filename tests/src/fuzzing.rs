//! The fuzzing harnesses: one function per input hetsim accepts, each taking arbitrary bytes
//! and asserting only that the input is handled (`Ok` or `Err`, never a panic or a hang). The
//! cargo-fuzz targets in `fuzz/` call these, and `tests/robustness.rs` calls them with random
//! and mutated inputs in the normal test suite; docs/robustness.md lists what each covers.

use hetsim_isa::asm::li;
use hetsim_isa::disasm::Disasm;
use hetsim_isa::elf::Segment;
use hetsim_isa::{decode, execute, Bus, Hart, Memory, Misaligned, Privilege, Size};
use hetsim_isa::{Machine, MachineConfig, Program};
use hetsim_models::aimc::{read_npy_bytes, AimcError, AnalogMatrix, Matrix, TileConfig};
use hetsim_models::cluster::config::{
    ICacheConfig, IsaExtensions, L2Config, MisalignedAccess, SsrConfig, TcdmConfig, TrapPolicy,
};
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterError, ClusterReport};
use hetsim_models::diag::SourceError;
use std::path::Path;

/// `exec`: where the RAM starts and how large it is.
const RAM: u32 = 0x8000_0000;
/// Size of the `exec` RAM.
const RAM_SIZE: u32 = 4096;

/// `machine`: programs needing more memory than this are skipped.
const MAX_MEM: u64 = 16 << 20;

/// `cluster`: L2 base, where the program is placed.
const L2: u32 = 0x8000_0000;
/// Interesting addresses: TCDM start and end, peripherals (EXIT is +0x1c), DMA, the AIMC window,
/// L2 code and data, and a hole.
const TARGETS: [u32; 8] = [
    0x1000_0000,
    0x1000_fff0,
    0x1002_0000,
    0x1002_0400,
    0x1003_0000,
    0x8000_0000,
    0x8000_1000,
    0x2000_0000,
];
/// t0, t1, t2, s0, s1, a0, a1, a2.
const REGS: [u32; 8] = [5, 6, 7, 8, 9, 10, 11, 12];

/// ELF loader: `Program::parse` on arbitrary bytes must return `Ok` or `Err`, never panic.
pub fn elf(data: &[u8]) {
    if let Ok(p) = Program::parse("fuzz.elf", data) {
        // What the loader promises: every segment fits in 32 bits and holds no more file
        // bytes than memory bytes.
        for s in &p.segments {
            assert!(u64::from(s.addr) + u64::from(s.mem_size) <= 1 << 32);
            assert!(s.data.len() as u64 <= u64::from(s.mem_size));
        }
    }
}

/// Decoder + executor on one hart: arbitrary instruction words and register state, a small
/// RAM, bounded steps. `decode`, `execute`, `take_trap` and the disassembler must never panic.
///
/// Input layout: 31 x-registers (x1..x31), 32 f-registers, a misc word (fflags, frm,
/// privilege, misaligned mode, mcounteren), mstatus and mtvec (all little-endian u32, missing
/// bytes are zero), then the instruction words, placed in RAM at
/// 0x8000_0000 and run for at most 64 steps (traps go to mtvec, which points into RAM).
pub fn exec(data: &[u8]) {
    let mut words = data.chunks(4).map(|c| {
        c.iter()
            .rev()
            .fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
    });
    let mut next = || words.next().unwrap_or(0);
    let mut hart = Hart::new(0, RAM);
    for i in 1..32 {
        hart.x[i] = next();
    }
    // Bias a few registers into RAM so loads and stores also succeed.
    for i in [2, 8, 10] {
        hart.x[i] = RAM | (hart.x[i] & (RAM_SIZE - 1));
    }
    for f in hart.f.iter_mut() {
        *f = next();
    }
    let misc = next();
    hart.fflags = (misc & 0x1f) as u8;
    hart.frm = ((misc >> 5) & 7) as u8;
    hart.mstatus = next() & 0x7888;
    hart.mtvec = RAM | (next() & (RAM_SIZE - 1));
    hart.privilege = if misc & 0x100 != 0 {
        Privilege::User
    } else {
        Privilege::Machine
    };
    hart.misaligned = if misc & 0x200 != 0 {
        Misaligned::Allow
    } else {
        Misaligned::Trap
    };
    hart.mcounteren = misc >> 10;
    let mut mem = Memory::new();
    mem.add_region("ram", RAM, RAM_SIZE).unwrap();
    let code: Vec<u8> = words
        .take((RAM_SIZE / 4) as usize)
        .flat_map(u32::to_le_bytes)
        .collect();
    mem.write_bytes(RAM, &code).unwrap();
    for _ in 0..64 {
        let pc = hart.pc;
        let raw = match mem.load(pc, Size::Word) {
            Ok(w) => w,
            Err(_) => break,
        };
        let inst = decode(raw);
        let _ = Disasm { inst: &inst, pc }.to_string();
        match execute(&inst, &mut hart, &mut mem) {
            Ok(_) => {}
            Err(e) => {
                // Precise exceptions: a trapping instruction leaves the pc where it was.
                assert_eq!(hart.pc, pc, "{e} moved the pc");
                let _ = e.to_string();
                hart.take_trap(e);
            }
        }
    }
}

/// A whole single-hart run: `Program::parse` then `Machine::new` and `Machine::run` with a
/// limit of 2000 instructions, on arbitrary bytes (seeded with real ISA-test ELFs).
///
/// Programs whose segments add up to more than 16 MiB of memory are skipped: `Machine::new`
/// allocates every segment's memory (and a decode cache for executable ones) up front, which is
/// by design; see "Not covered" in docs/robustness.md.
pub fn machine(data: &[u8]) {
    let Ok(program) = Program::parse("fuzz.elf", data) else {
        return;
    };
    let total: u64 = program.segments.iter().map(|s| u64::from(s.mem_size)).sum();
    if total > MAX_MEM {
        return;
    }
    let config = MachineConfig {
        ram_size: 1 << 20,
        ..MachineConfig::default()
    };
    let Ok(mut m) = Machine::new(&program, &config) else {
        return;
    };
    let r = m.run(2000);
    match r {
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A whole cluster run on random programs: arbitrary instruction words at 0x8000_0000 after a
/// short prelude, a configuration chosen by the first input bytes, and a 1000-cycle watchdog.
/// `Cluster::new` and `Cluster::run` must end in `Ok` or `Err`, never panic or hang.
///
/// Input layout:
/// - byte 0: bits 0-1 = cores - 1; bit 2 = ideal I-cache (else a 1 KiB cache); bit 3 =
///   misaligned accesses allowed; bit 4 = architectural traps; bit 5 = shared FPU; bit 6 = the
///   study's extensions (Zfh, Xfvec, Xdma, Xfrep, Xssr, as `cluster-snitch-study.ron`);
///   bit 7 = the extensions and the SSR prelude (below);
/// - bytes 1..8: which device address each of the registers t0..t2, s0, s1, a0, a1, a2 starts
///   with (so random loads and stores reach the TCDM, the peripherals, the DMA and L2);
/// - byte 9, only when bit 6 or 7 is set: bits 0-1 = `ssr.fifo_depth` - 1; bits 2-3 = the
///   read streams' repeat; bits 4-5 = elements per loop (1, 4, 16 or 64); bit 6 = 2-D jobs
///   (two passes, the second starting 64 bytes below the first's last element); bit 7 =
///   `ssr.launch_latency` 4 (else 1);
/// - then instruction words, little-endian (at most 256).
///
/// The SSR prelude (bit 7) configures, on every core, read jobs on streams 0 and 1 over TCDM
/// buffers at 0x1000_1000 and 0x1000_2000 and a write job on stream 2 at 0x1000_3000 (bounds,
/// strides and repeat broadcast through stream 31, then the pointers), and sets bit 0 of CSR
/// `ssr` (0x7C0): random FP instructions naming ft0-ft2 then stream. With architectural traps,
/// the prelude points mtvec at the first random word, so a trap restarts the random code
/// instead of ending the run.
pub fn cluster(data: &[u8]) {
    if let Some(Err(e)) = cluster_run(data) {
        let _ = e.to_string();
    }
}

/// The run behind [`cluster`]: `None` when the input is too short to choose a configuration.
pub fn cluster_run(data: &[u8]) -> Option<hetsim_models::cluster::Result<ClusterReport>> {
    use hetsim_isa::asm::{csrrsi, scfgwi};
    if data.len() < 9 {
        return None;
    }
    let flags = data[0];
    let extensions = flags & 0xc0 != 0;
    let (ext, code) = match (extensions, data.get(9)) {
        (false, _) => (0, &data[9..]),
        (true, Some(&b)) => (b, &data[10..]),
        (true, None) => return None,
    };
    let mut words = Vec::new();
    for (r, sel) in REGS.iter().zip(&data[1..9]) {
        words.extend(li(
            *r,
            TARGETS[usize::from(sel & 7)].wrapping_add(u32::from(sel >> 3) * 4),
        ));
    }
    if flags & 0x80 != 0 {
        // t3 (x28) carries each configuration value; stream 31 broadcasts to 0-2.
        let mut cfg = |reg: u32, stream: u32, value: u32| {
            words.extend(li(28, value));
            words.push(scfgwi(28, reg << 5 | stream));
        };
        let elements = [1, 4, 16, 64][usize::from(ext >> 4 & 3)];
        cfg(1, 31, u32::from(ext >> 2 & 3)); // repeat
        cfg(2, 31, elements - 1); // bound[0]
        cfg(6, 31, 4); // stride[0]
        let pointer = if ext & 0x40 != 0 {
            cfg(3, 31, 1); // bound[1]: two passes
            cfg(7, 31, (-64i32) as u32); // stride[1]
            1 // 2-D: pointer register 25 / 29
        } else {
            0
        };
        cfg(24 + pointer, 0, 0x1000_1000); // read pointer, stream 0
        cfg(24 + pointer, 1, 0x1000_2000); // read pointer, stream 1
        cfg(28 + pointer, 2, 0x1000_3000); // write pointer, stream 2
        words.push(csrrsi(0, 0x7c0, 1));
    }
    let prelude_len = words.len() as u32 + 3;
    // mtvec = address of the first random word (csrw mtvec, t3; t3 = x28).
    words.extend(li(28, L2 + 4 * prelude_len));
    words.push(hetsim_isa::asm::csrrw(0, 0x305, 28));
    words.extend(code.chunks(4).take(256).map(|c| {
        c.iter()
            .rev()
            .fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
    }));
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let program = Program {
        name: "fuzz".into(),
        entry: L2,
        segments: vec![Segment {
            addr: L2,
            mem_size: bytes.len() as u32 + 0x2000,
            data: bytes,
            exec: true,
            write: true,
        }],
        symbols: Default::default(),
        symbolizer: Default::default(),
    };
    let cfg = ClusterConfig {
        cores: 1 + usize::from(flags & 3),
        icache: if flags & 4 != 0 {
            ICacheConfig::Ideal
        } else {
            ICacheConfig::Cache {
                size: 1024,
                ways: 2,
                line: 32,
                miss_latency: 5,
            }
        },
        misaligned_access: if flags & 8 != 0 {
            MisalignedAccess::Allow
        } else {
            MisalignedAccess::Trap
        },
        traps: if flags & 16 != 0 {
            TrapPolicy::Architectural
        } else {
            TrapPolicy::Stop
        },
        l2: L2Config {
            size: 64 << 10,
            ..Default::default()
        },
        tcdm: TcdmConfig {
            size: 64 << 10,
            ..Default::default()
        },
        max_cycles: 1000,
        extensions: IsaExtensions {
            zfh: extensions,
            xfvec: extensions,
            xdma: extensions,
            xfrep: extensions,
            xssr: extensions,
        },
        ssr: SsrConfig {
            fifo_depth: 1 + u32::from(ext & 3),
            launch_latency: if ext & 0x80 != 0 { 4 } else { 1 },
        },
        ..ClusterConfig::default()
    };
    let mut fpu = cfg.fpu.clone();
    fpu.shared = flags & 32 != 0;
    let cfg = ClusterConfig { fpu, ..cfg };
    let mut cluster = Cluster::new(&cfg, &program).expect("the harness builds a valid cluster");
    Some(cluster.run())
}

/// `.npy` reader on arbitrary bytes: `read_npy_bytes` must return `Ok` or `Err`, never panic,
/// and an `Ok` matrix must hold rows x cols values.
pub fn npy(data: &[u8]) {
    match read_npy_bytes(Path::new("fuzz.npy"), data) {
        Ok(m) => assert_eq!(m.as_slice().len(), m.rows() * m.cols()),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// AIMC tile configuration: `TileConfig::from_ron_str` on arbitrary text. A configuration that
/// validates is then used: a small weight matrix is programmed onto it and one matrix-vector
/// product evaluated (tiles larger than 256 x 256 are only parsed, to keep executions fast).
pub fn ron_tile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cfg = match TileConfig::from_ron_str(text) {
        Ok(c) => c,
        Err(e) => {
            if let AimcError::Ron(s) = &e {
                check_located(s);
            }
            let _ = e.to_string();
            return;
        }
    };
    // Round trip: what we write we must read back.
    let again = TileConfig::from_ron_str(&cfg.to_ron_string().unwrap()).unwrap();
    assert_eq!(again, cfg);
    if cfg.rows > 256 || cfg.cols > 256 {
        return;
    }
    let w = Matrix::from_fn(5, 3, |r, c| (r as f32 - 2.0) * 0.1 + c as f32 * 0.05);
    if let Ok(mut a) = AnalogMatrix::program(&cfg, &w) {
        let _ = a.mvm(&[0.5, -0.25, 1.0, 0.0, -1.0], 3600.0);
    }
}

/// Cluster configuration: `ClusterConfig::from_ron_str` on arbitrary text. A configuration that
/// validates is round-tripped and a cluster is built from it (with a one-instruction program),
/// when its memories are small enough to allocate quickly.
pub fn ron_cluster(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cfg = match ClusterConfig::from_ron_str(text, "fuzz.ron") {
        Ok(c) => c,
        Err(e) => {
            if let ClusterError::Ron(s) = &e {
                check_located(s);
            }
            let _ = e.to_string();
            return;
        }
    };
    let again = ClusterConfig::from_ron_str(&cfg.to_ron_string(), "again.ron").unwrap();
    // NaN-free after validation, so equality is meaningful.
    assert_eq!(again, cfg);
    if cfg.l2.size > 1 << 20 {
        return;
    }
    let program = Program {
        name: "fuzz".into(),
        entry: 0x8000_0000,
        segments: vec![Segment {
            addr: 0x8000_0000,
            // `sw zero, 0x1c(t2)` with t2 = 0: a store fault or, with traps, an error.
            data: 0x0003_ae23u32.to_le_bytes().to_vec(),
            mem_size: 4,
            exec: true,
            write: false,
        }],
        symbols: Default::default(),
        symbolizer: Default::default(),
    };
    let cfg = ClusterConfig {
        max_cycles: cfg.max_cycles.min(1000),
        ..cfg
    };
    if let Ok(mut c) = Cluster::new(&cfg, &program) {
        let _ = c.run();
    }
}

/// Scenario files: `hetsim::scenario::load_str` on arbitrary text (anchored at
/// `scenarios/fuzz.ron`, so relative schedule paths resolve against the shipped traces). A
/// scenario that loads is mapped onto tiles and clusters (the validation `hetsim validate`
/// does) and its sweep expanded; nothing is simulated.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let anchor = crate::workspace_root().join("scenarios/fuzz.ron");
    let loaded = match hetsim::scenario::load_str(&anchor, text) {
        Ok(l) => l,
        Err(e) => {
            if let Some(s) = e.source_error() {
                check_located(s);
            }
            let _ = e.to_string();
            return;
        }
    };
    let _ = loaded.combinations();
    if let Err(e) = hetsim::mapping::Mapping::new(&loaded.schedule, &loaded.scenario, 1) {
        let _ = e.to_string();
    }
}

/// A RON error names its file, line and column: in its text (`file:line:column: message`) and
/// in the CLI's excerpt (` --> file:line:column`, at the terminal widths 80 and 20, which
/// shows no control character but line breaks).
pub fn check_located(e: &SourceError) {
    let at = format!("{}:{}:{}", e.origin, e.line, e.column);
    assert!(e.to_string().starts_with(&format!("{at}: ")), "{e}");
    for width in [80, 20] {
        let shown = hetsim::diag::render(e, width, false);
        assert!(
            shown.lines().any(|l| l.trim_start() == format!("--> {at}")),
            "{e:?} at width {width}: {shown}"
        );
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{e:?}: {shown:?}"
        );
    }
}

/// Most arguments the `cli` harness passes after the program name.
pub const CLI_MAX_ARGS: usize = 24;

/// The command line: `data` split at NUL bytes into at most [`CLI_MAX_ARGS`] arguments (bytes
/// that are not UTF-8 are passed as they are), then [`cli_args`].
#[cfg(unix)]
pub fn cli(data: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    let args = data
        .split(|&b| b == 0)
        .take(CLI_MAX_ARGS)
        .map(|a| std::ffi::OsStr::from_bytes(a).to_os_string())
        .collect();
    cli_args(args);
}

/// `hetsim::cli::run` in check mode on one argument vector (the program name is added): clap
/// parses it, then the chosen command checks its option values and reads and validates the
/// input files it names, and stops before simulating, generating or writing anything
/// ([`hetsim::cli::Mode::Check`]). Asserts that it returns (no panic), with status 0 and
/// nothing on stderr, 2 (usage) with clap's message, or 125 with a `hetsim: error: ...`
/// message whose source excerpt, if any, names `file:line:column` after `-->`. Every `@/` in
/// an argument becomes the workspace root, so inputs can name the shipped scenarios, presets,
/// kernels and `tests/fixtures/cli/` portably. Arguments
/// mentioning `dev`, `proc` or `sys` are skipped: every reader stops at its size limit
/// (`hetsim_isa::input`), but `/dev/zero` as a `.npy` file still means reading 512 MiB, far too
/// slow for a fuzz execution (`sim/tests/special_files.rs` tests those paths instead).
#[cfg(unix)]
pub fn cli_args(args: Vec<std::ffi::OsString>) {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let root = crate::workspace_root();
    let root = root.as_os_str().as_bytes();
    let mut argv = vec![OsString::from("hetsim")];
    for a in args {
        let b = a.as_bytes();
        if ["dev", "proc", "sys"].iter().any(|w| {
            b.windows(w.len())
                .any(|x| x.eq_ignore_ascii_case(w.as_bytes()))
        }) {
            return;
        }
        let mut v = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i..].starts_with(b"@/") {
                v.extend_from_slice(root);
                v.push(b'/');
                i += 2;
            } else {
                v.push(b[i]);
                i += 1;
            }
        }
        argv.push(OsString::from_vec(v));
    }
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = hetsim::cli::run(argv.clone(), hetsim::cli::Mode::Check, &mut out, &mut err);
    let msg = String::from_utf8_lossy(&err);
    match code {
        0 => assert!(err.is_empty(), "{argv:?}: status 0 with stderr {msg:?}"),
        2 => assert!(
            msg.contains("error:") || msg.contains("Usage:"),
            "{argv:?}: usage status without clap's message: {msg:?}"
        ),
        125 => {
            assert!(
                msg.starts_with("hetsim: error: ")
                    && msg.trim_end().len() > "hetsim: error: ".len(),
                "{argv:?}: error status without a message: {msg:?}"
            );
            // A source excerpt's header names the file, line and column.
            for l in msg.lines().filter(|l| l.trim_start().starts_with("--> ")) {
                let mut parts = l.rsplitn(3, ':');
                let numbers = [parts.next(), parts.next()];
                assert!(
                    numbers
                        .iter()
                        .all(|n| n.is_some_and(|n| n.parse::<usize>().is_ok()))
                        && parts
                            .next()
                            .is_some_and(|f| f.trim_start().len() > "--> ".len()),
                    "{argv:?}: an excerpt without file:line:column: {msg:?}"
                );
            }
        }
        c => panic!("{argv:?}: unexpected status {c}; stderr {msg:?}"),
    }
}

/// `gdb_packets`: the program the GDB stub debugs, at 0x8000_0000 in a 4 KiB RAM: 50 rounds
/// of a load, add, store, FP load and FP store on data at 0x8000_0800, then `exit(0)`.
fn gdb_program() -> Program {
    use hetsim_isa::asm::{addi, bne, flw, fsw, li, lw, sw, ECALL};
    let (a0, a1, a7, t0) = (10, 11, 17, 5);
    let mut w = Vec::new();
    w.extend(li(a0, RAM + 0x800));
    w.push(addi(a1, 0, 50));
    let top = w.len();
    w.push(lw(t0, a0, 0));
    w.push(addi(t0, t0, 1));
    w.push(sw(t0, a0, 0));
    w.push(flw(0, a0, 4));
    w.push(fsw(0, a0, 8));
    w.push(addi(a1, a1, -1));
    w.push(bne(a1, 0, -4 * (w.len() - top) as i32));
    w.push(addi(a7, 0, 93));
    w.push(addi(a0, 0, 0));
    w.push(ECALL);
    let data: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    Program {
        name: "gdb-fuzz".into(),
        entry: RAM,
        segments: vec![Segment {
            addr: RAM,
            mem_size: data.len() as u32,
            data,
            exec: true,
            write: true,
        }],
        symbols: Default::default(),
        symbolizer: Default::default(),
    }
}

/// GDB remote protocol input: arbitrary bytes are the stream a debugger sends to the
/// `--gdb` stub (over an in-memory connection), debugging a small program on the functional
/// machine. The session must end (the stream runs out, or a detach, kill or exit) without a
/// panic; work is bounded by the 2000-instruction watchdog (after it every resume stops at
/// once with SIGXCPU), the stub's packet buffer and its limits on breakpoints and watchpoints.
pub fn gdb_packets(data: &[u8]) {
    use hetsim::gdb::targets::MachineTarget;
    use hetsim::gdb::{serve, MemoryLink, Stub};
    let config = MachineConfig {
        ram_size: RAM_SIZE,
        ..MachineConfig::default()
    };
    let machine = Machine::new(&gdb_program(), &config).expect("the fixed program loads");
    let mut stub = Stub::new(MachineTarget::new(machine, 2000, false), false);
    let _ = serve(&mut stub, MemoryLink::new(data));
}

/// HTIF syscall blocks: `hetsim_isa::htif::serve` on arbitrary memory. Input layout: bytes 0..4
/// are the block's address as an offset from the 4 KiB RAM at 0x8000_0000 (little-endian,
/// wrapping, so small values land in RAM and large ones anywhere), the rest is the RAM's
/// contents. A served `write` must return exactly the bytes its block names, with their
/// count in the block's result word; an `exit` leaves memory untouched.
pub fn htif(data: &[u8]) {
    use hetsim_isa::htif::{acknowledge, serve, HtifMemory, Syscall};
    let mut w = [0u8; 4];
    let n = data.len().min(4);
    w[..n].copy_from_slice(&data[..n]);
    let addr = RAM.wrapping_add(u32::from_le_bytes(w));
    let mut mem = Memory::new();
    mem.add_region("ram", RAM, RAM_SIZE).unwrap();
    let image = data.get(4..).unwrap_or_default();
    let image = &image[..image.len().min(RAM_SIZE as usize)];
    mem.write_bytes(RAM, image).unwrap();
    let before = mem.read_bytes(RAM, RAM_SIZE).unwrap();
    match serve(&mut mem, addr) {
        Ok(Syscall::Write { fd, bytes }) => {
            assert!(fd == 1 || fd == 2);
            let block = mem.read(addr, 32).expect("a served block is in memory");
            let word = |i: usize| u64::from_le_bytes(block[i * 8..i * 8 + 8].try_into().unwrap());
            assert_eq!(word(0), bytes.len() as u64, "result word = bytes written");
            let len = u32::try_from(bytes.len()).unwrap();
            if len > 0 {
                let buf = u32::try_from(word(2)).unwrap();
                // The buffer may overlap the block (whose first word now holds the count):
                // compare with memory as it was.
                let off = (buf - RAM) as usize;
                assert_eq!(bytes, before[off..off + bytes.len()]);
            }
        }
        Ok(Syscall::Exit(_)) => {
            assert_eq!(mem.read_bytes(RAM, RAM_SIZE).unwrap(), before);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // tohost and fromhost: the block's address word and the next, wherever they are.
    let _ = acknowledge(&mut mem, addr, addr.wrapping_add(8));
}

/// A one-layer BERT the checkpoint harnesses load against: hidden 8, 2 heads, FFN 16,
/// vocabulary 12, 8 positions, exact GELU.
fn tiny_bert() -> (hetsim::checkpoint::BertConfig, hetsim::workload::Schedule) {
    use hetsim::workload::models::{generate, TINY_BERT};
    use hetsim::workload::Lora;
    let dims = TINY_BERT;
    let cfg = hetsim::checkpoint::BertConfig::tiny_bert();
    let lora = Lora {
        rank: 2,
        alpha: 4.0,
    };
    (cfg, generate(&dims, 8, Some(lora)))
}

/// Checkpoint loader: `Checkpoint::from_bytes` on arbitrary bytes as `model.safetensors` of a
/// tiny BERT; when it parses, its parameters are laid on the tiny schedule and, when they fit,
/// one sentence (ids 1, 5, 11, 2, padded to 8) runs through the f32 reference. `Ok` or `Err`
/// everywhere, never a panic.
pub fn checkpoint(data: &[u8]) {
    use hetsim::accuracy::{reference, ModelParams};
    let (cfg, sched) = tiny_bert();
    let Ok(ck) =
        hetsim::checkpoint::Checkpoint::from_bytes(Path::new("fuzz.safetensors"), data, cfg)
            .map_err(|e| e.to_string())
    else {
        return;
    };
    for (name, t) in &ck.tensors {
        assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "{name}");
    }
    if let Ok(p) = ModelParams::new(&ck, &sched, 1) {
        let _ = reference(&sched, &p, &[1, 5, 11, 2]).map_err(|e| e.to_string());
    }
}

/// PEFT adapter loader: `Adapter::from_bytes` on arbitrary bytes as `adapter_model.safetensors`
/// (rank 2, alpha 4, targets query and value), then the A and B lookup of the tiny model's
/// query and value (8 x 8). `Ok` or `Err`, never a panic.
pub fn adapter(data: &[u8]) {
    use hetsim::checkpoint::{Adapter, AdapterConfig};
    let cfg = AdapterConfig {
        r: 2,
        lora_alpha: 4.0,
        target_modules: vec!["query".into(), "value".into()],
    };
    let Ok(ad) = Adapter::from_bytes(Path::new("fuzz"), data, cfg) else {
        return;
    };
    for stem in [
        "encoder.layer.0.attention.self.query",
        "encoder.layer.0.attention.self.value",
    ] {
        if let Ok((a, b)) = ad.lora(stem, 8, 8) {
            assert_eq!((a.rows(), a.cols(), b.rows(), b.cols()), (8, 2, 2, 8));
        }
    }
}

/// The JSON inputs of the accuracy evaluation on arbitrary text: a sentence file
/// (`Sentences::parse`: at least one sentence, each with token ids), `config.json`
/// (`BertConfig::parse`) and `adapter_config.json` (`AdapterConfig::parse`). `Ok` or `Err`,
/// never a panic. (Ids beyond the vocabulary are refused by the embedding: `checkpoint`.)
pub fn tokens(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = serde_json_config(text);
    let _ = hetsim::checkpoint::AdapterConfig::parse(Path::new("adapter_config.json"), text)
        .map(|c| c.targets("encoder.layer.0.attention.self.query"));
    let Ok(s) = hetsim::accuracy::Sentences::parse(Path::new("tokens.json"), text) else {
        return;
    };
    assert!(!s.sentences.is_empty());
    assert!(s.sentences.iter().all(|x| !x.ids.is_empty()));
}

fn serde_json_config(text: &str) -> Option<usize> {
    hetsim::checkpoint::BertConfig::parse(text)
        .ok()
        .map(|c| c.hidden_size)
}
