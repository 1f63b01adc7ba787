//! The embedded fixture dataset: 48 synthetic songs with lyrics, generated deterministically.
//!
//! `cargo xtask fixtures` writes it to `fixtures/dataset/`, where it is
//! committed; a test regenerates it into a temporary directory and compares
//! every file byte for byte. It is the default dataset of the sweeps, small
//! enough to commit (about 8.5 MB) and real enough to cluster:
//!
//! | genre | tempo (BPM) | timbre | pitch (MIDI) | rhythm |
//! |---|---|---|---|---|
//! | `ambient` | 52-76 | detuned sine pads, soft bells | 36-64 (bells to 76) | long held chords |
//! | `chiptune` | 132-176 | square leads (random duty), noise hits, triangle bass | 64-88 | straight 16ths |
//! | `folk` | 88-120 | Karplus-Strong plucks and strums | 50-76 | 8ths with rests |
//! | `funk` | 92-124 | sine+harmonic bass, kick, hi-hat noise | 31-50 | syncopated 16ths |
//!
//! Each song draws its tempo, key, note pattern, mix levels and background
//! noise from its own seeded `ChaCha8` stream, and one song in three carries a
//! quiet layer borrowed from another style, so the styles overlap on every
//! single feature and the clustering problem is learnable but not trivial.
//! Songs are 4 s of 22,050 Hz mono 16-bit PCM. Lyrics are English or Bangla
//! (Bengali script), drawn from a per-style vocabulary mixed with words
//! shared by all styles; `genre` and `language` are the labels, balanced
//! (12 songs per genre, 6 per language within each genre).
//!
//! Only `ChaCha8Rng::next_u64` is used for randomness (its stream is fixed by
//! the algorithm); uniform and other draws are derived here, so the output
//! does not depend on `rand` distribution code.

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::error::{Error, Result};

/// Sample rate of the generated WAV files.
pub const SAMPLE_RATE: u32 = 22_050;
/// Length of every song in seconds.
pub const SONG_SECONDS: usize = 4;
/// Songs per genre (half English, half Bangla).
pub const SONGS_PER_GENRE: usize = 12;
/// The genre labels, in the order songs cycle through them.
pub const GENRES: [&str; 4] = ["ambient", "chiptune", "folk", "funk"];
/// Seed of the whole dataset; song `i` uses `FIXTURE_SEED + i`.
pub const FIXTURE_SEED: u64 = 0x50_4E_47_56_41_45; // "SNGVAE"

/// The descriptor written beside the manifest.
const DATASET_JSON: &str = r#"{
  "name": "songvae-fixture-48",
  "manifest": "manifest.csv",
  "id_column": "id",
  "audio": { "files": "audio_path" },
  "lyrics": { "text_column": "lyrics" },
  "labels": ["genre", "language"]
}
"#;

/// Words every style uses, English then Bangla.
const SHARED_WORDS: [&[&str]; 2] = [
    &[
        "love", "heart", "you", "me", "my", "we", "and", "in", "with", "the", "never", "again",
    ],
    &[
        "ভালোবাসা",
        "হৃদয়",
        "তুমি",
        "আমি",
        "আমার",
        "আর",
        "আমরা",
        "সাথে",
        "কিন্তু",
        "শুধু",
        "কখনো",
        "আবার",
    ],
];

