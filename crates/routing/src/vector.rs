//! Exact nearest-neighbour search over the skill vectors of one embedding model.
//!
//! Brute force over a contiguous matrix: at catalog sizes (thousands to tens of thousands of
//! skills) a full scan of unit vectors costs well under a millisecond and is exact, so an
//! approximate index would only add build time and recall loss.

use std::collections::HashMap;

/// Which vector: a document slot and a part of the document (0: its description and tags,
/// 1..: its examples).
pub type VectorId = (u32, u16);

/// Vectors of one model, several per document.
#[derive(Debug)]
pub struct VectorIndex {
    model: String,
    dimension: usize,
    data: Vec<f32>,
    ids: Vec<VectorId>,
    keys: Vec<String>,
    rows: HashMap<VectorId, usize>,
}

/// Why a vector was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VectorError {
    /// The vector has the wrong length.
    #[error("vector has {got} components, the model {model} makes {expected}")]
    Dimension {
        /// The model.
        model: String,
        /// Its dimension.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The vector is zero or not finite.
    #[error("vector is zero or not finite")]
    Degenerate,
}

impl VectorIndex {
    /// An empty index for `model` vectors of `dimension` components.
    pub fn new(model: impl Into<String>, dimension: usize) -> Self {
        Self {
            model: model.into(),
            dimension,
            data: Vec::new(),
            ids: Vec::new(),
            keys: Vec::new(),
            rows: HashMap::new(),
        }
    }

    /// The model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Vector length.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The content key (hash of the embedded text) stored with a vector.
    pub fn key(&self, id: VectorId) -> Option<&str> {
        self.rows.get(&id).map(|&row| self.keys[row].as_str())
    }

    /// Sets vector `id`, computed from text whose hash is `key`; normalised here.
    pub fn upsert(&mut self, id: VectorId, key: &str, vector: &[f32]) -> Result<(), VectorError> {
        let unit = normalize(vector, self.dimension).map_err(|error| match error {
            VectorError::Dimension { expected, got, .. } => VectorError::Dimension {
                model: self.model.clone(),
                expected,
                got,
            },
            other => other,
        })?;
        match self.rows.get(&id) {
            Some(&row) => {
                self.data[row * self.dimension..(row + 1) * self.dimension].copy_from_slice(&unit);
                self.keys[row] = key.to_owned();
            }
            None => {
                self.rows.insert(id, self.ids.len());
                self.ids.push(id);
                self.keys.push(key.to_owned());
                self.data.extend_from_slice(&unit);
            }
        }
        Ok(())
    }

    /// Removes every vector of document `slot`.
    pub fn remove_slot(&mut self, slot: u32) {
        let doomed: Vec<VectorId> = self.ids.iter().copied().filter(|id| id.0 == slot).collect();
        for id in doomed {
            self.remove(id);
        }
    }

    /// Removes vector `id`; no-op when absent.
    pub fn remove(&mut self, id: VectorId) {
        let Some(row) = self.rows.remove(&id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if row != last {
            let moved = self.ids[last];
            let (head, tail) = self.data.split_at_mut(last * self.dimension);
            head[row * self.dimension..(row + 1) * self.dimension].copy_from_slice(tail);
            self.ids[row] = moved;
            self.keys.swap(row, last);
            self.rows.insert(moved, row);
        }
        self.ids.pop();
        self.keys.pop();
        self.data.truncate(last * self.dimension);
    }

    /// Cosine similarity of `query` to every vector, as (id, similarity), unordered.
    pub fn similarities(&self, query: &[f32]) -> Result<Vec<(VectorId, f32)>, VectorError> {
        let unit = normalize(query, self.dimension).map_err(|error| match error {
            VectorError::Dimension { expected, got, .. } => VectorError::Dimension {
                model: self.model.clone(),
                expected,
                got,
            },
            other => other,
        })?;
        Ok(self
            .data
            .chunks_exact(self.dimension)
            .zip(&self.ids)
            .map(|(row, &id)| (id, dot(row, &unit)))
            .collect())
    }
}

/// The unit vector in the direction of `vector`.
pub fn normalize(vector: &[f32], dimension: usize) -> Result<Vec<f32>, VectorError> {
    if vector.len() != dimension {
        return Err(VectorError::Dimension {
            model: String::new(),
            expected: dimension,
            got: vector.len(),
        });
    }
    let norm = dot(vector, vector).sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return Err(VectorError::Degenerate);
    }
    Ok(vector.iter().map(|x| x / norm).collect())
}

/// Dot product written so the compiler vectorises it (eight independent accumulators).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_cosine_and_rows_survive_removal() {
        let mut index = VectorIndex::new("m", 3);
        index.upsert((7, 0), "a", &[1.0, 0.0, 0.0]).unwrap();
        index.upsert((8, 0), "b", &[0.0, 2.0, 0.0]).unwrap();
        index.upsert((9, 0), "c", &[1.0, 1.0, 0.0]).unwrap();
        index.upsert((9, 1), "c1", &[0.0, 0.0, 1.0]).unwrap();
        let mut sims = index.similarities(&[0.0, 5.0, 0.0]).unwrap();
        sims.sort_by_key(|(id, _)| *id);
        assert_eq!(sims[0], ((7, 0), 0.0));
        assert!((sims[1].1 - 1.0).abs() < 1e-6);
        assert!((sims[2].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);

        index.remove_slot(7);
        assert_eq!(index.len(), 3);
        assert_eq!(index.key((9, 0)), Some("c"));
        assert_eq!(index.key((9, 1)), Some("c1"));
        let sims = index.similarities(&[1.0, 1.0, 0.0]).unwrap();
        let nine = sims.iter().find(|(id, _)| *id == (9, 0)).unwrap();
        assert!((nine.1 - 1.0).abs() < 1e-6);

        index.upsert((8, 0), "b2", &[0.0, 0.0, 1.0]).unwrap();
        assert_eq!(index.key((8, 0)), Some("b2"));
        assert_eq!(index.len(), 3);
        index.remove_slot(9);
        assert_eq!(index.len(), 1);
        assert_eq!(index.key((8, 0)), Some("b2"));
    }

    #[test]
    fn refuses_wrong_dimensions_and_zero_vectors() {
        let mut index = VectorIndex::new("m", 3);
        assert!(matches!(
            index.upsert((1, 0), "a", &[1.0, 0.0]),
            Err(VectorError::Dimension {
                expected: 3,
                got: 2,
                ..
            })
        ));
        assert_eq!(
            index.upsert((1, 0), "a", &[0.0; 3]),
            Err(VectorError::Degenerate)
        );
        assert!(index.similarities(&[1.0; 4]).is_err());
    }

    #[test]
    fn dot_handles_lengths_that_are_not_multiples_of_eight() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let expected: f32 = a.iter().map(|x| x * x).sum();
        assert_eq!(dot(&a, &a), expected);
    }
}
