//! BM25F keyword ranking over a skill's fields, updated one document at a time.
//!
//! Each field has a weight and its own length normalisation; a term's field frequencies are
//! combined before saturation (Robertson & Zaragoza, "The Probabilistic Relevance Framework:
//! BM25 and Beyond", 2009, section 3.5). Query terms that are not in the vocabulary match
//! vocabulary terms within a small edit distance, with a penalty, through a deletion
//! neighbourhood index (the SymSpell idea), so a typo costs a hash lookup, not a scan.

use std::collections::HashMap;

use crate::text::Token;

/// The fields of a skill that keyword ranking reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The id, `domain/name`, split into words.
    Id = 0,
    /// The human-readable name.
    Name = 1,
    /// The description.
    Description = 2,
    /// The tags.
    Tags = 3,
    /// The example requests.
    Examples = 4,
}

/// Number of fields.
pub const FIELDS: usize = 5;

/// BM25F parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Bm25Params {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation, per field (0: none, 1: full).
    pub b: [f32; FIELDS],
    /// Field weights.
    pub weights: [f32; FIELDS],
    /// Score multiplier of a match at edit distance 1 and 2.
    pub typo_penalty: [f32; 2],
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self {
            k1: 1.2,
            b: [0.3, 0.3, 0.75, 0.5, 0.75],
            weights: [2.0, 3.0, 1.0, 2.0, 1.0],
            typo_penalty: [0.8, 0.6],
        }
    }
}

type TermId = u32;

#[derive(Clone, Copy, Debug)]
struct Posting {
    doc: u32,
    tf: [u16; FIELDS],
}

#[derive(Debug, Default)]
struct Doc {
    lengths: [u32; FIELDS],
    terms: Vec<TermId>,
}

/// How a query term met the vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub struct TermMatch {
    /// The query word as written (case-folded).
    pub query: String,
    /// The vocabulary term it matched.
    pub term: String,
    /// 0 for an exact (stem) match, else the edit distance.
    pub distance: u8,
    term_id: TermId,
}

/// A query analysed against the current vocabulary; reusable across scoring calls.
#[derive(Clone, Debug, Default)]
pub struct KeywordQuery {
    /// Matched terms, at most one per query term (the closest).
    pub matches: Vec<TermMatch>,
    /// Query terms that matched nothing.
    pub unknown: Vec<String>,
}

/// A keyword score of one document.
#[derive(Clone, Debug, PartialEq)]
pub struct KeywordHit {
    /// The document slot.
    pub doc: u32,
    /// Raw BM25F score.
    pub score: f32,
    /// Bit `i` set: the document contains `KeywordQuery::matches[i]` (the first 64 terms).
    pub matched: u64,
}

/// The inverted index.
#[derive(Debug, Default)]
pub struct KeywordIndex {
    params: Bm25Params,
    vocab: HashMap<String, TermId>,
    term_text: Vec<String>,
    postings: Vec<Vec<Posting>>,
    deletes: HashMap<String, Vec<TermId>>,
    docs: HashMap<u32, Doc>,
    /// Field lengths by slot, dense for the scoring loop.
    lengths: Vec<[u32; FIELDS]>,
    length_sums: [u64; FIELDS],
}

impl KeywordIndex {
    /// An empty index.
    pub fn new(params: Bm25Params) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Number of distinct terms.
    pub fn vocabulary_len(&self) -> usize {
        self.vocab.len()
    }

    /// Adds or replaces document `doc` with the tokens of each field.
    pub fn upsert(&mut self, doc: u32, fields: &[Vec<Token>; FIELDS]) {
        self.remove(doc);
        let mut counts: HashMap<TermId, [u16; FIELDS]> = HashMap::new();
        let mut lengths = [0u32; FIELDS];
        for (field, tokens) in fields.iter().enumerate() {
            lengths[field] = tokens.len() as u32;
            self.length_sums[field] += tokens.len() as u64;
            for token in tokens.iter() {
                let id = self.intern(&token.term);
                let tf = &mut counts.entry(id).or_default()[field];
                *tf = tf.saturating_add(1);
            }
        }
        let mut terms: Vec<TermId> = counts.keys().copied().collect();
        terms.sort_unstable();
        for &id in &terms {
            self.postings[id as usize].push(Posting {
                doc,
                tf: counts[&id],
            });
        }
        if self.lengths.len() <= doc as usize {
            self.lengths.resize(doc as usize + 1, [0; FIELDS]);
        }
        self.lengths[doc as usize] = lengths;
        self.docs.insert(doc, Doc { lengths, terms });
    }

