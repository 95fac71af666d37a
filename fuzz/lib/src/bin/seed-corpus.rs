//! Writes every target's seeds into `DIR/TARGET/seed-N`, libFuzzer's starting corpus:
//! `cargo run --manifest-path fuzz/Cargo.toml -p tessera-fuzz --bin seed-corpus -- fuzz/corpus`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seed-corpus DIR");
        return ExitCode::FAILURE;
    };
    for target in tessera_fuzz::TARGETS {
        let sub = dir.join(target.name);
        let written = std::fs::create_dir_all(&sub).and_then(|()| {
            for (i, seed) in (target.seeds)().iter().enumerate() {
                std::fs::write(sub.join(format!("seed-{i}")), seed)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            eprintln!("cannot write `{}`: {e}", sub.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
