//! Routing: which skill does a free-text request mean?
//!
//! [`text`] turns text into terms (Unicode words, case folding, English and Russian stop words
//! and stemming); [`keyword`] ranks skills by BM25F with typo tolerance; [`vector`] ranks them
//! by cosine similarity of embeddings; [`Router`] keeps both indexes in step with the catalog,
//! fuses the scores, applies the tenant's [`feedback`] and decides between selected, low
//! confidence and no skill with a calibrated confidence.

pub mod feedback;
pub mod keyword;
mod router;
pub mod text;
pub mod vector;

pub use feedback::{FeedbackBook, FeedbackParams};
pub use router::{
    Calibration, Candidate, Decision, Filter, MissingVector, Mode, OUT_OF_SCOPE_ID, Query,
    QueryVector, Router, RouterParams, SkillDoc, Status,
};
pub use text::Analyzer;
