//! Permission policies: who may run which skill, and who may do administrative actions.
//!
//! The file is the predecessor's `policies/permission_policies.json` (roles -> permissions with
//! wildcards; skill-id globs -> required permissions; ABAC allow/deny rules with conditions),
//! read with these rules:
//!
//! - Once any policy exists, a skill runs only when a policy grants it (default deny): every
//!   permission policy matching the skill is satisfied, or an ABAC `allow` rule applies.
//! - An applying ABAC `deny` refuses, whatever grants the skill (deny wins).
//! - Conditions read the evaluation keys `role` (any of the caller's roles), `tags`, `skill_id`,
//!   `tenant` and `subject` from the server; a caller attribute of the same name never replaces
//!   them. Other keys are the caller's verified attributes.
//! - A file that does not parse is refused whole: at start the server does not start; on reload
//!   the previous policies stay. A reload replaces every tenant's policies at once.
//!
//! `<dir>/permission_policies.json` applies to every tenant; `<dir>/tenants/<tenant>/
//! permission_policies.json` replaces it for one tenant. Decisions are cached per (policy
//! version, principal, skill).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::Deserialize;
use serde_json::Value as Json;
use skillos_store::TenantId;

use crate::auth::{Principal, glob_matches};

pub const FILE_NAME: &str = "permission_policies.json";
pub const APPROVALS_FILE_NAME: &str = "approval_policies.json";
/// How long an approval waits for decisions unless its policy says otherwise.
const DEFAULT_APPROVAL_EXPIRY_SECONDS: u64 = 24 * 3600;
/// The role that holds every permission unless a policy file defines it.
const ADMIN_ROLE: &str = Principal::ADMIN_ROLE;
const MAX_CACHED_DECISIONS: usize = 10_000;

/// Administrative permissions the server checks (skills run under the policies' own names).
pub mod permission {
    /// Deprecate and undeprecate skills.
    pub const SKILLS_MANAGE: &str = "skills:manage";
    /// Decide approvals (approve, reject) and see every approval of the tenant.
    pub const APPROVALS_DECIDE: &str = "approvals:decide";
    /// See every approval of the tenant.
    pub const APPROVALS_READ: &str = "approvals:read";
    /// Cancel executions other principals started.
    pub const EXECUTIONS_CANCEL: &str = "executions:cancel";
    /// Read other principals' and skills' budgets and usage.
    pub const BUDGETS_READ: &str = "budgets:read";
    /// Set budget limits.
    pub const BUDGETS_WRITE: &str = "budgets:write";
    /// Cancel and retry flow runs other principals started.
    pub const FLOWS_MANAGE: &str = "flows:manage";
    /// Cancel and requeue jobs other principals enqueued.
    pub const JOBS_MANAGE: &str = "jobs:manage";
    /// Create, delete and rotate the secrets of webhook triggers.
    pub const WEBHOOKS_MANAGE: &str = "webhooks:manage";
    /// Pause, resume, delete and trigger schedules other principals created.
    pub const SCHEDULES_MANAGE: &str = "schedules:manage";
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The policy that decided (`default_deny`, `no_policies`, a policy or rule id).
    pub policy_id: String,
    /// Why, for the caller and the audit trail.
    pub reason: String,
    /// Required permissions the caller lacks.
    pub missing: Vec<String>,
}

