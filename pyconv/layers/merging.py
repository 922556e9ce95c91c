"""Merge layers: combine several tensors of one shape into one (Keras 3 names).

They take a list of inputs: ``Add()([x, y])``, symbolically inside a
`pyconv.Model` or eagerly on arrays. ``backward`` returns one gradient per
input, in order.

Examples
--------
>>> import numpy as np
>>> from pyconv.layers import Add, Concatenate
>>> a, b = np.ones((2, 3)), np.full((2, 3), 2.0)
>>> Add()([a, b])[0]
array([3., 3., 3.], dtype=float32)
>>> Concatenate(axis=1)([a, b]).shape
(2, 6)
"""
import numpy as np

from .._graph import is_symbolic, symbolic_call
from .._validation import as_float_array, check_int, fail
from .._shapes import check_sample_shape
from .base import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate"]


class _Merge(Layer):
    """Base of the merge layers: a list of inputs, no weights.

    Subclasses define ``_merge(xs)`` and ``_merge_grads(grad)`` (the list of
    input gradients, from what ``forward`` kept), and may override the shape
    rule ``_merged_shape``.
    """

    _layout = "follow"

    _n_inputs: "int | None" = None   # exact count when the operation needs one (Subtract: 2)

    def _check_shapes(self, input_shapes):
        if not isinstance(input_shapes, (list, tuple)) or not input_shapes or not all(
                isinstance(s, (list, tuple)) for s in input_shapes):
            fail(ValueError, "input_shape", f"a list of input shapes for {type(self).__name__} "
                 "(it merges several tensors)", repr(input_shapes))
        shapes = [check_sample_shape(s) for s in input_shapes]
        wanted = self._n_inputs
        if (wanted is not None and len(shapes) != wanted) or len(shapes) < 2:
            count = f"exactly {wanted}" if wanted is not None else "at least 2"
            fail(ValueError, "inputs", f"a list of {count} tensors for {type(self).__name__}",
                 f"{len(shapes)}")
        return shapes

    def _merged_shape(self, shapes):
        if any(s != shapes[0] for s in shapes):
            fail(ValueError, "inputs", f"tensors of one shape for {type(self).__name__}",
                 f"shapes {shapes}")
        return shapes[0]

    def compute_output_shape(self, input_shape):
        return tuple(self._merged_shape(self._check_shapes(input_shape)))

    def build(self, input_shape, rng=None):
        """Check the list of input shapes (there are no weights)."""
        shapes = self._check_shapes(input_shape)
        if self.built:
            if shapes != self.input_shape:
                fail(ValueError, "input_shape", f"{self.input_shape} (layer {self.name!r} is "
                     "already built for it)", shapes)
            return
        self.output_shape = self.compute_output_shape(shapes)
        self.input_shape = shapes
        self.grads = []
        self.built = True

    def param_counts(self, input_shape=None):
        return 0, 0

    def flops(self, input_shape=None):
        shapes = self.input_shape if input_shape is None else self._check_shapes(input_shape)
        return int(sum(np.prod(s) for s in shapes[1:]))

    def __call__(self, inputs, training=False):
        """Merge a list of arrays (or record the call on symbolic tensors)."""
        if is_symbolic(inputs):
            return symbolic_call(self, inputs)
        if not isinstance(inputs, (list, tuple)):
            fail(TypeError, "inputs", f"a list of arrays for {type(self).__name__}",
                 type(inputs).__name__)
        xs = [as_float_array(x, f"inputs[{i}]", dtype=self.dtype) for i, x in enumerate(inputs)]
        for i, x in enumerate(xs):
            if x.ndim < 2 or len(x) != len(xs[0]):
                fail(ValueError, f"inputs[{i}]", f"an array with the batch axis of length "
                     f"{len(xs[0])} first", f"shape {x.shape}")
        shapes = [x.shape[1:] for x in xs]
        if not self.built:
            self.build(shapes)
        elif self._check_shapes(shapes) != self.input_shape:
            fail(ValueError, "inputs", f"arrays of shapes {self.input_shape} (batch axis "
                 "excluded)", shapes)
        return self.forward(xs, training=training)

    def forward(self, xs, training=False):
        return self._merge(xs)

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        return self._merge_grads(grad) if need_input_grad else None


