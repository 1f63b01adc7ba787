//! Multilingual lyrics to dense vectors: tokens, TF-IDF and randomised truncated SVD.
//!
//! Lyrics come in the scripts people sing in, so nothing here is ASCII-only:
//!
//! 1. **Normalise**: Unicode NFKC (ligatures and full-width forms fold to their
//!    plain letters), then full Unicode lowercase.
//! 2. **Tokenise**: a token is a maximal run of letters (`L*`) and combining
//!    marks (`M*`) of any script, plus the zero-width joiner and non-joiner
//!    that Indic spellings use inside words. Bengali vowel signs and the virama
//!    are combining marks, so `ভালোবাসা` and `কিন্তু` stay whole words.
//!    Digits and punctuation separate tokens.
//! 3. **TF-IDF** exactly like scikit-learn's `TfidfVectorizer` with
//!    `smooth_idf=True`, `norm="l2"`, optional `sublinear_tf`, either word
//!    n-grams (`analyzer="word"`) or character n-grams inside word boundaries
//!    (`analyzer="char_wb"`, words padded with one space each side), and a
//!    vocabulary cap (`max_features`: the most frequent terms over the corpus).
//! 4. **Randomised truncated SVD** (Halko, Martinsson and Tropp 2011, as in
//!    scikit-learn's `TruncatedSVD(algorithm="randomized")`) to `dims` dense
//!    columns, `X V_k`, with a seeded `ChaCha` random matrix so runs repeat.
//!
//! When `max_features` cuts through a run of equal corpus counts, scikit-learn
//! keeps whichever tied terms `NumPy`'s unstable `argsort` happens to put first
//! (it differs between CPUs); this crate keeps the alphabetically first ones,
//! which is what a stable sort gives. The reference test corpus is checked by
//! its script to have the same cut both ways.

use nalgebra::DMatrix;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::error::{Error, Result};

/// Which terms TF-IDF counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Analyzer {
    /// Word n-grams (scikit-learn `analyzer="word"`); default range 1-2.
    Word,
    /// Character n-grams within word boundaries (scikit-learn `analyzer="char_wb"`); default range 3-5.
    CharWb,
}

/// Settings of the lyrics vectoriser.
///
/// | field | default | valid |
/// |---|---|---|
/// | `analyzer` | `word` | `word`, `char_wb` |
/// | `ngram_range` | `[1, 2]` for `word`, `[3, 5]` for `char_wb` | `1 <= min <= max <= 10` |
/// | `max_features` | `5000` | `>= 1`, or `null` for no cap |
/// | `sublinear_tf` | `true` | replace a count `c` by `1 + ln c` |
/// | `dims` | `16` | `1..=4096`; fewer when the corpus has fewer documents or terms (why 16: `docs/features.md`) |
/// | `svd_iterations` | `5` | power iterations of the randomised SVD, `0..=50` |
/// | `svd_oversamples` | `10` | extra random directions, `0..=200` |
/// | `seed` | `0` | seed of the SVD's random matrix |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LyricsConfig {
    /// Word or character n-grams.
    pub analyzer: Analyzer,
    /// Smallest and largest n-gram length; `None` takes the analyzer's default.
    pub ngram_range: Option<[usize; 2]>,
    /// Keep only this many terms, the most frequent over the corpus.
    pub max_features: Option<usize>,
    /// Use `1 + ln(count)` instead of the raw count.
    pub sublinear_tf: bool,
    /// Output dimensions of the truncated SVD.
    pub dims: usize,
    /// Power iterations of the randomised SVD.
    pub svd_iterations: usize,
    /// Oversampling of the randomised SVD.
    pub svd_oversamples: usize,
    /// Seed of the randomised SVD.
    pub seed: u64,
}

impl Default for LyricsConfig {
    fn default() -> Self {
        Self {
            analyzer: Analyzer::Word,
            ngram_range: None,
            max_features: Some(5000),
            sublinear_tf: true,
            dims: 16,
            svd_iterations: 5,
            svd_oversamples: 10,
            seed: 0,
        }
    }
}

impl LyricsConfig {
    /// The n-gram range in force: the configured one or the analyzer's default.
    #[must_use]
    pub fn effective_ngram_range(&self) -> (usize, usize) {
        match (self.ngram_range, self.analyzer) {
            (Some([low, high]), _) => (low, high),
            (None, Analyzer::Word) => (1, 2),
            (None, Analyzer::CharWb) => (3, 5),
        }
    }