impl Decision {
    fn allow(policy_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            allowed: true,
            policy_id: policy_id.into(),
            reason: reason.into(),
            missing: Vec::new(),
        }
    }

    fn deny(policy_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            policy_id: policy_id.into(),
            reason: reason.into(),
            missing: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Error {
    pub path: PathBuf,
    pub message: String,
}

/// One string or a list of strings, as the file format allows.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        let items = match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        };
        items
            .into_iter()
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    roles: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    policies: Option<PoliciesField>,
    #[serde(default)]
    abac_policies: Vec<AbacFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PoliciesField {
    List(Vec<RuleFormat>),
    Wrapped { policies: Vec<RuleFormat> },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFormat {
    skill_id: String,
    #[serde(default, alias = "permissions")]
    required_permissions: Option<OneOrMany>,
    #[serde(default)]
    policy_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AbacFormat {
    skill_id: String,
    effect: Effect,
    #[serde(default)]
    conditions: BTreeMap<String, Json>,
    #[serde(default)]
    policy_id: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
struct Rule {
    glob: String,
    required: Vec<String>,
    policy_id: String,
}

#[derive(Clone, Debug)]
struct Abac {
    glob: String,
    effect: Effect,
    /// Attribute -> accepted values (empty: any value, but the attribute must be there).
    conditions: BTreeMap<String, Vec<String>>,
    policy_id: String,
}

/// The parsed policies of one tenant: permission and approval policies.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    roles: HashMap<String, Vec<String>>,
    rules: Vec<Rule>,
    abac: Vec<Abac>,
    approvals: Vec<ApprovalRule>,
    /// False when there is no file: every authenticated caller may run every skill.
    defined: bool,
}

/// A skill glob in either id form: with no `/`, the first `.` separates domain and name
/// (`finance.*` is `finance/*`).
fn skill_glob(glob: &str) -> String {
    let glob = glob.trim();
    if !glob.contains('/')
        && let Some((domain, name)) = glob.split_once('.')
    {
        return format!("{domain}/{name}");
    }
    glob.to_owned()
}

impl PolicySet {
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: FileFormat = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let roles = file
            .roles
            .into_iter()
            .map(|(role, permissions)| (role.trim().to_owned(), permissions.into_vec()))
            .collect();
        let rules = match file.policies {
            None => Vec::new(),
            Some(PoliciesField::List(rules) | PoliciesField::Wrapped { policies: rules }) => rules,
        };
        let rules = rules
            .into_iter()
            .enumerate()
            .map(|(index, rule)| Rule {
                glob: skill_glob(&rule.skill_id),
                required: rule
                    .required_permissions
                    .map(OneOrMany::into_vec)
                    .unwrap_or_default(),
                policy_id: rule
                    .policy_id
                    .filter(|id| !id.trim().is_empty())
                    .unwrap_or_else(|| format!("policies[{index}]")),
            })
            .collect();
        let mut abac = Vec::new();
        for (index, rule) in file.abac_policies.into_iter().enumerate() {
            let mut conditions = BTreeMap::new();
            for (key, value) in rule.conditions {
                let values = match value {
                    Json::String(one) => vec![one],
                    Json::Array(items) => items
                        .into_iter()
                        .map(|item| match item {
                            Json::String(text) => Ok(text),
                            Json::Number(n) => Ok(n.to_string()),
                            Json::Bool(b) => Ok(b.to_string()),
                            other => Err(format!(
                                "abac_policies[{index}].conditions.{key}: {other} is not a string"
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                    Json::Number(n) => vec![n.to_string()],
                    Json::Bool(b) => vec![b.to_string()],
                    other => {
                        return Err(format!(
                            "abac_policies[{index}].conditions.{key}: {other} is not a string or a list"
                        ));
                    }
                };
                conditions.insert(key, values);
            }
            abac.push(Abac {
                glob: skill_glob(&rule.skill_id),
                effect: rule.effect,
                conditions,
                policy_id: rule
                    .policy_id
                    .filter(|id| !id.trim().is_empty())
                    .unwrap_or_else(|| format!("abac_policies[{index}]")),
            });
        }
        Ok(Self {
            roles,
            rules,
            abac,
            approvals: Vec::new(),
            defined: true,
        })
    }

    /// Permission patterns the principal's roles hold (the admin role holds `*` unless the file
    /// defines it).
    fn granted<'a>(&'a self, principal: &'a Principal) -> Vec<&'a str> {
        let mut granted: Vec<&str> = Vec::new();
        for role in &principal.roles {
            match self.roles.get(role) {
                Some(permissions) => granted.extend(permissions.iter().map(String::as_str)),
                None if role == ADMIN_ROLE => granted.push("*"),
                None => {}
            }
        }
        granted
    }

    /// Role permissions are patterns (`finance:*`); a credential's own permissions (a token's
    /// `scope`) are taken literally, so a token cannot grant itself `*`.
    fn holds(granted: &[&str], principal: &Principal, permission: &str) -> bool {
        granted
            .iter()
            .any(|pattern| glob_matches(pattern, permission))
            || principal.permissions.iter().any(|own| own == permission)
    }

    /// May the principal run the skill?
    pub fn check_skill(&self, principal: &Principal, skill_id: &str, tags: &[String]) -> Decision {
        if !self.defined {
            return Decision::allow("no_policies", "no permission policies are defined");
        }
        let applying = |effect: Effect| {
            self.abac.iter().find(|rule| {
                rule.effect == effect
                    && glob_matches(&rule.glob, skill_id)
                    && rule.conditions.iter().all(|(key, expected)| {
                        condition_holds(principal, skill_id, tags, key, expected)
                    })
            })
        };
        if let Some(deny) = applying(Effect::Deny) {
            return Decision::deny(
                &deny.policy_id,
                format!("ABAC rule {} denies {skill_id}", deny.policy_id),
            );
        }
        let granted = self.granted(principal);
        let matching: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|rule| glob_matches(&rule.glob, skill_id))
            .collect();
        let mut missing: Vec<String> = matching
            .iter()
            .flat_map(|rule| rule.required.iter())
            .filter(|permission| !Self::holds(&granted, principal, permission))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        if !matching.is_empty() && missing.is_empty() {
            return Decision::allow(&matching[0].policy_id, "the required permissions are held");
        }
        if let Some(allow) = applying(Effect::Allow) {
            return Decision::allow(&allow.policy_id, "an ABAC rule allows it");
        }
        match matching.first() {
            Some(rule) => Decision {
                missing: missing.clone(),
                ..Decision::deny(
                    &rule.policy_id,
                    format!("missing permissions for {skill_id}: {}", missing.join(", ")),
                )
            },
            None => Decision::deny(
                "default_deny",
                format!("no policy grants {skill_id} (policies deny by default)"),
            ),
        }
    }

    /// Does the principal hold an administrative permission?
    pub fn check_permission(&self, principal: &Principal, permission: &str) -> Decision {
        if Self::holds(&self.granted(principal), principal, permission) {
            Decision::allow("roles", format!("{permission} is held"))
        } else {
            Decision {
                missing: vec![permission.to_owned()],
                ..Decision::deny("roles", format!("{permission} is required"))
            }
        }
    }
}

/// Why and how a run must wait for people.
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    pub policy_id: String,
    /// `skill_policy`, `risk_tier` or `payload_condition`.
    pub reason: String,
    pub required_approvals: u32,
    pub approver_group: Option<String>,
    pub expires_in: std::time::Duration,
}

/// One approval policy (the predecessor's `approval_policies.json` item, extended).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalRuleFormat {
    #[serde(default = "any_skill")]
    skill_id: String,
    #[serde(default = "yes")]
    requires_approval: bool,
    #[serde(default)]
    policy_id: Option<String>,
    /// Only skills of these risk tiers.
    #[serde(default)]
    risk_tiers: Vec<String>,
    /// Conditions on payload fields (dotted paths): `{"amount": {"gt": 1000}}`.
    #[serde(default)]
    when: BTreeMap<String, BTreeMap<String, Json>>,
    #[serde(default = "one")]
    required_approvals: u32,
    #[serde(default)]
    approver_group: Option<String>,
    #[serde(default)]
    expires_in_seconds: Option<u64>,
}

fn any_skill() -> String {
    "*".to_owned()
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ApprovalFileFormat {
    List(Vec<ApprovalRuleFormat>),
    Wrapped { policies: Vec<ApprovalRuleFormat> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Exists,
}

#[derive(Clone, Debug)]
struct ApprovalRule {
    glob: String,
    requires: bool,
    policy_id: String,
    risk_tiers: Vec<String>,
    when: Vec<(String, Op, Json)>,
    required: u32,
    group: Option<String>,
    expires_in: u64,
}

impl ApprovalRule {
    fn parse_file(text: &str) -> Result<Vec<Self>, String> {
        let file: ApprovalFileFormat = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let (ApprovalFileFormat::List(rules) | ApprovalFileFormat::Wrapped { policies: rules }) =
            file;
        rules
            .into_iter()
            .enumerate()
            .map(|(index, rule)| {
                let mut when = Vec::new();
                for (field, ops) in rule.when {
                    for (op, value) in ops {
                        let op = match op.as_str() {
                            "eq" => Op::Eq,
                            "ne" => Op::Ne,
                            "gt" => Op::Gt,
                            "gte" => Op::Gte,
                            "lt" => Op::Lt,
                            "lte" => Op::Lte,
                            "in" => Op::In,
                            "exists" => Op::Exists,
                            other => {
                                return Err(format!(
                                    "policies[{index}].when.{field}: unknown operator {other:?} \
                                     (eq, ne, gt, gte, lt, lte, in, exists)"
                                ));
                            }
                        };
                        if matches!(op, Op::Gt | Op::Gte | Op::Lt | Op::Lte) && !value.is_number() {
                            return Err(format!("policies[{index}].when.{field}.{op:?}: needs a number"));
                        }
                        if op == Op::In && !value.is_array() {
                            return Err(format!("policies[{index}].when.{field}.in: needs a list"));
                        }
                        when.push((field.clone(), op, value));
                    }
                }
                for tier in &rule.risk_tiers {
                    if !matches!(tier.as_str(), "low" | "medium" | "high" | "critical") {
                        return Err(format!(
                            "policies[{index}].risk_tiers: {tier:?} is not low, medium, high or critical"
                        ));
                    }
                }
                if rule.required_approvals == 0 || rule.required_approvals > 20 {
                    return Err(format!("policies[{index}].required_approvals must be 1-20"));
                }
                let group = rule.approver_group.map(|g| g.trim().to_owned()).filter(|g| !g.is_empty());
                Ok(Self {
                    glob: skill_glob(&rule.skill_id),
                    requires: rule.requires_approval,
                    policy_id: rule
                        .policy_id
                        .filter(|id| !id.trim().is_empty())
                        .unwrap_or_else(|| format!("approval_policies[{index}]")),
                    risk_tiers: rule.risk_tiers,
                    when,
                    required: rule.required_approvals,
                    group,
                    expires_in: rule.expires_in_seconds.unwrap_or(DEFAULT_APPROVAL_EXPIRY_SECONDS),
                })
            })
            .collect()
    }

    fn applies(&self, skill_id: &str, risk_tier: Option<&str>, payload: &Json) -> bool {
        glob_matches(&self.glob, skill_id)
            && (self.risk_tiers.is_empty()
                || risk_tier.is_some_and(|tier| self.risk_tiers.iter().any(|t| t == tier)))
            && self
                .when
                .iter()
                .all(|(field, op, expected)| condition_on_payload(payload, field, *op, expected))
    }
}

/// A payload field (dotted path) against one operator.
fn condition_on_payload(payload: &Json, field: &str, op: Op, expected: &Json) -> bool {
    let value = field
        .split('.')
        .try_fold(payload, |value, key| value.get(key));
    let Some(value) = value else {
        return op == Op::Exists && expected == &Json::Bool(false);
    };
    let number = |v: &Json| v.as_f64();
    match op {
        Op::Exists => expected != &Json::Bool(false),
        Op::Eq => {
            value == expected || (number(value).is_some() && number(value) == number(expected))
        }
        Op::Ne => {
            !(value == expected || (number(value).is_some() && number(value) == number(expected)))
        }
        Op::In => expected
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item == value)),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            // A number written as a string counts as that number; any other value cannot be
            // compared, and the rule applies (fail closed: it asks for approval).
            let actual =
                number(value).or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
            match (actual, number(expected)) {
                (Some(a), Some(b)) => match op {
                    Op::Gt => a > b,
                    Op::Gte => a >= b,
                    Op::Lt => a < b,
                    _ => a <= b,
                },
                _ => true,
            }
        }
    }
}

impl PolicySet {
    /// The approval a run needs, if any: the first approval policy that applies decides (one
    /// with `requires_approval: false` exempts the run).
    pub fn approval_requirement(
        &self,
        skill_id: &str,
        risk_tier: Option<&str>,
        payload: &Json,
    ) -> Option<Requirement> {
        let rule = self
            .approvals
            .iter()
            .find(|rule| rule.applies(skill_id, risk_tier, payload))?;
        if !rule.requires {
            return None;
        }
        let reason = if !rule.when.is_empty() {
            "payload_condition"
        } else if !rule.risk_tiers.is_empty() {
            "risk_tier"
        } else {
            "skill_policy"
        };
        Some(Requirement {
            policy_id: rule.policy_id.clone(),
            reason: reason.to_owned(),
            required_approvals: rule.required,
            approver_group: rule.group.clone(),
            expires_in: std::time::Duration::from_secs(rule.expires_in),
        })
    }
}

/// One ABAC condition: server-known keys first, caller attributes only for the other keys.
fn condition_holds(
    principal: &Principal,
    skill_id: &str,
    tags: &[String],
    key: &str,
    expected: &[String],
) -> bool {
    let any = |values: &mut dyn Iterator<Item = &str>| {
        let mut values = values.peekable();
        if expected.is_empty() {
            return values.peek().is_some();
        }
        values.any(|value| expected.iter().any(|e| e == value))
    };
    match key {
        "role" | "roles" => any(&mut principal.roles.iter().map(String::as_str)),
        "tags" | "tag" => any(&mut tags.iter().map(String::as_str)),
        "skill_id" => any(&mut std::iter::once(skill_id)),
        "tenant" | "tenant_id" => any(&mut std::iter::once(principal.tenant.as_str())),
        "subject" | "sub" => any(&mut std::iter::once(principal.subject.as_str())),
        attribute => match principal.attributes.get(attribute) {
            Some(value) => any(&mut std::iter::once(value.as_str())),
            None => false,
        },
    }
}

/// Every tenant's policies at one version.
#[derive(Debug, Default)]
struct Loaded {
    /// sha256 of every file read, so a cached decision never outlives its policies.
    version: String,
    global: Arc<PolicySet>,
    tenants: HashMap<String, Arc<PolicySet>>,
}

/// The policies of the server, reloadable, with a decision cache.
#[derive(Debug)]
pub struct Service {
    dir: Option<PathBuf>,
    loaded: RwLock<Arc<Loaded>>,
    cache: Mutex<HashMap<(String, String), Decision>>,
}

impl Service {
    /// Reads the policies of `dir` (none when it is unset or has no files).
    pub fn load(dir: Option<PathBuf>) -> Result<Self, Error> {
        let loaded = read_dir(dir.as_deref())?;
        Ok(Self {
            dir,
            loaded: RwLock::new(Arc::new(loaded)),
            cache: Mutex::default(),
        })
    }

    /// Policies from text, for tests.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let set = PolicySet::parse(text)?;
        Ok(Self {
            dir: None,
            loaded: RwLock::new(Arc::new(Loaded {
                version: hex_sha256(text.as_bytes()),
                global: Arc::new(set),
                tenants: HashMap::new(),
            })),
            cache: Mutex::default(),
        })
    }

    /// Reads the files again; on success every tenant switches to the new policies at once.
    /// Returns whether anything changed.
    pub fn reload(&self) -> Result<bool, Error> {
        let loaded = read_dir(self.dir.as_deref())?;
        let mut current = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        if current.version == loaded.version {
            return Ok(false);
        }
        tracing::info!(version = %&loaded.version[..12.min(loaded.version.len())], "permission policies reloaded");
        *current = Arc::new(loaded);
        Ok(true)
    }

    pub fn version(&self) -> String {
        self.current().version.clone()
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_for(loaded: &Loaded, tenant: &TenantId) -> Arc<PolicySet> {
        loaded
            .tenants
            .get(tenant.as_str())
            .unwrap_or(&loaded.global)
            .clone()
    }

    /// May the principal run the skill? Cached per (version, principal, skill).
    pub fn check_skill(&self, principal: &Principal, skill_id: &str, tags: &[String]) -> Decision {
        let loaded = self.current();
        // Tags are part of the key: a reloaded manifest with other tags is decided again.
        let key = (
            format!("{}\u{0}{}", loaded.version, principal_key(principal)),
            format!("{skill_id}\u{0}{}", tags.join("\u{1}")),
        );
        if let Some(decision) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return decision.clone();
        }
        let decision =
            Self::set_for(&loaded, &principal.tenant).check_skill(principal, skill_id, tags);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_DECISIONS {
            cache.clear();
        }
        cache.insert(key, decision.clone());
        decision
    }

    /// The approval a run of the tenant needs, if any.
    pub fn approval_requirement(
        &self,
        tenant: &TenantId,
        skill_id: &str,
        risk_tier: Option<&str>,
        payload: &Json,
    ) -> Option<Requirement> {
        let loaded = self.current();
        Self::set_for(&loaded, tenant).approval_requirement(skill_id, risk_tier, payload)
    }

    pub fn check_permission(&self, principal: &Principal, permission: &str) -> Decision {
        let loaded = self.current();
        Self::set_for(&loaded, &principal.tenant).check_permission(principal, permission)
    }
}

/// Everything about a principal a decision depends on (the skill id and its tags are the key's
/// other half).
fn principal_key(principal: &Principal) -> String {
    let mut key = format!("{}\u{0}{}", principal.tenant, principal.subject);
    for part in [&principal.roles, &principal.permissions] {
        key.push('\u{1}');
        key.push_str(&part.join("\u{2}"));
    }
    for (name, value) in &principal.attributes {
        key.push('\u{1}');
        key.push_str(name);
        key.push('=');
        key.push_str(value);
    }
    key
}

fn read_dir(dir: Option<&Path>) -> Result<Loaded, Error> {
    let mut loaded = Loaded::default();
    let mut versions = String::new();
    let Some(dir) = dir else {
        loaded.version = "none".to_owned();
        return Ok(loaded);
    };
    let read_text = |path: &Path| -> Result<Option<String>, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error {
                path: path.to_owned(),
                message: error.to_string(),
            }),
        }
    };
    // Both files of one directory, each optional: (permission policies, approval rules, hash).
    type Read = (Option<PolicySet>, Option<Vec<ApprovalRule>>, String);
    let read = |dir: &Path| -> Result<Option<Read>, Error> {
        let permissions = read_text(&dir.join(FILE_NAME))?;
        let approvals = read_text(&dir.join(APPROVALS_FILE_NAME))?;
        if permissions.is_none() && approvals.is_none() {
            return Ok(None);
        }
        let set = permissions
            .as_deref()
            .map(PolicySet::parse)
            .transpose()
            .map_err(|message| Error {
                path: dir.join(FILE_NAME),
                message,
            })?;
        let rules = approvals
            .as_deref()
            .map(ApprovalRule::parse_file)
            .transpose()
            .map_err(|message| Error {
                path: dir.join(APPROVALS_FILE_NAME),
                message,
            })?;
        let hash = hex_sha256(
            format!(
                "{}\u{0}{}",
                permissions.unwrap_or_default(),
                approvals.unwrap_or_default()
            )
            .as_bytes(),
        );
        Ok(Some((set, rules, hash)))
    };
    // A file of a tenant replaces the shared file of the same name for that tenant only.
    let combine = |set: Option<PolicySet>, rules: Option<Vec<ApprovalRule>>, base: &PolicySet| {
        let mut combined = set.unwrap_or_else(|| PolicySet {
            approvals: Vec::new(),
            ..base.clone()
        });
        combined.approvals = rules.unwrap_or_else(|| base.approvals.clone());
        combined
    };
    if let Some((set, rules, hash)) = read(dir)? {
        loaded.global = Arc::new(combine(set, rules, &PolicySet::default()));
        versions.push_str(&hash);
    }
    let tenants = dir.join("tenants");
    if let Ok(entries) = std::fs::read_dir(&tenants) {
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let tenant = TenantId::parse(&name).map_err(|message| Error {
                path: tenants.join(&name),
                message,
            })?;
            if let Some((set, rules, hash)) = read(&tenants.join(&name))? {
                versions.push_str(&format!("{tenant}:{hash};"));
                let combined = combine(set, rules, &loaded.global);
                loaded
                    .tenants
                    .insert(tenant.as_str().to_owned(), Arc::new(combined));
            }
        }
    }
    loaded.version = if versions.is_empty() {
        "none".to_owned()
    } else {
        hex_sha256(versions.as_bytes())
    };
    Ok(loaded)
}