/// Per-genre vocabularies (in `GENRES` order), English then Bangla.
const STYLE_WORDS: [[&[&str]; 2]; 4] = [
    [
        &[
            "drift", "ocean", "slow", "dream", "cloud", "silver", "quiet", "moon", "breathe",
            "float", "horizon", "soft", "glow", "mist", "tide", "distant", "still", "evening",
            "stars", "whisper", "sleep", "wave", "calm", "shimmer", "endless", "deep", "hollow",
            "fading", "snow", "feather",
        ],
        &[
            "স্বপ্ন",
            "মেঘ",
            "আকাশ",
            "নদী",
            "ঢেউ",
            "চাঁদ",
            "তারা",
            "নীরব",
            "শান্ত",
            "ঘুম",
            "কুয়াশা",
            "সন্ধ্যা",
            "জ্যোৎস্না",
            "ভাসে",
            "দূরে",
            "হাওয়া",
            "নীল",
            "গভীর",
            "ধীরে",
            "সাগর",
            "নিঃশ্বাস",
            "শিশির",
            "বৃষ্টি",
            "ছায়া",
            "মৌন",
            "অসীম",
            "স্নিগ্ধ",
            "পালক",
            "জোয়ার",
            "তন্দ্রা",
        ],
    ],
    [
        &[
            "jump", "pixel", "run", "level", "coin", "power", "boss", "score", "fast", "laser",
            "rocket", "neon", "speed", "electric", "game", "player", "blast", "zoom", "bonus",
            "robot", "arcade", "combo", "spark", "turbo", "dash", "glitch", "hero", "bright",
            "flash", "click",
        ],
        &[
            "লাফ",
            "দৌড়",
            "খেলা",
            "জোরে",
            "বিদ্যুৎ",
            "রকেট",
            "ঝলক",
            "গতি",
            "যন্ত্র",
            "রোবট",
            "শক্তি",
            "জয়",
            "স্তর",
            "মুদ্রা",
            "নায়ক",
            "ঝড়",
            "চমক",
            "উড়ান",
            "ছুট",
            "বোতাম",
            "পর্দা",
            "খেলোয়াড়",
            "লক্ষ্য",
            "বিস্ফোরণ",
            "দ্রুত",
            "উজ্জ্বল",
            "রঙিন",
            "ঝিলিক",
            "লেজার",
            "পয়েন্ট",
        ],
    ],
    [
        &[
            "river",
            "road",
            "home",
            "village",
            "mother",
            "field",
            "harvest",
            "song",
            "boat",
            "wander",
            "old",
            "friend",
            "fire",
            "story",
            "mountain",
            "bread",
            "wooden",
            "barley",
            "valley",
            "journey",
            "grandfather",
            "lantern",
            "wheat",
            "meadow",
            "fiddle",
            "shepherd",
            "cottage",
            "pine",
            "morning",
            "rain",
        ],
        &[
            "গ্রাম",
            "মাঠ",
            "পথ",
            "মাটি",
            "নৌকা",
            "মাঝি",
            "ধান",
            "বাউল",
            "একতারা",
            "মা",
            "বাড়ি",
            "উঠান",
            "গান",
            "বটগাছ",
            "পুকুর",
            "হাট",
            "কৃষক",
            "খেত",
            "সকাল",
            "আম",
            "কাঁথা",
            "পল্লী",
            "ভাটিয়ালি",
            "মেঠো",
            "কুটির",
            "দিগন্ত",
            "চাষি",
            "বাঁশি",
            "খড়",
            "পিঠা",
        ],
    ],
    [
        &[
            "groove", "dance", "city", "street", "night", "move", "body", "funky", "bass", "shake",
            "party", "feel", "rhythm", "boogie", "strut", "midnight", "disco", "slide", "hustle",
            "soul", "hips", "floor", "gold", "cool", "swing", "jive", "clap", "baby", "tonight",
            "bounce",
        ],
        &[
            "নাচ",
            "শহর",
            "রাস্তা",
            "রাত্রি",
            "ছন্দ",
            "তাল",
            "দোলা",
            "মজা",
            "আসর",
            "হাততালি",
            "পা",
            "কোমর",
            "ঝংকার",
            "বাজনা",
            "উৎসব",
            "আড্ডা",
            "বন্ধু",
            "আজ",
            "চল",
            "নাচো",
            "গলি",
            "জমকালো",
            "ঢোল",
            "মাদল",
            "ঘুঙুর",
            "মেতে",
            "রঙ",
            "আলোয়",
            "প্রাণ",
            "দুলে",
        ],
    ],
];

/// A seeded source of the few random draws the synthesis needs.
struct Draws {
    generator: ChaCha8Rng,
}

