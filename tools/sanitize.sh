#!/usr/bin/env bash
# Runs the test suite against a sanitizer build of the extension.
#
#   tools/sanitize.sh asan PYTHON [pytest args]       (default: tests)
#   tools/sanitize.sh valgrind PYTHON [pytest args]   (default: tests/unit
#                                                      but the slow ones)
#   tools/sanitize.sh tsan PYTHON [pytest args]       (default: the signal
#                                                      dump tests)
#
# The instrumented extension is built into build/<mode>/heapdump (a copy of
# the package), never over the in-place build, and the tests run from
# there: tests/conftest.py hands the same package to every child process.
set -eu
mode=$1; python=$2; shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
case $python in /*) ;; *) python=$top/$python ;; esac
out=$top/build/$mode
rm -rf "$out"; mkdir -p "$out"
cp -r "$top/heapdump" "$out/heapdump"
rm -f "$out"/heapdump/*.so
case $mode in
asan)
    flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1 -g"
    ;;
valgrind)
    flags="-O1 -g"
    ;;
tsan)
    flags="-fsanitize=thread -fno-omit-frame-pointer -O1 -g"
    ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
(cd "$top" && HEAPDUMP_CFLAGS="$flags" HEAPDUMP_LDFLAGS="$(case $mode in asan) echo -fsanitize=address,undefined;; tsan) echo -fsanitize=thread;; esac)" \
    "$python" setup.py -q build_ext --build-lib "$out" --build-temp "$out/tmp" --force 2>&1 | grep -v -E '^(running|copying|creating)|Warning|warn|^$|\*\*\*|!!|corresp' || true)
ls "$out"/heapdump/_heapdump*.so >/dev/null
# pytest runs from $out: test paths given relative to the project are made
# absolute; with none given, the mode's default tests run
args=() paths=0
for a in "$@"; do
    if [ "${a#-}" = "$a" ] && [ -e "$top/${a%%::*}" ]; then
        case $a in /*) ;; *) a=$top/$a ;; esac
        paths=1
    elif [ "${a#/}" != "$a" ]; then
        paths=1
    fi
    args+=("$a")
done
if [ $paths = 0 ]; then
    case $mode in
    asan) args=("$top/tests" ${args[@]+"${args[@]}"}) ;;
    # the pytest process only: children would take too long under it, so
    # the default is the unit tests but the slow ones, whose dumps and
    # loads happen in that process (the integration tests' happen in
    # children, which valgrind would not see)
    valgrind) args=("$top/tests/unit" -m "not slow" ${args[@]+"${args[@]}"}) ;;
    # the watcher and acquirer threads of signals.c, in child processes
    # that inherit LD_PRELOAD (and so run instrumented).  Not the fatal
    # signals, which TSan's own handlers take first; not the main thread
    # blocked in read(2): TSan holds an asynchronous signal back until the
    # thread leaves its read interceptor, so no handler runs meanwhile.
    # The burst (its main thread in select(2) 50 ms at a time), the GIL
    # held for good in C and the GIL kept by running Python code (spin)
    # start the watcher, the acquirer and the stacks-only dumps.  And the
    # writer thread of normal dumps (wthread.c), in the test process: its
    # ring against the walker, a dump under mutating threads
    tsan) args=("$top/tests/integration/test_triggers_signals.py"
                "$top/tests/unit/test_wthread.py"
                "$top/tests/unit/test_freeze.py"
                -k "not fatal and not core_file and not blocked_in_c"
                ${args[@]+"${args[@]}"}) ;;
    esac
fi
cd "$out"
export PYTHONMALLOC=malloc
case $mode in
asan)
    lib=$(gcc -print-file-name=libasan.so)
    ubsan=$(gcc -print-file-name=libubsan.so)
    export LD_PRELOAD="$lib $ubsan"
    # the crash tests need the fatal signals to reach heapdump and then the
    # default action, as without a sanitizer
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:exitcode=86:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:allow_user_segv_handler=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # children inherit LD_PRELOAD: they run instrumented too
    "$python" -m pytest -q -p no:cacheprovider "${args[@]}"
    ;;
valgrind)
    # definite leaks are errors; the interpreter's own (reachable at exit,
    # or "possibly lost" in its arenas and caches) are not
    valgrind --quiet --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --suppressions="$top/tools/valgrind-python.supp" --gen-suppressions=no \
        "$python" -m pytest -q -p no:cacheprovider "${args[@]}"
    ;;
tsan)
    # CPython is not instrumented: TSan sees heapdump's threads and their
    # accesses, and the locks both take (pthread, intercepted), not
    # CPython's own memory accesses.  A report in any process fails it:
    # exitcode makes the child die with 66, which the tests notice, and
    # log_path keeps every report for the summary below.
    rm -rf "$out/tsan-logs"; mkdir -p "$out/tsan-logs"
    export LD_PRELOAD=$(gcc -print-file-name=libtsan.so)
    export TSAN_OPTIONS="halt_on_error=0:exitcode=66:report_signal_unsafe=1:log_path=$out/tsan-logs/tsan:suppressions=$top/tools/tsan.supp"
    status=0
    "$python" -m pytest -q -p no:cacheprovider "${args[@]}" || status=$?
    unset LD_PRELOAD
    if ls "$out"/tsan-logs/tsan.* >/dev/null 2>&1; then
        echo "ThreadSanitizer reports (build/tsan/tsan-logs):" >&2
        grep -h -A12 'WARNING: ThreadSanitizer' "$out"/tsan-logs/tsan.* | head -200 >&2
        status=1
    fi
    exit $status
    ;;
esac
