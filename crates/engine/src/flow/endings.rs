//! Who waits on this replica for a flow run to end: a Run of a flow waits for its run's end,
//! and the driver that records the end (or the cancel that makes it) tells it at once instead
//! of letting it find out at its next look at the store. A run ended by another replica is
//! still found by those looks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct Endings {
    waiting: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Endings {
    /// What is notified when the run `run_id` ends; held until [`Endings::forget`].
    pub fn watch(&self, run_id: &str) -> Arc<Notify> {
        self.lock().entry(run_id.to_owned()).or_default().clone()
    }

    pub fn forget(&self, run_id: &str) {
        self.lock().remove(run_id);
    }

    /// The run `run_id` ended: its waiter (if any) is told, now or at its next wait.
    pub fn ended(&self, run_id: &str) {
        if let Some(notify) = self.lock().get(run_id) {
            notify.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_end_told_before_the_wait_is_not_lost() {
        let endings = Endings::default();
        let notify = endings.watch("r1");
        endings.ended("r1");
        endings.ended("r2");
        tokio::time::timeout(Duration::from_secs(1), notify.notified())
            .await
            .expect("the end was kept for the waiter");
        endings.forget("r1");
        assert!(endings.lock().is_empty());
    }
}
