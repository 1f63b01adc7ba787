//! Every architecture: shapes of encode and decode, loss parts, parameters.

use songvae_models::model::{Batch, build, loss_parts, parameter_count};
use songvae_run::spec::{Activation, Architecture, DataShape, ModelSpec};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const SHAPE: DataShape = DataShape {
    feature_dim: 30,
    frames: Some((20, 50)),
    lyrics_dim: 6,
    condition_classes: 3,
};

fn batch(size: i64) -> Batch {
    let options = (Kind::Float, Device::Cpu);
    Batch {
        features: Tensor::ones([size, 30], options),
        frames: Some(Tensor::ones([size, 20, 50], options)),
        lyrics: Some(Tensor::ones([size, 6], options)),
        condition: Some(Tensor::zeros([size, 3], options)),
    }
}

#[test]
fn every_architecture_encodes_and_decodes_to_the_right_shapes() {
    for architecture in Architecture::ALL {
        let spec = ModelSpec {
            architecture,
            latent_dim: 4,
            hidden_dim: 16,
            depth: 2,
            activation: Activation::Relu,
            bounded_code: false,
        };
        let store = VarStore::new(Device::Cpu);
        let model = build(&spec, &SHAPE, &store.root()).unwrap();
        let name = architecture.name();
        let input = batch(5);
        let encoding = model.encode(&input);
        assert_eq!(encoding.mean.size(), vec![5, 4], "{name}");
        assert_eq!(
            encoding.logvar.is_some(),
            architecture.is_variational(),
            "{name}"
        );
        let reconstruction = model.decode(&encoding.mean, &input);
        if architecture == Architecture::ConvVae {
            assert_eq!(reconstruction.input.size(), vec![5, 20, 50], "{name}");
            assert_eq!(reconstruction.lyrics.unwrap().size(), vec![5, 6], "{name}");
        } else {
            assert_eq!(reconstruction.input.size(), vec![5, 30], "{name}");
            assert!(reconstruction.lyrics.is_none(), "{name}");
        }
        let noise = Tensor::zeros([5, 4], (Kind::Float, Device::Cpu));
        let parts = loss_parts(model.as_ref(), &input, Some(&noise));
        assert!(parts.reconstruction.double_value(&[]) > 0.0, "{name}");
        let kl = parts.kl.double_value(&[]);
        if architecture == Architecture::Ae {
            assert!(kl.abs() < f64::EPSILON, "the AE has no KL term");
        } else {
            assert!(kl >= 0.0, "{name}: KL {kl}");
        }
        assert!(parameter_count(&store) > 0, "{name}");
    }
}

#[test]
fn the_cvae_is_wider_by_its_condition_and_the_dense_layers_follow_the_spec() {
    let count = |architecture| {
        let spec = ModelSpec {
            architecture,
            latent_dim: 4,
            hidden_dim: 16,
            depth: 2,
            activation: Activation::Relu,
            bounded_code: false,
        };
        let store = VarStore::new(Device::Cpu);
        let _model = build(&spec, &SHAPE, &store.root()).unwrap();
        parameter_count(&store)
    };
    // VAE: 30-16-8 encoder, two 8->4 heads, 4-8-16-30 decoder.
    let vae = (30 * 16 + 16)
        + (16 * 8 + 8)
        + 2 * (8 * 4 + 4)
        + (4 * 8 + 8)
        + (8 * 16 + 16)
        + (16 * 30 + 30);
    assert_eq!(count(Architecture::Vae), vae);
    assert_eq!(count(Architecture::BetaVae), vae);
    // The condition (3 classes) joins the encoder input and the decoder input.
    assert_eq!(count(Architecture::Cvae), vae + 3 * 16 + 3 * 8);
    // The AE has one head.
    assert_eq!(count(Architecture::Ae), vae - (8 * 4 + 4));
}

#[test]
fn building_checks_the_data_shape() {
    let spec = ModelSpec {
        architecture: Architecture::ConvVae,
        latent_dim: 4,
        hidden_dim: 16,
        depth: 2,
        activation: Activation::Relu,
        bounded_code: false,
    };
    let store = VarStore::new(Device::Cpu);
    let without_frames = DataShape {
        frames: None,
        ..SHAPE
    };
    let error = build(&spec, &without_frames, &store.root()).err().unwrap();
    assert_eq!(
        error.to_string(),
        "conv_vae needs per-track frame matrices, and this dataset has no frames"
    );
}
