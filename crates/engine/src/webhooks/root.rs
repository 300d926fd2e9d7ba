//! Triggers declared in the skills root: `triggers/webhooks.json`, the predecessor's format
//! (`{"webhooks": [...]}`, `{"triggers": [...]}` or a bare list of `{"id" | "trigger_id",
//! "skill_id"}`), extended with optional `scheme`, `secret_env`, `payload_mapping`,
//! `tolerance_seconds`, `allow_unsigned`, `forwarded_headers`, `roles`, `enabled`,
//! `description` and `secret_file`. Secrets never live in the file: they are read when a
//! delivery arrives from the file `secret_file` names (an absolute path, e.g. a mounted
//! secret), else from the environment variable `secret_env` names (`SKILLOS_WEBHOOK_SECRET`
//! by default); one secret per line (several during a rotation), surrounding whitespace
//! trimmed. The file is read again when it changes; these
//! triggers belong to the default tenant and run as `webhook:<id>` with `roles`
//! (`["webhook"]` by default).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::Value as Json;
use skillos_store::{TenantId, Trigger};

use super::{DEFAULT_TOLERANCE_SECONDS, MAX_TOLERANCE_SECONDS, Mapping, Scheme};

pub const FILE: &str = "triggers/webhooks.json";
const DEFAULT_SECRET_ENV: &str = "SKILLOS_WEBHOOK_SECRET";

/// A trigger of the skills root.
#[derive(Clone, Debug)]
pub struct Declared {
    pub trigger: Trigger,
    pub scheme: Scheme,
    pub mapping: Mapping,
    secret_env: String,
    secret_file: Option<std::path::PathBuf>,
}

impl Declared {
    /// The HMAC keys of the secrets in its environment variable now.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let secrets = match &self.secret_file {
            Some(path) => std::fs::read_to_string(path).unwrap_or_else(|error| {
                tracing::warn!(path = %path.display(), %error, "cannot read a webhook secret file");
                String::new()
            }),
            None => std::env::var(&self.secret_env).unwrap_or_default(),
        };
        secrets
            .lines()
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .filter_map(|secret| self.scheme.key(secret))
            .collect()
    }
}

pub struct RootTriggers {
    path: Option<PathBuf>,
    loaded: Mutex<(Option<SystemTime>, Vec<Declared>)>,
}

impl RootTriggers {
    pub fn new(root: Option<&Path>) -> Self {
        Self {
            path: root.map(|root| root.join(FILE)),
            loaded: Mutex::new((None, Vec::new())),
        }
    }

    pub fn get(&self, id: &str) -> Option<Declared> {
        self.all()
            .into_iter()
            .find(|declared| declared.trigger.id == id)
    }

    /// Every valid trigger of the file as it is now.
    pub fn all(&self) -> Vec<Declared> {
        let Some(path) = &self.path else {
            return Vec::new();
        };
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.0 != modified {
            *loaded = (modified, modified.map(|_| load(path)).unwrap_or_default());
        }
        loaded.1.clone()
    }
}

fn load(path: &Path) -> Vec<Declared> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read the webhook triggers");
            return Vec::new();
        }
    };
    let document: Json = match serde_json::from_str(&text) {
        Ok(document) => document,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "webhook triggers are not JSON; none are served");
            return Vec::new();
        }
    };
    let items = match &document {
        Json::Array(items) => items.clone(),
        Json::Object(object) => match object.get("webhooks").or_else(|| object.get("triggers")) {
            Some(Json::Array(items)) => items.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut declared: Vec<Declared> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match parse(item) {
            Ok(trigger) if declared.iter().any(|d| d.trigger.id == trigger.trigger.id) => {
                tracing::warn!(index, id = %trigger.trigger.id, "duplicate webhook trigger id; the first is kept");
            }
            Ok(trigger) => declared.push(trigger),
            Err(problem) => {
                tracing::warn!(path = %path.display(), index, problem, "webhook trigger skipped");
            }
        }
    }
    declared
}

fn parse(item: &Json) -> Result<Declared, String> {
    let text = |key: &str| item.get(key).and_then(Json::as_str).map(str::trim);
    let id = text("id")
        .or_else(|| text("trigger_id"))
        .ok_or("no id")?
        .to_owned();
    super::check_trigger_id(&id).map_err(|error| error.to_string())?;
    let skill_id = skillos_core::SkillId::parse(text("skill_id").ok_or("no skill_id")?)
        .map_err(|error| error.to_string())?
        .to_string();
    let scheme = match text("scheme") {
        None => Scheme::SkillosV1,
        Some(name) => Scheme::parse(name).ok_or(format!("unknown scheme {name:?}"))?,
    };
    let mapping = match text("payload_mapping") {
        None => Mapping::Envelope,
        Some(name) => Mapping::parse(name).ok_or(format!("unknown payload_mapping {name:?}"))?,
    };
    let tolerance = item
        .get("tolerance_seconds")
        .map(|value| {
            value
                .as_u64()
                .ok_or("tolerance_seconds must be a whole number")
        })
        .transpose()?
        .unwrap_or(DEFAULT_TOLERANCE_SECONDS);
    if !(1..=MAX_TOLERANCE_SECONDS).contains(&tolerance) {
        return Err(format!(
            "tolerance_seconds must be between 1 and {MAX_TOLERANCE_SECONDS}"
        ));
    }
    let strings = |key: &str| -> Vec<String> {
        item.get(key)
            .and_then(Json::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Json::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let forwarded =
        super::forwarded_headers(&strings("forwarded_headers")).map_err(|e| e.to_string())?;
    let roles = match strings("roles") {
        roles if roles.is_empty() => vec!["webhook".to_owned()],
        roles => roles,
    };
    let loaded = skillos_store::now();
    Ok(Declared {
        trigger: Trigger {
            id: id.clone(),
            tenant_id: TenantId::default_tenant(),
            skill_id,
            description: text("description").unwrap_or_default().to_owned(),
            scheme: scheme.as_str().to_owned(),
            allow_unsigned: item
                .get("allow_unsigned")
                .and_then(Json::as_bool)
                .unwrap_or(false),
            tolerance_seconds: i64::try_from(tolerance).unwrap_or(300),
            payload_mapping: mapping.as_str().to_owned(),
            forwarded_headers: forwarded,
            enabled: item.get("enabled").and_then(Json::as_bool).unwrap_or(true),
            principal: format!("webhook:{id}"),
            run_context: crate::auth::RunContext {
                roles,
                ..Default::default()
            }
            .to_json(),
            created_at: loaded,
            updated_at: loaded,
        },
        scheme,
        mapping,
        secret_env: text("secret_env").unwrap_or(DEFAULT_SECRET_ENV).to_owned(),
        secret_file: match text("secret_file") {
            Some(path) if Path::new(path).is_absolute() => Some(PathBuf::from(path)),
            Some(path) => return Err(format!("secret_file {path:?} must be an absolute path")),
            None => None,
        },
    })
}
