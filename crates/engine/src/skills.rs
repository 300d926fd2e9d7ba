//! The skill registry as the API serves it: the catalog of the skills root, merged with the
//! deprecation state kept in the store for the caller's tenant.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use skillos_core::registry::Catalog;
use skillos_core::skill_id::InvalidSkillId;
use skillos_core::{Registry, Skill, SkillId};
use skillos_store::{AuditEvent, SkillState, Store, TenantId};

use crate::auth::Principal;
use crate::dispatch;
use crate::error::reason;

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;
/// How long a tenant's deprecation overrides are served from memory before they are read
/// again: a change made on another replica counts here within this time (one made here counts
/// at once).
const STATES_FRESH_FOR: Duration = Duration::from_millis(750);
/// Tenants whose overrides are kept; past this the memory starts over.
const STATES_TENANTS: usize = 10_000;

/// What a tenant set through the API over its skills' files: deprecations and composition
/// activations, by skill id.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub deprecations: HashMap<String, SkillState>,
    pub activations: HashMap<String, bool>,
}

pub(crate) type States = Arc<Overrides>;
/// Each tenant's overrides and when they were read (or changed here: then none are kept).
type StatesByTenant = HashMap<TenantId, (Instant, Option<States>)>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidId(#[from] InvalidSkillId),
    #[error("skill {0} not found")]
    NotFound(SkillId),
    #[error("deprecating a skill needs a reason or a replacement_id")]
    ReasonRequired,
    #[error("skill {0} is not a composition; only compositions are activated")]
    NotAComposition(SkillId),
    #[error("invalid replacement_id: {0}")]
    InvalidReplacement(String),
    #[error(
        "invalid page_token; pass the next_page_token of the previous response, with the same filters"
    )]
    InvalidPageToken,
    #[error("page_size must be between 0 and {MAX_PAGE_SIZE}, got {0}")]
    InvalidPageSize(i64),
    #[error("the server has no skills root configured (--root or SKILLOS_ROOT)")]
    NoRoot,
    #[error("{}", .0.reason)]
    Denied(crate::policy::Decision),
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
    #[error("{0}")]
    Internal(String),
}

/// A skill with its effective deprecation state and whether a runner serves it now.
#[derive(Clone, Debug)]
pub struct SkillView {
    pub skill: Arc<Skill>,
    pub deprecation: Deprecation,
    /// A runner of the caller's tenant that serves the skill is attached now.
    pub available: bool,
    /// False for a composition that may not run: its file says so and the tenant has not
    /// activated it, or the tenant deactivated it. True for every other skill.
    pub active: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deprecation {
    pub deprecated: bool,
    pub reason: Option<String>,
    pub replacement_id: Option<String>,
    /// Set when the state comes from the API rather than the manifest.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Deprecation {
    fn of(skill: &Skill, state: Option<&SkillState>) -> Self {
        match state {
            Some(state) => Self {
                deprecated: state.deprecated,
                reason: state.reason.clone(),
                replacement_id: state.replacement_id.clone(),
                updated_at: Some(state.updated_at),
            },
            None => {
                let manifest = &skill.manifest.deprecation;
                Self {
                    deprecated: manifest.deprecated,
                    reason: manifest.reason.clone(),
                    replacement_id: manifest.replacement_id.as_ref().map(ToString::to_string),
                    updated_at: None,
                }
            }
        }
    }
}

/// A skill as JSON: the one shape of the HTTP API and the CLI's `--json` output.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SkillDocument {
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub tags: Vec<String>,
    pub entrypoint: String,
    pub input_schema: Option<serde_json::Value>,
    pub output_schema: Option<serde_json::Value>,
    pub cost_estimate: Option<f64>,
    pub risk_tier: Option<String>,
    pub required_permissions: Vec<String>,
    pub timeout_seconds: Option<f64>,
    pub retryable: bool,
    pub deprecated: bool,
    pub deprecation_reason: Option<String>,
    pub replacement_id: Option<String>,
    pub source_path: String,
    pub available: bool,
    /// `function` (a runner serves it), `composition` or `flow` (the server runs its steps).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composition: Option<CompositionDocument>,
}

/// A composition's steps in a [`SkillDocument`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CompositionDocument {
    /// Each a skill id, or ids joined by `|` that run at once.
    pub steps: Vec<String>,
    pub version: String,
    pub active: bool,
    pub source_path: String,
}

