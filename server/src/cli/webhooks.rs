//! `skillos webhooks create|list|get|delete|rotate`: the webhook triggers of a running server.
//! A trigger's secret is printed once, by `create` and `rotate`; keep it then.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use skillos_proto::v1::{self, webhook_service_client::WebhookServiceClient};

use super::ServerArg;
use super::client::{connect, status_failure};
use super::output::{Failure, print_json, table};

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: WebhooksCommand,
}

#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// Create a trigger: deliveries to /webhooks/ID become jobs of SKILL.
    Create {
        /// The skill, `domain/name`.
        skill: String,
        /// The trigger id (the URL path); the server makes one when omitted.
        #[arg(long, default_value = "")]
        id: String,
        /// skillos_v1 (default), standard_webhooks or github_sha256.
        #[arg(long, default_value = "skillos_v1")]
        scheme: String,
        /// envelope (default), body or request.
        #[arg(long, default_value = "envelope")]
        mapping: String,
        /// The first secret; the server makes one when omitted.
        #[arg(long)]
        secret: Option<String>,
        /// Seconds the signed time may differ from the server's clock (default 300).
        #[arg(long)]
        tolerance: Option<u64>,
        /// Headers copied into `request` payloads; repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        forward_header: Vec<String>,
        /// Accept unsigned deliveries (only when the server allows them too).
        #[arg(long)]
        allow_unsigned: bool,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Triggers of the skills root and of the store, by id.
    List {
        #[arg(long)]
        skill: Option<String>,
    },
    /// One trigger, with its secrets' ids and expiry (never their values).
    Get { id: String },
    /// Delete a trigger made through the API; its jobs stay.
    Delete { id: String },
    /// Add a secret; the current ones stay valid for --grace seconds (default a day).
    Rotate {
        id: String,
        #[arg(long)]
        grace: Option<u64>,
        #[arg(long)]
        secret: Option<String>,
    },
}

