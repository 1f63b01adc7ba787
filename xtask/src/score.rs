//! `cargo xtask score`: cluster an embedding and print every score as JSON.
//!
//! ```text
//! cargo xtask score --embedding FILE [--truth FILE] [--k K | --pred FILE]
//!                    [--algo kmeans|agglomerative|gmm] [--covariance full|diag] [--seed S]
//! ```
//!
//! - `--embedding`: `.npy` (2-D, float32 or float64) or `.csv` (numeric,
//!   comma separated, one sample per line, an optional header line).
//! - `--truth`, `--pred`: one label per line, any text.
//! - With `--pred` the given labels are scored as they are; otherwise the
//!   embedding is clustered with `--algo` into `K` clusters (default: the
//!   number of distinct truth labels), seeded by `--seed` (default 0):
//!   `kmeans` (k-means++ and Lloyd, 10 restarts), `agglomerative` (Ward
//!   linkage, deterministic, at most 20,000 rows) or `gmm` (Gaussian mixture
//!   with k-means initialisation, `--covariance full` by default or `diag`;
//!   the labels are each row's most probable component).
//!
//! Prints one JSON object: `n`, `d`, `k`, then every score of the study's
//! metric table (`songvae_run::metric`) under its key: `silhouette`,
//! `davies_bouldin`, `calinski_harabasz`, `ari`, `nmi`, `purity` (against
//! `--truth`), `disentanglement_score` (MIG: the embedding's columns as
//! latents, the truth as the one factor) and `active_units`. A score that
//! does not apply is `null` and `absent` says why (one cluster, one
//! column, a single truth class, no `--truth`). Scores come from
//! `songvae_metrics::scoring`, the path every run of a study takes. Bad
//! input is reported on one line with a non-zero exit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ndarray::Array2;
use ndarray_npy::{ReadNpyError, read_npy};
use songvae_metrics::gaussian_mixture::CovarianceType;
use songvae_metrics::labels::encode_labels;
use songvae_metrics::scoring::{
    ClusteringAlgorithm, ClusteringConfig, LabelColumn, NO_LABELS, cluster, score_clusters,
};
use songvae_run::metric::{MetricValues, Source, TABLE};

/// Clustering algorithms `score` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Algorithm {
    /// k-means++ and Lloyd, 10 restarts (songvae-metrics `kmeans`).
    Kmeans,
    /// Ward agglomerative clustering (songvae-metrics `agglomerative`; at most 20,000 rows).
    Agglomerative,
    /// Gaussian mixture, k-means initialised (songvae-metrics `gaussian_mixture`).
    Gmm,
}

/// Covariance form of `--algo gmm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Covariance {
    /// A full covariance matrix per component.
    Full,
    /// A diagonal covariance per component.
    Diag,
}

/// Arguments of `cargo xtask score`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScoreArgs {
    /// Embedding: `.npy` (2-D float32/float64) or `.csv` (numeric, optional header).
    #[arg(long, value_name = "FILE")]
    pub embedding: PathBuf,
    /// True labels, one per line (any text).
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Number of clusters (default: the number of distinct truth labels).
    #[arg(long, value_name = "K", conflicts_with = "pred")]
    pub k: Option<usize>,
    /// Predicted labels to score instead of clustering, one per line.
    #[arg(long, value_name = "FILE")]
    pub pred: Option<PathBuf>,
    /// Clustering algorithm.
    #[arg(long, value_enum, default_value_t = Algorithm::Kmeans, conflicts_with = "pred")]
    pub algo: Algorithm,
    /// Covariance of `--algo gmm` (default full).
    #[arg(long, value_enum, conflicts_with = "pred")]
    pub covariance: Option<Covariance>,
    /// Random seed of the clustering (k-means and gmm; Ward is deterministic).
    #[arg(long, value_name = "S", default_value_t = 0, conflicts_with = "pred")]
    pub seed: u64,
}

/// Runs the command and prints its JSON line.
pub fn score_command(args: &ScoreArgs) -> Result<()> {
    let line = score_json(args)?;
    println!("{line}");
    Ok(())
}