    /// Removes document `doc`; no-op when absent.
    pub fn remove(&mut self, doc: u32) {
        let Some(old) = self.docs.remove(&doc) else {
            return;
        };
        for (field, length) in old.lengths.iter().enumerate() {
            self.length_sums[field] -= u64::from(*length);
        }
        for id in old.terms {
            let postings = &mut self.postings[id as usize];
            postings.retain(|posting| posting.doc != doc);
            if postings.is_empty() {
                self.forget(id);
            }
        }
    }

    /// Matches the query tokens against the vocabulary: exact stems first, then typos.
    pub fn prepare(&self, tokens: &[Token]) -> KeywordQuery {
        let mut query = KeywordQuery::default();
        let mut seen = Vec::new();
        for token in tokens {
            if seen.contains(&token.term) {
                continue;
            }
            seen.push(token.term.clone());
            let found = match self.vocab.get(&token.term) {
                Some(&id) => Some((id, 0)),
                None => self.closest(&token.term).or_else(|| {
                    (token.surface != token.term)
                        .then(|| self.closest(&token.surface))
                        .flatten()
                }),
            };
            match found {
                Some((term_id, distance)) => query.matches.push(TermMatch {
                    query: token.surface.clone(),
                    term: self.term_text[term_id as usize].clone(),
                    distance,
                    term_id,
                }),
                None => query.unknown.push(token.surface.clone()),
            }
        }
        query
    }

    /// Inverse document frequency of a matched term (BM25's, always positive).
    pub fn idf(&self, matched: &TermMatch) -> f32 {
        self.idf_of(self.postings[matched.term_id as usize].len())
    }

    /// The largest idf a term can have in this index (a term in one document).
    pub fn max_idf(&self) -> f32 {
        self.idf_of(1)
    }

