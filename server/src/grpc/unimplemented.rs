//! The services whose contracts are published but whose behaviour is not built yet. Each RPC
//! answers `UNIMPLEMENTED` with the reason `NOT_IMPLEMENTED` and names itself, so a client can tell
//! "not in this version" apart from a wrong address.

use std::pin::Pin;

use skillos_proto::v1;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::error::ApiError;

/// Stand-in implementation of every service that is not built yet.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unimplemented;

pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn not_yet(rpc: &str) -> Status {
    ApiError::unimplemented(rpc).into_status()
}

/// Implements a generated service trait with methods that all answer [`not_yet`].
macro_rules! unimplemented_service {
    (
        $trait:path, $service:literal {
            $( $method:ident($request:ty) -> $response:ty = $rpc:literal; )*
        }
        $( streams {
            $( $stream_method:ident($stream_request:ty) -> $stream:ident: $item:ty = $stream_rpc:literal; )*
        } )?
    ) => {
        #[tonic::async_trait]
        impl $trait for Unimplemented {
            $(
                async fn $method(&self, _request: Request<$request>) -> Result<Response<$response>, Status> {
                    Err(not_yet(concat!($service, "/", $rpc)))
                }
            )*
            $( $(
                type $stream = BoxStream<$item>;

                async fn $stream_method(
                    &self,
                    _request: Request<$stream_request>,
                ) -> Result<Response<Self::$stream>, Status> {
                    Err(not_yet(concat!($service, "/", $stream_rpc)))
                }
            )* )?
        }
    };
}

unimplemented_service! {
    v1::approval_service_server::ApprovalService, "skillos.v1.ApprovalService" {
        list_approvals(v1::ListApprovalsRequest) -> v1::ListApprovalsResponse = "ListApprovals";
        get_approval(v1::GetApprovalRequest) -> v1::GetApprovalResponse = "GetApproval";
        approve(v1::ApproveRequest) -> v1::ApproveResponse = "Approve";
        reject(v1::RejectRequest) -> v1::RejectResponse = "Reject";
    }
    streams {
        watch_approvals(v1::WatchApprovalsRequest) -> WatchApprovalsStream: v1::WatchApprovalsResponse = "WatchApprovals";
    }
}

unimplemented_service! {
    v1::budget_service_server::BudgetService, "skillos.v1.BudgetService" {
        get_budget(v1::GetBudgetRequest) -> v1::GetBudgetResponse = "GetBudget";
        set_budget(v1::SetBudgetRequest) -> v1::SetBudgetResponse = "SetBudget";
        list_usage(v1::ListUsageRequest) -> v1::ListUsageResponse = "ListUsage";
    }
}

unimplemented_service! {
    v1::schedule_service_server::ScheduleService, "skillos.v1.ScheduleService" {
        create_schedule(v1::CreateScheduleRequest) -> v1::CreateScheduleResponse = "CreateSchedule";
        list_schedules(v1::ListSchedulesRequest) -> v1::ListSchedulesResponse = "ListSchedules";
        get_schedule(v1::GetScheduleRequest) -> v1::GetScheduleResponse = "GetSchedule";
        pause_schedule(v1::PauseScheduleRequest) -> v1::PauseScheduleResponse = "PauseSchedule";
        resume_schedule(v1::ResumeScheduleRequest) -> v1::ResumeScheduleResponse = "ResumeSchedule";
        delete_schedule(v1::DeleteScheduleRequest) -> v1::DeleteScheduleResponse = "DeleteSchedule";
        trigger_schedule(v1::TriggerScheduleRequest) -> v1::TriggerScheduleResponse = "TriggerSchedule";
    }
}