impl Draws {
    fn new(seed: u64) -> Self {
        Self {
            generator: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.generator.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[low, high)`.
    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform integer in `0..count` (count > 0).
    fn index(&mut self, count: usize) -> usize {
        ((self.unit() * count as f64) as usize).min(count - 1)
    }

    /// True with probability `probability`.
    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// Uniform in `[-1, 1)`: white noise.
    fn noise(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }
}

fn midi_to_hz(note: f64) -> f64 {
    440.0 * 2f64.powf((note - 69.0) / 12.0)
}

/// Linear attack, then hold, then linear release to zero at `length`.
fn envelope(position: usize, length: usize, attack: usize, release: usize) -> f64 {
    let attack = attack.max(1);
    let release = release.max(1);
    if position < attack {
        position as f64 / attack as f64
    } else if position + release > length {
        (length - position) as f64 / release as f64
    } else {
        1.0
    }
}

/// Adds `voice(position, time)` to the `length` samples from `start` on
/// (`time` = `position` / sample rate), stopping at the end of the buffer.
fn add_voice(
    buffer: &mut [f64],
    start: usize,
    length: usize,
    mut voice: impl FnMut(usize, f64) -> f64,
) {
    let rate = f64::from(SAMPLE_RATE);
    for position in 0..length {
        let Some(sample) = buffer.get_mut(start + position) else {
            break;
        };
        *sample += voice(position, position as f64 / rate);
    }
}

/// A held sine pad voice: two oscillators detuned by `detune` (ratio), slow vibrato.
fn add_pad(
    buffer: &mut [f64],
    start: usize,
    length: usize,
    frequency: f64,
    amplitude: f64,
    detune: f64,
) {
    let rate = f64::from(SAMPLE_RATE);
    let attack = (0.35 * rate) as usize;
    let release = (0.45 * rate) as usize;
    add_voice(buffer, start, length, |position, time| {
        let vibrato = 1.0 + 0.003 * (2.0 * std::f64::consts::PI * 5.0 * time).sin();
        let phase = 2.0 * std::f64::consts::PI * frequency * vibrato * time;
        let voice = 0.5 * (phase * (1.0 + detune)).sin() + 0.5 * (phase * (1.0 - detune)).sin();
        amplitude * envelope(position, length, attack, release) * voice
    });
}

/// A decaying sine (bell, kick when `sweep` > 0 bends the pitch down from `frequency * (1 + sweep)`).
fn add_decaying_sine(
    buffer: &mut [f64],
    start: usize,
    frequency: f64,
    amplitude: f64,
    decay_seconds: f64,
    sweep: f64,
) {
    let rate = f64::from(SAMPLE_RATE);
    let length = (decay_seconds * 5.0 * rate) as usize;
    let mut phase = 0.0;
    add_voice(buffer, start, length, |_, time| {
        let bend = 1.0 + sweep * (-time / 0.03).exp();
        phase += 2.0 * std::f64::consts::PI * frequency * bend / rate;
        amplitude * (-time / decay_seconds).exp() * phase.sin()
    });
}

/// A pulse (square-ish) voice with the given duty cycle, a short attack and exponential decay.
fn add_pulse(
    buffer: &mut [f64],
    start: usize,
    length: usize,
    frequency: f64,
    amplitude: f64,
    duty: f64,
) {
    let rate = f64::from(SAMPLE_RATE);
    let attack = (0.004 * rate) as usize;
    add_voice(buffer, start, length, |position, time| {
        let cycle = (frequency * time).fract();
        let pulse = if cycle < duty { 1.0 } else { -1.0 };
        let decay = (-time / 0.25).exp();
        amplitude * envelope(position, length, attack, attack) * decay * pulse
    });
}

/// A triangle voice (soft bass).
fn add_triangle(buffer: &mut [f64], start: usize, length: usize, frequency: f64, amplitude: f64) {
    let rate = f64::from(SAMPLE_RATE);
    let edge = (0.005 * rate) as usize;
    add_voice(buffer, start, length, |position, _| {
        let cycle = (frequency * position as f64 / rate).fract();
        let triangle = 4.0 * (cycle - 0.5).abs() - 1.0;
        amplitude * envelope(position, length, edge, edge) * triangle
    });
}

/// A bass voice: sine plus second and third harmonics, plucked envelope.
fn add_bass(
    buffer: &mut [f64],
    start: usize,
    length: usize,
    frequency: f64,
    amplitude: f64,
    brightness: f64,
) {
    let rate = f64::from(SAMPLE_RATE);
    let edge = (0.006 * rate) as usize;
    add_voice(buffer, start, length, |position, time| {
        let phase = 2.0 * std::f64::consts::PI * frequency * time;
        let voice =
            phase.sin() + brightness * (2.0 * phase).sin() + 0.5 * brightness * (3.0 * phase).sin();
        let decay = (-time / 0.35).exp();
        amplitude * envelope(position, length, edge, edge) * decay * voice
    });
}

/// A noise burst; `bright` removes the low part with a one-pole high-pass (hi-hat).
fn add_noise_hit(
    buffer: &mut [f64],
    start: usize,
    amplitude: f64,
    decay_seconds: f64,
    bright: bool,
    draws: &mut Draws,
) {
    let rate = f64::from(SAMPLE_RATE);
    let length = (decay_seconds * 5.0 * rate) as usize;
    let mut low_passed = 0.0;
    for position in 0..length {
        let white = draws.noise();
        low_passed += 0.3 * (white - low_passed);
        let Some(sample) = buffer.get_mut(start + position) else {
            continue;
        };
        let value = if bright { white - low_passed } else { white };
        let time = position as f64 / rate;
        *sample += amplitude * (-time / decay_seconds).exp() * value;
    }
}

/// A Karplus-Strong plucked string.
fn add_pluck(
    buffer: &mut [f64],
    start: usize,
    frequency: f64,
    amplitude: f64,
    damping: f64,
    draws: &mut Draws,
) {
    let rate = f64::from(SAMPLE_RATE);
    let period = ((rate / frequency).round() as usize).max(2);
    let mut delay_line: Vec<f64> = (0..period).map(|_| draws.noise()).collect();
    let length = (1.6 * rate) as usize;
    for position in 0..length {
        let index = position % period;
        let next = (position + 1) % period;
        let output = delay_line[index];
        delay_line[index] = damping * 0.5 * (delay_line[index] + delay_line[next]);
        if let Some(sample) = buffer.get_mut(start + position) {
            *sample += amplitude * output;
        }
    }
}

/// Major pentatonic and natural minor degrees (semitones above the root).
const PENTATONIC: [f64; 5] = [0.0, 2.0, 4.0, 7.0, 9.0];
const MINOR: [f64; 7] = [0.0, 2.0, 3.0, 5.0, 7.0, 8.0, 10.0];

fn scale_note(root: f64, scale: &[f64], step: usize, octave: usize) -> f64 {
    root + scale[step % scale.len()] + 12.0 * (octave + step / scale.len()) as f64
}

fn render_ambient(buffer: &mut [f64], draws: &mut Draws, level: f64) {
    let rate = f64::from(SAMPLE_RATE);
    let beat = 60.0 / draws.between(52.0, 76.0) * rate;
    let root = 36.0 + draws.index(12) as f64;
    let chord_beats = 2.0 + draws.index(3) as f64;
    let detune = draws.between(0.001, 0.006);
    let mut start = 0.0;
    while (start as usize) < buffer.len() {
        let length = (chord_beats * beat) as usize + (0.4 * rate) as usize;
        let degree = draws.index(MINOR.len());
        for voice in 0..3 {
            let note = scale_note(root, &MINOR, degree + 2 * voice, 0);
            add_pad(
                buffer,
                start as usize,
                length,
                midi_to_hz(note),
                level * 0.28,
                detune,
            );
        }
        if draws.chance(0.6) {
            let bell = scale_note(root + 24.0, &PENTATONIC, draws.index(5), 0).min(64.0 + 12.0);
            add_decaying_sine(
                buffer,
                start as usize + (beat * 0.5) as usize,
                midi_to_hz(bell),
                level * 0.12,
                0.5,
                0.0,
            );
        }
        start += chord_beats * beat;
    }
}

fn render_chiptune(buffer: &mut [f64], draws: &mut Draws, level: f64) {
    let rate = f64::from(SAMPLE_RATE);
    let beat = 60.0 / draws.between(132.0, 176.0) * rate;
    let sixteenth = beat / 4.0;
    let root = 64.0 + draws.index(8) as f64;
    let duty = draws.between(0.2, 0.5);
    let pattern: Vec<usize> = (0..8).map(|_| draws.index(8)).collect();
    let bass_root = root - 24.0 - 12.0 * draws.index(2) as f64;
    let mut step = 0;
    while ((step as f64) * sixteenth) < buffer.len() as f64 {
        let start = (step as f64 * sixteenth) as usize;
        let note = scale_note(root, &PENTATONIC, pattern[step % pattern.len()], 0);
        if !draws.chance(0.12) {
            add_pulse(
                buffer,
                start,
                (sixteenth * 0.9) as usize,
                midi_to_hz(note.min(88.0)),
                level * 0.22,
                duty,
            );
        }
        if step.is_multiple_of(4) {
            add_noise_hit(buffer, start, level * 0.35, 0.03, false, draws);
            add_triangle(
                buffer,
                start,
                (beat * 0.9) as usize,
                midi_to_hz(bass_root),
                level * 0.25,
            );
        }
        step += 1;
    }
}

fn render_folk(buffer: &mut [f64], draws: &mut Draws, level: f64) {
    let rate = f64::from(SAMPLE_RATE);
    let beat = 60.0 / draws.between(88.0, 120.0) * rate;
    let eighth = beat / 2.0;
    let root = 50.0 + draws.index(10) as f64;
    let damping = draws.between(0.990, 0.998);
    let mut step: usize = 0;
    let mut degree = draws.index(5);
    while ((step as f64) * eighth) < buffer.len() as f64 {
        let start = (step as f64 * eighth) as usize;
        if step.is_multiple_of(8) && draws.chance(0.7) {
            // A strum: three strings a few milliseconds apart.
            for string in 0..3 {
                let note = scale_note(root - 12.0, &PENTATONIC, degree + 2 * string, 0);
                add_pluck(
                    buffer,
                    start + string * (0.012 * rate) as usize,
                    midi_to_hz(note),
                    level * 0.22,
                    damping,
                    draws,
                );
            }
        } else if !draws.chance(0.25) {
            let moves = [0usize, 1, 1, 2, 4, 4, 3];
            degree = (degree + moves[draws.index(moves.len())]) % 10;
            let note = scale_note(root, &PENTATONIC, degree, 0).min(76.0);
            add_pluck(
                buffer,
                start,
                midi_to_hz(note),
                level * 0.32,
                damping,
                draws,
            );
        }
        step += 1;
    }
}

fn render_funk(buffer: &mut [f64], draws: &mut Draws, level: f64) {
    let rate = f64::from(SAMPLE_RATE);
    let beat = 60.0 / draws.between(92.0, 124.0) * rate;
    let sixteenth = beat / 4.0;
    let root = 31.0 + draws.index(12) as f64;
    let brightness = draws.between(0.2, 0.8);
    // A syncopated 16-step bass pattern: off-beat steps are likelier.
    let mut pattern = [false; 16];
    for (step, slot) in pattern.iter_mut().enumerate() {
        let probability = if step.is_multiple_of(4) {
            0.35
        } else if step % 2 == 1 {
            0.55
        } else {
            0.3
        };
        *slot = draws.chance(probability);
    }
    pattern[3] = true;
    let notes: Vec<usize> = (0..16).map(|_| draws.index(5)).collect();
    let hat_every = if draws.chance(0.5) { 1 } else { 2 };
    let mut step = 0;
    while ((step as f64) * sixteenth) < buffer.len() as f64 {
        let start = (step as f64 * sixteenth) as usize;
        let bar_step = step % 16;
        if pattern[bar_step] {
            let note = scale_note(root, &MINOR, notes[bar_step], 0).min(50.0);
            add_bass(
                buffer,
                start,
                (sixteenth * 1.6) as usize,
                midi_to_hz(note),
                level * 0.4,
                brightness,
            );
        }
        if bar_step.is_multiple_of(8) {
            add_decaying_sine(buffer, start, 48.0, level * 0.6, 0.08, 1.5);
        }
        if bar_step.is_multiple_of(hat_every) {
            let accent = if bar_step % 4 == 2 { 1.0 } else { 0.55 };
            add_noise_hit(buffer, start, level * 0.18 * accent, 0.015, true, draws);
        }
        step += 1;
    }
}

fn render_style(style: usize, buffer: &mut [f64], draws: &mut Draws, level: f64) {
    match style {
        0 => render_ambient(buffer, draws, level),
        1 => render_chiptune(buffer, draws, level),
        2 => render_folk(buffer, draws, level),
        _ => render_funk(buffer, draws, level),
    }
}

/// The 16-bit samples of song `index` (style `index % 4`).
fn song_samples(index: usize) -> Vec<i16> {
    let mut draws = Draws::new(FIXTURE_SEED + index as u64);
    let style = index % GENRES.len();
    let length = SONG_SECONDS * SAMPLE_RATE as usize;
    let mut buffer = vec![0.0; length];
    render_style(style, &mut buffer, &mut draws, 1.0);
    if draws.chance(1.0 / 3.0) {
        let other = (style + 1 + draws.index(GENRES.len() - 1)) % GENRES.len();
        let level = draws.between(0.15, 0.35);
        render_style(other, &mut buffer, &mut draws, level);
    }
    let noise_level = draws.between(0.002, 0.02);
    let mut peak: f64 = 0.0;
    for sample in &buffer {
        peak = peak.max(sample.abs());
    }
    let gain = draws.between(0.5, 0.9) / peak.max(1e-9);
    let mut samples = Vec::with_capacity(length);
    for sample in &buffer {
        let value = (sample * gain + noise_level * draws.noise()).clamp(-1.0, 1.0);
        samples.push((value * 32767.0).round() as i16);
    }
    samples
}

/// The lyrics of song `index` in `language` (0 English, 1 Bangla).
fn song_lyrics(index: usize, language: usize) -> String {
    let mut draws = Draws::new(FIXTURE_SEED ^ (0x4C59_5249_4353 + index as u64));
    let style = index % GENRES.len();
    let vocabulary = STYLE_WORDS[style][language];
    let shared = SHARED_WORDS[language];
    let line_count = 4 + draws.index(3);
    let mut lines = Vec::with_capacity(line_count);
    for _ in 0..line_count {
        let word_count = 4 + draws.index(4);
        let mut words = Vec::with_capacity(word_count);
        for _ in 0..word_count {
            let roll = draws.unit();
            let word = if roll < 0.3 {
                shared[draws.index(shared.len())]
            } else if roll < 0.4 {
                let other = (style + 1 + draws.index(GENRES.len() - 1)) % GENRES.len();
                let other_words = STYLE_WORDS[other][language];
                other_words[draws.index(other_words.len())]
            } else {
                vocabulary[draws.index(vocabulary.len())]
            };
            words.push(word.to_string());
        }
        if language == 0 {
            let mut characters = words[0].chars();
            if let Some(first) = characters.next() {
                words[0] = first.to_uppercase().chain(characters).collect();
            }
        }
        lines.push(words.join(" "));
    }
    lines.join("\n")
}

fn write_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::FixtureWrite {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Writes the fixture dataset into `out_dir` (`dataset.json`, `manifest.csv`,
/// `audio/song_NN.wav`) and returns the written paths relative to `out_dir`.
pub fn generate(out_dir: &Path) -> Result<Vec<PathBuf>> {
    let audio_dir = out_dir.join("audio");
    std::fs::create_dir_all(&audio_dir).map_err(|error| write_error(&audio_dir, error))?;
    let mut written = Vec::new();

    let descriptor_path = out_dir.join("dataset.json");
    std::fs::write(&descriptor_path, DATASET_JSON)
        .map_err(|error| write_error(&descriptor_path, error))?;
    written.push(PathBuf::from("dataset.json"));

    let manifest_path = out_dir.join("manifest.csv");
    let mut manifest = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_path(&manifest_path)
        .map_err(|error| write_error(&manifest_path, error))?;
    manifest
        .write_record(["id", "audio_path", "genre", "language", "lyrics"])
        .map_err(|error| write_error(&manifest_path, error))?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let song_count = SONGS_PER_GENRE * GENRES.len();
    for index in 0..song_count {
        let id = format!("song_{:02}", index + 1);
        let relative_audio = format!("audio/{id}.wav");
        let wav_path = out_dir.join(&relative_audio);
        let mut writer = hound::WavWriter::create(&wav_path, spec)
            .map_err(|error| write_error(&wav_path, error))?;
        for sample in song_samples(index) {
            writer
                .write_sample(sample)
                .map_err(|error| write_error(&wav_path, error))?;
        }
        writer
            .finalize()
            .map_err(|error| write_error(&wav_path, error))?;
        written.push(PathBuf::from(&relative_audio));

        let language = (index / GENRES.len()) % 2;
        let language_label = if language == 0 { "en" } else { "bn" };
        let lyrics = song_lyrics(index, language);
        manifest
            .write_record([
                id.as_str(),
                relative_audio.as_str(),
                GENRES[index % GENRES.len()],
                language_label,
                lyrics.as_str(),
            ])
            .map_err(|error| write_error(&manifest_path, error))?;
    }
    manifest
        .flush()
        .map_err(|error| write_error(&manifest_path, error))?;
    written.push(PathBuf::from("manifest.csv"));
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn songs_differ_and_use_the_range() {
        let first = song_samples(0);
        let second = song_samples(4);
        assert_eq!(first.len(), SONG_SECONDS * SAMPLE_RATE as usize);
        assert_ne!(first, second);
        let peak = first
            .iter()
            .map(|sample| i32::from(*sample).abs())
            .max()
            .unwrap_or(0);
        assert!(peak > 10_000, "peak {peak} too quiet");
    }

    #[test]
    fn lyrics_use_the_language_script() {
        let english = song_lyrics(0, 0);
        let bangla = song_lyrics(4, 1);
        assert!(english.is_ascii());
        assert!(
            bangla
                .chars()
                .any(|character| ('\u{0980}'..='\u{09FF}').contains(&character))
        );
    }
}
