//! Circuit breakers per (tenant, skill), kept in the store so every replica sees one state.
//!
//! Closed: calls pass; `failure_threshold` consecutive runner or transport failures (a lost
//! runner, a timeout) open it. A skill's own error is an answer, not a failure, and resets the
//! count. Open: calls fail fast until `open_seconds` have passed. Then exactly one call becomes
//! the probe (a compare-and-set on the row's version decides which); while it runs, others fail
//! fast. The probe's answer closes the circuit; its failure opens it again. A probe that never
//! reports (its replica died) is replaced after `probe_timeout_seconds`.
//!
//! A replica remembers for a second that a circuit it read was closed without failures, so the
//! common case costs no store read; a circuit another replica opened is seen within that second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use skillos_store::{Circuit, CircuitState, Store, TenantId};

/// Circuit breakers per (tenant, skill), kept in the store.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Consecutive runner or transport failures that open the circuit; 0 turns breakers off.
    pub failure_threshold: u32,
    /// How long an open circuit fails fast before it admits one probe.
    pub open_seconds: u64,
    /// How long the probe may take before another call may probe instead.
    pub probe_timeout_seconds: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_seconds: 30,
            probe_timeout_seconds: 60,
        }
    }
}

/// Compare-and-set attempts before giving up on a contended row.
const MAX_RACES: usize = 8;

/// What the breaker let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The circuit is closed (or breakers are off).
    Closed,
    /// This call is the one probe of a half-open circuit.
    Probe,
}

/// How a call ended, as far as the breaker cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The runner answered (with an output or the skill's own error).
    Answered,
    /// The runner or the transport failed (lost runner, timeout).
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("circuit open for skill {skill_id}: recent calls failed; retry in {} s", retry_after.as_secs().max(1))]
    Open {
        skill_id: String,
        retry_after: Duration,
    },
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

/// How long a replica trusts that a circuit it read is closed without failures: the common
/// case costs no store read, and a circuit another replica opens is seen within this time.
const CLOSED_TTL: std::time::Duration = std::time::Duration::from_secs(1);

type ClosedCache = HashMap<(TenantId, String), Instant>;