class Add(_Merge):
    """Element-wise sum of its inputs (a residual connection: ``Add()([x, f(x)])``).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Add
    >>> Add()([np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2))])
    array([[3., 3.]], dtype=float32)
    """

    def _merge(self, xs):
        self._cache["n"] = len(xs)
        out = np.add(xs[0], xs[1])
        for x in xs[2:]:
            out += x
        return out

    def _merge_grads(self, grad):
        return [grad] * self._cache["n"]


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Subtract
    >>> Subtract()([np.full((1, 2), 5.0), np.ones((1, 2))])
    array([[4., 4.]], dtype=float32)
    """

    _n_inputs = 2

    def _merge(self, xs):
        return np.subtract(xs[0], xs[1])

    def _merge_grads(self, grad):
        return [grad, -grad]


class Multiply(_Merge):
    """Element-wise product of its inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Multiply
    >>> Multiply()([np.full((1, 2), 3.0), np.full((1, 2), 2.0)])
    array([[6., 6.]], dtype=float32)
    """

    def _merge(self, xs):
        self._cache["xs"] = list(xs)
        out = np.multiply(xs[0], xs[1])
        for x in xs[2:]:
            out *= x
        return out

    def _merge_grads(self, grad):
        xs = self._cache["xs"]
        grads = []
        for i in range(len(xs)):
            g = grad
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


class Average(_Merge):
    """Element-wise mean of its inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Average
    >>> Average()([np.zeros((1, 2)), np.full((1, 2), 4.0)])
    array([[2., 2.]], dtype=float32)
    """

    def _merge(self, xs):
        self._cache["n"] = len(xs)
        out = np.add(xs[0], xs[1])
        for x in xs[2:]:
            out += x
        out *= out.dtype.type(1.0 / len(xs))
        return out

    def _merge_grads(self, grad):
        n = self._cache["n"]
        return [grad * grad.dtype.type(1.0 / n)] * n


class Maximum(_Merge):
    """Element-wise maximum of its inputs.

    Where inputs tie, the gradient goes to the first of them.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Maximum
    >>> Maximum()([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])])
    array([[3., 5.]], dtype=float32)
    """

    def _merge(self, xs):
        winner = np.argmax(np.stack(xs), axis=0)
        self._cache["winner"] = winner
        self._cache["n"] = len(xs)
        out = np.maximum(xs[0], xs[1])
        for x in xs[2:]:
            np.maximum(out, x, out=out)
        return out

    def _merge_grads(self, grad):
        winner = self._cache["winner"]
        return [np.where(winner == i, grad, 0).astype(grad.dtype, copy=False)
                for i in range(self._cache["n"])]


class Concatenate(_Merge):
    """Join its inputs along ``axis``.

    Parameters
    ----------
    axis : int, default -1
        Axis of the full batch arrays (0 is the batch axis, which cannot be
        joined): ``axis=1`` joins the channels of NCHW images.
    name, trainable, dtype
        As `Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Concatenate
    >>> Concatenate(axis=1)([np.zeros((2, 3, 4, 4)), np.zeros((2, 5, 4, 4))]).shape
    (2, 8, 4, 4)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_int(axis, "axis")
        if self.axis == 0:
            fail(ValueError, "axis", "a non-batch axis (not 0)", axis)

    def _sample_axis(self, ndim):
        axis = self.axis if self.axis < 0 else self.axis - 1
        if not -ndim <= axis < ndim:
            fail(ValueError, "axis", f"an axis of inputs with {ndim + 1} dimensions (batch "
                 "included)", self.axis)
        return self._stored_axis(axis % ndim, ndim)

    def _merged_shape(self, shapes):
        ndim = len(shapes[0])
        axis = self._sample_axis(ndim)
        if any(len(s) != ndim or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]
               for s in shapes):
            fail(ValueError, "inputs", f"tensors whose shapes agree except along axis "
                 f"{self.axis}", f"shapes {shapes}")
        return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]

    def _merge(self, xs):
        axis = self._sample_axis(xs[0].ndim - 1) + 1
        self._cache["splits"] = np.cumsum([x.shape[axis] for x in xs])[:-1]
        self._cache["axis"] = axis
        return np.concatenate(xs, axis=axis)

    def _merge_grads(self, grad):
        return [np.ascontiguousarray(g) for g in
                np.split(grad, self._cache["splits"], axis=self._cache["axis"])]

    def flops(self, input_shape=None):
        return 0

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
