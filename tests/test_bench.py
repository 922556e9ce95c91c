"""The benchmark commands run and print what they promise (no timing is
checked: figures come from benchmarks, not tests)."""
import importlib.util

from pyconv import _bench_inference, _bench_timing


def test_cpu_description_names_the_cpu_and_the_cores():
    text = _bench_timing.cpu_description()
    assert text.endswith("logical cores") and len(text) > len(" logical cores") + 2


def test_inference_benchmark_runs_each_framework_in_its_worker():
    lines = []
    rows = _bench_inference.run(threads=(1,), batches=(1,), models=("lenet",), out=lines.append,
                                min_seconds=0.0, block=0.0)
    (label, batch, n_threads, ms), = rows
    assert (label, batch, n_threads) == ("LeNet-5", 1, 1)
    expected = {"pyconv", "pyconv (layers)"}
    if importlib.util.find_spec("torch"):
        expected.add("PyTorch")
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        expected.add("ONNX Runtime")
    assert set(ms) == expected and all(v > 0 for v in ms.values())
    table = "\n".join(lines)
    assert lines[0].startswith("CPU: ") and "| LeNet-5 | 1 | 1 |" in table
    assert "load average" in lines[-1]