    /// Scores every document containing at least one matched term, unordered.
    pub fn score(&self, query: &KeywordQuery) -> Vec<KeywordHit> {
        let n = self.docs.len().max(1) as f32;
        let averages: [f32; FIELDS] =
            std::array::from_fn(|f| (self.length_sums[f] as f32 / n).max(1.0));
        let p = &self.params;
        // Dense accumulators indexed by slot; `touched` lists the slots to read back.
        let mut scores = vec![0.0f32; self.lengths.len()];
        let mut masks = vec![0u64; self.lengths.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (index, matched) in query.matches.iter().enumerate() {
            let postings = &self.postings[matched.term_id as usize];
            let penalty = match matched.distance {
                0 => 1.0,
                1 => p.typo_penalty[0],
                _ => p.typo_penalty[1],
            };
            let idf = self.idf_of(postings.len()) * penalty;
            let bit = if index < 64 { 1u64 << index } else { 0 };
            for posting in postings {
                let slot = posting.doc as usize;
                let lengths = &self.lengths[slot];
                let mut tf = 0.0;
                for f in 0..FIELDS {
                    if posting.tf[f] > 0 {
                        let norm = 1.0 - p.b[f] + p.b[f] * lengths[f] as f32 / averages[f];
                        tf += p.weights[f] * f32::from(posting.tf[f]) / norm;
                    }
                }
                if masks[slot] == 0 && scores[slot] == 0.0 {
                    touched.push(posting.doc);
                }
                scores[slot] += idf * tf / (p.k1 + tf);
                masks[slot] |= bit;
            }
        }
        touched
            .into_iter()
            .map(|doc| KeywordHit {
                doc,
                score: scores[doc as usize],
                matched: masks[doc as usize],
            })
            .collect()
    }

    fn idf_of(&self, df: usize) -> f32 {
        let n = self.docs.len() as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn intern(&mut self, term: &str) -> TermId {
        if let Some(&id) = self.vocab.get(term) {
            return id;
        }
        let id = self.term_text.len() as TermId;
        self.term_text.push(term.to_owned());
        self.postings.push(Vec::new());
        self.vocab.insert(term.to_owned(), id);
        if typo_eligible(term) {
            for variant in deletions(term) {
                self.deletes.entry(variant).or_default().push(id);
            }
        }
        id
    }

    /// Drops a term no document uses any more. Its id is not reused: a term that comes back
    /// gets a new one (ids are cheap; the empty slot costs one empty vector).
    fn forget(&mut self, id: TermId) {
        let term = std::mem::take(&mut self.term_text[id as usize]);
        if typo_eligible(&term) {
            for variant in deletions(&term) {
                if let Some(ids) = self.deletes.get_mut(&variant) {
                    ids.retain(|other| *other != id);
                    if ids.is_empty() {
                        self.deletes.remove(&variant);
                    }
                }
            }
        }
        self.vocab.remove(&term);
    }

    /// The vocabulary term closest to `word` within its allowed edit distance (1 for words of
    /// 4-7 letters, 2 from 8), ties broken by document frequency then by text.
    fn closest(&self, word: &str) -> Option<(TermId, u8)> {
        if !typo_eligible(word) {
            return None;
        }
        let allowed = if word.chars().count() >= 8 { 2 } else { 1 };
        let mut best: Option<(TermId, u8)> = None;
        for variant in deletions(word) {
            let Some(ids) = self.deletes.get(&variant) else {
                continue;
            };
            for &id in ids {
                let term = &self.term_text[id as usize];
                let distance = strsim::damerau_levenshtein(word, term);
                if distance == 0 || distance > allowed {
                    continue;
                }
                let candidate = (id, distance as u8);
                best = Some(match best {
                    None => candidate,
                    Some(current) if self.better(candidate, current) => candidate,
                    Some(current) => current,
                });
            }
        }
        best
    }

    fn better(&self, a: (TermId, u8), b: (TermId, u8)) -> bool {
        let df = |id: TermId| self.postings[id as usize].len();
        (
            a.1,
            std::cmp::Reverse(df(a.0)),
            &self.term_text[a.0 as usize],
        ) < (
            b.1,
            std::cmp::Reverse(df(b.0)),
            &self.term_text[b.0 as usize],
        )
    }
}

/// Words shorter than four letters are too short to tell a typo from another word.
fn typo_eligible(word: &str) -> bool {
    word.chars().count() >= 4
}

/// The word itself and every form with one character deleted.
fn deletions(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::with_capacity(chars.len() + 1);
    out.push(word.to_owned());
    for skip in 0..chars.len() {
        let variant: String = chars
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, c)| *c)
            .collect();
        if !out.contains(&variant) {
            out.push(variant);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Analyzer;

    fn index(docs: &[(&str, &str, &str, &str)]) -> (Analyzer, KeywordIndex) {
        let analyzer = Analyzer::new();
        let mut index = KeywordIndex::new(Bm25Params::default());
        for (slot, (id, name, description, tags)) in docs.iter().enumerate() {
            let fields = [*id, *name, *description, *tags, ""].map(|text| analyzer.analyze(text));
            index.upsert(slot as u32, &fields);
        }
        (analyzer, index)
    }

    fn top(analyzer: &Analyzer, index: &KeywordIndex, query: &str) -> Option<u32> {
        let prepared = index.prepare(&analyzer.analyze(query));
        let mut hits = index.score(&prepared);
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
        hits.first().map(|hit| hit.doc)
    }

    const CATALOG: &[(&str, &str, &str, &str)] = &[
        (
            "travel/search_flights",
            "Search Flights",
            "Find flights between two cities",
            "travel flights",
        ),
        (
            "travel/search_hotels",
            "Search Hotels",
            "Find hotels in a city",
            "travel hotels",
        ),
        (
            "finance/convert_currency",
            "Convert Currency",
            "Convert between currencies",
            "finance",
        ),
    ];

    #[test]
    fn ranks_the_document_with_the_rare_matching_terms_first() {
        let (analyzer, index) = index(CATALOG);
        assert_eq!(top(&analyzer, &index, "cheap flights to Sochi"), Some(0));
        assert_eq!(top(&analyzer, &index, "a hotel in Paris"), Some(1));
        assert_eq!(top(&analyzer, &index, "the weather"), None);
    }

    #[test]
    fn tolerates_typos_with_a_penalty() {
        let (analyzer, index) = index(CATALOG);
        let prepared = index.prepare(&analyzer.analyze("flihgts"));
        assert_eq!(prepared.matches.len(), 1);
        assert_eq!(prepared.matches[0].term, "flight");
        assert_eq!(prepared.matches[0].distance, 1);
        assert_eq!(top(&analyzer, &index, "hotells"), Some(1));
        assert_eq!(top(&analyzer, &index, "curency converter"), Some(2));
        // Short words are never "corrected".
        assert!(index.prepare(&analyzer.analyze("fly")).matches.is_empty());
    }

    #[test]
    fn updates_are_incremental() {
        let (analyzer, mut index) = index(CATALOG);
        assert_eq!(index.len(), 3);
        index.remove(0);
        assert_eq!(top(&analyzer, &index, "flights"), None);
        assert!(
            index
                .prepare(&analyzer.analyze("flihgts"))
                .matches
                .is_empty()
        );
        let fields = [
            "travel/search_trains",
            "Search Trains",
            "Find trains",
            "rail",
            "a train to Kazan",
        ]
        .map(|text| analyzer.analyze(text));
        index.upsert(0, &fields);
        assert_eq!(top(&analyzer, &index, "trains"), Some(0));
        assert_eq!(top(&analyzer, &index, "flights"), None);
        index.upsert(0, &fields);
        assert_eq!(index.len(), 3);
    }
}
