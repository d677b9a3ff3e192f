//! Shutdown: the first SIGTERM or SIGINT starts a graceful shutdown, a second
//! one exits at once.
//!
//! Components take a [`ShutdownSignal`] and stop when it fires, so tests can
//! stop a server without sending the process a signal.

use tokio::sync::watch;

/// Exit code when a second signal cuts the drain short.
pub const EXIT_FORCED: i32 = 130;

/// Triggers a shutdown.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

/// Resolves when shutdown starts. Clone it into every task that must stop.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// A new, untriggered shutdown and its signal.
    pub fn new() -> (Self, ShutdownSignal) {
        let (tx, rx) = watch::channel(false);
        (Self { tx }, ShutdownSignal { rx })
    }

    /// Starts the shutdown; every signal resolves.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Another signal for the same shutdown.
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            rx: self.tx.subscribe(),
        }
    }
}

impl ShutdownSignal {
    /// Waits until shutdown starts (at once if it already has).
    pub async fn wait(&mut self) {
        // An error means the `Shutdown` was dropped: treat as shutting down.
        let _ = self.rx.wait_for(|down| *down).await;
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// A future that resolves on shutdown, for APIs that take one by value.
    pub async fn into_future(mut self) {
        self.wait().await;
    }
}

/// Listens for SIGTERM and SIGINT: the first triggers `shutdown`, the second
/// exits the process at once with [`EXIT_FORCED`].
pub fn spawn_signal_handler(shutdown: Shutdown) {
    use tokio::signal::unix::{signal, SignalKind};
    // Installed once, before any signal can arrive, so none is lost between the two.
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "shutdown requested: draining (send again to exit at once)"
        );
        shutdown.trigger();
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::warn!(signal = name, "second signal: exiting now without draining");
        std::process::exit(EXIT_FORCED);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_signal_fires_once_triggered() {
        let (shutdown, mut a) = Shutdown::new();
        let mut b = shutdown.signal();
        assert!(!a.is_triggered());
        shutdown.trigger();
        a.wait().await;
        b.wait().await;
        assert!(b.is_triggered());
        // A signal taken after the trigger resolves at once.
        shutdown.signal().wait().await;
    }
}
