"""The compiled inference path behind ``predict`` and ``predict_on_batch``.

A model's layer-by-layer forward pass re-derives shapes, allocates outputs
and fills training caches on every call. For inference none of that is
needed: a `Plan` is made once per (batch shape, thread count) and holds a
flat list of prepared steps, each a kernel call writing into an output
buffer the plan allocated once.

Rewrites, applied to the plan only (the layers and ``get_weights`` never
change):

- Dropout (identity at inference) and Input are left out; Flatten and
  Reshape become views.
- A BatchNormalization right after a Conv2D or Dense without activation is
  folded into that layer's kernel and bias: ``kernel * s``,
  ``(bias - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``
  (computed in float64, rounded once).
- A ReLU (layer or ``Activation("relu")``) after such a Conv2D or Dense
  becomes that layer's activation; a Conv2D's ReLU runs in the kernels'
  epilogue where they have one.
- Kernels that an algorithm transforms or repacks on every call (Winograd's
  ``G g G^T``, the direct kernels' layouts) are prepared once per plan.

With more than one thread a model gets two plans per batch shape, with
those threads and with one, and `ThreadChoice` runs the one measured
faster (on a busy host parallel regions can cost more than they save).

Plans hold references to the live weight arrays and prepared copies
where they fold or transform. `weights_changed` - called by
``Layer.set_weights`` (so ``model.set_weights``, ``load_weights``) and by
every optimizer update - makes every plan stale, and the next call
rebuilds. Writing into a layer's arrays by hand (``layer.kernel[...] = v``)
is not seen: use ``set_weights``.

Results equal the layer-by-layer path to float32 rounding (exactly, where
nothing was folded) and do not depend on the thread count.
"""
import threading
import weakref

import numpy as np

from . import _conv_plan
from . import activations as _activations
from . import functional as _functional
from ._threads import effective_n_threads

__all__ = ["Plan", "GraphPlan", "ThreadChoice", "default_batch_size", "plan_for", "supports",
           "weights_changed"]

_generation = 0


def weights_changed():
    """Mark every plan stale (weights may have changed)."""
    global _generation
    _generation += 1


class _Stage:
    """One layer of the rewritten network, before buffers exist."""

    __slots__ = ("layer", "kind", "kernel", "bias", "activation")

    def __init__(self, layer, kind, kernel=None, bias=None, activation=None):
        self.layer, self.kind = layer, kind
        self.kernel, self.bias, self.activation = kernel, bias, activation


def _fold_batch_norm(stage, bn, shape):
    """``stage`` (conv/dense, linear) followed by ``bn``: fold, or None."""
    if not isinstance(stage.activation, _activations._Linear):
        return None
    feature_axis = bn._feature_axis(shape)
    if feature_axis != (1 if stage.kind == "conv" else len(shape)):
        return None
    f64 = np.float64
    variance = bn.moving_variance.astype(f64)
    scale = 1.0 / np.sqrt(variance + f64(bn.epsilon))
    if bn.gamma is not None:
        scale *= bn.gamma
    shift = -bn.moving_mean.astype(f64) * scale
    if stage.bias is not None:
        shift += stage.bias * scale
    if bn.beta is not None:
        shift += bn.beta
    dtype = stage.kernel.dtype
    if stage.kind == "conv":
        kernel = stage.kernel * scale[:, None, None, None]
    else:
        kernel = stage.kernel * scale[None, :]
    return _Stage(stage.layer, stage.kind, np.ascontiguousarray(kernel, dtype=dtype),
                  shift.astype(dtype), stage.activation)


def _stage(layer, shape):
    """The step kind running ``layer`` on inputs of ``shape`` (no rewrite)."""
    from . import layers as L

    kind = type(layer)
    if kind is L.Conv2D:
        return _Stage(layer, "conv", layer.kernel, layer.bias, layer.activation)
    if kind is L.Dense:
        return _Stage(layer, "dense", layer.kernel, layer.bias, layer.activation)
    if kind is L.Reshape or (kind is L.Flatten and not layer._speaks_nhwc(len(shape))):
        return _Stage(layer, "view")      # (a channels_last Flatten transposes)
    if kind in (L.MaxPool2D, L.AvgPool2D) and layer._symmetric(layer.explicit_padding(shape)):
        return _Stage(layer, "pool")
    return _Stage(layer, "layer")


