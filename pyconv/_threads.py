"""One thread count for every kernel.

``pyconv.set_num_threads``, ``OMP_NUM_THREADS`` and
``threadpoolctl.threadpool_limits(user_api="openmp")`` all act on the same
value: the OpenMP runtime's ``nthreads-var``, read when a kernel is called.
A process forked after the parent ran OpenMP work uses one thread (GNU
OpenMP's pool does not survive ``fork``), with a warning.
"""
import os
import threading
import warnings


def _load_openmp_runtime():
    """Import the kernels' OpenMP helpers, loading the OpenMP runtime passive.

    GNU OpenMP's default is to spin-wait after each parallel region. On a
    host where another process holds a core, the spinning thread takes the
    CPU its working partner needs and every barrier waits a time slice:
    training the digits demo took 59 s with 2 threads against 3.0 s with
    passive waiting (3.4 s on 1 thread), on this project's 2-core machine.
    The runtime reads its settings once, when it loads, so the variable is
    set only for that moment and only when the user has not chosen
    (``OMP_WAIT_POLICY=ACTIVE`` keeps spinning).
    """
    chosen = any(name in os.environ for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    if not chosen:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        from ._kernels import _openmp_helpers
    finally:
        if not chosen:
            del os.environ["OMP_WAIT_POLICY"]
    return _openmp_helpers


_omp = _load_openmp_runtime()

__all__ = ["set_num_threads", "get_num_threads", "effective_n_threads"]

_user_threads = None          # set by set_num_threads, shared by Python threads
_parent_pid = os.getpid()
_fork_warned = False
_used_parallel = False        # has this process started an OpenMP team?


def _after_fork_in_child():
    global _parent_pid
    if _used_parallel:
        _parent_pid = -1  # the OpenMP pool of the parent is unusable here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_num_threads(n):
    """Set the number of threads every pyconv kernel uses.

    Parameters
    ----------
    n : int or None
        A positive thread count of at most four per CPU, or None to return
        to the default (``OMP_NUM_THREADS`` or the number of CPUs).

    Raises
    ------
    ValueError
        For a count below 1 or above four per CPU (`max_threads`).

    Examples
    --------
    >>> import pyconv
    >>> pyconv.set_num_threads(1)
    >>> pyconv.get_num_threads()
    1
    >>> pyconv.set_num_threads(None)
    """
    from ._validation import check_int, fail

    global _user_threads
    if n is None:
        _user_threads = None
        _omp.omp_set_num_threads(_default_threads())
        return
    n = check_int(n, "n", min_value=1)
    if n > max_threads():
        fail(ValueError, "n", f"at most {max_threads()} ({_THREADS_PER_CPU} per CPU, "
             f"{os.cpu_count() or 1} CPUs)", n)
    _user_threads = n
    _omp.omp_set_num_threads(n)


# More threads than this per CPU only add stacks and barriers; an absurd count
# (1024 under an address-space limit) aborts inside the OpenMP runtime.
_THREADS_PER_CPU = 4


def max_threads():
    """The largest thread count `set_num_threads` accepts (4 per CPU)."""
    return _THREADS_PER_CPU * (os.cpu_count() or 1)


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "")
    try:
        value = int(env.split(",")[0])
    except ValueError:
        value = 0
    return min(value, max_threads()) if value > 0 else (os.cpu_count() or 1)


def get_num_threads():
    """The number of threads the next kernel call will use.

    Examples
    --------
    >>> import pyconv
    >>> pyconv.get_num_threads() >= 1
    True
    """
    return effective_n_threads()


# Below this many floating-point operations per thread, waking another thread
# costs more than it saves (and on a busy host an OpenMP barrier can wait
# milliseconds for a descheduled thread).
MIN_WORK_PER_THREAD = 256 * 1024