#[derive(Clone, Debug)]
pub struct Service {
    store: Arc<dyn Store>,
    threshold: u32,
    open_for: chrono::Duration,
    probe_timeout: chrono::Duration,
    /// Circuits read as closed with no failures, and when.
    closed: Arc<Mutex<ClosedCache>>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, config: &Options) -> Self {
        let seconds =
            |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            store,
            threshold: config.failure_threshold,
            open_for: seconds(config.open_seconds),
            probe_timeout: seconds(config.probe_timeout_seconds),
            closed: Arc::default(),
        }
    }

    fn known_closed(&self, tenant: &TenantId, skill_id: &str) -> bool {
        self.closed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(tenant.clone(), skill_id.to_owned()))
            .is_some_and(|at| at.elapsed() < CLOSED_TTL)
    }

    fn remember_closed(&self, tenant: &TenantId, skill_id: &str, closed: bool) {
        let mut cache = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant.clone(), skill_id.to_owned());
        if closed {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(key, Instant::now());
        } else {
            cache.remove(&key);
        }
    }

    /// Lets a call through, makes it the probe, or refuses it while the circuit is open.
    /// What [`Service::admit`] would answer now, changing nothing (for dry runs): an open
    /// circuit, or one whose probe is out, refuses; an open one past its time would admit a
    /// probe.
    pub async fn peek(&self, tenant: &TenantId, skill_id: &str) -> Result<(), Error> {
        if self.threshold == 0 || self.known_closed(tenant, skill_id) {
            return Ok(());
        }
        let Some(circuit) = self.store.circuit(tenant, skill_id).await? else {
            return Ok(());
        };
        let now = skillos_store::now();
        let busy_until = match circuit.state {
            CircuitState::Closed => None,
            CircuitState::Open => circuit.opened_at.map(|at| at + self.open_for),
            CircuitState::HalfOpen => circuit.probe_expires_at,
        };
        match busy_until.filter(|until| *until > now) {
            Some(until) => Err(Error::Open {
                skill_id: skill_id.to_owned(),
                retry_after: remaining(until, now),
            }),
            None => Ok(()),
        }
    }

    pub async fn admit(&self, tenant: &TenantId, skill_id: &str) -> Result<Admission, Error> {
        if self.threshold == 0 || self.known_closed(tenant, skill_id) {
            return Ok(Admission::Closed);
        }
        for _ in 0..MAX_RACES {
            let Some(circuit) = self.store.circuit(tenant, skill_id).await? else {
                self.remember_closed(tenant, skill_id, true);
                return Ok(Admission::Closed);
            };
            let now = skillos_store::now();
            let busy_until = match circuit.state {
                CircuitState::Closed => {
                    self.remember_closed(tenant, skill_id, circuit.failures == 0);
                    return Ok(Admission::Closed);
                }
                CircuitState::Open => circuit.opened_at.map(|at| at + self.open_for),
                CircuitState::HalfOpen => circuit.probe_expires_at,
            };
            if let Some(until) = busy_until.filter(|until| *until > now) {
                return Err(Error::Open {
                    skill_id: skill_id.to_owned(),
                    retry_after: remaining(until, now),
                });
            }
            let probing = Circuit {
                state: CircuitState::HalfOpen,
                probe_expires_at: Some(now + self.probe_timeout),
                version: circuit.version + 1,
                updated_at: now,
                ..circuit.clone()
            };
            if self
                .store
                .put_circuit(&probing, Some(circuit.version))
                .await?
            {
                tracing::info!(tenant = %tenant, skill_id, "circuit half-open: one probe admitted");
                return Ok(Admission::Probe);
            }
        }
        // Lost every race: others are changing the circuit right now; fail fast.
        Err(Error::Open {
            skill_id: skill_id.to_owned(),
            retry_after: Duration::from_secs(1),
        })
    }

    /// Records how an admitted call ended.
    pub async fn record(
        &self,
        tenant: &TenantId,
        skill_id: &str,
        admission: Admission,
        outcome: Outcome,
    ) -> Result<(), Error> {
        if self.threshold == 0 {
            return Ok(());
        }
        // An answer on a circuit known to be closed without failures changes nothing.
        if outcome == Outcome::Answered
            && admission == Admission::Closed
            && self.known_closed(tenant, skill_id)
        {
            return Ok(());
        }
        if outcome == Outcome::Failed {
            self.remember_closed(tenant, skill_id, false);
        }
        for _ in 0..MAX_RACES {
            let current = self.store.circuit(tenant, skill_id).await?;
            let now = skillos_store::now();
            let Some(next) = self.next(current.as_ref(), tenant, skill_id, admission, outcome, now)
            else {
                return Ok(());
            };
            if self
                .store
                .put_circuit(&next, current.as_ref().map(|c| c.version))
                .await?
            {
                if next.state == CircuitState::Open {
                    tracing::warn!(tenant = %tenant, skill_id, failures = next.failures, "circuit opened");
                } else if current
                    .as_ref()
                    .is_some_and(|c| c.state != CircuitState::Closed)
                {
                    tracing::info!(tenant = %tenant, skill_id, "circuit closed");
                }
                return Ok(());
            }
        }
        tracing::warn!(tenant = %tenant, skill_id, "circuit breaker: too many concurrent changes; outcome not recorded");
        Ok(())
    }

    /// The circuit after an outcome, or `None` when nothing changes.
    fn next(
        &self,
        current: Option<&Circuit>,
        tenant: &TenantId,
        skill_id: &str,
        admission: Admission,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Option<Circuit> {
        let base = current.cloned().unwrap_or_else(|| Circuit {
            tenant_id: tenant.clone(),
            skill_id: skill_id.to_owned(),
            state: CircuitState::Closed,
            failures: 0,
            opened_at: None,
            probe_expires_at: None,
            version: 0,
            updated_at: now,
        });
        let closed = Circuit {
            state: CircuitState::Closed,
            failures: 0,
            opened_at: None,
            probe_expires_at: None,
            version: base.version + 1,
            updated_at: now,
            ..base.clone()
        };
        let open = |failures: i32| Circuit {
            state: CircuitState::Open,
            failures,
            opened_at: Some(now),
            probe_expires_at: None,
            version: base.version + 1,
            updated_at: now,
            ..base.clone()
        };
        match (base.state, admission, outcome) {
            // The probe decides a half-open circuit.
            (CircuitState::HalfOpen, Admission::Probe, Outcome::Answered) => Some(closed),
            (CircuitState::HalfOpen, Admission::Probe, Outcome::Failed) => {
                Some(open(base.failures.saturating_add(1)))
            }
            (CircuitState::Closed, _, Outcome::Answered) if base.failures > 0 => Some(closed),
            (CircuitState::Closed, _, Outcome::Failed) => {
                let failures = base.failures.saturating_add(1);
                if u32::try_from(failures).unwrap_or(u32::MAX) >= self.threshold {
                    Some(open(failures))
                } else {
                    Some(Circuit {
                        failures,
                        version: base.version + 1,
                        updated_at: now,
                        ..base.clone()
                    })
                }
            }
            // Calls admitted before the circuit opened, or stale probes: their outcome is news
            // the open circuit already acted on.
            _ => None,
        }
    }
}

