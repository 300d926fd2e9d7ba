//! Run by query with `split`: the request's segments, each routed on its own, run as the steps
//! of a pipeline (see [`super::segments`]).

use super::segments::{Split, segments};
use crate::auth::Principal;
use crate::orchestrator::{Error, Service};
use crate::run::resolve::Resolved;
use crate::run::{Answer, Outcome, Request, Target};
use skillos_core::SkillId;
use skillos_core::flow::FlowDefinition;

impl Service {
    /// The answer of a split query, or `None` when the request runs as one skill after all:
    /// it did not split, or (with `Split::Auto`) a segment was not routed.
    pub(crate) async fn run_split(
        &self,
        principal: &Principal,
        request: &Request,
    ) -> Result<Option<Answer>, Error> {
        let Target::Query(route) = &request.target else {
            return Err(Error::InvalidField {
                field: "split",
                message: "split needs a query: a run by skill id has nothing to split".to_owned(),
            });
        };
        if request.dry_run || request.idempotency.is_some() {
            return Err(Error::InvalidField {
                field: "split",
                message: "a split query cannot be a dry run or carry an idempotency key".to_owned(),
            });
        }
        let steps = segments(&route.query, request.split);
        if steps.iter().map(Vec::len).sum::<usize>() < 2 {
            return Ok(None);
        }
        let mut decisions = Vec::new();
        let mut groups = Vec::with_capacity(steps.len());
        for step in steps {
            let mut members = Vec::with_capacity(step.len());
            for text in step {
                let mut segment = route.clone();
                segment.query = text.clone();
                match self.resolve(principal, Target::Query(segment)).await? {
                    Resolved::Skill(skill_id, routed) => {
                        // Routing answers catalog ids, which parse.
                        let skill_id = SkillId::parse(&skill_id)
                            .map_err(|error| Error::Api(crate::error::Error::internal(&error)))?;
                        members.push(skill_id);
                        decisions.extend(routed.map(|routed| (text, routed)));
                    }
                    // Auto mode guessed a split the words do not bear out: one request.
                    Resolved::NotRouted(_) if request.split == Split::Auto => return Ok(None),
                    Resolved::NotRouted(routed) => {
                        decisions.push((text, routed.clone()));
                        return Ok(Some(Answer {
                            outcome: Outcome::NotRouted,
                            routed: Some(routed),
                            replayed: false,
                            segments: decisions,
                        }));
                    }
                }
            }
            groups.push(members);
        }
        let definition =
            FlowDefinition::from_groups(groups).map_err(|error| Error::InvalidField {
                field: "query",
                message: format!("the query's segments do not make a pipeline: {error}"),
            })?;
        let run = self
            .run_definition(
                principal,
                &definition,
                request.payload.clone(),
                request.timeout,
                request.traceparent.clone(),
            )
            .await
            .map_err(Error::Api)?;
        Ok(Some(Answer {
            outcome: Outcome::Pipeline(Box::new(run)),
            routed: None,
            replayed: false,
            segments: decisions,
        }))
    }
}
