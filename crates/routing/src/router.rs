//! The router: keeps the skill index, ranks skills for a query in keyword, vector or hybrid
//! mode, fuses the signals and decides between selected, low confidence and no skill.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::feedback::{FeedbackBook, FeedbackParams};
use crate::keyword::{Bm25Params, FIELDS, KeywordIndex};
use crate::text::Analyzer;
use crate::vector::{VectorError, VectorIndex};

/// What routing knows of a skill.
#[derive(Clone, Debug, PartialEq)]
pub struct SkillDoc {
    /// Canonical id `domain/name`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Example requests for the skill.
    pub examples: Vec<String>,
    /// Whether the skill is deprecated.
    pub deprecated: bool,
}

impl SkillDoc {
    /// The domain, the part of the id before `/`.
    pub fn domain(&self) -> &str {
        self.id
            .split_once('/')
            .map_or(self.id.as_str(), |(domain, _)| domain)
    }

    /// The text an embedding model sees for this skill: its description and tags. (Adding the
    /// name made every model tried worse: it repeats the id's words and dilutes the meaning.)
    pub fn index_text(&self) -> String {
        if self.tags.is_empty() {
            return self.description.trim().to_owned();
        }
        format!(
            "{}\nTags: {}",
            self.description.trim(),
            self.tags.join(", ")
        )
    }

    /// Every text embedded for this skill: part 0 is [`SkillDoc::index_text`], part `i` the
    /// `i`-th example.
    pub fn embedded_texts(&self) -> Vec<String> {
        std::iter::once(self.index_text())
            .chain(self.examples.iter().cloned())
            .collect()
    }
}

/// The pseudo-skill id under which [`Router::missing_vectors`] lists the out-of-scope
/// requests, and [`Router::set_vector`] takes their vectors.
pub const OUT_OF_SCOPE_ID: &str = "(out of scope)";
/// The vector slot of the out-of-scope requests; never a skill's.
const OUT_OF_SCOPE_SLOT: u32 = u32::MAX;

/// A text of a skill that has no vector for a model yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingVector {
    /// The skill.
    pub skill_id: String,
    /// Which of its [`SkillDoc::embedded_texts`].
    pub part: u16,
    /// The text to embed.
    pub text: String,
}

/// How skills are ranked for a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// BM25F over id, name, description and tags.
    Keyword,
    /// Cosine similarity of embeddings.
    Vector,
    /// Both, fused.
    Hybrid,
}

impl Mode {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Keyword => "keyword",
            Mode::Vector => "vector",
            Mode::Hybrid => "hybrid",
        }
    }

    /// Whether the mode needs a query embedding.
    pub fn uses_vectors(self) -> bool {
        self != Mode::Keyword
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "keyword" => Ok(Mode::Keyword),
            "vector" => Ok(Mode::Vector),
            "hybrid" => Ok(Mode::Hybrid),
            other => Err(format!(
                "unknown routing mode `{other}` (keyword, vector or hybrid)"
            )),
        }
    }
}

/// Platt scaling of a mode's signals into a probability-like confidence:
/// `1 / (1 + exp(-(bias + top * score + margin * (score - runner_up) + similarity * cosine)))`,
/// where `cosine` is the candidate's raw embedding similarity (0 without vectors). The fused
/// score and its margin are relative signals; the raw similarity adds how close the query is
/// to the skill at all, which relative signals cannot tell for a query unlike every skill.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Calibration {
    /// Intercept.
    pub bias: f32,
    /// Weight of the candidate's fused score.
    pub top: f32,
    /// Weight of its margin over the best other candidate.
    pub margin: f32,
    /// Weight of its raw cosine similarity to the query.
    pub similarity: f32,
}

impl Calibration {
    fn confidence(&self, score: f32, margin: f32, similarity: f32) -> f32 {
        let z = self.bias + self.top * score + self.margin * margin + self.similarity * similarity;
        1.0 / (1.0 + (-z).exp())
    }
}

/// Tunable parameters of routing.
#[derive(Clone, Debug, PartialEq)]
pub struct RouterParams {
    /// BM25F parameters.
    pub bm25: Bm25Params,
    /// Share of a query term that matches no skill in the keyword normaliser, relative to the
    /// rarest term's idf: unknown words lower keyword confidence, but less than known ones.
    pub unknown_term_weight: f32,
    /// Weight of the keyword score in hybrid mode.
    pub keyword_weight: f32,
    /// Weight of the vector score in hybrid mode.
    pub vector_weight: f32,
    /// A vector score is the similarity's distance above the catalog mean in standard
    /// deviations, divided by this and capped at 1.
    pub vector_spread: f32,
    /// Calibration per mode.
    pub calibration: HashMap<Mode, Calibration>,
    /// Confidence at or above which the top candidate is selected.
    pub select_threshold: f32,
    /// Fused score under which the top candidate does not count as a match at all.
    pub min_score: f32,
    /// Feedback bounds.
    pub feedback: FeedbackParams,
}