def _absorbed(previous, layer, shape):
    """``previous`` (a stage, or None) with ``layer`` (reading ``shape``,
    the output of ``previous`` alone) folded into it: a new stage, or None
    when it cannot be. A linear Conv2D or Dense absorbs a BatchNormalization
    over its channels and a plain ReLU."""
    from . import layers as L

    if (previous is None or previous.kind not in ("conv", "dense")
            or not isinstance(previous.activation, _activations._Linear)):
        return None
    kind = type(layer)
    if kind is L.BatchNormalization:
        return _fold_batch_norm(previous, layer, shape)
    if (kind is L.ReLU and layer._plain) or (
            kind is L.Activation and type(layer.activation) is _activations._ReLU):
        return _Stage(previous.layer, previous.kind, previous.kernel, previous.bias,
                      _activations.get("relu"))
    return None


def _stages(model):
    """The model's layers after the rewrites, with each one's input shape."""
    from . import layers as L

    stages, shapes = [], []
    shape = tuple(model._input_shape)
    for layer in model.layers:
        out_shape = tuple(layer._nchw_output_shape(shape))
        if type(layer) not in (L.Dropout, L.Input):
            absorbed = _absorbed(stages[-1] if stages else None, layer, shape)
            if absorbed is not None:
                stages[-1] = absorbed
            else:
                stages.append(_stage(layer, shape))
                shapes.append(shape)
        shape = out_shape
    return stages, shapes


def _n_folded(stages):
    """How many stages run weights folded from a BatchNormalization."""
    return sum(1 for s in stages if s.kernel is not None
               and s.kernel is not getattr(s.layer, "kernel", None))


def _activation_in_place(act):
    """``f(buffer)`` applying ``act`` in place, or None for linear/ReLU-in-kernel."""
    if isinstance(act, _activations._Linear):
        return None
    return lambda y: act.forward(y, out=y)


# A step builder returns ``(fn, out)``: ``fn(x)`` fills the buffer ``out``
# (its return value unused), or, with ``out`` None, returns the step's result.
# Kernels use at most ``n_threads`` threads (other layers' forward: the
# process's count).
# Kernel calls are bound once with every argument but the input, so a step
# costs one Python call around the kernel.
def _conv_step(stage, batch_shape, out, scratch, n_threads):
    layer = stage.layer
    pads = layer._pads if layer._pads is not None else layer.explicit_padding(batch_shape[1:])
    relu = type(stage.activation) is _activations._ReLU
    run = _conv_plan.bind_forward(batch_shape, out.dtype, stage.kernel, stage.bias,
                                  layer.strides, pads, layer.dilation_rate, layer.groups,
                                  layer.padding_mode, out, relu=relu, max_threads=n_threads)
    after = None if relu else _activation_in_place(stage.activation)
    if after is None:
        return run, out

    def run_then_activation(x):
        run(x)
        after(out)
    return run_then_activation, out


def _dense_step(stage, batch_shape, out, scratch, n_threads):
    kernel, bias = stage.kernel, stage.bias
    act = stage.activation
    relu = type(act) is _activations._ReLU
    after = None if relu else _activation_in_place(act)
    matmul, add, maximum = np.matmul, np.add, np.maximum
    if bias is not None and relu:
        def run(x):
            matmul(x, kernel, out=out)
            add(out, bias, out=out)
            maximum(out, 0, out=out)
    elif bias is not None and after is None:
        def run(x):
            matmul(x, kernel, out=out)
            add(out, bias, out=out)
    else:
        def run(x):
            matmul(x, kernel, out=out)
            if bias is not None:
                add(out, bias, out=out)
            if relu:
                maximum(out, 0, out=out)
            elif after is not None:
                after(out)
    return run, out


