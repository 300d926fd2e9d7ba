//! Stage 5, payload: a run's payload is a JSON object that matches the skill's input schema
//! (compiled once per schema). Each violation names its field (`payload.amount`).

use std::sync::Arc;

use serde_json::Value as Json;

use crate::auth::Principal;
use crate::orchestrator::{Error, Service};
use crate::skills;

/// Most schema violations one error lists.
const MAX_REPORTED_VIOLATIONS: usize = 5;

impl Service {
    /// The checks a run of a skill passes before anything is stored or limited: the skill
    /// exists for the tenant, a policy grants it, the payload is an object that matches its
    /// input schema. EnqueueJob and CreateSchedule apply them too, so a bad job is refused at
    /// once.
    pub async fn admit_skill(
        &self,
        principal: &Principal,
        skill_id: &str,
        payload: &Json,
    ) -> Result<skills::SkillView, Error> {
        let view = self.skill_for(principal, skill_id).await?;
        self.check_payload(&view, payload)?;
        Ok(view)
    }

    pub(crate) fn check_payload(
        &self,
        view: &skills::SkillView,
        payload: &Json,
    ) -> Result<(), Error> {
        if !payload.is_object() {
            return Err(Error::InvalidPayload(
                "the payload must be a JSON object".to_owned(),
            ));
        }
        let manifest = &view.skill.manifest;
        let Some(schema) = &manifest.input_schema else {
            return Ok(());
        };
        self.check_schema(&manifest.id.to_string(), schema, payload)
    }

    /// Checks a payload against the input schema of a skill or flow (`skill_id`).
    pub(crate) fn check_schema(
        &self,
        skill_id: &str,
        schema: &serde_json::Map<String, Json>,
        payload: &Json,
    ) -> Result<(), Error> {
        let skill_id = skill_id.to_owned();
        let validator = self.validator(&skill_id, schema)?;
        let violations: Vec<(String, String)> = validator
            .iter_errors(payload)
            .take(MAX_REPORTED_VIOLATIONS)
            .map(|error| {
                (
                    field_path(&error.instance_path().to_string()),
                    error.to_string(),
                )
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::SchemaViolations {
                skill_id,
                violations,
            })
        }
    }

    /// The compiled schema, from the cache when this schema was seen before.
    fn validator(
        &self,
        skill_id: &str,
        schema: &serde_json::Map<String, Json>,
    ) -> Result<Arc<jsonschema::Validator>, Error> {
        let schema = Json::Object(schema.clone());
        let key = schema.to_string();
        let cached = self
            .validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(validator) = cached {
            return Ok(validator);
        }
        let validator = jsonschema::validator_for(&schema).map_err(|error| {
            Error::InvalidSchema(format!(
                "the input_schema of {skill_id} is not a valid JSON Schema: {error}"
            ))
        })?;
        let validator = Arc::new(validator);
        self.validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, validator.clone());
        Ok(validator)
    }
}

/// A JSON pointer into the payload (`/items/0/name`) as a request field path
/// (`payload.items[0].name`).
fn field_path(pointer: &str) -> String {
    let mut path = String::from("payload");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::field_path;

    #[test]
    fn schema_paths_name_payload_fields() {
        assert_eq!(field_path(""), "payload");
        assert_eq!(field_path("/amount"), "payload.amount");
        assert_eq!(field_path("/items/0/a~1b"), "payload.items[0].a/b");
    }
}
