//! Ctrl-C and SIGTERM during a run: noted, so that the run stops its load, then its cluster,
//! and removes its directory, instead of dying with the cluster left running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{SignalKind, signal};

use crate::CliError;

/// Set once SIGINT or SIGTERM arrived.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Installs the handlers on a thread of their own. From now on these signals no longer end
    /// the process: the run must look at [`Interrupt::is_set`].
    pub fn watch() -> Result<Interrupt, CliError> {
        let flag = Arc::new(AtomicBool::new(false));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
        let (mut int, mut term) = runtime
            .block_on(async {
                Ok::<_, std::io::Error>((
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                ))
            })
            .map_err(|e| CliError::new(format!("cannot watch for signals: {e}")))?;
        let set = Arc::clone(&flag);
        std::thread::spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
            set.store(true, Ordering::SeqCst);
            eprintln!("bench: interrupted; stopping");
        });
        Ok(Interrupt(flag))
    }

    /// Whether a signal arrived.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err` once a signal arrived.
    pub fn check(&self) -> Result<(), CliError> {
        if self.is_set() {
            Err(CliError::new("interrupted"))
        } else {
            Ok(())
        }
    }
}