def _pool_step(stage, batch_shape, out, scratch, n_threads):
    from ._dispatch import kernels
    from .layers import MaxPool2D

    layer = stage.layer
    (top, _), (left, _) = layer.explicit_padding(batch_shape[1:])
    (kh, kw), (sh, sw) = layer.pool_size, layer.strides
    n_threads = min(n_threads, effective_n_threads(8 * (int(np.prod(batch_shape)) + out.size)))
    pool = kernels("pool")
    if type(layer) is MaxPool2D:
        indices = scratch(out.shape, np.int64)    # argmax positions, not needed here
        forward = pool.max_pool2d_forward
        args = (out, indices, kh, kw, sh, sw, top, left, 1, 1, n_threads)
    else:
        forward = pool.avg_pool2d_forward
        args = (out, kh, kw, sh, sw, top, left, False, 0, n_threads)
    return (lambda x: forward(x, *args)), out


def _view_step(stage, batch_shape, out, scratch, n_threads):
    shape = (batch_shape[0],) + tuple(stage.layer._nchw_output_shape(batch_shape[1:]))
    return (lambda x: x.reshape(shape)), None


def _layer_step(stage, batch_shape, out, scratch, n_threads):
    forward = stage.layer.forward
    return (lambda x: forward(x, training=False)), None


_STEPS = {"conv": _conv_step, "dense": _dense_step, "pool": _pool_step, "view": _view_step,
          "layer": _layer_step}
_WRITES_BUFFER = ("conv", "dense", "pool")   # the others return views or fresh arrays


class Plan:
    """Prepared steps for one batch shape: ``plan.run(x)`` returns the
    output buffer (overwritten by the next run).

    Memory: the steps write into two arenas in turn (each step reads the
    one the previous step wrote), so a plan holds twice the largest
    activation of its batch, however deep the network.
    """

    def __init__(self, model, batch_shape, n_threads=None):
        n_threads = effective_n_threads() if n_threads is None else n_threads
        self.batch_shape = tuple(batch_shape)
        self.generation = _generation
        dtype = model.dtype
        n = batch_shape[0]
        stages, shapes = _stages(model)
        out_shapes = [(n,) + tuple(stage.layer._nchw_output_shape(shape))
                      for stage, shape in zip(stages, shapes)]
        largest = max([int(np.prod(shape)) for stage, shape in zip(stages, out_shapes)
                       if stage.kind in _WRITES_BUFFER] or [0])
        arenas = [np.empty(largest, dtype) for _ in range(2 if largest else 0)]
        scratch_buffers = []

        def scratch(shape, scratch_dtype):
            buffer = np.empty(shape, scratch_dtype)
            scratch_buffers.append(buffer)
            return buffer

        self.steps = []
        current = None      # the arena holding the running activation, if any
        for stage, shape, out_shape in zip(stages, shapes, out_shapes):
            out = None
            if stage.kind in _WRITES_BUFFER:
                current = 1 if current == 0 else 0
                out = arenas[current][:int(np.prod(out_shape))].reshape(out_shape)
            elif stage.kind == "layer":
                current = None
            self.steps.append(_STEPS[stage.kind](stage, (n,) + shape, out, scratch, n_threads))
        self.nbytes = sum(buffer.nbytes for buffer in arenas + scratch_buffers)
        self.n_folded = _n_folded(stages)

    def run(self, x):
        """The output for the batch ``x`` (a buffer of the plan), run inside
        `~pyconv._threads.blas_single_threaded` (as ``predict`` does)."""
        for fn, out in self.steps:
            result = fn(x)
            x = result if out is None else out
        return x


class _ModelPlans:
    """A model's plans (keyed by batch shape, thread count and Python
    thread) and default batch size, valid for one weights generation."""

    __slots__ = ("generation", "plans", "batch_size")

    def __init__(self):
        self.generation = _generation
        self.plans = {}
        self.batch_size = None


