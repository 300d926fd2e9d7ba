//! Rate limits per tenant, principal and skill (GCRA).
//!
//! By default each replica counts in process with `governor`. In strict mode every replica
//! counts in Redis with one Lua script that checks all keys of a call and updates them only
//! when all admit it, using Redis's clock; the server does not start without Redis, and while
//! Redis is unreachable calls are refused (fail closed).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use crate::auth::Principal;
use crate::error::reason;

/// One GCRA limit: `rate` requests per second on average, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub rate: f64,
    pub burst: u32,
}

/// Rate limits of Run, RunStream and Route per tenant, principal and skill.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    pub tenant: Option<Limit>,
    pub principal: Option<Limit>,
    pub skill: Option<Limit>,
    /// Count in Redis, shared by every replica, with one atomic script; the server refuses to
    /// start without Redis and refuses requests while Redis is unreachable.
    pub strict: bool,
    /// Redis URL for strict mode.
    pub redis_url: Option<String>,
}

/// Which limit refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Tenant,
    Principal,
    Skill,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Principal => "principal",
            Self::Skill => "skill",
        }
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("rate limit of the {} exceeded; retry in {:.3} s", scope.as_str(), retry_after.as_secs_f64())]
    Limited { scope: Scope, retry_after: Duration },
    #[error("the rate limiter is unavailable (strict mode refuses calls while Redis is down)")]
    Unavailable,
}

/// The rate limiter of the server.
pub struct Service {
    limits: [(Scope, Option<Limit>); 3],
    backend: Backend,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("rate_limit::Service")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

enum Backend {
    Local(Box<[Option<DefaultKeyedRateLimiter<String>>; 3]>),
    Redis {
        connection: redis::aio::ConnectionManager,
        script: redis::Script,
    },
}

/// GCRA over every key of one call: KEYS are the keys, ARGV holds (emission interval in µs,
/// burst) per key. Returns {1, 0} when every key admits the call (and stores their new
/// theoretical arrival times), else {0, µs until the call would be admitted, index of the
/// refusing key}.
const GCRA_SCRIPT: &str = r#"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local new_tats = {}
local worst_wait, worst_key = 0, 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if now < allow_at then
    if allow_at - now > worst_wait then
      worst_wait = allow_at - now
      worst_key = i
    end
  end
  new_tats[i] = new_tat
end
if worst_key > 0 then
  return {0, worst_wait, worst_key}
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, new_tats[i], 'PX', math.ceil((new_tats[i] - now) / 1000) + 1)
end
return {1, 0, 0}
"#;

/// Why a strict limiter cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("strict rate limiting needs a Redis URL")]
    NoRedisUrl,
    #[error("strict rate limiting: {0}")]
    Redis(String),
}

