#!/usr/bin/env bash
# fuzz/build.sh [TARGET...] - builds the libFuzzer harnesses (all, or the named
# ones: "smtp_cmd" or "fuzz_smtp_cmd") into fuzz/build/ with clang-14,
# -fsanitize=fuzzer,address,undefined.  Incremental (make, with header
# dependencies).  CC=... overrides the compiler; FUZZ_BUILD_JOBS=N the
# number of parallel compiles (default: one per core).
set -eu
cd "$(dirname "$0")"
jobs=${FUZZ_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
bins=()
for t in "$@"; do
	t=${t#fuzz_}
	if [ ! -f "fuzz_$t.c" ]; then
		echo "fuzz/build.sh: no target '$t' (have: $(make -s list))" >&2
		exit 2
	fi
	bins+=("build/fuzz_$t")
done
exec make -s -j"$jobs" ${bins[@]+"${bins[@]}"}