class GraphPlan:
    """Prepared steps of a graph `~pyconv.Model` for one set of input batch
    shapes: ``run(inputs)`` returns the list of output arrays (buffers
    overwritten by the next run).

    Each call of a layer is one step reading the values of its inputs;
    Dropout is left out, Conv2D/Dense/pooling write into buffers of their
    own allocated once, the other layers (merges included) run their
    ``forward``. As in `Plan`, a BatchNormalization or ReLU is folded into
    the linear Conv2D or Dense before it -- when that layer's output feeds
    nothing else (and is no model output).
    """

    def __init__(self, model, batch_shapes, n_threads=None):
        from . import layers as L

        n_threads = effective_n_threads() if n_threads is None else n_threads
        self.generation = _generation
        n = batch_shapes[0][0]
        dtype = model.dtype
        scratch_buffers = []

        def scratch(shape, scratch_dtype):
            buffer = np.empty(shape, scratch_dtype)
            scratch_buffers.append(buffer)
            return buffer

        # A left-out or folded layer's output -> the tensor holding its value.
        alias = {}
        for node in model._nodes:
            if type(node.layer) is L.Dropout:
                alias[id(node.output)] = alias.get(id(node.inputs[0]), id(node.inputs[0]))
        uses = {}                # tensor -> how many layer calls and outputs read it
        for t in [t for node in model._nodes if type(node.layer) is not L.Dropout
                  for t in node.inputs] + list(model._outputs):
            key = alias.get(id(t), id(t))
            uses[key] = uses.get(key, 0) + 1
        # [node, stage, input shape(s), input key(s)], folds applied
        calls, producer = [], {}
        for node in model._nodes:
            if type(node.layer) is L.Dropout:
                continue
            keys = [alias.get(id(t), id(t)) for t in node.inputs]
            if node.multi:
                calls.append([node, _Stage(node.layer, "layer"),
                              [tuple(shape) for shape in node.shapes], keys])
                continue
            shape, key = tuple(node.shapes[0]), keys[0]     # as the layer computes (NCHW)
            before = calls[producer[key]] if uses[key] == 1 and key in producer else None
            absorbed = _absorbed(before[1] if before else None, node.layer, shape)
            if absorbed is not None:
                before[1] = absorbed
                alias[id(node.output)] = key
                uses[key] = uses.get(id(node.output), 0)
                continue
            producer[id(node.output)] = len(calls)
            calls.append([node, _stage(node.layer, shape), shape, key])
        self.input_keys = [id(t) for t in model._inputs]
        self.steps = []
        for node, stage, shape, keys in calls:
            out = None
            if stage.kind in _WRITES_BUFFER:
                out = scratch((n,) + tuple(node.layer._nchw_output_shape(shape)), dtype)
            batch_shape = [(n,) + s for s in shape] if node.multi else (n,) + shape
            run, out = _STEPS[stage.kind](stage, batch_shape, out, scratch, n_threads)
            self.steps.append((run, out, keys, id(node.output)))
        self.n_folded = _n_folded([stage for _, stage, _, _ in calls])
        self.output_keys = [alias.get(id(t), id(t)) for t in model._outputs]
        self.nbytes = sum(buffer.nbytes for buffer in scratch_buffers)

    def run(self, inputs):
        """The list of outputs (buffers of the plan), run inside
        `~pyconv._threads.blas_single_threaded` (as ``predict`` does)."""
        values = dict(zip(self.input_keys, inputs))
        for run, out, keys, key in self.steps:
            result = run([values[k] for k in keys] if isinstance(keys, list) else values[keys])
            values[key] = result if out is None else out
        return [values[k] for k in self.output_keys]


