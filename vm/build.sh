#!/bin/sh
# Build the conformance executor (a static PIE, see the top of executor.c for why PIE) into vm/out/.
set -e
cd "$(dirname "$0")"
mkdir -p out
gcc -static-pie -O2 -Wall -Werror -o out/executor executor.c
