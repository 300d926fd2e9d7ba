//! Picks up manifest changes on disk: a debounced file watcher reloads the registry on its own
//! thread, so requests keep reading the previous snapshot until the new one is swapped in.

use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::{Error, METADATA_DIR, Registry, is_manifest};

/// Keeps the watch alive; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Registry {
    /// Watches the manifests and reloads after `debounce` of quiet once one changed. Only
    /// `metadata/` is watched (a virtualenv or `node_modules` elsewhere in the root would use up
    /// file watches for nothing); a root without `metadata/` yet is watched as a whole, so the
    /// folder's creation is seen.
    pub fn watch(self: &Arc<Self>, debounce: Duration) -> Result<Watcher, Error> {
        let registry = Arc::downgrade(self);
        let metadata_dir = self.root.join(METADATA_DIR);
        let watched = if metadata_dir.is_dir() {
            metadata_dir.clone()
        } else {
            self.root.clone()
        };
        let mut debouncer = new_debouncer(debounce, move |events: DebounceEventResult| {
            let Some(registry) = registry.upgrade() else {
                return;
            };
            match events {
                Ok(events) => {
                    let relevant = events.iter().any(|event| {
                        event.path.starts_with(&metadata_dir)
                            && (is_manifest(&event.path) || event.path.extension().is_none())
                    });
                    if relevant {
                        registry.reload();
                    }
                }
                Err(error) => tracing::warn!(%error, "skills root watch error"),
            }
        })
        .map_err(|source| Error::Watch {
            path: self.root.clone(),
            source,
        })?;
        debouncer
            .watcher()
            .watch(&watched, RecursiveMode::Recursive)
            .map_err(|source| Error::Watch {
                path: watched.clone(),
                source,
            })?;
        Ok(Watcher {
            _debouncer: debouncer,
        })
    }
}