class ThreadChoice:
    """A model's plans for one batch shape with ``n_threads`` and with one
    thread: ``run`` runs the faster, measured.

    Waking OpenMP threads costs microseconds on a quiet machine; on a busy
    one (more runnable processes than cores) a parallel region can wait
    milliseconds for a descheduled thread -- measured on this project's
    shared 2-core host: a CIFAR-net Winograd layer at batch 1, 0.1 ms on
    one thread, 15-25 ms a call on two for seconds at a time. Results do
    not depend on the thread count, so the choice only concerns time: runs
    alternate between the two plans for ``2 * TRIALS`` calls, then the
    plan with the smaller median time runs alone; the trial repeats every
    ``RECHECK_SECONDS`` (the load changes). Both plans are made at once
    (no allocation in later calls).
    """

    TRIALS = 3
    RECHECK_SECONDS = 5.0

    def __init__(self, make, n_threads, clock=None, plan=None):
        """``make(n)`` makes the plan for ``n`` threads (``plan``: the one
        for ``n_threads``, if already made)."""
        import time

        self.plans = {n_threads: make(n_threads) if plan is None else plan, 1: make(1)}
        self.nbytes = sum(plan.nbytes for plan in self.plans.values())
        self.clock = time.perf_counter if clock is None else clock
        self.choice = None
        self._decided_at = 0.0
        self._times = {n: [] for n in self.plans}

    def run(self, x):
        """The output of the chosen plan (or of the next trial's)."""
        clock = self.clock
        if self.choice is not None and clock() - self._decided_at < self.RECHECK_SECONDS:
            return self.plans[self.choice].run(x)
        times = self._times
        n = min(times, key=lambda k: (len(times[k]), -k))    # alternate, more threads first
        start = clock()
        y = self.plans[n].run(x)
        times[n].append(clock() - start)
        if all(len(t) >= self.TRIALS for t in times.values()):
            self.choice = min(times, key=lambda k: (sorted(times[k])[self.TRIALS // 2], k))
            self._decided_at = clock()
            self._times = {k: [] for k in times}
        return y


# Kept outside the model so that copies and pickles never share (or carry)
# another model's buffers.
_PLANS = weakref.WeakKeyDictionary()
_PLAN_LOCK = threading.Lock()
#: A plan whose buffers exceed this many bytes runs once and is not kept
#: (its arenas would be fresh memory, page faults included, at every call).
MAX_KEPT_BYTES = 128 * 2**20
MAX_KEPT_PLANS = 8


def _plans_of(model):
    entry = _PLANS.get(model)      # the steady state: no lock (a dict read is atomic)
    if entry is not None and entry.generation == _generation:
        return entry
    with _PLAN_LOCK:
        entry = _PLANS.get(model)
        if entry is None or entry.generation != _generation:
            entry = _PLANS[model] = _ModelPlans()
        return entry


def plan_for(model, batch_shape):
    """The model's current plan for ``batch_shape`` (made when missing or stale):
    a `Plan`, or for a graph model a `GraphPlan` (``batch_shape`` is then the
    list of its input batches' shapes); with more than one thread, a
    `ThreadChoice` between such plans with those threads and with one.

    A model keeps its last few plans (a dataset's last, smaller batch has
    its own), keyed by the batch shape, the thread count and the calling
    Python thread (buffers are never shared between threads).
    """
    graph = hasattr(model, "_nodes")
    batch_shape = tuple(map(tuple, batch_shape)) if graph else tuple(batch_shape)
    n_threads = effective_n_threads()
    key = (batch_shape, n_threads, threading.get_ident())
    entry = _plans_of(model)
    plan = entry.plans.get(key)
    if plan is None:
        kind = GraphPlan if graph else Plan
        plan = kind(model, batch_shape, n_threads)
        if n_threads > 1 and 2 * plan.nbytes <= MAX_KEPT_BYTES:   # (not for a one-off)
            plan = ThreadChoice(lambda n: kind(model, batch_shape, n), n_threads, plan=plan)
        if plan.nbytes <= MAX_KEPT_BYTES:
            with _PLAN_LOCK:
                if len(entry.plans) >= MAX_KEPT_PLANS:
                    entry.plans.clear()
                entry.plans[key] = plan
    return plan


#: ``predict``'s default batch holds at most this many bytes in its largest
#: activation: big enough that small models run a dataset of 256 in one
#: call, small enough that a batch's activations stay in the caches
#: (measured on LeNet-5 and the CIFAR net of ``bench --inference``: LeNet
#: gains from 32 to 64-256, the CIFAR net is fastest at 64, slower at 256).
DEFAULT_BATCH_BYTES = 8 * 2**20


def default_batch_size(model):
    """``predict``'s batch size when none is given: a power of two from 32
    to 1024 fitting `DEFAULT_BATCH_BYTES` (32, as Keras, for other models)."""
    if not supports(model):
        return 32
    entry = _plans_of(model)
    if entry.batch_size is None:
        shape = tuple(model._input_shape)
        largest = int(np.prod(shape))
        for layer in model.layers:
            shape = tuple(layer._nchw_output_shape(shape))
            largest = max(largest, int(np.prod(shape)))
        fits = DEFAULT_BATCH_BYTES // (largest * model.dtype.itemsize)
        entry.batch_size = int(min(1024, max(32, 2 ** int(np.log2(max(fits, 1))))))
    return entry.batch_size


def supports(model):
    """Whether `Plan` can run ``model`` (a built linear stack)."""
    return (getattr(model, "built", False) and not hasattr(model, "_nodes")
            and getattr(model, "_input_shape", None) is not None)
