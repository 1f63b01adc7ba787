//! Audio decoding: any supported file to mono `f32` samples at 22,050 Hz.
//!
//! Decoding uses `symphonia` (WAV with PCM, FLAC, Ogg Vorbis and MP3).
//! Integer PCM is scaled to `[-1, 1)` exactly as `soundfile` (and so
//! `librosa.load`) does, channels are averaged to mono, and any other sample
//! rate is converted with libsoxr at `soxr_hq`, the resampler and quality of
//! `librosa.load` ([`crate::soxr`]). Input at 22,050 Hz is never resampled and
//! never needs libsoxr.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::audio::{Channels, SampleBuffer};
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{Error, Result};

/// The sample rate every signal is converted to, as `librosa.load`'s default.
pub const TARGET_SAMPLE_RATE: u32 = 22_050;

/// A decoded file, already averaged to one channel, at its own sample rate.
#[derive(Clone, Debug, PartialEq)]
pub struct MonoAudio {
    /// Mono samples in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate of `samples` in Hz.
    pub sample_rate: u32,
    /// Number of channels in the file before the downmix.
    pub channels: usize,
}

/// Decode any supported file (WAV, FLAC, Ogg Vorbis, MP3), downmix to mono by
/// averaging channels, resample to 22,050 Hz.
pub fn load_mono(path: &Path) -> Result<Vec<f32>> {
    let decoded = decode_mono(path)?;
    if decoded.sample_rate == TARGET_SAMPLE_RATE {
        return Ok(decoded.samples);
    }
    resample(&decoded.samples, decoded.sample_rate, TARGET_SAMPLE_RATE).map_err(|error| {
        Error::Resample {
            path: path.to_path_buf(),
            from_rate: decoded.sample_rate,
            reason: error.to_string(),
        }
    })
}

/// Decodes a file and averages its channels, keeping its own sample rate.
///
/// Corrupt, truncated, empty and unsupported files are errors that name the
/// path. Plain 16-bit PCM WAV files are converted directly from their bytes
/// (the same samples symphonia gives, several times faster); every other
/// file is decoded by symphonia.
pub fn decode_mono(path: &Path) -> Result<MonoAudio> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let is_empty_file = file.metadata().map(|meta| meta.len() == 0);
    if matches!(is_empty_file, Ok(true)) {
        return Err(Error::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    let mut magic = [0_u8; 12];
    let is_riff_wave = file.read_exact(&mut magic).is_ok() && is_riff_wave(&magic);
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let source: Box<dyn MediaSource> = if is_riff_wave {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_error)?;
        if let Some(decoded) = decode_pcm16_wav(&bytes) {
            return Ok(decoded);
        }
        Box::new(Cursor::new(bytes))
    } else {
        Box::new(file)
    };
    decode_with_symphonia(path, source)
}

