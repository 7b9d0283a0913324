#!/usr/bin/env bash
# A mutation run (mutmut, pinned in the dev dependencies) over the modules that keep syncs
# safe. By hand, not in CI. With no MUTATE it runs, one after the other, the four runs that
# docs/reliability.md reports (merge, leases, the dispatcher's claim, the HTTP seam: about 55
# minutes on one core, at low priority); leases and the claim on PostgreSQL, whose concurrency
# tests they need (MUTATION_DATABASE_URL, by default the local server's tandem_mut database).
# MUTATE, TESTS and NAME run one module instead; the arguments go to `mutmut run` (options such
# as `--max-children 1`, then mutant name patterns to run only some functions). Results go to
# data/mutation-$NAME-results.txt and the survivors' diffs to data/mutation-$NAME-survivors.diff.
# The project is copied to a scratch directory first, so mutmut's mutants/ and its cache never
# land in the checkout.
#
#   scripts/mutation.sh                              # the four runs of docs/reliability.md
#   NAME=http MUTATE=integrations/connectors/http.py \
#       TESTS="tests/integrations/connectors/test_http.py tests/integrations/connectors/test_http_units.py" \
#       scripts/mutation.sh --max-children 1
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

if [ -z "${MUTATE:-}" ]; then
    PG="${MUTATION_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tandem_mut}"
    CLAIM=integrations.services.runs
    NAME=merge MUTATE=integrations/sync/merge.py \
        TESTS="tests/integrations/sync/test_merge.py tests/integrations/sync/test_merge_gaps.py
               tests/integrations/sync/test_engine.py tests/integrations/sync/test_crash_recovery.py" \
        "$ROOT/scripts/mutation.sh" --max-children 1
    NAME=leases DATABASE_URL="$PG" MUTATE=integrations/leases.py \
        TESTS="tests/integrations/test_leases.py tests/faults/test_safeguards.py
               tests/integrations/test_run_recovery.py tests/integrations/sync/test_engine.py" \
        "$ROOT/scripts/mutation.sh" --max-children 1
    # Only the claim's functions: the rest of services/runs.py is the run itself.
    NAME=dispatch DATABASE_URL="$PG" MUTATE=integrations/services/runs.py \
        TESTS="tests/integrations/test_dispatch.py tests/integrations/test_runs.py
               tests/integrations/test_leases.py" \
        "$ROOT/scripts/mutation.sh" --max-children 1 "$CLAIM.x__runnable_filter__*" \
        "$CLAIM.x_connection_is_runnable__*" "$CLAIM.x__due_filter__*" \
        "$CLAIM.x_connections_claim_due__*"
    NAME=http MUTATE=integrations/connectors/http.py \
        TESTS="tests/integrations/connectors/test_http.py tests/integrations/connectors/test_http_units.py
               tests/faults/test_safeguards.py" \
        "$ROOT/scripts/mutation.sh" --max-children 1
    exit 0
fi
TESTS="${TESTS:?TESTS names the test files that guard $MUTATE}"
NAME="${NAME:-$(basename "$MUTATE" .py)}"
# Mutant name patterns given: report only those mutants.
PATTERNS=()
for arg in "$@"; do
    case "$arg" in -*|[0-9]*) ;; *) PATTERNS+=("$arg") ;; esac
done
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tandem-mutation.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Caches left out: another process rewriting one mid-copy would fail the copy.
tar --exclude=./.venv --exclude=./.git --exclude=./data --exclude=./mutants \
    --exclude=./.mypy_cache --exclude=./.ruff_cache --exclude=./.pytest_cache \
    --exclude='*/__pycache__' -cf - . | tar -xf - -C "$WORK"
mkdir -p "$WORK/data"
{
    echo "[mutmut]"
    echo "source_paths="
    for path in $MUTATE; do echo "    $path"; done
    echo "pytest_add_cli_args_test_selection="
    for path in $TESTS; do echo "    $path"; done
    echo "also_copy="
    for path in accounts config sandbox tests manage.py pyproject.toml data; do
        echo "    $path"
    done
    # The rest of integrations/ file by file: a copied folder would overwrite the mutants.
    (cd "$WORK" && find integrations -type f -not -path '*/__pycache__/*') | while read -r path; do
        case " $MUTATE " in *" $path "*) ;; *) echo "    $path" ;; esac
    done
    echo "pytest_add_cli_args=-p no:cacheprovider -q -x"
} > "$WORK/setup.cfg"
cd "$WORK"
# The mutants, not the checkout's editable install, must be imported: mutants/ goes first on
# the path, and exists before Python starts (an import path that did not exist is cached so).
mkdir -p mutants
find integrations -type d -not -name __pycache__ -exec mkdir -p mutants/{} \;
export PYTHONPATH="$WORK/mutants"
nice -n 10 "$ROOT/.venv/bin/mutmut" run "$@" || true
mkdir -p "$ROOT/data"
wanted() {
    if [ ${#PATTERNS[@]} -eq 0 ]; then cat; return; fi
    while IFS= read -r line; do
        for pattern in "${PATTERNS[@]}"; do
            # shellcheck disable=SC2053
            [[ "${line%%:*}" == *$pattern ]] && { echo "$line"; break; }
        done
    done
}
"$ROOT/.venv/bin/mutmut" results --all true | sed 's/^ *//' | wanted \
    | tee "$ROOT/data/mutation-$NAME-results.txt"
for name in $(awk -F: '/: survived/ {print $1}' "$ROOT/data/mutation-$NAME-results.txt"); do
    "$ROOT/.venv/bin/mutmut" show "$name"
done | tee "$ROOT/data/mutation-$NAME-survivors.diff"
