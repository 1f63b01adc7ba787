//! The compute device as parsed once at the edge (command line or config);
//! `songvae_models::device::resolve` checks it against what libtorch sees.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a run computes: `auto`, `cpu`, `cuda` or `cuda:N`.
///
/// `auto` means the first CUDA device when libtorch sees one, else the CPU.
/// `cuda` is `cuda:0`. The text form round-trips through [`FromStr`] and
/// [`fmt::Display`], and serde uses the same text.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceChoice {
    /// CUDA device 0 when available, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The CUDA device with this index.
    Cuda(usize),
}

/// A device string that is none of `auto`, `cpu`, `cuda`, `cuda:N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid device '{given}': expected auto, cpu, cuda or cuda:N")]
pub struct InvalidDevice {
    /// The text that was given.
    pub given: String,
}

impl FromStr for DeviceChoice {
    type Err = InvalidDevice;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidDevice {
            given: text.to_owned(),
        };
        match text.trim() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => {
                let index = other.strip_prefix("cuda:").ok_or_else(invalid)?;
                if index.is_empty() || !index.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Err(invalid());
                }
                index.parse().map(Self::Cuda).map_err(|_| invalid())
            }
        }
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = InvalidDevice;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<DeviceChoice> for String {
    fn from(choice: DeviceChoice) -> Self {
        choice.to_string()
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => formatter.write_str("auto"),
            Self::Cpu => formatter.write_str("cpu"),
            Self::Cuda(index) => write!(formatter, "cuda:{index}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_valid_form_and_round_trips() {
        let cases = [
            ("auto", DeviceChoice::Auto),
            ("cpu", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:0", DeviceChoice::Cuda(0)),
            ("cuda:3", DeviceChoice::Cuda(3)),
            (" cpu ", DeviceChoice::Cpu),
        ];
        for (text, expected) in cases {
            let parsed: DeviceChoice = text.parse().unwrap();
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(parsed.to_string().parse::<DeviceChoice>().unwrap(), parsed);
        }
    }

    #[test]
    fn rejects_everything_else_naming_the_input() {
        for text in [
            "", "gpu", "CUDA", "cuda:", "cuda:-1", "cuda:x", "cuda:+1", "cuda 1", "mps",
        ] {
            let error = text.parse::<DeviceChoice>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid device '{text}': expected auto, cpu, cuda or cuda:N")
            );
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let parsed: DeviceChoice = serde_json::from_str("\"cuda:1\"").unwrap();
        assert_eq!(parsed, DeviceChoice::Cuda(1));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"cuda:1\"");
        let error = serde_json::from_str::<DeviceChoice>("\"tpu\"").unwrap_err();
        assert!(
            error.to_string().contains("invalid device 'tpu'"),
            "{error}"
        );
    }
}
