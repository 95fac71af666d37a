//! The `tessera` binary: everything lives in the `tessera_cli` library.

fn main() -> std::process::ExitCode {
    tessera_cli::run()
}
