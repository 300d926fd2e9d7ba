//! Picks up manifest changes on disk: a file watcher signals changes, and a thread of its own
//! reloads the registry once the manifests have been quiet for the debounce time, so requests
//! keep reading the previous snapshot until the new one is swapped in.
//!
//! Only changes count: the watcher also reports file opens and reads (inotify's OPEN and
//! CLOSE_NOWRITE), and the reload reads every manifest, so counting those would reload forever.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use super::{Error, METADATA_DIR, Registry, is_manifest};

/// Keeps the watch alive; dropping it stops watching (and ends the reload thread).
pub struct Watcher {
    _watcher: RecommendedWatcher,
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
        let metadata_dir = self.root.join(METADATA_DIR);
        let watched = if metadata_dir.is_dir() {
            metadata_dir.clone()
        } else {
            self.root.clone()
        };
        let watch_error = |source| Error::Watch {
            path: watched.clone(),
            source,
        };

        let (changed, changes) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<Event>| match event {
                Ok(event) if is_manifest_change(&event, &metadata_dir) => {
                    let _ = changed.send(());
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "skills root watch error"),
            })
            .map_err(watch_error)?;
        watcher
            .watch(&watched, RecursiveMode::Recursive)
            .map_err(watch_error)?;

        let registry = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("skills-reload".to_owned())
            .spawn(move || {
                // Ends when the watcher (the only sender) is dropped.
                while changes.recv().is_ok() {
                    loop {
                        match changes.recv_timeout(debounce) {
                            Ok(()) => continue,
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    let Some(registry) = registry.upgrade() else {
                        return;
                    };
                    registry.reload();
                }
            })
            .map_err(|error| Error::Watch {
                path: self.root.clone(),
                source: notify::Error::io(error),
            })?;
        Ok(Watcher { _watcher: watcher })
    }
}

fn is_manifest_change(event: &Event, metadata_dir: &Path) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|path: &PathBuf| {
        path.starts_with(metadata_dir) && (is_manifest(path) || path.extension().is_none())
    })
}
