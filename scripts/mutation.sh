#!/usr/bin/env bash
# A mutation run (mutmut, pinned in the dev dependencies) over the modules that keep syncs
# safe: merge, leases, the dispatcher's claim and the HTTP seam by default; MUTATE and TESTS
# override them. By hand, not in CI: it takes minutes per module. The project is copied to a
# scratch directory first, so mutmut's mutants/ and its cache never land in the checkout.
#
#   scripts/mutation.sh                       # the default modules
#   MUTATE="integrations/sync/merge.py" TESTS="tests/integrations/sync/test_merge.py" \
#       scripts/mutation.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
MUTATE="${MUTATE:-integrations/sync/merge.py integrations/leases.py integrations/services/runs.py integrations/connectors/http.py}"
TESTS="${TESTS:-tests/integrations/sync/test_merge.py tests/integrations/test_leases.py tests/integrations/test_dispatch.py tests/integrations/test_run_recovery.py tests/integrations/connectors/test_http.py tests/faults/test_safeguards.py tests/integrations/sync/test_crash_recovery.py}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tandem-mutation.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

tar --exclude=./.venv --exclude=./.git --exclude=./data --exclude=./mutants \
    --exclude='*/__pycache__' -cf - . | tar -xf - -C "$WORK"
mkdir -p "$WORK/data"
{
    echo "[mutmut]"
    echo "paths_to_mutate="
    for path in $MUTATE; do echo "    $path"; done
    echo "tests_dir="
    for path in $TESTS; do echo "    $path"; done
    echo "also_copy="
    for path in accounts config integrations sandbox tests manage.py pyproject.toml data; do
        echo "    $path"
    done
    echo "pytest_add_cli_args=-p no:cacheprovider -q -x"
} > "$WORK/setup.cfg"
cd "$WORK"
"$ROOT/.venv/bin/mutmut" run "$@" || true
"$ROOT/.venv/bin/mutmut" results --all true | tee "$ROOT/data/mutation-results.txt"
for name in $("$ROOT/.venv/bin/mutmut" results | awk -F: '/survived/ {print $1}'); do
    "$ROOT/.venv/bin/mutmut" show "$name"
done | tee "$ROOT/data/mutation-survivors.diff"