impl Default for RouterParams {
    fn default() -> Self {
        Self {
            bm25: Bm25Params::default(),
            unknown_term_weight: 0.5,
            keyword_weight: 0.6,
            vector_weight: 0.4,
            vector_spread: 6.0,
            calibration: HashMap::from([
                // Fitted by scripts/calibrate_routing.py on eval/routing/calibration.jsonl
                // with the multilingual-e5-small embedder; see docs/routing.md.
                (
                    Mode::Keyword,
                    Calibration {
                        bias: -3.924,
                        top: 17.773,
                        margin: -3.949,
                        similarity: 0.0,
                    },
                ),
                (
                    Mode::Vector,
                    Calibration {
                        bias: -16.493,
                        top: 4.469,
                        margin: 13.624,
                        similarity: 16.367,
                    },
                ),
                (
                    Mode::Hybrid,
                    Calibration {
                        bias: -14.954,
                        top: 3.031,
                        margin: 7.176,
                        similarity: 17.615,
                    },
                ),
            ]),
            select_threshold: 0.5,
            min_score: 0.05,
            feedback: FeedbackParams::default(),
        }
    }
}

/// Which skills a query may be routed to.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only skills with at least one of these tags (case-insensitive); empty: all.
    pub tags: Vec<String>,
    /// Only skills of this domain; empty: all.
    pub domain: String,
    /// Also deprecated skills.
    pub include_deprecated: bool,
    /// Deprecation state that overrides the manifests' (a tenant's deprecations made through
    /// the API), by skill id.
    pub deprecation_overrides: HashMap<String, bool>,
}

/// A query embedding and the model that made it.
#[derive(Clone, Copy, Debug)]
pub struct QueryVector<'a> {
    /// Embedding model.
    pub model: &'a str,
    /// The vector.
    pub vector: &'a [f32],
}

/// One routing request.
#[derive(Clone, Copy)]
pub struct Query<'a> {
    /// The request text.
    pub text: &'a str,
    /// Ranking mode; vector and hybrid need `vector`.
    pub mode: Mode,
    /// Restrictions.
    pub filter: &'a Filter,
    /// Most candidates returned.
    pub max_candidates: usize,
    /// The query's embedding, for vector and hybrid modes.
    pub vector: Option<QueryVector<'a>>,
    /// The tenant's feedback.
    pub feedback: Option<&'a FeedbackBook>,
    /// Extra admission check (e.g. the caller's permissions); `None` admits all.
    pub allow: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
}

/// What routing concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// One skill stands out.
    Selected,
    /// Candidates exist but none stands out.
    LowConfidence,
    /// Nothing matches.
    NoSkill,
}

/// One ranked skill with the scores that placed it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// Skill id.
    pub skill_id: String,
    /// Skill name.
    pub name: String,
    /// 1 for the best.
    pub rank: u32,
    /// Fused score after feedback.
    pub score: f64,
    /// Calibrated confidence.
    pub confidence: f64,
    /// Normalised keyword score (keyword and hybrid modes).
    pub keyword_score: Option<f64>,
    /// Vector score (vector and hybrid modes).
    pub vector_score: Option<f64>,
    /// Raw cosine similarity (vector and hybrid modes).
    pub similarity: Option<f64>,
    /// Feedback multiplier.
    pub feedback_factor: f64,
    /// Query words that matched the skill, as `word` or `word~term` for a typo match.
    pub matched_terms: Vec<String>,
    /// Whether the skill is deprecated.
    pub deprecated: bool,
}

/// The outcome of routing a query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// Conclusion.
    pub status: Status,
    /// The top candidate's id; `None` for no skill.
    pub skill_id: Option<String>,
    /// The top candidate's confidence; 0 for no skill.
    pub confidence: f64,
    /// Ranked candidates.
    pub candidates: Vec<Candidate>,
    /// Mode that produced the ranking.
    pub mode: Mode,
    /// Why the status.
    pub explanation: String,
    /// The out-of-scope request the query was closer to than to any skill, when that decided
    /// no skill.
    pub out_of_scope: Option<String>,
}

