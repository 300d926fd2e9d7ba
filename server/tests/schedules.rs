//! ScheduleService over real gRPC: cron fires become jobs once per nominal time, pause and
//! resume, manual triggers, validation, and two replicas on one PostgreSQL firing each nominal
//! time once.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::runner::{TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, TestServer, reason};
use skillos_proto::v1::{
    self, job_service_client::JobServiceClient, schedule_service_client::ScheduleServiceClient,
};
use tonic::Code;

fn every_second(skill: &str) -> v1::CreateScheduleRequest {
    v1::CreateScheduleRequest {
        schedule: Some(v1::Schedule {
            skill_id: skill.to_owned(),
            spec: Some(v1::schedule::Spec::Cron(v1::CronSpec {
                expression: "* * * * * *".to_owned(),
                time_zone: "Europe/Moscow".to_owned(),
            })),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    }
}

/// Jobs of a schedule by nominal fire time (seconds), counting duplicates.
async fn fires(server: &TestServer, schedule_id: &str) -> HashMap<i64, usize> {
    let jobs = JobServiceClient::new(server.channel().await)
        .list_jobs(v1::ListJobsRequest {
            source: v1::JobSource::Schedule as i32,
            source_id: schedule_id.to_owned(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .jobs;
    let mut fires = HashMap::new();
    for job in jobs {
        *fires.entry(job.fire_time.unwrap().seconds).or_default() += 1;
    }
    fires
}

#[tokio::test]
async fn a_cron_schedule_fires_jobs_once_per_nominal_time_and_can_be_paused_and_triggered() {
    let server = TestServer::start().await;
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "echo",
        &["a/one"],
        echo(),
    )
    .await
    .unwrap();
    let mut client = ScheduleServiceClient::new(server.channel().await);
    let keyed = v1::CreateScheduleRequest {
        idempotency_key: "nightly".to_owned(),
        ..every_second("a/one")
    };
    let created = client
        .create_schedule(keyed.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!created.replayed);
    let schedule = created.schedule.unwrap();
    assert_eq!(schedule.state(), v1::ScheduleState::Active);
    assert!(schedule.next_fire_time.is_some());
    let again = client.create_schedule(keyed).await.unwrap().into_inner();
    assert!(again.replayed);
    assert_eq!(again.schedule.unwrap().id, schedule.id);

    tokio::time::sleep(Duration::from_millis(3500)).await;
    let seen = fires(&server, &schedule.id).await;
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.values().all(|count| *count == 1), "{seen:?}");

    let paused = client
        .pause_schedule(v1::PauseScheduleRequest {
            schedule_id: schedule.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(paused.state(), v1::ScheduleState::Paused);
    assert!(paused.next_fire_time.is_none() && !paused.last_job_id.is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = fires(&server, &schedule.id).await.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        fires(&server, &schedule.id).await.len(),
        before,
        "a paused schedule fired"
    );

    // A manual fire works while paused.
    let triggered = client
        .trigger_schedule(v1::TriggerScheduleRequest {
            schedule_id: schedule.id.clone(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let job = triggered.job.unwrap();
    assert_eq!(
        (job.source(), job.source_id.as_str()),
        (v1::JobSource::Schedule, schedule.id.as_str())
    );
    assert_eq!(triggered.schedule.unwrap().last_job_id, job.id);
    let resumed = client
        .resume_schedule(v1::ResumeScheduleRequest {
            schedule_id: schedule.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(resumed.state(), v1::ScheduleState::Active);
    client
        .delete_schedule(v1::DeleteScheduleRequest {
            schedule_id: schedule.id.clone(),
        })
        .await
        .unwrap();
    let status = client
        .get_schedule(v1::GetScheduleRequest {
            schedule_id: schedule.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::NotFound, "SCHEDULE_NOT_FOUND".to_owned())
    );

    // Refusals name what is wrong.
    let cron = |expression: &str, zone: &str| v1::CreateScheduleRequest {
        schedule: Some(v1::Schedule {
            skill_id: "a/one".to_owned(),
            spec: Some(v1::schedule::Spec::Cron(v1::CronSpec {
                expression: expression.to_owned(),
                time_zone: zone.to_owned(),
            })),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    };
    let past = v1::CreateScheduleRequest {
        schedule: Some(v1::Schedule {
            skill_id: "a/one".to_owned(),
            spec: Some(v1::schedule::Spec::OneShotTime(prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            })),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    };
    for (request, expected) in [
        (cron("0 9 * * *", "Mars/Olympus"), "UNKNOWN_TIME_ZONE"),
        (cron("99 * * * *", ""), "INVALID_CRON"),
        (past, "INVALID_SCHEDULE"),
        (every_second("x/none"), "SKILL_NOT_FOUND"),
    ] {
        let status = client.create_schedule(request).await.unwrap_err();
        assert_eq!(reason(&status), expected);
    }
}

#[tokio::test]
async fn two_replicas_on_one_postgres_fire_each_nominal_time_once() {
    if common::postgres_off() {
        return;
    }
    let (first, second) = common::postgres_replicas("skillos_cron", None).await;
    let id = ScheduleServiceClient::new(first.channel().await)
        .create_schedule(every_second("a/one"))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap()
        .id;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let seen = fires(&second, &id).await;
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.values().all(|count| *count == 1),
        "a nominal time fired twice: {seen:?}"
    );
}
