//! The `hetsim` command-line interface.

fn main() {
    std::process::exit(hetsim::cli::main());
}