/// The skill index and the ranking over it.
#[derive(Debug)]
pub struct Router {
    analyzer: Arc<Analyzer>,
    params: RouterParams,
    slots: HashMap<String, u32>,
    docs: Vec<Option<SkillDoc>>,
    free: Vec<u32>,
    keyword: KeywordIndex,
    vectors: HashMap<String, VectorIndex>,
    /// Texts to embed per model: one per skill plus its examples, plus the out-of-scope
    /// requests.
    expected_vectors: usize,
    /// Requests the catalog does not serve.
    out_of_scope: Vec<String>,
}

impl Router {
    /// An empty router.
    pub fn new(analyzer: Arc<Analyzer>, params: RouterParams) -> Self {
        let keyword = KeywordIndex::new(params.bm25.clone());
        Self {
            analyzer,
            params,
            slots: HashMap::new(),
            docs: Vec::new(),
            free: Vec::new(),
            keyword,
            vectors: HashMap::new(),
            expected_vectors: 0,
            out_of_scope: Vec::new(),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &RouterParams {
        &self.params
    }

    /// Number of skills indexed.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no skill is indexed.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The key feedback is filed under for a query: its sorted distinct terms.
    pub fn query_key(&self, text: &str) -> String {
        let mut terms = self.analyzer.terms(text);
        terms.sort();
        terms.dedup();
        terms.join(" ")
    }

    /// Adds or replaces a skill. Returns false when it was already indexed unchanged. A skill
    /// whose index text changed loses its vectors until they are recomputed.
    pub fn upsert(&mut self, doc: SkillDoc) -> bool {
        if let Some(&slot) = self.slots.get(&doc.id) {
            let old = self.docs[slot as usize].as_ref();
            if old == Some(&doc) {
                return false;
            }
            if old.map(SkillDoc::embedded_texts) != Some(doc.embedded_texts()) {
                for index in self.vectors.values_mut() {
                    index.remove_slot(slot);
                }
            }
            self.expected_vectors -= old.map_or(0, |old| old.examples.len() + 1);
            self.expected_vectors += doc.examples.len() + 1;
            self.index_keywords(slot, &doc);
            self.docs[slot as usize] = Some(doc);
            return true;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.docs.push(None);
            (self.docs.len() - 1) as u32
        });
        self.index_keywords(slot, &doc);
        self.expected_vectors += doc.examples.len() + 1;
        self.slots.insert(doc.id.clone(), slot);
        self.docs[slot as usize] = Some(doc);
        true
    }

    /// Removes a skill; false when it was not indexed.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.slots.remove(id) else {
            return false;
        };
        self.keyword.remove(slot);
        for index in self.vectors.values_mut() {
            index.remove_slot(slot);
        }
        if let Some(old) = self.docs[slot as usize].take() {
            self.expected_vectors -= old.examples.len() + 1;
        }
        self.free.push(slot);
        true
    }

    /// Makes the index hold exactly `docs`, touching only what changed. Returns the number of
    /// skills added, changed or removed.
    pub fn sync(&mut self, docs: impl IntoIterator<Item = SkillDoc>) -> usize {
        let mut changed = 0;
        let mut keep = std::collections::HashSet::new();
        for doc in docs {
            keep.insert(doc.id.clone());
            if self.upsert(doc) {
                changed += 1;
            }
        }
        let gone: Vec<String> = self
            .slots
            .keys()
            .filter(|id| !keep.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.remove(&id);
            changed += 1;
        }
        changed
    }

    /// Sets the requests the catalog does not serve: a query closer to one of them than to
    /// every skill routes to no skill (vector and hybrid modes). Returns false when unchanged.
    pub fn set_out_of_scope(&mut self, requests: Vec<String>) -> bool {
        if requests == self.out_of_scope {
            return false;
        }
        for index in self.vectors.values_mut() {
            index.remove_slot(OUT_OF_SCOPE_SLOT);
        }
        self.expected_vectors = self.expected_vectors - self.out_of_scope.len() + requests.len();
        self.out_of_scope = requests;
        true
    }

    /// Whether skill `id` is indexed.
    pub fn contains(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    /// The indexed skills, in no particular order.
    pub fn docs(&self) -> impl Iterator<Item = &SkillDoc> {
        self.docs.iter().flatten()
    }

    /// Sets vector `part` (see [`SkillDoc::embedded_texts`]) of skill `id` for `model`.
    /// `key` identifies the embedded text (a hash of it); a vector for a skill or part that is
    /// not indexed is ignored.
    pub fn set_vector(
        &mut self,
        model: &str,
        id: &str,
        part: u16,
        key: &str,
        vector: &[f32],
    ) -> Result<bool, VectorError> {
        let (slot, parts) = if id == OUT_OF_SCOPE_ID {
            (OUT_OF_SCOPE_SLOT, self.out_of_scope.len())
        } else {
            let Some(&slot) = self.slots.get(id) else {
                return Ok(false);
            };
            let parts = self.docs[slot as usize]
                .as_ref()
                .map_or(0, |doc| doc.examples.len() + 1);
            (slot, parts)
        };
        if usize::from(part) >= parts {
            return Ok(false);
        }
        let index = self
            .vectors
            .entry(model.to_owned())
            .or_insert_with(|| VectorIndex::new(model, vector.len()));
        index.upsert((slot, part), key, vector)?;
        Ok(true)
    }

    /// The texts without a vector for `model`.
    pub fn missing_vectors(&self, model: &str) -> Vec<MissingVector> {
        let index = self.vectors.get(model);
        let mut missing = Vec::new();
        for (part, text) in self.out_of_scope.iter().enumerate() {
            let part = part as u16;
            if index.is_none_or(|index| index.key((OUT_OF_SCOPE_SLOT, part)).is_none()) {
                missing.push(MissingVector {
                    skill_id: OUT_OF_SCOPE_ID.to_owned(),
                    part,
                    text: text.clone(),
                });
            }
        }
        for (id, &slot) in &self.slots {
            let Some(doc) = self.docs[slot as usize].as_ref() else {
                continue;
            };
            for (part, text) in doc.embedded_texts().into_iter().enumerate() {
                let part = part as u16;
                if index.is_none_or(|index| index.key((slot, part)).is_none()) {
                    missing.push(MissingVector {
                        skill_id: id.clone(),
                        part,
                        text,
                    });
                }
            }
        }
        missing
    }

    /// Whether every text of every indexed skill has a vector for `model`.
    pub fn vectors_ready(&self, model: &str) -> bool {
        self.vectors
            .get(model)
            .is_some_and(|index| index.len() == self.expected_vectors)
    }

    /// Ranks the skills for a query and decides.
    pub fn route(&self, query: &Query<'_>) -> Result<Decision, VectorError> {
        let mode = query.mode;
        let p = &self.params;
        let (wk, wv) = match mode {
            Mode::Keyword => (1.0, 0.0),
            Mode::Vector => (0.0, 1.0),
            Mode::Hybrid => {
                let (k, v) = (p.keyword_weight.max(0.0), p.vector_weight.max(0.0));
                let sum = k + v;
                if sum > 0.0 {
                    (k / sum, v / sum)
                } else {
                    (0.5, 0.5)
                }
            }
        };
        // Signals by slot, dense: NaN where a signal did not reach the skill.
        let slots = self.docs.len();
        let mut keyword = vec![f32::NAN; slots];
        let mut masks = vec![0u64; slots];
        let mut similarity = vec![f32::NAN; slots];
        let mut vector_score = vec![f32::NAN; slots];
        let mut touched: Vec<u32> = Vec::new();
        let mut prepared = None;
        // The out-of-scope request closest to the query: (part, similarity), and the best
        // similarities of each side for the out-of-scope test.
        let mut out_of_scope: Option<(u16, f32)> = None;
        let mut out_of_scope_best = TopK::default();
        let mut skill_best = vec![TopK::default(); slots];

        if mode != Mode::Vector {
            let query_terms = self.keyword.prepare(&self.analyzer.analyze(query.text));
            // Every query term could at best be as informative as the rarest term: a match on
            // a common word ("time", "find") then counts for little, and words the catalog
            // does not know lower the score too (by `unknown_term_weight` each).
            let normaliser: f32 = self.keyword.max_idf()
                * (query_terms.matches.len() as f32
                    + query_terms.unknown.len() as f32 * p.unknown_term_weight);
            for hit in self.keyword.score(&query_terms) {
                let slot = hit.doc as usize;
                keyword[slot] = (hit.score / normaliser.max(f32::EPSILON)).min(1.0);
                masks[slot] = hit.matched;
                touched.push(hit.doc);
            }
            prepared = Some(query_terms);
        }
        if mode.uses_vectors() {
            let vector = query
                .vector
                .expect("vector and hybrid routing need a query vector");
            let sims = match self.vectors.get(vector.model) {
                Some(index) => index.similarities(vector.vector)?,
                None => Vec::new(),
            };
            // A skill is as close as its closest text (description or an example).
            let mut near: Vec<u32> = Vec::new();
            for ((slot, part), sim) in sims {
                if slot == OUT_OF_SCOPE_SLOT {
                    if out_of_scope.is_none_or(|(_, best)| sim > best) {
                        out_of_scope = Some((part, sim));
                    }
                    out_of_scope_best.push(sim);
                    continue;
                }
                let i = slot as usize;
                skill_best[i].push(sim);
                if similarity[i].is_nan() {
                    near.push(slot);
                    similarity[i] = sim;
                } else if sim > similarity[i] {
                    similarity[i] = sim;
                }
            }
            let n = near.len().max(1) as f32;
            let mean = near.iter().map(|&s| similarity[s as usize]).sum::<f32>() / n;
            let var = near
                .iter()
                .map(|&s| (similarity[s as usize] - mean).powi(2))
                .sum::<f32>()
                / n;
            let sd = var.sqrt().max(1e-6);
            for slot in near {
                let i = slot as usize;
                if keyword[i].is_nan() {
                    touched.push(slot);
                }
                vector_score[i] = ((similarity[i] - mean) / sd / p.vector_spread).clamp(0.0, 1.0);
            }
        }

        let tags: Vec<String> = query
            .filter
            .tags
            .iter()
            .map(|t| t.trim().to_lowercase())
            .collect();
        let query_key = query
            .feedback
            .map(|_| self.query_key(query.text))
            .unwrap_or_default();
        let known = |x: f32| if x.is_nan() { 0.0 } else { x };
        // (slot, score, keyword, factor)
        let mut ranked: Vec<(u32, f32, f32, f32)> = touched
            .into_iter()
            .filter_map(|slot| {
                let doc = self.docs[slot as usize].as_ref()?;
                let deprecated = query
                    .filter
                    .deprecation_overrides
                    .get(&doc.id)
                    .copied()
                    .unwrap_or(doc.deprecated);
                let admitted = (query.filter.include_deprecated || !deprecated)
                    && (query.filter.domain.is_empty() || doc.domain() == query.filter.domain)
                    && (tags.is_empty()
                        || doc
                            .tags
                            .iter()
                            .any(|t| tags.contains(&t.trim().to_lowercase())))
                    && query.allow.is_none_or(|allow| allow(&doc.id));
                if !admitted {
                    return None;
                }
                let k = known(keyword[slot as usize]);
                let fused = wk * k + wv * known(vector_score[slot as usize]);
                let factor = query
                    .feedback
                    .map_or(1.0, |book| book.factor(&p.feedback, &doc.id, &query_key));
                let score = fused * factor;
                (score > 0.0).then_some((slot, score, k, factor))
            })
            .collect();
        let order = |a: &(u32, f32, f32, f32), b: &(u32, f32, f32, f32)| {
            b.1.total_cmp(&a.1)
                .then(b.2.total_cmp(&a.2))
                .then_with(|| self.id(a.0).cmp(self.id(b.0)))
        };
        // Only the best few need ordering (and the runner-up for the margin).
        let keep = query.max_candidates.max(2);
        if ranked.len() > keep {
            ranked.select_nth_unstable_by(keep - 1, order);
            ranked.truncate(keep);
        }
        ranked.sort_by(order);

        let calibration = p.calibration.get(&mode).copied().unwrap_or(Calibration {
            bias: 0.0,
            top: 1.0,
            margin: 1.0,
            similarity: 0.0,
        });
        let best = ranked.first().map_or(0.0, |s| s.1);
        let second = ranked.get(1).map_or(0.0, |s| s.1);
        let optional = |x: f32| (!x.is_nan()).then(|| round(x));
        let candidates: Vec<Candidate> = ranked
            .iter()
            .take(query.max_candidates.max(1))
            .enumerate()
            .map(|(i, &(slot, score, _, factor))| {
                let margin = if i == 0 { score - second } else { score - best };
                let doc = self.docs[slot as usize].as_ref().expect("admitted above");
                let slot = slot as usize;
                let matched_terms = prepared
                    .as_ref()
                    .map(|q| {
                        q.matches
                            .iter()
                            .enumerate()
                            .filter(|(bit, _)| *bit < 64 && masks[slot] & (1 << bit) != 0)
                            .map(|(_, m)| {
                                if m.distance == 0 {
                                    m.query.clone()
                                } else {
                                    format!("{}~{}", m.query, m.term)
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Candidate {
                    skill_id: doc.id.clone(),
                    name: doc.name.clone(),
                    rank: i as u32 + 1,
                    score: round(score),
                    confidence: round(calibration.confidence(
                        score,
                        margin,
                        known(similarity[slot]),
                    )),
                    keyword_score: if mode == Mode::Vector {
                        None
                    } else {
                        Some(round(known(keyword[slot])))
                    },
                    vector_score: optional(vector_score[slot]),
                    similarity: optional(similarity[slot]),
                    feedback_factor: round(factor),
                    matched_terms,
                    deprecated: query
                        .filter
                        .deprecation_overrides
                        .get(&doc.id)
                        .copied()
                        .unwrap_or(doc.deprecated),
                }
            })
            .collect();

        let Some(top) = candidates.first() else {
            return Ok(Decision {
                status: Status::NoSkill,
                skill_id: None,
                confidence: 0.0,
                candidates,
                mode,
                explanation: "no skill matches the query".into(),
                out_of_scope: None,
            });
        };
        // Out of scope when the query is closer to the out-of-scope requests than to every
        // skill, each side by the mean of its three closest texts (a single nearest text
        // would let one stray example decide).
        let closest_skill = skill_best
            .iter()
            .filter_map(TopK::mean)
            .fold(f32::NAN, f32::max);
        let out_of_scope = out_of_scope
            .filter(|_| {
                out_of_scope_best
                    .mean()
                    .is_some_and(|oos| oos > closest_skill)
            })
            .and_then(|(part, sim)| Some((self.out_of_scope.get(usize::from(part))?, sim)));
        let (status, explanation) = if let Some((request, sim)) = out_of_scope {
            (
                Status::NoSkill,
                format!(
                    "the query is closer to requests this catalog does not serve, such as {request:?} ({sim:.3}), than to any skill ({closest_skill:.3})",
                ),
            )
        } else if best < p.min_score {
            (
                Status::NoSkill,
                format!(
                    "best score {:.3} ({}) is under the match floor {:.3}",
                    best, top.skill_id, p.min_score
                ),
            )
        } else if top.confidence >= f64::from(p.select_threshold) {
            (
                Status::Selected,
                format!(
                    "{} selected with confidence {:.2} (score {:.3}, margin {:.3} over the runner-up)",
                    top.skill_id,
                    top.confidence,
                    best,
                    best - second
                ),
            )
        } else {
            (
                Status::LowConfidence,
                format!(
                    "confidence {:.2} is under the threshold {:.2} (score {:.3}, margin {:.3} over the runner-up)",
                    top.confidence,
                    p.select_threshold,
                    best,
                    best - second
                ),
            )
        };
        let (skill_id, confidence) = match status {
            Status::NoSkill => (None, 0.0),
            _ => (Some(top.skill_id.clone()), top.confidence),
        };
        Ok(Decision {
            status,
            skill_id,
            confidence,
            candidates,
            mode,
            explanation,
            out_of_scope: out_of_scope.map(|(request, _)| request.clone()),
        })
    }

    fn id(&self, slot: u32) -> &str {
        self.docs[slot as usize]
            .as_ref()
            .map_or("", |doc| doc.id.as_str())
    }

    fn index_keywords(&mut self, slot: u32, doc: &SkillDoc) {
        let analyze = |text: &str| self.analyzer.analyze(text);
        let fields: [Vec<crate::text::Token>; FIELDS] = [
            analyze(&doc.id),
            analyze(&doc.name),
            analyze(&doc.description),
            analyze(&doc.tags.join(" \n ")),
            analyze(&doc.examples.join(" \n ")),
        ];
        self.keyword.upsert(slot, &fields);
    }
}

/// The three largest values seen.
#[derive(Clone, Copy, Default)]
struct TopK {
    values: [f32; 3],
    len: usize,
}

impl TopK {
    fn push(&mut self, value: f32) {
        if self.len < self.values.len() {
            self.values[self.len] = value;
            self.len += 1;
        } else if let Some(min) = self.values.iter_mut().min_by(|a, b| a.total_cmp(b))
            && value > *min
        {
            *min = value;
        }
    }

    fn mean(&self) -> Option<f32> {
        (self.len > 0).then(|| self.values[..self.len].iter().sum::<f32>() / self.len as f32)
    }
}

fn round(x: f32) -> f64 {
    (f64::from(x) * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, description: &str, tags: &[&str]) -> SkillDoc {
        SkillDoc {
            id: id.to_owned(),
            name: id.split('/').nth(1).unwrap_or(id).replace('_', " "),
            description: description.to_owned(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            examples: Vec::new(),
            deprecated: false,
        }
    }

    fn router() -> Router {
        let mut router = Router::new(Arc::new(Analyzer::new()), RouterParams::default());
        router.sync([
            doc(
                "travel/search_flights",
                "Find flights between two cities",
                &["travel", "flights"],
            ),
            doc(
                "travel/search_hotels",
                "Find hotels in a city",
                &["travel", "hotels"],
            ),
            doc(
                "finance/convert_currency",
                "Convert money between currencies",
                &["finance"],
            ),
        ]);
        router
    }

    fn route(
        router: &Router,
        text: &str,
        mode: Mode,
        filter: &Filter,
        vector: Option<QueryVector<'_>>,
    ) -> Decision {
        router
            .route(&Query {
                text,
                mode,
                filter,
                max_candidates: 5,
                vector,
                feedback: None,
                allow: None,
            })
            .unwrap()
    }

    #[test]
    fn keyword_routing_selects_explains_and_filters() {
        let router = router();
        let all = Filter::default();
        let decision = route(&router, "cheap flights to Sochi", Mode::Keyword, &all, None);
        assert_eq!(decision.status, Status::Selected);
        assert_eq!(decision.skill_id.as_deref(), Some("travel/search_flights"));
        assert_eq!(decision.candidates[0].matched_terms, ["flights"]);
        assert!(decision.candidates[0].vector_score.is_none());

        let none = route(&router, "xylophone gluon", Mode::Keyword, &all, None);
        assert_eq!(none.status, Status::NoSkill);
        assert!(none.skill_id.is_none() && none.candidates.is_empty());

        let finance = Filter {
            domain: "finance".into(),
            ..Filter::default()
        };
        let filtered = route(&router, "cheap flights", Mode::Keyword, &finance, None);
        assert!(
            filtered
                .candidates
                .iter()
                .all(|c| c.skill_id.starts_with("finance/"))
        );
        let tagged = Filter {
            tags: vec![" Hotels ".into()],
            ..Filter::default()
        };
        let decision = route(&router, "find a city", Mode::Keyword, &tagged, None);
        assert_eq!(decision.candidates.len(), 1);
        assert_eq!(decision.candidates[0].skill_id, "travel/search_hotels");
    }

    #[test]
    fn deprecated_skills_are_excluded_unless_asked_for() {
        let mut router = router();
        let mut old = doc(
            "travel/search_flights",
            "Find flights between two cities",
            &["flights"],
        );
        old.deprecated = true;
        assert!(router.upsert(old.clone()));
        assert!(!router.upsert(old), "an unchanged skill is not re-indexed");
        let decision = route(&router, "flights", Mode::Keyword, &Filter::default(), None);
        assert!(
            decision
                .candidates
                .iter()
                .all(|c| c.skill_id != "travel/search_flights")
        );
        let overridden = Filter {
            deprecation_overrides: HashMap::from([("travel/search_flights".to_owned(), false)]),
            ..Filter::default()
        };
        let decision = route(&router, "flights", Mode::Keyword, &overridden, None);
        assert_eq!(decision.candidates[0].skill_id, "travel/search_flights");
        assert!(!decision.candidates[0].deprecated);
        let with = Filter {
            include_deprecated: true,
            ..Filter::default()
        };
        let decision = route(&router, "flights", Mode::Keyword, &with, None);
        assert!(decision.candidates[0].deprecated);
    }

    #[test]
    fn ties_break_by_keyword_score_then_id() {
        let mut router = Router::new(Arc::new(Analyzer::new()), RouterParams::default());
        router.sync([
            doc("b/same", "identical words here", &[]),
            doc("a/same", "identical words here", &[]),
        ]);
        let decision = route(
            &router,
            "identical words",
            Mode::Keyword,
            &Filter::default(),
            None,
        );
        let ids: Vec<&str> = decision
            .candidates
            .iter()
            .map(|c| c.skill_id.as_str())
            .collect();
        assert_eq!(ids, ["a/same", "b/same"]);
        assert_eq!(
            decision.status,
            Status::LowConfidence,
            "an exact tie is never confident"
        );
    }

    #[test]
    fn vectors_rank_in_vector_and_hybrid_modes_and_are_tracked_per_model() {
        let mut router = router();
        assert!(!router.vectors_ready("m"));
        assert_eq!(router.missing_vectors("m").len(), 3);
        let basis = [
            ("travel/search_flights", [1.0, 0.0, 0.0]),
            ("travel/search_hotels", [0.0, 1.0, 0.0]),
            ("finance/convert_currency", [0.0, 0.0, 1.0]),
        ];
        for (id, vector) in basis {
            assert!(router.set_vector("m", id, 0, "k", &vector).unwrap());
        }
        assert!(router.vectors_ready("m"));
        let query = QueryVector {
            model: "m",
            vector: &[0.1, 0.05, 0.99],
        };
        let decision = route(
            &router,
            "plane tickets",
            Mode::Vector,
            &Filter::default(),
            Some(query),
        );
        assert_eq!(decision.candidates[0].skill_id, "finance/convert_currency");
        assert!(decision.candidates[0].keyword_score.is_none());
        assert!(decision.candidates[0].similarity.unwrap() > 0.9);
        let hybrid = route(
            &router,
            "flights",
            Mode::Hybrid,
            &Filter::default(),
            Some(query),
        );
        let top = &hybrid.candidates[0];
        assert!(top.keyword_score.is_some() && top.vector_score.is_some());

        // A changed description invalidates the skill's vectors; the others stay.
        router.upsert(doc(
            "travel/search_hotels",
            "Find hotels and hostels",
            &["travel", "hotels"],
        ));
        assert_eq!(
            router.missing_vectors("m"),
            [MissingVector {
                skill_id: "travel/search_hotels".to_owned(),
                part: 0,
                text: "Find hotels and hostels\nTags: travel, hotels".to_owned()
            }]
        );
        assert!(router.remove("travel/search_hotels"));
        assert!(router.vectors_ready("m"));
        let wrong = QueryVector {
            model: "m",
            vector: &[1.0, 0.0],
        };
        assert!(
            router
                .route(&Query {
                    text: "x",
                    mode: Mode::Vector,
                    filter: &Filter::default(),
                    max_candidates: 5,
                    vector: Some(wrong),
                    feedback: None,
                    allow: None,
                })
                .is_err()
        );
    }

    #[test]
    fn a_query_closest_to_an_out_of_scope_request_routes_to_no_skill() {
        let mut router = router();
        assert!(router.set_out_of_scope(vec!["what's the weather".into()]));
        assert!(!router.set_out_of_scope(vec!["what's the weather".into()]));
        let missing = router.missing_vectors("m");
        assert_eq!(missing.len(), 4);
        assert!(
            missing
                .iter()
                .any(|m| m.skill_id == OUT_OF_SCOPE_ID && m.part == 0)
        );
        for (id, vector) in [
            ("travel/search_flights", [1.0, 0.0, 0.0]),
            ("travel/search_hotels", [0.0, 1.0, 0.0]),
            ("finance/convert_currency", [0.0, 0.0, 1.0]),
            (OUT_OF_SCOPE_ID, [0.7, 0.0, 0.7]),
        ] {
            assert!(router.set_vector("m", id, 0, "k", &vector).unwrap());
        }
        assert!(router.vectors_ready("m"));
        let weather = QueryVector {
            model: "m",
            vector: &[0.6, 0.0, 0.8],
        };
        let decision = route(
            &router,
            "weather in Paris",
            Mode::Hybrid,
            &Filter::default(),
            Some(weather),
        );
        assert_eq!(decision.status, Status::NoSkill);
        assert!(
            decision.explanation.contains("what's the weather"),
            "{}",
            decision.explanation
        );
        let flights = QueryVector {
            model: "m",
            vector: &[1.0, 0.1, 0.0],
        };
        let decision = route(
            &router,
            "flights",
            Mode::Hybrid,
            &Filter::default(),
            Some(flights),
        );
        assert_eq!(decision.skill_id.as_deref(), Some("travel/search_flights"));

        assert!(router.set_out_of_scope(Vec::new()));
        assert!(router.vectors_ready("m"));
    }

    #[test]
    fn feedback_and_admission_change_the_ranking() {
        let router = router();
        let mut book = FeedbackBook::default();
        let key = router.query_key("find something in a city");
        let before = route(
            &router,
            "find something in a city",
            Mode::Keyword,
            &Filter::default(),
            None,
        );
        let first = before.candidates[0].skill_id.clone();
        let other = before.candidates[1].skill_id.clone();
        book.record(&key, Some(&first), Some(&other));
        let after = router
            .route(&Query {
                text: "find something in a city",
                mode: Mode::Keyword,
                filter: &Filter::default(),
                max_candidates: 5,
                vector: None,
                feedback: Some(&book),
                allow: None,
            })
            .unwrap();
        assert_eq!(after.candidates[0].skill_id, other);
        assert!(after.candidates[0].feedback_factor > 1.0);

        let only_hotels = |id: &str| id == "travel/search_hotels";
        let allowed = router
            .route(&Query {
                text: "flights hotels",
                mode: Mode::Keyword,
                filter: &Filter::default(),
                max_candidates: 5,
                vector: None,
                feedback: None,
                allow: Some(&only_hotels),
            })
            .unwrap();
        assert_eq!(allowed.candidates.len(), 1);
    }
}