def effective_n_threads(work=None):
    """Resolve the thread count for one kernel call (from Python, per call).

    ``work`` is an estimate of the call's floating-point operations; small
    calls use fewer threads. Results never depend on the thread count.
    """
    global _fork_warned, _used_parallel
    if _parent_pid == -1 and _omp.openmp_enabled():
        if not _fork_warned:
            _fork_warned = True
            warnings.warn(
                "pyconv: running in a process forked after OpenMP work; "
                "kernels use 1 thread here. Use the 'spawn' or 'forkserver' "
                "start method (or joblib's loky backend) for parallel kernels.",
                RuntimeWarning, stacklevel=3,
            )
        return 1
    n = _omp.omp_get_max_threads()
    if _user_threads is not None:
        n = min(n, _user_threads)
    if work is not None:
        n = min(n, int(work) // MIN_WORK_PER_THREAD)
    n = max(1, n)
    if n > 1:
        _used_parallel = True
    return n


_blas_controller = None
_blas_lock = threading.Lock()
_blas_users = 0               # Python threads inside blas_single_threaded()
_blas_limiter = None          # the first user's saved limits, restored by the last


class _BlasSingleThreaded:
    """The context manager `blas_single_threaded` returns (one shared,
    stateless instance: the state is the module's reference count)."""

    __slots__ = ()

    def __enter__(self):
        global _blas_users, _blas_limiter
        with _blas_lock:
            if _blas_users == 0:
                _blas_limiter = _limit_blas_to_one_thread()
            _blas_users += 1

    def __exit__(self, *exc_info):
        global _blas_users, _blas_limiter
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                restore, _blas_limiter = _blas_limiter, None
                restore()


_BLAS_SINGLE_THREADED = _BlasSingleThreaded()


def blas_single_threaded():
    """Context manager holding every BLAS library to one thread.

    Kernels call ``scipy.linalg.cython_blas`` from inside their own OpenMP
    threads; a multi-threaded BLAS there would oversubscribe the cores. The
    training loop holds numpy's BLAS to one thread too: its small matmuls
    gain nothing from threads, and an idle BLAS pool spinning beside the
    OpenMP pool slows both (measured: a LeNet epoch 9.6 s instead of 2.0 s).

    The BLAS thread count is one setting for the whole process, so the
    limit is reference-counted: the first user (in any Python thread) saves
    the count and sets one thread, the last one to leave restores it. Calls
    whose lifetimes overlap in several threads, in any order, therefore
    leave the count as they found it. The controller is built once, after
    the kernels (and so scipy's BLAS) are loaded. (A plain class rather
    than `contextlib.contextmanager`: entering and leaving costs about
    1.5 us instead of 5, a tenth of ``predict`` at batch 1.)
    """
    return _BLAS_SINGLE_THREADED


_openblas_switches = (None, [])   # (controller, [(get, set)] ctypes functions of its OpenBLAS)


def _direct_openblas_switches(controller):
    """The get/set thread-count functions of every BLAS ``controller``
    holds, when all are OpenBLAS; [] otherwise (found once per controller)."""
    global _openblas_switches
    if _openblas_switches[0] is controller:
        return _openblas_switches[1]
    switches = []
    for lib in getattr(controller, "lib_controllers", ()):
        symbol = getattr(lib, "_get_symbol", None)
        pair = ((symbol("openblas_get_num_threads"), symbol("openblas_set_num_threads"))
                if getattr(lib, "internal_api", None) == "openblas" and symbol is not None
                else (None, None))
        if None in pair:
            switches = []
            break
        switches.append(pair)
    _openblas_switches = (controller, switches)
    return switches


def _limit_blas_to_one_thread():
    """Set every BLAS to one thread; return the function restoring the counts.

    When every BLAS is OpenBLAS (numpy's and scipy's wheels), its get/set
    functions are called directly: about 1 us, where threadpoolctl's
    ``limit``/``restore`` take 30-45 us, most of ``predict``'s time at
    batch 1. Any other BLAS goes through threadpoolctl.
    """
    controller = _blas_threadpools()
    switches = _direct_openblas_switches(controller)
    if not switches:
        return controller.limit(limits=1).restore_original_limits
    saved = [(setter, getter()) for getter, setter in switches]
    for setter, count in saved:
        if count != 1:
            setter(1)
    return lambda: [setter(count) for setter, count in saved if count != 1]


def _blas_threadpools():
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        from . import _dispatch

        _dispatch.kernels("conv")  # loads scipy's BLAS, which the kernels call
        _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller
