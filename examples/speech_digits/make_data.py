"""Writes the speech_digits example's data: spoken digits synthesised by
Debian's espeak-ng, as log-mel spectrogram frames. OUTDIR/train.csv,
OUTDIR/test.csv and OUTDIR/stats.txt.

Usage: make_data.py OUTDIR [--per-digit N]

- Speakers: espeak-ng's English accents (en-us, en-gb, en-gb-scotland,
  en-gb-x-rp, en-029, en-us-nyc) with its voice variants (male1..male8,
  female1..female5, croak, klatt, klatt2, ...). The voices of the variants
  `male7` and `female4` are the test set's only: the test measures
  recognition of speakers never heard in training.
- Each utterance is one digit word ("zero" .. "nine") at a rate of 120..220
  words per minute and a pitch of 20..80. N utterances per digit (default
  300) are drawn from all (accent, variant, rate, pitch) combinations by
  sorting on SHA-256("speech:<digit>:<accent>:<variant>:<rate>:<pitch>"): no
  random generator, the same on any machine.
- Features: the 22 050 Hz signal in frames of 40 ms every 20 ms (Hann
  window, 1024-point FFT), 24 triangular mel bands from 60 Hz to 8 kHz,
  log(power + 1e-6). The frames from the first to the last whose energy is
  within 40 dB of the loudest are kept (the silence around the word is
  cut), then padded with silence, or cut, to 40 frames (0.8 s). Every
  feature is then standardised by the mean and standard deviation of the
  training set (one pair for all 24 x 40 features; stats.txt records them).
- CSV: a header `f0,...,f959,digit`, then per utterance the 40 frames of 24
  bands, frame by frame, and the digit (0..9).

Exits 77 (the test harness's "skipped") if espeak-ng or numpy is missing.
Files are written under temporary names and renamed: rerunning is safe."""
import concurrent.futures
import hashlib
import io
import os
import shutil
import subprocess
import sys
import wave

try:
    import numpy as np
except ImportError:
    print("make_data.py: numpy is missing: apt-get install python3-numpy",
          file=sys.stderr)
    sys.exit(77)

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven",
          "eight", "nine"]
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029",
           "en-us-nyc"]
VARIANTS = ["male1", "male2", "male3", "male4", "male5", "male6", "male8",
            "female1", "female2", "female3", "female5", "croak", "klatt",
            "klatt2", "klatt3", "male7", "female4"]
TEST_VARIANTS = {"male7", "female4"}
RATES = [120, 145, 170, 195, 220]
PITCHES = [20, 35, 50, 65, 80]
RATE_HZ = 22050
FRAME, HOP, FFT = 882, 441, 1024  # 40 ms, 20 ms
BANDS, FRAMES = 24, 40


def usage():
    sys.exit("usage: make_data.py OUTDIR [--per-digit N]")


def parse_args(argv):
    out_dir, per_digit = None, 300
    i = 0
    while i < len(argv):
        if argv[i] == "--per-digit" and i + 1 < len(argv):
            per_digit = int(argv[i + 1])
            i += 2
        elif out_dir is None and not argv[i].startswith("-"):
            out_dir = argv[i]
            i += 1
        else:
            usage()
    if out_dir is None or per_digit <= 0:
        usage()
    return out_dir, per_digit


def mel_filters():
    """[BANDS, FFT / 2 + 1] triangular filters, equally spaced in mel."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)
    edges = hz(np.linspace(mel(60), mel(8000), BANDS + 2))
    bins = np.fft.rfftfreq(FFT, 1 / RATE_HZ)
    filters = np.zeros((BANDS, bins.size))
    for b in range(BANDS):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        filters[b] = np.clip(np.minimum((bins - lo) / (mid - lo),
                                        (hi - bins) / (hi - mid)), 0, None)
    return filters


FILTERS = mel_filters()
WINDOW = np.hanning(FRAME)


def synthesise(utterance):
    digit, accent, variant, rate, pitch = utterance
    wav = subprocess.run(
        ["espeak-ng", "-v", f"{accent}+{variant}", "-s", str(rate), "-p",
         str(pitch), "--stdout", DIGITS[digit]],
        check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        if w.getframerate() != RATE_HZ or w.getsampwidth() != 2:
            raise SystemExit(f"make_data.py: espeak-ng wrote {w.getframerate()} "
                             f"Hz, {8 * w.getsampwidth()}-bit audio")
        raw = w.readframes(len(wav))
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768


def features(signal):
    """[FRAMES, BANDS] log-mel frames, silence cut and padded."""
    if signal.size < FRAME:
        signal = np.pad(signal, (0, FRAME - signal.size))
    count = 1 + (signal.size - FRAME) // HOP
    frames = np.stack([signal[i * HOP:i * HOP + FRAME] for i in range(count)])
    power = np.abs(np.fft.rfft(frames * WINDOW, FFT)) ** 2
    energy = power.sum(axis=1)
    loud = np.nonzero(energy >= energy.max() * 1e-4)[0]
    logmel = np.log(power[loud[0]:loud[-1] + 1] @ FILTERS.T + 1e-6)
    silence = np.log(1e-6)
    out = np.full((FRAMES, BANDS), silence)
    out[:min(FRAMES, len(logmel))] = logmel[:FRAMES]
    return out


def key(utterance):
    digit, accent, variant, rate, pitch = utterance
    text = f"speech:{digit}:{accent}:{variant}:{rate}:{pitch}"
    return hashlib.sha256(text.encode()).digest()


def write_csv(path, rows, labels):
    header = ",".join(f"f{i}" for i in range(FRAMES * BANDS)) + ",digit\n"
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="\n") as f:
        f.write(header)
        for row, label in zip(rows, labels):
            f.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")
    os.replace(tmp, path)


def main():
    out_dir, per_digit = parse_args(sys.argv[1:])
    if shutil.which("espeak-ng") is None:
        print("make_data.py: espeak-ng is missing: apt-get install espeak-ng",
              file=sys.stderr)
        sys.exit(77)
    os.makedirs(out_dir, exist_ok=True)
    chosen = []
    for digit in range(len(DIGITS)):
        every = [(digit, a, v, r, p) for a in ACCENTS for v in VARIANTS
                 for r in RATES for p in PITCHES]
        chosen += sorted(every, key=key)[:per_digit]
    chosen.sort(key=key)  # digits interleaved, in a fixed order
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        signals = list(pool.map(synthesise, chosen))
    feats = np.stack([features(s) for s in signals]).reshape(len(chosen), -1)

    test = np.array([u[2] in TEST_VARIANTS for u in chosen])
    mean, std = feats[~test].mean(), feats[~test].std()
    feats = (feats - mean) / std
    labels = np.array([u[0] for u in chosen])
    write_csv(os.path.join(out_dir, "train.csv"), feats[~test], labels[~test])
    write_csv(os.path.join(out_dir, "test.csv"), feats[test], labels[test])
    stats = (f"train {int((~test).sum())}\ntest {int(test.sum())}\n"
             f"frames {FRAMES}\nbands {BANDS}\nmean {mean:.6f}\nstd {std:.6f}\n")
    tmp = os.path.join(out_dir, f"stats.txt.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(stats)
    os.replace(tmp, os.path.join(out_dir, "stats.txt"))
    print(stats, end="")


if __name__ == "__main__":
    main()