    /// Checks every field against its valid range.
    pub fn validate(&self) -> Result<()> {
        let invalid = |key: &str, reason: String| Error::InvalidConfig {
            key: key.to_string(),
            reason,
        };
        let (low, high) = self.effective_ngram_range();
        if low < 1 || low > high || high > 10 {
            return Err(invalid(
                "lyrics.ngram_range",
                format!("[{low}, {high}] must satisfy 1 <= min <= max <= 10"),
            ));
        }
        if self.max_features == Some(0) {
            return Err(invalid(
                "lyrics.max_features",
                "must be at least 1 or null".to_string(),
            ));
        }
        if self.dims == 0 || self.dims > 4096 {
            return Err(invalid(
                "lyrics.dims",
                format!("{} is outside 1..=4096", self.dims),
            ));
        }
        if self.svd_iterations > 50 {
            return Err(invalid(
                "lyrics.svd_iterations",
                format!("{} is outside 0..=50", self.svd_iterations),
            ));
        }
        if self.svd_oversamples > 200 {
            return Err(invalid(
                "lyrics.svd_oversamples",
                format!("{} is outside 0..=200", self.svd_oversamples),
            ));
        }
        Ok(())
    }
}

/// NFKC-normalises and lowercases a text.
#[must_use]
pub fn normalise(text: &str) -> String {
    let composed: String = text.nfkc().collect();
    composed.to_lowercase()
}

/// Whether a character belongs inside a word: a letter or combining mark of
/// any script, or a zero-width (non-)joiner.
#[must_use]
pub fn is_word_char(character: char) -> bool {
    if character == '\u{200C}' || character == '\u{200D}' {
        return true;
    }
    matches!(
        character.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Mark
    )
}