impl CompositionDocument {
    /// `active`: whether it may run for the caller's tenant ([`SkillView::active`]).
    pub fn new(composition: &skillos_core::flow::Composition, active: bool) -> Self {
        Self {
            steps: composition
                .definition
                .steps
                .iter()
                .map(|step| step.name.clone())
                .collect(),
            version: composition.version.clone(),
            active,
            source_path: composition.source_path.clone(),
        }
    }
}

impl SkillDocument {
    /// `with_schemas` false leaves the schemas out (the BASIC view of a listing).
    pub fn new(view: &SkillView, with_schemas: bool) -> Self {
        let manifest = &view.skill.manifest;
        let schema = |schema: &Option<serde_json::Map<String, serde_json::Value>>| {
            schema
                .clone()
                .filter(|_| with_schemas)
                .map(serde_json::Value::Object)
        };
        Self {
            id: manifest.id.to_string(),
            name: manifest.name.clone(),
            description: manifest.description.clone(),
            version: manifest.version.to_string(),
            tags: manifest.tags.clone(),
            entrypoint: manifest.entrypoint.to_string(),
            input_schema: schema(&manifest.input_schema),
            output_schema: schema(&manifest.output_schema),
            cost_estimate: manifest.cost_estimate,
            risk_tier: manifest.risk_tier.map(|tier| tier.as_str().to_owned()),
            required_permissions: manifest.required_permissions.clone(),
            timeout_seconds: manifest.timeout.map(|timeout| timeout.as_secs_f64()),
            retryable: manifest.retryable,
            deprecated: view.deprecation.deprecated,
            deprecation_reason: view.deprecation.reason.clone(),
            replacement_id: view.deprecation.replacement_id.clone(),
            source_path: view.skill.source_path.clone(),
            available: view.available,
            kind: kind_name(&view.skill),
            composition: view
                .skill
                .composition
                .as_ref()
                .map(|composition| CompositionDocument::new(composition, view.active)),
        }
    }
}

/// What runs a skill, by name: `function`, `composition` or `flow`.
pub fn kind_name(skill: &Skill) -> &'static str {
    if skill.composition.is_some() {
        "composition"
    } else if skill.flow.is_some() {
        "flow"
    } else {
        "function"
    }
}

/// Filters and paging of a listing.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub tag: Option<String>,
    pub domain: Option<String>,
    pub include_deprecated: bool,
    pub page_size: i64,
    pub page_token: Option<String>,
}

#[derive(Debug)]
pub struct Page {
    pub skills: Vec<SkillView>,
    pub next_page_token: Option<String>,
    pub total_size: usize,
}

/// Serves the registry; cheap to clone.
#[derive(Clone, Debug)]
pub struct Service {
    registry: Option<Arc<Registry>>,
    store: Arc<dyn Store>,
    dispatcher: dispatch::Service,
    policies: Arc<crate::policy::Service>,
    /// What [`Service::states`] read, per tenant.
    states: Arc<Mutex<StatesByTenant>>,
}

impl Service {
    pub fn new(
        registry: Option<Arc<Registry>>,
        store: Arc<dyn Store>,
        dispatcher: dispatch::Service,
        policies: Arc<crate::policy::Service>,
    ) -> Self {
        Self {
            registry,
            store,
            dispatcher,
            policies,
            states: Arc::default(),
        }
    }

    /// Refuses callers without an administrative permission.
    pub fn require(&self, principal: &Principal, permission: &str) -> Result<(), Error> {
        let decision = self.policies.check_permission(principal, permission);
        if decision.allowed {
            Ok(())
        } else {
            Err(Error::Denied(decision))
        }
    }