fn hex_sha256(bytes: &[u8]) -> String {
    crate::auth::sha256(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[&str]) -> Principal {
        Principal::new(
            "alice",
            TenantId::default_tenant(),
            roles.iter().map(|r| r.to_string()).collect(),
        )
    }

    const POLICIES: &str = r#"{
        "roles": {
            "analyst": ["skills:read", "finance:convert"],
            "operator": ["skills:*", "finance:*"],
            "empty": []
        },
        "policies": [
            {"skill_id": "finance/*", "required_permissions": ["finance:convert"], "policy_id": "finance"},
            {"skill_id": "finance.transfer", "required_permissions": "finance:transfer", "policy_id": "transfer"}
        ],
        "abac_policies": [
            {"skill_id": "*", "effect": "deny", "conditions": {"role": ["contractor"]}, "policy_id": "no-contractors"},
            {"skill_id": "travel/*", "effect": "allow", "conditions": {"department": ["travel"]}, "policy_id": "travel-dept"},
            {"skill_id": "*", "effect": "deny", "conditions": {"tags": ["dangerous"]}, "policy_id": "no-dangerous"}
        ]
    }"#;

    #[test]
    fn default_deny_once_policies_exist() {
        let set = PolicySet::parse(POLICIES).unwrap();
        let decision = set.check_skill(&principal(&["analyst"]), "ops/restart", &[]);
        assert!(!decision.allowed);
        assert_eq!(decision.policy_id, "default_deny");
        // No file: no policies, everything authenticated may run.
        assert!(
            PolicySet::default()
                .check_skill(&principal(&[]), "ops/restart", &[])
                .allowed
        );
    }

    #[test]
    fn every_matching_policy_must_be_satisfied() {
        let set = PolicySet::parse(POLICIES).unwrap();
        assert!(
            set.check_skill(&principal(&["analyst"]), "finance/convert", &[])
                .allowed
        );
        let decision = set.check_skill(&principal(&["analyst"]), "finance/transfer", &[]);
        assert!(!decision.allowed);
        assert_eq!(decision.missing, vec!["finance:transfer".to_owned()]);
        assert_eq!(decision.policy_id, "finance");
        // Wildcard grants.
        assert!(
            set.check_skill(&principal(&["operator"]), "finance/transfer", &[])
                .allowed
        );
        // A role with no permissions and an unknown role grant nothing.
        assert!(
            !set.check_skill(&principal(&["empty"]), "finance/convert", &[])
                .allowed
        );
        assert!(
            !set.check_skill(&principal(&["ghost"]), "finance/convert", &[])
                .allowed
        );
    }

    #[test]
    fn deny_wins_and_abac_allow_grants() {
        let set = PolicySet::parse(POLICIES).unwrap();
        let decision = set.check_skill(
            &principal(&["operator", "contractor"]),
            "finance/convert",
            &[],
        );
        assert!(!decision.allowed);
        assert_eq!(decision.policy_id, "no-contractors");
        let tags = vec!["dangerous".to_owned()];
        assert!(
            !set.check_skill(&principal(&["operator"]), "finance/convert", &tags)
                .allowed
        );

        let mut traveller = principal(&[]);
        assert!(!set.check_skill(&traveller, "travel/book", &[]).allowed);
        traveller
            .attributes
            .insert("department".into(), "travel".into());
        let decision = set.check_skill(&traveller, "travel/book", &[]);
        assert!(decision.allowed, "{decision:?}");
        assert_eq!(decision.policy_id, "travel-dept");
    }

    #[test]
    fn caller_attributes_cannot_overwrite_evaluation_keys() {
        let set = PolicySet::parse(POLICIES).unwrap();
        let mut sneaky = principal(&["contractor", "operator"]);
        // A claim named `role` (or `tags`, `skill_id`) is not the evaluation key.
        sneaky.attributes.insert("role".into(), "operator".into());
        sneaky.attributes.insert("tags".into(), "safe".into());
        sneaky
            .attributes
            .insert("skill_id".into(), "other/skill".into());
        assert!(!set.check_skill(&sneaky, "finance/convert", &[]).allowed);
        let tags = vec!["dangerous".to_owned()];
        let mut operator = principal(&["operator"]);
        operator.attributes.insert("tags".into(), "safe".into());
        assert!(!set.check_skill(&operator, "finance/convert", &tags).allowed);
    }

    #[test]
    fn credential_permissions_count_and_admin_holds_everything() {
        let set = PolicySet::parse(POLICIES).unwrap();
        let mut scoped = principal(&[]);
        scoped.permissions = vec!["finance:convert".into()];
        assert!(set.check_skill(&scoped, "finance/convert", &[]).allowed);
        // A token's own permissions are literal: a scope of `*` grants nothing.
        let mut greedy = principal(&[]);
        greedy.permissions = vec!["*".into(), "finance:*".into()];
        assert!(!set.check_skill(&greedy, "finance/convert", &[]).allowed);
        assert!(
            !set.check_permission(&greedy, permission::SKILLS_MANAGE)
                .allowed
        );
        assert!(
            set.check_permission(&principal(&["admin"]), permission::SKILLS_MANAGE)
                .allowed
        );
        assert!(
            set.check_permission(&principal(&["operator"]), permission::SKILLS_MANAGE)
                .allowed
        );
        assert!(
            !set.check_permission(&principal(&["analyst"]), permission::SKILLS_MANAGE)
                .allowed
        );
    }

    #[test]
    fn approval_policies_match_skills_risk_tiers_and_payload_conditions() {
        let rules = ApprovalRule::parse_file(
            r#"{"policies": [
                {"skill_id": "finance/exempt", "requires_approval": false},
                {"skill_id": "finance/*", "when": {"amount": {"gt": 1000}, "currency": {"in": ["USD", "EUR"]}},
                 "required_approvals": 2, "approver_group": "finance", "policy_id": "big-money"},
                {"risk_tiers": ["critical"], "expires_in_seconds": 60}
            ]}"#,
        )
        .unwrap();
        let set = PolicySet {
            approvals: rules,
            ..Default::default()
        };
        let big = serde_json::json!({"amount": 5000, "currency": "USD"});
        let small = serde_json::json!({"amount": 10, "currency": "USD"});
        let need = set.approval_requirement("finance/pay", None, &big).unwrap();
        assert_eq!(need.policy_id, "big-money");
        assert_eq!(
            (need.required_approvals, need.approver_group.as_deref()),
            (2, Some("finance"))
        );
        assert_eq!(need.reason, "payload_condition");
        assert_eq!(set.approval_requirement("finance/pay", None, &small), None);
        // A number sent as a string is that number; a value that is no number fails closed.
        for sneaky in [
            serde_json::json!({"amount": "5000", "currency": "USD"}),
            serde_json::json!({"amount": {"value": 5000}, "currency": "USD"}),
        ] {
            assert!(
                set.approval_requirement("finance/pay", None, &sneaky)
                    .is_some(),
                "{sneaky}"
            );
        }
        assert_eq!(
            set.approval_requirement("finance/exempt", Some("critical"), &big),
            None
        );
        let critical = set
            .approval_requirement("ops/restart", Some("critical"), &small)
            .unwrap();
        assert_eq!(
            (critical.reason.as_str(), critical.expires_in.as_secs()),
            ("risk_tier", 60)
        );
        assert_eq!(
            set.approval_requirement("ops/restart", Some("high"), &small),
            None
        );
        for bad in [
            r#"[{"skill_id": "*", "requires_approval": "false"}]"#,
            r#"[{"skill_id": "*", "when": {"amount": {"bigger": 1}}}]"#,
            r#"[{"skill_id": "*", "required_approvals": 0}]"#,
            r#"[{"risk_tiers": ["extreme"]}]"#,
        ] {
            assert!(ApprovalRule::parse_file(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tenant_file_replaces_only_the_shared_file_of_its_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), POLICIES).unwrap();
        std::fs::write(
            dir.path().join(APPROVALS_FILE_NAME),
            r#"[{"skill_id": "finance/*"}]"#,
        )
        .unwrap();
        let acme_dir = dir.path().join("tenants/acme");
        std::fs::create_dir_all(&acme_dir).unwrap();
        std::fs::write(
            acme_dir.join(APPROVALS_FILE_NAME),
            r#"[{"skill_id": "travel/*"}]"#,
        )
        .unwrap();
        let policies = Service::load(Some(dir.path().to_owned())).unwrap();
        let acme = TenantId::parse("acme").unwrap();
        let payload = serde_json::json!({});
        let needs = |tenant: &TenantId, skill: &str| {
            policies
                .approval_requirement(tenant, skill, None, &payload)
                .is_some()
        };
        let default = TenantId::default_tenant();
        assert!(needs(&default, "finance/convert") && !needs(&default, "travel/book"));
        assert!(!needs(&acme, "finance/convert") && needs(&acme, "travel/book"));
        // acme keeps the shared permission policies: default deny, the analyst's grants.
        let analyst = Principal::new("bob", acme.clone(), vec!["analyst".into()]);
        assert!(
            policies
                .check_skill(&analyst, "finance/convert", &[])
                .allowed
        );
        assert!(!policies.check_skill(&analyst, "ops/restart", &[]).allowed);
    }

    #[test]
    fn malformed_files_are_refused_whole() {
        for bad in [
            r#"{"roles": {"a": 1}}"#,
            r#"{"abac_policies": [{"skill_id": "*", "effect": "maybe"}]}"#,
            r#"{"policies": [{"required_permissions": ["x"]}]}"#,
            r#"{"unknown": true}"#,
            "not json",
        ] {
            assert!(PolicySet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reload_swaps_atomically_and_keeps_the_last_good_policies() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        std::fs::write(&file, POLICIES).unwrap();
        let policies = Service::load(Some(dir.path().to_owned())).unwrap();
        let analyst = principal(&["analyst"]);
        assert!(
            policies
                .check_skill(&analyst, "finance/convert", &[])
                .allowed
        );
        let version = policies.version();

        std::fs::write(&file, "{ broken").unwrap();
        assert!(policies.reload().is_err());
        assert_eq!(policies.version(), version);
        assert!(
            policies
                .check_skill(&analyst, "finance/convert", &[])
                .allowed
        );

        std::fs::write(&file, r#"{"roles": {"analyst": []}, "policies": [{"skill_id": "*", "required_permissions": "x"}]}"#).unwrap();
        assert!(policies.reload().unwrap());
        assert!(
            !policies
                .check_skill(&analyst, "finance/convert", &[])
                .allowed
        );

        // A tenant's own file replaces the shared one for that tenant only.
        let tenant_dir = dir.path().join("tenants/acme");
        std::fs::create_dir_all(&tenant_dir).unwrap();
        std::fs::write(tenant_dir.join(FILE_NAME), r#"{"roles": {"analyst": ["*"]}, "policies": [{"skill_id": "*", "required_permissions": "x"}]}"#).unwrap();
        assert!(policies.reload().unwrap());
        let acme = Principal::new(
            "bob",
            TenantId::parse("acme").unwrap(),
            vec!["analyst".into()],
        );
        assert!(policies.check_skill(&acme, "finance/convert", &[]).allowed);
        assert!(
            !policies
                .check_skill(&analyst, "finance/convert", &[])
                .allowed
        );
    }
}
