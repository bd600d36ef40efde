#!/usr/bin/env python3
"""Writes the language_id example's data: which of 8 languages is a word?
OUTDIR/train.csv, OUTDIR/test.csv, OUTDIR/stats.txt and OUTDIR/alphabet.txt,
from Debian's word lists under /usr/share/dict (packages wamerican,
wngerman, wfrench, wspanish, witalian, wportuguese, wdutch, wpolish).

Usage: make_data.py OUTDIR [--words N]

- Each list is read as UTF-8 (all eight Debian lists are UTF-8; a byte that
  is not valid UTF-8 is an error, not silently replaced) and NFC-normalised,
  so an accented letter is one character whatever the file's form.
- A word is kept if it is purely alphabetic (str.isalpha(), so no
  apostrophes, hyphens, spaces or digits) both before and after lowercasing,
  and has at most 16 characters once lowercased. Duplicates within a
  language (`Bank` and `bank`) become one word.
- A word found in more than one language's cleaned list is ambiguous and is
  dropped from all of them.
- N words per language (default 12 000; all of them where fewer, which
  stats.txt reports) are chosen by sorting on SHA-256("langid:<lang>:<word>")
  and taking the first N: no random generator, the same on any machine and
  Python version.
- The alphabet is the sorted set of the characters of the selected words;
  id 0 is padding, ids 1..V-1 the characters in that order (V = 1 + the
  number of distinct characters). alphabet.txt holds the characters as one
  line, character k having id k + 1.
- Labels, in this order: 0 english, 1 german, 2 french, 3 spanish,
  4 italian, 5 portuguese, 6 dutch, 7 polish.
- All (word, label) pairs are shuffled by sorting on
  SHA-256("langid-split:<lang>:<word>"); the first floor(n / 5) (20 %) are
  the test set, the rest the training set, both in that shuffled order.
- CSV: a header `c0,c1,...,c15,language`, then per word 16 ids and the label.
- stats.txt: `key value` lines (vocab is V).

Exits 77 (the test harness's "skipped") if a word list is missing. Files are
written under temporary names and renamed: rerunning is safe."""
import hashlib
import heapq
import operator
import os
import re
import sys
import unicodedata

DICT = "/usr/share/dict"
# (label name, file under /usr/share/dict, Debian package), in label order.
LANGUAGES = [
    ("english", "american-english", "wamerican"),
    ("german", "ngerman", "wngerman"),
    ("french", "french", "wfrench"),
    ("spanish", "spanish", "wspanish"),
    ("italian", "italian", "witalian"),
    ("portuguese", "portuguese", "wportuguese"),
    ("dutch", "dutch", "wdutch"),
    ("polish", "polish", "wpolish"),
]
STEPS = 16
DEFAULT_WORDS = 12000


def usage():
    sys.exit("usage: make_data.py OUTDIR [--words N]")


def parse_args(argv):
    out_dir, words = None, DEFAULT_WORDS
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--words" and i + 1 < len(argv):
            words = int(argv[i + 1])
            i += 2
        elif a.startswith("--words="):
            words = int(a.split("=", 1)[1])
            i += 1
        elif out_dir is None and not a.startswith("-"):
            out_dir = a
            i += 1
        else:
            usage()
    if out_dir is None or words <= 0:
        usage()
    return out_dir, words


# At most STEPS characters (any characters: isalpha() is checked apart).
SHORT = re.compile(r"(?s).{1,%d}" % STEPS).fullmatch


