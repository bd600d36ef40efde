"""The markdown of bench/results.md: tables, and the "How it is measured"
section (bench/run.py measures and picks the figures)."""


def met(ok):
    return "**met**" if ok else "**not met**"


def table(header, rows):
    """A markdown table: HEADER, a tuple of column names; ROWS, tuples of
    cells."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def how_it_is_measured(p):
    """The method, as lines; P holds the figures the text quotes."""
    return [
        "## How it is measured",
        "",
        "- **Training**: the train block as written (5 epochs, batch 128, Adam",
        "  1e-3, the last 20 % held out for validation), same data, same",
        "  Glorot-uniform initialisation and Adam epsilon 1e-7 on both sides. The",
        "  time is the sum of the epochs' times: shuffling, the training steps",
        "  and the per-epoch validation pass, for both; loading the data and the",
        "  final test evaluation are outside it. Test accuracy is over the",
        "  10 000 test images.",
        "- **Per-epoch times**: each epoch's seconds as each side reports them",
        "  (the runtime's epoch callback; `torch_mlp.py`'s `epoch_s`). Per",
        "  repetition, epoch 1 and the median of the later epochs (2-5), and",
        "  their ratio; the table holds the medians of those over the",
        "  repetitions. \"Steady\" GFLOP/s are one epoch's FLOPs over that",
        "  median of the later epochs.",
        "- **10 000-image inference**: one `sora_model_predict` call over the",
        "  10 000 test images (one `model(x_test)` under `torch.no_grad()`), after",
        "  a warm-up call; median of 11 calls.",
        "- **Batch-1 latency**: 10 000 warm one-image calls (after 1 000 warm-up",
        "  calls), cycling through the test images, each timed on its own",
        "  (`clock_gettime(CLOCK_MONOTONIC)`; `time.perf_counter_ns`); the",
        "  median, mean and 99th percentile of those times.",
        "- **FLOPs**: 2 per multiply-add of the dense layers (784x64 and 64x10);",
        "  biases, activations, softmax, loss and the Adam update are not counted.",
        f"  Inference: 2 x (784x64 + 64x10) x images = {p['gflop_infer']:.4f} GFLOP for",
        "  10 000 images. Training: per training sample the forward pass, both",
        "  weight gradients and the second layer's input gradient (the first",
        "  layer has none), 2 x (2 x (784x64 + 64x10) + 64x10) = 204 544 FLOPs,",
        "  plus the validation pass, 2 x (784x64 + 64x10) = 101 632 FLOPs per",
        "  validation sample, every epoch: 5 x (48 000 x 204 544 + 12 000 x",
        f"  101 632) = {p['gflop_train']:.2f} GFLOP.",
        "- **FMA peak (the roof)**: `bench/fma_peak.c`, compiled with the system",
        "  `cc -O2 -march=native`: the widest vectors the machine has (here",
        f"  {p['peak_isa']}, {p['peak_lanes']} floats), {p['peak_accumulators']} "
        "independent chains of",
        "  `acc = fma(acc, m, c)` (enough to hide the FMA latency on two FMA",
        "  pipes), 2 FLOPs per lane per FMA; the best of 25 trials of about",
        "  10 ms each, on one core. Run at the start and at the end of the",
        "  benchmark; the higher of the two is the peak. Every \"% of peak\" is",
        "  a GFLOP/s figure (one thread, both sides) over it. It is the",
        "  arithmetic roof only: memory traffic, the work the FLOP counts leave",
        "  out (activations, softmax, loss, Adam) and per-step overheads are",
        "  not in it.",
        "- **CNN** (`examples/fashion_cnn`, `bench/torch_cnn.py`, see",
        f"  `bench/cnn.md`): {p['cnn_epochs']} epoch(s) each side, batch 128, 54 000 "
        "images",
        "  trained on and 6 000 validated per epoch. sorac's time is `sorac",
        "  run`'s train_seconds and its per-epoch times the `--log` file's",
        "  `seconds`; PyTorch's, its `epoch_s`. FLOPs per sample: forward",
        "  4 241 152 multiply-adds, training 12 497 664 (`bench/cnn.md`), so",
        "  one epoch is 2 x (12 497 664 x 54 000 + 4 241 152 x 6 000) =",
        "  1.40 TFLOP. \"Steady\" is the median of epochs 2 and later where",
        "  CNN_EPOCHS >= 2, else epoch 1 (first-epoch costs included). The",
        "  2-thread row is the same `sorac run` with `--threads 2` in the same",
        f"  repetition; speed-up = 1-thread / 2-thread time. Median of {p['cnn_reps']} "
        "rep(s).",
        "- **Recommender** (`examples/movielens`, `bench/torch_movielens.py`):",
        "  the ratings of R's dslabs (`make_data.sh`: 90 004 training rows, a",
        "  seeded 10 000-row hold-out), 5 epochs of batch 256, Adam 1e-3, the",
        "  same model on both sides (embeddings N(0, 0.05^2), zero biases).",
        "  sorac's time is `sorac run`'s train_seconds (the JIT, as the object",
        "  would run); PyTorch's is the sum of its epochs, run with",
        "  MALLOC_MMAP_THRESHOLD_=67108864 (without it its first epoch is ~3 s",
        "  slower). Test RMSE over the hold-out after the 5 epochs."
        f" Median of {p['movielens_reps']} runs.",
        "- **Character LSTM** (`examples/language_id`,",
        "  `bench/torch_language_id.py`): 12 000 words of each of 8 Debian word",
        "  lists (`make_data.py`: 76 800 training words, 19 200 test), 16",
        "  character ids each; embedding 32, LSTM 128 units (PyTorch's default",
        "  init on both sides), dense 8; Adam 1e-3, batch 128, 5 epochs; the GRU",
        "  variant (`gru.sora`, `torch_language_id.py ... gru`) the same with a",
        "  GRU of 128 units. sorac's",
        "  time is `sorac run`'s train_seconds; PyTorch's, the sum of its epochs."
        f" Median of {p['langid_reps']} run(s).",
        "- **Autoencoder** (`examples/autoencoder`, `bench/torch_autoencoder.py`):",
        "  784-32 relu-784 sigmoid trained to reproduce Fashion-MNIST images",
        "  (`target = image`), MSE, Adam 1e-3, batch 128, 10 epochs, Glorot",
        "  uniform and zero biases on both sides. sorac's time is `sorac run`'s",
        "  train_seconds; PyTorch's, the sum of its epochs. The MSE is over every",
        "  pixel of the 10 000 test images."
        f" Median of {p['autoenc_reps']} run(s).",
        "- **clip_norm**: `sorac run` of the example as written and of a copy",
        "  whose optimizer is `adam(lr: 1e-3, clip_norm: 1.0)`, 2 epochs each,",
        "  alternating; seconds per epoch from train_seconds. With clip_norm",
        "  every gradient is stored and their norm taken before the updates,",
        "  which otherwise run inside the loops that finish the gradients."
        f" Median of {p['reps']} pair(s).",
        "- **Peak RSS**: the process's `ru_maxrss` (`getrusage(RUSAGE_SELF)`) at",
        "  the end; PyTorch's includes the interpreter and the torch import.",
        "- **Compile time**: wall time of `sorac X.sora -O2 -o X.o` (a whole",
        "  process: parsing, graph passes, autodiff, LLVM, object and header),",
        f"  median of {p['compile_runs']} runs, for the seed MLP "
        "(`examples/mnist_mlp`), the CNN",
        "  (`examples/fashion_cnn`) and a generated 33-layer MLP",
        "  (`bench/compile_times.py`: `input f32[784]`, 32 dense layers of 128",
        "  units with relu, dense 10 softmax, the seed's train block); object",
        "  size is that `X.o`. Where `sorac --help` lists `--time-passes`, one",
        "  more compile of each with it gives the phases (not part of the",
        "  timed runs).",
    ]
