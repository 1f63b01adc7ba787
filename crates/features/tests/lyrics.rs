//! Lyrics: multilingual tokens, TF-IDF against scikit-learn, randomised SVD.

use std::path::PathBuf;

use nalgebra::DMatrix;
use serde::Deserialize;
use songvae_features::lyrics::{
    Analyzer, LyricsConfig, TfidfVectorizer, lyrics_vectors, randomized_svd, tokenize,
};

#[derive(Deserialize)]
struct Reference {
    sklearn_version: String,
    corpus: Vec<String>,
    tokens: Vec<Vec<String>>,
    cases: Vec<ReferenceCase>,
}

#[derive(Deserialize)]
struct ReferenceCase {
    name: String,
    analyzer: Analyzer,
    ngram_range: [usize; 2],
    max_features: Option<usize>,
    sublinear_tf: bool,
    vocabulary: Vec<String>,
    idf: Vec<f64>,
    matrix: Vec<Vec<f64>>,
}

fn reference() -> Reference {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/lyrics/reference.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).expect("reference.json parses")
}

fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= 1e-12 || (ours - theirs).abs() <= 1e-9 * theirs.abs()
}

#[test]
fn tokens_match_the_reference_tokenizer() {
    let reference = reference();
    for (document, expected) in reference.corpus.iter().zip(&reference.tokens) {
        assert_eq!(&tokenize(document), expected, "{document}");
    }
}