fn remaining(until: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (until - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn breakers(threshold: u32, open_seconds: u64) -> Service {
        let store = skillos_store::open(&skillos_store::Options::Sqlite {
            path: tempfile::tempdir().unwrap().keep().join("s.db"),
        })
        .await
        .unwrap();
        Service::new(
            store,
            &Options {
                failure_threshold: threshold,
                open_seconds,
                probe_timeout_seconds: 60,
            },
        )
    }

    #[tokio::test]
    async fn opens_after_consecutive_failures_and_answers_reset_the_count() {
        let breakers = breakers(3, 3600).await;
        let tenant = TenantId::default_tenant();
        let fail = || breakers.record(&tenant, "a/b", Admission::Closed, Outcome::Failed);
        fail().await.unwrap();
        fail().await.unwrap();
        // The skill answered (even with its own error): the count starts again.
        breakers
            .record(&tenant, "a/b", Admission::Closed, Outcome::Answered)
            .await
            .unwrap();
        fail().await.unwrap();
        fail().await.unwrap();
        assert_eq!(
            breakers.admit(&tenant, "a/b").await.unwrap(),
            Admission::Closed
        );
        fail().await.unwrap();
        assert!(matches!(
            breakers.admit(&tenant, "a/b").await,
            Err(Error::Open { .. })
        ));
        // Per (tenant, skill): others are not affected.
        assert_eq!(
            breakers.admit(&tenant, "a/c").await.unwrap(),
            Admission::Closed
        );
        let other = TenantId::parse("other").unwrap();
        assert_eq!(
            breakers.admit(&other, "a/b").await.unwrap(),
            Admission::Closed
        );
    }

    #[tokio::test]
    async fn half_open_admits_exactly_one_probe() {
        let breakers = breakers(1, 0).await;
        let tenant = TenantId::default_tenant();
        breakers
            .record(&tenant, "a/b", Admission::Closed, Outcome::Failed)
            .await
            .unwrap();
        let attempts = futures_join(&breakers, &tenant, 20).await;
        let probes = attempts
            .iter()
            .filter(|a| matches!(a, Ok(Admission::Probe)))
            .count();
        assert_eq!(probes, 1, "{attempts:?}");
        assert!(attempts.iter().all(|a| !matches!(a, Ok(Admission::Closed))));
        // The probe fails: open again; with open_seconds 0 the next call probes again.
        breakers
            .record(&tenant, "a/b", Admission::Probe, Outcome::Failed)
            .await
            .unwrap();
        assert_eq!(
            breakers.admit(&tenant, "a/b").await.unwrap(),
            Admission::Probe
        );
        breakers
            .record(&tenant, "a/b", Admission::Probe, Outcome::Answered)
            .await
            .unwrap();
        assert_eq!(
            breakers.admit(&tenant, "a/b").await.unwrap(),
            Admission::Closed
        );
    }

    async fn futures_join(
        breakers: &Service,
        tenant: &TenantId,
        n: usize,
    ) -> Vec<Result<Admission, Error>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let breakers = breakers.clone();
                let tenant = tenant.clone();
                tokio::spawn(async move { breakers.admit(&tenant, "a/b").await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }
}