/// Normalises a text and splits it into word tokens (see the module docs).
#[must_use]
pub fn tokenize(text: &str) -> Vec<String> {
    let normalised = normalise(text);
    let mut tokens = Vec::new();
    let mut current = String::new();
    for character in normalised.chars() {
        if is_word_char(character) {
            current.push(character);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// The terms of one document that TF-IDF counts, in scikit-learn's order.
#[must_use]
pub fn analyze(text: &str, analyzer: Analyzer, ngram_range: (usize, usize)) -> Vec<String> {
    let tokens = tokenize(text);
    let (low, high) = ngram_range;
    let mut terms = Vec::new();
    match analyzer {
        Analyzer::Word => {
            for n in low..=high {
                if n > tokens.len() {
                    break;
                }
                for start in 0..=(tokens.len() - n) {
                    terms.push(tokens[start..start + n].join(" "));
                }
            }
        }
        Analyzer::CharWb => {
            // scikit-learn's `_char_wb_ngrams`: pad each word with one space on
            // each side; a padded word shorter than n yields itself once and
            // stops the longer n-grams for that word.
            for token in &tokens {
                let mut padded: Vec<char> = Vec::with_capacity(token.len() + 2);
                padded.push(' ');
                padded.extend(token.chars());
                padded.push(' ');
                for n in low..=high {
                    let mut offset = 0;
                    let end = (offset + n).min(padded.len());
                    terms.push(padded[offset..end].iter().collect());
                    while offset + n < padded.len() {
                        offset += 1;
                        terms.push(padded[offset..offset + n].iter().collect());
                    }
                    if offset == 0 {
                        break;
                    }
                }
            }
        }
    }
    terms
}

/// A sparse matrix in compressed sparse row form (rows are documents).
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// Row `i` holds entries `row_starts[i]..row_starts[i + 1]`.
    pub row_starts: Vec<usize>,
    /// Column of each stored entry, increasing within a row.
    pub column_indices: Vec<usize>,
    /// Value of each stored entry.
    pub values: Vec<f64>,
}

impl CsrMatrix {
    /// The same matrix as a dense `ndarray` (for tests and small corpora).
    #[must_use]
    pub fn to_dense(&self) -> ndarray::Array2<f64> {
        let mut dense = ndarray::Array2::zeros((self.n_rows, self.n_cols));
        for row in 0..self.n_rows {
            for entry in self.row_starts[row]..self.row_starts[row + 1] {
                dense[[row, self.column_indices[entry]]] = self.values[entry];
            }
        }
        dense
    }
}

/// A fitted TF-IDF vectoriser: its vocabulary (sorted like scikit-learn's
/// `get_feature_names_out`) and inverse document frequencies.
#[derive(Debug, Clone, PartialEq)]
pub struct TfidfVectorizer {
    /// Settings it was fitted with.
    pub config: LyricsConfig,
    /// Terms in column order (code point order).
    pub vocabulary: Vec<String>,
    /// Smoothed idf per column: `ln((1 + n) / (1 + df)) + 1`.
    pub idf: Vec<f64>,
}

impl TfidfVectorizer {
    /// Learns the vocabulary and idf from a corpus.
    pub fn fit(documents: &[&str], config: &LyricsConfig) -> Result<Self> {
        config.validate()?;
        let ngram_range = config.effective_ngram_range();
        let mut corpus_counts: std::collections::BTreeMap<String, (u64, u64)> =
            std::collections::BTreeMap::new();
        for document in documents {
            let mut document_counts: std::collections::HashMap<String, u64> =
                std::collections::HashMap::new();
            for term in analyze(document, config.analyzer, ngram_range) {
                *document_counts.entry(term).or_insert(0) += 1;
            }
            for (term, count) in document_counts {
                let entry = corpus_counts.entry(term).or_insert((0, 0));
                entry.0 += count;
                entry.1 += 1;
            }
        }
        let mut kept: Vec<(String, u64, u64)> = corpus_counts
            .into_iter()
            .map(|(term, (total, document_frequency))| (term, total, document_frequency))
            .collect();
        if let Some(limit) = config.max_features
            && kept.len() > limit
        {
            // Rank by total count (descending), ties alphabetically; then
            // restore alphabetical column order as scikit-learn does.
            kept.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
            kept.truncate(limit);
            kept.sort_by(|left, right| left.0.cmp(&right.0));
        }
        let document_count = documents.len() as f64;
        let mut vocabulary = Vec::with_capacity(kept.len());
        let mut idf = Vec::with_capacity(kept.len());
        for (term, _total, document_frequency) in kept {
            vocabulary.push(term);
            idf.push(((1.0 + document_count) / (1.0 + document_frequency as f64)).ln() + 1.0);
        }
        Ok(Self {
            config: config.clone(),
            vocabulary,
            idf,
        })
    }

    /// TF-IDF rows of documents over the fitted vocabulary, each row l2-normalised
    /// (rows without any known term stay zero).
    #[must_use]
    pub fn transform(&self, documents: &[&str]) -> CsrMatrix {
        let ngram_range = self.config.effective_ngram_range();
        let mut row_starts = vec![0];
        let mut column_indices = Vec::new();
        let mut values = Vec::new();
        for document in documents {
            let mut counts: std::collections::BTreeMap<usize, u64> =
                std::collections::BTreeMap::new();
            for term in analyze(document, self.config.analyzer, ngram_range) {
                if let Ok(column) = self.vocabulary.binary_search(&term) {
                    *counts.entry(column).or_insert(0) += 1;
                }
            }
            let row_begin = values.len();
            for (column, count) in counts {
                let term_frequency = if self.config.sublinear_tf {
                    1.0 + (count as f64).ln()
                } else {
                    count as f64
                };
                column_indices.push(column);
                values.push(term_frequency * self.idf[column]);
            }
            let mut squared_norm = 0.0;
            for value in &values[row_begin..] {
                squared_norm += value * value;
            }
            if squared_norm > 0.0 {
                let norm = squared_norm.sqrt();
                for value in &mut values[row_begin..] {
                    *value /= norm;
                }
            }
            row_starts.push(values.len());
        }
        CsrMatrix {
            n_rows: documents.len(),
            n_cols: self.vocabulary.len(),
            row_starts,
            column_indices,
            values,
        }
    }
}

/// Sparse times dense: `matrix (n x v) * dense (v x l)`.
fn sparse_times_dense(matrix: &CsrMatrix, dense: &DMatrix<f64>) -> DMatrix<f64> {
    let mut product = DMatrix::zeros(matrix.n_rows, dense.ncols());
    for column in 0..dense.ncols() {
        for row in 0..matrix.n_rows {
            let mut sum = 0.0;
            for entry in matrix.row_starts[row]..matrix.row_starts[row + 1] {
                sum += matrix.values[entry] * dense[(matrix.column_indices[entry], column)];
            }
            product[(row, column)] = sum;
        }
    }
    product
}

/// Transposed sparse times dense: `matrix^T (v x n) * dense (n x l)`.
fn sparse_transpose_times_dense(matrix: &CsrMatrix, dense: &DMatrix<f64>) -> DMatrix<f64> {
    let mut product = DMatrix::zeros(matrix.n_cols, dense.ncols());
    for column in 0..dense.ncols() {
        for row in 0..matrix.n_rows {
            let factor = dense[(row, column)];
            for entry in matrix.row_starts[row]..matrix.row_starts[row + 1] {
                product[(matrix.column_indices[entry], column)] += matrix.values[entry] * factor;
            }
        }
    }
    product
}

/// An orthonormal basis of the column space of `matrix` (thin QR).
fn orthonormal_basis(matrix: DMatrix<f64>) -> DMatrix<f64> {
    matrix.qr().q()
}

/// Standard normal draws from a seeded `ChaCha` stream (Box-Muller on 53-bit uniforms).
fn gaussian_matrix(rows: usize, columns: usize, seed: u64) -> DMatrix<f64> {
    let mut generator = ChaCha8Rng::seed_from_u64(seed);
    let mut uniform = || ((generator.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut matrix = DMatrix::zeros(rows, columns);
    for column in 0..columns {
        for row in 0..rows {
            let radius = (-2.0 * uniform().ln()).sqrt();
            let angle = 2.0 * std::f64::consts::PI * uniform();
            matrix[(row, column)] = radius * angle.cos();
        }
    }
    matrix
}

/// Randomised truncated SVD of a sparse matrix: returns `X V_k` (n x k), the
/// projection scikit-learn's `TruncatedSVD.fit_transform` returns, with
/// `k = min(dims, n_rows, n_cols)`. Each component's sign is fixed so that
/// the largest-magnitude entry of its right singular vector is positive.
#[must_use]
pub fn randomized_svd(
    matrix: &CsrMatrix,
    dims: usize,
    iterations: usize,
    oversamples: usize,
    seed: u64,
) -> ndarray::Array2<f64> {
    let rank_bound = matrix.n_rows.min(matrix.n_cols);
    let components = dims.min(rank_bound);
    if components == 0 {
        return ndarray::Array2::zeros((matrix.n_rows, 0));
    }
    let sketch_size = (components + oversamples).min(rank_bound);
    let random_directions = gaussian_matrix(matrix.n_cols, sketch_size, seed);
    let mut basis = orthonormal_basis(sparse_times_dense(matrix, &random_directions));
    for _ in 0..iterations {
        let back = orthonormal_basis(sparse_transpose_times_dense(matrix, &basis));
        basis = orthonormal_basis(sparse_times_dense(matrix, &back));
    }
    // B = Q^T A, computed as (A^T Q)^T.
    let projected = sparse_transpose_times_dense(matrix, &basis).transpose();
    let decomposition = projected.svd(true, true);
    let (Some(left), Some(right_transposed)) = (decomposition.u, decomposition.v_t) else {
        return ndarray::Array2::zeros((matrix.n_rows, components));
    };
    let singular_values = decomposition.singular_values;
    let mut order: Vec<usize> = (0..singular_values.len()).collect();
    order.sort_by(|&left_index, &right_index| {
        singular_values[right_index].total_cmp(&singular_values[left_index])
    });
    let full_left = &basis * &left;
    let mut output = ndarray::Array2::zeros((matrix.n_rows, components));
    for (component, &source) in order.iter().take(components).enumerate() {
        let mut largest_index = 0;
        for column in 0..right_transposed.ncols() {
            if right_transposed[(source, column)].abs()
                > right_transposed[(source, largest_index)].abs()
            {
                largest_index = column;
            }
        }
        let sign = if right_transposed[(source, largest_index)] < 0.0 {
            -1.0
        } else {
            1.0
        };
        for row in 0..matrix.n_rows {
            output[[row, component]] = sign * full_left[(row, source)] * singular_values[source];
        }
    }
    output
}

/// Dense lyrics vectors for a dataset: TF-IDF fitted on the tracks that have
/// lyrics, then randomised SVD. Returns the `n x k` matrix (zero rows for
/// tracks without lyrics) and the per-track `has_lyrics` flags; a track has
/// lyrics when its text yields at least one token.
pub fn lyrics_vectors(
    texts: &[Option<String>],
    config: &LyricsConfig,
) -> Result<(ndarray::Array2<f64>, Vec<bool>)> {
    config.validate()?;
    let mut has_lyrics = Vec::with_capacity(texts.len());
    let mut documents: Vec<&str> = Vec::new();
    for text in texts {
        let mut present = false;
        if let Some(text) = text
            && !tokenize(text).is_empty()
        {
            documents.push(text);
            present = true;
        }
        has_lyrics.push(present);
    }
    let vectorizer = TfidfVectorizer::fit(&documents, config)?;
    let tfidf = vectorizer.transform(&documents);
    let reduced = randomized_svd(
        &tfidf,
        config.dims,
        config.svd_iterations,
        config.svd_oversamples,
        config.seed,
    );
    let mut output = ndarray::Array2::zeros((texts.len(), reduced.ncols()));
    let mut document_index = 0;
    for (track, present) in has_lyrics.iter().enumerate() {
        if *present {
            output.row_mut(track).assign(&reduced.row(document_index));
            document_index += 1;
        }
    }
    Ok((output, has_lyrics))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_wb_matches_scikit_learn_short_word_rule() {
        // scikit-learn pads "ab" to " ab " (4 characters): n=3 gives " ab"
        // and "ab ", n=4 gives the whole padded word once and, because no
        // window moved, stops before n=5.
        let terms = analyze("ab", Analyzer::CharWb, (3, 5));
        assert_eq!(terms, vec![" ab", "ab ", " ab "]);
        let single = analyze("a", Analyzer::CharWb, (3, 5));
        assert_eq!(single, vec![" a "]);
    }

    #[test]
    fn word_bigrams_follow_unigrams() {
        let terms = analyze("One two three", Analyzer::Word, (1, 2));
        assert_eq!(terms, vec!["one", "two", "three", "one two", "two three"]);
    }
}
