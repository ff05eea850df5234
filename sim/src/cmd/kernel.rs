//! `hetsim kernel`: run a kernel ELF on the cycle-level cluster, with inputs and outputs bound
//! to ELF symbols, and print the cycle report.

use super::emit;
use crate::cli::Mode;
use crate::error::Error;
use crate::gdb::targets::ClusterTarget;
use crate::gdb::{Ending, Stub};
use hetsim_isa::Program;
use hetsim_models::aimc::{self, Matrix};
use hetsim_models::cluster::{Cluster, ClusterConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Options of `hetsim kernel`.
#[derive(clap::Args, Debug)]
pub struct KernelArgs {
    /// The kernel ELF (linked at 0x80000000, see docs/kernels.md).
    pub file: PathBuf,
    /// Cluster configuration (RON); default: the Snitch-class preset
    /// (models/presets/cluster-snitch.ron).
    #[arg(long)]
    pub cluster: Option<PathBuf>,
    /// Load a data file into an ELF symbol before the run: SYMBOL=FILE. `.npy` files are read
    /// as f32 (any shape, row-major); other files are copied as raw bytes (little-endian).
    /// A symbol in `.bss` is refused: crt0 zeroes it before `main` (docs/kernels.md).
    #[arg(long = "input", value_name = "SYMBOL=FILE")]
    pub inputs: Vec<String>,
    /// Write an ELF symbol's bytes after the run: SYMBOL=FILE (`.npy`: a 1-D f32 array of the
    /// symbol's size; otherwise raw bytes). SYMBOL:N=FILE writes only the first N bytes (N at
    /// most the symbol's size).
    #[arg(long = "output", value_name = "SYMBOL=FILE")]
    pub outputs: Vec<String>,
    /// Attach an AIMC tile at the cluster's AIMC window (0x1003_0000, registers in
    /// docs/aimc.md) programmed with these weights (in x out, .npy); the tile's configuration
    /// comes from --tile (default: the study's 512x512 PCM tile).
    #[arg(long, value_name = "W.npy")]
    pub tile_weights: Option<PathBuf>,
    /// Tile configuration (RON) for --tile-weights.
    #[arg(long, value_name = "TILE.ron", requires = "tile_weights")]
    pub tile: Option<PathBuf>,
    /// Time after programming at which the tile is read (e.g. 0s, 1d, 1y).
    #[arg(long, default_value = "0s", requires = "tile_weights")]
    pub t_inf: String,
    /// Print one line per issued instruction to stderr: issue cycle, core, pc, symbol+offset,
    /// disassembly, register written (FP registers also as numbers), and file:line when the
    /// ELF has DWARF.
    #[arg(long)]
    pub trace: bool,
    /// Stop with an error after this many cycles (the watchdog for hung kernels; replaces the
    /// cluster configuration's `max_cycles`, 10^9 in the presets, for this run). The error
    /// names every core's pc, symbol and source line.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_cycles: Option<u64>,
    /// Write every issued instruction as Chrome trace-event JSON (open in ui.perfetto.dev):
    /// one track per core, one 1-cycle slice per instruction named by its mnemonic, with pc,
    /// disassembly and enclosing symbol in its args (docs/traces-and-plots.md).
    #[arg(long, value_name = "FILE.json")]
    pub trace_instructions: Option<PathBuf>,
    /// After the report, print an exact flat profile for all cores together: per function
    /// (ELF symbol), the cycles its instructions own (each issued instruction owns its core's
    /// cycles up to the core's next issue), their share, instructions, IPC and stall cycles
    /// by cause (docs/kernels.md, "Profiles").
    #[arg(long)]
    pub profile: bool,
    /// Like --profile, and also print one profile table per core.
    #[arg(long)]
    pub profile_per_core: bool,
    /// Write the profile as folded stacks (`core3;function cycles` lines, stack depth 1) for
    /// flamegraph.pl, inferno or speedscope.
    #[arg(long, value_name = "FILE")]
    pub profile_folded: Option<PathBuf>,
    /// Wait for GDB on 127.0.0.1:PORT before the first cycle and run under its control, one
    /// thread per core (0 picks a free port; the address is printed on stderr). Stepping a
    /// core advances the whole cluster cycle by cycle until that core retires an
    /// instruction (docs/debugging.md, "GDB").
    #[arg(long, value_name = "PORT")]
    pub gdb: Option<u16>,
}

fn split_binding<'a>(option: &str, s: &'a str) -> Result<(&'a str, &'a str), Error> {
    s.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| Error::Usage {
            option: option.into(),
            message: format!("{s:?} is not SYMBOL=FILE"),
        })
}