    /// The catalog's skill, or NOT_FOUND.
    pub(crate) fn skill(&self, id: &SkillId) -> Result<Arc<Skill>, Error> {
        self.catalog()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.clone()))
    }

    /// Whether a runner of `tenant` serves the skill now; for a composition, whether every
    /// skill it runs is available (the registry refuses cycles, so this ends).
    fn available(&self, catalog: &Catalog, tenant: &TenantId, skill: &Skill) -> bool {
        let definition = match (&skill.composition, &skill.flow) {
            (Some(composition), _) => &composition.definition,
            (None, Some(flow)) => &flow.definition,
            (None, None) => return self.dispatcher.hosts(tenant, &skill.id().to_string()),
        };
        definition.skills().into_iter().all(|step| {
            catalog
                .get(step)
                .is_some_and(|step| self.available(catalog, tenant, step))
        })
    }

    /// The compositions that may not run for a tenant with these overrides.
    pub(crate) fn inactive_compositions(
        &self,
        states: &Overrides,
    ) -> std::collections::HashSet<String> {
        self.catalog()
            .compositions()
            .filter(|skill| !active(skill, states))
            .map(|skill| skill.id().to_string())
            .collect()
    }

    /// The ids of the skills the server runs itself: the catalog's compositions and flows.
    pub fn server_run_ids(&self) -> Vec<String> {
        let catalog = self.catalog();
        let compositions = catalog.compositions().map(|skill| skill.id().to_string());
        let flows = catalog.flows().iter().map(|flow| flow.id.to_string());
        compositions.chain(flows).collect()
    }

    /// The flows of the catalog that passed their checks.
    pub fn flows(&self) -> Vec<Arc<skillos_core::flow::Flow>> {
        self.catalog().flows().to_vec()
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.registry
            .as_ref()
            .map(|registry| registry.catalog())
            .unwrap_or_default()
    }

    pub async fn list(&self, principal: &Principal, query: ListQuery) -> Result<Page, Error> {
        let page_size = match query.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if size < 0 || size > MAX_PAGE_SIZE as i64 => {
                return Err(Error::InvalidPageSize(size));
            }
            size => size as usize,
        };
        let tag = query
            .tag
            .map(|tag| tag.trim().to_lowercase())
            .filter(|tag| !tag.is_empty());
        let domain = query
            .domain
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        let filters = filters_key(tag.as_deref(), domain.as_deref(), query.include_deprecated);
        let after = match query.page_token.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => {
                let token = decode_page_token(token)?;
                if token.filters != filters {
                    return Err(Error::InvalidPageToken);
                }
                Some(token.after)
            }
        };

        let catalog = self.catalog();
        let states = self.states(&principal.tenant).await?;
        let matching: Vec<SkillView> = catalog
            .skills()
            .filter(|skill| {
                tag.as_ref()
                    .is_none_or(|tag| skill.manifest.tags.contains(tag))
            })
            .filter(|skill| {
                domain
                    .as_deref()
                    .is_none_or(|domain| skill.id().domain() == domain)
            })
            .map(|skill| SkillView {
                skill: skill.clone(),
                deprecation: Deprecation::of(
                    skill,
                    states.deprecations.get(&skill.id().to_string()),
                ),
                available: self.available(&catalog, &principal.tenant, skill),
                active: active(skill, &states),
            })
            .filter(|view| query.include_deprecated || !view.deprecation.deprecated)
            .collect();

        let total_size = matching.len();
        let start = match &after {
            Some(after) => matching.partition_point(|view| view.skill.id() <= after),
            None => 0,
        };
        let skills: Vec<SkillView> = matching.into_iter().skip(start).take(page_size).collect();
        let next_page_token = (start + skills.len() < total_size)
            .then(|| {
                skills
                    .last()
                    .map(|view| encode_page_token(&filters, view.skill.id()))
            })
            .flatten();
        Ok(Page {
            skills,
            next_page_token,
            total_size,
        })
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> Result<SkillView, Error> {
        let id = SkillId::parse(id.trim())?;
        let skill = self
            .catalog()
            .get(&id)
            .cloned()
            .ok_or(Error::NotFound(id))?;
        self.view(principal, skill).await
    }

    /// Validates the root as it is on disk now (not the served snapshot).
    pub async fn validate(&self, check_entrypoints: bool) -> Result<Catalog, Error> {
        let root: PathBuf = self
            .registry
            .as_ref()
            .ok_or(Error::NoRoot)?
            .root()
            .to_owned();
        let catalog =
            tokio::task::spawn_blocking(move || Catalog::validate(&root, check_entrypoints))
                .await
                .map_err(|join| Error::Internal(format!("validation task failed: {join}")))?;
        Ok(catalog)
    }

    pub async fn deprecate(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
        replacement_id: &str,
    ) -> Result<SkillView, Error> {
        self.require(principal, crate::policy::permission::SKILLS_MANAGE)?;
        let id = SkillId::parse(id.trim())?;
        let reason = Some(reason.trim().to_owned()).filter(|r| !r.is_empty());
        let replacement = replacement_id.trim();
        if reason.is_none() && replacement.is_empty() {
            return Err(Error::ReasonRequired);
        }
        let catalog = self.catalog();
        let skill = catalog
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.clone()))?;
        let replacement_id = if replacement.is_empty() {
            None
        } else {
            let replacement = SkillId::parse(replacement)
                .map_err(|error| Error::InvalidReplacement(error.to_string()))?;
            if replacement == id {
                return Err(Error::InvalidReplacement(
                    "a skill cannot replace itself".to_owned(),
                ));
            }
            if catalog.get(&replacement).is_none() {
                return Err(Error::InvalidReplacement(format!(
                    "skill {replacement} not found"
                )));
            }
            Some(replacement.to_string())
        };
        let state = SkillState {
            skill_id: id.to_string(),
            deprecated: true,
            reason,
            replacement_id,
            updated_by: principal.subject.clone(),
            updated_at: skillos_store::now(),
        };
        let details =
            serde_json::json!({"reason": state.reason, "replacement_id": state.replacement_id});
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "skill.deprecated",
            &state.skill_id,
            details,
        );
        self.store
            .put_skill_state(&principal.tenant, &state, &audit)
            .await?;
        self.forget_states(&principal.tenant);
        tracing::info!(skill_id = %id, actor = %principal.subject, "skill deprecated");
        self.view(principal, skill).await
    }

    pub async fn undeprecate(&self, principal: &Principal, id: &str) -> Result<SkillView, Error> {
        self.require(principal, crate::policy::permission::SKILLS_MANAGE)?;
        let id = SkillId::parse(id.trim())?;
        let skill = self.skill(&id)?;
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "skill.undeprecated",
            &id.to_string(),
            serde_json::json!({}),
        );
        if skill.manifest.deprecation.deprecated {
            // The manifest itself says deprecated: keep an explicit override.
            let state = SkillState {
                skill_id: id.to_string(),
                deprecated: false,
                reason: None,
                replacement_id: None,
                updated_by: principal.subject.clone(),
                updated_at: skillos_store::now(),
            };
            self.store
                .put_skill_state(&principal.tenant, &state, &audit)
                .await?;
        } else {
            // Drop the override, so a later change of the manifest counts again.
            self.store
                .clear_skill_state(&principal.tenant, &id.to_string(), &audit)
                .await?;
        }
        self.forget_states(&principal.tenant);
        tracing::info!(skill_id = %id, actor = %principal.subject, "skill undeprecated");
        self.view(principal, skill).await
    }

    /// Lets a composition run for the caller's tenant (`active` true) or stops it, whatever its
    /// file says; audited.
    pub async fn activate(
        &self,
        principal: &Principal,
        id: &str,
        active: bool,
    ) -> Result<SkillView, Error> {
        self.require(principal, crate::policy::permission::SKILLS_MANAGE)?;
        let id = SkillId::parse(id.trim())?;
        let skill = self.skill(&id)?;
        if skill.composition.is_none() {
            return Err(Error::NotAComposition(id));
        }
        let action = if active {
            "composition.activated"
        } else {
            "composition.deactivated"
        };
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            action,
            &id.to_string(),
            serde_json::json!({}),
        );
        let activation = skillos_store::Activation {
            skill_id: id.to_string(),
            active,
            updated_by: principal.subject.clone(),
            updated_at: skillos_store::now(),
        };
        self.store
            .put_activation(&principal.tenant, &activation, &audit)
            .await?;
        self.forget_states(&principal.tenant);
        tracing::info!(skill_id = %id, actor = %principal.subject, active, "composition activation set");
        self.view(principal, skill).await
    }

    async fn view(&self, principal: &Principal, skill: Arc<Skill>) -> Result<SkillView, Error> {
        let states = self.states(&principal.tenant).await?;
        let deprecation = Deprecation::of(&skill, states.deprecations.get(&skill.id().to_string()));
        let available = self.available(&self.catalog(), &principal.tenant, &skill);
        let active = active(&skill, &states);
        Ok(SkillView {
            skill,
            deprecation,
            available,
            active,
        })
    }

    /// The tenant's deprecation overrides, from memory while they are fresh.
    pub(crate) async fn states(&self, tenant: &TenantId) -> Result<States, Error> {
        if let Some((read_at, Some(states))) = self.lock_states().get(tenant)
            && read_at.elapsed() < STATES_FRESH_FOR
        {
            return Ok(states.clone());
        }
        let read_at = Instant::now();
        let states: States = Arc::new(Overrides {
            deprecations: self
                .store
                .skill_states(tenant)
                .await?
                .into_iter()
                .map(|state| (state.skill_id.clone(), state))
                .collect(),
            activations: self
                .store
                .activations(tenant)
                .await?
                .into_iter()
                .map(|activation| (activation.skill_id, activation.active))
                .collect(),
        });
        let mut cache = self.lock_states();
        if cache.len() >= STATES_TENANTS {
            cache.clear();
        }
        // A change made here after this read began must not be covered by it.
        let newer = cache.get(tenant).is_some_and(|(at, _)| *at > read_at);
        if !newer {
            cache.insert(tenant.clone(), (read_at, Some(states.clone())));
        }
        Ok(states)
    }

    /// Drops the tenant's overrides from memory after this replica changed them.
    fn forget_states(&self, tenant: &TenantId) {
        self.lock_states()
            .insert(tenant.clone(), (Instant::now(), None));
    }

    fn lock_states(&self) -> std::sync::MutexGuard<'_, StatesByTenant> {
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a skill may run: a composition as the tenant set it, else as its file says.
fn active(skill: &Skill, states: &Overrides) -> bool {
    skill.composition.as_ref().is_none_or(|composition| {
        states
            .activations
            .get(&skill.id().to_string())
            .copied()
            .unwrap_or(composition.active)
    })
}

