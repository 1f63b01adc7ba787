//! Resolution of a parsed [`DeviceChoice`] against the devices libtorch sees.

use songvae_run::device::DeviceChoice;

/// A CUDA device was asked for that libtorch cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device {requested} is not available: libtorch sees {available} CUDA device(s)")]
pub struct DeviceUnavailable {
    /// The device that was asked for.
    pub requested: DeviceChoice,
    /// How many CUDA devices libtorch sees.
    pub available: usize,
}

/// The libtorch device for `choice`, checked against what libtorch sees.
pub fn resolve(choice: DeviceChoice) -> Result<tch::Device, DeviceUnavailable> {
    let available = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
    match choice {
        DeviceChoice::Auto if available > 0 => Ok(tch::Device::Cuda(0)),
        DeviceChoice::Cpu | DeviceChoice::Auto => Ok(tch::Device::Cpu),
        DeviceChoice::Cuda(index) if index < available => Ok(tch::Device::Cuda(index)),
        DeviceChoice::Cuda(_) => Err(DeviceUnavailable {
            requested: choice,
            available,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_always_resolves_and_missing_cuda_is_an_error() {
        assert_eq!(resolve(DeviceChoice::Cpu).unwrap(), tch::Device::Cpu);
        let available = usize::try_from(tch::Cuda::device_count()).unwrap();
        let beyond = DeviceChoice::Cuda(available);
        assert_eq!(
            resolve(beyond).unwrap_err(),
            DeviceUnavailable {
                requested: beyond,
                available
            }
        );
        let auto = resolve(DeviceChoice::Auto).unwrap();
        assert_eq!(auto.is_cuda(), available > 0);
    }
}
