#!/bin/sh
# The CPU figures notebook 08 quotes (benchmarks/results/bench_cpu*.json), one thread per
# configuration, each in its own process, made by the course's own `bench` command. Run from the
# repository root with the course's Python first on PATH:  sh benchmarks/hardware_cpu.sh
# torch.compile keeps compiled kernels in an on-disk cache; it is emptied before each GAN, so
# that its first compiled configuration pays a cold compilation, as a learner's first --compile
# does. Later configurations may reuse some of its kernels.
set -e
CACHE="${TORCHINDUCTOR_CACHE_DIR:-/tmp/torchinductor_$(whoami)}"
rm -rf "$CACHE"
python -m gannotes bench --family dcgan --precision fp32 bf16 fp16 --channels-last --compile \
    --threads 1 --steps 20 --json benchmarks/results/bench_cpu.json
rm -rf "$CACHE"
python -m gannotes bench --family stylegan --precision fp32 bf16 fp16 --channels-last --compile \
    --threads 1 --steps 20 --json benchmarks/results/bench_cpu_stylegan.json
python -m gannotes bench --family dcgan --batch-size 16 32 64 128 256 --threads 1 2 --steps 20 \
    --json benchmarks/results/bench_cpu_batch_threads.json