/// What a page token carries: the filters of the listing that issued it and the last id
/// served, so a token is refused when it is replayed with other filters.
#[derive(Debug, PartialEq, Eq)]
struct PageToken {
    filters: String,
    after: SkillId,
}

fn filters_key(tag: Option<&str>, domain: Option<&str>, include_deprecated: bool) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{include_deprecated}",
        tag.unwrap_or(""),
        domain.unwrap_or("")
    )
}

fn encode_page_token(filters: &str, last: &SkillId) -> String {
    crate::page::filtered_token(filters, &last.to_string())
}

fn decode_page_token(token: &str) -> Result<PageToken, Error> {
    let (filters, after) = crate::page::filtered_cursor(token).ok_or(Error::InvalidPageToken)?;
    let after = SkillId::parse(&after).map_err(|_| Error::InvalidPageToken)?;
    Ok(PageToken { filters, after })
}

impl From<Error> for crate::error::Error {
    fn from(error: Error) -> Self {
        use Error as E;
        let message = error.to_string();
        let reason = match &error {
            E::InvalidId(_) => return Self::field(reason::INVALID_SKILL_ID, "skill_id", message),
            E::NotFound(_) => reason::SKILL_NOT_FOUND,
            E::ReasonRequired => {
                return Self::field(reason::DEPRECATION_REASON_REQUIRED, "reason", message);
            }
            E::NotAComposition(_) => reason::NOT_A_COMPOSITION,
            E::InvalidReplacement(_) => {
                return Self::field(reason::INVALID_REPLACEMENT, "replacement_id", message);
            }
            E::InvalidPageToken => {
                return Self::field(reason::INVALID_PAGE_TOKEN, "page_token", message);
            }
            E::InvalidPageSize(_) => {
                return Self::field(reason::INVALID_PAGE_SIZE, "page_size", message);
            }
            E::NoRoot => reason::NO_SKILLS_ROOT,
            E::Denied(decision) => {
                let mut denied = Self::new(reason::POLICY_DENIED, error.to_string())
                    .with("policy_id", decision.policy_id.clone());
                if !decision.missing.is_empty() {
                    denied = denied.with("missing_permissions", decision.missing.join(","));
                }
                return denied;
            }
            E::Store(store) => return Self::store(store),
            E::Internal(detail) => return Self::internal(detail),
        };
        Self::new(reason, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn service(root: &std::path::Path) -> (Service, tempfile::TempDir) {
        let data = tempfile::tempdir().unwrap();
        let store = skillos_store::SqliteStore::open(&data.path().join("db"))
            .await
            .unwrap();
        let registry = Registry::open(root).unwrap();
        (
            Service::new(
                Some(registry),
                Arc::new(store),
                dispatch::Service::new(),
                Arc::new(crate::policy::Service::load(None).unwrap()),
            ),
            data,
        )
    }

    fn write_skill(root: &std::path::Path, id: &str, tags: &str) {
        let (domain, name) = id.split_once('/').unwrap();
        let path = root.join(format!("metadata/{domain}/{name}.yaml"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = format!(
            "id: {id}\nname: {name}\ndescription: d\nversion: 1.0.0\nentrypoint: m:run\ntags: [{tags}]\n"
        );
        std::fs::write(path, text).unwrap();
    }

    #[tokio::test]
    async fn lists_filter_and_page_through_every_skill_once() {
        let root = tempfile::tempdir().unwrap();
        for index in 0..7 {
            write_skill(
                root.path(),
                &format!("d{}/s{index}", index % 2),
                if index % 3 == 0 { "x" } else { "y" },
            );
        }
        let (service, _data) = service(root.path()).await;
        let principal = Principal::anonymous();

        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let query = ListQuery {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            };
            let page = service.list(&principal, query).await.unwrap();
            assert_eq!(page.total_size, 7);
            seen.extend(page.skills.iter().map(|v| v.skill.id().to_string()));
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted);
        assert_eq!(seen.len(), 7);

        let query = ListQuery {
            tag: Some("X".into()),
            domain: Some("d0".into()),
            ..Default::default()
        };
        let ids: Vec<String> = service
            .list(&principal, query)
            .await
            .unwrap()
            .skills
            .iter()
            .map(|v| v.skill.id().to_string())
            .collect();
        assert_eq!(ids, ["d0/s0", "d0/s6"]);

        let first = ListQuery {
            page_size: 1,
            tag: Some("x".into()),
            ..Default::default()
        };
        let token = service
            .list(&principal, first)
            .await
            .unwrap()
            .next_page_token;
        let other_filters = ListQuery {
            page_token: token,
            tag: Some("y".into()),
            ..Default::default()
        };
        assert!(matches!(
            service.list(&principal, other_filters).await,
            Err(Error::InvalidPageToken)
        ));

        let bad = ListQuery {
            page_token: Some("garbage!".into()),
            ..Default::default()
        };
        assert!(matches!(
            service.list(&principal, bad).await,
            Err(Error::InvalidPageToken)
        ));
        let bad = ListQuery {
            page_size: -1,
            ..Default::default()
        };
        assert!(matches!(
            service.list(&principal, bad).await,
            Err(Error::InvalidPageSize(-1))
        ));
    }

    #[tokio::test]
    async fn deprecation_is_persisted_checked_and_hides_the_skill_from_default_listings() {
        let root = tempfile::tempdir().unwrap();
        write_skill(root.path(), "a/old", "t");
        write_skill(root.path(), "a/new", "t");
        let (service, _data) = service(root.path()).await;
        let principal = Principal::anonymous();

        assert!(matches!(
            service.deprecate(&principal, "a/old", " ", "").await,
            Err(Error::ReasonRequired)
        ));
        assert!(matches!(
            service.deprecate(&principal, "a/old", "", "a/old").await,
            Err(Error::InvalidReplacement(_))
        ));
        assert!(matches!(
            service.deprecate(&principal, "a/old", "", "a/none").await,
            Err(Error::InvalidReplacement(_))
        ));
        assert!(matches!(
            service.deprecate(&principal, "a/none", "x", "").await,
            Err(Error::NotFound(_))
        ));

        let view = service
            .deprecate(&principal, "a.old", "", "a/new")
            .await
            .unwrap();
        assert!(view.deprecation.deprecated);
        assert_eq!(view.deprecation.replacement_id.as_deref(), Some("a/new"));

        let listed = service
            .list(&principal, ListQuery::default())
            .await
            .unwrap();
        assert_eq!(listed.skills.len(), 1);
        let query = ListQuery {
            include_deprecated: true,
            ..Default::default()
        };
        assert_eq!(
            service.list(&principal, query).await.unwrap().skills.len(),
            2
        );

        let view = service.undeprecate(&principal, "a/old").await.unwrap();
        assert!(!view.deprecation.deprecated);
        let audit = service
            .store
            .list_audit(&principal.tenant, None, 10)
            .await
            .unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["skill.deprecated", "skill.undeprecated"]);
        // The manifest decides again: no override is left behind.
        assert_eq!(
            service
                .store
                .skill_state(&principal.tenant, "a/old")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn undeprecating_a_skill_deprecated_by_its_manifest_keeps_an_override() {
        let root = tempfile::tempdir().unwrap();
        write_skill(root.path(), "a/old", "t");
        let path = root.path().join("metadata/a/old.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            format!("{text}deprecated: true\ndeprecation_reason: old\n"),
        )
        .unwrap();
        let (service, _data) = service(root.path()).await;
        let principal = Principal::anonymous();

        assert!(
            service
                .get(&principal, "a/old")
                .await
                .unwrap()
                .deprecation
                .deprecated
        );
        let view = service.undeprecate(&principal, "a/old").await.unwrap();
        assert!(!view.deprecation.deprecated);
        assert!(
            !service
                .get(&principal, "a/old")
                .await
                .unwrap()
                .deprecation
                .deprecated
        );
    }
}