/// Decodes `source` (the contents of `path`) with symphonia and averages its channels.
// One linear probe-decode-downmix sequence; cutting it up would only make
// single-use helpers, which the house style avoids.
#[allow(clippy::too_many_lines)]
fn decode_with_symphonia(path: &Path, source: Box<dyn MediaSource>) -> Result<MonoAudio> {
    let stream = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|extension| extension.to_str()) {
        hint.with_extension(extension);
    }
    let unsupported = |reason: String| Error::UnsupportedAudio {
        path: path.to_path_buf(),
        reason,
    };
    let corrupt = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions {
                // Trim encoder delay and padding (MP3 LAME tags) as libsndfile does.
                enable_gapless: true,
                ..FormatOptions::default()
            },
            &MetadataOptions::default(),
        )
        .map_err(|error| symphonia_error(path, error))?;
    let mut format = probed.format;
    let Some(track) = format
        .tracks()
        .iter()
        .find(|track| track.codec_params.codec != CODEC_TYPE_NULL)
    else {
        return Err(unsupported("no audio track".to_owned()));
    };
    let track_id = track.id;
    let expected_frames = track.codec_params.n_frames;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|error| symphonia_error(path, error))?;

    let mut mono = Vec::new();
    let mut sample_rate = track.codec_params.sample_rate;
    let mut channels = track.codec_params.channels.map(Channels::count);
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(error))
                if error.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                break;
            }
            Err(SymphoniaError::ResetRequired) => {
                return Err(unsupported(
                    "stream changes its parameters mid-file".to_owned(),
                ));
            }
            Err(other) => return Err(symphonia_error(path, other)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = decoder
            .decode(&packet)
            .map_err(|error| symphonia_error(path, error))?;
        let spec = *decoded.spec();
        let channel_count = spec.channels.count();
        if channel_count == 0 {
            return Err(corrupt("stream has no channels".to_owned()));
        }
        if sample_rate.is_some_and(|rate| rate != spec.rate)
            || channels.is_some_and(|count| count != channel_count)
        {
            return Err(unsupported(
                "sample rate or channel count changes mid-file".to_owned(),
            ));
        }
        sample_rate = Some(spec.rate);
        channels = Some(channel_count);
        let needed_capacity = decoded.capacity();
        let buffer = match &mut interleaved {
            Some(buffer) if buffer.capacity() >= needed_capacity * channel_count => buffer,
            _ => interleaved.insert(SampleBuffer::new(needed_capacity as u64, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        let samples = buffer.samples();
        if channel_count == 1 {
            mono.extend_from_slice(samples);
        } else {
            let inverse = 1.0 / channel_count as f32;
            for frame in samples.chunks_exact(channel_count) {
                let mut sum = 0.0_f32;
                for value in frame {
                    sum += value;
                }
                mono.push(sum * inverse);
            }
        }
    }

    if mono.is_empty() {
        return Err(Error::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    if let Some(expected) = expected_frames
        && (mono.len() as u64) < expected
    {
        return Err(corrupt(format!(
            "truncated or corrupt: header announces {expected} frames, only {} decoded",
            mono.len()
        )));
    }
    let Some(sample_rate) = sample_rate.filter(|rate| *rate > 0) else {
        return Err(corrupt("stream has no sample rate".to_owned()));
    };
    Ok(MonoAudio {
        samples: mono,
        sample_rate,
        channels: channels.unwrap_or(1),
    })
}

/// Whether a file starts like a RIFF/WAVE file.
fn is_riff_wave(header: &[u8]) -> bool {
    header.len() >= 12 && &header[..4] == b"RIFF" && &header[8..12] == b"WAVE"
}

/// Fast path for the commonest file: plain 16-bit integer PCM WAV
/// (`WAVE_FORMAT_PCM`, block align 2 x channels), converted straight from the
/// bytes. Gives exactly symphonia's samples (`i16 / 32768`, channels summed in
/// order then scaled by `1 / channels`) at a fraction of its per-sample cost.
/// Anything else, including a data chunk that is empty or runs past the end of
/// the file, returns `None` and goes through symphonia, which reports it.
fn decode_pcm16_wav(bytes: &[u8]) -> Option<MonoAudio> {
    const PCM_FORMAT: u16 = 1;
    let read_u16 = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let read_u32 = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    if !is_riff_wave(bytes) {
        return None;
    }
    let mut format = None;
    let mut position = 12;
    while position + 8 <= bytes.len() {
        let chunk_id = &bytes[position..position + 4];
        let chunk_len = usize::try_from(read_u32(position + 4)?).ok()?;
        let body = position + 8;
        if chunk_id == b"fmt " {
            // (channels, sample rate) when the format is the one handled here.
            let tag = read_u16(body)?;
            let channels = read_u16(body + 2)?;
            let sample_rate = read_u32(body + 4)?;
            let block_align = read_u16(body + 12)?;
            let bits = read_u16(body + 14)?;
            if tag != PCM_FORMAT || bits != 16 || channels == 0 || block_align != 2 * channels {
                return None;
            }
            format = Some((usize::from(channels), sample_rate));
        } else if chunk_id == b"data" {
            let (channels, sample_rate) = format?;
            let data = bytes.get(body..body.checked_add(chunk_len)?)?;
            if data.is_empty() || sample_rate == 0 || data.len() % (2 * channels) != 0 {
                return None;
            }
            return Some(MonoAudio {
                samples: pcm16_to_mono(data, channels),
                sample_rate,
                channels,
            });
        }
        // Chunks are padded to an even length.
        position = body.checked_add(chunk_len)?.checked_add(chunk_len % 2)?;
    }
    None
}

/// Little-endian interleaved 16-bit PCM to mono `f32`, as the symphonia path:
/// each sample `i16 / 32768`, channels summed in order, times `1 / channels`.
fn pcm16_to_mono(data: &[u8], channels: usize) -> Vec<f32> {
    // Collected rather than written into a zeroed vector: a zero-filled
    // allocation costs a memset pass (glibc reuses freed heap memory for a
    // clip-sized buffer) that every sample then overwrites.
    let scale = 1.0 / 32_768.0;
    if channels == 1 {
        // A map over fixed-size chunks, so that the loop vectorises.
        let (pairs, _) = data.as_chunks::<2>();
        return pairs
            .iter()
            .map(|pair| f32::from(i16::from_le_bytes(*pair)) * scale)
            .collect();
    }
    let inverse = 1.0 / channels as f32;
    data.chunks_exact(2 * channels)
        .map(|frame| {
            let mut sum = 0.0_f32;
            let (pairs, _) = frame.as_chunks::<2>();
            for pair in pairs {
                sum += f32::from(i16::from_le_bytes(*pair)) * scale;
            }
            sum * inverse
        })
        .collect()
}

/// Maps a symphonia error to ours: unsupported features are
/// [`Error::UnsupportedAudio`], everything else (malformed data, I/O) is [`Error::Decode`].
fn symphonia_error(path: &Path, error: SymphoniaError) -> Error {
    match error {
        SymphoniaError::Unsupported(what) => Error::UnsupportedAudio {
            path: path.to_path_buf(),
            reason: what.to_owned(),
        },
        other => Error::Decode {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// Converts mono samples between sample rates as `librosa.resample(...,
/// res_type="soxr_hq")`: libsoxr at `soxr_hq`, `ceil(len * to / from)` output
/// samples. Equal rates and empty input are returned unchanged without
/// loading libsoxr.
pub fn resample(samples: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>> {
    if from_rate == 0 || to_rate == 0 {
        return Err(Error::InvalidSignal {
            reason: format!("cannot resample from {from_rate} Hz to {to_rate} Hz"),
        });
    }
    if from_rate == to_rate || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    crate::soxr::Libsoxr::open()?.resample_hq(samples, from_rate, to_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/audio")
            .join(name)
    }

    #[test]
    fn pcm16_wav_fast_path_gives_symphonias_samples() {
        for name in ["chord_22050.wav", "stereo_22050.wav", "chord_44100.wav"] {
            let path = fixture(name);
            let bytes = std::fs::read(&path).expect("read fixture");
            let fast = decode_pcm16_wav(&bytes).expect("plain 16-bit PCM WAV");
            let file = File::open(&path).expect("open fixture");
            let reference = decode_with_symphonia(&path, Box::new(file)).expect("symphonia");
            assert_eq!(fast, reference, "{name}");
        }
    }

    #[test]
    fn wav_fast_path_declines_what_it_does_not_handle() {
        let bytes = std::fs::read(fixture("clip_22050.wav")).expect("read fixture");
        assert!(decode_pcm16_wav(&bytes).is_some());
        // Truncated data, a header without data, and a non-PCM format tag.
        assert!(decode_pcm16_wav(&bytes[..bytes.len() - 1]).is_none());
        assert!(decode_pcm16_wav(&bytes[..44]).is_none());
        let mut float_tagged = bytes.clone();
        float_tagged[20] = 3;
        assert!(decode_pcm16_wav(&float_tagged).is_none());
        assert!(decode_pcm16_wav(b"RIFF\0\0\0\0WAVEdata").is_none());
    }
}
