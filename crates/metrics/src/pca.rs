//! Principal component analysis with scikit-learn's conventions.
//!
//! The data is centred on its column means; the components are the
//! eigenvectors of the sample covariance `Xc^T Xc / (n - 1)` (nalgebra's
//! symmetric eigendecomposition), sorted by decreasing eigenvalue. As in
//! scikit-learn >= 1.5 (`svd_flip(..., u_based_decision=False)`), each
//! component is signed so that its largest-magnitude loading is positive
//! (the first such loading on ties). `explained_variance` holds the
//! eigenvalues (negative rounding noise clipped to 0) and
//! `explained_variance_ratio` divides them by the sum of all eigenvalues,
//! kept or not.
//!
//! | parameter | valid |
//! |---|---|
//! | `n_components` | 1 to min(n_samples, n_features) |
//! | samples | at least 2 |

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{Error, Result, check_finite};

/// A fitted PCA: the mean it centres with and the kept components.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Column means of the training data.
    pub mean: Array1<f64>,
    /// Principal axes, one per row (`n_components x n_features`), unit length.
    pub components: Array2<f64>,
    /// Variance of the data along each component (eigenvalue of the covariance).
    pub explained_variance: Array1<f64>,
    /// Share of the total variance along each component.
    pub explained_variance_ratio: Array1<f64>,
}

impl Pca {
    /// Fits `n_components` principal components to `data` (one sample per row).
    pub fn fit(data: ArrayView2<'_, f64>, n_components: usize) -> Result<Self> {
        let (n_samples, n_features) = data.dim();
        if n_samples < 2 {
            return Err(Error::InvalidParameter {
                parameter: "samples",
                value: n_samples.to_string(),
                expected: "at least 2 rows".to_owned(),
            });
        }
        if n_features == 0 {
            return Err(Error::Empty {
                what: "data columns",
            });
        }
        check_finite(data)?;
        let max_components = n_samples.min(n_features);
        if n_components == 0 || n_components > max_components {
            return Err(Error::InvalidParameter {
                parameter: "n_components",
                value: n_components.to_string(),
                expected: format!("between 1 and min(n_samples, n_features) = {max_components}"),
            });
        }
        let mut mean = Array1::<f64>::zeros(n_features);
        for row in data.outer_iter() {
            mean += &row;
        }
        mean /= n_samples as f64;
        let mut centred = data.to_owned();
        for mut row in centred.outer_iter_mut() {
            row -= &mean;
        }
        let covariance = centred.t().dot(&centred) / (n_samples as f64 - 1.0);
        let matrix = DMatrix::from_fn(n_features, n_features, |i, j| covariance[[i, j]]);
        let eigen = SymmetricEigen::new(matrix);
        let mut order: Vec<usize> = (0..n_features).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));

        let mut all_variances = Vec::with_capacity(n_features);
        for &index in &order {
            all_variances.push(eigen.eigenvalues[index].max(0.0));
        }
        let total_variance: f64 = all_variances.iter().sum();
        let mut components = Array2::<f64>::zeros((n_components, n_features));
        for (component_index, &eigen_index) in order.iter().take(n_components).enumerate() {
            let vector = eigen.eigenvectors.column(eigen_index);
            let mut largest = 0;
            for feature in 1..n_features {
                if vector[feature].abs() > vector[largest].abs() {
                    largest = feature;
                }
            }
            let sign = if vector[largest] < 0.0 { -1.0 } else { 1.0 };
            for feature in 0..n_features {
                components[[component_index, feature]] = sign * vector[feature];
            }
        }
        let explained_variance =
            Array1::from_iter(all_variances.iter().take(n_components).copied());
        let explained_variance_ratio = &explained_variance / total_variance;
        Ok(Self {
            mean,
            components,
            explained_variance,
            explained_variance_ratio,
        })
    }

    /// Projects `data` onto the components: `(data - mean) components^T`.
    pub fn transform(&self, data: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if data.ncols() != self.mean.len() {
            return Err(Error::LengthMismatch {
                what: "pca mean (features)",
                got: self.mean.len(),
                expected: data.ncols(),
            });
        }
        check_finite(data)?;
        let mut centred = data.to_owned();
        for mut row in centred.outer_iter_mut() {
            row -= &self.mean;
        }
        Ok(centred.dot(&self.components.t()))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::Pca;

    #[test]
    fn a_line_has_one_component_with_all_the_variance() {
        let data = array![[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]];
        let pca = Pca::fit(data.view(), 2).expect("valid");
        let norm = 5.0_f64.sqrt();
        assert!((pca.components[[0, 0]] - 1.0 / norm).abs() < 1e-12);
        assert!((pca.components[[0, 1]] - 2.0 / norm).abs() < 1e-12);
        assert!((pca.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
        // Variance along the line: |(1, 2)|^2 * var([1, 2, 3, 4], ddof = 1).
        assert!((pca.explained_variance[0] - 5.0 * 5.0 / 3.0).abs() < 1e-12);
        let projected = pca.transform(data.view()).expect("same width");
        assert!((projected[[0, 0]] + 1.5 * norm).abs() < 1e-12);
    }

    #[test]
    fn too_many_components_is_an_error() {
        let data = array![[1.0, 2.0], [2.0, 4.0], [3.0, 7.0]];
        let error = Pca::fit(data.view(), 3).expect_err("3 > 2 features");
        assert_eq!(
            error.to_string(),
            "invalid n_components = 3: between 1 and min(n_samples, n_features) = 2"
        );
    }
}
