#!/usr/bin/env bash
# A mutation run (mutmut, pinned in the dev dependencies) over the modules that keep syncs
# safe: merge, leases, the dispatcher's claim and the HTTP seam by default; MUTATE and TESTS
# override them; results in data/mutation-$NAME-*. By hand, not in CI: minutes per module. The project is copied to a
# scratch directory first, so mutmut's mutants/ and its cache never land in the checkout.
#
#   scripts/mutation.sh                       # the default modules
#   NAME=leases DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_mut \
#       MUTATE=integrations/leases.py TESTS=tests/integrations/test_leases.py \
#       scripts/mutation.sh --max-children 1    # PostgreSQL: one child, one test database
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
"$ROOT/.venv/bin/mutmut" run "$@" || true
NAME="${NAME:-all}"
mkdir -p "$ROOT/data"
"$ROOT/.venv/bin/mutmut" results --all true | tee "$ROOT/data/mutation-$NAME-results.txt"
for name in $("$ROOT/.venv/bin/mutmut" results | awk -F: '/survived/ {print $1}'); do
    "$ROOT/.venv/bin/mutmut" show "$name"
done | tee "$ROOT/data/mutation-$NAME-survivors.diff"
