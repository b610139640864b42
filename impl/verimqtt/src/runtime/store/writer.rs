//! The thread that writes the store: it takes the broker's changes in batches, writes
//! everything waiting in one transaction (a group commit: one wait for the disk serves
//! every client waiting meanwhile), and tells the driver how far they are durable.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::mpsc as tokio_mpsc;

use crate::broker::StoreOp;
use crate::runtime::socket::Input;

use super::Store;

/// The driver's handle on the writing thread.
#[derive(Debug)]
pub(crate) struct StoreWriter {
    batches: Option<mpsc::Sender<Vec<(u64, StoreOp)>>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreWriter {
    /// Starts writing to `store`, telling `inputs` of each commit (`Input::Durable`) or of
    /// the failure that stops the writing (`Input::StoreFailed`).
    pub(crate) fn start(mut store: Store, inputs: tokio_mpsc::Sender<Input>) -> std::io::Result<StoreWriter> {
        let (batches, waiting) = mpsc::channel::<Vec<(u64, StoreOp)>>();
        let thread = std::thread::Builder::new().name("verimqtt-store".into()).spawn(move || {
            while let Ok(mut batch) = waiting.recv() {
                while let Ok(more) = waiting.try_recv() {
                    batch.extend(more);
                }
                let Some(&(up_to, _)) = batch.last() else { continue };
                let input = match store.apply(&batch) {
                    Ok(()) => Input::Durable { up_to },
                    Err(error) => Input::StoreFailed { error: error.to_string() },
                };
                let failed = matches!(input, Input::StoreFailed { .. });
                // The driver gone, the broker is stopping: what is written stays written.
                if inputs.blocking_send(input).is_err() || failed {
                    return;
                }
            }
        })?;
        Ok(StoreWriter { batches: Some(batches), thread: Some(thread) })
    }

    /// Hands over changes to write, in the broker's order.
    pub(crate) fn write(&self, batch: Vec<(u64, StoreOp)>) {
        if let Some(batches) = &self.batches {
            // A writer that stopped has said why (`Input::StoreFailed`).
            let _ = batches.send(batch);
        }
    }

    /// Writes what was handed over and stops the thread.
    pub(crate) async fn finish(mut self) {
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}