impl Service {
    /// Builds the limiter; in strict mode connects to Redis and fails when it cannot.
    pub async fn new(config: &Options) -> Result<Self, Error> {
        // Narrowest first: in process, a principal over its own limit is refused before it
        // takes anything from its tenant's bucket.
        let limits = [
            (Scope::Principal, config.principal),
            (Scope::Skill, config.skill),
            (Scope::Tenant, config.tenant),
        ];
        let backend = if config.strict {
            let url = config.redis_url.as_deref().ok_or(Error::NoRedisUrl)?;
            let client = redis::Client::open(url)
                .map_err(|error| Error::Redis(format!("invalid Redis URL: {error}")))?;
            let manager_config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(Duration::from_secs(1)))
                .set_number_of_retries(1);
            let mut connection =
                redis::aio::ConnectionManager::new_with_config(client, manager_config)
                    .await
                    .map_err(|error| Error::Redis(format!("cannot reach Redis: {error}")))?;
            let _: String = redis::cmd("PING")
                .query_async(&mut connection)
                .await
                .map_err(|error| Error::Redis(format!("Redis does not answer: {error}")))?;
            Backend::Redis {
                connection,
                script: redis::Script::new(GCRA_SCRIPT),
            }
        } else {
            Backend::Local(Box::new(limits.map(|(_, limit)| {
                limit.map(|limit| DefaultKeyedRateLimiter::keyed(quota(limit)))
            })))
        };
        Ok(Self { limits, backend })
    }

    pub fn is_strict(&self) -> bool {
        matches!(self.backend, Backend::Redis { .. })
    }

    /// Counts one call of `principal` (and of `skill`, when given) against the limits of its
    /// tenant and principal (when `caller` is set) and of the skill.
    pub async fn check(
        &self,
        principal: &Principal,
        caller: bool,
        skill: Option<&str>,
    ) -> Result<(), Refusal> {
        let tenant = principal.tenant.as_str();
        let keys: Vec<(usize, String)> = self
            .limits
            .iter()
            .enumerate()
            .filter(|(_, (_, limit))| limit.is_some())
            .filter_map(|(index, (scope, _))| {
                // `{tenant}` is a Redis Cluster hash tag: every key of one call is in one slot,
                // as a multi-key script needs.
                let key = match scope {
                    Scope::Tenant if caller => format!("skillos:rl:{{{tenant}}}:t"),
                    Scope::Principal if caller => {
                        format!("skillos:rl:{{{tenant}}}:p:{}", principal.subject)
                    }
                    Scope::Skill => format!("skillos:rl:{{{tenant}}}:s:{}", skill?),
                    _ => return None,
                };
                Some((index, key))
            })
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Local(limiters) => {
                for (index, key) in keys {
                    let Some(limiter) = &limiters[index] else {
                        continue;
                    };
                    if let Err(not_until) = limiter.check_key(&key) {
                        let now = governor::clock::DefaultClock::default().now();
                        return Err(Refusal::Limited {
                            scope: self.limits[index].0,
                            retry_after: not_until.wait_time_from(now),
                        });
                    }
                }
                Ok(())
            }
            Backend::Redis { connection, script } => {
                let mut invocation = script.prepare_invoke();
                for (index, key) in &keys {
                    let limit = self.limits[*index]
                        .1
                        .expect("filtered on limits that are set");
                    invocation
                        .key(key)
                        .arg(interval_micros(limit))
                        .arg(limit.burst);
                }
                let mut connection = connection.clone();
                let (admitted, wait_micros, key_index): (i64, i64, i64) = invocation
                    .invoke_async(&mut connection)
                    .await
                    .map_err(|error| {
                        tracing::warn!(%error, "rate limiter: Redis failed; refusing the call");
                        Refusal::Unavailable
                    })?;
                if admitted == 1 {
                    return Ok(());
                }
                let scope = usize::try_from(key_index - 1)
                    .ok()
                    .and_then(|i| keys.get(i))
                    .map(|(index, _)| self.limits[*index].0)
                    .unwrap_or(Scope::Tenant);
                Err(Refusal::Limited {
                    scope,
                    retry_after: Duration::from_micros(u64::try_from(wait_micros).unwrap_or(0)),
                })
            }
        }
    }

    /// Forgets in-process keys that have been idle long enough to be full again.
    pub fn shrink(&self) {
        if let Backend::Local(limiters) = &self.backend {
            for limiter in limiters.iter().flatten() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

fn interval_micros(limit: Limit) -> u64 {
    ((1_000_000.0 / limit.rate).round() as u64).max(1)
}

fn quota(limit: Limit) -> Quota {
    let interval = Duration::from_micros(interval_micros(limit));
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(interval)
        .expect("the interval is at least 1 µs")
        .allow_burst(burst)
}

impl From<crate::rate_limit::Refusal> for crate::error::Error {
    fn from(refusal: crate::rate_limit::Refusal) -> Self {
        use crate::rate_limit::Refusal;
        let message = refusal.to_string();
        match refusal {
            Refusal::Limited { scope, retry_after } => Self::new(reason::RATE_LIMITED, message)
                .with("scope", scope.as_str())
                .retry_after(retry_after),
            Refusal::Unavailable => Self::new(reason::RATE_LIMITER_UNAVAILABLE, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillos_store::TenantId;

    fn config(burst: u32) -> Options {
        Options {
            principal: Some(Limit { rate: 0.001, burst }),
            skill: Some(Limit {
                rate: 0.001,
                burst: 100,
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn local_limits_admit_the_burst_then_refuse_with_a_wait() {
        let limiter = Service::new(&config(3)).await.unwrap();
        let alice = Principal::new("alice", TenantId::default_tenant(), vec![]);
        let bob = Principal::new("bob", TenantId::default_tenant(), vec![]);
        for _ in 0..3 {
            limiter.check(&alice, true, None).await.unwrap();
        }
        match limiter.check(&alice, true, None).await {
            Err(Refusal::Limited { scope, retry_after }) => {
                assert_eq!(scope, Scope::Principal);
                assert!(retry_after > Duration::from_secs(900), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        // Another principal has its own budget; the skill key is only counted when given.
        limiter.check(&bob, true, None).await.unwrap();
        limiter.check(&alice, false, Some("a/b")).await.unwrap();
    }
}