#[test]
fn tfidf_matches_scikit_learn() {
    let reference = reference();
    assert_eq!(reference.sklearn_version, "1.9.1");
    let documents: Vec<&str> = reference.corpus.iter().map(String::as_str).collect();
    for case in &reference.cases {
        let config = LyricsConfig {
            analyzer: case.analyzer,
            ngram_range: Some(case.ngram_range),
            max_features: case.max_features,
            sublinear_tf: case.sublinear_tf,
            ..LyricsConfig::default()
        };
        let vectorizer = TfidfVectorizer::fit(&documents, &config).expect("valid config");
        assert_eq!(
            vectorizer.vocabulary, case.vocabulary,
            "{}: vocabulary",
            case.name
        );
        for (column, (ours, theirs)) in vectorizer.idf.iter().zip(&case.idf).enumerate() {
            assert!(
                close(*ours, *theirs),
                "{}: idf[{column}] {ours} vs {theirs}",
                case.name
            );
        }
        let dense = vectorizer.transform(&documents).to_dense();
        assert_eq!(dense.nrows(), case.matrix.len(), "{}", case.name);
        for (row, expected_row) in case.matrix.iter().enumerate() {
            assert_eq!(dense.ncols(), expected_row.len(), "{}", case.name);
            for (column, theirs) in expected_row.iter().enumerate() {
                let ours = dense[[row, column]];
                assert!(
                    close(ours, *theirs),
                    "{}: [{row}, {column}] {ours} vs {theirs}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn bengali_and_devanagari_words_stay_whole() {
    // (text, expected tokens): vowel signs (া ি ো ে), virama conjuncts
    // (ন্ত, স্ব), chandrabindu (ঁ), khanda ta (ৎ), nukta forms that NFKC
    // decomposes (য় -> য + ়), Devanagari matras and nukta, ZWNJ inside a word.
    let cases: [(&str, &[&str]); 6] = [
        ("কিন্তু আকাশে চাঁদ", &["কিন্তু", "আকাশে", "চাঁদ"]),
        ("স্বপ্ন, উৎসব! ভালোবাসি।", &["স্বপ্ন", "উৎসব", "ভালোবাসি"]),
        ("হৃদয়ের গান", &["হৃদয়ের", "গান"]),
        ("दिल की धड़कन", &["दिल", "की", "धड़कन"]),
        ("র\u{200C}্যাব ১২৩ ok", &["র\u{200C}্যাব", "ok"]),
        ("Ｃａｆé naïve Ñandú", &["café", "naïve", "ñandú"]),
    ];
    for (text, expected) in cases {
        let tokens = tokenize(text);
        let expected: Vec<String> = expected.iter().copied().map(nfkc_lower).collect();
        assert_eq!(tokens, expected, "{text}");
    }
}

/// NFKC + lowercase of an expected token, written out for the test table.
fn nfkc_lower(token: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    token.nfkc().collect::<String>().to_lowercase()
}

#[test]
fn max_features_breaks_ties_alphabetically() {
    // Counts: b 3, a 2, c 2, d 2 -> keep b and the alphabetically first tie, a.
    let documents = ["b b b a c d", "a c d"];
    let config = LyricsConfig {
        ngram_range: Some([1, 1]),
        max_features: Some(2),
        ..LyricsConfig::default()
    };
    let vectorizer = TfidfVectorizer::fit(&documents, &config).expect("valid config");
    assert_eq!(vectorizer.vocabulary, vec!["a", "b"]);
}

fn reference_tfidf() -> songvae_features::lyrics::CsrMatrix {
    let reference = reference();
    let documents: Vec<&str> = reference.corpus.iter().map(String::as_str).collect();
    let config = LyricsConfig {
        ngram_range: Some([1, 2]),
        max_features: None,
        ..LyricsConfig::default()
    };
    TfidfVectorizer::fit(&documents, &config)
        .expect("valid config")
        .transform(&documents)
}

/// Checks that each column of `reduced` has the norm of the matching exact
/// singular value of `dense` and that the columns are orthogonal.
fn assert_matches_exact_svd(
    reduced: &ndarray::Array2<f64>,
    dense: &ndarray::Array2<f64>,
    label: &str,
) {
    let exact = DMatrix::from_fn(dense.nrows(), dense.ncols(), |row, column| {
        dense[[row, column]]
    });
    let mut exact_values: Vec<f64> = exact.singular_values().iter().copied().collect();
    exact_values.sort_by(|left, right| right.total_cmp(left));
    for (component, expected) in exact_values
        .iter()
        .copied()
        .take(reduced.ncols())
        .enumerate()
    {
        let column = reduced.column(component);
        let norm = column.dot(&column).sqrt();
        assert!(
            (norm - expected).abs() <= 1e-8 * expected,
            "{label}: component {component} norm {norm} vs singular value {expected}"
        );
        for other in 0..component {
            let dot = column.dot(&reduced.column(other));
            assert!(
                dot.abs() < 1e-8,
                "{label}: components {other} and {component} not orthogonal: {dot}"
            );
        }
    }
}

#[test]
fn randomized_svd_is_exact_when_the_sketch_covers_the_rank() {
    let tfidf = reference_tfidf();
    let dense = tfidf.to_dense();
    for (dims, oversamples) in [(5, 10), (12, 0), (20, 10)] {
        let reduced = randomized_svd(&tfidf, dims, 5, oversamples, 42);
        assert_eq!(reduced.shape(), &[dense.nrows(), dims.min(dense.nrows())]);
        assert_matches_exact_svd(&reduced, &dense, &format!("tf-idf dims {dims}"));
    }
}

#[test]
fn randomized_svd_finds_a_decaying_spectrum_with_a_small_sketch() {
    // Block-diagonal 48 x 60: block k is 4 x 5 with entries 0.5^k (plus a
    // ramp so blocks are not flat), a decaying spectrum where a sketch of
    // 5 directions with power iterations recovers the top 3 exactly.
    let blocks = 12;
    let mut row_starts = vec![0];
    let mut column_indices = Vec::new();
    let mut values = Vec::new();
    for block in 0..blocks {
        for row in 0..4 {
            for column in 0..5 {
                column_indices.push(block * 5 + column);
                values.push(0.5f64.powi(block as i32) * (1.0 + 0.1 * (row * column) as f64));
            }
            row_starts.push(values.len());
        }
    }
    let matrix = songvae_features::lyrics::CsrMatrix {
        n_rows: blocks * 4,
        n_cols: blocks * 5,
        row_starts,
        column_indices,
        values,
    };
    let reduced = randomized_svd(&matrix, 3, 7, 2, 1);
    assert_matches_exact_svd(&reduced, &matrix.to_dense(), "block matrix");
}

#[test]
fn randomized_svd_is_seeded() {
    let tfidf = reference_tfidf();
    let first = randomized_svd(&tfidf, 4, 5, 10, 7);
    let second = randomized_svd(&tfidf, 4, 5, 10, 7);
    assert_eq!(first, second);
}

#[test]
fn tracks_without_lyrics_get_zero_rows_and_a_flag() {
    let reference = reference();
    let mut texts: Vec<Option<String>> = reference.corpus.iter().cloned().map(Some).collect();
    texts.insert(2, None);
    texts.insert(5, Some("  ... 123 !!! ".to_string()));
    let config = LyricsConfig {
        dims: 4,
        ..LyricsConfig::default()
    };
    let (vectors, has_lyrics) = lyrics_vectors(&texts, &config).expect("valid config");
    assert_eq!(vectors.shape(), &[texts.len(), 4]);
    for (track, flag) in has_lyrics.iter().enumerate() {
        let norm: f64 = vectors.row(track).iter().map(|value| value * value).sum();
        assert_eq!(*flag, track != 2 && track != 5, "track {track}");
        assert_eq!(norm > 0.0, *flag, "track {track} norm {norm}");
    }
}

#[test]
fn invalid_configs_name_the_key() {
    let cases: [(LyricsConfig, &str); 4] = [
        (
            LyricsConfig {
                ngram_range: Some([2, 1]),
                ..LyricsConfig::default()
            },
            "lyrics.ngram_range",
        ),
        (
            LyricsConfig {
                max_features: Some(0),
                ..LyricsConfig::default()
            },
            "lyrics.max_features",
        ),
        (
            LyricsConfig {
                dims: 0,
                ..LyricsConfig::default()
            },
            "lyrics.dims",
        ),
        (
            LyricsConfig {
                svd_iterations: 51,
                ..LyricsConfig::default()
            },
            "lyrics.svd_iterations",
        ),
    ];
    for (config, key) in cases {
        let error = config.validate().expect_err("invalid");
        assert!(error.to_string().contains(key), "{error} lacks {key}");
    }
    let unknown =
        serde_json::from_str::<LyricsConfig>(r#"{"analyser": "word"}"#).expect_err("unknown key");
    assert!(unknown.to_string().contains("analyser"), "{unknown}");
}