/// Everything but the printing: returns the JSON line. Clustering and
/// scoring go through `songvae_metrics::scoring`, the path every run and
/// baseline of a study takes.
pub fn score_json(args: &ScoreArgs) -> Result<String> {
    let embedding = read_embedding(&args.embedding)?;
    let (n, d) = embedding.dim();
    let truth = match &args.truth {
        Some(path) => Some(read_labels(path, n)?),
        None => None,
    };
    let truth_ids = truth.as_ref().map(|labels| encode_labels(labels));
    let (predicted, k): (Vec<usize>, usize) = if let Some(path) = &args.pred {
        let encoded = encode_labels(&read_labels(path, n)?);
        let k = encoded.classes.len();
        (encoded.ids, k)
    } else {
        let k = match (args.k, &truth_ids) {
            (Some(k), _) => k,
            (None, Some(encoded)) => encoded.classes.len(),
            (None, None) => bail!("--k is required when neither --truth nor --pred is given"),
        };
        if k < 2 || k >= n {
            let source = if args.k.is_some() {
                "--k"
            } else {
                "the number of distinct --truth labels"
            };
            bail!("{source} is {k}: k must satisfy 2 <= k < n = {n}");
        }
        if args.covariance.is_some() && args.algo != Algorithm::Gmm {
            bail!("--covariance applies only to --algo gmm");
        }
        let clustering = ClusteringConfig {
            algorithm: match args.algo {
                Algorithm::Kmeans => ClusteringAlgorithm::Kmeans,
                Algorithm::Agglomerative => ClusteringAlgorithm::Agglomerative,
                Algorithm::Gmm => ClusteringAlgorithm::Gmm,
            },
            k: Some(k),
            // k-means keeps its 10 restarts; the mixture fits once from k-means, as scikit-learn's default.
            n_init: if args.algo == Algorithm::Gmm { 1 } else { 10 },
            covariance: match args.covariance {
                Some(Covariance::Diag) => CovarianceType::Diag,
                Some(Covariance::Full) | None => CovarianceType::Full,
            },
            // One clustering: this command scores one partition, for parity with scikit-learn.
            draws: 1,
        };
        let predicted = cluster(embedding.view(), k, &clustering, args.seed)
            .with_context(|| format!("{:?}", args.algo).to_lowercase())?;
        (predicted, k)
    };
    let labels: Vec<LabelColumn> = match truth {
        Some(values) => vec![("truth".to_owned(), values)],
        None => Vec::new(),
    };
    let scores = score_clusters(embedding.view(), &predicted, k, &labels)?;
    let mut values = MetricValues::default();
    values.set_scores(&scores);
    // `n`, `d`, `k`, then every score of the metric table in its order and
    // under its key, `null` when absent, then the reasons.
    let mut fields = vec![
        format!("\"n\":{n}"),
        format!("\"d\":{d}"),
        format!("\"k\":{}", encode_labels(&predicted).classes.len()),
    ];
    let mut absent = BTreeMap::new();
    for info in &TABLE {
        if let Source::Scores(_) = info.source {
            let value = values.get(info.metric);
            fields.push(format!(
                "\"{}\":{}",
                info.key,
                serde_json::to_string(&value)?
            ));
            let reason = info
                .aliases
                .iter()
                .chain(std::iter::once(&info.key))
                .find_map(|key| scores.absent.get(*key));
            if let Some(reason) = reason {
                let reason = if reason == NO_LABELS {
                    "no --truth given".to_owned()
                } else {
                    reason.clone()
                };
                absent.insert(info.key, reason);
            }
        }
    }
    if !absent.is_empty() {
        fields.push(format!("\"absent\":{}", serde_json::to_string(&absent)?));
    }
    Ok(format!("{{{}}}", fields.join(",")))
}

/// Reads a `.npy` or `.csv` embedding and checks that every value is finite.
fn read_embedding(path: &Path) -> Result<Array2<f64>> {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .unwrap_or_default();
    let data = match extension.to_ascii_lowercase().as_str() {
        "npy" => read_npy_matrix(path)?,
        "csv" => read_csv_matrix(path)?,
        _ => bail!(
            "{}: unsupported embedding file type (expected .npy or .csv)",
            path.display()
        ),
    };
    if data.nrows() == 0 || data.ncols() == 0 {
        bail!(
            "{}: embedding is empty ({} x {})",
            path.display(),
            data.nrows(),
            data.ncols()
        );
    }
    for (row_index, row) in data.outer_iter().enumerate() {
        for (column_index, value) in row.iter().enumerate() {
            if !value.is_finite() {
                bail!(
                    "{}: value {value} at row {}, column {} is not finite (rows and columns count from 1)",
                    path.display(),
                    row_index + 1,
                    column_index + 1
                );
            }
        }
    }
    Ok(data)
}

