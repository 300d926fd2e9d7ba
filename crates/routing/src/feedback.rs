//! Routing feedback of one tenant: corrections and confirmations turned into bounded score
//! multipliers, kept in memory so ranking never reads storage per candidate.

use std::collections::HashMap;

/// Bounds and strengths of feedback. Factors are always within `[min_factor, max_factor]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackParams {
    /// Largest relative change from a skill's overall record (confirmations minus corrections
    /// away from it), reached asymptotically.
    pub skill_strength: f32,
    /// Net count at which the skill-level change reaches about 76% of its strength.
    pub skill_scale: f32,
    /// Largest relative change from feedback on the same query (same terms).
    pub query_strength: f32,
    /// Net count for the query-level change, as `skill_scale`.
    pub query_scale: f32,
    /// Lowest multiplier.
    pub min_factor: f32,
    /// Highest multiplier.
    pub max_factor: f32,
}

impl Default for FeedbackParams {
    fn default() -> Self {
        Self {
            skill_strength: 0.1,
            skill_scale: 5.0,
            query_strength: 0.6,
            query_scale: 1.0,
            min_factor: 0.5,
            max_factor: 1.6,
        }
    }
}

/// One tenant's feedback, aggregated.
#[derive(Clone, Debug, Default)]
pub struct FeedbackBook {
    skills: HashMap<String, i32>,
    queries: HashMap<String, HashMap<String, i32>>,
}

impl FeedbackBook {
    /// Whether any feedback was recorded.
    pub fn is_empty(&self) -> bool {
        self.skills.is_empty() && self.queries.is_empty()
    }

    /// Records one piece of feedback. `query_key` identifies the query (see
    /// [`crate::Router::query_key`]); `routed` is what routing chose, `expected` what it should
    /// have chosen (equal to `routed` for a confirmation; `None` when no skill fits).
    pub fn record(&mut self, query_key: &str, routed: Option<&str>, expected: Option<&str>) {
        let mut bump = |skill: &str, delta: i32| {
            *self.skills.entry(skill.to_owned()).or_default() += delta;
            *self
                .queries
                .entry(query_key.to_owned())
                .or_default()
                .entry(skill.to_owned())
                .or_default() += delta;
        };
        match (routed, expected) {
            (Some(routed), Some(expected)) if routed == expected => bump(routed, 1),
            (routed, expected) => {
                if let Some(routed) = routed {
                    bump(routed, -1);
                }
                if let Some(expected) = expected {
                    bump(expected, 1);
                }
            }
        }
    }

    /// The multiplier feedback applies to `skill` for a query with key `query_key`.
    pub fn factor(&self, params: &FeedbackParams, skill: &str, query_key: &str) -> f32 {
        let skill_net = self.skills.get(skill).copied().unwrap_or(0) as f32;
        let query_net = self
            .queries
            .get(query_key)
            .and_then(|skills| skills.get(skill))
            .copied()
            .unwrap_or(0) as f32;
        let factor = 1.0
            + params.skill_strength * (skill_net / params.skill_scale).tanh()
            + params.query_strength * (query_net / params.query_scale).tanh();
        factor.clamp(params.min_factor, params.max_factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrections_move_scores_within_bounds() {
        let params = FeedbackParams::default();
        let mut book = FeedbackBook::default();
        assert_eq!(book.factor(&params, "a/x", "q"), 1.0);
        book.record("q", Some("a/x"), Some("a/y"));
        assert!(book.factor(&params, "a/x", "q") < 0.6);
        assert!(book.factor(&params, "a/y", "q") > 1.4);
        // Another query only sees the small skill-level change.
        let elsewhere = book.factor(&params, "a/y", "other");
        assert!(elsewhere > 1.0 && elsewhere < 1.05, "{elsewhere}");
        for _ in 0..1000 {
            book.record("q", Some("a/x"), Some("a/y"));
        }
        assert_eq!(book.factor(&params, "a/x", "q"), params.min_factor);
        assert_eq!(book.factor(&params, "a/y", "q"), params.max_factor);
        assert!(book.factor(&params, "a/y", "other") <= 1.0 + params.skill_strength);
    }

    #[test]
    fn a_confirmation_raises_only_the_confirmed_skill() {
        let params = FeedbackParams::default();
        let mut book = FeedbackBook::default();
        book.record("q", Some("a/x"), Some("a/x"));
        assert!(book.factor(&params, "a/x", "q") > 1.0);
        book.record("z", Some("a/x"), None);
        assert!(book.factor(&params, "a/x", "z") < 1.0);
    }
}
