//! IDEC's clustering layer (Guo et al., IJCAI 2017, after DEC, Xie et al. 2016).
//!
//! Cluster centres `mu_j` (`k x d`, trained with the autoencoder) give each
//! latent point `z_i` Student-t soft assignments with one degree of freedom
//!
//! ```text
//! q_ij = (1 + |z_i - mu_j|^2)^-1 / sum_j' (1 + |z_i - mu_j'|^2)^-1
//! ```
//!
//! and a sharpened target `p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')`,
//! `f_j = sum_i q_ij`, held fixed between updates. The clustering loss of a
//! batch is `KL(P || Q)` summed over clusters and averaged over tracks; IDEC
//! adds it, weighted by `gamma`, to the reconstruction loss.

use ndarray::Array2;
use tch::{Kind, Tensor, nn};

/// The trainable cluster centres of an IDEC.
#[derive(Debug)]
pub struct StudentTClusters {
    centres: Tensor,
}

impl StudentTClusters {
    /// Creates the centres under `path`, starting from `centres` (`k x d`,
    /// e.g. k-means on the pretrained latents).
    #[must_use]
    pub fn from_centres(path: &nn::Path, centres: &Array2<f64>) -> Self {
        let shape = [centres.nrows() as i64, centres.ncols() as i64];
        let contiguous = centres.as_standard_layout();
        let flat = contiguous
            .as_slice()
            .expect("a standard-layout array is contiguous");
        let initial = Tensor::from_slice(flat)
            .view(shape)
            .to_kind(Kind::Float)
            .to_device(path.device());
        Self {
            centres: path.var_copy("cluster_centres", &initial),
        }
    }

    /// Soft assignments `q`, `n x k`, rows summing to 1.
    pub fn soft_assignments(&self, z: &Tensor) -> Tensor {
        let squared_distances = (z.unsqueeze(1) - self.centres.unsqueeze(0))
            .square()
            .sum_dim_intlist(2, false, Kind::Float);
        let kernel = (squared_distances + 1.0).reciprocal();
        let totals = kernel.sum_dim_intlist(1, true, Kind::Float);
        kernel / totals
    }
}

/// The target distribution `p` of soft assignments `q` (`n x k`).
pub fn target_distribution(q: &Tensor) -> Tensor {
    let weight = q.square() / q.sum_dim_intlist(0, true, Kind::Float);
    let totals = weight.sum_dim_intlist(1, true, Kind::Float);
    weight / totals
}

/// `KL(P || Q)` per track summed over clusters, averaged over the rows:
/// the clustering loss of a batch.
pub fn clustering_loss(target: &Tensor, q: &Tensor) -> Tensor {
    let rows = q.size()[0].max(1) as f64;
    // 0 ln 0 = 0: a target entry of exactly zero adds nothing.
    let safe_target = target.clamp_min(1e-30);
    (target * (safe_target.log() - q.clamp_min(1e-30).log())).sum(Kind::Float) / rows
}
