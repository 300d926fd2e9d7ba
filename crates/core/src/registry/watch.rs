//! Picks up manifest changes on disk: a file watcher signals changes, and a thread of its own
//! reloads the registry once the manifests have been quiet for the debounce time, so requests
//! keep reading the previous snapshot until the new one is swapped in.
//!
//! Only changes count: the watcher also reports file opens and reads (inotify's OPEN and
//! CLOSE_NOWRITE), and the reload reads every manifest, so counting those would reload forever.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use super::{COMPOSITIONS_DIR, Error, FLOWS_DIR, METADATA_DIR, Registry, is_manifest};

/// Keeps the watch alive; dropping it stops watching (and ends the reload thread).
pub struct Watcher {
    _watcher: Arc<Mutex<RecommendedWatcher>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Registry {
    /// Watches the manifests, compositions and flows and reloads after `debounce` of quiet once
    /// one changed. Only `metadata/`, `compositions/` and `flows/` are watched, at any depth (a virtualenv or
    /// `node_modules` elsewhere in the root would use up file watches for nothing), and the
    /// root itself without its subfolders, so that either folder is seen when it is created
    /// and watched from then on.
    pub fn watch(self: &Arc<Self>, debounce: Duration) -> Result<Watcher, Error> {
        let dirs = [
            self.root.join(METADATA_DIR),
            self.root.join(COMPOSITIONS_DIR),
            self.root.join(FLOWS_DIR),
        ];
        let watch_error = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Watch { path, source }
        };

        let (changed, changes) = mpsc::channel::<()>();
        let catalog_dirs = dirs.clone();
        let watcher =
            notify::recommended_watcher(move |event: notify::Result<Event>| match event {
                Ok(event) if is_catalog_change(&event, &catalog_dirs) => {
                    let _ = changed.send(());
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "skills root watch error"),
            })
            .map_err(watch_error(&self.root))?;
        let watcher = Arc::new(Mutex::new(watcher));
        {
            let mut watching = watcher.lock().unwrap_or_else(|e| e.into_inner());
            watching
                .watch(&self.root, RecursiveMode::NonRecursive)
                .map_err(watch_error(&self.root))?;
            for dir in dirs.iter().filter(|dir| dir.is_dir()) {
                watching
                    .watch(dir, RecursiveMode::Recursive)
                    .map_err(watch_error(dir))?;
            }
        }
        let mut watched: Vec<bool> = dirs.iter().map(|dir| dir.is_dir()).collect();

        let registry = Arc::downgrade(self);
        let weak_watcher = Arc::downgrade(&watcher);
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
                    // A folder created since: watched from now on.
                    if let Some(watcher) = weak_watcher.upgrade() {
                        let mut watcher = watcher.lock().unwrap_or_else(|e| e.into_inner());
                        for (dir, watched) in dirs.iter().zip(watched.iter_mut()) {
                            if !*watched && dir.is_dir() {
                                match watcher.watch(dir, RecursiveMode::Recursive) {
                                    Ok(()) => *watched = true,
                                    Err(error) => {
                                        tracing::warn!(%error, dir = %dir.display(), "cannot watch");
                                    }
                                }
                            }
                        }
                    }
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

/// `dirs`: the metadata, compositions and flows folders.
fn is_catalog_change(event: &Event, dirs: &[PathBuf; 3]) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    let [metadata_dir, compositions_dir, flows_dir] = dirs;
    event.paths.iter().any(|path: &PathBuf| {
        let folder = path.extension().is_none();
        ((path.starts_with(metadata_dir) || path.starts_with(flows_dir))
            && (is_manifest(path) || folder))
            || (path.starts_with(compositions_dir)
                && (path.extension().is_some_and(|ext| ext == "json") || folder))
    })
}
