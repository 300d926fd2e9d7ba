//! gRPC adapter of `skillos.v1.SkillService`; the logic lives in [`skillos_engine::skills`].

use crate::error::status;
use skillos_proto::v1::{self, skill_service_server::SkillService};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use skillos_engine::skills::{ListQuery, Service};

#[derive(Clone, Debug)]
pub struct Adapter {
    service: Service,
    auth: auth::Authenticator,
}

impl Adapter {
    pub fn new(service: Service, auth: auth::Authenticator) -> Self {
        Self { service, auth }
    }
}

#[tonic::async_trait]
impl SkillService for Adapter {
    async fn list_skills(
        &self,
        request: Request<v1::ListSkillsRequest>,
    ) -> Result<Response<v1::ListSkillsResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let view = request.view();
        let query = ListQuery {
            tag: Some(request.tag),
            domain: Some(request.domain),
            include_deprecated: request.include_deprecated,
            page_size: i64::from(request.page_size),
            page_token: Some(request.page_token),
        };
        let full = view == v1::SkillView::Full;
        let page = self.service.list(&principal, query).await.map_err(status)?;
        Ok(Response::new(v1::ListSkillsResponse {
            skills: page
                .skills
                .iter()
                .map(|skill| convert::skill(skill, full))
                .collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
            total_size: i32::try_from(page.total_size).unwrap_or(i32::MAX),
        }))
    }

    async fn get_skill(
        &self,
        request: Request<v1::GetSkillRequest>,
    ) -> Result<Response<v1::GetSkillResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .service
            .get(&principal, &request.get_ref().skill_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::GetSkillResponse {
            skill: Some(convert::skill(&view, true)),
        }))
    }

    async fn validate_skills(
        &self,
        request: Request<v1::ValidateSkillsRequest>,
    ) -> Result<Response<v1::ValidateSkillsResponse>, Status> {
        let catalog = self
            .service
            .validate(request.get_ref().check_entrypoints)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ValidateSkillsResponse {
            valid: catalog.is_valid(),
            issues: catalog.issues().iter().map(convert::issue).collect(),
            skill_count: i32::try_from(catalog.len()).unwrap_or(i32::MAX),
        }))
    }

    async fn deprecate_skill(
        &self,
        request: Request<v1::DeprecateSkillRequest>,
    ) -> Result<Response<v1::DeprecateSkillResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let view = self
            .service
            .deprecate(
                &principal,
                &request.skill_id,
                &request.reason,
                &request.replacement_id,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::DeprecateSkillResponse {
            skill: Some(convert::skill(&view, true)),
        }))
    }

    async fn undeprecate_skill(
        &self,
        request: Request<v1::UndeprecateSkillRequest>,
    ) -> Result<Response<v1::UndeprecateSkillResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .service
            .undeprecate(&principal, &request.get_ref().skill_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::UndeprecateSkillResponse {
            skill: Some(convert::skill(&view, true)),
        }))
    }

    async fn activate_skill(
        &self,
        request: Request<v1::ActivateSkillRequest>,
    ) -> Result<Response<v1::ActivateSkillResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .service
            .activate(&principal, &request.get_ref().skill_id, true)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ActivateSkillResponse {
            skill: Some(convert::skill(&view, true)),
        }))
    }

    async fn deactivate_skill(
        &self,
        request: Request<v1::DeactivateSkillRequest>,
    ) -> Result<Response<v1::DeactivateSkillResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .service
            .activate(&principal, &request.get_ref().skill_id, false)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::DeactivateSkillResponse {
            skill: Some(convert::skill(&view, true)),
        }))
    }
}
