#!/usr/bin/env bash
# Proof that the suite does not depend on the day it runs: pytest under libfaketime at moments that
# break careless date arithmetic (a new year in Hanoi that is still the old year in UTC, the last
# evening of a 31-day month, a leap day, New Year's Eve). Not part of `make test` or CI (it runs
# the suite once per date); `make test-dates` runs it.
#
#   tests/run_on_dates.sh                      # non-browser, non-process tests, stop at a failure
#   MARK=processes tests/run_on_dates.sh       # the real-process tests instead
#   tests/run_on_dates.sh tests/test_x.py      # extra pytest arguments (files, -k ...)
#   ON="2028-02-29 12:00:00" tests/run_on_dates.sh   # one moment (Hanoi time) instead of all
#
# The browser tests are left out by default: Chromium's own clocks and its sandbox do not run
# under LD_PRELOAD=libfaketime. The moments are Hanoi time; the processes run with TZ=UTC, like a
# server, so a test that mixes the machine's zone with Vietnam's shows up.
set -uo pipefail
cd "$(dirname "$0")/.."

MOMENTS=("2027-01-01 00:30:00" "2027-01-31 23:30:00" "2028-02-29 12:00:00" "2026-12-31 23:59:00")
[ -z "${ON:-}" ] || MOMENTS=("$ON")
MARK=${MARK:-"not browser and not processes"}
PY=${PY:-.venv/bin/python}

find_lib() {
  local lib
  lib=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -n1)
  [ -n "$lib" ] || lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
                         2>/dev/null | head -n1)
  echo "$lib"
}

LIB=$(find_lib)
if [ -z "$LIB" ]; then
  echo "== installing libfaketime (Debian package faketime)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q faketime >/dev/null
  LIB=$(find_lib)
  [ -n "$LIB" ] || { echo "libfaketime could not be installed" >&2; exit 2; }
fi

declare -a RESULTS
status=0
for moment in "${MOMENTS[@]}"; do
  utc=$(TZ=UTC date -d "$moment +07" '+%Y-%m-%d %H:%M:%S')
  echo "== $moment in Hanoi ($utc UTC): pytest -m \"$MARK\" $*"
  out=$(mktemp)
  TZ=UTC FAKETIME="@$utc" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$LIB" \
    "$PY" -m pytest -q -x -p no:cacheprovider -m "$MARK" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  RESULTS+=("$moment Hanoi: $(grep -E '^(=+ )?[0-9]+ (passed|failed)|no tests ran|error' "$out" \
             | tail -n1 | tr -d '=') (exit $rc)")
  rm -f "$out"
  [ "$rc" = 0 ] || status=1
done
echo "== summary"
printf '  %s\n' "${RESULTS[@]}"
exit $status