def read_words(path):
    """The cleaned word set of one list. The Polish list has 4.3 million
    lines, so the work is done by C-level calls (map, filter, set) rather
    than a Python loop per word; lower() and NFC act on the whole text as
    they would line by line."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    # isalpha() before lowercasing and again after: lower() may lengthen a
    # word or add a combining mark ("İ" -> "i̇").
    lines = set(map(str.strip, text.split("\n")))
    words = set(map(str.lower, filter(str.isalpha, lines)))
    return set(filter(str.isalpha, filter(SHORT, words)))


def keyed(prefix, lang, words):
    """(SHA-256("<prefix>:<lang>:<word>"), word) pairs, hashed by C-level
    calls: about 5 million hashes in all."""
    words = list(words)
    if not words:
        return []
    raw = "\n".join(words).encode("utf-8").split(b"\n")
    head = f"{prefix}:{lang}:".encode("utf-8")
    digests = map(DIGEST, map(hashlib.sha256, map(head.__add__, raw)))
    return list(zip(digests, words))


DIGEST = operator.methodcaller("digest")


def write_atomic(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    out_dir, n_words = parse_args(sys.argv[1:])
    missing = [(f, p) for _, f, p in LANGUAGES if not os.path.isfile(os.path.join(DICT, f))]
    if missing:
        print("make_data.py: missing word list(s) " +
              ", ".join(f"{DICT}/{f}" for f, _ in missing) +
              "; install the Debian packages: apt-get install " +
              " ".join(p for _, p in missing), file=sys.stderr)
        sys.exit(77)

    cleaned = [read_words(os.path.join(DICT, f)) for _, f, _ in LANGUAGES]
    # Words in more than one language's list are ambiguous: drop them everywhere.
    seen, ambiguous = set(), set()
    for words in cleaned:
        ambiguous |= words & seen
        seen |= words

    selected = []  # per language, the chosen words
    stats = []
    for (lang, fname, pkg), words in zip(LANGUAGES, cleaned):
        kept = words - ambiguous
        # heapq.nsmallest: the same first N as a full sort, without sorting
        # 3.8 million Polish keys (the hashes are distinct, so words never
        # decide the order).
        chosen = [w for _, w in heapq.nsmallest(n_words, keyed("langid", lang, kept))]
        selected.append(chosen)
        stats.append((lang, len(words), len(kept), len(chosen)))

    alphabet = sorted({c for chosen in selected for w in chosen for c in w})
    ids = {c: i + 1 for i, c in enumerate(alphabet)}  # id 0 is padding
    vocab = len(alphabet) + 1

    pairs = [(h, w, label)
             for label, ((lang, _, _), chosen) in enumerate(zip(LANGUAGES, selected))
             for h, w in keyed("langid-split", lang, chosen)]
    pairs.sort()
    n_test = len(pairs) // 5

    def row(word, label):
        # Padded on the LEFT, zeros first: the model runs its LSTM over all 16
        # steps without masking and classifies from the last step's state, so
        # the last step must see the word's last character, not padding.
        x = [0] * (STEPS - len(word)) + [ids[c] for c in word]
        return ",".join(map(str, x)) + f",{label}\n"

    header = ",".join(f"c{i}" for i in range(STEPS)) + ",language\n"
    test = header + "".join(row(w, l) for _, w, l in pairs[:n_test])
    train = header + "".join(row(w, l) for _, w, l in pairs[n_test:])

    os.makedirs(out_dir, exist_ok=True)
    lines = [f"languages {','.join(l for l, _, _ in LANGUAGES)}",
             f"steps {STEPS}",
             f"words_per_language {n_words}"]
    short = []
    for lang, n_clean, n_kept, n_chosen in stats:
        lines.append(f"{lang} {n_chosen} (of {n_kept} unambiguous, {n_clean} cleaned)")
        if n_chosen < n_words:
            short.append(f"{lang}:{n_chosen}")
    if short:
        lines.append(f"fewer_than_requested {' '.join(short)}")
    lines += [f"ambiguous_dropped {len(ambiguous)}",
              f"words {len(pairs)}",
              f"train {len(pairs) - n_test}",
              f"test {n_test}",
              f"vocab {vocab}",
              f"alphabet {''.join(alphabet)}"]
    write_atomic(os.path.join(out_dir, "train.csv"), train)
    write_atomic(os.path.join(out_dir, "test.csv"), test)
    write_atomic(os.path.join(out_dir, "alphabet.txt"), "".join(alphabet) + "\n")
    write_atomic(os.path.join(out_dir, "stats.txt"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