fn scheme(name: &str) -> Result<v1::SignatureScheme, Failure> {
    v1::SignatureScheme::from_str_name(&format!("SIGNATURE_SCHEME_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != v1::SignatureScheme::Unspecified)
        .ok_or_else(|| {
            Failure::usage(format!(
                "--scheme {name:?}: use skillos_v1, standard_webhooks or github_sha256"
            ))
        })
}

fn mapping(name: &str) -> Result<v1::PayloadMapping, Failure> {
    v1::PayloadMapping::from_str_name(&format!("PAYLOAD_MAPPING_{}", name.to_ascii_uppercase()))
        .filter(|m| *m != v1::PayloadMapping::Unspecified)
        .ok_or_else(|| Failure::usage(format!("--mapping {name:?}: use envelope, body or request")))
}

fn lower(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_ascii_lowercase()
}

fn document(trigger: &v1::Trigger) -> serde_json::Value {
    json!({
        "id": trigger.id,
        "skill_id": trigger.skill_id,
        "scheme": lower(trigger.signature_scheme().as_str_name(), "SIGNATURE_SCHEME_"),
        "payload_mapping": lower(trigger.payload_mapping().as_str_name(), "PAYLOAD_MAPPING_"),
        "origin": lower(trigger.origin().as_str_name(), "TRIGGER_ORIGIN_"),
        "enabled": trigger.enabled,
        "allow_unsigned": trigger.allow_unsigned,
        "tolerance_seconds": trigger.timestamp_tolerance.map(|d| d.seconds),
        "forwarded_headers": trigger.forwarded_headers,
        "principal": trigger.principal_subject,
        "secrets": trigger.secrets.iter().map(|s| json!({
            "id": s.id,
            "create_time": s.create_time.as_ref().map(ToString::to_string),
            "expire_time": s.expire_time.as_ref().map(ToString::to_string),
        })).collect::<Vec<_>>(),
        "description": trigger.description,
    })
}

fn print_one(trigger: &v1::Trigger, json: bool) {
    if json {
        print_json(&document(trigger));
    } else {
        outln!(
            "trigger {} -> {} ({}, {} secret(s), {})",
            trigger.id,
            trigger.skill_id,
            lower(
                trigger.signature_scheme().as_str_name(),
                "SIGNATURE_SCHEME_"
            ),
            trigger.secrets.len(),
            if trigger.enabled {
                "enabled"
            } else {
                "disabled"
            }
        );
    }
}

/// A trigger with its new secret, shown once.
fn print_secret(trigger: &v1::Trigger, secret_id: &str, secret: &str, json: bool) {
    if json {
        let mut document = document(trigger);
        document["secret"] = json!(secret);
        document["secret_id"] = json!(secret_id);
        print_json(&document);
    } else {
        print_one(trigger, false);
        outln!("secret {secret_id}: {secret}");
        eprintln!("the secret is shown only now; give it to the sender");
    }
}

pub async fn webhooks(args: WebhooksArgs, json: bool) -> Result<(), Failure> {
    let mut client = WebhookServiceClient::new(connect(&args.server).await?);
    match args.command {
        WebhooksCommand::Create {
            skill,
            id,
            scheme: scheme_name,
            mapping: mapping_name,
            secret,
            tolerance,
            forward_header,
            allow_unsigned,
            disabled,
            description,
        } => {
            let request = v1::CreateTriggerRequest {
                trigger: Some(v1::Trigger {
                    id,
                    skill_id: skill,
                    description,
                    signature_scheme: scheme(&scheme_name)? as i32,
                    allow_unsigned,
                    timestamp_tolerance: tolerance.and_then(|seconds| {
                        prost_types::Duration::try_from(Duration::from_secs(seconds)).ok()
                    }),
                    payload_mapping: mapping(&mapping_name)? as i32,
                    forwarded_headers: forward_header,
                    enabled: !disabled,
                    ..Default::default()
                }),
                secret: secret.unwrap_or_default(),
            };
            let created = client
                .create_trigger(request)
                .await
                .map_err(status_failure)?
                .into_inner();
            let trigger = created.trigger.unwrap_or_default();
            print_secret(&trigger, &created.secret_id, &created.secret, json);
        }
        WebhooksCommand::List { skill } => {
            let mut triggers = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_triggers(v1::ListTriggersRequest {
                        skill_id: skill.clone().unwrap_or_default(),
                        page_size: 1000,
                        page_token,
                    })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                triggers.extend(page.triggers);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if json {
                print_json(&json!({"triggers": triggers.iter().map(document).collect::<Vec<_>>()}));
            } else {
                let rows = triggers.iter().map(|t| {
                    [
                        t.id.clone(),
                        t.skill_id.clone(),
                        lower(t.signature_scheme().as_str_name(), "SIGNATURE_SCHEME_"),
                        lower(t.origin().as_str_name(), "TRIGGER_ORIGIN_"),
                        if t.enabled { "yes" } else { "no" }.to_owned(),
                    ]
                });
                outln!(
                    "{}",
                    table(["id", "skill", "scheme", "origin", "enabled"], rows)
                );
            }
        }
        WebhooksCommand::Get { id } => {
            let trigger = client
                .get_trigger(v1::GetTriggerRequest { trigger_id: id })
                .await
                .map_err(status_failure)?
                .into_inner()
                .trigger
                .unwrap_or_default();
            print_one(&trigger, json);
        }
        WebhooksCommand::Delete { id } => {
            client
                .delete_trigger(v1::DeleteTriggerRequest {
                    trigger_id: id.clone(),
                })
                .await
                .map_err(status_failure)?;
            if json {
                print_json(&json!({"id": id, "deleted": true}));
            } else {
                outln!("trigger {id} deleted");
            }
        }
        WebhooksCommand::Rotate { id, grace, secret } => {
            let rotated = client
                .rotate_secret(v1::RotateSecretRequest {
                    trigger_id: id,
                    grace_period: grace.and_then(|seconds| {
                        prost_types::Duration::try_from(Duration::from_secs(seconds)).ok()
                    }),
                    secret: secret.unwrap_or_default(),
                })
                .await
                .map_err(status_failure)?
                .into_inner();
            let trigger = rotated.trigger.unwrap_or_default();
            print_secret(&trigger, &rotated.secret_id, &rotated.secret, json);
        }
    }
    Ok(())
}
