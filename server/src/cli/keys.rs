//! `skillos keys create|list|revoke`: API keys, written straight to the server's store (so the
//! first admin key can be made before anyone can call the server). Run it with the server's
//! configuration (`--config`, `SKILLOS_*`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use skillos_store::TenantId;

use super::output::{Failure, print_json, table};
use crate::auth::api_key;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// TOML config file of the server (its store is where keys live).
    #[arg(long, env = "SKILLOS_CONFIG", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The server's data directory [env: SKILLOS_DATA_DIR].
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key; the key itself is printed once and never stored.
    Create {
        /// What the key is for (shown in listings).
        #[arg(long)]
        name: String,
        /// Tenant the key belongs to.
        #[arg(long, default_value = TenantId::DEFAULT)]
        tenant: String,
        /// A role of the key (repeatable), e.g. `--role operator --role approver`.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Days until the key expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List keys (never their secrets).
    List {
        /// Only keys of this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by id; calls with it are refused from now on.
    Revoke { id: String },
}

const ACTOR: &str = "cli";

pub async fn keys(args: KeysArgs, json: bool) -> Result<(), Failure> {
    let mut config =
        Config::load(args.config.as_deref()).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(dir) = &args.data_dir {
        config.storage.data_dir = dir.clone();
    }
    let store = skillos_store::open(&crate::server::store_options(&config))
        .await
        .map_err(|error| Failure::new(format!("cannot open the store: {error}")))?;
    let result = run(args.command, store.as_ref(), json).await;
    store.close().await;
    result
}

async fn run(
    command: KeysCommand,
    store: &dyn skillos_store::Store,
    json: bool,
) -> Result<(), Failure> {
    let store_failure = |error: skillos_store::Error| Failure::new(format!("store error: {error}"));
    match command {
        KeysCommand::Create {
            name,
            tenant,
            roles,
            expires_in_days,
        } => {
            let tenant = TenantId::parse(&tenant).map_err(Failure::usage)?;
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 128 {
                return Err(Failure::usage("--name must be 1-128 characters"));
            }
            let mut roles: Vec<String> = roles.iter().map(|r| r.trim().to_owned()).collect();
            if roles.iter().any(|role| role.is_empty() || role.len() > 64) {
                return Err(Failure::usage("a --role must be 1-64 characters"));
            }
            roles.sort();
            roles.dedup();
            let expires_at = expires_in_days
                .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let new = api_key::generate(tenant, name, roles, ACTOR, expires_at);
            api_key::create(store, &new.key)
                .await
                .map_err(store_failure)?;
            if json {
                print_json(
                    &json!({"id": new.key.id, "key": new.token, "tenant": new.key.tenant_id.as_str(),
                                   "name": new.key.name, "roles": new.key.roles, "expires_at": new.key.expires_at}),
                );
            } else {
                outln!("{}", new.token);
                eprintln!(
                    "created API key {} for tenant {} (roles: {}); it is shown only once",
                    new.key.id,
                    new.key.tenant_id,
                    if new.key.roles.is_empty() {
                        "none".to_owned()
                    } else {
                        new.key.roles.join(", ")
                    }
                );
            }
        }
        KeysCommand::List { tenant } => {
            let tenant = tenant
                .as_deref()
                .map(TenantId::parse)
                .transpose()
                .map_err(Failure::usage)?;
            let keys = store
                .list_api_keys(tenant.as_ref())
                .await
                .map_err(store_failure)?;
            if json {
                let keys: Vec<_> = keys
                    .iter()
                    .map(|key| {
                        json!({"id": key.id, "tenant": key.tenant_id.as_str(), "name": key.name,
                                      "roles": key.roles, "created_at": key.created_at,
                                      "expires_at": key.expires_at, "revoked_at": key.revoked_at})
                    })
                    .collect();
                print_json(&json!({"keys": keys}));
            } else {
                let rows = keys.iter().map(|key| {
                    let state = if key.revoked_at.is_some() {
                        "revoked".to_owned()
                    } else if key.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
                        "expired".to_owned()
                    } else {
                        "active".to_owned()
                    };
                    [
                        key.id.clone(),
                        key.tenant_id.to_string(),
                        key.name.clone(),
                        key.roles.join(","),
                        state,
                        key.created_at.format("%Y-%m-%d %H:%M").to_string(),
                    ]
                });
                outln!(
                    "{}",
                    table(["id", "tenant", "name", "roles", "state", "created"], rows)
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let key = store.api_key(id.trim()).await.map_err(store_failure)?;
            let Some(key) = key else {
                return Err(Failure::with_reason(
                    format!("no API key {id}"),
                    "API_KEY_NOT_FOUND",
                ));
            };
            if !api_key::revoke(store, &key, ACTOR)
                .await
                .map_err(store_failure)?
            {
                return Err(Failure::with_reason(
                    format!("API key {id} is already revoked"),
                    "API_KEY_REVOKED",
                ));
            }
            if json {
                print_json(&json!({"id": key.id, "revoked": true}));
            } else {
                outln!("revoked API key {}", key.id);
            }
        }
    }
    Ok(())
}