fn read_npy_matrix(path: &Path) -> Result<Array2<f64>> {
    match read_npy::<_, Array2<f64>>(path) {
        Ok(data) => return Ok(data),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(error) => return Err(describe_npy_error(path, error)),
    }
    match read_npy::<_, Array2<f32>>(path) {
        Ok(data) => Ok(data.mapv(f64::from)),
        Err(error) => Err(describe_npy_error(path, error)),
    }
}

fn describe_npy_error(path: &Path, error: ReadNpyError) -> anyhow::Error {
    match error {
        ReadNpyError::WrongDescriptor(descriptor) => anyhow::anyhow!(
            "{}: npy data type {descriptor} is not supported (expected float32 or float64)",
            path.display()
        ),
        ReadNpyError::WrongNdim(Some(expected), found) => {
            anyhow::anyhow!(
                "{}: npy array has {found} dimensions, expected {expected}",
                path.display()
            )
        }
        ReadNpyError::Io(io) => anyhow::anyhow!("{}: cannot read: {io}", path.display()),
        other => anyhow::anyhow!("{}: not a valid npy file: {other}", path.display()),
    }
}

fn read_csv_matrix(path: &Path) -> Result<Array2<f64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut values = Vec::new();
    let mut n_columns = 0;
    let mut n_rows = 0;
    for (line_index, line) in text.lines().enumerate() {
        let line_number = line_index + 1;
        let line = line.trim();
        if line.is_empty() {
            bail!("{}: line {line_number} is empty", path.display());
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Vec<Option<f64>> = fields
            .iter()
            .map(|field| field.parse::<f64>().ok())
            .collect();
        if line_index == 0 && parsed.iter().any(Option::is_none) {
            // A first line with any non-numeric field is a header.
            n_columns = fields.len();
            continue;
        }
        if n_columns == 0 {
            n_columns = fields.len();
        }
        if fields.len() != n_columns {
            bail!(
                "{}: line {line_number} has {} columns, expected {n_columns} (ragged file)",
                path.display(),
                fields.len()
            );
        }
        for (column_index, (field, value)) in fields.iter().zip(parsed).enumerate() {
            match value {
                Some(value) => values.push(value),
                None => bail!(
                    "{}: line {line_number}, column {}: {field:?} is not a number",
                    path.display(),
                    column_index + 1
                ),
            }
        }
        n_rows += 1;
    }
    if n_rows == 0 {
        bail!("{}: embedding is empty (no data rows)", path.display());
    }
    Ok(Array2::from_shape_vec((n_rows, n_columns), values)?)
}

