//! SkillOS domain types and the skill registry. Nothing here knows about gRPC or HTTP.

pub mod flow;
pub mod manifest;
pub mod registry;
pub mod skill_id;

pub use registry::{Catalog, Registry, Skill};
pub use skill_id::SkillId;