fn is_npy(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Reads a data file as the bytes to place in memory: at most `max_bytes` of them (the
/// symbol's size), so a raw file may have `max_bytes` bytes and a `.npy` file `max_bytes / 4`
/// values (and its header; see [`aimc::npy_limit`]). Larger and endless files are refused,
/// naming the file and the limit, without reading them whole.
pub fn read_data(path: &Path, max_bytes: u64) -> Result<Vec<u8>, Error> {
    if is_npy(path) {
        let m = aimc::read_npy_limited(path, max_bytes / 4)?;
        Ok(m.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect())
    } else {
        let what = format!("data for a {max_bytes}-byte symbol");
        hetsim_isa::input::read_limited(path, max_bytes, &what).map_err(|e| Error::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// Writes memory bytes to a data file.
pub fn write_data(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if is_npy(path) {
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let n = v.len();
        let m = Matrix::new(1, n, v)?;
        Ok(aimc::write_npy(path, &m)?)
    } else {
        std::fs::write(path, bytes).map_err(|e| Error::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// `--output SYMBOL[:N]=FILE`, parsed.
struct OutputBinding<'a> {
    symbol: &'a str,
    len: Option<u32>,
    file: &'a Path,
}

fn parse_output(b: &str) -> Result<OutputBinding<'_>, Error> {
    let (sym, file) = split_binding("--output", b)?;
    let (symbol, len) = match sym.split_once(':') {
        Some((s, n)) => (
            s,
            Some(n.parse::<u32>().map_err(|_| Error::Usage {
                option: "--output".into(),
                message: format!("{n:?} in {b:?} is not a byte count"),
            })?),
        ),
        None => (sym, None),
    };
    Ok(OutputBinding {
        symbol,
        len,
        file: Path::new(file),
    })
}

/// Refuses `--input` into a symbol that crt0 zeroes before `main` (`.bss`, between
/// `__bss_start` and `__bss_end`): the data would be cleared and the kernel run on zeros.
fn check_not_zeroed(program: &Program, sym: &str, binding: &str) -> Result<(), Error> {
    let (Some(s), Some((start, end))) = (program.symbols.get(sym), program.zeroed_at_startup())
    else {
        return Ok(());
    };
    let s_end = u64::from(s.addr) + u64::from(s.size.max(1));
    if u64::from(s.addr) < u64::from(end) && s_end > u64::from(start) {
        return Err(Error::Usage {
            option: "--input".into(),
            message: format!(
                "{binding:?}: `{sym}` ({:#010x}, {} bytes) lies in .bss of {} \
                 (__bss_start {start:#010x} .. __bss_end {end:#010x}), which crt0 zeroes \
                 before main, so the kernel would run on zeros; give the variable an \
                 initialiser (it then lives in .data) or put it in .l2_noinit \
                 (__attribute__((section(\".l2_noinit\")))), which crt0 does not clear",
                s.addr, s.size, program.name
            ),
        });
    }
    Ok(())
}

/// Runs the command; returns the kernel's exit code. Every option, binding and input file is
/// checked before the cluster runs; [`Mode::Check`] stops there (before the cluster's memories
/// are allocated).
pub fn run(args: &KernelArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    let mut cfg = match &args.cluster {
        Some(p) => ClusterConfig::from_ron_file(p)?,
        None => ClusterConfig::default(),
    };
    if let Some(n) = args.max_cycles {
        cfg.max_cycles = n;
    }
    let program = Program::load(&args.file)?;
    let tile = match &args.tile_weights {
        Some(w) => {
            let tile_cfg = match &args.tile {
                Some(p) => aimc::TileConfig::from_ron_file(p)?,
                None => aimc::TileConfig::default(),
            };
            let weights = aimc::read_npy(w)?;
            let t_inf = aimc::parse_duration(&args.t_inf)?;
            Some((tile_cfg, weights, t_inf))
        }
        None => None,
    };
    let mut inputs = Vec::new();
    for b in &args.inputs {
        let (sym, file) = split_binding("--input", b)?;
        // The symbol's size bounds the file; an unknown symbol is reported when its data is
        // written, so read up to what any ELF could hold.
        let max = program
            .symbols
            .get(sym)
            .map_or(hetsim_isa::elf::ELF_LIMIT, |s| u64::from(s.size));
        check_not_zeroed(&program, sym, b)?;
        inputs.push((sym, read_data(Path::new(file), max)?));
    }
    let outputs = args
        .outputs
        .iter()
        .map(|b| parse_output(b))
        .collect::<Result<Vec<_>, _>>()?;
    for o in &outputs {
        if let (Some(n), Some(s)) = (o.len, program.symbols.get(o.symbol)) {
            if n > s.size {
                return Err(Error::Usage {
                    option: "--output".into(),
                    message: format!(
                        "{n} bytes of `{}` asked for, but the symbol is {} bytes long in {} \
                         (more would write neighbouring objects); use at most {}",
                        o.symbol, s.size, program.name, s.size
                    ),
                });
            }
        }
    }
    if mode == Mode::Check {
        return Ok(0);
    }
    let mut cluster = Cluster::new(&cfg, &program)?;
    cluster.set_stop_flag(super::stop_flag_on_ctrl_c());
    if let Some((tile_cfg, weights, t_inf)) = tile {
        let matrix = aimc::AnalogMatrix::program(&tile_cfg, &weights)?;
        let mut dev = aimc::AimcMmio::new(matrix, cfg.clock_ghz)?;
        dev.set_inference_time(t_inf)?;
        cluster.attach_aimc(dev);
    }
    for (sym, data) in &inputs {
        cluster.write_symbol(sym, data)?;
    }
    let mut text_sink: Option<hetsim_models::cluster::TraceSink> = None;
    if args.trace {
        let mut out = std::io::BufWriter::new(std::io::stderr());
        let symbols = program.symbolizer.clone();
        text_sink = Some(Box::new(move |e| {
            // A closed stderr must not stop the simulation; the report still follows.
            let _ = writeln!(out, "{}", e.symbolized(&symbols));
        }));
    }
    let recorder = args
        .trace_instructions
        .as_ref()
        .map(|_| crate::trace_event::instructions::Recorder::new());
    let mut sink = match &recorder {
        Some(r) => Some(r.sink(text_sink)),
        None => text_sink,
    };
    let profiler = (args.profile || args.profile_per_core || args.profile_folded.is_some())
        .then(crate::profile::Profiler::new);
    if let Some(p) = &profiler {
        sink = Some(p.sink(sink));
    }
    if let Some(s) = sink {
        cluster.set_trace(s);
    }
    let report = match args.gdb {
        Some(port) => {
            let link = crate::gdb::accept(port)
                .map_err(|e| Error::Gdb(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
            let mut stub = Stub::new(ClusterTarget::new(cluster), true);
            stub.set_ctrl_c_flag(super::stop_flag_on_ctrl_c());
            let ending = crate::gdb::serve(&mut stub, link).map_err(Error::Gdb);
            let target = stub.target;
            cluster = target.cluster;
            match ending? {
                Ending::Exited(_) => target.report.ok_or_else(|| {
                    Error::Gdb("the program exited but the cluster has no report".into())
                })?,
                Ending::Killed => {
                    super::note(format_args!(
                        "hetsim: {} killed from gdb at cycle {}",
                        args.file.display(),
                        cluster.now()
                    ));
                    return Ok(crate::cli::EXIT_KILLED);
                }
                Ending::Detached => {
                    super::note(format_args!("hetsim: gdb detached; the run goes on"));
                    cluster.run()?
                }
            }
        }
        None => cluster.run()?,
    };
    let profile = profiler.map(|p| p.finish(&report, &program.symbolizer));
    if let (Some(r), Some(path)) = (recorder, &args.trace_instructions) {
        r.into_trace(&program, cfg.cores, cfg.clock_ghz)
            .write(path)?;
    }
    if !report.console.is_empty() {
        emit(
            out,
            format_args!("{}", String::from_utf8_lossy(&report.console)),
        )?;
    }
    for o in &outputs {
        let bytes = cluster.read_symbol(o.symbol, o.len)?;
        write_data(o.file, &bytes)?;
    }
    emit(out, format_args!("{report}\n"))?;
    if let Some(p) = &profile {
        if let Some(path) = &args.profile_folded {
            p.write_folded(path)?;
        }
        if args.profile || args.profile_per_core {
            emit(out, format_args!("{}", p.render(args.profile_per_core)))?;
        }
    }
    Ok(report.exit_code)
}