/// Reads one label per line; the count must match the embedding's rows.
fn read_labels(path: &Path, n_rows: usize) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut labels = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        let label = line.trim_end_matches('\r');
        if label.trim().is_empty() {
            bail!(
                "{}: line {} is an empty label",
                path.display(),
                line_index + 1
            );
        }
        labels.push(label.to_owned());
    }
    if labels.is_empty() {
        bail!("{}: no labels (empty file)", path.display());
    }
    if labels.len() != n_rows {
        bail!(
            "{}: {} labels but the embedding has {n_rows} rows",
            path.display(),
            labels.len()
        );
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::{Path, PathBuf};

    use ndarray::Array2;
    use ndarray_npy::write_npy;

    use super::{Algorithm, Covariance, ScoreArgs, score_json};

    fn write(directory: &Path, name: &str, text: &str) -> PathBuf {
        let path = directory.join(name);
        let mut file = std::fs::File::create(&path).expect("temp file");
        file.write_all(text.as_bytes()).expect("write");
        path
    }

    fn args(embedding: PathBuf) -> ScoreArgs {
        ScoreArgs {
            embedding,
            truth: None,
            k: None,
            pred: None,
            algo: Algorithm::Kmeans,
            covariance: None,
            seed: 0,
        }
    }

    /// Two well separated groups of three points, as CSV with a header.
    fn two_groups_csv() -> &'static str {
        "x,y\n0,0\n0.1,0\n0,0.1\n5,5\n5.1,5\n5,5.1\n"
    }

    /// The error of a run that must fail, checked to be one line.
    fn error_of(args: &ScoreArgs) -> String {
        let message = format!("{:#}", score_json(args).expect_err("bad input must fail"));
        assert!(!message.contains('\n'), "one line: {message}");
        message
    }

    #[test]
    fn clusters_and_scores_a_csv_with_truth() {
        let directory = tempfile::tempdir().expect("temp dir");
        let mut arguments = args(write(directory.path(), "e.csv", two_groups_csv()));
        arguments.truth = Some(write(
            directory.path(),
            "t.txt",
            "rock\nrock\nrock\npop\npop\npop\n",
        ));
        let json: serde_json::Value =
            serde_json::from_str(&score_json(&arguments).expect("valid")).expect("json");
        assert_eq!(json["n"], 6);
        assert_eq!(json["d"], 2);
        assert_eq!(json["k"], 2);
        assert!((json["ari"].as_f64().expect("ari") - 1.0).abs() < 1e-12);
        assert!((json["purity"].as_f64().expect("purity") - 1.0).abs() < 1e-12);
        assert!(json["silhouette"].as_f64().expect("silhouette") > 0.9);
        assert!(json["disentanglement_score"].as_f64().is_some());
    }

    #[test]
    fn every_algorithm_finds_two_separated_groups() {
        let directory = tempfile::tempdir().expect("temp dir");
        let truth = write(
            directory.path(),
            "t.txt",
            "rock\nrock\nrock\npop\npop\npop\n",
        );
        let embedding = write(directory.path(), "e.csv", two_groups_csv());
        let runs = [
            (Algorithm::Kmeans, None),
            (Algorithm::Agglomerative, None),
            (Algorithm::Gmm, None),
            (Algorithm::Gmm, Some(Covariance::Diag)),
        ];
        for (algo, covariance) in runs {
            let arguments = ScoreArgs {
                truth: Some(truth.clone()),
                algo,
                covariance,
                ..args(embedding.clone())
            };
            let json: serde_json::Value =
                serde_json::from_str(&score_json(&arguments).expect("valid")).expect("json");
            assert_eq!(json["k"], 2, "{algo:?}");
            assert!(
                (json["ari"].as_f64().expect("ari") - 1.0).abs() < 1e-12,
                "{algo:?} {covariance:?}: {json}"
            );
        }
        let misplaced = ScoreArgs {
            truth: Some(truth),
            covariance: Some(Covariance::Diag),
            ..args(embedding)
        };
        assert_eq!(
            error_of(&misplaced),
            "--covariance applies only to --algo gmm"
        );
    }

    #[test]
    fn scores_given_predictions_from_npy_of_either_float_type() {
        let directory = tempfile::tempdir().expect("temp dir");
        let data =
            Array2::from_shape_vec((4, 2), vec![0.0_f32, 0.0, 0.0, 1.0, 9.0, 9.0, 9.0, 10.0])
                .expect("shape");
        let path32 = directory.path().join("e32.npy");
        write_npy(&path32, &data).expect("write npy");
        let path64 = directory.path().join("e64.npy");
        write_npy(&path64, &data.mapv(f64::from)).expect("write npy");
        let pred = write(directory.path(), "p.txt", "a\na\nb\nb\n");
        let mut outputs = Vec::new();
        for path in [path32, path64] {
            let mut arguments = args(path);
            arguments.pred = Some(pred.clone());
            outputs.push(score_json(&arguments).expect("valid"));
        }
        assert_eq!(outputs[0], outputs[1]);
        assert!(
            outputs[0].starts_with(r#"{"n":4,"d":2,"k":2,"silhouette":"#),
            "{}",
            outputs[0]
        );
        // Without --truth the external scores are null, and say why.
        let json: serde_json::Value = serde_json::from_str(&outputs[0]).expect("json");
        assert!(json["ari"].is_null());
        assert_eq!(json["absent"]["ari"], "no --truth given");
        assert_eq!(json["absent"]["disentanglement_score"], "no --truth given");
    }

    #[test]
    fn bad_embedding_files_name_the_problem() {
        let directory = tempfile::tempdir().expect("temp dir");
        let cases = [
            (
                "nan.csv",
                "1,2\n3,nan\n5,6\n",
                "nan.csv: value NaN at row 2, column 2 is not finite (rows and columns count from 1)",
            ),
            (
                "inf.csv",
                "1,2\n3,4\n-inf,6\n",
                "inf.csv: value -inf at row 3, column 1 is not finite (rows and columns count from 1)",
            ),
            (
                "ragged.csv",
                "a,b\n1,2\n3\n",
                "ragged.csv: line 3 has 1 columns, expected 2 (ragged file)",
            ),
            (
                "empty.csv",
                "",
                "empty.csv: embedding is empty (no data rows)",
            ),
            (
                "header.csv",
                "x,y\n",
                "header.csv: embedding is empty (no data rows)",
            ),
            ("blank.csv", "1,2\n\n3,4\n", "blank.csv: line 2 is empty"),
            (
                "words.csv",
                "1,2\n3,x\n",
                "words.csv: line 2, column 2: \"x\" is not a number",
            ),
            (
                "garbage.npy",
                "not an npy file",
                "garbage.npy: not a valid npy file",
            ),
            (
                "table.txt",
                "1,2\n",
                "table.txt: unsupported embedding file type (expected .npy or .csv)",
            ),
        ];
        for (name, contents, expected) in cases {
            let arguments = ScoreArgs {
                k: Some(2),
                ..args(write(directory.path(), name, contents))
            };
            let message = error_of(&arguments);
            assert!(message.contains(expected), "{name}: {message}");
        }
        let missing = ScoreArgs {
            k: Some(2),
            ..args(directory.path().join("missing.csv"))
        };
        assert!(error_of(&missing).contains("missing.csv: cannot read"));
    }

    #[test]
    fn npy_files_of_the_wrong_type_or_shape_are_rejected() {
        let directory = tempfile::tempdir().expect("temp dir");
        let integers = Array2::from_shape_vec((3, 1), vec![1_i64, 2, 3]).expect("shape");
        let int_path = directory.path().join("int.npy");
        write_npy(&int_path, &integers).expect("write npy");
        let message = error_of(&ScoreArgs {
            k: Some(2),
            ..args(int_path)
        });
        assert!(
            message.contains("int.npy: npy data type")
                && message.ends_with("is not supported (expected float32 or float64)"),
            "{message}"
        );
        let vector_path = directory.path().join("vector.npy");
        write_npy(&vector_path, &ndarray::array![1.0_f64, 2.0]).expect("write npy");
        let message = error_of(&ScoreArgs {
            k: Some(2),
            ..args(vector_path)
        });
        assert!(
            message.ends_with("vector.npy: npy array has 1 dimensions, expected 2"),
            "{message}"
        );
    }

    #[test]
    fn a_single_given_cluster_has_no_internal_scores_and_says_why() {
        let directory = tempfile::tempdir().expect("temp dir");
        let dir = directory.path();
        let one_cluster = ScoreArgs {
            pred: Some(write(dir, "one.txt", "a\na\na\na\na\na\n")),
            truth: Some(write(dir, "t.txt", "rock\nrock\nrock\npop\npop\npop\n")),
            ..args(write(dir, "e.csv", two_groups_csv()))
        };
        let json: serde_json::Value =
            serde_json::from_str(&score_json(&one_cluster).expect("scored")).expect("json");
        assert_eq!(json["k"], 1);
        assert!(json["silhouette"].is_null());
        assert_eq!(
            json["absent"]["silhouette"],
            "1 distinct clusters for 6 tracks: internal scores need 2 to n - 1"
        );
        assert_eq!(json["ari"], 0.0);
        assert!(json["disentanglement_score"].as_f64().is_some());
    }

    #[test]
    fn label_and_k_errors_name_the_flag_or_file() {
        let directory = tempfile::tempdir().expect("temp dir");
        let dir = directory.path();
        let embedding = write(dir, "e.csv", two_groups_csv());
        let mismatch = ScoreArgs {
            truth: Some(write(dir, "short.txt", "a\nb\n")),
            ..args(embedding.clone())
        };
        assert!(error_of(&mismatch).ends_with("short.txt: 2 labels but the embedding has 6 rows"));
        let empty_labels = ScoreArgs {
            pred: Some(write(dir, "empty.txt", "")),
            ..args(embedding.clone())
        };
        assert!(error_of(&empty_labels).ends_with("empty.txt: no labels (empty file)"));
        let blank_label = ScoreArgs {
            pred: Some(write(dir, "blank.txt", "a\n\nb\na\nb\na\n")),
            ..args(embedding.clone())
        };
        assert!(error_of(&blank_label).ends_with("blank.txt: line 2 is an empty label"));
        let one_truth_class = ScoreArgs {
            truth: Some(write(dir, "same.txt", "x\nx\nx\nx\nx\nx\n")),
            ..args(embedding.clone())
        };
        assert_eq!(
            error_of(&one_truth_class),
            "the number of distinct --truth labels is 1: k must satisfy 2 <= k < n = 6"
        );
        for (k, expected) in [
            (1, "--k is 1: k must satisfy 2 <= k < n = 6"),
            (6, "--k is 6: k must satisfy 2 <= k < n = 6"),
        ] {
            let arguments = ScoreArgs {
                k: Some(k),
                ..args(embedding.clone())
            };
            assert_eq!(error_of(&arguments), expected);
        }
        assert_eq!(
            error_of(&args(embedding)),
            "--k is required when neither --truth nor --pred is given"
        );
    }
}
